//! A live chat deployment: the HTTP and WebSocket API, durable storage and the static assets.
//!
//! - [`state`]: what every handler shares ([`AppState`]) and why a deployment cannot start.
//! - [`config`]: defaults, TOML file, environment and flags.
//! - [`clock`]: the one wall clock (injectable) and the hybrid logical clock stamping every event.
//! - [`store`]: the SQLite database with group commit, its queries by concept and its merge rules.
//! - [`identity`]: who is calling, one type for HTTP, WebSocket and the store.
//! - [`auth`]: credentials: visitor tokens, operator passwords, session tokens, shared secrets.
//! - [`extract`]: a request's caller and role checks, shared secrets, JSON bodies.
//! - [`files`]: files sent with messages, stored by hash beside the database.
//! - [`backup`]: consistent, verified backups taken while serving (by hand or on a timer), and
//!   their restore.
//! - [`datadir`]: the serving process's lock on its data directory, and the check that its
//!   database file is still the one it opened.
//! - [`hub`]: realtime fan-out of committed changes to open connections.
//! - [`mail`]: sending the queued e-mails (offline messages, transcripts) over SMTP.
//! - [`presence`]: which operators are online, here and at the peer (not stored).
//! - [`problems`]: configuration mistakes found on the replication link, for `/health`.
//! - [`ws`]: the `/v1/ws` endpoint (socket loop and per-frame session logic).
//! - [`http`]: login, logout, inbox, messages and `/health`.
//! - [`admin`]: the site owner's admin API (sites, snippet, look, forms, team), the widget's
//!   public configuration and invitations.
//! - [`attachments`]: the file routes (upload, download to participants, to the peer).
//! - [`replication`]: the link to the peer deployment, both directions, and its status.
//! - [`role`]: the moderator's decision as this deployment knows it, and redirects of clients.
//! - [`assets`]: the widget, console, loader and demo page.
//! - [`text`]: what text is stored from clients (no direction overrides, page URLs without query).
//! - [`throttle`]: limits on every door: logins (and the password checkers' own pool), new
//!   visitors and conversations, connections, messages and typing per connection.
//! - [`headers`]: security headers (`nosniff`, `Referrer-Policy`, the console's CSP).
//! - [`error`]: how failures reach clients.
//!
//! [`app`] builds the router from an [`AppState`]; [`serve`] runs it on a listener until a shutdown
//! future resolves, then closes every WebSocket and flushes pending writes before returning.

pub mod admin;
pub mod assets;
pub mod attachments;
pub mod auth;
pub mod backup;
pub mod clock;
pub mod config;
pub mod datadir;
pub mod error;
pub mod extract;
pub mod files;
pub mod headers;
pub mod http;
pub mod hub;
pub mod identity;
pub mod mail;
pub mod openapi;
pub mod presence;
pub mod problems;
pub mod replication;
pub mod role;
pub mod routing;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod text;
pub mod throttle;
pub mod ws;

pub use state::{AppState, StartError};

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, StatusCode};
use axum::routing::any;
use axum::Router;
use error::ApiFailure;
use protocol::ErrorCode;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

/// The whole HTTP surface of a deployment.
pub fn app(state: AppState) -> Router {
    let api = http::router()
        .merge(admin::router(&state.config))
        .merge(ws::router())
        .merge(attachments::router())
        .merge(replication::router())
        .merge(role::route::router())
        .merge(telemetry::route::router())
        .merge(openapi::router())
        .route("/v1/{*rest}", any(unknown_endpoint))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        // Outermost last: every request gets an id (kept if a proxy in front set one), which
        // the answer carries back and the request's span records.
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(request_span))
        .layer(PropagateRequestIdLayer::new(HeaderName::from_static(
            REQUEST_ID,
        )))
        .layer(SetRequestIdLayer::new(
            HeaderName::from_static(REQUEST_ID),
            MakeRequestUuid,
        ));
    let api = match assets::Assets::choose(state.config.assets_dir.as_deref()) {
        Some(site) => {
            let policy = headers::ConsolePolicy::new(&state.config, &site.console_index());
            api.merge(
                assets::router(&site).layer(axum::middleware::from_fn_with_state(
                    policy,
                    headers::console,
                )),
            )
        }
        None => api,
    };
    api.layer(axum::middleware::from_fn(headers::everywhere))
        .with_state(state)
}

/// The span of one HTTP request: its id (see [`app`]), method and path, on every log line the
/// request causes.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path()
    )
}

/// The header carrying a request's id.
const REQUEST_ID: &str = "x-request-id";

async fn unknown_endpoint() -> ApiFailure {
    ApiFailure::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        "no such endpoint",
    )
}

/// Every minute: drops limiter state of addresses, accounts and visitors that have fully
/// recovered; every hour (and at start): purges sessions long expired. Stops with the deployment.
async fn housekeeping(state: AppState) {
    let mut stopping = state.shutdown.clone();
    let mut minutes = 0u64;
    loop {
        if minutes.is_multiple_of(60) {
            let now = state.now_ms();
            match state
                .store
                .write(move |w| w.purge_expired_sessions(now))
                .await
            {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "expired operator sessions purged"),
                Err(e) => tracing::warn!(error = %e, "could not purge expired sessions"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(60)) => {
                state.login.purge();
                state.visitors.purge();
                minutes += 1;
            }
            _ = stopping.changed() => return,
        }
    }
}

/// Serves `app(state)` on `listener` until `shutdown` resolves. Then it tells every WebSocket
/// client to move (`draining`) and closes what is left after a short grace ("going away", so
/// those clients reconnect elsewhere at once), waits for requests in progress, and lets the store
/// commit every write already queued before returning.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sender = state.shutdown_sender.clone();
    let store = state.store.clone();
    let connections = state.connections.clone();
    let puller = tokio::spawn(replication::puller::run(state.clone()));
    tokio::spawn(replication::rebuild::run(state.clone()));
    tokio::spawn(housekeeping(state.clone()));
    // Mail not sent before a shutdown stays queued and goes after the next start.
    tokio::spawn(mail::run(state.clone()));
    tokio::spawn(routing::run(state.clone()));
    tokio::spawn(backup::schedule::run(state.clone()));
    // The client's address reaches handlers (the limits) through `ConnectInfo`; request heads
    // and TLS handshakes have deadlines (`daemon::listen`).
    let tls = state.server_tls.clone();
    let result = daemon::listen::serve(listener, app(state), tls, async move {
        shutdown.await;
        tracing::info!("shutting down: closing connections and flushing writes");
        let _ = sender.send(true);
    })
    .await;
    // WebSockets outlive the HTTP connections they were upgraded from: they are served through
    // their drain grace (clients moving to the peer), so the store stays open until they end.
    let sockets_gone = tokio::time::Instant::now() + ws::DRAIN_GRACE + Duration::from_secs(1);
    while connections.open() > 0 && tokio::time::Instant::now() < sockets_gone {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The puller stops on the same shutdown signal; waiting for it means no batch is half applied
    // when the store shuts down.
    let _ = puller.await;
    tokio::task::spawn_blocking(move || store.shutdown())
        .await
        .ok();
    result
}
