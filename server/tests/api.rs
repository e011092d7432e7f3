//! API and storage tests, each run on SQLite and on PostgreSQL.
//!
//! PostgreSQL comes from `PHAROS_TEST_POSTGRES_URL` (default: the local `test` database); every
//! test gets a database of its own. An unreachable PostgreSQL fails these tests: it is never
//! skipped.

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Method, Request, StatusCode, header},
};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use server::{Pharos, config::Config};
use sqlx::{Connection, Executor, PgConnection};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Db {
    Sqlite,
    Postgres,
}

fn admin_url() -> String {
    std::env::var("PHAROS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A PostgreSQL database made for one test and dropped after it.
struct PgDatabase {
    name: String,
    url: String,
}

impl PgDatabase {
    async fn create() -> PgDatabase {
        let admin = admin_url();
        let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!("PostgreSQL at {admin} is needed for these tests (set PHAROS_TEST_POSTGRES_URL): {e}")
        });
        let name = format!("pharos_t_{}", uuid::Uuid::new_v4().simple());
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create test database");
        let base = admin.rsplit_once('/').expect("URL has a database").0;
        PgDatabase {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside any runtime we could block; a short-lived one does the clean-up.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(mut conn) = PgConnection::connect(&admin_url()).await {
                    let _ = conn
                        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                        .await;
                }
            });
        })
        .join();
    }
}

/// One database (and data directory) that several server instances can use in turn or at once.
struct Env {
    db: Db,
    dir: tempfile::TempDir,
    pg: Option<PgDatabase>,
}

impl Env {
    async fn new(db: Db) -> Env {
        Env {
            db,
            dir: tempfile::tempdir().expect("temp dir"),
            pg: match db {
                Db::Sqlite => None,
                Db::Postgres => Some(PgDatabase::create().await),
            },
        }
    }

    fn config(&self, server: &str, installation: &str) -> Config {
        let data_dir = self.dir.path().join(server);
        Config {
            data_dir,
            database_url: match self.db {
                Db::Sqlite => Some(format!(
                    "sqlite://{}/pharos.db?mode=rwc",
                    self.dir.path().display()
                )),
                Db::Postgres => Some(self.pg.as_ref().expect("pg").url.clone()),
            },
            installation: serde_json::from_value(json!(installation)).expect("installation"),
            server_name: Some(server.into()),
            site_root: Some(self.dir.path().join("site")),
            ..Config::default()
        }
    }

    async fn start_as(&self, server: &str, installation: &str) -> Pharos {
        server::start(self.config(server, installation), CancellationToken::new())
            .await
            .expect("server starts")
    }

    async fn start(&self) -> Pharos {
        self.start_as("one", "standalone").await
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
    text: String,
}

impl Reply {
    fn etag(&self) -> String {
        self.headers
            .get(header::ETAG)
            .expect("ETag header")
            .to_str()
            .unwrap()
            .to_owned()
    }

    fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_owned())
            .collect()
    }
}

async fn call(
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

async fn get(router: &Router, uri: &str) -> Reply {
    call(router, Method::GET, uri, &[], None).await
}

async fn put(router: &Router, etag: &str, doc: &Value) -> Reply {
    call(
        router,
        Method::PUT,
        "/api/v1/settings/network",
        &[("content-type", "application/json"), ("if-match", etag)],
        Some(&doc.to_string()),
    )
    .await
}

async fn import(router: &Router, doc: &Value) -> Reply {
    call(
        router,
        Method::POST,
        "/api/v1/settings/network/import",
        &[("content-type", "application/json")],
        Some(&doc.to_string()),
    )
    .await
}

fn defaults() -> Value {
    json!({
      "online_check":       { "enabled": true, "response_timeout_ms": 1000, "reply_port": null },
      "scheduled_jobs":     { "never_expire": true, "expiration_minutes": 40 },
      "scan":               { "timeout_ms": 6000, "broadcast_ip": "255.255.255.255", "reply_port": null },
      "cluster_address":    { "enabled": false, "host": "", "port": 8443 },
      "enrollment_address": { "enabled": false, "host": "", "port": 8443, "path_prefix": "" },
      "distributed":        { "enabled": false }
    })
}

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

on_both_databases!(
    defaults_and_health,
    put_replaces_and_audits,
    invalid_documents_change_nothing,
    preconditions,
    concurrent_writers_one_wins,
    export_and_import,
    settings_survive_a_restart,
    distributed_mode_rules,
    ha_installation_has_no_distributed_section,
    page_is_rendered_with_current_values,
    audit_pages,
);

async fn defaults_and_health(db: Db) {
    let env = Env::new(db).await;
    let app = env.start().await;
    let health = get(&app.router, "/healthz").await;
    assert_eq!(health.status, StatusCode::OK);
    let reply = get(&app.router, "/api/v1/settings/network").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, defaults());
    let etag = reply.etag();
    let not_modified = call(
        &app.router,
        Method::GET,
        "/api/v1/settings/network",
        &[("if-none-match", &etag)],
        None,
    )
    .await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    let server = get(&app.router, "/api/v1/server").await;
    assert_eq!(server.status, StatusCode::OK);
    assert_eq!(server.body["installation"], "standalone");
    assert_eq!(
        server.body["database"],
        if db == Db::Sqlite {
            "sqlite"
        } else {
            "postgres"
        }
    );
    assert_eq!(server.body["server"]["name"], "one");
    assert_eq!(server.body["servers"].as_array().unwrap().len(), 1);
    assert_eq!(server.body["servers"][0]["alive"], true);
    assert_eq!(
        server.body["distributed"],
        json!({"configured": false, "running": false, "restart_required": false})
    );
    app.stop().await;
}

