//! Pharos below a path prefix, as a reverse proxy that forwards the full path serves it: every
//! route, redirect, cookie, link and asset carries the prefix, and the rights guard still holds.

use crate::{ADMIN_PASSWORD, ANONYMOUS, Db, Env, Reply, call, get, signed_in};
use axum::{
    Router,
    http::{Method, StatusCode, header},
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const BASE: &str = "/pharos";
const PASSWORD: &str = "a fine long passphrase";

/// An API token of `user`, asked for below the prefix.
async fn token(router: &Router, user: &str, password: &str) -> String {
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let reply = call(
        router,
        Method::POST,
        &format!("{BASE}/api/v1/auth/tokens"),
        &[
            ("authorization", &format!("Basic {basic}")),
            ("content-type", "application/json"),
        ],
        Some(r#"{"name": "tests"}"#),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body["token"].as_str().unwrap().to_owned()
}

fn set_cookies(reply: &Reply) -> Vec<String> {
    reply
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The values of `attribute` in the tags `<tag …>` of a page.
fn attributes(page: &str, tag: &str, attribute: &str) -> Vec<String> {
    page.split(&format!("<{tag} "))
        .skip(1)
        .filter_map(|rest| {
            let tag = rest.split('>').next()?;
            let value = tag.split(&format!("{attribute}=\"")).nth(1)?;
            Some(value.split('"').next()?.to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_below_a_path_prefix() {
    let env = Env::new(Db::Sqlite).await;
    let site = env.dir.path().join("site");
    std::fs::create_dir_all(site.join("pkg")).unwrap();
    std::fs::write(site.join("pkg/pharos.css"), "body {}").unwrap();
    std::fs::write(site.join("favicon.svg"), "<svg/>").unwrap();
    let config = server::config::Config {
        base_path: format!("{BASE}/"),
        ..env.config("one", "standalone")
    };
    let app = server::start(config, CancellationToken::new())
        .await
        .expect("server starts");
    let raw = app.router.clone();
    let admin = signed_in(raw.clone(), token(&raw, "admin", ADMIN_PASSWORD).await);

    // the API below the prefix, and only there
    let settings = get(&admin, &format!("{BASE}/api/v1/settings/network")).await;
    assert_eq!(settings.status, StatusCode::OK, "{}", settings.text);
    assert_eq!(
        get(&admin, "/api/v1/settings/network").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(&admin, "/login").await.status, StatusCode::NOT_FOUND);
    // the document names the prefix as its server
    let doc = get(&raw, &format!("{BASE}/api/v1/openapi.json")).await;
    assert_eq!(doc.body["servers"][0]["url"], BASE, "{}", doc.text);

    // the guard finds the rules of the prefixed routes
    let anonymous = call(
        &raw,
        Method::GET,
        &format!("{BASE}/api/v1/settings/network"),
        &[ANONYMOUS],
        None,
    )
    .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let created = call(
        &admin,
        Method::POST,
        &format!("{BASE}/api/v1/accounts/users"),
        &[("content-type", "application/json")],
        Some(&json!({"username": "nobody", "password": PASSWORD}).to_string()),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let nobody = signed_in(raw.clone(), token(&raw, "nobody", PASSWORD).await);
    let refused = get(&nobody, &format!("{BASE}/api/v1/settings/network")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert_eq!(
        get(&nobody, &format!("{BASE}/api/v1/auth/me")).await.status,
        StatusCode::OK
    );

    // every page sends an anonymous visitor to the sign-in page below the prefix, which leads
    // back to the page as the browser asked for it
    for route in leptos_axum::generate_route_list(app::App) {
        // the start page is the prefix itself (`/pharos/` leads there)
        let path = format!("{BASE}{}", route.path().trim_end_matches('/'));
        let reply = call(&raw, Method::GET, &path, &[ANONYMOUS], None).await;
        if route.path() == "/login" {
            assert_eq!(reply.status, StatusCode::OK, "{path}");
            continue;
        }
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{path}");
        let location = reply.headers[header::LOCATION].to_str().unwrap();
        let next: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
        assert_eq!(location, format!("{BASE}/login?next={next}"), "{path}");
    }
    let jobs = call(&raw, Method::GET, "/pharos/jobs?x=1", &[ANONYMOUS], None).await;
    assert_eq!(
        jobs.headers[header::LOCATION],
        "/pharos/login?next=%2Fpharos%2Fjobs%3Fx%3D1"
    );

    // the sign-in page: its assets, form and the prefix handed to the browser
    let login = call(&raw, Method::GET, "/pharos/login", &[ANONYMOUS], None).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(!login.text.contains("Page not found"), "{}", login.text);
    let assets: Vec<String> = attributes(&login.text, "link", "href")
        .into_iter()
        .filter(|href| href.contains("/pkg/"))
        .collect();
    assert!(assets.len() >= 3, "{assets:?}"); // stylesheet, script, wasm
    for asset in &assets {
        assert!(asset.starts_with("/pharos/pkg/"), "{asset}");
    }
    assert!(
        login.text.contains(r#"("/pharos", "pkg", "#),
        "the hydration script loads from below the prefix: {}",
        login.text
    );
    assert!(
        login
            .text
            .contains(r#"<meta name="pharos-base" content="/pharos">"#),
        "{}",
        login.text
    );
    assert!(login.text.contains(r#"href="/pharos/favicon.svg""#));
    assert!(
        attributes(&login.text, "form", "action").contains(&"/pharos/api/v1/auth/login".into())
    );
    let css = get(&raw, "/pharos/pkg/pharos.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.text, "body {}");
    assert_eq!(
        get(&raw, "/pharos/favicon.svg").await.status,
        StatusCode::OK
    );

    // signing in: the cookies are sent back below the prefix only
    let signed = call(
        &raw,
        Method::POST,
        "/pharos/api/v1/auth/login",
        &[ANONYMOUS, ("content-type", "application/json")],
        Some(&json!({"username": "admin", "password": ADMIN_PASSWORD}).to_string()),
    )
    .await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.text);
    let cookies = set_cookies(&signed);
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    for cookie in &cookies {
        assert!(cookie.contains("Path=/pharos"), "{cookie}");
        assert!(!cookie.contains("Path=/;"), "{cookie}");
    }
    let jar = cookies
        .iter()
        .map(|c| c.split(';').next().unwrap())
        .collect::<Vec<_>>()
        .join("; ");

    // a page rendered for the one signed in: its route matched, its links below the prefix
    let page = call(
        &raw,
        Method::GET,
        "/pharos/settings/network",
        &[("cookie", &jar)],
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("Server Network Settings"),
        "{}",
        page.text
    );
    let links = attributes(&page.text, "a", "href");
    for link in [
        "/pharos/devices",
        "/pharos/jobs",
        "/pharos/account",
        "/pharos/",
    ] {
        assert!(links.iter().any(|l| l == link), "{link} in {links:?}");
    }
    for link in &links {
        assert!(link.starts_with("/pharos"), "{link} in {links:?}");
    }
    let home = call(&raw, Method::GET, "/pharos", &[("cookie", &jar)], None).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(!home.text.contains("Page not found"), "{}", home.text);
    let slash = call(&raw, Method::GET, "/pharos/", &[("cookie", &jar)], None).await;
    assert_eq!(slash.status, StatusCode::OK);
    assert!(!slash.text.contains("Page not found"), "{}", slash.text);
    let anonymous = call(&raw, Method::GET, "/pharos/?a=b", &[ANONYMOUS], None).await;
    assert_eq!(
        anonymous.headers[header::LOCATION],
        "/pharos/login?next=%2Fpharos%2F%3Fa%3Db"
    );
    app.stop().await;
}
