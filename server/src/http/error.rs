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
    #[error("the request body is larger than the {0} bytes this request accepts")]
    PayloadTooLarge(usize),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
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
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let errors = match self {
            ApiError::Invalid(errors) => errors,
            other => vec![FieldError::new("", other.to_string())],
        };
        (status, Json(ErrorBody { errors })).into_response()
    }
}
