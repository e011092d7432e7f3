//! `pharos check`: what would stop devices from reaching the servers, in plain words. On the
//! database it also looks at this machine's configuration; through `--url` at the server the
//! URL names. Either way the certificates, the cluster address and the servers are judged the
//! same, from what the API's documents say.

use super::remote::{Remote, Target};
use super::{Failed, Outcome};
use crate::cluster::{Bus, Registry};
use crate::config::Config;
use crate::settings::Settings;
use crate::tls::{Tls, pki};
use app::api::{
    CLIENT_CHAIN_URL, ClusterCheck, SERVER_URL, SETTINGS_URL, ServerEntry, ServerStatus,
    WEB_CERTIFICATES_URL, WEB_CHECK_URL, WebCertificates,
};
use app::model::{DatabaseKind, NetworkSettings, ValidationContext};
use std::sync::Arc;
use std::time::Duration;

/// A certificate this close to its end is worth a warning.
const SOON_DAYS: i64 = 30;
/// How long a connection to an address may take before it counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Level {
    Ok,
    Warning,
    Problem,
}

#[derive(Default)]
struct Findings(Vec<(Level, String)>);

impl Findings {
    fn ok(&mut self, text: impl Into<String>) {
        self.say(Level::Ok, text.into());
    }
    fn warn(&mut self, text: impl Into<String>) {
        self.say(Level::Warning, text.into());
    }
    fn problem(&mut self, text: impl Into<String>) {
        self.say(Level::Problem, text.into());
    }
    /// Printed as found, so a slow step shows where it is.
    fn say(&mut self, level: Level, text: String) {
        let mark = match level {
            Level::Ok => "ok      ",
            Level::Warning => "warning ",
            Level::Problem => "PROBLEM ",
        };
        println!("{mark}{text}");
        self.0.push((level, text));
    }
    fn count(&self, level: Level) -> usize {
        self.0.iter().filter(|(l, _)| *l == level).count()
    }
}

/// What the judgement is made from: the documents the API serves.
struct Facts {
    settings: NetworkSettings,
    servers: Vec<ServerEntry>,
    certificates: WebCertificates,
    cluster: ClusterCheck,
    client_chain: String,
}

pub async fn run(target: &Target) -> Outcome {
    let mut findings = Findings::default();
    let facts = match target.remote()? {
        Some(remote) => through_api(&remote, &mut findings).await,
        None => on_database(&mut findings).await,
    };
    if let Some(facts) = facts {
        judge(&facts, &mut findings).await;
    }
    let (problems, warnings) = (
        findings.count(Level::Problem),
        findings.count(Level::Warning),
    );
    println!();
    if problems > 0 {
        return Err(Failed(format!(
            "{problems} problem{} and {warnings} warning{}: devices may not reach the servers",
            plural(problems),
            plural(warnings)
        )));
    }
    println!("No problem found ({warnings} warning{}).", plural(warnings));
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// This machine's configuration and the database; then the documents, read from it.
async fn on_database(findings: &mut Findings) -> Option<Facts> {
    let config = match Config::load() {
        Ok(config) => config,
        Err(e) => {
            findings.problem(format!("the configuration cannot be read: {e:#}"));
            return None;
        }
    };
    findings.ok(format!(
        "configuration read; data directory {}",
        config.data_dir.display()
    ));
    configuration(&config, findings);
    let (kind, url) = match (config.database_kind(), config.database_url()) {
        (Ok(kind), Ok(url)) => (kind, url),
        (Err(e), _) | (_, Err(e)) => {
            findings.problem(format!("the database is not configured right: {e:#}"));
            return None;
        }
    };
    if kind == DatabaseKind::Sqlite
        && let Some(path) = sqlite_file(url.expose())
        && !std::path::Path::new(&path).exists()
    {
        findings.problem(format!(
            "the database {path} does not exist: no server has started with this configuration"
        ));
        return None;
    }
    let db = match super::backup::connect(&config).await {
        Ok(db) => db,
        Err(Failed(e)) => {
            findings.problem(format!("the database cannot be used: {e}"));
            return None;
        }
    };
    findings.ok(format!("database reachable ({})", url.redacted()));
    let facts = read_database(&config, &db, findings).await;
    db.close().await;
    facts
}

/// What in the configuration keeps devices away.
fn configuration(config: &Config, findings: &mut Findings) {
    let listen = config.listen;
    if listen.ip().is_loopback() {
        findings.warn(format!(
            "the server listens on {listen} only: devices on the network reach it only through \
             a proxy on this machine"
        ));
    } else {
        findings.ok(format!("the server listens on {listen}"));
    }
    if !config.tls {
        findings.warn(
            "HTTPS is off here: a proxy in front of the server must serve HTTPS to devices and \
             browsers",
        );
    }
    match &config.public_address {
        Some(address) => findings.ok(format!("devices are told this server is at {address}")),
        None => {
            let routable = if_addrs::get_if_addrs()
                .map(|list| list.iter().any(|i| !i.ip().is_loopback()))
                .unwrap_or(false);
            if !routable {
                findings.problem(
                    "this machine has no address but loopback and no public address is \
                     configured (PHAROS_PUBLIC_ADDRESS): devices would be told 127.0.0.1",
                );
            }
        }
    }
    if !config.data_dir.exists() {
        findings.warn(format!(
            "the data directory {} does not exist (a server makes it at its first start)",
            config.data_dir.display()
        ));
    } else if let Err(e) = tempfile::NamedTempFile::new_in(&config.data_dir) {
        findings.problem(format!(
            "the data directory {} is not writable: {e}",
            config.data_dir.display()
        ));
    }
}

/// The path of a `sqlite://` URL.
fn sqlite_file(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| path.to_owned())
}

