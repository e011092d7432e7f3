//! The device simulator (`pharos-devsim`) itself, spoken to directly over UDP: every device
//! answers from its own loopback address, broadcasts reach every awake device, Wake-on-LAN and
//! reboots change who answers, and nothing else gets an answer. Every datagram stays in
//! 127.0.0.0/8. In enrollment mode its devices enroll over EST at a real HTTPS listener and
//! prove themselves with the certificates they got.

use super::devsim::{Simulator, free_udp_port};
use super::{Db, Env, get, launch, post_json};
use crate::on_both_databases;
use axum::{Router, http::StatusCode};
use pharos_protocol::{
    Body, Command, DeviceInfo, Message, Outcome, magic_packet, scan_request, status_query,
};
use serde_json::{Value, json};
use std::{
    collections::{HashMap, HashSet},
    io::{BufRead, BufReader, Read},
    net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket},
    num::NonZeroU16,
    path::Path,
    process::{Command as Process, Stdio},
    time::{Duration, Instant},
};

const BINARY: &str = env!("CARGO_BIN_EXE_pharos-devsim");
const BROADCAST: Ipv4Addr = Ipv4Addr::new(127, 255, 255, 255);
/// How long to keep listening once every expected reply is in, for replies that should not come.
const GRACE: Duration = Duration::from_millis(300);

fn simulator(count: usize, first: [u8; 4], extra: &[&str]) -> Simulator {
    Simulator::start(Path::new(BINARY), count, Ipv4Addr::from(first), extra)
}

fn ip_of(device: &Value) -> Ipv4Addr {
    device["ip"].as_str().unwrap().parse().unwrap()
}

/// The device info the manifest promises for `device`.
fn info_of(device: &Value) -> DeviceInfo {
    DeviceInfo {
        mac: device["mac"].as_str().unwrap().parse().unwrap(),
        ip: IpAddr::V4(ip_of(device)),
        os_generation: device["os_generation"].as_u64().unwrap() as u8,
        os_version: device["os_version"].as_str().unwrap().into(),
        hostname: device["hostname"].as_str().unwrap().into(),
        serial: device["serial"].as_str().unwrap().into(),
    }
}

/// The server's side: one socket on 127.0.0.1, replies come back to it.
struct Client {
    socket: UdpSocket,
    port: NonZeroU16,
}

impl Client {
    fn new() -> Client {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_broadcast(true).unwrap();
        let port = NonZeroU16::new(socket.local_addr().unwrap().port()).unwrap();
        Client { socket, port }
    }

    fn send(&self, datagram: &[u8], ip: Ipv4Addr, port: u16) {
        assert!(ip.is_loopback(), "tests only send to 127.0.0.0/8");
        self.socket
            .send_to(datagram, SocketAddrV4::new(ip, port))
            .unwrap();
    }

    fn request(&self, body: Body, nonce: u64) -> Vec<u8> {
        Message {
            nonce,
            reply_port: self.port.get(),
            body,
        }
        .to_bytes()
        .unwrap()
    }

    /// Replies until `expected` have come (then for [`GRACE`] more) or `limit` has passed.
    fn replies(&self, expected: usize, limit: Duration) -> Vec<(SocketAddr, Message)> {
        let mut replies = Vec::new();
        let mut deadline = Instant::now() + limit;
        let mut buffer = [0u8; 1024];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return replies;
            }
            self.socket.set_read_timeout(Some(left)).unwrap();
            let Ok((len, from)) = self.socket.recv_from(&mut buffer) else {
                return replies;
            };
            let message =
                Message::decode(&buffer[..len]).expect("the simulator sends valid replies");
            replies.push((from, message));
            if replies.len() == expected {
                deadline = deadline.min(Instant::now() + GRACE);
            }
        }
    }

    /// A status query to `ip`, and its reply if one comes within `limit`.
    fn status(&self, ip: Ipv4Addr, port: u16, limit: Duration) -> Option<(SocketAddr, Message)> {
        let nonce = rand::random();
        self.send(&status_query(nonce, self.port), ip, port);
        let replies = self.replies(1, limit);
        assert!(replies.len() <= 1, "one reply at most: {replies:?}");
        let reply = replies.into_iter().next()?;
        assert_eq!(reply.1.nonce, nonce);
        Some(reply)
    }
}

