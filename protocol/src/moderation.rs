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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentRole {
    /// Active whenever it is healthy and holds all data.
    Primary,
    /// Active while the primary cannot be.
    Redundant,
}

/// One deployment as the moderator knows it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownRole {
    /// The epoch of the newest decision the deployment has received (0: none since it started).
    pub epoch: u64,
    /// The active deployment's id under that decision, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<String>,
}

/// What the admin's failover panel shows (`GET /v1/admin/failover` on a deployment, which asks
/// the moderator): the decision in force and why, both deployments' health and replication lag,
/// and the recent decisions. Read from the moderator's `/v1/status`, whose other fields it
/// ignores.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailoverStatus {
    /// The decision in force.
    pub active: ActiveDeployment,
    /// Why it was taken (`primary_down`, `pinned`, …).
    pub reason: String,
    /// When (ms since the Unix epoch).
    pub decided_at_ms: u64,
    /// Both deployments, primary first.
    pub deployments: Vec<DeploymentHealth>,
    /// The latest decisions, oldest first.
    pub recent_decisions: Vec<PastDecision>,
}

/// One deployment in [`FailoverStatus`].
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentHealth {
    /// Its id.
    pub id: String,
    /// Its base URL.
    pub url: String,
    /// Primary or redundant.
    pub role: DeploymentRole,
    /// Whether the moderator counts it as up.
    pub up: bool,
    /// Whether it is the active one.
    pub active: bool,
    /// Its last probe, once there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_probe: Option<ProbeSummary>,
}

/// A deployment's last health probe, as far as the panel needs it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeSummary {
    /// When it was taken (ms since the Unix epoch).
    pub at_ms: u64,
    /// Whether it answered healthy.
    pub healthy: bool,
    /// Why it failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Its replication report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<crate::replication::ReplicationStatus>,
}

impl DeploymentHealth {
    /// The replication lag it reports: the older of what it has not sent and not received.
    pub fn lag_ms(&self) -> Option<u64> {
        let replication = self.last_probe.as_ref()?.replication.as_ref()?;
        Some(replication.outbound_lag_ms.max(replication.inbound_lag_ms))
    }
}

/// One past decision in [`FailoverStatus`].
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastDecision {
    /// Its epoch.
    pub epoch: u64,
    /// The deployment it made active (`primary` or `redundant`).
    pub active: String,
    /// Why.
    pub reason: String,
    /// When, on the moderator's clock (ms).
    pub at_ms: u64,
}

/// `POST /v1/admin/failover` on a deployment (and on the moderator): make `to` active until
/// released.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailoverRequest {
    /// `primary`, `redundant`, or a deployment's id.
    pub to: String,
}
