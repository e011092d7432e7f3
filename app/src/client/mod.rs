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

/// Why the server did not do what was asked.
pub enum Refusal {
    /// 422: the fields and what is wrong with them.
    Invalid(Vec<FieldError>),
    /// 412: someone else saved since our copy was loaded.
    Conflict,
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
            Refusal::Conflict => "someone else saved in the meantime".to_owned(),
            Refusal::Failed(text) => text.clone(),
        }
    }
}

/// Sends a request: a 2xx answer, or why the server did not do what was asked.
async fn send(request: Result<Request, gloo_net::Error>) -> Result<Response, Refusal> {
    let request = request.map_err(|e| Refusal::Failed(e.to_string()))?;
    let response = request
        .send()
        .await
        .map_err(|e| Refusal::Failed(format!("the server could not be reached ({e})")))?;
    match response.status() {
        200..=299 => Ok(response),
        412 => Err(Refusal::Conflict),
        422 => match response.json::<ErrorBody>().await {
            Ok(body) => Err(Refusal::Invalid(body.errors)),
            Err(e) => Err(Refusal::Failed(e.to_string())),
        },
        _ => Err(Refusal::Failed(error_text(response).await)),
    }
}

/// Sends a write and reads the answer: the stored value and its ETag, or why not.
async fn write<T: serde::de::DeserializeOwned>(
    request: Result<Request, gloo_net::Error>,
) -> Answer<T> {
    match send(request).await {
        Ok(response) => {
            let etag = etag_of(&response);
            match response.json::<T>().await {
                Ok(value) => Answer::Stored { value, etag },
                Err(e) => Answer::Failed(e.to_string()),
            }
        }
        Err(Refusal::Invalid(errors)) => Answer::Invalid(errors),
        Err(Refusal::Conflict) => Answer::Conflict,
        Err(Refusal::Failed(text)) => Answer::Failed(text),
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
