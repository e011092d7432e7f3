//! The database: one pool per backend (embedded SQLite, or PostgreSQL shared by several servers),
//! migrations per backend, and transactions. Most SQL is the same on both; [`on_backend!`] runs
//! one piece of code against whichever pool or transaction is in use, and the few statements that
//! differ are chosen with a plain `match`.

use anyhow::Context;
use app::model::DatabaseKind;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// A value that exists once per backend: a pool, a transaction.
#[derive(Clone, Debug)]
pub enum Backend<S, P> {
    Sqlite(S),
    Postgres(P),
}

/// Runs `$body` with `$x` bound to the SQLite or the PostgreSQL variant of `$value`; the body is
/// compiled once per backend, so the same `sqlx::query(..)` code serves both.
#[macro_export]
macro_rules! on_backend {
    ($value:expr, $x:ident => $body:expr) => {
        match $value {
            $crate::db::Backend::Sqlite($x) => $body,
            $crate::db::Backend::Postgres($x) => $body,
        }
    };
}

impl<S, P> Backend<S, P> {
    /// The database clock as an SQL expression (Unix milliseconds), for statements that stamp
    /// rows with it.
    pub fn now_sql(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "CAST(unixepoch('subsec') * 1000 AS INTEGER)",
            Backend::Postgres(_) => "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT",
        }
    }
}

pub type Pool = Backend<SqlitePool, PgPool>;
pub type Tx = Backend<Transaction<'static, Sqlite>, Transaction<'static, Postgres>>;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The stored version is not the one the change was based on.
    #[error("the data was changed by someone else")]
    Conflict,
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
}

/// The database of this server, cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pub pool: Pool,
    /// Made when the database was created: tells this database from a re-created one whose
    /// counters (revisions, ids) start again from 1.
    pub id: String,
}

impl Db {
    /// Connects (creating an SQLite file if needed) and applies the migrations.
    pub async fn connect(url: &str, kind: DatabaseKind) -> anyhow::Result<Db> {
        Db::open(url, kind, Upgrade::Migrate).await
    }

    /// Connects to the database as it is, for the command line: nothing is created or
    /// migrated, and a database whose schema is not this version's is refused with what to do.
    pub async fn existing(url: &str, kind: DatabaseKind) -> anyhow::Result<Db> {
        Db::open(url, kind, Upgrade::AsItIs).await
    }

