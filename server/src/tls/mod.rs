//! Certificates and HTTPS: the web chain servers present (a generated root at first start, or
//! the administrator's own), which server presents which certificate (swapped live, on every
//! server sharing the database), the cluster requirement, and the device CA that the enrollment
//! area issues from.

pub mod api;
mod check;
mod device;
mod export;
mod first_start;
mod import;
mod lifecycle;
pub mod page;
pub mod pki;
mod seal;
mod store;
mod web;

use crate::audit::{self, Actor, Record};
use crate::cluster::{Registry, Remote, Topic, bus};
use crate::config::Config;
use crate::db::{Db, DbError, Tx, rfc3339};
use crate::http::ApiError;
use crate::settings::Settings;
use crate::workers::{Workers, unix_millis};
use anyhow::Context;
use app::api::{
    Expiry, ExportFormat, ImportCertificate, LiveEvent, NewRoot, NewSigned, ServerEntry, ServerRef,
    Servers, WebCertificate, WebCertificates,
};
use app::model::{Area, FieldError, KeyAlgorithm, certificates as rules};
use arc_swap::ArcSwapOption;
pub use device::DeviceCa;
use first_start::{ensure_ca, make_own_certificate, own_names};
use pki::{Facts, Profile, Signer};
use rcgen::{KeyPair, PublicKeyData};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
pub use seal::KEY_FILE;
use seal::Sealer;
use std::collections::HashMap;
use std::sync::Arc;
use store::Stored;
use tokio::sync::broadcast::{self, error::RecvError};

const DAY: i64 = 86_400_000;
/// A certificate made now starts to be valid a little earlier: clocks of clients disagree.
const BACKDATE: i64 = 60 * 60 * 1000;

/// What this server presents now.
struct Presented {
    fingerprint: String,
    key: Arc<CertifiedKey>,
    /// The self-signed root at the top of its chain, PEM (served at `/ca.pem`).
    root_pem: String,
    root_fingerprint: String,
}

pub struct Tls {
    db: Db,
    bus: bus::Bus,
    sealer: Sealer,
    registry: Arc<Registry>,
    settings: Arc<Settings>,
    /// What this server presents; nothing for the command line, which changes certificates
    /// without serving.
    presented: ArcSwapOption<Presented>,
    /// The device CA, for the listener's client certificates and for enrollment.
    device: ArcSwapOption<DeviceCa>,
    /// The notifications this server sent for its own changes and has not heard back yet: it
    /// re-read when it committed, and need not again when its notification comes back.
    own_notices: std::sync::Mutex<Vec<i64>>,
    /// One reload at a time, so an older reading never replaces a newer one.
    reloading: tokio::sync::Mutex<()>,
    /// Serve HTTPS (else a TLS-terminating proxy in front does).
    pub enabled: bool,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field(
                "presenting",
                &self
                    .presented
                    .load()
                    .as_ref()
                    .map(|p| p.fingerprint.clone()),
            )
            .finish_non_exhaustive()
    }
}

/// Reads a certificate Pharos stored or made (so it is readable).
fn facts_of(der: &[u8]) -> Result<Facts, ApiError> {
    pki::facts(der).map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))
}

/// The names of `names` that may go into a certificate, each once, in order.
fn valid_names(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut valid: Vec<String> = Vec::new();
    for name in names {
        if let Ok(name) = rules::hostname(&name)
            && !valid.contains(&name)
        {
            valid.push(name);
        }
    }
    valid
}

/// The process's crypto provider (installed once by `main`), or aws-lc-rs's where none is
/// installed (tests that start servers in their own process).
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
}

/// Runs slow certificate work (key generation, signing) off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<Result<T, String>, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("certificate work failed: {e}")))
}

/// Certificate work that failed for no fault of the request's.
fn internal(e: String) -> ApiError {
    ApiError::Internal(anyhow::anyhow!(e))
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::Invalid(vec![FieldError::new(field, message.into())])
}

