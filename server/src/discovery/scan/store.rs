//! The scans' rows in the database: what the running server writes, and what every server
//! reads.

use super::*;

pub(super) fn state_str(state: ScanState) -> &'static str {
    match state {
        ScanState::Running => "running",
        ScanState::Done => "done",
        ScanState::Cancelled => "cancelled",
        ScanState::Failed => "failed",
    }
}

pub(super) fn parse_state(text: &str) -> Result<ScanState, DbError> {
    Ok(match text {
        "running" => ScanState::Running,
        "done" => ScanState::Done,
        "cancelled" => ScanState::Cancelled,
        "failed" => ScanState::Failed,
        other => return Err(DbError::Corrupt(format!("scan state {other}"))),
    })
}

pub(super) fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serializes")
}

/// Stores a new scan (running), and deletes the oldest ended ones beyond [`KEPT`].
pub(super) async fn insert(db: &Db, bus: &Bus, run: &ScanRun) -> Result<(), DbError> {
    let view = run.view(false, &HashSet::new());
    let prune = "DELETE FROM scans WHERE state <> 'running' AND id NOT IN \
                 (SELECT id FROM scans ORDER BY started_at DESC, id DESC LIMIT $1)";
    let insert = format!(
        "INSERT INTO scans (id, server_id, server_name, state, broadcast, ranges, total, \
         remaining_ms, started_at, updated_at) \
         VALUES ($1, $2, $3, 'running', $4, $5, $6, $7, $8, {})",
        db.now_sql()
    );
    let mut tx = db.begin().await?;
    on_backend!(&mut tx, tx => {
        sqlx::query(prune)
            .bind(KEPT - 1)
            .execute(&mut **tx)
            .await?;
        sqlx::query(&insert)
            .bind(&run.id)
            .bind(&run.server_id)
            .bind(&run.server_name)
            .bind(run.broadcast)
            .bind(to_json(&run.ranges))
            .bind(run.total as i64)
            .bind(view.remaining_ms.map(|ms| ms as i64))
            .bind(run.started_at)
            .execute(&mut **tx)
            .await?;
    });
    bus.notify(&mut tx, Topic::Scans, None).await?;
    tx.commit().await?;
    Ok(())
}

/// What a progress write last stored: a write is made only when this changed.
#[derive(Clone, Copy, PartialEq)]
pub(super) struct Written {
    sent: u64,
    found: u64,
    ignored: u64,
    sending_done: bool,
}

/// Writes the scan's progress at most every [`PROGRESS_EVERY`] while it runs (when it changed),
/// and stops the scan when another server asked for it in the meantime.
pub(super) async fn write_progress(db: Db, bus: Bus, run: Arc<ScanRun>) {
    let mut last: Option<Written> = None;
    loop {
        tokio::select! {
            _ = run.ended.cancelled() => return,
            _ = tokio::time::sleep(PROGRESS_EVERY) => {}
        }
        let view = run.view(false, &HashSet::new());
        let now = Written {
            sent: view.sent,
            found: view.found,
            ignored: view.ignored,
            sending_done: view.sending_ms.is_some(),
        };
        let results = (last.is_none_or(|l| l.found != now.found)).then(|| to_json(&run.stored()));
        let asked = if last == Some(now) {
            cancel_requested(&db, &run.id).await
        } else {
            progress(&db, &bus, &run.id, &view, results.as_deref()).await
        };
        match asked {
            Ok(asked) => {
                last = Some(now);
                if asked {
                    tracing::info!(scan = run.id, "cancelled from another server");
                    run.cancel();
                }
            }
            Err(e) => {
                tracing::warn!(scan = run.id, error = %e, "could not store a scan's progress")
            }
        }
    }
}

