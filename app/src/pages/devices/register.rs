//! Registering a device by its address, for one that scans do not reach.

use super::Devices;
use crate::api::NewDevice;
use crate::components::{FormErrors, FormText, SendActions, Sending};
use crate::model::validate_device;
use leptos::prelude::*;

#[component]
pub(super) fn RegisterForm(state: Devices) -> impl IntoView {
    let ip = RwSignal::new(String::new());
    let hostname = RwSignal::new(String::new());
    let mac = RwSignal::new(String::new());
    let device = move || {
        let optional = |text: String| Some(text).filter(|t| !t.trim().is_empty());
        NewDevice {
            ip: ip.get(),
            hostname: optional(hostname.get()),
            mac: optional(mac.get()),
        }
    };
    let errors = FormErrors::new(move || validate_device(&device()).err().unwrap_or_default());
    let sending = Sending::new(errors);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !sending.begin() {
            return;
        }
        let device = untrack(device);
        #[cfg(feature = "hydrate")]
        sending.send(
            async move { crate::client::discovery::add_device(&device).await },
            "The device was not registered",
            move |device| {
                for field in [ip, hostname, mac] {
                    field.set(String::new());
                }
                errors.reset();
                sending
                    .notice
                    .set(Some(crate::components::Notice::Success(format!(
                        "{} is registered.",
                        device.ip
                    ))));
                super::live::reread(state);
            },
        );
        #[cfg(not(feature = "hydrate"))]
        let _ = (device, state);
    };
    view! {
        <section aria-labelledby="register-title">
            <h2 id="register-title">"Register by address"</h2>
            <p class="help">
                "For a device that scans do not reach (behind a router, say). The online check asks it for its status, MAC address and name."
            </p>
            <form class="register" novalidate on:submit=submit>
                <div class="field-row">
                    <FormText
                        id="register-ip"
                        label="IP address"
                        hint="IPv4, like 192.168.1.20"
                        value=ip
                        errors
                        field="ip"
                        disabled=state.read_only
                    />
                    <FormText
                        id="register-hostname"
                        label="Host name"
                        hint="Optional"
                        value=hostname
                        errors
                        field="hostname"
                        disabled=state.read_only
                    />
                    <FormText
                        id="register-mac"
                        label="MAC address"
                        hint="Optional, like 00:11:22:aa:bb:cc"
                        value=mac
                        errors
                        field="mac"
                        disabled=state.read_only
                    />
                </div>
                <SendActions
                    sending
                    label="Register"
                    busy="Registering…"
                    held=state.read_only
                />
            </form>
        </section>
    }
    .into_any()
}
