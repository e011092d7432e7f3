//! Enrollments per second over EST, as a ratio to a plain loop signing the same requests with
//! the same library in the same run. Three kinds of processes: the release `pharos` (HTTPS, as
//! devices reach it, on SQLite) pinned to one core; the load generator (`examples/est_load`)
//! on the other; and the plain signing loop (`examples/plain_sign`) pinned where the server
//! runs, with as many threads as that leaves it (one). Each round makes N new EC P-256 requests
//! and an enrollment key for N uses, then runs the plain loop and Pharos on them, one after the
//! other (the order swapped every round), so that the machine's changing load touches both. The
//! plain loop, about ten times faster, goes through the same requests again until it has run
//! about as long as Pharos took for them in the warm-up.
//!
//! `scripts/bench --enrollment [--csrs N] [--rounds R] [--connections C]` builds what it needs
//! and runs this (see BENCHMARKS.md).

mod common;

use common::{
    Process, bearer, binary, children_cpu_seconds, cores, cpu_seconds, median, pharos_binary,
    request,
};
use std::path::Path;
use std::process::Command;

struct Options {
    csrs: usize,
    rounds: usize,
    connections: usize,
}

fn options() -> Options {
    let mut o = Options {
        csrs: 2000,
        rounds: 3,
        connections: 4,
    };
    let args: Vec<String> = std::env::args().collect();
    for pair in args.windows(2) {
        let value = || pair[1].parse().expect("a number");
        match pair[0].as_str() {
            "--csrs" => o.csrs = value(),
            "--rounds" => o.rounds = value(),
            "--connections" => o.connections = value(),
            _ => {}
        }
    }
    o
}

/// Runs an example on `core` and gives its output's numbers; the run aborts if it failed.
fn run(core: &str, example: &str, args: &[&str], env: &[(&str, &str)]) -> Vec<f64> {
    let out = Command::new("taskset")
        .args(["-c", core])
        .arg(binary(&format!("examples/{example}")))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("{example} runs: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{example} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect()
}

/// A new enrollment key for `uses` enrollments: `<id>:<secret>`.
fn enrollment_key(url: &str, authorization: &str, uses: usize) -> String {
    let (status, _, body) = request(
        url,
        "POST",
        "/api/v1/enrollment/keys",
        &[
            authorization.into(),
            "Content-Type: application/json".into(),
        ],
        &format!(r#"{{"uses": {uses}, "expires_in_minutes": 60, "note": "benchmark"}}"#),
    );
    assert_eq!(status, 201, "an enrollment key: {body}");
    let key: serde_json::Value = serde_json::from_str(&body).unwrap();
    format!(
        "{}:{}",
        key["id"].as_str().unwrap(),
        key["secret"].as_str().unwrap()
    )
}

fn get(url: &str, authorization: &str, path: &str) -> serde_json::Value {
    let (status, _, body) = request(url, "GET", path, &[authorization.into()], "");
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// One round's figures.
struct Round {
    plain: f64,
    plain_cpu_us: f64,
    enrollments: f64,
    p50_us: f64,
    p99_us: f64,
    server_cpu_us: f64,
    load_busy: f64,
}

struct Bench<'a> {
    dir: &'a Path,
    url: String,
    pid: u32,
    authorization: String,
    ca_pem: String,
    connections: usize,
    /// How long the plain loop goes on (through the same requests again): as long as Pharos
    /// takes for them, about.
    plain_seconds: f64,
}

impl Bench<'_> {
    /// N new requests, the plain loop on them and Pharos on them; `plain_first` says which runs
    /// first.
    fn round(&self, name: &str, n: usize, plain_first: bool) -> Round {
        let (server_core, load_core) = cores();
        let csrs = self.dir.join(format!("{name}.csrs"));
        let csrs = csrs.to_str().unwrap();
        run(&load_core, "est_load", &["csrs", &n.to_string(), csrs], &[]);
        let key = enrollment_key(&self.url, &self.authorization, n);
        let plain = || {
            let figures = run(
                &server_core,
                "plain_sign",
                &[csrs, &self.plain_seconds.to_string()],
                &[],
            );
            assert_eq!(
                figures[1], 1.0,
                "the plain loop runs on one thread, as the server"
            );
            (figures[0], figures[2])
        };
        let pharos = || {
            let (server, load) = (cpu_seconds(self.pid), children_cpu_seconds());
            let figures = run(
                &load_core,
                "est_load",
                &[
                    "enroll",
                    &self.url,
                    &self.ca_pem,
                    csrs,
                    &self.connections.to_string(),
                ],
                &[("PHAROS_BENCH_ENROLLMENT_KEY", &key)],
            );
            let (server, load) = (
                cpu_seconds(self.pid) - server,
                children_cpu_seconds() - load,
            );
            assert_eq!(figures[3], 0.0, "failed enrollments");
            let seconds = n as f64 / figures[0];
            (figures, server * 1e6 / n as f64, load / seconds)
        };
        let ((plain, plain_cpu_us), (figures, server_cpu_us, load_busy)) = if plain_first {
            let p = plain();
            (p, pharos())
        } else {
            let e = pharos();
            (plain(), e)
        };
        // the key was spent once per certificate, and is used up
        let keys = get(&self.url, &self.authorization, "/api/v1/enrollment/keys");
        let id = key.split(':').next().unwrap();
        let spent = keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == id)
            .expect("the round's key is listed");
        assert_eq!(spent["uses_left"], 0, "the key of {name}: {spent}");
        Round {
            plain,
            plain_cpu_us,
            enrollments: figures[0],
            p50_us: figures[1],
            p99_us: figures[2],
            server_cpu_us,
            load_busy,
        }
    }
}

