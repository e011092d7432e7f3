//! `pharos admin`: a password reset and a lock-out lifted, as the Accounts page does them.

use super::{AdminCommand, Failed, Outcome, actor};
use crate::accounts::{Accounts, store_credentials};
use crate::cluster::Bus;
use crate::config::Config;
use crate::db::Db;
use crate::http::ApiError;
use std::io::{BufRead, IsTerminal};
use std::sync::Arc;

pub async fn run(config: &Config, command: AdminCommand) -> Outcome {
    let db = super::backup::connect(config).await?;
    let accounts = open(&db, config).await?;
    match command {
        AdminCommand::ResetPassword { username, generate } => {
            let id = account(&db, &username).await?;
            let password = if generate {
                crate::accounts::generated_password()
            } else {
                read_password(&username)?
            };
            match accounts
                .reset_password(id, &username, password.clone(), &actor())
                .await
            {
                Ok(()) => {}
                Err(ApiError::Invalid(errors)) => {
                    let reasons: Vec<String> = errors.into_iter().map(|e| e.message).collect();
                    return Err(Failed(format!(
                        "the password was not changed: {}",
                        reasons.join("; ")
                    )));
                }
                Err(e) => return Err(Failed(format!("the password was not changed: {e}"))),
            }
            if generate {
                println!("{password}");
            }
            eprintln!(
                "The password of \"{username}\" is reset; its sessions ended and its API tokens \
                 were revoked."
            );
        }
        AdminCommand::Unlock { username } => {
            account(&db, &username).await?;
            if accounts.unlock_user(&username, &actor()).await? {
                eprintln!("\"{username}\" may sign in again.");
            } else {
                eprintln!("\"{username}\" was not locked out; nothing changed.");
            }
        }
    }
    db.close().await;
    Ok(())
}

/// The accounts, telling running servers of changes as a server would: through the database
/// on PostgreSQL. On SQLite a running server reads the changed account at its next check of a
/// sign-in (at most 30 s later).
async fn open(db: &Db, config: &Config) -> Result<Arc<Accounts>, Failed> {
    let bus = Bus::new();
    let ctx = app::model::ValidationContext {
        installation: config.installation,
        database: db.kind(),
    };
    let settings = crate::settings::Settings::load(db.clone(), bus.clone(), ctx).await?;
    super::join_bus(&bus, &settings);
    Accounts::open(db.clone(), bus, config, Default::default())
        .map_err(|e| Failed(format!("{e:#}")))
}

async fn account(db: &Db, username: &str) -> Result<i64, Failed> {
    match store_credentials(db, username).await? {
        Some(id) => Ok(id),
        None => Err(Failed(format!("there is no account \"{username}\""))),
    }
}

/// One line from standard input; on a terminal, asked for twice without echo.
fn read_password(username: &str) -> Result<String, Failed> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("New password for \"{username}\": "))?;
        let again = rpassword::prompt_password("The same again: ")?;
        if first != again {
            return Err(Failed("the two passwords differ; nothing changed".into()));
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        return Err(Failed(
            "no password on standard input; nothing changed (or use --generate)".into(),
        ));
    }
    Ok(password)
}
