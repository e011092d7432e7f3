//! Following the shown scan: its progress and results are polled while it runs (scans are not
//! announced on the event stream; their progress changes too often for it).

use super::Scans;
use crate::api::{Scan, ScanState};
use crate::client::discovery::get_scan;
use crate::components::Notice;
use leptos::leptos_dom::helpers::{TimeoutHandle, set_timeout_with_handle};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::time::Duration;

const POLL_EVERY: Duration = Duration::from_millis(500);

/// Which following of a scan is the page's: opening a scan (again), cancelling it or leaving the
/// page starts a new round, and a poll of an earlier round neither shows its answer nor polls
/// again.
#[derive(Clone, Default)]
pub(super) struct Watching {
    round: u64,
    /// Polls of this round that failed in a row; the page shows the last failure.
    failures: u32,
    /// The next poll's timer, cleared when the round ends.
    timer: Option<TimeoutHandle>,
}

/// Ends the current round (if the page is still there); returns the new one.
fn next_round(scans: Scans) -> Option<u64> {
    scans.watching.try_update_value(|w| {
        if let Some(timer) = w.timer.take() {
            timer.clear();
        }
        w.round += 1;
        w.failures = 0;
        w.round
    })
}

pub(super) fn watch(scans: Scans, id: String) {
    if let Some(round) = next_round(scans) {
        spawn_local(poll(scans, id, round));
    }
}

/// Stops following the scan: nothing shown will change by a poll under way or due.
pub(super) fn stop(scans: Scans) {
    next_round(scans);
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
    // failed polls in a row, before and with this one
    let Some((before, failures)) = scans.watching.try_update_value(|w| {
        let before = w.failures;
        w.failures = if answer.is_err() { before + 1 } else { 0 };
        (before, w.failures)
    }) else {
        return;
    };
    let next = match answer {
        Ok(Some(scan)) => {
            if before > 0 {
                scans.notice.try_set(None); // the failure the page showed is over
            }
            let running = scan.state == ScanState::Running;
            show(scans, scan);
            running.then_some(POLL_EVERY)
        }
        Ok(None) => {
            scans.notice.try_set(Some(Notice::Error(
                "The scan is not kept any more (only the newest 100 are): its progress is not followed any more."
                    .to_owned(),
            )));
            None
        }
        Err(e) => {
            let after = super::retry_after(failures);
            scans.notice.try_set(Some(Notice::Error(format!(
                "The scan's progress could not be read: {e}. Trying again in {} s.",
                after.as_secs()
            ))));
            Some(after)
        }
    };
    let Some(after) = next else {
        return;
    };
    let timer = set_timeout_with_handle(move || spawn_local(poll(scans, id, round)), after).ok();
    // (no round began since this one was found current: nothing ran in between)
    scans.watching.try_update_value(|w| w.timer = timer);
}

/// Cancels the shown scan: polls under way are not shown any more (they could say it runs
/// still), and the answer is shown if the page is still there.
pub(super) async fn cancel(scans: Scans, id: String) {
    stop(scans);
    let answer = crate::client::discovery::cancel_scan(&id).await;
    match answer {
        Ok(scan) => show(scans, scan),
        Err(refusal) => {
            scans.notice.try_set(Some(Notice::Error(format!(
                "The scan was not cancelled: {}",
                refusal.text()
            ))));
            watch(scans, id); // it may still run
        }
    }
}

/// Shows a scan as read, and keeps its entry in the list in step (as far as the list shows it,
/// so that the list is not redrawn at every poll). Nothing, once the page is gone.
pub(super) fn show(scans: Scans, scan: Scan) {
    let shown_in_list = |s: &Scan| (s.state, s.found);
    let Some(changed) = scans.list.try_with_untracked(|list| {
        list.iter()
            .find(|s| s.id == scan.id)
            .is_none_or(|known| shown_in_list(known) != shown_in_list(&scan))
    }) else {
        return;
    };
    if changed {
        let entry = Scan {
            results: Vec::new(),
            ..scan.clone()
        };
        scans
            .list
            .try_update(|list| match list.iter_mut().find(|s| s.id == entry.id) {
                Some(known) => *known = entry,
                None => list.insert(0, entry),
            });
    }
    scans.shown.try_set(Some(scan));
}
