//! The dialogs of a certificate's row: which servers present it, and the password of its
//! PKCS#12 export.

use super::CertificatesState;
use crate::api::{Servers, WebCertificate};
use crate::components::{Dialog, FormErrors, FormText, SendActions, Sending, focus_on_open};
use crate::model::FieldError;
use crate::model::certificates::p12_password;
use leptos::prelude::*;

/// While `state.assigning` holds a certificate, asks which servers are to present it.
#[component]
pub(super) fn AssignDialog(state: CertificatesState) -> impl IntoView {
    move || {
        state
            .assigning
            .get()
            .map(|cert| view! { <AssignForm state cert /> })
    }
}

#[component]
fn AssignForm(state: CertificatesState, cert: WebCertificate) -> impl IntoView {
    let servers = RwSignal::new(String::from("all"));
    let errors = FormErrors::new(Vec::new);
    let sending = Sending::new(errors);
    let close = move || state.assigning.set(None);
    focus_on_open("assign-servers");
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            close();
        }
    };
    let name = super::short_name(&cert);
    let fingerprint = cert.fingerprint_sha256.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !sending.begin() {
            return;
        }
        let chosen = match servers.get_untracked().as_str() {
            "all" => Servers::ALL,
            id => Servers::Some(vec![id.to_owned()]),
        };
        #[cfg(feature = "hydrate")]
        {
            let fingerprint = fingerprint.clone();
            let name = name.clone();
            let all = chosen == Servers::ALL;
            super::live::send(
                sending,
                async move { crate::client::certificates::assign(&fingerprint, chosen).await },
                "The certificate was not assigned",
                move |()| {
                    let whom = if all { "every server" } else { "the server" };
                    state
                        .notice
                        .set(Some(crate::components::Notice::Success(format!(
                            "{name} is assigned: {whom} presents it on new connections."
                        ))));
                    close();
                    super::live::reread(state);
                },
            );
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (chosen, &fingerprint, &name);
    };
    let options = state.list.with_untracked(|list| {
        list.servers
            .iter()
            .map(|server| {
                view! { <option value=server.id.clone()>{server.name.clone()}</option> }
            })
            .collect_view()
    });
    view! {
        <Dialog role="dialog" labelled_by="assign-title".to_owned() on_key>
            <h3 id="assign-title">{format!("Assign {}", super::short_name(&cert))}</h3>
            <form class="assign" novalidate on:submit=submit>
                <div class="field">
                    <label for="assign-servers">"Servers that present it"</label>
                    <select
                        id="assign-servers"
                        on:change=move |ev| servers.set(event_target_value(&ev))
                    >
                        <option value="all" selected>
                            "All servers (also those that join later)"
                        </option>
                        {options}
                    </select>
                </div>
                <SendActions sending label="Assign" busy="Assigning…" />
                <div class="actions">
                    <button type="button" on:click=move |_| close()>
                        "Cancel"
                    </button>
                </div>
            </form>
        </Dialog>
    }
}

/// While `state.exporting` holds a certificate, asks for the password of its PKCS#12 export
/// (certificate, chain and private key) and downloads it.
#[component]
pub(super) fn P12Dialog(state: CertificatesState) -> impl IntoView {
    move || {
        state
            .exporting
            .get()
            .map(|cert| view! { <P12Form state cert /> })
    }
}

#[component]
fn P12Form(state: CertificatesState, cert: WebCertificate) -> impl IntoView {
    let password = RwSignal::new(String::new());
    let errors = FormErrors::new(move || match p12_password(&password.get()) {
        Ok(()) => Vec::new(),
        Err(e) => vec![FieldError::new("password", e)],
    });
    let sending = Sending::new(errors);
    let close = move || state.exporting.set(None);
    focus_on_open("p12-password");
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            close();
        }
    };
    let fingerprint = cert.fingerprint_sha256.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !sending.begin() {
            return;
        }
        let password = password.get_untracked();
        #[cfg(feature = "hydrate")]
        {
            let fingerprint = fingerprint.clone();
            let file = format!("{}.p12", &fingerprint[..16.min(fingerprint.len())]);
            super::live::send(
                sending,
                async move { crate::client::certificates::export_p12(&fingerprint, password).await },
                "The PKCS#12 file was not exported",
                move |bytes| {
                    crate::client::save_file(&bytes, "application/x-pkcs12", &file);
                    state
                        .notice
                        .set(Some(crate::components::Notice::Success(format!(
                            "{file} holds the certificate, its chain and its key."
                        ))));
                    close();
                },
            );
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (password, &fingerprint);
    };
    view! {
        <Dialog role="dialog" labelled_by="p12-title".to_owned() on_key>
            <h3 id="p12-title">{format!("Export {} with its key", super::short_name(&cert))}</h3>
            <p>
                "A PKCS#12 file holds the certificate, its chain and its private key, protected by this password. The export is recorded in the audit log."
            </p>
            <form class="p12" novalidate on:submit=submit>
                <FormText
                    id="p12-password"
                    label="Password"
                    hint="At least 8 characters; whoever opens the file needs it"
                    value=password
                    errors
                    field="password"
                    input_type="password"
                    autocomplete="new-password"
                />
                <SendActions sending label="Export PKCS#12" busy="Exporting…" />
                <div class="actions">
                    <button type="button" on:click=move |_| close()>
                        "Cancel"
                    </button>
                </div>
            </form>
        </Dialog>
    }
}
