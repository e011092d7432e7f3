//! The benchmark's baseline for a settings write: a plain sqlx loop doing what a `PUT` must do
//! at the least, an `UPDATE` of the settings row and one audit `INSERT` in one transaction, one
//! after another on one connection (as the `PUT` rows send one request after another).
//!
//! `sqlx_put DATABASE_URL SECONDS` prints `<transactions per second> <p50 µs> <p99 µs>`. It
//! gives the database Pharos's tables first (its own migrations), so use a database of its own.

use sqlx::{Connection, Executor};
use std::time::{Duration, Instant};

const SETTINGS_ROW: &str = "INSERT INTO settings (name, document, revision, updated_at, updated_by) \
     VALUES ('network', '{}', 1, 0, 'bench') ON CONFLICT (name) DO NOTHING";

/// The loop, written once and compiled for each connection type.
macro_rules! run {
    ($conn:expr, $seconds:expr) => {{
        let start = Instant::now();
        let mut latencies = Vec::new();
        let mut n: i64 = 0;
        while start.elapsed().as_secs_f64() < $seconds {
            n += 1;
            let began = Instant::now();
            let mut tx = $conn.begin().await?;
            sqlx::query(
                "UPDATE settings SET document = $1, revision = revision + 1, updated_at = $2, \
                 updated_by = 'bench' WHERE name = 'network'",
            )
            .bind(format!(
                "{{\"scan\":{{\"timeout_ms\":{}}}}}",
                1000 + n % 50_000
            ))
            .bind(n)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO audit_log (at, actor, source, action, field, old_value, new_value) \
                 VALUES ($1, 'bench', '127.0.0.1', 'update', 'settings.network.scan.timeout_ms', \
                 $2, $3)",
            )
            .bind(n)
            .bind((n - 1).to_string())
            .bind(n.to_string())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            latencies.push(began.elapsed());
        }
        (n as u64, latencies, start.elapsed())
    }};
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("DATABASE_URL");
    let seconds: f64 = args.next().map_or(Ok(5.0), |s| s.parse())?;
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(&url).await?;
        // the same durability as Pharos: WAL, and every commit on disk
        conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL")
            .await?;
        sqlx::migrate!("../migrations/sqlite")
            .run(&mut conn)
            .await?;
        conn.execute(SETTINGS_ROW).await?;
        report(run!(conn, seconds));
    } else {
        let mut conn = sqlx::PgConnection::connect(&url).await?;
        sqlx::migrate!("../migrations/postgres")
            .run(&mut conn)
            .await?;
        conn.execute(SETTINGS_ROW).await?;
        report(run!(conn, seconds));
    }
    Ok(())
}

fn report((count, mut latencies, elapsed): (u64, Vec<Duration>, Duration)) {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize].as_micros();
    println!(
        "{:.1} {} {}",
        count as f64 / elapsed.as_secs_f64(),
        at(0.5),
        at(0.99)
    );
}
