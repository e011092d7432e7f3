//! Field widgets: each shows one field of the draft, its hint and its error, and writes what the
//! administrator types back into the draft.

use super::draft::Draft;
use crate::model::{Field, NetworkSettings, NumberRule};
use leptos::prelude::*;
use leptos::wasm_bindgen::JsCast;
use leptos::web_sys::HtmlElement;

/// Moves the keyboard focus to a field's element. Called from event handlers, so only ever in the
/// browser.
pub fn focus(field: Field) {
    let element = document()
        .get_element_by_id(&field.dom_id())
        .and_then(|element| element.dyn_into::<HtmlElement>().ok());
    if let Some(element) = element {
        let _ = element.focus();
    }
}

/// Reads a whole number typed into a field, or says why the text is none.
pub fn parse_number(text: &str) -> Result<u32, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Err("is required");
    }
    if !text.chars().all(|c| c.is_ascii_digit()) {
        return Err("must be a whole number");
    }
    text.parse().map_err(|_| "is far too large")
}

fn hint(rule: NumberRule) -> String {
    format!(
        "{} to {} {}; default {}",
        rule.min, rule.max, rule.unit, rule.default
    )
}

/// The error under a field, if it has one.
#[component]
pub fn FieldError(draft: Draft, field: Field) -> impl IntoView {
    view! {
        <p class="field-error" id=format!("{}-error", field.dom_id())>
            {move || draft.error_for(field)}
        </p>
    }
}

#[component]
pub fn NumberField(
    draft: Draft,
    field: Field,
    rule: NumberRule,
    get: fn(&NetworkSettings) -> u32,
    set: fn(&mut NetworkSettings, u32),
    #[prop(optional, into)] disabled: Signal<bool>,
) -> impl IntoView {
    let id = field.dom_id();
    let on_input = move |ev| match parse_number(&event_target_value(&ev)) {
        Ok(v) => {
            draft.set_unreadable(field, None);
            draft.edit(|d| set(d, v));
        }
        Err(message) => draft.set_unreadable(field, Some(message)),
    };
    view! {
        <div class="field">
            <label for=id.clone()>{field.label()}</label>
            <div class="input-row">
                <input
                    type="text"
                    inputmode="numeric"
                    id=id.clone()
                    name=field.path()
                    prop:value=move || draft.settings.with(|d| get(d).to_string())
                    value=draft.settings.with_untracked(|d| get(d).to_string())
                    disabled=move || disabled.get() || draft.read_only
                    aria-invalid=move || draft.error_for(field).is_some().to_string()
                    aria-describedby=format!("{id}-hint {id}-error")
                    on:input=on_input
                />
                <span class="unit">{rule.unit}</span>
            </div>
            <p class="hint" id=format!("{id}-hint")>{hint(rule)}</p>
            <FieldError draft field />
        </div>
    }
}

/// A line of text, such as an address.
#[component]
pub fn TextField(
    draft: Draft,
    field: Field,
    hint: &'static str,
    get: fn(&NetworkSettings) -> String,
    set: fn(&mut NetworkSettings, String),
) -> impl IntoView {
    let id = field.dom_id();
    view! {
        <div class="field">
            <label for=id.clone()>{field.label()}</label>
            <input
                type="text"
                id=id.clone()
                name=field.path()
                prop:value=move || draft.settings.with(get)
                value=draft.settings.with_untracked(get)
                disabled=draft.read_only
                aria-invalid=move || draft.error_for(field).is_some().to_string()
                aria-describedby=format!("{id}-hint {id}-error")
                on:input=move |ev| {
                    let v = event_target_value(&ev);
                    draft.edit(|d| set(d, v));
                }
            />
            <p class="hint" id=format!("{id}-hint")>{hint}</p>
            <FieldError draft field />
        </div>
    }
}

