use crate::components::{Draft, NumberField, ReplyPortField, TextField};
use crate::model::{Field, SCAN_TIMEOUT};
use leptos::prelude::*;

#[component]
pub(super) fn ScanSection(draft: Draft) -> impl IntoView {
    view! {
        <section aria-labelledby="scan-title">
            <h2 id="scan-title">"Scan Parameters"</h2>
            <NumberField
                draft
                field=Field::ScanTimeoutMs
                rule=SCAN_TIMEOUT
                get=|d| d.scan.timeout_ms
                set=|d, v| d.scan.timeout_ms = v
            />
            <TextField
                draft
                field=Field::ScanBroadcastIp
                hint="IPv4 broadcast address for scans of the local network; default 255.255.255.255. Scans of IP ranges send to each address instead."
                get=|d| d.scan.broadcast_ip.clone()
                set=|d, v| d.scan.broadcast_ip = v
            />
            <ReplyPortField
                draft
                field=Field::ScanReplyPort
                get=|d| d.scan.reply_port
                set=|d, v| d.scan.reply_port = v
            />
        </section>
    }
}
