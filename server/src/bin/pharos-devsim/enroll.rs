//! Enrollment mode: devices of the fleet enroll for a client certificate over EST (RFC 7030), as
//! the newest generation of the reference product does, then prove who they are to the server
//! with that certificate (`GET /device/v1/whoami`). It runs on a thread of its own with a small
//! tokio runtime, so the UDP loop goes on answering meanwhile.

use anyhow::{Context, anyhow, bail, ensure};
use base64::{Engine, engine::general_purpose::STANDARD};
use bytes::Bytes;
use der::{Decode, Encode};
use futures_util::{StreamExt, stream};
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PublicKeyData};
use rustls::{
    ClientConfig, RootCertStore,
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject},
};
use std::{
    fmt,
    io::Write,
    net::{IpAddr, SocketAddr},
    path::Path,
    sync::Arc,
    time::Duration,
};
use tokio_rustls::TlsConnector;
use url::{Host, Url};

/// Devices enrolling at the same time: enough to keep a server busy, not a flood.
const AT_ONCE: usize = 8;
/// The longest one request (connection, handshake and answer) may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of a refusal's text goes into a failure's message.
const REASON_CHARS: usize = 300;

/// An enrollment key as HTTP Basic credentials; its `Debug` leaves the secret out.
#[derive(Clone)]
pub struct EnrollmentKey {
    id: String,
    secret: String,
}

impl std::str::FromStr for EnrollmentKey {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.split_once(':') {
            Some((id, secret)) if !id.is_empty() && !secret.is_empty() => Ok(EnrollmentKey {
                id: id.to_owned(),
                secret: secret.to_owned(),
            }),
            _ => Err("an enrollment key is ID:SECRET".into()),
        }
    }
}

impl fmt::Debug for EnrollmentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnrollmentKey")
            .field("id", &self.id)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// Where and how devices enroll, checked before the simulator says it is ready.
pub struct Enrollment {
    /// `simpleenroll` under the enrollment path prefix, if the URL has one.
    simpleenroll: Url,
    /// `/device/v1/whoami`.
    whoami: Url,
    key: EnrollmentKey,
    roots: Arc<RootCertStore>,
    /// The handshake of the enrollment itself: the server is verified, the device shows nothing.
    anonymous: Arc<ClientConfig>,
}

/// How one device fared.
enum Outcome {
    /// Enrolled, and `whoami` named it by its new certificate.
    Proven,
    /// Enrolled, but `whoami` did not answer as it should.
    Unproven(anyhow::Error),
    /// No certificate.
    Refused(anyhow::Error),
}

