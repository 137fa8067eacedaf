//! The records a stranger can make a deployment write: a visitor (each `hello` without a token is
//! a durable write and a replicated event) and a conversation (each `send` naming a conversation
//! that does not exist yet opens one, and it lands in every operator's inbox). Both are limited
//! where they come from: new visitors per client address, new conversations per visitor.

use super::{per_hour, per_minute};
use crate::config::Config;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, RateLimiter};
use protocol::VisitorId;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// The limits on new visitors and new conversations. Shared by every connection.
pub struct VisitorLimits {
    /// New visitors per client address (`None`, no address known, is one key).
    new_visitors: DefaultKeyedRateLimiter<IpAddr>,
    /// New conversations per visitor.
    new_conversations: DefaultKeyedRateLimiter<VisitorId>,
    /// File uploads per client address (each is up to `max_file_bytes` on disk, twice).
    uploads: DefaultKeyedRateLimiter<IpAddr>,
}

impl VisitorLimits {
    /// The limits as configured.
    pub fn new(config: &Config) -> Self {
        Self {
            new_visitors: RateLimiter::keyed(per_minute(
                config.new_visitors_per_minute_per_address,
            )),
            new_conversations: RateLimiter::keyed(per_hour(
                config.new_conversations_per_hour_per_visitor,
            )),
            uploads: RateLimiter::keyed(per_minute(config.uploads_per_minute_per_address)),
        }
    }

    /// Admits one new visitor from `address`, or says how long to wait.
    pub fn new_visitor(&self, address: Option<IpAddr>) -> Result<(), Duration> {
        // The limiter's own clock, read only when refusing (making a clock calibrates it).
        self.new_visitors
            .check_key(&address.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
            .map_err(|until| until.wait_time_from(self.new_visitors.clock().now()))
    }

    /// Admits one new conversation of `visitor`, or says how long to wait.
    pub fn new_conversation(&self, visitor: VisitorId) -> Result<(), Duration> {
        self.new_conversations
            .check_key(&visitor)
            .map_err(|until| until.wait_time_from(self.new_conversations.clock().now()))
    }

    /// Admits one file upload from `address`, or says how long to wait.
    pub fn upload(&self, address: Option<IpAddr>) -> Result<(), Duration> {
        self.uploads
            .check_key(&address.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
            .map_err(|until| until.wait_time_from(self.uploads.clock().now()))
    }

    /// Forgets the state of keys that have fully recovered.
    pub fn purge(&self) {
        self.new_visitors.retain_recent();
        self.new_conversations.retain_recent();
        self.uploads.retain_recent();
    }
}
