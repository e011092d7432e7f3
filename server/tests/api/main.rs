//! API and storage tests, most of them run on SQLite and on PostgreSQL (one test binary keeps
//! link times down; each area's tests are a module).
//!
//! PostgreSQL comes from `PHAROS_TEST_POSTGRES_URL` (default: the local `test` database); every
//! test gets a database of its own. An unreachable PostgreSQL fails these tests: it is never
//! skipped.

mod accounts;
mod base_path;
mod cli;
mod cli_certs;
mod cli_remote;
mod cluster;
mod dashboard;
mod device_certs;
mod discovery;
mod distributed;
mod enrollment;
mod est;
mod metrics;
mod nginx;
mod openapi;
mod scans;
mod serving;
mod settings;
mod simulator;
mod tls;
mod tools;

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Method, Request, StatusCode, header},
};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use server::{
    Pharos,
    config::{Config, DatabaseUrl},
};
use sqlx::{Connection, Executor, PgConnection};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Db {
    Sqlite,
    Postgres,
}

#[path = "../support/devsim.rs"]
pub mod devsim;
#[path = "../support/postgres.rs"]
pub mod postgres;
#[path = "../support/sse.rs"]
mod sse;
pub use postgres::PgDatabase;

/// One database (and data directory) that several server instances can use in turn or at once.
pub struct Env {
    pub db: Db,
    pub dir: tempfile::TempDir,
    pub pg: Option<PgDatabase>,
}

impl Env {
    pub async fn new(db: Db) -> Env {
        Env {
            db,
            dir: tempfile::tempdir().expect("temp dir"),
            pg: match db {
                Db::Sqlite => None,
                Db::Postgres => Some(PgDatabase::create("t").await),
            },
        }
    }

    pub fn database_url(&self) -> String {
        match self.db {
            Db::Sqlite => format!("sqlite://{}/pharos.db?mode=rwc", self.dir.path().display()),
            Db::Postgres => self.pg.as_ref().expect("pg").url.clone(),
        }
    }

    /// A server's configuration. Settings saved elsewhere reach it only through the change bus
    /// (the safety-net poll is an hour), so tests of propagation test the bus. Discovery binds
    /// 127.0.0.1, so it sends only to loopback addresses; after the first round at start (there
    /// are no devices yet), rounds run when a test asks (the interval is an hour).
    pub fn config(&self, server: &str, installation: &str) -> Config {
        let data_dir = self.dir.path().join(server);
        Config {
            data_dir,
            database_url: Some(DatabaseUrl::new(self.database_url())),
            settings_poll_millis: 3_600_000,
            installation: serde_json::from_value(json!(installation)).expect("installation"),
            server_name: Some(server.into()),
            site_root: Some(self.dir.path().join("site")),
            udp_bind: [127, 0, 0, 1].into(),
            device_port: devsim::free_udp_port(),
            wake_on_lan_address: [127, 255, 255, 255].into(),
            wake_on_lan_port: devsim::free_udp_port(),
            online_check_interval_secs: 3600,
            scan_send_rate: 0,
            admin_password: Some(server::config::Password::new(ADMIN_PASSWORD)),
            // servers sharing a database share the key that seals private keys
            secret_key: Some(server::config::Password::new(TEST_SECRET_KEY)),
            // plain HTTP, but in the tests of HTTPS itself
            tls: false,
            ..Config::default()
        }
    }

    pub async fn start_as(&self, server: &str, installation: &str) -> Pharos {
        launch(self.config(server, installation), CancellationToken::new()).await
    }

    pub async fn start(&self) -> Pharos {
        self.start_as("one", "standalone").await
    }

    /// Stores distributed mode as on (through a server started for it, whose row is then
    /// deleted): the servers started afterwards exchange their changes.
    pub async fn enable_distributed(&self) {
        let setup = self.start_as("setup", "standalone").await;
        let etag = get(&setup.router, "/api/v1/settings/network").await.etag();
        let mut doc = defaults();
        doc["distributed"]["enabled"] = json!(true);
        assert_eq!(put(&setup.router, &etag, &doc).await.status, StatusCode::OK);
        setup.stop().await;
        sql(self, "DELETE FROM servers WHERE name = 'setup'").await;
    }
}

/// The key sealing private keys, the same on every server of a test (32 bytes, base64).
pub const TEST_SECRET_KEY: &str = "cGhhcm9zLXRlc3Qtc2VjcmV0LWtleS0zMi1ieXRlcyE=";
/// The superuser's password in every test.
pub const ADMIN_PASSWORD: &str = "test-superuser-2026";
/// A request carrying this header goes out as it is: no credentials are added.
pub const ANONYMOUS: (&str, &str) = ("x-test-anonymous", "1");

/// Starts a server whose router signs every request in as the superuser (with an API token got
/// the way a script gets one), unless the request brings credentials of its own or is marked
/// [`ANONYMOUS`].
pub async fn launch(config: Config, shutdown: CancellationToken) -> Pharos {
    let mut pharos = server::start(config, shutdown)
        .await
        .expect("server starts");
    let token = token_for(&pharos.router, "admin", ADMIN_PASSWORD).await;
    pharos.router = signed_in(pharos.router, token);
    pharos
}

