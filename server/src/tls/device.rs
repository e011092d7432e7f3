//! The device CA as the listener and the enrollment area use it: read when the certificates
//! change, not at every handshake or enrollment. The listener asks every client for an optional
//! certificate and accepts only those the device CA issued (a browser sends none and is not
//! troubled).

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
    pub key: Arc<KeyPair>,
    /// Clients whose chain ends at this CA.
    verifier: Arc<dyn ClientCertVerifier>,
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
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .allow_unauthenticated()
            .build()
            .context("verifying device certificates")?;
        Ok(DeviceCa {
            der: stored.der,
            fingerprint,
            key: Arc::new(key),
            verifier,
        })
    }
}

/// The listener's client-certificate check: optional, against the device CA of the moment.
#[derive(Debug)]
pub(super) struct DeviceClients(pub Arc<Tls>);

impl DeviceClients {
    fn current(&self) -> Result<Arc<DeviceCa>, rustls::Error> {
        self.0
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
        // no hints: a client with a device certificate sends it anyway, and browsers without
        // one are not asked to choose
        &[]
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
