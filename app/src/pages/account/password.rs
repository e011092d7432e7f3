//! Changing one's own password, checked as it is typed by the rule the server applies.

use crate::components::{FormErrors, FormText, SendActions, Sending};
use crate::model::{FieldError, check_password};
use leptos::prelude::*;

/// What is wrong with the form, by field (`current`, `new`, `repeat`).
fn check(current: &str, new: &str, repeat: &str, username: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if current.is_empty() {
        errors.push(FieldError::new("current", "enter your current password"));
    }
    if let Err(e) = check_password(new, username) {
        errors.push(FieldError::new("new", e));
    } else if new == current {
        errors.push(FieldError::new(
            "new",
            "choose a password other than the current one",
        ));
    }
    if repeat != new {
        errors.push(FieldError::new("repeat", "does not match the new password"));
    }
    errors
}

#[component]
pub(super) fn PasswordForm(username: String) -> impl IntoView {
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let repeat = RwSignal::new(String::new());
    let errors =
        FormErrors::new(move || check(&current.get(), &new.get(), &repeat.get(), &username));
    let sending = Sending::new(errors);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if sending.begin() {
            #[cfg(feature = "hydrate")]
            send(sending, current, new, repeat);
        }
    };
    view! {
        <section aria-labelledby="password-title">
            <h2 id="password-title">"Password"</h2>
            <form class="password" novalidate on:submit=submit>
                <FormText
                    id="password-current"
                    label="Current password"
                    hint="To make sure it is you"
                    value=current
                    errors
                    field="current"
                    input_type="password"
                    autocomplete="current-password"
                />
                <FormText
                    id="password-new"
                    label="New password"
                    hint="Long, not containing your username, not built on a well-known password"
                    value=new
                    errors
                    field="new"
                    input_type="password"
                    autocomplete="new-password"
                />
                <FormText
                    id="password-repeat"
                    label="New password again"
                    hint="The same once more, to rule out a typing error"
                    value=repeat
                    errors
                    field="repeat"
                    input_type="password"
                    autocomplete="new-password"
                />
                <SendActions sending label="Change password" busy="Changing…" />
            </form>
        </section>
    }
}

/// Sends the change; once made, the form starts over empty.
#[cfg(feature = "hydrate")]
fn send(
    sending: Sending,
    current: RwSignal<String>,
    new: RwSignal<String>,
    repeat: RwSignal<String>,
) {
    use crate::api::PasswordChange;
    use crate::components::Notice;
    let change = PasswordChange {
        current: current.get_untracked(),
        new: new.get_untracked(),
    };
    sending.send(
        async move { crate::client::account::change_password(&change).await },
        "The password was not changed",
        move |()| {
            for field in [current, new, repeat] {
                field.set(String::new());
            }
            sending.errors.reset();
            sending
                .notice
                .set(Some(Notice::Success("Your password was changed.".into())));
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(current: &str, new: &str, repeat: &str) -> Vec<String> {
        check(current, new, repeat, "alice")
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn what_is_wrong_by_field() {
        let good = "correct horse battery";
        assert!(fields("old secret", good, good).is_empty());
        assert_eq!(fields("", good, good), ["current"]);
        assert_eq!(fields("old", "short", "short"), ["new"]);
        assert_eq!(
            fields("old", "alice-is-here-2026", "alice-is-here-2026"),
            ["new"]
        );
        assert_eq!(fields("old", good, "correct horse batterY"), ["repeat"]);
        assert_eq!(fields(good, good, good), ["new"]);
    }
}