async fn put_replaces_and_audits(db: Db) {
    let env = Env::new(db).await;
    let app = env.start().await;
    let etag = get(&app.router, "/api/v1/settings/network").await.etag();
    let mut doc = defaults();
    doc["online_check"]["response_timeout_ms"] = json!(2500);
    doc["cluster_address"] = json!({"enabled": true, "host": "lb.example.com", "port": 443});
    let reply = put(&app.router, &etag, &doc).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body, doc);
    assert_ne!(reply.etag(), etag);
    let again = get(&app.router, "/api/v1/settings/network").await;
    assert_eq!(again.body, doc);
    assert_eq!(again.etag(), reply.etag());

    let audit = get(&app.router, "/api/v1/audit").await;
    let entries = audit.body["entries"].as_array().unwrap();
    let mut got: Vec<(String, Value, Value)> = entries
        .iter()
        .map(|e| {
            assert_eq!(e["actor"], "admin");
            assert_eq!(e["action"], "update");
            assert!(e["at"].as_str().unwrap().contains('T'));
            (
                e["field"].as_str().unwrap().to_owned(),
                e["old_value"].clone(),
                e["new_value"].clone(),
            )
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        vec![
            (
                "settings.network.cluster_address.enabled".into(),
                json!(false),
                json!(true)
            ),
            (
                "settings.network.cluster_address.host".into(),
                json!(""),
                json!("lb.example.com")
            ),
            (
                "settings.network.cluster_address.port".into(),
                json!(8443),
                json!(443)
            ),
            (
                "settings.network.online_check.response_timeout_ms".into(),
                json!(1000),
                json!(2500)
            ),
        ]
    );

    // the same document again is no change: same ETag, no audit rows
    let same = put(&app.router, &reply.etag(), &doc).await;
    assert_eq!(same.status, StatusCode::OK);
    assert_eq!(same.etag(), reply.etag());
    let audit = get(&app.router, "/api/v1/audit").await;
    assert_eq!(audit.body["entries"].as_array().unwrap().len(), 4);
    app.stop().await;
}

async fn invalid_documents_change_nothing(db: Db) {
    let env = Env::new(db).await;
    let app = env.start().await;
    let etag = get(&app.router, "/api/v1/settings/network").await.etag();
    let mut doc = defaults();
    doc["online_check"]["response_timeout_ms"] = json!(10001);
    doc["online_check"]["reply_port"] = json!(0);
    doc["scan"]["reply_port"] = json!(65536);
    doc["scan"]["broadcast_ip"] = json!("300.1.1.1");
    doc["cluster_address"]["enabled"] = json!(true);
    doc["enrollment_address"]["host"] = json!(format!("{}.example.com", "a".repeat(64)));
    doc["enrollment_address"]["path_prefix"] = json!("/x?y");
    doc["scheduled_jobs"]["expiration_minutes"] = json!("forty");
    doc["scan"]["colour"] = json!("blue");
    let reply = put(&app.router, &etag, &doc).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    let mut fields = reply.error_fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "cluster_address.host",
            "enrollment_address.host",
            "enrollment_address.path_prefix",
            "online_check.reply_port",
            "online_check.response_timeout_ms",
            "scan.broadcast_ip",
            "scan.colour",
            "scan.reply_port",
            "scheduled_jobs.expiration_minutes",
        ]
    );
    assert!(reply.text.contains("colour"));
    let after = get(&app.router, "/api/v1/settings/network").await;
    assert_eq!(after.body, defaults());
    assert_eq!(after.etag(), etag);
    let audit = get(&app.router, "/api/v1/audit").await;
    assert_eq!(audit.body["entries"], json!([]));
    app.stop().await;
}

