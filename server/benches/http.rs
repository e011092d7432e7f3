//! Requests per second of Pharos's hot paths, measured side by side in one run against a bare
//! axum route (the ceiling on this machine), so the ratios hold on a noisy shared machine.
//!
//! `cargo bench -p server --bench http` (options after `--`: `--seconds N`, `--connections N`).
//! PostgreSQL comes from `PHAROS_TEST_POSTGRES_URL` (default: the local `test` database); a fresh
//! database is made for the run and dropped after it.

use axum::{Router, routing::get};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use server::config::Config;
use sqlx::{Connection, Executor, PgConnection};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

// The same allocator as the `pharos` binary, so the figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Options {
    seconds: f64,
    connections: usize,
    /// Runs only the rows whose name contains this (the ceiling always runs).
    only: Option<String>,
    /// The rows run one after another this many times, each for `seconds / rounds`, so that a
    /// change in the machine's load touches every row alike.
    rounds: u32,
}

fn options() -> Options {
    let mut o = Options {
        seconds: 5.0,
        connections: 32,
        only: None,
        rounds: 5,
    };
    let args: Vec<String> = std::env::args().collect();
    for pair in args.windows(2) {
        match pair[0].as_str() {
            "--seconds" => o.seconds = pair[1].parse().expect("--seconds N"),
            "--connections" => o.connections = pair[1].parse().expect("--connections N"),
            "--only" => o.only = Some(pair[1].clone()),
            "--rounds" => o.rounds = pair[1].parse().expect("--rounds N"),
            _ => {}
        }
    }
    o
}

/// What one load run sends.
#[derive(Clone)]
enum Load {
    Get(&'static str),
    /// Replaces the settings with a different scan timeout each time: a real change, audited.
    PutSettings,
}

fn settings_body(n: u64) -> Bytes {
    let doc = serde_json::json!({
      "online_check":       { "enabled": true, "response_timeout_ms": 1000, "reply_port": null },
      "scheduled_jobs":     { "never_expire": true, "expiration_minutes": 40 },
      "scan":               { "timeout_ms": 1000 + (n % 50_000), "broadcast_ip": "127.255.255.255", "reply_port": null },
      "cluster_address":    { "enabled": true, "host": "lb.example.com", "port": 443 },
      "enrollment_address": { "enabled": false, "host": "", "port": 8443, "path_prefix": "" },
      "distributed":        { "enabled": false }
    });
    Bytes::from(doc.to_string())
}

/// Keeps `connections` keep-alive connections busy for `seconds`; returns successful requests per
/// second. Any non-2xx answer aborts the run: a benchmark of errors measures nothing.
async fn measure(addr: SocketAddr, load: Load, o: &Options) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let counter = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..o.connections {
        let (stop, done, counter, load) =
            (stop.clone(), done.clone(), counter.clone(), load.clone());
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(addr).await.expect("connect");
            stream.set_nodelay(true).ok();
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .expect("handshake");
            tokio::spawn(conn);
            while !stop.load(Ordering::Relaxed) {
                let request = match &load {
                    Load::Get(path) => Request::get(*path)
                        .header("host", "bench")
                        .body(Full::new(Bytes::new())),
                    Load::PutSettings => Request::builder()
                        .method(Method::PUT)
                        .uri("/api/v1/settings/network")
                        .header("host", "bench")
                        .header("content-type", "application/json")
                        .header("if-match", "*")
                        .body(Full::new(settings_body(
                            counter.fetch_add(1, Ordering::Relaxed),
                        ))),
                }
                .expect("request");
                sender.ready().await.expect("connection ready");
                let response = sender.send_request(request).await.expect("response");
                let status = response.status();
                response.into_body().collect().await.expect("body");
                assert!(
                    status.is_success() || status == StatusCode::NOT_MODIFIED,
                    "answer {status}"
                );
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // Warm-up, then the measured window.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let start_count = done.load(Ordering::Relaxed);
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(
        o.seconds / f64::from(o.rounds.max(1)),
    ))
    .await;
    let count = done.load(Ordering::Relaxed) - start_count;
    let elapsed = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("load task");
    }
    count as f64 / elapsed
}

