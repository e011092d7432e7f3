//! `/api/v1/enrollment/…`: the enrollment keys (Certificates area: they let devices get
//! certificates of the device CA).

use super::Est;
use crate::audit::Actor;
use crate::http::{ApiError, JsonBody, PathParam, Routes, Rule};
use app::api::{CreatedEnrollmentKey, ENROLLMENT_KEYS_URL, EnrollmentKeyList, NewEnrollmentKey};
use app::model::Area;
use axum::{Json, extract::State, http::StatusCode};
use std::sync::Arc;

const SMALL: usize = 16 * 1024;
type Shared = State<Arc<Est>>;

pub fn routes() -> Routes<Arc<Est>> {
    Routes::new(Rule::Area(Area::Certificates))
        .get(ENROLLMENT_KEYS_URL, list_keys)
        .post(ENROLLMENT_KEYS_URL, create_key)
        .delete(&format!("{ENROLLMENT_KEYS_URL}/{{id}}"), revoke_key)
}

async fn list_keys(State(est): Shared) -> Result<Json<EnrollmentKeyList>, ApiError> {
    Ok(Json(est.keys().await?))
}

async fn create_key(
    State(est): Shared,
    actor: Actor,
    JsonBody(request): JsonBody<NewEnrollmentKey, SMALL>,
) -> Result<(StatusCode, Json<CreatedEnrollmentKey>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(est.create_key(&actor, request).await?),
    ))
}

async fn revoke_key(
    State(est): Shared,
    actor: Actor,
    PathParam(id): PathParam<String>,
) -> Result<StatusCode, ApiError> {
    est.revoke_key(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
