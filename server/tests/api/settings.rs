//! The settings area: read, replace, preconditions, audit, backups, installation kinds.

use super::*;

crate::on_both_databases!(
    large_changes_are_audited_whole,
    defaults_and_health,
    put_replaces_and_audits,
    invalid_documents_change_nothing,
    preconditions,
    concurrent_writers_one_wins,
    export_and_import,
    settings_survive_a_restart,
    distributed_mode_rules,
    ha_installation_has_no_distributed_section,
    page_is_rendered_with_current_values,
    audit_pages,
    a_new_database_never_repeats_an_etag,
    backups_cross_installation_kinds,
    ha_writes_keep_the_stored_distributed_section,
    oversized_bodies_are_refused,
);

async fn defaults_and_health(db: Db) {
    let env = Env::new(db).await;
    let app = env.start().await;
    let health = get(&app.router, "/healthz").await;
    assert_eq!(health.status, StatusCode::OK);
    let reply = get(&app.router, "/api/v1/settings/network").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, defaults());
    let etag = reply.etag();
    let not_modified = call(
        &app.router,
        Method::GET,
        "/api/v1/settings/network",
        &[("if-none-match", &etag)],
        None,
    )
    .await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    // a proxy that compresses weakens the tag; If-None-Match compares weakly (RFC 9110)
    let weakened = call(
        &app.router,
        Method::GET,
        "/api/v1/settings/network",
        &[("if-none-match", &format!("W/{etag}"))],
        None,
    )
    .await;
    assert_eq!(weakened.status, StatusCode::NOT_MODIFIED);
    let server = get(&app.router, "/api/v1/server").await;
    assert_eq!(server.status, StatusCode::OK);
    assert_eq!(server.body["installation"], "standalone");
    assert_eq!(
        server.body["database"],
        if db == Db::Sqlite {
            "sqlite"
        } else {
            "postgres"
        }
    );
    assert_eq!(server.body["server"]["name"], "one");
    assert_eq!(server.body["servers"].as_array().unwrap().len(), 1);
    assert_eq!(server.body["servers"][0]["alive"], true);
    assert_eq!(
        server.body["distributed"],
        json!({"configured": false, "running": false, "restart_required": false})
    );
    app.stop().await;
}

async fn put_replaces_and_audits(db: Db) {
    let env = Env::new(db).await;
    let app = env.start().await;
    let etag = get(&app.router, "/api/v1/settings/network").await.etag();
    let mut doc = defaults();
    doc["online_check"]["response_timeout_ms"] = json!(2500);
    doc["cluster_address"] = json!({"enabled": true, "host": "lb.example.com", "port": 443});
    let reply = put(&app.router, &etag, &doc).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body, doc);
    assert_ne!(reply.etag(), etag);
    let again = get(&app.router, "/api/v1/settings/network").await;
    assert_eq!(again.body, doc);
    assert_eq!(again.etag(), reply.etag());

    let audit = get(&app.router, "/api/v1/audit").await;
    let entries = audit.body["entries"].as_array().unwrap();
    let mut got: Vec<(String, Value, Value)> = entries
        .iter()
        .map(|e| {
            assert_eq!(e["actor"], "admin");
            assert_eq!(e["action"], "update");
            assert!(e["at"].as_str().unwrap().contains('T'));
            (
                e["field"].as_str().unwrap().to_owned(),
                e["old_value"].clone(),
                e["new_value"].clone(),
            )
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        vec![
            (
                "settings.network.cluster_address.enabled".into(),
                json!(false),
                json!(true)
            ),
            (
                "settings.network.cluster_address.host".into(),
                json!(""),
                json!("lb.example.com")
            ),
            (
                "settings.network.cluster_address.port".into(),
                json!(8443),
                json!(443)
            ),
            (
                "settings.network.online_check.response_timeout_ms".into(),
                json!(1000),
                json!(2500)
            ),
        ]
    );

    // the same document again is no change: same ETag, no audit rows
    let same = put(&app.router, &reply.etag(), &doc).await;
    assert_eq!(same.status, StatusCode::OK);
    assert_eq!(same.etag(), reply.etag());
    let audit = get(&app.router, "/api/v1/audit").await;
    assert_eq!(audit.body["entries"].as_array().unwrap().len(), 4);
    app.stop().await;
}

