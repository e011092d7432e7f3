//! `/api/v1/devices`, `/api/v1/online-check/run`, `/api/v1/scans` and `/api/v1/jobs`.

use super::devices::{self, Details, RegisterError};
use super::scan::{self, StartError, Stored};
use super::{Discovery, RunError, jobs};
use crate::audit::{self, Actor, Record};
use crate::http::{ApiError, JsonBody, PathParam, Routes, Rule};
use app::api::{
    DEVICES_URL, Device, DevicePage, DeviceQuery, DeviceStatus, ErrorBody, JOBS_URL, Job,
    JobEnabled, JobList, NewDevice, NewJob, NewScan, ONLINE_CHECK_RUN_URL, RegisterFound,
    Registered, RoundReport, SCANS_URL, Scan, ScanList, ScanStarted, ScanState,
};
use app::model::{
    Area, FieldError, JobTargets, normalize_mac, validate_device, validate_job, validate_scan,
};
use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Small documents: one device, one job, one scan request.
const SMALL: usize = 64 * 1024;
/// Registering every device a large scan found: 65,536 MACs.
const LARGE: usize = 4 * 1024 * 1024;

type Discovered = State<Arc<Discovery>>;

pub fn routes() -> Routes<Arc<Discovery>> {
    let devices = Routes::new(Rule::Area(Area::Devices))
        .get(DEVICES_URL, list_devices)
        .post(DEVICES_URL, register_device)
        .get(&format!("{DEVICES_URL}/{{id}}"), get_device)
        .delete(&format!("{DEVICES_URL}/{{id}}"), remove_device)
        .post(ONLINE_CHECK_RUN_URL, run_online_check)
        .get(SCANS_URL, list_scans)
        .post(SCANS_URL, start_scan)
        .get(&format!("{SCANS_URL}/{{id}}"), get_scan)
        .post(&format!("{SCANS_URL}/{{id}}/cancel"), cancel_scan)
        .post(&format!("{SCANS_URL}/{{id}}/register"), register_found);
    let jobs = Routes::new(Rule::Area(Area::Jobs))
        .get(JOBS_URL, list_jobs)
        .post(JOBS_URL, create_job)
        .get(&format!("{JOBS_URL}/{{id}}"), get_job)
        .delete(&format!("{JOBS_URL}/{{id}}"), delete_job)
        .post(&format!("{JOBS_URL}/{{id}}/enabled"), enable_job);
    devices.merge(jobs)
}

fn created<T: serde::Serialize>(location: String, body: T) -> Response {
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response()
}

/// The registered devices, a page at a time, filtered by status.
#[utoipa::path(get, path = DEVICES_URL, params(DeviceQuery),
    responses((status = 200, description = "One page of devices, with the counts of all", body = DevicePage)))]
async fn list_devices(
    State(discovery): Discovered,
    query: Result<Query<DeviceQuery>, QueryRejection>,
) -> Result<Json<DevicePage>, ApiError> {
    let Query(query) = query.map_err(|e| {
        ApiError::BadRequest(format!(
            "{}; use status=online|offline|unknown, id, offset and limit",
            e.body_text()
        ))
    })?;
    Ok(Json(devices::page(discovery.db(), &query).await?))
}

/// One device.
#[utoipa::path(get, path = "/api/v1/devices/{id}", params(("id" = i64, Path, description = "The device's id")),
    responses((status = 200, description = "The device", body = Device), (status = 404, description = "No such device", body = ErrorBody),))]
async fn get_device(
    State(discovery): Discovered,
    PathParam(id): PathParam<i64>,
) -> Result<Json<Device>, ApiError> {
    devices::get(discovery.db(), id)
        .await?
        .map(Json)
        .ok_or_else(|| no_device(id))
}

fn no_device(id: i64) -> ApiError {
    ApiError::NotFound(format!("there is no device {id}"))
}

/// Registers a device by its address.
#[utoipa::path(post, path = DEVICES_URL, request_body = NewDevice,
    responses(
        (status = 201, description = "The registered device", body = Device,
            headers(("Location" = String, description = "The device's URL"))),
        (status = 409, description = "A device with this address, MAC or host name is registered already", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    ))]
async fn register_device(
    State(discovery): Discovered,
    actor: Actor,
    JsonBody(device): JsonBody<NewDevice, SMALL>,
) -> Result<Response, ApiError> {
    let device = validate_device(&device).map_err(ApiError::Invalid)?;
    let device = devices::register(discovery.db(), discovery.bus(), &device, &actor)
        .await
        .map_err(|e| match e {
            RegisterError::Db(e) => ApiError::from(e),
            taken => ApiError::Conflict(taken.to_string()),
        })?;
    discovery.devices_changed();
    Ok(created(format!("{DEVICES_URL}/{}", device.id), device))
}

