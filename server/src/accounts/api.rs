//! `/api/v1/auth/…` (sign-in, sign-out, the signed-in administrator, own password and tokens),
//! `/api/v1/accounts/…` (accounts, groups, rights, lock-outs) and `/api/v1/security-log`.

use super::{Accounts, Refused, security, sessions, store, throttle};
use crate::audit::{self, Actor, Record};
use crate::db::rfc3339;
use crate::http::auth::Via;
use crate::http::{ApiError, Caller, JsonBody, PathParam, Routes, Rule};
use app::api::{
    AccountList, CSRF_COOKIE, CreatedToken, GROUPS_URL, Group, GroupUpdate, LOCKOUTS_URL,
    LOGIN_URL, LOGOUT_URL, LockoutList, Login, ME_URL, Me, NewGroup, NewToken, NewUser,
    PASSWORD_URL, PasswordChange, PasswordReset, SECURITY_LOG_URL, SESSION_COOKIE, SecurityPage,
    TOKENS_URL, TokenList, USERS_URL, User, UserUpdate,
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

fn cookie(
    accounts: &Accounts,
    name: &'static str,
    value: String,
    https: bool,
    http_only: bool,
) -> Cookie<'static> {
    Cookie::build((name, value))
        .path(accounts.cookie_path.clone())
        .http_only(http_only)
        .secure(https)
        .same_site(SameSite::Strict)
        .build()
}

async fn login(
    State(accounts): Shared,
    Extension(caller): Extension<Caller>,
    jar: CookieJar,
    JsonBody(login): JsonBody<Login, SMALL>,
) -> Result<Response, ApiError> {
    let source = source(&caller);
    let me = accounts
        .check_password(&login.username, &login.password, source.as_deref())
        .await
        .map_err(refusal)?;
    let session = accounts.open_session(me, source.as_deref()).await?;
    let https = caller.client.https;
    let jar = jar
        .add(cookie(
            &accounts,
            SESSION_COOKIE,
            session.secret.expose().to_owned(),
            https,
            true,
        ))
        .add(cookie(
            &accounts,
            CSRF_COOKIE,
            session.csrf.expose().to_owned(),
            https,
            false,
        ));
    Ok((jar, Json(session.me)).into_response())
}

async fn logout(
    State(accounts): Shared,
    Extension(caller): Extension<Caller>,
    jar: CookieJar,
) -> Result<Response, ApiError> {
    let signed_in = caller.signed_in.as_ref().ok_or(ApiError::Unauthorized)?;
    if let Via::Session { digest, .. } = &signed_in.via {
        accounts
            .close_session(digest, &signed_in.me.username, source(&caller))
            .await?;
    }
    let jar = jar
        .remove(cookie(
            &accounts,
            SESSION_COOKIE,
            String::new(),
            false,
            true,
        ))
        .remove(cookie(&accounts, CSRF_COOKIE, String::new(), false, false));
    Ok((StatusCode::NO_CONTENT, jar).into_response())
}

fn signed_in(caller: &Caller) -> Result<&Me, ApiError> {
    caller.me().ok_or(ApiError::Unauthorized)
}

async fn me(Extension(caller): Extension<Caller>) -> Result<Json<Me>, ApiError> {
    Ok(Json(signed_in(&caller)?.clone()))
}