impl Enrollment {
    /// `est` is the server's base URL (with the enrollment path prefix, if one is set); `device`
    /// where devices call `whoami` (default: the origin of `est`); `ca` the PEM root(s) that
    /// the server's certificate must chain to.
    pub fn new(
        est: &Url,
        device: Option<&Url>,
        ca: &Path,
        key: EnrollmentKey,
    ) -> anyhow::Result<Enrollment> {
        let simpleenroll = endpoint(est, ".well-known/est/simpleenroll")?;
        let whoami = endpoint(device.unwrap_or(&origin(est)), "device/v1/whoami")?;
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca)
            .with_context(|| format!("reading {}", ca.display()))?
        {
            let cert = cert.with_context(|| format!("a certificate in {}", ca.display()))?;
            roots
                .add(cert)
                .with_context(|| format!("a root certificate in {}", ca.display()))?;
        }
        ensure!(!roots.is_empty(), "no certificate in {}", ca.display());
        let roots = Arc::new(roots);
        let anonymous = ClientConfig::builder()
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        Ok(Enrollment {
            simpleenroll,
            whoami,
            key,
            roots,
            anonymous: Arc::new(anonymous),
        })
    }

    /// Enrolls the devices named `hostnames`, proves each, and prints
    /// `enrolled=N whoami_ok=N failed=F`; each failure goes to the log.
    pub fn run(self, hostnames: Vec<String>) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                tracing::error!(%error, "no runtime for enrolling");
                return;
            }
        };
        let total = hostnames.len();
        let (mut enrolled, mut proven) = (0, 0);
        let this = &self;
        runtime.block_on(async {
            let mut outcomes = stream::iter(&hostnames)
                .map(|hostname| async move { (hostname, this.device(hostname).await) })
                .buffer_unordered(AT_ONCE);
            while let Some((hostname, outcome)) = outcomes.next().await {
                match outcome {
                    Outcome::Proven => {
                        enrolled += 1;
                        proven += 1;
                    }
                    Outcome::Unproven(error) => {
                        enrolled += 1;
                        tracing::warn!(hostname, error = format!("{error:#}"), "whoami failed");
                    }
                    Outcome::Refused(error) => {
                        tracing::warn!(hostname, error = format!("{error:#}"), "enrollment failed");
                    }
                }
            }
        });
        let line = format!(
            "enrolled={enrolled} whoami_ok={proven} failed={}\n",
            total - proven
        );
        let mut stdout = std::io::stdout().lock();
        if let Err(error) = stdout
            .write_all(line.as_bytes())
            .and_then(|()| stdout.flush())
        {
            tracing::warn!(%error, "writing the enrollment summary");
        }
    }

    async fn device(&self, hostname: &str) -> Outcome {
        let (key, cert) = match self.enroll(hostname).await {
            Ok(enrolled) => enrolled,
            Err(error) => return Outcome::Refused(error),
        };
        match self.prove(hostname, key, cert).await {
            Ok(()) => Outcome::Proven,
            Err(error) => Outcome::Unproven(error),
        }
    }

    /// A new P-256 key and the certificate the server issues for it, named `hostname`.
    async fn enroll(&self, hostname: &str) -> anyhow::Result<(KeyPair, x509_cert::Certificate)> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, hostname);
        let csr = params
            .serialize_request(&key)
            .context("making the certificate request")?;
        let basic = STANDARD.encode(format!("{}:{}", self.key.id, self.key.secret));
        let request = Request::builder()
            .method(Method::POST)
            .header(header::AUTHORIZATION, format!("Basic {basic}"))
            .header(header::CONTENT_TYPE, "application/pkcs10")
            .body(Full::from(STANDARD.encode(csr.der())))?;
        let answer = send(&self.anonymous, &self.simpleenroll, request)
            .await
            .context("simpleenroll")?;
        let text: Vec<u8> = answer
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        let pkcs7 = STANDARD.decode(text).context("the answer is not base64")?;
        let spki = key.subject_public_key_info();
        let cert = certificates(&pkcs7)?
            .into_iter()
            .find(|cert| {
                cert.tbs_certificate
                    .subject_public_key_info
                    .to_der()
                    .is_ok_and(|der| der == spki)
            })
            .context("the answer holds no certificate for the device's key")?;
        Ok((key, cert))
    }

    /// `whoami` with the new certificate names the device by it.
    async fn prove(
        &self,
        hostname: &str,
        key: KeyPair,
        cert: x509_cert::Certificate,
    ) -> anyhow::Result<()> {
        let serial = hex::encode(cert.tbs_certificate.serial_number.as_bytes());
        let tls = ClientConfig::builder()
            .with_root_certificates(self.roots.clone())
            .with_client_auth_cert(
                vec![CertificateDer::from(cert.to_der()?)],
                PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .context("the certificate and key for the handshake")?;
        let request = Request::builder()
            .method(Method::GET)
            .body(Full::default())?;
        let answer = send(&Arc::new(tls), &self.whoami, request)
            .await
            .context("whoami")?;
        let me: serde_json::Value =
            serde_json::from_slice(&answer).context("whoami's answer is not JSON")?;
        let subject = format!("CN={hostname}");
        ensure!(
            me["subject"] == subject.as_str(),
            "whoami names {} instead of {subject}",
            me["subject"]
        );
        let named = me["serial"].as_str().unwrap_or_default();
        ensure!(
            named.trim_start_matches('0') == serial.trim_start_matches('0'),
            "whoami names the serial {named} instead of {serial}"
        );
        Ok(())
    }
}

