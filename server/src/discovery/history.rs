//! The fleet's online-check history, downsampled as it is written: each round merges into the
//! current five-minute and one-hour buckets (`device_history`), and buckets older than what the
//! dashboard shows are pruned, so the table holds a few hundred rows for any number of devices.

use crate::db::{Db, DbError, rfc3339};
use crate::on_backend;
use app::api::{HistoryPoint, HistoryRange, StatusCounts};

/// What one scheduled round adds to the history.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// The whole fleet's statuses after the round (not only this server's share).
    pub counts: StatusCounts,
    pub round_ms: u64,
    pub timeout_ms: u64,
    /// Devices this round checked.
    pub checked: u64,
}

/// Merges `sample`, taken at `at` (Unix milliseconds), into its bucket of every width, and
/// drops the buckets that fell out of their range.
pub async fn record(db: &Db, at: i64, sample: &Sample) -> Result<(), DbError> {
    // last writer's counts (they are the database's, whoever writes); extremes and sums merge
    let upsert = "INSERT INTO device_history (span_ms, bucket, online, offline, unknown, \
                      online_min, online_max, rounds, round_ms_max, round_ms_sum, checked_max, \
                      timeout_ms, updated_at) \
                  VALUES ($1, $2, $3, $4, $5, $3, $3, 1, $6, $6, $7, $8, $9) \
                  ON CONFLICT (span_ms, bucket) DO UPDATE SET \
                      online = excluded.online, offline = excluded.offline, \
                      unknown = excluded.unknown, \
                      online_min = CASE WHEN excluded.online < device_history.online_min \
                          THEN excluded.online ELSE device_history.online_min END, \
                      online_max = CASE WHEN excluded.online > device_history.online_max \
                          THEN excluded.online ELSE device_history.online_max END, \
                      rounds = device_history.rounds + 1, \
                      round_ms_max = CASE WHEN excluded.round_ms_max > device_history.round_ms_max \
                          THEN excluded.round_ms_max ELSE device_history.round_ms_max END, \
                      round_ms_sum = device_history.round_ms_sum + excluded.round_ms_sum, \
                      checked_max = CASE WHEN excluded.checked_max > device_history.checked_max \
                          THEN excluded.checked_max ELSE device_history.checked_max END, \
                      timeout_ms = excluded.timeout_ms, updated_at = excluded.updated_at";
    let number = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let mut tx = db.begin().await?;
    for range in HistoryRange::ALL {
        let bucket = at - at.rem_euclid(range.bucket_ms());
        on_backend!(&mut tx, tx => {
            sqlx::query(upsert)
                .bind(range.bucket_ms())
                .bind(bucket)
                .bind(number(sample.counts.online))
                .bind(number(sample.counts.offline))
                .bind(number(sample.counts.unknown))
                .bind(number(sample.round_ms))
                .bind(number(sample.checked))
                .bind(number(sample.timeout_ms))
                .bind(at)
                .execute(&mut **tx)
                .await?;
        });
        on_backend!(&mut tx, tx => {
            sqlx::query("DELETE FROM device_history WHERE span_ms = $1 AND bucket < $2")
                .bind(range.bucket_ms())
                .bind(first_bucket(range, at))
                .execute(&mut **tx)
                .await?;
        });
    }
    tx.commit().await?;
    Ok(())
}

/// The start of the oldest bucket of `range` still shown at `now`.
fn first_bucket(range: HistoryRange, now: i64) -> i64 {
    let since = now - range.span_ms();
    since - since.rem_euclid(range.bucket_ms())
}

/// The buckets of `range` as of `now`, oldest first.
pub async fn read(db: &Db, range: HistoryRange, now: i64) -> Result<Vec<HistoryPoint>, DbError> {
    type Row = (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64);
    let rows: Vec<Row> = on_backend!(&db.pool, pool => {
        sqlx::query_as(
            "SELECT bucket, online, offline, unknown, online_min, online_max, rounds, \
                    round_ms_max, round_ms_sum, timeout_ms \
             FROM device_history WHERE span_ms = $1 AND bucket >= $2 ORDER BY bucket",
        )
        .bind(range.bucket_ms())
        .bind(first_bucket(range, now))
        .fetch_all(pool)
        .await?
    });
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(rows
        .into_iter()
        .map(
            |(bucket, online, offline, unknown, min, max, rounds, ms_max, ms_sum, timeout)| {
                HistoryPoint {
                    at: rfc3339(bucket),
                    counts: StatusCounts {
                        online: count(online),
                        offline: count(offline),
                        unknown: count(unknown),
                    },
                    online_min: count(min),
                    online_max: count(max),
                    rounds: count(rounds),
                    round_ms_max: count(ms_max),
                    round_ms_mean: count(ms_sum) / count(rounds).max(1),
                    timeout_ms: count(timeout),
                }
            },
        )
        .collect())
}

/// How many buckets are stored, of each range: what the tests check the downsampling by.
pub async fn rows(db: &Db, range: HistoryRange) -> Result<i64, DbError> {
    Ok(on_backend!(&db.pool, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM device_history WHERE span_ms = $1")
            .bind(range.bucket_ms())
            .fetch_one(pool)
            .await?
    }))
}
