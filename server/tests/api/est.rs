//! EST (RFC 7030) with openssl as the independent client: `cacerts`, `csrattrs`, a first
//! enrollment with a one-time key, and every refusal with its reason and nothing issued.

pub use super::tools::b64;
use super::tools::{certs_of, openssl};
use super::*;

const EST: &str = "/.well-known/est";

/// A key and a DER certificate request for `cn`, made by openssl.
pub fn request(dir: &std::path::Path, cn: &str, newkey: &[&str]) -> Vec<u8> {
    let key = dir.join(format!("{cn}.key")).display().to_string();
    let mut args = vec!["req", "-new", "-nodes", "-keyout", &key, "-outform", "DER"];
    args.extend_from_slice(newkey);
    let subject = format!("/CN={cn}");
    args.extend_from_slice(&["-subj", &subject]);
    openssl(&args, None)
}

pub async fn enroll(
    router: &Router,
    key: Option<(&str, &str)>,
    content_type: &str,
    body: &str,
) -> Reply {
    let basic;
    let mut headers = vec![("content-type", content_type)];
    if let Some((id, secret)) = key {
        use base64::Engine;
        basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
        );
        headers.push(("authorization", &basic));
    }
    call(
        router,
        Method::POST,
        &format!("{EST}/simpleenroll"),
        &headers,
        Some(body),
    )
    .await
}

pub async fn new_key(router: &Router, uses: u32) -> (String, String) {
    let made = call(
        router,
        Method::POST,
        "/api/v1/enrollment/keys",
        &[("content-type", "application/json")],
        Some(&json!({"uses": uses, "expires_in_minutes": 60}).to_string()),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    (
        made.body["id"].as_str().unwrap().to_owned(),
        made.body["secret"].as_str().unwrap().to_owned(),
    )
}

pub async fn issued_count(env: &Env) -> i64 {
    let mut conn = sqlx::SqliteConnection::connect(&env.database_url())
        .await
        .unwrap();
    sqlx::query_scalar("SELECT COUNT(*) FROM device_certificates")
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_device_enrolls_with_a_one_time_key() {
    let env = Env::new(Db::Sqlite).await;
    let pharos = env.start().await;
    let router = &pharos.router;
    let dir = tempfile::tempdir().unwrap();

    let cacerts = call(
        router,
        Method::GET,
        &format!("{EST}/cacerts"),
        &[ANONYMOUS],
        None,
    )
    .await;
    assert_eq!(cacerts.status, StatusCode::OK, "{}", cacerts.text);
    assert_eq!(
        cacerts.headers["content-type"],
        "application/pkcs7-mime; smime-type=certs-only"
    );
    assert_eq!(cacerts.headers["content-transfer-encoding"], "base64");
    let ca = certs_of(&cacerts.text);
    assert!(ca.contains("subject=CN = Pharos Device CA"), "{ca}");
    let chain = get(router, "/api/v1/certificates/client-chain").await.text;
    assert!(
        ca.contains(chain.trim()),
        "cacerts is the client chain:\n{ca}\n{chain}"
    );
    let csrattrs = call(
        router,
        Method::GET,
        &format!("{EST}/csrattrs"),
        &[ANONYMOUS],
        None,
    )
    .await;
    assert_eq!(csrattrs.status, StatusCode::NO_CONTENT);

    let (id, secret) = new_key(router, 1).await;
    // a name it asks for is not one the device CA vouches for
    let csr = request(
        dir.path(),
        "device-001",
        &[
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-addext",
            "subjectAltName=DNS:bank.example",
        ],
    );
    // RFC 8951: base64 with line breaks
    let body: String = b64(&csr)
        .as_bytes()
        .chunks(64)
        .map(|l| format!("{}\r\n", std::str::from_utf8(l).unwrap()))
        .collect();
    let issued = enroll(router, Some((&id, &secret)), "application/pkcs10", &body).await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.text);
    assert_eq!(
        issued.headers["content-type"],
        "application/pkcs7-mime; smime-type=certs-only"
    );
    let cert = certs_of(&issued.text);
    assert!(cert.contains("subject=CN = device-001"), "{cert}");
    let cert_path = dir.path().join("device.pem");
    std::fs::write(&cert_path, &cert).unwrap();
    let chain_path = dir.path().join("chain.pem");
    std::fs::write(&chain_path, &chain).unwrap();
    let verified = openssl(
        &[
            "verify",
            "-purpose",
            "sslclient",
            "-CAfile",
            &chain_path.display().to_string(),
            &cert_path.display().to_string(),
        ],
        None,
    );
    assert!(String::from_utf8_lossy(&verified).contains(": OK"));
    let text =
        String::from_utf8(openssl(&["x509", "-noout", "-text"], Some(cert.as_bytes()))).unwrap();
    assert!(text.contains("TLS Web Client Authentication"), "{text}");
    assert!(text.contains("CA:FALSE"), "{text}");
    assert!(!text.contains("bank.example"), "{text}");
    assert_eq!(issued_count(&env).await, 1);

    // the same key again: used up
    let again = enroll(router, Some((&id, &secret)), "application/pkcs10", &body).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN, "{}", again.text);
    assert!(
        again.text.contains("used as often as it allows"),
        "{}",
        again.text
    );
    let audit = get(router, "/api/v1/audit?area=certificates").await;
    assert!(
        audit.text.contains("\"enroll\"") && audit.text.contains(&format!("enrollment key {id}")),
        "{}",
        audit.text
    );
}

/// What is sent, with which key and media type, and the status and words of the refusal.
type Case<'a> = (
    &'a str,
    Option<(&'a str, &'a str)>,
    &'a str,
    String,
    StatusCode,
    &'a str,
);

