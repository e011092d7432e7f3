//! `/api/v1/settings/network`: read, replace, export and import.

use super::{Settings, Snapshot};
use crate::audit::Actor;
use crate::http::conditional::{etag_value, matches, not_modified};
use crate::http::{ApiError, JsonValue, Routes, Rule, SETTINGS_BODY_LIMIT};
use app::api::{EXPORT_URL, ErrorBody, IMPORT_URL, ImportResult, SETTINGS_URL};
use app::model::Area;
use app::model::{BACKUP_FORMAT_VERSION, Backup, NetworkSettings, parse_backup, parse_document};
use axum::{
    Json,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use axum_extra::TypedHeader;
use headers::{HeaderMapExt, IfMatch, IfNoneMatch};
use std::sync::Arc;

type Document = JsonValue<SETTINGS_BODY_LIMIT>;

pub fn routes() -> Routes<Arc<Settings>> {
    Routes::new(Rule::Area(Area::NetworkSettings))
        .get(SETTINGS_URL, get_settings)
        .put(SETTINGS_URL, put_settings)
        .get(EXPORT_URL, export_settings)
        .post(IMPORT_URL, import_settings)
}

fn settings_response(snapshot: &Snapshot) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (header::ETAG, etag_value(&snapshot.tag)),
        ],
        snapshot.json.clone(),
    )
        .into_response()
}

/// The settings document.
#[utoipa::path(
    get,
    path = SETTINGS_URL,
    params(("If-None-Match" = Option<String>, Header, description = "An ETag held: 304 when it still names the stored version")),
    responses(
        (status = 200, description = "The stored document", body = NetworkSettings,
            headers(("ETag" = String, description = "The stored version; send it back in If-Match"))),
        (status = 304, description = "The version named in If-None-Match is still stored"),
    )
)]
async fn get_settings(
    State(settings): State<Arc<Settings>>,
    if_none_match: Option<TypedHeader<IfNoneMatch>>,
) -> Response {
    let snapshot = settings.snapshot();
    if let Some(TypedHeader(if_none_match)) = if_none_match
        && not_modified(&if_none_match, &snapshot.tag)
    {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag_value(&snapshot.tag))],
        )
            .into_response();
    }
    settings_response(&snapshot)
}

/// The revision a write must replace: `None` for `If-Match: *`.
async fn expected_revision(
    settings: &Settings,
    headers: &HeaderMap,
) -> Result<Option<i64>, ApiError> {
    // (an absent header would decode as an empty list, which matches nothing)
    if !headers.contains_key(header::IF_MATCH) {
        return Err(ApiError::PreconditionRequired);
    }
    let if_match: IfMatch = headers
        .typed_get()
        .ok_or_else(|| ApiError::BadRequest("If-Match is not a list of entity tags".into()))?;
    if if_match == IfMatch::any() {
        return Ok(None);
    }
    let current = settings.snapshot();
    if matches(&if_match, &current.tag) {
        return Ok(Some(current.stored.revision));
    }
    // Another server sharing the database may have saved a version this one has not installed
    // yet; the client may hold that one.
    let stored = settings.stored_revision().await?;
    if stored != current.stored.revision && matches(&if_match, &settings.tag(stored)) {
        return Ok(Some(stored));
    }
    Err(ApiError::ChangedBy(settings.updated_by().await?))
}

/// Replaces the whole document, if it is still the version the client edited.
#[utoipa::path(
    put,
    path = SETTINGS_URL,
    params(("If-Match" = String, Header, description = "The ETag of the version edited, or `*` for whatever is stored")),
    request_body = NetworkSettings,
    responses(
        (status = 200, description = "The stored document", body = NetworkSettings,
            headers(("ETag" = String, description = "The new version"))),
        (status = 412, description = "Another version was saved since; `changed_by` names who saved it", body = ErrorBody),
        (status = 422, description = "Invalid fields, every one listed", body = ErrorBody),
        (status = 428, description = "If-Match is missing", body = ErrorBody),
    )
)]
async fn put_settings(
    State(settings): State<Arc<Settings>>,
    actor: Actor,
    headers: HeaderMap,
    JsonValue(document): Document,
) -> Result<Response, ApiError> {
    let expected = expected_revision(&settings, &headers).await?;
    let new = parse_document(&document, settings.ctx).map_err(ApiError::Invalid)?;
    let (snapshot, replaced) = match settings.replace(expected, new, &actor).await {
        // someone saved between the check and the write
        Err(crate::db::DbError::Conflict) => {
            return Err(ApiError::ChangedBy(settings.updated_by().await?));
        }
        other => other?,
    };
    tracing::info!(
        changes = replaced.changes.len(),
        revision = snapshot.stored.revision,
        "network settings saved"
    );
    Ok(settings_response(&snapshot))
}

/// A backup of the settings, as a download.
#[utoipa::path(
    get,
    path = EXPORT_URL,
    responses((status = 200, description = "The backup", body = Backup)),
)]
async fn export_settings(State(settings): State<Arc<Settings>>) -> Response {
    let backup = Backup {
        format_version: BACKUP_FORMAT_VERSION,
        settings: settings.snapshot().view.to_value(),
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

/// Restores a backup (format 1 is upgraded, format 2 checked strictly).
#[utoipa::path(
    post,
    path = IMPORT_URL,
    request_body = Backup,
    responses(
        (status = 200, description = "The stored document and what the upgrade changed", body = ImportResult,
            headers(("ETag" = String, description = "The new version"))),
        (status = 422, description = "Invalid fields, every one listed", body = ErrorBody),
    )
)]
async fn import_settings(
    State(settings): State<Arc<Settings>>,
    actor: Actor,
    JsonValue(document): Document,
) -> Result<Response, ApiError> {
    let restore = parse_backup(&document, settings.ctx).map_err(ApiError::Invalid)?;
    let (snapshot, _) = settings
        .restore(restore.settings, restore.keeps_distributed, &actor)
        .await?;
    let result = ImportResult {
        settings: snapshot.view.clone(),
        upgraded: restore.upgraded,
        kept: if restore.keeps_distributed {
            vec!["distributed".into()]
        } else {
            Vec::new()
        },
    };
    Ok(([(header::ETAG, etag_value(&snapshot.tag))], Json(result)).into_response())
}

/// The document of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(get_settings, put_settings, export_settings, import_settings))]
pub struct Api;
