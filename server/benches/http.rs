//! Pharos measured from outside, as users meet it: the release `pharos` binary runs as its own
//! process (tracing on, gzip when asked, real `If-Match` on writes), pinned to one core, and `wrk`
//! loads it from the other core. Every row is a ratio to a baseline measured by the same load
//! generator in the same run, the rows taking turns in rounds so that the machine's changing load
//! touches them alike.
//!
//! `scripts/bench [--seconds S] [--rounds R] [--connections C] [--only TEXT]` builds what it needs
//! and runs this (see BENCHMARKS.md).

mod common;

use common::{
    Process, bearer, binary, children_cpu_seconds, cores, cpu_seconds, free_port, median,
    pharos_binary, session_cookie, tcp_passive_opens, wait_ready,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

struct Options {
    seconds: u32,
    rounds: u32,
    connections: u32,
    only: Option<String>,
}

fn options() -> Options {
    let mut o = Options {
        seconds: 5,
        rounds: 3,
        connections: 32,
        only: None,
    };
    let args: Vec<String> = std::env::args().collect();
    for pair in args.windows(2) {
        let value = || pair[1].parse().expect("a number");
        match pair[0].as_str() {
            "--seconds" => o.seconds = value(),
            "--rounds" => o.rounds = value(),
            "--connections" => o.connections = value(),
            "--only" => o.only = Some(pair[1].clone()),
            _ => {}
        }
    }
    o
}

/// The release `pharos` on its own data directory, pinned to the server core, serving plain HTTP
/// (`PHAROS_TLS=off`) or HTTPS (`tls`, as users run it).
fn pharos(dir: &Path, name: &str, database_url: &str, tls: bool) -> (Process, String) {
    pharos_binary("pharos", dir, name, database_url, tls)
}

fn bare_axum() -> (Process, String) {
    let port = free_port();
    let mut child = Process(
        Command::new("taskset")
            .args(["-c", &cores().0])
            .arg(binary("examples/bare_axum"))
            .arg(format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .spawn()
            .expect("start bare_axum"),
    );
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&url, &mut child);
    (child, url)
}

/// What one measurement gave.
#[derive(Clone, Copy, Debug)]
struct Figures {
    per_second: f64,
    p50_us: f64,
    p99_us: f64,
    /// TCP connections the machine accepted during the run, per answer (`wrk` rows; about 0 when
    /// connections are kept alive, about 1 when every request opens one).
    opens_per_request: f64,
    /// CPU time of the server process per answer, in µs (`wrk` rows).
    server_us: f64,
    /// CPU time of the load generator per second of the run: 1.0 is its core saturated
    /// (`wrk` rows).
    load_busy: f64,
    /// TLS handshakes `wrk` completed, per answer (HTTPS rows).
    handshakes_per_request: f64,
    /// The share of those handshakes that resumed an earlier session (HTTPS rows).
    resumed: f64,
}

impl Default for Figures {
    fn default() -> Self {
        Figures {
            per_second: 0.0,
            p50_us: f64::NAN,
            p99_us: f64::NAN,
            opens_per_request: f64::NAN,
            server_us: f64::NAN,
            load_busy: f64::NAN,
            handshakes_per_request: f64::NAN,
            resumed: f64::NAN,
        }
    }
}

fn duration_us(text: &str) -> f64 {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n,
        "ms" => n * 1e3,
        "s" => n * 1e6,
        _ => f64::NAN,
    }
}

/// `wrk` over HTTPS, with [`tls_shim`] preloaded.
#[derive(Clone)]
struct TlsLoad {
    shim: PathBuf,
    /// Where the shim writes its counts when `wrk` exits.
    counts: PathBuf,
    /// `wrk`'s own behaviour: a connection that reconnects resumes its TLS session. Else every
    /// new connection is a full handshake.
    resume: bool,
}

