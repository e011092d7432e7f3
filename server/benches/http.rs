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
    ADMIN_PASSWORD, Process, bearer, binary, free_port, median, session_cookie, start_pharos,
    wait_ready,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

struct Options {
    seconds: u32,
    rounds: u32,
    connections: u32,
    only: Option<String>,
    saves: u32,
}

fn options() -> Options {
    let mut o = Options {
        seconds: 5,
        rounds: 3,
        connections: 32,
        only: None,
        saves: 100,
    };
    let args: Vec<String> = std::env::args().collect();
    for pair in args.windows(2) {
        let value = || pair[1].parse().expect("a number");
        match pair[0].as_str() {
            "--seconds" => o.seconds = value(),
            "--rounds" => o.rounds = value(),
            "--connections" => o.connections = value(),
            "--saves" => o.saves = value(),
            "--only" => o.only = Some(pair[1].clone()),
            _ => {}
        }
    }
    o
}

/// The two cores: the servers on one, the load generator on the other (when there are two).
fn cores() -> (String, String) {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    if n >= 2 {
        ("1".into(), "0".into())
    } else {
        ("0".into(), "0".into())
    }
}

/// The release `pharos` on its own data directory, pinned to the server core.
fn pharos(dir: &Path, name: &str, database_url: &str) -> (Process, String) {
    pharos_binary("pharos", dir, name, database_url)
}

