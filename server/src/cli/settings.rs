//! `pharos settings`, `pharos cluster-address`, `pharos distributed`: the Server Network Settings
//! document, changed under the same rules, with the same messages, as through the API.

use super::remote::{Remote, Target};
use super::{
    ClusterAddressCommand, DistributedCommand, Failed, Outcome, SettingsCommand, actor, refused,
};
use crate::config::Config;
use crate::db::{Db, DbError};
use crate::settings::Settings;
use app::api::{EXPORT_URL, IMPORT_URL, ImportResult, SETTINGS_URL};
use app::model::{
    BACKUP_FORMAT_VERSION, Backup, Installation, ValidationContext, parse_backup, parse_document,
};
use serde_json::Value;
use std::sync::Arc;

/// Where the settings are changed: on the database, or through a server's API.
enum Store {
    Local { db: Db, settings: Arc<Settings> },
    Remote(Remote),
}

/// The version a change is made against.
enum Version {
    Revision(i64),
    Etag(Option<String>),
}

impl Store {
    async fn open(target: &Target) -> Result<Store, Failed> {
        if let Some(remote) = target.remote()? {
            return Ok(Store::Remote(remote));
        }
        let (db, settings) = open(&super::config()?).await?;
        Ok(Store::Local { db, settings })
    }

    /// The document as stored now.
    async fn current(&self) -> Result<(Value, Version), Failed> {
        match self {
            Store::Local { settings, .. } => {
                let current = settings.snapshot();
                Ok((
                    current.view.to_value(),
                    Version::Revision(current.stored.revision),
                ))
            }
            Store::Remote(remote) => {
                let answer = remote.get(SETTINGS_URL).await?;
                Ok((answer.json()?, Version::Etag(answer.etag)))
            }
        }
    }

    /// Stores `doc` if the stored one is still `version`: the new document.
    async fn replace(&self, version: Version, doc: &Value) -> Result<Value, Failed> {
        match (self, version) {
            (Store::Local { settings, .. }, Version::Revision(revision)) => {
                let new = parse_document(doc, settings.ctx).map_err(refused)?;
                match settings.replace(Some(revision), new, &actor()).await {
                    Ok((snapshot, _)) => Ok(snapshot.view.to_value()),
                    Err(DbError::Conflict) => Err(Failed(
                        "the settings were changed meanwhile by someone else; nothing changed, \
                         try again"
                            .into(),
                    )),
                    Err(e) => Err(e.into()),
                }
            }
            (Store::Remote(remote), Version::Etag(etag)) => {
                let answer = remote.put(SETTINGS_URL, doc, etag.as_deref()).await?;
                answer.json()
            }
            _ => unreachable!("a version comes from its own store"),
        }
    }

    /// The backup document (what the page's Export saves).
    async fn export(&self) -> Result<Value, Failed> {
        match self {
            Store::Local { settings, .. } => Ok(serde_json::to_value(Backup {
                format_version: BACKUP_FORMAT_VERSION,
                settings: settings.snapshot().view.to_value(),
            })
            .expect("a backup serializes")),
            Store::Remote(remote) => remote.get(EXPORT_URL).await?.json(),
        }
    }

    /// Replaces the settings with a backup document: the new document, and whether the
    /// distributed section was kept.
    async fn import(&self, document: &Value) -> Result<(Value, bool), Failed> {
        match self {
            Store::Local { settings, .. } => {
                let restore = parse_backup(document, settings.ctx).map_err(refused)?;
                let (snapshot, _) = settings
                    .restore(restore.settings, restore.keeps_distributed, &actor())
                    .await?;
                Ok((snapshot.view.to_value(), restore.keeps_distributed))
            }
            Store::Remote(remote) => {
                let result: ImportResult = remote.post(IMPORT_URL, document).await?.json()?;
                Ok((
                    result.settings.to_value(),
                    result.kept.iter().any(|k| k == "distributed"),
                ))
            }
        }
    }

    async fn close(self) {
        if let Store::Local { db, .. } = self {
            db.close().await;
        }
    }
}

pub async fn run(target: &Target, command: SettingsCommand) -> Outcome {
    let store = Store::open(target).await?;
    let done = settings(&store, command).await;
    store.close().await;
    done
}

