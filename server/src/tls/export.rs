//! What leaves the server: certificates and chains, a key only as password-protected PKCS#12,
//! the device CA's chain.

use super::*;

impl Tls {
    /// The certificate and the certificates above it, up to its root.
    async fn chain(&self, cert: &Stored) -> Result<Vec<Stored>, ApiError> {
        Ok(store::chain(&self.db, &cert.fingerprint).await?)
    }

    /// The device CA, as stored.
    async fn device_ca_row(&self) -> anyhow::Result<Stored> {
        let fp = store::role(&self.db, store::ROLE_DEVICE_CA)
            .await?
            .context("the device CA is missing")?;
        store::get(&self.db, &fp)
            .await?
            .context("the device CA is missing")
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
        let cert = self.device_ca_row().await?;
        Ok(self
            .chain(&cert)
            .await?
            .iter()
            .map(|c| pki::pem(&c.der))
            .collect())
    }
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
