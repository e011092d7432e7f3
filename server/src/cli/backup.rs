//! `pharos backup` and `pharos restore`: the whole database, consistent while servers write.
//! SQLite copies itself with `VACUUM INTO` (one read transaction); PostgreSQL's `pg_dump` reads
//! one snapshot. Neither touches the database it copies (no migration, nothing created). A
//! restore keeps what the database held beside it, and puts it back if the restore fails.

use super::{Failed, Outcome};
use crate::config::Config;
use crate::db::Db;
use app::model::DatabaseKind;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool, SqlitePool};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use tokio::process::Command;

/// The configured database, if a server of this version has started on it: the command line
/// creates and migrates nothing.
pub async fn connect(config: &Config) -> Result<Db, Failed> {
    let url = config.database_url()?;
    let kind = config.database_kind()?;
    Db::existing(url.expose(), kind)
        .await
        .map_err(|e| Failed(format!("{e:#} ({})", url.redacted())))
}

/// The configured database, created if missing and migrated to this version (what `restore`
/// makes of it: a backup of an older Pharos is upgraded as a server's start would).
async fn migrated(config: &Config) -> Result<Db, Failed> {
    let url = config.database_url()?;
    let kind = config.database_kind()?;
    Db::connect(url.expose(), kind)
        .await
        .map_err(|e| Failed(format!("{e:#} ({})", url.redacted())))
}

/// The configured database as it is: not created if missing, not migrated.
enum Existing {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

async fn existing(config: &Config) -> Result<Existing, Failed> {
    let url = config.database_url()?;
    let missing = |e: sqlx::Error| Failed(format!("opening {}: {e}", url.redacted()));
    Ok(match config.database_kind()? {
        DatabaseKind::Sqlite => {
            let options = SqliteConnectOptions::from_str(url.expose())?.create_if_missing(false);
            Existing::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await
                    .map_err(missing)?,
            )
        }
        DatabaseKind::Postgres => {
            Existing::Postgres(PgPool::connect(url.expose()).await.map_err(missing)?)
        }
    })
}

/// Beside `file`, for writing before the rename that makes it appear whole.
fn partial(file: &Path) -> PathBuf {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    file.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

/// A backup holds password hashes and sealed keys: for its owner only.
fn private(file: &Path) -> Outcome {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| Failed(format!("restricting {}: {e}", file.display())))
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
    if let Err(e) = copy_to(config, &temporary).await {
        let _ = std::fs::remove_file(&temporary);
        return Err(Failed(format!("the backup failed: {}", e.0)));
    }
    std::fs::rename(&temporary, file)
        .map_err(|e| Failed(format!("moving the backup to {}: {e}", file.display())))?;
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "Backed up the database to {} ({size} bytes). The key that seals its private keys is not \
         in it: keep {} (or PHAROS_SECRET_KEY) with it.",
        file.display(),
        config.data_dir.join(crate::tls::KEY_FILE).display()
    );
    Ok(())
}

/// Writes the whole database to `to` (which must not exist), consistent while servers write to
/// it, readable by its owner only: what `backup` and the API's download send.
pub async fn copy_to(config: &Config, to: &Path) -> Outcome {
    let written = match existing(config).await? {
        Existing::Sqlite(pool) => {
            let path = to
                .to_str()
                .ok_or_else(|| Failed("the backup's path is not valid UTF-8".into()))?
                .to_owned();
            let copied = sqlx::query("VACUUM INTO $1")
                .bind(path)
                .execute(&pool)
                .await;
            pool.close().await;
            copied.map(|_| ()).map_err(Failed::from)
        }
        Existing::Postgres(pool) => {
            pool.close().await;
            pg_dump(config, to).await
        }
    };
    written.and_then(|()| private(to))
}