async fn serve(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    addr
}

async fn pharos(config: Config) -> (SocketAddr, server::Pharos) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let pharos = server::start(config, CancellationToken::new())
        .await
        .expect("pharos starts");
    let router = pharos.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    (addr, pharos)
}

fn main() {
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(o));
}

async fn run(o: Options) {
    let dir = tempfile::tempdir().expect("temp dir");
    let admin = std::env::var("PHAROS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let db_name = format!("pharos_bench_{}", std::process::id());
    let mut admin_conn = PgConnection::connect(&admin)
        .await
        .expect("PostgreSQL (PHAROS_TEST_POSTGRES_URL) is needed for the PUT benchmark");
    admin_conn
        .execute(format!("DROP DATABASE IF EXISTS {db_name}").as_str())
        .await
        .expect("drop old bench database");
    admin_conn
        .execute(format!("CREATE DATABASE {db_name}").as_str())
        .await
        .expect("create bench database");
    let pg_url = format!(
        "{}/{db_name}",
        admin.rsplit_once('/').expect("database in URL").0
    );

    let bare = serve(Router::new().route("/", get(|| async { "ok" }))).await;
    let quiet = |name: &str, url: String| Config {
        data_dir: dir.path().join(name),
        database_url: Some(url),
        server_name: Some(name.into()),
        ..Config::default()
    };
    let sqlite_url = format!("sqlite://{}/bench.db?mode=rwc", dir.path().display());
    let (sqlite, sqlite_app) = pharos(quiet("sqlite", sqlite_url)).await;
    let (postgres, postgres_app) = pharos(quiet("postgres", pg_url)).await;

    println!(
        "{} connections, {:.0} s per row in {} rounds, {} cores",
        o.connections,
        o.seconds,
        o.rounds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let runs: Vec<(&str, SocketAddr, Load)> = vec![
        ("bare axum route (ceiling)", bare, Load::Get("/")),
        (
            "GET /api/v1/settings/network",
            sqlite,
            Load::Get("/api/v1/settings/network"),
        ),
        ("GET / (small SSR page, same shell)", sqlite, Load::Get("/")),
        (
            "GET /settings/network (SSR page)",
            sqlite,
            Load::Get("/settings/network"),
        ),
        ("PUT settings + audit, SQLite", sqlite, Load::PutSettings),
        (
            "PUT settings + audit, PostgreSQL",
            postgres,
            Load::PutSettings,
        ),
    ];
    let runs: Vec<_> = runs
        .into_iter()
        .enumerate()
        .filter(|(i, (name, _, _))| {
            *i == 0 || o.only.as_deref().is_none_or(|only| name.contains(only))
        })
        .map(|(_, run)| run)
        .collect();
    let mut totals = vec![0.0; runs.len()];
    for _ in 0..o.rounds.max(1) {
        for (total, (_, addr, load)) in totals.iter_mut().zip(&runs) {
            *total += measure(*addr, load.clone(), &o).await;
        }
    }
    println!("{:<36} {:>10} {:>9}", "what", "req/s", "of bare");
    for (total, (name, _, _)) in totals.iter().zip(&runs) {
        let rate = total / f64::from(o.rounds.max(1));
        let ceiling = totals[0] / f64::from(o.rounds.max(1));
        println!("{name:<36} {rate:>10.0} {:>8.1}%", 100.0 * rate / ceiling);
    }
    if o.only.is_none() {
        let audit_rows = sqlite_app.state.store.audit(None, 1).await.expect("audit");
        assert!(
            !audit_rows.entries.is_empty(),
            "the PUT runs wrote audit rows"
        );
    }
    sqlite_app.stop().await;
    postgres_app.stop().await;
    drop(
        admin_conn
            .execute(format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)").as_str())
            .await,
    );
}
