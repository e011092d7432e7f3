//! Certificates, their assignments to servers and the installation's generated CAs, in the
//! database.

use crate::db::{Db, DbError, Tx};
use crate::on_backend;

pub const WEB: &str = "web";
pub const DEVICE: &str = "device";
/// Assigned to every server that has no certificate of its own.
pub const ALL_SERVERS: &str = "*";
pub const ROLE_WEB_ROOT: &str = "web_root";
pub const ROLE_DEVICE_CA: &str = "device_ca";

/// A stored certificate (no `Debug`: it holds a sealed key).
#[derive(Clone, sqlx::FromRow)]
pub struct Stored {
    pub fingerprint: String,
    pub purpose: String,
    pub der: Vec<u8>,
    pub sealed_key: Option<Vec<u8>>,
    pub issuer: Option<String>,
    pub is_ca: bool,
    pub not_after: i64,
    pub created_at: i64,
    pub created_by: String,
}

impl Stored {
    /// A certificate Pharos made or was given, its key (if any) sealed to its fingerprint.
    pub fn made(
        sealer: &super::Sealer,
        purpose: &str,
        der: &[u8],
        facts: &super::Facts,
        key: Option<&rcgen::KeyPair>,
        issuer: Option<String>,
        actor: &crate::audit::Actor,
    ) -> Stored {
        Stored {
            fingerprint: facts.fingerprint_sha256.clone(),
            purpose: purpose.to_owned(),
            der: der.to_vec(),
            sealed_key: key.map(|k| sealer.seal(&k.serialize_der(), &facts.fingerprint_sha256)),
            issuer,
            is_ca: facts.is_ca,
            not_after: facts.not_after,
            created_at: crate::workers::unix_millis(),
            created_by: actor.name.clone(),
        }
    }
}

const COLUMNS: &str =
    "fingerprint, purpose, der, sealed_key, issuer, is_ca, not_after, created_at, created_by";

/// Every certificate of one purpose, oldest first.
pub async fn all(db: &Db, purpose: &str) -> Result<Vec<Stored>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM certificates WHERE purpose = $1 ORDER BY created_at, fingerprint"
    );
    let rows = on_backend!(&db.pool, pool =>
        sqlx::query_as::<_, Stored>(&sql).bind(purpose).fetch_all(pool).await)?;
    Ok(rows)
}

pub async fn get(db: &Db, fingerprint: &str) -> Result<Option<Stored>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM certificates WHERE fingerprint = $1");
    let row = on_backend!(&db.pool, pool =>
        sqlx::query_as::<_, Stored>(&sql).bind(fingerprint).fetch_optional(pool).await)?;
    Ok(row)
}

/// The certificate `fingerprint` and the stored certificates above it, up to its root (at
/// most 8: a longer chain is no chain a client accepts).
pub async fn chain(db: &Db, fingerprint: &str) -> Result<Vec<Stored>, DbError> {
    let mut chain: Vec<Stored> = Vec::new();
    let mut next = Some(fingerprint.to_owned());
    while let Some(fp) = next {
        if chain.len() >= 8 || chain.iter().any(|c| c.fingerprint == fp) {
            break;
        }
        let Some(cert) = get(db, &fp).await? else {
            break;
        };
        next = cert.issuer.clone();
        chain.push(cert);
    }
    Ok(chain)
}

/// The same, in a transaction, locking the row where the database can (PostgreSQL), so a
/// deletion and a use of the same certificate do not cross.
pub async fn get_in(tx: &mut Tx, fingerprint: &str) -> Result<Option<Stored>, DbError> {
    let lock = match tx {
        crate::db::Backend::Postgres(_) => " FOR UPDATE",
        crate::db::Backend::Sqlite(_) => "",
    };
    let sql = format!("SELECT {COLUMNS} FROM certificates WHERE fingerprint = $1{lock}");
    let row = on_backend!(tx, tx =>
        sqlx::query_as::<_, Stored>(&sql).bind(fingerprint).fetch_optional(&mut **tx).await)?;
    Ok(row)
}

