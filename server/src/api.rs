//! The REST API (`/api/v1`).

use crate::db::{Actor, StoreError};
use crate::state::{AppState, Snapshot};
use app::api::{ErrorBody, ImportResult};
use app::settings::{BACKUP_FORMAT_VERSION, Backup, FieldError, parse_backup, parse_document};
use axum::{
    Json, Router,
    body::Bytes,
    extract::{ConnectInfo, FromRequestParts, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;
use serde_json::Value;
use std::{convert::Infallible, net::SocketAddr, sync::Arc};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/api/v1/settings/network",
            get(get_settings).put(put_settings),
        )
        .route(app::api::EXPORT_URL, get(export_settings))
        .route(app::api::IMPORT_URL, axum::routing::post(import_settings))
        .route(app::api::SERVER_URL, get(get_server))
        .route("/api/v1/audit", get(get_audit))
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("invalid settings")]
    Invalid(Vec<FieldError>),
    #[error("send If-Match with the ETag of the settings you edited")]
    PreconditionRequired,
    #[error(
        "the settings were changed since you loaded them (If-Match does not match the current ETag)"
    )]
    PreconditionFailed,
    #[error("send the document as application/json")]
    UnsupportedMediaType,
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => ApiError::PreconditionFailed,
            other => ApiError::Internal(other.into()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let errors = match self {
            ApiError::Invalid(errors) => errors,
            other => vec![FieldError::new("", other.to_string())],
        };
        (status, Json(ErrorBody { errors })).into_response()
    }
}

/// The administrator making a request. Accounts come later; until then every change is recorded
/// as made by "admin" from the client's address.
pub struct RequestActor(pub Actor);

impl<S: Send + Sync> FromRequestParts<S> for RequestActor {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let source = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string());
        Ok(RequestActor(Actor {
            name: "admin".into(),
            source,
        }))
    }
}

fn settings_response(snapshot: &Snapshot) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::ETAG,
                HeaderValue::from_str(&snapshot.etag).expect("etag is ASCII"),
            ),
        ],
        snapshot.json.clone(),
    )
        .into_response()
}

async fn get_settings(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let snapshot = state.snapshot();
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| etag_listed(v, &snapshot.etag));
    if unchanged {
        return (
            StatusCode::NOT_MODIFIED,
            [(
                header::ETAG,
                HeaderValue::from_str(&snapshot.etag).expect("ASCII"),
            )],
        )
            .into_response();
    }
    settings_response(&snapshot)
}

/// Whether a comma-separated list of entity tags names `etag` (or is `*`). Weak tags never match:
/// a change needs the exact version.
fn etag_listed(list: &str, etag: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag == etag)
}

/// The revision an `If-Match` asks for: `Some(None)` for `*`.
fn required_revision(headers: &HeaderMap, current: &Snapshot) -> Result<Option<i64>, ApiError> {
    let value = headers
        .get(header::IF_MATCH)
        .ok_or(ApiError::PreconditionRequired)?
        .to_str()
        .map_err(|_| ApiError::BadRequest("If-Match is not a valid header value".into()))?;
    if value.trim() == "*" {
        return Ok(None);
    }
    if etag_listed(value, &current.etag) {
        return Ok(Some(current.stored.revision));
    }
    // Another server sharing the database may have saved a revision this one has not polled
    // yet: the database decides.
    value
        .trim()
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|revision| *revision > current.stored.revision)
        .map(Some)
        .ok_or(ApiError::PreconditionFailed)
}

fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim();
            mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")
        });
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))
}

async fn put_settings(
    State(state): State<Arc<AppState>>,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let expected = required_revision(&headers, &state.snapshot())?;
    let document = json_body(&headers, &body)?;
    let settings = parse_document(&document, state.ctx).map_err(ApiError::Invalid)?;
    let (snapshot, replaced) = state
        .replace_settings(expected, settings, &actor, "update")
        .await?;
    tracing::info!(
        changes = replaced.changes.len(),
        revision = snapshot.stored.revision,
        "network settings saved"
    );
    Ok(settings_response(&snapshot))
}

async fn export_settings(State(state): State<Arc<AppState>>) -> Response {
    let snapshot = state.snapshot();
    let backup = Backup {
        format_version: BACKUP_FORMAT_VERSION,
        settings: snapshot.view.to_value(),
    };
    (
        [(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"pharos-network-settings.json\""),
        )],
        Json(backup),
    )
        .into_response()
}

async fn import_settings(
    State(state): State<Arc<AppState>>,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let document = json_body(&headers, &body)?;
    let restore = parse_backup(&document, state.ctx).map_err(ApiError::Invalid)?;
    let (snapshot, _) = state
        .replace_settings(None, restore.settings, &actor, "import")
        .await?;
    let result = ImportResult {
        settings: snapshot.view.clone(),
        upgraded: restore.upgraded,
    };
    Ok((
        [(
            header::ETAG,
            HeaderValue::from_str(&snapshot.etag).expect("ASCII"),
        )],
        Json(result),
    )
        .into_response())
}

async fn get_server(State(state): State<Arc<AppState>>) -> Response {
    Json(state.status()).into_response()
}

#[derive(Deserialize)]
struct AuditQuery {
    before: Option<i64>,
    limit: Option<i64>,
}

async fn get_audit(
    State(state): State<Arc<AppState>>,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let page = state
        .store
        .audit(query.before, query.limit.unwrap_or(100))
        .await?;
    Ok(Json(page).into_response())
}

#[cfg(test)]
mod tests {
    use super::etag_listed;

    #[test]
    fn etag_lists() {
        assert!(etag_listed("\"3\"", "\"3\""));
        assert!(etag_listed("\"2\", \"3\"", "\"3\""));
        assert!(etag_listed("*", "\"3\""));
        assert!(!etag_listed("W/\"3\"", "\"3\""));
        assert!(!etag_listed("\"4\"", "\"3\""));
    }
}
