//! The `pharos` command line: `serve` (the default) and the commands for scripts and for recovery
//! without a browser. They read the same configuration as the server (`pharos.toml`,
//! `PHAROS_*`) and work on its database directly; every change is audited as made by the
//! command line's user.

mod admin;
mod backup;
mod settings;

use crate::audit::Actor;
use crate::config::Config;
use clap::{CommandFactory, Parser, Subcommand};
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
        command line's user."
)]
pub struct Cli {
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
    /// Administrator accounts, for recovery without a browser
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Copy the whole database to FILE, consistent while servers write to it (SQLite: a copy of
    /// the database file; PostgreSQL: a pg_dump archive)
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
pub async fn run(command: Command) -> Outcome {
    match command {
        Command::Serve => unreachable!("main serves"),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "pharos", &mut std::io::stdout());
            Ok(())
        }
        Command::Settings(command) => settings::run(&config()?, command).await,
        Command::ClusterAddress(command) => settings::cluster_address(&config()?, command).await,
        Command::Distributed(command) => settings::distributed(&config()?, command).await,
        Command::Admin(command) => admin::run(&config()?, command).await,
        Command::Backup { file, force } => backup::backup(&config()?, &file, force).await,
        Command::Restore { file } => backup::restore(&config()?, &file).await,
    }
}

fn config() -> Result<Config, Failed> {
    Config::load().map_err(|e| Failed(format!("{e:#}")))
}

/// Who the command line's changes are audited as: the operating system's user.
pub fn actor() -> Actor {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    Actor {
        name: format!("{user} (command line)"),
        source: gethostname::gethostname().into_string().ok(),
    }
}

/// Joins `bus` as the command line, so that changes reach running servers as a server's would:
/// in distributed mode (or on an HA installation) through the database's messages, else
/// through every server's own notifications on PostgreSQL. (On SQLite the server looks for
/// changed settings every `settings_poll_millis`.)
fn join_bus(bus: &crate::cluster::Bus, settings: &crate::settings::Settings) {
    use app::model::{DatabaseKind, Installation};
    let ctx = settings.ctx;
    let shared = ctx.database == DatabaseKind::Postgres
        && (ctx.installation == Installation::Ha || settings.distributed_running);
    bus.join_tool(&format!("cli-{}", uuid::Uuid::new_v4().simple()), shared);
}
