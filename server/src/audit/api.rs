//! `GET /api/v1/audit`.

use crate::db::Db;
use crate::http::ApiError;
use app::api::AUDIT_URL;
use axum::{
    Json, Router,
    extract::{Query, State, rejection::QueryRejection},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;

pub fn routes() -> Router<Db> {
    Router::new().route(AUDIT_URL, get(get_audit))
}

#[derive(Deserialize)]
struct AuditQuery {
    before: Option<i64>,
    limit: Option<i64>,
}

async fn get_audit(
    State(db): State<Db>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let page = super::page(&db, query.before, query.limit.unwrap_or(100)).await?;
    Ok(Json(page).into_response())
}
