//! What can go wrong in the moderator's conversations with the deployments and with its own
//! admin callers: one enum, so callers branch on variants rather than on sentences.

use daemon::http::HttpError;

/// Why a probe, a push or an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum ModeratorError {
    /// The driver loop has stopped; commands can no longer be carried out.
    #[error("the moderator is shutting down")]
    ShuttingDown,
    /// The deployment could not be reached, or did not answer within the deadline.
    #[error(transparent)]
    Unreachable(#[from] HttpError),
    /// The deployment answered with a status other than the one expected.
    #[error("status {status}: {body}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The body, as text.
        body: String,
    },
    /// The deployment's answer is not the JSON expected.
    #[error("status {status}, unreadable answer: {source}")]
    Unreadable {
        /// The HTTP status.
        status: u16,
        /// What the JSON parser said.
        source: serde_json::Error,
    },
}
