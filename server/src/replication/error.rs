//! Why a replication link broke, for both halves: the loops log a variant and reconnect, never
//! assemble sentences to pass around.

use crate::store::StoreError;

/// Why the link to the peer ended. Every variant ends only this connection; the puller
/// reconnects and the source waits for the peer to come back.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Nothing arrived within the silence limit (a frozen peer or a black-holed network).
    #[error("the peer went silent")]
    Silent,
    /// The peer closed the link.
    #[error("the peer closed the link")]
    Closed,
    /// A frame could not be decoded.
    #[error("unreadable frame from the peer: {0}")]
    Unreadable(serde_json::Error),
    /// The peer sent a frame that does not fit this point of the conversation.
    #[error("expected {expected}, got {got}")]
    Unexpected {
        /// What the protocol calls for here.
        expected: &'static str,
        /// What came instead.
        got: String,
    },
    /// The socket failed on the serving side.
    #[error("the socket failed: {0}")]
    Serving(#[from] axum::Error),
    /// The socket failed on the pulling side (connect, handshake, IO).
    #[error("the socket failed: {0}")]
    Pulling(#[from] Box<tokio_tungstenite::tungstenite::Error>),
    /// Connecting took longer than allowed.
    #[error("connecting timed out")]
    ConnectTimeout,
    /// The configured replication secret cannot be sent as a header.
    #[error("the replication secret is not a valid header value")]
    BadSecret,
    /// The peer refused our replication secret.
    #[error("the peer refused our replication secret")]
    SecretRefused,
    /// The pair is set up wrongly (see `crate::problems`); the sentence says what to change.
    #[error("{0}")]
    Misconfigured(String),
    /// Reading or applying events failed.
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
    /// A file a replicated message carries could not be fetched from the peer or stored.
    #[error("a message's file could not be fetched: {0}")]
    File(String),
    /// The store shut down while the link waited for new events.
    #[error("the store closed")]
    StoreClosed,
}

impl From<tokio_tungstenite::tungstenite::Error> for LinkError {
    fn from(error: tokio_tungstenite::tungstenite::Error) -> Self {
        LinkError::Pulling(Box::new(error))
    }
}

impl LinkError {
    /// A frame that does not fit: `expected` at this point, `got` instead.
    pub(super) fn unexpected(expected: &'static str, got: &impl std::fmt::Debug) -> Self {
        LinkError::Unexpected {
            expected,
            got: format!("{got:?}"),
        }
    }
}
