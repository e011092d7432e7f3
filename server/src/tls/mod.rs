//! Certificates and HTTPS: the web chain servers present (a generated root at first start, or
//! the administrator's own), which server presents which certificate (swapped live, on every
//! server sharing the database), the cluster requirement, and the device CA that the enrollment
//! area issues from.

pub mod api;
mod check;
pub mod page;
pub mod pki;
mod seal;
mod store;

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
use arc_swap::ArcSwap;
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
use tokio::sync::broadcast::error::RecvError;

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
    presented: ArcSwap<Presented>,
    /// One reload at a time, so an older reading never replaces a newer one.
    reloading: tokio::sync::Mutex<()>,
    /// Serve HTTPS (else a TLS-terminating proxy in front does).
    pub enabled: bool,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("presenting", &self.presented.load().fingerprint)
            .finish_non_exhaustive()
    }
}

/// Runs slow certificate work (key generation, signing) off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<Result<T, String>, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("certificate work failed: {e}")))
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
    ) -> anyhow::Result<Arc<Tls>> {
        let sealer = Sealer::load(
            config.secret_key.as_ref().map(|k| k.expose()),
            &config.data_dir,
        )?;
        let system = Actor {
            name: "system".into(),
            source: None,
        };
        let web_root = ensure_ca(&db, &sealer, &system, store::ROLE_WEB_ROOT).await?;
        ensure_ca(&db, &sealer, &system, store::ROLE_DEVICE_CA).await?;
        let server_id = registry.identity().id.clone();
        let assigned = store::assignments(&db).await?;
        if !assigned
            .iter()
            .any(|(s, _)| *s == server_id || s == store::ALL_SERVERS)
        {
            let names = own_names(config, registry.identity());
            make_own_certificate(&db, &sealer, &system, &web_root, &names, &server_id).await?;
        }
        let presented = load_presented(&db, &sealer, &server_id).await?;
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
            presented: ArcSwap::from_pointee(presented),
            reloading: tokio::sync::Mutex::new(()),
            enabled: config.tls,
        });
        tls.follow(workers);
        Ok(tls)
    }

    fn server_id(&self) -> &str {
        &self.registry.identity().id
    }

    /// The fingerprint of the self-signed root of what this server presents.
    pub fn root_fingerprint(&self) -> String {
        self.presented.load().root_fingerprint.clone()
    }

    pub fn presented_fingerprint(&self) -> String {
        self.presented.load().fingerprint.clone()
    }

    pub fn ca_pem(&self) -> String {
        self.presented.load().root_pem.clone()
    }

    /// The TLS configuration of the listener: TLS 1.2 and 1.3, HTTP/2 and 1.1, and the
    /// certificate this server presents at the moment a connection starts.
    pub fn server_config(self: &Arc<Self>) -> anyhow::Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .context("choosing the TLS versions")?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Resolver(self.clone())));
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// Reads what is assigned to this server and presents it from the next connection on.
    pub async fn reload(&self) -> anyhow::Result<()> {
        let _one = self.reloading.lock().await;
        let presented = load_presented(&self.db, &self.sealer, self.server_id()).await?;
        if presented.fingerprint != self.presented.load().fingerprint {
            tracing::info!(certificate = %presented.fingerprint, "now presenting");
        }
        self.presented.store(Arc::new(presented));
        Ok(())
    }

    /// Picks up changes made on any server sharing the database.
    fn follow(self: &Arc<Self>, workers: &Workers) {
        let tls = self.clone();
        let mut remote = self.bus.follow();
        workers.spawn("certificates-follower", async move {
            loop {
                match remote.recv().await {
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

    /// `GET /api/v1/certificates/web`.
    pub async fn list(&self) -> Result<WebCertificates, ApiError> {
        let stored = store::all(&self.db, store::WEB).await?;
        let assignments = store::assignments(&self.db).await?;
        let servers = self.servers();
        let now = unix_millis();
        let mut issued: HashMap<&str, u32> = HashMap::new();
        for cert in &stored {
            if let Some(issuer) = &cert.issuer
                && *issuer != cert.fingerprint
            {
                *issued.entry(issuer.as_str()).or_default() += 1;
            }
        }
        let mut certificates = Vec::with_capacity(stored.len());
        for cert in &stored {
            let facts =
                pki::facts(&cert.der).map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))?;
            let assigned_to_all = assignments
                .iter()
                .any(|(s, f)| s == store::ALL_SERVERS && *f == cert.fingerprint);
            let assigned_to = servers
                .iter()
                .filter(|s| effective(&assignments, &s.id) == Some(cert.fingerprint.as_str()))
                .map(server_ref)
                .collect();
            certificates.push(describe(
                &facts,
                cert,
                now,
                assigned_to_all,
                assigned_to,
                issued.get(cert.fingerprint.as_str()).copied().unwrap_or(0),
            ));
        }
        Ok(WebCertificates {
            certificates,
            suggested_hostnames: self.suggested(&servers),
            servers: servers.iter().map(server_ref).collect(),
        })
    }

    /// `POST /api/v1/certificates/web/roots`.
    pub async fn create_root(&self, actor: &Actor, request: NewRoot) -> Result<String, ApiError> {
        match request {
            NewRoot::Generate(generate) => {
                let name = rules::certificate_name(&generate.name)
                    .map_err(|e| invalid("generate.name", e))?;
                let days = rules::validity_days(
                    generate.validity_days.unwrap_or(rules::ROOT_DEFAULT_DAYS),
                    rules::ROOT_MAX_DAYS,
                )
                .map_err(|e| invalid("generate.validity_days", e))?;
                let issuer = match &generate.issuer {
                    Some(fp) => Some(self.signing_ca(fp, "generate.issuer").await?),
                    None => None,
                };
                let now = unix_millis();
                let mut not_after = now + i64::from(days) * DAY;
                if let Some((issuer, _)) = &issuer {
                    not_after = within_issuer(
                        issuer,
                        not_after,
                        generate.validity_days.is_some(),
                        "generate.validity_days",
                    )?;
                }
                let algorithm = generate.algorithm;
                let (der, key) = blocking(move || {
                    let key = pki::generate_key(algorithm)?;
                    let signer = match &issuer {
                        Some((cert, ca_key)) => Signer::Ca {
                            der: &cert.der,
                            key: ca_key,
                        },
                        None => Signer::Itself,
                    };
                    let der = pki::make(
                        Profile::Ca { name: &name },
                        &key,
                        signer,
                        now - BACKDATE,
                        not_after,
                    )?;
                    Ok((der, key))
                })
                .await?
                .map_err(|e| invalid("generate", e))?;
                let issuer = generate
                    .issuer
                    .as_deref()
                    .and_then(pki::normalize_fingerprint);
                self.insert_new(actor, &der, &key, issuer, "generate", None)
                    .await
            }
            NewRoot::Import(import) => self.import(actor, import).await,
        }
    }

    /// A CA of the list that can sign now: with its key, valid.
    async fn signing_ca(
        &self,
        fingerprint: &str,
        field: &str,
    ) -> Result<(Stored, KeyPair), ApiError> {
        let cert = self.find(fingerprint).await.map_err(|_| {
            invalid(
                field,
                format!("no certificate of the list has the fingerprint {fingerprint}"),
            )
        })?;
        let facts = pki::facts(&cert.der).map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))?;
        if !cert.is_ca {
            return Err(invalid(
                field,
                format!(
                    "\"{}\" is not a CA: it cannot sign certificates",
                    facts.subject
                ),
            ));
        }
        if facts.not_after <= unix_millis() {
            return Err(invalid(
                field,
                format!(
                    "\"{}\" expired on {}: renew it first",
                    facts.subject,
                    date(facts.not_after)
                ),
            ));
        }
        let Some(key) = self.unseal(&cert)? else {
            return Err(invalid(
                field,
                format!(
                    "\"{}\" was imported without its private key: it cannot sign",
                    facts.subject
                ),
            ));
        };
        Ok((cert, key))
    }

    /// Stores a certificate Pharos just made (with its key), optionally assigning it.
    async fn insert_new(
        &self,
        actor: &Actor,
        der: &[u8],
        key: &KeyPair,
        issuer: Option<String>,
        action: &str,
        assign_to: Option<&Servers>,
    ) -> Result<String, ApiError> {
        let facts = pki::facts(der).map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))?;
        let fingerprint = facts.fingerprint_sha256.clone();
        let row = Stored {
            fingerprint: fingerprint.clone(),
            purpose: store::WEB.into(),
            der: der.to_vec(),
            sealed_key: Some(self.sealer.seal(&key.serialize_der(), &fingerprint)),
            issuer,
            is_ca: facts.is_ca,
            not_after: facts.not_after,
            created_at: unix_millis(),
            created_by: actor.name.clone(),
        };
        let mut tx = self.db.begin().await?;
        store::insert(&mut tx, &row).await?;
        let mut records = vec![Record::new(
            format!("certificates.web.{fingerprint}"),
            serde_json::Value::Null,
            summary(&facts),
        )];
        if let Some(servers) = assign_to {
            records.extend(assign_in(&mut tx, &fingerprint, servers).await?);
        }
        audit::record(&mut tx, actor, Area::Certificates, action, &records).await?;
        bus::notify(&mut tx, Topic::Certificates, None)
            .await
            .map_err(DbError::from)?;
        tx.commit().await?;
        self.changed().await;
        Ok(fingerprint)
    }

    async fn import(&self, actor: &Actor, import: ImportCertificate) -> Result<String, ApiError> {
        let (key, certs) = read_import(import)?;
        let now = unix_millis();
        let subject_der = certs[0].clone();
        let subject = pki::facts(&subject_der).map_err(|e| invalid("import.cert_pem", e))?;
        let mut facts = vec![subject.clone()];
        for der in &certs[1..] {
            facts.push(pki::facts(der).map_err(|e| invalid("import.cert_pem", e))?);
        }
        if let Some(key) = &key
            && key.subject_public_key_info() != subject.spki
        {
            return Err(invalid(
                "import.key_pem",
                format!(
                    "the private key does not belong to the certificate \"{}\" (their public keys \
                     differ)",
                    subject.subject
                ),
            ));
        }
        if subject.not_after <= now {
            return Err(invalid(
                "import.cert_pem",
                format!(
                    "\"{}\" expired on {}",
                    subject.subject,
                    date(subject.not_after)
                ),
            ));
        }
        if subject.not_before > now {
            return Err(invalid(
                "import.cert_pem",
                format!(
                    "\"{}\" is not valid before {}",
                    subject.subject,
                    date(subject.not_before)
                ),
            ));
        }
        if !subject.is_ca && subject.sans.is_empty() {
            return Err(invalid(
                "import.cert_pem",
                format!(
                    "\"{}\" is a server certificate without Subject Alternative Names: clients \
                     check the names there, so it would fit no host",
                    subject.subject
                ),
            ));
        }
        // the chain up to a self-signed root, from the import and the list
        let stored = store::all(&self.db, store::WEB).await?;
        let mut chain: Vec<(Vec<u8>, Facts, Option<String>)> = Vec::new();
        let mut current = (subject_der.clone(), subject.clone());
        loop {
            if current.1.self_signed {
                chain.push((current.0, current.1, None));
                break;
            }
            if chain.len() > 8 {
                return Err(invalid(
                    "import.cert_pem",
                    "the chain is longer than 8 certificates",
                ));
            }
            let from_import = certs
                .iter()
                .zip(&facts)
                .find(|(der, _)| **der != current.0 && pki::issued(&current.0, der));
            let parent = match from_import {
                Some((der, f)) => (der.clone(), f.clone()),
                None => match stored.iter().find(|c| pki::issued(&current.0, &c.der)) {
                    Some(c) => (
                        c.der.clone(),
                        pki::facts(&c.der).map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))?,
                    ),
                    None => {
                        return Err(invalid(
                            "import.cert_pem",
                            format!(
                                "the chain is incomplete: \"{}\" was issued by \"{}\", which is \
                                 neither in the list nor in the import. Paste the issuer's \
                                 certificate after it, or import the issuer first",
                                current.1.subject, current.1.issuer
                            ),
                        ));
                    }
                },
            };
            if !parent.1.is_ca {
                return Err(invalid(
                    "import.cert_pem",
                    format!(
                        "\"{}\" issued \"{}\" but is not a CA",
                        parent.1.subject, current.1.subject
                    ),
                ));
            }
            if parent.1.not_after <= now {
                return Err(invalid(
                    "import.cert_pem",
                    format!(
                        "the issuer \"{}\" expired on {}",
                        parent.1.subject,
                        date(parent.1.not_after)
                    ),
                ));
            }
            let parent_fp = parent.1.fingerprint_sha256.clone();
            chain.push((current.0, current.1, Some(parent_fp)));
            current = parent;
        }
        let existing = stored
            .iter()
            .find(|c| c.fingerprint == subject.fingerprint_sha256);
        if let Some(existing) = existing
            && (existing.sealed_key.is_some() || key.is_none())
        {
            return Err(ApiError::Conflict(format!(
                "\"{}\" is in the list already (SHA-256 {})",
                subject.subject, subject.fingerprint_sha256
            )));
        }
        let fingerprint = subject.fingerprint_sha256.clone();
        let mut tx = self.db.begin().await?;
        let mut records = Vec::new();
        // issuers first, so every row's issuer exists when it is stored
        for (der, f, issuer) in chain.iter().rev() {
            let sealed_key = if f.fingerprint_sha256 == fingerprint {
                key.as_ref()
                    .map(|k| self.sealer.seal(&k.serialize_der(), &fingerprint))
            } else {
                None
            };
            let row = Stored {
                fingerprint: f.fingerprint_sha256.clone(),
                purpose: store::WEB.into(),
                der: der.clone(),
                sealed_key: sealed_key.clone(),
                issuer: issuer.clone(),
                is_ca: f.is_ca,
                not_after: f.not_after,
                created_at: now,
                created_by: actor.name.clone(),
            };
            if store::insert(&mut tx, &row).await? {
                records.push(Record::new(
                    format!("certificates.web.{}", f.fingerprint_sha256),
                    serde_json::Value::Null,
                    summary(f),
                ));
            } else if let Some(sealed) = sealed_key {
                store::set_key(&mut tx, &fingerprint, &sealed).await?;
                records.push(Record::new(
                    format!("certificates.web.{fingerprint}.key"),
                    false,
                    true,
                ));
            }
        }
        // certificates stored earlier without this issuer now chain to it
        let orphans: Vec<String> = stored
            .iter()
            .filter(|c| c.issuer.is_none() && c.fingerprint != fingerprint)
            .filter(|c| pki::issued(&c.der, &subject_der))
            .map(|c| c.fingerprint.clone())
            .collect();
        store::adopt(&mut tx, &fingerprint, &orphans).await?;
        audit::record(&mut tx, actor, Area::Certificates, "import", &records).await?;
        bus::notify(&mut tx, Topic::Certificates, None)
            .await
            .map_err(DbError::from)?;
        tx.commit().await?;
        self.changed().await;
        Ok(fingerprint)
    }

    /// `POST /api/v1/certificates/web/signed`.
    pub async fn create_signed(
        &self,
        actor: &Actor,
        request: NewSigned,
    ) -> Result<String, ApiError> {
        let servers = self.servers();
        let chosen = chosen_servers(&servers, &request.servers)?;
        let names = if request.hostnames.is_empty() {
            self.suggested(&chosen)
        } else {
            request.hostnames.clone()
        };
        let names = rules::hostnames(&names).map_err(|e| invalid("hostnames", e))?;
        let days = rules::validity_days(
            request.validity_days.unwrap_or(rules::LEAF_DEFAULT_DAYS),
            rules::LEAF_MAX_DAYS,
        )
        .map_err(|e| invalid("validity_days", e))?;
        let (issuer, issuer_key) = self.signing_ca(&request.issuer, "issuer").await?;
        let now = unix_millis();
        let not_after = within_issuer(
            &issuer,
            now + i64::from(days) * DAY,
            request.validity_days.is_some(),
            "validity_days",
        )?;
        let algorithm = request.algorithm;
        let issuer_fp = issuer.fingerprint.clone();
        let (der, key) = blocking(move || {
            let key = pki::generate_key(algorithm)?;
            let der = pki::make(
                Profile::Server { hostnames: &names },
                &key,
                Signer::Ca {
                    der: &issuer.der,
                    key: &issuer_key,
                },
                now - BACKDATE,
                not_after,
            )?;
            Ok((der, key))
        })
        .await?
        .map_err(|e| invalid("hostnames", e))?;
        let assign = request.assign.then_some(&request.servers);
        self.insert_new(actor, &der, &key, Some(issuer_fp), "create signed", assign)
            .await
    }

    /// `POST /api/v1/certificates/web/{fp}/assign`.
    pub async fn assign(
        &self,
        actor: &Actor,
        fingerprint: &str,
        servers: &Servers,
    ) -> Result<(), ApiError> {
        let cert = self.find(fingerprint).await?;
        self.assignable(&cert)?;
        chosen_servers(&self.servers(), servers)?;
        let mut tx = self.db.begin().await?;
        if store::get_in(&mut tx, &cert.fingerprint).await?.is_none() {
            return Err(ApiError::NotFound(
                "the certificate was deleted meanwhile".into(),
            ));
        }
        let records = assign_in(&mut tx, &cert.fingerprint, servers).await?;
        audit::record(&mut tx, actor, Area::Certificates, "assign", &records).await?;
        bus::notify(&mut tx, Topic::Certificates, None)
            .await
            .map_err(DbError::from)?;
        tx.commit().await?;
        self.changed().await;
        Ok(())
    }

    /// Whether servers can present it: a server certificate with its key, valid now.
    fn assignable(&self, cert: &Stored) -> Result<(), ApiError> {
        let facts = pki::facts(&cert.der).map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))?;
        if cert.is_ca {
            return Err(invalid(
                "servers",
                format!(
                    "\"{}\" is a CA certificate; servers present a certificate it signs (Create \
                     signed certificate)",
                    facts.subject
                ),
            ));
        }
        if cert.sealed_key.is_none() {
            return Err(invalid(
                "servers",
                format!(
                    "\"{}\" has no private key here: a server cannot present it",
                    facts.subject
                ),
            ));
        }
        let now = unix_millis();
        if facts.not_after <= now {
            return Err(invalid(
                "servers",
                format!(
                    "\"{}\" expired on {}: renew it",
                    facts.subject,
                    date(facts.not_after)
                ),
            ));
        }
        Ok(())
    }

    /// `POST /api/v1/certificates/web/{fp}/renew`: the same subject and names, valid from now
    /// for as long as before (never beyond the issuer). A server certificate gets a new key and
    /// takes over the old one's assignments; a CA keeps its key, so what it issued stays valid.
    pub async fn renew(&self, actor: &Actor, fingerprint: &str) -> Result<String, ApiError> {
        let cert = self.find(fingerprint).await?;
        let facts = pki::facts(&cert.der).map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))?;
        let Some(own_key) = self.unseal(&cert)? else {
            return Err(invalid(
                "",
                format!(
                    "\"{}\" has no private key here: renew it where it was issued",
                    facts.subject
                ),
            ));
        };
        let issuer = match (&cert.issuer, facts.self_signed) {
            (_, true) => None,
            (Some(issuer), false) => Some(self.signing_ca(issuer, "issuer").await?),
            (None, false) => {
                return Err(invalid(
                    "",
                    format!(
                        "the issuer of \"{}\" is not in the list: renew it where it was issued",
                        facts.subject
                    ),
                ));
            }
        };
        let now = unix_millis();
        let lifetime = (facts.not_after - facts.not_before).max(DAY);
        let mut not_after = now + lifetime;
        if let Some((issuer, _)) = &issuer {
            not_after = within_issuer(issuer, not_after, false, "")?;
        }
        let algorithm = pki::algorithm_of(&facts);
        let is_ca = cert.is_ca;
        let old = cert.der.clone();
        let (der, key) = blocking(move || {
            let key = if is_ca {
                own_key
            } else {
                pki::generate_key(algorithm)?
            };
            let signer = match &issuer {
                Some((c, k)) => Signer::Ca {
                    der: &c.der,
                    key: k,
                },
                None => Signer::Itself,
            };
            let der = pki::remake(&old, &key, signer, now - BACKDATE, not_after)?;
            Ok((der, key))
        })
        .await?
        .map_err(|e| invalid("", e))?;
        let new = pki::facts(&der).map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))?;
        let new_fp = new.fingerprint_sha256.clone();
        let row = Stored {
            fingerprint: new_fp.clone(),
            purpose: store::WEB.into(),
            der,
            sealed_key: Some(self.sealer.seal(&key.serialize_der(), &new_fp)),
            issuer: if new.self_signed {
                None
            } else {
                cert.issuer.clone()
            },
            is_ca: new.is_ca,
            not_after: new.not_after,
            created_at: now,
            created_by: actor.name.clone(),
        };
        let mut tx = self.db.begin().await?;
        if store::get_in(&mut tx, &cert.fingerprint).await?.is_none() {
            return Err(ApiError::NotFound(
                "the certificate was deleted meanwhile".into(),
            ));
        }
        store::insert(&mut tx, &row).await?;
        if !cert.is_ca {
            store::move_assignments(&mut tx, &cert.fingerprint, &new_fp).await?;
        }
        let records = [Record::new(
            format!("certificates.web.{}", cert.fingerprint),
            serde_json::json!({"not_after": rfc3339(facts.not_after)}),
            serde_json::json!({"renewed_as": new_fp, "not_after": rfc3339(new.not_after)}),
        )];
        audit::record(&mut tx, actor, Area::Certificates, "renew", &records).await?;
        bus::notify(&mut tx, Topic::Certificates, None)
            .await
            .map_err(DbError::from)?;
        tx.commit().await?;
        self.changed().await;
        Ok(new_fp)
    }

    /// `DELETE /api/v1/certificates/web/{fp}`: refused while a server presents it or it issued
    /// certificates of the list.
    pub async fn delete(&self, actor: &Actor, fingerprint: &str) -> Result<(), ApiError> {
        let cert = self.find(fingerprint).await?;
        let facts = pki::facts(&cert.der).map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))?;
        let mut tx = self.db.begin().await?;
        if store::get_in(&mut tx, &cert.fingerprint).await?.is_none() {
            return Ok(());
        }
        let assigned: Vec<String> = store::assignments_in(&mut tx)
            .await?
            .into_iter()
            .filter(|(_, f)| *f == cert.fingerprint)
            .map(|(s, _)| s)
            .collect();
        if !assigned.is_empty() {
            let names = self.server_names(&assigned);
            return Err(ApiError::Conflict(format!(
                "\"{}\" is assigned to {names}: assign another certificate first",
                facts.subject
            )));
        }
        let issued = store::issued_count(&mut tx, &cert.fingerprint).await?;
        if issued > 0 {
            return Err(ApiError::Conflict(format!(
                "\"{}\" issued {issued} certificate{} of the list: delete {} first",
                facts.subject,
                if issued == 1 { "" } else { "s" },
                if issued == 1 { "it" } else { "them" }
            )));
        }
        store::drop_roles(&mut tx, &cert.fingerprint).await?;
        store::delete(&mut tx, &cert.fingerprint).await?;
        let records = [Record::new(
            format!("certificates.web.{}", cert.fingerprint),
            summary(&facts),
            serde_json::Value::Null,
        )];
        audit::record(&mut tx, actor, Area::Certificates, "delete", &records).await?;
        bus::notify(&mut tx, Topic::Certificates, None)
            .await
            .map_err(DbError::from)?;
        tx.commit().await?;
        self.changed().await;
        Ok(())
    }

    fn server_names(&self, ids: &[String]) -> String {
        let servers = self.registry.servers().1;
        ids.iter()
            .map(|id| {
                if id == store::ALL_SERVERS {
                    "all servers".to_owned()
                } else {
                    servers
                        .iter()
                        .find(|s| s.id == *id)
                        .map(|s| format!("the server \"{}\"", s.name))
                        .unwrap_or_else(|| format!("the server {id}"))
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The certificate and the certificates above it, up to its root.
    async fn chain(&self, cert: &Stored) -> Result<Vec<Stored>, ApiError> {
        let mut chain = vec![cert.clone()];
        while let Some(issuer) = chain.last().and_then(|c| c.issuer.clone()) {
            if chain.len() > 8 || chain.iter().any(|c| c.fingerprint == issuer) {
                break;
            }
            match store::get(&self.db, &issuer).await? {
                Some(parent) => chain.push(parent),
                None => break,
            }
        }
        Ok(chain)
    }

    /// `GET …/{fp}/export`: `(body, media type, file name)`.
    pub async fn export(
        &self,
        fingerprint: &str,
        format: ExportFormat,
    ) -> Result<(Vec<u8>, &'static str, String), ApiError> {
        let cert = self.find(fingerprint).await?;
        let name = file_name(&cert);
        Ok(match format {
            ExportFormat::Pem => (
                pki::pem(&cert.der).into_bytes(),
                "application/x-pem-file",
                format!("{name}.pem"),
            ),
            ExportFormat::Der => (
                cert.der.clone(),
                "application/pkix-cert",
                format!("{name}.cer"),
            ),
            ExportFormat::Chain => {
                let chain = self.chain(&cert).await?;
                let pem: String = chain.iter().map(|c| pki::pem(&c.der)).collect();
                (
                    pem.into_bytes(),
                    "application/x-pem-file",
                    format!("{name}-chain.pem"),
                )
            }
        })
    }

    /// `POST …/{fp}/export` with a password: the certificate, its chain and its private key as
    /// PKCS#12. Recorded in the audit log: a key left the server.
    pub async fn export_p12(
        &self,
        actor: &Actor,
        fingerprint: &str,
        password: String,
    ) -> Result<(Vec<u8>, String), ApiError> {
        rules::p12_password(&password).map_err(|e| invalid("password", e))?;
        let cert = self.find(fingerprint).await?;
        let Some(key) = self.unseal(&cert)? else {
            return Err(invalid(
                "format",
                "this certificate has no private key here; export it as PEM or DER",
            ));
        };
        let chain: Vec<Vec<u8>> = self
            .chain(&cert)
            .await?
            .into_iter()
            .map(|c| c.der)
            .collect();
        let name = file_name(&cert);
        let alias = name.clone();
        let bytes = blocking(move || pki::p12(&chain, &key.serialize_der(), &password, &alias))
            .await?
            .map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))?;
        audit::record_now(
            &self.db,
            actor,
            Area::Certificates,
            "export key",
            &[Record::new(
                format!("certificates.web.{}.key", cert.fingerprint),
                serde_json::Value::Null,
                "exported as PKCS#12",
            )],
        )
        .await?;
        Ok((bytes, format!("{name}.p12")))
    }

    /// The device CA's chain as PEM.
    pub async fn client_chain(&self) -> Result<String, ApiError> {
        let fp = store::role(&self.db, store::ROLE_DEVICE_CA)
            .await?
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the device CA is missing")))?;
        let cert = store::get(&self.db, &fp)
            .await?
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the device CA is missing")))?;
        Ok(self
            .chain(&cert)
            .await?
            .iter()
            .map(|c| pki::pem(&c.der))
            .collect())
    }

    /// The device CA's certificate and key, for the enrollment area.
    pub async fn device_ca(&self) -> anyhow::Result<(Vec<u8>, KeyPair)> {
        let fp = store::role(&self.db, store::ROLE_DEVICE_CA)
            .await?
            .context("the device CA is missing")?;
        let cert = store::get(&self.db, &fp)
            .await?
            .context("the device CA is missing")?;
        let key = self
            .unseal(&cert)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .context("the device CA has no key")?;
        Ok((cert.der, key))
    }
}

/// Reads the import's certificates (the first is the one imported) and key.
fn read_import(import: ImportCertificate) -> Result<(Option<KeyPair>, Vec<Vec<u8>>), ApiError> {
    use base64::Engine;
    match (import.cert_pem, import.p12_base64) {
        (Some(_), Some(_)) => Err(invalid(
            "import",
            "send either PEM (cert_pem, key_pem) or PKCS#12 (p12_base64, password), not both",
        )),
        (None, None) => Err(invalid(
            "import.cert_pem",
            "paste the certificate (PEM), or upload a PKCS#12 file",
        )),
        (Some(pem), None) => {
            let certs = pki::certs_from_pem(&pem).map_err(|e| invalid("import.cert_pem", e))?;
            let key = match import.key_pem.filter(|k| !k.trim().is_empty()) {
                Some(key) => {
                    Some(pki::key_from_pem(&key).map_err(|e| invalid("import.key_pem", e))?)
                }
                None => None,
            };
            Ok((key, certs))
        }
        (None, Some(p12)) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(p12.trim())
                .map_err(|_| {
                    invalid("import.p12_base64", "the PKCS#12 file is not valid base64")
                })?;
            let password = import.password.unwrap_or_default();
            let (key, certs) =
                pki::from_p12(&bytes, &password).map_err(|e| invalid("import.p12_base64", e))?;
            Ok((Some(key), certs))
        }
    }
}

