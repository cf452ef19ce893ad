//! Accounts, sign-in, API keys and invitations over the clean API (`/api/v2/auth`,
//! `/api/v2/accounts`, `/api/v2/locrits/{id}/invitations`).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use axum_extra::extract::cookie::{Cookie, SameSite};
use chrono::{DateTime, Duration, Utc};
use locrit_core::{Core, LOGIN_LIFETIME, NewApiKey, NewLogin};
use locrit_domain::{Account, AccountRole, ApiKey, Invitation, KeyScopes, Requester};
use percent_encoding::NON_ALPHANUMERIC;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{SESSION_COOKIE, Who, session_token, unauthenticated};
use crate::ApiError;
use crate::error::ErrorBody;
use crate::extract::{JsonBody, Path};

pub fn router() -> Router<Core> {
    Router::new()
        .route("/api/v2/auth/status", get(status))
        .route("/api/v2/auth/setup", post(setup))
        .route("/api/v2/auth/login", post(login))
        .route("/api/v2/auth/logout", post(logout))
        .route("/api/v2/auth/password", post(change_password))
        .route("/api/v2/auth/keys", get(keys).post(create_key))
        .route("/api/v2/auth/keys/{key}", delete(revoke_key))
        .route("/api/v2/accounts", get(accounts).post(create_account))
        .route("/api/v2/accounts/{account}", delete(delete_account))
        .route(
            "/api/v2/locrits/{id}/invitations",
            get(invitations).post(invite),
        )
        .route(
            "/api/v2/locrits/{id}/invitations/{invitation}",
            delete(revoke_invitation),
        )
}

#[derive(Serialize, ToSchema)]
pub struct AuthStatus {
    /// No admin exists yet: the one-time setup is open (from this machine).
    setup_needed: bool,
    /// This request acts as an admin because it comes from this machine (local trust).
    local_trust: bool,
    /// The signed-in account, if any.
    account: Option<Account>,
    /// The token to send as `X-CSRF-Token` on state-changing requests of this sign-in.
    csrf_token: Option<String>,
}

/// Who this request is, and whether the server still needs its first admin.
#[utoipa::path(operation_id = "auth_status", get, path = "/api/v2/auth/status", tag = "auth",
    responses((status = 200, body = AuthStatus)))]
