//! JSON request bodies: the media type, a size limit and the syntax, each refused with its own
//! status and a message that says what to send instead.

use super::ApiError;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use http_body_util::LengthLimitError;
use serde_json::Value;

/// The largest settings document or backup a client may send; a real one is under 1 KiB.
pub const SETTINGS_BODY_LIMIT: usize = 64 * 1024;

/// A JSON document sent with `Content-Type: application/json`, read whole up to `LIMIT` bytes.
pub struct JsonValue<const LIMIT: usize>(pub Value);

impl<S: Send + Sync, const LIMIT: usize> FromRequest<S> for JsonValue<LIMIT> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<mime::Mime>().ok())
            .is_some_and(|m| {
                m.type_() == mime::APPLICATION
                    && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = axum::body::to_bytes(request.into_body(), LIMIT)
            .await
            .map_err(|e| {
                if is_length_limit(&e) {
                    ApiError::PayloadTooLarge(LIMIT)
                } else {
                    ApiError::BadRequest(format!("the request body could not be read: {e}"))
                }
            })?;
        serde_json::from_slice(&bytes)
            .map(JsonValue)
            .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))
    }
}

pub fn is_length_limit(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<LengthLimitError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// A JSON body of type `T`: the media type, size limit and syntax checked as for [`JsonValue`],
/// then the shape, with the path of what does not fit (`targets[2]: invalid type …`).
pub struct JsonBody<T, const LIMIT: usize>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned, const LIMIT: usize> FromRequest<S>
    for JsonBody<T, LIMIT>
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let JsonValue(value) = JsonValue::<LIMIT>::from_request(request, state).await?;
        serde_path_to_error::deserialize(value)
            .map(JsonBody)
            .map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                ApiError::BadRequest(if path == "." {
                    format!("the request body does not fit: {inner}")
                } else {
                    format!("{path}: {inner}")
                })
            })
    }
}
