//! Scans seen from every server sharing a PostgreSQL database in distributed mode: a scan runs on
//! the server it was started on, and the others list it with its progress and results, cancel
//! it, register what it found, and see it failed when its server is gone.

use super::devsim::Simulator;
use super::post_json as post;
use super::{Db, Env, get, sql};
use axum::Router;
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

fn simulator(count: usize, first: [u8; 4]) -> Simulator {
    Simulator::start(
        Path::new(env!("CARGO_BIN_EXE_pharos-devsim")),
        count,
        Ipv4Addr::from(first),
        &["--offline-fraction", "0.2", "--seed", "11"],
    )
}

/// Server `name`, whose scans reach the simulator at `rate` datagrams a second.
async fn start(env: &Env, name: &str, sim: &Simulator, rate: u32) -> server::Pharos {
    let mut config = env.config(name, "standalone");
    config.device_port = sim.port;
    config.scan_send_rate = rate;
    crate::launch(config, tokio_util::sync::CancellationToken::new()).await
}

/// Shortens the scan timeout (the settings are shared: every server gets them).
async fn short_timeout(router: &Router) {
    let current = get(router, "/api/v1/settings/network").await;
    let mut doc = current.body.clone();
    doc["scan"]["timeout_ms"] = json!(300);
    let reply = super::put(router, &current.etag(), &doc).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

async fn start_scan(router: &Router, range: &str) -> String {
    let reply = post(router, "/api/v1/scans", json!({ "ranges": [range] })).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    reply.body["id"].as_str().unwrap().to_owned()
}

/// The scan as `router`'s server lists it.
async fn listed(router: &Router, id: &str) -> Option<Value> {
    let reply = get(router, "/api/v1/scans").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["scans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .cloned()
}

async fn scan(router: &Router, id: &str) -> Value {
    let reply = get(router, &format!("/api/v1/scans/{id}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body
}

/// Polls `read` every 20 ms until what it reads satisfies `done`; panics after `limit`.
async fn until<F, Fut>(limit: Duration, what: &str, read: F, done: impl Fn(&Value) -> bool) -> Value
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Value>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let value = read().await;
        if done(&value) {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {limit:?}; last {value}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `router`'s server lists the scan running with some datagrams sent.
async fn seen_running(router: &Router, id: &str) -> Value {
    until(
        Duration::from_secs(10),
        "the scan listed as running",
        || async { listed(router, id).await.unwrap_or_default() },
        |s| s["state"] == "running" && s["sent"].as_u64().unwrap_or(0) > 0,
    )
    .await
}

fn ips(scan: &Value) -> HashSet<String> {
    scan["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["ip"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_is_seen_cancelled_and_registered_from_another_server() {
    let env = Env::new(Db::Postgres).await;
    env.enable_distributed().await;
    let sim = simulator(30, [127, 56, 0, 1]);
    // 60 addresses at 40 a second: about 1.5 s of sending
    let a = start(&env, "a", &sim, 40).await;
    let b = env.start_as("b", "standalone").await;
    short_timeout(&a.router).await;

    let id = start_scan(&a.router, "127.56.0.1-127.56.0.60").await;
    let first = seen_running(&b.router, &id).await;
    assert_eq!(first["server_name"], "a", "{first}");
    assert_eq!(first["total"], 60);
    assert!(first["remaining_ms"].as_u64().is_some(), "{first}");
    // its progress goes on while it runs: more sent, and devices found
    let later = until(
        Duration::from_secs(10),
        "progress with devices found",
        || scan(&b.router, &id),
        |later| {
            later["state"] == "running"
                && later["sent"].as_u64() > first["sent"].as_u64()
                && later["found"].as_u64().unwrap() > 0
        },
    )
    .await;
    assert_eq!(
        later["results"].as_array().unwrap().len() as u64,
        later["found"].as_u64().unwrap(),
        "{later}"
    );

    // finally the same results on both servers: the awake devices
    let done = until(
        Duration::from_secs(15),
        "the scan done on B",
        || scan(&b.router, &id),
        |s| s["state"] != "running",
    )
    .await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(
        (done["sent"].as_u64(), done["total"].as_u64()),
        (Some(60), Some(60))
    );
    let awake: HashSet<String> = sim
        .awake()
        .map(|d| d["ip"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ips(&done), awake);
    assert_eq!(done["found"].as_u64(), Some(awake.len() as u64));
    assert_eq!(scan(&a.router, &id).await, done);

    // B registers what A's scan found; both see them registered
    let chosen: Vec<Value> = done["results"].as_array().unwrap()[..3]
        .iter()
        .map(|d| d["mac"].clone())
        .collect();
    let reply = post(
        &b.router,
        &format!("/api/v1/scans/{id}/register"),
        json!({ "macs": chosen }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["registered"].as_array().unwrap().len(), 3);
    let marked = scan(&a.router, &id).await["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["registered"] == true)
        .count();
    assert_eq!(marked, 3);

    // a scan running on A is cancelled from B
    let slow = start_scan(&a.router, "127.57.0.0/24").await;
    seen_running(&b.router, &slow).await;
    let reply = post(
        &b.router,
        &format!("/api/v1/scans/{slow}/cancel"),
        json!({}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["state"], "cancelled", "{}", reply.text);
    let sent = reply.body["sent"].as_u64().unwrap();
    assert!((1..256).contains(&sent), "{sent} sent");
    assert_eq!(scan(&a.router, &slow).await["state"], "cancelled");
    let audit = get(&b.router, "/api/v1/audit").await;
    assert!(
        audit.text.contains(&format!("scans.{slow}.state")),
        "{}",
        audit.text
    );
    // cancelling an ended scan changes nothing
    let reply = post(&b.router, &format!("/api/v1/scans/{id}/cancel"), json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["state"], "done");

    // newest first, on both
    for router in [&a.router, &b.router] {
        let list = get(router, "/api/v1/scans").await.body;
        let ids: Vec<&str> = list["scans"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [slow.as_str(), id.as_str()]);
    }
    // a scan its server does not stop (a row A does not run, as if A hung): B gives up, naming A
    let stuck = format!(
        "INSERT INTO scans (id, server_id, server_name, state, broadcast, ranges, total, \
         started_at, updated_at) VALUES ('stuck', '{}', 'a', 'running', TRUE, '[]', 1, 0, 0)",
        done["server_id"].as_str().unwrap()
    );
    sql(&env, &stuck).await;
    let reply = post(&b.router, "/api/v1/scans/stuck/cancel", json!({})).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text);
    assert!(
        reply
            .text
            .contains("scan stuck runs on server a, which has not stopped it"),
        "{}",
        reply.text
    );
    assert_eq!(scan(&b.router, "stuck").await["state"], "running");

    let reply = get(&b.router, "/api/v1/scans/nope").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(
        reply.text.contains("there is no scan nope"),
        "{}",
        reply.text
    );
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_left_running_by_a_gone_server_fails() {
    let env = Env::new(Db::Postgres).await;
    env.enable_distributed().await;
    let sim = simulator(10, [127, 58, 0, 1]);
    // 256 addresses at 20 a second: 13 s
    let a = start(&env, "a", &sim, 20).await;
    let b = env.start_as("b", "standalone").await;
    let id = start_scan(&a.router, "127.58.0.0/24").await;
    seen_running(&b.router, &id).await;

    // A stops: it fails the scan as it goes
    a.stop().await;
    let stopped = scan(&b.router, &id).await;
    assert_eq!(stopped["state"], "failed", "{stopped}");
    assert_eq!(stopped["error"], "the server stopped while it ran");
    assert!(stopped["finished_at"].is_string());

    // A vanished without a word (its row says running still): B's scheduler fails it, since A's
    // heartbeat is gone
    let still_running = format!(
        "UPDATE scans SET state = 'running', error = NULL, finished_at = NULL WHERE id = '{id}'"
    );
    sql(&env, &still_running).await;
    assert_eq!(scan(&b.router, &id).await["state"], "running");
    let failed = until(
        Duration::from_secs(10),
        "the scan failed by B",
        || scan(&b.router, &id),
        |s| s["state"] != "running",
    )
    .await;
    assert_eq!(failed["state"], "failed");
    assert_eq!(
        failed["error"],
        "its server a stopped answering while it ran"
    );
    assert_eq!(failed["remaining_ms"], Value::Null);
    b.stop().await;

    // with nobody left to notice, A fails its own leftover when it starts again
    sql(&env, &still_running).await;
    let a = start(&env, "a", &sim, 20).await;
    let leftover = scan(&a.router, &id).await;
    assert_eq!(leftover["state"], "failed", "{leftover}");
    assert_eq!(leftover["error"], "the server stopped while it ran");
    a.stop().await;
}

crate::on_both_databases!(old_scans_are_deleted_beyond_the_newest_hundred);

/// A new scan deletes the oldest ended ones beyond the newest 100; running ones stay.
async fn old_scans_are_deleted_beyond_the_newest_hundred(db: Db) {
    let env = Env::new(db).await;
    let pharos = env.start().await;
    let r = &pharos.router;
    // 120 ended scans and one running (of a server that is gone), all older than the new one
    sql(
        &env,
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 121) \
         INSERT INTO scans (id, server_id, server_name, state, broadcast, ranges, total, \
         started_at, updated_at) \
         SELECT 'old' || i, 'gone', 'gone', CASE WHEN i = 1 THEN 'running' ELSE 'done' END, \
         FALSE, '[\"127.59.0.1\"]', 1, i, i FROM n",
    )
    .await;
    let id = start_scan(r, "127.59.0.1").await;
    let ids: Vec<String> = get(r, "/api/v1/scans").await.body["scans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    // the new one and the newest 99 ended ones are listed; the running one is kept beyond them
    assert_eq!(ids.len(), 100);
    assert_eq!(ids[0], id);
    assert_eq!(ids[1], "old121");
    assert_eq!(ids[99], "old23");
    let oldest = get(r, "/api/v1/scans/old1").await;
    assert_eq!(oldest.status, StatusCode::OK, "{}", oldest.text);
    assert_eq!(
        get(r, "/api/v1/scans/old2").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(r, "/api/v1/scans/old22").await.status,
        StatusCode::NOT_FOUND
    );
    pharos.stop().await;
}
