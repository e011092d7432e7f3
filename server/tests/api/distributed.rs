//! Distributed mode on one PostgreSQL database: messages read in transaction order and caught up
//! after an absence, pruning, job executions claimed once under leases, the online check split
//! among the live servers, revocations on every server, clock offsets.

use super::devsim::Simulator;
use super::{Db, Env, call, eventually, get, post_json, sql};

use axum::http::{Method, StatusCode, header};
use serde_json::json;
use server::cluster::{Bus, Remote, Topic, messages};
use server::db::{Backend, Db as Database};
use server::discovery::jobs;
use server::workers::Workers;
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

const TIMEOUT: Duration = Duration::from_secs(3);

async fn database(env: &Env) -> Database {
    Database::connect(&env.database_url(), app::model::DatabaseKind::Postgres)
        .await
        .expect("database")
}

fn pool(db: &Database) -> &sqlx::PgPool {
    match &db.pool {
        Backend::Postgres(pool) => pool,
        Backend::Sqlite(_) => unreachable!("PostgreSQL only"),
    }
}

/// A server row for a reader that is not a whole server.
async fn server_row(env: &Env, id: &str) {
    sql(
        env,
        &format!(
            "INSERT INTO servers (id, name, addresses, started_at, last_heartbeat) VALUES \
             ('{id}', '{id}', '[]', 0, (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT)"
        ),
    )
    .await;
}

/// A bus reading the messages as server `id`, and what it signals.
fn reader(db: &Database, id: &str) -> (Workers, broadcast::Receiver<Remote>) {
    let bus = Bus::new();
    bus.join(id, true);
    let signals = bus.follow();
    let workers = Workers::new(CancellationToken::new());
    let lag = prometheus_client::metrics::histogram::Histogram::new(std::iter::empty());
    bus.listen(&workers, pool(db).clone(), TIMEOUT, lag);
    (workers, signals)
}

async fn next(signals: &mut broadcast::Receiver<Remote>) -> Remote {
    tokio::time::timeout(Duration::from_secs(5), signals.recv())
        .await
        .expect("a signal within 5 s")
        .expect("the bus is open")
}

/// Nothing more arrives within `wait`.
async fn quiet(signals: &mut broadcast::Receiver<Remote>, wait: Duration) {
    if let Ok(signal) = tokio::time::timeout(wait, signals.recv()).await {
        panic!("unexpected signal {signal:?}");
    }
}

async fn send(db: &Database, sender: &Bus, topic: Topic, version: i64) {
    let mut tx = db.begin().await.unwrap();
    sender.notify(&mut tx, topic, Some(version)).await.unwrap();
    tx.commit().await.unwrap();
}

