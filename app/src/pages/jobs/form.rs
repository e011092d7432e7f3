//! Creating a job, checked as it is typed by the rules the server applies.

use super::JobsState;
use crate::api::{JobCommand, NewJob};
use crate::components::parse_number;
use crate::components::{
    FieldMessage, FormErrors, FormText, RANGES_HINT, RangesField, SendActions, Sending,
};
use crate::model::{FieldError, validate_job};
use crate::pages::device_name;
use crate::pages::{ranges_of, show_time};
use leptos::prelude::*;
use serde_json::Value;
use std::collections::BTreeSet;

/// The form as typed.
#[derive(Clone, Debug, PartialEq)]
struct Typed {
    name: String,
    command: JobCommand,
    devices: BTreeSet<i64>,
    ranges: String,
    /// RFC 3339, once a date and time is chosen.
    due_at: Option<String>,
    repeat: String,
}

/// The job the form describes, or everything wrong with it, by field.
fn read(typed: &Typed) -> Result<NewJob, Vec<FieldError>> {
    let mut errors = Vec::new();
    let repeat_minutes = match typed.repeat.trim() {
        "" => None,
        text => parse_number(text)
            .map_err(|m| errors.push(FieldError::new("repeat_minutes", m)))
            .ok(),
    };
    let targets = if typed.command.targets_ranges() {
        ranges_of(&typed.ranges)
            .into_iter()
            .map(Value::from)
            .collect()
    } else {
        typed.devices.iter().map(|id| Value::from(*id)).collect()
    };
    let job = NewJob {
        name: typed.name.clone(),
        command: typed.command,
        targets,
        due_at: typed.due_at.clone().unwrap_or_default(),
        repeat_minutes,
    };
    for e in validate_job(&job).err().unwrap_or_default() {
        if e.field == "due_at" && typed.due_at.is_none() {
            errors.push(FieldError::new(
                "due_at",
                "choose the date and time it is due",
            ));
        } else if !errors.iter().any(|known| known.field == e.field) {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        Ok(job)
    } else {
        Err(errors)
    }
}

/// The value of an `<input type="datetime-local">` (the reader's local time, such as
/// `2026-11-29T08:00`) in UTC, RFC 3339; the browser knows the reader's time zone.
#[cfg(feature = "hydrate")]
fn local_to_utc(text: &str) -> Option<String> {
    use web_sys::js_sys::Date;
    if text.trim().is_empty() {
        return None;
    }
    let time = Date::new(&leptos::wasm_bindgen::JsValue::from_str(text));
    (!time.get_time().is_nan()).then(|| String::from(time.to_iso_string()))
}

/// The server renders the form empty.
#[cfg(not(feature = "hydrate"))]
fn local_to_utc(_: &str) -> Option<String> {
    None
}

const DUE_HINT: &str = "Your local time; a time in the past runs at once (or expires, per the Scheduled Jobs settings)";

/// The due time as entered (`2026-11-29T08:00`, the reader's local time) and the UTC time it
/// is stored as.
fn due_text(local: &str, utc: &str) -> String {
    format!(
        "{} your local time, that is {}",
        local.trim().replacen('T', " ", 1),
        show_time(utc)
    )
}

#[component]
pub(super) fn JobForm(state: JobsState) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let command = RwSignal::new(JobCommand::OnlineCheck);
    let devices = RwSignal::new(BTreeSet::<i64>::new());
    let ranges = RwSignal::new(String::new());
    let due = RwSignal::new(String::new());
    let repeat = RwSignal::new(String::new());
    let due_at = Memo::new(move |_| due.with(|d| local_to_utc(d)));
    let typed = move || Typed {
        name: name.get(),
        command: command.get(),
        devices: devices.get(),
        ranges: ranges.get(),
        due_at: due_at.get(),
        repeat: repeat.get(),
    };
    let errors = FormErrors::new(move || read(&typed()).err().unwrap_or_default());
    let sending = Sending::new(errors);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(job) = read(&untrack(typed)) else {
            return;
        };
        if !sending.begin() {
            return;
        }
        #[cfg(feature = "hydrate")]
        sending.send(
            async move { crate::client::discovery::add_job(&job).await },
            "The job was not created",
            move |job| {
                sending
                    .notice
                    .set(Some(crate::components::Notice::Success(format!(
                        "The job “{}” is scheduled.",
                        job.name
                    ))));
                name.set(String::new());
                devices.set(BTreeSet::new());
                ranges.set(String::new());
                due.set(String::new());
                repeat.set(String::new());
                errors.reset();
                super::live::reread(state);
            },
        );
        #[cfg(not(feature = "hydrate"))]
        let _ = (job, state);
    };
    let pick_command = move |ev| {
        if let Some(picked) = JobCommand::parse(&event_target_value(&ev)) {
            command.set(picked);
            // what the new command needs shows at once
            errors.edit("targets");
        }
    };
    let due_hint = move || match due_at.get() {
        Some(utc) => due.with(|local| due_text(local, &utc)),
        None => DUE_HINT.to_owned(),
    };
    view! {
        <section aria-labelledby="new-job-title">
            <h2 id="new-job-title">"New job"</h2>
            <form class="new-job" novalidate on:submit=submit>
                <FormText
                    id="job-name"
                    label="Name"
                    hint="For example: Nightly reboot of the kiosks"
                    value=name
                    errors
                    field="name"
                    disabled=state.read_only
                />
                <div class="field">
                    <label for="job-command">"Command"</label>
                    <select
                        id="job-command"
                        name="command"
                        prop:value=move || command.get().as_str()
                        disabled=state.read_only
                        on:change=pick_command
                    >
                        {JobCommand::ALL
                            .into_iter()
                            .map(|c| {
                                view! {
                                    <option value=c.as_str() selected={c == JobCommand::OnlineCheck}>
                                        {c.label()}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </div>
                {move || {
                    if command.get().targets_ranges() {
                        view! {
                            <RangesField
                                id="job-ranges"
                                label="Ranges to scan, one per line"
                                hint=RANGES_HINT.to_owned()
                                value=ranges
                                errors
                                field="targets"
                                message_id="job-targets"
                                disabled=state.read_only
                            />
                        }
                            .into_any()
                    } else {
                        view! { <DeviceTargets state command chosen=devices errors /> }.into_any()
                    }
                }}
                <div class="field">
                    <label for="job-due">"Due"</label>
                    <input
                        type="datetime-local"
                        id="job-due"
                        name="due_at"
                        prop:value=move || due.get()
                        disabled=state.read_only
                        aria-invalid=move || errors.invalid("due_at")
                        aria-describedby="job-due-hint job-due-error"
                        on:input=move |ev| {
                            due.set(event_target_value(&ev));
                            errors.edit("due_at");
                        }
                    />
                    <p class="hint" id="job-due-hint">
                        {due_hint}
                    </p>
                    <FieldMessage id="job-due" errors field="due_at" />
                </div>
                <FormText
                    id="job-repeat"
                    label="Repeat every (minutes)"
                    hint="Optional: empty runs the job once"
                    value=repeat
                    errors
                    field="repeat_minutes"
                    input_mode="numeric"
                    disabled=state.read_only
                />
                <SendActions
                    sending
                    label="Schedule job"
                    busy="Scheduling…"
                    held=state.read_only
                />
            </form>
        </section>
    }
    .into_any()
}

#[component]
fn DeviceTargets(
    state: JobsState,
    command: RwSignal<JobCommand>,
    chosen: RwSignal<BTreeSet<i64>>,
    errors: FormErrors,
) -> impl IntoView {
    let hint = move || {
        if command.get() == JobCommand::OnlineCheck {
            "None chosen: every device"
        } else {
            "Choose one or more"
        }
    };
    let choice = move |device: &crate::api::Device| {
        let id = device.id;
        view! {
            <label>
                <input
                    type="checkbox"
                    id=format!("job-device-{id}")
                    prop:checked=move || chosen.with(|c| c.contains(&id))
                    disabled=state.read_only
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        chosen
                            .update(|c| {
                                if on {
                                    c.insert(id);
                                } else {
                                    c.remove(&id);
                                }
                            });
                        errors.edit("targets");
                    }
                />
                {device_name(device)}
            </label>
        }
    };
    view! {
        <fieldset class="field" aria-describedby="job-devices-hint job-targets-error">
            <legend>"Devices"</legend>
            {move || {
                state
                    .devices
                    .with(|devices| {
                        if devices.is_empty() {
                            view! {
                                <p class="empty">
                                    "No devices are registered yet: " <a href=crate::url("/scans")>"scan for them"</a>
                                    " first."
                                </p>
                            }
                                .into_any()
                        } else {
                            view! {
                                <div class="choices">{devices.iter().map(choice).collect_view()}</div>
                            }
                                .into_any()
                        }
                    })
            }}
            <p class="hint" id="job-devices-hint">
                {hint}
            </p>
            <FieldMessage id="job-targets" errors field="targets" />
        </fieldset>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed() -> Typed {
        Typed {
            name: "Nightly".into(),
            command: JobCommand::OnlineCheck,
            devices: BTreeSet::new(),
            ranges: String::new(),
            due_at: Some("2026-11-29T08:00:00.000Z".into()),
            repeat: String::new(),
        }
    }

    fn fields(typed: Typed) -> Vec<String> {
        read(&typed)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn a_job_as_typed() {
        let job = read(&typed()).unwrap();
        assert_eq!((job.targets.len(), job.repeat_minutes), (0, None));
        let mut scan = typed();
        scan.command = JobCommand::Scan;
        scan.ranges = "10.0.0.0/24\n\n10.0.1.1".into();
        scan.repeat = " 60 ".into();
        let job = read(&scan).unwrap();
        assert_eq!(
            job.targets,
            [Value::from("10.0.0.0/24"), Value::from("10.0.1.1")]
        );
        assert_eq!(job.repeat_minutes, Some(60));
        let mut reboot = typed();
        reboot.command = JobCommand::Reboot;
        reboot.devices = [4, 2].into();
        reboot.ranges = "ignored".into();
        assert_eq!(
            read(&reboot).unwrap().targets,
            [Value::from(2), Value::from(4)]
        );
    }

    #[test]
    fn due_time_as_entered_and_in_utc() {
        assert_eq!(
            due_text("2026-11-29T08:00", "2026-11-29T02:15:00.000Z"),
            "2026-11-29 08:00 your local time, that is 2026-11-29 02:15:00 UTC"
        );
    }

    #[test]
    fn what_is_wrong_by_field() {
        let mut t = typed();
        t.due_at = None;
        t.repeat = "often".into();
        t.name = " ".into();
        assert_eq!(fields(t.clone()), ["repeat_minutes", "name", "due_at"]);
        let messages: Vec<String> = read(&t)
            .unwrap_err()
            .into_iter()
            .map(|e| e.message)
            .collect();
        assert_eq!(
            messages,
            [
                "must be a whole number",
                "give the job a name",
                "choose the date and time it is due"
            ]
        );
        t = typed();
        t.repeat = "0".into();
        t.command = JobCommand::WakeOnLan;
        assert_eq!(fields(t), ["targets", "repeat_minutes"]);
    }
}
