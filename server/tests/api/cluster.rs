//! Servers sharing a database: heartbeats by the database's clock, the change bus, live events.

use super::*;

crate::on_both_databases!(
    heartbeats_mark_servers_gone_and_back,
    events_name_the_changed_fields,
    a_second_server_on_one_data_directory_is_refused
);

/// Alive or gone is judged by the database's clock (heartbeats are stamped by it, and the age
/// is measured against it): the test moves the stored heartbeat back instead of waiting.
async fn heartbeats_mark_servers_gone_and_back(db: Db) {
    let env = Env::new(db).await;
    let mut config = env.config("one", "standalone");
    config.heartbeat_interval_secs = 3600; // only this test's calls beat
    let app = crate::launch(config, CancellationToken::new()).await;
    let registry = &app.status.registry;
    let mut events = Events::open(&app.router).await;
    assert_eq!(
        events.next(Duration::from_secs(5)).await.unwrap()["type"],
        "resync"
    );
    assert!(app.status.status().servers[0].alive);

    sql(
        &env,
        "UPDATE servers SET last_heartbeat = last_heartbeat - 31000",
    )
    .await;
    registry.refresh().await.unwrap();
    assert!(
        !app.status.status().servers[0].alive,
        "silent for 31 s with a 30 s timeout"
    );
    let left = events.next_of("server_left", Duration::from_secs(5)).await;
    assert_eq!(left["server"]["name"], "one");

    registry.heartbeat().await.unwrap();
    assert!(app.status.status().servers[0].alive);
    let back = events
        .next_of("server_joined", Duration::from_secs(5))
        .await;
    assert_eq!(back["server"]["name"], "one");
    app.stop().await;
}

async fn events_name_the_changed_fields(db: Db) {
    let env = Env::new(db).await;
    let app = env.start().await;
    let mut events = Events::open(&app.router).await;
    assert_eq!(
        events.next(Duration::from_secs(5)).await.unwrap()["type"],
        "resync"
    );
    let etag = get(&app.router, "/api/v1/settings/network").await.etag();
    let mut doc = defaults();
    doc["scan"]["timeout_ms"] = json!(6500);
    doc["online_check"]["enabled"] = json!(false);
    let saved = put(&app.router, &etag, &doc).await;
    let event = events
        .next_of("settings_changed", Duration::from_secs(5))
        .await;
    assert_eq!(event["etag"], saved.etag());
    assert_eq!(
        event["fields"],
        json!(["online_check.enabled", "scan.timeout_ms"])
    );
    app.stop().await;
}

async fn a_second_server_on_one_data_directory_is_refused(db: Db) {
    let env = Env::new(db).await;
    let app = env.start().await;
    let err = server::start(env.config("one", "standalone"), CancellationToken::new())
        .await
        .err()
        .expect("refused");
    assert!(
        format!("{err:#}").contains("already using the data directory"),
        "{err:#}"
    );
    app.stop().await;
    env.start().await.stop().await;
}

/// In distributed mode a change saved on one server is served, and announced, by the others
/// without any polling (the tests' safety-net poll is an hour); servers joining and leaving are
/// announced too.
#[tokio::test]
async fn changes_travel_between_servers_through_the_database() {
    let env = Env::new(Db::Postgres).await;
    env.enable_distributed().await;
    let a = env.start_as("a", "standalone").await;
    let b = env.start_as("b", "standalone").await;
    let mut events = Events::open(&b.router).await;
    let etag = get(&a.router, "/api/v1/settings/network").await.etag();
    let mut doc = defaults();
    doc["distributed"]["enabled"] = json!(true);
    doc["cluster_address"] = json!({"enabled": true, "host": "lb.example.com", "port": 443});
    let saved = put(&a.router, &etag, &doc).await;
    assert_eq!(saved.status, StatusCode::OK);
    let event = events
        .next_of("settings_changed", Duration::from_secs(5))
        .await;
    assert_eq!(event["etag"], saved.etag());
    assert_eq!(
        event["fields"],
        json!([
            "cluster_address.enabled",
            "cluster_address.host",
            "cluster_address.port"
        ])
    );
    let served = get(&b.router, "/api/v1/settings/network").await;
    assert_eq!((served.etag(), served.body), (saved.etag(), doc));

    let c = env.start_as("c", "standalone").await;
    let joined = events
        .next_of("server_joined", Duration::from_secs(5))
        .await;
    assert_eq!(joined["server"]["name"], "c");
    c.stop().await;
    let left = events.next_of("server_left", Duration::from_secs(5)).await;
    assert_eq!(left["server"]["name"], "c");
    a.stop().await;
    b.stop().await;
}

/// A server whose notification connection drops re-reads the settings once it is back, since
/// notifications sent meanwhile are lost.
#[tokio::test]
async fn a_lost_notification_connection_is_made_good() {
    let env = Env::new(Db::Postgres).await;
    let app = env.start().await;
    let mut events = Events::open(&app.router).await;
    // the change is made behind the server's back (no notification), then its notification
    // connection is cut: only the re-read after reconnecting can find the change
    sql(
        &env,
        "UPDATE settings SET revision = revision + 1, \
         document = replace(document, '\"timeout_ms\":6000', '\"timeout_ms\":6100')",
    )
    .await;
    let database = env
        .pg
        .as_ref()
        .unwrap()
        .url
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let mut admin = PgConnection::connect(&env.database_url()).await.unwrap();
    let terminate = format!(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = '{database}' AND query ILIKE 'LISTEN%'"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let cut: i64 = sqlx::query_scalar(terminate.as_str())
            .fetch_one(&mut admin)
            .await
            .unwrap();
        if cut > 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no listener connected"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let event = events
        .next_of("settings_changed", Duration::from_secs(10))
        .await;
    assert_eq!(event["fields"], json!(["scan.timeout_ms"]));
    let served = get(&app.router, "/api/v1/settings/network").await;
    assert_eq!(served.body["scan"]["timeout_ms"], 6100);
    app.stop().await;
}