async fn settings(store: &Store, command: SettingsCommand) -> Outcome {
    match command {
        SettingsCommand::Show => {
            println!("{}", pretty(&store.current().await?.0));
            Ok(())
        }
        SettingsCommand::Set { assignments } => {
            let changes: Vec<(String, Value)> = assignments
                .iter()
                .map(|a| assignment(a))
                .collect::<Result<_, _>>()?;
            edit(store, |doc| {
                for (path, value) in &changes {
                    let pointer = format!("/{}", path.replace('.', "/"));
                    match doc.pointer_mut(&pointer) {
                        Some(Value::Object(_)) => {
                            return Err(Failed(format!(
                                "\"{path}\" is a section; set its fields (e.g. {path}.enabled=true)"
                            )));
                        }
                        Some(field) => *field = value.clone(),
                        None => {
                            return Err(Failed(format!(
                                "there is no setting \"{path}\" (`pharos settings show` shows \
                                 them all); nothing changed"
                            )));
                        }
                    }
                }
                Ok(())
            })
            .await
        }
        SettingsCommand::Export { file } => {
            let text = pretty(&store.export().await?);
            match file {
                Some(file) => std::fs::write(&file, text + "\n")
                    .map_err(|e| Failed(format!("writing {}: {e}", file.display()))),
                None => {
                    println!("{text}");
                    Ok(())
                }
            }
        }
        SettingsCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| Failed(format!("reading {}: {e}", file.display())))?;
            let document: Value = serde_json::from_str(&text).map_err(|e| {
                Failed(format!(
                    "{} is not JSON ({e}); nothing changed",
                    file.display()
                ))
            })?;
            let (before, _) = store.current().await?;
            let (after, kept_distributed) = store.import(&document).await?;
            report(&before, &after);
            if kept_distributed {
                eprintln!("The distributed section was kept as it was (another installation's).");
            }
            Ok(())
        }
    }
}

pub async fn cluster_address(target: &Target, command: ClusterAddressCommand) -> Outcome {
    let store = Store::open(target).await?;
    let done = edit(&store, |doc| {
        match &command {
            ClusterAddressCommand::Set { host, port } => {
                *field(doc, "cluster_address.enabled")? = Value::Bool(true);
                *field(doc, "cluster_address.host")? = Value::String(host.clone());
                if let Some(port) = port {
                    *field(doc, "cluster_address.port")? = Value::from(*port);
                }
            }
            ClusterAddressCommand::Clear => {
                *field(doc, "cluster_address.enabled")? = Value::Bool(false);
            }
        }
        Ok(())
    })
    .await;
    store.close().await;
    done
}

const HA_SHARES: &str = "a High Availability installation always shares its database; \
                         distributed mode is for standalone servers; nothing changed";

pub async fn distributed(target: &Target, command: DistributedCommand) -> Outcome {
    // through the API, the server's rules say it
    if target.url.is_none() && super::config()?.installation == Installation::Ha {
        return Err(Failed(HA_SHARES.into()));
    }
    let store = Store::open(target).await?;
    let on = matches!(command, DistributedCommand::Enable);
    let done = edit(&store, |doc| {
        // (a High Availability server's document has no such section)
        if doc.get("distributed").is_none() {
            return Err(Failed(HA_SHARES.into()));
        }
        *field(doc, "distributed.enabled")? = Value::Bool(on);
        Ok(())
    })
    .await;
    store.close().await;
    done?;
    eprintln!(
        "Servers {} distributed mode when they start next.",
        if on { "enter" } else { "leave" }
    );
    Ok(())
}

/// The settings as stored, with a bus that tells running servers of a change.
async fn open(config: &Config) -> Result<(Db, Arc<Settings>), Failed> {
    let db = super::backup::connect(config).await?;
    let bus = crate::cluster::Bus::new();
    let ctx = ValidationContext {
        installation: config.installation,
        database: db.kind(),
    };
    let settings = Settings::load(db.clone(), bus.clone(), ctx).await?;
    super::join_bus(&bus);
    Ok((db, Arc::new(settings)))
}

/// The field at a dotted path of the document (the server's, with `--url`, may be of another
/// version).
fn field<'a>(doc: &'a mut Value, path: &str) -> Result<&'a mut Value, Failed> {
    doc.pointer_mut(&format!("/{}", path.replace('.', "/")))
        .ok_or_else(|| {
            Failed(format!(
                "the settings document has no \"{path}\" (a Pharos of another version?); \
                 nothing changed"
            ))
        })
}

/// `path=value`: the value as JSON where it reads as JSON, else as a string.
fn assignment(text: &str) -> Result<(String, Value), Failed> {
    let Some((path, value)) = text.split_once('=') else {
        return Err(Failed(format!(
            "\"{text}\" is no assignment; write field=value, e.g. \
             online_check.response_timeout_ms=2500"
        )));
    };
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    Ok((path.trim().to_owned(), value))
}

/// Changes the stored document with `change`; it is checked under the API's rules and stored
/// if the stored one did not change meanwhile.
async fn edit(store: &Store, change: impl FnOnce(&mut Value) -> Outcome) -> Outcome {
    let (before, version) = store.current().await?;
    let mut doc = before.clone();
    change(&mut doc)?;
    let after = store.replace(version, &doc).await?;
    report(&before, &after);
    Ok(())
}

/// What changed, a line per field, on standard error.
fn report(before: &Value, after: &Value) {
    let mut lines = Vec::new();
    differences(before, after, "", &mut lines);
    if lines.is_empty() {
        eprintln!("Nothing to change: the settings were so already.");
    }
    for line in lines {
        eprintln!("{line}");
    }
}

fn differences(before: &Value, after: &Value, path: &str, lines: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(old), Value::Object(new)) => {
            for (key, value) in new {
                let field = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                differences(old.get(key).unwrap_or(&Value::Null), value, &field, lines);
            }
        }
        (old, new) if old != new => lines.push(format!("{path}: {old} -> {new}")),
        _ => {}
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON serializes")
}
