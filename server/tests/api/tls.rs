//! Certificates and HTTPS, checked with openssl as the independent client: what a server
//! presents (and swaps without a restart or a dropped connection), issued chains, exports, the
//! device CA, refusals of bad input, and the cluster requirement across servers.

use super::tools::{openssl_text as openssl, write};
use super::*;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use std::process::Command;
use std::sync::Arc;

const WEB: &str = "/api/v1/certificates/web";

/// A generated root; its fingerprint.
async fn new_root(router: &Router, name: &str, days: u32) -> String {
    let made = post_json(
        router,
        &format!("{WEB}/roots"),
        json!({"generate": {"algorithm": "ec-p256", "name": name, "validity_days": days}}),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    made.body["fingerprint_sha256"].as_str().unwrap().to_owned()
}

async fn new_signed(router: &Router, issuer: &str, hostnames: &[&str]) -> String {
    let made = post_json(
        router,
        &format!("{WEB}/signed"),
        json!({"issuer": issuer, "servers": "all", "hostnames": hostnames}),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    made.body["fingerprint_sha256"].as_str().unwrap().to_owned()
}

async fn assign_all(router: &Router, fp: &str) {
    let done = post_json(
        router,
        &format!("{WEB}/{fp}/assign"),
        json!({"servers": "all"}),
    )
    .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.text);
}

async fn export(router: &Router, fp: &str, format: &str) -> String {
    let got = get(router, &format!("{WEB}/{fp}/export?format={format}")).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text);
    got.text
}

/// What `openssl s_client` is shown at `addr`: (SHA-256 fingerprint in Pharos's form, the
/// Subject Alternative Names as openssl prints them).
fn presented(addr: std::net::SocketAddr) -> (String, String) {
    let shown = openssl(
        &[
            "s_client",
            "-connect",
            &addr.to_string(),
            "-servername",
            "localhost",
        ],
        Some(""),
    );
    let fingerprint = openssl(&["x509", "-noout", "-fingerprint", "-sha256"], Some(&shown));
    let fingerprint = fingerprint
        .trim()
        .rsplit('=')
        .next()
        .unwrap()
        .replace(':', "")
        .to_ascii_lowercase();
    let sans = openssl(&["x509", "-noout", "-ext", "subjectAltName"], Some(&shown));
    (fingerprint, sans)
}

/// A server of `env` serving HTTPS on a port of its own: its (signed-in) router, its
/// certificates area, its address, and the token that stops it.
struct Served {
    router: Router,
    tls: Arc<server::tls::Tls>,
    addr: std::net::SocketAddr,
    _stop: tokio_util::sync::DropGuard,
}

