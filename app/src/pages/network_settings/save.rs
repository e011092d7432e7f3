//! Saving the form: checks, the question before distributed mode is turned off, and what the
//! server answered.

use super::Form;
use crate::api::ServerStatus;
use crate::components::{Dialog, Notice};
use crate::model::NetworkSettings;
use leptos::prelude::*;

pub(super) fn save(form: Form, confirmed: bool) {
    if !form.draft.errors.with_untracked(Vec::is_empty) {
        form.notice.set(Some(Notice::Error(
            "Correct the marked fields before saving.".into(),
        )));
        form.draft.focus_first_error();
        return;
    }
    let disabling_distributed = form
        .base
        .with_untracked(NetworkSettings::distributed_enabled)
        && !form
            .draft
            .settings
            .with_untracked(NetworkSettings::distributed_enabled);
    if !confirmed
        && disabling_distributed
        && form.status.with_untracked(ServerStatus::alive_servers) > 1
    {
        form.confirm_distributed.set(true);
        return;
    }
    form.confirm_distributed.set(false);
    form.saving.set(true);
    form.notice.set(None);
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(send(form));
}

/// The name of what an error is about: its field, or for a whole section its first field.
#[cfg(any(feature = "hydrate", test))]
fn error_label(path: &str) -> &'static str {
    use crate::model::Field;
    Field::nearest(path).map_or("Setting", Field::label)
}

/// Sends the draft and shows what came of it.
#[cfg(feature = "hydrate")]
async fn send(form: Form) {
    use super::conflict::Conflict;
    use crate::client::{self, Answer};
    use crate::model::changes;

    let draft = form.draft.settings.get_untracked();
    let base = form.base.get_untracked();
    let etag = form.etag.get_untracked();
    match client::put_settings(&draft, &etag).await {
        Answer::Stored {
            value: settings,
            etag,
        } => {
            form.reset_to(settings, Some(etag));
            form.notice
                .set(Some(Notice::Success("The settings were saved.".into())));
        }
        Answer::Invalid(errors) => {
            form.notice.set(Some(Notice::Error(format!(
                "The server refused the changes: {}",
                errors
                    .iter()
                    .map(|e| format!("{} {}", error_label(&e.field), e.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            ))));
            form.draft.refuse(errors);
            form.draft.focus_first_error();
        }
        Answer::Conflict(by) => match client::get_settings().await {
            Ok((current, etag)) => {
                let who = by.as_ref().map_or("Someone else", |by| by.user.as_str());
                form.notice.set(Some(Notice::Error(format!(
                    "{who} saved these settings after you opened them. Nothing of yours was \
                     saved: review their changes below."
                ))));
                form.conflict.set(Some(Conflict {
                    theirs: changes(&base, &current),
                    mine: changes(&base, &draft),
                    current,
                    etag,
                    by,
                }));
            }
            Err(e) => form.notice.set(Some(Notice::Error(format!(
                "Someone else saved first, and the current settings could not be loaded: {e}"
            )))),
        },
        Answer::Failed(e) => form
            .notice
            .set(Some(Notice::Error(format!("Nothing was saved: {e}")))),
    }
    form.saving.set(false);
    // Events that came while saving were set aside (they may be this save's own); whether
    // someone saved after it is settled by comparing with what is stored now.
    super::live::resync(form).await;
}

/// The question before distributed mode is turned off, naming the other live servers.
fn confirm_text(status: &ServerStatus) -> String {
    let others: Vec<_> = status
        .servers
        .iter()
        .filter(|s| s.alive && !s.this_server)
        .collect();
    format!(
        "{} also {} a recent heartbeat on this database. Without distributed mode the servers keep \
         using the same database but stop synchronising with each other: changes made on one \
         server no longer reach the others.",
        super::servers::names(&others),
        if others.len() == 1 { "has" } else { "have" }
    )
}

/// Asks before a save turns distributed mode off while other servers run.
#[component]
pub(super) fn ConfirmDistributed(form: Form) -> impl IntoView {
    move || {
        form.confirm_distributed.get().then(|| {
            let text = form.status.with_untracked(confirm_text);
            view! {
                <Dialog
                    role="alertdialog"
                    labelled_by="confirm-distributed-title".to_owned()
                    described_by="confirm-distributed-text"
                >
                    <h3 id="confirm-distributed-title">"Disable distributed mode?"</h3>
                    <p id="confirm-distributed-text">{text}</p>
                    <div class="actions">
                        <button type="button" class="danger" on:click=move |_| save(form, true)>
                            "Disable and save"
                        </button>
                        <button
                            type="button"
                            autofocus
                            on:click=move |_| form.confirm_distributed.set(false)
                        >
                            "Cancel"
                        </button>
                    </div>
                </Dialog>
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_field() {
        assert_eq!(error_label("scan.timeout_ms"), "Scan timeout");
        assert_eq!(error_label("distributed"), "Distributed mode");
        assert_eq!(error_label("surprise"), "Setting");
        assert_eq!(error_label(""), "Setting");
    }
}