/// A message committed late by a transaction older than one committed meanwhile is read, and
/// first (messages go in the order of their transactions); a reader that was away reads what
/// it missed, in order; once what it missed is pruned, it re-reads everything instead.
#[tokio::test]
async fn messages_are_read_in_order_caught_up_and_pruned() {
    let env = Env::new(Db::Postgres).await;
    let db = database(&env).await;
    server_row(&env, "reader").await;
    let sender = Bus::new();
    sender.join("sender", true);

    let (workers, mut signals) = reader(&db, "reader");
    // no position stored: the first run re-reads everything
    assert_eq!(next(&mut signals).await, Remote::Reconnected);
    send(&db, &sender, Topic::Settings, 1).await;
    assert_eq!(
        next(&mut signals).await,
        Remote::Changed(Topic::Settings, Some(1))
    );

    // a writing transaction open in another database of the cluster holds nothing back
    let mut elsewhere =
        <sqlx::PgConnection as sqlx::Connection>::connect(&super::postgres::admin_url())
            .await
            .unwrap();
    sqlx::query("BEGIN").execute(&mut elsewhere).await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut elsewhere)
        .await
        .unwrap();
    send(&db, &sender, Topic::Devices, 7).await;
    assert_eq!(
        next(&mut signals).await,
        Remote::Changed(Topic::Devices, Some(7))
    );
    sqlx::query("ROLLBACK")
        .execute(&mut elsewhere)
        .await
        .unwrap();

    // an older transaction still open holds back a younger one's message
    let mut older = db.begin().await.unwrap();
    sender
        .notify(&mut older, Topic::Jobs, Some(10))
        .await
        .unwrap();
    send(&db, &sender, Topic::Settings, 2).await;
    quiet(&mut signals, Duration::from_millis(300)).await;
    older.commit().await.unwrap();
    assert_eq!(
        next(&mut signals).await,
        Remote::Changed(Topic::Jobs, Some(10))
    );
    assert_eq!(
        next(&mut signals).await,
        Remote::Changed(Topic::Settings, Some(2))
    );

    // away: what was sent meanwhile is read when the reader is back, in order, and only that
    workers.stop().await;
    for version in 3..=5 {
        send(&db, &sender, Topic::Settings, version).await;
    }
    let (workers, mut signals) = reader(&db, "reader");
    for version in 3..=5 {
        assert_eq!(
            next(&mut signals).await,
            Remote::Changed(Topic::Settings, Some(version))
        );
    }
    quiet(&mut signals, Duration::from_millis(300)).await;
    workers.stop().await;

    // away longer than messages are kept: pruned, and the reader starts over
    send(&db, &sender, Topic::Settings, 6).await;
    sql(
        &env,
        "UPDATE cluster_messages SET created_at = created_at - 8 * 24 * 3600 * 1000",
    )
    .await;
    let pruned = messages::prune(pool(&db), TIMEOUT).await.unwrap();
    assert!(pruned >= 6, "{pruned} pruned");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cluster_messages")
        .fetch_one(pool(&db))
        .await
        .unwrap();
    assert_eq!(left, 0);
    let (workers, mut signals) = reader(&db, "reader");
    assert_eq!(next(&mut signals).await, Remote::Reconnected);
    quiet(&mut signals, Duration::from_millis(300)).await;
    workers.stop().await;
}

/// Messages read by every live server are pruned once older than the time they are kept; ones
/// a live server has not read yet stay.
#[tokio::test]
async fn pruning_waits_for_every_live_server() {
    let env = Env::new(Db::Postgres).await;
    let db = database(&env).await;
    server_row(&env, "ahead").await;
    server_row(&env, "behind").await;
    let sender = Bus::new();
    sender.join("sender", true);
    send(&db, &sender, Topic::Settings, 1).await;
    sql(
        &env,
        "UPDATE servers SET message_cursor = 0 WHERE id = 'behind'",
    )
    .await;
    sql(
        &env,
        "UPDATE servers SET message_cursor = (SELECT MAX(tx) + 1 FROM cluster_messages) \
         WHERE id = 'ahead'",
    )
    .await;
    sql(
        &env,
        "UPDATE cluster_messages SET created_at = created_at - 2 * 3600 * 1000",
    )
    .await;
    assert_eq!(messages::prune(pool(&db), TIMEOUT).await.unwrap(), 0);
    // "behind" stops beating: no longer live, it holds nothing back
    sql(
        &env,
        "UPDATE servers SET last_heartbeat = last_heartbeat - 60000 WHERE id = 'behind'",
    )
    .await;
    assert_eq!(messages::prune(pool(&db), TIMEOUT).await.unwrap(), 1);
}

