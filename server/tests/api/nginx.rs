//! Pharos behind a real nginx, configured with `docs/nginx/pharos.conf` as
//! `docs/reverse-proxy.md` tells users to (started by `scripts/nginx-for-tests` on loopback
//! ports, never the system service), with curl and openssl as the independent clients: the
//! addresses Pharos advertises are the proxy's, a device enrolls through the enrollment listener
//! and proves itself through the device listener, a revoked certificate is refused by nginx (CRL)
//! and by Pharos, a forged `X-SSL-CERT` gets nowhere, and the audit log records the client's
//! address, not nginx's.

use super::tools::{certs_of, curl, openssl, serial_of, write};
use super::*;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

const NGINX: &str = "/usr/sbin/nginx";
const PREFIX: &str = "/device-connector/device";
/// nginx connects to Pharos from this address; Pharos trusts it and nobody else.
const PROXY_BIND: &str = "127.0.0.2";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// nginx in the foreground, stopped when dropped (also when the test panics).
struct Nginx {
    child: Child,
    dir: PathBuf,
    web: u16,
    device: u16,
    enroll: u16,
}

impl Nginx {
    fn start(dir: &Path, pharos: SocketAddr) -> Nginx {
        assert!(
            Path::new(NGINX).exists() || Command::new("nginx").arg("-v").output().is_ok(),
            "nginx is not installed: run scripts/setup --test"
        );
        let (web, device, enroll) = (free_port(), free_port(), free_port());
        let log = std::fs::File::create(dir.join("nginx.out")).unwrap();
        let child = Command::new(repo().join("scripts/nginx-for-tests"))
            .args([dir.to_str().unwrap(), &pharos.to_string()])
            .args([web, device, enroll].map(|p| p.to_string()))
            .arg(PREFIX)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("scripts/nginx-for-tests runs");
        let mut nginx = Nginx {
            child,
            dir: dir.to_owned(),
            web,
            device,
            enroll,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while [web, device, enroll]
            .iter()
            .any(|port| std::net::TcpStream::connect(("127.0.0.1", *port)).is_err())
        {
            if let Some(status) = nginx.child.try_wait().unwrap() {
                panic!("nginx stopped ({status}): {}", nginx.output());
            }
            assert!(
                std::time::Instant::now() < deadline,
                "nginx did not listen: {}",
                nginx.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        nginx
    }

    fn output(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        format!("{}{}", read("nginx.out"), read("error.log"))
    }

    fn file(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// What an administrator's cron job does: the CRL fetched again, and nginx reloaded.
    fn refresh_crl(&self, pharos: SocketAddr) {
        let refreshed = Command::new(repo().join("docs/nginx/refresh-crl"))
            .args([
                &format!("https://{pharos}"),
                &self.file("pharos-ca.pem"),
                &self.file("device-ca.crl.pem"),
            ])
            .output()
            .unwrap();
        assert!(refreshed.status.success(), "{refreshed:?}");
        let reloaded = Command::new(NGINX)
            .args(["-p", &self.file(""), "-c", &self.file("nginx.conf")])
            .args(["-e", "stderr", "-s", "reload"])
            .output()
            .unwrap();
        assert!(reloaded.status.success(), "{reloaded:?}");
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers (SIGKILL would leave them listening)
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A new EC P-256 key at `key` and a base64 DER request for `cn`, both made by openssl.
fn request(key: &str, cn: &str) -> String {
    let der = openssl(
        &[
            "req",
            "-new",
            "-nodes",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-keyout",
            key,
            "-outform",
            "DER",
            "-subj",
            &format!("/CN={cn}"),
        ],
        None,
    );
    super::tools::b64(&der)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_nginx() {
    let env = Env::new(Db::Sqlite).await;
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    let mut config = env.config("one", "standalone");
    config.tls = true;
    config.trusted_proxies = vec![format!("{PROXY_BIND}/32").parse().unwrap()];
    // the router as it is served: no test layer signing requests in
    let pharos = server::start(config, stop).await.expect("server starts");
    let router = pharos.router.clone();
    let token = token_for(&router, "admin", ADMIN_PASSWORD).await;
    let bearer = format!("Authorization: Bearer {token}");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server::serve(pharos, listener));
    let admin = |method, uri: &str, body: Option<&str>| {
        let (router, bearer) = (router.clone(), format!("Bearer {token}"));
        let uri = uri.to_owned();
        let body = body.map(str::to_owned);
        async move {
            let headers = [
                ("authorization", bearer.as_str()),
                ("content-type", "application/json"),
            ];
            call(&router, method, &uri, &headers, body.as_deref()).await
        }
    };

    // nginx's files, as an administrator sets them up: Pharos's root, the exported client chain
    let dir = env.dir.path().join("nginx");
    std::fs::create_dir_all(&dir).unwrap();
    let ca = get(&router, "/ca.pem").await;
    assert_eq!(ca.status, StatusCode::OK);
    let pharos_ca = write(&dir, "pharos-ca.pem", &ca.text);
    let chain = admin(Method::GET, "/api/v1/certificates/client-chain", None).await;
    assert_eq!(chain.status, StatusCode::OK, "{}", chain.text);
    write(&dir, "client-chain.pem", &chain.text);
    let nginx = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || Nginx::start(&dir, addr)
    })
    .await
    .unwrap();
    let nginx_ca = nginx.file("nginx-ca.pem");
    let web = format!("https://127.0.0.1:{}", nginx.web);
    let device = format!("https://127.0.0.1:{}", nginx.device);
    let enrollment = format!("https://127.0.0.1:{}", nginx.enroll);
    let pharos_url = format!("https://127.0.0.1:{}", addr.port());

    // the settings point devices at nginx, saved through nginx's web listener
    let etag = admin(Method::GET, app::api::SETTINGS_URL, None)
        .await
        .etag();
    let mut doc = defaults();
    doc["cluster_address"] = json!({"enabled": true, "host": "127.0.0.1", "port": nginx.device});
    doc["enrollment_address"] = json!({
        "enabled": true, "host": "127.0.0.1", "port": nginx.enroll, "path_prefix": PREFIX,
    });
    let saved = curl(&[
        "--cacert",
        &nginx_ca,
        "-X",
        "PUT",
        "-H",
        &bearer,
        "-H",
        "Content-Type: application/json",
        "-H",
        &format!("If-Match: {etag}"),
        "--data-binary",
        &doc.to_string(),
        &format!("{web}{}", app::api::SETTINGS_URL),
    ]);
    assert_eq!(saved.status, 200, "{}", saved.body);

    // the web listener forwards the client's address: curl's, not nginx's
    let audit = admin(Method::GET, app::api::AUDIT_URL, None).await;
    let sources: Vec<&Value> = audit.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["field"]
                .as_str()
                .unwrap_or("")
                .ends_with("enrollment_address.host")
        })
        .map(|e| &e["source"])
        .collect();
    assert!(!sources.is_empty(), "{}", audit.text);
    assert!(sources.iter().all(|s| *s == "127.0.0.1"), "{}", audit.text);
    // X-Forwarded-For from anyone but nginx is not believed
    let etag = admin(Method::GET, app::api::SETTINGS_URL, None)
        .await
        .etag();
    doc["scan"]["timeout_ms"] = json!(7000);
    let direct = curl(&[
        "--cacert",
        &pharos_ca,
        "-X",
        "PUT",
        "-H",
        &bearer,
        "-H",
        "Content-Type: application/json",
        "-H",
        &format!("If-Match: {etag}"),
        "-H",
        "X-Forwarded-For: 10.9.9.9",
        "--data-binary",
        &doc.to_string(),
        &format!("{pharos_url}{}", app::api::SETTINGS_URL),
    ]);
    assert_eq!(direct.status, 200, "{}", direct.body);
    let audit = admin(Method::GET, app::api::AUDIT_URL, None).await;
    let entry = audit.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == "settings.network.scan.timeout_ms")
        .unwrap_or_else(|| panic!("{}", audit.text));
    assert_eq!(entry["source"], "127.0.0.1", "{entry}");

    // server-sent events come through the web listener unbuffered
    let events = curl(&[
        "--cacert",
        &nginx_ca,
        "-N",
        "--max-time",
        "2",
        "-H",
        &bearer,
        &format!("{web}{}", app::api::EVENTS_URL),
    ]);
    assert!(
        events.body.contains("\"type\":\"resync\""),
        "{}",
        events.body
    );

    // the addresses Pharos advertises (API and page preview) are the ones used below
    let settings: app::model::NetworkSettings =
        serde_json::from_value(admin(Method::GET, app::api::SETTINGS_URL, None).await.body)
            .unwrap();
    let status: app::api::ServerStatus =
        serde_json::from_value(admin(Method::GET, app::api::SERVER_URL, None).await.body).unwrap();
    let advertised =
        |kind| app::model::device_endpoint(&settings, &status.device_address, kind).target;
    let est = format!("{enrollment}{PREFIX}/.well-known/est");
    assert_eq!(advertised(app::model::RequestKind::Os12Onboarding), est);
    assert_eq!(
        advertised(app::model::RequestKind::Os12Communication),
        device
    );
    let page = curl(&[
        "--cacert",
        &nginx_ca,
        "-H",
        &bearer,
        &format!("{web}/settings/network"),
    ]);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(&est),
        "the page's preview: {}",
        page.body
    );
    assert!(
        page.body.contains(&device),
        "the page's preview: {}",
        page.body
    );

