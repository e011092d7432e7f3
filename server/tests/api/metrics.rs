//! `/metrics`: who may read it, and its counters moved by exactly the work done (a round over
//! simulated devices, a scan, sign-ins, requests).

use super::discovery::{register_all, scan_until_done, set, simulator, start};
use super::{ANONYMOUS, Db, Env, call, get, post_json as post};
use crate::on_both_databases;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tower::ServiceExt;

on_both_databases!(
    counters_follow_known_work,
    only_allowed_callers_read_the_metrics
);

/// The metrics as the server shows them.
struct Scrape(String);

impl Scrape {
    async fn of(router: &Router) -> Scrape {
        let reply = get(router, "/metrics").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert!(
            reply.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/openmetrics-text"),
        );
        assert!(
            reply.text.ends_with("# EOF\n"),
            "OpenMetrics ends with # EOF"
        );
        Scrape(reply.text)
    }

    /// The value of the one series of `name` that has every label of `labels` (0 when there is
    /// none yet: a family shows a series once it was used).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found = self.all(name, labels);
        assert_eq!(found.len(), 1, "{name} {labels:?} names one series");
        found[0]
    }

    /// The same, 0 for a series not shown yet.
    fn value_or_zero(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found = self.all(name, labels);
        assert!(found.len() <= 1, "{name} {labels:?} names one series");
        found.first().copied().unwrap_or(0.0)
    }

    /// The values of every series of `name` with these labels.
    fn all(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        self.0
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                let (series_name, rest) = series.split_once('{').unwrap_or((series, ""));
                (series_name == name
                    && labels
                        .iter()
                        .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
                .then(|| value.parse::<f64>().expect("a number"))
            })
            .collect()
    }

    fn has(&self, name: &str) -> bool {
        self.0.lines().any(|l| l.starts_with(name))
    }
}

