//! The discovery pages' forms: their errors as the administrator types and as the server
//! refused them, their requests, and their fields.

use super::{Notice, NoticeArea};
use crate::model::FieldError;
use leptos::prelude::*;
use std::collections::BTreeSet;

/// The errors of a form: the shared rules' as the administrator types (for each field once it
/// was edited), and what the server refused until the next edit.
#[derive(Clone, Copy)]
pub struct FormErrors {
    checked: Memo<Vec<FieldError>>,
    refused: RwSignal<Vec<FieldError>>,
    edited: RwSignal<BTreeSet<&'static str>>,
}

impl FormErrors {
    pub fn new(check: impl Fn() -> Vec<FieldError> + Send + Sync + 'static) -> Self {
        FormErrors {
            checked: Memo::new(move |_| check()),
            refused: RwSignal::new(Vec::new()),
            edited: RwSignal::new(BTreeSet::new()),
        }
    }

    /// Called on every edit of `field`.
    pub fn edit(&self, field: &'static str) {
        if !self.edited.with_untracked(|e| e.contains(field)) {
            self.edited.update(|e| {
                e.insert(field);
            });
        }
        if !self.refused.with_untracked(Vec::is_empty) {
            self.refused.set(Vec::new());
        }
    }

    /// Starts over, as after a successful submit.
    #[cfg(feature = "hydrate")]
    pub fn reset(&self) {
        self.edited.set(BTreeSet::new());
        self.refused.set(Vec::new());
    }

    #[cfg(feature = "hydrate")]
    pub fn refuse(&self, errors: Vec<FieldError>) {
        self.refused.set(errors);
    }

    /// Whether the form may not be sent.
    pub fn blocked(&self) -> bool {
        !self.checked.with(Vec::is_empty) || !self.refused.with(Vec::is_empty)
    }

    /// What is wrong with `field` (or with one of its items, `field[i]`).
    pub fn message(&self, field: &'static str) -> Option<String> {
        let checked = if self.edited.with(|e| e.contains(field)) {
            self.checked.with(|errors| messages_about(errors, field))
        } else {
            None
        };
        checked.or_else(|| self.refused.with(|errors| messages_about(errors, field)))
    }

    /// Whether anything is wrong with `field` that the page shows.
    pub fn invalid(&self, field: &'static str) -> String {
        self.message(field).is_some().to_string()
    }
}

/// A form's request to the server: one at a time, and what came of it.
#[derive(Clone, Copy)]
pub struct Sending {
    pub errors: FormErrors,
    pub busy: RwSignal<bool>,
    pub notice: RwSignal<Option<Notice>>,
}

impl Sending {
    pub fn new(errors: FormErrors) -> Self {
        Sending {
            errors,
            busy: RwSignal::new(false),
            notice: RwSignal::new(None),
        }
    }

    /// Whether the form may be sent now (nothing wrong with it, nothing under way); if so, it is
    /// from now on under way.
    pub fn begin(&self) -> bool {
        if self.errors.blocked() || self.busy.get_untracked() {
            return false;
        }
        self.busy.set(true);
        self.notice.set(None);
        true
    }

    /// Sends the request and shows what came of it: `done` takes the answer; a refusal shows at
    /// the fields it names, any other failure after `failed` ("The device was not registered").
    #[cfg(feature = "hydrate")]
    pub fn send<T: 'static>(
        self,
        request: impl Future<Output = Result<T, crate::client::Refusal>> + 'static,
        failed: &'static str,
        done: impl FnOnce(T) + 'static,
    ) {
        use crate::client::Refusal;
        leptos::task::spawn_local(async move {
            let answer = request.await;
            // the page may have been left meanwhile: then nothing is shown
            if self.busy.try_set(false).is_some() {
                return;
            }
            match answer {
                Ok(answer) => done(answer),
                Err(Refusal::Invalid(refused)) => {
                    self.errors.refuse(refused);
                    self.notice.set(Some(Notice::Error(format!(
                        "{failed}: the server refused it, see the marked fields."
                    ))));
                }
                Err(refusal) => self
                    .notice
                    .set(Some(Notice::Error(format!("{failed}: {}", refusal.text())))),
            }
        });
    }
}

fn messages_about(errors: &[FieldError], field: &str) -> Option<String> {
    let about: Vec<&str> = errors
        .iter()
        .filter(|e| {
            e.field == field
                || e.field
                    .strip_prefix(field)
                    .is_some_and(|rest| rest.starts_with('['))
        })
        .map(|e| e.message.as_str())
        .collect();
    (!about.is_empty()).then(|| about.join("; "))
}