async fn read_database(
    config: &Config,
    db: &crate::db::Db,
    findings: &mut Findings,
) -> Option<Facts> {
    let bus = Bus::new();
    let ctx = ValidationContext {
        installation: config.installation,
        database: db.kind(),
    };
    let settings = match Settings::load(db.clone(), bus.clone(), ctx).await {
        Ok(settings) => Arc::new(settings),
        Err(e) => {
            findings.problem(format!("the settings cannot be read: {e}"));
            return None;
        }
    };
    let registry =
        match Registry::observe(db.clone(), bus.clone(), config.heartbeat_timeout()).await {
            Ok(registry) => Arc::new(registry),
            Err(e) => {
                findings.problem(format!("the servers cannot be read: {e}"));
                return None;
            }
        };
    let servers = registry.servers().1;
    let opened = match Tls::open(db.clone(), bus, config, registry, settings.clone()).await {
        Ok(tls) => tls.keys_open().await.map(|()| tls),
        Err(e) => Err(e),
    };
    let tls = match opened {
        Ok(tls) => tls,
        Err(e) => {
            findings.problem(format!(
                "the certificates cannot be used with this configuration: {e:#}"
            ));
            return None;
        }
    };
    let read = async {
        Ok::<_, crate::http::ApiError>((
            tls.list().await?,
            tls.check().await?,
            tls.client_chain().await?,
        ))
    };
    match read.await {
        Ok((certificates, cluster, client_chain)) => Some(Facts {
            settings: settings.snapshot().view.clone(),
            servers,
            certificates,
            cluster,
            client_chain,
        }),
        Err(e) => {
            findings.problem(format!("the certificates cannot be read: {e}"));
            None
        }
    }
}

/// The server at `--url` and where it tells devices to come; then the documents, read from it.
async fn through_api(remote: &Remote, findings: &mut Findings) -> Option<Facts> {
    let status: ServerStatus = match fetch(remote, SERVER_URL).await {
        Ok(status) => status,
        Err(Failed(e)) => {
            findings.problem(format!("the server cannot be used: {e}"));
            return None;
        }
    };
    findings.ok(format!(
        "reached the server \"{}\" at {}{}",
        status.server.name,
        remote.base(),
        if remote.https() {
            " (its certificate verified)"
        } else {
            " (plain HTTP, on this machine)"
        }
    ));
    if let Some(distributed) = &status.distributed
        && distributed.restart_required
    {
        findings.warn(format!(
            "distributed mode is {} in the settings but not yet in effect: restart the servers",
            if distributed.configured { "on" } else { "off" }
        ));
    }
    let own = &status.device_address;
    let host = own.public_address.as_deref().unwrap_or(&own.address);
    reach(
        findings,
        &format!(
            "this server's own address for devices ({host}:{})",
            own.port
        ),
        host,
        own.port,
    )
    .await;
    let read = async {
        Ok::<_, Failed>(Facts {
            settings: fetch(remote, SETTINGS_URL).await?,
            servers: status.servers.clone(),
            certificates: fetch(remote, WEB_CERTIFICATES_URL).await?,
            cluster: fetch(remote, WEB_CHECK_URL).await?,
            client_chain: String::from_utf8_lossy(&remote.get(CLIENT_CHAIN_URL).await?.body)
                .into_owned(),
        })
    };
    match read.await {
        Ok(facts) => Some(facts),
        Err(Failed(e)) => {
            findings.problem(format!("the server's documents cannot be read: {e}"));
            None
        }
    }
}

async fn fetch<T: serde::de::DeserializeOwned>(remote: &Remote, path: &str) -> Result<T, Failed> {
    remote.get(path).await?.json()
}

