//! The web certificates as they are made: the list, new CAs (generated, intermediate or
//! imported) and server certificates signed by one of them.

use super::lifecycle::{assign_in, chosen_servers};
use super::*;

impl Tls {
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
            let facts = facts_of(&cert.der)?;
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
            suggested_for_server: servers
                .iter()
                .map(|s| (s.id.clone(), self.suggested(std::slice::from_ref(s))))
                .collect(),
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
                .map_err(internal)?;
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
    pub(super) async fn signing_ca(
        &self,
        fingerprint: &str,
        field: &str,
    ) -> Result<(Stored, KeyPair), ApiError> {
        let cert = self.find(fingerprint).await.map_err(|e| match e {
            ApiError::NotFound(_) => invalid(
                field,
                format!("no certificate of the list has the fingerprint {fingerprint}"),
            ),
            other => other,
        })?;
        let facts = facts_of(&cert.der)?;
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
        let facts = facts_of(der)?;
        let fingerprint = facts.fingerprint_sha256.clone();
        let row = Stored::made(
            &self.sealer,
            store::WEB,
            der,
            &facts,
            Some(key),
            issuer,
            actor,
        );
        let mut tx = self.db.begin().await?;
        if let Some(issuer) = &row.issuer {
            issuer_still_there(&mut tx, issuer).await?;
        }
        store::insert(&mut tx, &row).await?;
        let mut records = vec![Record::new(
            format!("certificates.web.{fingerprint}"),
            serde_json::Value::Null,
            summary(&facts),
        )];
        if let Some(servers) = assign_to {
            records.extend(assign_in(&mut tx, &fingerprint, servers).await?);
        }
        self.commit(tx, actor, action, &records).await?;
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
        .map_err(internal)?;
        let assign = request.assign.then_some(&request.servers);
        self.insert_new(actor, &der, &key, Some(issuer_fp), "create signed", assign)
            .await
    }
}

/// The end of a certificate's validity within its issuer's: refused when asked for explicitly
/// (`explicit`), shortened otherwise.
pub(super) fn within_issuer(
    issuer: &Stored,
    not_after: i64,
    explicit: bool,
    field: &str,
) -> Result<i64, ApiError> {
    if not_after <= issuer.not_after {
        return Ok(not_after);
    }
    let facts = facts_of(&issuer.der)?;
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

pub(super) fn summary(facts: &Facts) -> serde_json::Value {
    serde_json::json!({
        "subject": facts.subject,
        "sans": facts.sans,
        "not_after": rfc3339(facts.not_after),
        "ca": facts.is_ca,
    })
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

/// The issuer of a certificate about to be stored, locked so that it is not deleted meanwhile.
pub(super) async fn issuer_still_there(tx: &mut Tx, issuer: &str) -> Result<(), ApiError> {
    match store::get_in(tx, issuer).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::Conflict(
            "the issuing certificate was deleted meanwhile".into(),
        )),
    }
}
