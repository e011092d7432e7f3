//! The groups, and the source addresses locked out after failed sign-ins.

use super::AccountsState;
use super::editor::Editing;
use super::forms::NewGroupForm;
use super::rights::grants_text;
use crate::api::{Group, Lockout};
use crate::components::{ColumnHeads, RemoveButton};
use crate::pages::show_time;
use leptos::prelude::*;

#[component]
pub(super) fn Groups(state: AccountsState) -> impl IntoView {
    view! {
        <section aria-labelledby="groups-title">
            <h2 id="groups-title">"Groups"</h2>
            <p class="help">
                "An account has the rights of its own grants and of its groups' together; a Deny wins over every Allow."
            </p>
            {move || {
                if state.groups.with(Vec::is_empty) {
                    view! { <p class="empty">"There are no groups."</p> }.into_any()
                } else {
                    view! {
                        <table class="accounts">
                            <caption class="visually-hidden">"Groups"</caption>
                            <ColumnHeads names=&["Name", "Members", "Grants"] last="Actions" />
                            <tbody>
                                {state
                                    .groups
                                    .get()
                                    .into_iter()
                                    .map(|group| group_row(state, group))
                                    .collect_view()}
                            </tbody>
                        </table>
                    }
                        .into_any()
                }
            }}
            <NewGroupForm state />
        </section>
    }
    .into_any()
}

fn group_row(state: AccountsState, group: Group) -> impl IntoView {
    let members = state.usernames(&group.members);
    let grants = grants_text(&group.grants);
    let name = group.name.clone();
    let disabled = !state.writable;
    let edit = {
        let group = group.clone();
        move |_| state.editing.set(Some(Editing::Group(group.clone())))
    };
    view! {
        <tr data-id=group.id>
            <th scope="row">{group.name.clone()}</th>
            <td>{members}</td>
            <td class="rights-text">{grants}</td>
            <td class="row-actions">
                <button
                    type="button"
                    class="small"
                    aria-label=format!("Rights and members of the group {}", group.name)
                    aria-haspopup="dialog"
                    disabled=disabled
                    on:click=edit
                >
                    "Rights and members…"
                </button>
                <RemoveButton
                    pending=state.deleting_group
                    item=group.clone()
                    text="Delete"
                    label=format!("Delete the group {name}")
                    disabled
                />
            </td>
        </tr>
    }
}

#[component]
pub(super) fn Lockouts(state: AccountsState) -> impl IntoView {
    view! {
        <section aria-labelledby="lockouts-title">
            <h2 id="lockouts-title">"Locked-out addresses"</h2>
            <p class="help">
                "Addresses from which sign-ins failed again and again; they may try again once the time is up, or when unlocked here."
            </p>
            {move || {
                if state.lockouts.with(Vec::is_empty) {
                    view! { <p class="empty">"No address is locked out."</p> }.into_any()
                } else {
                    view! {
                        <table class="accounts">
                            <caption class="visually-hidden">"Locked-out addresses"</caption>
                            <ColumnHeads names=&["Address", "Locked until"] last="Actions" />
                            <tbody>
                                {state
                                    .lockouts
                                    .get()
                                    .into_iter()
                                    .map(|lockout| lockout_row(state, lockout))
                                    .collect_view()}
                            </tbody>
                        </table>
                    }
                        .into_any()
                }
            }}
        </section>
    }
    .into_any()
}

fn lockout_row(state: AccountsState, lockout: Lockout) -> impl IntoView {
    let Lockout {
        address,
        locked_until,
    } = lockout;
    let label = format!("Unlock {address}");
    let unlock = {
        let address = address.clone();
        move |_| {
            #[cfg(feature = "hydrate")]
            leptos::task::spawn_local(super::live::unlock_address(state, address.clone()));
            #[cfg(not(feature = "hydrate"))]
            let _ = &address;
        }
    };
    view! {
        <tr>
            <td>
                <code>{address}</code>
            </td>
            <td>{show_time(&locked_until)}</td>
            <td>
                <button
                    type="button"
                    class="small"
                    aria-label=label
                    disabled=!state.writable
                    on:click=unlock
                >
                    "Unlock"
                </button>
            </td>
        </tr>
    }
}