/// An on/off setting; the label says what "on" means when the field's name alone does not.
#[component]
pub fn Checkbox(
    draft: Draft,
    field: Field,
    #[prop(optional)] label: Option<&'static str>,
    get: fn(&NetworkSettings) -> bool,
    set: fn(&mut NetworkSettings, bool),
) -> impl IntoView {
    let id = field.dom_id();
    view! {
        <div class="field checkbox">
            <input
                type="checkbox"
                id=id.clone()
                name=field.path()
                prop:checked=move || draft.settings.with(get)
                checked=draft.settings.with_untracked(get)
                disabled=draft.read_only
                aria-describedby=format!("{id}-error")
                on:change=move |ev| {
                    let on = event_target_checked(&ev);
                    draft.edit(|d| set(d, on));
                }
            />
            <label for=id>{label.unwrap_or(field.label())}</label>
            <FieldError draft field />
        </div>
    }
}

/// "Any free port" or one specific UDP port.
#[component]
pub fn ReplyPortField(
    draft: Draft,
    field: Field,
    get: fn(&NetworkSettings) -> Option<u32>,
    set: fn(&mut NetworkSettings, Option<u32>),
) -> impl IntoView {
    let id = field.dom_id();
    let legend = format!("{} (UDP)", field.label());
    let specific = Signal::derive(move || {
        draft.settings.with(|d| get(d).is_some()) || draft.is_unreadable(field)
    });
    let pick_any = move |_| {
        draft.set_unreadable(field, None);
        draft.edit(|d| set(d, None));
    };
    let pick_specific = move |_| {
        if draft.settings.with_untracked(|d| get(d).is_none()) {
            draft.set_unreadable(field, Some("enter a port from 1 to 65535"));
            focus(field);
        }
    };
    let on_input = move |ev| match parse_number(&event_target_value(&ev)) {
        Ok(v) => {
            draft.set_unreadable(field, None);
            draft.edit(|d| set(d, Some(v)));
        }
        Err(message) => draft.set_unreadable(field, Some(message)),
    };
    let text = move || {
        draft
            .settings
            .with(|d| get(d).map(|p| p.to_string()).unwrap_or_default())
    };
    view! {
        <fieldset class="field port">
            <legend>{legend.clone()}</legend>
            <label>
                <input
                    type="radio"
                    name=format!("{id}-mode")
                    id=format!("{id}-any")
                    prop:checked=move || !specific.get()
                    checked=!specific.get_untracked()
                    disabled=draft.read_only
                    on:change=pick_any
                />
                "Any free port (default)"
            </label>
            <label>
                <input
                    type="radio"
                    name=format!("{id}-mode")
                    id=format!("{id}-specific")
                    prop:checked=move || specific.get()
                    checked=specific.get_untracked()
                    disabled=draft.read_only
                    on:change=pick_specific
                />
                "Specific port:"
            </label>
            <input
                type="text"
                inputmode="numeric"
                id=id.clone()
                name=field.path()
                aria-label=format!("{legend}: port number")
                prop:value=text
                value=text
                disabled=move || !specific.get() || draft.read_only
                aria-invalid=move || draft.error_for(field).is_some().to_string()
                aria-describedby=format!("{id}-hint {id}-error")
                on:input=on_input
            />
            <p class="hint" id=format!("{id}-hint")>"UDP, 1 to 65535; default: any free port"</p>
            <FieldError draft field />
        </fieldset>
    }
}

/// A text field of a dialog, which edits its own copy until the dialog applies it.
#[component]
pub fn DialogField(
    id: String,
    label: &'static str,
    hint: &'static str,
    value: RwSignal<String>,
    #[prop(into)] error: Signal<Option<String>>,
    #[prop(optional)] node_ref: NodeRef<leptos::html::Input>,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <input
                type="text"
                id=id.clone()
                node_ref=node_ref
                prop:value=move || value.get()
                value=value.get_untracked()
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby=format!("{id}-hint {id}-error")
                on:input=move |ev| value.set(event_target_value(&ev))
            />
            <p class="hint" id=format!("{id}-hint")>{hint}</p>
            <p class="field-error" id=format!("{id}-error")>{move || error.get()}</p>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_typed() {
        assert_eq!(parse_number(" 42 "), Ok(42));
        assert_eq!(parse_number(""), Err("is required"));
        assert_eq!(parse_number("4.5"), Err("must be a whole number"));
        assert_eq!(parse_number("-1"), Err("must be a whole number"));
        assert_eq!(parse_number("99999999999"), Err("is far too large"));
    }
}
