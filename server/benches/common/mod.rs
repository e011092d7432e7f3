//! What both benchmark harnesses need: the release binaries, child processes that stop when
//! dropped, free ports, medians, CPU time, and requests over HTTP or HTTPS.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn binary(relative: &str) -> PathBuf {
    let path = workspace().join("target/release").join(relative);
    assert!(
        path.is_file(),
        "{} is missing: run the benchmark with scripts/bench, which builds it",
        path.display()
    );
    path
}

/// A child process that is stopped when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `host:port` of an `http://` or `https://` URL.
fn address(url: &str) -> &str {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url);
    rest.split('/').next().unwrap()
}

pub fn wait_ready(url: &str, child: &mut Process) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let addr = address(url).to_owned();
    while Instant::now() < deadline {
        if let Some(status) = child.0.try_wait().unwrap() {
            panic!("{url} exited at start: {status}");
        }
        if std::net::TcpStream::connect(&addr).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{url} did not start");
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

/// CPU seconds the process has used so far (user + system, every thread; 10 ms resolution).
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // the fields after the command name, which is in parentheses
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0 // USER_HZ
}

/// CPU seconds used so far by this process's children that ended and were waited for (user +
/// system): around one child's run, what that child used.
#[allow(dead_code)] // (the HTTP benchmark's, not the discovery one's)
pub fn children_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: f64 = fields[13].parse::<f64>().unwrap() + fields[14].parse::<f64>().unwrap();
    ticks / 100.0
}

/// TCP connections accepted on this machine (its network namespace) so far: `PassiveOpens` of
/// `/proc/net/snmp`.
#[allow(dead_code)] // (the HTTP benchmark's, not the discovery one's)
pub fn tcp_passive_opens() -> u64 {
    let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap();
    let mut tcp = snmp.lines().filter(|l| l.starts_with("Tcp:"));
    let (names, values) = (tcp.next().unwrap(), tcp.next().unwrap());
    let i = names
        .split_whitespace()
        .position(|n| n == "PassiveOpens")
        .unwrap();
    values.split_whitespace().nth(i).unwrap().parse().unwrap()
}

/// Starts `command` (the release `pharos`, perhaps behind `taskset`, with the variables of its
/// benchmark) on a free port and the data directory `data`, its log in `log`, serving HTTPS (as
/// users run it) or plain HTTP (`PHAROS_TLS=off`); answers its URL (`https://…` or `http://…`)
/// once it accepts connections.
pub fn start_pharos(
    mut command: Command,
    data: &Path,
    log: std::fs::File,
    tls: bool,
) -> (Process, String) {
    let port = free_port();
    std::fs::create_dir_all(data).unwrap();
    let mut child = Process(
        command
            .current_dir(workspace())
            .env("PHAROS_LISTEN", format!("127.0.0.1:{port}"))
            .env("PHAROS_DATA_DIR", data)
            .env("PHAROS_TLS", if tls { "on" } else { "off" })
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start pharos"),
    );
    let scheme = if tls { "https" } else { "http" };
    let url = format!("{scheme}://127.0.0.1:{port}");
    wait_ready(&url, &mut child);
    (child, url)
}

/// The superuser's password of every server a benchmark starts.
pub const ADMIN_PASSWORD: &str = "bench-superuser-2026";

