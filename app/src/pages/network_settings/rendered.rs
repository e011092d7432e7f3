//! The page as the server renders it, before any script runs.

use crate::api::{DistributedStatus, Me, PageData, ServerEntry, ServerStatus};
use crate::model::{Area, DatabaseKind, Field, Installation, NetworkSettings, OwnAddress, Rights};
use crate::{App, PageBackend};
use leptos::prelude::*;
use std::sync::Arc;

struct Memory(PageData);

impl PageBackend for Memory {
    fn page_data(&self) -> PageData {
        self.0.clone()
    }
}

fn render(installation: Installation, settings: NetworkSettings) -> String {
    render_for(installation, settings, None)
}

/// The page as `me` sees it (the server puts the signed-in administrator on the request).
fn render_for(installation: Installation, settings: NetworkSettings, me: Option<Me>) -> String {
    let server = ServerEntry {
        id: "a".into(),
        name: "one".into(),
        addresses: vec!["10.0.0.5".into()],
        started_at: "2026-01-01T00:00:00Z".into(),
        last_heartbeat: "2026-01-01T00:00:00Z".into(),
        alive: true,
        this_server: true,
    };
    let data = PageData {
        settings,
        etag: "\"1\"".into(),
        status: ServerStatus {
            server: server.clone(),
            device_address: OwnAddress {
                public_address: None,
                address: "10.0.0.5".into(),
                port: 8443,
            },
            installation,
            database: DatabaseKind::Sqlite,
            servers: vec![server],
            distributed: (installation == Installation::Standalone).then_some(DistributedStatus {
                configured: false,
                running: false,
                restart_required: false,
            }),
        },
    };
    Owner::new_root(None).with(|| {
        let (meta, _) = leptos_meta::ServerMetaContext::new();
        provide_context(meta);
        provide_context(leptos_router::location::RequestUrl::new(
            "/settings/network",
        ));
        provide_context::<Arc<dyn PageBackend>>(Arc::new(Memory(data)));
        let (mut request, ()) = http::Request::new(()).into_parts();
        if let Some(me) = me {
            request.extensions.insert(me);
        }
        provide_context(request);
        view! { <App /> }.to_html()
    })
}

#[test]
fn every_field_is_on_the_page_with_its_id() {
    let mut settings = NetworkSettings::defaults(Installation::Standalone);
    settings.online_check.response_timeout_ms = 4321;
    settings.scan.broadcast_ip = "lb.example.com".into();
    let html = render(Installation::Standalone, settings);
    for field in Field::ALL {
        assert!(
            html.contains(&format!("id=\"{}\"", field.dom_id()))
                || html.contains(&format!("id=\"{}-error\"", field.dom_id())),
            "{field}"
        );
    }
    for part in [
        "<h1>Server Network Settings</h1>",
        "Online Check Parameters",
        "OS 12 Device Enrollment Address",
        "High Availability / Distributed mode",
        "id=\"restore-backup\"",
        "value=\"4321\"",
        "Online check reply port (UDP)",
        "Distributed mode enabled (server restart needed on change)",
        "must be an IPv4 address such as 255.255.255.255, not a host name",
    ] {
        assert!(html.contains(part), "{part}");
    }
}

#[test]
fn a_high_availability_installation_has_no_distributed_section() {
    let html = render(
        Installation::Ha,
        NetworkSettings::defaults(Installation::Ha),
    );
    assert!(html.contains("Cluster Address"));
    assert!(!html.contains("Distributed mode enabled"));
}

/// The opening tag of the element with this id.
fn tag<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element {id}"));
    let start = html[..at].rfind('<').unwrap();
    let end = at + html[at..].find('>').unwrap();
    &html[start..=end]
}

fn signed_in(username: &str, rights: Rights) -> Option<Me> {
    Some(Me {
        id: 7,
        username: username.into(),
        rights,
    })
}

#[test]
fn a_reader_sees_the_settings_with_every_control_disabled() {
    let reader = Rights {
        superuser: false,
        read: vec![Area::NetworkSettings, Area::Devices],
        write: vec![Area::Devices],
    };
    let html = render_for(
        Installation::Standalone,
        NetworkSettings::defaults(Installation::Standalone),
        signed_in("carol", reader),
    );
    assert!(html.contains("You can read these settings but not change them."));
    for field in Field::ALL {
        let id = field.dom_id();
        if html.contains(&format!("id=\"{id}\"")) {
            assert!(tag(&html, &id).contains("disabled"), "{field}");
        }
    }
    for id in [
        "restore-backup",
        "online_check-reply_port-any",
        "cluster_address-host",
    ] {
        assert!(tag(&html, id).contains("disabled"), "{id}");
    }
    assert!(html.contains(">Save</button>"));
    // the navigation lists what carol may read, and her account
    for link in [
        "href=\"/devices\"",
        "href=\"/scans\"",
        "href=\"/account\"",
        "Sign out",
        "carol",
    ] {
        assert!(html.contains(link), "{link}");
    }
    for link in ["href=\"/jobs\"", "href=\"/accounts\"", "href=\"/audit\""] {
        assert!(!html.contains(link), "{link}");
    }
}

#[test]
fn a_writer_sees_the_settings_to_change() {
    let html = render_for(
        Installation::Standalone,
        NetworkSettings::defaults(Installation::Standalone),
        signed_in("admin", Rights::superuser()),
    );
    assert!(!html.contains("You can read these settings"));
    assert!(!tag(&html, "scan-timeout_ms").contains("disabled"));
    assert!(!tag(&html, "restore-backup").contains("disabled"));
    for link in ["href=\"/jobs\"", "href=\"/accounts\"", "href=\"/audit\""] {
        assert!(html.contains(link), "{link}");
    }
}