/// The end of a certificate's validity within its issuer's: refused when asked for explicitly
/// (`explicit`), shortened otherwise.
fn within_issuer(
    issuer: &Stored,
    not_after: i64,
    explicit: bool,
    field: &str,
) -> Result<i64, ApiError> {
    if not_after <= issuer.not_after {
        return Ok(not_after);
    }
    let facts = pki::facts(&issuer.der).map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))?;
    let days_left = (issuer.not_after - unix_millis()) / DAY;
    if explicit || days_left < 1 {
        return Err(invalid(
            field,
            format!(
                "a certificate cannot outlive its issuer: \"{}\" ends on {}, {days_left} days \
                 from now",
                facts.subject,
                date(issuer.not_after)
            ),
        ));
    }
    Ok(issuer.not_after)
}

/// The servers a request names: all of them, or known ones by id.
fn chosen_servers(known: &[ServerEntry], servers: &Servers) -> Result<Vec<ServerEntry>, ApiError> {
    match servers {
        Servers::All(_) => Ok(known.to_vec()),
        Servers::Some(ids) => {
            if ids.is_empty() {
                return Err(invalid("servers", "choose at least one server, or \"all\""));
            }
            let mut chosen = Vec::new();
            for id in ids {
                match known.iter().find(|s| s.id == *id) {
                    Some(s) => chosen.push(s.clone()),
                    None => {
                        return Err(invalid(
                            "servers",
                            format!("no running server has the id {id}"),
                        ));
                    }
                }
            }
            Ok(chosen)
        }
    }
}

