//! Scheduled jobs: stored with their executions, and a scheduler that runs each execution when
//! it is due, or marks it expired when it could not start within the configured expiration time
//! of its due time (the server was down, or busy) unless jobs never expire.

use crate::audit::{self, Actor, Record};
use crate::cluster::{Bus, Topic};
use crate::db::{Db, DbError, rfc3339};
use crate::on_backend;
use app::api::{Execution, ExecutionStatus, Job, JobCommand, JobList};
use app::model::Area;
use app::model::{CheckedJob, JobTargets};
use serde_json::Value;

/// Executions listed with each job in `GET /api/v1/jobs`.
const LISTED_EXECUTIONS: i64 = 5;
/// Executions shown by `GET /api/v1/jobs/{id}`: the newest.
const MAX_EXECUTIONS: i64 = 200;

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    name: String,
    command: String,
    targets: String,
    due_at: i64,
    repeat_minutes: Option<i64>,
    enabled: bool,
    created_at: i64,
}

#[derive(sqlx::FromRow)]
struct ExecutionRow {
    id: i64,
    job_id: i64,
    due_at: i64,
    status: String,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    result: Option<String>,
}

const JOB_COLUMNS: &str = "id, name, command, targets, due_at, repeat_minutes, enabled, created_at";
const EXECUTION_COLUMNS: &str = "id, job_id, due_at, status, started_at, finished_at, result";

fn job_from_row(row: JobRow, executions: Vec<Execution>) -> Result<Job, DbError> {
    Ok(Job {
        id: row.id,
        name: row.name,
        command: JobCommand::parse(&row.command)
            .ok_or_else(|| DbError::Corrupt(format!("job command {}", row.command)))?,
        targets: serde_json::from_str(&row.targets)
            .map_err(|e| DbError::Corrupt(format!("job targets: {e}")))?,
        due_at: rfc3339(row.due_at),
        repeat_minutes: row.repeat_minutes.map(|m| m as u32),
        enabled: row.enabled,
        created_at: rfc3339(row.created_at),
        executions,
    })
}

fn execution_from_row(row: ExecutionRow) -> Result<Execution, DbError> {
    Ok(Execution {
        id: row.id,
        status: ExecutionStatus::parse(&row.status)
            .ok_or_else(|| DbError::Corrupt(format!("execution status {}", row.status)))?,
        due_at: rfc3339(row.due_at),
        started_at: row.started_at.map(rfc3339),
        finished_at: row.finished_at.map(rfc3339),
        result: row.result,
    })
}

fn targets_json(targets: &JobTargets) -> String {
    let values: Vec<Value> = match targets {
        JobTargets::Devices(ids) => ids.iter().map(|id| Value::from(*id)).collect(),
        JobTargets::Ranges(ranges) => ranges.iter().map(|r| Value::from(r.as_str())).collect(),
    };
    Value::Array(values).to_string()
}

/// Stores a job and its first execution.
pub async fn create(db: &Db, bus: &Bus, job: &CheckedJob, actor: &Actor) -> Result<Job, DbError> {
    let mut tx = db.begin().await?;
    let now = db.now_sql();
    let insert_job = format!(
        "INSERT INTO jobs (name, command, targets, due_at, repeat_minutes, enabled, created_at) \
         VALUES ($1, $2, $3, $4, $5, TRUE, {now}) RETURNING id"
    );
    let id: i64 = on_backend!(&mut tx, tx => {
        sqlx::query_scalar(&insert_job)
            .bind(&job.name)
            .bind(job.command.as_str())
            .bind(targets_json(&job.targets))
            .bind(job.due_at)
            .bind(job.repeat_minutes.map(i64::from))
            .fetch_one(&mut **tx)
            .await?
    });
    on_backend!(&mut tx, tx => {
        sqlx::query("INSERT INTO job_executions (job_id, due_at, status) VALUES ($1, $2, 'pending')")
            .bind(id)
            .bind(job.due_at)
            .execute(&mut **tx)
            .await
            .map(|_| ())?
    });
    let record = Record::new(
        format!("jobs.{id}"),
        serde_json::Value::Null,
        serde_json::json!({
            "name": job.name,
            "command": job.command.as_str(),
            "targets": serde_json::from_str::<serde_json::Value>(&targets_json(&job.targets)).unwrap_or_default(),
            "due_at": crate::db::rfc3339(job.due_at),
            "repeat_minutes": job.repeat_minutes,
        }),
    );
    audit::record(&mut tx, actor, Area::Jobs, "create", &[record]).await?;
    bus.notify(&mut tx, Topic::Jobs, None).await?;
    tx.commit().await?;
    get(db, id)
        .await?
        .ok_or_else(|| DbError::Corrupt("a new job vanished".into()))
}

