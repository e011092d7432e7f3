//! The dialog that sets host, port and path prefix of an address together.

use super::address::{AddressKind, AddressValue};
use crate::components::{Dialog, DialogField, Draft, focus, parse_number};
use crate::model::{check_host, check_path_prefix, check_port};
use leptos::prelude::*;

#[component]
pub(super) fn AddressDialog(
    draft: Draft,
    kind: AddressKind,
    open: RwSignal<bool>,
) -> impl IntoView {
    let start = draft.settings.with_untracked(|d| kind.get(d));
    let has_prefix = start.path_prefix.is_some();
    let host = RwSignal::new(start.host);
    let port = RwSignal::new(start.port.to_string());
    let prefix = RwSignal::new(start.path_prefix.unwrap_or_default());
    let host_error = Signal::derive(move || {
        host.with(|h| match h.trim() {
            "" => Some("enter a host name or IP address".to_owned()),
            h => check_host(h, true).err(),
        })
    });
    let port_error = Signal::derive(move || {
        port.with(|p| match parse_number(p) {
            Ok(n) => check_port(n).err(),
            Err(e) => Some(e.to_owned()),
        })
    });
    let prefix_error = Signal::derive(move || {
        has_prefix
            .then(|| prefix.with(|p| check_path_prefix(p.trim()).err()))
            .flatten()
    });
    let invalid = move || {
        host_error.with(Option::is_some)
            || port_error.with(Option::is_some)
            || prefix_error.with(Option::is_some)
    };
    let close = move || {
        open.set(false);
        focus(kind.host());
    };
    let apply = move || {
        let Ok(port) = parse_number(&port.get_untracked()) else {
            return;
        };
        if invalid() {
            return;
        }
        draft.edit(|d| {
            let enabled = kind.get(d).enabled;
            let value = AddressValue {
                enabled,
                host: host.get_untracked().trim().to_owned(),
                port,
                path_prefix: has_prefix.then(|| prefix.get_untracked().trim().to_owned()),
            };
            kind.set(d, value);
        });
        close();
    };
    let host_input = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = host_input.get() {
            let _ = input.focus();
        }
    });
    let title = match kind {
        AddressKind::Cluster => "Set the cluster address",
        AddressKind::Enrollment => "Set the enrollment address",
    };
    let section = kind.section();
    let id = move |suffix: &str| format!("{section}-dialog-{suffix}");
    let on_key = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
        "Escape" => close(),
        "Enter" => {
            ev.prevent_default();
            apply();
        }
        _ => {}
    };
    view! {
        <Dialog role="dialog" labelled_by=id("title") on_key>
            <h3 id=id("title")>{title}</h3>
            <DialogField
                id=id("host")
                label="FQDN or IP"
                hint="Host name or IPv4/IPv6 address, at most 255 characters"
                value=host
                error=host_error
                node_ref=host_input
            />
            <DialogField
                id=id("port")
                label="Port"
                hint="1 to 65535; default 8443"
                value=port
                error=port_error
            />
            {has_prefix
                .then(|| {
                    view! {
                        <DialogField
                            id=id("prefix")
                            label="Path prefix"
                            hint="Optional, e.g. /device-connector/device/.well-known/est; empty for the standard /.well-known/est"
                            value=prefix
                            error=prefix_error
                        />
                    }
                })}
            <div class="actions">
                <button type="button" class="primary" disabled=invalid on:click=move |_| apply()>
                    "OK"
                </button>
                <button type="button" on:click=move |_| close()>
                    "Cancel"
                </button>
            </div>
        </Dialog>
    }
}
