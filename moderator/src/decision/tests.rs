//! The decision rules on a virtual clock: probes every 250 ms, scripted health and replication.

use super::*;

const INTERVAL: u64 = 250;

/// A virtual world: the health of each deployment and the primary's replication state as
/// functions of time, probed every [`INTERVAL`].
struct World {
    decider: Decider,
    now: u64,
    decisions: Vec<Decision>,
}

impl World {
    fn new() -> Self {
        let mut world = World {
            decider: Decider::new(Thresholds::default(), 0),
            now: 0,
            decisions: Vec::new(),
        };
        world.drain();
        world
    }

    fn drain(&mut self) {
        while let Some(decision) = self.decider.poll_decision() {
            self.decisions.push(decision);
        }
    }

    /// Runs until `until`, probing both deployments each interval with the given health.
    fn run(
        &mut self,
        until: u64,
        primary: impl Fn(u64) -> (bool, bool),
        redundant: impl Fn(u64) -> bool,
    ) {
        while self.now < until {
            self.now += INTERVAL;
            let (healthy, caught_up) = primary(self.now);
            self.decider.handle_probe(
                Probe {
                    deployment: Deployment::Primary,
                    healthy,
                    caught_up,
                },
                self.now,
            );
            let healthy = redundant(self.now);
            self.decider.handle_probe(
                Probe {
                    deployment: Deployment::Redundant,
                    healthy,
                    caught_up: false,
                },
                self.now,
            );
            if let Some(deadline) = self.decider.poll_timeout() {
                if deadline <= self.now {
                    self.decider.handle_timeout(self.now);
                }
            }
            self.drain();
        }
    }

    fn active(&self) -> Deployment {
        self.decider.current().active
    }
}

#[test]
fn the_primary_is_active_at_start_and_a_dead_primary_is_replaced_within_three_probes() {
    let mut world = World::new();
    assert_eq!(world.decisions[0].reason, Reason::Initial);
    world.run(2_000, |_| (true, true), |_| true);
    assert_eq!(world.active(), Deployment::Primary);
    // The primary dies at 2 000 ms (its probes fail from 2 250 on).
    world.run(4_000, |t| (t < 2_000, false), |_| true);
    let switch = world
        .decisions
        .iter()
        .find(|d| d.reason == Reason::PrimaryDown)
        .expect("a failover");
    assert_eq!(switch.active, Deployment::Redundant);
    assert_eq!(switch.epoch, 2);
    assert!(
        switch.at_ms - 2_000 <= 3 * INTERVAL,
        "detected after {} ms",
        switch.at_ms - 2_000
    );
}

#[test]
fn a_flapping_primary_does_not_flap_the_decision() {
    let mut world = World::new();
    // Every other probe fails for ten seconds: never three failures in a row.
    world.run(
        10_000,
        |t| ((t / INTERVAL).is_multiple_of(2), true),
        |_| true,
    );
    assert_eq!(world.decisions.len(), 1, "{:?}", world.decisions);
    assert_eq!(world.active(), Deployment::Primary);
}

#[test]
fn failback_waits_for_the_hold_time_and_for_replication_to_catch_up() {
    let mut world = World::new();
    world.run(1_000, |t| (t < 250, false), |_| true);
    assert_eq!(world.active(), Deployment::Redundant);
    // The primary is back at 1 000 ms but still behind on replication until 20 000 ms.
    world.run(19_750, |t| (t >= 1_000, t >= 20_000), |_| true);
    assert_eq!(
        world.active(),
        Deployment::Redundant,
        "no failback while replication lags: {:?}",
        world.decisions
    );
    // Caught up from 20 000 ms: it has already been up far longer than the hold, so failback
    // follows at once.
    world.run(21_000, |t| (true, t >= 20_000), |_| true);
    let failback = world.decisions.last().unwrap();
    assert_eq!(
        (failback.reason, failback.active),
        (Reason::Failback, Deployment::Primary)
    );
    assert!(failback.at_ms >= 20_000 && failback.at_ms <= 20_000 + INTERVAL);
}

#[test]
fn a_primary_that_recovers_synchronised_is_still_held_back_for_the_hold_time() {
    let mut world = World::new();
    world.run(1_000, |t| (t < 250, false), |_| true);
    world.run(15_000, |t| (t >= 2_000, true), |_| true);
    let failback = world
        .decisions
        .iter()
        .find(|d| d.reason == Reason::Failback)
        .expect("a failback");
    // Up again after three good probes (2 500 ms), then the 5 s hold.
    assert!(
        failback.at_ms >= 2_500 + Thresholds::default().failback_hold_ms,
        "failback at {}",
        failback.at_ms
    );
    assert!(failback.at_ms <= 2_500 + Thresholds::default().failback_hold_ms + INTERVAL);
}

