//! API tokens: the ones a script of yours signs in with, a new one (shown once), revoking one.

use crate::api::{CreatedToken, NewToken, TokenInfo};
use crate::components::{
    ColumnHeads, ConfirmRemoval, FormErrors, FormText, NoticeArea, RemoveButton, SendActions,
    Sending, parse_number,
};
use crate::model::{FieldError, TOKEN_MAX_DAYS, validate_token_name};
use crate::pages::{show_optional_time, show_time};
use leptos::prelude::*;

/// The token the form describes, or everything wrong with it, by field.
fn read(name: &str, days: &str) -> Result<NewToken, Vec<FieldError>> {
    let mut errors = Vec::new();
    let name = validate_token_name(name)
        .map_err(|e| errors.push(FieldError::new("name", e)))
        .ok();
    let expires_in_days = match days.trim() {
        "" => None,
        text => match parse_number(text) {
            Ok(days) if (1..=TOKEN_MAX_DAYS).contains(&days) => Some(days),
            Ok(_) => {
                errors.push(FieldError::new(
                    "expires_in_days",
                    format!("from 1 to {TOKEN_MAX_DAYS} days"),
                ));
                None
            }
            Err(message) => {
                errors.push(FieldError::new("expires_in_days", message));
                None
            }
        },
    };
    match name {
        Some(name) if errors.is_empty() => Ok(NewToken {
            name,
            expires_in_days,
        }),
        _ => Err(errors),
    }
}

#[derive(Clone, Copy)]
struct TokensState {
    tokens: RwSignal<Vec<TokenInfo>>,
    /// The token just created, shown until dismissed (never again after).
    created: RwSignal<Option<CreatedToken>>,
    /// The token whose revocation waits for a confirmation.
    revoking: RwSignal<Option<TokenInfo>>,
    notice: RwSignal<Option<crate::components::Notice>>,
}

#[component]
pub(super) fn Tokens(tokens: Vec<TokenInfo>) -> impl IntoView {
    let state = TokensState {
        tokens: RwSignal::new(tokens),
        created: RwSignal::new(None),
        revoking: RwSignal::new(None),
        notice: RwSignal::new(None),
    };
    view! {
        <section aria-labelledby="tokens-title">
            <h2 id="tokens-title">"API tokens"</h2>
            <p class="help">
                "A script sends a token as " <code>"Authorization: Bearer …"</code>
                " and may do what you may do."
            </p>
            <NewTokenForm state />
            <CreatedPanel state />
            <NoticeArea notice=state.notice />
            <TokenTable state />
        </section>
        <ConfirmRemoval
            pending=state.revoking
            id="revoke-token"
            title=|token: &TokenInfo| format!("Revoke the token “{}”?", token.name)
            text="Scripts that use it are refused from now on."
            action="Revoke"
            on_confirm=Callback::new(move |token| {
                #[cfg(feature = "hydrate")]
                leptos::task::spawn_local(revoke(state, token));
                #[cfg(not(feature = "hydrate"))]
                let _ = token;
            })
        />
    }
}

#[component]
fn TokenTable(state: TokensState) -> impl IntoView {
    let row = move |token: TokenInfo| {
        let label = format!("Revoke {}", token.name);
        let (id, name, created, expires, used) = (
            token.id,
            token.name.clone(),
            show_time(&token.created_at),
            token
                .expires_at
                .as_deref()
                .map_or_else(|| "never".to_owned(), show_time),
            show_optional_time(token.last_used_at.as_deref()),
        );
        view! {
            <tr data-id=id>
                <td>{name}</td>
                <td>{created}</td>
                <td>{expires}</td>
                <td>{used}</td>
                <td>
                    <RemoveButton pending=state.revoking item=token text="Revoke" label />
                </td>
            </tr>
        }
    };
    move || {
        let tokens = state.tokens.get();
        if tokens.is_empty() {
            return view! { <p class="empty">"You have no API tokens."</p> }.into_any();
        }
        view! {
            <table class="tokens">
                <caption>"Your tokens"</caption>
                <ColumnHeads names=&["Name", "Created", "Expires", "Last used"] last="Actions" />
                <tbody>{tokens.into_iter().map(row).collect_view()}</tbody>
            </table>
        }
        .into_any()
    }
}

