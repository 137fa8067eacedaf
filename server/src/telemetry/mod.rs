//! What a deployment counts for Prometheus, and `GET /metrics`. The names live here, in one
//! place, so `docs/monitoring.md` and the alerts built on it have one list to follow. Counters and
//! histograms are recorded where things happen (through the `metrics` facade, whose recorder
//! `daemon::metrics` installs); the gauges that describe a state (the replication backlog, the
//! backup's age) are read from that state when a scrape asks, so they are never stale.

pub mod route;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use protocol::{ErrorCode, ServerFrame};
use std::time::Duration;

pub const CONNECTIONS: &str = "livechat_connections";
pub const MESSAGES_ACKNOWLEDGED: &str = "livechat_messages_acknowledged_total";
pub const MESSAGES_DELIVERED: &str = "livechat_messages_delivered_total";
pub const ACK_SECONDS: &str = "livechat_ack_seconds";
pub const COMMIT_SIZE: &str = "livechat_group_commit_size";
pub const COMMIT_SECONDS: &str = "livechat_group_commit_seconds";
pub const RATE_LIMITED: &str = "livechat_rate_limited_total";
pub const DECISIONS: &str = "livechat_decisions_adopted_total";
pub const EPOCH: &str = "livechat_decision_epoch";
pub const PEER_REACHABLE: &str = "livechat_replication_peer_reachable";
pub const BACKLOG: &str = "livechat_replication_backlog_events";
pub const LAG: &str = "livechat_replication_lag_seconds";
pub const QUARANTINED: &str = "livechat_replication_quarantined_events";
pub const REBUILDING: &str = "livechat_rebuilding";
pub const BACKUP_AGE: &str = "livechat_backup_age_seconds";
pub const PROBLEMS: &str = "livechat_config_problems";

/// Says what each series means, for the `# HELP` lines; once, at start.
pub fn describe() {
    describe_gauge!(
        CONNECTIONS,
        "Open WebSocket connections past hello, by role"
    );
    describe_counter!(
        MESSAGES_ACKNOWLEDGED,
        "Messages acknowledged to their sender as durable here"
    );
    describe_counter!(
        MESSAGES_DELIVERED,
        "Messages sent to a connection other than their sender's"
    );
    describe_histogram!(
        ACK_SECONDS,
        "From a message frame's arrival to its durable acknowledgement"
    );
    describe_histogram!(COMMIT_SIZE, "Write jobs in one group commit");
    describe_histogram!(COMMIT_SECONDS, "One group commit, begin to fsync'd commit");
    describe_counter!(
        RATE_LIMITED,
        "Requests and frames refused by a limit, by surface"
    );
    describe_counter!(DECISIONS, "Moderator decisions adopted (newer epochs)");
    describe_gauge!(
        EPOCH,
        "The epoch of the moderator decision this deployment follows"
    );
    describe_gauge!(
        PEER_REACHABLE,
        "1 while the pull link to the peer is connected"
    );
    describe_gauge!(
        BACKLOG,
        "Events not yet applied on the other side, by direction"
    );
    describe_gauge!(LAG, "Age of the oldest event not yet applied, by direction");
    describe_gauge!(
        QUARANTINED,
        "Events from the peer set aside instead of applied"
    );
    describe_gauge!(
        REBUILDING,
        "1 while taking our own events back from the peer"
    );
    describe_gauge!(
        BACKUP_AGE,
        "Seconds since the last successful scheduled backup (absent before the first)"
    );
    describe_gauge!(
        PROBLEMS,
        "Misconfigurations found (see the detailed /health)"
    );
}

/// Counts what a frame sent on a socket stands for.
pub fn frame_sent(frame: &ServerFrame) {
    match frame {
        ServerFrame::Ack { .. } => counter!(MESSAGES_ACKNOWLEDGED).increment(1),
        ServerFrame::Message { .. } => counter!(MESSAGES_DELIVERED).increment(1),
        ServerFrame::Error {
            code: ErrorCode::TooManyRequests,
            ..
        } => rate_limited("websocket"),
        _ => {}
    }
}

/// Counts one refusal by a limit on `surface` (`http` or `websocket`).
pub fn rate_limited(surface: &'static str) {
    counter!(RATE_LIMITED, "surface" => surface).increment(1);
}

/// How long one acknowledged message took, arrival to durable answer.
pub fn acknowledged_after(took: Duration) {
    histogram!(ACK_SECONDS).record(took.as_secs_f64());
}

/// One group commit of `jobs` jobs that took `took`.
pub fn committed(jobs: usize, took: Duration) {
    histogram!(COMMIT_SIZE).record(jobs as f64);
    histogram!(COMMIT_SECONDS).record(took.as_secs_f64());
}

/// A connection counted by role once its role is known, until it is dropped.
#[derive(Default)]
pub struct Connected(Option<&'static str>);

impl Connected {
    /// Counts the connection as one of `role` (once; a second call changes nothing).
    pub fn counted_as(&mut self, role: &'static str) {
        if self.0.is_none() {
            gauge!(CONNECTIONS, "role" => role).increment(1.0);
            self.0 = Some(role);
        }
    }
}

impl Drop for Connected {
    fn drop(&mut self) {
        if let Some(role) = self.0 {
            gauge!(CONNECTIONS, "role" => role).decrement(1.0);
        }
    }
}
