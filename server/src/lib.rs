//! A live chat deployment: the HTTP and WebSocket API, durable storage and the static assets.
//!
//! - [`config`]: defaults, TOML file, environment and flags.
//! - [`store`]: the SQLite database with group commit; [`store::records`] holds all SQL.
//! - [`auth`]: visitor tokens, operator passwords and sessions.
//! - [`hlc`]: the hybrid logical clock stamping every event.
//! - [`hub`]: realtime fan-out of committed changes to open connections.
//! - [`ws`]: the `/v1/ws` endpoint (socket loop and per-frame session logic).
//! - [`http`]: login, logout, inbox, messages and `/health`.
//! - [`replication`]: the link to the peer deployment, both directions, and its status.
//! - [`role`]: the moderator's decision as this deployment knows it, and redirects of clients.
//! - [`assets`]: the widget, console, loader and demo page.
//! - [`sync_check`]: compares two deployments' databases (`server check-sync`).
//! - [`error`]: how failures reach clients.
//!
//! [`app`] builds the router from an [`AppState`]; [`serve`] runs it on a listener until a shutdown
//! future resolves, then closes every WebSocket and flushes pending writes before returning.

pub mod assets;
pub mod auth;
pub mod config;
pub mod error;
pub mod hlc;
pub mod http;
pub mod hub;
pub mod replication;
pub mod role;
pub mod store;
pub mod sync_check;
pub mod ws;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::any;
use axum::Router;
use config::Config;
use error::ApiFailure;
use protocol::ErrorCode;
use std::future::Future;
use std::sync::Arc;
use store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// What every request handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Signs and checks visitor tokens.
    pub signer: auth::TokenSigner,
    /// Fan-out of committed changes to open WebSockets.
    pub hub: hub::Hub,
    /// The configuration the deployment started with.
    pub config: Arc<Config>,
    /// What the replication link knows (peer, progress), for status reports.
    pub link: Arc<replication::LinkState>,
    /// The newest decision of the moderator (which deployment is active).
    pub role: role::Role,
    /// Turns true when the deployment is shutting down; open WebSockets close on it.
    pub shutdown: watch::Receiver<bool>,
    /// The sending half of `shutdown`.
    shutdown_sender: Arc<watch::Sender<bool>>,
}

/// Why a deployment could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened or migrated.
    #[error("cannot open the database: {0}")]
    Store(#[from] store::StoreError),
    /// The token secret could not be read or created.
    #[error("cannot read or create the token secret: {0}")]
    Secret(#[from] std::io::Error),
}

impl AppState {
    /// Opens the database in the configured data directory and prepares everything else.
    pub fn open(config: Config) -> Result<AppState, StartError> {
        let store = config.open_store()?;
        let secret = config.resolve_secret()?;
        let (shutdown_sender, shutdown) = watch::channel(false);
        Ok(AppState {
            store,
            signer: auth::TokenSigner::new(secret.as_bytes()),
            hub: hub::Hub::default(),
            config: Arc::new(config),
            link: Arc::default(),
            role: role::Role::default(),
            shutdown,
            shutdown_sender: Arc::new(shutdown_sender),
        })
    }
}

/// The whole HTTP surface of a deployment.
pub fn app(state: AppState) -> Router {
    let api = http::router()
        .merge(ws::router())
        .merge(replication::router())
        .merge(role::router())
        .route("/v1/{*rest}", any(unknown_endpoint))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(tower_http::trace::TraceLayer::new_for_http());
    let api = match &state.config.assets_dir {
        Some(dir) => api.merge(assets::router(dir)),
        None => api,
    };
    api.with_state(state)
}

async fn unknown_endpoint() -> ApiFailure {
    ApiFailure::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        "no such endpoint",
    )
}

/// Serves `app(state)` on `listener` until `shutdown` resolves. Then it closes every WebSocket
/// ("going away", so clients reconnect elsewhere at once), waits for requests in progress, and lets
/// the store commit every write already queued before returning.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sender = state.shutdown_sender.clone();
    let store = state.store.clone();
    let puller = tokio::spawn(replication::puller::run(state.clone()));
    let result = axum::serve(listener, app(state))
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: closing connections and flushing writes");
            let _ = sender.send(true);
        })
        .await;
    // The puller stops on the same shutdown signal; waiting for it means no batch is half applied
    // when the store shuts down.
    let _ = puller.await;
    tokio::task::spawn_blocking(move || store.shutdown())
        .await
        .ok();
    result
}
