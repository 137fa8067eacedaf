//! What the moderator publishes: which deployment is active, under which epoch.
//!
//! The same [`ActiveDeployment`] body is served by the moderator on [`ACTIVE_PATH`] (for widgets and
//! consoles) and pushed by it to each deployment on [`ROLE_PATH`], so that a deployment which is not
//! active can tell its clients where to go ([`crate::ServerFrame::Redirect`]).

use serde::{Deserialize, Serialize};

/// `GET` on the moderator: the current [`ActiveDeployment`].
pub const ACTIVE_PATH: &str = "/v1/active";

/// `POST` on a deployment, by the moderator only (bearer: the moderator secret): an
/// [`ActiveDeployment`] to adopt if its epoch is newer than the one the deployment knows.
pub const ROLE_PATH: &str = "/v1/role";

/// Which of the pair a deployment is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentRole {
    /// Active whenever it is healthy and holds all data.
    Primary,
    /// Active while the primary cannot be.
    Redundant,
}

/// One deployment as the moderator knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentInfo {
    /// Its name, the same as the deployment's own `deployment` setting (`primary`, `redundant`).
    pub id: String,
    /// Its public base URL, for example `https://chat-a.example.com`.
    pub url: String,
    /// Whether it is the primary or the redundant deployment.
    pub role: DeploymentRole,
}

/// The largest epoch a decision may carry: 2^53, the largest integer a browser reads exactly.
/// Deployments refuse, and the moderator ignores, anything larger, so a broken or hostile value
/// cannot wrap the count or stop it at its end.
pub const MAX_EPOCH: u64 = 1 << 53;

/// The moderator's decision, as published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveDeployment {
    /// Increments with every decision; anything carrying an older epoch is stale.
    pub epoch: u64,
    /// The active deployment's id.
    pub active: String,
    /// The active deployment's base URL.
    pub url: String,
    /// True while an admin has pinned the active deployment (planned downtime).
    pub pinned: bool,
    /// Both deployments.
    pub deployments: Vec<DeploymentInfo>,
}

impl ActiveDeployment {
    /// The deployment named `id`, if the decision knows it.
    pub fn deployment(&self, id: &str) -> Option<&DeploymentInfo> {
        self.deployments.iter().find(|d| d.id == id)
    }
}

/// What a deployment answers to a pushed decision, and reports in its `/health`: the newest
/// decision it knows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownRole {
    /// The epoch of the newest decision the deployment has received (0: none since it started).
    pub epoch: u64,
    /// The active deployment's id under that decision, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<String>,
}
