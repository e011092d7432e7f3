//! Changes made elsewhere while the page is open: another administrator, or another server
//! sharing the database, saved the settings; a server joined or left.

use super::Form;
use crate::model::Field;
use leptos::prelude::*;

/// Settings saved elsewhere since the form was loaded.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteChange {
    pub etag: String,
    pub fields: Vec<Field>,
    /// The administrator who saved; unknown when a re-read found the change.
    pub by: Option<String>,
}

/// What the notice says changed, and who changed it.
fn announcement(change: &RemoteChange) -> String {
    let fields = change
        .fields
        .iter()
        .map(|f| f.label())
        .collect::<Vec<_>>()
        .join(", ");
    match &change.by {
        Some(by) => format!("{by} saved new settings since this page was loaded: {fields}."),
        None => format!(
            "Changed on the server since this page was loaded (by another administrator or \
             server): {fields}."
        ),
    }
}

/// Says what changed elsewhere. With nothing edited here it offers the new values; edits are
/// kept, and saving them goes through the conflict panel, which shows both sides.
#[component]
pub fn LiveNotice(form: Form) -> impl IntoView {
    let load = move |_| {
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(load_latest(form));
    };
    move || {
        form.remote.get().map(|change| {
            view! {
                <div class="notice info live-change" role="status" aria-live="polite">
                    <p>{announcement(&change)}</p>
                    {move || {
                        if form.dirty() {
                            view! {
                                <p>
                                    "Your edits are kept. Saving them shows the other changes beside yours first."
                                </p>
                            }
                                .into_any()
                        } else {
                            view! {
                                <button type="button" class="primary" on:click=load>
                                    "Load the new values"
                                </button>
                            }
                                .into_any()
                        }
                    }}
                </div>
            }
        })
    }
}

#[cfg(feature = "hydrate")]
async fn load_latest(form: Form) {
    use crate::components::Notice;
    match crate::client::get_settings().await {
        Ok((settings, etag)) => {
            form.reset_to(settings, Some(etag));
            form.notice.set(Some(Notice::Success(
                "The form shows the latest settings.".into(),
            )));
        }
        Err(e) => form.notice.set(Some(Notice::Error(format!(
            "The latest settings could not be loaded: {e}"
        )))),
    }
}

/// Follows the server's events for as long as the form is shown.
#[cfg(feature = "hydrate")]
pub fn follow(form: Form) {
    use crate::api::LiveEvent;
    let Some(stop) = crate::client::follow_events(move |event| match event {
        LiveEvent::SettingsChanged { etag, fields, by } => settings_changed(
            form,
            RemoteChange {
                etag,
                fields,
                by: Some(by),
            },
        ),
        LiveEvent::Resync => leptos::task::spawn_local(resync(form)),
        LiveEvent::ServerJoined { .. } | LiveEvent::ServerLeft { .. } => {
            leptos::task::spawn_local(refresh_status(form))
        }
        // the discovery pages' events
        LiveEvent::DevicesChanged
        | LiveEvent::DeviceStatus { .. }
        | LiveEvent::JobsChanged
        | LiveEvent::AccountsChanged
        | LiveEvent::CertificatesChanged
        | LiveEvent::EnrollmentChanged => {}
    }) else {
        return;
    };
    on_cleanup(move || stop.abort());
}

#[cfg(feature = "hydrate")]
fn settings_changed(form: Form, change: RemoteChange) {
    // This page's own save: its answer brings the new version (and an event that comes first
    // is this save's, or another whose conflict the save will report).
    if form.saving.get_untracked() || form.etag.with_untracked(|e| *e == change.etag) {
        return;
    }
    form.remote.set(Some(change));
}

/// Events may have been missed: compare with what is stored now.
#[cfg(feature = "hydrate")]
pub(super) async fn resync(form: Form) {
    if let Ok((current, etag)) = crate::client::get_settings().await
        && !form.etag.with_untracked(|e| *e == etag)
    {
        let fields = form.base.with_untracked(|base| {
            crate::model::changes(base, &current)
                .into_iter()
                .map(|c| c.field)
                .collect()
        });
        settings_changed(
            form,
            RemoteChange {
                etag,
                fields,
                by: None,
            },
        );
    }
    refresh_status(form).await;
}

#[cfg(feature = "hydrate")]
async fn refresh_status(form: Form) {
    if let Ok(status) = crate::client::get_status().await {
        form.status.set(status);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notice_names_who_saved() {
        let mut change = RemoteChange {
            etag: "\"7\"".into(),
            fields: vec![Field::ScanTimeoutMs],
            by: Some("alice".into()),
        };
        assert_eq!(
            announcement(&change),
            "alice saved new settings since this page was loaded: Scan timeout."
        );
        change.by = None;
        assert!(announcement(&change).contains("by another administrator or server"));
    }
}