#[test]
fn losing_the_active_redundant_deployment_returns_to_the_primary_at_once() {
    let mut world = World::new();
    world.run(1_000, |t| (t < 250, false), |_| true);
    // The primary comes back but lags; then the redundant deployment dies.
    world.run(3_000, |t| (t >= 1_000, false), |t| t < 2_000);
    assert_eq!(world.active(), Deployment::Primary);
    assert_eq!(
        world.decisions.last().unwrap().reason,
        Reason::RedundantDown
    );
}

#[test]
fn when_both_are_down_the_last_decision_stands() {
    let mut world = World::new();
    // The redundant deployment is lost first; then the primary fails too.
    world.run(6_000, |t| (t < 3_000, true), |_| false);
    assert_eq!(world.decisions.len(), 1, "{:?}", world.decisions);
    assert_eq!(world.active(), Deployment::Primary);
    assert!(
        !world.decider.is_up(Deployment::Primary) && !world.decider.is_up(Deployment::Redundant)
    );
}

#[test]
fn a_pin_overrides_health_until_released() {
    let mut world = World::new();
    world.run(1_000, |_| (true, true), |_| true);
    world.decider.pin(Deployment::Redundant, world.now);
    world.drain();
    assert_eq!(world.active(), Deployment::Redundant);
    // Planned downtime: the primary is healthy and synchronised, yet stays inactive while pinned.
    world.run(20_000, |_| (true, true), |_| true);
    assert_eq!(world.active(), Deployment::Redundant);
    world.decider.release(world.now);
    world.drain();
    let reasons: Vec<_> = world.decisions.iter().map(|d| d.reason).collect();
    assert_eq!(
        reasons,
        [
            Reason::Initial,
            Reason::Pinned,
            Reason::Released,
            Reason::Failback
        ]
    );
    assert_eq!(world.active(), Deployment::Primary);
    let epochs: Vec<_> = world.decisions.iter().map(|d| d.epoch).collect();
    assert_eq!(epochs, [1, 2, 3, 4]);
}

#[test]
fn a_restarted_moderator_resumes_from_its_decision_log() {
    let mut world = World::new();
    world.run(1_000, |t| (t < 250, false), |_| true);
    world.decider.pin(Deployment::Redundant, world.now);
    world.drain();
    let last = *world.decisions.last().unwrap();
    // The moderator restarts: same epoch, same active deployment, same pin.
    let mut restarted = Decider::restore(Thresholds::default(), last, 50_000);
    assert_eq!(restarted.current(), last);
    assert_eq!(restarted.poll_decision(), None);
    restarted.release(50_000);
    let released = restarted.poll_decision().unwrap();
    assert_eq!((released.epoch, released.pinned), (last.epoch + 1, None));
}

#[test]
fn a_newer_epoch_seen_at_a_deployment_is_overtaken() {
    // The moderator lost its log and starts at epoch 1, but a deployment still knows epoch 9.
    let mut decider = Decider::new(Thresholds::default(), 0);
    assert_eq!(decider.poll_decision().map(|d| d.epoch), Some(1));
    decider.observe_epoch(9, 10);
    let reissued = decider.poll_decision().unwrap();
    assert_eq!(
        (reissued.epoch, reissued.active, reissued.reason),
        (10, Deployment::Primary, Reason::EpochResync)
    );
    // Older epochs, and the epoch in force, change nothing.
    decider.observe_epoch(4, 20);
    decider.observe_epoch(10, 20);
    assert_eq!(decider.poll_decision(), None);
}

#[test]
fn an_epoch_beyond_the_bound_reported_by_a_deployment_is_ignored() {
    let mut world = World::new();
    let before = world.decisions.last().map(|d| d.epoch).unwrap_or(0);
    world.decider.observe_epoch(u64::MAX, world.now);
    world
        .decider
        .observe_epoch(protocol::moderation::MAX_EPOCH + 1, world.now);
    world.drain();
    let after = world.decisions.last().map(|d| d.epoch).unwrap_or(0);
    assert_eq!(after, before, "nothing adopted, nothing wrapped");
    // A sane resync still works.
    world.decider.observe_epoch(before + 10, world.now);
    world.drain();
    assert_eq!(world.decisions.last().unwrap().epoch, before + 11);
}
