//! The audit log: one row per changed value, written by each area inside its own transaction so
//! a change and its record commit together or not at all.

pub mod api;

use crate::db::{Db, DbError, Tx, rfc3339};
use crate::on_backend;
use app::api::{AuditEntry, AuditPage};
use serde_json::Value;
use sqlx::{QueryBuilder, Row};

/// Who made a change.
#[derive(Clone, Debug)]
pub struct Actor {
    pub name: String,
    /// The client address the change came from, where known.
    pub source: Option<String>,
}

/// One changed value: `field` is the full dotted name, e.g. `settings.network.scan.timeout_ms`.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub field: String,
    pub old: Value,
    pub new: Value,
}

/// Writes the records of one change (stamped with the database's clock) in `tx`.
pub async fn record(
    tx: &mut Tx,
    actor: &Actor,
    action: &str,
    records: &[Record],
) -> Result<(), DbError> {
    if records.is_empty() {
        return Ok(());
    }
    let now = tx.now_sql();
    on_backend!(tx, tx => {
        let mut insert = QueryBuilder::new(
            "INSERT INTO audit_log (at, actor, source, action, field, old_value, new_value) ",
        );
        insert.push_values(records, |mut row, r| {
            row.push(now)
                .push_bind(&actor.name)
                .push_bind(&actor.source)
                .push_bind(action)
                .push_bind(&r.field)
                .push_bind(r.old.to_string())
                .push_bind(r.new.to_string());
        });
        insert.build().execute(&mut **tx).await.map(|_| ())
    })?;
    Ok(())
}

/// Newest first; `before` is an id from an earlier page.
pub async fn page(db: &Db, before: Option<i64>, limit: i64) -> Result<AuditPage, DbError> {
    let limit = limit.clamp(1, 500);
    let sql = "SELECT id, at, actor, source, action, field, old_value, new_value FROM audit_log \
               WHERE id < $1 ORDER BY id DESC LIMIT $2";
    let json = |text: String| serde_json::from_str(&text).unwrap_or(Value::String(text));
    let mut entries = on_backend!(&db.pool, pool => sqlx::query(sql)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit + 1)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|row| {
            Ok(AuditEntry {
                id: row.try_get(0)?,
                at: rfc3339(row.try_get(1)?),
                actor: row.try_get(2)?,
                source: row.try_get(3)?,
                action: row.try_get(4)?,
                field: row.try_get(5)?,
                old_value: json(row.try_get(6)?),
                new_value: json(row.try_get(7)?),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?);
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
