//! `pharos backup` and `pharos restore`: the whole database, consistent while servers write.
//! SQLite copies itself with `VACUUM INTO` (one read transaction); PostgreSQL's `pg_dump` reads
//! one snapshot. A restore keeps what the database held beside it before replacing it.

use super::{Failed, Outcome};
use crate::config::Config;
use crate::db::{Backend, Db};
use crate::on_backend;
use app::model::DatabaseKind;
use sqlx::ConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use tokio::process::Command;

/// The configured database, migrated to this version of Pharos.
pub async fn connect(config: &Config) -> Result<Db, Failed> {
    let url = config.database_url()?;
    let kind = config.database_kind()?;
    Db::connect(url.expose(), kind)
        .await
        .map_err(|e| Failed(format!("{e:#} ({})", url.redacted())))
}

/// Beside `file`, for writing before the rename that makes it appear whole.
fn partial(file: &Path) -> PathBuf {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    file.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

pub async fn backup(config: &Config, file: &Path, force: bool) -> Outcome {
    if file.exists() && !force {
        return Err(Failed(format!(
            "{} exists; use --force to replace it",
            file.display()
        )));
    }
    let temporary = partial(file);
    let _ = std::fs::remove_file(&temporary);
    let written = match config.database_kind()? {
        DatabaseKind::Sqlite => {
            let db = connect(config).await?;
            let path = temporary
                .to_str()
                .ok_or_else(|| Failed("the backup's path is not valid UTF-8".into()))?
                .to_owned();
            let copied = match &db.pool {
                Backend::Sqlite(pool) => sqlx::query("VACUUM INTO $1")
                    .bind(path)
                    .execute(pool)
                    .await
                    .map(|_| ()),
                Backend::Postgres(_) => unreachable!("an SQLite URL"),
            };
            db.close().await;
            copied.map_err(Failed::from)
        }
        DatabaseKind::Postgres => {
            let url = config.database_url()?;
            pg_tool(
                "pg_dump",
                &["--format=custom", "--no-owner", "--file"],
                &temporary,
                url.expose(),
            )
            .await
        }
    };
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(Failed(format!("the backup failed: {}", e.0)));
    }
    std::fs::rename(&temporary, file)
        .map_err(|e| Failed(format!("moving the backup to {}: {e}", file.display())))?;
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "Backed up the database to {} ({size} bytes).",
        file.display()
    );
    Ok(())
}