async fn counters_follow_known_work(db: Db) {
    let env = Env::new(db).await;
    let sim = simulator(
        60,
        [127, 58, 0, 1],
        &["--offline-fraction", "0.2", "--seed", "11"],
    );
    let pharos = start(&env, &sim, |_| {}).await;
    let r = &pharos.router;
    set(r, |doc| {
        doc["online_check"]["response_timeout_ms"] = json!(300);
        doc["scan"]["timeout_ms"] = json!(300);
        doc["scan"]["broadcast_ip"] = json!("127.255.255.255");
    })
    .await;
    register_all(r, &sim, false).await;
    let asleep = sim.asleep().count() as f64;
    assert!(asleep > 0.0);

    let before = Scrape::of(r).await;
    let reply = post(r, "/api/v1/online-check/run", json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let after = Scrape::of(r).await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value_or_zero(name, labels)
    };
    let check = [("purpose", "online_check")];
    assert_eq!(moved("pharos_online_check_rounds_total", &[]), 1.0);
    assert_eq!(
        moved("pharos_online_check_devices_checked_total", &[]),
        60.0
    );
    assert_eq!(
        moved("pharos_online_check_devices_answered_total", &[]),
        60.0 - asleep
    );
    assert_eq!(moved("pharos_datagrams_sent_total", &check), 60.0);
    assert_eq!(moved("pharos_datagrams_unsent_total", &check), 0.0);
    // the simulator answers each query once, from the address asked
    assert_eq!(
        moved("pharos_datagrams_received_total", &check),
        60.0 - asleep
    );
    let ignored = |scrape: &Scrape| {
        let reasons = scrape.all("pharos_datagrams_ignored_total", &check);
        assert_eq!(reasons.len(), 4, "stranger, malformed, unexpected, late");
        reasons.iter().sum::<f64>()
    };
    assert_eq!(ignored(&after) - ignored(&before), 0.0);
    assert_eq!(
        moved("pharos_online_check_round_duration_seconds_count", &[]),
        1.0
    );
    let took = after.value("pharos_online_check_last_round_duration_seconds", &[]);
    let ms = reply.body["duration_ms"].as_f64().unwrap();
    assert!((took * 1000.0 - ms).abs() < 1.0, "{took} s, {ms} ms");
    assert_eq!(
        after.value("pharos_online_check_response_timeout_seconds", &[]),
        0.3
    );
    // the devices as stored now
    let devices = |status| after.value("pharos_devices", &[("status", status)]);
    assert_eq!(devices("online"), 60.0 - asleep);
    assert_eq!(devices("offline"), asleep);
    assert_eq!(devices("unknown"), 0.0);
    // the request itself, under its route
    let run = [
        ("method", "POST"),
        ("route", "/api/v1/online-check/run"),
        ("status", "200"),
    ];
    assert_eq!(
        moved("pharos_http_request_duration_seconds_count", &run),
        1.0
    );
    assert_eq!(after.value("pharos_database_up", &[]), 1.0);
    assert!(after.value("pharos_database_pool_max_connections", &[]) >= 1.0);

    // a scan over 80 addresses, 60 of them simulated devices
    let reply = post(
        r,
        "/api/v1/scans",
        json!({ "ranges": ["127.58.0.1-127.58.0.80"] }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    let scan = scan_until_done(r, reply.body["id"].as_str().unwrap()).await;
    let scanned = Scrape::of(r).await;
    let scan_labels = [("purpose", "scan")];
    assert_eq!(
        scanned.value("pharos_datagrams_sent_total", &scan_labels),
        80.0
    );
    assert_eq!(
        scanned.value("pharos_datagrams_received_total", &scan_labels),
        scan["found"].as_f64().unwrap()
    );
    assert_eq!(scanned.value("pharos_scans_total", &[]), 1.0);
    assert_eq!(scanned.value("pharos_scans_running", &[]), 0.0);

    // two wrong passwords
    for _ in 0..2 {
        let reply = call(
            r,
            Method::POST,
            "/api/v1/auth/login",
            &[ANONYMOUS, ("content-type", "application/json")],
            Some(r#"{"username": "admin", "password": "not it"}"#),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
    }
    let refused = Scrape::of(r).await;
    assert_eq!(
        refused.value("pharos_sign_in_failures_total", &[("reason", "wrong")]),
        2.0
    );

    // the certificate this server presents, and the device CA
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as f64;
    let web = refused.value(
        "pharos_certificate_expiry_timestamp_seconds",
        &[("role", "web")],
    );
    assert!(web > now + 86_400.0, "{web}");
    assert!(refused.has("pharos_certificate_expiry_timestamp_seconds{role=\"device_ca\""));
    // this server, alive
    assert!(
        refused.0.contains("pharos_server_up{server="),
        "{}",
        refused.0
    );
    pharos.stop().await;
}

/// A request as it comes from `peer` (no credentials), forwarded for `client` if given.
async fn from(router: &Router, peer: &str, client: Option<&str>) -> StatusCode {
    let mut request = Request::builder()
        .uri("/metrics")
        .header(ANONYMOUS.0, ANONYMOUS.1);
    if let Some(client) = client {
        request = request.header("x-forwarded-for", client);
    }
    let mut request = request.body(Body::empty()).unwrap();
    let addr: SocketAddr = format!("{peer}:40000").parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(addr));
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let _ = response.into_body().collect().await;
    status
}

async fn only_allowed_callers_read_the_metrics(db: Db) {
    let env = Env::new(db).await;
    let mut config = env.config("one", "standalone");
    config.metrics_allow = vec!["127.0.0.2/32".parse().unwrap()];
    config.trusted_proxies = vec!["127.0.0.4/32".parse().unwrap()];
    let pharos = crate::launch(config, tokio_util::sync::CancellationToken::new()).await;
    let r = &pharos.router;
    // from an allowed address without signing in; from another one, not
    assert_eq!(from(r, "127.0.0.2", None).await, StatusCode::OK);
    assert_eq!(from(r, "127.0.0.3", None).await, StatusCode::UNAUTHORIZED);
    // forwarded by a proxy on the allowed address that is not trusted: whoever is behind it
    // does not pass as the proxy
    assert_eq!(
        from(r, "127.0.0.2", Some("192.0.2.7")).await,
        StatusCode::UNAUTHORIZED
    );
    // a trusted proxy forwarding for an allowed client does
    assert_eq!(
        from(r, "127.0.0.4", Some("127.0.0.2")).await,
        StatusCode::OK
    );
    // an administrator without the Read right on Network Settings: refused
    let reply = post(
        r,
        "/api/v1/accounts/users",
        json!({"username": "watcher", "password": "a fine long passphrase"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let token = super::token_for(r, "watcher", "a fine long passphrase").await;
    let watcher = super::signed_in(r.clone(), token);
    let reply = get(&watcher, "/metrics").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    assert!(reply.text.contains("Network Settings"), "{}", reply.text);
    // the superuser's API token (what a scrape job would carry)
    assert_eq!(get(r, "/metrics").await.status, StatusCode::OK);
    pharos.stop().await;
}

/// In distributed mode, a change saved on one server reaches the other through a message whose
/// lag the other measures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_message_lag_between_servers_is_measured() {
    let env = Env::new(Db::Postgres).await;
    env.enable_distributed().await;
    let a = env.start_as("a", "standalone").await;
    let b = env.start_as("b", "standalone").await;
    let lag = |scrape: &Scrape| scrape.value("pharos_cluster_message_lag_seconds_count", &[]);
    let before = lag(&Scrape::of(&b.router).await);
    set(&a.router, |doc| {
        doc["online_check"]["response_timeout_ms"] = json!(2500)
    })
    .await;
    super::eventually(Duration::from_secs(5), "b reads a's message", || async {
        lag(&Scrape::of(&b.router).await) > before
    })
    .await;
    let b_scrape = Scrape::of(&b.router).await;
    // read within a second: in the lowest buckets
    let within = b_scrape.value(
        "pharos_cluster_message_lag_seconds_bucket",
        &[("le", "1.024")],
    );
    assert!(within >= 1.0, "{}", b_scrape.0);
    a.stop().await;
    b.stop().await;
}

/// The metric families a server serves, by the names `# TYPE` gives them (counters without
/// `_total`, histograms without `_bucket`, `_count`, `_sum`).
fn families(scrape: &Scrape) -> BTreeSet<String> {
    scrape
        .0
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_owned)
        .collect()
}

/// Every `pharos_…` name in `text`, as a family name.
fn named(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, _) in text.match_indices("pharos_") {
        let name: String = text[i..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        let family = ["_total", "_bucket", "_count", "_sum"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(&name);
        if family.len() > "pharos_".len() {
            names.insert(family.to_owned());
        }
    }
    names
}

/// The alert rules of docs/prometheus hold (promtool's own unit tests of them), and they and
/// docs/monitoring.md name exactly the metrics a server serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_metrics_and_alerts_match_the_server() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let prometheus = docs.join("prometheus");
    for args in [
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts.test.yml"],
    ] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(&prometheus)
            .output()
            .expect("promtool runs (scripts/setup --test installs it)");
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let env = Env::new(Db::Sqlite).await;
    let pharos = env.start().await;
    let served = families(&Scrape::of(&pharos.router).await);
    pharos.stop().await;
    let rules = std::fs::read_to_string(prometheus.join("alerts.yml")).unwrap();
    let unknown: Vec<_> = named(&rules).difference(&served).cloned().collect();
    assert!(
        unknown.is_empty(),
        "alerts.yml names {unknown:?}, not served"
    );
    let page = std::fs::read_to_string(docs.join("monitoring.md")).unwrap();
    let documented = named(&page);
    let unknown: Vec<_> = documented.difference(&served).cloned().collect();
    assert!(
        unknown.is_empty(),
        "monitoring.md names {unknown:?}, not served"
    );
    let undocumented: Vec<_> = served.difference(&documented).cloned().collect();
    assert!(
        undocumented.is_empty(),
        "monitoring.md lacks {undocumented:?}"
    );
}
