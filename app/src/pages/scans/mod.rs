//! Administration › Discovery › Scans: finding devices on the network and registering them.

mod current;
mod history;
mod start;
#[cfg(feature = "hydrate")]
mod watch;

use crate::api::{Scan, ScanList, ScanState};
use crate::components::{
    DiscoveryHeading, Notice, PageSource, ReadOnlyNotice, may_write, page_resource, with_data,
};
use crate::model::Area;
use current::CurrentScan;
use history::History;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};
use start::StartForm;
use std::collections::BTreeSet;

/// What the page renders from: the scans (of every server), and the one its address opens
/// (`/scans?scan={id}`, the "Open" links of the list) with its results.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct ScansData {
    list: ScanList,
    /// `None` when the address opens none, or one this server does not know.
    opened: Option<Scan>,
}

impl PageSource for ScansData {
    /// The id of the scan to open.
    type Query = Option<String>;

    #[cfg(feature = "ssr")]
    type Backend = dyn crate::DiscoveryBackend;

    #[cfg(feature = "ssr")]
    fn read(
        backend: std::sync::Arc<dyn crate::DiscoveryBackend>,
        opened: Option<String>,
    ) -> crate::BoxFuture<Result<Self, String>> {
        Box::pin(async move {
            let list = backend.scans().await?;
            let opened = match opened {
                Some(id) => backend.scan(id).await?,
                None => None,
            };
            Ok(ScansData { list, opened })
        })
    }

    #[cfg(feature = "hydrate")]
    fn load(opened: Option<String>) -> impl Future<Output = Result<Self, String>> + 'static {
        use crate::client::discovery::{get_scan, get_scans};
        async move {
            let list = get_scans().await?;
            let opened = match opened {
                Some(id) => get_scan(&id).await?,
                None => None,
            };
            Ok(ScansData { list, opened })
        }
    }
}

#[component]
pub fn ScansPage() -> impl IntoView {
    // read once: in the browser, "Open" shows a scan without reading the page's data again
    let opened = use_query_map().with_untracked(|q| q.get("scan"));
    let asked = opened.clone();
    let data = page_resource::<ScansData>(move || opened.clone());
    view! {
        <DiscoveryHeading title="Scans" />
        <ReadOnlyNotice
            area=Area::Devices
            text="You can see the scans but not start them or register what they find."
        />
        {with_data(
            data,
            "scans",
            move |data| view! { <ScanSections data asked=asked.clone() /> }.into_any(),
        )}
    }
}

/// The state of the page, shared by its parts.
#[derive(Clone, Copy)]
struct Scans {
    /// The scans, newest first, without their results.
    list: RwSignal<Vec<Scan>>,
    /// The scan the page shows: the one started here, or opened from the list.
    shown: RwSignal<Option<Scan>>,
    /// MAC addresses of found devices to register.
    selected: RwSignal<BTreeSet<String>>,
    notice: RwSignal<Option<Notice>>,
    /// The administrator may see the scans but not start, cancel or register.
    read_only: bool,
    /// Which scan the page polls; a poll for another one stops.
    #[cfg(feature = "hydrate")]
    watching: StoredValue<watch::Watching>,
}

impl Scans {
    fn running(&self) -> bool {
        self.shown
            .with(|s| s.as_ref().is_some_and(|s| s.state == ScanState::Running))
    }

    /// Shows the given scan, following it while it runs.
    fn open(&self, id: String) {
        self.selected.try_set(BTreeSet::new());
        #[cfg(feature = "hydrate")]
        watch::watch(*self, id);
        #[cfg(not(feature = "hydrate"))]
        let _ = id;
    }
}

