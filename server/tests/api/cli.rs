//! The `pharos` command line, run as a process on the configured database beside a running
//! server: help and completions, password resets and unlocks, backup during writes and restore.

use super::{ADMIN_PASSWORD, ANONYMOUS, Db, Env, call, get, post_json as post};
use crate::on_both_databases;
use axum::Router;
use axum::http::{Method, StatusCode};
use serde_json::json;
use std::collections::HashSet;
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;

on_both_databases!(
    settings_commands_follow_the_api_rules,
    admin_commands_reset_and_unlock,
    a_backup_during_writes_restores_whole
);

/// `pharos ARGS` on `env`'s database (configured only through `PHAROS_*`, with the servers'
/// secret key), with `input` on its standard input.
pub async fn pharos(env: &Env, data_dir: &str, args: &[&str], input: Option<&str>) -> Output {
    pharos_with(env, data_dir, args, input, &[]).await
}

/// [`pharos`] with more environment variables (an empty value removes the variable).
pub async fn pharos_with(
    env: &Env,
    data_dir: &str,
    args: &[&str],
    input: Option<&str>,
    vars: &[(&str, &str)],
) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_pharos"));
    command
        .args(args)
        .current_dir(env.dir.path())
        .env_remove("PHAROS_CONFIG")
        .env_remove("PHAROS_TOKEN")
        .env_remove("PHAROS_URL")
        .env("PHAROS_DATA_DIR", env.dir.path().join(data_dir))
        .env("PHAROS_DATABASE_URL", env.database_url())
        .env("PHAROS_SECRET_KEY", crate::TEST_SECRET_KEY)
        .env("USER", "operator")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in vars {
        if value.is_empty() {
            command.env_remove(name);
        } else {
            command.env(name, value);
        }
    }
    let mut child = command.spawn().expect("pharos runs");
    let mut stdin = child.stdin.take().unwrap();
    if let Some(input) = input {
        stdin.write_all(input.as_bytes()).await.unwrap();
    }
    drop(stdin);
    child.wait_with_output().await.unwrap()
}

pub fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Signs in with a password: the status.
pub async fn sign_in(router: &Router, user: &str, password: &str) -> StatusCode {
    call(
        router,
        Method::POST,
        "/api/v1/auth/login",
        &[ANONYMOUS, ("content-type", "application/json")],
        Some(&json!({"username": user, "password": password}).to_string()),
    )
    .await
    .status
}

#[tokio::test]
async fn help_and_completions() {
    let env = Env::new(Db::Sqlite).await;
    let out = pharos(&env, "one", &["--help"], None).await;
    assert!(out.status.success());
    let help = said(&out);
    for command in [
        "serve",
        "settings",
        "cluster-address",
        "distributed",
        "admin",
        "backup",
        "restore",
        "certs",
        "check",
        "completions",
    ] {
        assert!(help.contains(command), "{help}");
    }
    let out = pharos(&env, "one", &["completions", "bash"], None).await;
    assert!(out.status.success(), "{}", said(&out));
    assert!(
        said(&out).contains("_pharos()"),
        "a bash completion function"
    );
    let out = pharos(&env, "one", &["completions", "tcsh"], None).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        said(&out).contains("invalid value 'tcsh'"),
        "{}",
        said(&out)
    );
    let out = pharos(&env, "one", &["admin", "frobnicate"], None).await;
    assert_eq!(out.status.code(), Some(2));
}

