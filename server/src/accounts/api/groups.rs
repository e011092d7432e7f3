//! Groups of administrators: created, changed (rights, members), deleted.

use super::*;

#[utoipa::path(post, path = GROUPS_URL, request_body = NewGroup,
    responses(
        (status = 201, description = "The group", body = Group,
            headers(("Location" = String, description = "The group's URL"))),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    ))]
pub(super) async fn create_group(
    State(accounts): Shared,
    actor: Actor,
    JsonBody(new): JsonBody<NewGroup, SMALL>,
) -> Result<Response, ApiError> {
    let name = validate_group_name(&new.name)
        .map_err(|e| ApiError::Invalid(vec![FieldError::new("name", e)]))?;
    let mut tx = accounts.db().begin().await?;
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
    tx.commit().await?;
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
pub(super) fn check_not_member(me: &Me, group: &Group) -> Result<(), ApiError> {
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

/// Changes a group's rights or members, if it is still the revision the client read.
#[utoipa::path(patch, path = "/api/v1/accounts/groups/{id}", params(("id" = i64, Path, description = "The group's id")), request_body = GroupUpdate,
    responses(
        (status = 200, description = "The group", body = Group), (status = 404, description = "No such group", body = ErrorBody),
        (status = 412, description = "The group was changed since that revision", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    ))]
pub(super) async fn update_group(
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
    let mut tx = accounts.db().begin().await?;
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
        tx.rollback().await?;
        return Ok(Json(old));
    }
    audit::record(&mut tx, &actor, Area::Accounts, "update", &records).await?;
    tx.commit().await?;
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

#[utoipa::path(delete, path = "/api/v1/accounts/groups/{id}", params(("id" = i64, Path, description = "The group's id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such group", body = ErrorBody),))]
pub(super) async fn delete_group(
    State(accounts): Shared,
    actor: Actor,
    Extension(caller): Extension<Caller>,
    PathParam(id): PathParam<i64>,
) -> Result<StatusCode, ApiError> {
    let old = find_group(&accounts, id).await?;
    check_not_member(signed_in(&caller)?, &old)?;
    let mut tx = accounts.db().begin().await?;
    if !store::delete(&mut tx, store::Table::Groups, id).await? {
        return Err(ApiError::NotFound(format!("there is no group {id}")));
    }
    audit::record(&mut tx, &actor, Area::Accounts, "delete", &[Record::new(
        format!("accounts.groups.{}", old.name),
        json(&serde_json::json!({"name": old.name, "grants": old.grants, "members": old.members})),
        serde_json::Value::Null,
    )])
    .await?;
    tx.commit().await?;
    accounts.changed().await;
    group_event(&accounts, &actor, "group_deleted", old.name.clone()).await;
    Ok(StatusCode::NO_CONTENT)
}

/// A group's change in the security log (its rights decide what its members may do).
pub(super) async fn group_event(accounts: &Accounts, actor: &Actor, event: &str, detail: String) {
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
