//! The browser's calls to the REST API (only ever made from event handlers and hydration).

use crate::api::PageData;
use crate::api::{ErrorBody, IMPORT_URL, ImportResult, SERVER_URL, SETTINGS_URL, ServerStatus};
use crate::settings::{FieldError, NetworkSettings};
use gloo_net::http::{Request, Response};

pub enum SaveOutcome {
    Saved {
        settings: NetworkSettings,
        etag: String,
    },
    Invalid(Vec<FieldError>),
    /// Someone else saved since our copy was loaded.
    Conflict,
    Failed(String),
}

fn etag_of(response: &Response) -> String {
    response.headers().get("etag").unwrap_or_default()
}

async fn error_text(response: Response) -> String {
    let status = response.status();
    match response.json::<ErrorBody>().await {
        Ok(body) if !body.errors.is_empty() => body
            .errors
            .into_iter()
            .map(|e| e.message)
            .collect::<Vec<_>>()
            .join("; "),
        _ => format!("the server answered {status}"),
    }
}

pub async fn put_settings(doc: &NetworkSettings, etag: &str) -> SaveOutcome {
    let request = match Request::put(SETTINGS_URL)
        .header("If-Match", etag)
        .json(doc)
    {
        Ok(request) => request,
        Err(e) => return SaveOutcome::Failed(e.to_string()),
    };
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => return SaveOutcome::Failed(format!("the server could not be reached ({e})")),
    };
    match response.status() {
        200 => {
            let etag = etag_of(&response);
            match response.json::<NetworkSettings>().await {
                Ok(settings) => SaveOutcome::Saved { settings, etag },
                Err(e) => SaveOutcome::Failed(e.to_string()),
            }
        }
        412 => SaveOutcome::Conflict,
        422 => match response.json::<ErrorBody>().await {
            Ok(body) => SaveOutcome::Invalid(body.errors),
            Err(e) => SaveOutcome::Failed(e.to_string()),
        },
        _ => SaveOutcome::Failed(error_text(response).await),
    }
}

/// A GET that answered 2xx, or the reason it did not.
async fn get_ok(url: &str) -> Result<Response, String> {
    let response = Request::get(url).send().await.map_err(|e| e.to_string())?;
    if response.ok() {
        Ok(response)
    } else {
        Err(error_text(response).await)
    }
}

pub async fn get_settings() -> Result<(NetworkSettings, String), String> {
    let response = get_ok(SETTINGS_URL).await?;
    let etag = etag_of(&response);
    let settings = response.json().await.map_err(|e| e.to_string())?;
    Ok((settings, etag))
}

pub async fn get_status() -> Result<ServerStatus, String> {
    let response = get_ok(SERVER_URL).await?;
    response.json().await.map_err(|e| e.to_string())
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

pub enum ImportOutcome {
    Restored { result: ImportResult, etag: String },
    Invalid(Vec<FieldError>),
    Failed(String),
}

/// Restores a backup file's text (the server validates and upgrades it).
pub async fn import_backup(text: String) -> ImportOutcome {
    let request = match Request::post(IMPORT_URL)
        .header("Content-Type", "application/json")
        .body(text)
    {
        Ok(request) => request,
        Err(e) => return ImportOutcome::Failed(e.to_string()),
    };
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => return ImportOutcome::Failed(format!("the server could not be reached ({e})")),
    };
    match response.status() {
        200 => {
            let etag = etag_of(&response);
            match response.json::<ImportResult>().await {
                Ok(result) => ImportOutcome::Restored { result, etag },
                Err(e) => ImportOutcome::Failed(e.to_string()),
            }
        }
        422 => match response.json::<ErrorBody>().await {
            Ok(body) => ImportOutcome::Invalid(body.errors),
            Err(e) => ImportOutcome::Failed(e.to_string()),
        },
        _ => ImportOutcome::Failed(error_text(response).await),
    }
}
