//! The jobs, each with what it does, when, and what came of its last runs.

use super::JobsState;
use crate::api::{Execution, ExecutionStatus, Job};
use crate::components::{ColumnHeads, NoticeArea, RemoveButton};
use crate::pages::{show_optional_time, show_time};
use leptos::prelude::*;

#[component]
pub(super) fn JobItems(state: JobsState) -> impl IntoView {
    view! {
        <section aria-labelledby="jobs-title">
            <h2 id="jobs-title">"Jobs"</h2>
            <NoticeArea notice=state.notice />
            {move || {
                state
                    .jobs
                    .with(|jobs| {
                        if jobs.is_empty() {
                            view! { <p class="empty">"No jobs are scheduled."</p> }.into_any()
                        } else {
                            view! {
                                <ul class="jobs">
                                    {jobs.iter().map(|job| job_item(state, job.clone())).collect_view()}
                                </ul>
                            }
                                .into_any()
                        }
                    })
            }}
        </section>
    }
    .into_any()
}

fn repeat_text(minutes: Option<u32>) -> String {
    match minutes {
        None => "once".to_owned(),
        Some(1) => "every minute".to_owned(),
        Some(m) => format!("every {m} minutes"),
    }
}

fn job_item(state: JobsState, job: Job) -> impl IntoView {
    let id = job.id;
    let title_id = format!("job-{id}-title");
    let enabled_id = format!("job-{id}-enabled");
    let targets = state.targets_text(&job);
    let toggle = move |ev| {
        let enabled = event_target_checked(&ev);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(super::live::set_enabled(state, id, enabled));
        #[cfg(not(feature = "hydrate"))]
        let _ = enabled;
    };
    let executions = job.executions.clone();
    let name = job.name.clone();
    let delete_label = format!("Delete {name}");
    let (enabled, command, due, repeats) = (
        job.enabled,
        job.command.label(),
        show_time(&job.due_at),
        repeat_text(job.repeat_minutes),
    );
    view! {
        <li class="job" aria-labelledby=format!("job-{id}-title") data-id=id>
            <div class="job-head">
                <h3 id=title_id.clone()>{name}</h3>
                <div class="field checkbox">
                    <input
                        type="checkbox"
                        id=enabled_id.clone()
                        checked=enabled
                        prop:checked=enabled
                        disabled=state.read_only
                        // "Enabled" and the job's name, which tells the boxes of the jobs apart
                        aria-labelledby=format!("{enabled_id}-label {title_id}")
                        on:change=toggle
                    />
                    <label for=enabled_id.clone() id=format!("{enabled_id}-label")>
                        "Enabled"
                    </label>
                </div>
                <RemoveButton
                    pending=state.deleting
                    item=job
                    text="Delete"
                    label=delete_label
                    disabled=state.read_only
                />
            </div>
            <dl class="job-facts">
                <dt>"Command"</dt>
                <dd>{command}</dd>
                <dt>"Targets"</dt>
                <dd>{targets}</dd>
                <dt>"Next due"</dt>
                <dd>{due}</dd>
                <dt>"Repeats"</dt>
                <dd>{repeats}</dd>
            </dl>
            <Executions executions />
        </li>
    }
}

#[component]
fn Executions(executions: Vec<Execution>) -> impl IntoView {
    if executions.is_empty() {
        return view! { <p class="help">"Not run yet."</p> }.into_any();
    }
    let rows = executions
        .into_iter()
        .map(|run| {
            let status = run.status.as_str();
            view! {
                <tr>
                    <td>
                        <span class=format!("badge {status}")>{status}</span>
                    </td>
                    <td>{show_time(&run.due_at)}</td>
                    <td>{show_optional_time(run.started_at.as_deref())}</td>
                    <td>{show_optional_time(run.finished_at.as_deref())}</td>
                    <td>{run.result.unwrap_or_else(|| result_text(run.status).to_owned())}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="executions">
            <caption>"Runs, newest first"</caption>
            <ColumnHeads names=&["Status", "Due", "Started", "Finished", "Result"] />
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

/// What a run without a result of its own says.
fn result_text(status: ExecutionStatus) -> &'static str {
    match status {
        ExecutionStatus::Pending => "waiting for its time",
        ExecutionStatus::Running => "running",
        ExecutionStatus::Expired => "not started in time",
        ExecutionStatus::Done | ExecutionStatus::Failed => "—",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_in_words() {
        assert_eq!(repeat_text(None), "once");
        assert_eq!(repeat_text(Some(1)), "every minute");
        assert_eq!(repeat_text(Some(90)), "every 90 minutes");
    }
}