async fn change_password(
    State(accounts): Shared,
    Extension(caller): Extension<Caller>,
    JsonBody(change): JsonBody<PasswordChange, SMALL>,
) -> Result<StatusCode, ApiError> {
    let me = signed_in(&caller)?;
    // the current password is checked like a sign-in: counted, slowed, locked out
    let mut errors = Vec::new();
    match accounts
        .check_password(&me.username, &change.current, source(&caller).as_deref())
        .await
    {
        Ok(_) => {}
        Err(Refused::Wrong) => errors.push(FieldError::new(
            "current",
            "this is not your current password",
        )),
        Err(refused) => return Err(refusal(refused)),
    }
    if let Err(e) = check_password(&change.new, &me.username) {
        errors.push(FieldError::new("new", e));
    } else if change.new == change.current {
        errors.push(FieldError::new(
            "new",
            "choose a password other than the current one",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let hash = super::secret::hash_password(change.new).await?;
    let mut tx = accounts
        .db()
        .begin()
        .await
        .map_err(crate::db::DbError::from)?;
    store::set_password(&mut tx, me.id, &hash).await?;
    tx.commit().await.map_err(crate::db::DbError::from)?;
    // other browsers signed in as this account sign in again
    let keep = match &caller.signed_in.as_ref().map(|s| &s.via) {
        Some(Via::Session { digest, .. }) => Some(digest.clone()),
        _ => None,
    };
    sessions::end_sessions(accounts.db(), me.id, keep.as_deref()).await?;
    accounts.changed().await;
    security::record(
        accounts.db(),
        security::Event {
            event: "password_changed",
            username: Some(&me.username),
            source: source(&caller),
            ..Default::default()
        },
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_tokens(
    State(accounts): Shared,
    Extension(caller): Extension<Caller>,
) -> Result<Json<TokenList>, ApiError> {
    let me = signed_in(&caller)?;
    Ok(Json(sessions::tokens(accounts.db(), me.id).await?))
}

/// HTTP Basic credentials, if sent.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// A new token, for the signed-in administrator or the one whose HTTP Basic credentials came
/// with the request (a script's way to get one).
async fn create_token(
    State(accounts): Shared,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<JsonBody<NewToken, SMALL>, ApiError>,
) -> Result<Response, ApiError> {
    let source = source(&caller);
    let me = match (caller.signed_in.as_deref(), basic(&headers)) {
        // a token making tokens would let a leaked, short-lived one make itself permanent
        (Some(signed_in), _) if matches!(signed_in.via, Via::Token { .. }) => {
            return Err(ApiError::Forbidden(
                "an API token cannot make tokens: sign in, or send HTTP Basic credentials".into(),
            ));
        }
        (Some(signed_in), _) => signed_in.me.clone(),
        (None, Some((user, password))) => accounts
            .check_password(&user, &password, source.as_deref())
            .await
            .map_err(refusal)?,
        (None, None) => return Err(ApiError::Unauthorized),
    };
    // (read after the credentials: nobody learns anything from an anonymous request)
    let JsonBody(request) = body?;
    let mut errors = Vec::new();
    let name =
        validate_token_name(&request.name).map_err(|e| errors.push(FieldError::new("name", e)));
    if let Some(days) = request.expires_in_days
        && !(1..=TOKEN_MAX_DAYS).contains(&days)
    {
        errors.push(FieldError::new(
            "expires_in_days",
            format!("between 1 and {TOKEN_MAX_DAYS} days, or leave it out for no expiry"),
        ));
    }
    let name = match name {
        Ok(name) if errors.is_empty() => name,
        _ => return Err(ApiError::Invalid(errors)),
    };
    let token = super::secret::Secret::api_token();
    let (id, expires_at) = sessions::create_token(
        accounts.db(),
        me.id,
        &name,
        &token.digest(),
        request.expires_in_days,
    )
    .await?;
    security::record(
        accounts.db(),
        security::Event {
            event: "token_created",
            username: Some(&me.username),
            source,
            detail: Some(name.clone()),
            ..Default::default()
        },
    )
    .await;
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(CreatedToken {
            id,
            token: token.expose().to_owned(),
            name,
            expires_at: expires_at.map(rfc3339),
        }),
    )
        .into_response())
}

async fn revoke_token(
    State(accounts): Shared,
    Extension(caller): Extension<Caller>,
    PathParam(id): PathParam<i64>,
) -> Result<StatusCode, ApiError> {
    let me = signed_in(&caller)?;
    let name = sessions::revoke_token(accounts.db(), me.id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("you have no token {id}")))?;
    accounts.changed().await;
    security::record(
        accounts.db(),
        security::Event {
            event: "token_revoked",
            username: Some(&me.username),
            source: source(&caller),
            detail: Some(name),
            ..Default::default()
        },
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn account_list(accounts: &Accounts) -> Result<AccountList, ApiError> {
    let locks = throttle::locks(accounts.db(), "user:", super::now()).await?;
    Ok(store::list(accounts.db(), &locks).await?)
}

async fn list_accounts(State(accounts): Shared) -> Result<Json<AccountList>, ApiError> {
    Ok(Json(account_list(&accounts).await?))
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

async fn get_user(
    State(accounts): Shared,
    PathParam(id): PathParam<i64>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(find_user(&accounts, id).await?))
}

async fn create_user(
    State(accounts): Shared,
    actor: Actor,
    JsonBody(new): JsonBody<NewUser, SMALL>,
) -> Result<Response, ApiError> {
    let username = validate_new_user(&new.username, &new.password).map_err(ApiError::Invalid)?;
    let hash = super::secret::hash_password(new.password).await?;
    let mut tx = accounts
        .db()
        .begin()
        .await
        .map_err(crate::db::DbError::from)?;
    let Some(id) = store::insert_user(&mut tx, &username, &hash, false).await? else {
        return Err(ApiError::Conflict(format!(
            "there is an account named {username} already"
        )));
    };
    audit::record(
        &mut tx,
        &actor,
        Area::Accounts,
        "create",
        &[Record::new(
            format!("accounts.users.{username}"),
            serde_json::Value::Null,
            serde_json::json!({"username": username}),
        )],
    )
    .await?;
    tx.commit().await.map_err(crate::db::DbError::from)?;
    accounts.changed().await;
    security::record(
        accounts.db(),
        security::Event {
            event: "account_created",
            username: Some(&username),
            actor: Some(&actor.name),
            source: actor.source.clone(),
            ..Default::default()
        },
    )
    .await;
    let user = find_user(&accounts, id).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("{USERS_URL}/{id}"))],
        Json(user),
    )
        .into_response())
}

