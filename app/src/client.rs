//! The browser's calls to the REST API (only ever made from event handlers and hydration).

use crate::api::PageData;
use crate::api::{ErrorBody, IMPORT_URL, ImportResult, SERVER_URL, SETTINGS_URL, ServerStatus};
use crate::settings::{FieldError, NetworkSettings};
use gloo_net::http::{Request, Response};

/// How the server answered a write.
pub enum Answer<T> {
    Stored {
        value: T,
        etag: String,
    },
    Invalid(Vec<FieldError>),
    /// Someone else saved since our copy was loaded (412).
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

/// Sends a write and reads the answer: the stored value and its ETag, or why not.
async fn write<T: serde::de::DeserializeOwned>(
    request: Result<Request, gloo_net::Error>,
) -> Answer<T> {
    let response = match request {
        Ok(request) => request.send().await,
        Err(e) => return Answer::Failed(e.to_string()),
    };
    let response = match response {
        Ok(response) => response,
        Err(e) => return Answer::Failed(format!("the server could not be reached ({e})")),
    };
    match response.status() {
        200 => {
            let etag = etag_of(&response);
            match response.json::<T>().await {
                Ok(value) => Answer::Stored { value, etag },
                Err(e) => Answer::Failed(e.to_string()),
            }
        }
        412 => Answer::Conflict,
        422 => match response.json::<ErrorBody>().await {
            Ok(body) => Answer::Invalid(body.errors),
            Err(e) => Answer::Failed(e.to_string()),
        },
        _ => Answer::Failed(error_text(response).await),
    }
}

pub async fn put_settings(doc: &NetworkSettings, etag: &str) -> Answer<NetworkSettings> {
    write(
        Request::put(SETTINGS_URL)
            .header("If-Match", etag)
            .json(doc),
    )
    .await
}

/// Restores a backup file's text (the server validates and upgrades it).
pub async fn import_backup(text: String) -> Answer<ImportResult> {
    write(
        Request::post(IMPORT_URL)
            .header("Content-Type", "application/json")
            .body(text),
    )
    .await
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
