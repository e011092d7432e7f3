//! Certificates with their keys from elsewhere (PEM or PKCS#12), checked before anything is
//! stored: readable, the key matching, valid now, names on a server certificate, a complete
//! chain, not in the list already.

use super::web::{issuer_still_there, summary};
use super::*;

impl Tls {
    pub(super) async fn import(
        &self,
        actor: &Actor,
        import: ImportCertificate,
    ) -> Result<String, ApiError> {
        // PKCS#12 decryption (its iterations are the file's to choose) and parsing off the async
        // threads
        let (key, certs) = tokio::task::spawn_blocking(move || read_import(import))
            .await
            .map_err(|e| internal(e.to_string()))??;
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
                    Some(c) => (c.der.clone(), facts_of(&c.der)?),
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
            if parent.1.not_before > now {
                return Err(invalid(
                    "import.cert_pem",
                    format!(
                        "the issuer \"{}\" is not valid before {}",
                        parent.1.subject,
                        date(parent.1.not_before)
                    ),
                ));
            }
            let parent_fp = parent.1.fingerprint_sha256.clone();
            chain.push((current.0, current.1, Some(parent_fp)));
            current = parent;
        }
        // any purpose: the device CA is not a web certificate, and is no import either
        let existing = store::get(&self.db, &subject.fingerprint_sha256).await?;
        if let Some(existing) = &existing
            && existing.purpose != store::WEB
        {
            return Err(ApiError::Conflict(format!(
                "\"{}\" is Pharos's device CA: it cannot be a web certificate",
                subject.subject
            )));
        }
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
            let is_subject = f.fingerprint_sha256 == fingerprint;
            let own_key = if is_subject { key.as_ref() } else { None };
            let row = Stored::made(
                &self.sealer,
                store::WEB,
                der,
                f,
                own_key,
                issuer.clone(),
                actor,
            );
            if let Some(issuer) = issuer {
                issuer_still_there(&mut tx, issuer).await?;
            }
            if store::insert(&mut tx, &row).await? {
                records.push(Record::new(
                    format!("certificates.web.{}", f.fingerprint_sha256),
                    serde_json::Value::Null,
                    summary(f),
                ));
            } else if let Some(sealed) = &row.sealed_key {
                store::set_key(&mut tx, &fingerprint, sealed).await?;
                records.push(Record::new(
                    format!("certificates.web.{fingerprint}.key"),
                    false,
                    true,
                ));
            } else if is_subject {
                return Err(ApiError::Conflict(format!(
                    "\"{}\" is in the list already (SHA-256 {fingerprint})",
                    f.subject
                )));
            }
        }
        self.commit(tx, actor, "import", &records).await?;
        Ok(fingerprint)
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