pub async fn list(db: &Db) -> Result<JobList, DbError> {
    let jobs_sql = format!("SELECT {JOB_COLUMNS} FROM jobs ORDER BY id DESC");
    let executions_sql = format!(
        "SELECT {EXECUTION_COLUMNS} FROM ( \
           SELECT {EXECUTION_COLUMNS}, ROW_NUMBER() OVER (PARTITION BY job_id ORDER BY id DESC) AS n \
           FROM job_executions) AS e \
         WHERE n <= $1 ORDER BY id DESC"
    );
    let (jobs, executions): (Vec<JobRow>, Vec<ExecutionRow>) = on_backend!(&db.pool, pool => {
        let jobs = sqlx::query_as(&jobs_sql).fetch_all(pool).await?;
        let executions = sqlx::query_as(&executions_sql)
            .bind(LISTED_EXECUTIONS)
            .fetch_all(pool)
            .await?;
        (jobs, executions)
    });
    let mut by_job: std::collections::HashMap<i64, Vec<Execution>> = Default::default();
    for row in executions {
        let job_id = row.job_id;
        by_job
            .entry(job_id)
            .or_default()
            .push(execution_from_row(row)?);
    }
    let jobs = jobs
        .into_iter()
        .map(|row| {
            let executions = by_job.remove(&row.id).unwrap_or_default();
            job_from_row(row, executions)
        })
        .collect::<Result<_, _>>()?;
    Ok(JobList { jobs })
}

pub async fn get(db: &Db, id: i64) -> Result<Option<Job>, DbError> {
    let job_sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
    let executions_sql = format!(
        "SELECT {EXECUTION_COLUMNS} FROM job_executions WHERE job_id = $1 ORDER BY id DESC LIMIT $2"
    );
    let (job, executions): (Option<JobRow>, Vec<ExecutionRow>) = on_backend!(&db.pool, pool => {
        let job = sqlx::query_as(&job_sql).bind(id).fetch_optional(pool).await?;
        let executions = sqlx::query_as(&executions_sql)
            .bind(id)
            .bind(MAX_EXECUTIONS)
            .fetch_all(pool)
            .await?;
        (job, executions)
    });
    let Some(job) = job else { return Ok(None) };
    let executions = executions
        .into_iter()
        .map(execution_from_row)
        .collect::<Result<_, _>>()?;
    job_from_row(job, executions).map(Some)
}

pub async fn set_enabled(
    db: &Db,
    bus: &Bus,
    id: i64,
    enabled: bool,
    actor: &Actor,
) -> Result<Option<Job>, DbError> {
    let mut tx = db.begin().await?;
    // the old value, with the row's lock, then the new one
    let old: Option<bool> = on_backend!(&mut tx, tx => {
        let old = sqlx::query_scalar("UPDATE jobs SET enabled = enabled WHERE id = $1 RETURNING enabled")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
        sqlx::query("UPDATE jobs SET enabled = $1 WHERE id = $2")
            .bind(enabled)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        old
    });
    let Some(old) = old else {
        return Ok(None);
    };
    if old != enabled {
        let record = Record::new(format!("jobs.{id}.enabled"), old, enabled);
        audit::record(&mut tx, actor, Area::Jobs, "update", &[record]).await?;
    }
    bus.notify(&mut tx, Topic::Jobs, None).await?;
    tx.commit().await?;
    get(db, id).await
}

