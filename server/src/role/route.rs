//! `POST /v1/role`, by which the moderator pushes its decision to this deployment.

use crate::error::ApiFailure;
use crate::extract::{ApiJson, Moderator};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use protocol::moderation::{ActiveDeployment, KnownRole, ROLE_PATH};
use protocol::ErrorCode;

/// This route, for the OpenAPI document (`crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(push))]
pub struct Api;

/// The role route.
pub fn router() -> Router<AppState> {
    Router::new().route(ROLE_PATH, post(push))
}

/// `POST /v1/role`: the moderator's decision. Refused without the moderator secret (401), and
/// when it does not name this deployment among the pair (a misconfigured moderator, 422). An
/// older epoch than the one known is not an error (pushes may cross); the answer says what is
/// known.
#[utoipa::path(
    post,
    path = "/v1/role",
    tag = "operations",
    summary = "The moderator's decision, pushed to the deployment",
    security(("moderator" = [])),
    request_body = protocol::moderation::ActiveDeployment,
    responses((status = 200, description = "The decision this deployment now follows", body = protocol::moderation::KnownRole), crate::error::Refusals)
)]
async fn push(
    State(state): State<AppState>,
    // Checked before the body is read, so nobody without the secret gets the parser's attention.
    _: Moderator,
    ApiJson(decision): ApiJson<ActiveDeployment>,
) -> Result<Json<KnownRole>, ApiFailure> {
    let me = &state.config.deployment;
    if decision.deployment(me).is_none() || decision.deployment(&decision.active).is_none() {
        return Err(ApiFailure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Malformed,
            format!(
                "the decision must list this deployment ({me}) and the active one ({})",
                decision.active
            ),
        ));
    }
    if decision.epoch > protocol::moderation::MAX_EPOCH {
        return Err(ApiFailure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Malformed,
            format!(
                "the epoch may be at most {}",
                protocol::moderation::MAX_EPOCH
            ),
        ));
    }
    let epoch = decision.epoch;
    let active = decision.active.clone();
    // On disk before it is adopted or answered, so a restart never goes back to an older one.
    let kept = decision.clone();
    state
        .store
        .write(move |w| w.remember_decision(&kept))
        .await?;
    if state.role.adopt(decision) {
        tracing::info!(epoch, %active, "the moderator's decision changed");
    }
    Ok(Json(state.role.known()))
}
