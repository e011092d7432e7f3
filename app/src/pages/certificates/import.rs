//! Importing a certificate with its key: PEM pasted or read from files, or a PKCS#12 file.

use super::CertificatesState;
use crate::api::{ImportCertificate, NewRoot};
use crate::components::{FormErrors, FormText, SendActions, Sending};
use crate::model::FieldError;
use leptos::html;
use leptos::prelude::*;

/// A PEM text typed or pasted: what is wrong with it, if anything (nothing typed is wrong only
/// if the text is `required`).
fn pem_error(text: &str, label: &str, field: &'static str, required: bool) -> Option<FieldError> {
    let text = text.trim();
    let message = if text.is_empty() {
        if !required {
            return None;
        }
        format!("paste the {label} in PEM")
    } else if !text.starts_with("-----BEGIN ") {
        format!("the {label} is not PEM: it starts with -----BEGIN …-----")
    } else {
        return None;
    };
    Some(FieldError::new(field, message))
}

#[component]
fn PemField(
    id: &'static str,
    label: &'static str,
    hint: &'static str,
    value: RwSignal<String>,
    errors: FormErrors,
    field: &'static str,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <textarea
                id=id
                name=field
                rows="6"
                spellcheck="false"
                class="pem"
                prop:value=move || value.get()
                aria-invalid=move || errors.invalid(field)
                aria-describedby=format!("{id}-hint {id}-error")
                on:input=move |ev| {
                    value.set(event_target_value(&ev));
                    errors.edit(field);
                }
            ></textarea>
            <p class="hint" id=format!("{id}-hint")>{hint}</p>
            <crate::components::FieldMessage id errors field />
        </div>
    }
}

/// Importing a certificate with its key: PEM texts, or a PKCS#12 file with its password.
#[component]
pub(super) fn ImportForm(state: CertificatesState) -> impl IntoView {
    view! {
        <section aria-labelledby="import-title">
            <h2 id="import-title">"Import"</h2>
            <p class="help">
                "A CA or a server certificate with its private key. Pharos checks that the chain is complete, that the key matches, that it is valid now and not in the list yet."
            </p>
            <PemImport state />
            <P12Import state />
        </section>
    }
}

#[component]
fn PemImport(state: CertificatesState) -> impl IntoView {
    let cert = RwSignal::new(String::new());
    let key = RwSignal::new(String::new());
    let errors = FormErrors::new(move || {
        let mut errors = Vec::new();
        errors.extend(pem_error(
            &cert.get(),
            "certificate",
            "import.cert_pem",
            true,
        ));
        errors.extend(pem_error(
            &key.get(),
            "private key",
            "import.key_pem",
            false,
        ));
        errors
    });
    let sending = Sending::new(errors);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !sending.begin() {
            return;
        }
        let request = NewRoot::Import(ImportCertificate {
            cert_pem: Some(cert.get_untracked()),
            key_pem: Some(key.get_untracked()).filter(|k| !k.trim().is_empty()),
            ..Default::default()
        });
        #[cfg(feature = "hydrate")]
        super::live::send(
            sending,
            async move { crate::client::certificates::add_root(&request).await },
            "The certificate was not imported",
            move |_| {
                cert.set(String::new());
                key.set(String::new());
                errors.reset();
                sending.notice.set(Some(crate::components::Notice::Success(
                    "The certificate was imported.".to_owned(),
                )));
                super::live::reread(state);
            },
        );
        #[cfg(not(feature = "hydrate"))]
        let _ = (request, state);
    };
    view! {
        <form class="import-pem" novalidate on:submit=submit aria-label="Import PEM">
            <h3>"PEM"</h3>
            <div class="field-row">
                <PemField
                    id="import-cert"
                    label="Certificate"
                    hint="The certificate first, then the issuers it needs that are not in the list yet"
                    value=cert
                    errors
                    field="import.cert_pem"
                />
                <PemField
                    id="import-key"
                    label="Private key"
                    hint="-----BEGIN PRIVATE KEY----- (PKCS#8), or an RSA or EC key; empty for a CA whose key stays elsewhere"
                    value=key
                    errors
                    field="import.key_pem"
                />
            </div>
            <SendActions sending label="Import PEM" busy="Importing…" />
        </form>
    }
}

#[component]
fn P12Import(state: CertificatesState) -> impl IntoView {
    let picker = NodeRef::<html::Input>::new();
    let file_name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let errors = FormErrors::new(move || {
        if file_name.with(String::is_empty) {
            vec![FieldError::new(
                "import.p12_base64",
                "choose a PKCS#12 file (.p12, .pfx)",
            )]
        } else {
            Vec::new()
        }
    });
    let sending = Sending::new(errors);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !sending.begin() {
            return;
        }
        #[cfg(feature = "hydrate")]
        {
            let password = password.get_untracked();
            super::live::send(
                sending,
                super::live::import_p12(picker, password),
                "The PKCS#12 file was not imported",
                move |_| {
                    clear_file(picker, file_name);
                    errors.reset();
                    sending.notice.set(Some(crate::components::Notice::Success(
                        "The PKCS#12 file was imported.".to_owned(),
                    )));
                    super::live::reread(state);
                },
            );
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = state;
    };
    view! {
        <form class="import-p12" novalidate on:submit=submit aria-label="Import PKCS#12">
            <h3>"PKCS#12"</h3>
            <div class="field-row">
                <div class="field">
                    <label for="import-p12">"PKCS#12 file"</label>
                    <input
                        type="file"
                        id="import-p12"
                        accept=".p12,.pfx,application/x-pkcs12"
                        node_ref=picker
                        aria-invalid=move || errors.invalid("import.p12_base64")
                        aria-describedby="import-p12-error"
                        on:change=move |ev| {
                            file_name.set(event_target_value(&ev));
                            errors.edit("import.p12_base64");
                        }
                    />
                    <crate::components::FieldMessage
                        id="import-p12"
                        errors
                        field="import.p12_base64"
                    />
                </div>
                <FormText
                    id="import-p12-password"
                    label="Password"
                    hint="The file's password (empty if it has none)"
                    value=password
                    errors
                    field="import.password"
                    input_type="password"
                    autocomplete="off"
                />
            </div>
            <SendActions sending label="Import PKCS#12" busy="Importing…" />
        </form>
    }
}

/// Empties the file choice after an import.
#[cfg(feature = "hydrate")]
fn clear_file(picker: NodeRef<html::Input>, file_name: RwSignal<String>) {
    if let Some(input) = picker.get_untracked() {
        input.set_value("");
    }
    file_name.set(String::new());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_is_recognised() {
        assert!(pem_error("-----BEGIN CERTIFICATE-----\n…", "c", "f", true).is_none());
        assert!(pem_error("", "c", "f", true).is_some());
        assert!(pem_error("", "c", "f", false).is_none());
        assert!(pem_error("MIIB…", "c", "f", false).is_some());
    }
}
