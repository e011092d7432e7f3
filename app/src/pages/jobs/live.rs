//! The jobs follow the server: each change to a job or one of its runs is announced, and the
//! list is read again.

use super::{JobsState, device_query};
use crate::api::{Job, LiveEvent};
use crate::client::discovery::{get_devices, get_jobs, remove_job, set_job_enabled};
use crate::client::follow_events;
use crate::components::Notice;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// Follows the server's events for as long as the jobs are shown.
pub(super) fn follow(state: JobsState) {
    let Some(stop) = follow_events(move |event| match event {
        LiveEvent::JobsChanged => reread(state),
        LiveEvent::DevicesChanged => spawn_local(reread_devices(state)),
        LiveEvent::Resync => {
            reread(state);
            spawn_local(reread_devices(state));
        }
        LiveEvent::SettingsChanged { .. }
        | LiveEvent::ServerJoined { .. }
        | LiveEvent::ServerLeft { .. }
        | LiveEvent::DeviceStatus { .. }
        | LiveEvent::AccountsChanged
        | LiveEvent::CertificatesChanged
        | LiveEvent::EnrollmentChanged => {}
    }) else {
        return;
    };
    on_cleanup(move || stop.abort());
}

/// Reads the jobs again; an earlier read still under way is ignored when it answers.
pub(super) fn reread(state: JobsState) {
    state
        .reads
        .reread(get_jobs(), "jobs", state.notice, move |list| {
            state.jobs.set(list.jobs)
        });
}

/// The devices a job can target, by name.
async fn reread_devices(state: JobsState) {
    if let Ok(page) = get_devices(device_query()).await {
        state.devices.set(page.devices);
    }
}

pub(super) async fn set_enabled(state: JobsState, id: i64, enabled: bool) {
    match set_job_enabled(id, enabled).await {
        Ok(job) => {
            state.notice.set(Some(Notice::Success(format!(
                "The job “{}” is {}.",
                job.name,
                if job.enabled { "enabled" } else { "disabled" }
            ))));
            state.jobs.update(|jobs| {
                if let Some(known) = jobs.iter_mut().find(|j| j.id == id) {
                    *known = Job {
                        // the list carries the last few runs only
                        executions: std::mem::take(&mut known.executions),
                        ..job
                    };
                }
            });
        }
        Err(refusal) => {
            state.notice.set(Some(Notice::Error(format!(
                "The job was not changed: {}",
                refusal.text()
            ))));
            reread(state); // shows the box as it is stored
        }
    }
}

pub(super) async fn delete(state: JobsState, job: Job) {
    let notice = match remove_job(job.id).await {
        Ok(()) => {
            state.jobs.update(|jobs| jobs.retain(|j| j.id != job.id));
            Notice::Success(format!("The job “{}” was deleted.", job.name))
        }
        Err(refusal) => Notice::Error(format!(
            "The job “{}” was not deleted: {}",
            job.name,
            refusal.text()
        )),
    };
    state.notice.set(Some(notice));
}
