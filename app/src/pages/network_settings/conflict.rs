//! When someone else saved first: what they changed, what was not saved, and the way out.

use super::{Form, change_text};
use crate::api::ChangedBy;
use crate::components::Notice;
use crate::model::{Change, NetworkSettings, apply_changes};
use crate::pages::show_time;
use leptos::prelude::*;

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Conflict {
    pub theirs: Vec<Change>,
    pub mine: Vec<Change>,
    /// The settings as the other administrator saved them.
    pub current: NetworkSettings,
    pub etag: String,
    /// Who saved them, if the server said.
    pub by: Option<ChangedBy>,
}

/// Who saved first, and when ("alice saved first, at 2026-11-30 08:00:00 UTC").
fn saved_first(by: Option<&ChangedBy>) -> String {
    match by {
        Some(by) => format!("{} saved first, at {}", by.user, show_time(&by.at)),
        None => "Someone else saved first".to_owned(),
    }
}

fn change_list(changes: Vec<Change>) -> impl IntoView {
    changes
        .into_iter()
        .map(|c| view! { <li>{change_text(&c)}</li> })
        .collect_view()
}

#[component]
pub(super) fn ConflictPanel(form: Form) -> impl IntoView {
    let reapply = move |_| {
        let Some(conflict) = form.conflict.get_untracked() else {
            return;
        };
        let merged = apply_changes(&conflict.current, &conflict.mine)
            .unwrap_or_else(|| conflict.current.clone());
        form.reset_to(conflict.current, Some(conflict.etag));
        form.draft.edit(|d| *d = merged);
        form.conflict.set(None);
        form.notice.set(Some(Notice::Success(
            "Your changes are applied on top of the latest settings; review them and Save.".into(),
        )));
    };
    let discard_mine = move |_| {
        if let Some(conflict) = form.conflict.get_untracked() {
            form.reset_to(conflict.current, Some(conflict.etag));
        }
        form.conflict.set(None);
        form.notice.set(Some(Notice::Success(
            "The form now shows the latest settings.".into(),
        )));
    };
    move || {
        form.conflict.get().map(|c| {
            view! {
                <div class="conflict" role="alert" aria-labelledby="conflict-title">
                    <h2 id="conflict-title">{saved_first(c.by.as_ref())}</h2>
                    <p>"They changed:"</p>
                    <ul class="theirs">{change_list(c.theirs)}</ul>
                    <p>"Your unsaved changes:"</p>
                    <ul class="mine">{change_list(c.mine)}</ul>
                    <div class="actions">
                        <button type="button" class="primary" on:click=reapply>
                            "Re-apply my changes"
                        </button>
                        <button type="button" on:click=discard_mine>
                            "Discard mine, show theirs"
                        </button>
                    </div>
                </div>
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_who_saved_first() {
        let by = ChangedBy {
            user: "alice".into(),
            at: "2026-11-30T08:00:00Z".into(),
        };
        assert_eq!(
            saved_first(Some(&by)),
            "alice saved first, at 2026-11-30 08:00:00 UTC"
        );
        assert_eq!(saved_first(None), "Someone else saved first");
    }
}