pub async fn status(
    State(core): State<Core>,
    Who(requester): Who,
    headers: HeaderMap,
) -> Result<Json<AuthStatus>, ApiError> {
    let csrf_token = match session_token(&headers) {
        Some(token) if requester.account().is_some() => {
            core.login(&token).await?.map(|login| login.csrf_token)
        }
        _ => None,
    };
    Ok(Json(AuthStatus {
        setup_needed: core.setup_needed().await?,
        local_trust: requester == Requester::Local,
        account: requester.account().cloned(),
        csrf_token,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    username: String,
    password: String,
}

#[derive(Serialize, ToSchema)]
pub struct SignedIn {
    account: Account,
    /// Send it as `X-CSRF-Token` on every state-changing request of this sign-in.
    csrf_token: String,
    expires_at: DateTime<Utc>,
}

/// The one-time setup: creates the first admin and signs them in. Open only while no
/// admin exists, and only from this machine.
#[utoipa::path(operation_id = "setup", post, path = "/api/v2/auth/setup", tag = "auth",
    request_body = Credentials,
    responses((status = 201, body = SignedIn), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn setup(
    State(core): State<Core>,
    Who(requester): Who,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<Response, ApiError> {
    if requester != Requester::Local {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "local_only",
            "the setup is done from the server's machine (or with `locrit admin create`)",
        ));
    }
    core.create_first_admin(&body.username, &body.password)
        .await?;
    let login = core.sign_in(&body.username, &body.password).await?;
    Ok((StatusCode::CREATED, signed_in(login, &headers)).into_response())
}

/// Signs in: sets the `locrit_session` cookie (HttpOnly, SameSite=Strict).
#[utoipa::path(operation_id = "login", post, path = "/api/v2/auth/login", tag = "auth",
    request_body = Credentials,
    responses((status = 200, body = SignedIn), (status = 401, body = ErrorBody)))]
pub async fn login(
    State(core): State<Core>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<Response, ApiError> {
    let login = core.sign_in(&body.username, &body.password).await?;
    Ok(signed_in(login, &headers).into_response())
}

fn signed_in(login: NewLogin, headers: &HeaderMap) -> impl IntoResponse {
    let cookie = session_cookie(login.token, LOGIN_LIFETIME, headers);
    (
        AppendHeaders([(header::SET_COOKIE, cookie)]),
        Json(SignedIn {
            account: login.account,
            csrf_token: login.csrf_token,
            expires_at: login.expires_at,
        }),
    )
}

/// The session cookie: `Secure` when the request came over HTTPS (directly or through
/// a proxy that says so), since a browser drops a Secure cookie over plain HTTP.
fn session_cookie(token: String, lifetime: Duration, headers: &HeaderMap) -> String {
    let https = headers
        .get("x-forwarded-proto")
        .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"));
    Cookie::build((SESSION_COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .secure(https)
        .max_age(time::Duration::seconds(lifetime.num_seconds()))
        .build()
        .to_string()
}

/// Signs out: ends this sign-in and clears the cookie.
#[utoipa::path(operation_id = "logout", post, path = "/api/v2/auth/logout", tag = "auth",
    responses((status = 204)))]
pub async fn logout(State(core): State<Core>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(token) = session_token(&headers) {
        core.sign_out(&token).await?;
    }
    let cleared = session_cookie(String::new(), Duration::zero(), &headers);
    Ok((
        StatusCode::NO_CONTENT,
        AppendHeaders([(header::SET_COOKIE, cleared)]),
    )
        .into_response())
}

/// The signed-in account, or a 401 (local trust has no account of its own).
fn signed_in_account(requester: &Requester) -> Result<&Account, ApiError> {
    requester
        .account()
        .ok_or_else(|| unauthenticated("sign in first: this needs an account"))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Changes the signed-in account's password; every sign-in of the account ends.
#[utoipa::path(operation_id = "change_password", post, path = "/api/v2/auth/password", tag = "auth",
    request_body = PasswordChange,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn change_password(
    State(core): State<Core>,
    Who(requester): Who,
    JsonBody(body): JsonBody<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    let account = signed_in_account(&requester)?;
    core.change_password(account, &body.current_password, &body.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct KeyList {
    keys: Vec<ApiKey>,
}

/// The signed-in account's API keys (never their secret).
#[utoipa::path(operation_id = "list_api_keys", get, path = "/api/v2/auth/keys", tag = "auth",
    responses((status = 200, body = KeyList), (status = 401, body = ErrorBody)))]
pub async fn keys(
    State(core): State<Core>,
    Who(requester): Who,
) -> Result<Json<KeyList>, ApiError> {
    let account = signed_in_account(&requester)?;
    Ok(Json(KeyList {
        keys: core.api_keys(account).await?,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyBody {
    name: String,
    scopes: KeyScopes,
    /// Only this Locrit (by name), which the account must manage.
    locrit: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    key: ApiKey,
    /// The key itself: shown this once, stored only hashed.
    token: String,
}

/// Creates an API key; its token is in this answer only.
#[utoipa::path(operation_id = "create_api_key", post, path = "/api/v2/auth/keys", tag = "auth",
    request_body = NewKeyBody,
    responses((status = 201, body = CreatedKey), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_key(
    State(core): State<Core>,
    Who(requester): Who,
    JsonBody(body): JsonBody<NewKeyBody>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let account = signed_in_account(&requester)?;
    let new = NewApiKey {
        name: body.name,
        scopes: body.scopes,
        locrit: body.locrit,
    };
    let (key, token) = core.create_api_key(account, new).await?;
    Ok((StatusCode::CREATED, Json(CreatedKey { key, token })))
}

/// Revokes one of the signed-in account's keys, at once.
#[utoipa::path(operation_id = "revoke_api_key", delete, path = "/api/v2/auth/keys/{key}", tag = "auth",
    params(("key" = Uuid, Path)),
    responses((status = 200, body = ApiKey), (status = 404, body = ErrorBody)))]
pub async fn revoke_key(
    State(core): State<Core>,
    Who(requester): Who,
    Path(key): Path<Uuid>,
) -> Result<Json<ApiKey>, ApiError> {
    let account = signed_in_account(&requester)?;
    Ok(Json(core.revoke_api_key(account, key).await?))
}

#[derive(Serialize, ToSchema)]
pub struct AccountList {
    accounts: Vec<Account>,
}

/// Every account (admins only).
#[utoipa::path(operation_id = "list_accounts", get, path = "/api/v2/accounts", tag = "auth",
    responses((status = 200, body = AccountList), (status = 403, body = ErrorBody)))]
pub async fn accounts(
    State(core): State<Core>,
    Who(requester): Who,
) -> Result<Json<AccountList>, ApiError> {
    Ok(Json(AccountList {
        accounts: core.accounts(&requester).await?,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccountBody {
    username: String,
    password: String,
    #[serde(default = "user_role")]
    role: AccountRole,
}

fn user_role() -> AccountRole {
    AccountRole::User
}

/// Creates an account (admins only).
#[utoipa::path(operation_id = "create_account", post, path = "/api/v2/accounts", tag = "auth",
    request_body = NewAccountBody,
    responses((status = 201, body = Account), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn create_account(
    State(core): State<Core>,
    Who(requester): Who,
    JsonBody(body): JsonBody<NewAccountBody>,
) -> Result<(StatusCode, Json<Account>), ApiError> {
    let account = core
        .create_account(&requester, &body.username, &body.password, body.role)
        .await?;
    Ok((StatusCode::CREATED, Json(account)))
}

/// Deletes an account (admins only); its Locrits stay, for the admins.
#[utoipa::path(operation_id = "delete_account", delete, path = "/api/v2/accounts/{account}", tag = "auth",
    params(("account" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn delete_account(
    State(core): State<Core>,
    Who(requester): Who,
    Path(account): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    core.delete_account(&requester, account).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct InvitationList {
    invitations: Vec<Invitation>,
}

/// The Locrit's invitations (its owner only).
#[utoipa::path(operation_id = "list_invitations", get, path = "/api/v2/locrits/{id}/invitations", tag = "auth",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = InvitationList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn invitations(
    State(core): State<Core>,
    Who(requester): Who,
    Path(id): Path<Uuid>,
) -> Result<Json<InvitationList>, ApiError> {
    let locrit = core.locrit(id).await?;
    Ok(Json(InvitationList {
        invitations: core.invitations(&requester, &locrit).await?,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvitationBody {
    /// Who it is for.
    #[serde(default)]
    label: String,
    /// Valid for this many hours; forever when absent.
    expires_in_hours: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedInvitation {
    invitation: Invitation,
    /// The invitation's secret: shown this once.
    token: String,
    /// The link to give: the Locrit's chat page with the invitation.
    link: String,
}

/// Invites a person to chat with the Locrit (its owner only): the link grants chat
/// while `open_to.invitations` is on, until revoked or expired.
#[utoipa::path(operation_id = "create_invitation", post, path = "/api/v2/locrits/{id}/invitations", tag = "auth",
    params(("id" = Uuid, Path)), request_body = NewInvitationBody,
    responses((status = 201, body = CreatedInvitation), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn invite(
    State(core): State<Core>,
    Who(requester): Who,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<NewInvitationBody>,
) -> Result<(StatusCode, Json<CreatedInvitation>), ApiError> {
    let locrit = core.locrit(id).await?;
    let lifetime = body
        .expires_in_hours
        .map(|hours| Duration::hours(i64::from(hours)));
    let (invitation, token) = core
        .create_invitation(&requester, &locrit, &body.label, lifetime)
        .await?;
    let name = percent_encoding::utf8_percent_encode(&locrit.name, NON_ALPHANUMERIC);
    let link = format!("/p/{name}?invitation={token}");
    Ok((
        StatusCode::CREATED,
        Json(CreatedInvitation {
            invitation,
            token,
            link,
        }),
    ))
}

/// Revokes an invitation, at once (its owner only).
#[utoipa::path(operation_id = "revoke_invitation", delete, path = "/api/v2/locrits/{id}/invitations/{invitation}", tag = "auth",
    params(("id" = Uuid, Path), ("invitation" = Uuid, Path)),
    responses((status = 200, body = Invitation), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_invitation(
    State(core): State<Core>,
    Who(requester): Who,
    Path((id, invitation)): Path<(Uuid, Uuid)>,
) -> Result<Json<Invitation>, ApiError> {
    let locrit = core.locrit(id).await?;
    Ok(Json(
        core.revoke_invitation(&requester, &locrit, invitation)
            .await?,
    ))
}
