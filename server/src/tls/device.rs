//! The device CA as the listener and the enrollment area use it: read when the certificates
//! change, not at every handshake or enrollment. The listener asks every client for an optional
//! certificate of the device CA, naming it: a browser holding no certificate of it is not asked
//! to choose one.

use super::{Tls, provider, store};
use crate::db::Db;
use anyhow::Context;
use rcgen::KeyPair;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::{CertificateDer, UnixTime};
use std::sync::Arc;

/// The device CA of the installation.
pub struct DeviceCa {
    pub der: Vec<u8>,
    pub fingerprint: String,
    /// When it expires (Unix milliseconds): what it issues ends by then.
    pub not_after: i64,
    pub key: Arc<KeyPair>,
    /// Clients whose chain ends at this CA.
    verifier: Arc<dyn ClientCertVerifier>,
    /// Its subject, as the listener names it to clients.
    hints: Vec<DistinguishedName>,
}

impl std::fmt::Debug for DeviceCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCa")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl DeviceCa {
    /// Reads the device CA and unseals its key.
    pub(super) async fn load(db: &Db, sealer: &super::Sealer) -> anyhow::Result<DeviceCa> {
        let fingerprint = store::role(db, store::ROLE_DEVICE_CA)
            .await?
            .context("the device CA is missing")?;
        let stored = store::get(db, &fingerprint)
            .await?
            .context("the device CA is missing")?;
        let sealed = stored
            .sealed_key
            .as_ref()
            .context("the device CA has no key")?;
        let key = sealer.open(sealed, &fingerprint)?;
        let key = super::pki::key_from_der(&key).map_err(|e| anyhow::anyhow!(e))?;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(stored.der.clone()))
            .context("the device CA cannot be a trust anchor")?;
        let hints = roots.subjects();
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .allow_unauthenticated()
            .build()
            .context("verifying device certificates")?;
        let not_after = super::pki::facts(&stored.der)
            .map_err(|e| anyhow::anyhow!(e))?
            .not_after;
        Ok(DeviceCa {
            not_after,
            der: stored.der,
            fingerprint,
            key: Arc::new(key),
            verifier,
            hints,
        })
    }
}

/// The listener's client-certificate check: optional, against the device CA of the moment,
/// naming the device CA's subject as it was when the listener started (a renewed CA keeps it).
#[derive(Debug)]
pub(super) struct DeviceClients {
    tls: Arc<Tls>,
    hints: Vec<DistinguishedName>,
}

impl DeviceClients {
    pub(super) fn new(tls: Arc<Tls>) -> DeviceClients {
        let hints = tls
            .device
            .load()
            .as_ref()
            .map(|ca| ca.hints.clone())
            .unwrap_or_default();
        DeviceClients { tls, hints }
    }

    fn current(&self) -> Result<Arc<DeviceCa>, rustls::Error> {
        self.tls
            .device
            .load_full()
            .ok_or_else(|| rustls::Error::General("no device CA to verify clients with".into()))
    }
}

impl ClientCertVerifier for DeviceClients {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.current()?
            .verifier
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