#[test]
fn every_awake_device_answers_status_queries_from_its_own_address() {
    let sim = simulator(
        300,
        [127, 77, 0, 1],
        &["--offline-fraction", "0.1", "--seed", "4"],
    );
    assert_eq!(sim.asleep().count(), 30);
    let client = Client::new();
    let mut nonces = HashMap::new();
    for (i, device) in sim.devices.iter().enumerate() {
        let nonce = 0x7700_0000_0000 + i as u64;
        nonces.insert(ip_of(device), nonce);
        client.send(&status_query(nonce, client.port), ip_of(device), sim.port);
    }
    let awake: HashMap<Ipv4Addr, &Value> = sim.awake().map(|d| (ip_of(d), d)).collect();
    let mut seen = HashSet::new();
    let mut asked_again = HashSet::new();
    let mut replies = client.replies(270, Duration::from_secs(10));
    // loopback drops datagrams when the machine is loaded and a socket buffer fills: the
    // devices that did not answer are asked again (as the online check does), at most twice
    for _ in 0..3 {
        for (from, reply) in replies.drain(..) {
            let SocketAddr::V4(from) = from else {
                panic!("{from}")
            };
            assert_eq!(from.port(), sim.port);
            let device = awake.get(from.ip()).expect("an awake device answers");
            assert!(
                seen.insert(*from.ip()) || asked_again.contains(from.ip()),
                "{from} answered twice"
            );
            assert_eq!(reply.nonce, nonces[from.ip()], "the nonce is echoed");
            assert_eq!(reply.reply_port, 0);
            assert_eq!(reply.body, Body::StatusReply(info_of(device)));
        }
        let silent: Vec<Ipv4Addr> = awake
            .keys()
            .filter(|ip| !seen.contains(*ip))
            .copied()
            .collect();
        if silent.is_empty() {
            break;
        }
        for ip in &silent {
            asked_again.insert(*ip);
            client.send(&status_query(nonces[ip], client.port), *ip, sim.port);
        }
        replies = client.replies(silent.len(), Duration::from_secs(5));
    }
    assert_eq!(
        seen.len(),
        270,
        "one reply per awake device, none from the others (asked again: {})",
        asked_again.len()
    );
}

#[test]
fn a_broadcast_scan_gets_one_reply_per_awake_device() {
    let sim = simulator(200, [127, 78, 0, 1], &["--offline-fraction", "0.25"]);
    let client = Client::new();
    client.send(&scan_request(0x5ca9, client.port), BROADCAST, sim.port);
    let replies = client.replies(150, Duration::from_secs(10));
    let expected: HashSet<Ipv4Addr> = sim.awake().map(ip_of).collect();
    let mut sources = HashSet::new();
    for (from, reply) in &replies {
        let IpAddr::V4(ip) = from.ip() else {
            panic!("{from}")
        };
        assert!(sources.insert(ip), "{from} answered twice");
        assert_eq!(reply.nonce, 0x5ca9);
        let Body::ScanReply(info) = &reply.body else {
            panic!("{reply:?}")
        };
        assert_eq!(
            info.ip,
            from.ip(),
            "each reply comes from the device's own address"
        );
    }
    assert_eq!(sources, expected);
    // A status query is not broadcast: nobody answers it.
    client.send(&status_query(1, client.port), BROADCAST, sim.port);
    assert_eq!(client.replies(1, GRACE).len(), 0);
}

#[test]
fn wake_on_lan_wakes_an_asleep_device() {
    let sim = simulator(
        20,
        [127, 79, 0, 1],
        &["--offline-fraction", "0.5", "--seed", "2"],
    );
    let client = Client::new();
    let mut asleep = sim.asleep().map(|d| (ip_of(d), info_of(d).mac));
    let (sleeper, mac) = asleep.next().unwrap();
    let (other, _) = asleep.next().unwrap();
    assert!(client.status(sleeper, sim.port, GRACE).is_none(), "asleep");
    // A magic packet for a MAC nobody has, and garbage, wake nobody.
    client.send(
        &magic_packet(&"02:00:00:00:00:99".parse().unwrap()),
        BROADCAST,
        sim.wol_port,
    );
    client.send(b"not a magic packet", BROADCAST, sim.wol_port);
    client.send(&magic_packet(&mac), BROADCAST, sim.wol_port);
    let deadline = Instant::now() + Duration::from_secs(3);
    let (from, reply) = loop {
        if let Some(reply) = client.status(sleeper, sim.port, Duration::from_millis(100)) {
            break reply;
        }
        assert!(Instant::now() < deadline, "the device woke up");
    };
    assert_eq!(from.ip(), IpAddr::V4(sleeper));
    let Body::StatusReply(info) = reply.body else {
        panic!("{reply:?}")
    };
    assert_eq!(info.mac, mac);
    assert!(
        client.status(other, sim.port, GRACE).is_none(),
        "the others sleep on"
    );
}

