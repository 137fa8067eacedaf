//! The moderator's HTTP surface.
//!
//! - `GET /v1/active`: the decision in force ([`ActiveDeployment`]). Open to every origin (any
//!   customer site's widget asks it) and cheap: the answer is a small struct read under a lock.
//!   It carries `Cache-Control: public, max-age=0, must-revalidate` and an `ETag` naming the epoch,
//!   so caches may keep it but must revalidate every time (a 304 costs almost nothing); HTTP cannot
//!   express a freshness below one second any other way, and a decision one second stale would
//!   send clients to a dead deployment.
//! - `GET /v1/status`: both deployments' health and replication, the decision and the recent
//!   decision log, as JSON (same-origin only: no CORS); `GET /` shows the same as a page.
//!
//! Every answer carries `nosniff`, `Referrer-Policy: no-referrer` and a policy that runs no script
//! and forbids framing.
//! - `POST /v1/admin/failover` (`{"to": "redundant"}`) and `POST /v1/admin/release`: manual
//!   failover for planned downtime, with the admin secret as bearer token (401 otherwise).
//! - `GET /health`: the moderator itself answers.
//! - `GET /v1/openapi.json`: the OpenAPI 3.1 document of all of these ([`ApiDoc`]).

use crate::decision::Deployment;
use crate::service::{Command, Handle, Status};
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use protocol::moderation::FailoverRequest;
use protocol::{ApiError, ErrorCode};
use sha2::{Digest, Sha256};

/// The moderator's OpenAPI 3.1 document, from the annotations above its handlers and the types
/// it sends (as for the server, see `server::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "LiveChat moderator API", description = "Which deployment of the pair is active, why, \
        and the manual failover for planned downtime.", license(name = "AGPL-3.0-or-later")),
    paths(active, status, health, failover, release, status_page, crate::telemetry::scrape),
    components(schemas(ApiError, ErrorCode)),
    modifiers(&AdminSecret)
)]
pub struct ApiDoc;

/// The bearer credential of the admin routes.
struct AdminSecret;

impl utoipa::Modify for AdminSecret {
    fn modify(&self, document: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        document
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "admin",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some("The moderator's admin secret"))
                        .build(),
                ),
            );
    }
}

async fn openapi() -> Response {
    use utoipa::OpenApi;
    Json(ApiDoc::openapi()).into_response()
}

/// The moderator's routes.
pub fn router(handle: Handle) -> Router {
    Router::new()
        .route(protocol::moderation::ACTIVE_PATH, get(active))
        .route("/v1/status", get(status))
        .route("/", get(status_page))
        .route("/v1/admin/failover", post(failover))
        .route("/v1/admin/release", post(release))
        .route("/health", get(health))
        .route("/v1/openapi.json", get(openapi))
        .route("/metrics", get(crate::telemetry::scrape))
        .fallback(|| async {
            failure(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                "no such endpoint",
            )
        })
        .layer(axum::extract::DefaultBodyLimit::max(4096))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(handle)
}

/// Headers on every answer: no type sniffing, no referrer, and for the status page a policy that
/// runs no script at all and refuses to be framed (its only style is inline).
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    daemon::listen::add_baseline_headers(headers);
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn failure(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Response {
    let body = ApiError {
        error: code,
        message: message.into(),
        field: None,
    };
    (status, Json(body)).into_response()
}

#[utoipa::path(get, path = "/v1/active", tag = "moderator", summary = "The decision in force",
    description = "Open to every origin; revalidate with `If-None-Match` (the `ETag` names the epoch).",
    responses((status = 200, description = "The active deployment", body = protocol::moderation::ActiveDeployment),
        (status = 304, description = "The decision is the one the caller has")))]
async fn active(State(handle): State<Handle>, headers: HeaderMap) -> Response {
    let decision = handle.active();
    let etag = format!("\"epoch-{}\"", decision.epoch);
    let cache = [
        (
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=0, must-revalidate"),
        ),
        (
            header::ETAG,
            HeaderValue::from_str(&etag).expect("an ASCII tag"),
        ),
    ];
    let revalidated = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag));
    if revalidated {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (cache, Json(decision)).into_response()
}