/// Removes a device.
#[utoipa::path(delete, path = "/api/v1/devices/{id}", params(("id" = i64, Path, description = "The device's id")),
    responses((status = 204, description = "Removed"), (status = 404, description = "No such device", body = ErrorBody),))]
async fn remove_device(
    State(discovery): Discovered,
    actor: Actor,
    PathParam(id): PathParam<i64>,
) -> Result<StatusCode, ApiError> {
    if !devices::remove(discovery.db(), discovery.bus(), id, &actor).await? {
        return Err(no_device(id));
    }
    discovery.devices_changed();
    Ok(StatusCode::NO_CONTENT)
}

/// Runs an online-check round now, over every registered device.
#[utoipa::path(post, path = ONLINE_CHECK_RUN_URL,
    responses(
        (status = 200, description = "What the round found", body = RoundReport),
        (status = 409, description = "The online check is turned off in the settings", body = ErrorBody),
    ))]
async fn run_online_check(
    State(discovery): Discovered,
    actor: Actor,
) -> Result<Json<RoundReport>, ApiError> {
    match discovery.online.run(None).await {
        Ok(report) => {
            // a command, not a stored change: recorded once it ran
            let record = Record::new(
                "online_check",
                serde_json::Value::Null,
                serde_json::json!(report),
            );
            audit::record_now(
                discovery.db(),
                &actor,
                Area::Devices,
                "run online check",
                &[record],
            )
            .await?;
            Ok(Json(report))
        }
        Err(RunError::Disabled) => Err(ApiError::Conflict(RunError::Disabled.to_string())),
        Err(RunError::Failed(e)) => Err(ApiError::Internal(e)),
    }
}

/// Starts a scan of address ranges.
#[utoipa::path(post, path = SCANS_URL, request_body = NewScan,
    responses(
        (status = 202, description = "The scan runs", body = ScanStarted,
            headers(("Location" = String, description = "The scan's URL"))),
        (status = 409, description = "The scan's reply port cannot be opened", body = ErrorBody),
        (status = 422, description = "Invalid ranges", body = ErrorBody),
    ))]
async fn start_scan(
    State(discovery): Discovered,
    actor: Actor,
    JsonBody(scan): JsonBody<NewScan, SMALL>,
) -> Result<Response, ApiError> {
    let target = validate_scan(&scan).map_err(ApiError::Invalid)?;
    let texts: Vec<String> = scan.ranges.iter().map(|r| r.trim().to_owned()).collect();
    let run = discovery
        .scans
        .start(target, texts.clone())
        .await
        .map_err(|e| match e {
            StartError::Socket(_) => ApiError::Conflict(e.to_string()),
            StartError::Db(e) => ApiError::from(e),
            StartError::Broadcast => ApiError::Internal(anyhow::Error::new(e)),
        })?;
    let record = Record::new(
        format!("scans.{}", run.id),
        serde_json::Value::Null,
        serde_json::json!({"ranges": texts}),
    );
    audit::record_now(
        discovery.db(),
        &actor,
        Area::Devices,
        "start scan",
        &[record],
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("{SCANS_URL}/{}", run.id))],
        Json(ScanStarted { id: run.id.clone() }),
    )
        .into_response())
}

/// The newest scans of every server.
#[utoipa::path(get, path = SCANS_URL, responses((status = 200, description = "The scans", body = ScanList)))]
async fn list_scans(State(discovery): Discovered) -> Result<Json<ScanList>, ApiError> {
    Ok(Json(scan::list(discovery.db()).await?))
}

fn no_scan(id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "there is no scan {id} (only the newest 100 scans are kept)"
    ))
}

/// A scan of any server, as last stored (a running scan's progress is at most a quarter of a
/// second old).
#[utoipa::path(get, path = "/api/v1/scans/{id}", params(("id" = String, Path, description = "The scan's id")),
    responses((status = 200, description = "The scan", body = Scan), (status = 404, description = "No such scan", body = ErrorBody),))]
async fn get_scan(
    State(discovery): Discovered,
    PathParam(id): PathParam<String>,
) -> Result<Json<Scan>, ApiError> {
    let scan = discovery.stored_scan(&id).await?;
    scan.map(Json).ok_or_else(|| no_scan(&id))
}