async fn invalid_documents_change_nothing(db: Db) {
    let env = Env::new(db).await;
    let app = env.start().await;
    let etag = get(&app.router, "/api/v1/settings/network").await.etag();
    let mut doc = defaults();
    doc["online_check"]["response_timeout_ms"] = json!(10001);
    doc["online_check"]["reply_port"] = json!(0);
    doc["scan"]["reply_port"] = json!(65536);
    doc["scan"]["broadcast_ip"] = json!("300.1.1.1");
    doc["cluster_address"]["enabled"] = json!(true);
    doc["enrollment_address"]["host"] = json!(format!("{}.example.com", "a".repeat(64)));
    doc["enrollment_address"]["path_prefix"] = json!("/x?y");
    doc["scheduled_jobs"]["expiration_minutes"] = json!("forty");
    doc["scan"]["colour"] = json!("blue");
    let reply = put(&app.router, &etag, &doc).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    // in the order of the page, unknown fields last
    assert_eq!(
        reply.error_fields(),
        [
            "online_check.response_timeout_ms",
            "online_check.reply_port",
            "scheduled_jobs.expiration_minutes",
            "scan.broadcast_ip",
            "scan.reply_port",
            "cluster_address.host",
            "enrollment_address.host",
            "enrollment_address.path_prefix",
            "scan.colour",
        ]
    );
    assert!(reply.text.contains("colour"));
    let after = get(&app.router, "/api/v1/settings/network").await;
    assert_eq!(after.body, defaults());
    assert_eq!(after.etag(), etag);
    let audit = get(&app.router, "/api/v1/audit").await;
    assert_eq!(audit.body["entries"], json!([]));
    app.stop().await;
}