/// Two servers claiming due executions at the same moment take each exactly once; a claimed
/// execution whose server stops renewing its lease is failed by the other, and the late
/// finish of the first changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_are_claimed_once_and_lapsed_leases_fail() {
    let env = Env::new(Db::Postgres).await;
    let (a, b) = (database(&env).await, database(&env).await);
    let bus = Bus::new();
    let now = a.now_millis().await.unwrap();
    let job: i64 = sqlx::query_scalar(
        "INSERT INTO jobs (name, command, targets, due_at, enabled, created_at) \
         VALUES ('wake', 'wake_on_lan', '[]', $1, TRUE, $1) RETURNING id",
    )
    .bind(now)
    .fetch_one(pool(&a))
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO job_executions (job_id, due_at, status) \
         SELECT $1, $2 - n, 'pending' FROM generate_series(1, 300) AS n",
    )
    .bind(job)
    .bind(now)
    .execute(pool(&a))
    .await
    .unwrap();
    let expiry = jobs::Expiry { minutes: None };
    let claim = |db: Database, server: &'static str| {
        let bus = bus.clone();
        tokio::spawn(async move {
            let mut taken = Vec::new();
            loop {
                let claimed = jobs::claim_due(&db, &bus, now, 7, server, now + 60_000, expiry)
                    .await
                    .unwrap();
                if claimed.is_empty() {
                    return taken;
                }
                for claimed in claimed {
                    match claimed {
                        jobs::Claimed::Run(due) => taken.push(due.execution),
                        jobs::Claimed::Expired(..) => panic!("nothing expires here"),
                    }
                }
            }
        })
    };
    let (by_a, by_b) = tokio::join!(claim(a.clone(), "a"), claim(b.clone(), "b"));
    let (by_a, by_b) = (by_a.unwrap(), by_b.unwrap());
    let all: HashSet<i64> = by_a.iter().chain(&by_b).copied().collect();
    assert_eq!(by_a.len() + by_b.len(), 300, "each claimed once");
    assert_eq!(all.len(), 300);
    assert!(
        !by_a.is_empty() && !by_b.is_empty(),
        "both took some: {} and {}",
        by_a.len(),
        by_b.len()
    );

    // "a" renews its leases, "b" stops: b's lapse and are failed, a's are not
    let later = now + 61_000;
    jobs::renew_leases(&a, &by_a, later + 60_000).await.unwrap();
    let failed = jobs::fail_lapsed(&a, &bus, later, 3000).await.unwrap();
    assert_eq!(failed, by_b.len() as u64);
    let late = jobs::finish(
        &b,
        &bus,
        by_b[0],
        "b",
        app::api::ExecutionStatus::Done,
        "done",
    )
    .await
    .unwrap();
    assert!(!late, "a finish after the lease lapsed changes nothing");
    assert!(
        jobs::finish(
            &a,
            &bus,
            by_a[0],
            "a",
            app::api::ExecutionStatus::Done,
            "done"
        )
        .await
        .unwrap()
    );
    let statuses: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status, COUNT(*) FROM job_executions GROUP BY status ORDER BY status",
    )
    .fetch_all(pool(&a))
    .await
    .unwrap();
    assert_eq!(
        statuses,
        [
            ("done".to_owned(), 1),
            ("failed".to_owned(), by_b.len() as i64),
            ("running".to_owned(), by_a.len() as i64 - 1)
        ]
    );
    let reason: String = sqlx::query_scalar("SELECT result FROM job_executions WHERE id = $1")
        .bind(by_b[0])
        .fetch_one(pool(&a))
        .await
        .unwrap();
    assert!(reason.contains("lease ran out"), "{reason}");
}

pub(crate) async fn start(env: &Env, name: &str, sim: &Simulator) -> server::Pharos {
    let mut config = env.config(name, "standalone");
    config.device_port = sim.port;
    config.wake_on_lan_port = sim.wol_port;
    config.heartbeat_interval_secs = 1;
    config.heartbeat_timeout_secs = 3;
    crate::launch(config, CancellationToken::new()).await
}

async fn last_seen(env: &Env) -> Vec<(i64, Option<i64>)> {
    let db = database(env).await;
    sqlx::query_as("SELECT id, last_seen FROM devices ORDER BY id")
        .fetch_all(pool(&db))
        .await
        .unwrap()
}

