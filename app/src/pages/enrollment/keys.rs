//! Enrollment keys: a new one (its secret shown once), the list, revoking one.

use super::EnrollmentState;
use crate::api::{CreatedEnrollmentKey, EnrollmentKey, EnrollmentKeyState, NewEnrollmentKey};
use crate::components::{
    ColumnHeads, FormErrors, FormText, NoticeArea, RemoveButton, SendActions, Sending, parse_number,
};
use crate::model::{FieldError, validate_enrollment_key};
use crate::pages::show_time;
use leptos::prelude::*;

/// The key the form describes, or everything wrong with it, by field: the numbers as typed, then
/// the rules the server checks too.
fn read(uses: &str, minutes: &str, note: &str) -> Result<NewEnrollmentKey, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut number = |text: &str, field: &'static str, what: &str| {
        parse_number(text)
            .map_err(|e| errors.push(FieldError::new(field, format!("{what} {e}"))))
            .ok()
    };
    let uses = number(uses, "uses", "the number of enrollments");
    let minutes = number(minutes, "expires_in_minutes", "the time until it expires");
    let key = NewEnrollmentKey {
        uses: uses.unwrap_or(1),
        expires_in_minutes: minutes.unwrap_or(1),
        note: note.trim().to_owned(),
    };
    if let Err(invalid) = validate_enrollment_key(&key) {
        // a number that did not read is not also out of range
        let unread: Vec<String> = errors.iter().map(|e| e.field.clone()).collect();
        errors.extend(invalid.into_iter().filter(|e| !unread.contains(&e.field)));
    }
    if errors.is_empty() {
        Ok(key)
    } else {
        Err(errors)
    }
}

#[component]
pub(super) fn KeysSection(state: EnrollmentState) -> impl IntoView {
    view! {
        <section aria-labelledby="enrollment-keys-title">
            <h2 id="enrollment-keys-title">"Enrollment keys"</h2>
            <p class="help">
                "A device enrolls for the first time with a key's id and secret as HTTP Basic user name and password at "
                <code>"/.well-known/est/simpleenroll"</code>
                ". Each enrollment spends one use; a key stops working when it is used up, expires or is revoked."
            </p>
            {state.writable.then(|| view! { <NewKeyForm state /> })}
            <CreatedPanel state />
            <NoticeArea notice=state.key_notice />
            <KeyTable state />
        </section>
    }
}

#[component]
fn NewKeyForm(state: EnrollmentState) -> impl IntoView {
    let uses = RwSignal::new(String::from("1"));
    let minutes = RwSignal::new(String::from("60"));
    let note = RwSignal::new(String::new());
    let errors = FormErrors::new(move || {
        read(&uses.get(), &minutes.get(), &note.get())
            .err()
            .unwrap_or_default()
    });
    let sending = Sending::new(errors);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(key) = read(
            &uses.get_untracked(),
            &minutes.get_untracked(),
            &note.get_untracked(),
        ) else {
            return;
        };
        if !sending.begin() {
            return;
        }
        #[cfg(feature = "hydrate")]
        sending.send(
            async move { crate::client::enrollment::create_key(&key).await },
            "The enrollment key was not created",
            move |created| {
                note.set(String::new());
                errors.reset();
                state.key_notice.set(None);
                state.created.set(Some(created));
                super::live::reread(state);
            },
        );
        #[cfg(not(feature = "hydrate"))]
        let _ = (key, state);
    };
    view! {
        <form class="new-enrollment-key" novalidate on:submit=submit>
            <h3>"New enrollment key"</h3>
            <div class="field-row">
                <FormText
                    id="key-uses"
                    label="Uses"
                    hint=USES_HINT
                    value=uses
                    errors
                    field="uses"
                    input_mode="numeric"
                />
                <FormText
                    id="key-minutes"
                    label="Expires in (minutes)"
                    hint=MINUTES_HINT
                    value=minutes
                    errors
                    field="expires_in_minutes"
                    input_mode="numeric"
                />
                <FormText
                    id="key-note"
                    label="Note"
                    hint="Optional: what it is for, for example: batch 7, shop floor"
                    value=note
                    errors
                    field="note"
                />
            </div>
            <SendActions sending label="Create key" busy="Creating…" />
        </form>
    }
}

// the rules' limits, as the unit tests check
const USES_HINT: &str = "How many devices may enroll with it: 1 to 100000";
const MINUTES_HINT: &str = "1 to 43200 (30 days)";

