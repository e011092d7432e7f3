//! Asking before something is removed for good.

use super::Dialog;
use leptos::prelude::*;

/// While `pending` holds an item, asks whether it is to be removed for good; the answer empties
/// `pending`, and a yes hands the item to `on_confirm`. The focus starts on Cancel, so that
/// Enter does not remove by accident.
#[component]
pub fn ConfirmRemoval<T>(
    /// What waits for the answer.
    pending: RwSignal<Option<T>>,
    /// Prefixes the ids of the dialog's title and text.
    id: &'static str,
    /// The question, about the item.
    title: fn(&T) -> String,
    /// What removing it means.
    text: &'static str,
    /// The confirming button's label.
    action: &'static str,
    on_confirm: Callback<T>,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
{
    let cancel = move || pending.set(None);
    move || {
        pending.get().map(|item| {
            let question = title(&item);
            let confirm = move |_| {
                pending.set(None);
                on_confirm.run(item.clone());
            };
            let cancel_button = NodeRef::<leptos::html::Button>::new();
            Effect::new(move |_| {
                if let Some(button) = cancel_button.get() {
                    let _ = button.focus();
                }
            });
            let on_key = move |ev: leptos::ev::KeyboardEvent| {
                if ev.key() == "Escape" {
                    cancel();
                }
            };
            view! {
                <Dialog
                    role="alertdialog"
                    labelled_by=format!("{id}-title")
                    described_by=format!("{id}-text")
                    on_key
                >
                    <h3 id=format!("{id}-title")>{question}</h3>
                    <p id=format!("{id}-text")>{text}</p>
                    <div class="actions">
                        <button type="button" class="danger" on:click=confirm>
                            {action}
                        </button>
                        <button type="button" node_ref=cancel_button on:click=move |_| cancel()>
                            "Cancel"
                        </button>
                    </div>
                </Dialog>
            }
        })
    }
}

/// The button that asks (through `ConfirmRemoval`) whether `item` is to be removed.
#[component]
pub fn RemoveButton<T>(
    /// Where the item waits for the answer.
    pending: RwSignal<Option<T>>,
    item: T,
    /// The button's text ("Remove", "Delete").
    text: &'static str,
    /// What it removes, for screen readers ("Remove 192.168.1.20").
    label: String,
    /// The administrator may not remove it.
    #[prop(optional)]
    disabled: bool,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
{
    view! {
        <button
            type="button"
            class="small"
            aria-label=label
            aria-haspopup="dialog"
            disabled=disabled
            on:click=move |_| pending.set(Some(item.clone()))
        >
            {text}
        </button>
    }
}
