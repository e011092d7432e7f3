//! Messages between the servers of a distributed installation, as rows of `cluster_messages`.
//!
//! A change writes its message in its own transaction and notifies [`SHARED_CHANNEL`], which
//! wakes every server. A reader takes the messages of the transactions below a horizon, in the
//! order of their transaction ids: the oldest transaction of this database still running in the
//! reader's snapshot (or the snapshot's `xmax`). Transactions below it are over, so none of their
//! messages can still appear, and a message committed late by a long transaction is read when
//! that transaction ends, not skipped. Transaction ids are shared by every database of a
//! PostgreSQL cluster: a transaction running in another database (known by `pg_stat_activity` or
//! `pg_prepared_xacts`) cannot write here and holds nothing back; one whose database cannot be
//! told (no right to see it, or ended meanwhile) counts as this database's, which only delays. The reader's
//! position, the `xmin` it read up to, is kept in its server's row, so a server that was down or
//! lost its connection reads what it missed when it comes back, in order.
//!
//! Pruning: a message goes once every live server has read past it and it is older than
//! [`KEEP`], or when it is older than [`KEEP_AT_MOST`] whoever has read it. A server whose
//! position is below what was pruned missed messages it can no longer read: it re-reads all
//! shared state instead, as at a first start.

use super::bus::{Bus, Remote, SHARED_CHANNEL, Topic};
use crate::workers::Workers;
use prometheus_client::metrics::histogram::Histogram;
use sqlx::postgres::PgListener;
use sqlx::{PgPool, Postgres, Row, Transaction};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How long a message read by every live server is kept anyway (for a server that is not live
/// now but comes back soon).
pub const KEEP: Duration = Duration::from_secs(3600);
/// How long a message is kept at most, read or not.
pub const KEEP_AT_MOST: Duration = Duration::from_secs(7 * 24 * 3600);
/// How often the reader looks without being woken (a lost notification costs at most this).
const POLL: Duration = Duration::from_secs(1);
/// How soon the reader looks again when committed messages wait behind a running transaction.
const HELD_BACK: Duration = Duration::from_millis(5);
/// How often a server prunes.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Writes a message in the change's transaction and wakes every server when it commits.
pub(super) async fn send(
    tx: &mut Transaction<'static, Postgres>,
    origin: &str,
    topic: Topic,
    version: Option<i64>,
    payload: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH sent AS (INSERT INTO cluster_messages (origin, topic, version, payload) \
         VALUES ($1, $2, $3, $4)) SELECT pg_notify($5, '')",
    )
    .bind(origin)
    .bind(topic.as_str())
    .bind(version)
    .bind(payload)
    .bind(SHARED_CHANNEL)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A message as read.
#[derive(Debug)]
struct Message {
    origin: String,
    topic: String,
    version: Option<i64>,
    payload: Option<String>,
    /// When it was written, on the database's clock (Unix milliseconds).
    created_at: i64,
}

/// What one read found.
struct Batch {
    messages: Vec<Message>,
    /// The database's clock at the read.
    now: i64,
    /// Read up to here (exclusive).
    horizon: i64,
    /// Committed messages of transactions at or above the horizon: read again soon.
    held: bool,
    /// Messages of transactions below this were pruned.
    floor: i64,
}

/// Messages of transactions from `from` (inclusive) up to the database's oldest running one.
async fn read(pool: &PgPool, from: i64) -> Result<Batch, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    // One statement, one snapshot: the horizon and the rows below it agree. Ids in
    // pg_stat_activity are 32-bit, the snapshot's 64-bit (with the epoch).
    let rows = sqlx::query(
        "WITH s AS (SELECT pg_current_snapshot() AS snap), \
         h AS (SELECT LEAST(pg_snapshot_xmax(s.snap)::text::bigint, COALESCE(( \
             SELECT MIN(x::text::bigint) FROM pg_snapshot_xip(s.snap) AS x \
             WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a \
                 WHERE a.backend_xid::text::bigint = x::text::bigint % 4294967296 \
                   AND a.datname IS NOT NULL AND a.datname <> current_database()) \
               AND NOT EXISTS (SELECT 1 FROM pg_prepared_xacts p \
                 WHERE p.transaction::text::bigint = x::text::bigint % 4294967296 \
                   AND p.database <> current_database())), \
             pg_snapshot_xmax(s.snap)::text::bigint)) AS horizon FROM s) \
         SELECT h.horizon, \
                EXISTS (SELECT 1 FROM cluster_messages WHERE tx >= h.horizon) AS held, \
                m.origin, m.topic, m.version, m.payload, \
                (SELECT below FROM cluster_message_floor) AS floor, \
                m.created_at, \
                (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT AS now \
         FROM h LEFT JOIN cluster_messages m ON m.tx >= $1 AND m.tx < h.horizon \
         ORDER BY m.tx, m.id",
    )
    .bind(from)
    .fetch_all(&mut *conn)
    .await?;
    let first = rows.first().expect("the horizon row is always there");
    let horizon: i64 = first.try_get(0)?;
    let held: bool = first.try_get(1)?;
    let floor: i64 = first.try_get(6)?;
    let now: i64 = first.try_get(8)?;
    let mut messages = Vec::with_capacity(rows.len());
    for row in &rows {
        let Some(origin) = row.try_get::<Option<String>, _>(2)? else {
            continue; // the LEFT JOIN's row when there is no message
        };
        messages.push(Message {
            origin,
            topic: row.try_get(3)?,
            version: row.try_get(4)?,
            payload: row.try_get(5)?,
            created_at: row.try_get(7)?,
        });
    }
    Ok(Batch {
        messages,
        now,
        horizon,
        held,
        floor,
    })
}