async fn preconditions(db: Db) {
    let env = Env::new(db).await;
    let app = env.start().await;
    let etag = get(&app.router, "/api/v1/settings/network").await.etag();
    let doc = defaults().to_string();
    let uri = "/api/v1/settings/network";
    let json_type = ("content-type", "application/json");

    let missing = call(&app.router, Method::PUT, uri, &[json_type], Some(&doc)).await;
    assert_eq!(missing.status, StatusCode::PRECONDITION_REQUIRED);
    assert!(missing.text.contains("If-Match"));

    let malformed = call(
        &app.router,
        Method::PUT,
        uri,
        &[json_type, ("if-match", &etag)],
        Some("{\"online_check\": "),
    )
    .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert!(malformed.text.contains("malformed JSON"));

    let not_json = call(
        &app.router,
        Method::PUT,
        uri,
        &[("content-type", "text/plain"), ("if-match", &etag)],
        Some(&doc),
    )
    .await;
    assert_eq!(not_json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let mut changed = defaults();
    changed["scan"]["timeout_ms"] = json!(7000);
    let first = put(&app.router, &etag, &changed).await;
    assert_eq!(first.status, StatusCode::OK);
    changed["scan"]["timeout_ms"] = json!(8000);
    let stale = put(&app.router, &etag, &changed).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let weak = put(&app.router, &format!("W/{}", first.etag()), &changed).await;
    assert_eq!(weak.status, StatusCode::PRECONDITION_FAILED);
    let after = get(&app.router, uri).await;
    assert_eq!(after.body["scan"]["timeout_ms"], 7000);
    let any = put(&app.router, "*", &changed).await;
    assert_eq!(any.status, StatusCode::OK);
    assert_eq!(any.body["scan"]["timeout_ms"], 8000);
    app.stop().await;
}

async fn concurrent_writers_one_wins(db: Db) {
    let env = Env::new(db).await;
    let app = env.start().await;
    let etag = get(&app.router, "/api/v1/settings/network").await.etag();
    let mut tasks = Vec::new();
    for i in 0..8u32 {
        let router = app.router.clone();
        let etag = etag.clone();
        tasks.push(tokio::spawn(async move {
            let mut doc = defaults();
            doc["scan"]["timeout_ms"] = json!(7000 + i);
            put(&router, &etag, &doc).await.status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::PRECONDITION_FAILED)
            .count(),
        7
    );
    let audit = get(&app.router, "/api/v1/audit").await;
    assert_eq!(audit.body["entries"].as_array().unwrap().len(), 1);
    app.stop().await;
}

async fn export_and_import(db: Db) {
    let env = Env::new(db).await;
    let app = env.start().await;
    let export = get(&app.router, "/api/v1/settings/network/export").await;
    assert_eq!(export.status, StatusCode::OK);
    assert_eq!(
        export.body,
        json!({"format_version": 2, "settings": defaults()})
    );
    assert!(
        export.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains("attachment")
    );

    // format 1: the old default of 100 becomes the new default, 50 would become 100
    let mut old = defaults();
    old["online_check"]["response_timeout_ms"] = json!(100);
    old["scan"]["timeout_ms"] = json!(9000);
    let reply = import(&app.router, &json!({"format_version": 1, "settings": old})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.body["upgraded"],
        json!([{"field": "online_check.response_timeout_ms", "old": 100, "new": 1000}])
    );
    assert_eq!(
        reply.body["settings"]["online_check"]["response_timeout_ms"],
        1000
    );
    assert_eq!(reply.body["settings"]["scan"]["timeout_ms"], 9000);
    let now = get(&app.router, "/api/v1/settings/network").await;
    assert_eq!(now.body, reply.body["settings"]);
    assert_eq!(now.etag(), reply.etag());

    let mut high = defaults();
    high["online_check"]["response_timeout_ms"] = json!(50000);
    let reply = import(&app.router, &json!({"format_version": 1, "settings": high})).await;
    assert_eq!(reply.body["upgraded"][0]["new"], 10000);

    // format 2 is strict: the same out-of-range value is refused and nothing changes
    let before = get(&app.router, "/api/v1/settings/network").await;
    let reply = import(&app.router, &json!({"format_version": 2, "settings": high})).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.error_fields(),
        ["settings.online_check.response_timeout_ms"]
    );
    let reply = import(
        &app.router,
        &json!({"format_version": 7, "settings": defaults()}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let reply = call(
        &app.router,
        Method::POST,
        "/api/v1/settings/network/import",
        &[("content-type", "application/json")],
        Some("not json"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let after = get(&app.router, "/api/v1/settings/network").await;
    assert_eq!(after.body, before.body);
    assert_eq!(after.etag(), before.etag());

    // an export imports back unchanged: no change, so no audit row and the same ETag
    let audit_rows = |reply: &Reply| reply.body["entries"].as_array().unwrap().clone();
    let before = audit_rows(&get(&app.router, "/api/v1/audit").await);
    let etag = get(&app.router, "/api/v1/settings/network").await.etag();
    let export = get(&app.router, "/api/v1/settings/network/export").await;
    let reply = import(&app.router, &export.body).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["upgraded"], json!([]));
    assert_eq!(reply.etag(), etag);
    assert_eq!(audit_rows(&get(&app.router, "/api/v1/audit").await), before);

    // a backup that differs in two values adds exactly those two rows
    let mut two = export.body.clone();
    two["settings"]["scan"]["timeout_ms"] = json!(4444);
    two["settings"]["cluster_address"]["host"] = json!("lb.example.net");
    assert_eq!(import(&app.router, &two).await.status, StatusCode::OK);
    let after = audit_rows(&get(&app.router, "/api/v1/audit").await);
    assert_eq!(after.len(), before.len() + 2);
    let mut added: Vec<(String, Value, Value, Value)> = after[..2]
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["old_value"].clone(),
                e["new_value"].clone(),
                e["action"].clone(),
            )
        })
        .collect();
    added.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        added,
        [
            (
                "settings.network.cluster_address.host".to_owned(),
                json!(""),
                json!("lb.example.net"),
                json!("import")
            ),
            (
                "settings.network.scan.timeout_ms".to_owned(),
                json!(6000),
                json!(4444),
                json!("import")
            ),
        ]
    );
    app.stop().await;
}

async fn settings_survive_a_restart(db: Db) {
    let env = Env::new(db).await;
    let app = env.start().await;
    let id = get(&app.router, "/api/v1/server").await.body["server"]["id"].clone();
    let etag = get(&app.router, "/api/v1/settings/network").await.etag();
    let mut doc = defaults();
    doc["scheduled_jobs"] = json!({"never_expire": false, "expiration_minutes": 90});
    doc["enrollment_address"] = json!({"enabled": true, "host": "2001:db8::10", "port": 9443, "path_prefix": "/device-connector/device/.well-known/est"});
    assert_eq!(put(&app.router, &etag, &doc).await.status, StatusCode::OK);
    app.stop().await;

    let app = env.start().await;
    let reply = get(&app.router, "/api/v1/settings/network").await;
    assert_eq!(reply.body, doc);
    let server = get(&app.router, "/api/v1/server").await;
    assert_eq!(server.body["server"]["id"], id, "the server keeps its id");
    assert_eq!(server.body["servers"].as_array().unwrap().len(), 1);
    app.stop().await;
}

async fn distributed_mode_rules(db: Db) {
    let env = Env::new(db).await;
    let app = env.start().await;
    let etag = get(&app.router, "/api/v1/settings/network").await.etag();
    let mut doc = defaults();
    doc["distributed"]["enabled"] = json!(true);
    let reply = put(&app.router, &etag, &doc).await;
    if db == Db::Sqlite {
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.error_fields(), ["distributed.enabled"]);
        assert!(reply.text.contains("PostgreSQL"));
        app.stop().await;
        return;
    }
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let server = get(&app.router, "/api/v1/server").await;
    assert_eq!(
        server.body["distributed"],
        json!({"configured": true, "running": false, "restart_required": true})
    );
    let page = get(&app.router, "/settings/network").await;
    assert!(page.text.contains("Restart required"), "the page says so");

    // a second server on the same database sees both, and the stored mode
    let other = env.start_as("two", "standalone").await;
    let server = get(&other.router, "/api/v1/server").await;
    assert_eq!(server.body["servers"].as_array().unwrap().len(), 2);
    assert!(
        server.body["servers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["alive"] == true)
    );
    assert_eq!(
        server.body["distributed"],
        json!({"configured": true, "running": true, "restart_required": false})
    );

    // "one" still runs without distributed mode: the two exchange nothing, and "one" names
    // the server it does not hear from
    // (it hears of no registration: its heartbeat reads the list)
    app.status.registry.refresh().await.unwrap();
    let server = get(&app.router, "/api/v1/server").await;
    assert_eq!(server.body["distributed"]["running"], false);
    let status: app::api::ServerStatus = serde_json::from_value(server.body).unwrap();
    let names: Vec<&str> = status
        .unsynchronised()
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["two"]);
    let etag = get(&app.router, "/api/v1/settings/network").await.etag();
    doc["scan"]["timeout_ms"] = json!(1111);
    assert_eq!(put(&app.router, &etag, &doc).await.status, StatusCode::OK);
    // (a change that travels arrives within milliseconds: see the next step)
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        get(&other.router, "/api/v1/settings/network").await.body["scan"]["timeout_ms"],
        defaults()["scan"]["timeout_ms"],
        "no message travels while one side is not distributed"
    );
    app.stop().await;
    let app = env.start().await;

    // both distributed: a change saved on one server reaches the other through the database
    let etag = get(&app.router, "/api/v1/settings/network").await.etag();
    doc["scan"]["timeout_ms"] = json!(1234);
    assert_eq!(put(&app.router, &etag, &doc).await.status, StatusCode::OK);
    eventually(
        Duration::from_secs(5),
        "the change reaches the other server",
        || async {
            get(&other.router, "/api/v1/settings/network").await.body["scan"]["timeout_ms"] == 1234
        },
    )
    .await;
    // a write based on a version the other server has not installed yet is judged by the
    // database: the change is made behind the servers' backs, so no notification tells them
    let etag = get(&app.router, "/api/v1/settings/network").await.etag();
    let seen = get(&other.router, "/api/v1/settings/network").await.etag();
    assert_eq!(seen, etag);
    sql(&env, "UPDATE settings SET revision = revision + 1").await;
    let revision: i64 = etag
        .trim_matches('"')
        .rsplit('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let fresh = etag.replace(&format!(".{revision}\""), &format!(".{}\"", revision + 1));
    doc["scan"]["timeout_ms"] = json!(5555);
    assert_eq!(
        put(&other.router, &fresh, &doc).await.status,
        StatusCode::OK
    );
    other.stop().await;
    app.stop().await;
}

