//! The Server Network Settings document, its defaults and its rules.
//!
//! This module is shared by the browser (live validation while the administrator types) and the
//! server (the authority, before anything is stored): every rule exists once, here.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr};

/// The whole document, exactly as it travels on the wire.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
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
#[serde(deny_unknown_fields)]
pub struct OnlineCheck {
    pub enabled: bool,
    pub response_timeout_ms: u32,
    /// `None`: the server picks any free UDP port.
    pub reply_port: Option<u32>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ScheduledJobs {
    pub never_expire: bool,
    pub expiration_minutes: u32,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Scan {
    pub timeout_ms: u32,
    pub broadcast_ip: String,
    pub reply_port: Option<u32>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClusterAddress {
    pub enabled: bool,
    pub host: String,
    pub port: u32,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentAddress {
    pub enabled: bool,
    pub host: String,
    pub port: u32,
    pub path_prefix: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Distributed {
    pub enabled: bool,
}

/// Standalone servers may share one database (distributed mode); an HA installation always does.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Installation {
    #[default]
    Standalone,
    Ha,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

/// What a document is validated against: the same document can be valid on one server and not
/// on another.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
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

/// One refused field, named by its dotted path in the document.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rules: one function each, shared by the form and the server.

pub fn check_number(rule: NumberRule, value: u32) -> Result<(), String> {
    if value < rule.min || value > rule.max {
        let unit = if rule.unit.is_empty() {
            String::new()
        } else {
            format!(" {}", rule.unit)
        };
        return Err(format!(
            "must be between {} and {}{unit}",
            rule.min, rule.max
        ));
    }
    Ok(())
}

pub fn check_online_check_timeout(ms: u32) -> Result<(), String> {
    check_number(ONLINE_CHECK_TIMEOUT, ms)
}

pub fn check_job_expiration(minutes: u32) -> Result<(), String> {
    check_number(JOB_EXPIRATION, minutes)
}

pub fn check_scan_timeout(ms: u32) -> Result<(), String> {
    check_number(SCAN_TIMEOUT, ms)
}

pub fn check_port(port: u32) -> Result<(), String> {
    check_number(PORT, port).map_err(|_| "must be a port from 1 to 65535".to_owned())
}

/// A reply port: `None` is "any free port".
pub fn check_reply_port(port: Option<u32>) -> Result<(), String> {
    port.map_or(Ok(()), check_port)
}

pub fn check_broadcast_ip(ip: &str) -> Result<(), String> {
    match ip.parse::<Ipv4Addr>() {
        Ok(addr) if addr.is_unspecified() => Err("0.0.0.0 cannot be a broadcast address".into()),
        Ok(_) => Ok(()),
        Err(_) => Err("must be an IPv4 address such as 255.255.255.255".into()),
    }
}

/// An FQDN (or single-label host name) or an IPv4/IPv6 address; required when its section is
/// enabled.
pub fn check_host(host: &str, required: bool) -> Result<(), String> {
    if host.is_empty() {
        return if required {
            Err("is required while this address is enabled".into())
        } else {
            Ok(())
        };
    }
    if host.len() > HOST_MAX_LEN {
        return Err(format!(
            "must be at most {HOST_MAX_LEN} characters (has {})",
            host.len()
        ));
    }
    if host.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    if host.contains(':') || host.starts_with('[') {
        return Err("is not a valid IPv6 address".into());
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    let labels: Vec<&str> = name.split('.').collect();
    if labels
        .last()
        .is_some_and(|l| l.chars().all(|c| c.is_ascii_digit()))
    {
        return Err("is not a valid IPv4 address".into());
    }
    for label in labels {
        if label.is_empty() {
            return Err("must not contain empty labels (\"..\" or a leading dot)".into());
        }
        if label.len() > LABEL_MAX_LEN {
            return Err(format!(
                "has a label longer than {LABEL_MAX_LEN} characters: \"{}…\"",
                label.chars().take(20).collect::<String>()
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(format!(
                "may contain only letters, digits, hyphens and dots (found {c:?})"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "has a label that starts or ends with a hyphen: \"{label}\""
            ));
        }
    }
    Ok(())
}

/// Empty, or an absolute URL path in front of the EST path.
pub fn check_path_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Ok(());
    }
    if !prefix.starts_with('/') {
        return Err("must be empty or start with \"/\"".into());
    }
    if prefix.len() > PATH_PREFIX_MAX_LEN {
        return Err(format!("must be at most {PATH_PREFIX_MAX_LEN} characters"));
    }
    if prefix.chars().any(char::is_whitespace) {
        return Err("must not contain spaces".into());
    }
    if prefix.contains('?') || prefix.contains('#') {
        return Err("must be a path only, without \"?\" query or \"#\" fragment".into());
    }
    if prefix
        .split('/')
        .any(|segment| segment == ".." || segment == ".")
    {
        return Err("must not contain \".\" or \"..\" segments".into());
    }
    if prefix.contains("//") {
        return Err("must not contain empty segments (\"//\")".into());
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/-._~!$&'()*+,;=:@%".contains(c);
    if let Some(c) = prefix.chars().find(|c| !allowed(*c)) {
        return Err(format!(
            "contains a character not allowed in a URL path: {c:?}"
        ));
    }
    Ok(())
}

pub fn check_distributed(enabled: bool, ctx: ValidationContext) -> Result<(), String> {
    if enabled && ctx.database == DatabaseKind::Sqlite {
        return Err(
            "needs a shared PostgreSQL database; this server uses its embedded SQLite database, \
             which other servers cannot share"
                .into(),
        );
    }
    Ok(())
}

/// Every rule applied to a typed document; empty means valid.
pub fn validate(s: &NetworkSettings, ctx: ValidationContext) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut check = |field: &str, result: Result<(), String>| {
        if let Err(message) = result {
            errors.push(FieldError::new(field, message));
        }
    };
    check(
        "online_check.response_timeout_ms",
        check_online_check_timeout(s.online_check.response_timeout_ms),
    );
    check(
        "online_check.reply_port",
        check_reply_port(s.online_check.reply_port),
    );
    check(
        "scheduled_jobs.expiration_minutes",
        check_job_expiration(s.scheduled_jobs.expiration_minutes),
    );
    check("scan.timeout_ms", check_scan_timeout(s.scan.timeout_ms));
    check(
        "scan.broadcast_ip",
        check_broadcast_ip(&s.scan.broadcast_ip),
    );
    check("scan.reply_port", check_reply_port(s.scan.reply_port));
    check(
        "cluster_address.host",
        check_host(&s.cluster_address.host, s.cluster_address.enabled),
    );
    check("cluster_address.port", check_port(s.cluster_address.port));
    check(
        "enrollment_address.host",
        check_host(&s.enrollment_address.host, s.enrollment_address.enabled),
    );
    check(
        "enrollment_address.port",
        check_port(s.enrollment_address.port),
    );
    check(
        "enrollment_address.path_prefix",
        check_path_prefix(&s.enrollment_address.path_prefix),
    );
    match (&s.distributed, ctx.installation) {
        (Some(_), Installation::Ha) => check("distributed", Err(HA_HAS_NO_DISTRIBUTED.into())),
        (None, Installation::Standalone) => check("distributed", Err("is missing".into())),
        (Some(d), Installation::Standalone) => {
            check("distributed.enabled", check_distributed(d.enabled, ctx))
        }
        (None, Installation::Ha) => {}
    }
    errors
}

const HA_HAS_NO_DISTRIBUTED: &str =
    "does not exist on a High Availability installation: its servers always share one database";

/// What a field must hold, for messages about values of the wrong JSON type.
fn expected_type(path: &str) -> String {
    let range = |r: NumberRule| format!("must be a whole number from {} to {}", r.min, r.max);
    match path {
        "online_check.response_timeout_ms" => range(ONLINE_CHECK_TIMEOUT),
        "scheduled_jobs.expiration_minutes" => range(JOB_EXPIRATION),
        "scan.timeout_ms" => range(SCAN_TIMEOUT),
        "online_check.reply_port" | "scan.reply_port" => {
            "must be null (any free port) or a port from 1 to 65535".into()
        }
        p if p.ends_with(".port") => "must be a port from 1 to 65535".into(),
        p if p.ends_with(".enabled") || p.ends_with(".never_expire") => {
            "must be true or false".into()
        }
        _ => "must be a string".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Documents from outside (API, backups): every problem reported at once, by field.

/// Reads a whole document sent by a client: unknown, missing and mistyped fields are reported
/// together with every broken rule.
pub fn parse_document(
    input: &Value,
    ctx: ValidationContext,
) -> Result<NetworkSettings, Vec<FieldError>> {
    let template = NetworkSettings::defaults(ctx.installation).to_value();
    let mut errors = Vec::new();
    let mut repaired = input.clone();
    conform_keys(&mut repaired, &template, "", &mut errors);

    // Each pass finds the first mistyped field, reports it and puts the default in its place, so
    // one request lists every mistyped field.
    let mut typed = None;
    for _ in 0..=count_leaves(&template) {
        match serde_path_to_error::deserialize::<_, NetworkSettings>(&repaired) {
            Ok(settings) => {
                typed = Some(settings);
                break;
            }
            Err(err) => {
                let path = err.path().to_string();
                let default = leaf(&template, &path).cloned().unwrap_or(Value::Null);
                if !set_leaf(&mut repaired, &path, default) {
                    errors.push(FieldError::new(path, err.inner().to_string()));
                    break;
                }
                errors.push(FieldError::new(path.clone(), expected_type(&path)));
            }
        }
    }
    let Some(settings) = typed else {
        return Err(errors);
    };
    for e in validate(&settings, ctx) {
        if !errors.iter().any(|r| r.field == e.field) {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        Ok(settings)
    } else {
        let order: Vec<String> = leaf_paths(&template);
        errors.sort_by_key(|e| {
            order
                .iter()
                .position(|p| *p == e.field)
                .unwrap_or(usize::MAX)
        });
        Err(errors)
    }
}

/// Reports unknown and missing keys against the template and makes `value` match its shape.
fn conform_keys(value: &mut Value, template: &Value, prefix: &str, errors: &mut Vec<FieldError>) {
    let Value::Object(expected) = template else {
        return;
    };
    let Value::Object(actual) = value else {
        let what = if prefix.is_empty() {
            "the document"
        } else {
            prefix
        };
        errors.push(FieldError::new(
            prefix,
            format!("{what} must be a JSON object"),
        ));
        *value = template.clone();
        return;
    };
    let unknown: Vec<String> = actual
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .cloned()
        .collect();
    for key in unknown {
        let path = join(prefix, &key);
        let message = if path == "distributed" {
            HA_HAS_NO_DISTRIBUTED.to_owned()
        } else {
            format!("unknown field \"{key}\"")
        };
        errors.push(FieldError::new(path, message));
        actual.remove(&key);
    }
    for (key, sub_template) in expected {
        let path = join(prefix, key);
        match actual.get_mut(key) {
            Some(sub) => conform_keys(sub, sub_template, &path, errors),
            None => {
                errors.push(FieldError::new(path, "is missing"));
                actual.insert(key.clone(), sub_template.clone());
            }
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

fn count_leaves(v: &Value) -> usize {
    match v {
        Value::Object(m) => m.values().map(count_leaves).sum(),
        _ => 1,
    }
}

/// Dotted paths of every leaf, in document order.
pub fn leaf_paths(v: &Value) -> Vec<String> {
    fn walk(v: &Value, prefix: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => m
                .iter()
                .for_each(|(k, sub)| walk(sub, &join(prefix, k), out)),
            _ => out.push(prefix.to_owned()),
        }
    }
    let mut out = Vec::new();
    walk(v, "", &mut out);
    out
}

pub fn leaf<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, key| v.get(key))
}

/// Sets the value at a dotted path whose parents exist; false if they do not.
pub fn set_leaf(v: &mut Value, path: &str, new: Value) -> bool {
    let mut cur = v;
    for key in path.split('.') {
        match cur.get_mut(key) {
            Some(next) => cur = next,
            None => return false,
        }
    }
    *cur = new;
    true
}

/// One changed value between two documents of the same shape.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub field: String,
    pub old: Value,
    pub new: Value,
}

/// Leaf-by-leaf differences (a leaf present on one side only counts as changed from/to null).
pub fn changes(old: &Value, new: &Value) -> Vec<Change> {
    let mut paths = leaf_paths(old);
    for p in leaf_paths(new) {
        if !paths.contains(&p) {
            paths.push(p);
        }
    }
    paths
        .into_iter()
        .filter_map(|field| {
            let o = leaf(old, &field).cloned().unwrap_or(Value::Null);
            let n = leaf(new, &field).cloned().unwrap_or(Value::Null);
            (o != n).then_some(Change {
                field,
                old: o,
                new: n,
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Backups

pub const BACKUP_FORMAT_VERSION: u32 = 2;

/// The export/import document.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Backup {
    pub format_version: u32,
    pub settings: Value,
}

/// The result of reading a backup: the settings to store and what the format upgrade altered.
#[derive(Debug, PartialEq)]
pub struct Restore {
    pub settings: NetworkSettings,
    pub upgraded: Vec<Change>,
}

/// Format 1 allowed any online check timeout and defaulted to 100; format 2 has a range and a new
/// default. The rule maps a stored old value onto the new range.
pub fn upgrade_online_check_timeout(old: i64) -> i64 {
    match old {
        ..100 => 100,
        100 => 1_000,
        101..=10_000 => old,
        _ => 10_000,
    }
}

/// Reads a backup of format 1 (upgraded) or 2 (strict).
pub fn parse_backup(input: &Value, ctx: ValidationContext) -> Result<Restore, Vec<FieldError>> {
    let Value::Object(top) = input else {
        return Err(vec![FieldError::new("", "a backup must be a JSON object")]);
    };
    let mut errors: Vec<FieldError> = top
        .keys()
        .filter(|k| *k != "format_version" && *k != "settings")
        .map(|k| FieldError::new(k.clone(), format!("unknown field \"{k}\"")))
        .collect();
    let version = top.get("format_version").and_then(Value::as_u64);
    let Some(mut settings) = top.get("settings").cloned() else {
        errors.push(FieldError::new("settings", "is missing"));
        return Err(errors);
    };
    let mut upgraded = Vec::new();
    match version {
        Some(2) => {}
        Some(1) => {
            let field = "online_check.response_timeout_ms";
            if let Some(old) = leaf(&settings, field).and_then(Value::as_i64) {
                let new = upgrade_online_check_timeout(old);
                if new != old {
                    set_leaf(&mut settings, field, new.into());
                    upgraded.push(Change {
                        field: field.into(),
                        old: old.into(),
                        new: new.into(),
                    });
                }
            }
        }
        _ => {
            errors.push(FieldError::new(
                "format_version",
                "must be 1 or 2 (the backup formats this server reads)",
            ));
            return Err(errors);
        }
    }
    let prefixed = |e: FieldError| FieldError::new(join("settings", &e.field), e.message);
    match parse_document(&settings, ctx) {
        Ok(settings) if errors.is_empty() => Ok(Restore { settings, upgraded }),
        Ok(_) => Err(errors),
        Err(e) => {
            errors.extend(e.into_iter().map(prefixed));
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const STANDALONE_SQLITE: ValidationContext = ValidationContext {
        installation: Installation::Standalone,
        database: DatabaseKind::Sqlite,
    };
    const STANDALONE_PG: ValidationContext = ValidationContext {
        installation: Installation::Standalone,
        database: DatabaseKind::Postgres,
    };
    const HA_PG: ValidationContext = ValidationContext {
        installation: Installation::Ha,
        database: DatabaseKind::Postgres,
    };

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

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
        assert!(validate(&defaults, STANDALONE_SQLITE).is_empty());
        let ha = NetworkSettings::defaults(Installation::Ha).to_value();
        assert!(ha.get("distributed").is_none());
    }

    #[test]
    fn online_check_timeout_boundaries() {
        assert!(check_online_check_timeout(99).is_err());
        assert!(check_online_check_timeout(100).is_ok());
        assert!(check_online_check_timeout(10_000).is_ok());
        assert!(check_online_check_timeout(10_001).is_err());
        assert_eq!(
            check_online_check_timeout(99).unwrap_err(),
            "must be between 100 and 10000 ms"
        );
    }

    #[test]
    fn other_number_boundaries() {
        assert!(check_job_expiration(0).is_err());
        assert!(check_job_expiration(1).is_ok());
        assert!(check_job_expiration(43_200).is_ok());
        assert!(check_job_expiration(43_201).is_err());
        assert!(check_scan_timeout(99).is_err());
        assert!(check_scan_timeout(60_000).is_ok());
        assert!(check_scan_timeout(60_001).is_err());
    }

    #[test]
    fn port_boundaries() {
        assert!(check_port(0).is_err());
        assert!(check_port(1).is_ok());
        assert!(check_port(65_535).is_ok());
        assert!(check_port(65_536).is_err());
        assert!(check_reply_port(None).is_ok());
        assert!(check_reply_port(Some(0)).is_err());
        assert!(check_reply_port(Some(65_536)).is_err());
    }

    #[test]
    fn host_length_and_labels() {
        let label63 = "a".repeat(63);
        let label64 = "a".repeat(64);
        assert!(check_host(&format!("{label63}.example.com"), true).is_ok());
        assert!(check_host(&format!("{label64}.example.com"), true).is_err());
        // 255 and 256 characters made of valid labels
        let long = |n: usize| {
            let mut s = String::new();
            while s.len() + 64 <= n {
                s.push_str(&"b".repeat(63));
                s.push('.');
            }
            s.push_str(&"c".repeat(n - s.len()));
            s
        };
        assert_eq!(long(255).len(), 255);
        assert!(check_host(&long(255), true).is_ok());
        assert_eq!(long(256).len(), 256);
        assert!(
            check_host(&long(256), true)
                .unwrap_err()
                .contains("at most 255")
        );
    }

    #[test]
    fn host_kinds() {
        for ok in [
            "lb.example.com",
            "lb.example.com.",
            "localhost",
            "my-proxy01",
            "192.0.2.10",
            "2001:db8::1",
            "::1",
        ] {
            assert!(check_host(ok, true).is_ok(), "{ok}");
        }
        for bad in [
            "-lb.example.com",
            "lb-.example.com",
            "lb..example.com",
            ".example.com",
            "lb_1.example.com",
            "lb example.com",
            "https://lb.example.com",
            "lb.example.com:8443",
            "256.1.1.1",
            "1.2.3",
            "2001:db8::zz",
            "[2001:db8::1]",
            "ümlaut.example.com",
            "!!!",
        ] {
            assert!(check_host(bad, true).is_err(), "{bad}");
        }
        assert!(check_host("", true).is_err());
        assert!(check_host("", false).is_ok());
    }

    #[test]
    fn broadcast_ip() {
        assert!(check_broadcast_ip("255.255.255.255").is_ok());
        assert!(check_broadcast_ip("192.168.1.255").is_ok());
        assert!(check_broadcast_ip("127.255.255.255").is_ok());
        for bad in ["0.0.0.0", "256.0.0.1", "::1", "host", "", "10.0.0"] {
            assert!(check_broadcast_ip(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn path_prefix() {
        for ok in [
            "",
            "/",
            "/device-connector/device/.well-known/est",
            "/a-b_c~d/e",
        ] {
            assert!(check_path_prefix(ok).is_ok(), "{ok}");
        }
        for bad in [
            "relative/path",
            "/a?b=1",
            "/a#frag",
            "/a/../b",
            "/a b",
            "/a\tb",
            "/a//b",
            "/a<b>",
        ] {
            assert!(check_path_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn disabled_sections_keep_their_values_but_enabled_ones_need_a_host() {
        let mut s = NetworkSettings::defaults(Installation::Standalone);
        s.cluster_address.enabled = true;
        assert_eq!(
            fields(&validate(&s, STANDALONE_SQLITE)),
            ["cluster_address.host"]
        );
        s.cluster_address.host = "lb.example.com".into();
        s.cluster_address.enabled = false;
        assert!(validate(&s, STANDALONE_SQLITE).is_empty());
        // a kept but invalid value still counts: it would come back when enabled
        s.cluster_address.host = "bad host".into();
        assert_eq!(
            fields(&validate(&s, STANDALONE_SQLITE)),
            ["cluster_address.host"]
        );
    }

    #[test]
    fn distributed_needs_postgres_and_does_not_exist_on_ha() {
        let mut s = NetworkSettings::defaults(Installation::Standalone);
        s.distributed = Some(Distributed { enabled: true });
        let errors = validate(&s, STANDALONE_SQLITE);
        assert_eq!(fields(&errors), ["distributed.enabled"]);
        assert!(errors[0].message.contains("PostgreSQL"));
        assert!(validate(&s, STANDALONE_PG).is_empty());
        assert_eq!(fields(&validate(&s, HA_PG)), ["distributed"]);
        let ha = NetworkSettings::defaults(Installation::Ha);
        assert!(validate(&ha, HA_PG).is_empty());
    }

    #[test]
    fn parse_reports_every_problem_by_field() {
        let mut doc = NetworkSettings::defaults(Installation::Standalone).to_value();
        doc["online_check"]["response_timeout_ms"] = json!(99);
        doc["online_check"]["reply_port"] = json!("x");
        doc["scan"]["timeout_ms"] = json!(-4);
        doc["scan"]["broadcast_ip"] = json!("nope");
        doc["cluster_address"]["colour"] = json!("red");
        doc["surprise"] = json!(1);
        doc["enrollment_address"]
            .as_object_mut()
            .unwrap()
            .remove("port");
        let errors = parse_document(&doc, STANDALONE_SQLITE).unwrap_err();
        let mut got = fields(&errors);
        got.sort();
        assert_eq!(
            got,
            [
                "cluster_address.colour",
                "enrollment_address.port",
                "online_check.reply_port",
                "online_check.response_timeout_ms",
                "scan.broadcast_ip",
                "scan.timeout_ms",
                "surprise",
            ]
        );
        let unknown = errors.iter().find(|e| e.field == "surprise").unwrap();
        assert!(unknown.message.contains("surprise"));
        let reply = errors
            .iter()
            .find(|e| e.field == "online_check.reply_port")
            .unwrap();
        assert!(reply.message.contains("any free port"));
    }

    #[test]
    fn parse_refuses_non_objects_and_distributed_on_ha() {
        assert!(parse_document(&json!([1, 2]), STANDALONE_SQLITE).is_err());
        let mut doc = NetworkSettings::defaults(Installation::Standalone).to_value();
        doc["scan"] = json!(5);
        assert_eq!(
            fields(&parse_document(&doc, STANDALONE_SQLITE).unwrap_err()),
            ["scan"]
        );
        let doc = NetworkSettings::defaults(Installation::Standalone).to_value();
        let errors = parse_document(&doc, HA_PG).unwrap_err();
        assert_eq!(fields(&errors), ["distributed"]);
        assert!(errors[0].message.contains("High Availability"));
        let ok = NetworkSettings::defaults(Installation::Ha).to_value();
        assert_eq!(
            parse_document(&ok, HA_PG).unwrap(),
            NetworkSettings::defaults(Installation::Ha)
        );
    }

    #[test]
    fn format_one_upgrade_rule() {
        assert_eq!(upgrade_online_check_timeout(-5), 100);
        assert_eq!(upgrade_online_check_timeout(0), 100);
        assert_eq!(upgrade_online_check_timeout(99), 100);
        assert_eq!(upgrade_online_check_timeout(100), 1000);
        assert_eq!(upgrade_online_check_timeout(101), 101);
        assert_eq!(upgrade_online_check_timeout(10_000), 10_000);
        assert_eq!(upgrade_online_check_timeout(10_001), 10_000);
        assert_eq!(upgrade_online_check_timeout(250_000), 10_000);
    }

    #[test]
    fn backups_of_both_formats() {
        let mut settings = NetworkSettings::defaults(Installation::Standalone).to_value();
        settings["online_check"]["response_timeout_ms"] = json!(100);
        let v1 = json!({"format_version": 1, "settings": settings});
        let restore = parse_backup(&v1, STANDALONE_SQLITE).unwrap();
        assert_eq!(restore.settings.online_check.response_timeout_ms, 1000);
        assert_eq!(
            restore.upgraded,
            [Change {
                field: "online_check.response_timeout_ms".into(),
                old: json!(100),
                new: json!(1000)
            }]
        );
        // the current format keeps 100 and refuses what format 1 would have raised
        let v2 = json!({"format_version": 2, "settings": v1["settings"]});
        let kept = parse_backup(&v2, STANDALONE_SQLITE).unwrap();
        assert_eq!(kept.settings.online_check.response_timeout_ms, 100);
        assert!(kept.upgraded.is_empty());
        let mut v2 = v2;
        v2["settings"]["online_check"]["response_timeout_ms"] = json!(99);
        let errors = parse_backup(&v2, STANDALONE_SQLITE).unwrap_err();
        assert_eq!(
            fields(&errors),
            ["settings.online_check.response_timeout_ms"]
        );
        let v3 = json!({"format_version": 3, "settings": v1["settings"]});
        assert_eq!(
            fields(&parse_backup(&v3, STANDALONE_SQLITE).unwrap_err()),
            ["format_version"]
        );
        // values the rule keeps are not reported
        let mut kept = v1.clone();
        kept["settings"]["online_check"]["response_timeout_ms"] = json!(2500);
        assert!(
            parse_backup(&kept, STANDALONE_SQLITE)
                .unwrap()
                .upgraded
                .is_empty()
        );
    }

    #[test]
    fn changes_and_leaves() {
        let a = NetworkSettings::defaults(Installation::Standalone).to_value();
        let mut b = a.clone();
        assert!(set_leaf(&mut b, "scan.timeout_ms", json!(7000)));
        assert!(!set_leaf(&mut b, "scan.nothing.here", json!(1)));
        let c = changes(&a, &b);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].field, "scan.timeout_ms");
        assert_eq!(
            (c[0].old.clone(), c[0].new.clone()),
            (json!(6000), json!(7000))
        );
        assert_eq!(leaf_paths(&a).len(), 16);
    }
}