#[component]
fn ScanSections(
    data: ScansData,
    /// The scan the page's address names.
    asked: Option<String>,
) -> impl IntoView {
    let unknown = match (&asked, &data.opened) {
        (Some(id), None) => Some(Notice::Error(format!(
            "There is no scan {id} on this server or another one sharing its database: only the newest 100 are kept."
        ))),
        _ => None,
    };
    // the scan the address opens, or else one still running, is shown, and followed while it runs
    let shown = data.opened.or_else(|| {
        data.list
            .scans
            .iter()
            .find(|s| s.state == ScanState::Running)
            .cloned()
    });
    let running = shown
        .as_ref()
        .filter(|s| s.state == ScanState::Running)
        .map(|s| s.id.clone());
    let scans = Scans {
        list: RwSignal::new(data.list.scans),
        shown: RwSignal::new(shown),
        selected: RwSignal::new(BTreeSet::new()),
        notice: RwSignal::new(unknown),
        read_only: !may_write(Area::Devices),
        #[cfg(feature = "hydrate")]
        watching: StoredValue::new(watch::Watching::default()),
    };
    if let Some(id) = running {
        scans.open(id);
    }
    // a poll waiting for its time is not made once the page is gone
    #[cfg(feature = "hydrate")]
    on_cleanup(move || watch::stop(scans));
    view! {
        <StartForm scans />
        <CurrentScan scans />
        <History scans />
    }
    .into_any()
}

fn state_text(state: ScanState) -> &'static str {
    match state {
        ScanState::Running => "running",
        ScanState::Done => "done",
        ScanState::Cancelled => "cancelled",
        ScanState::Failed => "failed",
    }
}

/// What a scan covers, in words.
fn target_text(scan: &Scan) -> String {
    if scan.broadcast {
        "Broadcast".to_owned()
    } else {
        scan.ranges.join(", ")
    }
}

/// "about 3 s left", rounded up so that it never says 0 while the scan runs.
fn remaining_text(ms: u64) -> String {
    let seconds = ms.div_ceil(1000).max(1);
    if seconds < 120 {
        format!("about {seconds} s left")
    } else {
        format!("about {} min left", seconds.div_ceil(60))
    }
}

/// How long the page waits after the `failures`th failed poll of a scan in a row: the wait
/// doubles (the server may be restarting), up to half a minute.
#[cfg(any(feature = "hydrate", test))]
fn retry_after(failures: u32) -> std::time::Duration {
    std::time::Duration::from_secs(1 << failures.saturating_sub(1).min(16))
        .min(std::time::Duration::from_secs(30))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_reads_in_whole_units() {
        assert_eq!(remaining_text(0), "about 1 s left");
        assert_eq!(remaining_text(2001), "about 3 s left");
        assert_eq!(remaining_text(119_000), "about 119 s left");
        assert_eq!(remaining_text(600_000), "about 10 min left");
    }

    #[test]
    fn retries_back_off_to_a_limit() {
        let waits: Vec<u64> = [1, 2, 3, 5, 6, 40, u32::MAX]
            .into_iter()
            .map(|n| retry_after(n).as_secs())
            .collect();
        assert_eq!(waits, [1, 2, 4, 16, 30, 30, 30]);
    }
}

#[cfg(all(test, feature = "ssr"))]
mod rendered {
    use super::*;
    use crate::api::ScanResult;
    use crate::pages::{enabled_controls, render_for_reader};

    #[test]
    fn a_reader_sees_the_scans_with_every_control_disabled() {
        let found = |n: u8, registered| ScanResult {
            ip: format!("192.168.1.{n}"),
            mac: format!("00:11:22:aa:bb:{n:02x}"),
            hostname: format!("kiosk-{n}"),
            os: String::new(),
            serial: String::new(),
            registered,
        };
        let scan = Scan {
            id: "s1".into(),
            server_id: "srv1".into(),
            server_name: "one".into(),
            state: ScanState::Running,
            broadcast: false,
            ranges: vec!["192.168.1.0/24".into()],
            sent: 100,
            total: 254,
            started_at: "2026-01-01T00:00:00Z".into(),
            finished_at: None,
            remaining_ms: Some(3000),
            results: vec![found(20, false), found(21, true)],
            sending_ms: None,
            found: 2,
            ignored: 0,
            error: None,
        };
        let data = ScansData {
            list: ScanList {
                scans: vec![Scan {
                    results: Vec::new(),
                    ..scan.clone()
                }],
            },
            opened: Some(scan),
        };
        let html = render_for_reader(|| view! { <ScanSections data asked=Some("s1".into()) /> });
        for part in [
            "Cancel scan",
            "on server one",
            "Select 192.168.1.20",
            "Register selected",
            "scan-ranges",
        ] {
            assert!(html.contains(part), "{part}");
        }
        assert_eq!(enabled_controls(&html), Vec::<&str>::new());
    }
}
