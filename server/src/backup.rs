//! `GET /api/v1/backup`: the whole database as `pharos backup` writes it, for the superuser
//! (`pharos --url … backup FILE`). It holds password hashes and sealed private keys, so no other
//! account may have it, and every download is logged.

use crate::config::Config;
use crate::http::{ApiError, Caller, Routes, Rule};
use app::api::{BACKUP_URL, ErrorBody};
use app::model::{Area, DatabaseKind};
use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Under the Accounts area (what a backup holds most of), and then only for the superuser.
pub fn routes() -> Routes<Arc<Config>> {
    Routes::new(Rule::Area(Area::Accounts)).get(BACKUP_URL, download)
}

/// The database, consistent while the servers write to it: an SQLite database file, or a
/// `pg_dump` archive (custom format), as `pharos restore` reads them.
#[utoipa::path(get, path = BACKUP_URL,
    responses(
        (status = 200, description = "The backup: an SQLite database file, or a pg_dump archive (custom format)",
            content_type = "application/octet-stream", body = Vec<u8>),
        (status = 403, description = "Only the superuser downloads backups", body = ErrorBody),
    ))]
async fn download(
    State(config): State<Arc<Config>>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    let me = caller.me().ok_or(ApiError::Unauthorized)?;
    if !me.rights.superuser {
        return Err(ApiError::Forbidden(
            "only the superuser downloads backups: they hold every account's password hash".into(),
        ));
    }
    let kind = config.database_kind()?;
    // written whole beside the database first (in the data directory, readable by this user
    // only), then sent from an open handle: the name is gone before the first byte leaves
    let path = config
        .data_dir
        .join(format!(".download-{}", uuid::Uuid::new_v4().simple()));
    if let Err(e) = crate::cli::backup::copy_to(&config, &path).await {
        let _ = std::fs::remove_file(&path);
        return Err(ApiError::Internal(anyhow::anyhow!(
            "the backup failed: {}",
            e.0
        )));
    }
    let file = tokio::fs::File::open(&path).await;
    let _ = std::fs::remove_file(&path);
    let file = file.map_err(|e| ApiError::Internal(e.into()))?;
    let size = file.metadata().await.map(|m| m.len()).ok();
    tracing::info!(
        user = %me.username,
        client = ?caller.client.addr,
        bytes = size,
        "database backup downloaded"
    );
    let name = format!(
        "pharos-{}.{}",
        crate::workers::unix_millis(),
        match kind {
            DatabaseKind::Sqlite => "db",
            DatabaseKind::Postgres => "dump",
        }
    );
    let mut response = Body::from_stream(tokio_util::io::ReaderStream::new(file)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    if let Some(size) = size {
        headers.insert(header::CONTENT_LENGTH, size.into());
    }
    Ok(response)
}

/// The document of this route.
#[derive(utoipa::OpenApi)]
#[openapi(paths(download))]
pub struct Api;
