//! The OpenAPI document: whole (every declared API route in it with its method, nothing else),
//! OpenAPI 3.1, every refusal with the error body, and the reference page rendered from it.
//! The document does not depend on the database, so SQLite alone serves it here.

use crate::{ADMIN_PASSWORD, Db, Env, call, get, post_json, signed_in, token_for};
use axum::http::{Method, StatusCode, header};
use serde_json::Value;
use std::collections::BTreeSet;

const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_covers_every_api_route() {
    let env = Env::new(Db::Sqlite).await;
    let app = env.start().await;
    let reply = get(&app.router, "/api/v1/openapi.json").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(
        reply.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc = reply.body;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["servers"][0]["url"], "/");

    let declared: BTreeSet<(String, String)> = app
        .routes
        .iter()
        .filter(|r| r.path.starts_with("/api/"))
        .map(|r| (r.method.as_str().to_lowercase(), r.path.clone()))
        .collect();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, _)| path.starts_with("/api/"))
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(|m| (m.to_string(), path.clone()))
        })
        .collect();
    let undocumented: Vec<_> = declared.difference(&documented).collect();
    let undeclared: Vec<_> = documented.difference(&declared).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the document: {undocumented:?}"
    );
    assert!(
        undeclared.is_empty(),
        "documented but not routed: {undeclared:?}"
    );

    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let id = operation["operationId"].as_str().unwrap();
            assert!(
                operation_ids.insert(id.to_owned()),
                "operationId {id} twice"
            );
            let route = app
                .routes
                .iter()
                .find(|r| r.method.as_str().eq_ignore_ascii_case(method) && r.path == *path)
                .unwrap();
            let secured = !matches!(
                route.rule,
                server::http::Rule::Public | server::http::Rule::Device
            );
            assert_eq!(operation["security"].is_array(), secured, "{method} {path}");
            for (status, response) in operation["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["token"]["scheme"], "bearer");
    assert_eq!(schemes["session"]["in"], "cookie");
    // the settings' conditional requests
    let put = &doc["paths"]["/api/v1/settings/network"]["put"];
    let names: Vec<&Value> = put["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["name"])
        .collect();
    assert!(names.contains(&&Value::from("If-Match")), "{names:?}");
    for status in ["412", "428", "422"] {
        assert!(put["responses"][status].is_object(), "{status}");
    }

    let page = get(&app.router, "/api-reference").await;
    assert_eq!(page.status, StatusCode::OK);
    let policy = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        policy.starts_with("default-src 'none'; style-src 'sha256-"),
        "{policy}"
    );
    for (_, path) in &declared {
        assert!(
            page.text.contains(&format!("<code>{path}</code>")),
            "{path} not on the page"
        );
    }
    app.stop().await;
}

/// What fuzzing against the document found: a declared path asked with another method is told
/// so (405 and `Allow`), not refused as a route without a rule; the superuser's reset of their
/// own password (which skips the current one and revoked the caller's own token) is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_fuzzing_found() {
    let env = Env::new(Db::Sqlite).await;
    let app = env.start().await;
    let admin = signed_in(
        app.router.clone(),
        token_for(&app.router, "admin", ADMIN_PASSWORD).await,
    );
    let reply = call(&admin, Method::PUT, "/api/v1/jobs/1/enabled", &[], None).await;
    assert_eq!(
        reply.status,
        StatusCode::METHOD_NOT_ALLOWED,
        "{}",
        reply.text
    );
    assert_eq!(reply.headers[header::ALLOW], "POST");
    assert!(reply.body["errors"][0]["message"].is_string());

    let reply = post_json(
        &admin,
        "/api/v1/accounts/users/1/password",
        serde_json::json!({"password": "a brand new passphrase"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text);
    // the token still works
    assert_eq!(get(&admin, "/api/v1/auth/me").await.status, StatusCode::OK);
    app.stop().await;
}
