//! Creating accounts and groups, and setting an account's password.

use super::AccountsState;
use crate::api::{NewGroup, NewUser, PasswordReset, User};
use crate::components::{Dialog, FormErrors, FormText, SendActions, Sending};
use crate::model::{FieldError, check_password, validate_group_name, validate_new_user};
use leptos::prelude::*;

const PASSWORD_HINT: &str =
    "At least 12 characters, not built on the username or a password every guesser tries first";

#[component]
pub(super) fn NewUserForm(state: AccountsState) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let user = move || NewUser {
        username: username.get(),
        password: password.get(),
    };
    let errors = FormErrors::new(move || {
        let user = user();
        validate_new_user(&user.username, &user.password)
            .err()
            .unwrap_or_default()
    });
    let sending = Sending::new(errors);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !state.writable || !sending.begin() {
            return;
        }
        let user = untrack(user);
        #[cfg(feature = "hydrate")]
        sending.send(
            async move { crate::client::accounts::add_user(&user).await },
            "The account was not created",
            move |user: User| {
                username.set(String::new());
                password.set(String::new());
                errors.reset();
                sending
                    .notice
                    .set(Some(crate::components::Notice::Success(format!(
                        "The account {} was created. It has no rights until you grant some.",
                        user.username
                    ))));
                state
                    .users
                    .update(|users| super::store(users, user, |u| u.id));
            },
        );
        #[cfg(not(feature = "hydrate"))]
        let _ = user;
    };
    let read_only = !state.writable;
    view! {
        <section aria-labelledby="new-user-title">
            <h2 id="new-user-title">"New administrator"</h2>
            <form class="new-user" novalidate on:submit=submit>
                <div class="field-row">
                    <FormText
                        id="new-user-name"
                        label="Username"
                        hint="No spaces, and none of \" / \\ [ ] : ; | = , + * ? < > @ ' ` % & #"
                        value=username
                        errors
                        field="username"
                        autocomplete="off"
                        disabled=read_only
                    />
                    <FormText
                        id="new-user-password"
                        label="Password"
                        hint=PASSWORD_HINT
                        value=password
                        errors
                        field="password"
                        input_type="password"
                        autocomplete="new-password"
                        disabled=read_only
                    />
                </div>
                <SendActions sending label="Create" busy="Creating…" held=read_only />
            </form>
        </section>
    }
    .into_any()
}

#[component]
pub(super) fn NewGroupForm(state: AccountsState) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let errors = FormErrors::new(move || match validate_group_name(&name.get()) {
        Ok(_) => Vec::new(),
        Err(e) => vec![FieldError::new("name", e)],
    });
    let sending = Sending::new(errors);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !state.writable || !sending.begin() {
            return;
        }
        let group = NewGroup {
            name: name.get_untracked(),
        };
        #[cfg(feature = "hydrate")]
        sending.send(
            async move { crate::client::accounts::add_group(&group).await },
            "The group was not created",
            move |group: crate::api::Group| {
                name.set(String::new());
                errors.reset();
                sending
                    .notice
                    .set(Some(crate::components::Notice::Success(format!(
                        "The group {} was created.",
                        group.name
                    ))));
                state
                    .groups
                    .update(|groups| super::store(groups, group, |g| g.id));
            },
        );
        #[cfg(not(feature = "hydrate"))]
        let _ = group;
    };
    let read_only = !state.writable;
    view! {
        <form class="new-group" novalidate on:submit=submit>
            <FormText
                id="new-group-name"
                label="New group"
                hint="Its members get the rights it grants, and lose those it denies"
                value=name
                errors
                field="name"
                autocomplete="off"
                disabled=read_only
            />
            <SendActions sending label="Create group" busy="Creating…" held=read_only />
        </form>
    }
    .into_any()
}

/// While `state.resetting` holds an account, asks for its new password.
#[component]
pub(super) fn PasswordDialog(state: AccountsState) -> impl IntoView {
    move || {
        state
            .resetting
            .get()
            .map(|user| view! { <PasswordForm state user /> })
    }
}

#[component]
fn PasswordForm(state: AccountsState, user: User) -> impl IntoView {
    let password = RwSignal::new(String::new());
    let username = user.username.clone();
    let errors = FormErrors::new(move || match check_password(&password.get(), &username) {
        Ok(()) => Vec::new(),
        Err(e) => vec![FieldError::new("password", e)],
    });
    let sending = Sending::new(errors);
    let close = move || state.resetting.set(None);
    crate::components::focus_on_open("reset-password");
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            close();
        }
    };
    let (id, name) = (user.id, user.username.clone());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !state.writable || !sending.begin() {
            return;
        }
        let reset = PasswordReset {
            password: password.get_untracked(),
        };
        #[cfg(feature = "hydrate")]
        {
            let name = name.clone();
            sending.send(
                async move { crate::client::accounts::reset_password(id, &reset).await },
                "The password was not set",
                move |()| {
                    state
                        .notice
                        .set(Some(crate::components::Notice::Success(format!(
                            "The password of {name} was set: tell them the new one."
                        ))));
                    close();
                },
            );
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (reset, id, &name);
    };
    view! {
        <Dialog role="dialog" labelled_by="password-title".to_owned() on_key>
            <h3 id="password-title">{format!("New password for {}", user.username)}</h3>
            <form class="reset-password" novalidate on:submit=submit>
                <FormText
                    id="reset-password"
                    label="New password"
                    hint=PASSWORD_HINT
                    value=password
                    errors
                    field="password"
                    input_type="password"
                    autocomplete="new-password"
                />
                <SendActions sending label="Set password" busy="Setting…" />
                <div class="actions">
                    <button type="button" on:click=move |_| close()>
                        "Cancel"
                    </button>
                </div>
            </form>
        </Dialog>
    }
}
