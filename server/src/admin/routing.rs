//! Routing over HTTP: `GET /v1/roster?site=…` (the operators one may hand a chat of that site
//! to, with whether they are online and their load; for any operator who serves the site) and
//! `PUT /v1/admin/sites/{id}/routing` (a site's mode; admins). Capacities are part of an
//! operator's edit (`PATCH /v1/admin/operators/{id}`).

use super::sites::set_setting;
use crate::error::ApiFailure;
use crate::extract::{Admin, ApiJson, ApiPath, ApiQuery, Operator};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use protocol::admin::AdminSite;
use protocol::replication::SiteSetting;
use protocol::routing::{RosterEntry, RoutingEdit};
use protocol::{ErrorCode, SiteId};
use serde::Deserialize;

/// The query of `GET /v1/roster`.
#[derive(Deserialize)]
pub(super) struct RosterQuery {
    site: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/roster",
    tag = "routing",
    summary = "A site's roster",
    security(("operator" = [])),
    params(("site" = String, Query, description = "The site")),
    responses((status = 200, description = "Who serves the site, their availability and load", body = Vec<protocol::routing::RosterEntry>), crate::error::Refusals)
)]
pub(super) async fn roster(
    State(state): State<AppState>,
    Operator(operator): Operator,
    ApiQuery(query): ApiQuery<RosterQuery>,
) -> Result<Json<Vec<RosterEntry>>, ApiFailure> {
    let site = SiteId(query.site.ok_or_else(|| {
        ApiFailure::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::Malformed,
            "say which site's roster: ?site=…",
        )
    })?);
    crate::store::validate::site_id(&site)
        .map_err(|e| ApiFailure::new(StatusCode::BAD_REQUEST, ErrorCode::Malformed, e))?;
    if !operator.sites.allows(&site) {
        return Err(ApiFailure::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "you do not serve this site",
        ));
    }
    let presence = state.presence.clone();
    let online = presence.online_operators();
    let roster = state
        .store
        .read(move |r| r.roster(&site, &|id| online.contains(&id)))
        .await?;
    Ok(Json(roster))
}

#[utoipa::path(
    put,
    path = "/v1/admin/sites/{id}/routing",
    tag = "admin",
    summary = "A site's routing (admins)",
    security(("operator" = [])),
    params(("id" = String, Path, description = "The site")),
    request_body = protocol::routing::RoutingEdit,
    responses((status = 200, description = "Saved", body = protocol::admin::AdminSite), crate::error::Refusals)
)]
pub(super) async fn set_routing(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(edit): ApiJson<RoutingEdit>,
) -> Result<Json<AdminSite>, ApiFailure> {
    tracing::info!(site = %id, mode = edit.mode.as_str(), by = %admin.email, "routing changed");
    set_setting(&state, id, SiteSetting::Routing(edit.mode)).await
}