pub async fn delete(db: &Db, bus: &Bus, id: i64, actor: &Actor) -> Result<bool, DbError> {
    let mut tx = db.begin().await?;
    let deleted: Option<String> = on_backend!(&mut tx, tx => {
        // (SQLite enforces the cascade only with foreign keys on, which the pool sets; say it
        // anyway)
        sqlx::query("DELETE FROM job_executions WHERE job_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        sqlx::query_scalar("DELETE FROM jobs WHERE id = $1 RETURNING name")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
    });
    let Some(name) = deleted else {
        return Ok(false);
    };
    let record = Record::new(
        format!("jobs.{id}"),
        serde_json::json!({"name": name}),
        serde_json::Value::Null,
    );
    audit::record(&mut tx, actor, Area::Jobs, "delete", &[record]).await?;
    bus.notify(&mut tx, Topic::Jobs, None).await?;
    tx.commit().await?;
    Ok(true)
}

/// An execution this server claimed, with what its job asks.
#[derive(Clone, Debug)]
pub struct Due {
    pub execution: i64,
    pub job: i64,
    pub name: String,
    pub command: JobCommand,
    pub targets: Vec<Value>,
    pub due_at: i64,
    pub repeat_minutes: Option<i64>,
}

/// What became of a claimed execution.
#[derive(Debug)]
pub enum Claimed {
    /// Running on this server, under its lease: carry it out, then [`finish`] it.
    Run(Due),
    /// Not started within the expiration time of its due time: marked expired, with this text.
    Expired(Due, String),
}

/// The rule for executions that start late: `None` when they never expire.
#[derive(Clone, Copy, Debug)]
pub struct Expiry {
    pub minutes: Option<u32>,
}

impl Expiry {
    fn verdict(self, late: i64) -> Option<String> {
        let minutes = self.minutes?;
        (late > i64::from(minutes) * 60_000).then(|| {
            format!(
                "expired: not started within {minutes} minutes of its due time ({} late)",
                lateness(late)
            )
        })
    }
}

fn lateness(millis: i64) -> String {
    let minutes = millis / 60_000;
    if minutes >= 120 {
        format!("{} hours", minutes / 60)
    } else {
        format!("{minutes} minutes")
    }
}

/// Claims up to `limit` pending executions of enabled jobs that are due at `now` (the
/// database's clock, Unix milliseconds), oldest first, in one transaction: each is marked
/// running on `server` with a lease until `lease_until`, or expired when it is too late. For a
/// repeating job the next execution is scheduled at its first due time after `now`. On
/// PostgreSQL the rows are locked with `SKIP LOCKED`, so servers claiming at the same moment take
/// different executions instead of waiting for each other; each is claimed exactly once.
pub async fn claim_due(
    db: &Db,
    bus: &Bus,
    now: i64,
    limit: i64,
    server: &str,
    lease_until: i64,
    expiry: Expiry,
) -> Result<Vec<Claimed>, DbError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        execution: i64,
        job: i64,
        name: String,
        command: String,
        targets: String,
        due_at: i64,
        repeat_minutes: Option<i64>,
    }
    let lock = match db.pool {
        crate::db::Backend::Postgres(_) => "FOR UPDATE OF e SKIP LOCKED",
        // one server, and SQLite writes one transaction at a time
        crate::db::Backend::Sqlite(_) => "",
    };
    let pick = format!(
        "SELECT e.id AS execution, j.id AS job, j.name, j.command, j.targets, e.due_at, \
                j.repeat_minutes \
         FROM job_executions e JOIN jobs j ON j.id = e.job_id \
         WHERE e.status = 'pending' AND e.due_at <= $1 AND j.enabled \
         ORDER BY e.due_at, e.id LIMIT $2 {lock}"
    );
    // SQLite: read before the transaction, which then begins with its first write (a read
    // transaction turned into a writing one could fail at once on a busy database); the claim
    // below still takes only what is pending.
    let read_first: Vec<Row> = match &db.pool {
        crate::db::Backend::Sqlite(pool) => {
            sqlx::query_as(&pick)
                .bind(now)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }
        crate::db::Backend::Postgres(_) => Vec::new(),
    };
    let mut tx = db.begin().await?;
    let rows: Vec<Row> = match &mut tx {
        crate::db::Backend::Postgres(tx) => {
            sqlx::query_as(&pick)
                .bind(now)
                .bind(limit)
                .fetch_all(&mut **tx)
                .await?
        }
        crate::db::Backend::Sqlite(_) => read_first,
    };
    if rows.is_empty() {
        tx.rollback().await?;
        return Ok(Vec::new());
    }
    let mut claimed = Vec::with_capacity(rows.len());
    for row in rows {
        let due = Due {
            execution: row.execution,
            job: row.job,
            name: row.name,
            command: JobCommand::parse(&row.command)
                .ok_or_else(|| DbError::Corrupt(format!("job command {}", row.command)))?,
            targets: serde_json::from_str(&row.targets)
                .map_err(|e| DbError::Corrupt(format!("job targets: {e}")))?,
            due_at: row.due_at,
            repeat_minutes: row.repeat_minutes,
        };
        let expired = expiry.verdict(now - due.due_at);
        let taken = on_backend!(&mut tx, tx => {
            sqlx::query(
                "UPDATE job_executions SET status = $1, started_at = $2, finished_at = $3, \
                 result = $4, server_id = $5, lease_until = $6 \
                 WHERE id = $7 AND status = 'pending'",
            )
            .bind(if expired.is_some() { "expired" } else { "running" })
            .bind(expired.is_none().then_some(now))
            .bind(expired.is_some().then_some(now))
            .bind(expired.as_deref())
            .bind(server)
            .bind(expired.is_none().then_some(lease_until))
            .bind(due.execution)
            .execute(&mut **tx)
            .await?
            .rows_affected()
        });
        if taken == 0 {
            continue; // no longer pending (deleted or changed by an administrator meanwhile)
        }
        if let Some(minutes) = due.repeat_minutes.filter(|m| *m > 0) {
            let next = next_due(due.due_at, minutes * 60_000, now);
            on_backend!(&mut tx, tx => {
                sqlx::query(
                    "INSERT INTO job_executions (job_id, due_at, status) VALUES ($1, $2, 'pending')",
                )
                .bind(due.job)
                .bind(next)
                .execute(&mut **tx)
                .await
                .map(|_| ())?
            });
        }
        claimed.push(match expired {
            Some(result) => Claimed::Expired(due, result),
            None => Claimed::Run(due),
        });
    }
    if claimed.is_empty() {
        tx.rollback().await?;
        return Ok(claimed);
    }
    bus.notify(&mut tx, Topic::Jobs, None).await?;
    tx.commit().await?;
    Ok(claimed)
}