fn main() {
    let o = options();
    let dir = tempfile::tempdir().unwrap();
    let (server_core, load_core) = cores();
    println!(
        "pharos and the plain loop on core {server_core}, the load on core {load_core}; {} rounds of {} requests, {} HTTPS connections",
        o.rounds, o.csrs, o.connections
    );
    let database = format!(
        "sqlite://{}/pharos.db?mode=rwc",
        dir.path().join("est").display()
    );
    let (server, url): (Process, String) =
        pharos_binary("pharos", dir.path(), "est", &database, true);
    let authorization = bearer(&url);
    let (status, _, pem) = request(&url, "GET", "/ca.pem", &[], "");
    assert_eq!(status, 200, "/ca.pem: {pem}");
    let ca_pem = dir.path().join("ca.pem");
    std::fs::write(&ca_pem, pem).unwrap();
    let bench = Bench {
        dir: dir.path(),
        url,
        pid: server.0.id(),
        authorization,
        ca_pem: ca_pem.to_str().unwrap().to_owned(),
        connections: o.connections,
        plain_seconds: 0.0,
    };

    // warm-up: the database, the caches and the code paths settled
    let warm_up = o.csrs.div_ceil(10);
    let first = bench.round("warm-up", warm_up, true);
    // the plain loop signs for about as long as Pharos will enroll (at least once through)
    let bench = Bench {
        plain_seconds: o.csrs as f64 / first.enrollments,
        ..bench
    };
    let mut rounds = Vec::new();
    for r in 1..=o.rounds {
        let f = bench.round(&format!("round-{r}"), o.csrs, r % 2 == 1);
        println!(
            "round {r}: plain {:>7.0} signings/s ({:>5.0} µs CPU each)  pharos {:>7.0} enrollments/s \
             ({:>5.0} µs server CPU each, p50 {:>6.0} µs, p99 {:>6.0} µs, load core {:.2})  ratio {:.3}",
            f.plain,
            f.plain_cpu_us,
            f.enrollments,
            f.server_cpu_us,
            f.p50_us,
            f.p99_us,
            f.load_busy,
            f.enrollments / f.plain
        );
        rounds.push(f);
    }
    // every enrollment left its certificate
    let listed = get(
        &bench.url,
        &bench.authorization,
        "/api/v1/enrollment/certificates",
    );
    let issued = listed["certificates"].as_array().unwrap().len();
    assert_eq!(issued, warm_up + o.rounds * o.csrs, "certificates listed");

    let m = |figure: fn(&Round) -> f64| median(rounds.iter().map(figure).collect());
    println!(
        "\n| Row | per second | ratio (median of rounds) | rounds | p50 | p99 | CPU per request |\n|---|---:|---:|---|---:|---:|---:|"
    );
    println!(
        "| plain rcgen parse + sign, 1 thread | {:.0} | | | | | {:.0} µs |",
        m(|f| f.plain),
        m(|f| f.plain_cpu_us)
    );
    println!(
        "| EST simpleenroll, HTTPS keep-alive, {} connections | {:.0} | {:.3} | {} | {:.0} µs | {:.0} µs | {:.0} µs (server) |",
        o.connections,
        m(|f| f.enrollments),
        m(|f| f.enrollments / f.plain),
        rounds
            .iter()
            .map(|f| format!("{:.3}", f.enrollments / f.plain))
            .collect::<Vec<_>>()
            .join(", "),
        m(|f| f.p50_us),
        m(|f| f.p99_us),
        m(|f| f.server_cpu_us),
    );
    println!(
        "server CPU per enrollment / plain CPU per signing: {:.2}; the load generator's core busy: {:.2}; {issued} certificates listed",
        m(|f| f.server_cpu_us / f.plain_cpu_us),
        m(|f| f.load_busy),
    );
}
