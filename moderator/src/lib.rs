//! The moderator: it watches the primary and the redundant deployment and tells everyone which one
//! is active.
//!
//! - [`decision`]: the decision as a sans-IO state machine. It does no IO and reads no clock: health
//!   probe results and the time come in, decisions (with an epoch and a reason) come out.
//! - [`log`]: the decision log on disk, so a restarted moderator resumes at the same epoch.
//! - [`config`]: defaults, TOML file, environment and flags.
//! - [`service`]: the driver: probes both deployments on a timer, feeds the decider, logs and
//!   publishes its decisions, pushes them to the deployments, and runs admin commands.
//! - [`problems`]: configuration mistakes seen in the probes, for the status page.
//! - [`api`]: the HTTP surface: `/v1/active`, `/v1/status`, the status page and the admin API.

pub mod api;
pub mod config;
pub mod decision;
pub mod error;
pub mod log;
pub mod problems;
pub mod service;
pub mod telemetry;

pub use decision::{Decider, Decision, Deployment, Probe, Reason, Thresholds};
