//! `/metrics`: what the server did (counters and histograms, kept as it works) and what it
//! holds (gauges, read when scraped), in the OpenMetrics text format Prometheus reads.
//! `docs/monitoring.md` lists them.
//!
//! Each started server has its own [`Metrics`]: tests run several servers in one process.

use crate::cluster::Registry as Servers;
use crate::db::{Backend, Db};
use crate::discovery::Discovery;
use crate::http::auth::Caller;
use crate::http::{ApiError, Routes, Rule};
use crate::tls::Tls;
use app::model::Area;
use axum::Extension;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use prometheus_client::encoding::{EncodeLabelSet, text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

pub const METRICS_URL: &str = "/metrics";

/// The OpenMetrics media type (Prometheus asks for it and reads it).
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type FloatGauge = Gauge<f64, AtomicU64>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    /// The route's template (`/api/v1/devices/{id}`), never the request's path: the number of
    /// series stays that of the routes.
    pub route: String,
    pub status: u16,
}

/// What a datagram was for.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Purpose {
    pub purpose: &'static str,
}

pub const ONLINE_CHECK: Purpose = Purpose {
    purpose: "online_check",
};
pub const SCAN: Purpose = Purpose { purpose: "scan" };
pub const COMMAND: Purpose = Purpose { purpose: "command" };

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Ignored {
    pub purpose: &'static str,
    /// `stranger` (from an address not asked), `malformed` (not a Pharos datagram), `unexpected`
    /// (another kind, another nonce, or a second answer), `late` (after the timeout).
    pub reason: &'static str,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Status {
    pub status: &'static str,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CertLabels {
    /// `web` (what this server presents), `web_chain` (a CA above it), `device_ca`.
    role: &'static str,
    subject: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Server {
    server: String,
    name: String,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolState {
    state: &'static str,
}

/// Every instrument of one server.
pub struct Metrics {
    registry: Registry,
    http: Family<HttpLabels, Histogram>,
    pub datagrams_sent: Family<Purpose, Counter>,
    pub datagrams_unsent: Family<Purpose, Counter>,
    pub datagrams_received: Family<Purpose, Counter>,
    pub datagrams_ignored: Family<Ignored, Counter>,
    pub rounds: Counter,
    pub round_duration: Histogram,
    pub round_devices: Counter,
    pub round_answered: Counter,
    last_round_duration: FloatGauge,
    last_round_timeout: FloatGauge,
    last_round_lateness: FloatGauge,
    last_round_time: Gauge,
    pub scans: Counter,
    scans_running: Gauge,
    pub job_executions: Family<Status, Counter>,
    jobs_running: Gauge,
    pub sign_in_failures: Family<Reason, Counter>,
    pub bus_lag: Histogram,
    devices: Family<Status, Gauge>,
    server_up: Family<Server, Gauge>,
    server_heartbeat: Family<Server, Gauge>,
    pool: Family<PoolState, Gauge>,
    pool_max: Gauge,
    database_up: Gauge,
    cert_expiry: Family<CertLabels, Gauge>,
    /// One scrape at a time: the gauges are set, then encoded.
    scraping: tokio::sync::Mutex<()>,
}

fn latency() -> Histogram {
    // 1 ms to about 16 s
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("pharos");
        let http = Family::<HttpLabels, Histogram>::new_with_constructor(latency as fn() -> _);
        let m = Metrics {
            registry: Registry::default(),
            http,
            datagrams_sent: Family::default(),
            datagrams_unsent: Family::default(),
            datagrams_received: Family::default(),
            datagrams_ignored: Family::default(),
            rounds: Counter::default(),
            // 10 ms to about 160 s
            round_duration: Histogram::new(exponential_buckets(0.01, 2.0, 15)),
            round_devices: Counter::default(),
            round_answered: Counter::default(),
            last_round_duration: FloatGauge::default(),
            last_round_timeout: FloatGauge::default(),
            last_round_lateness: FloatGauge::default(),
            last_round_time: Gauge::default(),
            scans: Counter::default(),
            scans_running: Gauge::default(),
            job_executions: Family::default(),
            jobs_running: Gauge::default(),
            sign_in_failures: Family::default(),
            // 1 ms to about 16 s
            bus_lag: Histogram::new(exponential_buckets(0.001, 2.0, 15)),
            devices: Family::default(),
            server_up: Family::default(),
            server_heartbeat: Family::default(),
            pool: Family::default(),
            pool_max: Gauge::default(),
            database_up: Gauge::default(),
            cert_expiry: Family::default(),
            scraping: tokio::sync::Mutex::new(()),
        };
        let r = &mut registry;
        r.register_with_unit(
            "http_request_duration",
            "HTTP requests by method, route and status: time to the response's headers",
            Unit::Seconds,
            m.http.clone(),
        );
        r.register(
            "datagrams_sent",
            "UDP datagrams sent to devices, by purpose",
            m.datagrams_sent.clone(),
        );
        r.register(
            "datagrams_unsent",
            "UDP datagrams that could not be sent, by purpose",
            m.datagrams_unsent.clone(),
        );
        r.register(
            "datagrams_received",
            "UDP datagrams received on reply ports, by purpose (ignored ones included)",
            m.datagrams_received.clone(),
        );
        r.register(
            "datagrams_ignored",
            "Received UDP datagrams that were no valid answer, by purpose and reason",
            m.datagrams_ignored.clone(),
        );
        r.register(
            "online_check_rounds",
            "Online-check rounds run by this server",
            m.rounds.clone(),
        );
        r.register_with_unit(
            "online_check_round_duration",
            "Online-check rounds: from the first query to the verdict",
            Unit::Seconds,
            m.round_duration.clone(),
        );
        r.register(
            "online_check_devices_checked",
            "Devices queried by this server's online-check rounds",
            m.round_devices.clone(),
        );
        r.register(
            "online_check_devices_answered",
            "Devices that answered this server's online-check rounds in time",
            m.round_answered.clone(),
        );
        r.register_with_unit(
            "online_check_last_round_duration",
            "The last online-check round's duration",
            Unit::Seconds,
            m.last_round_duration.clone(),
        );
        r.register_with_unit(
            "online_check_response_timeout",
            "The response timeout the last online-check round used",
            Unit::Seconds,
            m.last_round_timeout.clone(),
        );
        r.register_with_unit(
            "online_check_last_round_lateness",
            "How much longer than its response timeout the last round took (sending included)",
            Unit::Seconds,
            m.last_round_lateness.clone(),
        );
        r.register(
            "online_check_last_round_timestamp_seconds",
            "When the last online-check round ended (Unix time)",
            m.last_round_time.clone(),
        );
        r.register("scans", "Scans started on this server", m.scans.clone());
        r.register(
            "scans_running",
            "Scans running on this server now",
            m.scans_running.clone(),
        );
        r.register(
            "job_executions",
            "Job executions this server ended, by status",
            m.job_executions.clone(),
        );
        r.register(
            "job_executions_running",
            "Job executions running on this server now",
            m.jobs_running.clone(),
        );
        r.register(
            "sign_in_failures",
            "Refused sign-ins with a password, by reason (wrong, disabled, locked_out)",
            m.sign_in_failures.clone(),
        );
        r.register_with_unit(
            "cluster_message_lag",
            "Distributed mode: from a change's message being written by a server to this server reading it",
            Unit::Seconds,
            m.bus_lag.clone(),
        );
        r.register(
            "devices",
            "Registered devices by status (of the whole installation)",
            m.devices.clone(),
        );
        r.register(
            "server_up",
            "Servers registered on the database: 1 while their heartbeat is fresh, 0 once gone or stopped",
            m.server_up.clone(),
        );
        r.register(
            "server_last_heartbeat_timestamp_seconds",
            "Each server's last heartbeat (Unix time, the database's clock)",
            m.server_heartbeat.clone(),
        );
        r.register(
            "database_pool_connections",
            "This server's database connections, by state (idle, in_use)",
            m.pool.clone(),
        );
        r.register(
            "database_pool_max_connections",
            "The most connections this server's pool opens",
            m.pool_max.clone(),
        );
        r.register(
            "database_up",
            "1 if the database answered during this scrape",
            m.database_up.clone(),
        );
        r.register(
            "certificate_expiry_timestamp_seconds",
            "When a certificate in use expires (Unix time), by role and subject",
            m.cert_expiry.clone(),
        );
        // every known series from the start, at 0: a rate over a counter's first increase
        // needs its 0 before
        for purpose in [ONLINE_CHECK, SCAN, COMMAND] {
            m.datagrams(purpose, 0, 0);
            m.datagrams_received.get_or_create(&purpose).inc_by(0);
            for reason in ["stranger", "malformed", "unexpected", "late"] {
                m.ignored(purpose, reason, 0);
            }
        }
        for reason in ["wrong", "disabled", "locked_out"] {
            m.sign_in_failures
                .get_or_create(&Reason { reason })
                .inc_by(0);
        }
        for status in ["done", "failed", "expired"] {
            m.job_executions.get_or_create(&Status { status }).inc_by(0);
        }
        Metrics { registry, ..m }
    }

    /// A finished online-check round over `checked` devices of which `answered` answered.
    pub fn round(&self, checked: u64, answered: u64, seconds: f64, timeout: f64, sending: f64) {
        self.rounds.inc();
        self.round_duration.observe(seconds);
        self.round_devices.inc_by(checked);
        self.round_answered.inc_by(answered);
        self.last_round_duration.set(seconds);
        self.last_round_timeout.set(timeout);
        // a round cannot end before its last query plus the timeout
        self.last_round_lateness.set(seconds - sending - timeout);
        self.last_round_time
            .set(crate::workers::unix_millis() / 1000);
    }

    pub fn datagrams(&self, purpose: Purpose, sent: u64, unsent: u64) {
        self.datagrams_sent.get_or_create(&purpose).inc_by(sent);
        self.datagrams_unsent.get_or_create(&purpose).inc_by(unsent);
    }

    pub fn ignored(&self, purpose: Purpose, reason: &'static str, count: u64) {
        self.datagrams_ignored
            .get_or_create(&Ignored {
                purpose: purpose.purpose,
                reason,
            })
            .inc_by(count);
    }

    pub fn sign_in_failed(&self, reason: &'static str) {
        self.sign_in_failures
            .get_or_create(&Reason { reason })
            .inc();
    }

    pub fn execution_ended(&self, status: &'static str) {
        self.job_executions.get_or_create(&Status { status }).inc();
    }

    /// Reads what is held now and encodes every metric.
    async fn scrape(&self, parts: &Parts) -> String {
        let _one = self.scraping.lock().await;
        match crate::discovery::devices::counts(&parts.db).await {
            Ok(counts) => {
                self.database_up.set(1);
                for (status, n) in [
                    ("online", counts.online),
                    ("offline", counts.offline),
                    ("unknown", counts.unknown),
                ] {
                    self.devices.get_or_create(&Status { status }).set(n as i64);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "metrics: the devices could not be counted");
                self.database_up.set(0);
            }
        }
        let (_, servers) = parts.servers.servers();
        self.server_up.clear();
        self.server_heartbeat.clear();
        for entry in servers {
            let labels = Server {
                server: entry.id,
                name: entry.name,
            };
            self.server_up
                .get_or_create(&labels)
                .set(i64::from(entry.alive));
            if let Ok(at) = time::OffsetDateTime::parse(
                &entry.last_heartbeat,
                &time::format_description::well_known::Rfc3339,
            ) {
                self.server_heartbeat
                    .get_or_create(&labels)
                    .set(at.unix_timestamp());
            }
        }
        let (size, idle, max) = match &parts.db.pool {
            Backend::Sqlite(pool) => (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            ),
            Backend::Postgres(pool) => (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            ),
        };
        self.pool
            .get_or_create(&PoolState { state: "idle" })
            .set(idle as i64);
        self.pool
            .get_or_create(&PoolState { state: "in_use" })
            .set(i64::from(size) - idle as i64);
        self.pool_max.set(i64::from(max));
        self.scans_running
            .set(parts.discovery.scans.running_here() as i64);
        self.jobs_running
            .set(parts.discovery.executing_here() as i64);
        self.cert_expiry.clear();
        for (role, subject, not_after) in parts.tls.expiries() {
            self.cert_expiry
                .get_or_create(&CertLabels { role, subject })
                .set(not_after / 1000);
        }
        let mut out = String::new();
        text::encode(&mut out, &self.registry).expect("writing to a String");
        out
    }
}

/// Records every request's duration under its route's template.
pub async fn measure(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    // any token is a method to HTTP: one series per made-up method would grow without bound
    let method = match *request.method() {
        Method::GET
        | Method::HEAD
        | Method::POST
        | Method::PUT
        | Method::PATCH
        | Method::DELETE
        | Method::OPTIONS => request.method().as_str(),
        _ => "other",
    }
    .to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    metrics
        .http
        .get_or_create(&HttpLabels {
            method,
            route,
            status: response.status().as_u16(),
        })
        .observe(start.elapsed().as_secs_f64());
    response
}

/// What a scrape reads besides the instruments.
pub struct Parts {
    pub metrics: Arc<Metrics>,
    pub db: Db,
    pub servers: Arc<Servers>,
    pub discovery: Arc<Discovery>,
    pub tls: Arc<Tls>,
    /// Who may scrape without signing in.
    pub allow: Vec<IpNet>,
    pub trusted_proxies: Vec<IpNet>,
}

pub fn routes() -> Routes<Arc<Parts>> {
    // the handler checks the address or the sign-in itself
    Routes::new(Rule::OwnCredentials).get(METRICS_URL, metrics)
}

async fn metrics(
    State(parts): State<Arc<Parts>>,
    Extension(caller): Extension<Caller>,
    peer: Option<Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let peer = peer.map(|Extension(axum::extract::ConnectInfo(addr))| addr.ip().to_canonical());
    if !may_scrape(&parts, &caller, peer, &headers) {
        return Err(match caller.me() {
            Some(_) => ApiError::Forbidden(
                "reading the metrics needs the Read right on Network Settings".into(),
            ),
            None => ApiError::Unauthorized,
        });
    }
    let body = parts.metrics.scrape(&parts).await;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response())
}

/// From an allowed address, or by an administrator who may read the Server Network Settings
/// (an API token for a scrape job). A request a proxy forwarded counts by the client's address
/// only if the proxy is trusted: else every client behind a proxy on an allowed address would
/// pass as that address.
fn may_scrape(parts: &Parts, caller: &Caller, peer: Option<IpAddr>, headers: &HeaderMap) -> bool {
    let forwarded =
        headers.contains_key("x-forwarded-for") || headers.contains_key(header::FORWARDED);
    let believed = !forwarded
        || peer.is_some_and(|peer| parts.trusted_proxies.iter().any(|net| net.contains(&peer)));
    let allowed = believed
        && caller.client.addr.is_some_and(|addr| {
            parts
                .allow
                .iter()
                .any(|net| net.contains(&addr.to_canonical()))
        });
    allowed
        || caller
            .me()
            .is_some_and(|me| me.can_read(Area::NetworkSettings))
}
