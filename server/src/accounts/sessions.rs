//! Browser sessions and API tokens in the database (by the digest of their secret).

use crate::db::{Db, DbError, rfc3339};
use crate::on_backend;
use app::api::{TokenInfo, TokenList};
use sqlx::Row;

/// A session or token row with its account.
#[derive(Clone, Debug)]
pub struct Found {
    pub user: i64,
    pub username: String,
    pub superuser: bool,
    pub disabled: bool,
    /// Session: the anti-forgery token; token: none.
    pub csrf: Option<String>,
    /// Token: its id.
    pub token_id: Option<i64>,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// Token: when it stops being valid.
    pub expires_at: Option<i64>,
}

pub async fn create_session(
    db: &Db,
    digest: &str,
    user: i64,
    csrf: &str,
    source: Option<&str>,
) -> Result<(), DbError> {
    let now = db.now_sql();
    let sql = format!(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, source) \
         VALUES ($1, $2, $3, {now}, {now}, $4)"
    );
    on_backend!(&db.pool, pool => sqlx::query(&sql)
        .bind(digest)
        .bind(user)
        .bind(csrf)
        .bind(source)
        .execute(pool)
        .await
        .map(|_| ()))?;
    Ok(())
}

pub async fn session(db: &Db, digest: &str) -> Result<Option<Found>, DbError> {
    Ok(on_backend!(&db.pool, pool => sqlx::query(
        "SELECT s.user_id, u.username, u.superuser, u.disabled, s.csrf_token, s.created_at, \
         s.last_seen_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1",
    )
    .bind(digest)
    .fetch_optional(pool)
    .await?
    .map(|row| -> Result<Found, sqlx::Error> {
        Ok(Found {
            user: row.try_get(0)?,
            username: row.try_get(1)?,
            superuser: row.try_get(2)?,
            disabled: row.try_get(3)?,
            csrf: Some(row.try_get(4)?),
            token_id: None,
            created_at: row.try_get(5)?,
            last_seen_at: row.try_get(6)?,
            expires_at: None,
        })
    })
    .transpose()?))
}

pub async fn touch_session(db: &Db, digest: &str, at: i64) -> Result<(), DbError> {
    on_backend!(&db.pool, pool => sqlx::query(
        "UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2 AND last_seen_at < $1",
    )
    .bind(at)
    .bind(digest)
    .execute(pool)
    .await
    .map(|_| ()))?;
    Ok(())
}

pub async fn delete_session(db: &Db, digest: &str) -> Result<bool, DbError> {
    Ok(
        on_backend!(&db.pool, pool => sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(digest)
        .execute(pool)
        .await?
        .rows_affected())
            == 1,
    )
}

/// Ends every session of an account but `keep`.
pub async fn end_sessions(db: &Db, user: i64, keep: Option<&str>) -> Result<u64, DbError> {
    Ok(on_backend!(&db.pool, pool => sqlx::query(
        "DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2",
    )
    .bind(user)
    .bind(keep.unwrap_or(""))
    .execute(pool)
    .await?
    .rows_affected()))
}

/// Deletes sessions past their idle or absolute limit (milliseconds).
pub async fn purge(db: &Db, now: i64, idle: i64, max: i64) -> Result<u64, DbError> {
    Ok(on_backend!(&db.pool, pool => sqlx::query(
        "DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2",
    )
    .bind(now - idle)
    .bind(now - max)
    .execute(pool)
    .await?
    .rows_affected()))
}

pub async fn create_token(
    db: &Db,
    user: i64,
    name: &str,
    digest: &str,
    expires_in_days: Option<u32>,
) -> Result<(i64, Option<i64>), DbError> {
    let now = db.now_millis().await?;
    let expires_at = expires_in_days.map(|days| now + i64::from(days) * 86_400_000);
    let id = on_backend!(&db.pool, pool => sqlx::query_scalar(
        "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(user)
    .bind(name)
    .bind(digest)
    .bind(now)
    .bind(expires_at)
    .fetch_one(pool)
    .await)?;
    Ok((id, expires_at))
}

pub async fn token(db: &Db, digest: &str) -> Result<Option<Found>, DbError> {
    Ok(on_backend!(&db.pool, pool => sqlx::query(
        "SELECT t.user_id, u.username, u.superuser, u.disabled, t.id, t.created_at, \
         COALESCE(t.last_used_at, t.created_at), t.expires_at \
         FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
    )
    .bind(digest)
    .fetch_optional(pool)
    .await?
    .map(|row| -> Result<Found, sqlx::Error> {
        Ok(Found {
            user: row.try_get(0)?,
            username: row.try_get(1)?,
            superuser: row.try_get(2)?,
            disabled: row.try_get(3)?,
            csrf: None,
            token_id: Some(row.try_get(4)?),
            created_at: row.try_get(5)?,
            last_seen_at: row.try_get(6)?,
            expires_at: row.try_get(7)?,
        })
    })
    .transpose()?))
}

pub async fn touch_token(db: &Db, id: i64, at: i64) -> Result<(), DbError> {
    on_backend!(&db.pool, pool => sqlx::query(
        "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2",
    )
    .bind(at)
    .bind(id)
    .execute(pool)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// A token's row: id, name, created, expires, last used.
type TokenRow = (i64, String, i64, Option<i64>, Option<i64>);

pub async fn tokens(db: &Db, user: i64) -> Result<TokenList, DbError> {
    let rows: Vec<TokenRow> = on_backend!(&db.pool, pool =>
        sqlx::query_as(
            "SELECT id, name, created_at, expires_at, last_used_at FROM api_tokens \
             WHERE user_id = $1 ORDER BY id",
        )
        .bind(user)
        .fetch_all(pool)
        .await)?;
    Ok(TokenList {
        tokens: rows
            .into_iter()
            .map(
                |(id, name, created_at, expires_at, last_used_at)| TokenInfo {
                    id,
                    name,
                    created_at: rfc3339(created_at),
                    expires_at: expires_at.map(rfc3339),
                    last_used_at: last_used_at.map(rfc3339),
                },
            )
            .collect(),
    })
}

/// Deletes one of an account's tokens; its name, if there was one.
pub async fn revoke_token(db: &Db, user: i64, id: i64) -> Result<Option<String>, DbError> {
    Ok(on_backend!(&db.pool, pool => sqlx::query_scalar(
        "DELETE FROM api_tokens WHERE id = $1 AND user_id = $2 RETURNING name",
    )
    .bind(id)
    .bind(user)
    .fetch_optional(pool)
    .await)?)
}

/// Deletes every token of an account.
pub async fn revoke_tokens(db: &Db, user: i64) -> Result<u64, DbError> {
    Ok(
        on_backend!(&db.pool, pool => sqlx::query("DELETE FROM api_tokens WHERE user_id = $1")
        .bind(user)
        .execute(pool)
        .await?
        .rows_affected()),
    )
}
