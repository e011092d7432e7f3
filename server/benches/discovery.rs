//! Discovery measured from outside: the release `pharos`, the device simulator and the plain UDP
//! baselines each run as their own process, on loopback only. Every figure is a ratio to a
//! baseline measured in the same run, the two taking turns round by round.
//!
//! - The online check over 10,000 and 50,000 simulated devices, 10% of them silent, timeout
//!   1000 ms: round time / timeout, round time / a plain request-reply round over the same
//!   devices, whether every device was classified right, CPU seconds per round and the server's
//!   peak memory.
//! - The same with every device answering: round time / plain round.
//! - A scan of a /16 with 1,000 devices, unthrottled: datagrams per second / a plain send loop;
//!   whether every device was found.
//!
//! `scripts/bench --discovery [--rounds R] [--devices N,N]` builds what it needs and runs this
//! (see BENCHMARKS.md).

mod common;
#[path = "../tests/support/devsim.rs"]
#[allow(dead_code)] // shared with the API tests, which use all of it
mod devsim;

use bytes::Bytes;
use common::{ADMIN_PASSWORD, Process, bearer, binary, cpu_seconds, median, start_pharos};
use devsim::Simulator;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const TIMEOUT_MS: u64 = 1000;
const FIRST: Ipv4Addr = Ipv4Addr::new(127, 100, 0, 1);
const SCAN_FIRST: Ipv4Addr = Ipv4Addr::new(127, 200, 0, 1);
/// A whole /16, every one of its 65,536 addresses (a block written as a range: as a CIDR block
/// its network and broadcast addresses would be left out).
const SCAN_RANGE: &str = "127.200.0.0-127.200.255.255";
const SCAN_ADDRESSES: usize = 65_536;

struct Options {
    rounds: usize,
    devices: Vec<usize>,
}

fn options() -> Options {
    let mut o = Options {
        rounds: 5,
        devices: vec![10_000, 50_000],
    };
    let args: Vec<String> = std::env::args().collect();
    for pair in args.windows(2) {
        match pair[0].as_str() {
            "--rounds" => o.rounds = pair[1].parse().expect("a number"),
            "--devices" => {
                o.devices = pair[1]
                    .split(',')
                    .map(|n| n.parse().expect("numbers"))
                    .collect()
            }
            _ => {}
        }
    }
    o
}

/// A blocking client of the REST API.
struct Api {
    runtime: tokio::runtime::Runtime,
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    /// `Bearer …`: the superuser's API token.
    authorization: String,
}

impl Api {
    fn new(base: String) -> Api {
        let authorization = bearer(&base)
            .trim_start_matches("Authorization: ")
            .to_owned();
        Api {
            authorization,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            client: Client::builder(TokioExecutor::new()).build_http(),
            base,
        }
    }

    fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        etag: Option<&str>,
    ) -> (StatusCode, Option<String>, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
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
                .expect("the server answers");
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

    fn get(&self, path: &str) -> Value {
        let (status, _, body) = self.call(Method::GET, path, None, None);
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let (status, _, body) = self.call(Method::POST, path, Some(&body), None);
        (status, body)
    }

    fn settings(&self, change: impl FnOnce(&mut Value)) {
        let (_, etag, mut doc) = self.call(Method::GET, "/api/v1/settings/network", None, None);
        change(&mut doc);
        let (status, _, body) = self.call(
            Method::PUT,
            "/api/v1/settings/network",
            Some(&doc),
            etag.as_deref(),
        );
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    fn scan(&self, ranges: &[String]) -> Value {
        let (status, body) = self.post("/api/v1/scans", json!({ "ranges": ranges }));
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let id = body["id"].as_str().unwrap().to_owned();
        loop {
            let scan = self.get(&format!("/api/v1/scans/{id}"));
            if scan["state"] != "running" {
                assert_eq!(scan["state"], "done", "{}", scan["error"]);
                return scan;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The release `pharos` on `data`, speaking to devices on `device_port`, never sending a
/// datagram off the machine; its rounds run only when asked.
fn pharos(data: &Path, device_port: u16) -> (Process, Api) {
    std::fs::create_dir_all(data).unwrap();
    let log = std::fs::File::options()
        .create(true)
        .append(true)
        .open(data.join("pharos.log"))
        .unwrap();
    let mut command = Command::new(binary("pharos"));
    command
        .env("PHAROS_UDP_BIND", "127.0.0.1")
        .env("PHAROS_DEVICE_PORT", device_port.to_string())
        .env("PHAROS_WAKE_ON_LAN_ADDRESS", "127.255.255.255")
        .env("PHAROS_ONLINE_CHECK_INTERVAL_SECS", "86400")
        .env("PHAROS_SCAN_SEND_RATE", "0")
        .env("PHAROS_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "warn");
    // plain HTTP (its API client speaks no TLS): what is measured is UDP
    let (child, url) = start_pharos(command, data, log, false);
    let api = Api::new(url);
    api.settings(|doc| {
        doc["online_check"]["response_timeout_ms"] = json!(TIMEOUT_MS);
        doc["online_check"]["enabled"] = json!(true);
        doc["scan"]["timeout_ms"] = json!(TIMEOUT_MS);
        doc["scan"]["broadcast_ip"] = json!("127.255.255.255");
    });
    (child, api)
}

fn simulator(count: usize, first: Ipv4Addr, silent: f64) -> Simulator {
    Simulator::start(
        &binary("pharos-devsim"),
        count,
        first,
        &["--offline-fraction", &silent.to_string(), "--seed", "42"],
    )
}

fn last_of(first: Ipv4Addr, count: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(first) + count as u32 - 1)
}

/// A plain round over the same devices, in its own process: milliseconds and answers.
fn plain_round(sim: &Simulator, count: usize) -> (f64, u64) {
    let out = Command::new(binary("examples/plain_udp"))
        .args(["round", &FIRST.to_string(), &count.to_string()])
        .args([sim.port.to_string(), TIMEOUT_MS.to_string()])
        .output()
        .expect("the plain round runs");
    let v: Value = serde_json::from_slice(&out.stdout).expect("the plain round prints JSON");
    (v["ms"].as_f64().unwrap(), v["answered"].as_u64().unwrap())
}

fn plain_send(sim: &Simulator, first: Ipv4Addr, count: usize) -> f64 {
    let out = Command::new(binary("examples/plain_udp"))
        .args([
            "send",
            &first.to_string(),
            &count.to_string(),
            &sim.port.to_string(),
        ])
        .output()
        .expect("the plain send loop runs");
    let v: Value = serde_json::from_slice(&out.stdout).expect("the send loop prints JSON");
    v["per_second"].as_f64().unwrap()
}

fn peak_memory_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib / 1024.0
}

/// Registers every simulated device: the ones that answer through a scan (as an admin would),
/// the silent ones by address and MAC.
fn register(api: &Api, sim: &Simulator, count: usize) {
    let started = Instant::now();
    let range = format!("{FIRST}-{}", last_of(FIRST, count));
    let scan = api.scan(&[range]);
    let macs: Vec<Value> = scan["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["mac"].clone())
        .collect();
    let (status, body) = api.post(
        &format!("/api/v1/scans/{}/register", scan["id"].as_str().unwrap()),
        json!({ "macs": macs }),
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    for device in sim.asleep() {
        let (status, body) = api.post(
            "/api/v1/devices",
            json!({ "ip": device["ip"], "mac": device["mac"] }),
        );
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let total = api.get("/api/v1/devices?limit=1")["total"]
        .as_u64()
        .unwrap();
    assert_eq!(total as usize, count);
    println!(
        "  registered {count} devices in {:.1} s ({} found by a scan of {} addresses)",
        started.elapsed().as_secs_f64(),
        macs.len(),
        scan["sent"]
    );
}

/// The addresses the server lists with this status.
fn listed(api: &Api, status: &str) -> HashSet<String> {
    let mut ips = HashSet::new();
    let mut offset = 0;
    loop {
        let page = api.get(&format!(
            "/api/v1/devices?status={status}&limit=1000&offset={offset}"
        ));
        let devices = page["devices"].as_array().unwrap();
        ips.extend(devices.iter().map(|d| d["ip"].as_str().unwrap().to_owned()));
        offset += devices.len();
        if devices.is_empty() || offset as u64 >= page["total"].as_u64().unwrap() {
            return ips;
        }
    }
}

struct Rounds {
    pharos_ms: Vec<f64>,
    http_ms: Vec<f64>,
    plain_ms: Vec<f64>,
    cpu_s: Vec<f64>,
    exact: bool,
}

/// Rounds of Pharos and of the plain loop, taking turns.
fn rounds(api: &Api, pid: u32, sim: &Simulator, count: usize, n: usize, silent: usize) -> Rounds {
    let mut r = Rounds {
        pharos_ms: vec![],
        http_ms: vec![],
        plain_ms: vec![],
        cpu_s: vec![],
        exact: true,
    };
    for _ in 0..n {
        let (plain, answered) = plain_round(sim, count);
        r.plain_ms.push(plain);
        r.exact &= answered as usize == count - silent;
        let cpu = cpu_seconds(pid);
        let started = Instant::now();
        let (status, report) = api.post("/api/v1/online-check/run", json!({}));
        r.http_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        r.cpu_s.push(cpu_seconds(pid) - cpu);
        assert_eq!(status, StatusCode::OK, "{report}");
        r.pharos_ms.push(report["duration_ms"].as_f64().unwrap());
        let right = report["online"].as_u64() == Some((count - silent) as u64)
            && report["offline"].as_u64() == Some(silent as u64);
        if !right {
            println!("  misclassified: {report}");
        }
        r.exact &= right;
    }
    r
}

fn report(label: &str, r: &Rounds, goal: &str) {
    let (p, h, b) = (
        median(r.pharos_ms.clone()),
        median(r.http_ms.clone()),
        median(r.plain_ms.clone()),
    );
    println!(
        "  {label}: round {p:.0} ms (HTTP call {h:.0} ms), plain round {b:.0} ms; \
         round/timeout {:.3} (HTTP call/timeout {:.3}), round/plain {:.3} ({goal}); \
         CPU {:.2} s per round; classification {}",
        p / TIMEOUT_MS as f64,
        h / TIMEOUT_MS as f64,
        p / b,
        median(r.cpu_s.clone()),
        if r.exact { "exactly right" } else { "WRONG" }
    );
    println!(
        "    rounds (ms): pharos {:?} plain {:?}",
        r.pharos_ms.iter().map(|v| v.round()).collect::<Vec<_>>(),
        r.plain_ms.iter().map(|v| v.round()).collect::<Vec<_>>()
    );
}

fn online_check(dir: &Path, count: usize, n: usize) {
    println!("online check, {count} devices, timeout {TIMEOUT_MS} ms, {n} rounds each:");
    let data = dir.join(format!("online-{count}"));
    let sim = simulator(count, FIRST, 0.1);
    let silent = sim.asleep().count();
    let (server, api) = pharos(&data, sim.port);
    register(&api, &sim, count);
    let pid = server.0.id();
    let r = rounds(&api, pid, &sim, count, n, silent);
    let offline = listed(&api, "offline");
    let truth: HashSet<String> = sim
        .asleep()
        .map(|d| d["ip"].as_str().unwrap().to_owned())
        .collect();
    let exact = offline == truth && listed(&api, "online").len() == count - silent;
    report(
        &format!("{silent} silent"),
        &Rounds {
            exact: r.exact && exact,
            ..r
        },
        "goal: round/timeout <= 1.10; the machine's brief: round/plain <= 1.10",
    );
    println!(
        "  server peak memory {:.0} MiB (registration included)",
        peak_memory_mib(pid)
    );
    drop(server);
    drop(sim);

    // every device answering: the same addresses and MACs (same seed), none asleep
    let sim = simulator(count, FIRST, 0.0);
    let (server, api) = pharos(&data, sim.port);
    let pid = server.0.id();
    let r = rounds(&api, pid, &sim, count, n, 0);
    report("all answering", &r, "goal: round/plain <= 2");
    println!(
        "  server peak memory {:.0} MiB (rounds only)",
        peak_memory_mib(pid)
    );
}

fn scan(dir: &Path, n: usize) {
    let devices = 1000;
    println!("scan of {SCAN_RANGE} with {devices} devices, unthrottled, {n} rounds each:");
    let sim = simulator(devices, SCAN_FIRST, 0.0);
    let (_server, api) = pharos(&dir.join("scan"), sim.port);
    let first = Ipv4Addr::new(127, 200, 0, 0);
    let mut ratios = vec![];
    let (mut rates, mut plain_rates) = (vec![], vec![]);
    let mut all_found = true;
    for _ in 0..n {
        let plain = plain_send(&sim, first, SCAN_ADDRESSES);
        let scan = api.scan(&[SCAN_RANGE.to_owned()]);
        assert_eq!(scan["sent"].as_u64(), Some(SCAN_ADDRESSES as u64));
        let sent = scan["sent"].as_f64().unwrap();
        let rate = sent / (scan["sending_ms"].as_f64().unwrap() / 1000.0);
        all_found &= scan["found"].as_u64() == Some(devices as u64);
        ratios.push(rate / plain);
        rates.push(rate);
        plain_rates.push(plain);
    }
    println!(
        "  pharos {:.0} datagrams/s, plain send loop {:.0}/s: ratio {:.3} (goal >= 0.5); every device found: {}",
        median(rates),
        median(plain_rates),
        median(ratios),
        all_found
    );
}

fn main() {
    let o = options();
    let dir = tempfile::tempdir().unwrap();
    println!(
        "pharos, pharos-devsim and plain_udp as separate processes on {} cores; loopback only",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for count in &o.devices {
        online_check(dir.path(), *count, o.rounds);
    }
    scan(dir.path(), o.rounds.min(3));
}
