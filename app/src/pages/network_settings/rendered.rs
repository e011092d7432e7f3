//! The page as the server renders it, before any script runs.

use super::Form;
use super::save::ConfirmDistributed;
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
    render_data(page_data(installation, settings), me)
}

/// One server, "one", alone on its database.
fn page_data(installation: Installation, settings: NetworkSettings) -> PageData {
    let server = ServerEntry {
        id: "a".into(),
        name: "one".into(),
        addresses: vec!["10.0.0.5".into()],
        started_at: "2026-01-01T00:00:00Z".into(),
        last_heartbeat: "2026-01-01T00:00:00Z".into(),
        alive: true,
        this_server: true,
        clock_offset_ms: Some(40),
    };
    PageData {
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
            online_check: None,
        },
    }
}

/// Renders `view` as the page's parts are rendered on the server.
fn in_request<V: IntoView + 'static>(
    data: PageData,
    me: Option<Me>,
    view: impl FnOnce() -> V,
) -> String {
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
        view().to_html()
    })
}

fn render_data(data: PageData, me: Option<Me>) -> String {
    in_request(data, me, || view! { <App /> })
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

/// `one` (this server, not distributed) on PostgreSQL with pg-b and pg-c live and pg-d gone;
/// pg-b's clock is ahead of the database's, pg-d's behind, pg-c's within the minute.
fn shared_database() -> PageData {
    let mut data = page_data(
        Installation::Standalone,
        NetworkSettings::defaults(Installation::Standalone),
    );
    data.status.database = DatabaseKind::Postgres;
    let other = |name: &str, alive, clock_offset_ms| ServerEntry {
        id: name.into(),
        name: name.into(),
        addresses: vec!["10.0.0.6".into()],
        alive,
        this_server: false,
        clock_offset_ms,
        ..data.status.server.clone()
    };
    data.status.servers.extend([
        other("pg-b", true, Some(125_000)),
        other("pg-c", true, Some(-59_000)),
        other("pg-d", false, Some(-3_723_600)),
    ]);
    data
}

/// The row of the server list naming this server.
fn server_row<'a>(html: &'a str, name: &str) -> &'a str {
    let at = html
        .find(&format!("data-server=\"{name}\""))
        .unwrap_or_else(|| panic!("no row of {name}"));
    let end = at + html[at..].find("</tr>").unwrap();
    &html[at..end]
}

#[test]
fn servers_sharing_the_database_without_distributed_mode_are_named_in_a_warning() {
    let html = render_data(shared_database(), None);
    let warning = "Distributed mode is off, but pg-b and pg-c use this database too: changes made \
                   on one server do not reach the others.";
    assert!(html.contains(warning), "{html}");
    assert!(html.contains("role=\"status\" data-testid=\"unsynchronised\""));

    // one other server: named alone
    let mut data = shared_database();
    data.status.servers.retain(|s| s.name != "pg-c");
    let html = render_data(data, None);
    assert!(html.contains("Distributed mode is off, but pg-b uses this database too:"));

    // running in distributed mode (stored off or not): no warning
    let mut data = shared_database();
    data.status.distributed = Some(DistributedStatus {
        configured: false,
        running: true,
        restart_required: true,
    });
    assert!(!render_data(data, None).contains("Distributed mode is off, but"));

    // alone on its database: no warning
    let html = render(
        Installation::Standalone,
        NetworkSettings::defaults(Installation::Standalone),
    );
    assert!(!html.contains("Distributed mode is off, but"));
    assert!(!html.contains("data-testid=\"unsynchronised\""));
}

#[test]
fn the_server_list_marks_gone_servers_and_clocks_off_by_more_than_a_minute() {
    let html = render_data(shared_database(), None);
    assert!(html.contains("Servers on this database"));
    let one = server_row(&html, "one");
    assert!(one.contains("this server"), "{one}");
    assert!(one.contains(">live<"), "{one}");
    assert!(!one.contains("clock"), "{one}"); // 40 ms off
    let b = server_row(&html, "pg-b");
    assert!(b.contains(">live<"), "{b}");
    assert!(b.contains("clock 2 min 5 s ahead of the database"), "{b}");
    let c = server_row(&html, "pg-c");
    assert!(c.contains(">live<"), "{c}");
    assert!(!c.contains("clock"), "{c}"); // 59 s: within the minute
    let d = server_row(&html, "pg-d");
    assert!(d.contains(">gone<"), "{d}");
    assert!(d.contains("clock 1 h 2 min 4 s behind the database"), "{d}");
    assert!(!d.contains("this server"), "{d}");
}

#[test]
fn turning_distributed_mode_off_asks_naming_the_other_live_servers() {
    let data = shared_database();
    let html = in_request(data.clone(), None, move || {
        let form = Form::new(data);
        form.confirm_distributed.set(true);
        view! { <ConfirmDistributed form /> }
    });
    assert!(html.contains("Disable distributed mode?"), "{html}");
    assert!(
        html.contains(
            "pg-b and pg-c also have a recent heartbeat on this database. Without distributed \
             mode the servers keep using the same database but stop synchronising with each \
             other: changes made on one server no longer reach the others."
        ),
        "{html}"
    );
    // the gone server is not among them
    assert!(!html.contains("pg-d"), "{html}");
}