    async fn open(url: &str, kind: DatabaseKind, upgrade: Upgrade) -> anyhow::Result<Db> {
        let pool = match kind {
            DatabaseKind::Sqlite => {
                let options = SqliteConnectOptions::from_str(url)
                    .context("reading the SQLite database URL")?
                    .create_if_missing(upgrade == Upgrade::Migrate)
                    // WAL lets readers go on while one writer commits; FULL keeps every
                    // committed change across a power loss.
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true);
                let pool = SqlitePoolOptions::new()
                    // one writer at a time anyway; readers are served from memory
                    .max_connections(4)
                    // a local file: no point in a round trip to test it before every use
                    .test_before_acquire(false)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await
                    .context("opening the SQLite database")?;
                Pool::Sqlite(pool)
            }
            DatabaseKind::Postgres => {
                let options = PgConnectOptions::from_str(url)
                    .context("reading the PostgreSQL database URL")?;
                let pool = PgPoolOptions::new()
                    .max_connections(10)
                    // Checked before use (one round trip, tens of microseconds): after a restart
                    // of PostgreSQL or a failover every pooled connection is dead, and unchecked
                    // each would fail one request or worker step.
                    .test_before_acquire(true)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await
                    .context("connecting to PostgreSQL")?;
                Pool::Postgres(pool)
            }
        };
        let migrator = match &pool {
            Backend::Sqlite(_) => sqlx::migrate!("../migrations/sqlite"),
            Backend::Postgres(_) => sqlx::migrate!("../migrations/postgres"),
        };
        match upgrade {
            Upgrade::Migrate => on_backend!(&pool, pool => migrator.run(pool).await)
                .context("applying the database migrations")?,
            Upgrade::AsItIs => {
                let read =
                    on_backend!(&pool, pool => sqlx::query_scalar(APPLIED).fetch_all(pool).await);
                same_version(&migrator, applied(read))?;
            }
        }
        let id = database_id(&pool).await?;
        Ok(Db { pool, id })
    }

    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match &self.pool {
            Backend::Sqlite(pool) => Backend::Sqlite(pool.begin().await?),
            Backend::Postgres(pool) => Backend::Postgres(pool.begin().await?),
        })
    }

    /// The database's clock in Unix milliseconds: the one clock every server sharing the
    /// database agrees on.
    pub async fn now_millis(&self) -> Result<i64, sqlx::Error> {
        let sql = format!("SELECT {}", self.now_sql());
        on_backend!(&self.pool, pool => sqlx::query_scalar(&sql).fetch_one(pool).await)
    }

    pub fn now_sql(&self) -> &'static str {
        self.pool.now_sql()
    }

    pub fn kind(&self) -> DatabaseKind {
        match self.pool {
            Backend::Sqlite(_) => DatabaseKind::Sqlite,
            Backend::Postgres(_) => DatabaseKind::Postgres,
        }
    }

    pub async fn close(&self) {
        on_backend!(&self.pool, pool => pool.close().await)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Upgrade {
    /// Apply the migrations this version has and the database lacks (a server's start).
    Migrate,
    /// Use the database only if its schema is this version's.
    AsItIs,
}

const APPLIED: &str = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";

/// The versions of the migrations applied, or none if the database has no migrations table
/// (no Pharos server has started on it).
fn applied(read: Result<Vec<i64>, sqlx::Error>) -> anyhow::Result<Option<Vec<i64>>> {
    match read {
        Ok(versions) => Ok(Some(versions)),
        Err(sqlx::Error::Database(e)) if missing_table(e.as_ref()) => Ok(None),
        Err(e) => Err(e).context("reading the database's version"),
    }
}

/// Whether a statement failed because its table does not exist (and not, say, because it may
/// not be read): SQLite's "no such table", PostgreSQL's `undefined_table`.
pub fn missing_table(e: &dyn sqlx::error::DatabaseError) -> bool {
    e.code().as_deref() == Some("42P01") || e.message().starts_with("no such table")
}

/// Whether the database's schema is the one of `migrator`, said in plain words if not.
fn same_version(
    migrator: &sqlx::migrate::Migrator,
    applied: anyhow::Result<Option<Vec<i64>>>,
) -> anyhow::Result<()> {
    let Some(applied) = applied? else {
        anyhow::bail!(
            "the database has no Pharos tables: no server has started on it (check the database \
             URL)"
        );
    };
    let known: Vec<i64> = migrator.iter().map(|m| m.version).collect();
    if let Some(newer) = applied.iter().find(|v| !known.contains(v)) {
        anyhow::bail!(
            "the database is of a newer Pharos (its migration {newer} is unknown to this one): \
             use the command line of the servers' version"
        );
    }
    let missing = known.iter().filter(|v| !applied.contains(v)).count();
    if missing > 0 {
        anyhow::bail!(
            "the database is of an older Pharos ({missing} migration{} behind this one): start a \
             server of this version on it once (it upgrades the database), or use the command \
             line of the servers' version",
            if missing == 1 { "" } else { "s" }
        );
    }
    Ok(())
}

/// The id stored at the database's first start (created by whichever server comes first).
async fn database_id(pool: &Pool) -> anyhow::Result<String> {
    let new = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    on_backend!(pool, pool => {
        sqlx::query("INSERT INTO meta (key, value) VALUES ('database_id', $1) ON CONFLICT (key) DO NOTHING")
            .bind(&new)
            .execute(pool)
            .await?;
        sqlx::query_scalar("SELECT value FROM meta WHERE key = 'database_id'")
            .fetch_one(pool)
            .await
    })
    .context("reading the database id")
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        on_backend!(self, tx => tx.commit().await)
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        on_backend!(self, tx => tx.rollback().await)
    }
}

/// Unix milliseconds as an RFC 3339 UTC time.
pub fn rfc3339(millis: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| millis.to_string())
}
