//! The browser's calls to the REST API (only ever made from event handlers and hydration).

pub mod account;
pub mod accounts;
pub mod certificates;
pub mod dashboard;
pub mod discovery;
pub mod enrollment;
mod events;
mod network_settings;
mod request;

pub use events::follow_events;
pub use network_settings::{get_page_data, get_settings, get_status, import_backup, put_settings};

use crate::api::{CSRF_COOKIE, CSRF_HEADER, ChangedBy, ErrorBody, LOGIN_PAGE, sign_in_page};
use crate::model::FieldError;
use gloo_net::http::{Method, Request, Response};
use leptos::wasm_bindgen::JsCast;

/// How the server answered a write.
pub enum Answer<T> {
    Stored {
        value: T,
        etag: String,
    },
    Invalid(Vec<FieldError>),
    /// Someone else saved since our copy was loaded (412); who, if the server says.
    Conflict(Option<ChangedBy>),
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
    /// 412: someone else saved since our copy was loaded; who, if the server says.
    Conflict(Option<ChangedBy>),
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
            Refusal::Conflict(Some(by)) => format!("{} saved in the meantime", by.user),
            Refusal::Conflict(None) => "someone else saved in the meantime".to_owned(),
            Refusal::Failed(text) => text.clone(),
        }
    }
}

/// Sends a request: a 2xx answer, or why the server did not do what was asked.
async fn send(request: Result<Request, gloo_net::Error>) -> Result<Response, Refusal> {
    let request = request.map_err(|e| Refusal::Failed(e.to_string()))?;
    let response = fetch(request).await.map_err(Refusal::Failed)?;
    match response.status() {
        200..=299 => Ok(response),
        412 => Err(Refusal::Conflict(
            response
                .json::<ErrorBody>()
                .await
                .ok()
                .and_then(|body| body.changed_by),
        )),
        422 => match response.json::<ErrorBody>().await {
            Ok(body) => Err(Refusal::Invalid(body.errors)),
            Err(e) => Err(Refusal::Failed(e.to_string())),
        },
        _ => Err(Refusal::Failed(error_text(response).await)),
    }
}

/// Sends a request and reads a 2xx answer's body as `T`.
async fn send_json<T: serde::de::DeserializeOwned>(
    request: Result<Request, gloo_net::Error>,
) -> Result<T, Refusal> {
    send(request)
        .await?
        .json::<T>()
        .await
        .map_err(|e| Refusal::Failed(e.to_string()))
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
        Err(Refusal::Conflict(by)) => Answer::Conflict(by),
        Err(Refusal::Failed(text)) => Answer::Failed(text),
    }
}

/// A GET that answered 2xx, or the reason it did not.
async fn get_ok(url: &str) -> Result<Response, String> {
    let response = fetch(request::get(url).build().map_err(|e| e.to_string())?).await?;
    if response.ok() {
        Ok(response)
    } else {
        Err(error_text(response).await)
    }
}

/// A GET's 2xx answer read as `T`, or the reason there is none.
async fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> Result<T, String> {
    get_ok(url).await?.json().await.map_err(|e| e.to_string())
}

/// Every request of the page goes through here. A write carries the anti-forgery token the
/// server set beside the session; an answer that the session is gone (401) takes the page to the
/// sign-in page, which leads back here (on the sign-in page itself it means wrong credentials).
async fn fetch(request: Request) -> Result<Response, String> {
    if !matches!(request.method(), Method::GET | Method::HEAD)
        && let Some(token) = csrf_token()
    {
        request.headers().set(CSRF_HEADER, &token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("the server could not be reached ({e})"))?;
    if response.status() == 401 && !on_sign_in_page() {
        sign_in_again();
        return Err("you are signed out; the sign-in page opens".to_owned());
    }
    Ok(response)
}

fn csrf_token() -> Option<String> {
    let cookies = leptos::prelude::document()
        .dyn_into::<web_sys::HtmlDocument>()
        .ok()?
        .cookie()
        .ok()?;
    cookies.split(';').find_map(|cookie| {
        let (name, value) = cookie.trim().split_once('=')?;
        (name == CSRF_COOKIE).then(|| value.to_owned())
    })
}

fn on_sign_in_page() -> bool {
    leptos::prelude::window()
        .location()
        .pathname()
        .ok()
        .is_some_and(|path| path == crate::url(LOGIN_PAGE))
}

/// Opens the sign-in page, which leads back to the page shown now (its path as the browser
/// asked for it: the sign-in page opens it as it is).
pub fn sign_in_again() {
    let location = leptos::prelude::window().location();
    let here = format!(
        "{}{}",
        location.pathname().unwrap_or_default(),
        location.search().unwrap_or_default()
    );
    let _ = location.assign(&crate::url(&sign_in_page(&here)));
}

/// A full navigation (the next page is rendered by the server for the one now signed in or out)
/// to `path` as the browser asks for it, the path prefix included.
pub fn open(path: &str) {
    let _ = leptos::prelude::window().location().assign(path);
}

/// Hands bytes the page received to the browser as a download named `file`.
pub fn save_file(bytes: &[u8], media_type: &str, file: &str) {
    use base64::Engine;
    let href = format!(
        "data:{media_type};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    );
    let Ok(link) = leptos::prelude::document().create_element("a") else {
        return;
    };
    let _ = link.set_attribute("href", &href);
    let _ = link.set_attribute("download", file);
    if let Ok(link) = link.dyn_into::<web_sys::HtmlElement>() {
        link.click();
    }
}
