//! A cluster behind nginx, tested for real: three `pharos` processes on one PostgreSQL database
//! of their own, in distributed mode, behind an nginx from Debian's packages that balances the
//! web console and API and the device traffic (docs/nginx/pharos.conf with the upstream block of
//! docs/nginx/pharos-cluster.conf), with the device simulator playing the devices. Everything
//! listens on loopback; every datagram stays in 127.0.0.0/8.
//!
//! It proves, in one run (figures printed with `--nocapture`):
//! - a setting saved through nginx is served by all three servers within 1 s;
//! - the online check queries every device exactly once per round, each from one server (the
//!   simulator tallies the source address of every status query; each server has its own);
//! - `kill -9` of a server while devices are checked and jobs run: the administrator's session
//!   goes on working through nginx, the dead server's devices are queried by the others within
//!   the heartbeat timeout and one round, its running job execution is failed once its lease
//!   runs out, every execution ends exactly once and no Wake-on-LAN packet is sent twice, no
//!   saved setting and no audit row is lost;
//! - the killed server started again rejoins, reads the messages it missed (its stored cursor
//!   moves past them) and serves the latest settings;
//! - a session signed out on one server is refused by the others within 1 s;
//! - after a PostgreSQL restart every server heartbeats again, a new save reaches all three
//!   within 1 s, and nothing saved before is lost.

mod api;
mod client;
// shared with the API tests, which use all of it
#[allow(dead_code)]
#[path = "../support/devsim.rs"]
mod devsim;
mod nginx;
mod processes;
mod tally;

use api::{Cluster, executions, keep_saving, keep_using, rfc3339_in, server_ids};
use client::{Https, Session};
use processes::{NGINX, Nginx, Postgres, Server, free_port};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tally::{Tally, one_server_per_device};
use tokio_util::sync::CancellationToken;

const ADMIN_PASSWORD: &str = "cluster-superuser-2026";
/// The key sealing private keys: servers sharing a database share it (32 bytes, base64).
const SECRET_KEY: &str = "cGhhcm9zLXRlc3Qtc2VjcmV0LWtleS0zMi1ieXRlcyE=";
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(3);
const ROUND_INTERVAL: Duration = Duration::from_secs(1);
/// The bound for a change to reach every server.
const PROPAGATION_BOUND: Duration = Duration::from_secs(1);
/// Added to the bounds that depend on timers firing (a loaded 2-core machine runs three debug
/// servers, PostgreSQL, nginx and the simulator): the scheduling slack, not the design's.
const SLACK: Duration = Duration::from_millis(1500);
const DEVICES: usize = 60;
const FIRST_DEVICE: Ipv4Addr = Ipv4Addr::new(127, 42, 0, 1);
/// nginx connects to Pharos from this address; Pharos trusts it and nobody else.
const PROXY_BIND: &str = "127.0.0.2";
const EXPIRATION: &str = "settings.network.scheduled_jobs.expiration_minutes";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// Runs blocking process work (starting a server, restarting PostgreSQL) without stopping the
/// test's other tasks.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(work)
}