#[tokio::test]
async fn bad_requests_are_refused_and_issue_nothing() {
    let env = Env::new(Db::Sqlite).await;
    let pharos = env.start().await;
    let router = &pharos.router;
    let dir = tempfile::tempdir().unwrap();
    let (id, secret) = new_key(router, 5).await;
    let key = Some((id.as_str(), secret.as_str()));
    let good = request(
        dir.path(),
        "device-good",
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    let weak = request(dir.path(), "device-weak", &["-newkey", "rsa:1024"]);
    let odd = request(
        dir.path(),
        "device-odd",
        &[
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-addext",
            "nsComment=an extension Pharos does not sign",
        ],
    );
    let p521 = request(
        dir.path(),
        "device-p521",
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-521"],
    );
    let sha1 = request(
        dir.path(),
        "device-sha1",
        &[
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-sha1",
        ],
    );
    let two_names = {
        let key = dir.path().join("two.key").display().to_string();
        let newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
        let mut args = vec!["req", "-new", "-nodes", "-keyout", &key, "-outform", "DER"];
        args.extend_from_slice(&newkey);
        args.extend_from_slice(&["-subj", "/CN=device-a/CN=device-b"]);
        openssl(&args, None)
    };
    let mut forged = good.clone();
    let last = forged.len() - 3;
    forged[last] ^= 0x55;
    let no_cn = {
        let key = dir.path().join("nocn.key").display().to_string();
        openssl(
            &[
                "req",
                "-new",
                "-nodes",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-keyout",
                &key,
                "-outform",
                "DER",
                "-subj",
                "/O=Nobody",
            ],
            None,
        )
    };
    let cases: Vec<Case> = vec![
        (
            "garbage base64",
            key,
            "application/pkcs10",
            "@@not base64@@".into(),
            StatusCode::BAD_REQUEST,
            "not valid base64",
        ),
        (
            "truncated",
            key,
            "application/pkcs10",
            b64(&good[..good.len() / 2]),
            StatusCode::BAD_REQUEST,
            "not a DER PKCS#10",
        ),
        (
            "empty",
            key,
            "application/pkcs10",
            String::new(),
            StatusCode::BAD_REQUEST,
            "empty",
        ),
        (
            "a bad signature",
            key,
            "application/pkcs10",
            b64(&forged),
            StatusCode::BAD_REQUEST,
            "signature does not verify",
        ),
        (
            "an extension Pharos does not sign",
            key,
            "application/pkcs10",
            b64(&odd),
            StatusCode::BAD_REQUEST,
            "cannot be signed as it is",
        ),
        (
            "a weak key",
            key,
            "application/pkcs10",
            b64(&weak),
            StatusCode::BAD_REQUEST,
            "1024 bits is too weak",
        ),
        (
            "a curve other than P-256 and P-384",
            key,
            "application/pkcs10",
            b64(&p521),
            StatusCode::BAD_REQUEST,
            "use P-256 or P-384",
        ),
        (
            "a SHA-1 signature",
            key,
            "application/pkcs10",
            b64(&sha1),
            StatusCode::BAD_REQUEST,
            "SHA-1",
        ),
        (
            "two common names",
            key,
            "application/pkcs10",
            b64(&two_names),
            StatusCode::BAD_REQUEST,
            "more than one common name",
        ),
        (
            "a body too large",
            key,
            "application/pkcs10",
            "A".repeat(40 * 1024),
            StatusCode::PAYLOAD_TOO_LARGE,
            "at most",
        ),
        (
            "no common name",
            key,
            "application/pkcs10",
            b64(&no_cn),
            StatusCode::BAD_REQUEST,
            "no common name",
        ),
        (
            "a wrong content type",
            key,
            "application/json",
            b64(&good),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "application/pkcs10",
        ),
        (
            "no key",
            None,
            "application/pkcs10",
            b64(&good),
            StatusCode::UNAUTHORIZED,
            "enrollment key is needed",
        ),
        (
            "a wrong secret",
            Some((id.as_str(), "guess")),
            "application/pkcs10",
            b64(&good),
            StatusCode::UNAUTHORIZED,
            "wrong secret",
        ),
    ];
    for (what, key, content_type, body, status, message) in cases {
        let refused = enroll(router, key, content_type, &body).await;
        assert_eq!(refused.status, status, "{what}: {}", refused.text);
        assert!(refused.text.contains(message), "{what}: {}", refused.text);
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(
                refused.headers["www-authenticate"],
                "Basic realm=\"Pharos EST\""
            );
        }
    }
    assert_eq!(issued_count(&env).await, 0, "nothing issued");
    let keys = get(router, "/api/v1/enrollment/keys").await;
    assert_eq!(
        keys.body["keys"][0]["uses_left"], 5,
        "a refused request costs no use"
    );
    // an expired key
    sql(
        &env,
        &format!("UPDATE enrollment_keys SET expires_at = 1000 WHERE id = '{id}'"),
    )
    .await;
    let expired = enroll(router, key, "application/pkcs10", &b64(&good)).await;
    assert_eq!(expired.status, StatusCode::FORBIDDEN, "{}", expired.text);
    assert!(expired.text.contains("expired"), "{}", expired.text);
    assert_eq!(issued_count(&env).await, 0);
    // every refusal is in the security log, with its reason
    let log = get(router, "/api/v1/security-log?limit=100").await;
    for reason in [
        "not valid base64",
        "signature does not verify",
        "SHA-1",
        "expired",
        "an enrollment key is needed",
        "send the certificate request as application/pkcs10",
        "a certificate request is at most",
    ] {
        assert!(log.text.contains(reason), "{reason}: {}", log.text);
    }
    assert!(log.text.contains("enrollment refused"), "{}", log.text);
}
