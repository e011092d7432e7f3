//! Starting a scan: a broadcast on the local network, or address ranges.

use super::Scans;
use crate::api::NewScan;
use crate::components::{FormErrors, RANGES_HINT, RangesField, SendActions, Sending};
use crate::model::{AddressRange, MAX_SCAN_ADDRESSES, ScanTarget, validate_scan};
use crate::pages::ranges_of;
use leptos::prelude::*;

fn addresses_text(ranges: &[AddressRange]) -> String {
    let n: u64 = ranges.iter().map(AddressRange::len).sum();
    format!("{n} address{}", if n == 1 { "" } else { "es" })
}

#[component]
pub(super) fn StartForm(scans: Scans) -> impl IntoView {
    let broadcast = RwSignal::new(false);
    let text = RwSignal::new(String::new());
    let request = move || NewScan {
        broadcast: broadcast.get(),
        ranges: if broadcast.get() {
            Vec::new()
        } else {
            text.with(|t| ranges_of(t))
        },
    };
    let checked = Memo::new(move |_| validate_scan(&request()));
    let errors = FormErrors::new(move || checked.get().err().unwrap_or_default());
    let count = move || match checked.get() {
        Ok(ScanTarget::Ranges(ranges)) => addresses_text(&ranges),
        _ => String::new(),
    };
    let sending = Sending::new(errors);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !sending.begin() {
            return;
        }
        let request = untrack(request);
        #[cfg(feature = "hydrate")]
        sending.send(
            async move { crate::client::discovery::start_scan(&request).await },
            "The scan did not start",
            move |started| scans.open(started.id),
        );
        #[cfg(not(feature = "hydrate"))]
        let _ = request;
    };
    let pick = move |on: bool| {
        move |_| {
            broadcast.set(on);
            errors.edit("ranges");
        }
    };
    view! {
        <section aria-labelledby="start-title">
            <h2 id="start-title">"Start a scan"</h2>
            <form class="start-scan" novalidate on:submit=submit>
                <fieldset class="field">
                    <legend>"What to scan"</legend>
                    <label>
                        <input
                            type="radio"
                            name="scan-kind"
                            id="scan-kind-ranges"
                            prop:checked=move || !broadcast.get()
                            checked=true
                            disabled=scans.read_only
                            on:change=pick(false)
                        />
                        "Address ranges"
                    </label>
                    <label>
                        <input
                            type="radio"
                            name="scan-kind"
                            id="scan-kind-broadcast"
                            prop:checked=move || broadcast.get()
                            disabled=scans.read_only
                            on:change=pick(true)
                        />
                        "Broadcast on the local network"
                    </label>
                </fieldset>
                <p class="help">
                    {move || {
                        if broadcast.get() {
                            "One datagram to the broadcast address of the Scan Parameters (Server Network Settings): the devices on this network segment answer."
                        } else {
                            "A datagram to every address of the ranges, for devices beyond this network segment too."
                        }
                    }}
                </p>
                <RangesField
                    id="scan-ranges"
                    label="Ranges, one per line"
                    hint=format!("{RANGES_HINT}; at most {MAX_SCAN_ADDRESSES} addresses in all")
                    value=text
                    errors
                    field="ranges"
                    disabled=Signal::derive(move || scans.read_only || broadcast.get())
                    count=Signal::derive(count)
                />
                <SendActions
                    sending
                    label="Start scan"
                    busy="Starting…"
                    held=Signal::derive(move || scans.read_only || scans.running())
                />
            </form>
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse_ranges;

    #[test]
    fn addresses_counted() {
        let ranges = ranges_of("127.88.0.1-127.88.0.40\n10.0.0.0/30");
        assert_eq!(
            addresses_text(&parse_ranges(&ranges).unwrap()),
            "42 addresses"
        );
        assert_eq!(
            addresses_text(&parse_ranges(&["10.0.0.1".into()]).unwrap()),
            "1 address"
        );
    }
}
