//! Making certificates: a server certificate signed by a CA of the list, a generated root (or
//! intermediate). Importing one is in `import.rs`.

use super::CertificatesState;
use super::hostnames::HostnameList;
use crate::api::{GenerateRoot, NewRoot, NewSigned, Servers};
use crate::components::{FormErrors, FormText, SendActions, Sending, parse_number};
use crate::model::FieldError;
use crate::model::certificates::{
    KeyAlgorithm, LEAF_DEFAULT_DAYS, LEAF_MAX_DAYS, ROOT_DEFAULT_DAYS, ROOT_MAX_DAYS,
    certificate_name, hostnames, validity_days,
};
use leptos::prelude::*;

/// The days typed into a validity field, checked against the longest allowed.
fn days_error(text: &str, max: u32, field: &'static str) -> Option<FieldError> {
    let message = match parse_number(text) {
        Ok(days) => validity_days(days, max).err()?,
        Err(e) => format!("the validity {e}"),
    };
    Some(FieldError::new(field, message))
}

/// The value of the select or input an event came from.
fn chosen(ev: &leptos::ev::Event) -> String {
    event_target_value(ev)
}

#[component]
fn AlgorithmSelect(id: &'static str, value: RwSignal<KeyAlgorithm>) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>"Key algorithm"</label>
            <select
                id=id
                on:change=move |ev| {
                    if let Some(algorithm) = KeyAlgorithm::parse(&chosen(&ev)) {
                        value.set(algorithm);
                    }
                }
            >
                {KeyAlgorithm::ALL
                    .into_iter()
                    .map(|a| {
                        view! {
                            <option value=a.as_str() selected=move || value.get() == a>
                                {a.label()}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        </div>
    }
}

/// A select of the CAs that can sign (their key is here); `none` is the first choice's label,
/// if an empty choice is allowed.
#[component]
fn IssuerSelect(
    state: CertificatesState,
    id: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    #[prop(optional)] none: Option<&'static str>,
) -> impl IntoView {
    let options = move || {
        let cas = state.signing_cas();
        let none = none.map(|none| {
            view! {
                <option value="" selected=move || value.get().is_empty()>
                    {none}
                </option>
            }
        });
        let cas = cas
            .into_iter()
            .map(|ca| {
                let fp = ca.fingerprint_sha256.clone();
                let selected = {
                    let fp = fp.clone();
                    move || value.get() == fp
                };
                view! {
                    <option value=fp selected=selected>
                        {super::short_name(&ca)}
                    </option>
                }
            })
            .collect_view();
        view! {
            {none}
            {cas}
        }
    };
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <select id=id on:change=move |ev| value.set(chosen(&ev))>
                {options}
            </select>
        </div>
    }
}

/// "Create signed certificate": one server certificate, for one server or for all of them.
#[component]
pub(super) fn SignedForm(state: CertificatesState) -> impl IntoView {
    let first_ca = || {
        state
            .signing_cas()
            .first()
            .map(|ca| ca.fingerprint_sha256.clone())
    };
    let issuer = RwSignal::new(first_ca().unwrap_or_default());
    // a CA that appears (or goes) while nothing valid is chosen becomes the choice
    Effect::new(move |_| {
        let cas = state.signing_cas();
        if !cas
            .iter()
            .any(|ca| issuer.with_untracked(|i| *i == ca.fingerprint_sha256))
        {
            issuer.set(
                cas.first()
                    .map(|ca| ca.fingerprint_sha256.clone())
                    .unwrap_or_default(),
            );
        }
    });
    let servers = RwSignal::new(String::from("all"));
    // the names start as those of the chosen servers, and start again when the choice changes
    let suggested = move |servers: &str| {
        state.list.with_untracked(|l| match servers {
            "all" => l.suggested_hostnames.clone(),
            id => l
                .suggested_for_server
                .get(id)
                .cloned()
                .unwrap_or_else(|| l.suggested_hostnames.clone()),
        })
    };
    let names = RwSignal::new(suggested("all"));
    Effect::new(move |previous: Option<String>| {
        let chosen = servers.get();
        if previous.is_some_and(|p| p != chosen) {
            names.set(suggested(&chosen));
        }
        chosen
    });
    let days = RwSignal::new(LEAF_DEFAULT_DAYS.to_string());
    let algorithm = RwSignal::new(KeyAlgorithm::default());
    let assign = RwSignal::new(false);
    let errors = FormErrors::new(move || {
        let mut errors = Vec::new();
        if issuer.with(String::is_empty) {
            errors.push(FieldError::new(
                "issuer",
                "no CA with its key is in the list: generate or import one first",
            ));
        }
        if let Err(e) = names.with(|names| hostnames(names)) {
            errors.push(FieldError::new("hostnames", e));
        }
        errors.extend(days_error(&days.get(), LEAF_MAX_DAYS, "validity_days"));
        errors
    });
    let sending = Sending::new(errors);
    let request = move || NewSigned {
        issuer: issuer.get(),
        servers: match servers.get().as_str() {
            "all" => Servers::ALL,
            id => Servers::Some(vec![id.to_owned()]),
        },
        hostnames: names.get(),
        validity_days: parse_number(&days.get()).ok(),
        algorithm: algorithm.get(),
        assign: assign.get(),
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !sending.begin() {
            return;
        }
        let request = untrack(request);
        #[cfg(feature = "hydrate")]
        let assigns = request.assign;
        #[cfg(feature = "hydrate")]
        super::live::send(
            sending,
            async move { crate::client::certificates::add_signed(&request).await },
            "The certificate was not created",
            move |created| {
                errors.reset();
                let assigned = if assigns {
                    " and assigned"
                } else {
                    ": assign it to the servers that are to present it"
                };
                sending
                    .notice
                    .set(Some(crate::components::Notice::Success(format!(
                        "The certificate {}… was created{assigned}.",
                        &created.fingerprint_sha256[..12.min(created.fingerprint_sha256.len())]
                    ))));
                super::live::reread(state);
            },
        );
        #[cfg(not(feature = "hydrate"))]
        let _ = request;
    };
    let server_options = move || {
        state.list.with(|list| {
            list.servers
                .iter()
                .map(|server| {
                    let id = server.id.clone();
                    let selected = {
                        let id = id.clone();
                        move || servers.get() == id
                    };
                    view! {
                        <option value=id selected=selected>
                            {server.name.clone()}
                        </option>
                    }
                })
                .collect_view()
        })
    };
    view! {
        <section aria-labelledby="signed-title">
            <h2 id="signed-title">"Create signed certificate"</h2>
            <p class="help">
                "One server certificate from a CA of the list: for one server, or one for all servers (what a cluster address needs)."
            </p>
            <form class="signed" novalidate on:submit=submit>
                <div class="field-row">
                    <IssuerSelect state id="signed-issuer" label="Issuer" value=issuer />
                    <div class="field">
                        <label for="signed-servers">"For"</label>
                        <select id="signed-servers" on:change=move |ev| servers.set(chosen(&ev))>
                            <option value="all" selected=move || servers.get() == "all">
                                "All servers"
                            </option>
                            {server_options}
                        </select>
                    </div>
                    <AlgorithmSelect id="signed-algorithm" value=algorithm />
                    <FormText
                        id="signed-days"
                        label="Validity (days)"
                        hint="Default one year; never beyond the issuer's end"
                        value=days
                        errors
                        field="validity_days"
                        input_mode="numeric"
                    />
                </div>
                <HostnameList names errors field="hostnames" />
                <div class="actions">
                    <button
                        type="button"
                        on:click=move |_| {
                            names.set(suggested(&servers.get_untracked()));
                            errors.edit("hostnames");
                        }
                    >
                        "Suggested names again"
                    </button>
                </div>
                <div class="field checkbox">
                    <input
                        type="checkbox"
                        id="signed-assign"
                        prop:checked=move || assign.get()
                        on:change=move |ev| assign.set(event_target_checked(&ev))
                    />
                    <label for="signed-assign">"Assign it to these servers at once"</label>
                </div>
                <p class="field-error" id="signed-issuer-error">
                    {move || errors.message("issuer")}
                </p>
                <SendActions sending label="Create certificate" busy="Creating…" />
            </form>
        </section>
    }
    .into_any()
}

/// Generating a root CA, or an intermediate under a CA of the list.
#[component]
pub(super) fn GenerateForm(state: CertificatesState) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let days = RwSignal::new(ROOT_DEFAULT_DAYS.to_string());
    let algorithm = RwSignal::new(KeyAlgorithm::default());
    let issuer = RwSignal::new(String::new());
    let errors = FormErrors::new(move || {
        let mut errors = Vec::new();
        if let Err(e) = certificate_name(&name.get()) {
            errors.push(FieldError::new("generate.name", e));
        }
        errors.extend(days_error(
            &days.get(),
            ROOT_MAX_DAYS,
            "generate.validity_days",
        ));
        errors
    });
    let sending = Sending::new(errors);
    let request = move || {
        NewRoot::Generate(GenerateRoot {
            algorithm: algorithm.get(),
            name: name.get(),
            validity_days: parse_number(&days.get()).ok(),
            issuer: Some(issuer.get()).filter(|i| !i.is_empty()),
        })
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !sending.begin() {
            return;
        }
        let request = untrack(request);
        #[cfg(feature = "hydrate")]
        {
            let made = name.get_untracked();
            super::live::send(
                sending,
                async move { crate::client::certificates::add_root(&request).await },
                "The CA was not created",
                move |_| {
                    name.set(String::new());
                    errors.reset();
                    sending
                        .notice
                        .set(Some(crate::components::Notice::Success(format!(
                            "The CA “{}” was created.",
                            made.trim()
                        ))));
                    super::live::reread(state);
                },
            );
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = request;
    };
    view! {
        <section aria-labelledby="generate-title">
            <h2 id="generate-title">"Generate a CA"</h2>
            <p class="help">
                "A root CA (or an intermediate under a CA of the list) that signs server certificates. Its key stays on the server, sealed."
            </p>
            <form class="generate" novalidate on:submit=submit>
                <div class="field-row">
                    <FormText
                        id="generate-name"
                        label="Name"
                        hint="Its subject's common name"
                        value=name
                        errors
                        field="generate.name"
                        autocomplete="off"
                    />
                    <AlgorithmSelect id="generate-algorithm" value=algorithm />
                    <FormText
                        id="generate-days"
                        label="Validity (days)"
                        hint="Default 20 years (7300 days)"
                        value=days
                        errors
                        field="generate.validity_days"
                        input_mode="numeric"
                    />
                    <IssuerSelect
                        state
                        id="generate-issuer"
                        label="Signed by"
                        value=issuer
                        none="Itself (a root CA)"
                    />
                </div>
                <SendActions sending label="Generate CA" busy="Generating…" />
            </form>
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_is_read_and_bounded() {
        assert!(days_error("365", LEAF_MAX_DAYS, "d").is_none());
        assert!(days_error("0", LEAF_MAX_DAYS, "d").is_some());
        assert!(days_error("abc", LEAF_MAX_DAYS, "d").is_some());
        assert!(days_error("99999", LEAF_MAX_DAYS, "d").is_some());
    }
}
