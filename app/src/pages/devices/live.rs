//! The list follows the server: status changes of each online-check round are applied where
//! they are shown; other changes of devices, and of their certificates, re-read the listed page.

use super::{Devices, apply_changes};
use crate::api::{LiveEvent, StatusChange, StatusCounts};
use crate::client::discovery::{get_devices, run_online_check};
use crate::client::follow_events;
use crate::components::Notice;
use leptos::prelude::*;

/// Follows the server's events for as long as the list is shown.
pub(super) fn follow(state: Devices) {
    let Some(stop) = follow_events(move |event| match event {
        LiveEvent::DeviceStatus {
            changes,
            complete,
            counts,
        } => status_changed(state, &changes, complete, counts),
        // a device enrolled, renewed or lost its certificate
        LiveEvent::DevicesChanged | LiveEvent::EnrollmentChanged | LiveEvent::Resync => {
            reread(state)
        }
        LiveEvent::SettingsChanged { .. }
        | LiveEvent::ServerJoined { .. }
        | LiveEvent::ServerLeft { .. }
        | LiveEvent::JobsChanged
        | LiveEvent::AccountsChanged
        | LiveEvent::CertificatesChanged => {}
    }) else {
        return;
    };
    on_cleanup(move || stop.abort());
}

fn status_changed(state: Devices, changes: &[StatusChange], complete: bool, counts: StatusCounts) {
    let first_answer = state
        .page
        .try_update(|page| apply_changes(page, changes, counts))
        .unwrap_or(false);
    // Not every change was listed; or, with a filter, devices may have come into or gone out of
    // it; or a device told its details; or a re-read under way may answer with what it read
    // before these changes.
    let filtered = state.listing.status.is_some() && !changes.is_empty();
    if !complete || filtered || first_answer || state.reads.pending() {
        reread(state);
    }
}

/// Reads the listed page again; an earlier re-read still under way is ignored when it answers.
pub(super) fn reread(state: Devices) {
    let read = get_devices(state.listing.query());
    state
        .reads
        .reread(read, "list", state.notice, move |page| state.page.set(page));
}

pub(super) async fn check_now(state: Devices, running: RwSignal<bool>) {
    let notice = match run_online_check().await {
        Ok(report) => Notice::Success(format!(
            "Checked {} device{} in {:.0} ms: {} online, {} offline.",
            report.checked,
            if report.checked == 1 { "" } else { "s" },
            report.duration_ms,
            report.online,
            report.offline
        )),
        Err(refusal) => Notice::Error(format!("The check did not run: {}", refusal.text())),
    };
    state.notice.set(Some(notice));
    running.set(false);
    reread(state);
}
