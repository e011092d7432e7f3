//! The web certificate a cluster address needs (every server presents one certificate with the
//! cluster address and every server's names), checked, with its one-click fix; and the device
//! CA's chain for a reverse proxy. The check reads the database, so the browser asks for it once
//! the page is live (the settings page itself renders from memory, without waiting).

use crate::api::{CLIENT_CHAIN_URL, ClusterCheck, MissingNames, NewSigned, Servers};
#[cfg(feature = "hydrate")]
use crate::components::Rereads;
use crate::components::{Notice, NoticeArea, may_write};
use crate::model::Area;
use leptos::prelude::*;

#[component]
pub(super) fn CertificateSection() -> impl IntoView {
    let check = RwSignal::new(None::<ClusterCheck>);
    let notice = RwSignal::new(None::<Notice>);
    #[cfg(feature = "hydrate")]
    let reads = Rereads::default();
    #[cfg(feature = "hydrate")]
    {
        follow(check, notice, reads);
        // effects run only in the browser, once the page is live
        Effect::new(move |_| reread(check, notice, reads));
    }
    let fixing = RwSignal::new(false);
    let fix = move |_| {
        let Some(request) = check.with_untracked(|c| c.as_ref().and_then(fix_request)) else {
            return;
        };
        if fixing.get_untracked() {
            return;
        }
        fixing.set(true);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            let answer = crate::client::certificates::add_signed(&request).await;
            if fixing.try_set(false).is_some() {
                return;
            }
            match answer {
                Ok(_) => {
                    notice.set(Some(Notice::Success(
                        "One certificate with every name is made and assigned to all servers."
                            .to_owned(),
                    )));
                    reread(check, notice, reads);
                }
                Err(refusal) => notice.set(Some(Notice::Error(format!(
                    "The certificate was not made: {}",
                    refusal.text()
                )))),
            }
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = request;
    };
    let writable = may_write(Area::Certificates);
    let panel = move || match check.get() {
        Some(c) => state_view(c, writable, fixing, fix),
        None => view! {
            <p class="check-state" data-state="checking">
                "Checking the web certificates…"
            </p>
        }
        .into_any(),
    };
    view! {
        <section
            class="certificate-check"
            aria-labelledby="certificate-check-title"
            data-testid="certificate-check"
        >
            <h2 id="certificate-check-title">"Web certificate"</h2>
            {panel}
            // the form's notice area is the page's main one
            <NoticeArea notice class="check-notice" />
            <p>
                <a
                    class="button"
                    href=crate::url(CLIENT_CHAIN_URL)
                    download
                    data-testid="client-chain"
                >
                    "Export Client Certificate Chain"
                </a>
            </p>
            <p class="help">
                "The chain of the CA that issues the devices' client certificates, as PEM: a reverse proxy's trusted client CA (nginx's ssl_client_certificate). Renewing or replacing web certificates never changes it."
            </p>
        </section>
    }
}

/// A server's missing names as the panel lists them.
fn missing_text(missing: &MissingNames) -> String {
    format!(
        "{} presents a certificate ({}…) without {}",
        missing.server.name,
        missing.certificate.chars().take(12).collect::<String>(),
        missing.names.join(", ")
    )
}

/// The one-click fix: one certificate for all servers with every name, assigned to all of them;
/// none without a CA to sign it.
fn fix_request(check: &ClusterCheck) -> Option<NewSigned> {
    Some(NewSigned {
        issuer: check.fix_issuer.clone()?,
        servers: Servers::ALL,
        hostnames: check.fix_hostnames.clone(),
        validity_days: None,
        algorithm: Default::default(),
        assign: true,
    })
}

