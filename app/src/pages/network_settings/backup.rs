//! Downloading a backup of the settings and restoring one.

use super::Form;
use crate::api::EXPORT_URL;
use crate::components::Notice;
use leptos::html;
use leptos::prelude::*;

#[component]
pub(super) fn BackupControls(form: Form) -> impl IntoView {
    let picker = NodeRef::<html::Input>::new();
    let restore = move |_| {
        if form.dirty() {
            form.notice.set(Some(Notice::Error(
                "Save or discard your changes before restoring a backup.".into(),
            )));
            if let Some(input) = picker.get_untracked() {
                input.set_value(""); // so that picking the same file again is a change too
            }
        } else {
            #[cfg(feature = "hydrate")]
            restore_picked_file(form, picker);
        }
    };
    view! {
        <span class="backup">
            <a href=crate::url(EXPORT_URL) download>
                "Download a backup"
            </a>
            <input
                type="file"
                id="restore-backup"
                class="visually-hidden"
                accept="application/json,.json"
                node_ref=picker
                disabled=form.draft.read_only
                on:change=restore
            />
            <label
                for="restore-backup"
                class="button"
                class:disabled=form.draft.read_only
            >
                "Restore a backup…"
            </label>
        </span>
    }
}

/// Sends the backup file the administrator picked and reports what was restored.
#[cfg(feature = "hydrate")]
fn restore_picked_file(form: Form, picker: NodeRef<html::Input>) {
    use super::change_text;
    use crate::client::{self, Answer};

    let Some(input) = picker.get_untracked() else {
        return;
    };
    let Some(file) = input.files().and_then(|files| files.get(0)) else {
        return;
    };
    input.set_value(""); // so that picking the same file again is a change too
    leptos::task::spawn_local(async move {
        let text = match wasm_bindgen_futures::JsFuture::from(file.text()).await {
            Ok(text) => text.as_string().unwrap_or_default(),
            Err(_) => {
                form.notice
                    .set(Some(Notice::Error("The file could not be read.".into())));
                return;
            }
        };
        let notice = match client::import_backup(text).await {
            Answer::Stored {
                value: result,
                etag,
            } => {
                form.reset_to(result.settings, Some(etag));
                if let Ok(status) = client::get_status().await {
                    form.status.set(status);
                }
                let upgraded: Vec<String> = result.upgraded.iter().map(change_text).collect();
                let mut text = String::from("The backup was restored.");
                if !upgraded.is_empty() {
                    text.push_str(&format!(
                        " Upgraded from the older format: {}.",
                        upgraded.join("; ")
                    ));
                }
                if result.kept.iter().any(|s| s == "distributed") {
                    text.push_str(
                        " Distributed mode was kept as it is here: the backup comes from the \
                         other kind of installation.",
                    );
                }
                Notice::Success(text)
            }
            Answer::Invalid(errors) => Notice::Error(format!(
                "The backup was refused and nothing changed: {}",
                errors
                    .iter()
                    .map(|e| format!("{} {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
            // a restore needs no version, so 412 cannot come; reported like any failure
            Answer::Conflict(_) => Notice::Error("The backup was not restored: conflict".into()),
            Answer::Failed(e) => Notice::Error(format!("The backup was not restored: {e}")),
        };
        form.notice.set(Some(notice));
    });
}
