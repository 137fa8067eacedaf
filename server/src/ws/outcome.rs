//! What the socket loop does after one frame: the replies to send and whether to close.

use crate::error::Refusal;
use protocol::{ErrorCode, ServerFrame};

/// What the socket loop must do after a frame: send these replies, then maybe close.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Frames to send back, in order.
    pub replies: Vec<ServerFrame>,
    /// Close the connection after sending them, with this reason (a failed `hello`, a flood).
    pub close: Option<&'static str>,
}

impl Outcome {
    pub(super) fn reply(frame: ServerFrame) -> Self {
        Self {
            replies: vec![frame],
            close: None,
        }
    }

    pub(super) fn refuse(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::reply(ServerFrame::error(code, message))
    }

    pub(super) fn refused(refusal: Refusal) -> Self {
        Self::reply(refusal.frame())
    }

    pub(super) fn refuse_and_close(refusal: Refusal) -> Self {
        Self {
            replies: vec![refusal.frame()],
            close: Some("hello failed"),
        }
    }

    /// A refusal for sending too much, then a close: the client reconnects after its back-off
    /// and sends again what its outbox holds.
    pub(super) fn flood(frame: ServerFrame, reason: &'static str) -> Self {
        Self {
            replies: vec![frame],
            close: Some(reason),
        }
    }
}