/// The first time after `now` on the job's grid (`due`, `due + every`, …): a late run counts
/// for the times it missed.
pub fn next_due(due: i64, every: i64, now: i64) -> i64 {
    if now < due + every {
        return due + every;
    }
    let missed = (now - due) / every;
    due + (missed + 1) * every
}

/// Records how an execution this server ran ended. `false`: it was no longer this server's
/// (its lease ran out and another server failed it meanwhile), and the record stays as it is.
pub async fn finish(
    db: &Db,
    bus: &Bus,
    execution: i64,
    server: &str,
    status: ExecutionStatus,
    result: &str,
) -> Result<bool, DbError> {
    let sql = format!(
        "UPDATE job_executions SET status = $1, result = $2, finished_at = {}, lease_until = NULL \
         WHERE id = $3 AND status = 'running' AND server_id = $4",
        db.now_sql()
    );
    let mut tx = db.begin().await?;
    let finished = on_backend!(&mut tx, tx => {
        sqlx::query(&sql)
            .bind(status.as_str())
            .bind(result)
            .bind(execution)
            .bind(server)
            .execute(&mut **tx)
            .await?
            .rows_affected()
    });
    if finished == 0 {
        tx.rollback().await?;
        return Ok(false);
    }
    bus.notify(&mut tx, Topic::Jobs, None).await?;
    tx.commit().await?;
    Ok(true)
}