async fn preconditions(db: Db) {
    let env = Env::new(db).await;
    let app = env.start().await;
    let etag = get(&app.router, "/api/v1/settings/network").await.etag();
    let doc = defaults().to_string();
    let uri = "/api/v1/settings/network";
    let json_type = ("content-type", "application/json");

    let missing = call(&app.router, Method::PUT, uri, &[json_type], Some(&doc)).await;
    assert_eq!(missing.status, StatusCode::PRECONDITION_REQUIRED);
    assert!(missing.text.contains("If-Match"));

    let malformed = call(
        &app.router,
        Method::PUT,
        uri,
        &[json_type, ("if-match", &etag)],
        Some("{\"online_check\": "),
    )
    .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert!(malformed.text.contains("malformed JSON"));

    let not_json = call(
        &app.router,
        Method::PUT,
        uri,
        &[("content-type", "text/plain"), ("if-match", &etag)],
        Some(&doc),
    )
    .await;
    assert_eq!(not_json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let mut changed = defaults();
    changed["scan"]["timeout_ms"] = json!(7000);
    let first = put(&app.router, &etag, &changed).await;
    assert_eq!(first.status, StatusCode::OK);
    changed["scan"]["timeout_ms"] = json!(8000);
    let stale = put(&app.router, &etag, &changed).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let weak = put(&app.router, &format!("W/{}", first.etag()), &changed).await;
    assert_eq!(weak.status, StatusCode::PRECONDITION_FAILED);
    let after = get(&app.router, uri).await;
    assert_eq!(after.body["scan"]["timeout_ms"], 7000);
    let any = put(&app.router, "*", &changed).await;
    assert_eq!(any.status, StatusCode::OK);
    assert_eq!(any.body["scan"]["timeout_ms"], 8000);
    app.stop().await;
}

async fn concurrent_writers_one_wins(db: Db) {
    let env = Env::new(db).await;
    let app = env.start().await;
    let etag = get(&app.router, "/api/v1/settings/network").await.etag();
    let mut tasks = Vec::new();
    for i in 0..8u32 {
        let router = app.router.clone();
        let etag = etag.clone();
        tasks.push(tokio::spawn(async move {
            let mut doc = defaults();
            doc["scan"]["timeout_ms"] = json!(7000 + i);
            put(&router, &etag, &doc).await.status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::PRECONDITION_FAILED)
            .count(),
        7
    );
    let audit = get(&app.router, "/api/v1/audit").await;
    assert_eq!(audit.body["entries"].as_array().unwrap().len(), 1);
    app.stop().await;
}

async fn export_and_import(db: Db) {
    let env = Env::new(db).await;
    let app = env.start().await;
    let export = get(&app.router, "/api/v1/settings/network/export").await;
    assert_eq!(export.status, StatusCode::OK);
    assert_eq!(
        export.body,
        json!({"format_version": 2, "settings": defaults()})
    );
    assert!(
        export.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains("attachment")
    );

    // format 1: the old default of 100 becomes the new default, 50 would become 100
    let mut old = defaults();
    old["online_check"]["response_timeout_ms"] = json!(100);
    old["scan"]["timeout_ms"] = json!(9000);
    let reply = import(&app.router, &json!({"format_version": 1, "settings": old})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.body["upgraded"],
        json!([{"field": "online_check.response_timeout_ms", "old": 100, "new": 1000}])
    );
    assert_eq!(
        reply.body["settings"]["online_check"]["response_timeout_ms"],
        1000
    );
    assert_eq!(reply.body["settings"]["scan"]["timeout_ms"], 9000);
    let now = get(&app.router, "/api/v1/settings/network").await;
    assert_eq!(now.body, reply.body["settings"]);
    assert_eq!(now.etag(), reply.etag());

    let mut high = defaults();
    high["online_check"]["response_timeout_ms"] = json!(50000);
    let reply = import(&app.router, &json!({"format_version": 1, "settings": high})).await;
    assert_eq!(reply.body["upgraded"][0]["new"], 10000);

    // format 2 is strict: the same out-of-range value is refused and nothing changes
    let before = get(&app.router, "/api/v1/settings/network").await;
    let reply = import(&app.router, &json!({"format_version": 2, "settings": high})).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.error_fields(),
        ["settings.online_check.response_timeout_ms"]
    );
    let reply = import(
        &app.router,
        &json!({"format_version": 7, "settings": defaults()}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let reply = call(
        &app.router,
        Method::POST,
        "/api/v1/settings/network/import",
        &[("content-type", "application/json")],
        Some("not json"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let after = get(&app.router, "/api/v1/settings/network").await;
    assert_eq!(after.body, before.body);
    assert_eq!(after.etag(), before.etag());

    // an export imports back unchanged
    let export = get(&app.router, "/api/v1/settings/network/export").await;
    let reply = import(&app.router, &export.body).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["upgraded"], json!([]));
    let audit = get(&app.router, "/api/v1/audit").await;
    assert!(
        audit.body["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["action"] == "import")
    );
    app.stop().await;
}

async fn settings_survive_a_restart(db: Db) {
    let env = Env::new(db).await;
    let app = env.start().await;
    let id = get(&app.router, "/api/v1/server").await.body["server"]["id"].clone();
    let etag = get(&app.router, "/api/v1/settings/network").await.etag();
    let mut doc = defaults();
    doc["scheduled_jobs"] = json!({"never_expire": false, "expiration_minutes": 90});
    doc["enrollment_address"] = json!({"enabled": true, "host": "2001:db8::10", "port": 9443, "path_prefix": "/device-connector/device/.well-known/est"});
    assert_eq!(put(&app.router, &etag, &doc).await.status, StatusCode::OK);
    app.stop().await;

    let app = env.start().await;
    let reply = get(&app.router, "/api/v1/settings/network").await;
    assert_eq!(reply.body, doc);
    let server = get(&app.router, "/api/v1/server").await;
    assert_eq!(server.body["server"]["id"], id, "the server keeps its id");
    assert_eq!(server.body["servers"].as_array().unwrap().len(), 1);
    app.stop().await;
}

async fn distributed_mode_rules(db: Db) {
    let env = Env::new(db).await;
    let app = env.start().await;
    let etag = get(&app.router, "/api/v1/settings/network").await.etag();
    let mut doc = defaults();
    doc["distributed"]["enabled"] = json!(true);
    let reply = put(&app.router, &etag, &doc).await;
    if db == Db::Sqlite {
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.error_fields(), ["distributed.enabled"]);
        assert!(reply.text.contains("PostgreSQL"));
        app.stop().await;
        return;
    }
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let server = get(&app.router, "/api/v1/server").await;
    assert_eq!(
        server.body["distributed"],
        json!({"configured": true, "running": false, "restart_required": true})
    );
    let page = get(&app.router, "/settings/network").await;
    assert!(page.text.contains("Restart required"), "the page says so");

    // a second server on the same database sees both, and the stored mode
    let other = env.start_as("two", "standalone").await;
    let server = get(&other.router, "/api/v1/server").await;
    assert_eq!(server.body["servers"].as_array().unwrap().len(), 2);
    assert!(
        server.body["servers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["alive"] == true)
    );
    assert_eq!(
        server.body["distributed"],
        json!({"configured": true, "running": true, "restart_required": false})
    );

    // a change saved on one server reaches the other through the database
    let etag = get(&app.router, "/api/v1/settings/network").await.etag();
    doc["scan"]["timeout_ms"] = json!(1234);
    assert_eq!(put(&app.router, &etag, &doc).await.status, StatusCode::OK);
    other.state.poll_settings().await.unwrap();
    let seen = get(&other.router, "/api/v1/settings/network").await;
    assert_eq!(seen.body["scan"]["timeout_ms"], 1234);
    // and a write based on a revision the other server has not polled yet is judged by the database
    let etag = get(&app.router, "/api/v1/settings/network").await.etag();
    doc["scan"]["timeout_ms"] = json!(4321);
    assert_eq!(put(&app.router, &etag, &doc).await.status, StatusCode::OK);
    let fresh = get(&app.router, "/api/v1/settings/network").await.etag();
    doc["scan"]["timeout_ms"] = json!(5555);
    assert_eq!(
        put(&other.router, &fresh, &doc).await.status,
        StatusCode::OK
    );
    other.stop().await;
    app.stop().await;
}

async fn ha_installation_has_no_distributed_section(db: Db) {
    let env = Env::new(db).await;
    let app = env.start_as("one", "ha").await;
    let reply = get(&app.router, "/api/v1/settings/network").await;
    assert!(reply.body.get("distributed").is_none());
    let etag = reply.etag();
    let reply = put(&app.router, &etag, &defaults()).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.error_fields(), ["distributed"]);
    let mut doc = defaults();
    doc.as_object_mut().unwrap().remove("distributed");
    doc["scan"]["timeout_ms"] = json!(3000);
    let reply = put(&app.router, &etag, &doc).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let audit = get(&app.router, "/api/v1/audit").await;
    assert_eq!(
        audit.body["entries"].as_array().unwrap().len(),
        1,
        "no change to a hidden section"
    );
    let server = get(&app.router, "/api/v1/server").await;
    assert_eq!(server.body["installation"], "ha");
    assert_eq!(server.body["distributed"], Value::Null);
    let page = get(&app.router, "/settings/network").await;
    assert!(!page.text.contains("Distributed mode enabled"));
    app.stop().await;
}

async fn page_is_rendered_with_current_values(db: Db) {
    let env = Env::new(db).await;
    let app = env.start().await;
    let etag = get(&app.router, "/api/v1/settings/network").await.etag();
    let mut doc = defaults();
    doc["cluster_address"] = json!({"enabled": true, "host": "lb.example.com", "port": 443});
    doc["online_check"]["response_timeout_ms"] = json!(4321);
    assert_eq!(put(&app.router, &etag, &doc).await.status, StatusCode::OK);
    let page = get(&app.router, "/settings/network").await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "Administration",
        "Global Configuration",
        "Server Network Settings",
        "Online Check Parameters",
        "Scheduled Jobs",
        "Scan Parameters",
        "Cluster Address",
        "OS 12 Device Enrollment Address",
        "Distributed mode",
        "lb.example.com:443",
        "value=\"4321\"",
        "https://lb.example.com:443/.well-known/est",
    ] {
        assert!(page.text.contains(text), "page lacks {text}");
    }
    let missing = get(&app.router, "/no/such/page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn audit_pages(db: Db) {
    let env = Env::new(db).await;
    let app = env.start().await;
    let mut etag = get(&app.router, "/api/v1/settings/network").await.etag();
    for i in 0..5 {
        let mut doc = defaults();
        doc["scan"]["timeout_ms"] = json!(1000 + i);
        let reply = put(&app.router, &etag, &doc).await;
        etag = reply.etag();
    }
    let first = get(&app.router, "/api/v1/audit?limit=3").await;
    let entries = first.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0]["new_value"], 1004, "newest first");
    let next = first.body["next_before"].as_i64().expect("more pages");
    let second = get(&app.router, &format!("/api/v1/audit?limit=3&before={next}")).await;
    assert_eq!(second.body["entries"].as_array().unwrap().len(), 2);
    assert_eq!(second.body["next_before"], Value::Null);
    let bad = get(&app.router, "/api/v1/audit?limit=lots").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    app.stop().await;
}

#[tokio::test]
async fn heartbeats_mark_servers_gone() {
    let env = Env::new(Db::Postgres).await;
    let mut config = env.config("one", "standalone");
    config.heartbeat_timeout_secs = 1;
    let app = server::start(config, CancellationToken::new())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let status = app.state.status();
    assert!(
        !status.servers[0].alive,
        "no heartbeat for 2 s with a 1 s timeout"
    );
    app.state.heartbeat().await.unwrap();
    assert!(app.state.status().servers[0].alive);
    app.stop().await;
}

/// Over a real socket: the audit log records the client's address, and shutdown drains.
#[tokio::test]
async fn served_over_tcp_records_the_client_and_shuts_down() {
    use http_body_util::Full;
    use hyper_util::rt::TokioIo;

    let env = Env::new(Db::Sqlite).await;
    let token = CancellationToken::new();
    let pharos = server::start(env.config("one", "standalone"), token.clone())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = tokio::spawn(server::serve(pharos, listener));

    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut doc = defaults();
    doc["scan"]["timeout_ms"] = json!(7777);
    let request = hyper::Request::put("/api/v1/settings/network")
        .header("host", "pharos")
        .header("content-type", "application/json")
        .header("if-match", "*")
        .body(Full::new(bytes::Bytes::from(doc.to_string())))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    drop(sender);

    token.cancel();
    tokio::time::timeout(Duration::from_secs(10), serving)
        .await
        .expect("shutdown drains within 10 s")
        .unwrap()
        .unwrap();

    // the stored change and its audit row outlive the server
    let again = env.start().await;
    let audit = get(&again.router, "/api/v1/audit").await;
    assert_eq!(audit.body["entries"][0]["source"], "127.0.0.1");
    assert_eq!(audit.body["entries"][0]["new_value"], 7777);
    again.stop().await;
}
