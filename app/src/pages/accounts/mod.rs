//! Administration › Accounts: the administrators, their groups and rights, and the source
//! addresses locked out after failed sign-ins.

mod editor;
mod forms;
mod groups;
#[cfg(feature = "hydrate")]
mod live;
#[cfg(all(test, feature = "ssr"))]
mod rendered;
mod rights;

use super::show_optional_time;
use crate::api::{AccountList, Group, Lockout, LockoutList, User};
use crate::components::{
    ColumnHeads, ConfirmRemoval, Notice, NoticeArea, PageSource, ReadOnlyNotice, RemoveButton,
    may_write, page_resource, with_data,
};
use crate::model::Area;
use editor::{Editing, Editor};
use forms::{NewUserForm, PasswordDialog};
use groups::{Groups, Lockouts};
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

/// What the page renders from.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct AccountsData {
    accounts: AccountList,
    lockouts: LockoutList,
}

impl PageSource for AccountsData {
    type Query = ();

    #[cfg(feature = "ssr")]
    type Backend = dyn crate::AccountsBackend;

    #[cfg(feature = "ssr")]
    fn read(
        backend: std::sync::Arc<dyn crate::AccountsBackend>,
        _: (),
    ) -> crate::BoxFuture<Result<Self, String>> {
        Box::pin(async move {
            let accounts = backend.accounts().await?;
            let lockouts = backend.lockouts().await?;
            Ok(AccountsData { accounts, lockouts })
        })
    }

    #[cfg(feature = "hydrate")]
    fn load(_: ()) -> impl Future<Output = Result<Self, String>> + 'static {
        live::read()
    }
}

#[component]
pub fn AccountsPage() -> impl IntoView {
    let data = page_resource::<AccountsData>(|| ());
    view! {
        <Title text="Accounts" />
        <nav aria-label="Breadcrumb" class="breadcrumb">
            <ol>
                <li>"Administration"</li>
                <li aria-current="page">"Accounts"</li>
            </ol>
        </nav>
        <h1>"Accounts"</h1>
        <ReadOnlyNotice area=Area::Accounts text="You can see the accounts but not change them." />
        {with_data(data, "accounts", |data| view! { <Accounts data /> }.into_any())}
    }
}

/// The state of the page, shared by its parts.
#[derive(Clone, Copy)]
struct AccountsState {
    users: RwSignal<Vec<User>>,
    groups: RwSignal<Vec<Group>>,
    lockouts: RwSignal<Vec<Lockout>>,
    notice: RwSignal<Option<Notice>>,
    /// Whether the signed-in administrator may change accounts; every control is disabled if not
    /// (the server refuses such a change anyway).
    writable: bool,
    deleting_user: RwSignal<Option<User>>,
    deleting_group: RwSignal<Option<Group>>,
    /// The account whose new password is being entered.
    resetting: RwSignal<Option<User>>,
    /// The account or group whose rights and memberships are being edited.
    editing: RwSignal<Option<Editing>>,
    #[cfg(feature = "hydrate")]
    reads: crate::components::Rereads,
}

impl AccountsState {
    fn new(data: AccountsData, writable: bool) -> Self {
        AccountsState {
            users: RwSignal::new(data.accounts.users),
            groups: RwSignal::new(data.accounts.groups),
            lockouts: RwSignal::new(data.lockouts.lockouts),
            notice: RwSignal::new(None),
            writable,
            deleting_user: RwSignal::new(None),
            deleting_group: RwSignal::new(None),
            resetting: RwSignal::new(None),
            editing: RwSignal::new(None),
            #[cfg(feature = "hydrate")]
            reads: Default::default(),
        }
    }

    /// The names of the groups with these ids, as listed.
    fn group_names(&self, ids: &[i64]) -> String {
        self.groups.with(|groups| {
            names(
                groups
                    .iter()
                    .filter(|g| ids.contains(&g.id))
                    .map(|g| g.name.as_str()),
            )
        })
    }

    /// The usernames of the accounts with these ids, as listed.
    fn usernames(&self, ids: &[i64]) -> String {
        self.users.with(|users| {
            names(
                users
                    .iter()
                    .filter(|u| ids.contains(&u.id))
                    .map(|u| u.username.as_str()),
            )
        })
    }
}

fn names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        "—".to_owned()
    } else {
        names.join(", ")
    }
}

#[component]
fn Accounts(data: AccountsData) -> impl IntoView {
    let state = AccountsState::new(data, may_write(Area::Accounts));
    #[cfg(feature = "hydrate")]
    live::follow(state);
    view! {
        <Users state />
        <NewUserForm state />
        <Groups state />
        <Lockouts state />
        <Editor state />
        <PasswordDialog state />
        <ConfirmRemoval
            pending=state.deleting_user
            id="delete-user"
            title=|user: &User| format!("Delete the account “{}”?", user.username)
            text="Its sessions and API tokens end now; the audit and security logs keep its name."
            action="Delete"
            on_confirm=Callback::new(move |user| {
                #[cfg(feature = "hydrate")]
                leptos::task::spawn_local(live::delete_user(state, user));
                #[cfg(not(feature = "hydrate"))]
                let _ = user;
            })
        />
        <ConfirmRemoval
            pending=state.deleting_group
            id="delete-group"
            title=|group: &Group| format!("Delete the group “{}”?", group.name)
            text="Its members lose the rights it grants (and are no longer held back by what it denies)."
            action="Delete"
            on_confirm=Callback::new(move |group| {
                #[cfg(feature = "hydrate")]
                leptos::task::spawn_local(live::delete_group(state, group));
                #[cfg(not(feature = "hydrate"))]
                let _ = group;
            })
        />
    }
    .into_any()
}