/// Runs `pg_dump` or `pg_restore` with `args`, then `path`, on the database at `url`.
async fn pg_tool(tool: &str, args: &[&str], path: &Path, url: &str) -> Outcome {
    let out = Command::new(tool)
        .args(args)
        .arg(path)
        .arg("--dbname")
        .arg(url)
        .output()
        .await
        .map_err(|e| {
            Failed(format!(
                "{tool} (PostgreSQL's client tools, of the server's version or newer) is needed: {e}"
            ))
        })?;
    if !out.status.success() {
        return Err(Failed(format!(
            "{tool}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// What a backup file holds, by its first bytes.
fn kind_of(file: &Path) -> Result<DatabaseKind, Failed> {
    use std::io::Read;
    let mut start = [0u8; 16];
    let mut f = std::fs::File::open(file)
        .map_err(|e| Failed(format!("reading {}: {e}", file.display())))?;
    let n = f.read(&mut start)?;
    if n == 16 && &start == b"SQLite format 3\0" {
        Ok(DatabaseKind::Sqlite)
    } else if n >= 5 && &start[..5] == b"PGDMP" {
        Ok(DatabaseKind::Postgres)
    } else {
        Err(Failed(format!(
            "{} is no backup made by `pharos backup` (neither an SQLite database nor a pg_dump \
             archive); nothing changed",
            file.display()
        )))
    }
}

fn name(kind: DatabaseKind) -> &'static str {
    match kind {
        DatabaseKind::Sqlite => "SQLite",
        DatabaseKind::Postgres => "PostgreSQL",
    }
}

pub async fn restore(config: &Config, file: &Path) -> Outcome {
    let kind = config.database_kind()?;
    let holds = kind_of(file)?;
    if holds != kind {
        return Err(Failed(format!(
            "{} is a backup of an {} database, and the configured database is {}; nothing changed",
            file.display(),
            name(holds),
            name(kind)
        )));
    }
    // no server may start on this data directory meanwhile
    std::fs::create_dir_all(&config.data_dir)?;
    let _lock = crate::cluster::lock_data_dir(&config.data_dir).map_err(|e| {
        Failed(format!(
            "{e:#}: stop the server before restoring; nothing changed"
        ))
    })?;
    let db = connect(config).await?;
    let running = running_servers(&db, config).await?;
    if !running.is_empty() {
        db.close().await;
        return Err(Failed(format!(
            "servers are running on this database ({}): stop them before restoring; nothing \
             changed",
            running.join(", ")
        )));
    }
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let kept = match kind {
        DatabaseKind::Sqlite => {
            db.close().await;
            restore_sqlite(config, file, stamp).await?
        }
        DatabaseKind::Postgres => {
            let kept = config
                .data_dir
                .join(format!("pharos-before-restore-{stamp}.dump"));
            std::fs::create_dir_all(&config.data_dir)?;
            let url = config.database_url()?;
            pg_tool(
                "pg_dump",
                &["--format=custom", "--no-owner", "--file"],
                &kept,
                url.expose(),
            )
            .await
            .map_err(|e| {
                Failed(format!(
                    "keeping the database before the restore failed: {}",
                    e.0
                ))
            })?;
            let replaced = replace_postgres(&db, file, url.expose()).await;
            if let Err(e) = replaced {
                // back to what it held
                let back = replace_postgres(&db, &kept, url.expose()).await;
                db.close().await;
                return Err(Failed(match back {
                    Ok(()) => format!("the restore failed, and the database is as before: {}", e.0),
                    Err(again) => format!(
                        "the restore failed ({}), and so did putting back what the database \
                         held ({}): it is kept in {}",
                        e.0,
                        again.0,
                        kept.display()
                    ),
                }));
            }
            db.close().await;
            kept
        }
    };
    // the backup may be of an older version of Pharos
    connect(config).await?.close().await;
    eprintln!(
        "Restored {}. What the database held before is kept in {}.",
        file.display(),
        kept.display()
    );
    Ok(())
}

/// The names of the servers whose heartbeat is fresh.
async fn running_servers(db: &Db, config: &Config) -> Result<Vec<String>, Failed> {
    let now = db.now_millis().await?;
    let since = now - i64::try_from(config.heartbeat_timeout().as_millis()).unwrap_or(i64::MAX);
    let names: Vec<(String,)> = on_backend!(&db.pool, pool => {
        sqlx::query_as(
            "SELECT name FROM servers WHERE stopped_at IS NULL AND last_heartbeat >= $1 ORDER BY name",
        )
        .bind(since)
        .fetch_all(pool)
        .await?
    });
    Ok(names.into_iter().map(|(n,)| n).collect())
}

/// Empties the database and loads the archive into it, in one transaction.
async fn replace_postgres(db: &Db, archive: &Path, url: &str) -> Outcome {
    if let Backend::Postgres(pool) = &db.pool {
        sqlx::raw_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            .execute(pool)
            .await?;
    }
    pg_tool(
        "pg_restore",
        &["--no-owner", "--single-transaction", "--exit-on-error"],
        archive,
        url,
    )
    .await
}

async fn restore_sqlite(config: &Config, file: &Path, stamp: i64) -> Result<PathBuf, Failed> {
    let url = config.database_url()?;
    let target = SqliteConnectOptions::from_str(url.expose())?
        .get_filename()
        .to_owned();
    check_sqlite(file).await?;
    let kept = target.with_file_name(format!(
        "{}.before-restore-{stamp}",
        target.file_name().unwrap_or_default().to_string_lossy()
    ));
    if target.exists() {
        // its write-ahead log folded into it, so that the one file holds everything
        let mut conn = SqliteConnectOptions::new()
            .filename(&target)
            .connect()
            .await?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await?;
        drop(conn);
        std::fs::rename(&target, &kept)?;
        for suffix in ["-wal", "-shm"] {
            let mut side = target.clone().into_os_string();
            side.push(suffix);
            let _ = std::fs::remove_file(side);
        }
    }
    let temporary = partial(&target);
    std::fs::copy(file, &temporary)?;
    std::fs::rename(&temporary, &target)?;
    Ok(kept)
}

/// A backup is whole and not of a newer Pharos.
async fn check_sqlite(file: &Path) -> Outcome {
    let mut conn = SqliteConnectOptions::new()
        .filename(file)
        .read_only(true)
        .connect()
        .await?;
    let (verdict,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await?;
    if verdict != "ok" {
        return Err(Failed(format!(
            "{} is damaged ({verdict}); nothing changed",
            file.display()
        )));
    }
    let (newest,): (Option<i64>,) = sqlx::query_as("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .map_err(|_| {
            Failed(format!(
                "{} is no Pharos database; nothing changed",
                file.display()
            ))
        })?;
    let known = sqlx::migrate!("../migrations/sqlite")
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0);
    if newest.unwrap_or(0) > known {
        return Err(Failed(format!(
            "{} was made by a newer version of Pharos; nothing changed",
            file.display()
        )));
    }
    Ok(())
}