/// Read by the status page, operations tools and tests; not by other sites' scripts (no CORS),
/// since it details both deployments' health and replication.
#[utoipa::path(get, path = "/v1/status", tag = "moderator", summary = "Both deployments, the decision and its log",
    responses((status = 200, description = "The moderator's view of the pair", body = Status)))]
async fn status(State(handle): State<Handle>) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Json(handle.status())).into_response()
}

#[utoipa::path(get, path = "/health", tag = "moderator", summary = "The moderator answers",
    responses((status = 200, description = "Up", body = Object, example = json!({"ok": true}))))]
async fn health() -> Response {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(serde_json::json!({ "ok": true })),
    )
        .into_response()
}

fn authorised(handle: &Handle, headers: &HeaderMap) -> bool {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    // Comparing digests keeps the comparison's duration independent of the secret.
    handle
        .config
        .admin_secret
        .as_deref()
        .is_some_and(|s| Sha256::digest(s.as_bytes()) == Sha256::digest(presented.as_bytes()))
}

fn unauthorised() -> Response {
    failure(
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthorized,
        "the admin secret is missing or wrong",
    )
}

#[utoipa::path(post, path = "/v1/admin/failover", tag = "moderator", summary = "Pin a deployment (planned downtime)",
    security(("admin" = [])), request_body = FailoverRequest,
    responses((status = 200, description = "The new decision, pinned", body = protocol::moderation::ActiveDeployment),
        (status = 400, description = "The body is not understood", body = ApiError),
        (status = 401, description = "Without the admin secret", body = ApiError),
        (status = 415, description = "The body is not JSON", body = ApiError),
        (status = 422, description = "No such deployment", body = ApiError),
        (status = 503, description = "The decision could not be logged", body = ApiError)))]
async fn failover(
    State(handle): State<Handle>,
    headers: HeaderMap,
    body: Result<Json<FailoverRequest>, JsonRejection>,
) -> Response {
    if !authorised(&handle, &headers) {
        return unauthorised();
    }
    let request = match body {
        Ok(Json(request)) => request,
        Err(rejection) => {
            return failure(
                rejection.status(),
                ErrorCode::Malformed,
                rejection.body_text(),
            )
        }
    };
    let config = &handle.config;
    let target = match request.to.as_str() {
        "primary" => Deployment::Primary,
        "redundant" => Deployment::Redundant,
        id if id == config.primary.id => Deployment::Primary,
        id if id == config.redundant.id => Deployment::Redundant,
        other => {
            return failure(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::NotFound,
                format!(
                    "no deployment {other:?}; use primary, redundant, {:?} or {:?}",
                    config.primary.id, config.redundant.id
                ),
            )
        }
    };
    run(&handle, Command::Pin(target)).await
}

#[utoipa::path(post, path = "/v1/admin/release", tag = "moderator", summary = "Release the pin",
    security(("admin" = [])),
    responses((status = 200, description = "The decision, released", body = protocol::moderation::ActiveDeployment),
        (status = 401, description = "Without the admin secret", body = ApiError),
        (status = 503, description = "The decision could not be logged", body = ApiError)))]
async fn release(State(handle): State<Handle>, headers: HeaderMap) -> Response {
    if !authorised(&handle, &headers) {
        return unauthorised();
    }
    run(&handle, Command::Release).await
}

async fn run(handle: &Handle, command: Command) -> Response {
    match handle.command(command).await {
        Ok(decision) => Json(decision).into_response(),
        Err(reason) => failure(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal,
            reason.to_string(),
        ),
    }
}

#[utoipa::path(get, path = "/", tag = "moderator", summary = "The status page",
    responses((status = 200, description = "The same as `/v1/status`, for people", content_type = "text/html", body = String)))]
async fn status_page(State(handle): State<Handle>) -> Response {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Html(render(&handle.status())),
    )
        .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// How long ago `at_ms` (Unix ms) was, for people.
