//! Devices known by their certificates, with curl and openssl as the independent clients over a
//! real HTTPS listener: a client certificate in the handshake, re-enrollment by it, the
//! enrollment path prefix, revocation and the CRL, and `X-SSL-CERT` believed only from a
//! trusted proxy.

use super::est::{new_key, request};
use super::tools::{self, b64, certs_of, openssl, serial_of, write};
use super::*;
use axum::extract::ConnectInfo;
use std::net::SocketAddr;
use std::path::Path;

const EC: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];

/// A server of `env` serving HTTPS on a port of its own, trusting 127.0.0.2 as a proxy.
struct Served {
    router: Router,
    base: String,
    _stop: tokio_util::sync::DropGuard,
}

async fn serve(env: &Env) -> Served {
    let token = CancellationToken::new();
    let mut config = env.config("one", "standalone");
    config.tls = true;
    config.trusted_proxies = vec!["127.0.0.2/32".parse().unwrap()];
    let pharos = launch(config, token.clone()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = pharos.router.clone();
    tokio::spawn(server::serve(pharos, listener));
    Served {
        router,
        base: format!("https://127.0.0.1:{}", addr.port()),
        _stop: token.drop_guard(),
    }
}

/// curl's status and body.
fn curl(args: &[&str]) -> (u16, String) {
    let answer = tools::curl(args);
    (answer.status, answer.body)
}

/// A device's key and certificate files, after enrolling.
struct DeviceFiles {
    cert: String,
    key: String,
    serial: String,
}

/// Reads an EST answer into a certificate file next to the key `key`.
fn keep(dir: &Path, name: &str, answer: &str, key: String) -> DeviceFiles {
    let pem = certs_of(answer);
    DeviceFiles {
        serial: serial_of(&pem),
        cert: write(dir, &format!("{name}.pem"), pem.as_bytes()),
        key,
    }
}

fn with_cert<'a>(device: &'a DeviceFiles, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["--cert", &device.cert, "--key", &device.key];
    all.extend_from_slice(args);
    all
}

/// Registers a device; its id.
async fn register(router: &Router, ip: &str, hostname: &str) -> i64 {
    let registered = post_json(
        router,
        "/api/v1/devices",
        json!({"ip": ip, "hostname": hostname}),
    )
    .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.text
    );
    registered.body["id"].as_i64().unwrap()
}

/// A request to the router as if it came from `peer`, with `X-SSL-CERT` holding `pem`.
async fn forwarded(router: &Router, peer: &str, uri: &str, pem: &str) -> (StatusCode, String) {
    // as nginx's `$ssl_client_escaped_cert`: spaces and line ends percent-escaped
    let escaped =
        percent_encoding::utf8_percent_encode(pem, percent_encoding::NON_ALPHANUMERIC).to_string();
    let mut request = Request::get(uri)
        .header("x-ssl-cert", escaped)
        .header(ANONYMOUS.0, ANONYMOUS.1)
        .body(Body::empty())
        .unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 40000)));
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

// on two threads: curl blocks its own while the server answers on the other
on_both_databases!(devices_enroll_prove_themselves_renew_and_are_revoked);