/// A shim preloaded into `wrk` (which uses the system's OpenSSL) over HTTPS: it counts the
/// handshakes `wrk` completes and how many of them resumed a session, and, with
/// `BENCH_TLS_RESUME=0`, makes `wrk` forget a connection's session when it closes it. `wrk`
/// closes a connection with `SSL_shutdown` and `SSL_clear`, which keeps the session, so its next
/// connection resumes it (a TLS 1.3 PSK handshake: no certificate, no signature); a client
/// meeting the server for the first time makes a full handshake. Built with the system's C
/// compiler (the linker Rust uses).
fn tls_shim(dir: &Path) -> PathBuf {
    let source = dir.join("wrk_tls_shim.c");
    let shim = dir.join("wrk_tls_shim.so");
    std::fs::write(
        &source,
        r#"#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct ssl_st SSL;
typedef struct ssl_session_st SSL_SESSION;
static int (*real_connect)(SSL *);
static int (*real_clear)(SSL *);
static int (*reused)(const SSL *);
static int (*set_session)(SSL *, SSL_SESSION *);
static unsigned long handshakes, resumed;

static void resolve(void) {
    real_connect = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_connect");
    real_clear = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_clear");
    reused = (int (*)(const SSL *))dlsym(RTLD_NEXT, "SSL_session_reused");
    set_session = (int (*)(SSL *, SSL_SESSION *))dlsym(RTLD_NEXT, "SSL_set_session");
}

int SSL_connect(SSL *s) {
    if (!real_connect) resolve();
    int r = real_connect(s);
    if (r == 1) {
        __atomic_add_fetch(&handshakes, 1, __ATOMIC_RELAXED);
        if (reused(s)) __atomic_add_fetch(&resumed, 1, __ATOMIC_RELAXED);
    }
    return r;
}

int SSL_clear(SSL *s) {
    if (!real_clear) resolve();
    int r = real_clear(s);
    const char *resume = getenv("BENCH_TLS_RESUME");
    if (resume && resume[0] == '0') set_session(s, NULL);
    return r;
}

__attribute__((destructor)) static void report(void) {
    const char *path = getenv("BENCH_TLS_COUNTS");
    FILE *f = path ? fopen(path, "w") : NULL;
    if (!f) return;
    fprintf(f, "%lu %lu\n", handshakes, resumed);
    fclose(f);
}
"#,
    )
    .unwrap();
    let out = Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&shim)
        .arg(&source)
        .arg("-ldl")
        .output()
        .expect("cc runs");
    assert!(
        out.status.success(),
        "building the wrk TLS shim: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    shim
}

/// Runs `wrk` on the load core against the server process `server` and reads its figures; any
/// answer that is not 2xx/3xx aborts the run, since a benchmark of errors measures nothing.
fn wrk(
    server: u32,
    url: &str,
    connections: u32,
    seconds: u32,
    headers: &[&str],
    script: Option<&Path>,
    tls: Option<&TlsLoad>,
) -> Figures {
    let mut command = Command::new("taskset");
    if let Some(tls) = tls {
        let _ = std::fs::remove_file(&tls.counts);
        command
            .env("LD_PRELOAD", &tls.shim)
            .env("BENCH_TLS_COUNTS", &tls.counts)
            .env("BENCH_TLS_RESUME", if tls.resume { "1" } else { "0" });
    }
    command.args(["-c", &cores().1, "wrk", "-t1", "--latency"]);
    command
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"));
    for h in headers {
        command.args(["-H", h]);
    }
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    let (opens, server_cpu, load_cpu) = (
        tcp_passive_opens(),
        cpu_seconds(server),
        children_cpu_seconds(),
    );
    let out = command
        .arg(url)
        .output()
        .expect("wrk runs (scripts/setup --bench installs it)");
    let (opens, server_cpu, load_cpu) = (
        tcp_passive_opens() - opens,
        cpu_seconds(server) - server_cpu,
        children_cpu_seconds() - load_cpu,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "wrk failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains("Non-2xx or 3xx responses") && !text.contains("Socket errors"),
        "{url}: errors under load\n{text}"
    );
    let mut figures = Figures::default();
    let mut requests = f64::NAN;
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [n, "requests", "in", ..] => requests = n.parse().unwrap(),
            ["Requests/sec:", n] => figures.per_second = n.parse().unwrap(),
            ["50%", d] => figures.p50_us = duration_us(d),
            ["99%", d] => figures.p99_us = duration_us(d),
            _ => {}
        }
    }
    assert!(figures.per_second > 0.0, "{url}: nothing measured\n{text}");
    figures.opens_per_request = opens as f64 / requests;
    figures.server_us = server_cpu * 1e6 / requests;
    figures.load_busy = load_cpu / f64::from(seconds);
    if let Some(tls) = tls {
        let counts = std::fs::read_to_string(&tls.counts).expect("the wrk TLS shim's counts");
        let n: Vec<f64> = counts
            .split_whitespace()
            .map(|w| w.parse().unwrap())
            .collect();
        figures.handshakes_per_request = n[0] / requests;
        figures.resumed = n[1] / n[0];
    }
    figures
}

