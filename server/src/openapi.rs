//! The HTTP API's OpenAPI 3.1 document, served at `/v1/openapi.json`. It is generated from the
//! code: each handler carries its `#[utoipa::path]` beside it (method, path, parameters, body,
//! answers), each router module gathers its own into an `Api`, and every schema is derived from
//! the `protocol` type that is actually sent, so the document cannot describe another API than the
//! one served. `server/tests/openapi.rs` checks that every route is in it; the process test
//! `tests/tests/openapi.rs` runs schemathesis against a real deployment.
//!
//! The WebSocket (`/v1/ws`) and the replication stream are not HTTP request and answer; their
//! frames are `protocol::ClientFrame`, `protocol::ServerFrame` and the replication batches.

use crate::state::AppState;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::sync::OnceLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Where the document is served.
pub const PATH: &str = "/v1/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "LiveChat deployment API",
        description = "The HTTP API of one deployment of a replicated pair: operators and their \
            sessions, the admin area (sites, team, failover), conversations and their history, \
            files, the widget's configuration, health and operations. Every refusal is an \
            `ApiError`; every answer carries `x-request-id`.",
        license(name = "AGPL-3.0-or-later")
    ),
    modifiers(&Credentials),
    // Every refusal's body (the answers of `crate::error::Refusals`).
    components(schemas(protocol::ApiError, protocol::ErrorCode)),
    tags(
        (name = "operators", description = "Logging in and out"),
        (name = "conversations", description = "The inbox and messages"),
        (name = "history", description = "Past conversations"),
        (name = "canned", description = "Canned replies"),
        (name = "routing", description = "Who serves a site"),
        (name = "admin", description = "Sites, the team and failover; admins only"),
        (name = "widget", description = "What the widget reads, public"),
        (name = "console", description = "What the console reads, public"),
        (name = "files", description = "Attachments"),
        (name = "operations", description = "Health, metrics, replication and the moderator"),
        (name = "replication", description = "Between the two deployments of a pair")
    )
)]
struct Base;

/// The bearer credentials the routes take.
struct Credentials;

impl Modify for Credentials {
    fn modify(&self, document: &mut utoipa::openapi::OpenApi) {
        let components = document.components.get_or_insert_with(Default::default);
        for (name, what) in [
            (
                "operator",
                "An operator's session token (from `/v1/operators/login`)",
            ),
            (
                "visitor",
                "A visitor's token (from the WebSocket `welcome`)",
            ),
            (
                "operations",
                "The deployment's operations secret (the replication secret unless set)",
            ),
            ("replication", "The replication secret the pair shares"),
            ("moderator", "The moderator's secret for deployments"),
        ] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(what))
                        .build(),
                ),
            );
        }
    }
}

/// The whole document: the base and every router module's routes.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut document = Base::openapi();
    for part in [
        crate::http::Api::openapi(),
        crate::admin::Api::openapi(),
        crate::attachments::Api::openapi(),
        crate::replication::Api::openapi(),
        crate::role::route::Api::openapi(),
        crate::telemetry::route::Api::openapi(),
    ] {
        document.merge(part);
    }
    document
}

/// `GET /v1/openapi.json`: public, like the API's shape is (nothing in it is a secret).
pub fn router() -> Router<AppState> {
    Router::new().route(PATH, get(serve))
}

async fn serve() -> impl IntoResponse {
    static TEXT: OnceLock<String> = OnceLock::new();
    let text = TEXT.get_or_init(|| {
        document()
            .to_json()
            .expect("the OpenAPI document serialises")
    });
    ([(header::CONTENT_TYPE, "application/json")], text.as_str())
}
