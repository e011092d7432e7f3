//! Calls of signing in and out and of one's own account: the password and API tokens.

use super::request;
use super::{Refusal, get_json, send, send_json};
use crate::api::{
    CreatedToken, LOGIN_URL, LOGOUT_URL, Login, Me, NewToken, PASSWORD_URL, PasswordChange,
    TOKENS_URL, TokenList,
};

/// Signs in; a refusal says why in the server's words (wrong credentials, locked out).
pub async fn sign_in(login: &Login) -> Result<Me, Refusal> {
    send_json(request::post(LOGIN_URL).json(login)).await
}

pub async fn sign_out() -> Result<(), Refusal> {
    send(request::post(LOGOUT_URL).build()).await.map(drop)
}

pub async fn change_password(change: &PasswordChange) -> Result<(), Refusal> {
    send(request::post(PASSWORD_URL).json(change))
        .await
        .map(drop)
}

pub async fn get_tokens() -> Result<TokenList, String> {
    get_json(TOKENS_URL).await
}

pub async fn create_token(token: &NewToken) -> Result<CreatedToken, Refusal> {
    send_json(request::post(TOKENS_URL).json(token)).await
}

pub async fn revoke_token(id: i64) -> Result<(), Refusal> {
    send(request::delete(&format!("{TOKENS_URL}/{id}")).build())
        .await
        .map(drop)
}