async fn ha_installation_has_no_distributed_section(db: Db) {
    let env = Env::new(db).await;
    let app = env.start_as("one", "ha").await;
    let reply = get(&app.router, "/api/v1/settings/network").await;
    assert!(reply.body.get("distributed").is_none());
    let etag = reply.etag();
    let reply = put(&app.router, &etag, &defaults()).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.error_fields(), ["distributed"]);
    let mut doc = defaults();
    doc.as_object_mut().unwrap().remove("distributed");
    doc["scan"]["timeout_ms"] = json!(3000);
    let reply = put(&app.router, &etag, &doc).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let audit = get(&app.router, "/api/v1/audit").await;
    assert_eq!(
        audit.body["entries"].as_array().unwrap().len(),
        1,
        "no change to a hidden section"
    );
    let server = get(&app.router, "/api/v1/server").await;
    assert_eq!(server.body["installation"], "ha");
    assert_eq!(server.body["distributed"], Value::Null);
    let page = get(&app.router, "/settings/network").await;
    assert!(!page.text.contains("Distributed mode enabled"));
    app.stop().await;
}

async fn page_is_rendered_with_current_values(db: Db) {
    let env = Env::new(db).await;
    let app = env.start().await;
    let etag = get(&app.router, "/api/v1/settings/network").await.etag();
    let mut doc = defaults();
    doc["cluster_address"] = json!({"enabled": true, "host": "lb.example.com", "port": 443});
    doc["online_check"]["response_timeout_ms"] = json!(4321);
    assert_eq!(put(&app.router, &etag, &doc).await.status, StatusCode::OK);
    let page = get(&app.router, "/settings/network").await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "Administration",
        "Global Configuration",
        "Server Network Settings",
        "Online Check Parameters",
        "Scheduled Jobs",
        "Scan Parameters",
        "Cluster Address",
        "OS 12 Device Enrollment Address",
        "Distributed mode",
        "lb.example.com:443",
        "value=\"4321\"",
        "https://lb.example.com:443/.well-known/est",
    ] {
        assert!(page.text.contains(text), "page lacks {text}");
    }
    let missing = get(&app.router, "/no/such/page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn audit_pages(db: Db) {
    let env = Env::new(db).await;
    let app = env.start().await;
    let mut etag = get(&app.router, "/api/v1/settings/network").await.etag();
    for i in 0..5 {
        let mut doc = defaults();
        doc["scan"]["timeout_ms"] = json!(1000 + i);
        let reply = put(&app.router, &etag, &doc).await;
        etag = reply.etag();
    }
    let first = get(&app.router, "/api/v1/audit?limit=3").await;
    let entries = first.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0]["new_value"], 1004, "newest first");
    let next = first.body["next_before"].as_i64().expect("more pages");
    let second = get(&app.router, &format!("/api/v1/audit?limit=3&before={next}")).await;
    assert_eq!(second.body["entries"].as_array().unwrap().len(), 2);
    assert_eq!(second.body["next_before"], Value::Null);
    let bad = get(&app.router, "/api/v1/audit?limit=lots").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    app.stop().await;
}