#[test]
fn a_rebooting_device_acknowledges_is_silent_then_answers_again() {
    let sim = simulator(5, [127, 80, 0, 1], &["--reboot-secs", "1"]);
    let client = Client::new();
    let device = ip_of(&sim.devices[2]);
    let started = Instant::now();
    client.send(
        &client.request(Body::Command(Command::Reboot), 0xb007),
        device,
        sim.port,
    );
    let replies = client.replies(1, Duration::from_secs(2));
    assert_eq!(replies.len(), 1);
    let (from, ack) = &replies[0];
    assert_eq!(from.ip(), IpAddr::V4(device));
    assert_eq!(ack.nonce, 0xb007);
    assert_eq!(
        ack.body,
        Body::CommandAck {
            command: Command::Reboot,
            outcome: Outcome::Accepted
        }
    );
    assert!(
        client.status(device, sim.port, GRACE).is_none(),
        "silent while restarting"
    );
    let neighbour = ip_of(&sim.devices[3]);
    assert!(
        client.status(neighbour, sim.port, GRACE).is_some(),
        "only that device restarts"
    );
    let back = loop {
        if client
            .status(device, sim.port, Duration::from_millis(100))
            .is_some()
        {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "the device came back"
        );
    };
    assert!(back >= Duration::from_millis(950), "back after {back:?}");
}

#[test]
fn the_same_seed_gives_the_same_devices() {
    let manifest = |seed: &str| {
        simulator(
            50,
            [127, 81, 0, 1],
            &["--seed", seed, "--offline-fraction", "0.3"],
        )
        .devices
        .clone()
    };
    let first = manifest("9");
    assert_eq!(first, manifest("9"));
    let other = manifest("10");
    assert_ne!(first, other);
    let ips = |devices: &[Value]| devices.iter().map(ip_of).collect::<Vec<_>>();
    assert_eq!(
        ips(&first),
        ips(&other),
        "the addresses do not depend on the seed"
    );
    let macs: HashSet<&str> = first.iter().map(|d| d["mac"].as_str().unwrap()).collect();
    assert_eq!(macs.len(), 50, "MACs are unique");
}

#[test]
fn replies_wait_for_the_latency_and_loss_drops_them() {
    let slow = simulator(3, [127, 82, 0, 1], &["--latency-ms", "200"]);
    let client = Client::new();
    let started = Instant::now();
    assert!(
        client
            .status(ip_of(&slow.devices[0]), slow.port, Duration::from_secs(2))
            .is_some()
    );
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    let lossy = simulator(3, [127, 83, 0, 1], &["--loss", "1"]);
    assert!(
        client
            .status(ip_of(&lossy.devices[0]), lossy.port, GRACE)
            .is_none()
    );
}

