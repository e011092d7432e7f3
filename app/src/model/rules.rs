//! The rules of the settings document: one function each, shared by the form (as the
//! administrator types) and the server (the authority, before anything is stored).
//!
//! Every message names what is wrong with the value as typed, so that it can be corrected without
//! guessing.

use super::fields::Field;
use super::types::{
    DatabaseKind, HOST_MAX_LEN, Installation, JOB_EXPIRATION, LABEL_MAX_LEN, NetworkSettings,
    NumberRule, ONLINE_CHECK_TIMEOUT, PATH_PREFIX_MAX_LEN, PORT, SCAN_TIMEOUT, ValidationContext,
};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One refused value, named by its dotted path: usually a [`Field`], but also a whole section
/// (`distributed`), a key the document does not have (`surprise`), a path inside a backup
/// (`settings.scan.timeout_ms`) or `""` for the document as a whole.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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

    pub fn for_field(field: Field, message: impl Into<String>) -> Self {
        FieldError::new(field.path(), message)
    }

    pub fn is_for(&self, field: Field) -> bool {
        self.field == field.path()
    }
}

/// Puts errors in the order the page shows their fields; an error about a whole section goes
/// where its first field is, errors about anything else go last.
pub fn sort_in_page_order(errors: &mut [FieldError]) {
    errors.sort_by_key(|e| {
        let field = Field::nearest(&e.field);
        (field.is_none(), field)
    });
}

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

/// Scans and the online check each need their own fixed reply port: replies of one must not
/// reach the other's socket (and two sockets cannot bind one port).
pub fn check_reply_ports_differ(scan: Option<u32>, online: Option<u32>) -> Result<(), String> {
    match (scan, online) {
        (Some(scan), Some(online)) if scan == online => Err(format!(
            "the online check replies to port {scan} already: scans need a port of their own"
        )),
        _ => Ok(()),
    }
}

const WHITESPACE: &str = "must not contain spaces or other whitespace";

pub fn check_broadcast_ip(ip: &str) -> Result<(), String> {
    const EXAMPLE: &str = "an IPv4 address such as 255.255.255.255";
    if ip.is_empty() {
        return Err(format!("is required: {EXAMPLE}"));
    }
    if ip.chars().any(char::is_whitespace) {
        return Err(WHITESPACE.into());
    }
    match ip.parse::<Ipv4Addr>() {
        Ok(addr) if addr.is_unspecified() => Err("0.0.0.0 cannot be a broadcast address".into()),
        Ok(_) => Ok(()),
        Err(_) if ip.parse::<Ipv6Addr>().is_ok() => {
            Err(format!("must be {EXAMPLE}: IPv6 has no broadcast"))
        }
        Err(_) if is_dotted_numbers(ip) => Err(ipv4_problem(ip)),
        Err(_) => match ip
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
        {
            None => Err(format!("must be {EXAMPLE}, not a host name")),
            Some(c) => Err(format!("must be {EXAMPLE} (found {c:?})")),
        },
    }
}

/// Only digits and dots: meant as an IPv4 address.
pub(super) fn is_dotted_numbers(text: &str) -> bool {
    text.chars().any(|c| c.is_ascii_digit()) && text.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// Why digits and dots that do not parse are not an IPv4 address.
pub(super) fn ipv4_problem(text: &str) -> String {
    let parts: Vec<&str> = text.split('.').collect();
    let reason = if parts.iter().any(|p| p.is_empty()) {
        "a number is missing (two dots in a row, or a dot at the start or end)".to_owned()
    } else if parts.len() != 4 {
        format!(
            "it needs four numbers separated by dots, not {}",
            parts.len()
        )
    } else if let Some(big) = parts.iter().find(|p| p.parse::<u8>().is_err()) {
        format!("{big} is above 255")
    } else if let Some(padded) = parts.iter().find(|p| p.len() > 1 && p.starts_with('0')) {
        format!("\"{padded}\" must be written without a leading zero")
    } else {
        return "is not a valid IPv4 address".into();
    };
    format!("is not a valid IPv4 address: {reason}")
}

/// An FQDN (or single-label host name) or an IPv4/IPv6 address; required when its section is
/// enabled. Only the host: scheme, port, brackets and path each get a message of their own.
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
    if host.chars().any(char::is_whitespace) {
        return Err(WHITESPACE.into());
    }
    if let Some((scheme, _)) = host.split_once("://") {
        return Err(format!(
            "must be only the host name, without \"{scheme}://\" (not a URL)"
        ));
    }
    if let Some(inside) = host.strip_prefix('[') {
        let address = inside.split(']').next().unwrap_or(inside);
        return Err(format!(
            "must be written without brackets: enter the IPv6 address as {address}"
        ));
    }
    if let Some(slash) = host.find('/') {
        return Err(format!(
            "must be only the host name, without a path (\"{}\")",
            &host[slash..]
        ));
    }
    if host.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    match host.matches(':').count() {
        0 => check_host_name(host),
        1 => {
            let (_, after) = host.split_once(':').unwrap_or_default();
            if !after.is_empty() && after.chars().all(|c| c.is_ascii_digit()) {
                Err(format!(
                    "must not include a port (\":{after}\"): the port has its own field"
                ))
            } else {
                Err("must not contain \":\": a host name has none".into())
            }
        }
        _ => match host
            .chars()
            .find(|c| !(c.is_ascii_hexdigit() || *c == ':' || *c == '.'))
        {
            None => Err("is not a valid IPv6 address".into()),
            Some(c) => Err(format!(
                "looks like an IPv6 address but contains {c:?}: IPv6 addresses hold only the \
                 digits 0-9, the letters a-f and colons"
            )),
        },
    }
}

