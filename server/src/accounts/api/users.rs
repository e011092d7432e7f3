//! Administrator accounts: listed, created, changed (rights, groups, disabled), deleted, their
//! passwords reset and lock-outs lifted; and what an administrator may hand out.

use super::*;

/// Every account and group.
#[utoipa::path(get, path = USERS_URL, responses((status = 200, description = "Accounts and groups", body = AccountList)))]
pub(super) async fn list_accounts(State(accounts): Shared) -> Result<Json<AccountList>, ApiError> {
    Ok(Json(account_list(&accounts).await?))
}

#[utoipa::path(get, path = "/api/v1/accounts/users/{id}", params(("id" = i64, Path, description = "The account's id")),
    responses((status = 200, description = "The account", body = User), (status = 404, description = "No such account", body = ErrorBody),))]
pub(super) async fn get_user(
    State(accounts): Shared,
    PathParam(id): PathParam<i64>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(find_user(&accounts, id).await?))
}

/// Creates an administrator.
#[utoipa::path(post, path = USERS_URL, request_body = NewUser,
    responses(
        (status = 201, description = "The account", body = User,
            headers(("Location" = String, description = "The account's URL"))),
        (status = 409, description = "The username is taken", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    ))]
pub(super) async fn create_user(
    State(accounts): Shared,
    actor: Actor,
    JsonBody(new): JsonBody<NewUser, SMALL>,
) -> Result<Response, ApiError> {
    let username = validate_new_user(&new.username, &new.password).map_err(ApiError::Invalid)?;
    let hash = crate::accounts::secret::hash_password(new.password).await?;
    let mut tx = accounts.db().begin().await?;
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
    tx.commit().await?;
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
pub(super) fn check_hand_out<'a>(
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
pub(super) fn check_not_self(me: &Me, id: i64, what: &str) -> Result<(), ApiError> {
    if !me.rights.superuser && me.id == id {
        return Err(ApiError::Invalid(vec![FieldError::new(
            what,
            format!("you cannot change your own {what}; ask the superuser"),
        )]));
    }
    Ok(())
}

/// Grants as a set: the same area and access twice is refused.
pub(super) fn check_grants(grants: &[Grant]) -> Result<Vec<Grant>, FieldError> {
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
pub(super) async fn check_ids(
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

/// Changes an account's rights, groups or whether it is disabled, if it is still the revision
/// the client read.
#[utoipa::path(patch, path = "/api/v1/accounts/users/{id}", params(("id" = i64, Path, description = "The account's id")), request_body = UserUpdate,
    responses(
        (status = 200, description = "The account", body = User), (status = 404, description = "No such account", body = ErrorBody),
        (status = 412, description = "The account was changed since that revision", body = ErrorBody),
        (status = 422, description = "Invalid fields (the superuser cannot be restricted)", body = ErrorBody),
    ))]
pub(super) async fn update_user(
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
    let mut tx = accounts.db().begin().await?;
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
        tx.rollback().await?;
        return Ok(Json(old));
    }
    audit::record(&mut tx, &actor, Area::Accounts, "update", &records).await?;
    tx.commit().await?;
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

#[utoipa::path(delete, path = "/api/v1/accounts/users/{id}", params(("id" = i64, Path, description = "The account's id")),
    responses(
        (status = 204, description = "Deleted"), (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "The superuser or one's own account", body = ErrorBody),
    ))]
pub(super) async fn delete_user(
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
    let mut tx = accounts.db().begin().await?;
    if !store::delete(&mut tx, store::Table::Users, id).await? {
        return Err(ApiError::NotFound(format!("there is no account {id}")));
    }
    audit::record(&mut tx, &actor, Area::Accounts, "delete", &[Record::new(
        format!("accounts.users.{}", old.username),
        json(&serde_json::json!({"username": old.username, "grants": old.grants, "groups": old.groups, "disabled": old.disabled})),
        serde_json::Value::Null,
    )])
    .await?;
    tx.commit().await?;
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

/// Sets another administrator's password.
#[utoipa::path(post, path = "/api/v1/accounts/users/{id}/password", params(("id" = i64, Path, description = "The account's id")), request_body = PasswordReset,
    responses(
        (status = 204, description = "Set"), (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "One's own account: its password is changed with the current one", body = ErrorBody),
        (status = 422, description = "The password is too weak", body = ErrorBody),
    ))]
pub(super) async fn reset_password(
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
    // a reset skips the current password and revokes the account's tokens, the caller's own
    // included: one's own password is changed where the current one is asked for
    if user.id == signed_in(&caller)?.id {
        return Err(ApiError::Conflict(format!(
            "change your own password on Your account ({PASSWORD_URL}), which asks for the current one"
        )));
    }
    accounts
        .reset_password(id, &user.username, reset.password, &actor)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends an account's lock-out.
#[utoipa::path(post, path = "/api/v1/accounts/users/{id}/unlock", params(("id" = i64, Path, description = "The account's id")),
    responses((status = 204, description = "Unlocked (or was not locked)"), (status = 404, description = "No such account", body = ErrorBody),))]
pub(super) async fn unlock_user(
    State(accounts): Shared,
    actor: Actor,
    PathParam(id): PathParam<i64>,
) -> Result<StatusCode, ApiError> {
    let user = find_user(&accounts, id).await?;
    accounts.unlock_user(&user.username, &actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The addresses and accounts locked out now.
#[utoipa::path(get, path = LOCKOUTS_URL, responses((status = 200, description = "The lock-outs", body = LockoutList)))]
pub(super) async fn list_lockouts(State(accounts): Shared) -> Result<Json<LockoutList>, ApiError> {
    use app::AccountsBackend;
    crate::accounts::Pages(accounts)
        .lockouts()
        .await
        .map(Json)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))
}

/// Ends an address's lock-out.
#[utoipa::path(delete, path = "/api/v1/accounts/lockouts/{address}", params(("address" = String, Path, description = "An IPv4 or IPv6 address")),
    responses((status = 204, description = "Unlocked"), (status = 404, description = "The address is not locked out", body = ErrorBody)))]
pub(super) async fn unlock_address(
    State(accounts): Shared,
    actor: Actor,
    PathParam(address): PathParam<std::net::IpAddr>,
) -> Result<StatusCode, ApiError> {
    if !throttle::clear(
        accounts.db(),
        &throttle::address_key(&address.to_string()),
        crate::accounts::now(),
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
