//! Your account: your password, and the API tokens your scripts sign in with.

mod password;
mod tokens;

use crate::api::TokenList;
use crate::components::{PageSource, page_resource, use_me, with_data};
use leptos::prelude::*;
use leptos_meta::Title;
use password::PasswordForm;
use tokens::Tokens;

/// The page reads the tokens of the administrator signed in (the server: of the account the
/// session belongs to, whatever the query says).
impl PageSource for TokenList {
    /// The signed-in administrator's id.
    type Query = i64;

    #[cfg(feature = "ssr")]
    type Backend = dyn crate::AccountsBackend;

    #[cfg(feature = "ssr")]
    fn read(
        backend: std::sync::Arc<dyn crate::AccountsBackend>,
        user: i64,
    ) -> crate::BoxFuture<Result<Self, String>> {
        backend.tokens(user)
    }

    #[cfg(feature = "hydrate")]
    fn load(_: i64) -> impl Future<Output = Result<Self, String>> + 'static {
        crate::client::account::get_tokens()
    }
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let Some(me) = use_me() else {
        return view! {
            <Title text="Your account" />
            <h1>"Your account"</h1>
            <p>
                "Nobody is signed in. " <a href=crate::url(crate::api::LOGIN_PAGE)>"Sign in"</a>
                " to see your account."
            </p>
        }
        .into_any();
    };
    let user = me.id;
    let tokens = page_resource::<TokenList>(move || user);
    view! {
        <Title text="Your account" />
        <h1>{format!("Your account: {}", me.username)}</h1>
        <PasswordForm username=me.username />
        {with_data(
            tokens,
            "API tokens",
            |list: TokenList| view! { <Tokens tokens=list.tokens /> }.into_any(),
        )}
    }
    .into_any()
}

#[cfg(all(test, feature = "ssr"))]
mod rendered {
    use super::*;
    use crate::api::TokenInfo;

    #[test]
    fn the_password_form_and_the_tokens() {
        let token = TokenInfo {
            id: 3,
            name: "inventory export".into(),
            created_at: "2026-11-01T08:00:00Z".into(),
            expires_at: None,
            last_used_at: Some("2026-11-29T23:00:00Z".into()),
        };
        let html = Owner::new_root(None).with(|| {
            view! {
                <PasswordForm username="alice".into() />
                <Tokens tokens=vec![token] />
            }
            .to_html()
        });
        for part in [
            "<label for=\"password-current\">Current password</label>",
            "type=\"password\" id=\"password-new\"",
            "autocomplete=\"new-password\"",
            "<td>inventory export</td><td>2026-11-01 08:00:00 UTC</td><td>never</td>",
            "<td>2026-11-29 23:00:00 UTC</td>",
            "aria-label=\"Revoke inventory export\"",
            "<label for=\"token-days\">Expires after (days)</label>",
        ] {
            assert!(html.contains(part), "{part}");
        }
        assert!(
            !html.contains("created-token"),
            "no token is shown before one is created"
        );
    }
}
