//! The dashboard follows the server: a status change shows at once (the event brings the new
//! counts) and every announced change has the dashboard read again; so does a slow timer, for the
//! rounds that changed nothing and the audit entries, which no event announces.

use super::DashboardState;
use crate::api::LiveEvent;
use crate::client::dashboard::get_dashboard;
use crate::client::follow_events;
use leptos::prelude::*;
use std::time::Duration;

/// How often the dashboard is read again without an event.
const REREAD_EVERY: Duration = Duration::from_secs(30);

pub(super) fn follow(state: DashboardState) {
    if let Some(stop) = follow_events(move |event| {
        if let LiveEvent::DeviceStatus { counts, .. } = &event {
            state.dashboard.update(|d| {
                if let Some(devices) = d.devices.as_mut() {
                    devices.counts = *counts;
                }
            });
        }
        reread(state);
    }) {
        on_cleanup(move || stop.abort());
    }
    if let Ok(timer) = set_interval_with_handle(move || reread(state), REREAD_EVERY) {
        on_cleanup(move || timer.clear());
    }
}

fn reread(state: DashboardState) {
    let range = state.dashboard.with_untracked(|d| d.range);
    state.reads.reread(
        get_dashboard(range),
        "dashboard",
        state.notice,
        move |dashboard| state.dashboard.set(dashboard),
    );
}
