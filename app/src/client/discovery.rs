//! Calls of the discovery pages: devices, the online check, scans and scheduled jobs.

use super::request;
use super::{Refusal, error_text, fetch, get_json as get, send, send_json};
use crate::api::{
    DEVICES_URL, Device, DevicePage, DeviceQuery, JOBS_URL, Job, JobEnabled, JobList, NewDevice,
    NewJob, NewScan, ONLINE_CHECK_RUN_URL, RegisterFound, Registered, RoundReport, SCANS_URL, Scan,
    ScanList, ScanStarted,
};

pub async fn get_devices(query: DeviceQuery) -> Result<DevicePage, String> {
    let mut params = Vec::new();
    if let Some(status) = query.status {
        params.push(format!("status={}", status.as_str()));
    }
    if let Some(id) = query.id {
        params.push(format!("id={id}"));
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
    send_json(request::post(DEVICES_URL).json(device)).await
}

pub async fn remove_device(id: i64) -> Result<(), Refusal> {
    send(request::delete(&format!("{DEVICES_URL}/{id}")).build())
        .await
        .map(drop)
}

pub async fn run_online_check() -> Result<RoundReport, Refusal> {
    send_json(request::post(ONLINE_CHECK_RUN_URL).build()).await
}

pub async fn get_scans() -> Result<ScanList, String> {
    get(SCANS_URL).await
}

/// A scan with its results; `None` if the server does not know it (it restarted since).
pub async fn get_scan(id: &str) -> Result<Option<Scan>, String> {
    let request = request::get(&format!("{SCANS_URL}/{id}"))
        .build()
        .map_err(|e| e.to_string())?;
    let response = fetch(request).await?;
    match response.status() {
        404 => Ok(None),
        200..=299 => response.json().await.map(Some).map_err(|e| e.to_string()),
        _ => Err(error_text(response).await),
    }
}

pub async fn start_scan(scan: &NewScan) -> Result<ScanStarted, Refusal> {
    send_json(request::post(SCANS_URL).json(scan)).await
}

pub async fn cancel_scan(id: &str) -> Result<Scan, Refusal> {
    send_json(request::post(&format!("{SCANS_URL}/{id}/cancel")).build()).await
}

pub async fn register_found(id: &str, macs: Vec<String>) -> Result<Registered, Refusal> {
    send_json(request::post(&format!("{SCANS_URL}/{id}/register")).json(&RegisterFound { macs }))
        .await
}

pub async fn get_jobs() -> Result<JobList, String> {
    get(JOBS_URL).await
}

pub async fn add_job(job: &NewJob) -> Result<Job, Refusal> {
    send_json(request::post(JOBS_URL).json(job)).await
}

pub async fn set_job_enabled(id: i64, enabled: bool) -> Result<Job, Refusal> {
    send_json(request::post(&format!("{JOBS_URL}/{id}/enabled")).json(&JobEnabled { enabled }))
        .await
}

pub async fn remove_job(id: i64) -> Result<(), Refusal> {
    send(request::delete(&format!("{JOBS_URL}/{id}")).build())
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
