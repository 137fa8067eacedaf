//! What this deployment knows of the moderator's decision, and `POST /v1/role`, by which the
//! moderator pushes it.
//!
//! The role is a hint, never a gate: a deployment serves every client whatever it was told. When
//! the newest decision names the other deployment, each connected client is sent a
//! [`ServerFrame::Redirect`] (on connection and whenever the decision changes), which is how
//! failback and planned failover move clients without waiting for them to ask the moderator.
//!
//! The decision is kept in memory only: a restarted deployment knows no decision (epoch 0, serves
//! as if active) until the moderator, which sees the old epoch in `/health`, pushes it again.

use crate::error::ApiFailure;
use crate::http::ApiJson;
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use protocol::moderation::{ActiveDeployment, KnownRole, ROLE_PATH};
use protocol::{ErrorCode, ServerFrame};
use std::sync::Arc;
use tokio::sync::watch;

/// The newest decision received, shared by the HTTP handler and every socket.
#[derive(Clone)]
pub struct Role {
    decision: Arc<watch::Sender<Option<ActiveDeployment>>>,
}

impl Default for Role {
    fn default() -> Self {
        Self {
            decision: Arc::new(watch::channel(None).0),
        }
    }
}

impl Role {
    /// Adopts `decision` if it is newer than the one known; returns whether it was adopted.
    pub fn adopt(&self, decision: ActiveDeployment) -> bool {
        self.decision.send_if_modified(|known| {
            let newer = known.as_ref().is_none_or(|k| decision.epoch > k.epoch);
            if newer {
                *known = Some(decision);
            }
            newer
        })
    }

    /// What `/health` and the moderator are told.
    pub fn known(&self) -> KnownRole {
        match &*self.decision.borrow() {
            Some(d) => KnownRole {
                epoch: d.epoch,
                active: Some(d.active.clone()),
            },
            None => KnownRole {
                epoch: 0,
                active: None,
            },
        }
    }

    /// Changes whenever a newer decision is adopted.
    pub fn subscribe(&self) -> watch::Receiver<Option<ActiveDeployment>> {
        self.decision.subscribe()
    }
}

/// The redirect a client of deployment `me` should get under `decision`: `None` while `me` is
/// active or no decision is known.
pub fn redirect_for(decision: Option<&ActiveDeployment>, me: &str) -> Option<ServerFrame> {
    let decision = decision?;
    (decision.active != me).then(|| ServerFrame::Redirect {
        epoch: decision.epoch,
        deployment: decision.active.clone(),
        url: decision.url.clone(),
    })
}

/// The role route.
pub fn router() -> Router<AppState> {
    Router::new().route(ROLE_PATH, post(push))
}

/// `POST /v1/role`: the moderator's decision. Refused without the moderator secret (401), and
/// when it does not name this deployment among the pair (a misconfigured moderator, 422). An
/// older epoch than the one known is not an error (pushes may cross); the answer says what is
/// known.
async fn push(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(decision): ApiJson<ActiveDeployment>,
) -> Result<Json<KnownRole>, ApiFailure> {
    let presented = crate::http::bearer_token(&headers).unwrap_or_default();
    if !crate::auth::shared_secret_matches(state.config.moderator_secret.as_deref(), presented) {
        return Err(ApiFailure::unauthorized(
            "the moderator secret is missing or wrong",
        ));
    }
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
    let epoch = decision.epoch;
    let active = decision.active.clone();
    if state.role.adopt(decision) {
        tracing::info!(epoch, %active, "the moderator's decision changed");
    }
    Ok(Json(state.role.known()))
}
