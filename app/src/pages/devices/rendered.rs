//! The page as the server renders it.

use super::*;
use crate::pages::{enabled_controls, render_for_reader};

#[test]
fn a_reader_sees_the_devices_with_every_control_disabled() {
    let device = Device {
        id: 1,
        mac: Some("00:11:22:aa:bb:cc".into()),
        ip: "192.168.1.20".into(),
        hostname: Some("kiosk".into()),
        os: None,
        serial: None,
        status: DeviceStatus::Online,
        last_seen: None,
        status_since: None,
        certificate: Some(CurrentCertificate {
            serial: "0a1b2c3d4e5f60718293".into(),
            not_after: "2027-01-01T00:00:00Z".into(),
            state: crate::api::DeviceCertificateState::Valid,
        }),
    };
    let page = DevicePage {
        devices: vec![device],
        total: 1,
        offset: 0,
        limit: DEFAULT_PAGE_SIZE,
        counts: StatusCounts {
            online: 1,
            offline: 0,
            unknown: 0,
        },
    };
    let listing = Listing::parse(|_| None);
    let html = render_for_reader(|| view! { <DeviceList page listing /> });
    for part in [
        "kiosk",
        "Check now",
        "Remove 192.168.1.20",
        "register-ip",
        "<span class=\"badge valid\">valid</span>",
        "until 2027-01-01 00:00:00 UTC",
        "<code>0a1b2c3d…</code>",
        "title=\"Certificate 0a1b2c3d4e5f60718293\"",
        "href=\"/enrollment\"",
    ] {
        assert!(html.contains(part), "{part}");
    }
    assert_eq!(enabled_controls(&html), Vec::<&str>::new());
}