fn date(millis: i64) -> String {
    rfc3339(millis).chars().take(10).collect()
}

impl Tls {
    /// Makes the installation's CAs at its first start, and this server's certificate at this
    /// server's first start; then presents what is assigned to this server.
    pub async fn start(
        db: Db,
        bus: bus::Bus,
        config: &Config,
        registry: Arc<Registry>,
        settings: Arc<Settings>,
        workers: &Workers,
        poll: Option<std::time::Duration>,
    ) -> anyhow::Result<Arc<Tls>> {
        let sealer = Sealer::load(
            config.secret_key.as_ref().map(|k| k.expose()),
            &config.data_dir,
        )?;
        let system = Actor {
            name: "system".into(),
            source: None,
        };
        ensure_ca(&db, &sealer, &system, store::ROLE_DEVICE_CA).await?;
        // the web root is made once, for the first server certificate: an administrator who
        // deleted it (having put their own chain in place) does not get it back
        let fresh = store::all(&db, store::WEB).await?.is_empty();
        if fresh {
            ensure_ca(&db, &sealer, &system, store::ROLE_WEB_ROOT).await?;
        }
        let server_id = registry.identity().id.clone();
        // subscribed before reading, so a change committed meanwhile is not missed
        let remote = bus.follow();
        let assigned = store::assignments(&db).await?;
        if !assigned
            .iter()
            .any(|(s, _)| *s == server_id || s == store::ALL_SERVERS)
        {
            let web_root = ensure_ca(&db, &sealer, &system, store::ROLE_WEB_ROOT).await?;
            let names = own_names(config, registry.identity());
            make_own_certificate(&db, &bus, &sealer, &system, &web_root, &names, &server_id)
                .await?;
        }
        let presented = load_presented(&db, &sealer, &server_id).await?;
        let device = DeviceCa::load(&db, &sealer).await?;
        tracing::info!(
            certificate = %presented.fingerprint,
            root_sha256 = %presented.root_fingerprint,
            tls = config.tls,
            "web certificate"
        );
        let tls = Arc::new(Tls {
            db,
            bus,
            sealer,
            registry,
            settings,
            presented: ArcSwapOption::from_pointee(presented),
            device: ArcSwapOption::from_pointee(device),
            own_notices: std::sync::Mutex::new(Vec::new()),
            reloading: tokio::sync::Mutex::new(()),
            enabled: config.tls,
        });
        tls.follow(workers, remote, poll);
        Ok(tls)
    }

    /// The certificates as the command line sees them: what the servers stored, changed under
    /// the same rules, with nothing presented and nothing made. The database must have been
    /// started by a server once, and `config` must give the servers' secret key.
    pub async fn open(
        db: Db,
        bus: bus::Bus,
        config: &Config,
        registry: Arc<Registry>,
        settings: Arc<Settings>,
    ) -> anyhow::Result<Arc<Tls>> {
        let sealer = Sealer::existing(
            config.secret_key.as_ref().map(|k| k.expose()),
            &config.data_dir,
        )?;
        // what only reads (the list, the client chain) works without the key that opens it;
        // what signs says why it cannot
        let device = DeviceCa::load(&db, &sealer).await.ok().map(Arc::new);
        Ok(Arc::new(Tls {
            db,
            bus,
            sealer,
            registry,
            settings,
            presented: ArcSwapOption::empty(),
            device: ArcSwapOption::new(device),
            own_notices: std::sync::Mutex::new(Vec::new()),
            reloading: tokio::sync::Mutex::new(()),
            enabled: config.tls,
        }))
    }

    /// Whether the secret key opens the stored private keys (it does if it opens the device
    /// CA's): why not, if not.
    pub async fn keys_open(&self) -> anyhow::Result<()> {
        DeviceCa::load(&self.db, &self.sealer).await.map(|_| ())
    }

