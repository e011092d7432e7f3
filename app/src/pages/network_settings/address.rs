//! The cluster and enrollment address sections: the same shape, shown twice.

use super::address_dialog::AddressDialog;
use crate::components::{Draft, FieldError};
use crate::model::{Field, NetworkSettings, host_port};
use leptos::prelude::*;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum AddressKind {
    Cluster,
    Enrollment,
}

/// Host, port and (enrollment only) path prefix of one of the two addresses.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct AddressValue {
    pub enabled: bool,
    pub host: String,
    pub port: u32,
    pub path_prefix: Option<String>,
}

impl AddressKind {
    fn enabled(self) -> Field {
        match self {
            AddressKind::Cluster => Field::ClusterAddressEnabled,
            AddressKind::Enrollment => Field::EnrollmentAddressEnabled,
        }
    }

    pub(super) fn host(self) -> Field {
        match self {
            AddressKind::Cluster => Field::ClusterAddressHost,
            AddressKind::Enrollment => Field::EnrollmentAddressHost,
        }
    }

    fn port(self) -> Field {
        match self {
            AddressKind::Cluster => Field::ClusterAddressPort,
            AddressKind::Enrollment => Field::EnrollmentAddressPort,
        }
    }

    fn path_prefix(self) -> Option<Field> {
        match self {
            AddressKind::Cluster => None,
            AddressKind::Enrollment => Some(Field::EnrollmentAddressPathPrefix),
        }
    }

    /// The document section, which also prefixes the section's element ids.
    pub(super) fn section(self) -> &'static str {
        self.host().section()
    }

    pub(super) fn get(self, d: &NetworkSettings) -> AddressValue {
        match self {
            AddressKind::Cluster => AddressValue {
                enabled: d.cluster_address.enabled,
                host: d.cluster_address.host.clone(),
                port: d.cluster_address.port,
                path_prefix: None,
            },
            AddressKind::Enrollment => AddressValue {
                enabled: d.enrollment_address.enabled,
                host: d.enrollment_address.host.clone(),
                port: d.enrollment_address.port,
                path_prefix: Some(d.enrollment_address.path_prefix.clone()),
            },
        }
    }

    pub(super) fn set(self, d: &mut NetworkSettings, v: AddressValue) {
        match self {
            AddressKind::Cluster => {
                d.cluster_address.enabled = v.enabled;
                d.cluster_address.host = v.host;
                d.cluster_address.port = v.port;
            }
            AddressKind::Enrollment => {
                d.enrollment_address.enabled = v.enabled;
                d.enrollment_address.host = v.host;
                d.enrollment_address.port = v.port;
                d.enrollment_address.path_prefix = v.path_prefix.unwrap_or_default();
            }
        }
    }
}

#[component]
pub(super) fn AddressSection(draft: Draft, kind: AddressKind) -> impl IntoView {
    let section = kind.section();
    let enabled_id = kind.enabled().dom_id();
    let host_id = kind.host().dom_id();
    let current = Memo::new(move |_| draft.settings.with(|d| kind.get(d)));
    let dialog_open = RwSignal::new(false);
    let shown = move || {
        let v = current.get();
        if v.host.is_empty() {
            "not set".to_owned()
        } else {
            let mut s = host_port(&v.host, v.port);
            if let Some(prefix) = v.path_prefix.filter(|p| !p.is_empty()) {
                s.push_str(&prefix);
            }
            s
        }
    };
    let (title, enable_label, intro, reach_label) = match kind {
        AddressKind::Cluster => (
            "Cluster Address",
            "Enable a common cluster address for all servers",
            "Address and port of the load balancer or reverse proxy in front of all servers. When enabled, devices use it for OS 12 onboarding and communication, OS 12 app downloads and file transfers to OS 11 devices. Without it, each server's public address (if set) or own address is used.",
            "Devices and other external services reach the cluster at",
        ),
        AddressKind::Enrollment => (
            "OS 12 Device Enrollment Address",
            "Use a separate address for OS 12 device enrollment",
            "Separates device onboarding (EST enrollment) from the management WebSocket, for proxies that cannot make client certificates optional. When off, onboarding uses the cluster address.",
            "Devices reach the enrollment service at",
        ),
    };
    view! {
        <section aria-labelledby=format!("{section}-title")>
            <h2 id=format!("{section}-title")>{title}</h2>
            <p class="help">{intro}</p>
            <div class="field checkbox">
                <input
                    type="checkbox"
                    id=enabled_id.clone()
                    prop:checked=move || current.get().enabled
                    checked=current.get_untracked().enabled
                    disabled=draft.read_only
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        draft
                            .edit(|d| {
                                let mut v = kind.get(d);
                                v.enabled = on;
                                kind.set(d, v);
                            });
                    }
                />
                <label for=enabled_id>{enable_label}</label>
            </div>
            <div class="field address">
                <span class="label">{reach_label}</span>
                <output id=format!("{section}-value") class:unset=move || current.get().host.is_empty()>
                    {shown}
                </output>
                <button
                    type="button"
                    id=host_id.clone()
                    aria-describedby=format!("{host_id}-error")
                    aria-haspopup="dialog"
                    disabled=draft.read_only
                    on:click=move |_| dialog_open.set(true)
                >
                    "Set Address…"
                </button>
                <FieldError draft field=kind.host() />
                <FieldError draft field=kind.port() />
                {kind.path_prefix().map(|field| view! { <FieldError draft field /> })}
            </div>
            <Show when=move || dialog_open.get()>
                <AddressDialog draft kind open=dialog_open />
            </Show>
        </section>
    }
}
