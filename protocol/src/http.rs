//! Bodies of the HTTP endpoints under `/v1`.

use crate::model::{ErrorCode, OperatorProfile};
use serde::{Deserialize, Serialize};

/// `POST /v1/operators/login`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    /// The operator's e-mail address.
    pub email: String,
    /// The operator's password.
    pub password: String,
}

/// The answer to a successful login.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginResponse {
    /// The session token, sent as `Authorization: Bearer` and in the console's `hello`.
    pub token: String,
    /// Who logged in.
    pub operator: OperatorProfile,
}

/// The body of every 4xx and 5xx answer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// What went wrong, for the client to branch on.
    pub error: ErrorCode,
    /// A human-readable explanation.
    pub message: String,
    /// The request field the explanation is about, when it is about one (the console shows it
    /// next to that field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// `GET /v1/client-config`: where the deployments and the moderator are, for the console (which
/// is served by one deployment and must be able to continue on the other).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientConfig {
    /// Both deployments' public base URLs, primary first; empty when not configured (the console
    /// then talks to the deployment that served it only).
    pub deployments: Vec<String>,
    /// The moderator's public base URL, if configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moderator: Option<String>,
}

/// `GET /health`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    /// True when the database accepted a durable write just now.
    pub ok: bool,
    /// The protocol version this deployment speaks.
    pub protocol: u32,
    /// What failed, when `ok` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The state of replication with the peer deployment (the moderator's failback reads it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<crate::replication::ReplicationStatus>,
    /// The newest moderator decision this deployment knows; the moderator pushes its decision again
    /// when this is older.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<crate::moderation::KnownRole>,
    /// The scheduled backups (absent when none are configured, and for callers without the
    /// operations secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupReport>,
    /// Configuration mistakes this deployment has noticed (for callers with the operations
    /// secret); none while the pair is set up right.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<ConfigProblem>,
}

/// A configuration mistake a deployment or the moderator noticed, with what to change.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigProblem {
    /// A stable name for the kind of mistake, for tools: `replication_secret_refused`,
    /// `replication_secret_wrong`, `peer_is_self`, `same_name`, `token_secrets_differ`.
    pub code: String,
    /// What is wrong and what to change, in a sentence for people.
    pub message: String,
}

/// How the scheduled backups of a deployment are going.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupReport {
    /// Where they go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// When the newest verified one was taken, in Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_ms: Option<i64>,
    /// Why the latest attempt failed, until one succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}
