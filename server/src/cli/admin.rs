//! `pharos admin`: a password reset and a lock-out lifted, as the Accounts page does them.

use super::remote::{Remote, Target};
use super::{AdminCommand, Failed, Outcome, actor};
use crate::accounts::{Accounts, store_credentials};
use crate::cluster::Bus;
use crate::config::Config;
use crate::db::Db;
use crate::http::ApiError;
use app::api::{AccountList, PasswordReset, USERS_URL};
use std::io::{BufRead, IsTerminal};
use std::sync::Arc;

pub async fn run(target: &Target, command: AdminCommand) -> Outcome {
    if let Some(remote) = target.remote()? {
        return through_api(&remote, command).await;
    }
    let config = super::config()?;
    let db = super::backup::connect(&config).await?;
    let done = on_database(&db, &config, command).await;
    db.close().await;
    done
}

async fn on_database(db: &Db, config: &Config, command: AdminCommand) -> Outcome {
    let accounts = open(db, config)?;
    match command {
        AdminCommand::ResetPassword { username, generate } => {
            let id = account(db, &username).await?;
            let password = new_password(&username, generate)?;
            match accounts
                .reset_password(id, &username, password.clone(), &actor())
                .await
            {
                Ok(()) => {}
                Err(ApiError::Invalid(errors)) => return Err(not_changed(errors)),
                Err(e) => return Err(Failed(format!("the password was not changed: {e}"))),
            }
            reset_done(&username, &password, generate);
        }
        AdminCommand::Unlock { username } => {
            account(db, &username).await?;
            if accounts.unlock_user(&username, &actor()).await? {
                eprintln!("\"{username}\" may sign in again.");
            } else {
                eprintln!("\"{username}\" was not locked out; nothing changed.");
            }
        }
    }
    Ok(())
}

/// The same through the API: the superuser's token resets passwords, Accounts rights unlock.
async fn through_api(remote: &Remote, command: AdminCommand) -> Outcome {
    let username = match &command {
        AdminCommand::ResetPassword { username, .. } | AdminCommand::Unlock { username } => {
            username.clone()
        }
    };
    let list: AccountList = remote.get(USERS_URL).await?.json()?;
    // found as the server finds names at sign-in (case and spaces aside)
    let key = app::model::username_key(&username);
    let user = list
        .users
        .iter()
        .find(|u| app::model::username_key(&u.username) == key)
        .ok_or_else(|| Failed(format!("there is no account \"{username}\"")))?;
    let id = user.id;
    match command {
        AdminCommand::ResetPassword { generate, .. } => {
            let password = new_password(&username, generate)?;
            let reset = PasswordReset {
                password: password.clone(),
            };
            match remote
                .post(&format!("{USERS_URL}/{id}/password"), &reset)
                .await
            {
                Ok(_) => reset_done(&username, &password, generate),
                Err(super::remote::Refusal::Invalid(errors)) => return Err(not_changed(errors)),
                Err(other) => return Err(other.into()),
            }
        }
        AdminCommand::Unlock { .. } => {
            if user.locked_until.is_none() {
                eprintln!("\"{username}\" was not locked out; nothing changed.");
                return Ok(());
            }
            remote
                .post_empty(&format!("{USERS_URL}/{id}/unlock"))
                .await?;
            eprintln!("\"{username}\" may sign in again.");
        }
    }
    Ok(())
}

fn new_password(username: &str, generate: bool) -> Result<String, Failed> {
    if generate {
        Ok(crate::accounts::generated_password())
    } else {
        read_password(username)
    }
}

fn not_changed(errors: Vec<app::model::FieldError>) -> Failed {
    let reasons: Vec<String> = errors.into_iter().map(|e| e.message).collect();
    Failed(format!(
        "the password was not changed: {}",
        reasons.join("; ")
    ))
}

fn reset_done(username: &str, password: &str, generated: bool) {
    if generated {
        println!("{password}");
    }
    eprintln!(
        "The password of \"{username}\" is reset; its sessions ended and its API tokens were \
         revoked."
    );
}

/// The accounts, telling running servers of changes as a server would: through the database
/// on PostgreSQL. On SQLite a running server reads the changed account at its next check of a
/// sign-in (at most 30 s later).
fn open(db: &Db, config: &Config) -> Result<Arc<Accounts>, Failed> {
    let bus = Bus::new();
    super::join_bus(&bus);
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
