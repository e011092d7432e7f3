//! Tests of the rules.

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
        message(&format!("/{}", "a".repeat(1024))).contains("at most 1024 characters (has 1025)")
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

#[test]
fn scans_and_the_online_check_reply_to_different_ports() {
    let ctx = STANDALONE_SQLITE;
    let mut s = NetworkSettings::defaults(Installation::Standalone);
    s.online_check.reply_port = Some(40_000);
    s.scan.reply_port = Some(40_000);
    let errors = validate(&s, ctx);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field, "scan.reply_port");
    s.scan.reply_port = Some(40_001);
    assert!(validate(&s, ctx).is_empty());
}