/// The plain sqlx loop, pinned where the server runs.
fn sqlx_put(database_url: &str, seconds: u32) -> Figures {
    let out = Command::new("taskset")
        .args(["-c", &cores().0])
        .arg(binary("examples/sqlx_put"))
        .arg(database_url)
        .arg(seconds.to_string())
        .output()
        .expect("sqlx_put runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "sqlx_put failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let n: Vec<f64> = text
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect();
    Figures {
        per_second: n[0],
        p50_us: n[1],
        p99_us: n[2],
        ..Figures::default()
    }
}

/// A `wrk` script that replaces the settings one request after another, each time with the
/// ETag the last answer gave (a real `If-Match`) and a different scan timeout (a real change,
/// audited).
fn put_script(dir: &Path, authorization: &str) -> PathBuf {
    let path = dir.join("put.lua");
    let token = authorization.trim_start_matches("Authorization: ");
    std::fs::write(
        &path,
        format!("local authorization = \"{token}\"\n")
            + r#"
local etag = "*"
local n = 0
local doc = '{"online_check":{"enabled":true,"response_timeout_ms":1000,"reply_port":null},' ..
  '"scheduled_jobs":{"never_expire":true,"expiration_minutes":40},' ..
  '"scan":{"timeout_ms":%d,"broadcast_ip":"127.255.255.255","reply_port":null},' ..
  '"cluster_address":{"enabled":true,"host":"lb.example.com","port":443},' ..
  '"enrollment_address":{"enabled":false,"host":"","port":8443,"path_prefix":""},' ..
  '"distributed":{"enabled":false}}'
request = function()
  n = n + 1
  return wrk.format("PUT", "/api/v1/settings/network",
    {["Content-Type"] = "application/json", ["If-Match"] = etag, ["Authorization"] = authorization},
    string.format(doc, 1000 + n % 50000))
end
response = function(status, headers, body)
  if status == 200 then etag = headers["ETag"] or headers["etag"] end
end
"#,
    )
    .unwrap();
    path
}

#[path = "../tests/support/postgres.rs"]
mod postgres;
use postgres::PgDatabase;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A row of the table: how to measure it once, and what it is compared with.
struct Row {
    name: &'static str,
    baseline: Option<&'static str>,
    /// Every request on a new connection: the run aborts unless the machine accepted about as
    /// many connections as the server answered requests.
    connection_per_request: bool,
    /// Over HTTPS with a new connection per request: whether its handshakes must all resume a
    /// session (`Some(true)`) or must all be full ones (`Some(false)`); checked every run.
    resumed: Option<bool>,
    measure: Box<dyn Fn(u32) -> Figures>,
}

fn main() {
    let o = options();
    let dir = tempfile::tempdir().unwrap();
    let (core_server, core_load) = cores();
    println!(
        "servers on core {core_server}, wrk on core {core_load}; {} rounds of {} s per row, {} connections",
        o.rounds, o.seconds, o.connections
    );

    let bare_server = bare_axum();
    let sqlite_url = format!(
        "sqlite://{}/pharos.db?mode=rwc",
        dir.path().join("sqlite").display()
    );
    let sqlite = pharos(dir.path(), "sqlite", &sqlite_url, false);
    let on_sqlite = sqlite.1.clone();
    // the same server as users run it, over HTTPS: the TLS rows, beside `sqlite` (TLS off)
    let tls_url = format!(
        "sqlite://{}/pharos.db?mode=rwc",
        dir.path().join("sqlite-tls").display()
    );
    let sqlite_tls = pharos(dir.path(), "sqlite-tls", &tls_url, true);
    let on_tls = sqlite_tls.1.clone();
    let pg = block_on(PgDatabase::create("bench_put"));
    let postgres = pharos(dir.path(), "postgres", &pg.url, false);
    let on_pg = postgres.1.clone();
    let unguarded_url = format!(
        "sqlite://{}/pharos.db?mode=rwc",
        dir.path().join("unguarded").display()
    );
    let unguarded_server = pharos_binary(
        "examples/pharos_unguarded",
        dir.path(),
        "unguarded",
        &unguarded_url,
        false,
    );
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let sqlite_token = leak(bearer(&on_sqlite));
    let pg_token = bearer(&on_pg);
    let sqlite_cookie = leak(session_cookie(&on_sqlite));
    let tls_token = leak(bearer(&on_tls));
    let signed_tls: &'static [&'static str] = Box::leak(Box::new([tls_token]));
    let signed_close: &'static [&'static str] =
        Box::leak(Box::new([sqlite_token, "Connection: close"]));
    let signed_tls_close: &'static [&'static str] =
        Box::leak(Box::new([tls_token, "Connection: close"]));
    let signed: &'static [&'static str] = Box::leak(Box::new([sqlite_token]));
    let by_cookie: &'static [&'static str] = Box::leak(Box::new([sqlite_cookie]));
    let signed_gzip: &'static [&'static str] =
        Box::leak(Box::new([sqlite_token, "Accept-Encoding: gzip"]));
    let plain_sqlite = format!("sqlite://{}/plain.db?mode=rwc", dir.path().display());
    let plain_pg = block_on(PgDatabase::create("bench_plain"));
    let script_sqlite = put_script(&dir.path().join("sqlite"), sqlite_token);
    let script_pg = put_script(&dir.path().join("postgres"), &pg_token);
    let c = o.connections;
    let get = |server: &(Process, String),
               path: &str,
               headers: &'static [&'static str]|
     -> Box<dyn Fn(u32) -> Figures> {
        let (pid, url) = (server.0.0.id(), format!("{}{path}", server.1));
        Box::new(move |s| wrk(pid, &url, c, s, headers, None, None))
    };
    let shim = tls_shim(dir.path());
    let counts = std::cell::Cell::new(0);
    let get_tls = |server: &(Process, String),
                   path: &str,
                   headers: &'static [&'static str],
                   resume: bool|
     -> Box<dyn Fn(u32) -> Figures> {
        // by name, as clients that check certificates connect: `wrk` sends the URL's host as the
        // TLS server name, and an IP address there is not a name (rustls ignores it, and logs a
        // warning for every such handshake)
        let host = server.1.replace("://127.0.0.1:", "://localhost:");
        let (pid, url) = (server.0.0.id(), format!("{host}{path}"));
        counts.set(counts.get() + 1);
        let tls = TlsLoad {
            shim: shim.clone(),
            counts: dir.path().join(format!("tls-counts-{}", counts.get())),
            resume,
        };
        Box::new(move |s| wrk(pid, &url, c, s, headers, None, Some(&tls)))
    };
    let put = |server: &(Process, String), script: &PathBuf| -> Box<dyn Fn(u32) -> Figures> {
        let pid = server.0.0.id();
        let (url, script) = (
            format!("{}/api/v1/settings/network", server.1),
            script.clone(),
        );
        Box::new(move |s| wrk(pid, &url, 1, s, &[], Some(&script), None))
    };
    let plain =
        |url: String| -> Box<dyn Fn(u32) -> Figures> { Box::new(move |s| sqlx_put(&url, s)) };
    let rows = vec![
        Row {
            name: "bare axum GET (ceiling)",
            baseline: None,
            connection_per_request: false,
            resumed: None,
            measure: get(&bare_server, "/", &[]),
        },
        Row {
            name: "GET /api/v1/settings/network",
            baseline: Some("bare axum GET (ceiling)"),
            connection_per_request: false,
            resumed: None,
            measure: get(&sqlite, "/api/v1/settings/network", signed),
        },
        Row {
            name: "GET /api/v1/settings/network, gzip accepted",
            baseline: Some("GET /api/v1/settings/network"),
            connection_per_request: false,
            resumed: None,
            measure: get(&sqlite, "/api/v1/settings/network", signed_gzip),
        },
        Row {
            name: "GET /api/v1/settings/network, no authentication layer",
            baseline: None,
            connection_per_request: false,
            resumed: None,
            measure: get(&unguarded_server, "/api/v1/settings/network", &[]),
        },
        Row {
            name: "GET /api/v1/settings/network, bearer token",
            baseline: Some("GET /api/v1/settings/network, no authentication layer"),
            connection_per_request: false,
            resumed: None,
            measure: get(&sqlite, "/api/v1/settings/network", signed),
        },
        Row {
            name: "GET /api/v1/settings/network, session cookie",
            baseline: Some("GET /api/v1/settings/network, no authentication layer"),
            connection_per_request: false,
            resumed: None,
            measure: get(&sqlite, "/api/v1/settings/network", by_cookie),
        },
        // what TLS costs: the same server as users run it (HTTPS) against itself with TLS off,
        // once on kept-alive connections, once with a new connection (a TLS handshake) for
        // every request
        Row {
            name: "GET /api/v1/settings/network over HTTP, keep-alive (TLS off)",
            baseline: None,
            connection_per_request: false,
            resumed: None,
            measure: get(&sqlite, "/api/v1/settings/network", signed),
        },
        Row {
            name: "GET /api/v1/settings/network over HTTPS, keep-alive",
            baseline: Some("GET /api/v1/settings/network over HTTP, keep-alive (TLS off)"),
            connection_per_request: false,
            resumed: None,
            measure: get_tls(&sqlite_tls, "/api/v1/settings/network", signed_tls, true),
        },
        Row {
            name: "GET /api/v1/settings/network over HTTP, a new connection per request (TLS off)",
            baseline: None,
            connection_per_request: true,
            resumed: None,
            measure: get(&sqlite, "/api/v1/settings/network", signed_close),
        },
        Row {
            name: "GET /api/v1/settings/network over HTTPS, a new connection per request (full handshakes)",
            baseline: Some(
                "GET /api/v1/settings/network over HTTP, a new connection per request (TLS off)",
            ),
            connection_per_request: true,
            resumed: Some(false),
            measure: get_tls(
                &sqlite_tls,
                "/api/v1/settings/network",
                signed_tls_close,
                false,
            ),
        },
        Row {
            name: "GET /api/v1/settings/network over HTTPS, a new connection per request (resumed sessions)",
            baseline: Some(
                "GET /api/v1/settings/network over HTTP, a new connection per request (TLS off)",
            ),
            connection_per_request: true,
            resumed: Some(true),
            measure: get_tls(
                &sqlite_tls,
                "/api/v1/settings/network",
                signed_tls_close,
                true,
            ),
        },
        Row {
            name: "GET /settings/network (SSR page)",
            baseline: Some("bare axum GET (ceiling)"),
            connection_per_request: false,
            resumed: None,
            measure: get(&sqlite, "/settings/network", by_cookie),
        },
        Row {
            name: "GET /settings/network (SSR page), gzip",
            baseline: Some("GET /settings/network (SSR page)"),
            connection_per_request: false,
            resumed: None,
            measure: get(
                &sqlite,
                "/settings/network",
                Box::leak(Box::new([sqlite_cookie, "Accept-Encoding: gzip"])),
            ),
        },
        Row {
            name: "plain sqlx UPDATE + INSERT, SQLite",
            baseline: None,
            connection_per_request: false,
            resumed: None,
            measure: plain(plain_sqlite),
        },
        Row {
            name: "PUT + audit, SQLite",
            baseline: Some("plain sqlx UPDATE + INSERT, SQLite"),
            connection_per_request: false,
            resumed: None,
            measure: put(&sqlite, &script_sqlite),
        },
        Row {
            name: "plain sqlx UPDATE + INSERT, PostgreSQL",
            baseline: None,
            connection_per_request: false,
            resumed: None,
            measure: plain(plain_pg.url.clone()),
        },
        Row {
            name: "PUT + audit, PostgreSQL",
            baseline: Some("plain sqlx UPDATE + INSERT, PostgreSQL"),
            connection_per_request: false,
            resumed: None,
            measure: put(&postgres, &script_pg),
        },
    ];
    let wanted = |row: &Row| {
        o.only.as_ref().is_none_or(|only| {
            row.name.contains(only.as_str())
                || rows
                    .iter()
                    .any(|r| r.name.contains(only.as_str()) && r.baseline == Some(row.name))
        })
    };
    // a row measures what it says: a new connection for each request only where it says so
    // (other processes on the machine can only add connections, never take them away)
    let measure = |row: &Row, seconds: u32| {
        let f = (row.measure)(seconds);
        assert!(
            !row.connection_per_request || f.opens_per_request >= 0.95,
            "{}: only {:.3} connections accepted per request",
            row.name,
            f.opens_per_request
        );
        if let Some(resumed) = row.resumed {
            assert!(
                f.handshakes_per_request >= 0.95,
                "{}: only {:.3} TLS handshakes per request",
                row.name,
                f.handshakes_per_request
            );
            assert!(
                if resumed {
                    f.resumed >= 0.95
                } else {
                    f.resumed == 0.0
                },
                "{}: {:.3} of the TLS handshakes resumed a session",
                row.name,
                f.resumed
            );
        }
        f
    };
    // warm-up: one short pass so that caches, connections and the database are settled
    for row in rows.iter().filter(|r| wanted(r)) {
        measure(row, 1);
    }
    let mut runs: BTreeMap<&str, Vec<Figures>> = BTreeMap::new();
    for round in 1..=o.rounds {
        for row in rows.iter().filter(|r| wanted(r)) {
            let f = measure(row, o.seconds);
            println!(
                "round {round}: {:<46} {:>10.0}/s  p50 {:>8.0} µs  p99 {:>8.0} µs  \
                 {:>6.3} conn/req  server {:>6.1} µs/req  wrk core {:>4.2}{}",
                row.name,
                f.per_second,
                f.p50_us,
                f.p99_us,
                f.opens_per_request,
                f.server_us,
                f.load_busy,
                if f.resumed.is_nan() {
                    String::new()
                } else {
                    format!(
                        "  TLS {:.3} handshakes/req, {:.3} resumed",
                        f.handshakes_per_request, f.resumed
                    )
                }
            );
            runs.entry(row.name).or_default().push(f);
        }
    }
    println!(
        "\n| Row | per second | ratio (median of rounds) | to | p50 | p99 | connections accepted per request | server CPU per request | wrk's core busy | TLS handshakes per request | resumed |\n|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for row in rows.iter().filter(|r| wanted(r)) {
        let figures = &runs[row.name];
        let per_second = median(figures.iter().map(|f| f.per_second).collect());
        let ratio = row.baseline.and_then(|b| runs.get(b)).map(|base| {
            median(
                figures
                    .iter()
                    .zip(base)
                    .map(|(f, b)| f.per_second / b.per_second)
                    .collect(),
            )
        });
        let of = |figure: fn(&Figures) -> f64, format: fn(f64) -> String| {
            let m = median(figures.iter().map(figure).collect());
            if m.is_nan() { String::new() } else { format(m) }
        };
        println!(
            "| {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.name,
            per_second,
            ratio.map_or("".into(), |r| format!("{r:.2}")),
            row.baseline.unwrap_or(""),
            of(|f| f.p50_us, |m| format!("{m:.0} µs")),
            of(|f| f.p99_us, |m| format!("{m:.0} µs")),
            of(|f| f.opens_per_request, |m| format!("{m:.3}")),
            of(|f| f.server_us, |m| format!("{m:.1} µs")),
            of(|f| f.load_busy, |m| format!("{m:.2}")),
            of(|f| f.handshakes_per_request, |m| format!("{m:.3}")),
            of(|f| f.resumed, |m| format!("{m:.3}")),
        );
    }
}