async fn a_new_database_never_repeats_an_etag(db: Db) {
    let (one, two) = (Env::new(db).await, Env::new(db).await);
    let (a, b) = (one.start().await, two.start().await);
    let (tag_a, tag_b) = (
        get(&a.router, "/api/v1/settings/network").await.etag(),
        get(&b.router, "/api/v1/settings/network").await.etag(),
    );
    assert_ne!(tag_a, tag_b, "both are revision 1 of a new database");
    // a client holding the other database's tag cannot overwrite this one
    assert_eq!(
        put(&a.router, &tag_b, &defaults()).await.status,
        StatusCode::PRECONDITION_FAILED
    );
    a.stop().await;
    b.stop().await;
}

async fn backups_cross_installation_kinds(db: Db) {
    let env = Env::new(db).await;
    // a backup taken on an HA installation has no distributed section
    let ha = env.start_as("ha", "ha").await;
    let ha_backup = get(&ha.router, "/api/v1/settings/network/export")
        .await
        .body;
    assert!(ha_backup["settings"].get("distributed").is_none());
    ha.stop().await;

    let standalone = env.start_as("standalone", "standalone").await;
    let mut from_ha = ha_backup.clone();
    from_ha["settings"]["scan"]["timeout_ms"] = json!(2222);
    let reply = import(&standalone.router, &from_ha).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["settings"]["scan"]["timeout_ms"], 2222);
    assert_eq!(
        reply.body["settings"]["distributed"],
        json!({"enabled": false})
    );
    assert_eq!(
        reply.body["kept"],
        json!(["distributed"]),
        "the answer says so"
    );

    // and a standalone backup restores on an HA installation, which has no such section
    let standalone_backup = get(&standalone.router, "/api/v1/settings/network/export")
        .await
        .body;
    assert!(standalone_backup["settings"].get("distributed").is_some());
    standalone.stop().await;
    let ha = env.start_as("ha", "ha").await;
    let reply = import(&ha.router, &standalone_backup).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(reply.body["settings"].get("distributed").is_none());
    assert_eq!(reply.body["kept"], json!(["distributed"]));
    // a backup of the same kind keeps nothing back
    let same = get(&ha.router, "/api/v1/settings/network/export")
        .await
        .body;
    assert_eq!(import(&ha.router, &same).await.body["kept"], json!([]));
    ha.stop().await;
}