#[component]
fn Users(state: AccountsState) -> impl IntoView {
    view! {
        <section aria-labelledby="users-title">
            <h2 id="users-title">"Administrators"</h2>
            <table class="accounts">
                <caption class="visually-hidden">"Administrators"</caption>
                <ColumnHeads
                    names=&["Username", "Groups", "Rights", "Status", "Last sign-in"]
                    last="Actions"
                />
                <tbody>
                    {move || {
                        state
                            .users
                            .get()
                            .into_iter()
                            .map(|user| user_row(state, user))
                            .collect_view()
                    }}
                </tbody>
            </table>
            <NoticeArea notice=state.notice />
        </section>
    }
    .into_any()
}

fn status_badges(user: &User) -> impl IntoView + use<> {
    let locked = user.locked_until.as_deref().map(|until| {
        view! {
            <span class="badge locked">
                {format!("locked until {}", super::show_time(until))}
            </span>
        }
    });
    let state = if user.disabled {
        view! { <span class="badge disabled">"disabled"</span> }.into_any()
    } else {
        view! { <span class="badge active">"active"</span> }.into_any()
    };
    view! {
        {state}
        " "
        {locked}
    }
}

fn user_row(state: AccountsState, user: User) -> impl IntoView {
    let id = user.id;
    let groups = state.group_names(&user.groups);
    let rights = rights::rights_text(&user.rights);
    let last_sign_in = show_optional_time(user.last_sign_in.as_deref());
    let badges = status_badges(&user);
    let name = user.username.clone();
    let superuser = user.superuser.then(|| {
        view! {
            " "
            <span class="badge superuser">"superuser"</span>
        }
    });
    view! {
        <tr data-id=id>
            <th scope="row">{name}{superuser}</th>
            <td>{groups}</td>
            <td class="rights-text">{rights}</td>
            <td>{badges}</td>
            <td>{last_sign_in}</td>
            <td class="row-actions">{user_actions(state, user)}</td>
        </tr>
    }
}

/// The buttons of an account's row. The superuser cannot be restricted, disabled or deleted,
/// and changes their own password on their own page (a password set here by someone else would
/// hand them every right), so only an unlock is offered for it.
fn user_actions(state: AccountsState, user: User) -> impl IntoView {
    let disabled = !state.writable;
    let name = user.username.clone();
    let unlock = user.locked_until.is_some().then(|| {
        let id = user.id;
        let on_click = move |_| {
            #[cfg(feature = "hydrate")]
            leptos::task::spawn_local(live::unlock_user(state, id));
            #[cfg(not(feature = "hydrate"))]
            let _ = id;
        };
        view! {
            <button
                type="button"
                class="small"
                aria-label=format!("Unlock {name}")
                disabled=disabled
                on:click=on_click
            >
                "Unlock"
            </button>
        }
    });
    if user.superuser {
        return view! { {unlock} }.into_any();
    }
    let name = user.username.clone();
    let toggle_text = if user.disabled { "Enable" } else { "Disable" };
    let toggle = {
        let user = user.clone();
        move |_| {
            #[cfg(feature = "hydrate")]
            leptos::task::spawn_local(live::set_disabled(state, user.clone(), !user.disabled));
            #[cfg(not(feature = "hydrate"))]
            let _ = &user;
        }
    };
    let edit = {
        let user = user.clone();
        move |_| state.editing.set(Some(Editing::User(user.clone())))
    };
    let reset = {
        let user = user.clone();
        move |_| state.resetting.set(Some(user.clone()))
    };
    view! {
        <button
            type="button"
            class="small"
            aria-label=format!("Rights and groups of {name}")
            aria-haspopup="dialog"
            disabled=disabled
            on:click=edit
        >
            "Rights…"
        </button>
        <button
            type="button"
            class="small"
            aria-label=format!("{toggle_text} {name}")
            disabled=disabled
            on:click=toggle
        >
            {toggle_text}
        </button>
        <button
            type="button"
            class="small"
            aria-label=format!("Reset the password of {name}")
            aria-haspopup="dialog"
            disabled=disabled
            on:click=reset
        >
            "Reset password…"
        </button>
        {unlock}
        <RemoveButton
            pending=state.deleting_user
            item=user
            text="Delete"
            label=format!("Delete {name}")
            disabled
        />
    }
    .into_any()
}

/// Shows an item as stored: in place of the listed one with its id, or added at the end.
#[cfg(feature = "hydrate")]
fn store<T>(items: &mut Vec<T>, stored: T, id: fn(&T) -> i64) {
    match items.iter_mut().find(|i| id(i) == id(&stored)) {
        Some(known) => *known = stored,
        None => items.push(stored),
    }
}
