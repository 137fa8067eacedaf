//! The site owner's admin API under `/v1/admin` (every route takes [`Admin`], so an agent gets
//! 403 whatever the console shows), the widget's public configuration, and the invitation an
//! operator accepts to choose a password. Each change is recorded like any other and replicates,
//! so either deployment serves the admin app and a change made on one during a split appears on
//! the other.
//!
//! Bad input is refused with the field it is about ([`ApiFailure::field`]) before anything is
//! written; the rules that need the database (an id or e-mail used once, the last admin) are
//! checked inside the write ([`crate::store::settings`]).

//! - [`sites`]: sites, their look, forms and identity secret, the snippet, and the public
//!   widget configuration.
//! - [`team`]: operators, their roles, states and sites, and invitations.
//! - [`canned`]: canned replies, personal (any operator) and per site (admins), under
//!   `/v1/canned`.

mod canned;
mod failover;
mod history;
mod routing;
mod sites;
mod team;
mod visitors;

pub use sites::render_snippet;

use crate::config::Config;
use crate::error::ApiFailure;
use crate::state::AppState;
use crate::store::{normalise_origin, validate, StoreError};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::routing::{get, patch, post, put};
use axum::Router;
use protocol::{ErrorCode, OperatorId, SiteId};
use sites::*;
use team::*;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// These routes, for the OpenAPI document (`crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    sites::list_sites,
    sites::show_site,
    sites::create_site,
    sites::edit_site,
    sites::remove_site,
    sites::set_appearance,
    sites::set_forms,
    sites::rotate_secret,
    sites::snippet,
    sites::widget_config,
    routing::roster,
    routing::set_routing,
    failover::status,
    failover::fail_over,
    failover::release,
    team::list_operators,
    team::create_operator,
    team::edit_operator,
    team::remove_operator,
    team::invite,
    team::accept_invitation,
    canned::list_canned,
    canned::set_canned,
    canned::remove_canned,
    history::history,
    history::transcript,
    visitors::context
))]
pub struct Api;

/// The admin API's routes, and the two public ones that belong with it. The admin API answers
/// the consoles of both deployments (CORS for the configured public URLs), so a console whose
/// deployment died carries on with the other one; its calls carry a bearer token, never cookies.
pub fn router(config: &Config) -> Router<AppState> {
    let public = Router::new()
        .route("/v1/sites/{id}/widget-config", get(widget_config))
        .route("/v1/operators/invitation", post(accept_invitation));
    let consoles: Vec<HeaderValue> = config
        .public_urls
        .iter()
        .filter_map(|url| normalise_origin(url).ok())
        .filter_map(|origin| HeaderValue::from_str(&origin).ok())
        .collect();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(consoles))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]);
    let canned = Router::new()
        .route("/v1/canned", get(canned::list_canned))
        .route("/v1/roster", get(routing::roster))
        .route("/v1/history", get(history::history))
        .route("/v1/history/{id}", get(history::transcript))
        .route("/v1/visitors/{id}/context", get(visitors::context))
        .route(
            "/v1/canned/{id}",
            put(canned::set_canned).delete(canned::remove_canned),
        );
    admin_routes().merge(canned).layer(cors).merge(public)
}

/// Every route that needs an admin.
fn admin_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/sites", get(list_sites).post(create_site))
        .route(
            "/v1/admin/sites/{id}",
            get(show_site).put(edit_site).delete(remove_site),
        )
        .route("/v1/admin/sites/{id}/appearance", put(set_appearance))
        .route("/v1/admin/sites/{id}/forms", put(set_forms))
        .route("/v1/admin/sites/{id}/routing", put(routing::set_routing))
        .route(
            "/v1/admin/failover",
            get(failover::status).post(failover::fail_over),
        )
        .route("/v1/admin/failover/release", post(failover::release))
        .route("/v1/admin/sites/{id}/identity-secret", post(rotate_secret))
        .route("/v1/admin/sites/{id}/snippet", get(snippet))
        .route(
            "/v1/admin/operators",
            get(list_operators).post(create_operator),
        )
        .route(
            "/v1/admin/operators/{id}",
            patch(edit_operator).delete(remove_operator),
        )
        .route("/v1/admin/operators/{id}/invitation", post(invite))
}

pub(crate) fn not_found(what: &str) -> ApiFailure {
    ApiFailure::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        format!("{what} not found"),
    )
}

/// A site id from the path, checked like a stored one.
pub(crate) fn site_path(id: String) -> Result<SiteId, ApiFailure> {
    let id = SiteId(id);
    validate::site_id(&id).map_err(|_| not_found("site"))?;
    Ok(id)
}

/// An operator id from the path.
pub(crate) fn operator_path(id: &str) -> Result<OperatorId, ApiFailure> {
    OperatorId::parse(id).map_err(|_| not_found("operator"))
}

/// A storage refusal, naming `field` when it is a conflict about it (a taken id or e-mail).
pub(crate) fn refused(error: StoreError, field: &str) -> ApiFailure {
    match error {
        StoreError::Conflict(why) => ApiFailure {
            field: Some(field.to_owned()),
            ..ApiFailure::new(StatusCode::CONFLICT, ErrorCode::Conflict, why)
        },
        other => other.into(),
    }
}

/// The base URL the caller reached this deployment at: the console's origin when the request
/// says it (a browser's `fetch` does), else the `Host` it asked for.
pub(crate) fn caller_base(state: &AppState, headers: &HeaderMap) -> String {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(origin) = text(header::ORIGIN).filter(|o| o.starts_with("http")) {
        return origin.to_owned();
    }
    let scheme = if state.server_tls.is_some() {
        "https"
    } else {
        "http"
    };
    let host = text(header::HOST).unwrap_or("localhost");
    format!("{scheme}://{host}")
}
