//! The team: operators with their roles, states and sites, and the invitations that let a new
//! operator choose a password.

use super::{caller_base, not_found, operator_path, refused};
use crate::auth;
use crate::error::ApiFailure;
use crate::extract::{Admin, ApiJson, ApiPath, ClientAddress};
use crate::http::{start_session, throttled};
use crate::state::AppState;
use crate::store::{validate, StoreError};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use protocol::admin::{
    AcceptInvitation, AdminOperator, FieldError, OperatorCreated, OperatorDraft, OperatorEdit,
    OperatorState, SiteScope,
};
use protocol::replication::OperatorSetting;
use protocol::routing::MAX_CAPACITY;
use protocol::{ErrorCode, LoginResponse, OperatorId};

/// How long an invitation link works, in milliseconds.
const INVITATION_TTL_MS: i64 = 7 * 86_400_000;
/// The shortest password accepted.
const MIN_PASSWORD_CHARS: usize = 8;
/// The longest password accepted (argon2 takes any length; a bound keeps hashing cheap).
const MAX_PASSWORD_CHARS: usize = 200;

#[utoipa::path(
    get,
    path = "/v1/admin/operators",
    tag = "admin",
    summary = "The team (admins)",
    security(("operator" = [])),
    responses((status = 200, description = "The team", body = Vec<protocol::admin::AdminOperator>), crate::error::Refusals)
)]
pub(super) async fn list_operators(
    State(state): State<AppState>,
    _: Admin,
) -> Result<Json<Vec<AdminOperator>>, ApiFailure> {
    Ok(Json(state.store.read(|r| r.admin_operators()).await?))
}

/// A password's rules, for the field `password`.
fn check_password(password: &str) -> Result<(), ApiFailure> {
    let count = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&count) {
        return Err(ApiFailure::field(FieldError::new(
            "password",
            format!("a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"),
        )));
    }
    Ok(())
}

/// Hashes a password off the async threads (argon2id takes tens of milliseconds).
async fn hash(password: String) -> Result<String, ApiFailure> {
    tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(|_| {
            ApiFailure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Internal,
                "the password could not be hashed; nothing was saved, retry",
            )
        })
}

/// Every site a scope names must exist.
async fn check_scope(state: &AppState, scope: &SiteScope) -> Result<(), ApiFailure> {
    let SiteScope::Only(sites) = scope else {
        return Ok(());
    };
    let sites = sites.clone();
    let missing = state
        .store
        .read(move |r| {
            for site in sites {
                if r.site(&site)?.is_none() {
                    return Ok(Some(site));
                }
            }
            Ok(None)
        })
        .await?;
    match missing {
        Some(site) => Err(ApiFailure::field(FieldError::new(
            "sites",
            format!("there is no site `{site}`"),
        ))),
        None => Ok(()),
    }
}

/// A link that lets `operator` choose a password on the console the admin is using.
async fn invitation_url(
    state: &AppState,
    headers: &HeaderMap,
    operator: OperatorId,
) -> Result<String, ApiFailure> {
    let version = state
        .store
        .read(move |r| r.operator_secret(operator))
        .await?
        .ok_or_else(|| not_found("operator"))?
        .1;
    let token =
        state
            .signer
            .issue_invitation(operator, state.now_ms() + INVITATION_TTL_MS, version);
    Ok(format!(
        "{}/console/#invite={token}",
        caller_base(state, headers)
    ))
}

#[utoipa::path(
    post,
    path = "/v1/admin/operators",
    tag = "admin",
    summary = "Add an operator (admins)",
    security(("operator" = [])),
    request_body = protocol::admin::OperatorDraft,
    responses((status = 201, description = "Created, with an invitation link when no password was given", body = protocol::admin::OperatorCreated), crate::error::Refusals)
)]
pub(super) async fn create_operator(
    State(state): State<AppState>,
    Admin(admin): Admin,
    headers: HeaderMap,
    ApiJson(draft): ApiJson<OperatorDraft>,
) -> Result<(StatusCode, Json<OperatorCreated>), ApiFailure> {
    let email = draft.email.trim().to_owned();
    validate::email(&email).map_err(|e| ApiFailure::field(FieldError::new("email", e)))?;
    validate::text("name", &draft.name)
        .map_err(|e| ApiFailure::field(FieldError::new("name", e)))?;
    if let Some(password) = &draft.password {
        check_password(password)?;
    }
    check_scope(&state, &draft.sites).await?;
    let invited = draft.password.is_none();
    // An invited operator gets a password nobody knows until they choose theirs.
    let password_hash = hash(draft.password.unwrap_or_else(auth::new_secret)).await?;
    let name = draft.name.trim().to_owned();
    let (role, sites) = (draft.role, draft.sites);
    let profile = state
        .store
        .write(move |w| w.create_operator((&email, &name, &password_hash), role, sites))
        .await
        .map_err(|e| refused(e, "email"))?;
    tracing::info!(operator = %profile.email, by = %admin.email, "operator created");
    let invitation_url = match invited {
        true => Some(invitation_url(&state, &headers, profile.id).await?),
        false => None,
    };
    let operator = stored_operator(&state, profile.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(OperatorCreated {
            operator,
            invitation_url,
        }),
    ))
}

async fn stored_operator(state: &AppState, id: OperatorId) -> Result<AdminOperator, ApiFailure> {
    state
        .store
        .read(move |r| r.admin_operator(id))
        .await?
        .ok_or_else(|| not_found("operator"))
}

