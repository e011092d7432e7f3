//! What every page has around it: the top bar with the areas the signed-in administrator may
//! read, their name (leading to their account) and signing out.

use crate::components::{may_read, use_me};
use crate::model::Area;
use leptos::prelude::*;
use leptos_router::components::A;

/// The main navigation: each page with the area whose Read right it needs.
const PAGES: [(&str, &str, Area); 8] = [
    (
        "/settings/network",
        "Server Network Settings",
        Area::NetworkSettings,
    ),
    ("/devices", "Devices", Area::Devices),
    ("/scans", "Scans", Area::Devices),
    ("/jobs", "Jobs", Area::Jobs),
    ("/certificates", "Certificates", Area::Certificates),
    ("/enrollment", "Device enrollment", Area::Certificates),
    ("/accounts", "Accounts", Area::Accounts),
    ("/audit", "Audit", Area::Audit),
];

/// The area whose Read right a page needs (the page or anything below it); `None` for the pages
/// every signed-in administrator sees. The server's page guard asks this too.
pub fn page_area(path: &str) -> Option<Area> {
    PAGES
        .iter()
        .find(|(href, _, _)| {
            path.strip_prefix(href)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
        .map(|(_, _, area)| *area)
}

#[component]
pub fn TopBar() -> impl IntoView {
    // without a signed-in administrator (on the sign-in page): no navigation, no account
    let signed_in = use_me().map(|me| {
        let links = PAGES
            .into_iter()
            .filter(|(_, _, area)| may_read(*area))
            // `<A>` takes a path starting with `/` as it is: the prefix is added here
            .map(|(href, label, _)| view! { <A href=crate::url(href)>{label}</A> })
            .collect_view();
        view! {
            <nav aria-label="Main">{links}</nav>
            <div class="account">
                <A href=crate::url("/account")>{me.username}</A>
                <SignOut />
            </div>
        }
    });
    view! {
        <header class="topbar">
            <a class="brand" href=crate::url("/")>
                "Pharos"
            </a>
            {signed_in}
        </header>
    }
}

#[component]
fn SignOut() -> impl IntoView {
    let failed = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let sign_out = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            use crate::client::{account, open};
            match account::sign_out().await {
                // the sign-in page is rendered afresh, without what this one still holds
                Ok(()) => open(&crate::url(crate::api::LOGIN_PAGE)),
                Err(refusal) => {
                    busy.set(false);
                    failed.set(Some(format!("Not signed out: {}", refusal.text())));
                }
            }
        });
    };
    view! {
        <button type="button" class="sign-out" disabled=move || busy.get() on:click=sign_out>
            "Sign out"
        </button>
        {move || failed.get().map(|text| view! { <p class="notice error" role="alert">{text}</p> })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_need_their_areas() {
        assert_eq!(page_area("/settings/network"), Some(Area::NetworkSettings));
        assert_eq!(page_area("/scans"), Some(Area::Devices));
        assert_eq!(page_area("/audit"), Some(Area::Audit));
        assert_eq!(page_area("/certificates"), Some(Area::Certificates));
        assert_eq!(page_area("/enrollment"), Some(Area::Certificates));
        assert_eq!(page_area("/auditor"), None);
        assert_eq!(page_area("/account"), None);
        assert_eq!(page_area("/"), None);
    }
}
