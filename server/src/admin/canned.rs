//! Canned replies over HTTP, for the console: `GET /v1/canned` (the caller's own and those of
//! the sites they serve), `PUT /v1/canned/{id}` (create or edit) and `DELETE /v1/canned/{id}`.
//! Anyone with a session keeps personal replies; a site's shared replies are for admins to
//! manage. Checked here, the rules needing the database inside the write.

use super::not_found;
use crate::error::ApiFailure;
use crate::extract::{ApiJson, ApiPath, Operator};
use crate::state::AppState;
use crate::store::StoreError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use protocol::admin::FieldError;
use protocol::canned::{CannedId, CannedReply, CannedScope};
use protocol::{ErrorCode, OperatorProfile, OperatorRole};

/// How many replies one scope (a site, or one operator) may hold.
pub const MAX_PER_SCOPE: usize = 500;

fn id_path(id: &str) -> Result<CannedId, ApiFailure> {
    uuid::Uuid::parse_str(id)
        .map(CannedId)
        .map_err(|_| not_found("canned reply"))
}

/// Whether `operator` may change replies of `scope`.
fn may_manage(operator: &OperatorProfile, scope: &CannedScope) -> Result<(), ApiFailure> {
    match scope {
        CannedScope::Personal(owner) if *owner == operator.id => Ok(()),
        CannedScope::Personal(_) => Err(ApiFailure::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "this is another operator's canned reply",
        )),
        CannedScope::Site(_) if operator.role != OperatorRole::Admin => Err(ApiFailure::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "only admins manage a site's canned replies",
        )),
        CannedScope::Site(_) => Ok(()),
    }
}

#[utoipa::path(
    get,
    path = "/v1/canned",
    tag = "canned",
    summary = "Canned replies",
    security(("operator" = [])),
    responses((status = 200, description = "The canned replies the operator may use", body = Vec<protocol::canned::CannedReply>), crate::error::Refusals)
)]
pub(super) async fn list_canned(
    State(state): State<AppState>,
    Operator(operator): Operator,
) -> Result<Json<Vec<CannedReply>>, ApiFailure> {
    Ok(Json(
        state.store.read(move |r| r.canned_for(&operator)).await?,
    ))
}

#[utoipa::path(
    put,
    path = "/v1/canned/{id}",
    tag = "canned",
    summary = "Create or edit a canned reply",
    security(("operator" = [])),
    params(("id" = String, Path, description = "The reply (a UUID)")),
    request_body = protocol::canned::CannedReply,
    responses((status = 200, description = "Saved", body = protocol::canned::CannedReply), crate::error::Refusals)
)]
pub(super) async fn set_canned(
    State(state): State<AppState>,
    Operator(operator): Operator,
    ApiPath(id): ApiPath<String>,
    ApiJson(reply): ApiJson<CannedReply>,
) -> Result<Json<CannedReply>, ApiFailure> {
    let id = id_path(&id)?;
    if reply.id != id {
        return Err(ApiFailure::field(FieldError::new(
            "id",
            "the reply's id is not the one in the path",
        )));
    }
    reply.check().map_err(ApiFailure::field)?;
    may_manage(&operator, &reply.scope)?;
    let stored = reply.clone();
    state
        .store
        .write(move |w| {
            if let CannedScope::Site(site) = &stored.scope {
                w.site(site)?.ok_or(StoreError::NotFound("site"))?;
            }
            // Replies are looked up by shortcut within what one operator sees; the scope's
            // own replies are the ones to compare with.
            let siblings: Vec<CannedReply> = w
                .canned_all()?
                .into_iter()
                .filter(|r| r.scope == stored.scope && r.id != stored.id)
                .collect();
            if siblings.iter().any(|r| r.shortcut == stored.shortcut) {
                return Err(StoreError::Invalid(format!(
                    "/{} is taken already",
                    stored.shortcut
                )));
            }
            if siblings.len() >= MAX_PER_SCOPE {
                return Err(StoreError::Invalid(format!(
                    "at most {MAX_PER_SCOPE} canned replies here"
                )));
            }
            if let Some(existing) = w.canned(stored.id)? {
                if existing.scope != stored.scope {
                    return Err(StoreError::Forbidden(
                        "a canned reply keeps its scope; make a new one".into(),
                    ));
                }
            }
            w.set_canned(stored.id, Some(stored))
        })
        .await
        .map_err(|e| match e {
            StoreError::Invalid(message) => ApiFailure::field(FieldError::new("shortcut", message)),
            other => other.into(),
        })?;
    Ok(Json(reply))
}

#[utoipa::path(
    delete,
    path = "/v1/canned/{id}",
    tag = "canned",
    summary = "Remove a canned reply",
    security(("operator" = [])),
    params(("id" = String, Path, description = "The reply (a UUID)")),
    responses((status = 204, description = "Removed"), crate::error::Refusals)
)]
pub(super) async fn remove_canned(
    State(state): State<AppState>,
    Operator(operator): Operator,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiFailure> {
    let id = id_path(&id)?;
    let existing = state
        .store
        .read(move |r| r.canned(id))
        .await?
        .ok_or_else(|| not_found("canned reply"))?;
    may_manage(&operator, &existing.scope)?;
    state.store.write(move |w| w.set_canned(id, None)).await?;
    Ok(StatusCode::NO_CONTENT)
}
