//! Sign in: the one page anyone may open. Signing in leads on to the page that sent the
//! administrator here (`/login?next=/devices`), or to the settings.

use crate::api::{LOGIN_PAGE, LOGIN_URL, local_path};
use crate::components::use_me;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// Where signing in leads when no page sent the administrator here.
const START: &str = "/settings/network";

/// Where signing in leads, given the page that sent the administrator here (as the browser
/// asked for it, below the path prefix `base`): a page of this site, never another site, nor the
/// sign-in page again.
fn leads_to(next: Option<&str>, base: &str) -> String {
    let sign_in = format!("{base}{LOGIN_PAGE}");
    next.and_then(local_path)
        .filter(|path| path.split(['?', '#']).next() != Some(sign_in.as_str()))
        .map_or_else(|| format!("{base}{START}"), str::to_owned)
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let next = use_query_map().with_untracked(|q| q.get("next"));
    let target = leads_to(next.as_deref(), &crate::base_path());
    let signed_in = use_me().map(|me| {
        view! {
            <p class="notice info" role="status">
                {format!(
                    "You are already signed in as {}.",
                    me.username,
                )}
            </p>
        }
    });
    let username = NodeRef::<leptos::html::Input>::new();
    let password = NodeRef::<leptos::html::Input>::new();
    let failed = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(input) = username.get() {
            let _ = input.focus();
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        // read from the fields, not from input events: a password manager may have filled them
        let (Some(name), Some(secret)) = (username.get_untracked(), password.get_untracked())
        else {
            return;
        };
        if name.value().trim().is_empty() || secret.value().is_empty() {
            failed.set(Some("Enter your username and password.".into()));
            return;
        }
        busy.set(true);
        failed.set(None);
        #[cfg(feature = "hydrate")]
        {
            let login = crate::api::Login {
                username: name.value().trim().to_owned(),
                password: secret.value(),
            };
            let target = target.clone();
            leptos::task::spawn_local(async move {
                use crate::client::{account, open};
                match account::sign_in(&login).await {
                    // a full navigation: the next page is rendered for the one now signed in
                    Ok(_) => open(&target),
                    Err(refusal) => {
                        busy.set(false);
                        failed.set(Some(refusal.text()));
                        secret.set_value("");
                        let _ = secret.focus();
                    }
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &target;
    };
    view! {
        <Title text="Sign in" />
        <div class="sign-in">
            <h1>"Sign in"</h1>
            {signed_in}
            // without JavaScript the form still never puts the password into an address
            <form method="post" action=crate::url(LOGIN_URL) on:submit=submit>
                <div class="field">
                    <label for="login-username">"Username"</label>
                    <input
                        type="text"
                        id="login-username"
                        name="username"
                        autocomplete="username"
                        autocapitalize="none"
                        spellcheck="false"
                        required
                        autofocus
                        node_ref=username
                    />
                </div>
                <div class="field">
                    <label for="login-password">"Password"</label>
                    <input
                        type="password"
                        id="login-password"
                        name="password"
                        autocomplete="current-password"
                        required
                        node_ref=password
                    />
                </div>
                {move || {
                    failed.get().map(|text| view! { <p class="notice error" role="alert">{text}</p> })
                }}
                <div class="actions">
                    <button type="submit" class="primary" disabled=move || busy.get()>
                        {move || if busy.get() { "Signing in…" } else { "Sign in" }}
                    </button>
                </div>
            </form>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leads_on_within_this_site() {
        assert_eq!(
            leads_to(Some("/devices?status=offline"), ""),
            "/devices?status=offline"
        );
        assert_eq!(leads_to(Some("//evil.example/"), ""), START);
        assert_eq!(leads_to(Some("/login?next=/jobs"), ""), START);
        assert_eq!(leads_to(Some("/login"), ""), START);
        assert_eq!(leads_to(None, ""), START);
    }

    #[test]
    fn leads_on_below_the_path_prefix() {
        assert_eq!(leads_to(Some("/pharos/jobs"), "/pharos"), "/pharos/jobs");
        assert_eq!(
            leads_to(Some("/pharos/login?next=/pharos/jobs"), "/pharos"),
            "/pharos/settings/network"
        );
        assert_eq!(leads_to(None, "/pharos"), "/pharos/settings/network");
    }
}

#[cfg(all(test, feature = "ssr"))]
mod rendered {
    use crate::App;
    use leptos::prelude::*;

    #[test]
    fn nobody_signed_in_sees_the_form_and_no_navigation() {
        let html = Owner::new_root(None).with(|| {
            let (meta, _) = leptos_meta::ServerMetaContext::new();
            provide_context(meta);
            provide_context(leptos_router::location::RequestUrl::new(
                "/login?next=%2Fdevices",
            ));
            view! { <App /> }.to_html()
        });
        for part in [
            "<h1>Sign in</h1>",
            "<label for=\"login-username\">Username</label>",
            "<label for=\"login-password\">Password</label>",
            "autocomplete=\"current-password\"",
            "method=\"post\"",
        ] {
            assert!(html.contains(part), "{part}");
        }
        for part in ["aria-label=\"Main\"", "Sign out", "href=\"/account\""] {
            assert!(!html.contains(part), "{part}");
        }
    }
}
