//! The command line with `--url`: the same commands through a running server's HTTPS API,
//! signed in with an API token, never touching the database itself.

use super::cli::{pharos, pharos_with, said};
use super::{ADMIN_PASSWORD, Db, Env, get, token_for};
use serde_json::Value;
use std::process::Output;
use tokio_util::sync::CancellationToken;

/// A database URL nothing answers at: the commands with `--url` must not need one.
const NO_DATABASE: &str = "postgres://nobody@127.0.0.1:1/none";

#[tokio::test]
async fn commands_through_the_api() {
    let env = Env::new(Db::Sqlite).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = env.config("one", "standalone");
    config.tls = true;
    config.listen = addr;
    config.public_address = Some("127.0.0.1".into());
    let shutdown = CancellationToken::new();
    let server = crate::launch(config, shutdown.clone()).await;
    let r = server.router.clone();
    let tls = server.tls.clone();
    let token = token_for(&r, "admin", ADMIN_PASSWORD).await;
    let ca = env.dir.path().join("ca.pem");
    std::fs::write(&ca, tls.ca_pem()).unwrap();
    let serving = tokio::spawn(server::serve(server, listener));
    let url = format!("https://{addr}");
    let ca = ca.to_str().unwrap().to_owned();
    let client = Client {
        url: url.clone(),
        ca: ca.clone(),
    };
    let remote = |args: &[&str], token: &str| {
        let all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let token = token.to_owned();
        let (client, env) = (&client, &env);
        async move { client.run(env, &all, &token).await }
    };
    let ok = |out: &Output| assert!(out.status.success(), "{}", said(out));

    // settings: the served document; a change applied and audited as the token's account
    let out = remote(&["settings", "show"], &token).await;
    ok(&out);
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown, get(&r, "/api/v1/settings/network").await.body);
    let out = remote(
        &["settings", "set", "online_check.response_timeout_ms=2500"],
        &token,
    )
    .await;
    ok(&out);
    assert!(
        said(&out).contains("online_check.response_timeout_ms: 1000 -> 2500"),
        "{}",
        said(&out)
    );
    let served = get(&r, "/api/v1/settings/network").await.body;
    assert_eq!(served["online_check"]["response_timeout_ms"], 2500);
    let log = get(&r, "/api/v1/audit?limit=3").await;
    assert!(log.text.contains("admin (command line)"), "{}", log.text);
    // a refusal says what the same command says on the database, and changes nothing
    let through_api = remote(
        &["settings", "set", "online_check.response_timeout_ms=-5"],
        &token,
    )
    .await;
    assert_eq!(through_api.status.code(), Some(1), "{}", said(&through_api));
    let on_database = pharos(
        &env,
        "cli",
        &["settings", "set", "online_check.response_timeout_ms=-5"],
        None,
    )
    .await;
    assert_eq!(on_database.status.code(), Some(1));
    assert_eq!(said(&through_api), said(&on_database));
    assert_eq!(get(&r, "/api/v1/settings/network").await.body, served);
    let out = remote(
        &["cluster-address", "set", "pharos.test", "--port", "8443"],
        &token,
    )
    .await;
    ok(&out);
    assert_eq!(
        get(&r, "/api/v1/settings/network").await.body["cluster_address"]["host"],
        "pharos.test"
    );
    ok(&remote(&["cluster-address", "clear"], &token).await);
    let export = env.dir.path().join("export.json");
    let export_arg = export.to_str().unwrap();
    ok(&remote(&["settings", "export", export_arg], &token).await);
    let exported: Value = serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    assert_eq!(
        exported["settings"],
        get(&r, "/api/v1/settings/network").await.body
    );
    ok(&remote(&["settings", "import", export_arg], &token).await);

    // certificates: the list, the device CA's chain, a certificate made and presented at once
    let out = remote(&["certs", "list", "--json"], &token).await;
    ok(&out);
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        listed["certificates"],
        get(&r, "/api/v1/certificates/web").await.body["certificates"]
    );
    let out = remote(&["certs", "export-client-chain"], &token).await;
    ok(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        get(&r, "/api/v1/certificates/client-chain").await.text
    );
    let root = tls.root_fingerprint();
    let root = root.as_str();
    let out = remote(
        &[
            "certs",
            "create-signed",
            "--issuer",
            root,
            "--hostname",
            "127.0.0.1",
            "--assign",
        ],
        &token,
    )
    .await;
    ok(&out);
    let made = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(tls.presented_fingerprint(), made);
    let out = remote(&["certs", "assign", root, "--all"], &token).await;
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(said(&out).contains("is a CA certificate"), "{}", said(&out));
    // an unknown fingerprint reads as on the database, and goes to no other route
    let through_api = remote(&["certs", "assign", "00ff", "--all"], &token).await;
    let on_database = pharos(&env, "cli", &["certs", "assign", "00ff", "--all"], None).await;
    assert_eq!(through_api.status.code(), Some(1));
    assert_eq!(said(&through_api), said(&on_database));
    let out = remote(&["certs", "assign", "../../auth/tokens", "--all"], &token).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        said(&out).contains("no web certificate has"),
        "{}",
        said(&out)
    );

    // distributed mode: the server's rule refuses it on SQLite, in the words used on the database
    let through_api = remote(&["distributed", "enable"], &token).await;
    let on_database = pharos(&env, "cli", &["distributed", "enable"], None).await;
    assert_eq!(through_api.status.code(), Some(1), "{}", said(&through_api));
    assert_eq!(said(&through_api), said(&on_database));

    // accounts: a reset by the superuser's token; the lock-out of nobody is nothing to lift
    crate::accounts::create_user(&r, "operator2", &[]).await;
    let out = remote(
        &["admin", "reset-password", "Operator2", "--generate"],
        &token,
    )
    .await;
    ok(&out);
    let password = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(
        super::cli::sign_in(&r, "operator2", &password).await,
        axum::http::StatusCode::OK
    );
    let log = get(&r, "/api/v1/audit?user=admin&limit=20").await;
    assert!(
        log.text.contains("admin (command line)") && log.text.contains("reset password"),
        "the account's filter finds its command-line changes: {}",
        log.text
    );
    let out = remote(&["admin", "unlock", "admin"], &token).await;
    ok(&out);
    assert!(said(&out).contains("was not locked out"), "{}", said(&out));

    // backup: the superuser's token downloads the whole database, for its owner's eyes only
    let backup = env.dir.path().join("remote-backup.db");
    let backup_arg = backup.to_str().unwrap();
    let out = remote(&["backup", backup_arg], &token).await;
    ok(&out);
    assert!(
        std::fs::read(&backup)
            .unwrap()
            .starts_with(b"SQLite format 3\0")
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&backup).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "{mode:o}");
    let out = remote(&["backup", backup_arg], &token).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(said(&out).contains("exists; use --force"), "{}", said(&out));
    // another account may not have it, even one that reads the accounts: refused, nothing written
    crate::accounts::create_user(&r, "auditor", &[("accounts", "read", "allow")]).await;
    let denied = env.dir.path().join("denied.db");
    for (account, password, message) in [
        ("operator2", password.as_str(), "you may not read Accounts"),
        (
            "auditor",
            crate::accounts::PASSWORD,
            "only the superuser downloads backups",
        ),
    ] {
        let other = token_for(&r, account, password).await;
        let out = remote(&["backup", denied.to_str().unwrap()], &other).await;
        assert_eq!(out.status.code(), Some(1), "{}", said(&out));
        assert!(said(&out).contains(message), "{account}: {}", said(&out));
    }
    assert!(!denied.exists());
    // restored into a fresh database, the download is the server's state
    let fresh = Env::new(Db::Sqlite).await;
    let out = pharos(&fresh, "one", &["restore", backup_arg], None).await;
    ok(&out);
    let restored = fresh.start().await;
    assert_eq!(
        get(&restored.router, "/api/v1/settings/network").await.body,
        get(&r, "/api/v1/settings/network").await.body
    );
    restored.stop().await;
    let out = remote(&["admin", "unlock", "nobody"], &token).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        said(&out).contains("there is no account \"nobody\""),
        "{}",
        said(&out)
    );

    // check: the server reached with its certificate verified, its device address answering
    let out = remote(&["check"], &token).await;
    ok(&out);
    let text = said(&out);
    assert!(text.contains("reached the server \"one\""), "{text}");
    assert!(
        text.contains(&format!(
            "this server's own address for devices (127.0.0.1:{}) accepts connections",
            addr.port()
        )),
        "{text}"
    );

    // what goes wrong is said, with exit 1
    let out = remote(&["settings", "show"], "not-a-token").await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        said(&out).contains("401") && said(&out).contains("token"),
        "{}",
        said(&out)
    );
    let out = pharos_with(
        &env,
        "nowhere",
        &["--url", &url, "settings", "show"],
        None,
        &[("PHAROS_TOKEN", &token)],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "an unknown CA: {}", said(&out));
    assert!(
        said(&out).contains("UnknownIssuer") && said(&out).contains("--ca-file"),
        "{}",
        said(&out)
    );
    let out = pharos_with(
        &env,
        "nowhere",
        &["--url", &url, "settings", "show"],
        None,
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(said(&out).contains("needs an API token"), "{}", said(&out));
    for (bad, message) in [
        (
            "http://example.invalid:8443",
            "would cross the network unencrypted",
        ),
        ("https://admin:secret@127.0.0.1:1", "carries no credentials"),
        ("https://127.0.0.1:1/?x=1", "without ?… or #…"),
        ("ftp://127.0.0.1", "must be an https:// URL"),
    ] {
        let out = pharos_with(
            &env,
            "nowhere",
            &["--url", bad, "settings", "show"],
            None,
            &[("PHAROS_TOKEN", &token)],
        )
        .await;
        assert_eq!(out.status.code(), Some(1), "{bad}");
        assert!(said(&out).contains(message), "{bad}: {}", said(&out));
        assert!(!said(&out).contains(&token), "the token is never shown");
    }
    let out = remote(&["restore", backup_arg], &token).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        said(&out).contains("works on the database"),
        "{}",
        said(&out)
    );
    let out = pharos(&env, "cli", &["--ca-file", &ca, "settings", "show"], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(said(&out).contains("go with --url"), "{}", said(&out));
    let out = pharos(&env, "cli", &["--url", &url], None).await;
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));

    shutdown.cancel();
    serving.await.unwrap().unwrap();
}

/// The command line pointed at a server.
struct Client {
    url: String,
    ca: String,
}

impl Client {
    async fn run(&self, env: &Env, args: &[String], token: &str) -> Output {
        let mut all = vec!["--url", self.url.as_str(), "--ca-file", self.ca.as_str()];
        all.extend(args.iter().map(String::as_str));
        pharos_with(
            env,
            "nowhere",
            &all,
            None,
            &[
                ("PHAROS_TOKEN", token),
                ("PHAROS_DATABASE_URL", NO_DATABASE),
            ],
        )
        .await
    }
}
