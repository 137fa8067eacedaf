//! Replication between the two deployments: each one serves its own event log to the peer
//! ([`source`]) and pulls the peer's log into its own database ([`puller`]). Both directions run at
//! all times, so both deployments accept writes and converge (see `store::changes` for the merge
//! rules).
//!
//! The link is a WebSocket on `/v1/replication`, authenticated with the shared replication secret.
//! Events are pushed as soon as they are committed (the source waits on the store's head), applied
//! by the puller in one transaction together with its cursor, and confirmed with `applied`.

pub mod error;
pub mod link;
pub mod puller;
pub mod rebuild;
pub mod source;

pub use error::LinkError;
pub use link::LinkState;

use crate::state::AppState;
use axum::routing::get;
use axum::{Json, Router};
use protocol::replication::{hlc_wall_ms, ReplicationStatus};

/// These routes, for the OpenAPI document (`crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(status, rebuild::returned))]
pub struct Api;

/// The replication routes: the link itself and its status.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            protocol::replication::REPLICATION_PATH,
            get(source::upgrade),
        )
        .route(protocol::replication::RETURNED_PATH, get(rebuild::returned))
        .route("/v1/replication/status", get(status))
}

/// Builds the status report.
pub async fn report(state: &AppState) -> ReplicationStatus {
    let link = state.link.snapshot();
    let local_head = *state.store.head().borrow();
    let origin = state.store.origin().to_owned();
    let peer_applied = link.peer_applied;
    let oldest_unconfirmed = state
        .store
        .read(move |r| {
            Ok(r.local_events_after(&origin, peer_applied, 1)?
                .first()
                .map(|e| e.hlc))
        })
        .await
        .ok()
        .flatten();
    let (quarantined, quarantine_reason) = state
        .store
        .read(|r| r.quarantine_report())
        .await
        .unwrap_or_default();
    let now = state.store.now_ms().max(0) as u64;
    let age = |hlc: Option<u64>| hlc.map(|h| now.saturating_sub(hlc_wall_ms(h))).unwrap_or(0);
    ReplicationStatus {
        deployment: state.store.origin().to_owned(),
        peer: link.peer.clone(),
        peer_configured: state.config.peer_url.is_some(),
        peer_reachable: link.pull_connected,
        local_head,
        peer_applied,
        inbound_behind: link.peer_head.saturating_sub(link.applied_from_peer),
        outbound_behind: local_head.saturating_sub(peer_applied),
        outbound_lag_ms: age(oldest_unconfirmed),
        inbound_lag_ms: age(link.inbound_oldest_hlc),
        quarantined,
        quarantine_reason,
        rebuilding: link.rebuilding,
    }
}

/// `GET /v1/replication/status`, for the moderator, the peer and operations tools holding one of
/// their secrets: it tells an outsider how far apart the pair is and whether the link is down.
#[utoipa::path(
    get,
    path = "/v1/replication/status",
    tag = "operations",
    summary = "Replication status",
    security(("operations" = [])),
    responses((status = 200, description = "The replication link and backlog both ways", body = protocol::replication::ReplicationStatus), crate::error::Refusals)
)]
async fn status(
    axum::extract::State(state): axum::extract::State<AppState>,
    _: crate::extract::OperationsSecret,
) -> Json<ReplicationStatus> {
    Json(report(&state).await)
}
