//! Persistence: one storage interface over SQLite (embedded default) and PostgreSQL (shared by
//! several servers). Both use the same SQL through sqlx's `Any` driver; only migrations differ.

use anyhow::Context;
use app::api::{AuditEntry, AuditPage};
use app::settings::{Change, DatabaseKind, NetworkSettings, changes};
use async_trait::async_trait;
use serde_json::Value;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor, Row};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const NETWORK: &str = "network";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The stored revision is not the one the change was based on.
    #[error("the settings were changed by someone else")]
    Conflict,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
}

/// The stored settings with their revision.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredSettings {
    pub settings: NetworkSettings,
    pub revision: i64,
}

/// Who made a change, for the audit log.
#[derive(Clone, Debug)]
pub struct Actor {
    pub name: String,
    pub source: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Replaced {
    pub stored: StoredSettings,
    pub changes: Vec<Change>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ServerRow {
    pub id: String,
    pub name: String,
    pub addresses: Vec<String>,
    pub started_at: i64,
    pub last_heartbeat: i64,
}

#[async_trait]
pub trait Store: Send + Sync {
    fn kind(&self) -> DatabaseKind;

    /// Stores `defaults` unless settings exist, then returns what is stored.
    async fn init_settings(&self, defaults: &NetworkSettings)
    -> Result<StoredSettings, StoreError>;
    async fn load_settings(&self) -> Result<StoredSettings, StoreError>;
    async fn settings_revision(&self) -> Result<i64, StoreError>;

    /// Replaces the settings if their revision is still `expected` (any revision if `None`),
    /// writing one audit row per changed value in the same transaction. An identical document
    /// changes nothing, not even the revision.
    async fn replace_settings(
        &self,
        expected: Option<i64>,
        new: &NetworkSettings,
        actor: &Actor,
        action: &str,
    ) -> Result<Replaced, StoreError>;

    /// Newest first; `before` is an audit id from an earlier page.
    async fn audit(&self, before: Option<i64>, limit: i64) -> Result<AuditPage, StoreError>;

    async fn register_server(&self, server: &ServerRow) -> Result<(), StoreError>;
    async fn heartbeat(&self, id: &str, at: i64) -> Result<(), StoreError>;
    async fn servers(&self) -> Result<Vec<ServerRow>, StoreError>;
}

pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

pub struct SqlStore {
    pool: AnyPool,
    kind: DatabaseKind,
}

impl SqlStore {
    /// Connects, creating an SQLite file if needed, and applies the migrations.
    pub async fn connect(url: &str, kind: DatabaseKind) -> anyhow::Result<SqlStore> {
        install_default_drivers();
        let options = AnyPoolOptions::new()
            .max_connections(match kind {
                // one writer at a time anyway; readers are served from memory
                DatabaseKind::Sqlite => 4,
                DatabaseKind::Postgres => 10,
            })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if kind == DatabaseKind::Sqlite {
                        // WAL lets readers go on while one writer commits; FULL keeps every
                        // committed change across a power loss.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                    }
                    Ok(())
                })
            });
        let pool = options
            .connect(url)
            .await
            .context("connecting to the database")?;
        match kind {
            DatabaseKind::Sqlite => sqlx::migrate!("../migrations/sqlite").run(&pool).await,
            DatabaseKind::Postgres => sqlx::migrate!("../migrations/postgres").run(&pool).await,
        }
        .context("applying the database migrations")?;
        Ok(SqlStore { pool, kind })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn parse_settings(document: &str, revision: i64) -> Result<StoredSettings, StoreError> {
    let settings = serde_json::from_str(document)
        .map_err(|e| StoreError::Corrupt(format!("settings document: {e}")))?;
    Ok(StoredSettings { settings, revision })
}

fn json_text(v: &Value) -> String {
    v.to_string()
}

#[async_trait]
impl Store for SqlStore {
    fn kind(&self) -> DatabaseKind {
        self.kind
    }

    async fn init_settings(
        &self,
        defaults: &NetworkSettings,
    ) -> Result<StoredSettings, StoreError> {
        sqlx::query(
            "INSERT INTO settings (name, document, revision, updated_at, updated_by) \
             VALUES ($1, $2, 1, $3, 'system') ON CONFLICT (name) DO NOTHING",
        )
        .bind(NETWORK)
        .bind(json_text(&defaults.to_value()))
        .bind(now_millis())
        .execute(&self.pool)
        .await?;
        self.load_settings().await
    }

    async fn load_settings(&self) -> Result<StoredSettings, StoreError> {
        let row = sqlx::query("SELECT document, revision FROM settings WHERE name = $1")
            .bind(NETWORK)
            .fetch_one(&self.pool)
            .await?;
        parse_settings(&row.try_get::<String, _>(0)?, row.try_get(1)?)
    }

