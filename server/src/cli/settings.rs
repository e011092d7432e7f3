//! `pharos settings`, `pharos cluster-address`, `pharos distributed`: the Server Network Settings
//! document, changed under the same rules, with the same messages, as through the API.

use super::{ClusterAddressCommand, DistributedCommand, Failed, Outcome, SettingsCommand, actor};
use crate::config::Config;
use crate::db::{Db, DbError};
use crate::settings::Settings;
use app::model::{
    BACKUP_FORMAT_VERSION, Backup, FieldError, Installation, ValidationContext, parse_backup,
    parse_document,
};
use serde_json::Value;
use std::sync::Arc;

pub async fn run(config: &Config, command: SettingsCommand) -> Outcome {
    let (db, settings) = open(config).await?;
    let done = match command {
        SettingsCommand::Show => {
            println!("{}", pretty(&settings.snapshot().view.to_value()));
            Ok(())
        }
        SettingsCommand::Set { assignments } => {
            let changes: Vec<(String, Value)> = assignments
                .iter()
                .map(|a| assignment(a))
                .collect::<Result<_, _>>()?;
            edit(&settings, |doc| {
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
            let backup = Backup {
                format_version: BACKUP_FORMAT_VERSION,
                settings: settings.snapshot().view.to_value(),
            };
            let text = pretty(&serde_json::to_value(backup).expect("a backup serializes"));
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
            let restore = parse_backup(&document, settings.ctx).map_err(refused)?;
            let before = settings.snapshot().view.clone();
            let (snapshot, _) = settings
                .restore(restore.settings, restore.keeps_distributed, &actor())
                .await?;
            report(&before.to_value(), &snapshot.view.to_value());
            if restore.keeps_distributed {
                eprintln!("The distributed section was kept as it was (another installation's).");
            }
            Ok(())
        }
    };
    db.close().await;
    done
}

pub async fn cluster_address(config: &Config, command: ClusterAddressCommand) -> Outcome {
    let (db, settings) = open(config).await?;
    let done = edit(&settings, |doc| {
        let section = doc
            .get_mut("cluster_address")
            .expect("the document has a cluster address");
        match &command {
            ClusterAddressCommand::Set { host, port } => {
                section["enabled"] = Value::Bool(true);
                section["host"] = Value::String(host.clone());
                if let Some(port) = port {
                    section["port"] = Value::from(*port);
                }
            }
            ClusterAddressCommand::Clear => section["enabled"] = Value::Bool(false),
        }
        Ok(())
    })
    .await;
    db.close().await;
    done
}

pub async fn distributed(config: &Config, command: DistributedCommand) -> Outcome {
    if config.installation == Installation::Ha {
        return Err(Failed(
            "a High Availability installation always shares its database; distributed mode is \
             for standalone servers"
                .into(),
        ));
    }
    let (db, settings) = open(config).await?;
    let on = matches!(command, DistributedCommand::Enable);
    let done = edit(&settings, |doc| {
        doc["distributed"]["enabled"] = Value::Bool(on);
        Ok(())
    })
    .await;
    db.close().await;
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
    super::join_bus(&bus, &settings);
    Ok((db, Arc::new(settings)))
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

/// Changes the stored document with `change`, checks it under the API's rules and stores it if
/// the stored one did not change meanwhile.
async fn edit(settings: &Settings, change: impl FnOnce(&mut Value) -> Outcome) -> Outcome {
    let current = settings.snapshot();
    let before = current.view.to_value();
    let mut doc = before.clone();
    change(&mut doc)?;
    let new = parse_document(&doc, settings.ctx).map_err(refused)?;
    match settings
        .replace(Some(current.stored.revision), new, &actor())
        .await
    {
        Ok((snapshot, _)) => {
            report(&before, &snapshot.view.to_value());
            Ok(())
        }
        Err(DbError::Conflict) => Err(Failed(
            "the settings were changed meanwhile by someone else; nothing changed, try again"
                .into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The rules' messages, a line per field.
fn refused(errors: Vec<FieldError>) -> Failed {
    let lines: Vec<String> = errors
        .iter()
        .map(|e| {
            if e.field.is_empty() {
                e.message.clone()
            } else {
                format!("{}: {}", e.field, e.message)
            }
        })
        .collect();
    Failed(format!("nothing changed:\n  {}", lines.join("\n  ")))
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
