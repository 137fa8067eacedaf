//! `GET /metrics`, apart from the recording functions so that the store (which records group
//! commits) does not depend on the HTTP layer through them.

use super::*;
use crate::extract::OperationsSecret;
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// This route, for the OpenAPI document (`crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(scrape))]
pub struct Api;

/// `GET /metrics`: the operations secret (the same as the detailed `/health`), since the series
/// say how busy and how healthy the deployment is.
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    summary = "Metrics",
    security(("operations" = [])),
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String), crate::error::Refusals)
)]
async fn scrape(State(state): State<AppState>, _: OperationsSecret) -> impl IntoResponse {
    let replication = crate::replication::report(&state).await;
    gauge!(PEER_REACHABLE).set(f64::from(u8::from(replication.peer_reachable)));
    gauge!(BACKLOG, "direction" => "outbound").set(replication.outbound_behind as f64);
    gauge!(BACKLOG, "direction" => "inbound").set(replication.inbound_behind as f64);
    gauge!(LAG, "direction" => "outbound").set(replication.outbound_lag_ms as f64 / 1000.0);
    gauge!(LAG, "direction" => "inbound").set(replication.inbound_lag_ms as f64 / 1000.0);
    gauge!(QUARANTINED).set(replication.quarantined as f64);
    gauge!(REBUILDING).set(f64::from(u8::from(replication.rebuilding)));
    gauge!(EPOCH).set(state.role.known().epoch as f64);
    if let Some(at) = state.backups.report().last_success_ms {
        let age = (state.now_ms() - at).max(0) as f64 / 1000.0;
        gauge!(BACKUP_AGE).set(age);
    }
    gauge!(PROBLEMS).set(state.problems.report().len() as f64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        daemon::metrics::render(),
    )
}
