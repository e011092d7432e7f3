//! The enrollment benchmark's load generator, a process of its own (see BENCHMARKS.md).
//!
//! `est_load csrs N FILE` makes N EC P-256 key pairs and a certificate request for each
//! (`CN=bench-device-<i>`) and writes the requests to FILE, one base64 DER request a line: the
//! same requests then go to Pharos and to the plain signing loop (`examples/plain_sign`).
//!
//! `est_load enroll URL CA_PEM FILE CONNECTIONS` sends every request of FILE to
//! `URL/.well-known/est/simpleenroll` as EST clients do (`application/pkcs10`, HTTP Basic with
//! the enrollment key of `PHAROS_BENCH_ENROLLMENT_KEY=<id>:<secret>`), over CONNECTIONS kept-alive
//! HTTPS connections that trust only CA_PEM (HTTP/1.1, as `curl` and most EST clients speak).
//! Every answer must be 200 with a certs-only PKCS#7 holding one certificate for the request's
//! subject and key; anything else is a failure. Prints
//! `<enrollments per second> <p50 µs> <p99 µs> <failures>` and fails when any failed.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use der::{Decode, Encode};
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("csrs") => csrs(args[1].parse()?, &args[2]),
        Some("enroll") => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(enroll(&args[1], &args[2], &args[3], args[4].parse()?)),
        _ => anyhow::bail!("est_load csrs N FILE | est_load enroll URL CA_PEM FILE CONNECTIONS"),
    }
}

fn csrs(n: usize, file: &str) -> anyhow::Result<()> {
    let mut lines = String::new();
    for i in 0..n {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, format!("bench-device-{i}"));
        let request = params.serialize_request(&key)?;
        lines.push_str(&STANDARD.encode(request.der()));
        lines.push('\n');
    }
    std::fs::write(file, lines)?;
    Ok(())
}

/// What a request must get back: a certificate for this subject and this key.
struct Expected {
    body: Bytes,
    subject: x509_cert::name::Name,
    key: x509_cert::spki::SubjectPublicKeyInfoOwned,
}

async fn enroll(url: &str, ca_pem: &str, file: &str, connections: usize) -> anyhow::Result<()> {
    let key = std::env::var("PHAROS_BENCH_ENROLLMENT_KEY")
        .map_err(|_| anyhow::anyhow!("PHAROS_BENCH_ENROLLMENT_KEY: <id>:<secret>"))?;
    let authorization = format!("Basic {}", STANDARD.encode(key));
    let mut expected = Vec::new();
    for line in std::fs::read_to_string(file)?.lines() {
        let request = x509_cert::request::CertReq::from_der(&STANDARD.decode(line)?)?;
        expected.push(Expected {
            body: Bytes::from(line.to_owned()),
            subject: request.info.subject,
            key: request.info.public_key,
        });
    }
    let tls = tls_client(ca_pem)?;
    let address = url
        .strip_prefix("https://")
        .ok_or_else(|| anyhow::anyhow!("an https:// URL"))?
        .trim_end_matches('/')
        .to_owned();

    let shared = Arc::new(Load {
        expected,
        next: AtomicUsize::new(0),
        authorization,
        address,
    });
    // the connections first (a TLS handshake each), then the clock
    let mut senders = Vec::new();
    for _ in 0..connections {
        senders.push(connect(&shared.address, tls.clone()).await?);
    }
    let started = Instant::now();
    let tasks: Vec<_> = senders
        .into_iter()
        .map(|sender| tokio::spawn(send_all(shared.clone(), sender)))
        .collect();
    let mut latencies = Vec::new();
    let mut failures = Vec::new();
    for task in tasks {
        let (l, f) = task.await?;
        latencies.extend(l);
        failures.extend(f);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len().max(1) - 1) as f64 * q) as usize)
            .map_or(0, Duration::as_micros)
    };
    println!(
        "{:.1} {} {} {}",
        latencies.len() as f64 / elapsed.as_secs_f64(),
        at(0.5),
        at(0.99),
        failures.len()
    );
    if let Some(first) = failures.first() {
        anyhow::bail!(
            "{} of {} enrollments failed; the first: {first}",
            failures.len(),
            shared.expected.len()
        );
    }
    Ok(())
}