#[utoipa::path(
    patch,
    path = "/v1/admin/operators/{id}",
    tag = "admin",
    summary = "Edit an operator (admins)",
    security(("operator" = [])),
    params(("id" = String, Path, description = "The operator (a UUID)")),
    request_body = protocol::admin::OperatorEdit,
    responses((status = 200, description = "Saved", body = protocol::admin::AdminOperator), crate::error::Refusals)
)]
pub(super) async fn edit_operator(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(edit): ApiJson<OperatorEdit>,
) -> Result<Json<AdminOperator>, ApiFailure> {
    let id = operator_path(&id)?;
    if let Some(name) = &edit.name {
        validate::text("name", name).map_err(|e| ApiFailure::field(FieldError::new("name", e)))?;
    }
    if let Some(password) = &edit.password {
        check_password(password)?;
    }
    if let Some(scope) = &edit.sites {
        check_scope(&state, scope).await?;
    }
    if edit.capacity.is_some_and(|c| c > MAX_CAPACITY) {
        return Err(ApiFailure::field(FieldError::new(
            "capacity",
            format!("a capacity is at most {MAX_CAPACITY} chats (0: no limit)"),
        )));
    }
    let password_hash = match edit.password {
        Some(password) => Some(hash(password).await?),
        None => None,
    };
    let OperatorEdit {
        name,
        role,
        state: account_state,
        sites,
        capacity,
        ..
    } = edit;
    state
        .store
        .write(move |w| {
            if name.is_some() || role.is_some() || password_hash.is_some() {
                let name = name.as_deref().map(str::trim);
                w.edit_operator(id, name, role, password_hash.as_deref())?;
            }
            if let Some(account_state) = account_state {
                let disabled = account_state == OperatorState::Disabled;
                w.set_operator_setting(id, OperatorSetting::Disabled(disabled))?;
            }
            if let Some(sites) = sites {
                w.set_operator_setting(id, OperatorSetting::Sites(sites))?;
            }
            if let Some(capacity) = capacity {
                w.set_operator_setting(id, OperatorSetting::Capacity(capacity))?;
            }
            Ok(())
        })
        .await?;
    let operator = stored_operator(&state, id).await?;
    tracing::info!(operator = %operator.email, by = %admin.email, "operator changed");
    Ok(Json(operator))
}

#[utoipa::path(
    delete,
    path = "/v1/admin/operators/{id}",
    tag = "admin",
    summary = "Remove an operator (admins)",
    security(("operator" = [])),
    params(("id" = String, Path, description = "The operator (a UUID)")),
    responses((status = 204, description = "Removed"), crate::error::Refusals)
)]
pub(super) async fn remove_operator(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiFailure> {
    let id = operator_path(&id)?;
    state.store.write(move |w| w.remove_operator(id)).await?;
    tracing::info!(operator = %id, by = %admin.email, "operator removed");
    Ok(StatusCode::NO_CONTENT)
}

/// A new invitation link for an operator (a reset by link): links issued before stop working
/// once a password is chosen with any of them.
#[utoipa::path(
    post,
    path = "/v1/admin/operators/{id}/invitation",
    tag = "admin",
    summary = "A new invitation link (admins)",
    security(("operator" = [])),
    params(("id" = String, Path, description = "The operator (a UUID)")),
    responses((status = 200, description = "A new invitation link", body = protocol::admin::OperatorCreated), crate::error::Refusals)
)]
pub(super) async fn invite(
    State(state): State<AppState>,
    _: Admin,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<OperatorCreated>, ApiFailure> {
    let id = operator_path(&id)?;
    let operator = stored_operator(&state, id).await?;
    let invitation_url = Some(invitation_url(&state, &headers, id).await?);
    Ok(Json(OperatorCreated {
        operator,
        invitation_url,
    }))
}

/// `POST /v1/operators/invitation`: the invited operator chooses a password and is logged in.
/// Limited like logins (per address and per account).
#[utoipa::path(
    post,
    path = "/v1/operators/invitation",
    tag = "operators",
    summary = "Accept an invitation",
    request_body = protocol::admin::AcceptInvitation,
    responses((status = 200, description = "Accepted: logged in", body = protocol::LoginResponse), crate::error::Refusals)
)]
pub(super) async fn accept_invitation(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ApiJson(request): ApiJson<AcceptInvitation>,
) -> Result<Json<LoginResponse>, ApiFailure> {
    let spent = || {
        ApiFailure::new(
            StatusCode::CONFLICT,
            ErrorCode::Conflict,
            "this invitation was used or replaced; ask an admin for a new link",
        )
    };
    let (id, version) = state
        .signer
        .verify_invitation(&request.token, state.now_ms())
        .map_err(|e| match e {
            auth::AuthError::Expired => {
                ApiFailure::unauthorized("this invitation has expired; ask an admin for a new link")
            }
            auth::AuthError::Invalid => {
                ApiFailure::unauthorized("this invitation link is not valid")
            }
        })?;
    state
        .login
        .admit(address, &id.to_string())
        .map_err(throttled)?;
    check_password(&request.password)?;
    let password_hash = hash(request.password).await?;
    state
        .store
        .write(move |w| {
            // Checked again inside the write, so two uses at once cannot both succeed.
            match w.operator_secret(id)? {
                Some((_, current)) if current == version => {
                    w.edit_operator(id, None, None, Some(&password_hash))
                }
                _ => Err(StoreError::Conflict("spent".into())),
            }
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) | StoreError::NotFound(_) => spent(),
            other => other.into(),
        })?;
    let operator = state
        .store
        .read(move |r| r.admin_operator(id))
        .await?
        .ok_or_else(spent)?;
    tracing::info!(operator = %operator.email, "invitation accepted");
    let profile = protocol::OperatorProfile {
        id,
        name: operator.name,
        email: operator.email,
        role: operator.role,
        sites: operator.sites,
    };
    start_session(&state, profile).await
}