    async fn settings_revision(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT revision FROM settings WHERE name = $1")
                .bind(NETWORK)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn replace_settings(
        &self,
        expected: Option<i64>,
        new: &NetworkSettings,
        actor: &Actor,
        action: &str,
    ) -> Result<Replaced, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Taking the write lock with the version check first serialises concurrent writers on
        // both databases; a writer that waited sees the new revision and fails the check.
        let claimed =
            match expected {
                Some(revision) => sqlx::query(
                    "UPDATE settings SET revision = revision + 1 WHERE name = $1 AND revision = $2",
                )
                .bind(NETWORK)
                .bind(revision)
                .execute(&mut *tx)
                .await?,
                None => {
                    sqlx::query("UPDATE settings SET revision = revision + 1 WHERE name = $1")
                        .bind(NETWORK)
                        .execute(&mut *tx)
                        .await?
                }
            };
        if claimed.rows_affected() == 0 {
            return Err(StoreError::Conflict);
        }
        let row = sqlx::query("SELECT document, revision FROM settings WHERE name = $1")
            .bind(NETWORK)
            .fetch_one(&mut *tx)
            .await?;
        let revision: i64 = row.try_get(1)?;
        let old = parse_settings(&row.try_get::<String, _>(0)?, revision - 1)?;
        let new_value = new.to_value();
        let changed = changes(&old.settings.to_value(), &new_value);
        if changed.is_empty() {
            tx.rollback().await?;
            return Ok(Replaced {
                stored: old,
                changes: changed,
            });
        }
        let at = now_millis();
        sqlx::query(
            "UPDATE settings SET document = $1, updated_at = $2, updated_by = $3 WHERE name = $4",
        )
        .bind(json_text(&new_value))
        .bind(at)
        .bind(&actor.name)
        .bind(NETWORK)
        .execute(&mut *tx)
        .await?;
        for change in &changed {
            sqlx::query(
                "INSERT INTO audit_log (at, actor, source, action, field, old_value, new_value) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(at)
            .bind(&actor.name)
            .bind(actor.source.clone())
            .bind(action)
            .bind(format!("settings.network.{}", change.field))
            .bind(json_text(&change.old))
            .bind(json_text(&change.new))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Replaced {
            stored: StoredSettings {
                settings: new.clone(),
                revision,
            },
            changes: changed,
        })
    }

    async fn audit(&self, before: Option<i64>, limit: i64) -> Result<AuditPage, StoreError> {
        let limit = limit.clamp(1, 500);
        let rows = sqlx::query(
            "SELECT id, at, actor, source, action, field, old_value, new_value FROM audit_log \
             WHERE id < $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await?;
        let json = |text: String| serde_json::from_str(&text).unwrap_or(Value::String(text));
        let mut entries = rows
            .into_iter()
            .map(|row| -> Result<AuditEntry, StoreError> {
                Ok(AuditEntry {
                    id: row.try_get(0)?,
                    at: crate::state::rfc3339(row.try_get(1)?),
                    actor: row.try_get(2)?,
                    source: row.try_get(3)?,
                    action: row.try_get(4)?,
                    field: row.try_get(5)?,
                    old_value: json(row.try_get(6)?),
                    new_value: json(row.try_get(7)?),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let next_before = if entries.len() as i64 > limit {
            entries.truncate(limit as usize);
            entries.last().map(|e| e.id)
        } else {
            None
        };
        Ok(AuditPage {
            entries,
            next_before,
        })
    }

    async fn register_server(&self, server: &ServerRow) -> Result<(), StoreError> {
        let addresses = serde_json::to_string(&server.addresses).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "INSERT INTO servers (id, name, addresses, started_at, last_heartbeat) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET \
             name = excluded.name, addresses = excluded.addresses, \
             started_at = excluded.started_at, last_heartbeat = excluded.last_heartbeat",
        )
        .bind(&server.id)
        .bind(&server.name)
        .bind(addresses)
        .bind(server.started_at)
        .bind(server.last_heartbeat)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn heartbeat(&self, id: &str, at: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE servers SET last_heartbeat = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn servers(&self) -> Result<Vec<ServerRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, addresses, started_at, last_heartbeat FROM servers ORDER BY name, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let addresses: String = row.try_get(2)?;
                Ok(ServerRow {
                    id: row.try_get(0)?,
                    name: row.try_get(1)?,
                    addresses: serde_json::from_str(&addresses)
                        .map_err(|e| StoreError::Corrupt(format!("server addresses: {e}")))?,
                    started_at: row.try_get(3)?,
                    last_heartbeat: row.try_get(4)?,
                })
            })
            .collect()
    }
}
