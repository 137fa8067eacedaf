//! The admins' failover panel, through this deployment: `GET /v1/admin/failover` (the
//! moderator's status: the decision, both deployments' health and lag, recent decisions),
//! `POST /v1/admin/failover` (make a deployment active until released) and
//! `POST /v1/admin/failover/release`. The admin's session is checked here; the moderator's admin
//! secret comes from this deployment's configuration and goes only from here to the moderator,
//! never to a browser.

use crate::error::ApiFailure;
use crate::extract::{Admin, ApiJson};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use daemon::http::{HttpClient, Method};
use protocol::moderation::{ActiveDeployment, FailoverRequest, FailoverStatus};
use protocol::{ApiError, ErrorCode};
use std::time::Duration;

/// How long the moderator has to answer: the panel must not hang on a dead moderator.
const MODERATOR_TIMEOUT: Duration = Duration::from_secs(5);

/// A deployment set up without what the panel needs: a refusal that names the setting, not a
/// server error (nothing failed; the feature is not configured here).
fn not_configured(status: StatusCode, message: impl Into<String>) -> ApiFailure {
    let code = match status {
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        _ => ErrorCode::Forbidden,
    };
    ApiFailure::new(status, code, message)
}

/// Calls the moderator; returns its answer's body, or the refusal to show the admin.
async fn moderator(
    state: &AppState,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
) -> Result<Vec<u8>, ApiFailure> {
    let base = state.config.moderator_url.as_deref().ok_or_else(|| {
        not_configured(
            StatusCode::NOT_FOUND,
            "this deployment knows no moderator (moderator_url)",
        )
    })?;
    let secret = match method {
        Method::GET => None,
        _ => Some(
            state
                .config
                .moderator_admin_secret
                .as_deref()
                .ok_or_else(|| {
                    not_configured(
                        StatusCode::FORBIDDEN,
                        "this deployment cannot steer the moderator: set moderator_admin_secret",
                    )
                })?,
        ),
    };
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let answer = HttpClient::with_tls(state.peer_tls.clone())
        .call(method, &url, secret, body, MODERATOR_TIMEOUT)
        .await
        .map_err(|e| {
            ApiFailure::new(
                StatusCode::BAD_GATEWAY,
                ErrorCode::Internal,
                format!("the moderator did not answer: {e}"),
            )
        })?;
    match answer.status {
        200..=299 => Ok(answer.body.to_vec()),
        401 => Err(ApiFailure::new(
            StatusCode::BAD_GATEWAY,
            ErrorCode::Internal,
            "the moderator refused this deployment's moderator_admin_secret",
        )),
        status => {
            let said = serde_json::from_slice::<ApiError>(&answer.body)
                .map(|e| e.message)
                .unwrap_or_else(|_| format!("the moderator answered {status}"));
            let status = match status {
                422 => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::BAD_GATEWAY,
            };
            Err(ApiFailure::new(status, ErrorCode::Internal, said))
        }
    }
}

fn unreadable(e: serde_json::Error) -> ApiFailure {
    ApiFailure::new(
        StatusCode::BAD_GATEWAY,
        ErrorCode::Internal,
        format!("the moderator's answer is unreadable: {e}"),
    )
}

#[utoipa::path(
    get,
    path = "/v1/admin/failover",
    tag = "admin",
    summary = "Failover status (admins)",
    security(("operator" = [])),
    responses((status = 200, description = "The moderator's view of the pair", body = protocol::moderation::FailoverStatus), crate::error::Refusals)
)]
pub(super) async fn status(
    State(state): State<AppState>,
    _: Admin,
) -> Result<Json<FailoverStatus>, ApiFailure> {
    let body = moderator(&state, Method::GET, "/v1/status", None).await?;
    serde_json::from_slice(&body).map(Json).map_err(unreadable)
}

#[utoipa::path(
    post,
    path = "/v1/admin/failover",
    tag = "admin",
    summary = "Pin a deployment (admins)",
    security(("operator" = [])),
    request_body = protocol::moderation::FailoverRequest,
    responses((status = 200, description = "The new decision, pinned", body = protocol::moderation::ActiveDeployment), crate::error::Refusals)
)]
pub(super) async fn fail_over(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiJson(request): ApiJson<FailoverRequest>,
) -> Result<Json<ActiveDeployment>, ApiFailure> {
    if request.to.is_empty() || request.to.len() > 64 {
        return Err(ApiFailure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Malformed,
            "say which deployment: primary, redundant or its id",
        ));
    }
    tracing::warn!(to = %request.to, by = %admin.email, "planned failover requested");
    let body = serde_json::to_vec(&request).expect("requests serialise");
    let answer = moderator(&state, Method::POST, "/v1/admin/failover", Some(body)).await?;
    serde_json::from_slice(&answer)
        .map(Json)
        .map_err(unreadable)
}

#[utoipa::path(
    post,
    path = "/v1/admin/failover/release",
    tag = "admin",
    summary = "Release the pin (admins)",
    security(("operator" = [])),
    responses((status = 200, description = "The decision, released", body = protocol::moderation::ActiveDeployment), crate::error::Refusals)
)]
pub(super) async fn release(
    State(state): State<AppState>,
    Admin(admin): Admin,
) -> Result<Json<ActiveDeployment>, ApiFailure> {
    tracing::warn!(by = %admin.email, "failover released");
    let answer = moderator(&state, Method::POST, "/v1/admin/release", None).await?;
    serde_json::from_slice(&answer)
        .map(Json)
        .map_err(unreadable)
}
