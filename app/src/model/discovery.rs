//! Rules of the discovery area, shared by its pages and the server: scan ranges, new devices and
//! new jobs. The server checks again before anything is stored or sent.

use super::FieldError;
use super::rules::{ipv4_problem, is_dotted_numbers};
use crate::api::{JobCommand, NewDevice, NewJob, NewScan};
use ipnet::{Ipv4AddrRange, Ipv4Net};
use pharos_protocol::{MAX_HOSTNAME_LEN, Mac};
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The most addresses one scan may cover: a /16. Larger scans take minutes at a rate a real
/// network tolerates; split them.
pub const MAX_SCAN_ADDRESSES: u64 = 65_536;
pub const JOB_NAME_MAX_LEN: usize = 100;
/// A year.
pub const REPEAT_MAX_MINUTES: u32 = 525_600;

/// Consecutive IPv4 addresses, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddressRange {
    pub first: Ipv4Addr,
    pub last: Ipv4Addr,
}

impl AddressRange {
    /// How many addresses (never 0: a range holds at least its first address).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u64 {
        u64::from(u32::from(self.last)) - u64::from(u32::from(self.first)) + 1
    }

    pub fn addresses(&self) -> Ipv4AddrRange {
        Ipv4AddrRange::new(self.first, self.last)
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        self.first <= ip && ip <= self.last
    }
}

/// One range as an admin writes it: `192.168.1.10-192.168.1.99`, `10.0.0.0/24` (every address
/// of the block, the network and broadcast addresses of blocks up to /30 excepted) or one address.
fn parse_range(text: &str) -> Result<AddressRange, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("enter an address, a range (first-last) or a block (address/prefix)".into());
    }
    let ipv4 = |part: &str| -> Result<Ipv4Addr, String> {
        let part = part.trim();
        match part.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) => Ok(ip),
            Ok(IpAddr::V6(_)) => Err(format!("{part}: only IPv4 addresses can be scanned")),
            Err(_) if is_dotted_numbers(part) => Err(format!("{part} {}", ipv4_problem(part))),
            Err(_) => Err(format!("{part} is not an IPv4 address")),
        }
    };
    if let Some((first, last)) = text.split_once('-') {
        let (first, last) = (ipv4(first)?, ipv4(last)?);
        if first > last {
            return Err(format!(
                "{text} is reversed: the first address is after the last ({last}-{first} would be right)"
            ));
        }
        return Ok(AddressRange { first, last });
    }
    if text.contains('/') {
        let net: Ipv4Net = text.parse().map_err(|_| {
            if text.contains(':') {
                format!("{text}: only IPv4 blocks can be scanned")
            } else {
                format!("{text} is not an IPv4 block (address/prefix, prefix 0 to 32)")
            }
        })?;
        if net.network() != net.addr() {
            return Err(format!(
                "{text} has host bits set: the block is {}",
                net.trunc()
            ));
        }
        let (first, last) = if net.prefix_len() <= 30 {
            (
                Ipv4Addr::from(u32::from(net.network()) + 1),
                Ipv4Addr::from(u32::from(net.broadcast()) - 1),
            )
        } else {
            (net.network(), net.broadcast())
        };
        return Ok(AddressRange { first, last });
    }
    let ip = ipv4(text)?;
    Ok(AddressRange {
        first: ip,
        last: ip,
    })
}