    // cacerts through the enrollment listener at the prefix: the device CA, the client chain
    let cacerts = curl(&["--cacert", &nginx_ca, &format!("{est}/cacerts")]);
    assert_eq!(cacerts.status, 200, "{}", cacerts.body);
    assert_eq!(
        serial_of(&certs_of(&cacerts.body)),
        serial_of(&chain.text),
        "cacerts is the exported client chain"
    );
    // nothing else is reachable there
    let elsewhere = curl(&[
        "--cacert",
        &nginx_ca,
        "-H",
        &bearer,
        &format!("{enrollment}{}", app::api::SETTINGS_URL),
    ]);
    assert_eq!(elsewhere.status, 404, "{}", elsewhere.body);

    // a first enrollment with a one-time key, through the enrollment listener
    let key = admin(
        Method::POST,
        "/api/v1/enrollment/keys",
        Some(r#"{"uses": 1, "expires_in_minutes": 30, "note": "nginx"}"#),
    )
    .await;
    assert_eq!(key.status, StatusCode::CREATED, "{}", key.text);
    let basic = format!(
        "{}:{}",
        key.body["id"].as_str().unwrap(),
        key.body["secret"].as_str().unwrap()
    );
    let device_key = dir.join("device.key").display().to_string();
    let csr = write(&dir, "device.csr", request(&device_key, "nginx-device-1"));
    let enroll = |base: &str, auth: &[&str], csr: &str| {
        let mut args = vec![
            "--cacert",
            &nginx_ca,
            "-H",
            "Content-Type: application/pkcs10",
            "--data-binary",
        ];
        let data = format!("@{csr}");
        let url = format!("{base}/simpleenroll");
        args.push(&data);
        args.extend_from_slice(auth);
        args.push(&url);
        curl(&args)
    };
    let issued = enroll(&est, &["-u", &basic], &csr);
    assert_eq!(issued.status, 200, "{}", issued.body);
    let device_cert = write(&dir, "device.pem", certs_of(&issued.body));
    let again = enroll(&est, &["-u", &basic], &csr);
    assert_eq!(again.status, 403, "the key was for one use: {}", again.body);

    // whoami through the device listener, as the certificate nginx verified and forwarded
    let whoami = |cert: &str, key: &str, base: &str, ca: &str| {
        curl(&[
            "--cacert",
            ca,
            "--cert",
            cert,
            "--key",
            key,
            &format!("{base}{}", app::api::WHOAMI_URL),
        ])
    };
    let me = whoami(&device_cert, &device_key, &device, &nginx_ca);
    assert_eq!(me.status, 200, "{}", me.body);
    let me: Value = serde_json::from_str(&me.body).unwrap();
    assert_eq!(me["via"], "proxy", "{me}");
    assert!(
        me["subject"].as_str().unwrap().contains("nginx-device-1"),
        "{me}"
    );
    let first_serial = serial_of(&std::fs::read_to_string(&device_cert).unwrap());
    assert_eq!(
        me["serial"]
            .as_str()
            .unwrap()
            .to_ascii_lowercase()
            .replace(':', ""),
        first_serial
    );
    // no certificate: nginx forwards none, Pharos says who it wants
    let nobody = curl(&[
        "--cacert",
        &nginx_ca,
        &format!("{device}{}", app::api::WHOAMI_URL),
    ]);
    assert_eq!(nobody.status, 401, "{}", nobody.body);
    // devices speak TLS 1.3
    let old = curl(&[
        "--cacert",
        &nginx_ca,
        "--tls-max",
        "1.2",
        &format!("{device}{}", app::api::WHOAMI_URL),
    ]);
    assert_eq!(
        old.status, 0,
        "TLS 1.2 refused by the device listener: {}",
        old.body
    );

    // re-enrollment needs the certificate: not at the enrollment listener, at the device listener
    let renewed_key = dir.join("renewed.key").display().to_string();
    let csr = write(&dir, "renewed.csr", request(&renewed_key, "nginx-device-1"));
    let reenroll = |base: &str, cert: &str, key: &str| {
        curl(&[
            "--cacert",
            &nginx_ca,
            "--cert",
            cert,
            "--key",
            key,
            "-H",
            "Content-Type: application/pkcs10",
            "--data-binary",
            &format!("@{csr}"),
            &format!("{base}/simplereenroll"),
        ])
    };
    let refused = reenroll(&est, &device_cert, &device_key);
    assert_eq!(
        refused.status, 401,
        "no certificate reaches Pharos there: {}",
        refused.body
    );
    let renewed = reenroll(
        &format!("{device}{PREFIX}/.well-known/est"),
        &device_cert,
        &device_key,
    );
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    let renewed_cert = write(&dir, "renewed.pem", certs_of(&renewed.body));
    let renewed_serial = serial_of(&std::fs::read_to_string(&renewed_cert).unwrap());
    let me = whoami(&renewed_cert, &renewed_key, &device, &nginx_ca);
    assert_eq!(me.status, 200, "{}", me.body);
    assert!(me.body.contains("nginx-device-1"), "{}", me.body);

    // revoked: Pharos refuses it at once, nginx once its CRL is refreshed
    let list = admin(Method::GET, "/api/v1/enrollment/certificates", None).await;
    let listed = list.body["certificates"]
        .as_array()
        .or_else(|| list.body.as_array())
        .unwrap_or_else(|| panic!("{}", list.text))
        .iter()
        .find(|c| {
            c["serial"]
                .as_str()
                .unwrap()
                .to_ascii_lowercase()
                .replace(':', "")
                == renewed_serial
        })
        .unwrap_or_else(|| panic!("{renewed_serial} in {}", list.text))
        .clone();
    let revoked = admin(
        Method::POST,
        &format!(
            "/api/v1/enrollment/certificates/{}/revoke",
            listed["serial"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert!(
        revoked.status.is_success(),
        "{} {}",
        revoked.status,
        revoked.text
    );
    let by_pharos = whoami(&renewed_cert, &renewed_key, &pharos_url, &pharos_ca);
    assert_eq!(by_pharos.status, 403, "{}", by_pharos.body);
    assert!(by_pharos.body.contains("revoked"), "{}", by_pharos.body);
    let stale_crl = whoami(&renewed_cert, &renewed_key, &device, &nginx_ca);
    assert_eq!(
        stale_crl.status, 403,
        "Pharos refuses it behind nginx too: {}",
        stale_crl.body
    );
    assert!(stale_crl.body.contains("revoked"), "{}", stale_crl.body);
    let crl = curl(&[
        "--cacert",
        &pharos_ca,
        "-o",
        "/dev/null",
        &format!("{pharos_url}/device-ca.crl"),
    ]);
    assert_eq!(crl.status, 200, "the CRL is anonymous: {}", crl.body);
    let nginx = tokio::task::spawn_blocking(move || {
        nginx.refresh_crl(addr);
        nginx
    })
    .await
    .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let by_nginx = loop {
        let answer = whoami(&renewed_cert, &renewed_key, &device, &nginx_ca);
        if answer.status == 400 || std::time::Instant::now() > deadline {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(by_nginx.status, 400, "nginx refuses it: {}", by_nginx.body);
    assert!(
        by_nginx.body.contains("nginx"),
        "the answer is nginx's: {}",
        by_nginx.body
    );
    let still = whoami(&device_cert, &device_key, &device, &nginx_ca);
    assert_eq!(
        still.status, 200,
        "a certificate not revoked still passes: {}",
        still.body
    );

    // a forged X-SSL-CERT: ignored from a peer that is not nginx, and logged
    let escaped: String = url::form_urlencoded::byte_serialize(
        std::fs::read_to_string(&device_cert).unwrap().as_bytes(),
    )
    .collect::<String>()
    .replace('+', "%20");
    let forged = format!("X-SSL-CERT: {escaped}");
    let straight = curl(&[
        "--cacert",
        &pharos_ca,
        "-H",
        &forged,
        &format!("{pharos_url}{}", app::api::WHOAMI_URL),
    ]);
    assert_eq!(straight.status, 401, "{}", straight.body);
    let log = admin(Method::GET, app::api::SECURITY_LOG_URL, None).await;
    let logged = log.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "forwarded certificate ignored")
        .unwrap_or_else(|| panic!("{}", log.text));
    assert_eq!(logged["source"], "127.0.0.1", "{logged}");
    // nor does one sent through the web listener (nginx clears it: no certificate, 401) or the
    // enrollment listener (re-enrollment there has no certificate to go by: 401)
    let through_web = curl(&[
        "--cacert",
        &nginx_ca,
        "-H",
        &forged,
        &format!("{web}{}", app::api::WHOAMI_URL),
    ]);
    assert_eq!(through_web.status, 401, "{}", through_web.body);
    let body = format!("@{csr}");
    let through_enrollment = curl(&[
        "--cacert",
        &nginx_ca,
        "-H",
        &forged,
        "-H",
        "content-type: application/pkcs10",
        "--data-binary",
        &body,
        &format!("{enrollment}{PREFIX}/.well-known/est/simplereenroll"),
    ]);
    assert_eq!(
        through_enrollment.status, 401,
        "{}",
        through_enrollment.body
    );
    drop(nginx);
}
