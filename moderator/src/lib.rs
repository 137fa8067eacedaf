//! The moderator: it watches the primary and the redundant deployment and tells everyone which one
//! is active.
//!
//! - [`decision`]: the decision as a sans-IO state machine. It does no IO and reads no clock: health
//!   probe results and the time come in, decisions (with an epoch and a reason) come out. The
//!   health checker, the decision log on disk, the admin API and the publishing to deployments are
//!   thin drivers around it (a later part of the moderator issue).

pub mod decision;

pub use decision::{Decider, Decision, Deployment, Probe, Reason, Thresholds};
