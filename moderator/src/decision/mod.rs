//! Which deployment is active, decided from health probes with hysteresis, gated failback and
//! manual pinning.
//!
//! Use: feed every probe result to [`Decider::handle_probe`], admin commands to [`Decider::pin`]
//! and [`Decider::release`], and call [`Decider::handle_timeout`] when [`Decider::poll_timeout`]
//! says so; after each call, drain [`Decider::poll_decision`] and persist and publish what it
//! yields. Times are milliseconds on any monotonic clock the driver chooses.
//!
//! The rules:
//! - a deployment is *down* after `failures_to_down` consecutive failed probes and *up* again after
//!   `successes_to_up` consecutive good ones (hysteresis: a flapping deployment does not flap the
//!   decision);
//! - the primary is active while it is up; when it is down and the redundant deployment is up, the
//!   redundant one becomes active;
//! - the primary becomes active again only after it has been up for `failback_hold_ms` **and**
//!   reports that it holds everything the redundant deployment wrote meanwhile (`caught_up`);
//! - if the active redundant deployment goes down while the primary is up, the primary becomes
//!   active at once (it is the only one left);
//! - when both are down nothing changes: clients keep the last decision and try the other
//!   deployment themselves;
//! - a manual pin overrides all of this until released.

use serde::{Deserialize, Serialize};

/// One of the two deployments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Deployment {
    /// The primary deployment, active whenever it is healthy and synchronised.
    Primary,
    /// The redundant deployment, active while the primary cannot be.
    Redundant,
}

impl Deployment {
    fn index(self) -> usize {
        match self {
            Deployment::Primary => 0,
            Deployment::Redundant => 1,
        }
    }
}

/// The tuning of the decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Consecutive failed probes before a deployment counts as down.
    pub failures_to_down: u32,
    /// Consecutive good probes before a down deployment counts as up again.
    pub successes_to_up: u32,
    /// How long the primary must have been up (and synchronised) before failback, in ms.
    pub failback_hold_ms: u64,
}

impl Default for Thresholds {
    /// Tuned for fast detection with probes every 250 ms: down within 750 ms, up after 750 ms of
    /// good health, failback after 5 s of continuous health.
    fn default() -> Self {
        Self {
            failures_to_down: 3,
            successes_to_up: 3,
            failback_hold_ms: 5_000,
        }
    }
}

/// The result of one health probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The deployment probed.
    pub deployment: Deployment,
    /// True when it answered healthy in time (its database takes writes).
    pub healthy: bool,
    /// For the primary: true when replication reports it holds everything the redundant
    /// deployment wrote (nothing inbound behind, link up). Ignored for the redundant deployment.
    pub caught_up: bool,
}

/// Why the active deployment changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The moderator started with no decision log: the primary is active.
    Initial,
    /// The primary went down and the redundant deployment is up.
    PrimaryDown,
    /// The active redundant deployment went down and the primary is up.
    RedundantDown,
    /// The primary has been up for the hold time and holds all data again.
    Failback,
    /// An admin pinned a deployment (planned downtime).
    Pinned,
    /// An admin released the pin; the automatic rules apply again.
    Released,
    /// A deployment knew a newer epoch than the moderator (its decision log was lost or
    /// replaced): the decision in force is published again above that epoch, so deployments and
    /// clients, which ignore older epochs, take it.
    EpochResync,
}

/// One entry of the decision log: what is active from `epoch` on, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Decision {
    /// Increments with every decision; clients and deployments ignore older epochs.
    pub epoch: u64,
    /// The active deployment.
    pub active: Deployment,
    /// The pinned deployment after this decision, if any.
    pub pinned: Option<Deployment>,
    /// Why.
    pub reason: Reason,
    /// When, on the driver's clock (ms).
    pub at_ms: u64,
}

/// Consecutive probe results of one deployment.
#[derive(Clone, Copy, Debug)]
struct Health {
    up: bool,
    streak: u32,
    up_since_ms: Option<u64>,
}

/// The decision state machine. See the module documentation for the rules and the call order.
#[derive(Debug)]
pub struct Decider {
    thresholds: Thresholds,
    health: [Health; 2],
    /// Whether the primary's last probe reported it caught up with the redundant deployment.
    primary_caught_up: bool,
    current: Decision,
    pending: Vec<Decision>,
}

impl Decider {
    /// A moderator starting afresh: the primary is active (epoch 1), both deployments are assumed
    /// up until probes say otherwise.
    pub fn new(thresholds: Thresholds, now_ms: u64) -> Self {
        let initial = Decision {
            epoch: 1,
            active: Deployment::Primary,
            pinned: None,
            reason: Reason::Initial,
            at_ms: now_ms,
        };
        let mut decider = Self::restore(thresholds, initial, now_ms);
        decider.pending.push(initial);
        decider
    }

