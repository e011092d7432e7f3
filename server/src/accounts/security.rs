//! The security log: sign-ins, failures, sign-outs, lock-outs, tokens, password and account
//! changes. Written next to what it records; a failure to write it is logged, never hidden.

use crate::audit::{page_limit, paged, push_filters};
use crate::db::{Db, DbError, rfc3339};
use crate::on_backend;
use app::api::{AuditQuery, SecurityEntry, SecurityPage};
use sqlx::{QueryBuilder, Row};

/// One event to record.
#[derive(Clone, Debug, Default)]
pub struct Event<'a> {
    pub event: &'a str,
    /// The account it concerns.
    pub username: Option<&'a str>,
    /// Who did it, when someone else did.
    pub actor: Option<&'a str>,
    pub source: Option<String>,
    pub detail: Option<String>,
}

pub async fn record(db: &Db, event: Event<'_>) {
    let sql = format!(
        "INSERT INTO security_log (at, event, username, actor, source, detail) \
         VALUES ({}, $1, $2, $3, $4, $5)",
        db.now_sql()
    );
    let written = on_backend!(&db.pool, pool => sqlx::query(&sql)
        .bind(event.event)
        .bind(event.username)
        .bind(event.actor)
        .bind(&event.source)
        .bind(&event.detail)
        .execute(pool)
        .await
        .map(|_| ()));
    if let Err(e) = written {
        tracing::error!(error = %e, event = event.event, "could not write the security log");
    }
}

/// Newest first, filtered by the account it concerns or by who did it; `Err` names a bad filter.
pub async fn page(db: &Db, query: &AuditQuery) -> Result<Result<SecurityPage, String>, DbError> {
    let limit = page_limit(query);
    let entries = on_backend!(&db.pool, pool => {
        let mut sql = QueryBuilder::new(
            "SELECT id, at, event, username, actor, source, detail FROM security_log",
        );
        if let Err(e) = push_filters(&mut sql, query, &["username", "actor"]) {
            return Ok(Err(e));
        }
        sql.push(" ORDER BY id DESC LIMIT ").push_bind(limit + 1);
        sql.build()
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|row| {
                Ok(SecurityEntry {
                    id: row.try_get(0)?,
                    at: rfc3339(row.try_get(1)?),
                    event: row.try_get(2)?,
                    username: row.try_get(3)?,
                    actor: row.try_get(4)?,
                    source: row.try_get(5)?,
                    detail: row.try_get(6)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?
    });
    let (entries, next_before) = paged(entries, limit, |e| e.id);
    Ok(Ok(SecurityPage {
        entries,
        next_before,
    }))
}
