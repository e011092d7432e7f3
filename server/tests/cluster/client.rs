//! The test's own HTTPS client (hyper over rustls): it verifies every certificate (Pharos's
//! servers against the installation's web root, nginx against its own test root), keeps no
//! state but what a caller hands it, and signs in with a cookie session as the browser does.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, header};
use hyper_util::rt::TokioIo;
use rustls::{
    ClientConfig, RootCertStore,
    pki_types::{CertificateDer, ServerName, pem::PemObject},
};
use serde_json::Value;
use std::{net::SocketAddr, path::Path, sync::Arc, time::Duration};
use tokio_rustls::TlsConnector;

/// The longest one request (connection, handshake and answer) may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Reply {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn etag(&self) -> String {
        self.header("etag")
            .unwrap_or_else(|| panic!("an ETag: {} {}", self.status, self.text))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = self.text.chars().take(300).collect();
        write!(f, "{} {text}", self.status)
    }
}

#[derive(Clone)]
pub struct Https {
    tls: TlsConnector,
}

/// One kept-alive connection to one listener, for requests in a row (pollers).
pub struct Conn {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    addr: SocketAddr,
}

impl Https {
    /// Trusting the roots in these PEM files and nothing else.
    pub fn new(roots: &[&Path]) -> Https {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let mut store = RootCertStore::empty();
        for file in roots {
            for cert in CertificateDer::pem_file_iter(file).expect("a PEM file") {
                store.add(cert.expect("a certificate")).expect("a root");
            }
        }
        let config = ClientConfig::builder()
            .with_root_certificates(store)
            .with_no_client_auth();
        Https {
            tls: TlsConnector::from(Arc::new(config)),
        }
    }

    pub async fn connect(&self, addr: SocketAddr) -> Result<Conn, String> {
        let connect = async {
            let tcp = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|e| format!("connecting to {addr}: {e}"))?;
            // every certificate in play names localhost
            let name = ServerName::try_from("localhost").unwrap();
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS with {addr}: {e}"))?;
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| format!("HTTP with {addr}: {e}"))?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok(Conn { sender, addr })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, connect)
            .await
            .map_err(|_| format!("{addr}: no connection within {REQUEST_TIMEOUT:?}"))?
    }

    /// One request on a connection of its own.
    pub async fn send(
        &self,
        addr: SocketAddr,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Reply, String> {
        let mut conn = self.connect(addr).await?;
        conn.send(method, path, headers, body).await
    }
}

impl Conn {
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Reply, String> {
        let addr = self.addr;
        let exchange = async {
            self.sender
                .ready()
                .await
                .map_err(|e| format!("{addr}: connection closed: {e}"))?;
            let mut request = Request::builder()
                .method(method)
                .uri(path)
                .header(header::HOST, format!("127.0.0.1:{}", addr.port()));
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let body = match body {
                Some(json) => {
                    request = request.header(header::CONTENT_TYPE, "application/json");
                    Full::new(Bytes::from(json.to_string()))
                }
                None => Full::new(Bytes::new()),
            };
            let response = self
                .sender
                .send_request(request.body(body).unwrap())
                .await
                .map_err(|e| format!("{method} {addr}{path}: {e}"))?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("{method} {addr}{path}: body: {e}"))?
                .to_bytes();
            let text = String::from_utf8_lossy(&bytes).into_owned();
            Ok(Reply {
                status,
                headers,
                body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                text,
            })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| format!("{method} {addr}{path}: no answer within {REQUEST_TIMEOUT:?}"))?
    }
}

/// A signed-in administrator's cookies, as a browser holds them.
#[derive(Clone, Debug)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

impl Session {
    /// Signs in at `addr` (nginx's web listener, or a server).
    pub async fn sign_in(
        https: &Https,
        addr: SocketAddr,
        user: &str,
        password: &str,
    ) -> Result<Session, String> {
        let body = serde_json::json!({"username": user, "password": password});
        let reply = https
            .send(addr, "POST", app::api::LOGIN_URL, &[], Some(&body))
            .await?;
        if reply.status != 200 {
            return Err(format!("sign-in: {reply:?}"));
        }
        let cookie = |name: &str| {
            reply
                .headers
                .get_all(header::SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(|v| {
                    let pair = v.split(';').next()?.trim();
                    let (k, value) = pair.split_once('=')?;
                    (k == name).then(|| value.to_owned())
                })
                .ok_or_else(|| format!("no {name} cookie: {:?}", reply.headers))
        };
        let session = cookie(app::api::SESSION_COOKIE)?;
        let csrf = cookie(app::api::CSRF_COOKIE)?;
        Ok(Session {
            cookie: format!(
                "{}={session}; {}={csrf}",
                app::api::SESSION_COOKIE,
                app::api::CSRF_COOKIE
            ),
            csrf,
        })
    }

    /// The headers of a request in this session (the anti-forgery token on every one: it is
    /// needed on writes and harmless on reads).
    pub fn headers(&self) -> [(&str, &str); 2] {
        [
            ("cookie", self.cookie.as_str()),
            (app::api::CSRF_HEADER, self.csrf.as_str()),
        ]
    }
}