fn command(program: &str, args: &[&str], dir: &Path) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_servers_behind_nginx() {
    let started = Instant::now();
    assert!(
        Path::new(NGINX).exists(),
        "nginx from Debian's packages is needed: run scripts/setup --test"
    );
    let dir = tempfile::Builder::new()
        .prefix("pharos-cluster")
        .tempdir()
        .unwrap();
    let pg = blocking(Postgres::start);
    {
        let mut admin = PgConnection::connect(&pg.url("postgres")).await.unwrap();
        sqlx::query("CREATE DATABASE pharos")
            .execute(&mut admin)
            .await
            .unwrap();
    }
    let db = pg.url("pharos");

    // the devices: a third asleep until a magic packet wakes them
    let tally_file = dir.path().join("tally.json");
    let sim = devsim::Simulator::start(
        Path::new(env!("CARGO_BIN_EXE_pharos-devsim")),
        DEVICES,
        FIRST_DEVICE,
        &[
            "--offline-fraction",
            "0.34",
            "--tally",
            tally_file.to_str().unwrap(),
        ],
    );
    let device_ips: Vec<String> = sim
        .devices
        .iter()
        .map(|d| d["ip"].as_str().unwrap().to_owned())
        .collect();

    let env = [
        ("PHAROS_DATABASE_URL", db.clone()),
        (
            "PHAROS_SITE_ROOT",
            dir.path().join("site").display().to_string(),
        ),
        (
            "PHAROS_HEARTBEAT_INTERVAL_SECS",
            HEARTBEAT_INTERVAL.as_secs().to_string(),
        ),
        (
            "PHAROS_HEARTBEAT_TIMEOUT_SECS",
            HEARTBEAT_TIMEOUT.as_secs().to_string(),
        ),
        // the safety-net poll an hour away: what arrives in time came through the bus
        ("PHAROS_SETTINGS_POLL_MILLIS", "3600000".into()),
        ("PHAROS_SHUTDOWN_TIMEOUT_SECS", "3".into()),
        ("PHAROS_DEVICE_PORT", sim.port.to_string()),
        (
            "PHAROS_ONLINE_CHECK_INTERVAL_SECS",
            ROUND_INTERVAL.as_secs().to_string(),
        ),
        ("PHAROS_SCAN_SEND_RATE", "0".into()),
        ("PHAROS_WAKE_ON_LAN_ADDRESS", "127.255.255.255".into()),
        ("PHAROS_WAKE_ON_LAN_PORT", sim.wol_port.to_string()),
        ("PHAROS_SCHEDULER_TICK_MILLIS", "250".into()),
        ("PHAROS_ADMIN_PASSWORD", ADMIN_PASSWORD.into()),
        ("PHAROS_TRUSTED_PROXIES", format!("{PROXY_BIND}/32")),
        ("PHAROS_SECRET_KEY", SECRET_KEY.into()),
    ];
    let mut servers: Vec<Server> = (1..=3)
        .map(|i| {
            Server::new(
                &format!("s{i}"),
                Ipv4Addr::new(127, 0, 0, 10 + i),
                dir.path(),
                &env,
            )
        })
        .collect();

    // -- distributed mode on: stored through the first server, which is then started again ----
    blocking(|| servers[0].start());
    let nginx_dir = dir.path().join("nginx");
    std::fs::create_dir_all(&nginx_dir).unwrap();
    nginx::certificates(&nginx_dir);
    // trust on first use, over loopback (what an administrator compares with the fingerprint)
    let root = Command::new("curl")
        .args(["-sSfk", &format!("https://{}/ca.pem", servers[0].addr())])
        .output()
        .unwrap();
    assert!(root.status.success(), "{root:?}");
    std::fs::write(nginx_dir.join("pharos-ca.pem"), &root.stdout).unwrap();
    let https = Https::new(&[
        &nginx_dir.join("pharos-ca.pem"),
        &nginx_dir.join("nginx-ca.pem"),
    ]);
    let direct = Session::sign_in(&https, servers[0].addr(), "admin", ADMIN_PASSWORD)
        .await
        .unwrap();
    let first = https
        .send(
            servers[0].addr(),
            "GET",
            app::api::SETTINGS_URL,
            &direct.headers(),
            None,
        )
        .await
        .unwrap();
    let mut doc = first.body.clone();
    doc["distributed"]["enabled"] = json!(true);
    doc["online_check"]["response_timeout_ms"] = json!(300);
    // scans stay on loopback, and a scan job runs long enough to be cut off by a kill
    doc["scan"]["broadcast_ip"] = json!("127.255.255.255");
    doc["scan"]["timeout_ms"] = json!(8000);
    let [cookie, csrf] = direct.headers();
    let etag = first.etag();
    let saved = https
        .send(
            servers[0].addr(),
            "PUT",
            app::api::SETTINGS_URL,
            &[cookie, csrf, ("if-match", etag.as_str())],
            Some(&doc),
        )
        .await
        .unwrap();
    assert_eq!(saved.status, 200, "{saved:?}");
    let client_chain = https
        .send(
            servers[0].addr(),
            "GET",
            app::api::CLIENT_CHAIN_URL,
            &direct.headers(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(client_chain.status, 200, "{client_chain:?}");
    std::fs::write(nginx_dir.join("client-chain.pem"), &client_chain.text).unwrap();
    let refreshed = Command::new(repo().join("docs/nginx/refresh-crl"))
        .arg(format!("https://{}", servers[0].addr()))
        .arg(nginx_dir.join("pharos-ca.pem"))
        .arg(nginx_dir.join("device-ca.crl.pem"))
        .output()
        .unwrap();
    assert!(refreshed.status.success(), "{refreshed:?}");
    let status = https
        .send(
            servers[0].addr(),
            "GET",
            app::api::SERVER_URL,
            &direct.headers(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        status.body["distributed"],
        json!({"configured": true, "running": false, "restart_required": true})
    );
    blocking(|| {
        servers[0].stop();
        for server in servers.iter_mut() {
            server.start();
        }
    });

    // -- nginx in front of the three ------------------------------------------------------------
    let (web_port, device_port, enroll_port) = (free_port(), free_port(), free_port());
    nginx::configuration(
        &nginx_dir,
        &servers.iter().collect::<Vec<_>>(),
        web_port,
        device_port,
        enroll_port,
        "/device-connector/device",
    );
    let nginx = blocking(|| Nginx::start(&nginx_dir, &[web_port, device_port, enroll_port]));
    let web = SocketAddr::from(([127, 0, 0, 1], web_port));
    let session = Session::sign_in(&https, web, "admin", ADMIN_PASSWORD)
        .await
        .unwrap();
    let cluster = Arc::new(Cluster {
        https: https.clone(),
        web,
        device: SocketAddr::from(([127, 0, 0, 1], device_port)),
        session,
        db: db.clone(),
    });
    let all: Vec<&Server> = servers.iter().collect();
    cluster
        .until_alive(&all, &["s1", "s2", "s3"], Duration::from_secs(10))
        .await;
    for server in &servers {
        let status = cluster.servers_seen_by(server).await;
        assert_eq!(status["server"]["name"], server.name.as_str());
        assert_eq!(
            status["distributed"],
            json!({"configured": true, "running": true, "restart_required": false}),
            "{}",
            server.name
        );
    }
    eprintln!(
        "[cluster] three servers, PostgreSQL and nginx up after {:?}",
        started.elapsed()
    );

    // -- the cluster address is nginx's device listener; settings reach every server in 1 s ---
    let mut saves: Vec<(u64, String)> = Vec::new();
    {
        let current = cluster.get(web, app::api::SETTINGS_URL).await;
        let mut doc = current.body.clone();
        doc["cluster_address"] = json!({"enabled": true, "host": "127.0.0.1", "port": device_port});
        let [cookie, csrf] = cluster.session.headers();
        let etag = current.etag();
        let put = https
            .send(
                web,
                "PUT",
                app::api::SETTINGS_URL,
                &[cookie, csrf, ("if-match", etag.as_str())],
                Some(&doc),
            )
            .await
            .unwrap();
        assert_eq!(put.status, 200, "{put:?}");
        let etag = put.etag();
        let times = cluster
            .served_by_all(&all, &etag, Instant::now(), Duration::from_secs(10))
            .await;
        assert!(times.iter().all(|t| *t <= PROPAGATION_BOUND), "{times:?}");
    }
    let mut value = 100;
    for round in 1..=5 {
        saves.push(
            cluster
                .propagate(&all, value, &format!("#{round}, three servers"))
                .await,
        );
        value += 1;
    }

    // -- a session signed out on one server is refused by the others within 1 s ---------------
    {
        let other = Session::sign_in(&https, web, "admin", ADMIN_PASSWORD)
            .await
            .unwrap();
        for server in &servers {
            // each server has the session in its cache now
            let me = https
                .send(
                    server.addr(),
                    "GET",
                    app::api::ME_URL,
                    &other.headers(),
                    None,
                )
                .await
                .unwrap();
            assert_eq!(me.status, 200, "{me:?}");
        }
        let out = https
            .send(
                servers[0].addr(),
                "POST",
                app::api::LOGOUT_URL,
                &other.headers(),
                None,
            )
            .await
            .unwrap();
        assert_eq!(out.status, 204, "{out:?}");
        let signed_out = Instant::now();
        let mut refused_after = Vec::new();
        for server in &servers {
            loop {
                let me = https
                    .send(
                        server.addr(),
                        "GET",
                        app::api::ME_URL,
                        &other.headers(),
                        None,
                    )
                    .await
                    .unwrap();
                if me.status == 401 {
                    refused_after.push((server.name.clone(), signed_out.elapsed()));
                    break;
                }
                assert_eq!(me.status, 200, "{me:?}");
                assert!(
                    signed_out.elapsed() < PROPAGATION_BOUND,
                    "{} still accepts a session signed out on s1 after {PROPAGATION_BOUND:?}",
                    server.name
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        eprintln!("[cluster] a session signed out on s1 is refused: {refused_after:?}");
        let me = https
            .send(web, "GET", app::api::ME_URL, &other.headers(), None)
            .await
            .unwrap();
        assert_eq!(me.status, 401, "through nginx too: {me:?}");
    }

    // -- nginx balances both listeners: requests in a row go to each server in turn -----------
    {
        let mut answered = Vec::new();
        for _ in 0..6 {
            let status = cluster.get(web, app::api::SERVER_URL).await;
            answered.push(status.body["server"]["name"].as_str().unwrap().to_owned());
        }
        for _ in 0..6 {
            let cacerts = https
                .send(cluster.device, "GET", "/.well-known/est/cacerts", &[], None)
                .await
                .unwrap();
            assert_eq!(cacerts.status, 200, "{cacerts:?}");
        }
        // nginx logs a request once it has answered it
        tokio::time::sleep(Duration::from_millis(300)).await;
        let log = std::fs::read_to_string(nginx_dir.join("access.log")).unwrap();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.starts_with(&format!("{device_port} ")))
            .collect();
        assert_eq!(lines.len(), 6, "{log}");
        let by_device: Vec<String> = lines
            .iter()
            .map(|line| {
                let upstream = line.rsplit_once("upstream=").unwrap().1;
                let server = servers.iter().find(|s| s.addr().to_string() == upstream);
                server.map_or(upstream.to_owned(), |s| s.name.clone())
            })
            .collect();
        eprintln!(
            "[cluster] requests in a row through nginx answered by: web listener {answered:?}, \
             device listener {by_device:?}"
        );
        for (listener, names) in [("web", &answered), ("device", &by_device)] {
            let mut count: BTreeMap<&str, usize> = BTreeMap::new();
            for name in names {
                *count.entry(name).or_default() += 1;
            }
            assert_eq!(
                count,
                BTreeMap::from([("s1", 2), ("s2", 2), ("s3", 2)]),
                "the {listener} listener balances over the three servers"
            );
        }
    }

    // -- the devices, registered through nginx with their MACs ----------------------------------
    let mut device_ids: BTreeMap<String, i64> = BTreeMap::new();
    for device in &sim.devices {
        let ip = device["ip"].as_str().unwrap();
        let created = cluster
            .post(
                app::api::DEVICES_URL,
                json!({"ip": ip, "mac": device["mac"], "hostname": device["hostname"]}),
            )
            .await;
        assert_eq!(created.status, 201, "{created:?}");
        device_ids.insert(ip.to_owned(), created.body["id"].as_i64().unwrap());
    }

    // -- the online check: every device once per round, by exactly one server -------------------
    {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Tally::read(&tally_file).status_queries.len() < DEVICES {
            assert!(Instant::now() < deadline, "not every device is checked");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // one more round, so that every server has read the full list
    tokio::time::sleep(ROUND_INTERVAL * 2).await;
    let before = Tally::newer(&tally_file, unix_ms()).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = Tally::newer(&tally_file, unix_ms()).await;
    let owner = one_server_per_device(&before, &after, &device_ips, &all, "steady, three servers");

    // -- jobs: three long scans and a Wake-on-LAN for each sleeping device ----------------------
    let range = format!(
        "{FIRST_DEVICE}-{}",
        Ipv4Addr::from(u32::from(FIRST_DEVICE) + DEVICES as u32 - 1)
    );
    let mut scan_jobs = Vec::new();
    for i in 0..3u32 {
        let job = cluster
            .post(
                app::api::JOBS_URL,
                json!({"name": format!("scan {i}"), "command": "scan", "targets": [range],
                       "due_at": rfc3339_in(Duration::from_millis(1500 + 400 * u64::from(i)))}),
            )
            .await;
        assert_eq!(job.status, 201, "{job:?}");
        scan_jobs.push(job.body["id"].as_i64().unwrap());
    }
    let asleep: Vec<&Value> = sim.asleep().collect();
    assert!(asleep.len() >= 15, "{} asleep", asleep.len());
    let mut wake_jobs: BTreeMap<i64, String> = BTreeMap::new(); // job → MAC
    for (i, device) in asleep.iter().enumerate() {
        let ip = device["ip"].as_str().unwrap();
        let job = cluster
            .post(
                app::api::JOBS_URL,
                json!({"name": format!("wake {ip}"), "command": "wake_on_lan",
                       "targets": [device_ids[ip]],
                       "due_at": rfc3339_in(Duration::from_millis(1000 + 400 * i as u64))}),
            )
            .await;
        assert_eq!(job.status, 201, "{job:?}");
        wake_jobs.insert(
            job.body["id"].as_i64().unwrap(),
            device["mac"].as_str().unwrap().to_owned(),
        );
    }

    // -- kill -9 of the server running a scan ---------------------------------------------------
    let stop_saving = CancellationToken::new();
    let saver = keep_saving(cluster.clone(), 1000, stop_saving.clone());
    let stop_using = CancellationToken::new();
    let user = keep_using(cluster.clone(), stop_using.clone());
    let ids = server_ids(&cluster).await;
    let (victim_id, running_there) = {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let running: Vec<(i64, String)> = executions(&cluster)
                .await
                .into_iter()
                .filter(|(_, job, status, _, _)| status == "running" && scan_jobs.contains(job))
                .map(|(id, _, _, server, _)| (id, server.unwrap()))
                .collect();
            if let Some((_, server)) = running.first() {
                let server = server.clone();
                let there: Vec<i64> = executions(&cluster)
                    .await
                    .into_iter()
                    .filter(|(_, _, status, on, _)| {
                        status == "running" && on.as_deref() == Some(server.as_str())
                    })
                    .map(|(id, ..)| id)
                    .collect();
                break (server, there);
            }
            assert!(Instant::now() < deadline, "no scan job started");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let victim = servers
        .iter()
        .position(|s| ids[&s.name] == victim_id)
        .unwrap();
    let victim_name = servers[victim].name.clone();
    let victim_source = servers[victim].udp.to_string();
    let victim_devices: Vec<String> = owner
        .iter()
        .filter(|(_, source)| **source == victim_source)
        .map(|(device, _)| device.clone())
        .collect();
    let killed_ms = unix_ms();
    let killed = Instant::now();
    blocking(|| servers[victim].kill());
    let cursor_at_kill: Option<i64> = {
        let mut conn = cluster.sql().await;
        sqlx::query_scalar("SELECT message_cursor FROM servers WHERE id = $1")
            .bind(&victim_id)
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    eprintln!(
        "[cluster] kill -9 of {victim_name} while it ran executions {running_there:?} and \
         checked {} devices",
        victim_devices.len()
    );
    let survivors: Vec<&Server> = servers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != victim)
        .map(|(_, s)| s)
        .collect();

    // its devices are queried by the others within the heartbeat timeout and one round
    let failover = {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let tally = Tally::read(&tally_file);
            let taken: Vec<Option<u64>> = victim_devices
                .iter()
                .map(|device| {
                    survivors
                        .iter()
                        .map(|s| tally.queries(device, &s.udp.to_string()))
                        .filter(|q| q.count > 0)
                        .map(|q| q.first_ms)
                        .min()
                })
                .collect();
            if taken.iter().all(Option::is_some) {
                let last = taken.into_iter().flatten().max().unwrap_or(killed_ms);
                break Duration::from_millis(last.saturating_sub(killed_ms));
            }
            assert!(
                Instant::now() < deadline,
                "the devices of {victim_name} are not checked by the others: {taken:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let failover_bound = HEARTBEAT_TIMEOUT + ROUND_INTERVAL + SLACK;
    eprintln!(
        "[cluster] failover: every device of {victim_name} queried by another server {} ms \
         after the kill (heartbeat timeout {} ms + one round {} ms)",
        ms(failover),
        ms(HEARTBEAT_TIMEOUT),
        ms(ROUND_INTERVAL)
    );
    assert!(
        failover <= failover_bound,
        "failover took {failover:?} (bound {failover_bound:?})"
    );

    // its running executions are failed once their lease runs out, by another server
    {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let done: Vec<_> = executions(&cluster)
                .await
                .into_iter()
                .filter(|(id, ..)| running_there.contains(id))
                .collect();
            if done.iter().all(|(_, _, status, _, _)| status != "running") {
                for (id, _, status, _, result) in &done {
                    assert_eq!(status, "failed", "execution {id}: {result:?}");
                    assert!(
                        result.as_deref().unwrap_or("").contains("lease ran out"),
                        "execution {id}: {result:?}"
                    );
                }
                eprintln!(
                    "[cluster] the executions {victim_name} ran were failed {} ms after the \
                     kill (lease: the heartbeat timeout, {} ms)",
                    ms(killed.elapsed()),
                    ms(HEARTBEAT_TIMEOUT)
                );
                assert!(
                    killed.elapsed() <= HEARTBEAT_TIMEOUT + SLACK + HEARTBEAT_INTERVAL,
                    "the lease ran out late"
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "executions {running_there:?} still running: {done:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // settings saved on the survivors reach both in 1 s
    saves.push(
        cluster
            .propagate(&survivors, value, "two servers, one killed")
            .await,
    );
    value += 1;

    // every job execution ends once; every magic packet is sent once
    let executions_done = {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let all_executions = executions(&cluster).await;
            let open: Vec<_> = all_executions
                .iter()
                .filter(|(_, _, status, _, _)| status == "pending" || status == "running")
                .collect();
            if open.is_empty() {
                break all_executions;
            }
            assert!(Instant::now() < deadline, "executions never end: {open:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let created: BTreeSet<i64> = scan_jobs.iter().chain(wake_jobs.keys()).copied().collect();
    let executed: Vec<i64> = executions_done.iter().map(|(_, job, ..)| *job).collect();
    assert_eq!(
        executed.iter().copied().collect::<BTreeSet<_>>(),
        created,
        "one execution per one-shot job"
    );
    assert_eq!(
        executed.len(),
        created.len(),
        "one execution per one-shot job"
    );
    let tally = Tally::read(&tally_file);
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    for (id, job, status, server, result) in &executions_done {
        *by_status.entry(status.clone()).or_default() += 1;
        assert!(
            ["done", "failed", "expired"].contains(&status.as_str()),
            "execution {id}: {status}"
        );
        if let Some(mac) = wake_jobs.get(job) {
            let packets = tally.magic_packets.get(mac).copied().unwrap_or(0);
            match status.as_str() {
                "done" => assert_eq!(packets, 1, "job {job} done on {server:?}: {result:?}"),
                _ => assert!(packets <= 1, "job {job}: {packets} magic packets"),
            }
        }
    }
    let repeated: Vec<_> = tally
        .magic_packets
        .iter()
        .filter(|(_, n)| **n > 1)
        .collect();
    assert!(
        repeated.is_empty(),
        "magic packets sent twice: {repeated:?}"
    );
    eprintln!("[cluster] job executions: {by_status:?}; no magic packet sent twice");
    // the scans end too: the dead server's is failed by the others, none stays running
    {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let list = cluster.get(web, app::api::SCANS_URL).await;
            assert_eq!(list.status, 200, "{list:?}");
            let scans = list.body["scans"].as_array().unwrap().clone();
            let states: Vec<(String, String)> = scans
                .iter()
                .map(|s| {
                    (
                        s["server_name"].as_str().unwrap_or_default().to_owned(),
                        s["state"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            if states.len() >= scan_jobs.len() && states.iter().all(|(_, state)| state != "running")
            {
                assert!(
                    states
                        .iter()
                        .any(|(server, state)| *server == victim_name && state == "failed"),
                    "the scan {victim_name} ran is failed: {states:?}"
                );
                eprintln!("[cluster] scans (server, state): {states:?}");
                break;
            }
            assert!(Instant::now() < deadline, "scans still running: {states:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // the woken devices answer: the online check finds them
    {
        let woken: BTreeSet<String> = executions_done
            .iter()
            .filter(|(_, job, status, ..)| status == "done" && wake_jobs.contains_key(job))
            .map(|(_, job, ..)| wake_jobs[job].clone())
            .collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let page = cluster
                .get(
                    web,
                    &format!("{}?status=online&limit=1000", app::api::DEVICES_URL),
                )
                .await;
            let online: BTreeSet<String> = page.body["devices"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|d| d["mac"].as_str().map(str::to_owned))
                .collect();
            if woken.is_subset(&online) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "woken devices not online: {:?}",
                woken.difference(&online).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // -- the killed server starts again, rejoins and reads what it missed -----------------------
    let missed_up_to: i64 = {
        let mut conn = cluster.sql().await;
        let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(tx) FROM cluster_messages")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        newest.expect("messages were sent")
    };
    assert!(
        cursor_at_kill.is_some_and(|c| c <= missed_up_to),
        "{victim_name} missed messages while down: cursor {cursor_at_kill:?}, newest {missed_up_to}"
    );
    let restarted = Instant::now();
    blocking(|| servers[victim].start());
    let all: Vec<&Server> = servers.iter().collect();
    cluster
        .until_alive(&all, &["s1", "s2", "s3"], Duration::from_secs(10))
        .await;
    let rejoined = restarted.elapsed();
    {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut conn = cluster.sql().await;
            let cursor: Option<i64> =
                sqlx::query_scalar("SELECT message_cursor FROM servers WHERE id = $1")
                    .bind(&victim_id)
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
            if cursor.is_some_and(|c| c > missed_up_to) {
                eprintln!(
                    "[cluster] {victim_name} started again: alive on all three after {} ms; its \
                     message cursor went from {cursor_at_kill:?} past {missed_up_to} to \
                     {cursor:?}",
                    ms(rejoined)
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{victim_name} did not read the messages it missed: cursor {cursor:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert!(
        servers[victim]
            .log()
            .contains("reading the cluster messages missed since the last run"),
        "{}",
        servers[victim].tail()
    );
    stop_using.cancel();
    let (requests, failures) = user.await.unwrap();
    eprintln!(
        "[cluster] through nginx across the kill and the restart: {requests} requests of the \
         session and of devices, {} failed",
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:?}");
    stop_saving.cancel();
    let saved_across_kill = saver.await.unwrap();
    eprintln!(
        "[cluster] {} saves through nginx across the kill and the restart",
        saved_across_kill.len()
    );
    assert!(!saved_across_kill.is_empty());
    saves.extend(saved_across_kill);
    let all: Vec<&Server> = servers.iter().collect();
    saves.push(
        cluster
            .propagate(&all, value, "three servers, one restarted")
            .await,
    );
    value += 1;

    // -- PostgreSQL restarts under the servers --------------------------------------------------
    let stop_saving = CancellationToken::new();
    let saver = keep_saving(cluster.clone(), 5000, stop_saving.clone());
    // A session signed in just before, which no server has read yet, used from the restart on.
    // Printed, not asserted: a server that fails to read a session from the database answers
    // 401 "sign in first" (accounts::lookup treats a database error as no session), so some of
    // these requests are refused while the database restarts.
    let fresh = Session::sign_in(&https, web, "admin", ADMIN_PASSWORD)
        .await
        .unwrap();
    let fresh_user = tokio::spawn({
        let (https, stop) = (https.clone(), stop_saving.clone());
        async move {
            let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
            // first used once the restart has begun
            tokio::time::sleep(Duration::from_millis(550)).await;
            while !stop.is_cancelled() {
                let me = https
                    .send(web, "GET", app::api::ME_URL, &fresh.headers(), None)
                    .await;
                let status = me.map_or_else(
                    |e| e,
                    |r| match r.body["errors"][0]["message"].as_str() {
                        Some(message) => format!("{} {message}", r.status),
                        None => r.status.to_string(),
                    },
                );
                *statuses.entry(status).or_default() += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            statuses
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pg_restart = Instant::now();
    blocking(|| pg.restart());
    let pg_down = pg_restart.elapsed();
    let pg_back_ms = unix_ms();
    // every server heartbeats again: alive for all three, with beats after the restart
    cluster
        .until_alive(&all, &["s1", "s2", "s3"], Duration::from_secs(20))
        .await;
    {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut conn = cluster.sql().await;
            let beating: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM servers WHERE stopped_at IS NULL AND last_heartbeat > $1",
            )
            .bind(pg_back_ms as i64)
            .fetch_one(&mut conn)
            .await
            .unwrap();
            if beating == 3 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{beating} servers heartbeat after the restart"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let recovered = pg_restart.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop_saving.cancel();
    let saved_across_restart = saver.await.unwrap();
    let fresh_statuses = fresh_user.await.unwrap();
    eprintln!("[cluster] a fresh session across the PostgreSQL restart: {fresh_statuses:?}");
    eprintln!(
        "[cluster] PostgreSQL restart: down for {} ms (pg_ctl restart -m fast); all three \
         heartbeat again {} ms after it began; {} saves through nginx meanwhile",
        ms(pg_down),
        ms(recovered),
        saved_across_restart.len()
    );
    saves.extend(saved_across_restart);
    saves.push(
        cluster
            .propagate(&all, value, "after the PostgreSQL restart")
            .await,
    );
    // and every server reads the messages again: their cursors move past the save's message
    {
        let mut conn = cluster.sql().await;
        let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(tx) FROM cluster_messages")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        let newest = newest.unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let behind: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM servers WHERE stopped_at IS NULL \
                 AND COALESCE(message_cursor, 0) <= $1",
            )
            .bind(newest)
            .fetch_one(&mut conn)
            .await
            .unwrap();
            if behind == 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{behind} servers did not read past message tx {newest} after the restart"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // -- nothing lost -----------------------------------------------------------------------------
    let (last_value, last_etag) = saves.last().cloned().unwrap();
    for server in &servers {
        let served = cluster.get(server.addr(), app::api::SETTINGS_URL).await;
        assert_eq!(served.etag(), last_etag, "{}", server.name);
        assert_eq!(
            served.body["scheduled_jobs"]["expiration_minutes"],
            json!(last_value),
            "{}",
            server.name
        );
        assert_eq!(
            served.body["cluster_address"],
            json!({"enabled": true, "host": "127.0.0.1", "port": device_port})
        );
    }
    let audited: BTreeSet<u64> = cluster.audited_values().await.into_iter().collect();
    let missing: Vec<u64> = saves
        .iter()
        .map(|(v, _)| *v)
        .filter(|v| !audited.contains(v))
        .collect();
    assert!(
        missing.is_empty(),
        "saves missing from the audit log: {missing:?}"
    );
    let job_rows: BTreeSet<String> = cluster
        .audit("jobs")
        .await
        .iter()
        .filter(|e| e["action"] == "create")
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    for job in &created {
        assert!(
            job_rows.contains(&format!("jobs.{job}")),
            "job {job} not audited"
        );
    }
    let device_rows: BTreeSet<String> = cluster
        .audit("devices")
        .await
        .iter()
        .filter(|e| e["action"] == "register")
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    for id in device_ids.values() {
        assert!(
            device_rows.contains(&format!("devices.{id}")),
            "device {id} not audited"
        );
    }
    eprintln!(
        "[cluster] {} saves with a 200, all in the audit log; the last one served by all three",
        saves.len()
    );
    assert_eq!(
        executions(&cluster).await,
        executions_done,
        "executions changed afterwards"
    );

    // the online check settles again: one server per device, each of the three with a share
    let before = Tally::newer(&tally_file, unix_ms()).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let after = Tally::newer(&tally_file, unix_ms()).await;
    let owner_again = one_server_per_device(&before, &after, &device_ips, &all, "steady again");
    assert_eq!(owner_again, owner, "the devices went back to their servers");

    // nginx balanced the console and API and the device traffic over the three servers
    let (used, retried) = nginx::upstreams_used(&nginx_dir);
    let name = |addr: &str| {
        servers
            .iter()
            .find(|s| s.addr().to_string() == addr)
            .map_or(addr.to_owned(), |s| s.name.clone())
    };
    for (port, listener) in [(web_port, "web"), (device_port, "device")] {
        let counts = used.get(&port.to_string()).cloned().unwrap_or_default();
        let shown: Vec<String> = counts
            .iter()
            .map(|(addr, n)| format!("{} {n}", name(addr)))
            .collect();
        eprintln!(
            "[cluster] over the test, nginx's {listener} listener passed requests to {}",
            shown.join(", ")
        );
    }
    eprintln!(
        "[cluster] {retried} requests went on to another server after one failed; the test \
         took {:?}",
        started.elapsed()
    );

    drop(nginx);
    drop(servers);
    drop(sim);
    drop(pg);
    if std::env::var_os("PHAROS_TEST_KEEP").is_some() {
        eprintln!("[cluster] logs kept in {}", dir.keep().display());
    }
}
