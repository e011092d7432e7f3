//! Discovery against the device simulator: devices, the online check, scans and jobs. Every
//! datagram stays in 127.0.0.0/8: the servers bind 127.0.0.1, the simulated devices live on
//! their own 127.x addresses, broadcasts go to 127.255.255.255.

use super::devsim::Simulator;
use super::post_json as post;
use super::{Db, Env, Events, call, get};
use crate::on_both_databases;
use axum::Router;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::net::{Ipv4Addr, UdpSocket};
use std::path::Path;
use std::time::Duration;

pub(crate) fn simulator(count: usize, first: [u8; 4], extra: &[&str]) -> Simulator {
    Simulator::start(
        Path::new(env!("CARGO_BIN_EXE_pharos-devsim")),
        count,
        Ipv4Addr::from(first),
        extra,
    )
}

async fn delete(router: &Router, uri: &str) -> super::Reply {
    call(router, Method::DELETE, uri, &[], None).await
}

/// Changes the stored settings document.
async fn set(router: &Router, change: impl FnOnce(&mut Value)) {
    let current = get(router, "/api/v1/settings/network").await;
    let mut doc = current.body.clone();
    change(&mut doc);
    let reply = super::put(router, &current.etag(), &doc).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

/// A server whose device port is the simulator's.
async fn start(
    env: &Env,
    sim: &Simulator,
    tweak: impl FnOnce(&mut server::config::Config),
) -> server::Pharos {
    let mut config = env.config("one", "standalone");
    config.device_port = sim.port;
    config.wake_on_lan_port = sim.wol_port;
    tweak(&mut config);
    crate::launch(config, tokio_util::sync::CancellationToken::new()).await
}

/// Registers every simulated device by its address (and its MAC, with `with_mac`).
pub(crate) async fn register_all(router: &Router, sim: &Simulator, with_mac: bool) -> Vec<i64> {
    let mut ids = Vec::new();
    for device in &sim.devices {
        let mut body = json!({ "ip": device["ip"] });
        if with_mac {
            body["mac"] = device["mac"].clone();
        }
        let reply = post(router, "/api/v1/devices", body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        ids.push(reply.body["id"].as_i64().unwrap());
    }
    ids
}

fn ips<'a>(devices: impl Iterator<Item = &'a Value>) -> HashSet<String> {
    devices
        .map(|d| d["ip"].as_str().unwrap().to_owned())
        .collect()
}

async fn listed(router: &Router, query: &str) -> Value {
    let reply = get(router, &format!("/api/v1/devices?{query}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body
}

on_both_databases!(
    devices_are_registered_listed_and_removed,
    the_online_check_classifies_every_device,
    scans_find_and_register_devices,
    jobs_run_or_expire,
    enrolled_devices_are_listed_with_their_certificate,
);

async fn devices_are_registered_listed_and_removed(db: Db) {
    let env = Env::new(db).await;
    let pharos = env.start().await;
    let r = &pharos.router;
    for i in 1..=5 {
        let reply = post(
            r,
            "/api/v1/devices",
            json!({ "ip": format!("127.50.0.{i}") }),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        assert_eq!(reply.body["status"], "unknown");
        assert_eq!(
            reply.headers["location"],
            format!("/api/v1/devices/{}", reply.body["id"])
        );
    }
    // bad input: a clear message, nothing stored
    let reply = post(r, "/api/v1/devices", json!({ "ip": "127.50.0.300" })).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.error_fields(), ["ip"]);
    let reply = post(
        r,
        "/api/v1/devices",
        json!({ "ip": "127.50.0.9", "mac": "nope" }),
    )
    .await;
    assert_eq!(reply.error_fields(), ["mac"]);
    let reply = post(r, "/api/v1/devices", json!({ "ip": "127.50.0.1" })).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert!(
        reply.text.contains("127.50.0.1 is registered already"),
        "{}",
        reply.text
    );
    let reply = post(r, "/api/v1/devices", json!({ "address": "127.50.0.9" })).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let page = listed(r, "").await;
    assert_eq!(page["total"], 5);
    assert_eq!(
        page["counts"],
        json!({"online": 0, "offline": 0, "unknown": 5})
    );

    let page = listed(r, "status=unknown&offset=1&limit=2").await;
    assert_eq!(page["total"], 5);
    let shown: Vec<&str> = page["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["ip"].as_str().unwrap())
        .collect();
    assert_eq!(shown, ["127.50.0.2", "127.50.0.3"]);
    assert_eq!(listed(r, "status=online").await["total"], 0);
    let reply = get(r, "/api/v1/devices?status=sleepy").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.text.contains("status=online|offline|unknown"),
        "{}",
        reply.text
    );

    let id = page["devices"][0]["id"].as_i64().unwrap();
    assert_eq!(
        delete(r, &format!("/api/v1/devices/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        delete(r, &format!("/api/v1/devices/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(listed(r, "").await["total"], 4);
    pharos.stop().await;
}

/// A device that enrolls over EST under its host name is listed with its newest certificate,
/// and a link can name it alone (`?id=`), whatever page of the list it is on.
async fn enrolled_devices_are_listed_with_their_certificate(db: Db) {
    use super::est::{b64, enroll, new_key, request};
    let env = Env::new(db).await;
    let pharos = env.start().await;
    let r = &pharos.router;
    let dir = tempfile::tempdir().unwrap();
    let registered = post(
        r,
        "/api/v1/devices",
        json!({ "ip": "127.52.0.77", "hostname": "tc-77" }),
    )
    .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.text
    );
    assert_eq!(registered.body["certificate"], Value::Null);
    let id = registered.body["id"].as_i64().unwrap();
    let other = post(r, "/api/v1/devices", json!({ "ip": "127.52.0.78" })).await;
    let other = other.body["id"].as_i64().unwrap();

    let (key, secret) = new_key(r, 2).await;
    let enroll_tc77 = async || {
        let csr = request(
            dir.path(),
            "tc-77",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        );
        let issued = enroll(r, Some((&key, &secret)), "application/pkcs10", &b64(&csr)).await;
        assert_eq!(issued.status, StatusCode::OK, "{}", issued.text);
        // the enrollment page's list says which serial it got
        let listed = get(r, "/api/v1/enrollment/certificates").await;
        let newest = listed.body["certificates"][0].clone();
        assert_eq!(newest["subject"], "CN=tc-77");
        assert_eq!(newest["device_id"], id);
        newest
    };
    let device = async |id: i64| {
        let page = listed(r, &format!("id={id}")).await;
        assert_eq!(page["total"], 1, "{page}");
        assert_eq!(page["devices"].as_array().unwrap().len(), 1);
        assert_eq!(page["devices"][0]["id"], id);
        page["devices"][0].clone()
    };

    let first = enroll_tc77().await;
    let shown = device(id).await;
    assert_eq!(
        shown["certificate"],
        json!({ "serial": first["serial"], "not_after": first["not_after"], "state": "valid" })
    );
    let serial = first["serial"].as_str().unwrap();
    assert!(
        !serial.is_empty() && serial.chars().all(|c| c.is_ascii_hexdigit()),
        "{serial}"
    );
    // the whole list and one device by its path say the same
    let all = listed(r, "").await;
    let in_list = all["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id)
        .unwrap();
    assert_eq!(in_list, &shown);
    assert_eq!(get(r, &format!("/api/v1/devices/{id}")).await.body, shown);
    assert_eq!(device(other).await["certificate"], Value::Null);

    let revoke = format!("/api/v1/enrollment/certificates/{serial}/revoke");
    let revoked = call(r, Method::POST, &revoke, &[], None).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    assert_eq!(device(id).await["certificate"]["state"], "revoked");
    assert_eq!(device(id).await["certificate"]["serial"], first["serial"]);

    // a newer certificate replaces it in the list
    let second = enroll_tc77().await;
    assert_ne!(second["serial"], first["serial"]);
    let shown = device(id).await;
    assert_eq!(shown["certificate"]["serial"], second["serial"]);
    assert_eq!(shown["certificate"]["state"], "valid");

    // the id filter with the others, and refused nonsense
    assert_eq!(
        listed(r, &format!("id={id}&status=online")).await["total"],
        0
    );
    assert_eq!(
        listed(r, &format!("id={id}&status=unknown")).await["total"],
        1
    );
    let none = listed(r, "id=999999").await;
    assert_eq!(none["total"], 0);
    assert_eq!(none["devices"], json!([]));
    assert_eq!(listed(r, "").await["total"], 2);
    let reply = get(r, "/api/v1/devices?id=seven").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    pharos.stop().await;
}

async fn the_online_check_classifies_every_device(db: Db) {
    let env = Env::new(db).await;
    let sim = simulator(
        60,
        [127, 51, 0, 1],
        &["--offline-fraction", "0.2", "--seed", "7"],
    );
    let pharos = start(&env, &sim, |_| {}).await;
    let r = &pharos.router;
    set(r, |doc| {
        doc["online_check"]["response_timeout_ms"] = json!(300)
    })
    .await;
    register_all(r, &sim, false).await;
    let mut events = Events::open(r).await;

    let reply = post(r, "/api/v1/online-check/run", json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let asleep = sim.asleep().count();
    assert!(asleep > 0 && asleep < 60);
    assert_eq!(reply.body["checked"], 60);
    assert_eq!(reply.body["online"], 60 - asleep);
    assert_eq!(reply.body["offline"], asleep);
    // a round with silent devices lasts the timeout after the last query, not much more
    let ms = reply.body["duration_ms"].as_f64().unwrap();
    assert!((300.0..1500.0).contains(&ms), "{ms} ms");

    let online = listed(r, "status=online&limit=1000").await;
    assert_eq!(
        ips(online["devices"].as_array().unwrap().iter()),
        ips(sim.awake())
    );
    for device in online["devices"].as_array().unwrap() {
        let truth = sim
            .devices
            .iter()
            .find(|d| d["ip"] == device["ip"])
            .unwrap();
        assert_eq!(device["mac"], truth["mac"], "the reply's MAC is recorded");
        assert_eq!(device["hostname"], truth["hostname"]);
        assert!(device["last_seen"].is_string() && device["status_since"].is_string());
    }
    let offline = listed(r, "status=offline&limit=1000").await;
    assert_eq!(
        ips(offline["devices"].as_array().unwrap().iter()),
        ips(sim.asleep())
    );
    assert!(offline["devices"][0]["last_seen"].is_null());

    // the transitions went onto the bus, with the counts
    let event = events
        .next_of("device_status", Duration::from_secs(5))
        .await;
    assert_eq!(event["complete"], true);
    assert_eq!(event["changes"].as_array().unwrap().len(), 60);
    assert_eq!(event["counts"]["online"], 60 - asleep);

    // a second round finds the same
    let again = post(r, "/api/v1/online-check/run", json!({})).await;
    assert_eq!(again.body["online"], 60 - asleep);

    // turned off: no round, and no stale status
    set(r, |doc| doc["online_check"]["enabled"] = json!(false)).await;
    let reply = post(r, "/api/v1/online-check/run", json!({})).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert!(reply.text.contains("turned off"), "{}", reply.text);
    pharos.discovery.online.step().await.unwrap();
    let page = listed(r, "").await;
    assert_eq!(
        page["counts"],
        json!({"online": 0, "offline": 0, "unknown": 60})
    );
    // on again: the next round sees them as before
    set(r, |doc| doc["online_check"]["enabled"] = json!(true)).await;
    pharos.discovery.online.step().await.unwrap();
    assert_eq!(listed(r, "").await["counts"]["online"], 60 - asleep);
    pharos.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_answers_are_offline_and_the_timeout_is_honoured() {
    let env = Env::new(Db::Sqlite).await;
    let sim = simulator(20, [127, 52, 0, 1], &["--latency-ms", "250"]);
    let pharos = start(&env, &sim, |_| {}).await;
    let r = &pharos.router;
    register_all(r, &sim, false).await;
    set(r, |doc| {
        doc["online_check"]["response_timeout_ms"] = json!(120)
    })
    .await;
    let reply = post(r, "/api/v1/online-check/run", json!({})).await;
    assert_eq!(
        (
            reply.body["online"].as_i64(),
            reply.body["offline"].as_i64()
        ),
        (Some(0), Some(20))
    );
    // the setting applies to the next round, without a restart
    set(r, |doc| {
        doc["online_check"]["response_timeout_ms"] = json!(600)
    })
    .await;
    let reply = post(r, "/api/v1/online-check/run", json!({})).await;
    assert_eq!(reply.body["online"], 20);
    let ms = reply.body["duration_ms"].as_f64().unwrap();
    assert!(
        ms < 600.0,
        "everyone answered: the round ends at once ({ms} ms)"
    );
    // a fixed reply port is used as configured
    let port = super::devsim::free_udp_port();
    set(r, |doc| doc["online_check"]["reply_port"] = json!(port)).await;
    let reply = post(r, "/api/v1/online-check/run", json!({})).await;
    assert_eq!(reply.body["online"], 20);
    pharos.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_replayed_and_spoofed_datagrams_do_not_mislead_the_check() {
    let env = Env::new(Db::Sqlite).await;
    let sim = simulator(
        200,
        [127, 53, 0, 1],
        &["--offline-fraction", "0.5", "--seed", "3"],
    );
    let pharos = start(&env, &sim, |_| {}).await;
    let r = &pharos.router;
    register_all(r, &sim, false).await;
    let port = super::devsim::free_udp_port();
    set(r, |doc| {
        doc["online_check"]["reply_port"] = json!(port);
        doc["online_check"]["response_timeout_ms"] = json!(800);
    })
    .await;
    // While the round runs, every silent device "answers" from its own address: with garbage,
    // truncated and oversized datagrams, and with well-formed status replies carrying a wrong
    // nonce (a replay of an old round, or a guess).
    let silent: Vec<Ipv4Addr> = sim
        .asleep()
        .map(|d| d["ip"].as_str().unwrap().parse().unwrap())
        .collect();
    let flood = std::thread::spawn(move || {
        let mut sent = 0;
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_millis(700) {
            for (i, ip) in silent.iter().enumerate() {
                let socket = UdpSocket::bind((*ip, 0)).unwrap();
                let mut reply = vec![b'P', b'H', b'R', b'S', 1, 0x82, 0, 0];
                reply.extend_from_slice(&(i as u64).to_be_bytes());
                reply.extend_from_slice(&[2, 0, 0, 0, 0, 1, 4, 127, 53, 0, 1, 12, 0, 0, 0]);
                for datagram in [
                    reply.clone(),
                    reply[..20].to_vec(),
                    vec![0xff; 600],
                    b"hello".to_vec(),
                ] {
                    let _ = socket.send_to(&datagram, ("127.0.0.1", port));
                    sent += 1;
                }
            }
        }
        sent
    });
    let reply = post(r, "/api/v1/online-check/run", json!({})).await;
    let sent = flood.join().unwrap();
    assert!(sent > 1000, "{sent}");
    assert_eq!(reply.body["online"], 100, "{}", reply.text);
    assert_eq!(reply.body["offline"], 100);
    assert!(reply.body["ignored"].as_u64().unwrap() > 0);
    let offline = listed(r, "status=offline&limit=1000").await;
    assert_eq!(
        ips(offline["devices"].as_array().unwrap().iter()),
        ips(sim.asleep())
    );
    pharos.stop().await;
}

/// Polls until `done` holds for what `uri` answers; panics after 20 s.
async fn poll_until(router: &Router, uri: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let body = get(router, uri).await.body;
        if done(&body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{uri}: still {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn scan_until_done(router: &Router, id: &str) -> Value {
    poll_until(router, &format!("/api/v1/scans/{id}"), |s| {
        s["state"] != "running"
    })
    .await
}

async fn scans_find_and_register_devices(db: Db) {
    let env = Env::new(db).await;
    let sim = simulator(
        60,
        [127, 54, 0, 1],
        &["--offline-fraction", "0.25", "--seed", "5"],
    );
    let pharos = start(&env, &sim, |_| {}).await;
    let r = &pharos.router;
    set(r, |doc| {
        doc["scan"]["timeout_ms"] = json!(300);
        doc["scan"]["broadcast_ip"] = json!("127.255.255.255");
    })
    .await;

    // bad ranges: every one named, nothing started
    let reply = post(
        r,
        "/api/v1/scans",
        json!({ "ranges": ["127.54.0.99-127.54.0.1", "127.54.0.x", "127.0.0.0/8"] }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.error_fields(), ["ranges[0]", "ranges[1]"]);
    assert!(
        reply.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("reversed")
    );
    let reply = post(r, "/api/v1/scans", json!({ "ranges": ["127.0.0.0/8"] })).await;
    assert_eq!(reply.error_fields(), ["ranges"]);
    assert!(reply.text.contains("at most 65536"), "{}", reply.text);
    assert_eq!(get(r, "/api/v1/scans").await.body["scans"], json!([]));

    // a range scan over the devices and beyond them
    let reply = post(r, "/api/v1/scans", json!({ "ranges": ["127.54.0.1-127.54.0.40", "127.54.0.41/32", "127.54.0.42-127.54.0.80"] })).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    let id = reply.body["id"].as_str().unwrap().to_owned();
    let scan = scan_until_done(r, &id).await;
    assert_eq!(scan["state"], "done");
    assert_eq!(
        (scan["sent"].as_u64(), scan["total"].as_u64()),
        (Some(80), Some(80))
    );
    let results = scan["results"].as_array().unwrap();
    assert_eq!(ips(results.iter()), ips(sim.awake()));
    for result in results {
        let truth = sim
            .devices
            .iter()
            .find(|d| d["ip"] == result["ip"])
            .unwrap();
        assert_eq!(
            (&result["mac"], &result["hostname"]),
            (&truth["mac"], &truth["hostname"])
        );
        assert_eq!(result["registered"], false);
    }

    // register some of them; the rest stay unregistered
    let chosen: Vec<Value> = results.iter().take(10).map(|d| d["mac"].clone()).collect();
    let reply = post(
        r,
        &format!("/api/v1/scans/{id}/register"),
        json!({ "macs": chosen }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["registered"].as_array().unwrap().len(), 10);
    let reply = post(
        r,
        &format!("/api/v1/scans/{id}/register"),
        json!({ "macs": [chosen[0], "02:00:00:00:00:99", "x"] }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.error_fields(), ["macs[1]", "macs[2]"]);
    let reply = post(
        r,
        &format!("/api/v1/scans/{id}/register"),
        json!({ "macs": [chosen[0]] }),
    )
    .await;
    assert_eq!(reply.body["already"].as_array().unwrap().len(), 1);
    let scan = get(r, &format!("/api/v1/scans/{id}")).await.body;
    let registered = scan["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["registered"] == true)
        .count();
    assert_eq!(registered, 10);
    assert_eq!(listed(r, "").await["total"], 10);
    // registered devices join the online check
    let round = post(r, "/api/v1/online-check/run", json!({})).await;
    assert_eq!(round.body["online"], 10);

    // a broadcast reaches every awake device, each answering from its own address
    let reply = post(r, "/api/v1/scans", json!({ "broadcast": true })).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    let scan = scan_until_done(r, reply.body["id"].as_str().unwrap()).await;
    assert_eq!(
        (scan["sent"].as_u64(), scan["total"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        ips(scan["results"].as_array().unwrap().iter()),
        ips(sim.awake())
    );

    // a slow scan can be cancelled
    pharos.stop().await;
    let pharos = start(&env, &sim, |c| c.scan_send_rate = 20).await;
    let r = &pharos.router;
    let reply = post(r, "/api/v1/scans", json!({ "ranges": ["127.54.1.0/24"] })).await;
    let id = reply.body["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let running = get(r, &format!("/api/v1/scans/{id}")).await.body;
    assert_eq!(running["state"], "running");
    assert!(
        running["remaining_ms"].as_u64().unwrap() > 5_000,
        "{running}"
    );
    let reply = post(r, &format!("/api/v1/scans/{id}/cancel"), json!({})).await;
    assert_eq!(reply.body["state"], "cancelled");
    let sent = reply.body["sent"].as_u64().unwrap();
    assert!((1..50).contains(&sent), "{sent} sent at 20 per second");
    assert_eq!(
        get(r, "/api/v1/scans").await.body["scans"][0]["id"],
        json!(id)
    );
    pharos.stop().await;
}

async fn job(router: &Router, body: Value) -> Value {
    let reply = post(router, "/api/v1/jobs", body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body
}

/// The job's executions (newest first), once `want` of them have ended.
async fn executions_of(router: &Router, id: i64, want: usize) -> Vec<Value> {
    let job = poll_until(router, &format!("/api/v1/jobs/{id}"), |job| {
        let ended = |e: &&Value| e["status"] != "pending" && e["status"] != "running";
        job["executions"]
            .as_array()
            .is_some_and(|e| e.iter().filter(ended).count() >= want)
    })
    .await;
    job["executions"].as_array().cloned().unwrap_or_default()
}

fn ago(minutes: i64) -> String {
    let t = time::OffsetDateTime::now_utc() - time::Duration::minutes(minutes);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

async fn jobs_run_or_expire(db: Db) {
    let env = Env::new(db).await;
    let sim = simulator(
        10,
        [127, 55, 0, 1],
        &[
            "--offline-fraction",
            "0.3",
            "--seed",
            "11",
            "--reboot-secs",
            "2",
        ],
    );
    let pharos = start(&env, &sim, |c| c.scheduler_tick_millis = 100).await;
    let r = &pharos.router;
    set(r, |doc| {
        doc["online_check"]["response_timeout_ms"] = json!(300)
    })
    .await;
    let ids = register_all(r, &sim, true).await;

    // validation as the page shows it; nothing stored
    let reply = post(
        r,
        "/api/v1/jobs",
        json!({"name": "", "command": "reboot", "targets": [], "due_at": "soon"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.error_fields(), ["name", "targets", "due_at"]);
    let reply = post(
        r,
        "/api/v1/jobs",
        json!({"name": "x", "command": "reboot", "targets": [9999], "due_at": ago(0)}),
    )
    .await;
    assert_eq!(reply.error_fields(), ["targets[0]"]);
    assert!(reply.text.contains("no device 9999"));
    let reply = post(
        r,
        "/api/v1/jobs",
        json!({"name": "x", "command": "dance", "targets": [], "due_at": ago(0)}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(get(r, "/api/v1/jobs").await.body["jobs"], json!([]));

    // never expire (the default): a job 2 hours late (far beyond the 40-minute expiration time)
    // still runs
    let check = job(
        r,
        json!({"name": "late check", "command": "online_check", "targets": [], "due_at": ago(120)}),
    )
    .await;
    let done = executions_of(r, check["id"].as_i64().unwrap(), 1).await;
    assert_eq!(done[0]["status"], "done", "{done:?}");
    let asleep = sim.asleep().count();
    assert!(
        done[0]["result"]
            .as_str()
            .unwrap()
            .contains(&format!("{} online", 10 - asleep)),
        "{done:?}"
    );

    // expiry on: a job found 10 minutes past its due time, with 1 minute allowed, is expired and
    // not run; a repeating one gets its next execution
    set(r, |doc| {
        doc["scheduled_jobs"] = json!({"never_expire": false, "expiration_minutes": 1})
    })
    .await;
    let wake = job(r, json!({"name": "wake", "command": "wake_on_lan", "targets": ids, "due_at": ago(10), "repeat_minutes": 60})).await;
    let executions = executions_of(r, wake["id"].as_i64().unwrap(), 1).await;
    assert_eq!(executions.len(), 2, "{executions:?}");
    assert_eq!(executions[1]["status"], "expired");
    assert!(
        executions[1]["result"]
            .as_str()
            .unwrap()
            .contains("not started within 1 minutes")
    );
    assert_eq!(executions[0]["status"], "pending");
    assert!(executions[0]["due_at"].as_str().unwrap() > ago(0).as_str());
    assert_eq!(
        delete(r, &format!("/api/v1/jobs/{}", wake["id"]))
            .await
            .status,
        StatusCode::NO_CONTENT
    );

    // Wake-on-LAN: the sleeping devices wake, and the next round sees them
    let wake = job(
        r,
        json!({"name": "wake now", "command": "wake_on_lan", "targets": ids, "due_at": ago(0)}),
    )
    .await;
    let done = executions_of(r, wake["id"].as_i64().unwrap(), 1).await;
    assert_eq!(done[0]["status"], "done", "{done:?}");
    assert!(
        done[0]["result"]
            .as_str()
            .unwrap()
            .starts_with("magic packets sent for 10 devices to 127.255.255.255")
    );
    let round = post(r, "/api/v1/online-check/run", json!({})).await;
    assert_eq!(round.body["online"], 10, "every sleeping device woke");

    // reboot: acknowledged, silent while restarting, back afterwards
    let target = ids[sim
        .devices
        .iter()
        .position(|d| d["asleep"] == false)
        .unwrap()];
    let reboot = job(
        r,
        json!({"name": "reboot", "command": "reboot", "targets": [target], "due_at": ago(0)}),
    )
    .await;
    let done = executions_of(r, reboot["id"].as_i64().unwrap(), 1).await;
    assert_eq!(done[0]["status"], "done", "{done:?}");
    assert_eq!(done[0]["result"], "1 of 1 devices acknowledged");
    let device = |id: i64| async move { get(r, &format!("/api/v1/devices/{id}")).await.body };
    post(r, "/api/v1/online-check/run", json!({})).await;
    assert_eq!(device(target).await["status"], "offline");
    tokio::time::sleep(Duration::from_millis(2200)).await;
    post(r, "/api/v1/online-check/run", json!({})).await;
    assert_eq!(device(target).await["status"], "online");

    // a scan job scans its ranges and says what it found
    let range = format!("{}-127.55.0.20", sim.devices[0]["ip"].as_str().unwrap());
    let scan = job(
        r,
        json!({"name": "scan", "command": "scan", "targets": [range], "due_at": ago(0)}),
    )
    .await;
    let done = executions_of(r, scan["id"].as_i64().unwrap(), 1).await;
    assert_eq!(done[0]["status"], "done", "{done:?}");
    let result = done[0]["result"].as_str().unwrap();
    assert!(
        result.contains(": 20 addresses, 10 devices answered (0 not registered)"),
        "{result}"
    );

    // a job whose command cannot run fails and says why
    set(r, |doc| doc["online_check"]["enabled"] = json!(false)).await;
    let off = job(
        r,
        json!({"name": "off", "command": "online_check", "targets": [ids[0]], "due_at": ago(0)}),
    )
    .await;
    let failed = executions_of(r, off["id"].as_i64().unwrap(), 1).await;
    assert_eq!(failed[0]["status"], "failed", "{failed:?}");
    assert!(failed[0]["result"].as_str().unwrap().contains("turned off"));
    set(r, |doc| doc["online_check"]["enabled"] = json!(true)).await;

    // disabled jobs wait; enabled again they run
    let later = job(
        r,
        json!({"name": "paused", "command": "online_check", "targets": [], "due_at": ago(0)}),
    )
    .await;
    let id = later["id"].as_i64().unwrap();
    let reply = post(
        r,
        &format!("/api/v1/jobs/{id}/enabled"),
        json!({"enabled": false}),
    )
    .await;
    assert_eq!(reply.body["enabled"], false);
    pharos.stop().await;
    let pharos = start(&env, &sim, |c| c.scheduler_tick_millis = 100).await;
    let r = &pharos.router;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        get(r, &format!("/api/v1/jobs/{id}")).await.body["executions"][0]["status"],
        "pending"
    );
    post(
        r,
        &format!("/api/v1/jobs/{id}/enabled"),
        json!({"enabled": true}),
    )
    .await;
    let done = executions_of(r, id, 1).await;
    assert_eq!(done[0]["status"], "done");
    assert_eq!(
        get(r, "/api/v1/jobs").await.body["jobs"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    pharos.stop().await;
}

/// A fake device: a plain socket on one loopback address at the device port.
fn listener(ip: [u8; 4], port: u16) -> UdpSocket {
    let socket = UdpSocket::bind((Ipv4Addr::from(ip), port)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    socket
}

fn drain(socket: &UdpSocket) -> Vec<(Vec<u8>, std::net::SocketAddr)> {
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok((len, from)) = socket.recv_from(&mut buf) {
        got.push((buf[..len].to_vec(), from));
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_send_only_where_asked_and_trust_no_reply() {
    use pharos_protocol::{Body, DeviceInfo, Message};
    let env = Env::new(Db::Sqlite).await;
    let mut config = env.config("one", "standalone");
    let port = config.device_port;
    config.scan_send_rate = 0;
    let pharos = crate::launch(config, tokio_util::sync::CancellationToken::new()).await;
    let r = &pharos.router;
    let reply_port = super::devsim::free_udp_port();
    set(r, |doc| {
        doc["scan"]["timeout_ms"] = json!(400);
        doc["scan"]["reply_port"] = json!(reply_port);
    })
    .await;
    // inside the range, just outside it on both sides, and the address a reply will claim
    let inside = listener([127, 57, 0, 5], port);
    let before = listener([127, 57, 0, 0], port);
    let after = listener([127, 57, 0, 11], port);
    let claimed = listener([127, 57, 0, 200], port);

    let reply = post(
        r,
        "/api/v1/scans",
        json!({ "ranges": ["127.57.0.1-127.57.0.10"] }),
    )
    .await;
    let id = reply.body["id"].as_str().unwrap().to_owned();
    let got = tokio::task::spawn_blocking(move || {
        // the device answers: a good reply that claims another address, the same reply again
        // (a replay), one with a wrong nonce; and a stranger outside the range answers with the
        // right nonce
        let (request, from) = drain(&inside).pop().expect("the scan request arrived");
        assert_eq!(
            from.port(),
            reply_port,
            "sent from the configured reply port"
        );
        let request = Message::decode(&request).unwrap();
        assert_eq!(request.body, Body::ScanRequest);
        assert_eq!(request.reply_port, reply_port);
        let info = DeviceInfo {
            mac: "02:57:00:00:00:05".parse().unwrap(),
            ip: "127.57.0.200".parse().unwrap(),
            os_generation: 12,
            os_version: "12.7".into(),
            hostname: "tc-5".into(),
            serial: "S5".into(),
        };
        let good = request
            .reply(Body::ScanReply(info.clone()))
            .to_bytes()
            .unwrap();
        inside.send_to(&good, ("127.0.0.1", reply_port)).unwrap();
        inside.send_to(&good, ("127.0.0.1", reply_port)).unwrap();
        let mut guess = Message::decode(&good).unwrap();
        guess.nonce ^= 1;
        guess.body = Body::ScanReply(DeviceInfo {
            mac: "02:57:00:00:00:06".parse().unwrap(),
            ..info.clone()
        });
        inside
            .send_to(&guess.to_bytes().unwrap(), ("127.0.0.1", reply_port))
            .unwrap();
        let mut stranger = info;
        stranger.mac = "02:57:00:00:00:0b".parse().unwrap();
        let spoof = request.reply(Body::ScanReply(stranger)).to_bytes().unwrap();
        after.send_to(&spoof, ("127.0.0.1", reply_port)).unwrap();
        std::thread::sleep(Duration::from_millis(600));
        (
            drain(&before),
            drain(&after),
            drain(&claimed),
            drain(&inside),
        )
    })
    .await
    .unwrap();
    assert!(
        got.0.is_empty() && got.1.is_empty(),
        "nothing outside the range"
    );
    assert!(
        got.2.is_empty() && got.3.is_empty(),
        "a reply makes the server send nothing"
    );
    let scan = scan_until_done(r, &id).await;
    assert_eq!(scan["sent"], 10);
    let results = scan["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{scan}");
    assert_eq!(
        scan["ignored"], 3,
        "the replay, the wrong nonce and the stranger"
    );
    assert_eq!(
        results[0]["ip"], "127.57.0.5",
        "the sender's address, not the claimed one"
    );
    pharos.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_round_is_retried_not_fatal() {
    let env = Env::new(Db::Sqlite).await;
    let sim = simulator(5, [127, 58, 0, 1], &[]);
    let pharos = start(&env, &sim, |_| {}).await;
    let r = &pharos.router;
    register_all(r, &sim, false).await;
    super::sql(&env, "ALTER TABLE devices RENAME TO devices_away").await;
    assert!(pharos.discovery.online.step().await.is_err());
    super::sql(&env, "ALTER TABLE devices_away RENAME TO devices").await;
    // the next step reads the devices again by itself
    pharos.discovery.online.step().await.unwrap();
    assert_eq!(listed(r, "").await["counts"]["online"], 5);
    pharos.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_online_check_sends_nothing() {
    let env = Env::new(Db::Sqlite).await;
    let config = env.config("one", "standalone");
    let port = config.device_port;
    let pharos = crate::launch(config, tokio_util::sync::CancellationToken::new()).await;
    let r = &pharos.router;
    // a device that only listens
    let device = listener([127, 59, 0, 1], port);
    let reply = post(r, "/api/v1/devices", json!({ "ip": "127.59.0.1" })).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    set(r, |doc| {
        doc["online_check"]["response_timeout_ms"] = json!(100)
    })
    .await;
    pharos.discovery.online.step().await.unwrap();
    let queries = tokio::task::spawn_blocking(move || (drain(&device), device))
        .await
        .unwrap();
    // (the round the server runs at start may have seen the device too)
    assert!(!queries.0.is_empty(), "on: status queries");
    let device = queries.1;
    set(r, |doc| doc["online_check"]["enabled"] = json!(false)).await;
    for _ in 0..3 {
        pharos.discovery.online.step().await.unwrap();
    }
    let queries = tokio::task::spawn_blocking(move || drain(&device))
        .await
        .unwrap();
    assert!(queries.is_empty(), "off: no datagram");
    assert_eq!(listed(r, "").await["counts"]["unknown"], 1);
    pharos.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_cuts_a_round_short_and_a_restart_checks_again() {
    let env = Env::new(Db::Sqlite).await;
    let sim = simulator(
        5,
        [127, 60, 0, 1],
        &["--offline-fraction", "0.6", "--seed", "2"],
    );
    let pharos = start(&env, &sim, |_| {}).await;
    let r = pharos.router.clone();
    register_all(&r, &sim, false).await;
    let port = super::devsim::free_udp_port();
    set(&r, |doc| {
        doc["online_check"]["response_timeout_ms"] = json!(10_000);
        doc["online_check"]["reply_port"] = json!(port);
    })
    .await;
    // a round that would wait 10 s for its silent devices
    let round = tokio::spawn(async move { post(&r, "/api/v1/online-check/run", json!({})).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    pharos.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "stopped in {:?}",
        started.elapsed()
    );
    let reply = round.await.unwrap();
    assert_eq!(
        reply.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "a cut round records nothing"
    );

    // the same data directory and the same fixed reply port, at once (the round the server
    // runs at start still waits its 10 s: a test round waits for it)
    let pharos = start(&env, &sim, |_| {}).await;
    let r = &pharos.router;
    assert_eq!(
        listed(r, "").await["counts"]["unknown"],
        5,
        "the cut round stored nothing"
    );
    set(r, |doc| {
        doc["online_check"]["response_timeout_ms"] = json!(300)
    })
    .await;
    let reply = post(r, "/api/v1/online-check/run", json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["online"], 5 - sim.asleep().count());
    pharos.stop().await;
}