/// Stores a certificate; `false` if it is stored already.
pub async fn insert(tx: &mut Tx, cert: &Stored) -> Result<bool, DbError> {
    let sql = format!(
        "INSERT INTO certificates ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (fingerprint) DO NOTHING"
    );
    let done = on_backend!(tx, tx => sqlx::query(&sql)
        .bind(&cert.fingerprint)
        .bind(&cert.purpose)
        .bind(&cert.der)
        .bind(&cert.sealed_key)
        .bind(&cert.issuer)
        .bind(cert.is_ca)
        .bind(cert.not_after)
        .bind(cert.created_at)
        .bind(&cert.created_by)
        .execute(&mut **tx)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Gives a stored certificate without a key the key imported for it.
pub async fn set_key(tx: &mut Tx, fingerprint: &str, sealed_key: &[u8]) -> Result<(), DbError> {
    on_backend!(tx, tx => sqlx::query(
        "UPDATE certificates SET sealed_key = $1 WHERE fingerprint = $2 AND sealed_key IS NULL")
        .bind(sealed_key)
        .bind(fingerprint)
        .execute(&mut **tx)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// One statement with text parameters `$1`, `$2`, … in `tx`: the rows it touched.
async fn execute(tx: &mut Tx, sql: &str, params: &[&str]) -> Result<u64, DbError> {
    Ok(on_backend!(tx, tx => {
        let mut query = sqlx::query(sql);
        for param in params {
            query = query.bind(*param);
        }
        query.execute(&mut **tx).await.map(|r| r.rows_affected())
    })?)
}

pub async fn delete(tx: &mut Tx, fingerprint: &str) -> Result<(), DbError> {
    execute(
        tx,
        "DELETE FROM certificates WHERE fingerprint = $1",
        &[fingerprint],
    )
    .await?;
    Ok(())
}

/// `(server id or '*', fingerprint)`.
pub async fn assignments(db: &Db) -> Result<Vec<(String, String)>, DbError> {
    let rows = on_backend!(&db.pool, pool => sqlx::query_as::<_, (String, String)>(
        "SELECT server_id, fingerprint FROM certificate_assignments ORDER BY server_id")
        .fetch_all(pool)
        .await)?;
    Ok(rows)
}

pub async fn assignments_in(tx: &mut Tx) -> Result<Vec<(String, String)>, DbError> {
    let rows = on_backend!(tx, tx => sqlx::query_as::<_, (String, String)>(
        "SELECT server_id, fingerprint FROM certificate_assignments ORDER BY server_id")
        .fetch_all(&mut **tx)
        .await)?;
    Ok(rows)
}

/// Assigns `fingerprint` to `server` (or to every server, `'*'`).
pub async fn assign(tx: &mut Tx, server: &str, fingerprint: &str) -> Result<(), DbError> {
    let sql = format!(
        "INSERT INTO certificate_assignments (server_id, fingerprint, assigned_at) \
         VALUES ($1, $2, {now}) ON CONFLICT (server_id) \
         DO UPDATE SET fingerprint = excluded.fingerprint, assigned_at = excluded.assigned_at",
        now = tx.now_sql()
    );
    execute(tx, &sql, &[server, fingerprint]).await?;
    Ok(())
}

/// Every server's own assignment goes: all of them present the `'*'` one.
pub async fn clear_own_assignments(tx: &mut Tx) -> Result<(), DbError> {
    execute(
        tx,
        "DELETE FROM certificate_assignments WHERE server_id <> $1",
        &[ALL_SERVERS],
    )
    .await?;
    Ok(())
}

/// A server's own assignment goes.
pub async fn unassign(tx: &mut Tx, server: &str) -> Result<(), DbError> {
    execute(
        tx,
        "DELETE FROM certificate_assignments WHERE server_id = $1",
        &[server],
    )
    .await?;
    Ok(())
}

/// What `from` issued is `to`'s (a renewed CA: same subject, same key).
pub async fn reparent(tx: &mut Tx, from: &str, to: &str) -> Result<(), DbError> {
    execute(
        tx,
        "UPDATE certificates SET issuer = $1 WHERE issuer = $2 AND fingerprint <> $1",
        &[to, from],
    )
    .await?;
    Ok(())
}

/// What was assigned `from` is assigned `to` (a renewal).
pub async fn move_assignments(tx: &mut Tx, from: &str, to: &str) -> Result<(), DbError> {
    execute(
        tx,
        "UPDATE certificate_assignments SET fingerprint = $1 WHERE fingerprint = $2",
        &[to, from],
    )
    .await?;
    Ok(())
}

pub async fn issued_count(tx: &mut Tx, fingerprint: &str) -> Result<i64, DbError> {
    Ok(on_backend!(tx, tx => sqlx::query_scalar(
        "SELECT COUNT(*) FROM certificates WHERE issuer = $1 AND fingerprint <> $1")
        .bind(fingerprint)
        .fetch_one(&mut **tx)
        .await)?)
}

pub async fn role(db: &Db, role: &str) -> Result<Option<String>, DbError> {
    Ok(on_backend!(&db.pool, pool => sqlx::query_scalar(
        "SELECT fingerprint FROM certificate_roles WHERE role = $1")
        .bind(role)
        .fetch_optional(pool)
        .await)?)
}

/// Takes `role` for `fingerprint` unless a server took it first (`false`).
pub async fn claim_role(tx: &mut Tx, role: &str, fingerprint: &str) -> Result<bool, DbError> {
    let sql = "INSERT INTO certificate_roles (role, fingerprint) VALUES ($1, $2) \
               ON CONFLICT (role) DO NOTHING";
    Ok(execute(tx, sql, &[role, fingerprint]).await? == 1)
}

pub async fn drop_roles(tx: &mut Tx, fingerprint: &str) -> Result<(), DbError> {
    execute(
        tx,
        "DELETE FROM certificate_roles WHERE fingerprint = $1",
        &[fingerprint],
    )
    .await?;
    Ok(())
}
