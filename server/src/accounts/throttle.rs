//! Failed sign-ins, counted per account (`user:<key>`) and per source address (`ip:<address>`)
//! in the database, so every server sharing it counts the same.

use crate::db::{Db, DbError};
use crate::on_backend;
use std::collections::HashMap;

pub fn user_key(username: &str) -> String {
    format!("user:{}", app::model::username_key(username))
}

pub fn address_key(address: &str) -> String {
    format!("ip:{address}")
}

/// The latest lock among `keys` still running at `now`: (key, until).
pub async fn locked(db: &Db, keys: &[String], now: i64) -> Result<Option<(String, i64)>, DbError> {
    let mut latest: Option<(String, i64)> = None;
    for key in keys {
        let until: Option<Option<i64>> = on_backend!(&db.pool, pool => sqlx::query_scalar(
            "SELECT locked_until FROM sign_in_failures WHERE key = $1",
        )
        .bind(key)
        .fetch_optional(pool)
        .await)?;
        if let Some(Some(until)) = until
            && until > now
            && latest.as_ref().is_none_or(|(_, l)| until > *l)
        {
            latest = Some((key.clone(), until));
        }
    }
    Ok(latest)
}

/// Counts one failure for `key`: failures older than `window` are forgotten first. Returns the
/// count and, if this failure reached `max`, the end of the lock-out it starts.
pub async fn fail(
    db: &Db,
    key: &str,
    now: i64,
    window: i64,
    max: u32,
) -> Result<(i64, Option<i64>), DbError> {
    let until = now + window;
    let (count, locked): (i64, Option<i64>) = on_backend!(&db.pool, pool => sqlx::query_as(
        "INSERT INTO sign_in_failures (key, failures, last_failure_at, locked_until) \
         VALUES ($1, 1, $2, CASE WHEN $3 <= 1 THEN $4 ELSE NULL END) \
         ON CONFLICT (key) DO UPDATE SET \
           failures = CASE WHEN sign_in_failures.last_failure_at < $2 - $5 THEN 1 \
                           ELSE sign_in_failures.failures + 1 END, \
           last_failure_at = $2, \
           locked_until = CASE \
             WHEN (CASE WHEN sign_in_failures.last_failure_at < $2 - $5 THEN 1 \
                        ELSE sign_in_failures.failures + 1 END) >= $3 THEN $4 \
             ELSE sign_in_failures.locked_until END \
         RETURNING failures, locked_until",
    )
    .bind(key)
    .bind(now)
    .bind(i64::from(max))
    .bind(until)
    .bind(window)
    .fetch_one(pool)
    .await)?;
    let started = locked.filter(|l| *l == until && count >= i64::from(max));
    Ok((count, started))
}

/// Forgets the failures of `key` (a successful sign-in, or an unlock); whether it was locked.
pub async fn clear(db: &Db, key: &str, now: i64) -> Result<bool, DbError> {
    let was: Option<Option<i64>> = on_backend!(&db.pool, pool => sqlx::query_scalar(
        "DELETE FROM sign_in_failures WHERE key = $1 RETURNING locked_until",
    )
    .bind(key)
    .fetch_optional(pool)
    .await)?;
    Ok(matches!(was, Some(Some(until)) if until > now))
}

/// Takes back one counted failure of `key` (an attempt that turned out right), and the lock it
/// started.
pub async fn forgive(db: &Db, key: &str, max: u32) -> Result<(), DbError> {
    on_backend!(&db.pool, pool => sqlx::query(
        "UPDATE sign_in_failures SET failures = failures - 1, \
         locked_until = CASE WHEN failures - 1 < $2 THEN NULL ELSE locked_until END \
         WHERE key = $1 AND failures > 0",
    )
    .bind(key)
    .bind(i64::from(max))
    .execute(pool)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Running locks by key prefix (`user:` or `ip:`): the rest of the key and the lock's end.
pub async fn locks(db: &Db, prefix: &str, now: i64) -> Result<HashMap<String, i64>, DbError> {
    let rows: Vec<(String, i64)> = on_backend!(&db.pool, pool => sqlx::query_as(
        "SELECT key, locked_until FROM sign_in_failures WHERE locked_until > $1",
    )
    .bind(now)
    .fetch_all(pool)
    .await)?;
    Ok(rows
        .into_iter()
        .filter_map(|(key, until)| Some((key.strip_prefix(prefix)?.to_owned(), until)))
        .collect())
}

/// Forgets failures older than `window` whose lock (if any) has ended.
pub async fn purge(db: &Db, now: i64, window: i64) -> Result<u64, DbError> {
    Ok(on_backend!(&db.pool, pool => sqlx::query(
        "DELETE FROM sign_in_failures WHERE last_failure_at < $1 \
         AND (locked_until IS NULL OR locked_until < $2)",
    )
    .bind(now - window)
    .bind(now)
    .execute(pool)
    .await?
    .rows_affected()))
}
