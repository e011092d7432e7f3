//! The certificates page as the server renders it, for an administrator who may change
//! certificates and for one who may only look.

use super::{Certificates, WebCertificates};
use crate::api::{Expiry, Me, ServerRef, WebCertificate};
use crate::model::{Area, Rights};
use leptos::prelude::*;

fn certificate(fp: char, subject: &str, is_ca: bool) -> WebCertificate {
    WebCertificate {
        fingerprint_sha256: fp.to_string().repeat(64),
        fingerprint_sha1: fp.to_string().repeat(40),
        subject: subject.into(),
        issuer: "CN=Pharos Web Root CA".into(),
        issuer_fingerprint: None,
        sans: if is_ca {
            Vec::new()
        } else {
            vec!["lb.example".into(), "localhost".into()]
        },
        not_before: "2026-11-01T00:00:00Z".into(),
        not_after: "2027-11-01T00:00:00Z".into(),
        days_left: 336,
        expiry: Expiry::Valid,
        key_algorithm: "EC P-256".into(),
        has_key: true,
        is_ca,
        self_signed: is_ca,
        assigned_to_all: false,
        assigned_to: Vec::new(),
        issued: 0,
    }
}

fn render(me: Me) -> String {
    let server = ServerRef {
        id: "s1".into(),
        name: "node-1".into(),
    };
    let leaf = WebCertificate {
        assigned_to_all: true,
        assigned_to: vec![server.clone()],
        ..certificate('b', "CN=lb.example", false)
    };
    let expiring = WebCertificate {
        days_left: 3,
        expiry: Expiry::Soon,
        ..certificate('c', "CN=old.example", false)
    };
    let expired = WebCertificate {
        days_left: -2,
        expiry: Expiry::Expired,
        has_key: false,
        ..certificate('d', "CN=gone.example", false)
    };
    let data = WebCertificates {
        certificates: vec![
            certificate('a', "CN=Pharos Web Root CA", true),
            leaf,
            expiring,
            expired,
        ],
        servers: vec![server],
        suggested_hostnames: vec!["lb.example".into(), "localhost".into()],
        suggested_for_server: Default::default(),
    };
    Owner::new_root(None).with(|| {
        let (parts, ()) = http::Request::builder()
            .extension(me)
            .body(())
            .unwrap()
            .into_parts();
        provide_context(parts);
        crate::components::provide_me();
        view! { <Certificates data /> }.to_html()
    })
}

#[test]
fn a_writer_sees_the_list_and_every_action() {
    let html = render(Me {
        id: 1,
        username: "admin".into(),
        rights: Rights::superuser(),
    });
    for part in [
        "Pharos Web Root CA",
        "root CA",
        "lb.example",
        &"b".repeat(64),
        &"b".repeat(40),
        "EC P-256",
        "key present",
        "no key",
        "all servers",
        "336 days left",
        "3 days left: renew it soon",
        "expiry expired",
        "format=chain",
        "aria-label=\"Assign lb.example\"",
        "aria-label=\"Renew lb.example\"",
        "aria-label=\"Delete lb.example\"",
        "Create signed certificate",
        "Generate a CA",
        "Import PKCS#12",
        "aria-label=\"Remove lb.example\"",
    ] {
        assert!(html.contains(part), "{part}");
    }
    // a CA signs; it is not what a server presents
    assert!(!html.contains("Assign Pharos Web Root CA"));
    // no key, nothing to export with it
    assert!(!html.contains("Export gone.example"));
}

#[test]
fn a_reader_sees_the_list_without_actions() {
    let html = render(Me {
        id: 2,
        username: "reader".into(),
        rights: Rights {
            superuser: false,
            read: vec![Area::Certificates],
            write: Vec::new(),
        },
    });
    assert!(html.contains("lb.example"));
    assert!(html.contains("format=pem"));
    for action in ["<button", "<form", "<input", "<select", "<textarea"] {
        assert!(!html.contains(action), "{action}");
    }
}
