//! Calls of the accounts and audit pages: administrators, groups, lock-outs, and the logs.

use super::request;
use super::{Refusal, get_json, send, send_json};
use crate::api::{
    AUDIT_URL, AccountList, AuditPage, AuditQuery, GROUPS_URL, Group, GroupUpdate, LOCKOUTS_URL,
    LockoutList, NewGroup, NewUser, PasswordReset, SECURITY_LOG_URL, SecurityPage, USERS_URL, User,
    UserUpdate,
};
use leptos_router::params::ParamsMap;

pub async fn get_accounts() -> Result<AccountList, String> {
    get_json(USERS_URL).await
}

pub async fn get_lockouts() -> Result<LockoutList, String> {
    get_json(LOCKOUTS_URL).await
}

pub async fn add_user(user: &NewUser) -> Result<User, Refusal> {
    send_json(request::post(USERS_URL).json(user)).await
}

pub async fn update_user(id: i64, update: &UserUpdate) -> Result<User, Refusal> {
    send_json(request::patch(&format!("{USERS_URL}/{id}")).json(update)).await
}

pub async fn delete_user(id: i64) -> Result<(), Refusal> {
    send(request::delete(&format!("{USERS_URL}/{id}")).build())
        .await
        .map(drop)
}

pub async fn reset_password(id: i64, reset: &PasswordReset) -> Result<(), Refusal> {
    send(request::post(&format!("{USERS_URL}/{id}/password")).json(reset))
        .await
        .map(drop)
}

pub async fn unlock_user(id: i64) -> Result<(), Refusal> {
    send(request::post(&format!("{USERS_URL}/{id}/unlock")).build())
        .await
        .map(drop)
}

pub async fn add_group(group: &NewGroup) -> Result<Group, Refusal> {
    send_json(request::post(GROUPS_URL).json(group)).await
}

pub async fn update_group(id: i64, update: &GroupUpdate) -> Result<Group, Refusal> {
    send_json(request::patch(&format!("{GROUPS_URL}/{id}")).json(update)).await
}

pub async fn delete_group(id: i64) -> Result<(), Refusal> {
    send(request::delete(&format!("{GROUPS_URL}/{id}")).build())
        .await
        .map(drop)
}

/// Lifts the lock-out of a source address.
pub async fn unlock_address(address: &str) -> Result<(), Refusal> {
    let address = leptos_router::location::Url::escape(address);
    send(request::delete(&format!("{LOCKOUTS_URL}/{address}")).build())
        .await
        .map(drop)
}

/// The query string of a log's filters (`?user=alice&area=jobs`), each value escaped.
fn log_query(query: &AuditQuery) -> String {
    let mut params = ParamsMap::new();
    let mut add = |key: &'static str, value: Option<String>| {
        if let Some(value) = value {
            params.insert(key, value);
        }
    };
    add("before", query.before.map(|b| b.to_string()));
    add("limit", query.limit.map(|l| l.to_string()));
    add("user", query.user.clone());
    add("area", query.area.map(|a| a.as_str().to_owned()));
    add("from", query.from.clone());
    add("to", query.to.clone());
    params.to_query_string()
}

pub async fn get_audit(query: &AuditQuery) -> Result<AuditPage, String> {
    get_json(&format!("{AUDIT_URL}{}", log_query(query))).await
}

pub async fn get_security_log(query: &AuditQuery) -> Result<SecurityPage, String> {
    get_json(&format!("{SECURITY_LOG_URL}{}", log_query(query))).await
}