/// All ranges of a scan, with one error per bad range (`ranges[i]`) and one for the total.
pub fn parse_ranges(texts: &[String]) -> Result<Vec<AddressRange>, Vec<FieldError>> {
    if texts.is_empty() {
        return Err(vec![FieldError::new(
            "ranges",
            "give at least one address, range or block",
        )]);
    }
    let mut errors = Vec::new();
    let mut ranges = Vec::with_capacity(texts.len());
    for (i, text) in texts.iter().enumerate() {
        match parse_range(text) {
            Ok(range) => ranges.push(range),
            Err(message) => errors.push(FieldError::new(format!("ranges[{i}]"), message)),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let total: u64 = ranges.iter().map(AddressRange::len).sum();
    if total > MAX_SCAN_ADDRESSES {
        return Err(vec![FieldError::new(
            "ranges",
            format!(
                "{total} addresses: one scan covers at most {MAX_SCAN_ADDRESSES} (a /16); split it into several scans"
            ),
        )]);
    }
    Ok(ranges)
}

/// What a scan request asks for: the configured broadcast address, or ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScanTarget {
    Broadcast,
    Ranges(Vec<AddressRange>),
}

pub fn validate_scan(scan: &NewScan) -> Result<ScanTarget, Vec<FieldError>> {
    match (scan.broadcast, scan.ranges.is_empty()) {
        (true, true) => Ok(ScanTarget::Broadcast),
        (true, false) => Err(vec![FieldError::new(
            "ranges",
            "a scan is either a broadcast or a list of ranges, not both",
        )]),
        (false, _) => parse_ranges(&scan.ranges).map(ScanTarget::Ranges),
    }
}

/// A MAC address in the one form Pharos stores and shows (`aa:bb:cc:dd:ee:ff`).
pub fn normalize_mac(text: &str) -> Result<String, String> {
    text.trim()
        .parse::<Mac>()
        .map(|mac| mac.to_string())
        .map_err(|_| {
            format!(
                "{} is not a MAC address (like 00:11:22:aa:bb:cc)",
                text.trim()
            )
        })
}

/// A device to register, as the server stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedDevice {
    pub ip: IpAddr,
    pub hostname: Option<String>,
    pub mac: Option<String>,
}

pub fn validate_device(device: &NewDevice) -> Result<CheckedDevice, Vec<FieldError>> {
    let mut errors = Vec::new();
    let ip = device.ip.trim().parse::<IpAddr>().map_err(|_| {
        errors.push(FieldError::new(
            "ip",
            if device.ip.trim().is_empty() {
                "enter the device's IP address".to_owned()
            } else {
                format!("{} is not an IP address", device.ip.trim())
            },
        ))
    });
    if let Ok(IpAddr::V6(_)) = ip {
        errors.push(FieldError::new(
            "ip",
            "only IPv4 devices can be registered: discovery speaks IPv4",
        ));
    } else if let Ok(ip) = ip
        && (ip.is_unspecified() || ip.is_multicast() || ip == IpAddr::V4(Ipv4Addr::BROADCAST))
    {
        errors.push(FieldError::new(
            "ip",
            format!("{ip} is not the address of one device"),
        ));
    }
    let hostname = device
        .hostname
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty());
    if let Some(h) = hostname
        && h.len() > MAX_HOSTNAME_LEN
    {
        errors.push(FieldError::new(
            "hostname",
            format!("at most {MAX_HOSTNAME_LEN} characters"),
        ));
    }
    let mac = match device
        .mac
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        Some(mac) => normalize_mac(mac)
            .map(Some)
            .map_err(|m| errors.push(FieldError::new("mac", m)))
            .unwrap_or(None),
        None => None,
    };
    match ip {
        Ok(ip) if errors.is_empty() => Ok(CheckedDevice {
            ip,
            hostname: hostname.map(str::to_owned),
            mac,
        }),
        _ => Err(errors),
    }
}

/// A job's targets, checked for its command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobTargets {
    /// Registered devices; empty means every device (only for an online check).
    Devices(Vec<i64>),
    Ranges(Vec<String>),
}

/// A job as the server stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedJob {
    pub name: String,
    pub command: JobCommand,
    pub targets: JobTargets,
    /// Unix milliseconds.
    pub due_at: i64,
    pub repeat_minutes: Option<u32>,
}

/// RFC 3339 (`2026-11-29T08:00:00Z`, or with an offset) as Unix milliseconds.
fn parse_time(text: &str) -> Result<i64, String> {
    let time = OffsetDateTime::parse(text.trim(), &Rfc3339).map_err(|_| {
        format!(
            "{} is not a date and time like 2026-11-29T08:00:00Z",
            text.trim()
        )
    })?;
    i64::try_from(time.unix_timestamp_nanos() / 1_000_000).map_err(|_| "out of range".into())
}

