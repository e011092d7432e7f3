//! Following the shown scan: its progress and results are polled while it runs (scans are not
//! announced on the event stream; their progress changes too often for it).

use super::Scans;
use crate::api::{Scan, ScanState};
use crate::client::discovery::get_scan;
use crate::components::Notice;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::time::Duration;

const POLL_EVERY: Duration = Duration::from_millis(500);
/// After a failed poll: the server may be restarting.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// The scan being followed, and which following that is: opening a scan (again) starts a new
/// one, and the earlier one stops at its next poll.
#[derive(Clone, Default)]
pub(super) struct Watching {
    id: String,
    round: u64,
}

pub(super) fn watch(scans: Scans, id: String) {
    let Some(round) = scans.watching.try_update_value(|w| {
        w.round += 1;
        w.id = id.clone();
        w.round
    }) else {
        return;
    };
    spawn_local(poll(scans, id, round));
}

/// Whether this following is still the page's (and the page is still shown).
fn current(scans: Scans, round: u64) -> bool {
    scans.watching.try_with_value(|w| w.round == round) == Some(true)
}

async fn poll(scans: Scans, id: String, round: u64) {
    if !current(scans, round) {
        return;
    }
    let answer = get_scan(&id).await;
    if !current(scans, round) {
        return;
    }
    let next = match answer {
        Ok(scan) => {
            let running = scan.state == ScanState::Running;
            show(scans, scan);
            running.then_some(POLL_EVERY)
        }
        Err(e) => {
            scans.notice.set(Some(Notice::Error(format!(
                "The scan's progress could not be read: {e}"
            ))));
            Some(RETRY_AFTER)
        }
    };
    if let Some(after) = next {
        set_timeout(move || spawn_local(poll(scans, id, round)), after);
    }
}

/// Shows a scan as read, and keeps its entry in the list in step (as far as the list shows it,
/// so that the list is not redrawn at every poll).
pub(super) fn show(scans: Scans, scan: Scan) {
    let shown_in_list = |s: &Scan| (s.state, s.found);
    let changed = scans.list.with_untracked(|list| {
        list.iter()
            .find(|s| s.id == scan.id)
            .is_none_or(|known| shown_in_list(known) != shown_in_list(&scan))
    });
    if changed {
        let entry = Scan {
            results: Vec::new(),
            ..scan.clone()
        };
        scans
            .list
            .update(|list| match list.iter_mut().find(|s| s.id == entry.id) {
                Some(known) => *known = entry,
                None => list.insert(0, entry),
            });
    }
    scans.shown.set(Some(scan));
}