async fn serve_tls(env: &Env, name: &str, installation: &str) -> Served {
    let token = CancellationToken::new();
    let mut config = env.config(name, installation);
    config.tls = true;
    let pharos = launch(config, token.clone()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (router, tls) = (pharos.router.clone(), pharos.tls.clone());
    tokio::spawn(server::serve(pharos, listener));
    Served {
        router,
        tls,
        addr,
        _stop: token.drop_guard(),
    }
}

/// An HTTP/1.1 connection over TLS that trusts only `root_pem`, kept open by the test.
async fn tls_connection(
    addr: std::net::SocketAddr,
    root_pem: &str,
) -> hyper::client::conn::http1::SendRequest<Full<bytes::Bytes>> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(root_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let stream = connector.connect(name, tcp).await.expect("TLS handshake");
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

async fn healthz(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<bytes::Bytes>>,
) -> StatusCode {
    let request = hyper::Request::get("/healthz")
        .header("host", "localhost")
        .body(Full::default())
        .unwrap();
    let answer = sender
        .send_request(request)
        .await
        .expect("an answer on the open connection");
    let status = answer.status();
    answer.into_body().collect().await.unwrap();
    status
}

/// HTTPS from the first start: the generated chain verifies with openssl against `/ca.pem`;
/// a new certificate assigned to all servers is presented on new connections within a second,
/// without a restart, while a connection opened before goes on being served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_are_swapped_live_without_dropping_connections() {
    let env = Env::new(Db::Sqlite).await;
    let served = serve_tls(&env, "one", "standalone").await;
    let dir = tempfile::tempdir().unwrap();

    let ca = call(&served.router, Method::GET, "/ca.pem", &[ANONYMOUS], None).await;
    assert_eq!(ca.status, StatusCode::OK);
    assert!(
        ca.text.starts_with("-----BEGIN CERTIFICATE-----"),
        "{}",
        ca.text
    );
    let first = served.tls.presented_fingerprint();
    let (shown, sans) = tokio::task::spawn_blocking(move || presented(served.addr))
        .await
        .unwrap();
    assert_eq!(shown, first);
    assert!(
        sans.contains("DNS:localhost") && sans.contains("IP Address:127.0.0.1"),
        "{sans}"
    );
    let leaf = write(
        dir.path(),
        "first.pem",
        &export(&served.router, &first, "pem").await,
    );
    let root = write(dir.path(), "root.pem", &ca.text);
    openssl(&["verify", "-CAfile", &root, &leaf], None);

    // TLS 1.2 and 1.3 (rustls implements nothing older)
    let addr = served.addr.to_string();
    let versions = tokio::task::spawn_blocking(move || {
        let speaks = |version: &str| {
            Command::new("openssl")
                .args(["s_client", "-connect", &addr, version])
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap()
                .status
                .success()
        };
        (speaks("-tls1_3"), speaks("-tls1_2"))
    })
    .await
    .unwrap();
    assert_eq!(versions, (true, true), "TLS 1.3, 1.2");
    let mut open = tls_connection(served.addr, &ca.text).await;
    assert_eq!(healthz(&mut open).await, StatusCode::OK);

    let root_fp = new_root(&served.router, "Swap test root", 3650).await;
    let next = new_signed(
        &served.router,
        &root_fp,
        &["pharos.test", "127.0.0.1", "localhost"],
    )
    .await;
    // the assignment answers once this server presents it: the very next connection sees it
    assign_all(&served.router, &next).await;
    let addr = served.addr;
    let (shown, sans) = tokio::task::spawn_blocking(move || presented(addr))
        .await
        .unwrap();
    assert_eq!(shown, next);
    assert!(sans.contains("DNS:pharos.test"), "{sans}");
    // the connection opened before the swap is still served
    assert_eq!(healthz(&mut open).await, StatusCode::OK);

    let list = get(&served.router, WEB).await;
    let entry = list.body["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["fingerprint_sha256"] == next)
        .unwrap()
        .clone();
    assert_eq!(entry["assigned_to_all"], true);
    assert_eq!(entry["assigned_to"][0]["name"], "one");
    // names for all servers, and for each alone: the cluster address (none here), localhost,
    // the server's name and addresses
    let one = entry["assigned_to"][0]["id"].as_str().unwrap();
    let own = &list.body["suggested_for_server"][one];
    assert_eq!(own[0], "localhost", "{own}");
    assert!(own.as_array().unwrap().contains(&json!("one")), "{own}");
    assert_eq!(
        &list.body["suggested_hostnames"], own,
        "one server: the same names"
    );
    assert_eq!(
        entry["sans"],
        json!(["pharos.test", "127.0.0.1", "localhost"])
    );
    assert_eq!(entry["has_key"], true);
    assert_eq!(entry["expiry"], "valid");
    assert_eq!(entry["fingerprint_sha1"].as_str().unwrap().len(), 40);
    // the old one may go now; the root that issued the new one may not
    let refused = call(
        &served.router,
        Method::DELETE,
        &format!("{WEB}/{root_fp}"),
        &[],
        None,
    )
    .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused.text.contains("issued 1 certificate"),
        "{}",
        refused.text
    );
    let refused = call(
        &served.router,
        Method::DELETE,
        &format!("{WEB}/{next}"),
        &[],
        None,
    )
    .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused.text.contains("assigned to all servers"),
        "{}",
        refused.text
    );
    let deleted = call(
        &served.router,
        Method::DELETE,
        &format!("{WEB}/{first}"),
        &[],
        None,
    )
    .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
}

