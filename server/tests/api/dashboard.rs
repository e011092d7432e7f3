//! The dashboard: the online-check history recorded per bucket (not per device), downsampled and
//! pruned, fleet-wide when servers share the devices; and sections only for those who may read
//! them. Devices are simulated on 127.x addresses.

use super::{Db, Env, get};
use crate::accounts::{as_user, create_user};
use crate::discovery::{register_all, simulator};
use crate::distributed::start;
use crate::on_both_databases;
use app::api::{HistoryRange, StatusCounts};
use axum::Router;
use axum::http::StatusCode;
use serde_json::{Value, json};
use server::discovery::history::{self, Sample};
use std::time::Duration;

const FIVE_MINUTES: i64 = 300_000;
const HOUR: i64 = 3_600_000;

on_both_databases!(
    rounds_fill_the_current_bucket,
    history_is_downsampled_and_pruned,
    sections_follow_rights,
);

async fn dashboard(router: &Router, range: &str) -> Value {
    let reply = get(router, &format!("/api/v1/dashboard?range={range}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body
}

fn now() -> i64 {
    server::workers::unix_millis()
}

fn bucket_of(at: i64, width: i64) -> i64 {
    at - at.rem_euclid(width)
}

async fn rounds_fill_the_current_bucket(db: Db) {
    let env = Env::new(db).await;
    let sim = simulator(
        30,
        [127, 61, 0, 1],
        &["--offline-fraction", "0.3", "--seed", "11"],
    );
    let pharos = start(&env, "one", &sim).await;
    let r = &pharos.router;
    let current = get(r, "/api/v1/settings/network").await;
    let mut doc = current.body.clone();
    doc["online_check"]["response_timeout_ms"] = json!(300);
    assert_eq!(
        super::put(r, &current.etag(), &doc).await.status,
        StatusCode::OK
    );
    register_all(r, &sim, false).await;
    let asleep = sim.asleep().count() as u64;
    assert!(asleep > 0 && asleep < 30);

    let before = now();
    pharos.discovery.online.step().await.unwrap();
    pharos.discovery.online.step().await.unwrap();
    let after = now();

    let body = dashboard(r, "24h").await;
    let devices = &body["devices"];
    assert_eq!(
        devices["counts"],
        json!({"online": 30 - asleep, "offline": asleep, "unknown": 0})
    );
    let history = devices["history"].as_array().unwrap();
    let last = history.last().unwrap();
    assert_eq!(last["counts"], devices["counts"]);
    assert_eq!(last["timeout_ms"], 300);
    assert!(last["round_ms_max"].as_u64().unwrap() >= 300, "{last}");
    assert_eq!(devices["last_round"]["checked"], 30);
    // one row per bucket, however many rounds and devices
    if bucket_of(before, HOUR) == bucket_of(after, HOUR) {
        assert_eq!(
            history::rows(&pharos.db, HistoryRange::Week).await.unwrap(),
            1
        );
    }
    if bucket_of(before, FIVE_MINUTES) == bucket_of(after, FIVE_MINUTES) {
        assert_eq!(
            history::rows(&pharos.db, HistoryRange::Day).await.unwrap(),
            1
        );
        // both rounds merged into it (besides the one at start, over no devices)
        assert!(last["rounds"].as_u64().unwrap() >= 2, "{last}");
    }
    let week = dashboard(r, "7d").await;
    assert_eq!(week["range"], "7d");
    assert_eq!(
        week["devices"]["history"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["counts"],
        devices["counts"]
    );
    assert_eq!(
        get(r, "/api/v1/dashboard?range=1y").await.status,
        StatusCode::BAD_REQUEST
    );
    pharos.stop().await;
}

fn sample(online: u64, offline: u64, round_ms: u64) -> Sample {
    Sample {
        counts: StatusCounts {
            online,
            offline,
            unknown: 0,
        },
        round_ms,
        timeout_ms: 1000,
        checked: online + offline,
    }
}

async fn history_is_downsampled_and_pruned(db: Db) {
    let env = Env::new(db).await;
    let pharos = env.start().await;
    let db = &pharos.db;
    // the round at start (the next is an hour away) is not this test's
    let online = &pharos.discovery.online;
    super::eventually(Duration::from_secs(10), "the first round", || async {
        online.last_round().is_some()
    })
    .await;
    super::sql(&env, "DELETE FROM device_history").await;

    let now = now();
    let hour = bucket_of(now, HOUR);
    // a week and more ago: pruned by the next sample
    history::record(db, now - 8 * 24 * HOUR, &sample(1, 1, 5))
        .await
        .unwrap();
    // two days ago: in the week's hourly buckets only
    history::record(db, now - 48 * HOUR, &sample(9, 1, 5))
        .await
        .unwrap();
    // every minute of the last hour
    for minute in 0..60 {
        let online = 10 + (minute % 7) as u64;
        history::record(
            db,
            hour - HOUR + minute * 60_000,
            &sample(online, 20 - online, 7),
        )
        .await
        .unwrap();
    }
    // three samples in one five-minute bucket: extremes and sums merge, the last counts win
    let bucket = bucket_of(now, FIVE_MINUTES);
    for (online, ms) in [(5, 40), (3, 90), (7, 20)] {
        history::record(db, bucket, &sample(online, 10 - online, ms))
            .await
            .unwrap();
    }

    let day = history::read(db, HistoryRange::Day, now).await.unwrap();
    let week = history::read(db, HistoryRange::Week, now).await.unwrap();
    assert_eq!(
        history::rows(db, HistoryRange::Day).await.unwrap(),
        day.len() as i64
    );
    assert_eq!(
        history::rows(db, HistoryRange::Week).await.unwrap(),
        week.len() as i64
    );
    // 12 five-minute buckets of the last hour, and the current one (unless it is among them)
    assert!((12..=13).contains(&day.len()), "{}", day.len());
    // the hour of two days ago, the last hour, and the current one (if another)
    assert!((2..=3).contains(&week.len()), "{}", week.len());
    assert_eq!(week[0].counts.online, 9);
    let last_hour = week
        .iter()
        .find(|p| p.at == server::db::rfc3339(hour - HOUR))
        .unwrap();
    assert_eq!(last_hour.rounds, 60);
    assert_eq!((last_hour.online_min, last_hour.online_max), (10, 16));

    let current = day.last().unwrap();
    assert_eq!(current.counts.online, 7);
    assert_eq!((current.online_min, current.online_max), (3, 7));
    assert_eq!(current.rounds, 3);
    assert_eq!(current.round_ms_max, 90);
    assert_eq!(current.round_ms_mean, 50);
    pharos.stop().await;
}

async fn sections_follow_rights(db: Db) {
    let env = Env::new(db).await;
    let pharos = env.start().await;
    let r = &pharos.router;
    let all = dashboard(r, "24h").await;
    for section in [
        "devices",
        "scans_today",
        "jobs_today",
        "servers",
        "certificates",
        "audit",
    ] {
        assert!(!all[section].is_null(), "{section}: {all}");
    }
    assert_eq!(all["servers"][0]["name"], "one");
    assert!(all["audit"].as_array().unwrap().len() <= 10);

    create_user(r, "watcher", &[("devices", "read", "allow")]).await;
    let watcher = as_user(r, "watcher").await;
    let limited = dashboard(&watcher, "24h").await;
    assert!(limited["devices"].is_object() && limited["scans_today"].is_array());
    for hidden in ["jobs_today", "servers", "certificates", "audit"] {
        assert!(limited[hidden].is_null(), "{hidden}: {limited}");
    }
    pharos.stop().await;
}

/// Two servers sharing the devices each record their share's round into the same buckets, with
/// the whole fleet's counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_rounds_record_the_whole_fleet() {
    let env = Env::new(Db::Postgres).await;
    env.enable_distributed().await;
    let sim = simulator(40, [127, 62, 0, 1], &[]);
    let a = start(&env, "a", &sim).await;
    let b = start(&env, "b", &sim).await;
    register_all(&a.router, &sim, false).await;
    for app in [&a, &b] {
        app.status.registry.refresh().await.unwrap();
    }
    let before = now();
    a.discovery.online.step().await.unwrap();
    b.discovery.online.step().await.unwrap();
    let after = now();
    let checked = a.discovery.online.last_round().unwrap().report.checked;
    assert!(checked < 40, "a checked its share only: {checked}");
    for app in [&a, &b] {
        let body = dashboard(&app.router, "24h").await;
        let last = body["devices"]["history"]
            .as_array()
            .unwrap()
            .last()
            .cloned()
            .unwrap();
        assert_eq!(last["counts"]["online"], 40, "{last}");
    }
    if bucket_of(before, FIVE_MINUTES) == bucket_of(after, FIVE_MINUTES) {
        assert_eq!(history::rows(&a.db, HistoryRange::Day).await.unwrap(), 1);
    }
    b.stop().await;
    a.stop().await;
}
