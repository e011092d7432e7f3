//! The browser's calls to the REST API (only ever made from event handlers and hydration).

pub mod discovery;
mod events;
mod network_settings;

pub use events::follow_events;
pub use network_settings::{get_page_data, get_settings, get_status, import_backup, put_settings};

use crate::api::ErrorBody;
use crate::model::FieldError;
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

/// The ETag of an answer. A reverse proxy that compresses answers (nginx's `gzip on`) turns a
/// strong tag into a weak one, `W/"…"`; the version it names is the same, and a write's
/// `If-Match` needs the strong form, so the page keeps that.
fn etag_of(response: &Response) -> String {
    let etag = response.headers().get("etag").unwrap_or_default();
    match etag.strip_prefix("W/") {
        Some(strong) => strong.to_owned(),
        None => etag,
    }
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

/// A GET that answered 2xx, or the reason it did not.
async fn get_ok(url: &str) -> Result<Response, String> {
    let response = Request::get(url).send().await.map_err(|e| e.to_string())?;
    if response.ok() {
        Ok(response)
    } else {
        Err(error_text(response).await)
    }
}
