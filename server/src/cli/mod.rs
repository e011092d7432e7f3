//! The `pharos` command line: `serve` (the default) and the commands for scripts and for recovery
//! without a browser. They read the same configuration as the server (`pharos.toml`,
//! `PHAROS_*`) and work on its database directly; every change is audited as made by the
//! command line's user.

mod admin;
pub(crate) mod backup;
mod certs;
mod check;
pub mod remote;
mod settings;

use crate::audit::Actor;
use crate::config::Config;
use app::model::FieldError;
use clap::{CommandFactory, Parser, Subcommand};
use remote::Target;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "pharos",
    version,
    about = "Pharos: a self-hosted server for a fleet of thin-client devices",
    long_about = "Pharos: a self-hosted server for a fleet of thin-client devices.\n\n\
        Without a command it serves. The commands read the server's configuration (pharos.toml \
        or the file in PHAROS_CONFIG, then PHAROS_* variables) and work on its database \
        directly, with or without a server running; changes are audited as made by the \
        command line's user. With --url they work through a running server's API instead, \
        signed in with an API token, and are audited as that token's account (command line)."
)]
pub struct Cli {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start the server (what `pharos` without a command does)
    Serve,
    /// The Server Network Settings document: show, change fields, export, import
    #[command(subcommand)]
    Settings(SettingsCommand),
    /// The address devices use to reach a cluster of servers behind a load balancer
    #[command(subcommand)]
    ClusterAddress(ClusterAddressCommand),
    /// Distributed mode: several standalone servers sharing one PostgreSQL database
    #[command(subcommand)]
    Distributed(DistributedCommand),
    /// The web certificates servers present, and the device CA's chain
    #[command(subcommand)]
    Certs(CertsCommand),
    /// Administrator accounts, for recovery without a browser
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Look for what would stop devices from reaching the servers: configuration, database,
    /// certificates, addresses. Exits 1 when it finds a problem
    Check,
    /// Copy the whole database to FILE, consistent while servers write to it (SQLite: a copy of
    /// the database file; PostgreSQL: a pg_dump archive). With --url, the superuser's token
    /// downloads it from the server
    Backup {
        /// Where the backup goes
        file: PathBuf,
        /// Replace FILE if it exists
        #[arg(long)]
        force: bool,
    },
    /// Replace the whole database with a backup made by `pharos backup`. No server may run on
    /// the database; what it held is kept beside it first
    Restore {
        /// The backup
        file: PathBuf,
    },
    /// Print a completion script for a shell (e.g. `pharos completions bash >
    /// /etc/bash_completion.d/pharos`)
    Completions {
        /// bash, elvish, fish, powershell or zsh
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand, Debug)]
pub enum SettingsCommand {
    /// Print the settings document as JSON
    Show,
    /// Change fields by their dotted path, e.g. `online_check.response_timeout_ms=2500
    /// scan.reply_port=40001`. A value is read as JSON where it reads as JSON, else as a string.
    /// Nothing changes when a rule refuses any of them
    Set {
        #[arg(required = true, value_name = "FIELD=VALUE")]
        assignments: Vec<String>,
    },
    /// Write the settings as a backup document (what the page's Export saves)
    Export {
        /// Where to (default: standard output)
        file: Option<PathBuf>,
    },
    /// Replace the settings with a backup document (what the page's Import reads)
    Import { file: PathBuf },
}

#[derive(Subcommand, Debug)]
pub enum ClusterAddressCommand {
    /// Use HOST (and PORT, else the one set) as the cluster address
    Set {
        host: String,
        #[arg(long)]
        port: Option<u32>,
    },
    /// Stop using a cluster address: devices reach each server at its own address
    Clear,
}

#[derive(Subcommand, Debug)]
pub enum DistributedCommand {
    /// Turn distributed mode on (servers enter it when they start next)
    Enable,
    /// Turn it off
    Disable,
}