/// Administrators other than the superuser hand out only rights they hold themselves: an Allow
/// (given directly, or through a group someone is put in) of anything they may not do is refused.
fn check_hand_out<'a>(
    me: &Me,
    grants: impl IntoIterator<Item = &'a Grant>,
    field: &str,
) -> Result<(), ApiError> {
    if me.rights.superuser {
        return Ok(());
    }
    let beyond: Vec<String> = grants
        .into_iter()
        .filter(|g| g.effect == app::model::Effect::Allow && !me.rights.can(g.area, g.access))
        .map(|g| format!("{} {:?}", g.area.label(), g.access))
        .collect();
    if beyond.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid(vec![FieldError::new(
            field,
            format!(
                "you may only hand out rights you hold yourself, not {}",
                beyond.join(", ")
            ),
        )]))
    }
}

/// Administrators other than the superuser do not change their own rights or groups.
fn check_not_self(me: &Me, id: i64, what: &str) -> Result<(), ApiError> {
    if !me.rights.superuser && me.id == id {
        return Err(ApiError::Invalid(vec![FieldError::new(
            what,
            format!("you cannot change your own {what}; ask the superuser"),
        )]));
    }
    Ok(())
}

/// Grants as a set: the same area and access twice is refused.
fn check_grants(grants: &[Grant]) -> Result<Vec<Grant>, FieldError> {
    let mut seen = HashSet::new();
    for (i, g) in grants.iter().enumerate() {
        if !seen.insert((g.area, g.access)) {
            return Err(FieldError::new(
                format!("grants[{i}]"),
                format!("{} {:?} is granted twice", g.area.label(), g.access),
            ));
        }
    }
    let mut sorted = grants.to_vec();
    sorted.sort();
    Ok(sorted)
}