fn ago(at_ms: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let seconds = now.saturating_sub(at_ms) / 1000;
    match seconds {
        0..=119 => format!("{seconds} s ago"),
        120..=7199 => format!("{} min ago", seconds / 60),
        _ => format!("{} h ago", seconds / 3600),
    }
}

/// The status page: plain HTML that refreshes itself, so it works without JavaScript and shows
/// the truth even when everything else is on fire.
fn render(status: &Status) -> String {
    let mut rows = String::new();
    for d in &status.deployments {
        let probe = d.last_probe.as_ref();
        let replication = probe.and_then(|p| p.replication.as_ref());
        rows += &format!(
            "<tr><td>{id}{active}</td><td>{role:?}</td><td>{url}</td><td class=\"{class}\">{up}</td>\
             <td>{latency}</td><td>{lag}</td><td>{behind}</td><td>{epoch}</td><td>{error}</td></tr>",
            id = escape(&d.id),
            active = if d.active { " <b>(active)</b>" } else { "" },
            role = d.role,
            url = escape(&d.url),
            class = if d.up { "up" } else { "down" },
            up = if d.up { "up" } else { "down" },
            latency = probe.map(|p| format!("{} ms", p.latency_ms)).unwrap_or_default(),
            lag = replication
                .map(|r| format!("out {} ms / in {} ms", r.outbound_lag_ms, r.inbound_lag_ms))
                .unwrap_or_default(),
            behind = replication
                .map(|r| {
                    let rebuilding = if r.rebuilding {
                        " (rebuilding from its peer: not caught up)"
                    } else {
                        ""
                    };
                    format!(
                        "out {} / in {}{rebuilding}",
                        r.outbound_behind, r.inbound_behind
                    )
                })
                .unwrap_or_default(),
            epoch = probe
                .and_then(|p| p.role.as_ref())
                .map(|r| r.epoch.to_string())
                .unwrap_or_default(),
            error = escape(probe.and_then(|p| p.error.as_deref()).unwrap_or("")),
        );
    }
    let mut decisions = String::new();
    for d in status.recent_decisions.iter().rev() {
        decisions += &format!(
            "<tr><td>{}</td><td>{:?}</td><td>{:?}</td><td>{}</td><td title=\"{} (Unix ms)\">{}</td></tr>",
            d.epoch,
            d.active,
            d.reason,
            if d.pinned.is_some() { "pinned" } else { "" },
            d.at_ms,
            ago(d.at_ms)
        );
    }
    let problems = match status.problems.is_empty() {
        true => String::new(),
        false => {
            let items: String = status
                .problems
                .iter()
                .map(|p| {
                    format!(
                        "<li data-testid=\"moderator-problem\" data-code=\"{}\">{}</li>",
                        escape(&p.code),
                        escape(&p.message)
                    )
                })
                .collect();
            format!("<h2 class=\"down\">Configuration problems</h2><ul>{items}</ul>")
        }
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"2\"><title>Live chat moderator</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2rem}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}}.up{{color:#070}}.down{{color:#b00}}</style>\
         </head><body><h1>Moderator</h1>\
         <p data-testid=\"moderator-active\">Active: <b>{active}</b> ({url}), epoch {epoch}{pinned}, decided {since} (reason: {reason:?})</p>{problems}\
         <h2>Deployments</h2><table><tr><th>Deployment</th><th>Role</th><th>URL</th><th>Health</th>\
         <th>Probe</th><th>Replication lag</th><th>Events behind</th><th>Knows epoch</th><th>Last error</th></tr>{rows}</table>\
         <h2>Recent decisions</h2><table><tr><th>Epoch</th><th>Active</th><th>Reason</th><th></th><th>When</th></tr>{decisions}</table>\
         </body></html>",
        active = escape(&status.active.active),
        url = escape(&status.active.url),
        epoch = status.active.epoch,
        pinned = if status.active.pinned { ", pinned by an admin" } else { "" },
        since = ago(status.decided_at_ms),
        reason = status.reason,
    )
}
