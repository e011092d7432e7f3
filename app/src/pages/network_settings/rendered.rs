//! The page as the server renders it, before any script runs.

use crate::api::{DistributedStatus, PageData, ServerEntry, ServerStatus};
use crate::model::{DatabaseKind, Field, Installation, NetworkSettings, OwnAddress};
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
