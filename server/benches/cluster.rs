//! Distributed mode measured from outside: three release `pharos` processes on one fresh
//! PostgreSQL database (from `PHAROS_TEST_POSTGRES_URL`), in distributed mode, pinned to the server
//! core; the device simulator, the propagation client and the plain UDP baseline each run as
//! their own process, pinned to the other core (the simulator, the client) or to the server core
//! (the baseline, which stands for a server). Loopback only: every server's UDP sockets on an
//! address of its own (127.0.0.11–13), so the simulator's tally tells who asked.
//!
//! 1. Propagation: a setting saved on s1 `--saves` times, each from sending the `PUT` until both
//!    s2 and s3 announced that version on their event streams (`examples/propagation.rs`).
//! 2. The online check of `--devices` simulated devices, 10 % silent, timeout 1000 ms: each
//!    server's scheduled rounds (`online_check` of `GET /api/v1/server`) while three share the
//!    devices, then s1 alone (s2 and s3 stopped); the round as a ratio to the timeout and to a
//!    plain round (`examples/plain_udp`) over as many devices, measured in the same turn while
//!    no server runs; CPU seconds per round of each server (`/proc`). `--rounds` turns.
//! 3. Failover: heartbeat every 1 s, timeout 3 s, a round every 1 s; `kill -9` of one server
//!    (`--kills` times, a different one each time) until every one of its devices was queried
//!    by another server (the simulator's `--tally`).
//!
//! `scripts/bench --cluster [--saves N] [--devices N] [--rounds R] [--kills K] [--only PART]`
//! builds what it needs and runs this (see BENCHMARKS.md); PART is `propagation`, `online` or
//! `failover`.

mod common;
#[path = "../tests/support/postgres.rs"]
mod postgres;

use bytes::Bytes;
use common::{ADMIN_PASSWORD, Process, bearer, binary, cores, cpu_seconds, median, start_pharos};
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use postgres::PgDatabase;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{ChildStdout, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const TIMEOUT_MS: u64 = 1000;
const FIRST: Ipv4Addr = Ipv4Addr::new(127, 100, 0, 1);
const SILENT: f64 = 0.1;
/// Scheduled rounds kept per server and phase in a turn (after one left out: the first round
/// after the servers changed reads the devices again).
const KEPT: usize = 2;
/// The failover part's timers.
const FAILOVER_HEARTBEAT_S: u64 = 1;
const FAILOVER_TIMEOUT_S: u64 = 3;
const FAILOVER_INTERVAL_S: u64 = 1;

struct Options {
    saves: usize,
    devices: usize,
    rounds: usize,
    kills: usize,
    only: Option<String>,
}

fn options() -> Options {
    let mut o = Options {
        saves: 200,
        devices: 50_000,
        rounds: 3,
        kills: 3,
        only: None,
    };
    let args: Vec<String> = std::env::args().collect();
    for pair in args.windows(2) {
        let value = || pair[1].parse().expect("a number");
        match pair[0].as_str() {
            "--saves" => o.saves = value(),
            "--devices" => o.devices = value(),
            "--rounds" => o.rounds = value(),
            "--kills" => o.kills = value(),
            "--only" => o.only = Some(pair[1].clone()),
            _ => {}
        }
    }
    o
}

impl Options {
    fn wants(&self, part: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| part.contains(only.as_str()))
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free UDP port")
        .port()
}

fn last_of(first: Ipv4Addr, count: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(first) + count as u32 - 1)
}

/// A blocking client of the REST API of any of the servers (the URL with each call: a restarted
/// server listens on a new port), signed in with the superuser's API token.
struct Api {
    runtime: tokio::runtime::Runtime,
    client: Client<HttpConnector, Full<Bytes>>,
    /// `Bearer …`
    authorization: String,
}