/// The servers, their certificates, the device CA and the cluster address.
async fn judge(facts: &Facts, findings: &mut Findings) {
    let alive: Vec<&ServerEntry> = facts.servers.iter().filter(|s| s.alive).collect();
    if alive.is_empty() {
        findings.problem("no server is running on this database: devices find nobody to answer");
    } else {
        let names: Vec<&str> = alive.iter().map(|s| s.name.as_str()).collect();
        findings.ok(format!(
            "{} server{} running: {}",
            alive.len(),
            plural(alive.len()),
            names.join(", ")
        ));
    }
    for server in alive.iter().filter(|s| s.clock_off()) {
        findings.problem(format!(
            "the clock of the server \"{}\" is {} s off the database's: certificates and \
             schedules go wrong; synchronize it (NTP)",
            server.name,
            server.clock_offset_ms.unwrap_or_default() / 1000
        ));
    }
    for server in &alive {
        let presented = facts
            .certificates
            .certificates
            .iter()
            .find(|c| c.assigned_to.iter().any(|s| s.id == server.id));
        let Some(cert) = presented else {
            findings.problem(format!(
                "the server \"{}\" presents no certificate of the list",
                server.name
            ));
            continue;
        };
        let what = format!(
            "the certificate the server \"{}\" presents ({})",
            server.name, cert.subject
        );
        // devices that come to the server by one of its own names or addresses check that the
        // certificate names it (through a cluster address, the cluster check below says it)
        let own: Vec<&String> = std::iter::once(&server.name)
            .chain(server.addresses.iter())
            .collect();
        if !own
            .iter()
            .any(|name| cert.sans.iter().any(|san| pki::covers(san, name)))
        {
            findings.warn(format!(
                "{what} names none of the server's own names and addresses ({}): devices \
                 reaching it by one of them refuse it",
                own.iter()
                    .map(|n| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if cert.days_left < 0 {
            findings.problem(format!(
                "{what} expired on {}: devices refuse it; renew it",
                &cert.not_after[..cert.not_after.len().min(10)]
            ));
        } else if cert.days_left <= SOON_DAYS {
            findings.warn(format!(
                "{what} expires in {} days: renew it before",
                cert.days_left
            ));
        } else {
            findings.ok(format!("{what} is valid for {} more days", cert.days_left));
        }
    }
    device_ca(&facts.client_chain, findings);
    let cluster = &facts.settings.cluster_address;
    if cluster.enabled && !cluster.host.is_empty() {
        reach(
            findings,
            &format!("the cluster address {}:{}", cluster.host, cluster.port),
            &cluster.host,
            u16::try_from(cluster.port).unwrap_or(u16::MAX),
        )
        .await;
    }
    if facts.cluster.applies {
        if facts.cluster.ok {
            findings.ok("every server presents one certificate with the cluster address and all their addresses");
        }
        for problem in &facts.cluster.problems {
            findings.problem(format!(
                "{problem}: devices coming through the cluster address refuse such a server"
            ));
        }
        if !facts.cluster.ok
            && let Some(issuer) = &facts.cluster.fix_issuer
        {
            let names: Vec<String> = facts
                .cluster
                .fix_hostnames
                .iter()
                .map(|n| format!("--hostname {n}"))
                .collect();
            println!(
                "        fix: pharos certs create-signed --issuer {issuer} {} --assign",
                names.join(" ")
            );
        }
    }
}

/// The device CA, first in its chain: expired, devices' client certificates no longer pass.
fn device_ca(chain: &str, findings: &mut Findings) {
    let facts = pki::certs_from_pem(chain)
        .ok()
        .and_then(|certs| certs.first().and_then(|der| pki::facts(der).ok()));
    let Some(facts) = facts else {
        findings.problem("the device CA cannot be read");
        return;
    };
    let days = (facts.not_after - crate::workers::unix_millis()) / 86_400_000;
    if days < 0 {
        findings.problem(
            "the device CA expired: devices' client certificates no longer pass and none can be \
             issued",
        );
    } else if days <= SOON_DAYS {
        findings.warn(format!("the device CA expires in {days} days"));
    } else {
        findings.ok(format!("the device CA is valid for {days} more days"));
    }
}

/// Whether `host:port` resolves and accepts a connection from here.
async fn reach(findings: &mut Findings, what: &str, host: &str, port: u16) {
    let addresses: Vec<std::net::SocketAddr> =
        match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::lookup_host((host, port))).await {
            Ok(Ok(addresses)) => addresses.collect(),
            Ok(Err(e)) => {
                findings.problem(format!("{what}: the name does not resolve ({e})"));
                return;
            }
            Err(_) => {
                findings.problem(format!("{what}: no answer from the name service"));
                return;
            }
        };
    if addresses.iter().all(|a| a.ip().is_loopback()) {
        findings.warn(format!(
            "{what} is a loopback address: only this machine reaches it"
        ));
    }
    for address in &addresses {
        let connected =
            tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(address)).await;
        if let Ok(Ok(_)) = connected {
            findings.ok(format!("{what} accepts connections (at {address})"));
            return;
        }
    }
    let tried: Vec<String> = addresses.iter().map(ToString::to_string).collect();
    findings.problem(format!(
        "{what} accepts no connection from here (tried {}): devices cannot reach it through \
         it either, unless a firewall treats them otherwise",
        tried.join(", ")
    ));
}