async fn devices_enroll_prove_themselves_renew_and_are_revoked(db: Db) {
    let env = Env::new(db).await;
    let served = serve(&env).await;
    let router = &served.router;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = write(d, "root.pem", get(router, "/ca.pem").await.text.as_bytes());
    let https = |path: &str| format!("{}{path}", served.base);

    // the enrollment address's prefix answers too, from the moment it is saved
    let prefix = "/device-connector/device";
    let prefixed = https(&format!("{prefix}/.well-known/est/cacerts"));
    let (status, _text) = curl(&["--cacert", &root, &prefixed]);
    assert_eq!(status, 404, "no prefix set yet: {_text}");
    let etag = get(router, "/api/v1/settings/network").await.etag();
    let mut doc = defaults();
    doc["enrollment_address"] =
        json!({"enabled": true, "host": "127.0.0.1", "port": 8443, "path_prefix": prefix});
    let saved = put(router, &etag, &doc).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    let (status, cacerts) = curl(&["--cacert", &root, &prefixed]);
    assert_eq!(status, 200, "{cacerts}");
    assert!(certs_of(&cacerts).contains("Pharos Device CA"));

    // a registered device whose host name the certificate names is linked to it
    let device_id = register(router, "127.0.9.1", "TC-0001").await;

    let (id, secret) = new_key(router, 1).await;
    let csr = write(d, "first.b64", b64(&request(d, "tc-0001", &EC)).as_bytes());
    let key = d.join("tc-0001.key").display().to_string();
    let user = format!("{id}:{secret}");
    let enroll_url = https(&format!("{prefix}/.well-known/est/simpleenroll"));
    let post = ["-H", "content-type: application/pkcs10", "--data-binary"];
    let body = format!("@{csr}");
    let enroll_args = [
        &["--cacert", &root, "-u", &user][..],
        &post,
        &[&body, &enroll_url],
    ]
    .concat();
    let (status, answer) = curl(&enroll_args);
    assert_eq!(status, 200, "{answer}");
    let first = keep(d, "first", &answer, key);
    // the same one-time key again
    let (status, again) = curl(&enroll_args);
    assert_eq!(status, 403, "{again}");
    assert!(again.contains("used as often as it allows"), "{again}");

    // the device proves itself in the handshake
    let whoami = https("/device/v1/whoami");
    let (status, me) = curl(&with_cert(&first, &["--cacert", &root, &whoami]));
    assert_eq!(status, 200, "{me}");
    let me: Value = serde_json::from_str(&me).unwrap();
    assert_eq!(me["subject"], "CN=tc-0001");
    assert_eq!(me["serial"], first.serial.as_str());
    assert_eq!(me["via"], "tls");
    assert_eq!(me["device_id"], device_id);
    let (status, anonymous) = curl(&["--cacert", &root, &whoami]);
    assert_eq!(status, 401, "{anonymous}");
    assert!(
        anonymous.contains("device certificate is needed"),
        "{anonymous}"
    );

    // a certificate of another CA, one that even bears the device CA's name, does not get
    // through the handshake
    let other = d.join("other").display().to_string();
    std::fs::create_dir(&other).unwrap();
    let f = |name: &str| format!("{other}/{name}");
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let impostor = [
        &[
            "req",
            "-x509",
            "-subj",
            "/CN=Pharos Device CA/O=Pharos",
            "-days",
            "2",
        ][..],
        &ec,
    ]
    .concat();
    let (ca_key, ca_cert) = (f("ca.key"), f("ca.pem"));
    openssl(
        &[&impostor[..], &["-keyout", &ca_key, "-out", &ca_cert]].concat(),
        None,
    );
    let (k, r) = (f("k.pem"), f("r.pem"));
    openssl(
        &[
            &["req", "-new", "-subj", "/CN=tc-0001"][..],
            &ec,
            &["-keyout", &k, "-out", &r],
        ]
        .concat(),
        None,
    );
    let ext = write(Path::new(&other), "ext", "extendedKeyUsage=clientAuth\n");
    let c = f("c.pem");
    openssl(
        &[
            "x509", "-req", "-in", &r, "-CA", &ca_cert, "-CAkey", &ca_key, "-days", "2",
            "-extfile", &ext, "-out", &c,
        ],
        None,
    );
    // the same name as the device CA, so only the signature tells them apart
    let real_ca = certs_of(&cacerts);
    let named =
        |args: &[&str], pem: &str| String::from_utf8(openssl(args, Some(pem.as_bytes()))).unwrap();
    assert_eq!(
        named(
            &["x509", "-noout", "-subject", "-nameopt", "RFC2253"],
            &real_ca
        )
        .replace("subject=", ""),
        named(
            &["x509", "-noout", "-issuer", "-nameopt", "RFC2253"],
            &std::fs::read_to_string(&c).unwrap()
        )
        .replace("issuer=", "")
    );
    let stranger = DeviceFiles {
        cert: format!("{other}/c.pem"),
        key: format!("{other}/k.pem"),
        serial: String::new(),
    };
    let (status, refused) = curl(&with_cert(&stranger, &["--cacert", &root, &whoami]));
    assert_eq!(status, 0, "the handshake is refused: {refused}");
    // nor forwarded by the trusted proxy
    let stranger_pem = std::fs::read_to_string(&stranger.cert).unwrap();
    let (status, text) = forwarded(router, "127.0.0.2", "/device/v1/whoami", &stranger_pem).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    assert!(
        text.contains("not issued by this installation's device CA"),
        "{text}"
    );

    // the trusted proxy's forwarded certificate counts; anyone else's header is ignored
    let first_pem = std::fs::read_to_string(&first.cert).unwrap();
    let (status, text) = forwarded(router, "127.0.0.2", "/device/v1/whoami", &first_pem).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("\"via\":\"proxy\""), "{text}");
    let (status, text) = forwarded(router, "127.0.0.3", "/device/v1/whoami", &first_pem).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{text}");
    let log = get(router, "/api/v1/security-log").await;
    assert!(
        log.text.contains("forwarded certificate ignored"),
        "{}",
        log.text
    );
    assert!(log.text.contains("127.0.0.3"), "{}", log.text);

    // re-enrollment by the certificate: same subject, a new key
    let renew_dir = d.join("renew");
    std::fs::create_dir(&renew_dir).unwrap();
    let renew_csr = write(
        d,
        "renew.b64",
        b64(&request(&renew_dir, "tc-0001", &EC)).as_bytes(),
    );
    let renew_key = renew_dir.join("tc-0001.key").display().to_string();
    let reenroll = https("/.well-known/est/simplereenroll");
    let renew_body = format!("@{renew_csr}");
    let renew_args = [&["--cacert", &root][..], &post, &[&renew_body, &reenroll]].concat();
    let (status, text) = curl(&renew_args);
    assert_eq!(status, 401, "no certificate, no re-enrollment: {text}");
    let (status, answer) = curl(&with_cert(&first, &renew_args));
    assert_eq!(status, 200, "{answer}");
    let second = keep(d, "second", &answer, renew_key);
    assert_ne!(second.serial, first.serial);
    // another subject is not a renewal
    let other_csr = write(
        d,
        "other.b64",
        b64(&request(&renew_dir, "tc-0002", &EC)).as_bytes(),
    );
    let other_body = format!("@{other_csr}");
    let other_args = [&["--cacert", &root][..], &post, &[&other_body, &reenroll]].concat();
    let (status, text) = curl(&with_cert(&second, &other_args));
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("must keep the subject"), "{text}");

    let list = get(router, "/api/v1/enrollment/certificates").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let certs = list.body["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2, "{}", list.text);
    let renewed = certs
        .iter()
        .find(|c| c["serial"] == second.serial.as_str())
        .unwrap();
    assert_eq!(renewed["renews"], first.serial.as_str());
    assert_eq!(renewed["state"], "valid");
    assert_eq!(renewed["device_id"], device_id);
    assert_eq!(renewed["not_after"].as_str().unwrap().len(), 20, "RFC 3339");

    // revoked: listed so, in the CRL, refused directly, and no renewal with it
    let revoke = format!("/api/v1/enrollment/certificates/{}/revoke", first.serial);
    let revoked = call(router, Method::POST, &revoke, &[], None).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    assert_eq!(revoked.body["state"], "revoked");
    let twice = call(router, Method::POST, &revoke, &[], None).await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.text);
    let unknown = call(
        router,
        Method::POST,
        "/api/v1/enrollment/certificates/abcd/revoke",
        &[],
        None,
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text);
    let crl = write(d, "crl.der", []);
    let (status, _) = curl(&["--cacert", &root, "-o", &crl, &https("/device-ca.crl")]);
    assert_eq!(status, 200);
    let chain = write(
        d,
        "chain.pem",
        get(router, "/api/v1/certificates/client-chain")
            .await
            .text
            .as_bytes(),
    );
    let text = String::from_utf8(openssl(
        &[
            "crl", "-inform", "DER", "-in", &crl, "-CAfile", &chain, "-noout", "-text",
        ],
        None,
    ))
    .unwrap();
    assert!(
        text.to_ascii_lowercase().contains(&first.serial),
        "the CRL lists {}:\n{text}",
        first.serial
    );
    // what was got with it goes with it: the renewal too
    assert!(
        text.to_ascii_lowercase().contains(&second.serial),
        "the CRL lists the renewal {}:\n{text}",
        second.serial
    );
    let (status, text) = curl(&with_cert(&first, &["--cacert", &root, &whoami]));
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("revoked"), "{text}");
    let (status, text) = curl(&with_cert(&first, &renew_args));
    assert_eq!(status, 403, "{text}");
    let (status, text) = curl(&with_cert(&second, &["--cacert", &root, &whoami]));
    assert_eq!(status, 403, "the renewal is revoked with it: {text}");
    let log = get(router, "/api/v1/security-log").await;
    assert!(
        log.text.contains("device certificate revoked"),
        "{}",
        log.text
    );
    assert!(
        log.text.contains("device certificate refused"),
        "{}",
        log.text
    );
    let audit = get(router, "/api/v1/audit?area=certificates").await;
    for action in [
        "\"enroll\"",
        "\"re-enroll\"",
        "\"revoke device certificate\"",
    ] {
        assert!(audit.text.contains(action), "{action}: {}", audit.text);
    }

    // a device registered after it enrolled is linked when it next shows up
    let (id, secret) = new_key(router, 1).await;
    let late = super::est::enroll(
        router,
        Some((&id, &secret)),
        "application/pkcs10",
        &b64(&request(d, "tc-late", &EC)),
    )
    .await;
    assert_eq!(late.status, StatusCode::OK, "{}", late.text);
    let late_pem = certs_of(&late.text);
    let (_, text) = forwarded(router, "127.0.0.2", "/device/v1/whoami", &late_pem).await;
    assert!(text.contains("\"device_id\":null"), "{text}");
    let late_id = register(router, "127.0.9.2", "tc-late").await;
    let (status, text) = forwarded(router, "127.0.0.2", "/device/v1/whoami", &late_pem).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains(&format!("\"device_id\":{late_id}")), "{text}");
    let list = get(router, "/api/v1/enrollment/certificates").await;
    let linked = list.body["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["serial"] == serial_of(&late_pem).as_str())
        .cloned()
        .unwrap();
    assert_eq!(linked["device_id"], late_id, "{}", list.text);
}
