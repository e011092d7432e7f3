//! Server configuration: defaults, then a TOML file, then `PHAROS_*` environment variables.

use anyhow::Context;
use app::model::{DatabaseKind, Installation};
use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};
use url::Url;

/// `Debug` shows every field; the database URL shows itself redacted.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port the web server listens on.
    pub listen: SocketAddr,
    /// Where the embedded database, the server id and other state live; created if missing.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; default: `pharos.db` in the data directory.
    #[serde(skip_serializing)]
    pub database_url: Option<DatabaseUrl>,
    pub installation: Installation,
    /// Name shown for this server; default: the host name.
    pub server_name: Option<String>,
    /// Host name or IP devices reach this server at when no cluster address applies (the address
    /// the server detects is often one devices cannot reach: container bridges, NAT).
    pub public_address: Option<String>,
    /// Folder of the built site (`pkg/`, static files); default: `target/site` below the
    /// working directory, else beside the executable.
    pub site_root: Option<PathBuf>,
    pub heartbeat_interval_secs: u64,
    /// A server whose last heartbeat is older than this counts as gone.
    pub heartbeat_timeout_secs: u64,
    /// A safety net on PostgreSQL: how often to look for settings saved by another server even
    /// without a notification.
    pub settings_poll_millis: u64,
    /// How long running requests may take to finish once the server is asked to stop.
    pub shutdown_timeout_secs: u64,
    /// UDP port devices listen on for scans, status queries and commands.
    pub device_port: u16,
    /// Local address the discovery sockets bind to (the reply ports are opened on it).
    pub udp_bind: std::net::IpAddr,
    /// Seconds between two online-check rounds (a round that runs longer delays the next).
    pub online_check_interval_secs: u64,
    /// Scan datagrams per second, so a scan does not flood a real network; 0 sends as fast as the
    /// machine can.
    pub scan_send_rate: u32,
    /// Where Wake-on-LAN magic packets go: a broadcast address of the devices' network.
    pub wake_on_lan_address: std::net::Ipv4Addr,
    pub wake_on_lan_port: u16,
    /// How often the scheduler looks for due job executions.
    pub scheduler_tick_millis: u64,
    /// The superuser's password at first start; generated and printed once if absent. Ignored
    /// once the account exists.
    #[serde(skip_serializing)]
    pub admin_password: Option<Password>,
    /// Reverse proxies whose `X-Forwarded-For`, `-Proto` and `-Host` are believed (addresses or
    /// CIDRs, a list or one comma-separated string). From anyone else they are ignored.
    #[serde(deserialize_with = "networks")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// A browser session unused this long ends.
    pub session_idle_secs: u64,
    /// A browser session ends this long after sign-in, used or not.
    pub session_max_secs: u64,
    /// Failed sign-ins (of one account, or from one address) that lock it out.
    pub sign_in_max_failures: u32,
    /// How long a lock-out lasts.
    pub sign_in_lockout_secs: u64,
    /// A request taking longer is answered 408 (the event stream is exempt).
    pub request_timeout_secs: u64,
    /// The path prefix Pharos is served under behind a reverse proxy that forwards the full path
    /// (`/pharos` for `https://host/pharos/`); empty at the root of the site.
    pub base_path: String,
    /// Serve HTTPS (the default), or plain HTTP (`off`) for a TLS-terminating proxy on loopback.
    #[serde(deserialize_with = "switch")]
    pub tls: bool,
    /// The key that seals private keys in the database: 32 bytes in base64. Default: the file
    /// `secret.key` in the data directory, made at first start. Servers sharing a database need
    /// the same one.
    #[serde(skip_serializing)]
    pub secret_key: Option<Password>,
    /// Addresses or CIDRs that may read `/metrics` without signing in (a list or one
    /// comma-separated string). The client address is the one trusted proxies report.
    #[serde(deserialize_with = "networks")]
    pub metrics_allow: Vec<ipnet::IpNet>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            installation: Installation::Standalone,
            server_name: None,
            public_address: None,
            site_root: None,
            heartbeat_interval_secs: 5,
            heartbeat_timeout_secs: 30,
            settings_poll_millis: 10_000,
            shutdown_timeout_secs: 10,
            device_port: 30005,
            udp_bind: std::net::IpAddr::from([0, 0, 0, 0]),
            online_check_interval_secs: 3,
            scan_send_rate: 2_000,
            wake_on_lan_address: std::net::Ipv4Addr::BROADCAST,
            wake_on_lan_port: 9,
            scheduler_tick_millis: 1_000,
            admin_password: None,
            trusted_proxies: Vec::new(),
            session_idle_secs: 30 * 60,
            session_max_secs: 12 * 60 * 60,
            sign_in_max_failures: 5,
            sign_in_lockout_secs: 15 * 60,
            request_timeout_secs: 30,
            base_path: String::new(),
            tls: true,
            secret_key: None,
            metrics_allow: Vec::new(),
        }
    }
}

