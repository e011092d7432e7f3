use crate::components::{Checkbox, Draft, NumberField};
use crate::model::{Field, JOB_EXPIRATION};
use leptos::prelude::*;

#[component]
pub(super) fn ScheduledJobsSection(draft: Draft) -> impl IntoView {
    let never = Signal::derive(move || draft.settings.with(|d| d.scheduled_jobs.never_expire));
    view! {
        <section aria-labelledby="jobs-title">
            <h2 id="jobs-title">"Scheduled Jobs"</h2>
            <Checkbox
                draft
                field=Field::ScheduledJobsNeverExpire
                get=|d| d.scheduled_jobs.never_expire
                set=|d, v| d.scheduled_jobs.never_expire = v
            />
            <NumberField
                draft
                field=Field::ScheduledJobsExpirationMinutes
                rule=JOB_EXPIRATION
                get=|d| d.scheduled_jobs.expiration_minutes
                set=|d, v| d.scheduled_jobs.expiration_minutes = v
                disabled=never
            />
            <p class="help">
                "A job run that has not started within this time after it was due is marked expired and not run."
            </p>
        </section>
    }
}
