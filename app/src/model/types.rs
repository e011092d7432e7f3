//! The Server Network Settings document, its defaults and what it is validated against.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The whole document, exactly as it travels on the wire.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NetworkSettings {
    pub online_check: OnlineCheck,
    pub scheduled_jobs: ScheduledJobs,
    pub scan: Scan,
    pub cluster_address: ClusterAddress,
    pub enrollment_address: EnrollmentAddress,
    /// Absent on a High Availability installation, present on a standalone one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distributed: Option<Distributed>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OnlineCheck {
    pub enabled: bool,
    pub response_timeout_ms: u32,
    /// `None`: the server picks any free UDP port.
    pub reply_port: Option<u32>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ScheduledJobs {
    pub never_expire: bool,
    pub expiration_minutes: u32,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
// `as`: the API has a `Scan` of its own, the scan run
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = ScanSettings))]
#[serde(deny_unknown_fields)]
pub struct Scan {
    pub timeout_ms: u32,
    pub broadcast_ip: String,
    pub reply_port: Option<u32>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ClusterAddress {
    pub enabled: bool,
    pub host: String,
    pub port: u32,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnrollmentAddress {
    pub enabled: bool,
    pub host: String,
    pub port: u32,
    pub path_prefix: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Distributed {
    pub enabled: bool,
}

/// Standalone servers may share one database (distributed mode); an HA installation always does.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Installation {
    #[default]
    Standalone,
    Ha,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

/// What a document is validated against: the same document can be valid on one server and not
/// on another.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ValidationContext {
    pub installation: Installation,
    pub database: DatabaseKind,
}

/// An inclusive range with a default and a unit, shown next to every numeric field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NumberRule {
    pub min: u32,
    pub max: u32,
    pub default: u32,
    pub unit: &'static str,
}

pub const ONLINE_CHECK_TIMEOUT: NumberRule = NumberRule {
    min: 100,
    max: 10_000,
    default: 1_000,
    unit: "ms",
};
/// Up to 30 days: a job that could not start for longer than that is stale by any measure.
pub const JOB_EXPIRATION: NumberRule = NumberRule {
    min: 1,
    max: 43_200,
    default: 40,
    unit: "minutes",
};
/// Up to one minute: replies to a scan come within seconds even on slow links.
pub const SCAN_TIMEOUT: NumberRule = NumberRule {
    min: 100,
    max: 60_000,
    default: 6_000,
    unit: "ms",
};
pub const PORT: NumberRule = NumberRule {
    min: 1,
    max: 65_535,
    default: 8_443,
    unit: "",
};
pub const HOST_MAX_LEN: usize = 255;
pub const LABEL_MAX_LEN: usize = 63;
pub const PATH_PREFIX_MAX_LEN: usize = 1024;
pub const DEFAULT_BROADCAST_IP: &str = "255.255.255.255";
/// The path EST clients use (RFC 7030); a custom prefix goes in front of it.
pub const EST_PATH: &str = "/.well-known/est";

impl NetworkSettings {
    /// The defaults of a fresh installation of the given kind.
    pub fn defaults(installation: Installation) -> Self {
        NetworkSettings {
            online_check: OnlineCheck {
                enabled: true,
                response_timeout_ms: ONLINE_CHECK_TIMEOUT.default,
                reply_port: None,
            },
            scheduled_jobs: ScheduledJobs {
                never_expire: true,
                expiration_minutes: JOB_EXPIRATION.default,
            },
            scan: Scan {
                timeout_ms: SCAN_TIMEOUT.default,
                broadcast_ip: DEFAULT_BROADCAST_IP.to_owned(),
                reply_port: None,
            },
            cluster_address: ClusterAddress {
                enabled: false,
                host: String::new(),
                port: PORT.default,
            },
            enrollment_address: EnrollmentAddress {
                enabled: false,
                host: String::new(),
                port: PORT.default,
                path_prefix: String::new(),
            },
            distributed: match installation {
                Installation::Standalone => Some(Distributed { enabled: false }),
                Installation::Ha => None,
            },
        }
    }

    /// The same settings as seen on an installation of the given kind: the distributed section
    /// exists only on a standalone installation.
    pub fn for_installation(mut self, installation: Installation) -> Self {
        match installation {
            Installation::Ha => self.distributed = None,
            Installation::Standalone => {
                self.distributed
                    .get_or_insert(Distributed { enabled: false });
            }
        }
        self
    }

    pub fn distributed_enabled(&self) -> bool {
        self.distributed.as_ref().is_some_and(|d| d.enabled)
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("settings always serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_the_documented_document() {
        let expected = json!({
          "online_check":       { "enabled": true, "response_timeout_ms": 1000, "reply_port": null },
          "scheduled_jobs":     { "never_expire": true, "expiration_minutes": 40 },
          "scan":               { "timeout_ms": 6000, "broadcast_ip": "255.255.255.255", "reply_port": null },
          "cluster_address":    { "enabled": false, "host": "", "port": 8443 },
          "enrollment_address": { "enabled": false, "host": "", "port": 8443, "path_prefix": "" },
          "distributed":        { "enabled": false }
        });
        let defaults = NetworkSettings::defaults(Installation::Standalone);
        assert_eq!(defaults.to_value(), expected);
        let ha = NetworkSettings::defaults(Installation::Ha);
        assert!(ha.to_value().get("distributed").is_none());
        assert_eq!(defaults.clone().for_installation(Installation::Ha), ha);
        assert_eq!(ha.for_installation(Installation::Standalone), defaults);
    }
}