/// A database URL: it may hold a password (in the user info or a query parameter), so it is kept
/// as a secret and shown only redacted.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(SecretString);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> DatabaseUrl {
        DatabaseUrl(SecretString::from(url.into()))
    }

    /// For the driver only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The URL with every secret replaced by `***`, for logs and messages.
    pub fn redacted(&self) -> String {
        let Ok(mut url) = Url::parse(self.expose()) else {
            return "(an unreadable URL)".into();
        };
        if url.password().is_some() {
            let _ = url.set_password(Some("***"));
        }
        let secret_key = |key: &str| {
            let key = key.to_ascii_lowercase();
            ["pass", "secret", "token"].iter().any(|s| key.contains(s))
        };
        if url.query_pairs().any(|(k, _)| secret_key(&k)) {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| {
                    let v = if secret_key(&k) {
                        "***".into()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        url.to_string()
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl PartialEq for DatabaseUrl {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

/// A password from the configuration: shown as `***`.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Password(SecretString);

impl Password {
    pub fn new(password: impl Into<String>) -> Password {
        Password(SecretString::from(password.into()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl PartialEq for Password {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

/// Keys of the file, and of `PHAROS_*` variables in lower case.
const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "installation",
    "server_name",
    "public_address",
    "site_root",
    "heartbeat_interval_secs",
    "heartbeat_timeout_secs",
    "settings_poll_millis",
    "shutdown_timeout_secs",
    "device_port",
    "udp_bind",
    "online_check_interval_secs",
    "scan_send_rate",
    "wake_on_lan_address",
    "wake_on_lan_port",
    "scheduler_tick_millis",
    "admin_password",
    "trusted_proxies",
    "session_idle_secs",
    "session_max_secs",
    "sign_in_max_failures",
    "sign_in_lockout_secs",
    "request_timeout_secs",
    "base_path",
    "tls",
    "secret_key",
    "metrics_allow",
];

/// `on`/`off` as well as `true`/`false` (what people write in an environment variable).
fn switch<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Switch {
        Bool(bool),
        Number(i64),
        Text(String),
    }
    match Switch::deserialize(d)? {
        Switch::Bool(b) => Ok(b),
        Switch::Number(1) => Ok(true),
        Switch::Number(0) => Ok(false),
        Switch::Number(n) => Err(serde::de::Error::custom(format!(
            "{n} is neither on nor off"
        ))),
        Switch::Text(text) => match text.trim().to_ascii_lowercase().as_str() {
            "on" | "true" | "yes" | "1" => Ok(true),
            "off" | "false" | "no" | "0" => Ok(false),
            other => Err(serde::de::Error::custom(format!(
                "{other:?} is neither on nor off"
            ))),
        },
    }
}

/// Networks as a list, or as one comma-separated string (an environment variable).
fn networks<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ipnet::IpNet>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Networks {
        List(Vec<String>),
        Text(String),
    }
    let items = match Networks::deserialize(d)? {
        Networks::List(items) => items,
        Networks::Text(text) => text.split(',').map(str::to_owned).collect(),
    };
    items
        .iter()
        .map(|item| item.trim())
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "{item:?} is not an address or a network in CIDR notation"
                    ))
                })
        })
        .collect()
}

/// `PHAROS_*` variables that configure nothing (a typo, most likely), for a warning at start.
/// Variables of the tools around Pharos (`PHAROS_CONFIG`, `PHAROS_TOKEN`, `PHAROS_TEST_*`) are
/// not counted.
pub fn unknown_env_vars() -> Vec<String> {
    std::env::vars()
        .filter_map(|(name, _)| {
            let key = name.strip_prefix("PHAROS_")?.to_ascii_lowercase();
            // PHAROS_TOKEN: the command line's API token with --url
            let known = KEYS.contains(&key.as_str())
                || key == "config"
                || key == "token"
                || key.starts_with("test_");
            (!known).then_some(name)
        })
        .collect()
}

impl Config {
    /// Reads the configuration file named by `PHAROS_CONFIG` (default `pharos.toml`, if present)
    /// and the environment.
    pub fn load() -> anyhow::Result<Config> {
        let file = std::env::var("PHAROS_CONFIG").unwrap_or_else(|_| "pharos.toml".into());
        if std::env::var_os("PHAROS_CONFIG").is_some() && !std::path::Path::new(&file).exists() {
            anyhow::bail!("PHAROS_CONFIG names {file}, which does not exist");
        }
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(&file))
            .merge(Env::prefixed("PHAROS_").filter(|key| KEYS.iter().any(|k| key == *k)))
            .extract()
            .with_context(|| format!("reading the configuration ({file} and PHAROS_* variables)"))
    }

    pub fn database_url(&self) -> anyhow::Result<DatabaseUrl> {
        match &self.database_url {
            Some(url) => Ok(url.clone()),
            None => {
                let path = self.data_dir.join("pharos.db");
                let path = path
                    .to_str()
                    .context("the data directory path is not valid UTF-8")?;
                Ok(DatabaseUrl::new(format!("sqlite://{path}?mode=rwc")))
            }
        }
    }

    pub fn database_kind(&self) -> anyhow::Result<DatabaseKind> {
        let url = self.database_url()?;
        let scheme = url.expose().split_once(':').map(|(scheme, _)| scheme);
        match scheme {
            Some("sqlite") => Ok(DatabaseKind::Sqlite),
            Some("postgres" | "postgresql") => Ok(DatabaseKind::Postgres),
            _ => anyhow::bail!(
                "PHAROS_DATABASE_URL must start with sqlite:// or postgres:// (got {})",
                url.redacted()
            ),
        }
    }

    pub fn heartbeat_interval(&self) -> Duration {
        Duration::from_secs(self.heartbeat_interval_secs.max(1))
    }

    pub fn heartbeat_timeout(&self) -> Duration {
        Duration::from_secs(self.heartbeat_timeout_secs.max(1))
    }

    pub fn settings_poll(&self) -> Duration {
        Duration::from_millis(self.settings_poll_millis.max(100))
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs.max(1))
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }

    /// The path prefix, `""` or `/prefix` (a trailing slash dropped). It becomes part of every
    /// link, cookie and asset URL, so anything a URL would need escaped is refused.
    pub fn base_path(&self) -> anyhow::Result<String> {
        let base = self.base_path.trim_end_matches('/');
        if base.is_empty() {
            return Ok(String::new());
        }
        let valid = base.starts_with('/')
            && !base.contains("//")
            && base
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~/".contains(&b));
        if !valid {
            anyhow::bail!(
                "PHAROS_BASE_PATH must be a path like /pharos: a leading slash, no empty segment, \
                 only letters, digits and - . _ ~ / (got {:?})",
                self.base_path
            );
        }
        Ok(base.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_a_known_key() {
        let mut fields: Vec<String> = serde_json::to_value(Config::default())
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .chain(["database_url", "admin_password", "secret_key"].map(str::to_owned)) // secrets: never serialized
            .collect();
        fields.sort();
        let mut keys: Vec<&str> = KEYS.to_vec();
        keys.sort();
        assert_eq!(fields, keys);
    }

    #[test]
    fn secrets_in_database_urls_are_redacted() {
        let redacted = |url: &str| DatabaseUrl::new(url).redacted();
        assert_eq!(
            redacted("postgres://pharos:s3cret@db:5432/pharos"),
            "postgres://pharos:***@db:5432/pharos"
        );
        assert_eq!(
            redacted("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(
            redacted("postgres://db/pharos?user=p&password=s3cret&sslmode=require&sslpassword=k3y"),
            "postgres://db/pharos?user=p&password=***&sslmode=require&sslpassword=***"
        );
        assert_eq!(
            redacted("sqlite:///tmp/x/pharos.db?mode=rwc"),
            "sqlite:///tmp/x/pharos.db?mode=rwc"
        );
        let config = Config {
            database_url: Some(DatabaseUrl::new("postgres://u:pw1@h/db?password=pw2")),
            ..Config::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("pw1") && !shown.contains("pw2"), "{shown}");
        let config = Config {
            database_url: Some(DatabaseUrl::new("mysql://u:pw3@h/db")),
            ..Config::default()
        };
        let err = config.database_kind().unwrap_err().to_string();
        assert!(
            err.contains("mysql://u:***@h/db") && !err.contains("pw3"),
            "{err}"
        );
    }

    #[test]
    fn base_paths() {
        let base = |path: &str| {
            Config {
                base_path: path.into(),
                ..Config::default()
            }
            .base_path()
        };
        assert_eq!(base("").unwrap(), "");
        assert_eq!(base("/").unwrap(), "");
        assert_eq!(base("/pharos").unwrap(), "/pharos");
        assert_eq!(base("/pharos/").unwrap(), "/pharos");
        assert_eq!(
            base("/tools/pharos-2.v1~x").unwrap(),
            "/tools/pharos-2.v1~x"
        );
        for bad in [
            "pharos",
            "//pharos",
            "/a//b",
            "/pha ros",
            "/pharos?x",
            "/ph%61",
            "/é",
        ] {
            let err = base(bad).unwrap_err().to_string();
            assert!(err.contains("PHAROS_BASE_PATH"), "{bad}: {err}");
        }
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's own test harness signature
    fn file_then_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "pharos.toml",
                "listen = \"127.0.0.1:9000\"\ninstallation = \"ha\"\ndata_dir = \"/tmp/x\"",
            )?;
            jail.set_env("PHAROS_LISTEN", "127.0.0.1:9100");
            let config = Config::load().expect("loads");
            assert_eq!(config.listen, SocketAddr::from(([127, 0, 0, 1], 9100)));
            assert_eq!(config.installation, Installation::Ha);
            assert_eq!(
                config.database_url().unwrap().expose(),
                "sqlite:///tmp/x/pharos.db?mode=rwc"
            );
            assert_eq!(config.database_kind().unwrap(), DatabaseKind::Sqlite);
            jail.set_env("PHAROS_INSTALLATION", "cluster");
            assert!(Config::load().is_err());
            jail.set_env("PHAROS_INSTALLATION", "standalone");
            jail.set_env("PHAROS_LISTN", "127.0.0.1:1");
            assert!(Config::load().is_ok());
            assert!(unknown_env_vars().contains(&"PHAROS_LISTN".to_owned()));
            jail.create_file("pharos.toml", "listn = \"127.0.0.1:9000\"")?;
            let err = format!("{:#}", Config::load().unwrap_err());
            assert!(err.contains("listn"), "{err}");
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's own test harness signature
    fn tls_is_on_unless_switched_off() {
        figment::Jail::expect_with(|jail| {
            assert!(Config::load().expect("loads").tls);
            for (value, on) in [
                ("off", false),
                ("OFF", false),
                ("0", false),
                ("false", false),
            ]
            .into_iter()
            .chain([("on", true), ("1", true), ("true", true)])
            {
                jail.set_env("PHAROS_TLS", value);
                assert_eq!(Config::load().expect(value).tls, on, "{value}");
            }
            jail.set_env("PHAROS_TLS", "maybe");
            let err = format!("{:#}", Config::load().unwrap_err());
            assert!(err.contains("neither on nor off"), "{err}");
            jail.set_env("PHAROS_TLS", "off");
            jail.create_file("pharos.toml", "tls = \"on\"")?;
            assert!(!Config::load().expect("loads").tls, "the environment wins");
            Ok(())
        });
    }
}