/// A root, an intermediate under it and a leaf under that: each exported chain verifies with
/// openssl; renewal keeps the subject and names and moves the assignment; the PKCS#12 export
/// opens with openssl and holds the key and the chain.
#[tokio::test]
async fn issued_chains_verify_and_exports_open_with_openssl() {
    let env = Env::new(Db::Sqlite).await;
    let pharos = env.start().await;
    let router = &pharos.router;
    let dir = tempfile::tempdir().unwrap();
    let root = new_root(router, "Chain root", 3650).await;
    let made = post_json(
        router,
        &format!("{WEB}/roots"),
        json!({"generate": {"algorithm": "rsa-2048", "name": "Chain intermediate", "validity_days": 1000, "issuer": root}}),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    let intermediate = made.body["fingerprint_sha256"].as_str().unwrap().to_owned();
    let leaf = new_signed(
        router,
        &intermediate,
        &["a.pharos.test", "*.pharos.test", "10.9.8.7"],
    )
    .await;

    let root_pem = write(dir.path(), "root.pem", &export(router, &root, "pem").await);
    let chain = export(router, &leaf, "chain").await;
    assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 3);
    let chain_pem = write(dir.path(), "chain.pem", &chain);
    let leaf_pem = write(dir.path(), "leaf.pem", &export(router, &leaf, "pem").await);
    let verified = openssl(
        &[
            "verify",
            "-CAfile",
            &root_pem,
            "-untrusted",
            &chain_pem,
            &leaf_pem,
        ],
        None,
    );
    assert!(verified.contains(": OK"), "{verified}");
    let text = openssl(&["x509", "-noout", "-text", "-in", &leaf_pem], None);
    assert!(
        text.contains("DNS:*.pharos.test") && text.contains("IP Address:10.9.8.7"),
        "{text}"
    );
    assert!(text.contains("TLS Web Server Authentication"), "{text}");
    let inter_text = openssl(
        &[
            "x509",
            "-noout",
            "-text",
            "-in",
            &write(
                dir.path(),
                "i.pem",
                &export(router, &intermediate, "pem").await,
            ),
        ],
        None,
    );
    assert!(
        inter_text.contains("CA:TRUE") && inter_text.contains("Public-Key: (2048 bit)"),
        "{inter_text}"
    );
    let der = get(router, &format!("{WEB}/{leaf}/export?format=der")).await;
    assert_eq!(der.headers["content-type"], "application/pkix-cert");
    assert!(
        der.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );

    let request = Request::post(format!("{WEB}/{leaf}/export"))
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"format": "p12", "password": "export-pass-1"}).to_string(),
        ))
        .unwrap();
    let answer = router.clone().oneshot(request).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["content-type"], "application/x-pkcs12");
    let bytes = answer.into_body().collect().await.unwrap().to_bytes();
    let p12_path = dir.path().join("leaf.p12");
    std::fs::write(&p12_path, &bytes).unwrap();
    let opened = openssl(
        &[
            "pkcs12",
            "-in",
            &p12_path.display().to_string(),
            "-passin",
            "pass:export-pass-1",
            "-nodes",
        ],
        None,
    );
    assert!(opened.contains("PRIVATE KEY"), "{opened}");
    assert_eq!(opened.matches("BEGIN CERTIFICATE").count(), 3, "{opened}");
    let short = post_json(
        router,
        &format!("{WEB}/{leaf}/export"),
        json!({"format": "p12", "password": "short"}),
    )
    .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        short.text.contains("at least 8 characters"),
        "{}",
        short.text
    );
    // a key leaving the server is in the audit log
    let audit = get(router, "/api/v1/audit?area=certificates").await;
    assert!(audit.text.contains("export key"), "{}", audit.text);

    // renewal: same subject and names, a new validity, the assignment follows
    assign_all(router, &leaf).await;
    let renewed = call(
        router,
        Method::POST,
        &format!("{WEB}/{leaf}/renew"),
        &[],
        None,
    )
    .await;
    assert_eq!(renewed.status, StatusCode::CREATED, "{}", renewed.text);
    let new_fp = renewed.body["fingerprint_sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_fp, leaf);
    let list = get(router, WEB).await.body;
    let find = |fp: &str| {
        list["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["fingerprint_sha256"] == fp)
            .unwrap()
            .clone()
    };
    let (old, new) = (find(&leaf), find(&new_fp));
    assert_eq!(old["subject"], new["subject"]);
    assert_eq!(old["sans"], new["sans"]);
    assert_eq!(new["assigned_to_all"], true);
    assert_eq!(old["assigned_to_all"], false);
    assert_eq!(pharos.tls.presented_fingerprint(), new_fp);
    // a renewed CA keeps its key: what it issued still verifies under the renewed one
    let renewed_root = call(
        router,
        Method::POST,
        &format!("{WEB}/{root}/renew"),
        &[],
        None,
    )
    .await;
    assert_eq!(
        renewed_root.status,
        StatusCode::CREATED,
        "{}",
        renewed_root.text
    );
    let renewed_root = renewed_root.body["fingerprint_sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let renewed_root_pem = write(
        dir.path(),
        "root2.pem",
        &export(router, &renewed_root, "pem").await,
    );
    let verified = openssl(
        &[
            "verify",
            "-CAfile",
            &renewed_root_pem,
            "-untrusted",
            &chain_pem,
            &leaf_pem,
        ],
        None,
    );
    assert!(verified.contains(": OK"), "{verified}");
    // what the renewed root issued is its own now: the old root issued nothing and may go
    let list = get(router, WEB).await.body;
    let find = |fp: &str| {
        list["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["fingerprint_sha256"] == fp)
            .unwrap()
            .clone()
    };
    assert_eq!(find(&intermediate)["issuer_fingerprint"], renewed_root);
    assert_eq!(find(&root)["issued"], 0);
    // renewing the intermediate moves its certificates to the renewed one, and they renew
    // under it
    let renewed_inter = call(
        router,
        Method::POST,
        &format!("{WEB}/{intermediate}/renew"),
        &[],
        None,
    )
    .await;
    assert_eq!(
        renewed_inter.status,
        StatusCode::CREATED,
        "{}",
        renewed_inter.text
    );
    let renewed_inter = renewed_inter.body["fingerprint_sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let again = call(
        router,
        Method::POST,
        &format!("{WEB}/{new_fp}/renew"),
        &[],
        None,
    )
    .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    let again = again.body["fingerprint_sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let list = get(router, WEB).await.body;
    let find = |fp: &str| {
        list["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["fingerprint_sha256"] == fp)
            .unwrap()
            .clone()
    };
    assert_eq!(find(&again)["issuer_fingerprint"], renewed_inter);
    assert_eq!(find(&again)["assigned_to_all"], true);
    assert_eq!(find(&intermediate)["issued"], 0);
    for old in [&new_fp, &leaf, &intermediate, &root] {
        let deleted = call(router, Method::DELETE, &format!("{WEB}/{old}"), &[], None).await;
        assert_eq!(
            deleted.status,
            StatusCode::NO_CONTENT,
            "{old}: {}",
            deleted.text
        );
    }
}

/// The device CA is generated at first start, apart from the web chain: its chain (the file a
/// reverse proxy trusts for client certificates) verifies a certificate it issued, and stays
/// the same when web certificates are replaced.
#[tokio::test]
async fn the_client_chain_verifies_device_certificates_and_outlives_web_changes() {
    use server::tls::pki;
    let env = Env::new(Db::Sqlite).await;
    let pharos = env.start().await;
    let router = &pharos.router;
    let dir = tempfile::tempdir().unwrap();
    let chain = get(router, "/api/v1/certificates/client-chain").await;
    assert_eq!(chain.status, StatusCode::OK);
    assert_eq!(chain.headers["content-type"], "application/x-pem-file");
    assert!(
        chain.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let device_ca = pharos.tls.device().unwrap();
    let (ca_der, ca_key) = (&device_ca.der, &*device_ca.key);
    let key = pki::generate_key(app::model::KeyAlgorithm::EcP256).unwrap();
    let now = server::workers::unix_millis();
    let names = vec!["device-1.pharos.test".to_owned()];
    let device = pki::make(
        pki::Profile::Server { hostnames: &names },
        &key,
        pki::Signer::Ca {
            der: ca_der,
            key: ca_key,
        },
        now,
        now + 86_400_000,
    )
    .unwrap();
    let chain_path = write(dir.path(), "client-chain.pem", &chain.text);
    let device_path = write(dir.path(), "device.pem", pki::pem(&device));
    let verified = openssl(&["verify", "-CAfile", &chain_path, &device_path], None);
    assert!(verified.contains(": OK"), "{verified}");
    // the device CA is not a web certificate, and web changes leave it alone
    let list = get(router, WEB).await.body;
    assert!(!list.to_string().contains("Pharos Device CA"));
    let root = new_root(router, "Another root", 3650).await;
    let leaf = new_signed(router, &root, &["localhost"]).await;
    assign_all(router, &leaf).await;
    assert_eq!(
        get(router, "/api/v1/certificates/client-chain").await.text,
        chain.text
    );
}

/// Each bad input gets its own message and changes nothing.
#[tokio::test]
async fn bad_input_is_refused_with_a_reason_and_changes_nothing() {
    use server::tls::pki;
    let env = Env::new(Db::Sqlite).await;
    let pharos = env.start().await;
    let router = &pharos.router;
    let root = new_root(router, "Short root", 30).await;
    let before = get(router, WEB).await.body;
    let now = server::workers::unix_millis();
    let day = 86_400_000;
    let other_key = pki::key_pem(
        &pki::generate_key(app::model::KeyAlgorithm::EcP256)
            .unwrap()
            .serialize_der(),
    );
    let key = pki::generate_key(app::model::KeyAlgorithm::EcP256).unwrap();
    let self_signed = |from: i64, to: i64| {
        pki::pem(
            &pki::make(
                pki::Profile::Ca { name: "Imported" },
                &key,
                pki::Signer::Itself,
                from,
                to,
            )
            .unwrap(),
        )
    };
    let valid = self_signed(now - day, now + 10 * day);
    let expired = self_signed(now - 10 * day, now - day);
    // a leaf whose issuer (an intermediate) is neither stored nor sent
    let inter_key = pki::generate_key(app::model::KeyAlgorithm::EcP256).unwrap();
    let inter = pki::make(
        pki::Profile::Ca {
            name: "Missing intermediate",
        },
        &inter_key,
        pki::Signer::Itself,
        now - day,
        now + 10 * day,
    )
    .unwrap();
    let orphan_key = pki::generate_key(app::model::KeyAlgorithm::EcP256).unwrap();
    let names = vec!["orphan.pharos.test".to_owned()];
    let orphan = pki::make(
        pki::Profile::Server { hostnames: &names },
        &orphan_key,
        pki::Signer::Ca {
            der: &inter,
            key: &inter_key,
        },
        now - day,
        now + 5 * day,
    )
    .unwrap();

    let cases: Vec<(&str, Value, StatusCode, &str)> = vec![
        (
            "garbage PEM",
            json!({"import": {"cert_pem": "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n", "key_pem": other_key}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not readable PEM",
        ),
        (
            "no PEM at all",
            json!({"import": {"cert_pem": "hello"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "no certificate found",
        ),
        (
            "a key that does not match",
            json!({"import": {"cert_pem": valid, "key_pem": other_key}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "does not belong",
        ),
        (
            "an expired import",
            json!({"import": {"cert_pem": expired, "key_pem": pki::key_pem(&key.serialize_der())}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "expired on",
        ),
        (
            "an incomplete chain",
            json!({"import": {"cert_pem": pki::pem(&orphan), "key_pem": pki::key_pem(&orphan_key.serialize_der())}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "chain is incomplete",
        ),
        (
            "a garbage key",
            json!({"import": {"cert_pem": valid, "key_pem": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "cannot be used",
        ),
        (
            "a bad PKCS#12 password",
            json!({"import": {"p12_base64": "AAAA", "password": "x"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "cannot be opened",
        ),
    ];
    for (what, body, status, message) in cases {
        let refused = post_json(router, &format!("{WEB}/roots"), body).await;
        assert_eq!(refused.status, status, "{what}: {}", refused.text);
        assert!(refused.text.contains(message), "{what}: {}", refused.text);
    }
    let long = format!("{}.pharos.test", "a".repeat(60)).repeat(5)[..256].to_owned();
    let signed_cases: Vec<(&str, Value, &str)> = vec![
        (
            "a wildcard in the wrong place",
            json!({"issuer": root, "servers": "all", "hostnames": ["a.*.pharos.test"]}),
            "only the leftmost",
        ),
        (
            "a wildcard over a top-level domain",
            json!({"issuer": root, "servers": "all", "hostnames": ["*.test"]}),
            "at least two name parts",
        ),
        (
            "a leaf longer than its issuer",
            json!({"issuer": root, "servers": "all", "hostnames": ["localhost"], "validity_days": 365}),
            "cannot outlive its issuer",
        ),
        (
            "a 256-character host name",
            json!({"issuer": root, "servers": "all", "hostnames": [long]}),
            "256 characters long",
        ),
        (
            "an unknown issuer",
            json!({"issuer": "ab".repeat(32), "servers": "all", "hostnames": ["localhost"]}),
            "no certificate of the list",
        ),
        (
            "an unknown server",
            json!({"issuer": root, "servers": ["nope"], "hostnames": ["localhost"]}),
            "no running server",
        ),
    ];
    for (what, body, message) in signed_cases {
        let refused = post_json(router, &format!("{WEB}/signed"), body).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{what}: {}",
            refused.text
        );
        assert!(refused.text.contains(message), "{what}: {}", refused.text);
    }
    let ca_assigned = post_json(
        router,
        &format!("{WEB}/{root}/assign"),
        json!({"servers": "all"}),
    )
    .await;
    assert_eq!(ca_assigned.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        ca_assigned.text.contains("is a CA certificate"),
        "{}",
        ca_assigned.text
    );
    let duplicate = post_json(
        router,
        &format!("{WEB}/roots"),
        json!({"import": {"cert_pem": export(router, &root, "pem").await}}),
    )
    .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT, "{}", duplicate.text);
    assert!(
        duplicate.text.contains("in the list already"),
        "{}",
        duplicate.text
    );
    let device_ca = get(router, "/api/v1/certificates/client-chain").await.text;
    let refused = post_json(
        router,
        &format!("{WEB}/roots"),
        json!({"import": {"cert_pem": device_ca}}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert!(refused.text.contains("device CA"), "{}", refused.text);
    assert_eq!(
        get(router, WEB).await.body,
        before,
        "a refusal changed the list"
    );
    let audit = get(router, "/api/v1/audit?area=certificates").await;
    assert_eq!(
        audit.body["entries"].as_array().map(Vec::len),
        Some(1),
        "only the root: {}",
        audit.text
    );

    // what is valid goes in: the self-signed CA with its key, then a leaf it signs
    let imported = post_json(
        router,
        &format!("{WEB}/roots"),
        json!({"import": {"cert_pem": valid, "key_pem": pki::key_pem(&key.serialize_der())}}),
    )
    .await;
    assert_eq!(imported.status, StatusCode::CREATED, "{}", imported.text);
}

/// Private keys are stored sealed: the database never holds one in the clear, and a server
/// given another secret key refuses to start, saying why.
#[tokio::test]
async fn private_keys_are_sealed_with_a_key_outside_the_database() {
    let env = Env::new(Db::Sqlite).await;
    let pharos = env.start().await;
    let device_ca = pharos.tls.device().unwrap();
    let plain = device_ca.key.serialize_der();
    let mut conn = sqlx::SqliteConnection::connect(&env.database_url())
        .await
        .unwrap();
    let sealed: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT sealed_key FROM certificates WHERE sealed_key IS NOT NULL")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert!(sealed.len() >= 3, "web root, device CA, server certificate");
    for blob in &sealed {
        assert!(
            !blob
                .windows(plain.len().min(32))
                .any(|w| plain.windows(32).next() == Some(w))
        );
    }
    assert!(!device_ca.der.is_empty());
    pharos.stop().await;
    let mut config = env.config("one", "standalone");
    config.secret_key = Some(server::config::Password::new(
        "b3RoZXItc2VjcmV0LWtleS0zMi1ieXRlcy1sb25nISE=",
    ));
    let refused = server::start(config, CancellationToken::new())
        .await
        .err()
        .expect("refused");
    let message = format!("{refused:#}");
    assert!(message.contains("PHAROS_SECRET_KEY"), "{message}");
}

/// With a cluster address on several servers, the check names each missing name and server;
/// its fix (one certificate with all names, assigned to all) makes it hold, and every server
/// presents that certificate within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_requirement_is_checked_and_fixed() {
    let env = Env::new(Db::Postgres).await;
    env.enable_distributed().await;
    let a = serve_tls(&env, "a", "standalone").await;
    let b = serve_tls(&env, "b", "standalone").await;
    let check = get(&a.router, &format!("{WEB}/check")).await.body;
    assert_eq!(check["applies"], false, "{check}");
    assert_eq!(check["ok"], true);
    let etag = get(&a.router, "/api/v1/settings/network").await.etag();
    let mut doc = defaults();
    doc["distributed"]["enabled"] = json!(true);
    doc["cluster_address"] = json!({"enabled": true, "host": "lb.pharos.test", "port": 443});
    assert_eq!(put(&a.router, &etag, &doc).await.status, StatusCode::OK);
    eventually(
        Duration::from_secs(5),
        "b sees the cluster address",
        || async { get(&b.router, &format!("{WEB}/check")).await.body["applies"] == true },
    )
    .await;
    let check = get(&b.router, &format!("{WEB}/check")).await.body;
    assert_eq!(check["ok"], false, "{check}");
    let missing = check["missing"].as_array().unwrap();
    assert_eq!(missing.len(), 2, "{check}");
    assert!(missing.iter().all(|m| {
        m["names"]
            .as_array()
            .unwrap()
            .contains(&json!("lb.pharos.test"))
    }));
    assert_eq!(
        check["servers_without"].as_array().unwrap().len(),
        2,
        "each presents its own: {check}"
    );
    assert!(check["problems"].to_string().contains("lb.pharos.test"));

    let fixed = post_json(
        &b.router,
        &format!("{WEB}/signed"),
        json!({"issuer": check["fix_issuer"], "servers": "all", "hostnames": check["fix_hostnames"], "assign": true}),
    )
    .await;
    assert_eq!(fixed.status, StatusCode::CREATED, "{}", fixed.text);
    let fp = fixed.body["fingerprint_sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let check = get(&a.router, &format!("{WEB}/check")).await.body;
    assert_eq!(
        (check["applies"].clone(), check["ok"].clone()),
        (json!(true), json!(true)),
        "{check}"
    );
    assert_eq!(b.tls.presented_fingerprint(), fp);
    // through the database's notification: milliseconds (the limit leaves room for a loaded
    // machine; the figure is printed)
    let since = std::time::Instant::now();
    eventually(
        Duration::from_secs(5),
        "a presents the new certificate",
        || async { a.tls.presented_fingerprint() == fp },
    )
    .await;
    println!(
        "the other server presented it {:?} after the answer",
        since.elapsed()
    );
    let addr = a.addr;
    let (shown, sans) = tokio::task::spawn_blocking(move || presented(addr))
        .await
        .unwrap();
    assert_eq!(shown, fp);
    assert!(sans.contains("DNS:lb.pharos.test"), "{sans}");
    // the device CA and the web root are one per installation, shared by both servers
    assert_eq!(a.tls.root_fingerprint(), b.tls.root_fingerprint());
    assert_eq!(
        get(&a.router, "/api/v1/certificates/client-chain")
            .await
            .text,
        get(&b.router, "/api/v1/certificates/client-chain")
            .await
            .text
    );
}

/// Certificates made by openssl go in: a root without its key, an intermediate with its key
/// (PEM), a server certificate with its chain as PKCS#12; the imported intermediate signs
/// certificates that openssl verifies under the imported root.
#[tokio::test]
async fn certificates_made_by_openssl_are_imported() {
    let env = Env::new(Db::Sqlite).await;
    let pharos = env.start().await;
    let router = &pharos.router;
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).display().to_string();
    let ext = write(
        dir.path(),
        "ext.cnf",
        "[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n\
         [leaf]\nbasicConstraints=CA:FALSE\nsubjectAltName=DNS:imported.pharos.test,IP:10.1.1.1\n\
         extendedKeyUsage=serverAuth\n",
    );
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &d("root.key"),
            "-out",
            &d("root.pem"),
            "-days",
            "3650",
            "-subj",
            "/CN=OpenSSL Root",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
        None,
    );
    openssl(
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &d("inter.key"),
            "-out",
            &d("inter.csr"),
            "-subj",
            "/CN=OpenSSL Intermediate",
        ],
        None,
    );
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            &d("inter.csr"),
            "-CA",
            &d("root.pem"),
            "-CAkey",
            &d("root.key"),
            "-CAcreateserial",
            "-out",
            &d("inter.pem"),
            "-days",
            "1000",
            "-extfile",
            &ext,
            "-extensions",
            "ca",
        ],
        None,
    );
    openssl(
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
            "-nodes",
            "-keyout",
            &d("leaf.key"),
            "-out",
            &d("leaf.csr"),
            "-subj",
            "/CN=imported.pharos.test",
        ],
        None,
    );
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            &d("leaf.csr"),
            "-CA",
            &d("inter.pem"),
            "-CAkey",
            &d("inter.key"),
            "-CAcreateserial",
            "-out",
            &d("leaf.pem"),
            "-days",
            "300",
            "-extfile",
            &ext,
            "-extensions",
            "leaf",
        ],
        None,
    );
    openssl(
        &[
            "pkcs12",
            "-export",
            "-inkey",
            &d("leaf.key"),
            "-in",
            &d("leaf.pem"),
            "-certfile",
            &d("inter.pem"),
            "-passout",
            "pass:p12-password",
            "-out",
            &d("leaf.p12"),
        ],
        None,
    );
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    let roots = format!("{WEB}/roots");
    let import = |body: Value| post_json(router, &roots, body);

    // the intermediate alone: its root is missing
    let refused =
        import(json!({"import": {"cert_pem": read("inter.pem"), "key_pem": read("inter.key")}}))
            .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text.contains("OpenSSL Root"), "{}", refused.text);
    let root = import(json!({"import": {"cert_pem": read("root.pem")}})).await;
    assert_eq!(root.status, StatusCode::CREATED, "{}", root.text);
    let root = root.body["fingerprint_sha256"].as_str().unwrap().to_owned();
    let inter =
        import(json!({"import": {"cert_pem": read("inter.pem"), "key_pem": read("inter.key")}}))
            .await;
    assert_eq!(inter.status, StatusCode::CREATED, "{}", inter.text);
    let inter = inter.body["fingerprint_sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    use base64::Engine;
    let p12 = base64::engine::general_purpose::STANDARD
        .encode(std::fs::read(dir.path().join("leaf.p12")).unwrap());
    let wrong = import(json!({"import": {"p12_base64": p12, "password": "not-it"}})).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    let leaf = import(json!({"import": {"p12_base64": p12, "password": "p12-password"}})).await;
    assert_eq!(leaf.status, StatusCode::CREATED, "{}", leaf.text);
    let leaf = leaf.body["fingerprint_sha256"].as_str().unwrap().to_owned();

    let list = get(router, WEB).await.body;
    let find = |fp: &str| {
        list["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["fingerprint_sha256"] == fp)
            .unwrap()
            .clone()
    };
    assert_eq!(find(&root)["has_key"], false);
    assert_eq!(find(&root)["self_signed"], true);
    assert_eq!(find(&inter)["issuer_fingerprint"], root);
    assert_eq!(find(&inter)["key_algorithm"], "RSA 2048");
    assert_eq!(find(&leaf)["issuer_fingerprint"], inter);
    assert_eq!(find(&leaf)["key_algorithm"], "EC P-384");
    assert_eq!(
        find(&leaf)["sans"],
        json!(["imported.pharos.test", "10.1.1.1"])
    );
    assert_eq!(find(&leaf)["has_key"], true);
    assign_all(router, &leaf).await;
    assert_eq!(pharos.tls.presented_fingerprint(), leaf);
    // a root without its key cannot sign; the intermediate can
    let refused = post_json(
        router,
        &format!("{WEB}/signed"),
        json!({"issuer": root, "servers": "all", "hostnames": ["x.pharos.test"]}),
    )
    .await;
    assert!(
        refused.text.contains("without its private key"),
        "{}",
        refused.text
    );
    let signed = new_signed(router, &inter, &["signed.pharos.test"]).await;
    let signed_path = write(
        dir.path(),
        "signed.pem",
        &export(router, &signed, "pem").await,
    );
    let verified = openssl(
        &[
            "verify",
            "-CAfile",
            &d("root.pem"),
            "-untrusted",
            &d("inter.pem"),
            &signed_path,
        ],
        None,
    );
    assert!(verified.contains(": OK"), "{verified}");
}

/// Every key algorithm on offer is generated and shown as what it is.
#[tokio::test]
async fn every_key_algorithm_is_generated() {
    let env = Env::new(Db::Sqlite).await;
    let pharos = env.start().await;
    for (algorithm, shown) in [
        ("ec-p256", "EC P-256"),
        ("ec-p384", "EC P-384"),
        ("rsa-2048", "RSA 2048"),
        ("rsa-3072", "RSA 3072"),
        ("rsa-4096", "RSA 4096"),
    ] {
        let made = post_json(
            &pharos.router,
            &format!("{WEB}/roots"),
            json!({"generate": {"algorithm": algorithm, "name": format!("Root {algorithm}")}}),
        )
        .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        let fp = made.body["fingerprint_sha256"].as_str().unwrap().to_owned();
        let list = get(&pharos.router, WEB).await.body;
        let entry = list["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["fingerprint_sha256"] == fp)
            .unwrap()
            .clone();
        assert_eq!(entry["key_algorithm"], shown);
        assert_eq!(entry["is_ca"], true);
        // 20 years by default
        assert!(
            entry["days_left"].as_i64().unwrap() >= 20 * 365 - 1,
            "{entry}"
        );
    }
    let unknown = post_json(
        &pharos.router,
        &format!("{WEB}/roots"),
        json!({"generate": {"algorithm": "dsa-1024", "name": "x"}}),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{}", unknown.text);
    assert!(
        unknown.text.contains("unknown variant `dsa-1024`"),
        "{}",
        unknown.text
    );
}

/// Two servers starting at the same moment on a new PostgreSQL database make one web root and
/// one device CA between them, and each its own certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_starting_together_make_one_set_of_cas() {
    let env = Env::new(Db::Postgres).await;
    let (a, b) = tokio::join!(
        env.start_as("a", "standalone"),
        env.start_as("b", "standalone")
    );
    assert_eq!(a.tls.root_fingerprint(), b.tls.root_fingerprint());
    assert_ne!(a.tls.presented_fingerprint(), b.tls.presented_fingerprint());
    let mut conn = PgConnection::connect(&env.database_url()).await.unwrap();
    let cas: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM certificates WHERE is_ca")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(cas, 2, "one web root, one device CA");
    assert_eq!(
        get(&a.router, "/api/v1/certificates/client-chain")
            .await
            .text,
        get(&b.router, "/api/v1/certificates/client-chain")
            .await
            .text
    );
}

/// Without PHAROS_SECRET_KEY, the key is made in the data directory, readable by its owner
/// only, and used again at the next start.
#[tokio::test]
async fn the_sealing_key_file_is_made_once() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new(Db::Sqlite).await;
    let mut config = env.config("one", "standalone");
    config.secret_key = None;
    let pharos = launch(config.clone(), CancellationToken::new()).await;
    let file = config.data_dir.join(server::tls::KEY_FILE);
    let key = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let presented = pharos.tls.presented_fingerprint();
    pharos.stop().await;
    let again = launch(config, CancellationToken::new()).await;
    assert_eq!(again.tls.presented_fingerprint(), presented);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), key);
}