/// An API token of `user`, got with HTTP Basic.
pub async fn token_for(router: &Router, user: &str, password: &str) -> String {
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let reply = call(
        router,
        Method::POST,
        "/api/v1/auth/tokens",
        &[
            ("authorization", &format!("Basic {basic}")),
            ("content-type", "application/json"),
        ],
        Some(r#"{"name": "tests"}"#),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body["token"].as_str().unwrap().to_owned()
}

/// `router` with `Authorization: Bearer token` on every request that has no credentials.
pub fn signed_in(router: Router, token: String) -> Router {
    let bearer = axum::http::HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
    router.layer(axum::middleware::map_request(
        move |mut request: Request<Body>| {
            let bearer = bearer.clone();
            async move {
                let headers = request.headers_mut();
                if headers.remove(ANONYMOUS.0).is_none()
                    && !headers.contains_key(header::AUTHORIZATION)
                    && !headers.contains_key(header::COOKIE)
                {
                    headers.insert(header::AUTHORIZATION, bearer);
                }
                request
            }
        },
    ))
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn etag(&self) -> String {
        self.headers
            .get(header::ETAG)
            .expect("ETag header")
            .to_str()
            .unwrap()
            .to_owned()
    }

    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_owned())
            .collect()
    }
}

pub async fn call(
    router: &Router,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request
        .body(body.map(|b| Body::from(b.to_owned())).unwrap_or_default())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

pub async fn post_json(router: &Router, uri: &str, body: Value) -> Reply {
    call(
        router,
        Method::POST,
        uri,
        &[("content-type", "application/json")],
        Some(&body.to_string()),
    )
    .await
}

pub async fn get(router: &Router, uri: &str) -> Reply {
    call(router, Method::GET, uri, &[], None).await
}

pub async fn put(router: &Router, etag: &str, doc: &Value) -> Reply {
    call(
        router,
        Method::PUT,
        "/api/v1/settings/network",
        &[("content-type", "application/json"), ("if-match", etag)],
        Some(&doc.to_string()),
    )
    .await
}

pub async fn import(router: &Router, doc: &Value) -> Reply {
    call(
        router,
        Method::POST,
        "/api/v1/settings/network/import",
        &[("content-type", "application/json")],
        Some(&doc.to_string()),
    )
    .await
}

pub fn defaults() -> Value {
    json!({
      "online_check":       { "enabled": true, "response_timeout_ms": 1000, "reply_port": null },
      "scheduled_jobs":     { "never_expire": true, "expiration_minutes": 40 },
      "scan":               { "timeout_ms": 6000, "broadcast_ip": "255.255.255.255", "reply_port": null },
      "cluster_address":    { "enabled": false, "host": "", "port": 8443 },
      "enrollment_address": { "enabled": false, "host": "", "port": 8443, "path_prefix": "" },
      "distributed":        { "enabled": false }
    })
}

#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::Db::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(super::Db::Postgres).await
            }
        }
    )*};
}

/// Polls `check` every 20 ms until it holds; panics after `limit`.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A plain connection to a test's database, for what the API cannot do (rewind a clock, change
/// a row behind the servers' backs).
pub async fn sql(env: &Env, statement: &str) {
    match env.db {
        Db::Postgres => {
            let mut conn = PgConnection::connect(&env.database_url()).await.unwrap();
            conn.execute(statement).await.unwrap();
        }
        Db::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&env.database_url())
                .await
                .unwrap();
            conn.execute(statement).await.unwrap();
        }
    }
}

/// The server-sent events of `GET /api/v1/events`, read one at a time.
pub struct Events {
    body: Body,
    buffer: String,
    ready: std::collections::VecDeque<String>,
}

impl Events {
    pub async fn open(router: &Router) -> Events {
        let request = Request::get("/api/v1/events").body(Body::empty()).unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/event-stream"
        );
        Events {
            body: response.into_body(),
            buffer: String::new(),
            ready: Default::default(),
        }
    }

    /// The next event's data, or `None` when the stream ended; keep-alive comments are skipped.
    pub async fn next(&mut self, limit: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(data) = self.ready.pop_front() {
                return Some(serde_json::from_str(&data).expect("event data is JSON"));
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame())
                .await
                .expect("an event in time");
            match frame {
                None => return None,
                Some(frame) => {
                    if let Ok(data) = frame.unwrap().into_data() {
                        self.buffer.push_str(&String::from_utf8_lossy(&data));
                        self.ready.extend(sse::take_events(&mut self.buffer));
                    }
                }
            }
        }
    }

    /// Skips events until one of `kind` comes.
    pub async fn next_of(&mut self, kind: &str, limit: Duration) -> Value {
        loop {
            let event = self.next(limit).await.expect("the stream is open");
            if event["type"] == kind {
                return event;
            }
        }
    }
}
