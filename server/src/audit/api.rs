//! `GET /api/v1/audit`.

use crate::db::Db;
use crate::http::{ApiError, Routes, Rule};
use app::api::{AUDIT_URL, AuditPage, AuditQuery};
use app::model::Area;
use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
};

pub fn routes() -> Routes<Db> {
    Routes::new(Rule::Area(Area::Audit)).get(AUDIT_URL, get_audit)
}

/// A log query, or a 400 naming what is wrong with it.
pub fn log_query(query: Result<Query<AuditQuery>, QueryRejection>) -> Result<AuditQuery, ApiError> {
    query.map(|Query(q)| q).map_err(|e| {
        ApiError::BadRequest(format!(
            "{}; filters: user, area, from and to (RFC 3339), before, limit",
            e.body_text()
        ))
    })
}

/// The change log, newest first.
#[utoipa::path(
    get,
    path = AUDIT_URL,
    params(AuditQuery),
    responses((status = 200, description = "One page of entries", body = AuditPage)),
)]
async fn get_audit(
    State(db): State<Db>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    let query = log_query(query)?;
    super::page(&db, &query)
        .await?
        .map(Json)
        .map_err(ApiError::BadRequest)
}

/// The document of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(get_audit))]
pub struct Api;