/// The message under a form's field (its element's id is `{id}-error`).
#[component]
pub fn FieldMessage(id: &'static str, errors: FormErrors, field: &'static str) -> impl IntoView {
    view! {
        <p class="field-error" id=format!("{id}-error")>
            {move || errors.message(field)}
        </p>
    }
}

/// A form's submit button, and what came of its last request.
#[component]
pub fn SendActions(
    sending: Sending,
    label: &'static str,
    /// The label while the request is under way.
    busy: &'static str,
    /// Whether something besides the form holds the button back.
    #[prop(optional, into)]
    held: Signal<bool>,
) -> impl IntoView {
    view! {
        <div class="actions">
            <button
                type="submit"
                class="primary"
                disabled=move || sending.errors.blocked() || sending.busy.get() || held.get()
            >
                {move || if sending.busy.get() { busy } else { label }}
            </button>
            <NoticeArea notice=sending.notice />
        </div>
    }
}

/// A line of text in a form, with its hint and its field's message.
#[component]
pub fn FormText(
    id: &'static str,
    label: &'static str,
    hint: &'static str,
    value: RwSignal<String>,
    errors: FormErrors,
    /// The field's name in the rules' errors.
    field: &'static str,
    #[prop(optional)] input_mode: Option<&'static str>,
    /// `password` for a password (the default is `text`).
    #[prop(optional)]
    input_type: Option<&'static str>,
    /// The browser's autofill hint (`new-password`, `username`).
    #[prop(optional)]
    autocomplete: Option<&'static str>,
    #[prop(optional, into)] disabled: Signal<bool>,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <input
                type=input_type.unwrap_or("text")
                id=id
                name=field
                inputmode=input_mode
                autocomplete=autocomplete
                disabled=move || disabled.get()
                prop:value=move || value.get()
                value=value.get_untracked()
                aria-invalid=move || errors.invalid(field)
                aria-describedby=format!("{id}-hint {id}-error")
                on:input=move |ev| {
                    value.set(event_target_value(&ev));
                    errors.edit(field);
                }
            />
            <p class="hint" id=format!("{id}-hint")>{hint}</p>
            <FieldMessage id errors field />
        </div>
    }
}

/// What the hint of a field of address ranges says first.
pub const RANGES_HINT: &str =
    "A range (192.168.1.10-192.168.1.99), a block (10.0.0.0/24) or one address";

/// A text area of address ranges, one per line, with its hint and its field's message.
#[component]
pub fn RangesField(
    id: &'static str,
    label: &'static str,
    hint: String,
    value: RwSignal<String>,
    errors: FormErrors,
    /// The field's name in the rules' errors.
    field: &'static str,
    /// The id its message's element starts with (`{message_id}-error`), when it is not `id`:
    /// fields shown in turn may share one.
    #[prop(optional)]
    message_id: Option<&'static str>,
    #[prop(optional, into)] disabled: Signal<bool>,
    /// How many addresses that is, once the text reads as ranges.
    #[prop(optional, into)]
    count: Option<Signal<String>>,
) -> impl IntoView {
    let message_id = message_id.unwrap_or(id);
    let described_by = match count {
        Some(_) => format!("{id}-hint {id}-count {message_id}-error"),
        None => format!("{id}-hint {message_id}-error"),
    };
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <textarea
                id=id
                name=field
                rows="3"
                spellcheck="false"
                prop:value=move || value.get()
                disabled=move || disabled.get()
                aria-invalid=move || errors.invalid(field)
                aria-describedby=described_by
                on:input=move |ev| {
                    value.set(event_target_value(&ev));
                    errors.edit(field);
                }
            >
                {value.get_untracked()}
            </textarea>
            <p class="hint" id=format!("{id}-hint")>{hint}</p>
            {count.map(|count| view! {
                <p class="count" id=format!("{id}-count") aria-live="polite">{move || count.get()}</p>
            })}
            <FieldMessage id=message_id errors field />
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_of_a_field_and_its_items() {
        let errors = [
            FieldError::new("targets[0]", "a"),
            FieldError::new("targets", "b"),
            FieldError::new("targetsx", "c"),
            FieldError::new("name", "d"),
        ];
        assert_eq!(messages_about(&errors, "targets").as_deref(), Some("a; b"));
        assert_eq!(messages_about(&errors, "name").as_deref(), Some("d"));
        assert_eq!(messages_about(&errors, "due_at"), None);
    }
}