#[test]
fn garbage_is_ignored_and_counted_and_answering_goes_on() {
    let port = free_udp_port();
    let mut child = Process::new(BINARY)
        .args([
            "--devices",
            "10",
            "--first-ip",
            "127.84.0.1",
            "--wol-port",
            "0",
        ])
        .args(["--port", &port.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut ready = String::new();
    stdout.read_line(&mut ready).unwrap();
    assert_eq!(
        ready,
        format!("ready devices=10 first=127.84.0.1 port={port}\n")
    );

    let client = Client::new();
    let device = Ipv4Addr::new(127, 84, 0, 3);
    let query = client.request(Body::StatusQuery, 5);
    let mut other_version = query.clone();
    other_version[4] = 2;
    let mut no_reply_port = query.clone();
    no_reply_port[6..8].fill(0);
    let reply = Message {
        nonce: 5,
        reply_port: 0,
        body: Body::CommandAck {
            command: Command::Reboot,
            outcome: Outcome::Busy,
        },
    };
    let garbage: [&[u8]; 6] = [
        b"",
        b"\xde\xad\xbe\xef random bytes",
        &[0x50; 600],
        &reply.to_bytes().unwrap(),
        &other_version,
        &no_reply_port,
    ];
    for datagram in garbage {
        client.send(datagram, device, port);
    }
    // A valid request to an address no device has.
    client.send(&query, Ipv4Addr::new(127, 84, 0, 11), port);
    assert_eq!(client.replies(1, GRACE).len(), 0, "nothing is answered");
    assert!(
        client
            .status(device, port, Duration::from_secs(2))
            .is_some(),
        "still answering"
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(
        rest,
        "stopped requests=1 replies=1 dropped=0 ignored=7 silent=0 woken=0 rebooted=0 send_errors=0\n"
    );
}

#[test]
fn a_range_that_leaves_loopback_is_refused() {
    let output = Process::new(BINARY)
        .args([
            "--devices",
            "300",
            "--first-ip",
            "127.255.255.0",
            "--port",
            "0",
        ])
        .args(["--wol-port", "0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "never ready");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("127.0.0.0/8"), "{stderr}");
}

/// Scans `range` until every one of `count` devices is registered (loopback may drop a reply
/// when the machine is busy, so a scan is repeated, at most three times).
async fn scan_and_register(router: &Router, range: &str, count: u64) {
    for _ in 0..3 {
        let started = post_json(router, "/api/v1/scans", json!({ "ranges": [range] })).await;
        assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.text);
        let uri = format!("/api/v1/scans/{}", started.body["id"].as_str().unwrap());
        let deadline = Instant::now() + Duration::from_secs(20);
        let scan = loop {
            let scan = get(router, &uri).await.body;
            if scan["state"] != "running" {
                break scan;
            }
            assert!(Instant::now() < deadline, "the scan ends: {scan}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let macs: Vec<Value> = scan["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|found| found["mac"].clone())
            .collect();
        let registered =
            post_json(router, &format!("{uri}/register"), json!({ "macs": macs })).await;
        assert_eq!(registered.status, StatusCode::OK, "{}", registered.text);
        if get(router, "/api/v1/devices").await.body["total"] == count {
            return;
        }
    }
    panic!("{count} devices of {range} not found by three scans");
}

// on two threads: one waits for the simulator's output while the other serves
on_both_databases!(simulated_devices_enroll_over_est_and_prove_themselves);

async fn simulated_devices_enroll_over_est_and_prove_themselves(db: Db) {
    // the backends' runs may overlap: each has addresses of its own
    let net = match db {
        Db::Sqlite => 85,
        Db::Postgres => 86,
    };
    let first = [127, net, 0, 1];
    let env = Env::new(db).await;

    // the fleet as a scan finds it: a server whose device port is this simulator's
    let scanned = simulator(25, first, &["--seed", "12"]);
    let stop = tokio_util::sync::CancellationToken::new();
    let mut config = env.config("one", "standalone");
    config.tls = true;
    config.device_port = scanned.port;
    config.wake_on_lan_port = scanned.wol_port;
    let pharos = launch(config, stop.clone()).await;
    let _stop = stop.drop_guard();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    let router = pharos.router.clone();
    tokio::spawn(server::serve(pharos, listener));
    let r = &router;
    // devices enroll under the enrollment address's prefix, as behind a proxy
    let prefix = "/device-connector/device";
    let current = get(r, "/api/v1/settings/network").await;
    let mut doc = current.body.clone();
    doc["scan"]["timeout_ms"] = json!(300);
    doc["enrollment_address"] =
        json!({"enabled": true, "host": "127.0.0.1", "port": 8443, "path_prefix": prefix});
    let saved = super::put(r, &current.etag(), &doc).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    scan_and_register(r, &format!("127.{net}.0.1-127.{net}.0.25"), 25).await;
    drop(scanned);
    let devices = get(r, "/api/v1/devices?limit=100").await.body;
    let id_of: HashMap<String, i64> = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["hostname"].as_str().unwrap().to_owned(),
                d["id"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(id_of.len(), 25);

    // the same fleet started again (same seed and addresses), its first 20 devices enrolling
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root.pem");
    std::fs::write(&root, get(r, "/ca.pem").await.text).unwrap();
    let (id, secret) = super::est::new_key(r, 20).await;
    let mut enrolling = Simulator::start(
        Path::new(BINARY),
        25,
        Ipv4Addr::from(first),
        &[
            "--seed",
            "12",
            "--enroll-url",
            &format!("{base}{prefix}"),
            "--enroll-ca",
            root.to_str().unwrap(),
            "--enroll-key",
            &format!("{id}:{secret}"),
            "--enroll-count",
            "20",
        ],
    );
    let summary = tokio::task::block_in_place(|| enrolling.next_line());
    assert_eq!(summary, "enrolled=20 whoami_ok=20 failed=0\n");

    let listed = get(r, "/api/v1/enrollment/certificates").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let certificates = listed.body["certificates"].as_array().unwrap();
    assert_eq!(certificates.len(), 20, "{}", listed.text);
    let mut named = HashSet::new();
    for cert in certificates {
        let subject = cert["subject"].as_str().unwrap();
        let hostname = subject.strip_prefix("CN=").expect(subject);
        assert_eq!(
            cert["device_id"], id_of[hostname],
            "{hostname}'s certificate is linked to the scanned device"
        );
        assert_eq!(cert["state"], "valid");
        named.insert(hostname.to_owned());
    }
    let first_twenty: HashSet<String> = enrolling.devices[..20]
        .iter()
        .map(|d| d["hostname"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(named, first_twenty, "the first 20 devices, each once");

    // and it goes on answering
    let client = Client::new();
    let device = ip_of(&enrolling.devices[24]);
    assert!(
        client
            .status(device, enrolling.port, Duration::from_secs(2))
            .is_some(),
        "still answering after enrolling"
    );

    // the key is spent: the 21st device, enrolling on its own with the key from the
    // environment, is refused, and says why
    let mut late = Process::new(BINARY)
        .args(["--devices", "1", "--first-ip", &format!("127.{net}.0.21")])
        .args(["--seed", "12", "--port", "0", "--wol-port", "0"])
        .args(["--enroll-url", &base, "--enroll-ca", root.to_str().unwrap()])
        .env("PHAROS_ENROLLMENT_KEY", format!("{id}:{secret}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(late.stdout.take().unwrap());
    let mut lines = String::new();
    tokio::task::block_in_place(|| {
        stdout.read_line(&mut lines).unwrap();
        stdout.read_line(&mut lines).unwrap();
    });
    late.kill().unwrap();
    let mut stderr = String::new();
    late.stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    late.wait().unwrap();
    assert!(
        lines.ends_with("\nenrolled=0 whoami_ok=0 failed=1\n"),
        "{lines}"
    );
    assert!(stderr.contains("used as often as it allows"), "{stderr}");
    assert!(!stderr.contains(&secret), "the secret stays out of the log");
    let listed = get(r, "/api/v1/enrollment/certificates").await.body;
    assert_eq!(listed["certificates"].as_array().unwrap().len(), 20);
}

#[test]
fn enrollment_options_are_checked_before_ready() {
    let refused = |extra: &[&str], env: Option<&str>| {
        let mut command = Process::new(BINARY);
        command
            .args(["--devices", "3", "--first-ip", "127.87.0.1"])
            .args(["--port", "0", "--wol-port", "0"])
            .args(extra)
            .env_remove("PHAROS_ENROLLMENT_KEY");
        if let Some(key) = env {
            command.env("PHAROS_ENROLLMENT_KEY", key);
        }
        let output = command.output().unwrap();
        assert!(!output.status.success(), "{extra:?}");
        assert!(output.stdout.is_empty(), "never ready: {extra:?}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let url = ["--enroll-url", "https://127.0.0.1:1"];
    let stderr = refused(&url, Some("id:secret"));
    assert!(stderr.contains("--enroll-ca"), "{stderr}");
    let stderr = refused(
        &[&url[..], &["--enroll-ca", "/nonexistent.pem"]].concat(),
        None,
    );
    assert!(stderr.contains("enrollment key"), "{stderr}");
    let stderr = refused(
        &[&url[..], &["--enroll-ca", "/nonexistent.pem"]].concat(),
        Some("id:secret"),
    );
    assert!(stderr.contains("/nonexistent.pem"), "{stderr}");
    let stderr = refused(
        &[
            "--enroll-url",
            "http://127.0.0.1:1",
            "--enroll-ca",
            "/dev/null",
        ],
        Some("id:secret"),
    );
    assert!(stderr.contains("HTTPS only"), "{stderr}");
    let stderr = refused(&["--enroll-count", "2"], None);
    assert!(stderr.contains("need --enroll-url"), "{stderr}");
    let stderr = refused(
        &[
            &url[..],
            &["--enroll-ca", "/dev/null", "--enroll-count", "4"],
        ]
        .concat(),
        Some("id:secret"),
    );
    assert!(stderr.contains("more than the 3 devices"), "{stderr}");
}
