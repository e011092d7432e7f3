//! The one error type of the REST API: every refusal answers `{"errors": [{field, message}]}`
//! with the status that fits, and internal errors never leak their text.

use crate::db::DbError;
use app::api::ErrorBody;
use app::model::FieldError;
use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};

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
    /// The request clashes with what exists (a device registered twice, a port in use).
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    #[error("send the document as application/json")]
    UnsupportedMediaType,
    /// The path is routed, not for this method; `allowed` lists the methods that are.
    #[error("{method} is not allowed here; allowed: {allowed}")]
    MethodNotAllowed { method: String, allowed: String },
    #[error("the request body is larger than the {0} bytes this request accepts")]
    PayloadTooLarge(usize),
    #[error("sign in first (a session, or an API token in Authorization: Bearer)")]
    Unauthorized,
    /// Wrong credentials at sign-in.
    #[error("{0}")]
    SignInFailed(String),
    #[error("the API token is unknown, revoked or expired")]
    BadToken,
    #[error("{0}")]
    Forbidden(String),
    /// Too many failed sign-ins: the message says until when, `retry_after` in seconds.
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    /// A 412 of an edit based on an old version, naming who saved the current one.
    #[error("{} changed this at {} since you loaded it", .0.user, .0.at)]
    ChangedBy(app::api::ChangedBy),
    /// The database cannot be reached now (a restart, a failover): worth trying again soon.
    #[error("the database cannot be reached at the moment; try again in a few seconds")]
    Unavailable,
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        DbError::from(e).into()
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Conflict => ApiError::PreconditionFailed,
            other => ApiError::Internal(other.into()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unauthorized | ApiError::BadToken | ApiError::SignInFailed(_) => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::ChangedBy(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let mut headers = axum::http::HeaderMap::new();
        match &self {
            ApiError::Unauthorized | ApiError::BadToken => {
                headers.insert(
                    axum::http::header::WWW_AUTHENTICATE,
                    axum::http::HeaderValue::from_static("Bearer realm=\"Pharos\""),
                );
            }
            ApiError::TooManyRequests { retry_after, .. } => {
                headers.insert(axum::http::header::RETRY_AFTER, (*retry_after).into());
            }
            ApiError::Unavailable => {
                headers.insert(axum::http::header::RETRY_AFTER, 2.into());
            }
            ApiError::MethodNotAllowed { allowed, .. } => {
                if let Ok(allowed) = axum::http::HeaderValue::from_str(allowed) {
                    headers.insert(axum::http::header::ALLOW, allowed);
                }
            }
            _ => {}
        }
        let changed_by = match &self {
            ApiError::ChangedBy(by) => Some(by.clone()),
            _ => None,
        };
        let errors = match self {
            ApiError::Invalid(errors) => errors,
            other => vec![FieldError::new("", other.to_string())],
        };
        (status, headers, Json(ErrorBody { errors, changed_by })).into_response()
    }
}
