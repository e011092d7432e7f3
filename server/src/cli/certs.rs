//! `pharos certs`: the web certificates as the Certificates page shows and changes them, under
//! the same rules and messages, on the database or through a server's API.

use super::remote::{Remote, Target};
use super::{CertsCommand, Failed, Outcome, actor, refused};
use crate::cluster::{Bus, Registry};
use crate::db::Db;
use crate::http::ApiError;
use crate::settings::Settings;
use crate::tls::{Tls, pki};
use app::api::{
    AllServers, Assign, CLIENT_CHAIN_URL, Created, NewSigned, Servers, WEB_CERTIFICATES_URL,
    WEB_SIGNED_URL, WebCertificate, WebCertificates,
};
use app::model::ValidationContext;
use std::path::PathBuf;
use std::sync::Arc;

pub async fn run(target: &Target, command: CertsCommand) -> Outcome {
    let store = match target.remote()? {
        Some(remote) => Store::Remote(remote),
        None => {
            let (db, tls) = open().await?;
            Store::Local { db, tls }
        }
    };
    let done = certs(&store, command).await;
    if let Store::Local { db, .. } = store {
        db.close().await;
    }
    done
}

enum Store {
    Local { db: Db, tls: Arc<Tls> },
    Remote(Remote),
}

async fn certs(store: &Store, command: CertsCommand) -> Outcome {
    match command {
        CertsCommand::List { json } => {
            let list = match store {
                Store::Local { tls, .. } => tls.list().await.map_err(api)?,
                Store::Remote(remote) => remote.get(WEB_CERTIFICATES_URL).await?.json()?,
            };
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&list).expect("JSON serializes")
                );
            } else {
                print!("{}", describe(&list));
            }
        }
        CertsCommand::ExportClientChain { file } => {
            let pem = match store {
                Store::Local { tls, .. } => tls.client_chain().await.map_err(api)?,
                Store::Remote(remote) => {
                    String::from_utf8_lossy(&remote.get(CLIENT_CHAIN_URL).await?.body).into_owned()
                }
            };
            write(file, &pem)?;
        }
        CertsCommand::CreateSigned {
            issuer,
            servers,
            hostnames,
            days,
            algorithm,
            assign,
        } => {
            let request = NewSigned {
                issuer,
                servers: chosen(servers, false),
                hostnames,
                validity_days: days,
                algorithm,
                assign,
            };
            let fingerprint = match store {
                Store::Local { tls, .. } => {
                    tls.create_signed(&actor(), request).await.map_err(api)?
                }
                Store::Remote(remote) => {
                    let created: Created = remote.post(WEB_SIGNED_URL, &request).await?.json()?;
                    created.fingerprint_sha256
                }
            };
            println!("{fingerprint}");
            eprintln!(
                "Made the server certificate {fingerprint}{}.",
                if assign {
                    "; those servers present it from their next connection on"
                } else {
                    " (`pharos certs assign` has servers present it)"
                }
            );
        }
        CertsCommand::Assign {
            fingerprint,
            servers,
            all,
        } => {
            let servers = chosen(servers, all);
            // as the server reads it; anything else names no certificate (nor another route)
            let fingerprint = pki::normalize_fingerprint(&fingerprint).ok_or_else(|| {
                Failed(format!(
                    "no web certificate has the SHA-256 fingerprint {fingerprint}; nothing changed"
                ))
            })?;
            match store {
                Store::Local { tls, .. } => tls
                    .assign(&actor(), &fingerprint, &servers)
                    .await
                    .map_err(api)?,
                Store::Remote(remote) => {
                    remote
                        .post(
                            &format!("{WEB_CERTIFICATES_URL}/{fingerprint}/assign"),
                            &Assign { servers },
                        )
                        .await?;
                }
            }
            eprintln!("Assigned; those servers present it from their next connection on.");
        }
    }
    Ok(())
}

/// `--server` ids, or every server when none (or `--all`) is given.
fn chosen(ids: Vec<String>, all: bool) -> Servers {
    if all || ids.is_empty() {
        Servers::All(AllServers::All)
    } else {
        Servers::Some(ids)
    }
}

/// An area's refusal as the command line says it: the rules' messages a line per field.
fn api(e: ApiError) -> Failed {
    match e {
        ApiError::Invalid(errors) => refused(errors),
        // the command line's user is the operator: the whole reason, not the API's "internal
        // error"
        ApiError::Internal(e) => Failed(format!("{e:#}; nothing changed")),
        other => Failed(format!("{other}; nothing changed")),
    }
}

fn write(file: Option<PathBuf>, text: &str) -> Outcome {
    match file {
        Some(file) => std::fs::write(&file, text)
            .map_err(|e| Failed(format!("writing {}: {e}", file.display()))),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// The list for reading: a paragraph per certificate, then the servers with their ids.
fn describe(list: &WebCertificates) -> String {
    let mut out = String::new();
    for cert in &list.certificates {
        out += &format!("{}\n", cert.fingerprint_sha256);
        out += &format!(
            "  {} ({}), issued by {}\n",
            cert.subject,
            kind(cert),
            if cert.self_signed {
                "itself".to_owned()
            } else {
                cert.issuer.clone()
            }
        );
        out += &format!(
            "  valid {} to {} ({}), {}{}\n",
            day(&cert.not_before),
            day(&cert.not_after),
            if cert.days_left < 0 {
                "expired".to_owned()
            } else {
                format!("{} days left", cert.days_left)
            },
            cert.key_algorithm,
            if cert.has_key {
                ""
            } else {
                ", no private key here"
            }
        );
        if !cert.sans.is_empty() {
            out += &format!("  names: {}\n", cert.sans.join(", "));
        }
        if !cert.is_ca {
            let presented_by = if cert.assigned_to_all {
                "every server".to_owned()
            } else if cert.assigned_to.is_empty() {
                "no server".to_owned()
            } else {
                let names: Vec<&str> = cert.assigned_to.iter().map(|s| s.name.as_str()).collect();
                names.join(", ")
            };
            out += &format!("  presented by: {presented_by}\n");
        }
        out += "\n";
    }
    if list.servers.is_empty() {
        out += "No server is running.\n";
    } else {
        out += "Running servers (id, name):\n";
        for server in &list.servers {
            out += &format!("  {}  {}\n", server.id, server.name);
        }
    }
    out
}

fn kind(cert: &WebCertificate) -> &'static str {
    match (cert.is_ca, cert.self_signed) {
        (true, true) => "root CA",
        (true, false) => "intermediate CA",
        (false, _) => "server certificate",
    }
}

/// The date of an RFC 3339 time.
fn day(time: &str) -> &str {
    time.get(..10).unwrap_or(time)
}

/// The certificates as stored, read and changed as a server would, without serving: the
/// running servers hear of a change through the database (PostgreSQL) or look for it every
/// `settings_poll_millis` (SQLite).
async fn open() -> Result<(Db, Arc<Tls>), Failed> {
    let config = super::config()?;
    let db = super::backup::connect(&config).await?;
    let bus = Bus::new();
    super::join_bus(&bus);
    let ctx = ValidationContext {
        installation: config.installation,
        database: db.kind(),
    };
    let settings = Arc::new(Settings::load(db.clone(), bus.clone(), ctx).await?);
    let registry = Registry::observe(db.clone(), bus.clone(), config.heartbeat_timeout()).await?;
    let tls = Tls::open(db.clone(), bus, &config, Arc::new(registry), settings)
        .await
        .map_err(|e| Failed(format!("{e:#}")))?;
    Ok((db, tls))
}
