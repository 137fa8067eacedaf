//! Limits on every door, each defending one resource, all with `governor`'s GCRA limiters (a
//! maintained crate, no hand-written token buckets) or plain counters:
//!
//! - [`login`]: login attempts per address and per account, and the password checkers' own pool;
//! - [`visitors`]: new visitors per address and new conversations per visitor, the two records a
//!   stranger can make the deployment write (and replicate);
//! - [`connections`]: WebSockets per address and in total;
//! - [`per_connection`]: messages and typing notices on one socket, typing coalesced.
//!
//! A refused request stores nothing and says when to retry: HTTP 429 with `Retry-After`, or an
//! `error` frame with `too_many_requests` (and for a flood, a close with the reason).

pub mod connections;
pub mod login;
pub mod per_connection;
pub mod visitors;

pub use connections::{ConnectionGuard, Connections};
pub use login::{LoginGuard, Throttled};
pub use per_connection::ConnectionLimits;
pub use visitors::VisitorLimits;

use governor::Quota;
use std::num::NonZeroU32;
use std::time::Duration;

/// Whole seconds to wait, at least one (for `Retry-After`).
pub fn retry_after_secs(wait: &Duration) -> u64 {
    (wait.as_millis().div_ceil(1000) as u64).max(1)
}

/// A burst of `n`, then one every 60/n seconds. Zero is taken as one (configuration refuses it).
pub fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

/// A burst of `n`, then one every 3600/n seconds.
pub fn per_hour(n: u32) -> Quota {
    Quota::per_hour(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}