/// Where this server stopped reading last time, and the floor below which messages were pruned.
async fn positions(pool: &PgPool, server: &str) -> Result<(Option<i64>, i64), sqlx::Error> {
    let row = sqlx::query(
        "SELECT s.message_cursor, f.below FROM cluster_message_floor f \
         LEFT JOIN servers s ON s.id = $1",
    )
    .bind(server)
    .fetch_one(pool)
    .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

async fn store_cursor(pool: &PgPool, server: &str, cursor: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE servers SET message_cursor = $2 WHERE id = $1")
        .bind(server)
        .bind(cursor)
        .execute(pool)
        .await?;
    Ok(())
}

/// Reads the messages until the server stops: woken by notifications, looking anyway every
/// [`POLL`], reconnecting after a lost connection and reading what was missed meanwhile.
pub(super) fn listen(
    bus: Bus,
    workers: &Workers,
    pool: PgPool,
    server: String,
    heartbeat_timeout: Duration,
    lag: Histogram,
) {
    workers.spawn("message-reader", {
        let pool = pool.clone();
        async move {
            let mut reader = Reader {
                bus,
                pool,
                server,
                cursor: None,
                lag,
            };
            loop {
                match reader.run().await {
                    Ok(()) => tracing::warn!("lost the database notification connection"),
                    Err(e) => tracing::warn!(error = %e, "reading the cluster messages failed"),
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });
    workers.every("message-pruner", PRUNE_EVERY, move || {
        let pool = pool.clone();
        async move {
            let pruned = prune(&pool, heartbeat_timeout).await?;
            if pruned > 0 {
                tracing::debug!(pruned, "cluster messages pruned");
            }
            Ok(())
        }
    });
}

struct Reader {
    bus: Bus,
    pool: PgPool,
    server: String,
    /// Read up to here; `None` until the first read of this run.
    cursor: Option<i64>,
    /// From a message written by another server to its reading here, in seconds.
    lag: Histogram,
}

impl Reader {
    /// One connection's worth; returns when the connection is lost.
    async fn run(&mut self) -> Result<(), sqlx::Error> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(SHARED_CHANNEL).await?;
        let (stored, floor) = positions(&self.pool, &self.server).await?;
        // this run's first read goes on from where the last run stopped
        let cursor = self.cursor.or(stored);
        match cursor {
            Some(cursor) if cursor >= floor => {
                if self.cursor.is_none() {
                    tracing::info!("reading the cluster messages missed since the last run");
                }
                self.cursor = Some(cursor);
            }
            // first start, or away so long that messages it had not read are gone
            _ => self.start_over().await?,
        }
        // Notifications are received by a task of their own, which only wakes this loop: a wait
        // for a notification is never cut short, and many coalesce into one read.
        let wake = Arc::new(Notify::new());
        let mut pump = AbortOnDrop(tokio::spawn({
            let wake = wake.clone();
            async move {
                // `None`: the connection is lost (sqlx would reconnect silently on the next
                // call; ending instead makes the caller read what was missed meanwhile)
                while listener.try_recv().await?.is_some() {
                    wake.notify_one();
                }
                Ok::<(), sqlx::Error>(())
            }
        }));
        let mut wait = Duration::ZERO;
        // since when messages wait behind a running transaction, and whether that was said
        let mut held_since: Option<(std::time::Instant, bool)> = None;
        loop {
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
                ended = &mut pump.0 => {
                    return ended.unwrap_or(Ok(()));
                }
            }
            // held back: look again soon, less and less often (one long transaction must not
            // make every server read every few milliseconds)
            wait = if self.read().await? {
                match held_since {
                    None => {
                        held_since = Some((std::time::Instant::now(), false));
                        HELD_BACK
                    }
                    Some((since, warned)) => {
                        if !warned && since.elapsed() > Duration::from_secs(10) {
                            tracing::warn!(
                                "cluster messages are held back for over 10 s by a long \
                                 transaction in this database (see pg_stat_activity; \
                                 idle_in_transaction_session_timeout ends forgotten ones)"
                            );
                            held_since = Some((since, true));
                        }
                        (wait * 2).min(POLL)
                    }
                }
            } else {
                held_since = None;
                POLL
            };
        }
    }

    /// Re-read everything: signals the followers and reads on from now.
    async fn start_over(&mut self) -> Result<(), sqlx::Error> {
        // Transaction ids above the present cannot be this cluster's: the database was restored
        // into another one (a dump), and what it left would hold back every read.
        sqlx::query(
            "WITH x AS (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax), \
             gone AS (DELETE FROM cluster_messages WHERE tx >= (SELECT xmax FROM x)) \
             UPDATE cluster_message_floor SET below = (SELECT xmax FROM x) \
             WHERE below > (SELECT xmax FROM x)",
        )
        .execute(&self.pool)
        .await?;
        let batch = read(&self.pool, i64::MAX).await?;
        self.cursor = Some(batch.horizon);
        store_cursor(&self.pool, &self.server, batch.horizon).await?;
        self.bus.signal(Remote::Reconnected);
        Ok(())
    }

    /// Reads and delivers the new messages; `true` when some wait behind a running transaction.
    /// The position is stored before the messages are delivered: a server that stops in between
    /// reads all state at its next start anyway, and one that goes on keeps its position here.
    async fn read(&mut self) -> Result<bool, sqlx::Error> {
        let from = self.cursor.unwrap_or(i64::MAX);
        let batch = read(&self.pool, from).await?;
        if self.cursor.is_some() && (from < batch.floor || from > batch.horizon) {
            // pruned while this server was away (or its ids went back): what it missed is gone
            self.start_over().await?;
            return Ok(false);
        }
        if batch.horizon > from {
            if !batch.messages.is_empty() {
                store_cursor(&self.pool, &self.server, batch.horizon).await?;
            }
            self.cursor = Some(batch.horizon);
        }
        for message in &batch.messages {
            if message.origin != self.server {
                let millis = (batch.now - message.created_at).max(0);
                self.lag.observe(millis as f64 / 1000.0);
            }
            self.deliver(message);
        }
        Ok(batch.held)
    }

    fn deliver(&self, message: &Message) {
        let Some(topic) = Topic::from_name(&message.topic) else {
            tracing::debug!(topic = message.topic, "a message of an unknown topic");
            return;
        };
        if topic == Topic::DeviceStatus {
            // the server that found them told its own pages already
            if message.origin != self.server {
                self.bus
                    .signal(Remote::Statuses(message.payload.as_deref().map(Arc::from)));
            }
            return;
        }
        self.bus.signal(Remote::Changed(topic, message.version));
    }
}

/// Deletes the messages every live server has read (kept [`KEEP`] anyway) and those older than
/// [`KEEP_AT_MOST`], and raises the floor below which a cursor means "missed some".
pub async fn prune(pool: &PgPool, heartbeat_timeout: Duration) -> Result<u64, sqlx::Error> {
    let now = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";
    let sql = format!(
        "WITH read_by_all AS ( \
             SELECT MIN(message_cursor) AS upto FROM servers \
             WHERE stopped_at IS NULL AND last_heartbeat >= {now} - $1 \
             AND message_cursor IS NOT NULL), \
         gone AS ( \
             DELETE FROM cluster_messages WHERE \
                 (tx < (SELECT upto FROM read_by_all) AND created_at < {now} - $2) \
                 OR created_at < {now} - $3 \
             RETURNING tx) \
         UPDATE cluster_message_floor SET below = GREATEST(below, (SELECT MAX(tx) + 1 FROM gone)) \
         WHERE EXISTS (SELECT 1 FROM gone) \
         RETURNING (SELECT COUNT(*) FROM gone)"
    );
    let millis = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let pruned: Option<i64> = sqlx::query_scalar(&sql)
        .bind(millis(heartbeat_timeout))
        .bind(millis(KEEP))
        .bind(millis(KEEP_AT_MOST))
        .fetch_optional(pool)
        .await?;
    Ok(pruned.unwrap_or(0).try_into().unwrap_or(0))
}

/// A task that ends with its owner.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