/// Stores the progress of a running scan (and its results, when given); answers whether another
/// server asked to cancel it.
pub(super) async fn progress(
    db: &Db,
    bus: &Bus,
    id: &str,
    view: &Scan,
    results: Option<&str>,
) -> Result<bool, DbError> {
    let sql = format!(
        "UPDATE scans SET sent = $2, found = $3, ignored = $4, remaining_ms = $5, \
         sending_ms = $6, results = COALESCE($7, results), updated_at = {} \
         WHERE id = $1 AND state = 'running' RETURNING cancel_requested",
        db.now_sql()
    );
    let mut tx = db.begin().await?;
    let asked: Option<bool> = on_backend!(&mut tx, tx => {
        sqlx::query_scalar(&sql)
            .bind(id)
            .bind(view.sent as i64)
            .bind(view.found as i64)
            .bind(view.ignored as i64)
            .bind(view.remaining_ms.map(|ms| ms as i64))
            .bind(view.sending_ms)
            .bind(results)
            .fetch_optional(&mut **tx)
            .await?
    });
    bus.notify(&mut tx, Topic::Scans, None).await?;
    tx.commit().await?;
    Ok(asked.unwrap_or(false))
}

pub(super) async fn cancel_requested(db: &Db, id: &str) -> Result<bool, DbError> {
    let asked: Option<bool> = on_backend!(&db.pool, pool => {
        sqlx::query_scalar("SELECT cancel_requested FROM scans WHERE id = $1 AND state = 'running'")
            .bind(id)
            .fetch_optional(pool)
            .await?
    });
    Ok(asked.unwrap_or(false))
}

/// Stores how the scan ended, with everything it found.
pub(super) async fn finish(db: &Db, bus: &Bus, run: &ScanRun) -> Result<(), DbError> {
    let view = run.view(false, &HashSet::new());
    let sql = format!(
        "UPDATE scans SET state = $2, sent = $3, found = $4, ignored = $5, results = $6, \
         error = $7, remaining_ms = NULL, sending_ms = $8, finished_at = {now}, \
         updated_at = {now} WHERE id = $1",
        now = db.now_sql()
    );
    let mut tx = db.begin().await?;
    on_backend!(&mut tx, tx => {
        sqlx::query(&sql)
            .bind(&run.id)
            .bind(state_str(view.state))
            .bind(view.sent as i64)
            .bind(view.found as i64)
            .bind(view.ignored as i64)
            .bind(to_json(&run.stored()))
            .bind(&view.error)
            .bind(view.sending_ms)
            .execute(&mut **tx)
            .await?;
    });
    bus.notify(&mut tx, Topic::Scans, None).await?;
    tx.commit().await?;
    Ok(())
}

/// Fails the scans this server was running when it stopped without writing their end.
pub async fn abandon(db: &Db, bus: &Bus, server: &str) -> Result<u64, DbError> {
    let sql = format!(
        "UPDATE scans SET state = 'failed', finished_at = {now}, updated_at = {now}, \
         remaining_ms = NULL, error = $2 WHERE state = 'running' AND server_id = $1",
        now = db.now_sql()
    );
    let mut tx = db.begin().await?;
    let failed = on_backend!(&mut tx, tx => {
        sqlx::query(&sql)
            .bind(server)
            .bind(STOPPED)
            .execute(&mut **tx)
            .await?
            .rows_affected()
    });
    if failed > 0 {
        bus.notify(&mut tx, Topic::Scans, None).await?;
    }
    tx.commit().await?;
    Ok(failed)
}

/// Fails the running scans of other servers that are gone: stopped, silent for longer than the
/// heartbeat timeout (`timeout` ms, on the database's clock, as the server list judges them), or
/// no longer listed. Run by every server's scheduler.
pub async fn fail_orphans(db: &Db, bus: &Bus, me: &str, timeout: i64) -> Result<u64, DbError> {
    let sql = format!(
        "UPDATE scans SET state = 'failed', finished_at = {now}, updated_at = {now}, \
         remaining_ms = NULL, \
         error = 'its server ' || server_name || ' stopped answering while it ran' \
         WHERE state = 'running' AND server_id <> $1 AND NOT EXISTS ( \
           SELECT 1 FROM servers WHERE servers.id = scans.server_id \
           AND servers.stopped_at IS NULL AND servers.last_heartbeat >= {now} - $2)",
        now = db.now_sql()
    );
    let mut tx = db.begin().await?;
    let failed = on_backend!(&mut tx, tx => {
        sqlx::query(&sql)
            .bind(me)
            .bind(timeout)
            .execute(&mut **tx)
            .await?
            .rows_affected()
    });
    if failed == 0 {
        tx.rollback().await?;
        return Ok(0);
    }
    bus.notify(&mut tx, Topic::Scans, None).await?;
    tx.commit().await?;
    Ok(failed)
}