/// Extends the leases of these running executions (the ones a server is carrying out) to
/// `until` (the database's clock).
pub async fn renew_leases(db: &Db, executions: &[i64], until: i64) -> Result<u64, DbError> {
    let ids = serde_json::to_string(executions).expect("ids serialize");
    Ok(match &db.pool {
        crate::db::Backend::Sqlite(pool) => sqlx::query(
            "UPDATE job_executions SET lease_until = $1 \
             WHERE status = 'running' AND id IN (SELECT value FROM json_each($2))",
        )
        .bind(until)
        .bind(ids)
        .execute(pool)
        .await?
        .rows_affected(),
        crate::db::Backend::Postgres(pool) => sqlx::query(
            "UPDATE job_executions SET lease_until = $1 WHERE status = 'running' AND id = ANY($2)",
        )
        .bind(until)
        .bind(executions)
        .execute(pool)
        .await?
        .rows_affected(),
    })
}

/// Fails the running executions whose lease ran out at `now` and whose server has no heartbeat
/// younger than `timeout` (ms): it died or lost the database while running them. They are not
/// run again (their command may have reached the devices); a repeating job's next execution was
/// scheduled when they started.
pub async fn fail_lapsed(db: &Db, bus: &Bus, now: i64, timeout: i64) -> Result<u64, DbError> {
    let mut tx = db.begin().await?;
    let failed = on_backend!(&mut tx, tx => {
        sqlx::query(
            "UPDATE job_executions SET status = 'failed', finished_at = $1, \
             result = 'its server stopped answering while running it (the lease ran out); \
             not run again, since its command may have reached the devices' \
             WHERE status = 'running' AND lease_until < $1 AND NOT EXISTS ( \
               SELECT 1 FROM servers s WHERE s.id = job_executions.server_id \
               AND s.stopped_at IS NULL AND s.last_heartbeat >= $1 - $2)",
        )
        .bind(now)
        .bind(timeout)
        .execute(&mut **tx)
        .await?
        .rows_affected()
    });
    if failed == 0 {
        tx.rollback().await?;
        return Ok(0);
    }
    bus.notify(&mut tx, Topic::Jobs, None).await?;
    tx.commit().await?;
    Ok(failed)
}

/// Executions this server was running when it stopped without finishing them.
pub async fn abandon(db: &Db, server: &str) -> Result<u64, DbError> {
    let sql = format!(
        "UPDATE job_executions SET status = 'failed', finished_at = {}, lease_until = NULL, \
         result = 'the server stopped while it ran' WHERE status = 'running' AND server_id = $1",
        db.now_sql()
    );
    Ok(on_backend!(&db.pool, pool => {
        sqlx::query(&sql).bind(server).execute(pool).await?.rows_affected()
    }))
}

#[cfg(test)]
mod tests {
    use super::next_due;

    #[test]
    fn the_next_run_keeps_to_the_grid() {
        let hour = 3_600_000;
        assert_eq!(next_due(0, hour, 10), hour);
        assert_eq!(next_due(0, hour, hour - 1), hour);
        assert_eq!(next_due(0, hour, hour), 2 * hour);
        assert_eq!(next_due(0, hour, 5 * hour + 7), 6 * hour);
    }
}
