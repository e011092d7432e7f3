//! The cluster as a client sees it: requests through nginx in a signed-in session, settings
//! saved as a script saves them, propagation measured by asking each server directly, the audit
//! log read page by page, and the database asked what the API does not show.

use super::client::{self, Https, Session};
use super::processes::Server;
use super::{EXPIRATION, PROPAGATION_BOUND, ms};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection, Row};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub struct Cluster {
    pub https: Https,
    pub web: SocketAddr,
    pub device: SocketAddr,
    pub session: Session,
    pub db: String,
}

impl Cluster {
    pub async fn get(&self, addr: SocketAddr, path: &str) -> client::Reply {
        self.https
            .send(addr, "GET", path, &self.session.headers(), None)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn post(&self, path: &str, body: Value) -> client::Reply {
        self.https
            .send(self.web, "POST", path, &self.session.headers(), Some(&body))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn sql(&self) -> PgConnection {
        PgConnection::connect(&self.db).await.expect("PostgreSQL")
    }

    /// Saves `expiration_minutes = value` through nginx as a script would: read the document
    /// and its ETag, change the value, `PUT` with `If-Match`; on 412 or 5xx (nothing saved by
    /// that request) read and try again. The ETag of the version saved with a 200; `None` if
    /// the value turned out stored by a request whose answer did not arrive.
    pub async fn save(&self, value: u64, patience: Duration) -> Option<String> {
        let deadline = Instant::now() + patience;
        let mut refused = Vec::new();
        loop {
            assert!(
                Instant::now() < deadline,
                "saving {value}: not within {patience:?}: {refused:?}"
            );
            match self
                .https
                .send(
                    self.web,
                    "GET",
                    app::api::SETTINGS_URL,
                    &self.session.headers(),
                    None,
                )
                .await
            {
                Ok(current) if current.status == 200 => {
                    if current.body["scheduled_jobs"]["expiration_minutes"] == json!(value) {
                        return None;
                    }
                    let mut doc = current.body.clone();
                    doc["scheduled_jobs"]["expiration_minutes"] = json!(value);
                    let etag = current.etag();
                    let [cookie, csrf] = self.session.headers();
                    let put = self
                        .https
                        .send(
                            self.web,
                            "PUT",
                            app::api::SETTINGS_URL,
                            &[cookie, csrf, ("if-match", etag.as_str())],
                            Some(&doc),
                        )
                        .await;
                    match put {
                        Ok(saved) if saved.status == 200 => {
                            assert_eq!(saved.body, doc);
                            return Some(saved.etag());
                        }
                        Ok(other) if other.status == 412 || other.status >= 500 => {
                            refused.push(format!("PUT {}", other.status))
                        }
                        Ok(other) => panic!("saving {value}: {other:?}"),
                        Err(e) => refused.push(e),
                    }
                }
                Ok(other) if other.status >= 500 => refused.push(format!("GET {}", other.status)),
                Ok(other) => panic!("reading the settings: {other:?}"),
                Err(e) => refused.push(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// How long after `since` each server served the version `etag` (polled directly, each on a
    /// kept-alive connection).
    pub async fn served_by_all(
        &self,
        servers: &[&Server],
        etag: &str,
        since: Instant,
        limit: Duration,
    ) -> Vec<Duration> {
        let polls = servers.iter().map(|server| {
            let addr = server.addr();
            let name = server.name.clone();
            async move {
                let mut conn = self.https.connect(addr).await.unwrap();
                loop {
                    let reply = match conn
                        .send("GET", app::api::SETTINGS_URL, &self.session.headers(), None)
                        .await
                    {
                        Ok(reply) => reply,
                        Err(_) => {
                            conn = self.https.connect(addr).await.unwrap();
                            continue;
                        }
                    };
                    if reply.status == 200 && reply.etag() == etag {
                        return since.elapsed();
                    }
                    assert!(
                        since.elapsed() < limit,
                        "{name} does not serve {etag} within {limit:?}: {:?} {:?}",
                        reply.header("etag"),
                        reply
                    );
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        });
        futures_util::future::join_all(polls).await
    }

    /// Saves through nginx, then measures how soon each server serves the new version directly;
    /// each within [`PROPAGATION_BOUND`].
    pub async fn propagate(&self, servers: &[&Server], value: u64, what: &str) -> (u64, String) {
        let etag = self
            .save(value, Duration::from_secs(30))
            .await
            .expect("saved with a 200");
        let saved = Instant::now();
        let times = self
            .served_by_all(servers, &etag, saved, Duration::from_secs(10))
            .await;
        let shown: Vec<String> = servers
            .iter()
            .zip(&times)
            .map(|(s, t)| format!("{} {} ms", s.name, ms(*t)))
            .collect();
        eprintln!(
            "[cluster] propagation {what}: saved through nginx, served by {}",
            shown.join(", ")
        );
        for (server, time) in servers.iter().zip(&times) {
            assert!(
                *time <= PROPAGATION_BOUND,
                "{what}: {} served the save after {time:?} (bound {PROPAGATION_BOUND:?})",
                server.name
            );
        }
        (value, etag)
    }

    /// `GET /api/v1/server` asked of one server directly.
    pub async fn servers_seen_by(&self, server: &Server) -> Value {
        let reply = self.get(server.addr(), app::api::SERVER_URL).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        reply.body
    }

    /// Waits until every server in `servers` sees exactly `alive` as the live servers.
    pub async fn until_alive(&self, servers: &[&Server], alive: &[&str], limit: Duration) {
        let deadline = Instant::now() + limit;
        let want: BTreeSet<&str> = alive.iter().copied().collect();
        for server in servers {
            loop {
                let status = self
                    .https
                    .send(
                        server.addr(),
                        "GET",
                        app::api::SERVER_URL,
                        &self.session.headers(),
                        None,
                    )
                    .await;
                let seen: Option<BTreeSet<String>> =
                    status.ok().filter(|r| r.status == 200).map(|r| {
                        r.body["servers"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .filter(|s| s["alive"] == true)
                            .map(|s| s["name"].as_str().unwrap().to_owned())
                            .collect()
                    });
                let seen_names: Option<BTreeSet<&str>> = seen
                    .as_ref()
                    .map(|s| s.iter().map(String::as_str).collect());
                if seen_names.as_ref() == Some(&want) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{} sees {seen:?} alive, not {want:?}, after {limit:?}:\n{}",
                    server.name,
                    server.tail()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// Every settings entry of the audit log: the new values of `expiration_minutes`.
    pub async fn audited_values(&self) -> Vec<u64> {
        self.audit("network_settings")
            .await
            .iter()
            .filter(|e| e["field"] == EXPIRATION)
            .map(|e| e["new_value"].as_u64().expect("a number"))
            .collect()
    }

    /// The whole audit log of one area, page by page.
    pub async fn audit(&self, area: &str) -> Vec<Value> {
        let mut entries = Vec::new();
        let mut before: Option<i64> = None;
        loop {
            let mut path = format!("{}?area={area}&limit=500", app::api::AUDIT_URL);
            if let Some(before) = before {
                path += &format!("&before={before}");
            }
            let page = self.get(self.web, &path).await;
            assert_eq!(page.status, 200, "{page:?}");
            entries.extend(page.body["entries"].as_array().unwrap().iter().cloned());
            match page.body["next_before"].as_i64() {
                Some(next) => before = Some(next),
                None => return entries,
            }
        }
    }
}

/// Saves through nginx again and again until stopped: the versions saved with a 200.
pub fn keep_saving(
    cluster: Arc<Cluster>,
    first: u64,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<Vec<(u64, String)>> {
    tokio::spawn(async move {
        let mut saved = Vec::new();
        let mut value = first;
        while !stop.is_cancelled() {
            if let Some(etag) = cluster.save(value, Duration::from_secs(60)).await {
                saved.push((value, etag));
            }
            value += 1;
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        saved
    })
}

/// The administrator's session and a device's request through nginx, every 100 ms until
/// stopped: every answer that was not a 200.
pub fn keep_using(
    cluster: Arc<Cluster>,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<(u64, Vec<String>)> {
    tokio::spawn(async move {
        let (mut requests, mut failures) = (0, Vec::new());
        while !stop.is_cancelled() {
            for (addr, path, headers) in [
                (
                    cluster.web,
                    app::api::ME_URL,
                    cluster.session.headers().to_vec(),
                ),
                (cluster.device, "/.well-known/est/cacerts", Vec::new()),
            ] {
                requests += 1;
                match cluster.https.send(addr, "GET", path, &headers, None).await {
                    Ok(reply) if reply.status == 200 => {}
                    Ok(reply) => failures.push(format!("{path}: {reply:?}")),
                    Err(e) => failures.push(e),
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        (requests, failures)
    })
}

/// Every job execution: (id, job, status, server, result).
pub async fn executions(
    cluster: &Cluster,
) -> Vec<(i64, i64, String, Option<String>, Option<String>)> {
    let mut conn = cluster.sql().await;
    sqlx::query("SELECT id, job_id, status, server_id, result FROM job_executions ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect()
}

pub async fn server_ids(cluster: &Cluster) -> BTreeMap<String, String> {
    let mut conn = cluster.sql().await;
    sqlx::query("SELECT name, id FROM servers")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

pub fn rfc3339_in(delay: Duration) -> String {
    (time::OffsetDateTime::now_utc() + delay)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}
