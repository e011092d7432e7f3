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
fn is_dotted_numbers(text: &str) -> bool {
    text.chars().any(|c| c.is_ascii_digit()) && text.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// Why digits and dots that do not parse are not an IPv4 address.
fn ipv4_problem(text: &str) -> String {
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
    check(Field::ScanReplyPort, check_reply_port(s.scan.reply_port));
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
mod tests {
    use super::*;
    use crate::model::Distributed;
    use crate::model::testing::{HA_PG, STANDALONE_PG, STANDALONE_SQLITE, paths};

    #[test]
    fn defaults_are_valid() {
        let defaults = NetworkSettings::defaults(Installation::Standalone);
        assert!(validate(&defaults, STANDALONE_SQLITE).is_empty());
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
        assert_eq!(
            check_port(65_536).unwrap_err(),
            "must be a port from 1 to 65535"
        );
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
            "::ffff:192.0.2.1",
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

    /// Each message names the mistake, not a guess at what was meant.
    #[test]
    fn host_messages_name_the_mistake() {
        let message = |host: &str| check_host(host, true).unwrap_err();
        assert_eq!(
            message("lb.example.com:443"),
            "must not include a port (\":443\"): the port has its own field"
        );
        assert_eq!(
            message("https://lb.example.com"),
            "must be only the host name, without \"https://\" (not a URL)"
        );
        assert!(message("ftp://lb.example.com/x").contains("\"ftp://\""));
        assert_eq!(
            message("[2001:db8::1]"),
            "must be written without brackets: enter the IPv6 address as 2001:db8::1"
        );
        assert!(message("[2001:db8::1]:443").contains("without brackets"));
        assert_eq!(
            message("lb.example.com/path"),
            "must be only the host name, without a path (\"/path\")"
        );
        assert_eq!(message("2001:db8:::1"), "is not a valid IPv6 address");
        assert_eq!(message("1:2:3:4:5:6:7:8:9"), "is not a valid IPv6 address");
        assert!(message("2001:db8::zz").contains("contains 'z'"));
        assert_eq!(
            message("lb:admin"),
            "must not contain \":\": a host name has none"
        );
        assert_eq!(
            message("is required"),
            "must not contain spaces or other whitespace"
        );
        assert_eq!(
            message("256.1.1.1"),
            "is not a valid IPv4 address: 256 is above 255"
        );
        assert_eq!(
            message("1.2.3"),
            "is not a valid IPv4 address: it needs four numbers separated by dots, not 3"
        );
        assert!(message("10.0.0.01").contains("leading zero"));
        assert!(message("1..2.3").contains("a number is missing"));
        assert_eq!(message(".example.com"), "must not start with a dot");
        assert_eq!(message("."), "must not start with a dot");
        assert_eq!(message(".."), "must not start with a dot");
        assert_eq!(
            message("lb..example.com"),
            "must not contain two dots in a row (\"..\")"
        );
        assert_eq!(
            message("lb_1.example.com"),
            "may contain only letters, digits, hyphens and dots (found '_')"
        );
        assert!(message("ümlaut.example.com").contains("xn--"));
        assert!(message("-lb.example.com").contains("hyphen"));
        assert!(message("host.123").contains("not a top-level domain"));
        for not_ipv6 in [
            "lb.example.com:443",
            "https://lb.example.com",
            "[2001:db8::1]",
            "lb.example.com/path",
            "lb:admin",
        ] {
            assert_ne!(message(not_ipv6), "is not a valid IPv6 address");
        }
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
    fn broadcast_ip_messages_name_the_mistake() {
        let message = |ip: &str| check_broadcast_ip(ip).unwrap_err();
        assert_eq!(
            message(""),
            "is required: an IPv4 address such as 255.255.255.255"
        );
        assert_eq!(message("0.0.0.0"), "0.0.0.0 cannot be a broadcast address");
        assert_eq!(
            message("300.1.1.1"),
            "is not a valid IPv4 address: 300 is above 255"
        );
        assert!(message("10.0.0").contains("four numbers"));
        assert!(message("ff02::1").contains("IPv6 has no broadcast"));
        assert!(message("broadcast.example.com").contains("not a host name"));
        assert!(message("10.0.0.255/24").contains("(found '/')"));
        assert_eq!(
            message(" 10.0.0.255"),
            "must not contain spaces or other whitespace"
        );
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
    fn path_prefix_messages_name_the_mistake() {
        let message = |prefix: &str| check_path_prefix(prefix).unwrap_err();
        assert_eq!(message("enroll"), "must be empty or start with \"/\"");
        assert!(message("https://lb.example.com/enroll").contains("without \"https://\""));
        assert_eq!(
            message("/a?b=1"),
            "must be a path only, without a \"?\" query"
        );
        assert_eq!(
            message("/a#frag"),
            "must be a path only, without a \"#\" fragment"
        );
        assert_eq!(message("/a/../b"), "must not contain \"..\" segments");
        assert_eq!(message("/a/./b"), "must not contain \".\" segments");
        assert_eq!(
            message("/a<b"),
            "contains a character not allowed in a URL path: '<' (write it as %3C)"
        );
        assert!(message("/é").contains("%C3%A9"));
        assert!(
            message(&format!("/{}", "a".repeat(1024)))
                .contains("at most 1024 characters (has 1025)")
        );
    }

    #[test]
    fn disabled_sections_keep_their_values_but_enabled_ones_need_a_host() {
        let mut s = NetworkSettings::defaults(Installation::Standalone);
        s.cluster_address.enabled = true;
        assert_eq!(
            paths(&validate(&s, STANDALONE_SQLITE)),
            ["cluster_address.host"]
        );
        s.cluster_address.host = "lb.example.com".into();
        s.cluster_address.enabled = false;
        assert!(validate(&s, STANDALONE_SQLITE).is_empty());
        // a kept but invalid value still counts: it would come back when enabled
        s.cluster_address.host = "bad host".into();
        assert_eq!(
            paths(&validate(&s, STANDALONE_SQLITE)),
            ["cluster_address.host"]
        );
    }

    #[test]
    fn distributed_needs_postgres_and_does_not_exist_on_ha() {
        let mut s = NetworkSettings::defaults(Installation::Standalone);
        s.distributed = Some(Distributed { enabled: true });
        let errors = validate(&s, STANDALONE_SQLITE);
        assert_eq!(paths(&errors), ["distributed.enabled"]);
        assert!(errors[0].message.contains("PostgreSQL"));
        assert!(validate(&s, STANDALONE_PG).is_empty());
        assert_eq!(paths(&validate(&s, HA_PG)), ["distributed"]);
        let ha = NetworkSettings::defaults(Installation::Ha);
        assert!(validate(&ha, HA_PG).is_empty());
    }

    #[test]
    fn errors_sort_in_page_order() {
        let mut errors: Vec<FieldError> = [
            "surprise",
            "distributed",
            "cluster_address.host",
            "scan",
            "online_check.reply_port",
            "",
            "enrollment_address.port",
        ]
        .into_iter()
        .map(|path| FieldError::new(path, "x"))
        .collect();
        sort_in_page_order(&mut errors);
        assert_eq!(
            paths(&errors),
            [
                "online_check.reply_port",
                "scan",
                "cluster_address.host",
                "enrollment_address.port",
                "distributed",
                "surprise",
                "",
            ]
        );
        assert!(errors[2].is_for(Field::ClusterAddressHost));
        assert_eq!(
            FieldError::for_field(Field::ScanReplyPort, "m"),
            FieldError::new("scan.reply_port", "m")
        );
    }
}
