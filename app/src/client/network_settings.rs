//! Calls of the Server Network Settings page.

use super::request;
use super::{Answer, etag_of, get_json, get_ok, write};
use crate::api::{IMPORT_URL, ImportResult, PageData, SERVER_URL, SETTINGS_URL, ServerStatus};
use crate::model::NetworkSettings;

pub async fn put_settings(doc: &NetworkSettings, etag: &str) -> Answer<NetworkSettings> {
    write(
        request::put(SETTINGS_URL)
            .header("If-Match", etag)
            .json(doc),
    )
    .await
}

/// Restores a backup file's text (the server validates and upgrades it).
pub async fn import_backup(text: String) -> Answer<ImportResult> {
    write(
        request::post(IMPORT_URL)
            .header("Content-Type", "application/json")
            .body(text),
    )
    .await
}

pub async fn get_settings() -> Result<(NetworkSettings, String), String> {
    let response = get_ok(SETTINGS_URL).await?;
    let etag = etag_of(&response);
    let settings = response.json().await.map_err(|e| e.to_string())?;
    Ok((settings, etag))
}

pub async fn get_status() -> Result<ServerStatus, String> {
    get_json(SERVER_URL).await
}

pub async fn get_page_data() -> Result<PageData, String> {
    let (settings, etag) = get_settings().await?;
    let status = get_status().await?;
    Ok(PageData {
        settings,
        etag,
        status,
    })
}
