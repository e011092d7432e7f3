//! Sign-in and sign-out, the signed-in administrator, their own password and API tokens.

use super::*;

pub(super) fn cookie(
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

/// Signs in: sets the session cookie and the anti-forgery cookie.
#[utoipa::path(post, path = LOGIN_URL, request_body = Login,
    responses(
        (status = 200, description = "The administrator and their rights; cookies `pharos_session` and `pharos_csrf`", body = Me),
        (status = 401, description = "Wrong username or password", body = ErrorBody),
        (status = 403, description = "The account is disabled", body = ErrorBody),
        (status = 429, description = "Too many failed sign-ins: the account or the address is locked out for a while", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until the lock-out ends"))),
    ))]
pub(super) async fn login(
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

/// Signs out: ends the session.
#[utoipa::path(post, path = LOGOUT_URL, responses((status = 204, description = "Signed out")))]
pub(super) async fn logout(
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

/// The signed-in administrator and their rights.
#[utoipa::path(get, path = ME_URL, responses((status = 200, description = "The administrator", body = Me)))]
pub(super) async fn me(Extension(caller): Extension<Caller>) -> Result<Json<Me>, ApiError> {
    Ok(Json(signed_in(&caller)?.clone()))
}

/// Changes the signed-in administrator's own password.
#[utoipa::path(post, path = PASSWORD_URL, request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed"),
        (status = 422, description = "The current password is wrong, or the new one too weak", body = ErrorBody),
        (status = 429, description = "Too many failed sign-ins: the account or the address is locked out for a while", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until the lock-out ends"))),
    ))]
pub(super) async fn change_password(
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
    let hash = crate::accounts::secret::hash_password(change.new).await?;
    let mut tx = accounts.db().begin().await?;
    store::set_password(&mut tx, me.id, &hash).await?;
    tx.commit().await?;
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

/// The signed-in administrator's API tokens (never the tokens themselves).
#[utoipa::path(get, path = TOKENS_URL, responses((status = 200, description = "The tokens", body = TokenList)))]
pub(super) async fn list_tokens(
    State(accounts): Shared,
    Extension(caller): Extension<Caller>,
) -> Result<Json<TokenList>, ApiError> {
    let me = signed_in(&caller)?;
    Ok(Json(sessions::tokens(accounts.db(), me.id).await?))
}

/// HTTP Basic credentials, if sent.
pub(super) fn basic(headers: &HeaderMap) -> Option<(String, String)> {
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
#[utoipa::path(post, path = TOKENS_URL, request_body = NewToken,
    responses(
        (status = 201, description = "The token, shown this once", body = CreatedToken),
        (status = 403, description = "An API token cannot make tokens; or the account is disabled", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
        (status = 429, description = "Too many failed sign-ins: the account or the address is locked out for a while", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until the lock-out ends"))),
    ))]
pub(super) async fn create_token(
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
    let token = crate::accounts::secret::Secret::api_token();
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

/// Revokes one of the signed-in administrator's tokens.
#[utoipa::path(delete, path = "/api/v1/auth/tokens/{id}", params(("id" = i64, Path, description = "The token's id")),
    responses((status = 204, description = "Revoked"), (status = 404, description = "No such token", body = ErrorBody),))]
pub(super) async fn revoke_token(
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
