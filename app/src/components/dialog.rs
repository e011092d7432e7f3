//! The modal dialog shell.

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;

/// A modal dialog over a backdrop.
#[component]
pub fn Dialog(
    /// `dialog`, or `alertdialog` for a question that interrupts the administrator.
    role: &'static str,
    /// The id of the dialog's title.
    labelled_by: String,
    /// The id of the text that explains the question, if there is one.
    #[prop(optional, into)]
    described_by: Option<String>,
    #[prop(optional, into)] on_key: Option<Callback<KeyboardEvent>>,
    children: Children,
) -> impl IntoView {
    view! {
        <div class="backdrop">
            <div
                class="dialog"
                role=role
                aria-modal="true"
                aria-labelledby=labelled_by
                aria-describedby=described_by
                on:keydown=move |ev| {
                    if let Some(on_key) = on_key {
                        on_key.run(ev);
                    }
                }
            >
                {children()}
            </div>
        </div>
    }
}

/// Moves the keyboard focus into a dialog that just opened, to the element with this id.
pub fn focus_on_open(id: &'static str) {
    Effect::new(move |_| {
        use leptos::wasm_bindgen::JsCast;
        let element = document()
            .get_element_by_id(id)
            .and_then(|element| element.dyn_into::<leptos::web_sys::HtmlElement>().ok());
        if let Some(element) = element {
            let _ = element.focus();
        }
    });
}
