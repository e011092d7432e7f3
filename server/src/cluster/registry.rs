//! The servers sharing this database: registration, heartbeats and who is alive, judged by the
//! database's clock (server clocks may disagree; the database's is the one they share).

use super::bus::{Bus, Remote, Topic};
use super::identity::Identity;
use crate::db::{Db, DbError, rfc3339};
use crate::on_backend;
use crate::workers::Workers;
use app::api::{LiveEvent, ServerEntry};
use arc_swap::ArcSwap;
use sqlx::Row;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;

#[derive(Clone, Debug, PartialEq)]
pub struct ServerRow {
    pub id: String,
    pub name: String,
    pub addresses: Vec<String>,
    pub started_at: i64,
    pub last_heartbeat: i64,
    pub stopped: bool,
    pub clock_offset_ms: Option<i64>,
}

/// The server list as last read, with the database's time at that moment.
#[derive(Debug)]
struct View {
    rows: Vec<ServerRow>,
    db_now: i64,
    read_at: Instant,
}

impl View {
    /// The database's time now, from the last reading and the monotonic clock since.
    fn db_now(&self) -> i64 {
        self.db_now + i64::try_from(self.read_at.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    /// The servers alive when this list was read: two readings compared, to see a server whose
    /// heartbeat stopped leave (judged both at the present, it would be gone from both).
    fn alive_when_read(&self, timeout: i64) -> Vec<&str> {
        self.rows
            .iter()
            .filter(|r| alive(r, self.db_now, timeout))
            .map(|r| r.id.as_str())
            .collect()
    }

    /// The servers alive now, by the database's time extrapolated from the reading.
    fn alive_ids(&self, timeout: i64) -> Vec<&str> {
        let now = self.db_now();
        self.rows
            .iter()
            .filter(|r| alive(r, now, timeout))
            .map(|r| r.id.as_str())
            .collect()
    }
}

fn alive(row: &ServerRow, db_now: i64, timeout: i64) -> bool {
    !row.stopped && db_now - row.last_heartbeat <= timeout
}

pub struct Registry {
    db: Db,
    bus: Bus,
    identity: Identity,
    timeout: i64,
    view: ArcSwap<View>,
    /// One refresh at a time (the heartbeat and the follower both refresh), so an older reading
    /// never replaces a newer one and each change is announced once.
    refreshing: tokio::sync::Mutex<()>,
}

impl Registry {
    /// Records this server as started and reads the list.
    pub async fn register(
        db: Db,
        bus: Bus,
        identity: Identity,
        heartbeat_timeout: Duration,
    ) -> Result<Registry, DbError> {
        upsert(&db, &bus, &identity).await?;
        Registry::read_as(db, bus, identity, heartbeat_timeout).await
    }

    /// Reads the list without registering: for the command line, which is not a server (its
    /// stand-in identity is in no row, so it never counts as one).
    pub async fn observe(
        db: Db,
        bus: Bus,
        heartbeat_timeout: Duration,
    ) -> Result<Registry, DbError> {
        let name = gethostname::gethostname().to_string_lossy().into_owned();
        let identity = Identity {
            id: format!("cli-{}", uuid::Uuid::new_v4().simple()),
            name: name.clone(),
            addresses: Vec::new(),
            device_address: app::model::OwnAddress {
                public_address: None,
                address: name,
                port: 0,
            },
        };
        Registry::read_as(db, bus, identity, heartbeat_timeout).await
    }

    async fn read_as(
        db: Db,
        bus: Bus,
        identity: Identity,
        heartbeat_timeout: Duration,
    ) -> Result<Registry, DbError> {
        let view = read(&db).await?;
        Ok(Registry {
            db,
            bus,
            identity,
            timeout: i64::try_from(heartbeat_timeout.as_millis()).unwrap_or(i64::MAX),
            view: ArcSwap::from_pointee(view),
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Records that this server is alive, then re-reads the list.
    pub async fn heartbeat(&self) -> Result<(), DbError> {
        // the offset is measured against this server's clock as the statement leaves (its time
        // on the way is the error, far below the minute that matters)
        let sql = format!(
            "UPDATE servers SET last_heartbeat = {now}, stopped_at = NULL, \
             clock_offset_ms = $2 - {now} WHERE id = $1",
            now = self.db.now_sql()
        );
        let updated = on_backend!(&self.db.pool, pool => sqlx::query(&sql)
            .bind(&self.identity.id)
            .bind(crate::workers::unix_millis())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        if updated == 0 {
            tracing::warn!("this server's row was deleted; registering again");
            upsert(&self.db, &self.bus, &self.identity).await?;
        }
        self.refresh().await
    }

    /// Re-reads the list and tells subscribers which servers joined or left since the last time.
    pub async fn refresh(&self) -> Result<(), DbError> {
        let _one_at_a_time = self.refreshing.lock().await;
        let new = Arc::new(read(&self.db).await?);
        let old = self.view.swap(new.clone());
        let (before, after) = (
            old.alive_when_read(self.timeout),
            new.alive_when_read(self.timeout),
        );
        for row in &new.rows {
            let id = row.id.as_str();
            let entry = || self.entry(row, new.db_now());
            if after.contains(&id) && !before.contains(&id) {
                self.bus
                    .publish(LiveEvent::ServerJoined { server: entry() });
            } else if before.contains(&id) && !after.contains(&id) {
                self.bus.publish(LiveEvent::ServerLeft { server: entry() });
            }
        }
        Ok(())
    }

    /// Re-reads the list as soon as another server registers or stops, and after a lost
    /// connection to the database; the heartbeat re-reads it anyway.
    pub fn follow(self: &Arc<Self>, workers: &Workers) {
        let this = self.clone();
        let mut signals = self.bus.follow();
        workers.spawn("server-follower", async move {
            loop {
                match signals.recv().await {
                    Ok(Remote::Changed(Topic::Servers, _) | Remote::Reconnected)
                    | Err(RecvError::Lagged(_)) => {}
                    Ok(Remote::Changed(..) | Remote::Statuses(_)) => continue,
                    Err(RecvError::Closed) => break,
                }
                if let Err(e) = this.refresh().await {
                    tracing::warn!(error = %e, "reading the server list failed");
                }
            }
        });
    }

    /// Marks this server as stopped, so the others see it leave now rather than after the
    /// heartbeat timeout.
    pub async fn stopped(&self) -> Result<(), DbError> {
        let sql = format!(
            "UPDATE servers SET stopped_at = {} WHERE id = $1",
            self.db.now_sql()
        );
        let mut tx = self.db.begin().await?;
        on_backend!(&mut tx, tx => sqlx::query(&sql)
            .bind(&self.identity.id)
            .execute(&mut **tx)
            .await
            .map(|_| ()))?;
        self.bus.notify(&mut tx, Topic::Servers, None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Which devices this server's online check takes: all of them, unless it shares the work
    /// with the other live servers of a distributed installation. Every server computes the same
    /// split from the same list, and a server that stops beating drops out of it once its
    /// heartbeat is older than the timeout (judged on the database's clock, at the time asked).
    pub fn share(&self) -> Share {
        if !self.bus.shared() {
            return Share::all();
        }
        let view = self.view.load();
        let mut live: Vec<&str> = view.alive_ids(self.timeout);
        // this server checks while it runs, even if its own beat is late (the database away)
        if !live.contains(&self.identity.id.as_str()) {
            live.push(&self.identity.id);
        }
        live.sort_unstable();
        Share::among(&self.identity.id, &live)
    }

    fn entry(&self, row: &ServerRow, db_now: i64) -> ServerEntry {
        ServerEntry {
            id: row.id.clone(),
            name: row.name.clone(),
            addresses: row.addresses.clone(),
            started_at: rfc3339(row.started_at),
            last_heartbeat: rfc3339(row.last_heartbeat),
            alive: alive(row, db_now, self.timeout),
            this_server: row.id == self.identity.id,
            clock_offset_ms: row.clock_offset_ms,
        }
    }

    /// Every known server, this one first if the list lacks it (its row was deleted by hand).
    pub fn servers(&self) -> (ServerEntry, Vec<ServerEntry>) {
        let view = self.view.load();
        let now = view.db_now();
        let servers: Vec<ServerEntry> = view.rows.iter().map(|r| self.entry(r, now)).collect();
        let this = servers
            .iter()
            .find(|s| s.this_server)
            .cloned()
            .unwrap_or_else(|| ServerEntry {
                id: self.identity.id.clone(),
                name: self.identity.name.clone(),
                addresses: self.identity.addresses.clone(),
                started_at: String::new(),
                last_heartbeat: String::new(),
                alive: true,
                this_server: true,
                clock_offset_ms: None,
            });
        (this, servers)
    }
}

/// A server's part of the devices, by rendezvous hashing: each device goes to the live server
/// that scores highest for it, so when a server joins or leaves only the devices it gains or
/// loses move, and every server agrees without talking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Share {
    /// The live servers' ids, sorted, and the seed of each.
    servers: Vec<(String, u64)>,
    /// This server's place in `servers`; `None`: it takes every device.
    me: Option<usize>,
}

impl Share {
    pub fn all() -> Share {
        Share {
            servers: Vec::new(),
            me: None,
        }
    }

    /// This server's share among `live` (sorted ids, this server's among them).
    pub fn among(me: &str, live: &[&str]) -> Share {
        let servers: Vec<(String, u64)> =
            live.iter().map(|id| (id.to_string(), seed(id))).collect();
        let me = servers.iter().position(|(id, _)| id == me);
        Share { servers, me }
    }

    /// How many servers share the devices.
    pub fn servers(&self) -> usize {
        self.servers.len().max(1)
    }

    pub fn owns(&self, device: i64) -> bool {
        let Some(me) = self.me else { return true };
        let mut best = (0u64, 0usize);
        for (i, (_, seed)) in self.servers.iter().enumerate() {
            let score = mix(seed ^ device as u64);
            if i == 0 || score > best.0 {
                best = (score, i);
            }
        }
        best.1 == me
    }
}

/// FNV-1a of a server id: the same on every server and every run.
fn seed(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The SplitMix64 finalizer: spreads neighbouring device ids over the servers.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Records the server as started (again), and tells the others.
async fn upsert(db: &Db, bus: &Bus, identity: &Identity) -> Result<(), DbError> {
    let sql = format!(
        "INSERT INTO servers (id, name, addresses, started_at, last_heartbeat, stopped_at) \
         VALUES ($1, $2, $3, {now}, {now}, NULL) ON CONFLICT (id) DO UPDATE SET \
         name = excluded.name, addresses = excluded.addresses, \
         started_at = excluded.started_at, last_heartbeat = excluded.last_heartbeat, \
         stopped_at = NULL",
        now = db.now_sql()
    );
    let addresses = serde_json::to_string(&identity.addresses).unwrap_or_else(|_| "[]".into());
    let mut tx = db.begin().await?;
    on_backend!(&mut tx, tx => sqlx::query(&sql)
        .bind(&identity.id)
        .bind(&identity.name)
        .bind(&addresses)
        .execute(&mut **tx)
        .await
        .map(|_| ()))?;
    bus.notify(&mut tx, Topic::Servers, None).await?;
    tx.commit().await?;
    Ok(())
}

async fn read(db: &Db) -> Result<View, DbError> {
    let sql = format!(
        "SELECT id, name, addresses, started_at, last_heartbeat, stopped_at IS NOT NULL, {}, \
         clock_offset_ms FROM servers ORDER BY name, id",
        db.now_sql()
    );
    let rows = on_backend!(&db.pool, pool => {
        sqlx::query(&sql)
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|row| {
                let addresses: String = row.try_get(2)?;
                let now: i64 = row.try_get(6)?;
                let server = ServerRow {
                    id: row.try_get(0)?,
                    name: row.try_get(1)?,
                    addresses: serde_json::from_str(&addresses)
                        .map_err(|e| DbError::Corrupt(format!("server addresses: {e}")))?,
                    started_at: row.try_get(3)?,
                    last_heartbeat: row.try_get(4)?,
                    stopped: row.try_get(5)?,
                    clock_offset_ms: row.try_get(7)?,
                };
                Ok::<_, DbError>((server, now))
            })
            .collect::<Result<Vec<_>, _>>()?
    });
    let read_at = Instant::now();
    let db_now = match rows.first() {
        Some((_, now)) => *now,
        None => db.now_millis().await?,
    };
    Ok(View {
        rows: rows.into_iter().map(|(r, _)| r).collect(),
        db_now,
        read_at,
    })
}

#[cfg(test)]
mod tests {
    use super::Share;

    #[test]
    fn every_device_has_exactly_one_server_and_few_move() {
        let ids = ["a", "b", "c"];
        let shares: Vec<Share> = ids.iter().map(|me| Share::among(me, &ids)).collect();
        let mut per_server = [0; 3];
        for device in 1..=30_000 {
            let owners: Vec<usize> = (0..3).filter(|&i| shares[i].owns(device)).collect();
            assert_eq!(owners.len(), 1, "device {device}: {owners:?}");
            per_server[owners[0]] += 1;
        }
        for n in per_server {
            assert!((9_000..11_000).contains(&n), "{per_server:?}");
        }
        // "c" leaves: only its devices move, and all of them
        let two = ["a", "b"];
        let after: Vec<Share> = two.iter().map(|me| Share::among(me, &two)).collect();
        for device in 1..=30_000 {
            let before = (0..3).find(|&i| shares[i].owns(device)).unwrap();
            let now = (0..2).find(|&i| after[i].owns(device)).unwrap();
            if before < 2 {
                assert_eq!(
                    before, now,
                    "device {device} moved though its server stayed"
                );
            }
        }
        assert!(Share::all().owns(7));
    }
}