/// Whether the requirement holds, and if not, what is wrong and the fix.
fn state_view(
    c: ClusterCheck,
    writable: bool,
    fixing: RwSignal<bool>,
    fix: impl Fn(leptos::ev::MouseEvent) + Clone + Send + Sync + 'static,
) -> AnyView {
    if !c.applies {
        return view! {
                <p class="check-state" data-state="not-applicable" role="status">
                    "No requirement: without an enabled cluster address on several servers (or a High Availability installation), each server presents its own certificate."
                </p>
            }
            .into_any();
    }
    let address = c.cluster_address.clone().unwrap_or_default();
    if c.ok {
        return view! {
                <p class="check-state notice success" data-state="ok" role="status">
                    {format!(
                        "Every server presents one certificate with all names, the cluster address {address} among them."
                    )}
                </p>
            }
            .into_any();
    }
    let problems = c
        .problems
        .iter()
        .map(|p| view! { <li>{p.clone()}</li> })
        .collect_view();
    let missing = c
        .missing
        .iter()
        .map(|m| view! { <li class="missing">{missing_text(m)}</li> })
        .collect_view();
    let without = (!c.servers_without.is_empty()).then(|| {
        let names: Vec<String> = c.servers_without.iter().map(|s| s.name.clone()).collect();
        view! {
            <li class="without">
                {format!("Not presenting the common certificate: {}", names.join(", "))}
            </li>
        }
    });
    let fix_names = c.fix_hostnames.join(", ");
    let fix_button = if !writable {
        view! {
                <p class="help">
                    "An administrator with the Certificates write right can fix it here or on the Certificates page."
                </p>
            }
            .into_any()
    } else {
        let no_issuer = c.fix_issuer.is_none();
        let reason = no_issuer.then(|| {
                view! {
                    <p class="help" id="certificate-fix-reason">
                        "No CA with its key is in the list to sign it: generate or import one on the Certificates page."
                    </p>
                }
            });
        view! {
            <div class="actions">
                <button
                    type="button"
                    class="primary"
                    data-testid="certificate-fix"
                    aria-describedby=no_issuer.then_some("certificate-fix-reason")
                    disabled=move || no_issuer || fixing.get()
                    on:click=fix
                >
                    {move || {
                        if fixing.get() {
                            "Creating…"
                        } else {
                            "Create one certificate for all servers and assign it"
                        }
                    }}
                </button>
            </div>
            {reason}
        }
        .into_any()
    };
    view! {
            <div class="check-state notice error" data-state="failing" role="alert">
                <p>
                    {format!(
                        "The cluster address {address} needs one certificate, presented by every server, with every name devices use."
                    )}
                </p>
                <ul class="problems">{problems} {missing} {without}</ul>
                <p class="fix-names">{format!("The fix's names: {fix_names}")}</p>
                {fix_button}
            </div>
        }
        .into_any()
}

/// Follows the server's events for as long as the check is shown.
#[cfg(feature = "hydrate")]
fn follow(check: RwSignal<Option<ClusterCheck>>, notice: RwSignal<Option<Notice>>, reads: Rereads) {
    use crate::api::LiveEvent;
    let Some(stop) = crate::client::follow_events(move |event| match event {
        LiveEvent::CertificatesChanged
        | LiveEvent::SettingsChanged { .. }
        | LiveEvent::ServerJoined { .. }
        | LiveEvent::ServerLeft { .. }
        | LiveEvent::Resync => reread(check, notice, reads),
        // other areas' events
        _ => {}
    }) else {
        return;
    };
    on_cleanup(move || stop.abort());
}

/// Checks again; an earlier check still under way is ignored when it answers.
#[cfg(feature = "hydrate")]
fn reread(check: RwSignal<Option<ClusterCheck>>, notice: RwSignal<Option<Notice>>, reads: Rereads) {
    reads.reread(
        crate::client::certificates::get_check(),
        "certificate check",
        notice,
        move |latest| check.set(Some(latest)),
    );
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use crate::api::ServerRef;

    fn failing(fix_issuer: Option<&str>) -> ClusterCheck {
        let node = ServerRef {
            id: "s1".into(),
            name: "node-1".into(),
        };
        ClusterCheck {
            applies: true,
            ok: false,
            cluster_address: Some("lb.example".into()),
            missing: vec![MissingNames {
                server: node.clone(),
                certificate: "ab".repeat(32),
                names: vec!["lb.example".into()],
            }],
            servers_without: vec![node],
            fix_hostnames: vec!["lb.example".into(), "localhost".into()],
            fix_issuer: fix_issuer.map(str::to_owned),
            problems: vec!["node-1 presents its own certificate".into()],
        }
    }

    fn render(check: ClusterCheck, writable: bool) -> String {
        Owner::new_root(None).with(|| {
            let fixing = RwSignal::new(false);
            state_view(check, writable, fixing, |_: leptos::ev::MouseEvent| {}).to_html()
        })
    }

    #[test]
    fn a_failing_check_names_what_is_missing_and_offers_the_fix() {
        let html = render(failing(Some("cd")), true);
        for part in [
            "data-state=\"failing\"",
            "node-1 presents its own certificate",
            "node-1 presents a certificate (abababababab…) without lb.example",
            "Not presenting the common certificate: node-1",
            "The fix's names: lb.example, localhost",
            "data-testid=\"certificate-fix\"",
        ] {
            assert!(html.contains(part), "{part}");
        }
        assert!(!html.contains("disabled"));
        assert_eq!(
            fix_request(&failing(Some("cd"))).unwrap().servers,
            Servers::ALL
        );
    }

    #[test]
    fn without_a_ca_the_fix_is_disabled_and_says_why() {
        let html = render(failing(None), true);
        assert!(html.contains("disabled"));
        assert!(html.contains("No CA with its key is in the list"));
        assert!(fix_request(&failing(None)).is_none());
    }

    #[test]
    fn a_reader_gets_no_fix() {
        let html = render(failing(Some("cd")), false);
        assert!(!html.contains("<button"));
        let ok = ClusterCheck {
            ok: true,
            missing: Vec::new(),
            servers_without: Vec::new(),
            problems: Vec::new(),
            ..failing(None)
        };
        assert!(render(ok, false).contains("Every server presents one certificate with all names"));
    }
}
