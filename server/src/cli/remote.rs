//! `--url`: the commands through a running server's API, signed in with an API token. The
//! server applies its own rules and audits the change as the token's account, marked as made
//! from the command line.

use super::Failed;
use app::api::ErrorBody;
use reqwest::{Method, StatusCode, header};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

/// What the command line says it is; the server marks the audit entries of such requests.
pub const USER_AGENT_PREFIX: &str = "pharos-cli/";

/// Where the token comes from when no `--token-file` is given.
pub const TOKEN_VARIABLE: &str = "PHAROS_TOKEN";

/// How long one request may take (connection, TLS, answer).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Remote {
    client: reqwest::Client,
    base: Url,
    token: String,
}

/// A successful answer.
pub struct Answer {
    pub etag: Option<String>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Failed> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Failed(format!(
                "the server's answer is not what this version reads: {e}"
            ))
        })
    }
}

/// Why a request failed: a refusal with the server's messages, or no answer at all.
pub enum Refusal {
    /// 422: the rules' messages, a field each.
    Invalid(Vec<app::model::FieldError>),
    /// 412: the document changed since it was read.
    Changed,
    Other(Failed),
}

impl From<Refusal> for Failed {
    fn from(refusal: Refusal) -> Failed {
        match refusal {
            Refusal::Invalid(errors) => super::refused(errors),
            Refusal::Changed => Failed(
                "it was changed meanwhile by someone else; nothing changed, try again".into(),
            ),
            Refusal::Other(failed) => failed,
        }
    }
}

