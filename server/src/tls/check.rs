//! The cluster requirement: with a cluster address on a multi-server installation, devices reach
//! any server under the cluster address or the server's own addresses, so one certificate with
//! all of those names must be presented by every server.

use super::{Tls, effective, pki, server_ref, store};
use crate::http::ApiError;
use app::api::{ClusterCheck, MissingNames};
use app::model::Installation;
use std::collections::HashMap;

impl Tls {
    /// `GET /api/v1/certificates/web/check`, computed from the current state at every call.
    pub async fn check(&self) -> Result<ClusterCheck, ApiError> {
        let settings = self.settings.snapshot();
        let cluster = &settings.view.cluster_address;
        let servers = self.servers();
        let multi = self.settings.ctx.installation == Installation::Ha
            || self.settings.distributed_running
            || servers.len() > 1;
        let enabled = cluster.enabled && !cluster.host.is_empty();
        let applies = enabled && multi;
        let assignments = store::assignments(&self.db).await?;
        let stored = store::all(&self.db, store::WEB).await?;
        let sans_of = |fp: &str| -> Option<Vec<String>> {
            stored
                .iter()
                .find(|c| c.fingerprint == fp)
                .and_then(|c| pki::facts(&c.der).ok())
                .map(|f| f.sans)
        };

        // the certificate every server should present: the one assigned to all, else the one
        // most servers present
        let shared = assignments
            .iter()
            .find(|(s, _)| s == store::ALL_SERVERS)
            .map(|(_, f)| f.clone())
            .or_else(|| {
                let mut counts: HashMap<&str, usize> = HashMap::new();
                for server in &servers {
                    if let Some(fp) = effective(&assignments, &server.id) {
                        *counts.entry(fp).or_default() += 1;
                    }
                }
                counts
                    .into_iter()
                    .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
                    .filter(|(_, n)| *n == servers.len())
                    .map(|(fp, _)| fp.to_owned())
            });

        let mut required: Vec<String> = Vec::new();
        if enabled {
            required.push(cluster.host.to_ascii_lowercase());
        }
        for server in &servers {
            for address in &server.addresses {
                if !required.contains(address) {
                    required.push(address.clone());
                }
            }
        }

        let mut missing = Vec::new();
        let mut servers_without = Vec::new();
        let mut problems = Vec::new();
        if applies {
            for server in &servers {
                let Some(fp) = effective(&assignments, &server.id) else {
                    servers_without.push(server_ref(server));
                    continue;
                };
                if shared.as_deref() != Some(fp) {
                    servers_without.push(server_ref(server));
                }
                let sans = sans_of(fp).unwrap_or_default();
                let lacking: Vec<String> = required
                    .iter()
                    .filter(|name| !sans.iter().any(|san| pki::covers(san, name)))
                    .cloned()
                    .collect();
                if !lacking.is_empty() {
                    problems.push(format!(
                        "the certificate of the server \"{}\" lacks {}",
                        server.name,
                        lacking.join(", ")
                    ));
                    missing.push(MissingNames {
                        server: server_ref(server),
                        certificate: fp.to_owned(),
                        names: lacking,
                    });
                }
            }
            if !servers_without.is_empty() {
                let names: Vec<String> = servers_without
                    .iter()
                    .map(|s| format!("\"{}\"", s.name))
                    .collect();
                problems.push(if shared.is_some() {
                    format!(
                        "{} {} not present the certificate the other servers present",
                        names.join(", "),
                        if names.len() == 1 { "does" } else { "do" }
                    )
                } else {
                    "the servers present different certificates: assign one to all".to_owned()
                });
            }
        }
        let mut fix_hostnames = self.suggested(&servers);
        for name in required {
            if !fix_hostnames.contains(&name) {
                fix_hostnames.push(name);
            }
        }
        // the fix is signed by the CA that signed the shared certificate, if it can sign, else by
        // the generated web root
        let signer_of = |fp: &str| {
            stored
                .iter()
                .find(|c| c.fingerprint == fp)
                .and_then(|c| c.issuer.clone())
        };
        let can_sign = |fp: &str| {
            stored
                .iter()
                .any(|c| c.fingerprint == fp && c.is_ca && c.sealed_key.is_some())
        };
        let fix_issuer = match shared.as_deref().and_then(signer_of) {
            Some(issuer) if can_sign(&issuer) => Some(issuer),
            _ => store::role(&self.db, store::ROLE_WEB_ROOT)
                .await?
                .filter(|fp| can_sign(fp)),
        };
        Ok(ClusterCheck {
            applies,
            ok: !applies || (missing.is_empty() && servers_without.is_empty()),
            cluster_address: enabled.then(|| cluster.host.clone()),
            missing,
            servers_without,
            fix_hostnames,
            fix_issuer,
            problems,
        })
    }
}
