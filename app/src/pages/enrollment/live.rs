//! The lists follow the server: each change of a key or a device certificate is announced, and
//! the page reads both again. The row actions, and what came of them.

use super::{Enrollment, EnrollmentState};
use crate::api::{DeviceCertificate, EnrollmentKey, EnrollmentKeyState, LiveEvent};
use crate::client::enrollment::{get_certificates, get_keys, revoke_certificate as revoke_cert};
use crate::client::follow_events;
use crate::components::Notice;
use leptos::prelude::*;

/// Both lists, read at once.
pub(super) async fn load() -> Result<Enrollment, String> {
    let (keys, certificates) = futures_util::future::join(get_keys(), get_certificates()).await;
    Ok(Enrollment {
        keys: keys?,
        certificates: certificates?,
    })
}

/// Follows the server's events for as long as the lists are shown.
pub(super) fn follow(state: EnrollmentState) {
    let Some(stop) = follow_events(move |event| match event {
        LiveEvent::EnrollmentChanged | LiveEvent::Resync => reread(state),
        // other areas' events
        _ => {}
    }) else {
        return;
    };
    on_cleanup(move || stop.abort());
}

/// Reads both lists again; an earlier read still under way is ignored when it answers.
pub(super) fn reread(state: EnrollmentState) {
    state.reads.reread(
        load(),
        "enrollment keys and device certificates",
        state.key_notice,
        move |data| {
            state.keys.set(data.keys.keys);
            state.certificates.set(data.certificates.certificates);
        },
    );
}

pub(super) async fn revoke_key(state: EnrollmentState, key: EnrollmentKey) {
    let notice = match crate::client::enrollment::revoke_key(&key.id).await {
        Ok(()) => {
            state.keys.try_update(|keys| {
                if let Some(listed) = keys.iter_mut().find(|k| k.id == key.id) {
                    listed.state = EnrollmentKeyState::Revoked;
                }
            });
            reread(state);
            Notice::Success(format!("The enrollment key {} was revoked.", key.id))
        }
        Err(refusal) => Notice::Error(format!(
            "The enrollment key {} was not revoked: {}",
            key.id,
            refusal.text()
        )),
    };
    state.key_notice.try_set(Some(notice));
}

pub(super) async fn revoke_certificate(state: EnrollmentState, cert: DeviceCertificate) {
    let notice = match revoke_cert(&cert.serial).await {
        Ok(revoked) => {
            state.certificates.try_update(|certificates| {
                if let Some(listed) = certificates.iter_mut().find(|c| c.serial == revoked.serial) {
                    *listed = revoked;
                }
            });
            Notice::Success(format!(
                "The certificate {} of {} was revoked.",
                cert.serial, cert.subject
            ))
        }
        Err(refusal) => Notice::Error(format!(
            "The certificate {} of {} was not revoked: {}",
            cert.serial,
            cert.subject,
            refusal.text()
        )),
    };
    state.certificate_notice.try_set(Some(notice));
}