#[component]
fn NewTokenForm(state: TokensState) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let days = RwSignal::new(String::new());
    let errors = FormErrors::new(move || read(&name.get(), &days.get()).err().unwrap_or_default());
    let sending = Sending::new(errors);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(token) = read(&name.get_untracked(), &days.get_untracked()) else {
            return;
        };
        if !sending.begin() {
            return;
        }
        #[cfg(feature = "hydrate")]
        sending.send(
            async move { crate::client::account::create_token(&token).await },
            "The token was not created",
            move |created| {
                name.set(String::new());
                days.set(String::new());
                errors.reset();
                state.notice.set(None);
                state.created.set(Some(created));
                leptos::task::spawn_local(reread(state));
            },
        );
        #[cfg(not(feature = "hydrate"))]
        let _ = (token, state);
    };
    view! {
        <form class="new-token" novalidate on:submit=submit>
            <h3>"New token"</h3>
            <FormText
                id="token-name"
                label="Name"
                hint="What uses it, for example: Nightly inventory export"
                value=name
                errors
                field="name"
            />
            <FormText
                id="token-days"
                label="Expires after (days)"
                hint="Optional: empty means until revoked"
                value=days
                errors
                field="expires_in_days"
                input_mode="numeric"
            />
            <SendActions sending label="Create token" busy="Creating…" />
        </form>
    }
}

/// The new token, shown this once, ready to copy.
#[component]
fn CreatedPanel(state: TokensState) -> impl IntoView {
    let field = NodeRef::<leptos::html::Input>::new();
    // the field gets the focus, its text selected, so that it can be copied at once
    Effect::new(move |_| {
        if let Some(input) = field.get() {
            let _ = input.focus();
            input.select();
        }
    });
    move || {
        state.created.get().map(|created| {
            // what came of copying this token
            let copied = RwSignal::new(None::<&'static str>);
            let copy = {
                let token = created.token.clone();
                move |_| {
                    #[cfg(feature = "hydrate")]
                    leptos::task::spawn_local(crate::components::copy_to_clipboard(
                        token.clone(),
                        copied,
                    ));
                    #[cfg(not(feature = "hydrate"))]
                    let _ = &token;
                }
            };
            let done = move |_| state.created.set(None);
            view! {
                <div class="notice warning created-token" role="region" aria-labelledby="created-token-title">
                    <h3 id="created-token-title">{format!("The token “{}”", created.name)}</h3>
                    <p id="created-token-warning">
                        <strong>"Copy it now: it is shown only this once."</strong>
                        " Pharos keeps only a hash of it; a lost token cannot be shown again, only revoked and replaced."
                    </p>
                    <div class="field">
                        <label for="created-token">"Token"</label>
                        <div class="input-row">
                            <input
                                type="text"
                                id="created-token"
                                readonly
                                spellcheck="false"
                                autocomplete="off"
                                value=created.token.clone()
                                aria-describedby="created-token-warning"
                                node_ref=field
                                on:focus=move |_| {
                                    if let Some(input) = field.get_untracked() {
                                        input.select();
                                    }
                                }
                            />
                            <button type="button" on:click=copy>
                                "Copy"
                            </button>
                        </div>
                        <p class="hint" role="status">
                            {move || copied.get()}
                        </p>
                    </div>
                    <p>
                        {created
                            .expires_at
                            .as_deref()
                            .map_or_else(
                                || "It is valid until revoked.".to_owned(),
                                |at| format!("It expires at {}.", show_time(at)),
                            )}
                    </p>
                    <div class="actions">
                        <button type="button" on:click=done>
                            "I have copied it"
                        </button>
                    </div>
                </div>
            }
        })
    }
}

/// Reads the list again (a new token's dates come from the server).
#[cfg(feature = "hydrate")]
async fn reread(state: TokensState) {
    use crate::components::Notice;
    match crate::client::account::get_tokens().await {
        Ok(list) => {
            state.tokens.try_set(list.tokens);
        }
        Err(e) => {
            state.notice.try_set(Some(Notice::Error(format!(
                "The tokens could not be brought up to date: {e}"
            ))));
        }
    }
}

#[cfg(feature = "hydrate")]
async fn revoke(state: TokensState, token: TokenInfo) {
    use crate::components::Notice;
    let notice = match crate::client::account::revoke_token(token.id).await {
        Ok(()) => {
            state
                .tokens
                .try_update(|tokens| tokens.retain(|t| t.id != token.id));
            Notice::Success(format!("The token “{}” was revoked.", token.name))
        }
        Err(refusal) => Notice::Error(format!(
            "The token “{}” was not revoked: {}",
            token.name,
            refusal.text()
        )),
    };
    state.notice.try_set(Some(notice));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_as_typed() {
        assert_eq!(
            read(" backup ", "").unwrap(),
            NewToken {
                name: "backup".into(),
                expires_in_days: None
            }
        );
        assert_eq!(read("backup", " 30 ").unwrap().expires_in_days, Some(30));
        let fields = |name, days| {
            read(name, days)
                .unwrap_err()
                .into_iter()
                .map(|e| e.field)
                .collect::<Vec<_>>()
        };
        assert_eq!(fields("", "0"), ["name", "expires_in_days"]);
        assert_eq!(fields("x", "3651"), ["expires_in_days"]);
        assert_eq!(fields("x", "soon"), ["expires_in_days"]);
    }
}