fn check_host_name(host: &str) -> Result<(), String> {
    if is_dotted_numbers(host) {
        return Err(ipv4_problem(host));
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.is_empty() || name.starts_with('.') {
        return Err("must not start with a dot".into());
    }
    if name.contains("..") {
        return Err("must not contain two dots in a row (\"..\")".into());
    }
    let labels: Vec<&str> = name.split('.').collect();
    for label in &labels {
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
            return Err(if c.is_ascii() {
                format!("may contain only letters, digits, hyphens and dots (found {c:?})")
            } else {
                format!(
                    "may contain only ASCII letters, digits, hyphens and dots (found {c:?}); \
                     write an international domain name in its xn-- form"
                )
            });
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "has a label that starts or ends with a hyphen: \"{label}\""
            ));
        }
    }
    match labels.last() {
        Some(last) if labels.len() > 1 && last.chars().all(|c| c.is_ascii_digit()) => Err(format!(
            "ends in \"{last}\", which is not a top-level domain: the last part of a host \
             name has letters"
        )),
        _ => Ok(()),
    }
}

/// Empty, or an absolute URL path in front of the EST path.
pub fn check_path_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Ok(());
    }
    if let Some((scheme, _)) = prefix.split_once("://") {
        return Err(format!(
            "must be a path only, without \"{scheme}://\" and a host"
        ));
    }
    if !prefix.starts_with('/') {
        return Err("must be empty or start with \"/\"".into());
    }
    if prefix.len() > PATH_PREFIX_MAX_LEN {
        return Err(format!(
            "must be at most {PATH_PREFIX_MAX_LEN} characters (has {})",
            prefix.len()
        ));
    }
    if prefix.chars().any(char::is_whitespace) {
        return Err(WHITESPACE.into());
    }
    if prefix.contains('?') {
        return Err("must be a path only, without a \"?\" query".into());
    }
    if prefix.contains('#') {
        return Err("must be a path only, without a \"#\" fragment".into());
    }
    if let Some(dots) = prefix
        .split('/')
        .find(|segment| *segment == ".." || *segment == ".")
    {
        return Err(format!("must not contain \"{dots}\" segments"));
    }
    if prefix.contains("//") {
        return Err("must not contain empty segments (\"//\")".into());
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/-._~!$&'()*+,;=:@%".contains(c);
    if let Some(c) = prefix.chars().find(|c| !allowed(*c)) {
        let encoded: String = c
            .encode_utf8(&mut [0; 4])
            .bytes()
            .map(|b| format!("%{b:02X}"))
            .collect();
        return Err(format!(
            "contains a character not allowed in a URL path: {c:?} (write it as {encoded})"
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

pub(super) const HA_HAS_NO_DISTRIBUTED: &str =
    "does not exist on a High Availability installation: its servers always share one database";

/// Every rule applied to a typed document, in page order; empty means valid.
pub fn validate(s: &NetworkSettings, ctx: ValidationContext) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut check = |field: Field, result: Result<(), String>| {
        if let Err(message) = result {
            errors.push(FieldError::for_field(field, message));
        }
    };
    check(
        Field::OnlineCheckResponseTimeoutMs,
        check_online_check_timeout(s.online_check.response_timeout_ms),
    );
    check(
        Field::OnlineCheckReplyPort,
        check_reply_port(s.online_check.reply_port),
    );
    check(
        Field::ScheduledJobsExpirationMinutes,
        check_job_expiration(s.scheduled_jobs.expiration_minutes),
    );
    check(Field::ScanTimeoutMs, check_scan_timeout(s.scan.timeout_ms));
    check(
        Field::ScanBroadcastIp,
        check_broadcast_ip(&s.scan.broadcast_ip),
    );
    check(
        Field::ScanReplyPort,
        check_reply_port(s.scan.reply_port)
            .and_then(|()| check_reply_ports_differ(s.scan.reply_port, s.online_check.reply_port)),
    );
    check(
        Field::ClusterAddressHost,
        check_host(&s.cluster_address.host, s.cluster_address.enabled),
    );
    check(
        Field::ClusterAddressPort,
        check_port(s.cluster_address.port),
    );
    check(
        Field::EnrollmentAddressHost,
        check_host(&s.enrollment_address.host, s.enrollment_address.enabled),
    );
    check(
        Field::EnrollmentAddressPort,
        check_port(s.enrollment_address.port),
    );
    check(
        Field::EnrollmentAddressPathPrefix,
        check_path_prefix(&s.enrollment_address.path_prefix),
    );
    let section = Field::DistributedEnabled.section();
    let distributed = match (&s.distributed, ctx.installation) {
        (Some(_), Installation::Ha) => Some(FieldError::new(section, HA_HAS_NO_DISTRIBUTED)),
        (None, Installation::Standalone) => Some(FieldError::new(section, "is missing")),
        (Some(d), Installation::Standalone) => check_distributed(d.enabled, ctx)
            .err()
            .map(|message| FieldError::for_field(Field::DistributedEnabled, message)),
        (None, Installation::Ha) => None,
    };
    errors.extend(distributed);
    errors
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
