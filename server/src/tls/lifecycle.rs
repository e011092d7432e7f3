//! What happens to web certificates after they are made: assignment to servers, renewal
//! (a CA keeps its key, a server certificate gets a new one) and deletion.

use super::web::{issuer_still_there, summary, within_issuer};
use super::*;

impl Tls {
    /// `POST /api/v1/certificates/web/{fp}/assign`.
    pub async fn assign(
        &self,
        actor: &Actor,
        fingerprint: &str,
        servers: &Servers,
    ) -> Result<(), ApiError> {
        let cert = self.find(fingerprint).await?;
        self.assignable(&cert).await?;
        chosen_servers(&self.servers(), servers)?;
        let mut tx = self.db.begin().await?;
        if store::get_in(&mut tx, &cert.fingerprint).await?.is_none() {
            return Err(ApiError::NotFound(
                "the certificate was deleted meanwhile".into(),
            ));
        }
        let records = assign_in(&mut tx, &cert.fingerprint, servers).await?;
        self.commit(tx, actor, "assign", &records).await?;
        Ok(())
    }

    /// Whether servers can present it: a server certificate with its key, valid now.
    async fn assignable(&self, cert: &Stored) -> Result<(), ApiError> {
        let facts = facts_of(&cert.der)?;
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
        if facts.not_before > now {
            return Err(invalid(
                "servers",
                format!(
                    "\"{}\" is not valid before {}",
                    facts.subject,
                    date(facts.not_before)
                ),
            ));
        }
        // what every server will do with it, tried before anything changes
        if let Err(e) = presentable(&self.db, &self.sealer, &cert.fingerprint).await {
            return Err(invalid(
                "servers",
                format!("\"{}\" cannot be presented: {e:#}", facts.subject),
            ));
        }
        Ok(())
    }

    /// `POST /api/v1/certificates/web/{fp}/renew`: the same subject and names, valid from now
    /// for as long as before (never beyond the issuer). A server certificate gets a new key and
    /// takes over the old one's assignments; a CA keeps its key, so what it issued stays valid.
    pub async fn renew(&self, actor: &Actor, fingerprint: &str) -> Result<String, ApiError> {
        let cert = self.find(fingerprint).await?;
        let facts = facts_of(&cert.der)?;
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
        // as long as before in whole days (what was added to start earlier not counted), within
        // the limit a new one has
        let max_days = if cert.is_ca {
            rules::ROOT_MAX_DAYS
        } else {
            rules::LEAF_MAX_DAYS
        };
        let days = ((facts.not_after - facts.not_before - BACKDATE + DAY / 2) / DAY)
            .clamp(1, i64::from(max_days));
        let mut not_after = now + days * DAY;
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
        .map_err(internal)?;
        let new = facts_of(&der)?;
        let new_fp = new.fingerprint_sha256.clone();
        let issuer = (!new.self_signed).then(|| cert.issuer.clone()).flatten();
        let row = Stored::made(
            &self.sealer,
            store::WEB,
            &der,
            &new,
            Some(&key),
            issuer,
            actor,
        );
        let mut tx = self.db.begin().await?;
        if store::get_in(&mut tx, &cert.fingerprint).await?.is_none() {
            return Err(ApiError::NotFound(
                "the certificate was deleted meanwhile".into(),
            ));
        }
        if let Some(issuer) = &row.issuer {
            issuer_still_there(&mut tx, issuer).await?;
        }
        store::insert(&mut tx, &row).await?;
        if cert.is_ca {
            // same subject and key: what the old one issued is the new one's, and renews under it
            store::reparent(&mut tx, &cert.fingerprint, &new_fp).await?;
        } else {
            store::move_assignments(&mut tx, &cert.fingerprint, &new_fp).await?;
        }
        let records = [Record::new(
            format!("certificates.web.{}", cert.fingerprint),
            serde_json::json!({"not_after": rfc3339(facts.not_after)}),
            serde_json::json!({"renewed_as": new_fp, "not_after": rfc3339(new.not_after)}),
        )];
        self.commit(tx, actor, "renew", &records).await?;
        Ok(new_fp)
    }

    /// `DELETE /api/v1/certificates/web/{fp}`: refused while a server presents it or it issued
    /// certificates of the list.
    pub async fn delete(&self, actor: &Actor, fingerprint: &str) -> Result<(), ApiError> {
        let cert = self.find(fingerprint).await?;
        let facts = facts_of(&cert.der)?;
        let mut tx = self.db.begin().await?;
        if store::get_in(&mut tx, &cert.fingerprint).await?.is_none() {
            return Ok(());
        }
        // servers that are gone (stopped, or silent past the heartbeat timeout) give up their
        // assignment: back, they present what is assigned to all, or make their own
        let running: Vec<String> = self.servers().into_iter().map(|s| s.id).collect();
        let (assigned, departed): (Vec<String>, Vec<String>) = store::assignments_in(&mut tx)
            .await?
            .into_iter()
            .filter(|(_, f)| *f == cert.fingerprint)
            .map(|(s, _)| s)
            .partition(|s| s == store::ALL_SERVERS || running.contains(s));
        for server in &departed {
            store::unassign(&mut tx, server).await?;
        }
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
        self.commit(tx, actor, "delete", &records).await?;
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
}

/// The servers a request names: all of them, or known ones by id.
pub(super) fn chosen_servers(
    known: &[ServerEntry],
    servers: &Servers,
) -> Result<Vec<ServerEntry>, ApiError> {
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
pub(super) async fn assign_in(
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
