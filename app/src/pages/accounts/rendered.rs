//! The accounts page as the server renders it, for an administrator who may change accounts and
//! for one who may only look.

use super::{Accounts, AccountsData};
use crate::api::{AccountList, Group, Lockout, LockoutList, Me, User};
use crate::model::{Access, Area, Effect, Grant, Rights};
use leptos::prelude::*;

fn user(id: i64, username: &str, superuser: bool) -> User {
    User {
        id,
        username: username.into(),
        superuser,
        disabled: false,
        groups: Vec::new(),
        grants: Vec::new(),
        rights: if superuser {
            Rights::superuser()
        } else {
            Rights::default()
        },
        locked_until: None,
        created_at: "2026-11-01T00:00:00Z".into(),
        last_sign_in: None,
        revision: 1,
    }
}

fn render(me: Me) -> String {
    let grant = Grant {
        area: Area::Jobs,
        access: Access::Read,
        effect: Effect::Allow,
    };
    let alice = User {
        groups: vec![7],
        rights: Rights::from_grants(&[grant]),
        locked_until: Some("2026-11-30T10:00:00Z".into()),
        ..user(2, "alice", false)
    };
    let data = AccountsData {
        accounts: AccountList {
            users: vec![user(1, "admin", true), alice],
            groups: vec![Group {
                id: 7,
                name: "operators".into(),
                members: vec![2],
                grants: vec![grant],
                revision: 1,
            }],
        },
        lockouts: LockoutList {
            lockouts: vec![Lockout {
                address: "192.0.2.9".into(),
                locked_until: "2026-11-30T10:05:00Z".into(),
            }],
        },
    };
    Owner::new_root(None).with(|| {
        let (parts, ()) = http::Request::builder()
            .extension(me)
            .body(())
            .unwrap()
            .into_parts();
        provide_context(parts);
        crate::components::provide_me();
        view! { <Accounts data /> }.to_html()
    })
}

/// The buttons (besides forms' submit buttons, held back while a form is empty) that are
/// disabled, and all of them.
fn disabled_buttons(html: &str) -> (usize, usize) {
    let buttons: Vec<&str> = html
        .split("<button")
        .skip(1)
        .map(|button| button.split('>').next().unwrap_or(""))
        .filter(|button| !button.contains("type=\"submit\""))
        .collect();
    let disabled = buttons.iter().filter(|b| b.contains("disabled")).count();
    (disabled, buttons.len())
}

#[test]
fn the_superuser_cannot_be_restricted() {
    let html = render(Me {
        id: 1,
        username: "admin".into(),
        rights: Rights::superuser(),
    });
    for part in [
        "All rights (cannot be restricted)",
        "Read: Jobs",
        "operators",
        "locked until 2026-11-30 10:00:00 UTC",
        "Jobs: read allowed",
        "192.0.2.9",
        "aria-label=\"Unlock 192.0.2.9\"",
        "aria-label=\"Rights and groups of alice\"",
    ] {
        assert!(html.contains(part), "{part}");
    }
    assert!(!html.contains("Rights and groups of admin"));
    assert!(!html.contains("Delete admin"));
    assert_eq!(disabled_buttons(&html).0, 0);
}

#[test]
fn a_reader_sees_every_control_disabled() {
    let html = render(Me {
        id: 2,
        username: "alice".into(),
        rights: Rights {
            superuser: false,
            read: vec![Area::Accounts],
            write: Vec::new(),
        },
    });
    let (disabled, buttons) = disabled_buttons(&html);
    assert!(buttons > 5, "{buttons}");
    assert_eq!(disabled, buttons);
    for input in html.split("<input").skip(1) {
        assert!(
            input.split('>').next().unwrap_or("").contains("disabled"),
            "{input}"
        );
    }
}

#[test]
fn the_matrix_shows_each_grant() {
    use super::rights::RightsMatrix;
    let html = Owner::new_root(None).with(|| {
        let grants = RwSignal::new(vec![Grant {
            area: Area::Jobs,
            access: Access::Write,
            effect: Effect::Deny,
        }]);
        view! { <RightsMatrix id="m".to_owned() grants disabled=false /> }.to_html()
    });
    assert_eq!(html.matches("<select").count(), Area::ALL.len() * 2);
    let jobs_write = html
        .split("id=\"m-jobs-write\"")
        .nth(1)
        .and_then(|rest| rest.split("</select>").next())
        .unwrap();
    assert!(
        jobs_write.contains("value=\"deny\" selected"),
        "{jobs_write}"
    );
    assert_eq!(html.matches(" selected").count(), Area::ALL.len() * 2);
}