struct Load {
    expected: Vec<Expected>,
    next: AtomicUsize,
    authorization: String,
    address: String,
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// A kept-alive HTTPS connection to `address` (`127.0.0.1:port`, named in the server's
/// certificate).
async fn connect(address: &str, tls: Arc<rustls::ClientConfig>) -> anyhow::Result<Sender> {
    let tcp = tokio::net::TcpStream::connect(address).await?;
    tcp.set_nodelay(true)?;
    let ip: std::net::IpAddr = address.rsplit_once(':').unwrap().0.parse()?;
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(ip.into(), tcp)
        .await?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

/// Sends requests on one connection, one after another, until none are left: the latencies of
/// the successful ones and why the others failed.
async fn send_all(load: Arc<Load>, mut sender: Sender) -> (Vec<Duration>, Vec<String>) {
    let (mut latencies, mut failures) = (Vec::new(), Vec::new());
    loop {
        let i = load.next.fetch_add(1, Ordering::Relaxed);
        let Some(expected) = load.expected.get(i) else {
            break;
        };
        let request = Request::post("/.well-known/est/simpleenroll")
            .header(header::HOST, &load.address)
            .header(header::CONTENT_TYPE, "application/pkcs10")
            .header(header::AUTHORIZATION, &load.authorization)
            .body(Full::new(expected.body.clone()))
            .unwrap();
        let sent = Instant::now();
        let answer = async {
            sender.ready().await.map_err(|e| e.to_string())?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            if status != StatusCode::OK {
                return Err(format!(
                    "{status}: {}",
                    String::from_utf8_lossy(&body).trim()
                ));
            }
            Ok(body)
        }
        .await;
        let took = sent.elapsed();
        match answer.and_then(|body| certificate_for(&body, expected)) {
            Ok(()) => latencies.push(took),
            Err(e) => {
                failures.push(format!("request {i}: {e}"));
                // a connection that broke sends nothing more
                if sender.is_closed() {
                    break;
                }
            }
        }
    }
    (latencies, failures)
}

/// Whether an EST answer (base64 certs-only PKCS#7) holds exactly one certificate, for the
/// request's subject and key.
fn certificate_for(body: &[u8], expected: &Expected) -> Result<(), String> {
    let text: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let der = STANDARD
        .decode(text)
        .map_err(|e| format!("not base64: {e}"))?;
    let info =
        cms::content_info::ContentInfo::from_der(&der).map_err(|e| format!("not PKCS#7: {e}"))?;
    let signed: cms::signed_data::SignedData = info
        .content
        .decode_as()
        .map_err(|e| format!("not SignedData: {e}"))?;
    let certificates: Vec<_> = signed
        .certificates
        .map(|set| set.0.into_vec())
        .unwrap_or_default();
    let [cms::cert::CertificateChoices::Certificate(cert)] = certificates.as_slice() else {
        return Err(format!("{} certificates, not one", certificates.len()));
    };
    let tbs = &cert.tbs_certificate;
    if tbs.subject_public_key_info != expected.key {
        return Err("the certificate is not for the request's key".into());
    }
    if tbs.subject.to_der().ok() != expected.subject.to_der().ok() {
        return Err(format!(
            "the certificate is for {}, not {}",
            tbs.subject, expected.subject
        ));
    }
    Ok(())
}

/// Trusts only the root in `ca_pem` (the server's `/ca.pem`).
fn tls_client(ca_pem: &str) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    use rustls_pki_types::{CertificateDer, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_pem)? {
        roots.add(cert?)?;
    }
    anyhow::ensure!(!roots.is_empty(), "{ca_pem} holds no certificate");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}