/// How long cancelling a scan of another server waits for that server to stop it: it reads the
/// request at its next progress write.
const REMOTE_CANCEL_WAIT: Duration = Duration::from_secs(5);

/// Cancels a running scan (a scan that ended is answered as it is).
#[utoipa::path(post, path = "/api/v1/scans/{id}/cancel", params(("id" = String, Path, description = "The scan's id")),
    responses(
        (status = 200, description = "The scan", body = Scan), (status = 404, description = "No such scan", body = ErrorBody),
        (status = 409, description = "The server running it did not stop it in time", body = ErrorBody),
    ))]
async fn cancel_scan(
    State(discovery): Discovered,
    actor: Actor,
    PathParam(id): PathParam<String>,
) -> Result<Json<Scan>, ApiError> {
    let cancelled = if let Some(run) = discovery.scans.running(&id) {
        let running = run.state() == ScanState::Running;
        run.cancel();
        run.finished().await;
        running && run.state() == ScanState::Cancelled
    } else {
        let scan = discovery
            .stored_scan(&id)
            .await?
            .ok_or_else(|| no_scan(&id))?;
        if scan.state != ScanState::Running || !discovery.scans.request_cancel(&id).await? {
            false
        } else {
            // the running server stops it at its next progress write
            let deadline = tokio::time::Instant::now() + REMOTE_CANCEL_WAIT;
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let now = discovery
                    .stored_scan(&id)
                    .await?
                    .ok_or_else(|| no_scan(&id))?;
                if now.state != ScanState::Running {
                    break now.state == ScanState::Cancelled;
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(ApiError::Conflict(format!(
                        "scan {id} runs on server {}, which has not stopped it within {} s; \
                         it stops the scan once it reads the request, or the scan is marked \
                         failed once that server stops answering",
                        scan.server_name,
                        REMOTE_CANCEL_WAIT.as_secs()
                    )));
                }
            }
        }
    };
    // recorded only when this request is what stopped it (not a scan that had ended already)
    if cancelled {
        let record = Record::new(format!("scans.{id}.state"), "running", "cancelled");
        audit::record_now(
            discovery.db(),
            &actor,
            Area::Devices,
            "cancel scan",
            &[record],
        )
        .await?;
    }
    let scan = discovery.stored_scan(&id).await?;
    scan.map(Json).ok_or_else(|| no_scan(&id))
}

/// Registers devices a scan (of any server) found.
#[utoipa::path(post, path = "/api/v1/scans/{id}/register", params(("id" = String, Path, description = "The scan's id")), request_body = RegisterFound,
    responses(
        (status = 200, description = "The devices registered, and those that were already", body = Registered), (status = 404, description = "No such scan", body = ErrorBody),
        (status = 422, description = "MACs that are invalid or did not answer this scan", body = ErrorBody),
    ))]
async fn register_found(
    State(discovery): Discovered,
    actor: Actor,
    PathParam(id): PathParam<String>,
    JsonBody(request): JsonBody<RegisterFound, LARGE>,
) -> Result<Json<Registered>, ApiError> {
    let (_, stored) = scan::get(discovery.db(), &id)
        .await?
        .ok_or_else(|| no_scan(&id))?;
    let found: HashMap<String, Stored> = stored.into_iter().map(|f| (f.mac.clone(), f)).collect();
    let mut errors = Vec::new();
    let mut chosen = Vec::new();
    let mut seen = HashSet::new();
    for (i, mac) in request.macs.iter().enumerate() {
        match normalize_mac(mac) {
            Ok(mac) => match found.get(&mac) {
                Some(f) if seen.insert(mac.clone()) => chosen.push((mac, f)),
                Some(_) => {}
                None => errors.push(FieldError::new(
                    format!("macs[{i}]"),
                    format!("{mac} did not answer this scan"),
                )),
            },
            Err(message) => errors.push(FieldError::new(format!("macs[{i}]"), message)),
        }
    }
    if request.macs.is_empty() {
        errors.push(FieldError::new("macs", "choose at least one device"));
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let given = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let rows: Vec<(IpAddr, Details)> = chosen
        .iter()
        .map(|(mac, f)| {
            let details = Details {
                mac: Some(mac.clone()),
                hostname: given(&f.hostname),
                os: Some(f.os.clone()),
                serial: given(&f.serial),
            };
            (IpAddr::V4(f.ip), details)
        })
        .collect();
    let (added, already) =
        devices::register_found(discovery.db(), discovery.bus(), &rows, &actor).await?;
    if !added.is_empty() {
        discovery.devices_changed();
    }
    let registered = added
        .into_iter()
        .map(|(id, i)| {
            let (ip, details) = &rows[i];
            Device {
                id,
                ip: ip.to_string(),
                mac: details.mac.clone(),
                hostname: details.hostname.clone(),
                os: details.os.clone(),
                serial: details.serial.clone(),
                status: DeviceStatus::Unknown,
                last_seen: None,
                status_since: None,
                certificate: None,
            }
        })
        .collect();
    Ok(Json(Registered {
        registered,
        already,
    }))
}

/// Every job.
#[utoipa::path(get, path = JOBS_URL, responses((status = 200, description = "The jobs", body = JobList)))]
async fn list_jobs(State(discovery): Discovered) -> Result<Json<JobList>, ApiError> {
    Ok(Json(jobs::list(discovery.db()).await?))
}

fn no_job(id: i64) -> ApiError {
    ApiError::NotFound(format!("there is no job {id}"))
}

/// One job and its executions.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", params(("id" = i64, Path, description = "The job's id")),
    responses((status = 200, description = "The job", body = Job), (status = 404, description = "No such job", body = ErrorBody),))]