async fn ha_writes_keep_the_stored_distributed_section(db: Db) {
    let env = Env::new(db).await;
    let app = env.start_as("one", "ha").await;
    // the stored section changes behind this server's back (another server's earlier write):
    // its cached copy is now stale
    sql(
        &env,
        "UPDATE settings SET document = replace(document, '\"distributed\":{\"enabled\":false}',          '\"distributed\":{\"enabled\":true}')",
    )
    .await;
    let mut doc = defaults();
    doc.as_object_mut().unwrap().remove("distributed");
    doc["scan"]["timeout_ms"] = json!(3100);
    assert_eq!(put(&app.router, "*", &doc).await.status, StatusCode::OK);
    app.stop().await;
    let standalone = env.start_as("two", "standalone").await;
    let stored = get(&standalone.router, "/api/v1/settings/network")
        .await
        .body;
    assert_eq!(stored["scan"]["timeout_ms"], 3100);
    assert_eq!(
        stored["distributed"],
        json!({"enabled": true}),
        "the HA write kept the stored value, not its stale copy"
    );
    standalone.stop().await;
}

async fn oversized_bodies_are_refused(db: Db) {
    let env = Env::new(db).await;
    let app = env.start().await;
    let etag = get(&app.router, "/api/v1/settings/network").await.etag();
    let mut doc = defaults();
    doc["scan"]["broadcast_ip"] = json!("x".repeat(70 * 1024));
    let reply = put(&app.router, &etag, &doc).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(reply.text.contains("65536 bytes"), "{}", reply.text);
    let reply = import(&app.router, &json!({"format_version": 2, "settings": doc})).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        get(&app.router, "/api/v1/settings/network").await.etag(),
        etag
    );
    app.stop().await;
}

/// A change of tens of thousands of rows (devices registered from a large scan) is audited whole,
/// past the database's limit of parameters in one statement.
async fn large_changes_are_audited_whole(db: Db) {
    let env = Env::new(db).await;
    let app = env.start().await;
    let records: Vec<server::audit::Record> = (0..12_345)
        .map(|i| server::audit::Record::new(format!("devices.{i}"), Value::Null, json!({"i": i})))
        .collect();
    let actor = server::audit::Actor {
        name: "admin".into(),
        source: None,
    };
    let mut tx = app.db.begin().await.unwrap();
    server::audit::record(
        &mut tx,
        &actor,
        app::model::Area::Devices,
        "register",
        &records,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let page = get(&app.router, "/api/v1/audit?limit=1").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let count: i64 = match &app.db.pool {
        server::db::Backend::Sqlite(pool) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'register'")
                .fetch_one(pool)
                .await
                .unwrap()
        }
        server::db::Backend::Postgres(pool) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'register'")
                .fetch_one(pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(count, 12_345);
    app.stop().await;
}