async fn admin_commands_reset_and_unlock(db: Db) {
    let env = Env::new(db).await;
    let pharos_server = env.start().await;
    let r = &pharos_server.router;
    let new_password = "a brand new passphrase 2026";

    // bad input: a clear message, exit 1, nothing changed
    let out = pharos(
        &env,
        "cli",
        &["admin", "reset-password", "admin"],
        Some("short\n"),
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(
        said(&out).contains("the password was not changed"),
        "{}",
        said(&out)
    );
    let out = pharos(
        &env,
        "cli",
        &["admin", "reset-password", "nobody"],
        Some(&format!("{new_password}\n")),
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        said(&out).contains("there is no account \"nobody\""),
        "{}",
        said(&out)
    );
    let out = pharos(&env, "cli", &["admin", "reset-password", "admin"], Some("")).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        said(&out).contains("no password on standard input"),
        "{}",
        said(&out)
    );
    assert_eq!(sign_in(r, "admin", ADMIN_PASSWORD).await, StatusCode::OK);

    // a reset, while the server runs
    let out = pharos(
        &env,
        "cli",
        &["admin", "reset-password", "admin"],
        Some(&format!("{new_password}\n")),
    )
    .await;
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(
        sign_in(r, "admin", ADMIN_PASSWORD).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(sign_in(r, "admin", new_password).await, StatusCode::OK);
    // audited as the command line's user
    let audit = admin_router(r, new_password).await;
    let log = get(&audit, "/api/v1/audit?limit=5").await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text);
    assert!(
        log.text.contains("operator (command line)") && log.text.contains("reset password"),
        "{}",
        log.text
    );

    // a generated one, printed
    let out = pharos(
        &env,
        "cli",
        &["admin", "reset-password", "admin", "--generate"],
        None,
    )
    .await;
    assert!(out.status.success(), "{}", said(&out));
    let generated = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(generated.len() >= 16, "{generated}");
    assert_eq!(sign_in(r, "admin", &generated).await, StatusCode::OK);

    // locked out by failed sign-ins, unlocked from the command line
    for _ in 0..6 {
        sign_in(r, "admin", "wrong").await;
    }
    assert_eq!(
        sign_in(r, "admin", &generated).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    let out = pharos(&env, "cli", &["admin", "unlock", "admin"], None).await;
    assert!(out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("may sign in again"), "{}", said(&out));
    assert_eq!(sign_in(r, "admin", &generated).await, StatusCode::OK);
    let out = pharos(&env, "cli", &["admin", "unlock", "admin"], None).await;
    assert!(out.status.success());
    assert!(said(&out).contains("was not locked out"), "{}", said(&out));
    pharos_server.stop().await;
}

/// The server's router signed in with a fresh token of `admin` (the test's own was revoked with
/// the old password).
async fn admin_router(router: &Router, password: &str) -> Router {
    let token = super::token_for(router, "admin", password).await;
    super::signed_in(router.clone(), token)
}

async fn a_backup_during_writes_restores_whole(db: Db) {
    let env = Env::new(db).await;
    let server = env.start().await;
    let r = server.router.clone();

    // devices registered one after another until told to stop; each acknowledged one noted
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = tokio_util::sync::CancellationToken::new();
    let writer = tokio::spawn({
        let (r, acknowledged, stop) = (r.clone(), acknowledged.clone(), stop.clone());
        async move {
            let mut i = 0u32;
            while !stop.is_cancelled() {
                let ip = format!("127.70.{}.{}", i / 250, i % 250 + 1);
                let reply = post(&r, "/api/v1/devices", json!({ "ip": ip })).await;
                assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
                acknowledged.lock().unwrap().push(ip);
                i += 1;
            }
        }
    });
    while acknowledged.lock().unwrap().len() < 30 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let before: HashSet<String> = acknowledged.lock().unwrap().iter().cloned().collect();
    let file = env.dir.path().join("pharos.backup");
    let out = pharos(&env, "cli", &["backup", file.to_str().unwrap()], None).await;
    let during = acknowledged.lock().unwrap().len();
    stop.cancel();
    writer.await.unwrap();
    assert!(out.status.success(), "{}", said(&out));
    assert!(
        during > before.len(),
        "writes went on during the backup ({} before, {during} after)",
        before.len()
    );
    // not over an existing file, unless asked
    let out = pharos(&env, "cli", &["backup", file.to_str().unwrap()], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(said(&out).contains("use --force"), "{}", said(&out));

    // a restore is refused while a server runs on the database
    let out = pharos(&env, "one", &["restore", file.to_str().unwrap()], None).await;
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(said(&out).contains("nothing changed"), "{}", said(&out));
    server.stop().await;

    // into a fresh database
    let fresh = Env::new(env.db).await;
    let garbage = fresh.dir.path().join("garbage");
    std::fs::write(&garbage, "not a backup at all").unwrap();
    let out = pharos(&fresh, "one", &["restore", garbage.to_str().unwrap()], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(said(&out).contains("is no backup"), "{}", said(&out));
    let out = pharos(&fresh, "one", &["restore", file.to_str().unwrap()], None).await;
    assert!(out.status.success(), "{}", said(&out));
    assert!(
        said(&out).contains(match env.db {
            // a fresh SQLite database is a file not there yet; PostgreSQL's is an empty one
            Db::Sqlite => "there was no database before",
            Db::Postgres => "is kept in",
        }),
        "{}",
        said(&out)
    );

    let restored = fresh.start().await;
    let listed = get(&restored.router, "/api/v1/devices?limit=100000").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let devices: HashSet<String> = listed.body["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["ip"].as_str().unwrap().to_owned())
        .collect();
    let lost: Vec<_> = before.difference(&devices).collect();
    assert!(
        lost.is_empty(),
        "acknowledged before the backup, lost: {lost:?}"
    );
    // one snapshot: every device has the audit record of its registration, written in the same
    // transaction, and no record lacks its device
    let mut registered = HashSet::new();
    let mut uri = "/api/v1/audit?area=devices&limit=500".to_owned();
    loop {
        let page = get(&restored.router, &uri).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        for entry in page.body["entries"].as_array().unwrap() {
            if entry["action"] == "register" {
                registered.insert(entry["new_value"]["ip"].as_str().unwrap().to_owned());
            }
        }
        match page.body["next_before"].as_i64() {
            Some(before) => uri = format!("/api/v1/audit?area=devices&limit=500&before={before}"),
            None => break,
        }
    }
    assert_eq!(registered, devices);
    // a restore over data keeps it, and that can be restored in turn
    let reply = post(
        &restored.router,
        "/api/v1/devices",
        json!({ "ip": "127.99.0.1" }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    restored.stop().await;
    let out = pharos(&fresh, "one", &["restore", file.to_str().unwrap()], None).await;
    assert!(out.status.success(), "{}", said(&out));
    let kept = said(&out)
        .split("is kept in ")
        .nth(1)
        .and_then(|rest| rest.trim().strip_suffix('.'))
        .expect("the kept copy named")
        .to_owned();
    assert!(Path::new(&kept).exists(), "{kept}");
    let again = fresh.start().await;
    let one = get(&again.router, "/api/v1/devices?limit=100000").await;
    assert!(!one.text.contains("127.99.0.1"), "the backup's state");
    again.stop().await;
    let out = pharos(&fresh, "one", &["restore", &kept], None).await;
    assert!(out.status.success(), "{}", said(&out));
    let again = fresh.start().await;
    let one = get(&again.router, "/api/v1/devices?limit=100000").await;
    assert!(one.text.contains("127.99.0.1"), "the kept state is back");
    again.stop().await;
    // a backup is for its owner's eyes only
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "{mode:o}");
}

async fn settings_commands_follow_the_api_rules(db: Db) {
    let env = Env::new(db).await;
    let mut config = env.config("one", "standalone");
    // (on SQLite a running server looks for settings changed beside it at this interval)
    config.settings_poll_millis = 200;
    let server = crate::launch(config, tokio_util::sync::CancellationToken::new()).await;
    let r = &server.router;
    let served = || async { get(r, "/api/v1/settings/network").await.body };

    // show: the document the API serves
    let out = pharos(&env, "cli", &["settings", "show"], None).await;
    assert!(out.status.success(), "{}", said(&out));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown, served().await);

    // set: fields by path, the running server follows, audited as the command line
    let out = pharos(
        &env,
        "cli",
        &[
            "settings",
            "set",
            "online_check.response_timeout_ms=2500",
            "scan.reply_port=40001",
        ],
        None,
    )
    .await;
    assert!(out.status.success(), "{}", said(&out));
    assert!(
        said(&out).contains("online_check.response_timeout_ms: 1000 -> 2500"),
        "{}",
        said(&out)
    );
    super::eventually(
        std::time::Duration::from_secs(5),
        "the server serves the new settings",
        || async {
            let doc = served().await;
            doc["online_check"]["response_timeout_ms"] == 2500 && doc["scan"]["reply_port"] == 40001
        },
    )
    .await;
    let log = get(r, "/api/v1/audit?area=network_settings&limit=5").await;
    assert!(log.text.contains("operator (command line)"), "{}", log.text);

    // refused: the API's message for the field, and nothing changed
    let before = served().await;
    let mut bad = before.clone();
    bad["online_check"]["response_timeout_ms"] = json!(-5);
    let etag = get(r, "/api/v1/settings/network").await.etag();
    let api = super::put(r, &etag, &bad).await;
    assert_eq!(api.status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = api.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = pharos(
        &env,
        "cli",
        &[
            "settings",
            "set",
            "scan.reply_port=40002",
            "online_check.response_timeout_ms=-5",
        ],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(
        said(&out).contains(&format!("online_check.response_timeout_ms: {message}")),
        "{} / {message}",
        said(&out)
    );
    for (args, expected) in [
        (
            &["settings", "set", "online_check.no_such=1"][..],
            "there is no setting \"online_check.no_such\"",
        ),
        (&["settings", "set", "online_check"][..], "is no assignment"),
        (&["settings", "set", "online_check=1"][..], "is a section"),
        (
            &["cluster-address", "set", "not a host!"][..],
            "cluster_address.host",
        ),
    ] {
        let out = pharos(&env, "cli", args, None).await;
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", said(&out));
        assert!(said(&out).contains(expected), "{args:?}: {}", said(&out));
    }
    assert_eq!(served().await, before, "nothing changed");

    // export, change, import back
    let file = env.dir.path().join("settings.json");
    let out = pharos(
        &env,
        "cli",
        &["settings", "export", file.to_str().unwrap()],
        None,
    )
    .await;
    assert!(out.status.success(), "{}", said(&out));
    let out = pharos(
        &env,
        "cli",
        &[
            "cluster-address",
            "set",
            "pharos.example.net",
            "--port",
            "8443",
        ],
        None,
    )
    .await;
    assert!(out.status.success(), "{}", said(&out));
    let stored = pharos(&env, "cli", &["settings", "show"], None).await;
    let stored: serde_json::Value = serde_json::from_slice(&stored.stdout).unwrap();
    assert_eq!(
        stored["cluster_address"],
        json!({"enabled": true, "host": "pharos.example.net", "port": 8443})
    );
    let out = pharos(&env, "cli", &["cluster-address", "clear"], None).await;
    assert!(out.status.success(), "{}", said(&out));
    let garbage = env.dir.path().join("garbage.json");
    std::fs::write(
        &garbage,
        r#"{"format_version": 1, "settings": {"scan": 5}}"#,
    )
    .unwrap();
    let out = pharos(
        &env,
        "cli",
        &["settings", "import", garbage.to_str().unwrap()],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(said(&out).contains("nothing changed"), "{}", said(&out));
    let out = pharos(
        &env,
        "cli",
        &["settings", "import", file.to_str().unwrap()],
        None,
    )
    .await;
    assert!(out.status.success(), "{}", said(&out));
    let stored = pharos(&env, "cli", &["settings", "show"], None).await;
    let stored: serde_json::Value = serde_json::from_slice(&stored.stdout).unwrap();
    assert_eq!(stored, before);

    // distributed mode needs PostgreSQL: the rule's message on SQLite
    let out = pharos(&env, "cli", &["distributed", "enable"], None).await;
    match env.db {
        Db::Sqlite => {
            assert_eq!(out.status.code(), Some(1), "{}", said(&out));
            assert!(said(&out).contains("distributed.enabled"), "{}", said(&out));
        }
        Db::Postgres => {
            assert!(out.status.success(), "{}", said(&out));
            assert!(
                said(&out).contains("when they start next"),
                "{}",
                said(&out)
            );
            let out = pharos(&env, "cli", &["distributed", "disable"], None).await;
            assert!(out.status.success(), "{}", said(&out));
        }
    }
    server.stop().await;
}
