//! When someone else saved first: what they changed, what was not saved, and the way out.

use super::{Form, change_text};
use crate::components::Notice;
use crate::model::{Change, NetworkSettings, apply_changes};
use leptos::prelude::*;

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Conflict {
    pub theirs: Vec<Change>,
    pub mine: Vec<Change>,
    /// The settings as the other administrator saved them.
    pub current: NetworkSettings,
    pub etag: String,
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
                    <h2 id="conflict-title">"Someone else saved first"</h2>
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