/// The certificates of a certs-only PKCS#7 (CMS SignedData), DER.
fn certificates(der: &[u8]) -> anyhow::Result<Vec<x509_cert::Certificate>> {
    let info = cms::content_info::ContentInfo::from_der(der).context("the answer is not PKCS#7")?;
    let signed = info
        .content
        .decode_as::<cms::signed_data::SignedData>()
        .context("the answer's PKCS#7 is not SignedData")?;
    Ok(signed
        .certificates
        .map(|set| set.0.into_vec())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|choice| match choice {
            cms::cert::CertificateChoices::Certificate(cert) => Some(cert),
            cms::cert::CertificateChoices::Other(_) => None,
        })
        .collect())
}

/// `path` under `base`'s path (a path prefix stays in front of it).
fn endpoint(base: &Url, path: &str) -> anyhow::Result<Url> {
    ensure!(
        base.scheme() == "https",
        "{base}: devices enroll over HTTPS only"
    );
    ensure!(base.host().is_some(), "{base}: no host");
    let mut url = base.clone();
    url.set_path(&format!("{}/{path}", base.path().trim_end_matches('/')));
    url.set_query(None);
    Ok(url)
}

fn origin(url: &Url) -> Url {
    let mut origin = url.clone();
    origin.set_path("/");
    origin
}

/// One request on a connection of its own; the answer's body if it is 200 OK.
async fn send(
    tls: &Arc<ClientConfig>,
    url: &Url,
    request: Request<Full<Bytes>>,
) -> anyhow::Result<Bytes> {
    tokio::time::timeout(REQUEST_TIMEOUT, exchange(tls, url, request))
        .await
        .map_err(|_| anyhow!("{url}: no answer within {REQUEST_TIMEOUT:?}"))?
}

async fn exchange(
    tls: &Arc<ClientConfig>,
    url: &Url,
    mut request: Request<Full<Bytes>>,
) -> anyhow::Result<Bytes> {
    let port = url.port_or_known_default().unwrap_or(443);
    let (server_name, tcp) = match url.host() {
        Some(Host::Domain(name)) => (
            ServerName::try_from(name.to_owned())?,
            tokio::net::TcpStream::connect((name, port)).await,
        ),
        Some(Host::Ipv4(ip)) => (
            ServerName::from(IpAddr::V4(ip)),
            tokio::net::TcpStream::connect(SocketAddr::new(ip.into(), port)).await,
        ),
        Some(Host::Ipv6(ip)) => (
            ServerName::from(IpAddr::V6(ip)),
            tokio::net::TcpStream::connect(SocketAddr::new(ip.into(), port)).await,
        ),
        None => bail!("{url}: no host"),
    };
    let tcp = tcp.with_context(|| format!("connecting to {url}"))?;
    let stream = TlsConnector::from(tls.clone())
        .connect(server_name, tcp)
        .await
        .with_context(|| format!("TLS handshake with {url}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP/1.1")?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "connection");
        }
    });
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    *request.uri_mut() = target.parse()?;
    request.headers_mut().insert(header::HOST, host.parse()?);
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    if status != StatusCode::OK {
        let reason: String = String::from_utf8_lossy(&body)
            .chars()
            .take(REASON_CHARS)
            .collect();
        bail!("{url}: {status}: {}", reason.trim());
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_the_prefix_and_whoami_the_origin() {
        let base: Url = "https://127.0.0.1:8443/device-connector/device/"
            .parse()
            .unwrap();
        assert_eq!(
            endpoint(&base, ".well-known/est/simpleenroll")
                .unwrap()
                .as_str(),
            "https://127.0.0.1:8443/device-connector/device/.well-known/est/simpleenroll"
        );
        assert_eq!(
            endpoint(&origin(&base), "device/v1/whoami")
                .unwrap()
                .as_str(),
            "https://127.0.0.1:8443/device/v1/whoami"
        );
        let plain: Url = "http://127.0.0.1:8080".parse().unwrap();
        assert!(endpoint(&plain, "x").is_err(), "never in the clear");
    }

    #[test]
    fn keys_are_id_and_secret_and_debug_hides_the_secret() {
        let key: EnrollmentKey = "k1:s3cret:with-colon".parse().unwrap();
        assert_eq!(
            (key.id.as_str(), key.secret.as_str()),
            ("k1", "s3cret:with-colon")
        );
        assert!(!format!("{key:?}").contains("s3cret"));
        assert!("nocolon".parse::<EnrollmentKey>().is_err());
        assert!(":secret".parse::<EnrollmentKey>().is_err());
    }
}