impl Remote {
    /// The client of the server at `url`, with the token from `token_file` or `PHAROS_TOKEN`,
    /// trusting the system's CAs and `ca_file` (PEM, e.g. the server's own root from `/ca.pem`).
    pub fn new(
        url: &Url,
        token_file: Option<&Path>,
        ca_file: Option<&Path>,
    ) -> Result<Remote, Failed> {
        match url.scheme() {
            "https" => {}
            // the token would cross the network readable by anyone on the way
            "http" if loopback(url) => {}
            "http" => {
                return Err(Failed(format!(
                    "--url {url}: the API token would cross the network unencrypted; use https:// \
                     (http:// only for this machine's own addresses)"
                )));
            }
            _ => return Err(Failed(format!("--url must be an https:// URL, not {url}"))),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Failed(
                "--url carries no credentials: the API token signs in (PHAROS_TOKEN or \
                 --token-file)"
                    .into(),
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(Failed(format!(
                "--url is the server's address and base path only, without ?… or #…: {url}"
            )));
        }
        let token = match token_file {
            Some(file) => std::fs::read_to_string(file)
                .map_err(|e| Failed(format!("reading the token in {}: {e}", file.display())))?,
            None => std::env::var(TOKEN_VARIABLE).map_err(|_| {
                Failed(format!(
                    "--url needs an API token: put it in {TOKEN_VARIABLE} or in a file given with \
                     --token-file (Account > API tokens makes one)"
                ))
            })?,
        };
        let token = token.trim().to_owned();
        if token.is_empty() {
            return Err(Failed("the API token is empty".into()));
        }
        let mut builder = reqwest::Client::builder()
            .user_agent(format!(
                "{USER_AGENT_PREFIX}{} ({})",
                env!("CARGO_PKG_VERSION"),
                super::os_user()
            ))
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none());
        if let Some(file) = ca_file {
            let pem = std::fs::read(file)
                .map_err(|e| Failed(format!("reading {}: {e}", file.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| Failed(format!("{} holds no PEM certificate: {e}", file.display())))?;
            if certs.is_empty() {
                return Err(Failed(format!(
                    "{} holds no PEM certificate",
                    file.display()
                )));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            .build()
            .map_err(|e| Failed(format!("setting up HTTPS: {e}")))?;
        // the base path stays: https://host/pharos + /api/v1/… = https://host/pharos/api/v1/…
        let mut base = url.clone();
        base.set_path(url.path().trim_end_matches('/'));
        Ok(Remote {
            client,
            base,
            token,
        })
    }

    /// Whether the server is reached over HTTPS (its certificate verified).
    pub fn https(&self) -> bool {
        self.base.scheme() == "https"
    }

    /// The server's URL, as given.
    pub fn base(&self) -> &Url {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.as_str().trim_end_matches('/'))
    }

    pub async fn get(&self, path: &str) -> Result<Answer, Refusal> {
        self.send(Method::GET, path, None::<&()>, None).await
    }

    pub async fn post<B: Serialize>(&self, path: &str, body: &B) -> Result<Answer, Refusal> {
        self.send(Method::POST, path, Some(body), None).await
    }

    /// A POST without a body.
    pub async fn post_empty(&self, path: &str) -> Result<Answer, Refusal> {
        self.send(Method::POST, path, None::<&()>, None).await
    }

    pub async fn put<B: Serialize>(
        &self,
        path: &str,
        body: &B,
        etag: Option<&str>,
    ) -> Result<Answer, Refusal> {
        self.send(Method::PUT, path, Some(body), etag).await
    }

    /// `path` downloaded to `to` (made readable by its owner only), as it arrives: its size.
    pub async fn download(&self, path: &str, to: &Path) -> Result<u64, Refusal> {
        use std::io::Write;
        let mut response = self.request(Method::GET, path, None::<&()>, None).await?;
        if !response.status().is_success() {
            return Err(self.refusal(response, false).await);
        }
        let failed =
            |e: std::io::Error| Refusal::Other(Failed(format!("writing {}: {e}", to.display())));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(to).map_err(failed)?;
        let mut size = 0u64;
        while let Some(chunk) = response.chunk().await.map_err(|e| {
            Refusal::Other(Failed(format!(
                "the download from {} broke off: {}",
                self.base,
                chain(&e)
            )))
        })? {
            file.write_all(&chunk).map_err(failed)?;
            size += chunk.len() as u64;
        }
        file.sync_all().map_err(failed)?;
        Ok(size)
    }

    async fn send<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        if_match: Option<&str>,
    ) -> Result<Answer, Refusal> {
        let changing = method != Method::GET;
        let response = self.request(method, path, body, if_match).await?;
        if !response.status().is_success() {
            return Err(self.refusal(response, changing).await);
        }
        let etag = response
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response.bytes().await.map_err(|e| {
            Refusal::Other(Failed(format!(
                "reading the answer of {}: {}",
                self.base,
                chain(&e)
            )))
        })?;
        Ok(Answer {
            etag,
            body: bytes.to_vec(),
        })
    }

    /// The request sent, and its answer's head: any status.
    async fn request<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        if_match: Option<&str>,
    ) -> Result<reqwest::Response, Refusal> {
        let url = self.url(path);
        let mut request = self
            .client
            .request(method, &url)
            .bearer_auth(&self.token)
            .header(header::ACCEPT, "application/json");
        if let Some(etag) = if_match {
            request = request.header(header::IF_MATCH, etag);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.map_err(|e| {
            let why = chain(&e);
            let hint = if why.contains("certificate") {
                " (a server with Pharos's own certificates: give its root CA with --ca-file; it \
                 is served at /ca.pem)"
            } else {
                ""
            };
            Refusal::Other(Failed(format!("no answer from {}: {why}{hint}", self.base)))
        })
    }

    /// What a refusal says: the server's messages as the command says them on the database.
    /// `changing`: the request would have changed something.
    async fn refusal(&self, response: reqwest::Response, changing: bool) -> Refusal {
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response.bytes().await.unwrap_or_default();
        let errors = serde_json::from_slice::<ErrorBody>(&bytes)
            .map(|body| body.errors)
            .unwrap_or_default();
        // a refused change changed nothing; a refused read has nothing to say about it
        let unchanged = if changing { "; nothing changed" } else { "" };
        let said = errors
            .iter()
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("; ");
        match status {
            StatusCode::UNPROCESSABLE_ENTITY if !errors.is_empty() => Refusal::Invalid(errors),
            StatusCode::PRECONDITION_FAILED => Refusal::Changed,
            StatusCode::UNAUTHORIZED => Refusal::Other(Failed(format!(
                "the server answered {status}: the token is unknown, expired or revoked{unchanged}"
            ))),
            // a refusal of the server's own, said as the command says it on the database
            _ if status.is_client_error() && !errors.is_empty() => {
                Refusal::Other(Failed(format!("{said}{unchanged}")))
            }
            _ if status.is_redirection() => Refusal::Other(Failed(format!(
                "the server answered {status}, to {}: give --url as the server's own address \
                 (with its base path){unchanged}",
                location.as_deref().unwrap_or("nowhere said")
            ))),
            _ if status.is_client_error() => Refusal::Other(Failed(format!(
                "the server answered {status} (is {} a Pharos server, with its base path?)\
                 {unchanged}",
                self.base
            ))),
            // a proxy's 502/504 may come after the server committed
            _ => {
                let reason = if said.is_empty() {
                    String::from_utf8_lossy(&bytes).chars().take(300).collect()
                } else {
                    said
                };
                Refusal::Other(Failed(format!(
                    "the server answered {status}: {reason}{}",
                    if changing {
                        "; the change may or may not have been made (look again before trying \
                         again)"
                    } else {
                        ""
                    }
                )))
            }
        }
    }
}

/// Whether the URL names this machine (a loopback address or `localhost`).
fn loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// An error with its causes: reqwest's own message hides what failed (the TLS verification,
/// the refused connection).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}

/// The global options that choose the API over the database.
#[derive(clap::Args, Debug, Default)]
pub struct Target {
    /// Work through the API of the running server at URL (e.g. https://pharos.example:8443)
    /// instead of on the database. The token comes from PHAROS_TOKEN or --token-file
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<Url>,
    /// With --url: a file holding the API token
    #[arg(long, global = true, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// With --url: trust the CA certificates in FILE (PEM; e.g. the server's root, from
    /// /ca.pem) beside the system's
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
}

impl Target {
    /// The server's client with `--url`; nothing without it (the database, then). Token and CA
    /// options without `--url` are a mistake said out loud.
    pub fn remote(&self) -> Result<Option<Remote>, Failed> {
        match &self.url {
            Some(url) => {
                Remote::new(url, self.token_file.as_deref(), self.ca_file.as_deref()).map(Some)
            }
            None if self.token_file.is_some() || self.ca_file.is_some() => Err(Failed(
                "--token-file and --ca-file go with --url; without it the command works on the \
                 configured database"
                    .into(),
            )),
            None => Ok(None),
        }
    }
}