/// The ids that do not exist, as field errors.
async fn check_ids(
    accounts: &Accounts,
    table: store::Table,
    field: &str,
    ids: &[i64],
) -> Result<Vec<i64>, ApiError> {
    let mut unique: Vec<i64> = ids.to_vec();
    unique.sort_unstable();
    unique.dedup();
    let found: HashSet<i64> = store::existing(accounts.db(), table, &unique)
        .await?
        .into_iter()
        .collect();
    let errors: Vec<FieldError> = ids
        .iter()
        .enumerate()
        .filter(|(_, id)| !found.contains(id))
        .map(|(i, id)| {
            FieldError::new(
                format!("{field}[{i}]"),
                format!(
                    "there is no {} {id}",
                    match table {
                        store::Table::Users => "account",
                        store::Table::Groups => "group",
                    }
                ),
            )
        })
        .collect();
    if errors.is_empty() {
        Ok(unique)
    } else {
        Err(ApiError::Invalid(errors))
    }
}

fn json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}

async fn update_user(
    State(accounts): Shared,
    actor: Actor,
    Extension(caller): Extension<Caller>,
    PathParam(id): PathParam<i64>,
    JsonBody(update): JsonBody<UserUpdate, SMALL>,
) -> Result<Json<User>, ApiError> {
    let old = find_user(&accounts, id).await?;
    let me = signed_in(&caller)?;
    if old.superuser
        && (update.disabled.is_some() || update.grants.is_some() || update.groups.is_some())
    {
        return Err(ApiError::Invalid(vec![FieldError::new(
            "",
            format!("the superuser {SUPERUSER} cannot be restricted, disabled or put in groups"),
        )]));
    }
    if update.disabled == Some(true) && id == me.id {
        return Err(ApiError::Invalid(vec![FieldError::new(
            "disabled",
            "you cannot disable your own account",
        )]));
    }
    let grants = update
        .grants
        .as_deref()
        .map(check_grants)
        .transpose()
        .map_err(|e| ApiError::Invalid(vec![e]))?;
    let groups = match &update.groups {
        Some(groups) => Some(check_ids(&accounts, store::Table::Groups, "groups", groups).await?),
        None => None,
    };
    if let Some(grants) = &grants {
        check_not_self(me, id, "grants")?;
        check_hand_out(me, grants, "grants")?;
    }
    if let Some(groups) = &groups {
        check_not_self(me, id, "groups")?;
        let list = account_list(&accounts).await?;
        let joined = list
            .groups
            .iter()
            .filter(|g| groups.contains(&g.id) && !old.groups.contains(&g.id));
        check_hand_out(me, joined.flat_map(|g| g.grants.iter()), "groups")?;
    }
    let mut tx = accounts
        .db()
        .begin()
        .await
        .map_err(crate::db::DbError::from)?;
    if !store::claim(&mut tx, store::Table::Users, id, update.revision).await? {
        return Err(ApiError::PreconditionFailed);
    }
    let name = &old.username;
    let mut records = Vec::new();
    if let Some(disabled) = update.disabled.filter(|d| *d != old.disabled) {
        store::set_disabled(&mut tx, id, disabled).await?;
        records.push(Record::new(
            format!("accounts.users.{name}.disabled"),
            old.disabled,
            disabled,
        ));
    }
    if let Some(grants) = grants.filter(|g| *g != old.grants) {
        store::set_grants(&mut tx, store::Table::Users, id, &grants).await?;
        records.push(Record::new(
            format!("accounts.users.{name}.grants"),
            json(&old.grants),
            json(&grants),
        ));
    }
    if let Some(groups) = groups.filter(|g| *g != old.groups) {
        store::set_members(&mut tx, store::Table::Users, id, &groups).await?;
        records.push(Record::new(
            format!("accounts.users.{name}.groups"),
            json(&old.groups),
            json(&groups),
        ));
    }
    if records.is_empty() {
        // nothing changes: not even the revision another administrator's edit is based on
        tx.rollback().await.map_err(crate::db::DbError::from)?;
        return Ok(Json(old));
    }
    audit::record(&mut tx, &actor, Area::Accounts, "update", &records).await?;
    tx.commit().await.map_err(crate::db::DbError::from)?;
    if update.disabled == Some(true) && !old.disabled {
        sessions::end_sessions(accounts.db(), id, None).await?;
    }
    accounts.changed().await;
    if !records.is_empty() {
        security::record(
            accounts.db(),
            security::Event {
                event: "account_changed",
                username: Some(name),
                actor: Some(&actor.name),
                source: actor.source.clone(),
                detail: Some(fields(&records)),
            },
        )
        .await;
    }
    Ok(Json(find_user(&accounts, id).await?))
}

