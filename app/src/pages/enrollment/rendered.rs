//! The enrollment page as the server renders it, for an administrator who may change
//! certificates and for one who may only look.

use super::{Enrollment, EnrollmentView};
use crate::api::{
    DeviceCertificate, DeviceCertificateList, DeviceCertificateState, EnrollmentKey,
    EnrollmentKeyList, EnrollmentKeyState, Me,
};
use crate::model::{Area, Rights};
use leptos::prelude::*;

fn key(id: &str, state: EnrollmentKeyState) -> EnrollmentKey {
    EnrollmentKey {
        id: id.into(),
        uses: 5,
        uses_left: 3,
        expires_at: "2026-12-01T10:00:00Z".into(),
        note: "batch 7".into(),
        created_at: "2026-11-30T10:00:00Z".into(),
        created_by: "admin".into(),
        state,
    }
}

fn certificate(serial: &str, state: DeviceCertificateState) -> DeviceCertificate {
    DeviceCertificate {
        serial: serial.into(),
        subject: "CN=kiosk-1".into(),
        not_after: "2027-11-30T10:00:00Z".into(),
        issued_at: "2026-11-30T10:05:00Z".into(),
        state,
        revoked_at: None,
        enrollment_key: Some("k-active".into()),
        renews: None,
        device_id: Some(42),
    }
}

fn render(rights: Rights) -> String {
    let data = Enrollment {
        keys: EnrollmentKeyList {
            keys: vec![
                key("k-active", EnrollmentKeyState::Active),
                key("k-revoked", EnrollmentKeyState::Revoked),
            ],
        },
        certificates: DeviceCertificateList {
            certificates: vec![
                certificate("0a1b", DeviceCertificateState::Valid),
                DeviceCertificate {
                    revoked_at: Some("2026-11-30T11:00:00Z".into()),
                    renews: Some("0a1b".into()),
                    enrollment_key: None,
                    device_id: None,
                    ..certificate("2c3d", DeviceCertificateState::Revoked)
                },
            ],
        },
    };
    let me = Me {
        id: 1,
        username: "someone".into(),
        rights,
    };
    Owner::new_root(None).with(|| {
        let (parts, ()) = http::Request::builder()
            .extension(me)
            .body(())
            .unwrap()
            .into_parts();
        provide_context(parts);
        crate::components::provide_me();
        view! { <EnrollmentView data /> }.to_html()
    })
}

#[test]
fn a_writer_sees_the_lists_and_every_action() {
    let html = render(Rights::superuser());
    for part in [
        "k-active",
        "3 / 5",
        "2026-12-01 10:00:00 UTC",
        "batch 7",
        "badge revoked",
        "CN=kiosk-1",
        "href=\"/devices?id=42#device-42\"",
        "at 2026-11-30 11:00:00 UTC",
        "Create key",
        "aria-label=\"Revoke key k-active\"",
        "aria-label=\"Revoke certificate 0a1b\"",
    ] {
        assert!(html.contains(part), "{part}");
    }
    // what is no longer active cannot be revoked
    assert!(!html.contains("Revoke key k-revoked"));
    assert!(!html.contains("Revoke certificate 2c3d"));
    // a secret is shown only right after it was made
    assert!(!html.contains("created-key"));
}

#[test]
fn a_reader_sees_the_lists_without_actions() {
    let html = render(Rights {
        superuser: false,
        read: vec![Area::Certificates],
        write: Vec::new(),
    });
    assert!(html.contains("k-active"));
    assert!(html.contains("0a1b"));
    for action in ["<button", "<form", "<input", "<select", "<textarea"] {
        assert!(!html.contains(action), "{action}");
    }
}
