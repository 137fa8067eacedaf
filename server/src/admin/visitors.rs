//! `GET /v1/visitors/{id}/context`: what the console shows beside a conversation (the visitor's
//! form answers, their latest pages, browser, language, time zone and conversations), for an
//! operator who serves the visitor's site; any other visitor is not found.

use super::not_found;
use crate::error::ApiFailure;
use crate::extract::{ApiPath, Operator};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use protocol::visitor::VisitorContextView;
use protocol::VisitorId;

#[utoipa::path(
    get,
    path = "/v1/visitors/{id}/context",
    tag = "conversations",
    summary = "A visitor's context",
    security(("operator" = [])),
    params(("id" = String, Path, description = "The visitor (a UUID)")),
    responses((status = 200, description = "What the widget told of the visitor's browser and pages", body = protocol::visitor::VisitorContextView), crate::error::Refusals)
)]
pub(super) async fn context(
    State(state): State<AppState>,
    Operator(operator): Operator,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<VisitorContextView>, ApiFailure> {
    let id = uuid::Uuid::parse_str(&id)
        .map(VisitorId)
        .map_err(|_| not_found("visitor"))?;
    let found = state
        .store
        .read(move |r| r.visitor_context_view(id))
        .await?;
    match found {
        Some((site, view)) if operator.sites.allows(&site) => Ok(Json(view)),
        _ => Err(not_found("visitor")),
    }
}