async fn delete_user(
    State(accounts): Shared,
    actor: Actor,
    Extension(caller): Extension<Caller>,
    PathParam(id): PathParam<i64>,
) -> Result<StatusCode, ApiError> {
    let old = find_user(&accounts, id).await?;
    if old.superuser {
        return Err(ApiError::Conflict(format!(
            "the superuser {SUPERUSER} cannot be deleted"
        )));
    }
    if signed_in(&caller)?.id == id {
        return Err(ApiError::Conflict(
            "you cannot delete your own account".into(),
        ));
    }
    let mut tx = accounts
        .db()
        .begin()
        .await
        .map_err(crate::db::DbError::from)?;
    if !store::delete(&mut tx, store::Table::Users, id).await? {
        return Err(ApiError::NotFound(format!("there is no account {id}")));
    }
    audit::record(&mut tx, &actor, Area::Accounts, "delete", &[Record::new(
        format!("accounts.users.{}", old.username),
        json(&serde_json::json!({"username": old.username, "grants": old.grants, "groups": old.groups, "disabled": old.disabled})),
        serde_json::Value::Null,
    )])
    .await?;
    tx.commit().await.map_err(crate::db::DbError::from)?;
    accounts.changed().await;
    security::record(
        accounts.db(),
        security::Event {
            event: "account_deleted",
            username: Some(&old.username),
            actor: Some(&actor.name),
            source: actor.source.clone(),
            ..Default::default()
        },
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

async fn reset_password(
    State(accounts): Shared,
    actor: Actor,
    Extension(caller): Extension<Caller>,
    PathParam(id): PathParam<i64>,
    JsonBody(reset): JsonBody<PasswordReset, SMALL>,
) -> Result<StatusCode, ApiError> {
    let user = find_user(&accounts, id).await?;
    // whoever sets a password can sign in as that account: only the superuser does
    if !signed_in(&caller)?.rights.superuser {
        return Err(ApiError::Forbidden(format!(
            "only {SUPERUSER} resets passwords (everyone changes their own on Your account)"
        )));
    }
    check_password(&reset.password, &user.username)
        .map_err(|e| ApiError::Invalid(vec![FieldError::new("password", e)]))?;
    let hash = super::secret::hash_password(reset.password).await?;
    let mut tx = accounts
        .db()
        .begin()
        .await
        .map_err(crate::db::DbError::from)?;
    store::set_password(&mut tx, id, &hash).await?;
    audit::record(
        &mut tx,
        &actor,
        Area::Accounts,
        "reset password",
        &[Record::new(
            format!("accounts.users.{}.password", user.username),
            "(hidden)",
            "(a new one, hidden)",
        )],
    )
    .await?;
    tx.commit().await.map_err(crate::db::DbError::from)?;
    // whoever knew the old password may have made tokens with it
    sessions::end_sessions(accounts.db(), id, None).await?;
    sessions::revoke_tokens(accounts.db(), id).await?;
    accounts.changed().await;
    security::record(
        accounts.db(),
        security::Event {
            event: "password_reset",
            username: Some(&user.username),
            actor: Some(&actor.name),
            source: actor.source.clone(),
            ..Default::default()
        },
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

async fn unlock_user(
    State(accounts): Shared,
    actor: Actor,
    PathParam(id): PathParam<i64>,
) -> Result<StatusCode, ApiError> {
    let user = find_user(&accounts, id).await?;
    if throttle::clear(
        accounts.db(),
        &throttle::user_key(&user.username),
        super::now(),
    )
    .await?
    {
        accounts.changed().await;
        security::record(
            accounts.db(),
            security::Event {
                event: "unlocked",
                username: Some(&user.username),
                actor: Some(&actor.name),
                source: actor.source.clone(),
                detail: Some("the account".into()),
            },
        )
        .await;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn list_lockouts(State(accounts): Shared) -> Result<Json<LockoutList>, ApiError> {
    use app::AccountsBackend;
    super::Pages(accounts)
        .lockouts()
        .await
        .map(Json)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))
}

async fn unlock_address(
    State(accounts): Shared,
    actor: Actor,
    PathParam(address): PathParam<std::net::IpAddr>,
) -> Result<StatusCode, ApiError> {
    if !throttle::clear(
        accounts.db(),
        &throttle::address_key(&address.to_string()),
        super::now(),
    )
    .await?
    {
        return Err(ApiError::NotFound(format!("{address} is not locked out")));
    }
    accounts.changed().await;
    security::record(
        accounts.db(),
        security::Event {
            event: "unlocked",
            actor: Some(&actor.name),
            source: actor.source.clone(),
            detail: Some(format!("the address {address}")),
            ..Default::default()
        },
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

async fn create_group(
    State(accounts): Shared,
    actor: Actor,
    JsonBody(new): JsonBody<NewGroup, SMALL>,
) -> Result<Response, ApiError> {
    let name = validate_group_name(&new.name)
        .map_err(|e| ApiError::Invalid(vec![FieldError::new("name", e)]))?;
    let mut tx = accounts
        .db()
        .begin()
        .await
        .map_err(crate::db::DbError::from)?;
    let Some(id) = store::insert_group(&mut tx, &name).await? else {
        return Err(ApiError::Conflict(format!(
            "there is a group named {name} already"
        )));
    };
    audit::record(
        &mut tx,
        &actor,
        Area::Accounts,
        "create",
        &[Record::new(
            format!("accounts.groups.{name}"),
            serde_json::Value::Null,
            serde_json::json!({"name": name}),
        )],
    )
    .await?;
    tx.commit().await.map_err(crate::db::DbError::from)?;
    accounts.changed().await;
    group_event(&accounts, &actor, "group_created", name.clone()).await;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("{GROUPS_URL}/{id}"))],
        Json(find_group(&accounts, id).await?),
    )
        .into_response())
}

/// Administrators other than the superuser do not change or delete a group they belong to (it
/// may carry a Deny put on them).
fn check_not_member(me: &Me, group: &Group) -> Result<(), ApiError> {
    if !me.rights.superuser && group.members.contains(&me.id) {
        return Err(ApiError::Invalid(vec![FieldError::new(
            "",
            format!(
                "you belong to the group {}: ask the superuser to change it",
                group.name
            ),
        )]));
    }
    Ok(())
}

async fn update_group(
    State(accounts): Shared,
    actor: Actor,
    Extension(caller): Extension<Caller>,
    PathParam(id): PathParam<i64>,
    JsonBody(update): JsonBody<GroupUpdate, SMALL>,
) -> Result<Json<Group>, ApiError> {
    let old = find_group(&accounts, id).await?;
    let me = signed_in(&caller)?;
    check_not_member(me, &old)?;
    let grants = update
        .grants
        .as_deref()
        .map(check_grants)
        .transpose()
        .map_err(|e| ApiError::Invalid(vec![e]))?;
    let members = match &update.members {
        Some(members) => {
            let members = check_ids(&accounts, store::Table::Users, "members", members).await?;
            let list = account_list(&accounts).await?;
            if list
                .users
                .iter()
                .any(|u| u.superuser && members.contains(&u.id))
            {
                return Err(ApiError::Invalid(vec![FieldError::new(
                    "members",
                    format!("the superuser {SUPERUSER} is in no group (it cannot be restricted)"),
                )]));
            }
            if members.contains(&me.id) && !old.members.contains(&me.id) {
                check_not_self(me, me.id, "groups")?;
            }
            let added = members.iter().any(|m| !old.members.contains(m));
            if added {
                check_hand_out(me, grants.as_deref().unwrap_or(&old.grants), "members")?;
            }
            Some(members)
        }
        None => None,
    };
    if let Some(grants) = &grants {
        check_hand_out(me, grants, "grants")?;
    }
    let mut tx = accounts
        .db()
        .begin()
        .await
        .map_err(crate::db::DbError::from)?;
    if !store::claim(&mut tx, store::Table::Groups, id, update.revision).await? {
        return Err(ApiError::PreconditionFailed);
    }
    let name = &old.name;
    let mut records = Vec::new();
    if let Some(grants) = grants.filter(|g| *g != old.grants) {
        store::set_grants(&mut tx, store::Table::Groups, id, &grants).await?;
        records.push(Record::new(
            format!("accounts.groups.{name}.grants"),
            json(&old.grants),
            json(&grants),
        ));
    }
    if let Some(members) = members.filter(|m| *m != old.members) {
        store::set_members(&mut tx, store::Table::Groups, id, &members).await?;
        records.push(Record::new(
            format!("accounts.groups.{name}.members"),
            json(&old.members),
            json(&members),
        ));
    }
    if records.is_empty() {
        // nothing changes: not even the revision another administrator's edit is based on
        tx.rollback().await.map_err(crate::db::DbError::from)?;
        return Ok(Json(old));
    }
    audit::record(&mut tx, &actor, Area::Accounts, "update", &records).await?;
    tx.commit().await.map_err(crate::db::DbError::from)?;
    accounts.changed().await;
    group_event(
        &accounts,
        &actor,
        "group_changed",
        format!("{name}: {}", fields(&records)),
    )
    .await;
    Ok(Json(find_group(&accounts, id).await?))
}

async fn delete_group(
    State(accounts): Shared,
    actor: Actor,
    Extension(caller): Extension<Caller>,
    PathParam(id): PathParam<i64>,
) -> Result<StatusCode, ApiError> {
    let old = find_group(&accounts, id).await?;
    check_not_member(signed_in(&caller)?, &old)?;
    let mut tx = accounts
        .db()
        .begin()
        .await
        .map_err(crate::db::DbError::from)?;
    if !store::delete(&mut tx, store::Table::Groups, id).await? {
        return Err(ApiError::NotFound(format!("there is no group {id}")));
    }
    audit::record(&mut tx, &actor, Area::Accounts, "delete", &[Record::new(
        format!("accounts.groups.{}", old.name),
        json(&serde_json::json!({"name": old.name, "grants": old.grants, "members": old.members})),
        serde_json::Value::Null,
    )])
    .await?;
    tx.commit().await.map_err(crate::db::DbError::from)?;
    accounts.changed().await;
    group_event(&accounts, &actor, "group_deleted", old.name.clone()).await;
    Ok(StatusCode::NO_CONTENT)
}

/// A group's change in the security log (its rights decide what its members may do).
async fn group_event(accounts: &Accounts, actor: &Actor, event: &str, detail: String) {
    security::record(
        accounts.db(),
        security::Event {
            event,
            actor: Some(&actor.name),
            source: actor.source.clone(),
            detail: Some(detail),
            ..Default::default()
        },
    )
    .await;
}

/// The last part of each record's field (`grants`, `members`), for a log line.
fn fields(records: &[Record]) -> String {
    records
        .iter()
        .map(|r| r.field.rsplit('.').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(", ")
}

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