async fn get_job(
    State(discovery): Discovered,
    PathParam(id): PathParam<i64>,
) -> Result<Json<Job>, ApiError> {
    jobs::get(discovery.db(), id)
        .await?
        .map(Json)
        .ok_or_else(|| no_job(id))
}

/// Creates a job.
#[utoipa::path(post, path = JOBS_URL, request_body = NewJob,
    responses(
        (status = 201, description = "The job", body = Job,
            headers(("Location" = String, description = "The job's URL"))),
        (status = 422, description = "Invalid fields, or devices that do not exist", body = ErrorBody),
    ))]
async fn create_job(
    State(discovery): Discovered,
    actor: Actor,
    JsonBody(job): JsonBody<NewJob, SMALL>,
) -> Result<Response, ApiError> {
    let job = validate_job(&job).map_err(ApiError::Invalid)?;
    if let JobTargets::Devices(ids) = &job.targets {
        let known: HashSet<i64> = devices::some(discovery.db(), ids)
            .await?
            .iter()
            .map(|d| d.id)
            .collect();
        let errors: Vec<FieldError> = ids
            .iter()
            .enumerate()
            .filter(|(_, id)| !known.contains(id))
            .map(|(i, id)| {
                FieldError::new(format!("targets[{i}]"), format!("there is no device {id}"))
            })
            .collect();
        if !errors.is_empty() {
            return Err(ApiError::Invalid(errors));
        }
    }
    let job = jobs::create(discovery.db(), discovery.bus(), &job, &actor).await?;
    discovery.jobs_changed();
    Ok(created(format!("{JOBS_URL}/{}", job.id), job))
}

/// Enables or disables a job.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/enabled", params(("id" = i64, Path, description = "The job's id")), request_body = JobEnabled,
    responses((status = 200, description = "The job", body = Job), (status = 404, description = "No such job", body = ErrorBody),))]
async fn enable_job(
    State(discovery): Discovered,
    actor: Actor,
    PathParam(id): PathParam<i64>,
    JsonBody(request): JsonBody<JobEnabled, SMALL>,
) -> Result<Json<Job>, ApiError> {
    let job = jobs::set_enabled(discovery.db(), discovery.bus(), id, request.enabled, &actor)
        .await?
        .ok_or_else(|| no_job(id))?;
    discovery.jobs_changed();
    Ok(Json(job))
}

/// Deletes a job and its executions.
#[utoipa::path(delete, path = "/api/v1/jobs/{id}", params(("id" = i64, Path, description = "The job's id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such job", body = ErrorBody),))]
async fn delete_job(
    State(discovery): Discovered,
    actor: Actor,
    PathParam(id): PathParam<i64>,
) -> Result<StatusCode, ApiError> {
    if !jobs::delete(discovery.db(), discovery.bus(), id, &actor).await? {
        return Err(no_job(id));
    }
    discovery.jobs_changed();
    Ok(StatusCode::NO_CONTENT)
}

/// The document of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list_devices,
    get_device,
    register_device,
    remove_device,
    run_online_check,
    start_scan,
    list_scans,
    get_scan,
    cancel_scan,
    register_found,
    list_jobs,
    get_job,
    create_job,
    enable_job,
    delete_job
))]
pub struct Api;