/// The scheduled rounds of two distributed servers check each device on exactly one of them;
/// once one stops, the other checks them all. Statuses read the same on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_online_check_is_shared_by_the_live_servers() {
    let env = Env::new(Db::Postgres).await;
    env.enable_distributed().await;
    let sim = Simulator::start(
        Path::new(env!("CARGO_BIN_EXE_pharos-devsim")),
        60,
        Ipv4Addr::new(127, 33, 0, 1),
        &[],
    );
    let a = start(&env, "a", &sim).await;
    let b = start(&env, "b", &sim).await;
    for device in &sim.devices {
        let reply = post_json(&a.router, "/api/v1/devices", json!({ "ip": device["ip"] })).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    }
    // both know both are alive
    for app in [&a, &b] {
        app.status.registry.refresh().await.unwrap();
    }
    a.discovery.online.step().await.unwrap();
    let after_a = last_seen(&env).await;
    let checked_by_a = after_a.iter().filter(|(_, s)| s.is_some()).count();
    assert!(
        (10..=50).contains(&checked_by_a),
        "a checked {checked_by_a} of 60: its share"
    );
    b.discovery.online.step().await.unwrap();
    let after_b = last_seen(&env).await;
    assert!(
        after_b.iter().all(|(_, s)| s.is_some()),
        "b checked the rest"
    );
    // b did not check a's devices again
    for (before, after) in after_a.iter().zip(&after_b) {
        if before.1.is_some() {
            assert_eq!(before, after, "device {} checked by both", before.0);
        }
    }
    let listed = |app: &server::Pharos| {
        let router = app.router.clone();
        async move { get(&router, "/api/v1/devices").await.body }
    };
    let (on_a, on_b) = (listed(&a).await, listed(&b).await);
    assert_eq!(on_a["counts"], on_b["counts"]);
    assert_eq!(on_a["counts"]["online"], 60, "{}", on_a["counts"]);

    // b stops: a takes every device
    b.stop().await;
    a.status.registry.refresh().await.unwrap();
    let before = a.db.now_millis().await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    a.discovery.online.step().await.unwrap();
    let all = last_seen(&env).await;
    assert!(
        all.iter().all(|(_, s)| s.is_some_and(|s| s >= before)),
        "a checked every device"
    );
    a.stop().await;
}