    fn server_id(&self) -> &str {
        &self.registry.identity().id
    }

    /// What this server presents (a server always presents something; [`Tls::open`], which
    /// presents nothing, is for the command line, which does not serve).
    fn presenting(&self) -> Arc<Presented> {
        self.presented
            .load_full()
            .expect("a server presents a certificate from its start")
    }

    /// The fingerprint of the self-signed root of what this server presents.
    pub fn root_fingerprint(&self) -> String {
        self.presenting().root_fingerprint.clone()
    }

    pub fn presented_fingerprint(&self) -> String {
        self.presenting().fingerprint.clone()
    }

    /// The certificates in use here with when they expire (Unix milliseconds): what this server
    /// presents (`web`), the CAs above it in its chain (`web_chain`), the device CA
    /// (`device_ca`).
    pub fn expiries(&self) -> Vec<(&'static str, String, i64)> {
        let mut expiries: Vec<_> = self
            .presented
            .load_full()
            .iter()
            .flat_map(|presented| presented.key.cert.clone())
            .enumerate()
            .filter_map(|(i, der)| {
                let facts = pki::facts(&der).ok()?;
                let role = if i == 0 { "web" } else { "web_chain" };
                Some((role, facts.subject, facts.not_after))
            })
            .collect();
        if let Some(device) = self.device.load_full()
            && let Ok(facts) = pki::facts(&device.der)
        {
            expiries.push(("device_ca", facts.subject, device.not_after));
        }
        expiries
    }

    /// The device CA as last read.
    pub fn device(&self) -> anyhow::Result<Arc<DeviceCa>> {
        self.device.load_full().context("the device CA is missing")
    }

    pub fn ca_pem(&self) -> String {
        self.presenting().root_pem.clone()
    }

