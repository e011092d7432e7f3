//! The dialog that edits the rights of an account or a group, and who belongs to which group.

use super::AccountsState;
use super::rights::RightsMatrix;
use crate::api::{Group, User};
use crate::components::{Dialog, Notice, NoticeArea};
use leptos::prelude::*;

/// What the editor edits, as it was when the editor opened: a save is based on its revision.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Editing {
    User(User),
    Group(Group),
}

impl Editing {
    fn title(&self) -> String {
        match self {
            Editing::User(user) => format!("Rights and groups of {}", user.username),
            Editing::Group(group) => format!("Rights and members of the group {}", group.name),
        }
    }
}

/// One choice of the membership list: a group for an account, an account for a group.
#[derive(Clone)]
struct Choice {
    id: i64,
    name: String,
}

#[component]
pub(super) fn Editor(state: AccountsState) -> impl IntoView {
    move || {
        state
            .editing
            .get()
            .map(|editing| view! { <EditorDialog state editing /> })
    }
}

#[component]
fn EditorDialog(state: AccountsState, editing: Editing) -> impl IntoView {
    let (grants, members, choices, what) = match &editing {
        Editing::User(user) => (
            user.grants.clone(),
            user.groups.clone(),
            state.groups.with_untracked(|groups| {
                groups
                    .iter()
                    .map(|g| Choice {
                        id: g.id,
                        name: g.name.clone(),
                    })
                    .collect::<Vec<_>>()
            }),
            "Groups",
        ),
        Editing::Group(group) => (
            group.grants.clone(),
            group.members.clone(),
            // the superuser has every right whatever its groups
            state.users.with_untracked(|users| {
                users
                    .iter()
                    .filter(|u| !u.superuser)
                    .map(|u| Choice {
                        id: u.id,
                        name: u.username.clone(),
                    })
                    .collect::<Vec<_>>()
            }),
            "Members",
        ),
    };
    let grants = RwSignal::new(grants);
    let members = RwSignal::new(members);
    let busy = RwSignal::new(false);
    let notice = RwSignal::<Option<Notice>>::new(None);
    let title = editing.title();
    crate::components::focus_on_open("editor-network_settings-read");
    let close = move || state.editing.set(None);
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            close();
        }
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        notice.set(None);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(super::live::save_edit(
            state,
            editing.clone(),
            grants.get_untracked(),
            members.get_untracked(),
            busy,
            notice,
        ));
    };
    let choice = move |choice: Choice| {
        let id = format!("member-{}", choice.id);
        let checked = members.with_untracked(|m| m.contains(&choice.id));
        let on_change = move |ev| {
            let on = event_target_checked(&ev);
            members.update(|m| {
                m.retain(|&i| i != choice.id);
                if on {
                    m.push(choice.id);
                    m.sort_unstable();
                }
            });
        };
        view! {
            <label for=id.clone()>
                <input
                    type="checkbox"
                    id=id.clone()
                    checked=checked
                    disabled=!state.writable
                    on:change=on_change
                />
                {choice.name}
            </label>
        }
    };
    let no_choices = choices.is_empty().then_some(match what {
        "Groups" => "There are no groups yet.",
        _ => "There are no accounts besides the superuser.",
    });
    view! {
        <Dialog role="dialog" labelled_by="editor-title".to_owned() on_key>
            <h3 id="editor-title">{title}</h3>
            <form class="rights-editor" novalidate on:submit=save>
                <RightsMatrix id="editor".to_owned() grants disabled=!state.writable />
                <fieldset>
                    <legend>{what}</legend>
                    {no_choices.map(|text| view! { <p class="empty">{text}</p> })}
                    <div class="choices">{choices.into_iter().map(choice).collect_view()}</div>
                </fieldset>
                <div class="actions">
                    <button
                        type="submit"
                        class="primary"
                        disabled=move || busy.get() || !state.writable
                    >
                        {move || if busy.get() { "Saving…" } else { "Save" }}
                    </button>
                    <button type="button" on:click=move |_| close()>
                        "Cancel"
                    </button>
                    <NoticeArea notice />
                </div>
            </form>
        </Dialog>
    }
}