/// `backup` with `--url`: the server's copy, downloaded by the superuser's token (the key that
/// seals the private keys stays on the servers, as on the database).
pub async fn download(remote: &super::remote::Remote, file: &Path, force: bool) -> Outcome {
    if file.exists() && !force {
        return Err(Failed(format!(
            "{} exists; use --force to replace it",
            file.display()
        )));
    }
    let temporary = partial(file);
    let _ = std::fs::remove_file(&temporary);
    let size = match remote.download(app::api::BACKUP_URL, &temporary).await {
        Ok(size) => size,
        Err(e) => {
            let _ = std::fs::remove_file(&temporary);
            return Err(e.into());
        }
    };
    std::fs::rename(&temporary, file)
        .map_err(|e| Failed(format!("moving the backup to {}: {e}", file.display())))?;
    eprintln!(
        "Backed up the database of {} to {} ({size} bytes). The key that seals its private keys \
         is not in it: keep the servers' secret.key (or PHAROS_SECRET_KEY) with it.",
        remote.base(),
        file.display()
    );
    Ok(())
}

/// The database URL without its password, and the password (given to the PostgreSQL tools in
/// their environment, not on a command line every local user can read).
fn pg_credentials(config: &Config) -> Result<(String, Option<String>), Failed> {
    let url = config.database_url()?;
    let mut parsed = url::Url::parse(url.expose())
        .map_err(|e| Failed(format!("reading {}: {e}", url.redacted())))?;
    let password = parsed.password().map(|p| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned()
    });
    let _ = parsed.set_password(None);
    Ok((parsed.to_string(), password))
}

async fn pg_dump(config: &Config, to: &Path) -> Outcome {
    pg_tool(
        config,
        "pg_dump",
        &["--format=custom", "--no-owner", "--file"],
        to,
    )
    .await?;
    private(to)
}

