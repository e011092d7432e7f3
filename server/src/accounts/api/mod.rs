//! `/api/v1/auth/…` (sign-in, sign-out, the signed-in administrator, own password and tokens),
//! `/api/v1/accounts/…` (accounts, groups, rights, lock-outs) and `/api/v1/security-log`.

use super::{Accounts, Refused, security, sessions, store, throttle};
use crate::audit::{self, Actor, Record};
use crate::db::rfc3339;
use crate::http::auth::Via;
use crate::http::{ApiError, Caller, JsonBody, PathParam, Routes, Rule};
use app::api::{
    AccountList, CSRF_COOKIE, CreatedToken, ErrorBody, GROUPS_URL, Group, GroupUpdate,
    LOCKOUTS_URL, LOGIN_URL, LOGOUT_URL, LockoutList, Login, ME_URL, Me, NewGroup, NewToken,
    NewUser, PASSWORD_URL, PasswordChange, PasswordReset, SECURITY_LOG_URL, SESSION_COOKIE,
    SecurityPage, TOKENS_URL, TokenList, USERS_URL, User, UserUpdate,
};
use app::model::{
    Area, FieldError, Grant, SUPERUSER, TOKEN_MAX_DAYS, check_password, validate_group_name,
    validate_new_user, validate_token_name,
};
use axum::{
    Extension, Json,
    extract::{Query, State, rejection::QueryRejection},
    http::{HeaderMap, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine;
use std::collections::HashSet;
use std::sync::Arc;

mod auth;
mod groups;
mod users;

use auth::*;
use groups::*;
use users::*;

const SMALL: usize = 16 * 1024;
type Shared = State<Arc<Accounts>>;

pub fn routes() -> Routes<Arc<Accounts>> {
    Routes::new(Rule::Area(Area::Accounts))
        .with_rule(Method::POST, LOGIN_URL, Rule::Public, login)
        .with_rule(Method::POST, LOGOUT_URL, Rule::SignedIn, logout)
        .with_rule(Method::GET, ME_URL, Rule::SignedIn, me)
        .with_rule(Method::POST, PASSWORD_URL, Rule::SignedIn, change_password)
        .with_rule(Method::GET, TOKENS_URL, Rule::SignedIn, list_tokens)
        .with_rule(Method::POST, TOKENS_URL, Rule::OwnCredentials, create_token)
        .with_rule(
            Method::DELETE,
            &format!("{TOKENS_URL}/{{id}}"),
            Rule::SignedIn,
            revoke_token,
        )
        .get(USERS_URL, list_accounts)
        .post(USERS_URL, create_user)
        .get(&format!("{USERS_URL}/{{id}}"), get_user)
        .patch(&format!("{USERS_URL}/{{id}}"), update_user)
        .delete(&format!("{USERS_URL}/{{id}}"), delete_user)
        .post(&format!("{USERS_URL}/{{id}}/password"), reset_password)
        .post(&format!("{USERS_URL}/{{id}}/unlock"), unlock_user)
        .post(GROUPS_URL, create_group)
        .patch(&format!("{GROUPS_URL}/{{id}}"), update_group)
        .delete(&format!("{GROUPS_URL}/{{id}}"), delete_group)
        .get(LOCKOUTS_URL, list_lockouts)
        .delete(&format!("{LOCKOUTS_URL}/{{address}}"), unlock_address)
        .with_rule(
            Method::GET,
            SECURITY_LOG_URL,
            Rule::Area(Area::Audit),
            security_log,
        )
}

fn source(caller: &Caller) -> Option<String> {
    caller.client.addr.map(|ip| ip.to_string())
}

/// Why a sign-in was refused, in words an administrator can act on.
fn refusal(refused: Refused) -> ApiError {
    match refused {
        Refused::Wrong => ApiError::SignInFailed("wrong username or password".into()),
        Refused::Disabled => ApiError::Forbidden("this account is disabled".into()),
        Refused::Locked { until, address } => {
            let minutes = ((until - super::now()).max(0) + 59_999) / 60_000;
            ApiError::TooManyRequests {
                message: format!(
                    "too many failed sign-ins: {} locked until {} (about {minutes} minute{}); \
                     an administrator who manages accounts can unlock it sooner",
                    if address {
                        "sign-ins from your address are"
                    } else {
                        "this account is"
                    },
                    rfc3339(until),
                    if minutes == 1 { "" } else { "s" },
                ),
                retry_after: ((until - super::now()).max(0) / 1000 + 1) as u64,
            }
        }
        Refused::Db(e) => ApiError::from(e),
    }
}

fn signed_in(caller: &Caller) -> Result<&Me, ApiError> {
    caller.me().ok_or(ApiError::Unauthorized)
}

pub async fn account_list(accounts: &Accounts) -> Result<AccountList, ApiError> {
    let locks = throttle::locks(accounts.db(), "user:", super::now()).await?;
    Ok(store::list(accounts.db(), &locks).await?)
}

async fn find_user(accounts: &Accounts, id: i64) -> Result<User, ApiError> {
    account_list(accounts)
        .await?
        .users
        .into_iter()
        .find(|u| u.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("there is no account {id}")))
}

async fn find_group(accounts: &Accounts, id: i64) -> Result<Group, ApiError> {
    account_list(accounts)
        .await?
        .groups
        .into_iter()
        .find(|g| g.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("there is no group {id}")))
}

fn json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}

/// The last part of each record's field (`grants`, `members`), for a log line.
fn fields(records: &[Record]) -> String {
    records
        .iter()
        .map(|r| r.field.rsplit('.').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Sign-ins, failures, lock-outs, tokens and account changes, newest first.
#[utoipa::path(get, path = SECURITY_LOG_URL, params(app::api::AuditQuery),
    responses((status = 200, description = "One page of entries", body = SecurityPage)))]
async fn security_log(
    State(accounts): Shared,
    query: Result<Query<app::api::AuditQuery>, QueryRejection>,
) -> Result<Json<SecurityPage>, ApiError> {
    let query = crate::audit::api::log_query(query)?;
    security::page(accounts.db(), &query)
        .await?
        .map(Json)
        .map_err(ApiError::BadRequest)
}

/// The document of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    login,
    logout,
    me,
    change_password,
    list_tokens,
    create_token,
    revoke_token,
    list_accounts,
    get_user,
    create_user,
    update_user,
    delete_user,
    reset_password,
    unlock_user,
    create_group,
    update_group,
    delete_group,
    list_lockouts,
    unlock_address,
    security_log
))]
pub struct Api;