    /// The TLS configuration of the listener: TLS 1.2 and 1.3, HTTP/2 and 1.1, and the
    /// certificate this server presents at the moment a connection starts.
    pub fn server_config(self: &Arc<Self>) -> anyhow::Result<Arc<rustls::ServerConfig>> {
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .context("choosing the TLS versions")?
            .with_client_cert_verifier(Arc::new(device::DeviceClients::new(self.clone())))
            .with_cert_resolver(Arc::new(Resolver(self.clone())));
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// Reads what is assigned to this server and presents it from the next connection on.
    pub async fn reload(&self) -> anyhow::Result<()> {
        let _one = self.reloading.lock().await;
        let Some(before) = self.presented.load_full() else {
            // the command line presents nothing
            return Ok(());
        };
        let presented = load_presented(&self.db, &self.sealer, self.server_id()).await?;
        if presented.fingerprint != before.fingerprint {
            tracing::info!(certificate = %presented.fingerprint, "now presenting");
        }
        self.presented.store(Some(Arc::new(presented)));
        // a CA that cannot be read now keeps the one read before
        match DeviceCa::load(&self.db, &self.sealer).await {
            Ok(device) => self.device.store(Some(Arc::new(device))),
            Err(e) => tracing::warn!(error = format!("{e:#}"), "re-reading the device CA"),
        }
        Ok(())
    }

    /// Picks up changes made on any server sharing the database, and every `poll` those
    /// nothing tells of (the command line's on SQLite).
    fn follow(
        self: &Arc<Self>,
        workers: &Workers,
        mut remote: broadcast::Receiver<Remote>,
        poll: Option<std::time::Duration>,
    ) {
        let tls = self.clone();
        workers.spawn("certificates-follower", async move {
            let mut ticker = crate::workers::poll_ticker(poll);
            // what the database said when a reload could not follow it: not tried again (nor
            // warned of) every poll until it says something else
            let mut unfollowable: Option<String> = None;
            loop {
                let signal = tokio::select! {
                    () = crate::workers::next_tick(&mut ticker) => {
                        match tls.stale().await {
                            Ok(None) => unfollowable = None,
                            Ok(Some(state)) if unfollowable.as_ref() == Some(&state) => {}
                            Ok(Some(state)) => {
                                tls.changed().await;
                                // still what the database said: the reload could not follow
                                // it (a newer change is tried at the next poll)
                                let after = tls.stale().await.ok().flatten();
                                unfollowable = after.filter(|after| *after == state);
                            }
                            Err(e) => tracing::warn!(error = %e, "looking for changed certificates"),
                        }
                        continue;
                    }
                    signal = remote.recv() => signal,
                };
                match signal {
                    Ok(Remote::Changed(Topic::Certificates, Some(notice)))
                        if tls.heard_own(notice) => {}
                    Ok(Remote::Changed(Topic::Certificates, _))
                    | Ok(Remote::Reconnected)
                    | Err(RecvError::Lagged(_)) => {
                        if let Err(e) = tls.reload().await {
                            tracing::warn!(error = format!("{e:#}"), "re-reading certificates");
                        }
                        tls.bus.publish(LiveEvent::CertificatesChanged);
                    }
                    Ok(_) => {}
                    Err(RecvError::Closed) => return,
                }
            }
        });
    }

    /// Records the change in the audit log, tells the other servers and commits; then this
    /// server presents what it should, and pages hear of it.
    async fn commit(
        &self,
        mut tx: Tx,
        actor: &Actor,
        action: &str,
        records: &[Record],
    ) -> Result<(), ApiError> {
        audit::record(&mut tx, actor, Area::Certificates, action, records).await?;
        let notice = rand::random::<i64>() & i64::MAX;
        {
            let mut own = self.own_notices.lock().unwrap_or_else(|e| e.into_inner());
            // one that never came back (a failed commit) is forgotten after a while
            if own.len() >= 64 {
                own.remove(0);
            }
            own.push(notice);
        }
        self.bus
            .notify(&mut tx, Topic::Certificates, Some(notice))
            .await
            .map_err(DbError::from)?;
        tx.commit().await?;
        self.changed().await;
        Ok(())
    }

    /// What the database says this server presents and which the device CA is, if that is not
    /// what this server uses: a cheap look (two small queries), for the poll.
    async fn stale(&self) -> Result<Option<String>, DbError> {
        let assignments = store::assignments(&self.db).await?;
        let assigned = effective(&assignments, self.server_id());
        let device_ca = store::role(&self.db, store::ROLE_DEVICE_CA).await?;
        let presented = self.presented.load_full();
        let device = self.device.load_full();
        let same = assigned == presented.as_ref().map(|p| p.fingerprint.as_str())
            && device_ca.as_deref() == device.as_ref().map(|d| d.fingerprint.as_str());
        Ok((!same).then(|| format!("{assigned:?} {device_ca:?}")))
    }

    /// Whether `notice` is this server's own (then forgotten: it comes back once).
    fn heard_own(&self, notice: i64) -> bool {
        let mut own = self.own_notices.lock().unwrap_or_else(|e| e.into_inner());
        match own.iter().position(|n| *n == notice) {
            Some(i) => {
                own.remove(i);
                true
            }
            None => false,
        }
    }

    /// After a committed change: this server presents what it should, and pages hear of it.
    async fn changed(&self) {
        if let Err(e) = self.reload().await {
            tracing::warn!(error = format!("{e:#}"), "re-reading certificates");
        }
        self.bus.publish(LiveEvent::CertificatesChanged);
    }

    /// The known servers: running ones, and this one.
    fn servers(&self) -> Vec<ServerEntry> {
        let (_, servers) = self.registry.servers();
        servers
            .into_iter()
            .filter(|s| s.alive || s.this_server)
            .collect()
    }

    /// The names "Create signed certificate" starts with for these servers: the cluster
    /// address (if enabled), `localhost`, every address and host name of each.
    fn suggested(&self, servers: &[ServerEntry]) -> Vec<String> {
        let mut names = Vec::new();
        let settings = self.settings.snapshot();
        let cluster = &settings.view.cluster_address;
        if cluster.enabled && !cluster.host.is_empty() {
            names.push(cluster.host.clone());
        }
        names.push("localhost".to_owned());
        for server in servers {
            names.push(server.name.clone());
            names.extend(server.addresses.iter().cloned());
        }
        valid_names(names)
    }

    fn unseal(&self, cert: &Stored) -> Result<Option<KeyPair>, ApiError> {
        let Some(sealed) = &cert.sealed_key else {
            return Ok(None);
        };
        let der = self
            .sealer
            .open(sealed, &cert.fingerprint)
            .map_err(|e| ApiError::Internal(e.into()))?;
        pki::key_from_der(&der)
            .map(Some)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))
    }

    async fn find(&self, fingerprint: &str) -> Result<Stored, ApiError> {
        let not_found = || {
            ApiError::NotFound(format!(
                "no web certificate has the SHA-256 fingerprint {fingerprint}"
            ))
        };
        let fp = pki::normalize_fingerprint(fingerprint).ok_or_else(not_found)?;
        match store::get(&self.db, &fp).await? {
            Some(cert) if cert.purpose == store::WEB => Ok(cert),
            _ => Err(not_found()),
        }
    }
}

