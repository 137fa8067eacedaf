//! Replication between the two deployments: each one serves its own event log to the peer
//! ([`source`]) and pulls the peer's log into its own database ([`puller`]). Both directions run at
//! all times, so both deployments accept writes and converge (see `store::changes` for the merge
//! rules).
//!
//! The link is a WebSocket on `/v1/replication`, authenticated with the shared replication secret.
//! Events are pushed as soon as they are committed (the source waits on the store's head), applied
//! by the puller in one transaction together with its cursor, and confirmed with `applied`.

pub mod puller;
pub mod source;

use crate::AppState;
use axum::routing::get;
use axum::{Json, Router};
use protocol::replication::{hlc_wall_ms, ReplicationStatus};
use std::sync::Mutex;
use tokio::sync::watch;

/// The replication routes: the link itself and its status.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            protocol::replication::REPLICATION_PATH,
            get(source::upgrade),
        )
        .route("/v1/replication/status", get(status))
}

/// What the two halves of replication know, for `/v1/replication/status` and `/health`, and how
/// far the peer has confirmed our log (WebSocket sessions wait on it to tell senders that their
/// messages are on both deployments).
pub struct LinkState {
    inner: Mutex<LinkInner>,
    confirmed: watch::Sender<u64>,
}

impl Default for LinkState {
    fn default() -> Self {
        Self {
            inner: Mutex::default(),
            confirmed: watch::channel(0).0,
        }
    }
}

#[derive(Default, Clone)]
struct LinkInner {
    /// The peer's name, learned from its greeting.
    peer: Option<String>,
    /// Whether our pull link is connected.
    pull_connected: bool,
    /// The peer's newest sequence number, from its last batch.
    peer_head: u64,
    /// How far into the peer's log we have applied.
    applied_from_peer: u64,
    /// How far into our log the peer has confirmed.
    peer_applied: u64,
    /// The clock value of the oldest peer event we were sent and have not applied yet.
    inbound_oldest_hlc: Option<u64>,
}

impl LinkState {
    /// How far into our log the peer has confirmed applying; changes as confirmations arrive.
    pub fn confirmed(&self) -> watch::Receiver<u64> {
        self.confirmed.subscribe()
    }

    /// Records a confirmation from the peer.
    fn peer_confirmed(&self, seq: u64) {
        self.update(|l| l.peer_applied = l.peer_applied.max(seq));
        self.confirmed.send_if_modified(|current| {
            let advanced = seq > *current;
            *current = (*current).max(seq);
            advanced
        });
    }

    fn update(&self, f: impl FnOnce(&mut LinkInner)) {
        f(&mut self.inner.lock().expect("link state lock"));
    }

    fn snapshot(&self) -> LinkInner {
        self.inner.lock().expect("link state lock").clone()
    }
}

/// Builds the status report.
pub async fn report(state: &AppState) -> ReplicationStatus {
    let link = state.link.snapshot();
    let local_head = *state.store.head().borrow();
    let origin = state.store.origin().to_owned();
    let peer_applied = link.peer_applied;
    let oldest_unconfirmed = state
        .store
        .read(move |conn| {
            Ok(
                crate::store::events::local_after(conn, &origin, peer_applied, 1)?
                    .first()
                    .map(|e| e.hlc),
            )
        })
        .await
        .ok()
        .flatten();
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
    }
}

async fn status(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Json<ReplicationStatus> {
    Json(report(&state).await)
}