pub fn validate_job(job: &NewJob) -> Result<CheckedJob, Vec<FieldError>> {
    let mut errors = Vec::new();
    let name = job.name.trim();
    if name.is_empty() {
        errors.push(FieldError::new("name", "give the job a name"));
    } else if name.chars().count() > JOB_NAME_MAX_LEN {
        errors.push(FieldError::new(
            "name",
            format!("at most {JOB_NAME_MAX_LEN} characters"),
        ));
    }
    let targets = if job.command.targets_ranges() {
        let texts: Result<Vec<String>, usize> = job
            .targets
            .iter()
            .enumerate()
            .map(|(i, v)| v.as_str().map(str::to_owned).ok_or(i))
            .collect();
        match texts {
            Err(i) => {
                errors.push(FieldError::new(
                    format!("targets[{i}]"),
                    "a scan targets address ranges, written as text",
                ));
                None
            }
            Ok(texts) => match parse_ranges(&texts) {
                Ok(_) => Some(JobTargets::Ranges(
                    texts.iter().map(|t| t.trim().to_owned()).collect(),
                )),
                Err(range_errors) => {
                    errors.extend(range_errors.into_iter().map(|e| {
                        FieldError::new(e.field.replacen("ranges", "targets", 1), e.message)
                    }));
                    None
                }
            },
        }
    } else {
        let mut ids = Vec::with_capacity(job.targets.len());
        let mut bad = false;
        for (i, value) in job.targets.iter().enumerate() {
            match value.as_i64().filter(|id| *id > 0) {
                Some(id) if !ids.contains(&id) => ids.push(id),
                Some(_) => {}
                None => {
                    bad = true;
                    errors.push(FieldError::new(
                        format!("targets[{i}]"),
                        format!("{} is not a device id", compact(value)),
                    ))
                }
            }
        }
        if ids.is_empty() && job.command != JobCommand::OnlineCheck && !bad {
            errors.push(FieldError::new(
                "targets",
                format!(
                    "choose the devices to {}",
                    job.command.label().to_lowercase()
                ),
            ));
        }
        Some(JobTargets::Devices(ids))
    };
    let due_at = parse_time(&job.due_at)
        .map_err(|m| errors.push(FieldError::new("due_at", m)))
        .ok();
    if let Some(minutes) = job.repeat_minutes
        && !(1..=REPEAT_MAX_MINUTES).contains(&minutes)
    {
        errors.push(FieldError::new(
            "repeat_minutes",
            format!("repeat every 1 to {REPEAT_MAX_MINUTES} minutes, or not at all"),
        ));
    }
    match (targets, due_at) {
        (Some(targets), Some(due_at)) if errors.is_empty() => Ok(CheckedJob {
            name: name.to_owned(),
            command: job.command,
            targets,
            due_at,
            repeat_minutes: job.repeat_minutes,
        }),
        _ => Err(errors),
    }
}

