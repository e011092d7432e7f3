//! The host names a new certificate is made for: the suggested ones to start with, each one
//! removable, more added one at a time and checked as they are typed.

use crate::components::{FieldMessage, FormErrors};
use crate::model::certificates::hostname;
use leptos::prelude::*;

/// Why `text` cannot be added to `names`, if it cannot; `None` for nothing typed yet.
fn addable(text: &str, names: &[String]) -> Option<Result<String, String>> {
    if text.trim().is_empty() {
        return None;
    }
    Some(hostname(text).and_then(|name| {
        if names.contains(&name) {
            Err(format!("\"{name}\" is in the list already"))
        } else {
            Ok(name)
        }
    }))
}

#[component]
pub(super) fn HostnameList(
    names: RwSignal<Vec<String>>,
    errors: FormErrors,
    /// The field's name in the rules' errors.
    field: &'static str,
) -> impl IntoView {
    let typed = RwSignal::new(String::new());
    let checked = Memo::new(move |_| names.with(|names| addable(&typed.get(), names)));
    let add = move || {
        if let Some(Ok(name)) = checked.get_untracked() {
            names.update(|names| names.push(name));
            typed.set(String::new());
            errors.edit(field);
        }
    };
    let remove = move |name: String| {
        names.update(|names| names.retain(|n| *n != name));
        errors.edit(field);
    };
    let typed_error = move || checked.get().and_then(Result::err);
    view! {
        <fieldset class="hostnames" aria-describedby="signed-hostnames-error">
            <legend>"Host names"</legend>
            <p class="hint">
                "The cluster address, localhost, and every address and name of the servers it is for. Wildcards stand for one leftmost name part (*.example.com)."
            </p>
            <ul class="hostname-list" data-testid="hostnames">
                <For each=move || names.get() key=|name| name.clone() let:name>
                    <li>
                        <span class="hostname">{name.clone()}</span>
                        " "
                        <button
                            type="button"
                            class="small"
                            aria-label=format!("Remove {name}")
                            on:click={
                                let name = name.clone();
                                move |_| remove(name.clone())
                            }
                        >
                            "Remove"
                        </button>
                    </li>
                </For>
            </ul>
            <FieldMessage id="signed-hostnames" errors field />
            <div class="field">
                <label for="signed-new-hostname">"Add a host name"</label>
                <div class="input-row">
                    <input
                        type="text"
                        id="signed-new-hostname"
                        autocomplete="off"
                        spellcheck="false"
                        prop:value=move || typed.get()
                        aria-invalid=move || typed_error().is_some().to_string()
                        aria-describedby="signed-new-hostname-error"
                        on:input=move |ev| typed.set(event_target_value(&ev))
                        on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                            // Enter adds the name rather than sending the form
                            if ev.key() == "Enter" {
                                ev.prevent_default();
                                add();
                            }
                        }
                    />
                    <button
                        type="button"
                        disabled=move || !matches!(checked.get(), Some(Ok(_)))
                        on:click=move |_| add()
                    >
                        "Add"
                    </button>
                </div>
                <p class="field-error" id="signed-new-hostname-error">
                    {typed_error}
                </p>
            </div>
        </fieldset>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_before_they_are_added() {
        let names = vec!["lb.example".to_owned()];
        assert_eq!(addable("  ", &names), None);
        assert_eq!(
            addable("Node-1.Example", &names),
            Some(Ok("node-1.example".to_owned()))
        );
        assert!(addable("LB.example", &names).unwrap().is_err());
        assert!(addable("a.*.example", &names).unwrap().is_err());
    }
}
