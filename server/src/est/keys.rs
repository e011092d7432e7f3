//! Enrollment keys in the database: made with a random secret shown once, stored by its SHA-256,
//! spent one use at a time, revocable.

use crate::accounts::secret::{Secret, hash};
use crate::audit::{self, Actor, Record};
use crate::cluster::Bus;
use crate::db::{Db, DbError, Tx, rfc3339};
use crate::http::ApiError;
use crate::on_backend;
use crate::workers::unix_millis;
use app::api::{
    CreatedEnrollmentKey, EnrollmentKey, EnrollmentKeyList, EnrollmentKeyState, NewEnrollmentKey,
};
use app::model::{Area, validate_enrollment_key};

/// Why a key does not authorise an enrollment (said to the client: none of it is secret, and an
/// unknown id and a wrong secret read the same).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("unknown enrollment key, or a wrong secret")]
    Unknown,
    #[error("the enrollment key expired at {0}")]
    Expired(String),
    #[error("the enrollment key has been used as often as it allows")]
    UsedUp,
    #[error("the enrollment key was revoked")]
    Revoked,
    #[error("the enrollment keys cannot be read now")]
    Unavailable,
}

const ID_PREFIX: &str = "ek-";
const ID_HEX: usize = 16;

/// Whether `id` could be a key's id (`ek-` and 16 hex digits): anything else is refused unread.
pub fn well_formed(id: &str) -> bool {
    id.strip_prefix(ID_PREFIX)
        .is_some_and(|hex| hex.len() == ID_HEX && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub async fn create(
    db: &Db,
    bus: &Bus,
    actor: &Actor,
    request: NewEnrollmentKey,
) -> Result<CreatedEnrollmentKey, ApiError> {
    validate_enrollment_key(&request).map_err(ApiError::Invalid)?;
    let id = format!(
        "{ID_PREFIX}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..ID_HEX]
    );
    let secret = Secret::random();
    let now = unix_millis();
    let expires_at = now + i64::from(request.expires_in_minutes) * 60_000;
    let note = request.note.trim().to_owned();
    let mut tx = db.begin().await?;
    on_backend!(&mut tx, tx => sqlx::query(
        "INSERT INTO enrollment_keys (id, secret_hash, uses, uses_left, expires_at, note, \
         created_at, created_by) VALUES ($1, $2, $3, $3, $4, $5, $6, $7)")
        .bind(&id)
        .bind(hash(secret.expose()).to_vec())
        .bind(i64::from(request.uses))
        .bind(expires_at)
        .bind(&note)
        .bind(now)
        .bind(&actor.name)
        .execute(&mut **tx)
        .await
        .map(|_| ()))?;
    audit::record(
        &mut tx,
        actor,
        Area::Certificates,
        "create enrollment key",
        &[Record::new(
            format!("enrollment.keys.{id}"),
            serde_json::Value::Null,
            serde_json::json!({"uses": request.uses, "expires_at": rfc3339(expires_at), "note": note}),
        )],
    )
    .await?;
    super::commit(tx, bus).await?;
    Ok(CreatedEnrollmentKey {
        id,
        secret: secret.expose().to_owned(),
        uses: request.uses,
        expires_at: rfc3339(expires_at),
        note,
    })
}

type KeyRow = (String, i64, i64, i64, String, i64, String, Option<i64>);

fn state(uses_left: i64, expires_at: i64, revoked_at: Option<i64>, now: i64) -> EnrollmentKeyState {
    if revoked_at.is_some() {
        EnrollmentKeyState::Revoked
    } else if uses_left <= 0 {
        EnrollmentKeyState::UsedUp
    } else if expires_at <= now {
        EnrollmentKeyState::Expired
    } else {
        EnrollmentKeyState::Active
    }
}

pub async fn list(db: &Db) -> Result<EnrollmentKeyList, ApiError> {
    let rows: Vec<KeyRow> = on_backend!(&db.pool, pool => sqlx::query_as(
        "SELECT id, uses, uses_left, expires_at, note, created_at, created_by, revoked_at \
         FROM enrollment_keys ORDER BY created_at DESC, id")
        .fetch_all(pool)
        .await)
    .map_err(DbError::from)?;
    let now = unix_millis();
    let count = |n: i64| u32::try_from(n).unwrap_or(0);
    Ok(EnrollmentKeyList {
        keys: rows
            .into_iter()
            .map(
                |(id, uses, uses_left, expires_at, note, created_at, created_by, revoked_at)| {
                    EnrollmentKey {
                        state: state(uses_left, expires_at, revoked_at, now),
                        id,
                        uses: count(uses),
                        uses_left: count(uses_left),
                        expires_at: rfc3339(expires_at),
                        note,
                        created_at: rfc3339(created_at),
                        created_by,
                    }
                },
            )
            .collect(),
    })
}

pub async fn revoke(db: &Db, bus: &Bus, actor: &Actor, id: &str) -> Result<(), ApiError> {
    let mut tx = db.begin().await?;
    let revoked = on_backend!(&mut tx, tx => sqlx::query(
        "UPDATE enrollment_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(unix_millis())
        .bind(id)
        .execute(&mut **tx)
        .await
        .map(|r| r.rows_affected()))?;
    if revoked == 0 {
        let known: Option<String> = on_backend!(&mut tx, tx => sqlx::query_scalar(
            "SELECT id FROM enrollment_keys WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await)?;
        return match known {
            // revoking twice changes nothing
            Some(_) => Ok(()),
            None => Err(ApiError::NotFound(format!(
                "no enrollment key has the id {id}"
            ))),
        };
    }
    audit::record(
        &mut tx,
        actor,
        Area::Certificates,
        "revoke enrollment key",
        &[Record::new(
            format!("enrollment.keys.{id}.revoked"),
            false,
            true,
        )],
    )
    .await?;
    super::commit(tx, bus).await?;
    Ok(())
}

/// Whether the key would authorise an enrollment now (read only: nothing is spent).
pub async fn check(db: &Db, id: &str, secret: &str) -> Result<(), Refusal> {
    let mut tx = db.begin().await.map_err(|_| Refusal::Unavailable)?;
    let verdict = why_not(&mut tx, id, &hash(secret), unix_millis()).await;
    let _ = tx.rollback().await;
    match verdict? {
        None => Ok(()),
        Some(refusal) => Err(refusal),
    }
}

/// Spends one use in one statement, in the caller's transaction, so keys presented at the same
/// moment cannot spend more uses than the key has: the use is spent if, and only if, `tx`
/// commits. On refusal, reads why.
pub async fn spend_in(tx: &mut Tx, id: &str, secret: &str) -> Result<(), Refusal> {
    let digest = hash(secret).to_vec();
    let now = unix_millis();
    let spent = on_backend!(tx, tx => sqlx::query(
        "UPDATE enrollment_keys SET uses_left = uses_left - 1 WHERE id = $1 AND secret_hash = $2 \
         AND uses_left > 0 AND expires_at > $3 AND revoked_at IS NULL")
        .bind(id)
        .bind(&digest)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map(|r| r.rows_affected()))
    .map_err(|e| {
        tracing::error!(error = %e, "spending an enrollment key");
        Refusal::Unavailable
    })?;
    if spent == 1 {
        return Ok(());
    }
    // spent by another request between the two statements, if it reads as good now
    Err(why_not(tx, id, &hash(secret), now)
        .await?
        .unwrap_or(Refusal::UsedUp))
}

/// Why the key does not authorise an enrollment, or `None` if it does.
async fn why_not(
    tx: &mut Tx,
    id: &str,
    digest: &[u8; 32],
    now: i64,
) -> Result<Option<Refusal>, Refusal> {
    let row: Option<(Vec<u8>, i64, i64, Option<i64>)> = on_backend!(tx, tx => sqlx::query_as(
        "SELECT secret_hash, uses_left, expires_at, revoked_at FROM enrollment_keys WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await)
    .map_err(|_| Refusal::Unavailable)?;
    let Some((stored, uses_left, expires_at, revoked_at)) = row else {
        return Ok(Some(Refusal::Unknown));
    };
    if !crate::accounts::secret::same_bytes(&stored, digest) {
        return Ok(Some(Refusal::Unknown));
    }
    Ok(match state(uses_left, expires_at, revoked_at, now) {
        EnrollmentKeyState::Revoked => Some(Refusal::Revoked),
        EnrollmentKeyState::UsedUp => Some(Refusal::UsedUp),
        EnrollmentKeyState::Expired => Some(Refusal::Expired(rfc3339(expires_at))),
        EnrollmentKeyState::Active => None,
    })
}