fn compact(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 40 {
        format!("{}…", &text[..text.floor_char_boundary(40)])
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ranges_blocks_and_single_addresses() {
        let r = parse_range("192.168.1.10-192.168.1.99").unwrap();
        assert_eq!(r.len(), 90);
        let r = parse_range(" 10.0.0.0/24 ").unwrap();
        assert_eq!(
            (r.first, r.last, r.len()),
            (
                "10.0.0.1".parse().unwrap(),
                "10.0.0.254".parse().unwrap(),
                254
            )
        );
        assert_eq!(parse_range("10.0.1.7").unwrap().len(), 1);
        assert_eq!(parse_range("10.0.1.7/32").unwrap().len(), 1);
        assert_eq!(parse_range("10.0.1.6/31").unwrap().len(), 2);
        assert_eq!(parse_range("127.1.0.0/16").unwrap().len(), 65_534);
        assert_eq!(r.addresses().count(), 254);
    }

    #[test]
    fn bad_ranges_say_what_is_wrong() {
        assert!(
            parse_range("10.0.0.99-10.0.0.10")
                .unwrap_err()
                .contains("reversed")
        );
        assert!(
            parse_range("10.0.0.300").unwrap_err()
                == "10.0.0.300 is not a valid IPv4 address: 300 is above 255"
        );
        assert!(
            parse_range("10.0.0.0/33")
                .unwrap_err()
                .contains("prefix 0 to 32")
        );
        assert!(
            parse_range("10.0.0.1/24")
                .unwrap_err()
                .contains("10.0.0.0/24")
        );
        assert!(parse_range("::1").unwrap_err().contains("only IPv4"));
        assert!(parse_range("fe80::/64").unwrap_err().contains("only IPv4"));
        assert!(parse_range("").is_err());
        let errors = parse_ranges(&["10.0.0.1".into(), "nope".into()]).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "ranges[1]");
        let errors = parse_ranges(&["10.0.0.0/16".into(), "10.1.0.0-10.1.0.3".into()]).unwrap_err();
        assert_eq!(errors[0].field, "ranges");
        assert!(
            errors[0].message.contains("65538 addresses"),
            "{}",
            errors[0].message
        );
        assert!(parse_ranges(&["10.0.0.0-10.0.255.255".into()]).is_ok());
        assert!(parse_ranges(&[]).is_err());
    }

    #[test]
    fn scans_are_broadcast_or_ranges() {
        let broadcast = NewScan {
            broadcast: true,
            ranges: vec![],
        };
        assert_eq!(validate_scan(&broadcast), Ok(ScanTarget::Broadcast));
        let both = NewScan {
            broadcast: true,
            ranges: vec!["10.0.0.1".into()],
        };
        assert!(validate_scan(&both).is_err());
        assert!(validate_scan(&NewScan::default()).is_err());
    }

    #[test]
    fn devices() {
        let device = |ip: &str, mac: Option<&str>| NewDevice {
            ip: ip.into(),
            hostname: None,
            mac: mac.map(Into::into),
        };
        let ok = validate_device(&device(" 127.0.0.5 ", Some("AA-bb-cc-dd-ee-0f"))).unwrap();
        assert_eq!(ok.ip.to_string(), "127.0.0.5");
        assert_eq!(ok.mac.as_deref(), Some("aa:bb:cc:dd:ee:0f"));
        assert_eq!(
            validate_device(&device("x", None)).unwrap_err()[0].field,
            "ip"
        );
        assert_eq!(
            validate_device(&device("::1", None)).unwrap_err()[0].field,
            "ip"
        );
        assert_eq!(
            validate_device(&device("0.0.0.0", None)).unwrap_err()[0].field,
            "ip"
        );
        assert_eq!(
            validate_device(&device("10.0.0.1", Some("zz"))).unwrap_err()[0].field,
            "mac"
        );
    }

    fn job(command: JobCommand, targets: Value, due_at: &str, repeat: Option<u32>) -> NewJob {
        NewJob {
            name: "nightly".into(),
            command,
            targets: serde_json::from_value(targets).unwrap(),
            due_at: due_at.into(),
            repeat_minutes: repeat,
        }
    }

    #[test]
    fn jobs() {
        let ok = validate_job(&job(
            JobCommand::Reboot,
            json!([3, 4, 3]),
            "2026-11-29T08:00:00Z",
            Some(60),
        ))
        .unwrap();
        assert_eq!(ok.targets, JobTargets::Devices(vec![3, 4]));
        assert_eq!(ok.due_at, 1_795_939_200_000);
        let ok = validate_job(&job(
            JobCommand::Scan,
            json!(["10.0.0.0/24"]),
            "2026-11-29T09:00:00+01:00",
            None,
        ))
        .unwrap();
        assert_eq!(ok.targets, JobTargets::Ranges(vec!["10.0.0.0/24".into()]));
        assert_eq!(ok.due_at, 1_795_939_200_000);
        assert!(
            validate_job(&job(
                JobCommand::OnlineCheck,
                json!([]),
                "2026-11-29T08:00:00Z",
                None
            ))
            .is_ok()
        );

        let fields = |j: NewJob| -> Vec<String> {
            validate_job(&j)
                .unwrap_err()
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        assert_eq!(
            fields(job(
                JobCommand::Reboot,
                json!([]),
                "2026-11-29T08:00:00Z",
                None
            )),
            ["targets"]
        );
        assert_eq!(
            fields(job(
                JobCommand::Reboot,
                json!(["a"]),
                "2026-11-29T08:00:00Z",
                None
            )),
            ["targets[0]"]
        );
        assert_eq!(
            fields(job(
                JobCommand::Scan,
                json!(["10.0.0.9-10.0.0.1"]),
                "2026-11-29T08:00:00Z",
                None
            )),
            ["targets[0]"]
        );
        assert_eq!(
            fields(job(JobCommand::Scan, json!([1]), "tomorrow", Some(0))),
            ["targets[0]", "due_at", "repeat_minutes"]
        );
        let mut unnamed = job(
            JobCommand::OnlineCheck,
            json!([]),
            "2026-11-29T08:00:00Z",
            None,
        );
        unnamed.name = "  ".into();
        assert_eq!(fields(unnamed), ["name"]);
    }
}
