//! The dashboard (`GET /api/v1/dashboard`, and the start page rendered from it): the fleet now and
//! over time, today's scans and jobs, the servers, certificates close to expiry, the newest audit
//! entries. Every signed-in administrator may ask; each section is read only for one who may read
//! its area, and left out otherwise.

use crate::cluster::Registry;
use crate::db::{Db, DbError, rfc3339};
use crate::discovery::{OnlineCheck, devices, history};
use crate::http::{ApiError, Routes, Rule, auth::Caller};
use crate::on_backend;
use crate::tls::{Tls, pki};
use crate::workers::unix_millis;
use app::api::{
    AuditQuery, DASHBOARD_AUDIT_ENTRIES, DASHBOARD_URL, Dashboard, DashboardQuery, DeviceOverview,
    EXPIRY_WARNING_DAYS, ExpiringCertificate, Expiry, HistoryRange, StateCount,
};
use app::model::{Area, Rights};
use app::{BoxFuture, DashboardBackend};
use axum::{
    Extension, Json,
    extract::{Query, State, rejection::QueryRejection},
};
use std::sync::Arc;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// What the dashboard is read from.
pub struct Overview {
    pub db: Db,
    pub online: Arc<OnlineCheck>,
    pub registry: Arc<Registry>,
    pub tls: Arc<Tls>,
}

impl Overview {
    /// The sections `rights` may read, with the device history of `range`.
    pub async fn read(&self, range: HistoryRange, rights: &Rights) -> anyhow::Result<Dashboard> {
        let now = unix_millis();
        let today = now - now.rem_euclid(DAY_MS);
        let devices = if rights.can_read(Area::Devices) {
            Some(DeviceOverview {
                counts: devices::counts(&self.db).await?,
                history: history::read(&self.db, range, now).await?,
                last_round: self.online.last_round(),
            })
        } else {
            None
        };
        let scans_today = match rights.can_read(Area::Devices) {
            true => Some(by_state(&self.db, SCANS_TODAY, today).await?),
            false => None,
        };
        let jobs_today = match rights.can_read(Area::Jobs) {
            true => Some(by_state(&self.db, JOBS_TODAY, today).await?),
            false => None,
        };
        let servers = rights
            .can_read(Area::NetworkSettings)
            .then(|| self.registry.servers().1);
        let certificates = match rights.can_read(Area::Certificates) {
            true => Some(self.expiring().await?),
            false => None,
        };
        let audit = match rights.can_read(Area::Audit) {
            true => {
                let query = AuditQuery {
                    limit: Some(DASHBOARD_AUDIT_ENTRIES),
                    ..AuditQuery::default()
                };
                let page = crate::audit::page(&self.db, &query).await?;
                Some(page.map_err(anyhow::Error::msg)?.entries)
            }
            false => None,
        };
        Ok(Dashboard {
            at: rfc3339(now),
            range,
            devices,
            scans_today,
            jobs_today,
            servers,
            certificates,
            audit,
        })
    }

    /// The web certificates and the device CA that expired or expire within
    /// [`EXPIRY_WARNING_DAYS`], soonest first.
    async fn expiring(&self) -> anyhow::Result<Vec<ExpiringCertificate>> {
        let web = self
            .tls
            .list()
            .await
            .map_err(|e| anyhow::anyhow!("listing the certificates: {e}"))?;
        let mut expiring: Vec<ExpiringCertificate> = web
            .certificates
            .into_iter()
            .filter(|c| matches!(c.expiry, Expiry::Soon | Expiry::Expired))
            .map(|c| ExpiringCertificate {
                kind: "web".into(),
                subject: c.subject,
                fingerprint_sha256: c.fingerprint_sha256,
                not_after: c.not_after,
                days_left: c.days_left,
            })
            .collect();
        let ca = self.tls.device()?;
        let days_left = (ca.not_after - unix_millis()).div_euclid(DAY_MS);
        if days_left < EXPIRY_WARNING_DAYS {
            let facts = pki::facts(&ca.der).map_err(anyhow::Error::msg)?;
            expiring.push(ExpiringCertificate {
                kind: "device_ca".into(),
                subject: facts.subject,
                fingerprint_sha256: ca.fingerprint.clone(),
                not_after: rfc3339(ca.not_after),
                days_left,
            });
        }
        expiring.sort_by_key(|c| c.days_left);
        Ok(expiring)
    }
}

const SCANS_TODAY: &str = "SELECT state, COUNT(*) FROM scans WHERE started_at >= $1 GROUP BY state";
const JOBS_TODAY: &str = "SELECT status, COUNT(*) FROM job_executions \
                          WHERE due_at >= $1 AND due_at < $1 + 86400000 GROUP BY status";

/// Counts by state of `sql`, which groups the rows from the start of the day `$1` on.
async fn by_state(db: &Db, sql: &str, today: i64) -> Result<Vec<StateCount>, DbError> {
    let rows: Vec<(String, i64)> = on_backend!(&db.pool, pool => {
        sqlx::query_as(sql).bind(today).fetch_all(pool).await?
    });
    let mut counts: Vec<StateCount> = rows
        .into_iter()
        .map(|(state, count)| StateCount {
            state,
            count: u64::try_from(count).unwrap_or(0),
        })
        .collect();
    counts.sort_by(|a, b| a.state.cmp(&b.state));
    Ok(counts)
}

pub fn routes() -> Routes<Arc<Overview>> {
    Routes::new(Rule::SignedIn).get(DASHBOARD_URL, get_dashboard)
}

#[utoipa::path(
    get,
    path = DASHBOARD_URL,
    params(DashboardQuery),
    responses((
        status = 200,
        description = "The sections the caller may read: devices now and their history, \
            today's scans and jobs, servers, certificates close to expiry, the newest audit entries",
        body = Dashboard
    )),
)]
async fn get_dashboard(
    State(overview): State<Arc<Overview>>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<DashboardQuery>, QueryRejection>,
) -> Result<Json<Dashboard>, ApiError> {
    let Query(query) =
        query.map_err(|e| ApiError::BadRequest(format!("{}; range: 24h or 7d", e.body_text())))?;
    let me = caller.me().ok_or(ApiError::Unauthorized)?;
    let range = query.range.unwrap_or_default();
    overview
        .read(range, &me.rights)
        .await
        .map(Json)
        .map_err(ApiError::Internal)
}

/// The document of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(get_dashboard))]
pub struct Api;

/// The start page's data, read while the server renders it.
pub struct Pages(pub Arc<Overview>);

impl DashboardBackend for Pages {
    fn dashboard(
        &self,
        range: HistoryRange,
        rights: Rights,
    ) -> BoxFuture<Result<Dashboard, String>> {
        let overview = self.0.clone();
        Box::pin(async move {
            overview.read(range, &rights).await.map_err(|e| {
                tracing::error!(error = format!("{e:#}"), "reading the dashboard for a page");
                "the dashboard could not be read".to_owned()
            })
        })
    }
}