#[derive(sqlx::FromRow)]
pub(super) struct ScanRow {
    id: String,
    server_id: String,
    server_name: String,
    state: String,
    broadcast: bool,
    ranges: String,
    sent: i64,
    total: i64,
    found: i64,
    ignored: i64,
    results: Option<String>,
    error: Option<String>,
    remaining_ms: Option<i64>,
    sending_ms: Option<f64>,
    started_at: i64,
    finished_at: Option<i64>,
    /// Milliseconds since the row was written.
    age: i64,
}

/// The columns of [`ScanRow`], with `results` given as `results`.
pub(super) fn columns(db: &Db, results: &str) -> String {
    format!(
        "id, server_id, server_name, state, broadcast, ranges, sent, total, found, ignored, \
         {results} AS results, error, remaining_ms, sending_ms, started_at, finished_at, \
         {} - updated_at AS age",
        db.now_sql()
    )
}

impl ScanRow {
    /// The scan as the API shows it (its results apart).
    fn scan(&self) -> Result<Scan, DbError> {
        let state = parse_state(&self.state)?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(Scan {
            id: self.id.clone(),
            server_id: self.server_id.clone(),
            server_name: self.server_name.clone(),
            state,
            broadcast: self.broadcast,
            ranges: serde_json::from_str(&self.ranges)
                .map_err(|e| DbError::Corrupt(format!("scan ranges: {e}")))?,
            sent: count(self.sent),
            total: count(self.total),
            started_at: rfc3339(self.started_at),
            finished_at: self.finished_at.map(rfc3339),
            // the estimate as written, less the time since
            remaining_ms: self
                .remaining_ms
                .filter(|_| state == ScanState::Running)
                .map(|ms| count(ms.saturating_sub(self.age.max(0)))),
            results: Vec::new(),
            sending_ms: self.sending_ms,
            found: count(self.found),
            ignored: count(self.ignored),
            error: self.error.clone(),
        })
    }

    fn stored(&self) -> Result<Vec<Stored>, DbError> {
        serde_json::from_str(self.results.as_deref().unwrap_or("[]"))
            .map_err(|e| DbError::Corrupt(format!("scan results: {e}")))
    }
}

/// Every server's scans, newest first, without their results.
pub async fn list(db: &Db) -> Result<ScanList, DbError> {
    let sql = format!(
        "SELECT {} FROM scans ORDER BY started_at DESC, id DESC LIMIT $1",
        columns(db, "CAST(NULL AS TEXT)")
    );
    let rows: Vec<ScanRow> = on_backend!(&db.pool, pool => {
        sqlx::query_as(&sql).bind(KEPT).fetch_all(pool).await?
    });
    Ok(ScanList {
        scans: rows.iter().map(ScanRow::scan).collect::<Result<_, _>>()?,
    })
}

/// A scan with the devices it found (each marked when its MAC is registered, by `registered`).
pub async fn get(db: &Db, id: &str) -> Result<Option<(Scan, Vec<Stored>)>, DbError> {
    let sql = format!("SELECT {} FROM scans WHERE id = $1", columns(db, "results"));
    let row: Option<ScanRow> = on_backend!(&db.pool, pool => {
        sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?
    });
    row.map(|row| Ok((row.scan()?, row.stored()?))).transpose()
}

/// The scan with its results, each marked when its MAC is in `registered`.
pub fn with_results(mut scan: Scan, found: Vec<Stored>, registered: &HashSet<String>) -> Scan {
    scan.results = found.into_iter().map(|f| f.result(registered)).collect();
    scan
}