/// A certificate verifier that accepts any chain (as `curl -k` does) but still checks the
/// handshake's signatures: only to fetch a server's `/ca.pem`, which then verifies the rest.
#[derive(Debug)]
struct AnyChain(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyChain {
    fn verify_server_cert(
        &self,
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &[rustls_pki_types::CertificateDer<'_>],
        _: &rustls_pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The TLS client configuration for the server at `url`: it trusts only the root the server
/// serves at `/ca.pem` (fetched once, over a connection that accepts any chain), so every later
/// request checks that the server presents a chain of that root naming `127.0.0.1`.
fn tls_client(url: &str) -> Arc<rustls::ClientConfig> {
    static TRUSTED: Mutex<Option<HashMap<String, Arc<rustls::ClientConfig>>>> = Mutex::new(None);
    if let Some(config) = TRUSTED.lock().unwrap().get_or_insert_default().get(url) {
        return config.clone();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let any = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyChain(provider.clone())))
        .with_no_client_auth();
    let (status, _, pem) = exchange(url, Some(Arc::new(any)), "GET /ca.pem HTTP/1.1\r\n", "\r\n");
    assert_eq!(status, 200, "{url}/ca.pem: {pem}");
    let mut roots = rustls::RootCertStore::empty();
    use rustls_pki_types::pem::PemObject;
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots
            .add(cert.expect("/ca.pem is PEM"))
            .expect("/ca.pem is a certificate");
    }
    assert!(!roots.is_empty(), "{url}/ca.pem holds no certificate");
    let config = Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    TRUSTED
        .lock()
        .unwrap()
        .get_or_insert_default()
        .insert(url.to_owned(), config.clone());
    config
}

/// One HTTP/1.1 request on a fresh connection, over TLS for an `https://` URL (trusting the root
/// the server serves): the status, the `Set-Cookie` values and the body.
pub fn request(
    url: &str,
    method: &str,
    path: &str,
    headers: &[String],
    body: &str,
) -> (u16, Vec<String>, String) {
    let tls = url.starts_with("https://").then(|| tls_client(url));
    let mut rest = format!("Content-Length: {}\r\n", body.len());
    for header in headers {
        rest.push_str(header);
        rest.push_str("\r\n");
    }
    rest.push_str("\r\n");
    rest.push_str(body);
    exchange(url, tls, &format!("{method} {path} HTTP/1.1\r\n"), &rest)
}

trait ReadWrite: std::io::Read + std::io::Write {}
impl<T: std::io::Read + std::io::Write> ReadWrite for T {}

/// One HTTP/1.1 request on a fresh connection (over TLS with `tls`): the status, the
/// `Set-Cookie` values and the body. `start` is the request line; the `Host`, `Connection` and
/// `Content-Length` headers are added.
fn exchange(
    url: &str,
    tls: Option<Arc<rustls::ClientConfig>>,
    start: &str,
    rest: &str,
) -> (u16, Vec<String>, String) {
    use std::io::{Read, Write};
    let addr = address(url);
    let tcp = std::net::TcpStream::connect(addr).expect("connect");
    let mut stream: Box<dyn ReadWrite> = match tls {
        Some(config) => {
            let ip: std::net::IpAddr = addr.rsplit_once(':').unwrap().0.parse().unwrap();
            let connection = rustls::ClientConnection::new(config, ip.into()).unwrap();
            Box::new(rustls::StreamOwned::new(connection, tcp))
        }
        None => Box::new(tcp),
    };
    let text = format!("{start}Host: {addr}\r\nConnection: close\r\n{rest}");
    stream.write_all(text.as_bytes()).expect("send");
    stream.flush().expect("send");
    let mut bytes = Vec::new();
    match stream.read_to_end(&mut bytes) {
        Ok(_) => {}
        // the connection closed without TLS's close_notify, after the answer
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !bytes.is_empty() => {}
        Err(e) => panic!("{url}: reading the answer: {e}"),
    }
    let answer = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let cookies = head
        .lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("set-cookie")
                .then(|| value.trim().split(';').next().unwrap_or("").to_owned())
        })
        .collect();
    (status, cookies, body.to_owned())
}

/// `Authorization: Bearer …` of a new API token of the superuser, got the way a script gets one.
pub fn bearer(url: &str) -> String {
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("admin:{ADMIN_PASSWORD}"),
    );
    let (status, _, body) = request(
        url,
        "POST",
        "/api/v1/auth/tokens",
        &[
            format!("Authorization: Basic {basic}"),
            "Content-Type: application/json".into(),
        ],
        r#"{"name": "benchmark"}"#,
    );
    assert_eq!(status, 201, "a token: {body}");
    let value: serde_json::Value = serde_json::from_str(&body).unwrap();
    format!("Authorization: Bearer {}", value["token"].as_str().unwrap())
}

/// `Cookie: …` of a new browser session of the superuser.
#[allow(dead_code)] // (the HTTP benchmark's, not the discovery one's)
pub fn session_cookie(url: &str) -> String {
    let (status, cookies, body) = request(
        url,
        "POST",
        "/api/v1/auth/login",
        &["Content-Type: application/json".into()],
        &format!(r#"{{"username": "admin", "password": "{ADMIN_PASSWORD}"}}"#),
    );
    assert_eq!(status, 200, "signed in: {body}");
    format!("Cookie: {}", cookies.join("; "))
}

/// The two cores: the servers on one, the load generator on the other (when there are two).
#[allow(dead_code)] // (the HTTP and enrollment benchmarks', not the discovery one's)
pub fn cores() -> (String, String) {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    if n >= 2 {
        ("1".into(), "0".into())
    } else {
        ("0".into(), "0".into())
    }
}

/// The release `executable` (`pharos`, or `examples/pharos_unguarded` without authentication)
/// on its own data directory `dir/name`, pinned to the server core, with the superuser's
/// password and every benchmark server's one secret key, its tracing on (`RUST_LOG=info`, as
/// users run it), serving plain HTTP (`PHAROS_TLS=off`) or HTTPS (`tls`).
#[allow(dead_code)] // (the HTTP and enrollment benchmarks', not the discovery one's)
pub fn pharos_binary(
    executable: &str,
    dir: &Path,
    name: &str,
    database_url: &str,
    tls: bool,
) -> (Process, String) {
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let mut command = Command::new("taskset");
    command
        .args(["-c", &cores().0])
        .arg(binary(executable))
        .env("PHAROS_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("PHAROS_DATABASE_URL", database_url)
        .env("PHAROS_SERVER_NAME", name)
        // servers sharing a database need the same key to open the installation's sealed
        // private keys
        .env(
            "PHAROS_SECRET_KEY",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [0x42u8; 32]),
        )
        .env("RUST_LOG", "info");
    start_pharos(command, &dir.join(name), log, tls)
}
