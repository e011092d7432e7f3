//! The accounts follow the server: each change to an account, a group or a lock-out is
//! announced, and the page reads them again. Its actions, and what came of them.

use super::editor::Editing;
use super::{AccountsData, AccountsState, store};
use crate::api::{Group, GroupUpdate, LiveEvent, User, UserUpdate};
use crate::client::Refusal;
use crate::client::accounts::{
    delete_group as remove_group, delete_user as remove_user, get_accounts, get_lockouts,
    unlock_address as lift_lockout, unlock_user as unlock_account, update_group, update_user,
};
use crate::client::follow_events;
use crate::components::Notice;
use crate::model::Grant;
use leptos::prelude::*;

/// Reads what the page shows.
pub(super) async fn read() -> Result<AccountsData, String> {
    let accounts = get_accounts().await?;
    let lockouts = get_lockouts().await?;
    Ok(AccountsData { accounts, lockouts })
}

/// Follows the server's events for as long as the accounts are shown.
pub(super) fn follow(state: AccountsState) {
    let Some(stop) = follow_events(move |event| match event {
        LiveEvent::AccountsChanged | LiveEvent::Resync => reread(state),
        // other areas' events
        _ => {}
    }) else {
        return;
    };
    on_cleanup(move || stop.abort());
}

/// Reads everything again; an earlier read still under way is ignored when it answers. An
/// editor or dialog that is open keeps what was entered in it (a save based on an outdated
/// revision is refused, and says so).
pub(super) fn reread(state: AccountsState) {
    state
        .reads
        .reread(read(), "accounts", state.notice, move |data| {
            state.users.set(data.accounts.users);
            state.groups.set(data.accounts.groups);
            state.lockouts.set(data.lockouts.lockouts);
        });
}

/// Shows why `what` was not done; after a conflict (someone changed the account or group since
/// the page read it) the page reads it again, so that the change can be made again on top.
fn refused(state: AccountsState, what: String, refusal: Refusal) -> String {
    let text = match &refusal {
        Refusal::Conflict(_) => {
            reread(state);
            format!(
                "{what}: {}. The page now shows what is stored: make the change again if it is still needed.",
                refusal.text()
            )
        }
        _ => format!("{what}: {}", refusal.text()),
    };
    state.notice.set(Some(Notice::Error(text.clone())));
    text
}

pub(super) async fn set_disabled(state: AccountsState, user: User, disabled: bool) {
    let update = UserUpdate {
        revision: user.revision,
        disabled: Some(disabled),
        grants: None,
        groups: None,
    };
    match update_user(user.id, &update).await {
        Ok(stored) => {
            let done = if stored.disabled {
                "is disabled: it cannot sign in, and its sessions and tokens no longer work"
            } else {
                "is enabled"
            };
            state.notice.try_set(Some(Notice::Success(format!(
                "The account {} {done}.",
                stored.username
            ))));
            state
                .users
                .try_update(|users| store(users, stored, |u| u.id));
        }
        Err(refusal) => {
            let what = format!("The account {} was not changed", user.username);
            refused(state, what, refusal);
        }
    }
}

pub(super) async fn delete_user(state: AccountsState, user: User) {
    let notice = match remove_user(user.id).await {
        Ok(()) => {
            state
                .users
                .update(|users| users.retain(|u| u.id != user.id));
            // the groups list it no more
            reread(state);
            Notice::Success(format!("The account {} was deleted.", user.username))
        }
        Err(refusal) => Notice::Error(format!(
            "The account {} was not deleted: {}",
            user.username,
            refusal.text()
        )),
    };
    state.notice.try_set(Some(notice));
}

pub(super) async fn delete_group(state: AccountsState, group: Group) {
    let notice = match remove_group(group.id).await {
        Ok(()) => {
            state
                .groups
                .update(|groups| groups.retain(|g| g.id != group.id));
            // its members' rights change
            reread(state);
            Notice::Success(format!("The group {} was deleted.", group.name))
        }
        Err(refusal) => Notice::Error(format!(
            "The group {} was not deleted: {}",
            group.name,
            refusal.text()
        )),
    };
    state.notice.try_set(Some(notice));
}

pub(super) async fn unlock_user(state: AccountsState, id: i64) {
    let notice = match unlock_account(id).await {
        Ok(()) => {
            state.users.update(|users| {
                if let Some(user) = users.iter_mut().find(|u| u.id == id) {
                    user.locked_until = None;
                }
            });
            Notice::Success("The account is unlocked.".to_owned())
        }
        Err(refusal) => Notice::Error(format!("The account was not unlocked: {}", refusal.text())),
    };
    state.notice.try_set(Some(notice));
}

pub(super) async fn unlock_address(state: AccountsState, address: String) {
    let notice = match lift_lockout(&address).await {
        Ok(()) => {
            state
                .lockouts
                .update(|lockouts| lockouts.retain(|l| l.address != address));
            Notice::Success(format!("{address} is unlocked."))
        }
        Err(refusal) => Notice::Error(format!("{address} was not unlocked: {}", refusal.text())),
    };
    state.notice.try_set(Some(notice));
}

/// Saves the editor: the grants and memberships of an account or a group, based on the revision
/// the editor opened with.
pub(super) async fn save_edit(
    state: AccountsState,
    editing: Editing,
    grants: Vec<Grant>,
    members: Vec<i64>,
    busy: RwSignal<bool>,
    notice: RwSignal<Option<Notice>>,
) {
    let (answer, what) = match &editing {
        Editing::User(user) => {
            let update = UserUpdate {
                revision: user.revision,
                disabled: None,
                grants: Some(grants),
                groups: Some(members),
            };
            let answer = update_user(user.id, &update).await.map(|stored| {
                let name = stored.username.clone();
                state.users.update(|users| store(users, stored, |u| u.id));
                // the groups' member lists changed with it
                reread(state);
                format!("The rights and groups of {name} are saved.")
            });
            (
                answer,
                format!("The account {} was not changed", user.username),
            )
        }
        Editing::Group(group) => {
            let update = GroupUpdate {
                revision: group.revision,
                grants: Some(grants),
                members: Some(members),
            };
            let answer = update_group(group.id, &update).await.map(|stored| {
                let name = stored.name.clone();
                state
                    .groups
                    .update(|groups| store(groups, stored, |g| g.id));
                // its members' rights changed with it
                reread(state);
                format!("The rights and members of the group {name} are saved.")
            });
            (answer, format!("The group {} was not changed", group.name))
        }
    };
    // the page may have been left meanwhile: then nothing is shown
    if busy.try_set(false).is_some() {
        return;
    }
    match answer {
        Ok(done) => {
            state.notice.set(Some(Notice::Success(done)));
            state.editing.set(None);
        }
        // the editor's copy is outdated: it closes, and the page shows what is stored now
        Err(refusal @ Refusal::Conflict(_)) => {
            refused(state, what, refusal);
            state.editing.set(None);
        }
        Err(refusal) => notice.set(Some(Notice::Error(format!("{what}: {}", refusal.text())))),
    }
}