#[derive(Subcommand, Debug)]
pub enum CertsCommand {
    /// The web certificates: what they are, until when, which servers present them
    List {
        /// Print the list as JSON (what GET /api/v1/certificates/web answers)
        #[arg(long)]
        json: bool,
    },
    /// Write the device CA's chain (PEM): what a device's client certificate is checked against,
    /// e.g. for a TLS-terminating proxy in front of the servers
    ExportClientChain {
        /// Where to (default: standard output)
        file: Option<PathBuf>,
    },
    /// Make a server certificate signed by a CA of the list; its fingerprint is printed
    CreateSigned {
        /// The signing CA's SHA-256 fingerprint (see `pharos certs list`)
        #[arg(long)]
        issuer: String,
        /// Whose certificate it is, by server id (repeatable); default every server
        #[arg(long = "server", value_name = "ID")]
        servers: Vec<String>,
        /// A DNS name or IP address it is for (repeatable); default the servers' own names and
        /// addresses, localhost and the cluster address
        #[arg(long = "hostname", value_name = "NAME")]
        hostnames: Vec<String>,
        /// How long it is valid, in days (default a year, never beyond the issuer)
        #[arg(long)]
        days: Option<u32>,
        /// The key: ec-p256 (default), ec-p384, rsa-2048, rsa-3072 or rsa-4096
        #[arg(long, default_value = "ec-p256", value_parser = key_algorithm)]
        algorithm: app::model::KeyAlgorithm,
        /// Assign it to those servers at once
        #[arg(long)]
        assign: bool,
    },
    /// Have servers present a certificate from their next connection on
    Assign {
        /// The certificate's SHA-256 fingerprint (see `pharos certs list`)
        fingerprint: String,
        /// A server, by id (repeatable)
        #[arg(long = "server", value_name = "ID", required_unless_present = "all")]
        servers: Vec<String>,
        /// Every server, also those that join later
        #[arg(long, conflicts_with = "servers")]
        all: bool,
    },
}

/// A key algorithm as the API names it.
fn key_algorithm(text: &str) -> Result<app::model::KeyAlgorithm, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| "one of ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096".to_owned())
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Set an account's password. It is read from standard input (one line), or asked for on a
    /// terminal. The account's sessions end and its API tokens are revoked
    ResetPassword {
        username: String,
        /// Make up a strong password and print it instead
        #[arg(long)]
        generate: bool,
    },
    /// Lift an account's lock-out after failed sign-ins
    Unlock { username: String },
}

/// What a command could not do: its message goes to standard error, and the exit status is 1.
#[derive(Debug)]
pub struct Failed(pub String);

impl<E: std::fmt::Display> From<E> for Failed {
    fn from(e: E) -> Self {
        Failed(e.to_string())
    }
}

pub type Outcome = Result<(), Failed>;

/// Runs a command other than `serve`.
pub async fn run(target: &Target, command: Command) -> Outcome {
    match command {
        Command::Serve => unreachable!("main serves"),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "pharos", &mut std::io::stdout());
            Ok(())
        }
        Command::Settings(command) => settings::run(target, command).await,
        Command::ClusterAddress(command) => settings::cluster_address(target, command).await,
        Command::Distributed(command) => settings::distributed(target, command).await,
        Command::Certs(command) => certs::run(target, command).await,
        Command::Admin(command) => admin::run(target, command).await,
        Command::Check => check::run(target).await,
        Command::Backup { file, force } => match target.remote()? {
            Some(remote) => backup::download(&remote, &file, force).await,
            None => backup::backup(&config()?, &file, force).await,
        },
        Command::Restore { file } => {
            on_database_only(target, "restore")?;
            backup::restore(&config()?, &file).await
        }
    }
}

/// `restore` replaces the database under every server, the one it would go through included.
fn on_database_only(target: &Target, command: &str) -> Outcome {
    if target.url.is_some() {
        return Err(Failed(format!(
            "`pharos {command}` works on the database, with no server running on it, not \
             through a server's API: run it without --url where the server's configuration \
             (PHAROS_DATABASE_URL) is"
        )));
    }
    Ok(())
}

fn config() -> Result<Config, Failed> {
    Config::load().map_err(|e| Failed(format!("{e:#}")))
}

/// The operating system's user running the command.
fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

/// The mark of an audit entry made from the command line.
pub const COMMAND_LINE: &str = " (command line)";

/// Who the command line's changes on the database are audited as: the operating system's user.
pub fn actor() -> Actor {
    Actor {
        name: format!("{}{COMMAND_LINE}", os_user()),
        source: gethostname::gethostname().into_string().ok(),
    }
}

/// Joins `bus` as the command line, so that changes reach running servers as a server's would:
/// on PostgreSQL through a message of the database and every server's own notifications,
/// whatever mode they run in. (On SQLite the server looks for changed settings every
/// `settings_poll_millis`.)
fn join_bus(bus: &crate::cluster::Bus) {
    bus.join_tool(&format!("cli-{}", uuid::Uuid::new_v4().simple()));
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
