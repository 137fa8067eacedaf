//! What one socket may send: messages and typing notices at a human pace.
//!
//! Typing notices are coalesced first: a notice that repeats the last one forwarded for the same
//! conversation (still typing) within [`TYPING_REPEAT`] is dropped without a read or a broadcast,
//! since it tells nobody anything. What is left is limited like messages; an excess typing notice
//! is dropped quietly (it is not worth an error), an excess message is refused with
//! `too_many_requests` and the connection closed, and the client's outbox sends it again after
//! reconnecting.

use super::per_minute;
use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, RateLimiter};
use protocol::ConversationId;
use std::time::{Duration, Instant};

/// A repeated "still typing" for the same conversation within this time is dropped.
pub const TYPING_REPEAT: Duration = Duration::from_secs(2);

/// One connection's limits. Small: every idle connection holds one.
pub struct ConnectionLimits {
    messages: DefaultDirectRateLimiter,
    typing: DefaultDirectRateLimiter,
    /// The last typing notice forwarded: conversation, value and when.
    last_typing: Option<(ConversationId, bool, Instant)>,
}

/// What to do with a typing notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypingVerdict {
    /// Forward it.
    Forward,
    /// Drop it: a repeat, or over the limit.
    Drop,
}

impl ConnectionLimits {
    /// `messages` and `typing` per minute (bursts of as many).
    pub fn new(messages: u32, typing: u32) -> Self {
        Self {
            messages: RateLimiter::direct(per_minute(messages)),
            typing: RateLimiter::direct(per_minute(typing)),
            last_typing: None,
        }
    }

    /// Admits one message, or says how long to wait.
    pub fn message(&self) -> Result<(), Duration> {
        // The limiter's own clock, and only when refusing: making a clock (`DefaultClock::default`)
        // calibrates it, which cost every message about a tenth of the deployment's time.
        self.messages
            .check()
            .map_err(|until| until.wait_time_from(self.messages.clock().now()))
    }

    /// Whether to forward a typing notice for `conversation`.
    pub fn typing(&mut self, conversation: ConversationId, typing: bool) -> TypingVerdict {
        let now = Instant::now();
        let repeat = self.last_typing.is_some_and(|(c, t, at)| {
            c == conversation && t == typing && typing && now.duration_since(at) < TYPING_REPEAT
        });
        if repeat || self.typing.check().is_err() {
            return TypingVerdict::Drop;
        }
        self.last_typing = Some((conversation, typing, now));
        TypingVerdict::Forward
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_typing_is_coalesced_and_changes_pass() {
        let mut limits = ConnectionLimits::new(10, 100);
        let c = ConversationId(uuid::Uuid::now_v7());
        assert_eq!(limits.typing(c, true), TypingVerdict::Forward);
        assert_eq!(limits.typing(c, true), TypingVerdict::Drop);
        assert_eq!(limits.typing(c, false), TypingVerdict::Forward);
        assert_eq!(
            limits.typing(c, false),
            TypingVerdict::Forward,
            "a stop is never coalesced"
        );
        let other = ConversationId(uuid::Uuid::now_v7());
        assert_eq!(limits.typing(c, true), TypingVerdict::Forward);
        assert_eq!(limits.typing(other, true), TypingVerdict::Forward);
    }

    #[test]
    fn messages_beyond_the_burst_wait() {
        let limits = ConnectionLimits::new(3, 3);
        for _ in 0..3 {
            assert!(limits.message().is_ok());
        }
        let wait = limits.message().unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
    }
}