    /// A moderator restarting from the last entry of its decision log: it keeps that decision
    /// (and pin) until probes justify a change.
    pub fn restore(thresholds: Thresholds, last: Decision, now_ms: u64) -> Self {
        let health = Health {
            up: true,
            streak: 0,
            up_since_ms: Some(now_ms),
        };
        Self {
            thresholds,
            health: [health; 2],
            primary_caught_up: false,
            current: last,
            pending: Vec::new(),
        }
    }

    /// The decision in force.
    pub fn current(&self) -> Decision {
        self.current
    }

    /// Whether the moderator currently counts `deployment` as up.
    pub fn is_up(&self, deployment: Deployment) -> bool {
        self.health[deployment.index()].up
    }

    /// Takes a probe result into account.
    pub fn handle_probe(&mut self, probe: Probe, now_ms: u64) {
        let t = self.thresholds;
        let health = &mut self.health[probe.deployment.index()];
        if probe.healthy == health.up {
            health.streak = 0;
        } else {
            health.streak += 1;
            let needed = if health.up {
                t.failures_to_down
            } else {
                t.successes_to_up
            };
            if health.streak >= needed {
                health.up = probe.healthy;
                health.streak = 0;
                health.up_since_ms = probe.healthy.then_some(now_ms);
            }
        }
        if probe.deployment == Deployment::Primary {
            self.primary_caught_up = probe.healthy && probe.caught_up;
        }
        self.evaluate(now_ms);
    }

    /// Takes into account that a deployment knows epoch `epoch`. Epochs only come from this
    /// moderator, so a newer one means its log was lost; the current decision is then reissued
    /// above it.
    pub fn observe_epoch(&mut self, epoch: u64, now_ms: u64) {
        // A deployment reporting an epoch beyond the bound is broken (or lying); following it
        // would end the count.
        if epoch > self.current.epoch && epoch <= protocol::moderation::MAX_EPOCH {
            self.current.epoch = epoch;
            self.decide(
                self.current.active,
                self.current.pinned,
                Reason::EpochResync,
                now_ms,
            );
        }
    }

    /// Re-evaluates after the time [`Decider::poll_timeout`] named.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        self.evaluate(now_ms);
    }

    /// Pins `deployment` as active until [`Decider::release`].
    pub fn pin(&mut self, deployment: Deployment, now_ms: u64) {
        if self.current.pinned != Some(deployment) {
            self.decide(deployment, Some(deployment), Reason::Pinned, now_ms);
        }
    }

    /// Removes the pin; the automatic rules apply again from now on.
    pub fn release(&mut self, now_ms: u64) {
        if self.current.pinned.is_some() {
            self.decide(self.current.active, None, Reason::Released, now_ms);
            self.evaluate(now_ms);
        }
    }

    /// When the decision may change without a new probe (the failback hold expiring), if ever.
    pub fn poll_timeout(&self) -> Option<u64> {
        let primary = self.health[Deployment::Primary.index()];
        let waiting_for_failback = self.current.pinned.is_none()
            && self.current.active == Deployment::Redundant
            && primary.up
            && self.primary_caught_up;
        waiting_for_failback
            .then(|| primary.up_since_ms.unwrap_or(0) + self.thresholds.failback_hold_ms)
    }

    /// The next decision to persist and publish, oldest first.
    pub fn poll_decision(&mut self) -> Option<Decision> {
        (!self.pending.is_empty()).then(|| self.pending.remove(0))
    }

    fn evaluate(&mut self, now_ms: u64) {
        if self.current.pinned.is_some() {
            return;
        }
        let primary = self.health[Deployment::Primary.index()];
        let redundant = self.health[Deployment::Redundant.index()];
        match self.current.active {
            Deployment::Primary if !primary.up && redundant.up => {
                self.decide(Deployment::Redundant, None, Reason::PrimaryDown, now_ms)
            }
            Deployment::Redundant if !redundant.up && primary.up => {
                self.decide(Deployment::Primary, None, Reason::RedundantDown, now_ms)
            }
            Deployment::Redundant
                if primary.up
                    && self.primary_caught_up
                    && now_ms
                        >= primary
                            .up_since_ms
                            .unwrap_or(u64::MAX)
                            .saturating_add(self.thresholds.failback_hold_ms) =>
            {
                self.decide(Deployment::Primary, None, Reason::Failback, now_ms)
            }
            _ => {}
        }
    }

    fn decide(
        &mut self,
        active: Deployment,
        pinned: Option<Deployment>,
        reason: Reason,
        now_ms: u64,
    ) {
        self.current = Decision {
            epoch: self.current.epoch.saturating_add(1),
            active,
            pinned,
            reason,
            at_ms: now_ms,
        };
        self.pending.push(self.current);
    }
}

#[cfg(test)]
mod tests;