/// An API token revoked on one server is refused by another within a second, and a server's
/// clock offset is measured at its heartbeat and shown when it is over a minute.
#[tokio::test]
async fn revocations_reach_every_server_and_clocks_are_compared() {
    let env = Env::new(Db::Postgres).await;
    env.enable_distributed().await;
    let a = env.start_as("a", "standalone").await;
    let b = env.start_as("b", "standalone").await;
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("admin:{}", super::ADMIN_PASSWORD)
        )
    );
    let created = call(
        &a.router,
        Method::POST,
        "/api/v1/auth/tokens",
        &[
            (header::AUTHORIZATION.as_str(), basic.as_str()),
            (header::CONTENT_TYPE.as_str(), "application/json"),
        ],
        Some(r#"{"name": "script"}"#),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let token = created.body["token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {token}");
    let me = |router: axum::Router| {
        let bearer = bearer.clone();
        async move {
            call(
                &router,
                Method::GET,
                "/api/v1/auth/me",
                &[(header::AUTHORIZATION.as_str(), bearer.as_str())],
                None,
            )
            .await
            .status
        }
    };
    assert_eq!(me(b.router.clone()).await, StatusCode::OK, "cached on b");
    let id = created.body["id"].as_i64().unwrap();
    let revoked = call(
        &a.router,
        Method::DELETE,
        &format!("/api/v1/auth/tokens/{id}"),
        &[],
        None,
    )
    .await;
    assert!(revoked.status.is_success(), "{}", revoked.text);
    let at = std::time::Instant::now();
    eventually(Duration::from_secs(1), "the revocation reaches b", || {
        let router = b.router.clone();
        let me = &me;
        async move { me(router).await == StatusCode::UNAUTHORIZED }
    })
    .await;
    eprintln!(
        "revocation effective on the other server after {:?}",
        at.elapsed()
    );

    // the heartbeat measures the clock against the database's: the same machine, so close
    a.status.registry.heartbeat().await.unwrap();
    let status = get(&a.router, "/api/v1/server").await.body;
    let offset = status["server"]["clock_offset_ms"].as_i64().unwrap();
    assert!(offset.abs() < 1000, "{offset} ms");
    // a server whose clock was measured two minutes ahead is shown as such
    sql(
        &env,
        "UPDATE servers SET clock_offset_ms = 125000 WHERE name = 'b'",
    )
    .await;
    a.status.registry.refresh().await.unwrap();
    let status: app::api::ServerStatus =
        serde_json::from_value(get(&a.router, "/api/v1/server").await.body).unwrap();
    let off: Vec<&str> = status
        .servers
        .iter()
        .filter(|s| s.clock_off())
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(off, ["b"]);
    a.stop().await;
    b.stop().await;
}

/// A server whose heartbeat stops (killed, not stopped) is announced gone by the others once
/// its heartbeat is older than the timeout.
#[tokio::test]
async fn a_server_that_stops_beating_is_announced_gone() {
    let env = Env::new(Db::Postgres).await;
    env.enable_distributed().await;
    let config = |name: &str| {
        let mut config = env.config(name, "standalone");
        config.heartbeat_interval_secs = 3600; // only the start's and this test's beats
        config.heartbeat_timeout_secs = 2;
        config
    };
    let a = crate::launch(config("a"), CancellationToken::new()).await;
    let b = crate::launch(config("b"), CancellationToken::new()).await;
    b.status.registry.heartbeat().await.unwrap();
    a.status.registry.heartbeat().await.unwrap();
    let mut events = super::Events::open(&a.router).await;
    assert_eq!(
        events.next(Duration::from_secs(5)).await.unwrap()["type"],
        "resync"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    a.status.registry.heartbeat().await.unwrap();
    let left = events.next_of("server_left", Duration::from_secs(5)).await;
    assert_eq!(left["server"]["name"], "b");
    b.status.registry.heartbeat().await.unwrap();
    a.status.registry.refresh().await.unwrap();
    let back = events
        .next_of("server_joined", Duration::from_secs(5))
        .await;
    assert_eq!(back["server"]["name"], "b");
    a.stop().await;
    b.stop().await;
}

/// With the database's connections cut (a PostgreSQL restart, a failover), a session cannot be
/// read for a moment: that is a 503 to try again, never a 401 that sends the browser to sign in;
/// pooled connections are checked before use, so the next requests succeed.
#[tokio::test]
async fn a_database_outage_is_unavailable_not_signed_out() {
    let env = Env::new(Db::Postgres).await;
    let app = env.start().await;
    let token = super::token_for(&app.router, "admin", super::ADMIN_PASSWORD).await;
    let bearer = format!("Bearer {token}");
    let me = || async {
        call(
            &app.router,
            Method::GET,
            "/api/v1/auth/me",
            &[(header::AUTHORIZATION.as_str(), bearer.as_str())],
            None,
        )
        .await
    };
    let database = env
        .pg
        .as_ref()
        .unwrap()
        .url
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let cut = format!(
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    );
    let mut admin =
        <sqlx::PgConnection as sqlx::Connection>::connect(&super::postgres::admin_url())
            .await
            .unwrap();
    // the connections are cut while the sign-in is not cached yet (accounts changed: forgotten)
    app.accounts.changed().await;
    let cut_count: i64 = sqlx::query_scalar(&cut)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert!(cut_count > 0);
    for _ in 0..5 {
        let answer = me().await;
        assert!(
            answer.status == StatusCode::OK || answer.status == StatusCode::SERVICE_UNAVAILABLE,
            "{} {}",
            answer.status,
            answer.text
        );
        if answer.status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(answer.headers.contains_key(header::RETRY_AFTER));
        }
    }
    assert_eq!(me().await.status, StatusCode::OK);
    // the database refusing connections altogether: 503 throughout
    sqlx::query(&format!(
        "ALTER DATABASE \"{database}\" WITH ALLOW_CONNECTIONS false"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    app.accounts.changed().await;
    let _: i64 = sqlx::query_scalar(&cut)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    let answer = me().await;
    sqlx::query(&format!(
        "ALTER DATABASE \"{database}\" WITH ALLOW_CONNECTIONS true"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.text
    );
    assert!(answer.text.contains("try again"), "{}", answer.text);
    eventually(Duration::from_secs(10), "signed in again", || async {
        me().await.status == StatusCode::OK
    })
    .await;
    app.stop().await;
}