/// The new key, its secret shown this once, ready to copy.
#[component]
fn CreatedPanel(state: EnrollmentState) -> impl IntoView {
    move || {
        state.created.get().map(|created| {
            let CreatedEnrollmentKey {
                id,
                secret,
                uses,
                expires_at,
                note,
            } = created;
            // what came of copying the secret
            let copied = RwSignal::new(None::<&'static str>);
            let copy = {
                let secret = secret.clone();
                move |_| {
                    #[cfg(feature = "hydrate")]
                    leptos::task::spawn_local(crate::components::copy_to_clipboard(
                        secret.clone(),
                        copied,
                    ));
                    #[cfg(not(feature = "hydrate"))]
                    let _ = &secret;
                }
            };
            let done = move |_| state.created.set(None);
            let note = (!note.is_empty()).then(|| format!(" Note: {note}."));
            view! {
                <div
                    class="notice warning created-key"
                    role="region"
                    aria-labelledby="created-key-title"
                    data-testid="created-key"
                >
                    <h3 id="created-key-title">"The new enrollment key"</h3>
                    <p id="created-key-warning">
                        <strong>"Copy the secret now: it will not be shown again."</strong>
                        " Pharos keeps only a hash of it; a lost secret cannot be shown again, only the key revoked and replaced."
                    </p>
                    <dl class="created-key-values">
                        <dt>"Id (user name)"</dt>
                        <dd>
                            <code data-testid="created-key-id">{id}</code>
                        </dd>
                        <dt>"Secret (password)"</dt>
                        <dd>
                            <code data-testid="created-key-secret">{secret}</code>
                            " "
                            <button type="button" class="small" on:click=copy>
                                "Copy"
                            </button>
                            <span class="hint" role="status">
                                {move || copied.get()}
                            </span>
                        </dd>
                    </dl>
                    <p>
                        {format!(
                            "It authorises {uses} enrollment{} until {}.",
                            if uses == 1 { "" } else { "s" },
                            show_time(&expires_at),
                        )}
                        {note}
                    </p>
                    <div class="actions">
                        <button type="button" on:click=done>
                            "I have copied it"
                        </button>
                    </div>
                </div>
            }
        })
    }
}

/// A key's state as its badge shows it: the class and the words.
fn state_badge(state: EnrollmentKeyState) -> (&'static str, &'static str) {
    match state {
        EnrollmentKeyState::Active => ("badge active", "active"),
        EnrollmentKeyState::UsedUp => ("badge used-up", "used up"),
        EnrollmentKeyState::Expired => ("badge expired", "expired"),
        EnrollmentKeyState::Revoked => ("badge revoked", "revoked"),
    }
}

#[component]
fn KeyTable(state: EnrollmentState) -> impl IntoView {
    move || {
        let keys = state.keys.get();
        if keys.is_empty() {
            return view! { <p class="empty">"No enrollment keys yet."</p> }.into_any();
        }
        view! {
            <table class="enrollment-keys" data-testid="enrollment-keys">
                <caption class="visually-hidden">"Enrollment keys"</caption>
                <ColumnHeads
                    names=&["Key", "Uses left", "Expires", "Note", "Created by", "State"]
                    last="Actions"
                />
                <tbody>{keys.into_iter().map(|key| key_row(state, key)).collect_view()}</tbody>
            </table>
        }
        .into_any()
    }
}

fn key_row(state: EnrollmentState, key: EnrollmentKey) -> impl IntoView {
    let (class, words) = state_badge(key.state);
    let uses = format!("{} / {}", key.uses_left, key.uses);
    let expires = show_time(&key.expires_at);
    let note = if key.note.is_empty() {
        "—".to_owned()
    } else {
        key.note.clone()
    };
    let created = format!("at {}", show_time(&key.created_at));
    let revoke = (state.writable && key.state == EnrollmentKeyState::Active).then(|| {
        let label = format!("Revoke key {}", key.id);
        view! { <RemoveButton pending=state.revoking_key item=key.clone() text="Revoke" label /> }
    });
    view! {
        <tr data-id=key.id.clone()>
            <th scope="row">
                <code>{key.id.clone()}</code>
            </th>
            <td>{uses}</td>
            <td>{expires}</td>
            <td>{note}</td>
            <td>
                {key.created_by.clone()}
                <span class="detail">{created}</span>
            </td>
            <td>
                <span class=class>{words}</span>
            </td>
            <td class="row-actions">{revoke}</td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ENROLLMENT_KEY_MAX_MINUTES, ENROLLMENT_KEY_MAX_USES};

    #[test]
    fn a_key_as_typed() {
        assert_eq!(
            read(" 5 ", "90", " batch 7 ").unwrap(),
            NewEnrollmentKey {
                uses: 5,
                expires_in_minutes: 90,
                note: "batch 7".into()
            }
        );
        let fields = |uses, minutes, note| {
            read(uses, minutes, note)
                .unwrap_err()
                .into_iter()
                .map(|e| e.field)
                .collect::<Vec<_>>()
        };
        assert_eq!(fields("", "60", ""), ["uses"]);
        assert_eq!(fields("0", "soon", ""), ["expires_in_minutes", "uses"]);
        assert_eq!(fields("1", "43201", "a\tb"), ["expires_in_minutes", "note"]);
    }

    #[test]
    fn hints_name_the_rules_limits() {
        assert!(USES_HINT.ends_with(&format!(" {ENROLLMENT_KEY_MAX_USES}")));
        assert!(MINUTES_HINT.starts_with(&format!("1 to {ENROLLMENT_KEY_MAX_MINUTES} ")));
    }
}
