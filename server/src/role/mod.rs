//! What this deployment knows of the moderator's decision, and `POST /v1/role`, by which the
//! moderator pushes it.
//!
//! The role is a hint, never a gate: a deployment serves every client whatever it was told. When
//! the newest decision names the other deployment, each connected client is sent a
//! [`ServerFrame::Redirect`] (on connection and whenever the decision changes), which is how
//! failback and planned failover move clients without waiting for them to ask the moderator.
//!
//! The decision is kept on disk too (`meta`, written before the push is answered): a restarted
//! deployment starts from the last decision it knew and redirects its clients at once, instead of
//! serving as if active until the moderator pushes again. A newer decision replaces it as usual.

pub mod route;

use protocol::moderation::{ActiveDeployment, KnownRole};
use protocol::ServerFrame;
use std::sync::Arc;
use tokio::sync::watch;

/// The newest decision received, shared by the HTTP handler and every socket.
#[derive(Clone)]
pub struct Role {
    decision: Arc<watch::Sender<Option<ActiveDeployment>>>,
}

impl Default for Role {
    fn default() -> Self {
        Self {
            decision: Arc::new(watch::channel(None).0),
        }
    }
}

impl Role {
    /// Starts from the decision kept on disk before a restart, if any.
    pub fn remembered(decision: Option<ActiveDeployment>) -> Self {
        Self {
            decision: Arc::new(watch::channel(decision).0),
        }
    }

    /// Adopts `decision` if it is newer than the one known; returns whether it was adopted.
    pub fn adopt(&self, decision: ActiveDeployment) -> bool {
        self.decision.send_if_modified(|known| {
            let newer = known.as_ref().is_none_or(|k| decision.epoch > k.epoch);
            if newer {
                metrics::counter!(crate::telemetry::DECISIONS).increment(1);
                *known = Some(decision);
            }
            newer
        })
    }

    /// What `/health` and the moderator are told.
    pub fn known(&self) -> KnownRole {
        match &*self.decision.borrow() {
            Some(d) => KnownRole {
                epoch: d.epoch,
                active: Some(d.active.clone()),
            },
            None => KnownRole {
                epoch: 0,
                active: None,
            },
        }
    }

    /// Changes whenever a newer decision is adopted.
    pub fn subscribe(&self) -> watch::Receiver<Option<ActiveDeployment>> {
        self.decision.subscribe()
    }
}

/// The redirect a client of deployment `me` should get under `decision`: `None` while `me` is
/// active or no decision is known.
pub fn redirect_for(decision: Option<&ActiveDeployment>, me: &str) -> Option<ServerFrame> {
    let decision = decision?;
    (decision.active != me).then(|| ServerFrame::Redirect {
        epoch: decision.epoch,
        deployment: decision.active.clone(),
        url: decision.url.clone(),
    })
}
