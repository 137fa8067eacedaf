//! What the moderator counts for Prometheus, and `GET /metrics` (open, like `/v1/status`: it says
//! nothing the status page does not). The series an operations team alerts on: whether each
//! deployment is up and which is active, the decisions and failovers, how long probes take.

use crate::decision::{Decision, Reason};
use axum::http::header;
use axum::response::IntoResponse;
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use std::time::Duration;

pub const DECISIONS: &str = "moderator_decisions_total";
pub const FAILOVERS: &str = "moderator_failovers_total";
pub const EPOCH: &str = "moderator_epoch";
pub const UP: &str = "moderator_deployment_up";
pub const ACTIVE: &str = "moderator_deployment_active";
pub const PROBE_SECONDS: &str = "moderator_probe_seconds";
pub const PROBLEMS: &str = "moderator_config_problems";

/// Says what each series means, for the `# HELP` lines; once, at start.
pub fn describe() {
    describe_counter!(
        DECISIONS,
        "Decisions written to the decision log, by reason"
    );
    describe_counter!(
        FAILOVERS,
        "Automatic switches because the active deployment went down"
    );
    describe_gauge!(EPOCH, "The epoch of the decision in force");
    describe_gauge!(UP, "1 while the moderator counts the deployment as up");
    describe_gauge!(ACTIVE, "1 for the deployment clients are sent to");
    describe_histogram!(PROBE_SECONDS, "One health probe, by deployment");
    describe_gauge!(PROBLEMS, "Misconfigurations shown on the status page");
}

/// A decision just written to the log.
pub fn decided(decision: &Decision) {
    let reason = match decision.reason {
        Reason::Initial => "initial",
        Reason::PrimaryDown => "primary_down",
        Reason::RedundantDown => "redundant_down",
        Reason::Failback => "failback",
        Reason::Pinned => "pinned",
        Reason::Released => "released",
        Reason::EpochResync => "epoch_resync",
    };
    counter!(DECISIONS, "reason" => reason).increment(1);
    if matches!(decision.reason, Reason::PrimaryDown | Reason::RedundantDown) {
        counter!(FAILOVERS).increment(1);
    }
    gauge!(EPOCH).set(decision.epoch as f64);
}

/// One probe of `deployment` that took `took`.
pub fn probed(deployment: &str, took: Duration) {
    histogram!(PROBE_SECONDS, "deployment" => deployment.to_owned()).record(took.as_secs_f64());
}

/// What the moderator believes of `deployment` now.
pub fn deployment_state(deployment: &str, up: bool, active: bool) {
    gauge!(UP, "deployment" => deployment.to_owned()).set(f64::from(u8::from(up)));
    gauge!(ACTIVE, "deployment" => deployment.to_owned()).set(f64::from(u8::from(active)));
}

/// How many misconfigurations the status page shows.
pub fn problems(count: usize) {
    gauge!(PROBLEMS).set(count as f64);
}

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "moderator", summary = "Metrics",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
pub async fn scrape() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        daemon::metrics::render(),
    )
}