impl Api {
    fn new(url: &str) -> Api {
        Api {
            authorization: bearer(url).trim_start_matches("Authorization: ").to_owned(),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    fn call(
        &self,
        base: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        etag: Option<&str>,
    ) -> (StatusCode, Option<String>, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{base}{path}"))
            .header("authorization", &self.authorization)
            .header("content-type", "application/json");
        if let Some(etag) = etag {
            request = request.header("if-match", etag);
        }
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let request = request.body(Full::new(body)).unwrap();
        self.runtime.block_on(async {
            let response = self
                .client
                .request(request)
                .await
                .unwrap_or_else(|e| panic!("{base}{path}: {e}"));
            let status = response.status();
            let etag = response
                .headers()
                .get("etag")
                .map(|v| v.to_str().unwrap().to_owned());
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (
                status,
                etag,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            )
        })
    }

    fn get(&self, base: &str, path: &str) -> Value {
        let (status, _, body) = self.call(base, Method::GET, path, None, None);
        assert_eq!(status, StatusCode::OK, "GET {base}{path}: {body}");
        body
    }

    fn post(&self, base: &str, path: &str, body: Value) -> (StatusCode, Value) {
        let (status, _, body) = self.call(base, Method::POST, path, Some(&body), None);
        (status, body)
    }

    fn settings(&self, base: &str, change: impl FnOnce(&mut Value)) {
        let (_, etag, mut doc) =
            self.call(base, Method::GET, "/api/v1/settings/network", None, None);
        change(&mut doc);
        let (status, _, body) = self.call(
            base,
            Method::PUT,
            "/api/v1/settings/network",
            Some(&doc),
            etag.as_deref(),
        );
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    fn scan(&self, base: &str, ranges: &[String]) -> Value {
        let (status, body) = self.post(base, "/api/v1/scans", json!({ "ranges": ranges }));
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let id = body["id"].as_str().unwrap().to_owned();
        loop {
            let scan = self.get(base, &format!("/api/v1/scans/{id}"));
            if scan["state"] != "running" {
                assert_eq!(scan["state"], "done", "{}", scan["error"]);
                return scan;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The device simulator, pinned to the load core, on a fixed port (so that it can be replaced
/// without restarting the servers).
struct Sim {
    _process: Process,
    /// Kept open: the simulator may still write to it.
    _stdout: BufReader<ChildStdout>,
    devices: Vec<Value>,
}

impl Sim {
    fn start(
        dir: &Path,
        count: usize,
        ports: (u16, u16),
        silent: f64,
        tally: Option<&Path>,
    ) -> Sim {
        let manifest = dir.join("devices.json");
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(dir.join("devsim.log"))
            .unwrap();
        let mut command = Command::new("taskset");
        command
            .args(["-c", &cores().1])
            .arg(binary("pharos-devsim"))
            .args(["--devices", &count.to_string()])
            .args(["--first-ip", &FIRST.to_string()])
            .args(["--port", &ports.0.to_string()])
            .args(["--wol-port", &ports.1.to_string()])
            .arg("--manifest")
            .arg(&manifest)
            .args(["--offline-fraction", &silent.to_string(), "--seed", "42"]);
        if let Some(tally) = tally {
            command.arg("--tally").arg(tally);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("the simulator starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let process = Process(child);
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the simulator's output");
        assert!(line.starts_with("ready "), "simulator: {line:?}");
        let devices: Vec<Value> =
            serde_json::from_slice(&std::fs::read(&manifest).expect("the manifest")).unwrap();
        assert_eq!(devices.len(), count);
        Sim {
            _process: process,
            _stdout: stdout,
            devices,
        }
    }

    fn silent(&self) -> usize {
        self.devices.iter().filter(|d| d["asleep"] == true).count()
    }

    /// Silent devices among the first `count` addresses.
    fn silent_in_first(&self, count: usize) -> usize {
        self.devices[..count]
            .iter()
            .filter(|d| d["asleep"] == true)
            .count()
    }
}

/// One `pharos` process of the cluster, pinned to the server core, started (again) on its own
/// data directory; its discovery sockets on `udp`.
struct Server {
    name: String,
    udp: Ipv4Addr,
    data: PathBuf,
    url: String,
    process: Option<Process>,
}

impl Server {
    fn new(dir: &Path, index: u8) -> Server {
        let name = format!("s{index}");
        Server {
            data: dir.join(&name),
            name,
            udp: Ipv4Addr::new(127, 0, 0, 10 + index),
            url: String::new(),
            process: None,
        }
    }

    fn pid(&self) -> u32 {
        self.process.as_ref().expect("running").0.id()
    }

    fn running(&self) -> bool {
        self.process.is_some()
    }

    fn start(&mut self, env: &[(&'static str, String)]) {
        assert!(self.process.is_none(), "{} runs already", self.name);
        std::fs::create_dir_all(&self.data).unwrap();
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.data.join("pharos.log"))
            .unwrap();
        let mut command = Command::new("taskset");
        command
            .args(["-c", &cores().0])
            .arg(binary("pharos"))
            .env("PHAROS_SERVER_NAME", &self.name)
            .env("PHAROS_UDP_BIND", self.udp.to_string())
            .env("PHAROS_SITE_ROOT", self.data.join("no-site"))
            .env("RUST_LOG", "info")
            .envs(env.iter().map(|(k, v)| (k, v)));
        let (process, url) = start_pharos(command, &self.data, log, false);
        self.process = Some(process);
        self.url = url;
    }

    /// SIGTERM, as an administrator stops it: it marks itself stopped, so the others see it
    /// leave at once.
    fn stop(&mut self) {
        let mut process = self.process.take().expect("running");
        let status = Command::new("kill")
            .args(["-TERM", &process.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        while process.0.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "{} did not stop in 30 s",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `kill -9`: no goodbye.
    fn kill(&mut self) {
        let mut process = self.process.take().expect("running");
        process.0.kill().unwrap();
        process.0.wait().unwrap();
    }
}

/// What every server is started with; `timers`: heartbeat interval, heartbeat timeout and
/// online-check interval in seconds, or the defaults (5, 30, 3) when `None`.
fn environment(
    database: &str,
    ports: (u16, u16),
    timers: Option<(u64, u64, u64)>,
) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("PHAROS_DATABASE_URL", database.to_owned()),
        ("PHAROS_ADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
        // servers sharing a database share the key sealing its private keys
        (
            "PHAROS_SECRET_KEY",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [0x42u8; 32]),
        ),
        ("PHAROS_DEVICE_PORT", ports.0.to_string()),
        ("PHAROS_WAKE_ON_LAN_ADDRESS", "127.255.255.255".to_owned()),
        ("PHAROS_WAKE_ON_LAN_PORT", ports.1.to_string()),
        ("PHAROS_SCAN_SEND_RATE", "0".to_owned()),
        ("PHAROS_SHUTDOWN_TIMEOUT_SECS", "5".to_owned()),
    ];
    if let Some((interval, timeout, rounds)) = timers {
        env.extend([
            ("PHAROS_HEARTBEAT_INTERVAL_SECS", interval.to_string()),
            ("PHAROS_HEARTBEAT_TIMEOUT_SECS", timeout.to_string()),
            ("PHAROS_ONLINE_CHECK_INTERVAL_SECS", rounds.to_string()),
        ]);
    }
    env
}

/// Waits until every running server runs in distributed mode and sees them all alive.
fn until_cluster(api: &Api, servers: &[Server]) {
    let running: Vec<&Server> = servers.iter().filter(|s| s.running()).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    for server in &running {
        loop {
            let status = api.get(&server.url, "/api/v1/server");
            let alive = status["servers"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["alive"] == true)
                .count();
            if status["distributed"]["running"] == true && alive == running.len() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{}: not a cluster of {}: {status}",
                server.name,
                running.len()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A scheduled round as a server reported it, and that server's CPU seconds when it was seen.
#[derive(Clone, Debug)]
struct Seen {
    round: Value,
    cpu_s: f64,
}

impl Seen {
    fn ms(&self) -> f64 {
        self.round["duration_ms"].as_f64().unwrap()
    }

    fn at_ms(&self) -> f64 {
        let at = self.round["at"].as_str().unwrap();
        let t = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
            .expect("an RFC 3339 time");
        t.unix_timestamp_nanos() as f64 / 1e6
    }
}

/// Follows the scheduled rounds of `servers` (`online_check` of `GET /api/v1/server`, every
/// 50 ms) until each has reported `1 + kept` rounds shared among `sharing` servers: the first is
/// left out (the devices are read again when the servers change). Answers, per server, the rounds
/// kept and its CPU seconds per round from the end of the left-out round to the end of the last.
fn follow_rounds(
    api: &Api,
    servers: &[&Server],
    sharing: u64,
    kept: usize,
) -> Vec<(Vec<Seen>, f64)> {
    let mut last_at: Vec<Option<String>> = servers
        .iter()
        .map(|s| {
            api.get(&s.url, "/api/v1/server")["online_check"]["at"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    let mut seen: Vec<Vec<Seen>> = vec![Vec::new(); servers.len()];
    let deadline = Instant::now() + Duration::from_secs(120 + 20 * kept as u64);
    while seen.iter().any(|s| s.len() < 1 + kept) {
        assert!(
            Instant::now() < deadline,
            "the rounds of {sharing} servers did not come: {:?}",
            seen.iter().map(Vec::len).collect::<Vec<_>>()
        );
        for (i, server) in servers.iter().enumerate() {
            if seen[i].len() > kept {
                continue;
            }
            let round = api.get(&server.url, "/api/v1/server")["online_check"].clone();
            let at = round["at"].as_str().map(str::to_owned);
            if at.is_none() || at == last_at[i] {
                continue;
            }
            let cpu_s = cpu_seconds(server.pid());
            last_at[i] = at;
            if round["servers"].as_u64() == Some(sharing) {
                seen[i].push(Seen { round, cpu_s });
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    seen.into_iter()
        .map(|s| {
            let cpu = (s[kept].cpu_s - s[0].cpu_s) / kept as f64;
            (s[1..].to_vec(), cpu)
        })
        .collect()
}

/// A plain round over the first `count` devices, in its own process on the server core:
/// milliseconds and answers.
fn plain_round(port: u16, count: usize) -> (f64, u64) {
    let out = Command::new("taskset")
        .args(["-c", &cores().0])
        .arg(binary("examples/plain_udp"))
        .args(["round", &FIRST.to_string(), &count.to_string()])
        .args([port.to_string(), TIMEOUT_MS.to_string()])
        .output()
        .expect("the plain round runs");
    let v: Value = serde_json::from_slice(&out.stdout).expect("the plain round prints JSON");
    (v["ms"].as_f64().unwrap(), v["answered"].as_u64().unwrap())
}

/// Propagation: what the client printed.
fn propagation(api: &Api, servers: &[Server], saves: usize) -> Value {
    let out = Command::new("taskset")
        .args(["-c", &cores().1])
        .arg(binary("examples/propagation"))
        .arg(saves.to_string())
        .args(servers.iter().map(|s| &s.url))
        .env("PHAROS_BENCH_AUTHORIZATION", &api.authorization)
        .output()
        .expect("propagation runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "propagation failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(text.trim()).expect("propagation prints JSON")
}

/// Registers every simulated device (all answering now) through one server: a scan of their
/// range, then registration of what it found, as an admin would.
fn register(api: &Api, server: &Server, count: usize) {
    let started = Instant::now();
    let range = format!("{FIRST}-{}", last_of(FIRST, count));
    let scan = api.scan(&server.url, &[range]);
    let macs: Vec<Value> = scan["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["mac"].clone())
        .collect();
    assert_eq!(macs.len(), count, "the scan found every device");
    let (status, body) = api.post(
        &server.url,
        &format!("/api/v1/scans/{}/register", scan["id"].as_str().unwrap()),
        json!({ "macs": macs }),
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    let total = api.get(&server.url, "/api/v1/devices?limit=1")["total"]
        .as_u64()
        .unwrap();
    assert_eq!(total as usize, count);
    println!(
        "registered {count} devices in {:.1} s (a scan, then its results)",
        started.elapsed().as_secs_f64()
    );
}

/// What one turn of the online-check part measured.
#[derive(Default)]
struct Turn {
    /// Per server of the three: round durations (ms), CPU seconds per round, devices checked.
    shared: Vec<(Vec<f64>, f64, u64)>,
    alone: (Vec<f64>, f64),
    plain_share: Vec<f64>,
    plain_all: Vec<f64>,
    share_size: usize,
    exact: bool,
}

fn online_turn(
    api: &Api,
    servers: &mut [Server],
    env: &[(&'static str, String)],
    sim: &Sim,
    port: u16,
) -> Turn {
    let count = sim.devices.len();
    let silent = sim.silent() as u64;
    let mut turn = Turn {
        exact: true,
        ..Turn::default()
    };
    for server in servers.iter_mut().filter(|s| !s.running()) {
        server.start(env);
    }
    until_cluster(api, servers);
    let all: Vec<&Server> = servers.iter().collect();
    let shared = follow_rounds(api, &all, 3, KEPT);
    let (mut checked, mut offline) = (0, 0);
    for (rounds, cpu) in &shared {
        let last = &rounds.last().unwrap().round;
        checked += last["checked"].as_u64().unwrap();
        offline += last["offline"].as_u64().unwrap();
        turn.shared.push((
            rounds.iter().map(Seen::ms).collect(),
            *cpu,
            last["checked"].as_u64().unwrap(),
        ));
    }
    if checked != count as u64 || offline != silent {
        println!(
            "  shared rounds: {checked} checked ({count} devices), {offline} offline ({silent} silent)"
        );
        turn.exact = false;
    }
    turn.share_size = median(turn.shared.iter().map(|s| s.2 as f64).collect()).round() as usize;

    // s1 alone: the others stop as administrators stop them
    servers[1].stop();
    servers[2].stop();
    let alone = follow_rounds(api, &[&servers[0]], 1, KEPT);
    let (rounds, cpu) = &alone[0];
    for seen in rounds {
        if seen.round["checked"].as_u64() != Some(count as u64)
            || seen.round["offline"].as_u64() != Some(silent)
        {
            println!("  alone: {}", seen.round);
            turn.exact = false;
        }
    }
    turn.alone = (rounds.iter().map(Seen::ms).collect(), *cpu);
    servers[0].stop();

    // the plain loop while no server runs: over as many devices as a share, and over all
    for _ in 0..KEPT {
        let (ms, answered) = plain_round(port, turn.share_size);
        turn.exact &= answered as usize == turn.share_size - sim.silent_in_first(turn.share_size);
        turn.plain_share.push(ms);
        let (ms, answered) = plain_round(port, count);
        turn.exact &= answered == count as u64 - silent;
        turn.plain_all.push(ms);
    }
    println!(
        "  turn: shared rounds {:?} ms, alone {:?} ms, plain over {} {:?} ms, plain over {count} {:?} ms",
        turn.shared
            .iter()
            .map(|s| s.0.iter().map(|v| v.round()).collect::<Vec<_>>())
            .collect::<Vec<_>>(),
        turn.alone.0.iter().map(|v| v.round()).collect::<Vec<_>>(),
        turn.share_size,
        turn.plain_share
            .iter()
            .map(|v| v.round())
            .collect::<Vec<_>>(),
        turn.plain_all.iter().map(|v| v.round()).collect::<Vec<_>>(),
    );
    turn
}

#[derive(Deserialize, Clone, Copy, Default, Debug)]
struct FromSource {
    count: u64,
    last_ms: u64,
}

#[derive(Deserialize)]
struct Tally {
    written_ms: u64,
    status_queries: HashMap<String, HashMap<String, FromSource>>,
}

impl Tally {
    /// The tally as written after `after_ms`.
    fn newer(path: &Path, after_ms: u64) -> Tally {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(path).expect("the tally");
            let tally: Tally = serde_json::from_str(&text).expect("the tally is JSON");
            if tally.written_ms > after_ms {
                return tally;
            }
            assert!(Instant::now() < deadline, "the tally is not written");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn queries(&self, device: &str, source: &str) -> FromSource {
        self.status_queries
            .get(device)
            .and_then(|by| by.get(source))
            .copied()
            .unwrap_or_default()
    }
}

/// One failover: what it took.
struct Failover {
    victim: String,
    devices: usize,
    /// From the kill to the first and to the last of its devices queried by another server.
    first_ms: u64,
    last_ms: u64,
    /// Every one of its devices was queried by exactly one of the others.
    exact: bool,
}

fn failover(api: &Api, servers: &mut [Server], victim: usize, tally: &Path) -> Failover {
    let all: Vec<&Server> = servers.iter().collect();
    follow_rounds(api, &all, 3, 1);
    // the victim's devices: those it queried over two rounds and more, now that three share
    let before = Tally::newer(tally, unix_ms());
    std::thread::sleep(Duration::from_millis(2500 * FAILOVER_INTERVAL_S.max(1)));
    let steady = Tally::newer(tally, unix_ms());
    let sources: Vec<String> = servers.iter().map(|s| s.udp.to_string()).collect();
    let source = |i: usize| sources[i].clone();
    let victim_source = source(victim);
    let survivors: Vec<usize> = (0..servers.len()).filter(|&i| i != victim).collect();
    let devices: Vec<String> = steady
        .status_queries
        .iter()
        .filter(|(device, _)| {
            steady.queries(device, &victim_source).count
                > before.queries(device, &victim_source).count
        })
        .map(|(device, _)| device.clone())
        .collect();
    assert!(
        !devices.is_empty(),
        "{} queried no device",
        servers[victim].name
    );
    let killed_ms = unix_ms();
    servers[victim].kill();
    let mut taken: BTreeMap<String, (u64, usize)> = BTreeMap::new();
    let mut exact = true;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut written = killed_ms;
    while taken.len() < devices.len() {
        assert!(
            Instant::now() < deadline,
            "{} of the {} devices of {} queried by another server in 60 s",
            taken.len(),
            devices.len(),
            servers[victim].name
        );
        let now = Tally::newer(tally, written);
        written = now.written_ms;
        for device in &devices {
            if taken.contains_key(device) {
                continue;
            }
            let asked: Vec<(usize, FromSource)> = survivors
                .iter()
                .map(|&i| (i, now.queries(device, &source(i))))
                .filter(|(i, q)| q.count > steady.queries(device, &source(*i)).count)
                .collect();
            if let Some((i, q)) = asked.first() {
                // the tally is written every 250 ms and a round comes at most every second:
                // the last query is the first since the kill
                exact &=
                    asked.len() == 1 && q.count == steady.queries(device, &source(*i)).count + 1;
                taken.insert(device.clone(), (q.last_ms, *i));
            }
        }
    }
    let times: Vec<u64> = taken
        .values()
        .map(|(t, _)| t.saturating_sub(killed_ms))
        .collect();
    Failover {
        victim: servers[victim].name.clone(),
        devices: devices.len(),
        first_ms: *times.iter().min().unwrap(),
        last_ms: *times.iter().max().unwrap(),
        exact,
    }
}

fn ms(figure: f64) -> String {
    format!("{figure:.1} ms")
}

fn main() {
    let o = options();
    let dir = tempfile::tempdir().unwrap();
    let (core_server, core_load) = cores();
    println!(
        "three pharos on core {core_server}; pharos-devsim and the propagation client on core \
         {core_load}, the plain round on core {core_server}; PostgreSQL not pinned; loopback only"
    );
    let pg = block_on(PgDatabase::create("bench_cluster"));
    let ports = (free_udp_port(), free_udp_port());
    let count = o.devices;
    // every device answering while they are registered (found by a scan)
    let mut sim = Some(Sim::start(dir.path(), count, ports, 0.0, None));
    let normal = environment(&pg.url, ports, None);
    let mut servers: Vec<Server> = (1..=3).map(|i| Server::new(dir.path(), i)).collect();

    // distributed mode on, stored through s1 alone, which is then started again with the others
    servers[0].start(&normal);
    let api = Api::new(&servers[0].url);
    api.settings(&servers[0].url, |doc| {
        doc["distributed"]["enabled"] = json!(true);
        doc["online_check"]["enabled"] = json!(true);
        doc["online_check"]["response_timeout_ms"] = json!(TIMEOUT_MS);
        doc["scan"]["timeout_ms"] = json!(TIMEOUT_MS);
        doc["scan"]["broadcast_ip"] = json!("127.255.255.255");
    });
    servers[0].stop();
    for server in servers.iter_mut() {
        server.start(&normal);
    }
    until_cluster(&api, &servers);

    // 1. propagation (no device registered yet)
    let propagated = o.wants("propagation").then(|| {
        let p = propagation(&api, &servers, o.saves);
        println!("propagation: {p}");
        p
    });

    let mut silent = 0;
    let mut turns = Vec::new();
    let mut failovers = Vec::new();
    let mut failover_rounds = Vec::new();
    if o.wants("online") || o.wants("failover") {
        register(&api, &servers[0], count);
        // the same devices (same seed and addresses), a tenth of them silent now
        let old: Vec<Value> = sim.take().unwrap().devices;
        sim = Some(Sim::start(dir.path(), count, ports, SILENT, None));
        let same = old
            .iter()
            .zip(&sim.as_ref().unwrap().devices)
            .all(|(a, b)| a["ip"] == b["ip"] && a["mac"] == b["mac"]);
        assert!(same, "the simulator made other devices with the same seed");
        silent = sim.as_ref().unwrap().silent();
        println!("{silent} of the {count} devices silent from now on");
    }

    // 2. the online check: three sharing, then s1 alone, then the plain loop, turn by turn
    if o.wants("online") {
        for turn in 1..=o.rounds {
            println!("online check, turn {turn} of {}:", o.rounds);
            turns.push(online_turn(
                &api,
                &mut servers,
                &normal,
                sim.as_ref().unwrap(),
                ports.0,
            ));
        }
    }

    // 3. failover, with short timers and the simulator's tally
    if o.wants("failover") {
        for server in servers.iter_mut().filter(|s| s.running()) {
            server.stop();
        }
        let tally = dir.path().join("tally.json");
        drop(sim.take());
        sim = Some(Sim::start(dir.path(), count, ports, SILENT, Some(&tally)));
        let short = environment(
            &pg.url,
            ports,
            Some((
                FAILOVER_HEARTBEAT_S,
                FAILOVER_TIMEOUT_S,
                FAILOVER_INTERVAL_S,
            )),
        );
        for server in servers.iter_mut() {
            server.start(&short);
        }
        until_cluster(&api, &servers);
        // the rounds of three sharing with these timers: their duration and how often they come
        let all: Vec<&Server> = servers.iter().collect();
        for (rounds, _) in follow_rounds(&api, &all, 3, 3) {
            let gaps: Vec<f64> = rounds
                .windows(2)
                .map(|w| w[1].at_ms() - w[0].at_ms())
                .collect();
            failover_rounds.push((median(rounds.iter().map(Seen::ms).collect()), median(gaps)));
        }
        for kill in 0..o.kills {
            let victim = 2 - kill % 3;
            let f = failover(&api, &mut servers, victim, &tally);
            println!(
                "failover {}: kill -9 of {}: its {} devices queried by the others from {} to {} ms after{}",
                kill + 1,
                f.victim,
                f.devices,
                f.first_ms,
                f.last_ms,
                if f.exact {
                    ""
                } else {
                    " (NOT each by exactly one other server)"
                }
            );
            failovers.push(f);
            servers[victim].start(&short);
            until_cluster(&api, &servers);
        }
    }
    for server in servers.iter_mut().filter(|s| s.running()) {
        server.stop();
    }
    drop(sim);

    // -- the tables ------------------------------------------------------------------------------
    if let Some(p) = &propagated {
        println!(
            "\n| Propagation, 3 servers in distributed mode on one PostgreSQL, {} saves on s1 | p50 | p99 | max | goal |\n|---|---:|---:|---:|---|",
            o.saves
        );
        let row = |label: &str, f: &Value| {
            let us = |k: &str| f[k].as_f64().unwrap() / 1000.0;
            println!(
                "| {label} | {} | {} | {} | p50 ≤ 50 ms, max ≤ 1 s |",
                ms(us("p50_us")),
                ms(us("p99_us")),
                ms(us("max_us"))
            );
        };
        row("announced by both s2 and s3", &p["all"]);
        for (name, f) in ["s2", "s3"].iter().zip(p["servers"].as_array().unwrap()) {
            row(&format!("… by {name}"), f);
        }
    }
    if !turns.is_empty() {
        println!(
            "\n| Online check, {count} devices ({silent} silent), timeout {TIMEOUT_MS} ms; turns: {}, {KEPT} scheduled rounds kept per server and turn | devices checked | round (median) | round / timeout | plain round over as many devices | round / plain (median of turns) | CPU per round | classification |\n|---|---:|---:|---:|---:|---:|---:|---|",
            turns.len()
        );
        let exact = turns.iter().all(|t| t.exact);
        let verdict = if exact { "exactly right" } else { "WRONG" };
        for (i, name) in ["s1", "s2", "s3"].iter().enumerate() {
            let rounds: Vec<f64> = turns.iter().flat_map(|t| t.shared[i].0.clone()).collect();
            let ratios: Vec<f64> = turns
                .iter()
                .map(|t| median(t.shared[i].0.clone()) / median(t.plain_share.clone()))
                .collect();
            let plain: Vec<f64> = turns.iter().flat_map(|t| t.plain_share.clone()).collect();
            println!(
                "| {name}, one of 3 sharing | {:.0} | {} | {:.3} (goal ≤ 1.10) | {} ({:.0} devices) | {:.3} | {:.2} s | {verdict} |",
                median(turns.iter().map(|t| t.shared[i].2 as f64).collect()),
                ms(median(rounds.clone())),
                median(rounds) / TIMEOUT_MS as f64,
                ms(median(plain)),
                median(turns.iter().map(|t| t.share_size as f64).collect()),
                median(ratios),
                median(turns.iter().map(|t| t.shared[i].1).collect()),
            );
        }
        let together: Vec<f64> = turns
            .iter()
            .map(|t| t.shared.iter().map(|s| s.1).sum())
            .collect();
        println!(
            "| the three together | {count} | | | | | {:.2} s | |",
            median(together)
        );
        let rounds: Vec<f64> = turns.iter().flat_map(|t| t.alone.0.clone()).collect();
        let ratios: Vec<f64> = turns
            .iter()
            .map(|t| median(t.alone.0.clone()) / median(t.plain_all.clone()))
            .collect();
        println!(
            "| s1 alone (s2 and s3 stopped) | {count} | {} | {:.3} (goal ≤ 1.10) | {} ({count} devices) | {:.3} | {:.2} s | {verdict} |",
            ms(median(rounds.clone())),
            median(rounds) / TIMEOUT_MS as f64,
            ms(median(
                turns.iter().flat_map(|t| t.plain_all.clone()).collect()
            )),
            median(ratios),
            median(turns.iter().map(|t| t.alone.1).collect()),
        );
        println!(
            "\nRound: first query to verdict, as each server reports its last scheduled round \
             (`online_check` of GET /api/v1/server); the interval between rounds: the default \
             (3 s), heartbeat every 5 s, timeout 30 s. Plain round: examples/plain_udp over the \
             first N devices (consecutive addresses, silent ones among them as in the share), \
             on the server core, while no server ran, {KEPT} per turn. CPU per round: the \
             server's user + system time from the end of the round left out to the end of the \
             last one kept, divided by the rounds (its work between rounds included)."
        );
    }
    if !failovers.is_empty() {
        let round = median(failover_rounds.iter().map(|r| r.0).collect());
        let cadence = median(failover_rounds.iter().map(|r| r.1).collect());
        let goal = FAILOVER_TIMEOUT_S as f64 * 1000.0 + cadence.max(round);
        println!(
            "\n| Failover: kill -9 of one of 3 | its devices | to the first of them queried by another server | to the last | goal | each by exactly one other |\n|---|---:|---:|---:|---|---|"
        );
        for f in &failovers {
            println!(
                "| {} | {} | {} ms | **{} ms** | ≤ {:.0} ms | {} |",
                f.victim,
                f.devices,
                f.first_ms,
                f.last_ms,
                goal,
                if f.exact { "yes" } else { "NO" }
            );
        }
        println!(
            "\nSettings: heartbeat every {FAILOVER_HEARTBEAT_S} s, timeout {FAILOVER_TIMEOUT_S} s, \
             online check every {FAILOVER_INTERVAL_S} s (PHAROS_HEARTBEAT_INTERVAL_SECS, \
             PHAROS_HEARTBEAT_TIMEOUT_SECS, PHAROS_ONLINE_CHECK_INTERVAL_SECS), response timeout \
             {TIMEOUT_MS} ms, {count} devices; rounds of three sharing lasted {round:.0} ms \
             (median) and came every {cadence:.0} ms. Goal: the heartbeat timeout + one round \
             (the longer of the two) = {goal:.0} ms. Measured from the harness's clock just \
             before the kill to the simulator's record (--tally) of each device's first status \
             query from another server after it."
        );
    }
    drop(pg);
}
