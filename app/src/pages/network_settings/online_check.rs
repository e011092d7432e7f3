use crate::components::{Checkbox, Draft, NumberField, ReplyPortField};
use crate::model::{Field, ONLINE_CHECK_TIMEOUT};
use leptos::prelude::*;

#[component]
pub(super) fn OnlineCheckSection(draft: Draft) -> impl IntoView {
    let off = Signal::derive(move || draft.settings.with(|d| !d.online_check.enabled));
    view! {
        <section aria-labelledby="online-check-title">
            <h2 id="online-check-title">"Online Check Parameters"</h2>
            <p class="help">
                "The server asks every registered device whether it is online; a device that does not answer within the timeout is shown as offline."
            </p>
            <Checkbox
                draft
                field=Field::OnlineCheckEnabled
                label="Check whether devices are online"
                get=|d| d.online_check.enabled
                set=|d, v| d.online_check.enabled = v
            />
            <NumberField
                draft
                field=Field::OnlineCheckResponseTimeoutMs
                rule=ONLINE_CHECK_TIMEOUT
                get=|d| d.online_check.response_timeout_ms
                set=|d, v| d.online_check.response_timeout_ms = v
                disabled=off
            />
            <ReplyPortField
                draft
                field=Field::OnlineCheckReplyPort
                get=|d| d.online_check.reply_port
                set=|d, v| d.online_check.reply_port = v
            />
        </section>
    }
}
