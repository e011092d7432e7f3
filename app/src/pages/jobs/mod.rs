//! Administration › Discovery › Scheduled Jobs: commands that run at a set time, once or again
//! and again, and what came of each run.

mod form;
mod list;
#[cfg(feature = "hydrate")]
mod live;

use super::device_name;
use crate::api::{Device, DeviceQuery, Job, JobCommand, MAX_PAGE_SIZE};
use crate::components::{
    ConfirmRemoval, DiscoveryHeading, Notice, PageSource, ReadOnlyNotice, may_write, page_resource,
    with_data,
};
use crate::model::Area;
use form::JobForm;
use leptos::prelude::*;
use list::JobItems;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What the page renders from: the jobs, and the devices they can target (by name).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct JobsData {
    jobs: Vec<Job>,
    devices: Vec<Device>,
}

/// The devices a job can target: the first page of the largest size.
fn device_query() -> DeviceQuery {
    DeviceQuery {
        status: None,
        id: None,
        offset: Some(0),
        limit: Some(MAX_PAGE_SIZE),
    }
}

impl PageSource for JobsData {
    type Query = ();

    #[cfg(feature = "ssr")]
    type Backend = dyn crate::DiscoveryBackend;

    #[cfg(feature = "ssr")]
    fn read(
        backend: std::sync::Arc<dyn crate::DiscoveryBackend>,
        _: (),
    ) -> crate::BoxFuture<Result<Self, String>> {
        Box::pin(async move {
            let jobs = backend.jobs().await?.jobs;
            let devices = backend.devices(device_query()).await?.devices;
            Ok(JobsData { jobs, devices })
        })
    }

    #[cfg(feature = "hydrate")]
    fn load(_: ()) -> impl Future<Output = Result<Self, String>> + 'static {
        use crate::client::discovery::{get_devices, get_jobs};
        async {
            let jobs = get_jobs().await?.jobs;
            let devices = get_devices(device_query()).await?.devices;
            Ok(JobsData { jobs, devices })
        }
    }
}

#[component]
pub fn JobsPage() -> impl IntoView {
    let data = page_resource::<JobsData>(|| ());
    view! {
        <DiscoveryHeading title="Scheduled Jobs" />
        <ReadOnlyNotice area=Area::Jobs text="You can see the jobs but not change them." />
        {with_data(data, "jobs", |data| view! { <Jobs data /> }.into_any())}
    }
}

/// The state of the page, shared by its parts.
#[derive(Clone, Copy)]
struct JobsState {
    jobs: RwSignal<Vec<Job>>,
    devices: RwSignal<Vec<Device>>,
    notice: RwSignal<Option<Notice>>,
    /// The job whose deletion waits for a confirmation.
    deleting: RwSignal<Option<Job>>,
    /// The administrator may see the jobs but not change them.
    read_only: bool,
    #[cfg(feature = "hydrate")]
    reads: crate::components::Rereads,
}

impl JobsState {
    /// A job's targets in words: device names, ranges, or every device.
    fn targets_text(&self, job: &Job) -> String {
        if job.targets.is_empty() {
            return if job.command == JobCommand::OnlineCheck {
                "every device".to_owned()
            } else {
                "none".to_owned()
            };
        }
        self.devices.with(|devices| {
            job.targets
                .iter()
                .map(|target| match target {
                    Value::String(range) => range.clone(),
                    Value::Number(id) => id
                        .as_i64()
                        .and_then(|id| devices.iter().find(|d| d.id == id))
                        .map_or_else(|| format!("device {id}"), device_name),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
    }
}

#[component]
fn Jobs(data: JobsData) -> impl IntoView {
    let state = JobsState {
        jobs: RwSignal::new(data.jobs),
        devices: RwSignal::new(data.devices),
        notice: RwSignal::new(None),
        deleting: RwSignal::new(None),
        read_only: !may_write(Area::Jobs),
        #[cfg(feature = "hydrate")]
        reads: Default::default(),
    };
    #[cfg(feature = "hydrate")]
    live::follow(state);
    view! {
        <JobForm state />
        <JobItems state />
        <ConfirmRemoval
            pending=state.deleting
            id="delete-job"
            title=|job: &Job| format!("Delete the job “{}”?", job.name)
            text="It will not run again, and its runs are forgotten."
            action="Delete"
            on_confirm=Callback::new(move |job| {
                #[cfg(feature = "hydrate")]
                leptos::task::spawn_local(live::delete(state, job));
                #[cfg(not(feature = "hydrate"))]
                let _ = job;
            })
        />
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::DeviceStatus;
    use serde_json::json;

    #[test]
    fn targets_read_as_names() {
        let owner = Owner::new();
        owner.with(|| {
            let device = Device {
                id: 3,
                mac: None,
                ip: "127.0.0.3".into(),
                hostname: Some("kiosk".into()),
                os: None,
                serial: None,
                status: DeviceStatus::Online,
                last_seen: None,
                status_since: None,
                certificate: None,
            };
            let state = JobsState {
                jobs: RwSignal::new(Vec::new()),
                devices: RwSignal::new(vec![device]),
                notice: RwSignal::new(None),
                deleting: RwSignal::new(None),
                read_only: false,
            };
            let job = |command, targets: Value| Job {
                id: 1,
                name: "n".into(),
                command,
                targets: serde_json::from_value(targets).unwrap(),
                due_at: "2026-01-01T00:00:00Z".into(),
                repeat_minutes: None,
                enabled: true,
                created_at: "2026-01-01T00:00:00Z".into(),
                executions: Vec::new(),
            };
            assert_eq!(
                state.targets_text(&job(JobCommand::Reboot, json!([3, 4]))),
                "kiosk (127.0.0.3), device 4"
            );
            assert_eq!(
                state.targets_text(&job(JobCommand::OnlineCheck, json!([]))),
                "every device"
            );
            assert_eq!(
                state.targets_text(&job(JobCommand::Scan, json!(["10.0.0.0/24"]))),
                "10.0.0.0/24"
            );
        });
    }
}

#[cfg(all(test, feature = "ssr"))]
mod rendered {
    use super::*;
    use crate::pages::{enabled_controls, render_for_reader};

    #[test]
    fn a_reader_sees_the_jobs_with_every_control_disabled() {
        let job = Job {
            id: 1,
            name: "Nightly check".into(),
            command: JobCommand::OnlineCheck,
            targets: Vec::new(),
            due_at: "2026-01-01T00:00:00Z".into(),
            repeat_minutes: Some(1440),
            enabled: true,
            created_at: "2026-01-01T00:00:00Z".into(),
            executions: Vec::new(),
        };
        let data = JobsData {
            jobs: vec![job],
            devices: Vec::new(),
        };
        let html = render_for_reader(|| view! { <Jobs data /> });
        for part in [
            "Nightly check",
            "job-1-enabled",
            "Delete Nightly check",
            "job-name",
        ] {
            assert!(html.contains(part), "{part}");
        }
        assert_eq!(enabled_controls(&html), Vec::<&str>::new());
    }
}
