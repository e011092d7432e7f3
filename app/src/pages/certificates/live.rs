//! The list follows the server: each change of a certificate or an assignment is announced, and
//! the page reads the list again. The row actions, and what came of them.

use super::{CertificatesState, short_name};
use crate::api::{LiveEvent, WebCertificate};
use crate::client::Refusal;
use crate::client::certificates::{delete as remove, get_certificates, renew as reissue};
use crate::client::follow_events;
use crate::components::{Notice, Sending};
use leptos::html;
use leptos::prelude::*;

/// Follows the server's events for as long as the list is shown.
pub(super) fn follow(state: CertificatesState) {
    let Some(stop) = follow_events(move |event| match event {
        LiveEvent::CertificatesChanged
        | LiveEvent::Resync
        // the suggested names and the servers to choose from
        | LiveEvent::ServerJoined { .. }
        | LiveEvent::ServerLeft { .. }
        | LiveEvent::SettingsChanged { .. } => reread(state),
        // other areas' events
        _ => {}
    }) else {
        return;
    };
    on_cleanup(move || stop.abort());
}

/// Reads the list again; an earlier read still under way is ignored when it answers.
pub(super) fn reread(state: CertificatesState) {
    state.reads.reread(
        get_certificates(),
        "certificates",
        state.notice,
        move |list| state.list.set(list),
    );
}

/// Sends a form's request and shows what came of it: `done` takes the answer; a refusal shows
/// at the fields it names and, in words, beside the form's button (some of the server's
/// refusals name no field of the form, or one it does not show).
pub(super) fn send<T: 'static>(
    sending: Sending,
    request: impl Future<Output = Result<T, Refusal>> + 'static,
    failed: &'static str,
    done: impl FnOnce(T) + 'static,
) {
    leptos::task::spawn_local(async move {
        let answer = request.await;
        // the page may have been left meanwhile: then nothing is shown
        if sending.busy.try_set(false).is_some() {
            return;
        }
        match answer {
            Ok(answer) => done(answer),
            Err(refusal) => {
                let text = refusal_text(&refusal);
                if let Refusal::Invalid(errors) = refusal {
                    sending.errors.refuse(errors);
                }
                sending
                    .notice
                    .set(Some(Notice::Error(format!("{failed}: {text}"))));
            }
        }
    });
}

/// A refusal in words: a field's messages without the field's name (the form marks the field).
fn refusal_text(refusal: &Refusal) -> String {
    match refusal {
        Refusal::Invalid(errors) => errors
            .iter()
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("; "),
        other => other.text(),
    }
}

pub(super) async fn renew(state: CertificatesState, cert: WebCertificate) {
    if state.busy.get_untracked() {
        return;
    }
    state.busy.set(true);
    let answer = reissue(&cert.fingerprint_sha256).await;
    if state.busy.try_set(false).is_some() {
        return;
    }
    let notice = match answer {
        Ok(created) => {
            reread(state);
            Notice::Success(format!(
                "{} was renewed with the same names: the new one is {}…{}",
                short_name(&cert),
                &created.fingerprint_sha256[..12.min(created.fingerprint_sha256.len())],
                if cert.assigned_to_all || !cert.assigned_to.is_empty() {
                    ", presented where the old one was."
                } else {
                    "."
                }
            ))
        }
        Err(refusal) => Notice::Error(format!(
            "{} was not renewed: {}",
            short_name(&cert),
            refusal_text(&refusal)
        )),
    };
    state.notice.set(Some(notice));
}

pub(super) async fn delete(state: CertificatesState, cert: WebCertificate) {
    let answer = remove(&cert.fingerprint_sha256).await;
    let notice = match answer {
        Ok(()) => {
            state.list.try_update(|list| {
                list.certificates
                    .retain(|c| c.fingerprint_sha256 != cert.fingerprint_sha256)
            });
            reread(state);
            Notice::Success(format!("{} was deleted.", short_name(&cert)))
        }
        Err(refusal) => Notice::Error(format!(
            "{} was not deleted: {}",
            short_name(&cert),
            refusal_text(&refusal)
        )),
    };
    state.notice.try_set(Some(notice));
}

/// Reads the PKCS#12 file picked in `picker` and imports it with its password.
pub(super) async fn import_p12(
    picker: NodeRef<html::Input>,
    password: String,
) -> Result<crate::api::Created, Refusal> {
    use crate::api::{ImportCertificate, NewRoot};
    use base64::Engine;
    let unreadable = || Refusal::Failed("the file could not be read".to_owned());
    let file = picker
        .get_untracked()
        .and_then(|input| input.files())
        .and_then(|files| files.get(0))
        .ok_or_else(unreadable)?;
    let buffer = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
        .await
        .map_err(|_| unreadable())?;
    let bytes = web_sys::js_sys::Uint8Array::new(&buffer).to_vec();
    let request = NewRoot::Import(ImportCertificate {
        p12_base64: Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
        password: Some(password),
        ..Default::default()
    });
    crate::client::certificates::add_root(&request).await
}
