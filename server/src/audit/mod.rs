//! The audit log: one row per changed value, written by each area inside its own transaction so
//! a change and its record commit together or not at all.

pub mod api;

use crate::db::{Db, DbError, Tx, rfc3339};
use crate::on_backend;
use app::api::{AuditEntry, AuditPage, AuditQuery};
use app::model::Area;
use headers::HeaderMapExt;
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

impl Record {
    pub fn new(field: impl Into<String>, old: impl Into<Value>, new: impl Into<Value>) -> Record {
        Record {
            field: field.into(),
            old: old.into(),
            new: new.into(),
        }
    }
}

/// Records per `INSERT`: seven parameters each.
const RECORDS_PER_STATEMENT: usize = 1000;

/// Writes the records of one change (stamped with the database's clock) in `tx`.
pub async fn record(
    tx: &mut Tx,
    actor: &Actor,
    area: Area,
    action: &str,
    records: &[Record],
) -> Result<(), DbError> {
    if records.is_empty() {
        return Ok(());
    }
    let now = tx.now_sql();
    // A statement takes at most 65,535 parameters on PostgreSQL (32,766 on SQLite): a change of
    // tens of thousands of rows (devices registered from a scan) is written in parts.
    for part in records.chunks(RECORDS_PER_STATEMENT) {
        on_backend!(&mut *tx, tx => {
            let mut insert = QueryBuilder::new(
                "INSERT INTO audit_log (at, actor, source, area, action, field, old_value, new_value) ",
            );
            insert.push_values(part, |mut row, r| {
                row.push(now)
                    .push_bind(&actor.name)
                    .push_bind(&actor.source)
                    .push_bind(area.as_str())
                    .push_bind(action)
                    .push_bind(&r.field)
                    .push_bind(r.old.to_string())
                    .push_bind(r.new.to_string());
            });
            insert.build().execute(&mut **tx).await.map(|_| ())
        })?;
    }
    Ok(())
}

/// Writes one change's records in a transaction of their own: for changes that are not stored
/// in the database (a scan started, an online check run).
pub async fn record_now(
    db: &Db,
    actor: &Actor,
    area: Area,
    action: &str,
    records: &[Record],
) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    record(&mut tx, actor, area, action, records).await?;
    tx.commit().await?;
    Ok(())
}

/// Unix milliseconds of an RFC 3339 time, or what is wrong with it.
pub fn parse_time(text: &str, name: &str) -> Result<i64, String> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .map_err(|_| format!("{name} must be an RFC 3339 time such as 2026-11-30T08:00:00Z"))
}

/// The filters of a log query, as SQL conditions on `at` and the `user_columns` (an entry
/// matches a user named in any of them).
pub(crate) fn push_filters<'a, DB: sqlx::Database>(
    sql: &mut QueryBuilder<'a, DB>,
    query: &'a AuditQuery,
    user_columns: &[&str],
) -> Result<(), String>
where
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    sql.push(" WHERE id < ")
        .push_bind(query.before.unwrap_or(i64::MAX));
    if let Some(user) = query
        .user
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        let user = user.to_lowercase();
        // the account's changes made from the command line too ("alice (command line)")
        let from_command_line = format!("{user}{}", crate::cli::COMMAND_LINE);
        sql.push(" AND (");
        for (i, column) in user_columns.iter().enumerate() {
            if i > 0 {
                sql.push(" OR ");
            }
            sql.push(format!("LOWER({column}) = "))
                .push_bind(user.clone())
                .push(format!(" OR LOWER({column}) = "))
                .push_bind(from_command_line.clone());
        }
        sql.push(")");
    }
    if let Some(from) = &query.from {
        sql.push(" AND at >= ").push_bind(parse_time(from, "from")?);
    }
    if let Some(to) = &query.to {
        sql.push(" AND at < ").push_bind(parse_time(to, "to")?);
    }
    Ok(())
}

/// What a page of log entries asks for: at most 500, 100 unless said.
pub(crate) fn page_limit(query: &AuditQuery) -> i64 {
    query.limit.unwrap_or(100).clamp(1, 500)
}

/// Newest first, filtered; `Err` names a filter that is not understood.
pub async fn page(db: &Db, query: &AuditQuery) -> Result<Result<AuditPage, String>, DbError> {
    let limit = page_limit(query);
    let json = |text: String| serde_json::from_str(&text).unwrap_or(Value::String(text));
    let entries = on_backend!(&db.pool, pool => {
        let mut sql = QueryBuilder::new(
            "SELECT id, at, actor, source, area, action, field, old_value, new_value FROM audit_log",
        );
        if let Err(e) = push_filters(&mut sql, query, &["actor"]) {
            return Ok(Err(e));
        }
        if let Some(area) = query.area {
            sql.push(" AND area = ").push_bind(area.as_str());
        }
        sql.push(" ORDER BY id DESC LIMIT ").push_bind(limit + 1);
        sql.build()
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|row| {
                let area: String = row.try_get(4)?;
                Ok(AuditEntry {
                    id: row.try_get(0)?,
                    at: rfc3339(row.try_get(1)?),
                    actor: row.try_get(2)?,
                    source: row.try_get(3)?,
                    area: Area::parse(&area).unwrap_or(Area::NetworkSettings),
                    action: row.try_get(5)?,
                    field: row.try_get(6)?,
                    old_value: json(row.try_get(7)?),
                    new_value: json(row.try_get(8)?),
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?
    });
    let (entries, next_before) = paged(entries, limit, |e| e.id);
    Ok(Ok(AuditPage {
        entries,
        next_before,
    }))
}

/// Cuts the one entry read beyond the page off, and says where the next page starts.
pub(crate) fn paged<T>(
    mut entries: Vec<T>,
    limit: i64,
    id: impl Fn(&T) -> i64,
) -> (Vec<T>, Option<i64>) {
    if entries.len() as i64 > limit {
        entries.truncate(limit as usize);
        let next = entries.last().map(&id);
        (entries, next)
    } else {
        (entries, None)
    }
}

/// The signed-in administrator making a change, and where from: every changing route takes
/// one (401 for nobody, which the routes' guard has refused already).
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Actor {
    type Rejection = crate::http::ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let caller = parts
            .extensions
            .get::<crate::http::Caller>()
            .ok_or(crate::http::ApiError::Unauthorized)?;
        let me = caller.me().ok_or(crate::http::ApiError::Unauthorized)?;
        // the command line with --url (which signs in with a token) says so: its changes read
        // as made from it; the account is the token's either way
        let with_token = caller
            .signed_in
            .as_ref()
            .is_some_and(|s| matches!(s.via, crate::http::auth::Via::Token { .. }));
        let from_command_line = with_token
            && parts
                .headers
                .typed_get::<headers::UserAgent>()
                .is_some_and(|agent| {
                    agent
                        .as_str()
                        .starts_with(crate::cli::remote::USER_AGENT_PREFIX)
                });
        Ok(Actor {
            name: if from_command_line {
                format!("{}{}", me.username, crate::cli::COMMAND_LINE)
            } else {
                me.username.clone()
            },
            source: caller.client.addr.map(|ip| ip.to_string()),
        })
    }
}
