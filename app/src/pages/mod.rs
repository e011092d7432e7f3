//! One module per page, and what the discovery pages (devices, scans, jobs) share besides their
//! components: how they read ranges and show times.

mod account;
mod accounts;
mod audit;
mod certificates;
mod dashboard;
mod devices;
mod enrollment;
mod jobs;
mod login;
mod network_settings;
mod not_found;
mod scans;

pub use account::AccountPage;
pub use accounts::AccountsPage;
pub use audit::AuditPage;
pub use certificates::CertificatesPage;
pub use dashboard::DashboardPage;
pub use devices::DevicesPage;
pub use enrollment::EnrollmentPage;
pub use jobs::JobsPage;
pub use login::LoginPage;
pub use network_settings::NetworkSettingsPage;
pub use not_found::NotFound;
pub use scans::ScansPage;

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// A device by its name and address (`kiosk-1 (192.168.1.20)`), or its address alone.
fn device_name(device: &crate::api::Device) -> String {
    match &device.hostname {
        Some(hostname) => format!("{hostname} ({})", device.ip),
        None => device.ip.clone(),
    }
}

/// The ranges typed into a text area: one per line, blank lines left out.
fn ranges_of(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An RFC 3339 time as the pages show it: in UTC to the second, the same on the server and in
/// every browser (the page is rendered on the server, which does not know the reader's zone).
fn show_time(text: &str) -> String {
    let shown = format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .and_then(|time| time.to_offset(UtcOffset::UTC).format(&shown).ok())
        .unwrap_or_else(|| text.to_owned())
}

fn show_optional_time(text: Option<&str>) -> String {
    text.map_or_else(|| "—".to_owned(), show_time)
}

/// What the server renders of `view` for an administrator who may read every area but change
/// none.
#[cfg(all(test, feature = "ssr"))]
fn render_for_reader<V: leptos::prelude::IntoView>(view: impl FnOnce() -> V) -> String {
    use crate::model::{Area, Rights};
    use leptos::prelude::*;
    let reader = crate::api::Me {
        id: 9,
        username: "reader".into(),
        rights: Rights {
            superuser: false,
            read: Area::ALL.to_vec(),
            write: Vec::new(),
        },
    };
    Owner::new_root(None).with(|| {
        let (request, ()) = http::Request::builder()
            .extension(reader)
            .body(())
            .unwrap()
            .into_parts();
        provide_context(request);
        crate::components::provide_me();
        view().into_view().to_html()
    })
}

/// The opening tags of the form controls (buttons, inputs, selects, text areas) in `html` that
/// are not disabled.
#[cfg(all(test, feature = "ssr"))]
fn enabled_controls(html: &str) -> Vec<&str> {
    ["<button", "<input", "<select", "<textarea"]
        .into_iter()
        .flat_map(|start| {
            html.match_indices(start)
                .map(|(at, _)| &html[at..at + html[at..].find('>').unwrap_or(0)])
        })
        .filter(|tag| !tag.contains(" disabled"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_in_utc() {
        assert_eq!(show_time("2026-11-29T08:00:00Z"), "2026-11-29 08:00:00 UTC");
        assert_eq!(
            show_time("2026-11-29T09:00:00.123+01:00"),
            "2026-11-29 08:00:00 UTC"
        );
        assert_eq!(show_time("yesterday"), "yesterday");
        assert_eq!(show_optional_time(None), "—");
    }

    #[test]
    fn one_range_per_line() {
        let ranges = ranges_of("127.88.0.1-127.88.0.40\n\n  10.0.0.0/30 \n");
        assert_eq!(ranges, ["127.88.0.1-127.88.0.40", "10.0.0.0/30"]);
    }
}