/// Runs `tool` (`pg_dump`) with `args`, then `path`, on the configured database.
async fn pg_tool(config: &Config, tool: &str, args: &[&str], path: &Path) -> Outcome {
    let (url, password) = pg_credentials(config)?;
    let mut command = Command::new(tool);
    command.args(args).arg(path).arg("--dbname").arg(url);
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    let out = command.output().await.map_err(|e| {
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
    // the database as it is: a restore is also for one this version cannot use
    let running = running_servers(config).await?;
    if !running.is_empty() {
        return Err(Failed(format!(
            "servers are running on this database ({}): stop them before restoring; nothing \
             changed",
            running.join(", ")
        )));
    }
    let stamp = crate::workers::unix_millis();
    let kept = match kind {
        DatabaseKind::Sqlite => restore_sqlite(config, file, stamp).await?,
        DatabaseKind::Postgres => restore_postgres(config, file, stamp).await?,
    };
    // the backup may be of an older version of Pharos: migrated now, or put back
    let upgraded = match migrated(config).await {
        Ok(db) => {
            let stopped = stop_servers(&db).await;
            db.close().await;
            stopped
        }
        Err(e) => Err(e),
    };
    if let Err(e) = upgraded {
        let back = match kind {
            DatabaseKind::Sqlite => put_back_sqlite(config, &kept),
            DatabaseKind::Postgres => replace_postgres(config, &kept).await,
        };
        return Err(Failed(match back {
            Ok(()) => format!(
                "the restored database cannot be used by this version of Pharos ({}); the \
                 database is as before",
                e.0
            ),
            Err(again) => format!(
                "the restored database cannot be used by this version of Pharos ({}), and \
                 putting back what it held failed ({}): that is kept in {}",
                e.0,
                again.0,
                kept.display()
            ),
        }));
    }
    if kept.exists() {
        eprintln!(
            "Restored {}. What the database held before is kept in {}.",
            file.display(),
            kept.display()
        );
    } else {
        eprintln!(
            "Restored {} (there was no database before).",
            file.display()
        );
    }
    Ok(())
}

/// The servers a restored database names ran when it was copied, and none runs now: they
/// count as stopped (else they would look alive until their heartbeats age).
async fn stop_servers(db: &Db) -> Outcome {
    crate::on_backend!(&db.pool, pool => {
        sqlx::query("UPDATE servers SET stopped_at = last_heartbeat WHERE stopped_at IS NULL")
            .execute(pool)
            .await?;
    });
    Ok(())
}

/// The names of the servers whose heartbeat is fresh.
async fn running_servers(config: &Config) -> Result<Vec<String>, Failed> {
    if config.database_kind()? == DatabaseKind::Sqlite && !sqlite_path(config)?.exists() {
        return Ok(Vec::new());
    }
    let pool: crate::db::Pool = match existing(config).await? {
        Existing::Sqlite(pool) => crate::db::Backend::Sqlite(pool),
        Existing::Postgres(pool) => crate::db::Backend::Postgres(pool),
    };
    let timeout = i64::try_from(config.heartbeat_timeout().as_millis()).unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT name FROM servers WHERE stopped_at IS NULL AND last_heartbeat >= {} - $1 \
         ORDER BY name",
        pool.now_sql()
    );
    let read: Result<Vec<(String,)>, sqlx::Error> = crate::on_backend!(&pool, pool => {
        sqlx::query_as(&sql).bind(timeout).fetch_all(pool).await
    });
    crate::on_backend!(&pool, pool => pool.close().await);
    match read {
        Ok(names) => Ok(names.into_iter().map(|(n,)| n).collect()),
        // no server has ever started on it
        Err(sqlx::Error::Database(e)) if crate::db::missing_table(e.as_ref()) => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// Keeps what the database holds (a dump in the data directory), then loads the archive (all or
/// nothing).
async fn restore_postgres(config: &Config, file: &Path, stamp: i64) -> Result<PathBuf, Failed> {
    let kept = config
        .data_dir
        .join(format!("pharos-before-restore-{stamp}.dump"));
    pg_dump(config, &kept).await.map_err(|e| {
        Failed(format!(
            "keeping the database before the restore failed ({}); nothing changed",
            e.0
        ))
    })?;
    if let Err(e) = replace_postgres(config, file).await {
        // one transaction: rolled back, nothing to put back
        let _ = std::fs::remove_file(&kept);
        return Err(Failed(format!(
            "the restore failed, and the database is as before: {}",
            e.0
        )));
    }
    Ok(kept)
}

/// Empties the database and loads the archive into it, in one transaction: `pg_restore` turns
/// the archive into SQL (a private temporary file, whole before anything runs), and `psql` runs
/// the emptying and that SQL between one BEGIN and COMMIT, stopping at the first error. A
/// failure leaves the database as it was.
async fn replace_postgres(config: &Config, archive: &Path) -> Outcome {
    let (url, password) = pg_credentials(config)?;
    let needed = |tool: &str, e: std::io::Error| {
        Failed(format!(
            "{tool} (PostgreSQL's client tools, of the server's version or newer) is needed: {e}"
        ))
    };
    let failed = |tool: &str, out: &std::process::Output| {
        Failed(format!(
            "{tool}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    };
    // (made readable by its owner only)
    let script = tempfile::NamedTempFile::new()?;
    let written = Command::new("pg_restore")
        .args(["--no-owner", "--exit-on-error", "--file"])
        .arg(script.path())
        .arg(archive)
        .output()
        .await
        .map_err(|e| needed("pg_restore", e))?;
    if !written.status.success() {
        return Err(failed("pg_restore", &written));
    }
    without_newer_settings(script.path())?;
    let mut load = Command::new("psql");
    load.args([
        "--no-psqlrc",
        "--quiet",
        "--single-transaction",
        "--set",
        "ON_ERROR_STOP=1",
        "--command",
        "DROP SCHEMA public CASCADE; CREATE SCHEMA public",
        "--file",
    ])
    .arg(script.path())
    .arg("--dbname")
    .arg(url);
    if let Some(password) = password {
        load.env("PGPASSWORD", password);
    }
    let loaded = load.output().await.map_err(|e| needed("psql", e))?;
    if !loaded.status.success() {
        return Err(failed("psql", &loaded));
    }
    Ok(())
}

/// pg_restore 17 and newer start a script with `SET transaction_timeout = 0;`, which a server
/// before 17 refuses (and the default is no timeout anyway): left out of the script's header,
/// the run of `SET`/`SELECT pg_catalog.set_config`/comment lines before the first statement.
fn without_newer_settings(script: &Path) -> Outcome {
    use std::io::{BufRead, BufReader, BufWriter, Write};
    let dir = script.parent().unwrap_or(Path::new("."));
    let mut out = tempfile::NamedTempFile::new_in(dir)?;
    {
        let mut writer = BufWriter::new(out.as_file_mut());
        let mut header = true;
        for line in BufReader::new(std::fs::File::open(script)?).split(b'\n') {
            let line = line?;
            if header {
                let text = String::from_utf8_lossy(&line);
                let text = text.trim();
                if text.starts_with("SET transaction_timeout") {
                    continue;
                }
                header = text.is_empty()
                    || text.starts_with("--")
                    || text.starts_with("SET ")
                    || text.starts_with("SELECT pg_catalog.set_config");
            }
            writer.write_all(&line)?;
            writer.write_all(b"\n")?;
        }
        writer.flush()?;
    }
    out.persist(script)
        .map_err(|e| Failed(format!("rewriting the restore script: {e}")))?;
    Ok(())
}

fn sqlite_path(config: &Config) -> Result<PathBuf, Failed> {
    let url = config.database_url()?;
    Ok(SqliteConnectOptions::from_str(url.expose())?
        .get_filename()
        .to_owned())
}

/// `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Copies the backup in beside the database and checks it, then swaps the two: the database
/// moves aside (with its write-ahead log folded in), the copy takes its place.
async fn restore_sqlite(config: &Config, file: &Path, stamp: i64) -> Result<PathBuf, Failed> {
    let target = sqlite_path(config)?;
    check_sqlite(file).await?;
    let incoming = partial(&target);
    std::fs::copy(file, &incoming)
        .and_then(|_| std::fs::File::open(&incoming)?.sync_all())
        .map_err(|e| {
            let _ = std::fs::remove_file(&incoming);
            Failed(format!(
                "copying {} beside the database: {e}; nothing changed",
                file.display()
            ))
        })?;
    private(&incoming)?;
    let kept = with_suffix(&target, &format!(".before-restore-{stamp}"));
    if target.exists() {
        if let Err(e) = fold_wal(&target).await {
            let _ = std::fs::remove_file(&incoming);
            return Err(Failed(format!("{}; nothing changed", e.0)));
        }
        std::fs::rename(&target, &kept)?;
        for suffix in ["-wal", "-shm"] {
            let side = with_suffix(&target, suffix);
            if side.exists() {
                let _ = std::fs::rename(&side, with_suffix(&kept, suffix));
            }
        }
    }
    if let Err(e) = std::fs::rename(&incoming, &target) {
        let _ = put_back_sqlite(config, &kept);
        return Err(Failed(format!(
            "putting the backup in place failed ({e}); the database is as before"
        )));
    }
    Ok(kept)
}

/// Moves the kept database back in place.
fn put_back_sqlite(config: &Config, kept: &Path) -> Outcome {
    let target = sqlite_path(config)?;
    for suffix in ["", "-wal", "-shm"] {
        let side = with_suffix(kept, suffix);
        if side.exists() {
            std::fs::rename(&side, with_suffix(&target, suffix))?;
        } else if suffix.is_empty() {
            // there was no database: none again
            std::fs::remove_file(&target)?;
        } else {
            let _ = std::fs::remove_file(with_suffix(&target, suffix));
        }
    }
    Ok(())
}

/// Writes the database's write-ahead log into the database file, completely, so that the file
/// alone holds every commit.
async fn fold_wal(path: &Path) -> Outcome {
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .connect()
        .await?;
    let (busy, log, done): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    if busy != 0 || log != done {
        return Err(Failed(format!(
            "the database at {} is in use (its write-ahead log could not be written back)",
            path.display()
        )));
    }
    Ok(())
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
