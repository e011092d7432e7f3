//! The list's bookkeeping: live status changes applied to the page shown.

use super::*;
use crate::api::StatusChange;
use std::collections::HashMap;

fn parse(pairs: &[(&str, &str)]) -> Listing {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Listing::parse(|key| map.get(key).cloned())
}

#[test]
fn listings_read_from_and_write_to_the_url() {
    let all = parse(&[]);
    assert_eq!(
        all,
        Listing {
            status: None,
            id: None,
            offset: 0,
            limit: DEFAULT_PAGE_SIZE
        }
    );
    assert_eq!(all.href(), "/devices");
    let offline = parse(&[("status", "offline"), ("offset", "100"), ("limit", "50")]);
    assert_eq!(
        offline.href(),
        "/devices?status=offline&offset=100&limit=50"
    );
    assert_eq!(offline.with_status(None).href(), "/devices?limit=50");
    assert_eq!(
        offline.previous().unwrap().href(),
        "/devices?status=offline&offset=50&limit=50"
    );
    assert_eq!(offline.next(150), None);
    assert_eq!(offline.next(151).unwrap().offset, 150);
    assert_eq!(all.previous(), None);
    // nonsense is the default, too large a page the largest
    let odd = parse(&[("status", "asleep"), ("offset", "-1"), ("limit", "99999")]);
    assert_eq!(
        (odd.status, odd.offset, odd.limit),
        (None, 0, MAX_PAGE_SIZE)
    );
    assert_eq!(parse(&[("limit", "0")]).limit, DEFAULT_PAGE_SIZE);
    // one device, as the enrollment page links it; any filter lists every device again
    let one = parse(&[("id", "42")]);
    assert_eq!(one.id, Some(42));
    assert_eq!(one.href(), "/devices?id=42");
    assert_eq!(one.query().id, Some(42));
    assert_eq!(one.with_status(None).href(), "/devices");
    assert_eq!(
        one.with_status(Some(DeviceStatus::Online)).href(),
        "/devices?status=online"
    );
    assert_eq!(parse(&[("id", "seven")]).id, None);
}

#[test]
fn status_changes_update_the_listed_devices() {
    let device = |id, status| Device {
        id,
        mac: None,
        ip: format!("127.0.0.{id}"),
        hostname: None,
        os: None,
        serial: None,
        status,
        last_seen: None,
        status_since: None,
        certificate: None,
    };
    let mut page = DevicePage {
        devices: vec![
            device(1, DeviceStatus::Unknown),
            device(2, DeviceStatus::Online),
        ],
        total: 2,
        offset: 0,
        limit: 100,
        counts: StatusCounts::default(),
    };
    let counts = StatusCounts {
        online: 2,
        offline: 0,
        unknown: 0,
    };
    let seen = Some("2026-01-01T00:00:00Z".to_owned());
    let since = "2026-01-01T00:00:01Z";
    let changes = [
        StatusChange {
            id: 1,
            status: DeviceStatus::Online,
            last_seen: seen.clone(),
            status_since: since.to_owned(),
        },
        StatusChange {
            id: 2,
            status: DeviceStatus::Online,
            last_seen: seen.clone(),
            status_since: since.to_owned(),
        },
        StatusChange {
            id: 9,
            status: DeviceStatus::Offline,
            last_seen: None,
            status_since: since.to_owned(),
        },
    ];
    // device 1 has no MAC address yet: its answer brought one
    assert!(apply_changes(&mut page, &changes, counts));
    assert_eq!(page.counts, counts);
    assert_eq!(page.devices[0].status, DeviceStatus::Online);
    assert_eq!(page.devices[0].status_since.as_deref(), Some(since));
    assert_eq!(page.devices[0].last_seen, seen);
    // no change of status, no new "since"
    assert_eq!(page.devices[1].status_since, None);
    assert_eq!(page.devices[1].last_seen, seen);
    for device in &mut page.devices {
        device.mac = Some("02:00:00:00:00:01".into());
    }
    assert!(!apply_changes(&mut page, &changes, counts));
}
