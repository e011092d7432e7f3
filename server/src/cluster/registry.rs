//! The servers sharing this database: registration, heartbeats and who is alive, judged by the
//! database's clock (server clocks may disagree; the database's is the one they share).

use super::bus::{self, Bus, Remote, Topic};
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
        upsert(&db, &identity).await?;
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
        let sql = format!(
            "UPDATE servers SET last_heartbeat = {}, stopped_at = NULL WHERE id = $1",
            self.db.now_sql()
        );
        let updated = on_backend!(&self.db.pool, pool => sqlx::query(&sql)
            .bind(&self.identity.id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        if updated == 0 {
            tracing::warn!("this server's row was deleted; registering again");
            upsert(&self.db, &self.identity).await?;
        }
        self.refresh().await
    }

    /// Re-reads the list and tells subscribers which servers joined or left since the last time.
    pub async fn refresh(&self) -> Result<(), DbError> {
        let _one_at_a_time = self.refreshing.lock().await;
        let new = Arc::new(read(&self.db).await?);
        let old = self.view.swap(new.clone());
        let (before, after) = (old.alive_ids(self.timeout), new.alive_ids(self.timeout));
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
                    Ok(Remote::Changed(..)) => continue,
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
        bus::notify(&mut tx, Topic::Servers, None).await?;
        tx.commit().await?;
        Ok(())
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
            });
        (this, servers)
    }
}

/// Records the server as started (again), and tells the others.
async fn upsert(db: &Db, identity: &Identity) -> Result<(), DbError> {
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
    bus::notify(&mut tx, Topic::Servers, None).await?;
    tx.commit().await?;
    Ok(())
}

async fn read(db: &Db) -> Result<View, DbError> {
    let sql = format!(
        "SELECT id, name, addresses, started_at, last_heartbeat, stopped_at IS NOT NULL, {} \
         FROM servers ORDER BY name, id",
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