/// Assigns in `tx`; the audit records of it.
async fn assign_in(
    tx: &mut Tx,
    fingerprint: &str,
    servers: &Servers,
) -> Result<Vec<Record>, ApiError> {
    let before = store::assignments_in(tx).await?;
    let mut records = Vec::new();
    match servers {
        Servers::All(_) => {
            store::clear_own_assignments(tx).await?;
            store::assign(tx, store::ALL_SERVERS, fingerprint).await?;
            for (server, old) in before {
                records.push(Record::new(
                    format!("certificates.assignment.{server}"),
                    old,
                    if server == store::ALL_SERVERS {
                        serde_json::json!(fingerprint)
                    } else {
                        serde_json::Value::Null
                    },
                ));
            }
            if !records.iter().any(|r| r.field.ends_with(".*")) {
                records.push(Record::new(
                    "certificates.assignment.*",
                    serde_json::Value::Null,
                    fingerprint,
                ));
            }
        }
        Servers::Some(ids) => {
            for id in ids {
                store::assign(tx, id, fingerprint).await?;
                let old = before
                    .iter()
                    .find(|(s, _)| s == id)
                    .map(|(_, f)| serde_json::json!(f))
                    .unwrap_or(serde_json::Value::Null);
                records.push(Record::new(
                    format!("certificates.assignment.{id}"),
                    old,
                    fingerprint,
                ));
            }
        }
    }
    Ok(records)
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

fn summary(facts: &Facts) -> serde_json::Value {
    serde_json::json!({
        "subject": facts.subject,
        "sans": facts.sans,
        "not_after": rfc3339(facts.not_after),
        "ca": facts.is_ca,
    })
}

/// A file name from the certificate's common name and fingerprint.
fn file_name(cert: &Stored) -> String {
    let cn = pki::facts(&cert.der)
        .ok()
        .and_then(|f| {
            f.subject
                .split(',')
                .find_map(|part| part.trim().strip_prefix("CN=").map(str::to_owned))
        })
        .unwrap_or_else(|| "certificate".into());
    let mut name: String = cn
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    name = name.trim_matches('-').to_ascii_lowercase();
    if name.is_empty() {
        name = "certificate".into();
    }
    format!("{name}-{}", &cert.fingerprint[..8])
}

fn describe(
    facts: &Facts,
    cert: &Stored,
    now: i64,
    assigned_to_all: bool,
    assigned_to: Vec<ServerRef>,
    issued: u32,
) -> WebCertificate {
    let days_left = (facts.not_after - now).div_euclid(DAY);
    let expiry = if facts.not_after <= now {
        Expiry::Expired
    } else if facts.not_before > now {
        Expiry::NotYet
    } else if days_left < rules::EXPIRY_WARNING_DAYS {
        Expiry::Soon
    } else {
        Expiry::Valid
    };
    WebCertificate {
        fingerprint_sha256: facts.fingerprint_sha256.clone(),
        fingerprint_sha1: facts.fingerprint_sha1.clone(),
        subject: facts.subject.clone(),
        issuer: facts.issuer.clone(),
        issuer_fingerprint: cert.issuer.clone(),
        sans: facts.sans.clone(),
        not_before: rfc3339(facts.not_before),
        not_after: rfc3339(facts.not_after),
        days_left,
        expiry,
        key_algorithm: facts.key_algorithm.clone(),
        has_key: cert.sealed_key.is_some(),
        is_ca: facts.is_ca,
        self_signed: facts.self_signed,
        assigned_to_all,
        assigned_to,
        issued,
    }
}

/// The names of this server's own first certificate.
fn own_names(config: &Config, identity: &crate::cluster::Identity) -> Vec<String> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Some(public) = &config.public_address {
        names.push(public.clone());
    }
    names.push(identity.name.clone());
    names.push(gethostname::gethostname().to_string_lossy().into_owned());
    names.extend(identity.addresses.iter().cloned());
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

/// The CA of `role` (the web root or the device CA): made and stored by the first server to
/// start; its key must open with this server's secret key.
async fn ensure_ca(db: &Db, sealer: &Sealer, actor: &Actor, role: &str) -> anyhow::Result<Stored> {
    if let Some(fp) = store::role(db, role).await? {
        return existing_ca(db, sealer, &fp).await;
    }
    let (name, purpose) = match role {
        store::ROLE_WEB_ROOT => ("Pharos Web Root CA", store::WEB),
        _ => ("Pharos Device CA", store::DEVICE),
    };
    let now = unix_millis();
    let not_after = now + i64::from(rules::ROOT_DEFAULT_DAYS) * DAY;
    let (der, key) = tokio::task::spawn_blocking(move || {
        let key = pki::generate_key(KeyAlgorithm::EcP256)?;
        let der = pki::make(
            Profile::Ca { name },
            &key,
            Signer::Itself,
            now - BACKDATE,
            not_after,
        )?;
        Ok::<_, String>((der, key))
    })
    .await?
    .map_err(|e| anyhow::anyhow!(e))?;
    let fingerprint = pki::sha256_hex(&der);
    let row = Stored {
        fingerprint: fingerprint.clone(),
        purpose: purpose.into(),
        sealed_key: Some(sealer.seal(&key.serialize_der(), &fingerprint)),
        der,
        issuer: None,
        is_ca: true,
        not_after,
        created_at: now,
        created_by: actor.name.clone(),
    };
    let mut tx = db.begin().await?;
    store::insert(&mut tx, &row).await?;
    // made by the installation itself, not an administrator: logged, not audited
    if store::claim_role(&mut tx, role, &fingerprint).await? {
        tx.commit().await?;
        tracing::info!(role, fingerprint, "generated a CA");
        Ok(row)
    } else {
        // another server stored one first: use that one
        tx.rollback().await?;
        let fp = store::role(db, role)
            .await?
            .context("reading the CA just stored")?;
        existing_ca(db, sealer, &fp).await
    }
}

async fn existing_ca(db: &Db, sealer: &Sealer, fp: &str) -> anyhow::Result<Stored> {
    let cert = store::get(db, fp)
        .await?
        .with_context(|| format!("the certificate {fp} of a role is missing"))?;
    if let Some(sealed) = &cert.sealed_key {
        sealer.open(sealed, fp).map_err(|_| {
            anyhow::anyhow!(
                "the private keys in this database were sealed with another secret key: every \
                 server sharing a database needs the same PHAROS_SECRET_KEY (or a copy of the \
                 first server's {KEY_FILE})"
            )
        })?;
    }
    Ok(cert)
}

/// This server's first certificate: its names, signed by the web root, assigned to it.
async fn make_own_certificate(
    db: &Db,
    sealer: &Sealer,
    actor: &Actor,
    root: &Stored,
    names: &[String],
    server_id: &str,
) -> anyhow::Result<()> {
    let root_key = root
        .sealed_key
        .as_ref()
        .context("the web root has no key")?;
    let root_key = pki::key_from_der(&sealer.open(root_key, &root.fingerprint)?)
        .map_err(|e| anyhow::anyhow!(e))?;
    let now = unix_millis();
    let not_after = (now + i64::from(rules::LEAF_DEFAULT_DAYS) * DAY).min(root.not_after);
    let root_der = root.der.clone();
    let names = names.to_vec();
    let (der, key) = tokio::task::spawn_blocking(move || {
        let key = pki::generate_key(KeyAlgorithm::EcP256)?;
        let der = pki::make(
            Profile::Server { hostnames: &names },
            &key,
            Signer::Ca {
                der: &root_der,
                key: &root_key,
            },
            now - BACKDATE,
            not_after,
        )?;
        Ok::<_, String>((der, key))
    })
    .await?
    .map_err(|e| anyhow::anyhow!(e))?;
    let facts = pki::facts(&der).map_err(|e| anyhow::anyhow!(e))?;
    let fingerprint = facts.fingerprint_sha256.clone();
    let row = Stored {
        fingerprint: fingerprint.clone(),
        purpose: store::WEB.into(),
        sealed_key: Some(sealer.seal(&key.serialize_der(), &fingerprint)),
        der,
        issuer: Some(root.fingerprint.clone()),
        is_ca: false,
        not_after: facts.not_after,
        created_at: now,
        created_by: actor.name.clone(),
    };
    let mut tx = db.begin().await?;
    store::insert(&mut tx, &row).await?;
    store::assign(&mut tx, server_id, &fingerprint).await?;
    bus::notify(&mut tx, Topic::Certificates, None).await?;
    tx.commit().await?;
    tracing::info!(%fingerprint, names = ?facts.sans, "generated this server's certificate");
    Ok(())
}

/// What `server_id` presents, ready for rustls.
async fn load_presented(db: &Db, sealer: &Sealer, server_id: &str) -> anyhow::Result<Presented> {
    let assignments = store::assignments(db).await?;
    let fp = effective(&assignments, server_id)
        .context("no certificate is assigned to this server")?
        .to_owned();
    let mut chain = Vec::new();
    let mut next = Some(fp.clone());
    while let Some(fp) = next {
        if chain.len() > 8 {
            break;
        }
        let cert = store::get(db, &fp)
            .await?
            .with_context(|| format!("the certificate {fp} is missing"))?;
        next = cert.issuer.clone().filter(|i| *i != cert.fingerprint);
        chain.push(cert);
    }
    let leaf = &chain[0];
    let sealed = leaf
        .sealed_key
        .as_ref()
        .context("the assigned certificate has no key")?;
    let key_der = sealer.open(sealed, &leaf.fingerprint)?;
    let key = PrivateKeyDer::try_from(key_der)
        .map_err(|e| anyhow::anyhow!("the assigned certificate's key is unreadable: {e}"))?;
    let signing = rustls::crypto::aws_lc_rs::sign::any_supported_type(&key)
        .context("the assigned certificate's key cannot sign")?;
    let top = chain.last().expect("one at least");
    let top_facts = pki::facts(&top.der).map_err(|e| anyhow::anyhow!(e))?;
    // the root is the client's to have: presenting it only lengthens every handshake
    let presented_chain: Vec<CertificateDer<'static>> = chain
        .iter()
        .filter(|c| !(c.fingerprint == top.fingerprint && top_facts.self_signed && chain.len() > 1))
        .map(|c| CertificateDer::from(c.der.clone()))
        .collect();
    Ok(Presented {
        fingerprint: fp,
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
        Some(self.0.presented.load().key.clone())
    }
}
