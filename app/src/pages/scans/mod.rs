//! Administration › Discovery › Scans: finding devices on the network and registering them.

mod current;
mod history;
mod start;
#[cfg(feature = "hydrate")]
mod watch;

use super::{DiscoveryHeading, PageSource, page_resource, with_data};
use crate::api::{Scan, ScanList, ScanState};
use crate::components::Notice;
use current::CurrentScan;
use history::History;
use leptos::prelude::*;
use start::StartForm;
use std::collections::BTreeSet;

impl PageSource for ScanList {
    type Query = ();

    #[cfg(feature = "ssr")]
    fn read(
        backend: std::sync::Arc<dyn crate::DiscoveryBackend>,
        _: (),
    ) -> crate::BoxFuture<Result<Self, String>> {
        backend.scans()
    }

    #[cfg(feature = "hydrate")]
    fn load(_: ()) -> impl Future<Output = Result<Self, String>> + 'static {
        crate::client::discovery::get_scans()
    }
}

#[component]
pub fn ScansPage() -> impl IntoView {
    let data = page_resource::<ScanList>(|| ());
    view! {
        <DiscoveryHeading title="Scans" />
        {with_data(data, "scans", |list| view! { <ScanSections list /> }.into_any())}
    }
}

/// The state of the page, shared by its parts.
#[derive(Clone, Copy)]
struct Scans {
    /// This server's scans, newest first, without their results.
    list: RwSignal<Vec<Scan>>,
    /// The scan the page shows: the one started here, or opened from the list.
    shown: RwSignal<Option<Scan>>,
    /// MAC addresses of found devices to register.
    selected: RwSignal<BTreeSet<String>>,
    notice: RwSignal<Option<Notice>>,
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
        self.selected.set(BTreeSet::new());
        #[cfg(feature = "hydrate")]
        watch::watch(*self, id);
        #[cfg(not(feature = "hydrate"))]
        let _ = id;
    }
}

#[component]
fn ScanSections(list: ScanList) -> impl IntoView {
    // a scan still running when the page was loaded is followed at once
    let running = list
        .scans
        .iter()
        .find(|s| s.state == ScanState::Running)
        .cloned();
    let scans = Scans {
        list: RwSignal::new(list.scans),
        shown: RwSignal::new(running.clone()),
        selected: RwSignal::new(BTreeSet::new()),
        notice: RwSignal::new(None),
        #[cfg(feature = "hydrate")]
        watching: StoredValue::new(watch::Watching::default()),
    };
    if let Some(scan) = running {
        scans.open(scan.id);
    }
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
}
