//! Calls of the discovery pages: devices, the online check, scans and scheduled jobs.

use super::{error_text, get_ok};
use crate::api::{
    DEVICES_URL, Device, DevicePage, DeviceQuery, ErrorBody, JOBS_URL, Job, JobEnabled, JobList,
    NewDevice, NewJob, NewScan, ONLINE_CHECK_RUN_URL, RegisterFound, Registered, RoundReport,
    SCANS_URL, Scan, ScanList, ScanStarted,
};
use crate::model::FieldError;
use gloo_net::http::{Request, Response};
use serde::de::DeserializeOwned;

/// Why the server did not do what was asked.
pub enum Refusal {
    /// 422: the fields and what is wrong with them.
    Invalid(Vec<FieldError>),
    /// Anything else, in words (a 409's message says what is in the way).
    Failed(String),
}

impl Refusal {
    /// The refusal in one sentence.
    pub fn text(&self) -> String {
        match self {
            Refusal::Invalid(errors) => errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
            Refusal::Failed(text) => text.clone(),
        }
    }
}

/// Sends a request and reads a 2xx answer's body as `T`.
async fn send<T: DeserializeOwned>(
    request: Result<Request, gloo_net::Error>,
) -> Result<T, Refusal> {
    let response = answer(request).await?;
    response
        .json::<T>()
        .await
        .map_err(|e| Refusal::Failed(e.to_string()))
}

/// Sends a request; a 2xx answer is success, whatever its body.
async fn answer(request: Result<Request, gloo_net::Error>) -> Result<Response, Refusal> {
    let request = request.map_err(|e| Refusal::Failed(e.to_string()))?;
    let response = request
        .send()
        .await
        .map_err(|e| Refusal::Failed(format!("the server could not be reached ({e})")))?;
    match response.status() {
        200..=299 => Ok(response),
        422 => match response.json::<ErrorBody>().await {
            Ok(body) => Err(Refusal::Invalid(body.errors)),
            Err(e) => Err(Refusal::Failed(e.to_string())),
        },
        _ => Err(Refusal::Failed(error_text(response).await)),
    }
}

async fn get<T: DeserializeOwned>(url: &str) -> Result<T, String> {
    get_ok(url).await?.json().await.map_err(|e| e.to_string())
}

pub async fn get_devices(query: DeviceQuery) -> Result<DevicePage, String> {
    let mut params = Vec::new();
    if let Some(status) = query.status {
        params.push(format!("status={}", status.as_str()));
    }
    if let Some(offset) = query.offset {
        params.push(format!("offset={offset}"));
    }
    if let Some(limit) = query.limit {
        params.push(format!("limit={limit}"));
    }
    get(&format!("{DEVICES_URL}?{}", params.join("&"))).await
}

pub async fn add_device(device: &NewDevice) -> Result<Device, Refusal> {
    send(Request::post(DEVICES_URL).json(device)).await
}

pub async fn remove_device(id: i64) -> Result<(), Refusal> {
    answer(Request::delete(&format!("{DEVICES_URL}/{id}")).build())
        .await
        .map(drop)
}

pub async fn run_online_check() -> Result<RoundReport, Refusal> {
    send(Request::post(ONLINE_CHECK_RUN_URL).build()).await
}

pub async fn get_scans() -> Result<ScanList, String> {
    get(SCANS_URL).await
}

/// A scan with its results; `None` if the server does not know it (it restarted since).
pub async fn get_scan(id: &str) -> Result<Option<Scan>, String> {
    let response = Request::get(&format!("{SCANS_URL}/{id}"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    match response.status() {
        404 => Ok(None),
        200..=299 => response.json().await.map(Some).map_err(|e| e.to_string()),
        _ => Err(error_text(response).await),
    }
}

pub async fn start_scan(scan: &NewScan) -> Result<ScanStarted, Refusal> {
    send(Request::post(SCANS_URL).json(scan)).await
}

pub async fn cancel_scan(id: &str) -> Result<Scan, Refusal> {
    send(Request::post(&format!("{SCANS_URL}/{id}/cancel")).build()).await
}

pub async fn register_found(id: &str, macs: Vec<String>) -> Result<Registered, Refusal> {
    send(Request::post(&format!("{SCANS_URL}/{id}/register")).json(&RegisterFound { macs })).await
}

pub async fn get_jobs() -> Result<JobList, String> {
    get(JOBS_URL).await
}

pub async fn add_job(job: &NewJob) -> Result<Job, Refusal> {
    send(Request::post(JOBS_URL).json(job)).await
}

pub async fn set_job_enabled(id: i64, enabled: bool) -> Result<Job, Refusal> {
    send(Request::post(&format!("{JOBS_URL}/{id}/enabled")).json(&JobEnabled { enabled })).await
}

pub async fn remove_job(id: i64) -> Result<(), Refusal> {
    answer(Request::delete(&format!("{JOBS_URL}/{id}")).build())
        .await
        .map(drop)
}

/// A browser future wrapped so that it can be handed to a `Resource`, whose fetcher must be
/// `Send` (it also runs on the server). The page has one thread, so the wrapper's check that it
/// is polled where it was made always holds; the future is made only when first polled (a
/// resource that hydrates from the page's data makes it but never polls it).
pub fn handed_over<T, F>(
    make: impl FnOnce() -> F + Send + 'static,
) -> impl Future<Output = T> + Send
where
    T: Send + 'static,
    F: Future<Output = T> + 'static,
{
    send_wrapper::SendWrapper::new(async move { make().await })
}
