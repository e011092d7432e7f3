//! `pharos certs` and `pharos check`, run as processes on the database of a running server.

use super::cli::{pharos, pharos_with, said};
use super::{Db, Env, eventually, get};
use crate::on_both_databases;
use serde_json::Value;
use std::time::Duration;

on_both_databases!(
    certs_commands_follow_the_api_rules,
    check_says_what_stops_devices
);

async fn certs_commands_follow_the_api_rules(db: Db) {
    let env = Env::new(db).await;
    let mut config = env.config("one", "standalone");
    // (on SQLite a running server looks for certificates assigned beside it at this interval)
    config.settings_poll_millis = 200;
    let server = crate::launch(config, tokio_util::sync::CancellationToken::new()).await;
    let r = &server.router;
    let served = || async { get(r, "/api/v1/certificates/web").await.body };

    // list: what the API serves, as JSON and for reading
    let out = pharos(&env, "cli", &["certs", "list", "--json"], None).await;
    assert!(out.status.success(), "{}", said(&out));
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let before = served().await;
    assert_eq!(listed["certificates"], before["certificates"]);
    assert_eq!(listed["servers"], before["servers"]);
    let presented = server.tls.presented_fingerprint();
    let root = server.tls.root_fingerprint();
    let out = pharos(&env, "cli", &["certs", "list"], None).await;
    assert!(out.status.success(), "{}", said(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains(&presented) && text.contains(&root), "{text}");
    assert!(
        text.contains("root CA") && text.contains("server certificate"),
        "{text}"
    );
    assert!(text.contains("presented by: one"), "{text}");

    // export-client-chain: the device CA's chain the API serves
    let file = env.dir.path().join("client-chain.pem");
    let out = pharos(
        &env,
        "cli",
        &["certs", "export-client-chain", file.to_str().unwrap()],
        None,
    )
    .await;
    assert!(out.status.success(), "{}", said(&out));
    let served_chain = get(r, "/api/v1/certificates/client-chain").await.text;
    assert!(served_chain.contains("BEGIN CERTIFICATE"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), served_chain);

    let out = pharos(
        &env,
        "cli",
        &["certs", "export-client-chain", "/nonexistent/dir/chain.pem"],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(
        said(&out).contains("writing /nonexistent/dir/chain.pem"),
        "{}",
        said(&out)
    );

    // bad input: the API's message, exit 1, nothing made
    let count = |v: &Value| v["certificates"].as_array().unwrap().len();
    for (args, message) in [
        (
            vec!["--issuer", "00ff"],
            "issuer: no certificate of the list has the fingerprint 00ff",
        ),
        (vec!["--issuer", &root, "--days", "0"], "validity_days"),
        (
            vec!["--issuer", &root, "--hostname", "bad name!"],
            "hostnames",
        ),
        (vec!["--issuer", &presented], "issuer"),
        (
            vec!["--issuer", &root, "--server", "no-such-server"],
            "no running server has the id no-such-server",
        ),
    ] {
        let mut all = vec!["certs", "create-signed"];
        all.extend(args.iter().map(|a| &**a));
        let out = pharos(&env, "cli", &all, None).await;
        assert_eq!(out.status.code(), Some(1), "{all:?}: {}", said(&out));
        assert!(said(&out).contains(message), "{all:?}: {}", said(&out));
        assert!(said(&out).contains("nothing changed"), "{}", said(&out));
    }
    let out = pharos(
        &env,
        "cli",
        &[
            "certs",
            "create-signed",
            "--issuer",
            &root,
            "--algorithm",
            "dsa",
        ],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    assert_eq!(count(&served().await), count(&before));

    // create-signed: made under the rules, its fingerprint printed
    let out = pharos(
        &env,
        "cli",
        &[
            "certs",
            "create-signed",
            "--issuer",
            &root,
            "--hostname",
            "pharos.test",
            "--hostname",
            "127.0.0.1",
            "--days",
            "30",
        ],
        None,
    )
    .await;
    assert!(out.status.success(), "{}", said(&out));
    let made = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let after = served().await;
    assert_eq!(count(&after), count(&before) + 1);
    let new = after["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["fingerprint_sha256"] == made.as_str())
        .unwrap_or_else(|| panic!("{made} is listed"));
    assert_eq!(new["sans"], serde_json::json!(["pharos.test", "127.0.0.1"]));
    assert_eq!(new["issuer_fingerprint"], root.as_str());
    assert!(matches!(new["days_left"].as_i64(), Some(29 | 30)), "{new}");
    assert_eq!(
        server.tls.presented_fingerprint(),
        presented,
        "not assigned yet"
    );

    // assign: refused for a CA (nothing changes), then the running server presents it
    let out = pharos(&env, "cli", &["certs", "assign", &root, "--all"], None).await;
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(said(&out).contains("is a CA certificate"), "{}", said(&out));
    let out = pharos(&env, "cli", &["certs", "assign", &made], None).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "--server or --all: {}",
        said(&out)
    );
    for (args, message) in [
        (
            vec!["00ff", "--all"],
            "no web certificate has the SHA-256 fingerprint 00ff; nothing changed",
        ),
        (
            vec!["../../auth/tokens", "--all"],
            "no web certificate has the SHA-256 fingerprint ../../auth/tokens; nothing changed",
        ),
        (
            vec![made.as_str(), "--server", "no-such-server"],
            "servers: no running server has the id no-such-server",
        ),
    ] {
        let mut all = vec!["certs", "assign"];
        all.extend(args.iter().copied());
        let out = pharos(&env, "cli", &all, None).await;
        assert_eq!(out.status.code(), Some(1), "{all:?}: {}", said(&out));
        assert!(said(&out).contains(message), "{all:?}: {}", said(&out));
    }
    assert_eq!(served().await["certificates"], after["certificates"]);
    let out = pharos(&env, "cli", &["certs", "assign", &made, "--all"], None).await;
    assert!(out.status.success(), "{}", said(&out));
    eventually(
        Duration::from_secs(10),
        "the server presents it",
        || async { server.tls.presented_fingerprint() == made },
    )
    .await;
    let log = get(r, "/api/v1/audit?area=certificates&limit=5").await;
    assert!(
        log.text.contains("operator (command line)") && log.text.contains("assign"),
        "{}",
        log.text
    );

    // no secret key at all: said before anything is read
    let out = pharos_with(
        &env,
        "elsewhere",
        &["certs", "list"],
        None,
        &[("PHAROS_SECRET_KEY", "")],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(
        said(&out).contains("PHAROS_SECRET_KEY is not set and")
            && said(&out).contains("secret.key does not exist"),
        "{}",
        said(&out)
    );
    // another key: what only reads works, what signs says why it cannot; nothing changes
    let out = pharos_with(
        &env,
        "elsewhere",
        &["certs", "list"],
        None,
        &[(
            "PHAROS_SECRET_KEY",
            "b3RoZXItc2VjcmV0LWtleS1vZi0zMi1ieXRlcy0hISE=",
        )],
    )
    .await;
    assert!(out.status.success(), "{}", said(&out));
    let out = pharos_with(
        &env,
        "elsewhere",
        &["certs", "create-signed", "--issuer", &root],
        None,
        &[(
            "PHAROS_SECRET_KEY",
            "b3RoZXItc2VjcmV0LWtleS1vZi0zMi1ieXRlcy0hISE=",
        )],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(said(&out).contains("cannot be decrypted"), "{}", said(&out));
    assert_eq!(count(&served().await), count(&after));
    server.stop().await;
}

async fn check_says_what_stops_devices(db: Db) {
    let env = Env::new(db).await;
    let server = env.start().await;

    // a running server with valid certificates: nothing stops devices
    let out = pharos(&env, "one", &["check"], None).await;
    let text = said(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 server running: one"), "{text}");
    assert!(
        text.contains("the certificate the server \"one\" presents"),
        "{text}"
    );
    assert!(text.contains("the device CA is valid"), "{text}");
    assert!(!text.contains("PROBLEM"), "{text}");

    // a cluster address nothing answers at: a problem, exit 1
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port().to_string();
    drop(closed);
    let out = pharos(
        &env,
        "one",
        &["cluster-address", "set", "127.0.0.1", "--port", &port],
        None,
    )
    .await;
    assert!(out.status.success(), "{}", said(&out));
    let out = pharos(&env, "one", &["check"], None).await;
    let text = said(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "PROBLEM the cluster address 127.0.0.1:{port} accepts no connection"
        )),
        "{text}"
    );
    assert!(text.contains("loopback"), "{text}");
    // one that answers: no problem
    let open = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = open.local_addr().unwrap().port().to_string();
    let out = pharos(
        &env,
        "one",
        &["cluster-address", "set", "127.0.0.1", "--port", &port],
        None,
    )
    .await;
    assert!(out.status.success(), "{}", said(&out));
    let out = pharos(&env, "one", &["check"], None).await;
    assert!(out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("accepts connections"), "{}", said(&out));
    let out = pharos(
        &env,
        "one",
        &["cluster-address", "set", "no-such-host.invalid"],
        None,
    )
    .await;
    assert!(out.status.success(), "{}", said(&out));
    let out = pharos(&env, "one", &["check"], None).await;
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(said(&out).contains("does not resolve"), "{}", said(&out));
    let out = pharos(&env, "one", &["cluster-address", "clear"], None).await;
    assert!(out.status.success(), "{}", said(&out));

    // another secret key: the certificates cannot be used
    let out = pharos_with(
        &env,
        "one",
        &["check"],
        None,
        &[(
            "PHAROS_SECRET_KEY",
            "b3RoZXItc2VjcmV0LWtleS1vZi0zMi1ieXRlcy0hISE=",
        )],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(
        said(&out).contains("PROBLEM the certificates cannot be used"),
        "{}",
        said(&out)
    );

    // no server running: nobody answers devices
    server.stop().await;
    let out = pharos(&env, "one", &["check"], None).await;
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(
        said(&out).contains("PROBLEM no server is running"),
        "{}",
        said(&out)
    );

    // a configuration naming no database that exists (SQLite) or cannot be read
    let out = pharos_with(
        &env,
        "one",
        &["check"],
        None,
        &[("PHAROS_LISTEN", "not an address")],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(
        said(&out).contains("PROBLEM the configuration cannot be read"),
        "{}",
        said(&out)
    );
    let out = pharos_with(
        &env,
        "one",
        &["check"],
        None,
        &[("PHAROS_DATABASE_URL", "mysql://nobody@127.0.0.1/pharos")],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(
        said(&out).contains("PROBLEM the database is not configured right"),
        "{}",
        said(&out)
    );
    if db == Db::Postgres {
        // a database no server started on: said, and left as empty as it was
        let empty = super::PgDatabase::create("empty").await;
        let out = pharos_with(
            &env,
            "one",
            &["check"],
            None,
            &[("PHAROS_DATABASE_URL", &empty.url)],
        )
        .await;
        assert_eq!(out.status.code(), Some(1), "{}", said(&out));
        assert!(
            said(&out).contains("has no Pharos tables"),
            "{}",
            said(&out)
        );
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&empty.url)
            .await
            .unwrap();
        let tables: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(tables, 0, "check creates nothing");
    }
    if db == Db::Sqlite {
        let missing = format!("sqlite://{}/none.db", env.dir.path().display());
        let out = pharos_with(
            &env,
            "one",
            &["check"],
            None,
            &[("PHAROS_DATABASE_URL", &missing)],
        )
        .await;
        assert_eq!(out.status.code(), Some(1), "{}", said(&out));
        assert!(said(&out).contains("does not exist"), "{}", said(&out));
        assert!(
            !env.dir.path().join("none.db").exists(),
            "check creates nothing"
        );
    }
}