/// Which certificate `server` presents: its own assignment, else the one of every server.
fn effective<'a>(assignments: &'a [(String, String)], server: &str) -> Option<&'a str> {
    assignments
        .iter()
        .find(|(s, _)| s == server)
        .or_else(|| assignments.iter().find(|(s, _)| s == store::ALL_SERVERS))
        .map(|(_, f)| f.as_str())
}

fn server_ref(server: &ServerEntry) -> ServerRef {
    ServerRef {
        id: server.id.clone(),
        name: server.name.clone(),
    }
}

/// What `server_id` presents, ready for rustls.
async fn load_presented(db: &Db, sealer: &Sealer, server_id: &str) -> anyhow::Result<Presented> {
    let assignments = store::assignments(db).await?;
    let fp =
        effective(&assignments, server_id).context("no certificate is assigned to this server")?;
    presentable(db, sealer, fp).await
}

/// The certificate `fp` with its chain and key, as a server presents it; or why it cannot be.
async fn presentable(db: &Db, sealer: &Sealer, fp: &str) -> anyhow::Result<Presented> {
    let chain = store::chain(db, fp).await?;
    let leaf = chain
        .first()
        .with_context(|| format!("the certificate {fp} is missing"))?;
    let sealed = leaf
        .sealed_key
        .as_ref()
        .context("the certificate has no private key here")?;
    let key_der = sealer.open(sealed, &leaf.fingerprint)?;
    let key = PrivateKeyDer::try_from(key_der)
        .map_err(|e| anyhow::anyhow!("the certificate's key is unreadable: {e}"))?;
    let signing = provider()
        .key_provider
        .load_private_key(key)
        .context("the certificate's key cannot sign TLS handshakes")?;
    let top = chain.last().expect("one at least");
    let top_facts = pki::facts(&top.der).map_err(|e| anyhow::anyhow!(e))?;
    // the root is the client's to have: presenting it only lengthens every handshake
    let presented_chain: Vec<CertificateDer<'static>> = chain
        .iter()
        .filter(|c| !(c.fingerprint == top.fingerprint && top_facts.self_signed && chain.len() > 1))
        .map(|c| CertificateDer::from(c.der.clone()))
        .collect();
    Ok(Presented {
        fingerprint: fp.to_owned(),
        key: Arc::new(CertifiedKey::new(presented_chain, signing)),
        root_pem: pki::pem(&top.der),
        root_fingerprint: top.fingerprint.clone(),
    })
}

/// Gives rustls what this server presents at the moment a handshake starts.
#[derive(Debug)]
struct Resolver(Arc<Tls>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.presenting().key.clone())
    }
}