/// `executable` (`pharos`, or `examples/pharos_unguarded` without authentication) like
/// [`pharos`].
fn pharos_binary(
    executable: &str,
    dir: &Path,
    name: &str,
    database_url: &str,
) -> (Process, String) {
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let mut command = Command::new("taskset");
    command
        .args(["-c", &cores().0])
        .arg(binary(executable))
        .env("PHAROS_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("PHAROS_DATABASE_URL", database_url)
        .env("PHAROS_SERVER_NAME", name)
        .env("RUST_LOG", "info");
    start_pharos(command, &dir.join(name), log)
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
#[derive(Clone, Copy, Debug, Default)]
struct Figures {
    per_second: f64,
    p50_us: f64,
    p99_us: f64,
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

/// Runs `wrk` on the load core and reads its figures; any answer that is not 2xx/3xx aborts the
/// run, since a benchmark of errors measures nothing.
fn wrk(
    url: &str,
    connections: u32,
    seconds: u32,
    headers: &[&str],
    script: Option<&Path>,
) -> Figures {
    let mut command = Command::new("taskset");
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
    let out = command
        .arg(url)
        .output()
        .expect("wrk runs (scripts/setup --bench installs it)");
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
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", n] => figures.per_second = n.parse().unwrap(),
            ["50%", d] => figures.p50_us = duration_us(d),
            ["99%", d] => figures.p99_us = duration_us(d),
            _ => {}
        }
    }
    assert!(figures.per_second > 0.0, "{url}: nothing measured\n{text}");
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

    let (_bare, bare) = bare_axum();
    let sqlite_url = format!(
        "sqlite://{}/pharos.db?mode=rwc",
        dir.path().join("sqlite").display()
    );
    let (_sqlite, on_sqlite) = pharos(dir.path(), "sqlite", &sqlite_url);
    let pg = block_on(PgDatabase::create("bench_put"));
    let (_pg, on_pg) = pharos(dir.path(), "postgres", &pg.url);
    let unguarded_url = format!(
        "sqlite://{}/pharos.db?mode=rwc",
        dir.path().join("unguarded").display()
    );
    let (_unguarded, unguarded) = pharos_binary(
        "examples/pharos_unguarded",
        dir.path(),
        "unguarded",
        &unguarded_url,
    );
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let sqlite_token = leak(bearer(&on_sqlite));
    let pg_token = bearer(&on_pg);
    let sqlite_cookie = leak(session_cookie(&on_sqlite));
    let signed: &'static [&'static str] = Box::leak(Box::new([sqlite_token]));
    let by_cookie: &'static [&'static str] = Box::leak(Box::new([sqlite_cookie]));
    let signed_gzip: &'static [&'static str] =
        Box::leak(Box::new([sqlite_token, "Accept-Encoding: gzip"]));
    let plain_sqlite = format!("sqlite://{}/plain.db?mode=rwc", dir.path().display());
    let plain_pg = block_on(PgDatabase::create("bench_plain"));
    let script_sqlite = put_script(&dir.path().join("sqlite"), sqlite_token);
    let script_pg = put_script(&dir.path().join("postgres"), &pg_token);
    let c = o.connections;
    let get = |url: String, headers: &'static [&'static str]| -> Box<dyn Fn(u32) -> Figures> {
        Box::new(move |s| wrk(&url, c, s, headers, None))
    };
    let put = |url: &str, script: &PathBuf| -> Box<dyn Fn(u32) -> Figures> {
        let (url, script) = (url.to_owned(), script.clone());
        Box::new(move |s| wrk(&url, 1, s, &[], Some(&script)))
    };
    let plain =
        |url: String| -> Box<dyn Fn(u32) -> Figures> { Box::new(move |s| sqlx_put(&url, s)) };
    let rows = vec![
        Row {
            name: "bare axum GET (ceiling)",
            baseline: None,
            measure: get(format!("{bare}/"), &[]),
        },
        Row {
            name: "GET /api/v1/settings/network",
            baseline: Some("bare axum GET (ceiling)"),
            measure: get(format!("{on_sqlite}/api/v1/settings/network"), signed),
        },
        Row {
            name: "GET /api/v1/settings/network, gzip accepted",
            baseline: Some("GET /api/v1/settings/network"),
            measure: get(format!("{on_sqlite}/api/v1/settings/network"), signed_gzip),
        },
        Row {
            name: "GET /api/v1/settings/network, no authentication layer",
            baseline: None,
            measure: get(format!("{unguarded}/api/v1/settings/network"), &[]),
        },
        Row {
            name: "GET /api/v1/settings/network, bearer token",
            baseline: Some("GET /api/v1/settings/network, no authentication layer"),
            measure: get(format!("{on_sqlite}/api/v1/settings/network"), signed),
        },
        Row {
            name: "GET /api/v1/settings/network, session cookie",
            baseline: Some("GET /api/v1/settings/network, no authentication layer"),
            measure: get(format!("{on_sqlite}/api/v1/settings/network"), by_cookie),
        },
        Row {
            name: "GET /settings/network (SSR page)",
            baseline: Some("bare axum GET (ceiling)"),
            measure: get(format!("{on_sqlite}/settings/network"), by_cookie),
        },
        Row {
            name: "GET /settings/network (SSR page), gzip",
            baseline: Some("GET /settings/network (SSR page)"),
            measure: get(
                format!("{on_sqlite}/settings/network"),
                Box::leak(Box::new([sqlite_cookie, "Accept-Encoding: gzip"])),
            ),
        },
        Row {
            name: "plain sqlx UPDATE + INSERT, SQLite",
            baseline: None,
            measure: plain(plain_sqlite),
        },
        Row {
            name: "PUT + audit, SQLite",
            baseline: Some("plain sqlx UPDATE + INSERT, SQLite"),
            measure: put(
                &format!("{on_sqlite}/api/v1/settings/network"),
                &script_sqlite,
            ),
        },
        Row {
            name: "plain sqlx UPDATE + INSERT, PostgreSQL",
            baseline: None,
            measure: plain(plain_pg.url.clone()),
        },
        Row {
            name: "PUT + audit, PostgreSQL",
            baseline: Some("plain sqlx UPDATE + INSERT, PostgreSQL"),
            measure: put(&format!("{on_pg}/api/v1/settings/network"), &script_pg),
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
    // warm-up: one short pass so that caches, connections and the database are settled
    for row in rows.iter().filter(|r| wanted(r)) {
        (row.measure)(1);
    }
    let mut runs: BTreeMap<&str, Vec<Figures>> = BTreeMap::new();
    for round in 1..=o.rounds {
        for row in rows.iter().filter(|r| wanted(r)) {
            let f = (row.measure)(o.seconds);
            println!(
                "round {round}: {:<46} {:>10.0}/s  p50 {:>8.0} µs  p99 {:>8.0} µs",
                row.name, f.per_second, f.p50_us, f.p99_us
            );
            runs.entry(row.name).or_default().push(f);
        }
    }
    println!(
        "\n| Row | per second | ratio (median of rounds) | to | p50 | p99 |\n|---|---:|---:|---|---:|---:|"
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
        println!(
            "| {} | {:.0} | {} | {} | {:.0} µs | {:.0} µs |",
            row.name,
            per_second,
            ratio.map_or("".into(), |r| format!("{r:.2}")),
            row.baseline.unwrap_or(""),
            median(figures.iter().map(|f| f.p50_us).collect()),
            median(figures.iter().map(|f| f.p99_us).collect()),
        );
    }

    if o.only
        .as_ref()
        .is_none_or(|only| "propagation".contains(only.as_str()))
    {
        let (_b, on_pg_b) = pharos(dir.path(), "postgres-b", &pg.url);
        let out = Command::new("taskset")
            .args(["-c", &core_load])
            .arg(binary("examples/propagation"))
            .args([&on_pg, &on_pg_b, &o.saves.to_string()])
            .output()
            .expect("propagation runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "propagation failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let n: Vec<f64> = text
            .split_whitespace()
            .map(|w| w.parse().unwrap())
            .collect();
        println!(
            "\nsettings propagation between two servers on one PostgreSQL, {} saves: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            o.saves,
            n[0] / 1e3,
            n[1] / 1e3,
            n[2] / 1e3
        );
    }
}
