//! The settings row and its revision.

use crate::audit::{self, Actor, Record};
use crate::cluster::{Bus, Topic};
use crate::db::{Db, DbError};
use crate::on_backend;
use app::model::{Change, NetworkSettings, changes};
use sqlx::Row;

const NETWORK: &str = "network";

/// The stored settings with their revision.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredSettings {
    pub settings: NetworkSettings,
    pub revision: i64,
    /// Who saved this revision.
    pub updated_by: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Replaced {
    pub stored: StoredSettings,
    pub changes: Vec<Change>,
}

fn parse(document: &str, revision: i64, updated_by: String) -> Result<StoredSettings, DbError> {
    let settings = serde_json::from_str(document)
        .map_err(|e| DbError::Corrupt(format!("settings document: {e}")))?;
    Ok(StoredSettings {
        settings,
        revision,
        updated_by,
    })
}

/// Stores `defaults` unless settings exist, then returns what is stored.
pub async fn init(db: &Db, defaults: &NetworkSettings) -> Result<StoredSettings, DbError> {
    let sql = format!(
        "INSERT INTO settings (name, document, revision, updated_at, updated_by) \
         VALUES ($1, $2, 1, {}, 'system') ON CONFLICT (name) DO NOTHING",
        db.now_sql()
    );
    let document = defaults.to_value().to_string();
    on_backend!(&db.pool, pool => sqlx::query(&sql)
        .bind(NETWORK)
        .bind(&document)
        .execute(pool)
        .await
        .map(|_| ()))?;
    load(db).await
}

pub async fn load(db: &Db) -> Result<StoredSettings, DbError> {
    let (document, revision, updated_by): (String, i64, String) = on_backend!(&db.pool, pool => {
        let row = sqlx::query(
            "SELECT document, revision, updated_by FROM settings WHERE name = $1",
        )
        .bind(NETWORK)
        .fetch_one(pool)
        .await?;
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)
    });
    parse(&document, revision, updated_by)
}

pub async fn revision(db: &Db) -> Result<i64, DbError> {
    Ok(on_backend!(&db.pool, pool =>
        sqlx::query_scalar("SELECT revision FROM settings WHERE name = $1")
            .bind(NETWORK)
            .fetch_one(pool)
            .await)?)
}

/// How a write treats the distributed section, which an HA installation cannot see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distributed {
    /// Store it as sent.
    AsSent,
    /// Keep what is stored, read in the same transaction (never from a cached copy).
    Keep,
}

/// Replaces the settings if their revision is still `expected` (any revision if `None`), writing
/// one audit row per changed value and a notification to the other servers in the same
/// transaction. An identical document changes nothing, not even the revision.
pub async fn replace(
    db: &Db,
    bus: &Bus,
    expected: Option<i64>,
    mut new: NetworkSettings,
    distributed: Distributed,
    actor: &Actor,
    action: &str,
) -> Result<Replaced, DbError> {
    let mut tx = db.begin().await?;
    // Claiming the row with the version check first takes its write lock, which serialises
    // concurrent writers on both databases; one that waited sees the new revision and fails.
    // The same statement returns the document it now holds the lock on.
    let claimed: Option<(String, i64, String)> = on_backend!(&mut tx, tx => {
        let row = match expected {
            Some(revision) => sqlx::query(
                "UPDATE settings SET revision = revision + 1 WHERE name = $1 AND revision = $2 \
                 RETURNING document, revision, updated_by",
            )
            .bind(NETWORK)
            .bind(revision)
            .fetch_optional(&mut **tx)
            .await?,
            None => sqlx::query(
                "UPDATE settings SET revision = revision + 1 WHERE name = $1 \
                 RETURNING document, revision, updated_by",
            )
            .bind(NETWORK)
            .fetch_optional(&mut **tx)
            .await?,
        };
        match row {
            Some(row) => Some((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)),
            None => None,
        }
    });
    let Some((document, revision, updated_by)) = claimed else {
        return Err(DbError::Conflict);
    };
    let old = parse(&document, revision - 1, updated_by)?;
    if distributed == Distributed::Keep {
        new.distributed = old.settings.distributed.clone();
    }
    let changed = changes(&old.settings, &new);
    if changed.is_empty() {
        tx.rollback().await?;
        return Ok(Replaced {
            stored: old,
            changes: changed,
        });
    }
    let sql = format!(
        "UPDATE settings SET document = $1, updated_at = {}, updated_by = $2 WHERE name = $3",
        db.now_sql()
    );
    let document = new.to_value().to_string();
    on_backend!(&mut tx, tx => sqlx::query(&sql)
        .bind(&document)
        .bind(&actor.name)
        .bind(NETWORK)
        .execute(&mut **tx)
        .await
        .map(|_| ()))?;
    let records: Vec<Record> = changed
        .iter()
        .map(|c| Record {
            field: format!("settings.network.{}", c.field),
            old: c.old.clone(),
            new: c.new.clone(),
        })
        .collect();
    audit::record(
        &mut tx,
        actor,
        app::model::Area::NetworkSettings,
        action,
        &records,
    )
    .await?;
    bus.notify(&mut tx, Topic::Settings, Some(revision)).await?;
    tx.commit().await?;
    Ok(Replaced {
        stored: StoredSettings {
            settings: new,
            revision,
            updated_by: actor.name.clone(),
        },
        changes: changed,
    })
}

/// Who saved the stored settings last, and when.
pub async fn updated(db: &Db) -> Result<app::api::ChangedBy, DbError> {
    let (user, at): (String, i64) = on_backend!(&db.pool, pool => {
        let row = sqlx::query("SELECT updated_by, updated_at FROM settings WHERE name = $1")
            .bind(NETWORK)
            .fetch_one(pool)
            .await?;
        (row.try_get(0)?, row.try_get(1)?)
    });
    Ok(app::api::ChangedBy {
        user,
        at: crate::db::rfc3339(at),
    })
}
