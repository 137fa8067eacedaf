//! What the two halves of replication know of the link, shared through [`AppState`]: the peer,
//! progress in both directions, and how far the peer has confirmed our log.
//!
//! [`AppState`]: crate::state::AppState

use std::sync::Mutex;
use tokio::sync::watch;

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
pub(super) struct LinkInner {
    /// The peer's name, learned from its greeting.
    pub(super) peer: Option<String>,
    /// Whether our pull link is connected.
    pub(super) pull_connected: bool,
    /// The peer's newest sequence number, from its last batch.
    pub(super) peer_head: u64,
    /// Whether a batch arrived since the pull link last connected, so `peer_head` is current.
    pub(super) head_known: bool,
    /// How far into the peer's log we have applied.
    pub(super) applied_from_peer: u64,
    /// How far into our log the peer has confirmed.
    pub(super) peer_applied: u64,
    /// The clock value of the oldest peer event we were sent and have not applied yet.
    pub(super) inbound_oldest_hlc: Option<u64>,
    /// Whether we are still taking back our own events from the peer (see `store::rebuild`).
    pub(super) rebuilding: bool,
}

impl LinkState {
    /// How far into our log the peer has confirmed applying; changes as confirmations arrive.
    pub fn confirmed(&self) -> watch::Receiver<u64> {
        self.confirmed.subscribe()
    }

    /// Records a confirmation from the peer.
    pub(super) fn peer_confirmed(&self, seq: u64) {
        self.update(|l| l.peer_applied = l.peer_applied.max(seq));
        self.confirmed.send_if_modified(|current| {
            let advanced = seq > *current;
            *current = (*current).max(seq);
            advanced
        });
    }

    pub(super) fn update(&self, f: impl FnOnce(&mut LinkInner)) {
        f(&mut self.inner.lock().expect("link state lock"));
    }

    pub(super) fn snapshot(&self) -> LinkInner {
        self.inner.lock().expect("link state lock").clone()
    }
}
