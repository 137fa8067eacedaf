//! The fault catalogue: what can go wrong, injected one at a time, each held for a few seconds
//! and then healed. Every entry of the log says what was done and when, so a failing seed can be
//! read back step by step.

use super::workload::Workload;
use super::{Rng, World};
use crate::moderator::ADMIN_SECRET;
use crate::proxy::Fault as NetFault;
use serde_json::json;
use std::time::Duration;

/// One line of the run's log.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Entry {
    /// Milliseconds since the run started.
    pub at_ms: u64,
    /// What happened (`kill`, `restart`, `client_path`, …).
    pub what: String,
    /// Its parameters.
    pub detail: serde_json::Value,
}

impl Entry {
    /// An entry stamped now.
    pub fn new(world: &World, what: &str, detail: serde_json::Value) -> Entry {
        Entry {
            at_ms: world.now_ms(),
            what: what.into(),
            detail,
        }
    }
}

/// The faults, each with the deployment it strikes where that applies (0 primary, 1 redundant).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// kill -9, a pause, then a restart on the same data.
    Kill(usize),
    /// SIGSTOP, a pause, SIGCONT: connections stay open and silent.
    Freeze(usize),
    /// The clients' path to a deployment misbehaves (black hole, reset, latency, bandwidth,
    /// slicing, cut after N bytes), for all connections or a share of them.
    ClientPath(usize),
    /// The replication link is cut both ways while both deployments take writes (part of the
    /// clients are pushed to the redundant deployment by a black hole on a share of their paths).
    CutReplication,
    /// The moderator is killed, then restarted on its decision log.
    ModeratorKilled,
    /// The moderator is frozen.
    ModeratorFrozen,
    /// Everything in front of the moderator answers HTTP 503.
    ModeratorErrors,
    /// The moderator is told (by its admin) to name the redundant deployment, which then dies.
    ModeratorNamesDead,
    /// A deployment restarts with its wall clock 30 s fast or slow, runs so, and restarts right.
    ClockSkew(usize),
    /// Visitors with messages in their outbox are restarted from their state files.
    ClientRestart,
    /// Every client connection on both paths is reset at once.
    ReconnectStorm,
    /// Manual failover to the redundant deployment, then failback while messages are in flight.
    Failback,
    /// The primary's client path flaps between reset and pass 100 times in a row.
    Flaps,
}

/// Picks the next fault.
pub fn pick(rng: &mut Rng) -> Fault {
    let deployment = rng.between(0, 1) as usize;
    match rng.between(0, 12) {
        0 => Fault::Kill(deployment),
        1 => Fault::Freeze(deployment),
        2 | 3 => Fault::ClientPath(deployment),
        4 => Fault::CutReplication,
        5 => Fault::ModeratorKilled,
        6 => Fault::ModeratorFrozen,
        7 => Fault::ModeratorErrors,
        8 => Fault::ModeratorNamesDead,
        9 => Fault::ClockSkew(deployment),
        10 => Fault::ClientRestart,
        11 => {
            if rng.chance(1, 2) {
                Fault::ReconnectStorm
            } else {
                Fault::Flaps
            }
        }
        _ => Fault::Failback,
    }
}

const NAMES: [&str; 2] = ["primary", "redundant"];

async fn pause(rng: &mut Rng, low_ms: u64, high_ms: u64) -> u64 {
    let ms = rng.between(low_ms, high_ms);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

/// Blocking process work (spawning, waiting for a port) off the async workers' backs.
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    tokio::task::block_in_place(f)
}

fn net_fault(rng: &mut Rng) -> NetFault {
    match rng.between(0, 5) {
        0 => NetFault::BlackHole,
        1 => NetFault::Reset,
        2 => NetFault::Latency {
            base_ms: rng.between(20, 200),
            jitter_ms: rng.between(0, 300),
        },
        3 => NetFault::Bandwidth {
            bytes_per_s: rng.between(2_000, 20_000),
        },
        4 => NetFault::Slice {
            max_bytes: rng.between(1, 16) as usize,
        },
        _ => NetFault::CutAfter {
            bytes: rng.between(200, 5_000),
        },
    }
}

/// Injects `fault`, holds it, heals it, and logs each step.
pub async fn inject(
    world: &mut World,
    workload: &Workload,
    fault: Fault,
    rng: &mut Rng,
    log: &mut Vec<Entry>,
) {
    match fault {
        Fault::Kill(d) => {
            log.push(Entry::new(world, "kill", json!({ "deployment": NAMES[d] })));
            blocking(|| world.deployments[d].kill9());
            let ms = pause(rng, 200, 4_000).await;
            log.push(Entry::new(
                world,
                "restart",
                json!({ "deployment": NAMES[d], "after_ms": ms }),
            ));
            blocking(|| world.deployments[d].start());
        }
        Fault::Freeze(d) => {
            log.push(Entry::new(
                world,
                "freeze",
                json!({ "deployment": NAMES[d] }),
            ));
            world.deployments[d].freeze();
            let ms = pause(rng, 500, 5_000).await;
            world.deployments[d].thaw();
            log.push(Entry::new(
                world,
                "thaw",
                json!({ "deployment": NAMES[d], "after_ms": ms }),
            ));
        }
        Fault::ClientPath(d) => {
            let fault = net_fault(rng);
            let share = if rng.chance(1, 2) {
                1000
            } else {
                rng.between(200, 800) as u16
            };
            log.push(Entry::new(
                world,
                "client_path",
                json!({ "deployment": NAMES[d], "fault": fault, "share_permille": share }),
            ));
            world.client_paths[d].set_share(fault, share);
            let ms = pause(rng, 1_000, 6_000).await;
            world.client_paths[d].set(NetFault::Pass);
            log.push(Entry::new(
                world,
                "client_path_healed",
                json!({ "deployment": NAMES[d], "after_ms": ms }),
            ));
        }
        Fault::CutReplication => {
            let fault = if rng.chance(1, 2) {
                NetFault::BlackHole
            } else {
                NetFault::Reset
            };
            let share = rng.between(300, 700) as u16;
            log.push(Entry::new(
                world,
                "cut_replication",
                json!({ "fault": fault, "primary_client_black_hole_share_permille": share }),
            ));
            for path in &world.replication_paths {
                path.set(fault);
            }
            world.client_paths[0].set_share(NetFault::BlackHole, share);
            let ms = pause(rng, 2_000, 6_000).await;
            world.client_paths[0].set(NetFault::Pass);
            for path in &world.replication_paths {
                path.set(NetFault::Pass);
            }
            log.push(Entry::new(
                world,
                "replication_healed",
                json!({ "after_ms": ms }),
            ));
        }
        Fault::ModeratorKilled => {
            log.push(Entry::new(world, "moderator_kill", json!({})));
            blocking(|| world.moderator.kill9());
            let ms = pause(rng, 500, 4_000).await;
            blocking(|| world.moderator.restart());
            log.push(Entry::new(
                world,
                "moderator_restart",
                json!({ "after_ms": ms }),
            ));
        }
        Fault::ModeratorFrozen => {
            let pid = world
                .moderator
                .pid()
                .expect("the moderator runs between faults");
            log.push(Entry::new(world, "moderator_freeze", json!({})));
            crate::signal(pid, "STOP");
            let ms = pause(rng, 500, 4_000).await;
            crate::signal(pid, "CONT");
            log.push(Entry::new(
                world,
                "moderator_thaw",
                json!({ "after_ms": ms }),
            ));
        }
        Fault::ModeratorErrors => {
            log.push(Entry::new(world, "moderator_errors", json!({})));
            world.moderator_path.set(NetFault::HttpError);
            let ms = pause(rng, 1_000, 5_000).await;
            world.moderator_path.set(NetFault::Pass);
            log.push(Entry::new(
                world,
                "moderator_errors_healed",
                json!({ "after_ms": ms }),
            ));
        }
        Fault::ModeratorNamesDead => {
            log.push(Entry::new(
                world,
                "manual_failover",
                json!({ "to": "redundant" }),
            ));
            let moderator = &world.moderator;
            let pinned =
                blocking(|| moderator.cli(&["failover", "--to", "redundant"], Some(ADMIN_SECRET)));
            tokio::time::sleep(Duration::from_millis(rng.between(0, 1_000))).await;
            log.push(Entry::new(
                world,
                "kill",
                json!({ "deployment": "redundant", "pinned": pinned }),
            ));
            blocking(|| world.deployments[1].kill9());
            let ms = pause(rng, 1_000, 4_000).await;
            blocking(|| world.deployments[1].start());
            log.push(Entry::new(
                world,
                "restart",
                json!({ "deployment": "redundant", "after_ms": ms }),
            ));
            let moderator = &world.moderator;
            let released = blocking(|| moderator.cli(&["release"], Some(ADMIN_SECRET)));
            log.push(Entry::new(world, "release", json!({ "ok": released })));
        }
        Fault::ClockSkew(d) => {
            let skew: i64 = if rng.chance(1, 2) { 30_000 } else { -30_000 };
            log.push(Entry::new(
                world,
                "clock_skew",
                json!({ "deployment": NAMES[d], "skew_ms": skew }),
            ));
            world.deployments[d].skew_ms = skew;
            blocking(|| {
                world.deployments[d].kill9();
                world.deployments[d].start();
            });
            let ms = pause(rng, 2_000, 6_000).await;
            world.deployments[d].skew_ms = 0;
            blocking(|| {
                world.deployments[d].kill9();
                world.deployments[d].start();
            });
            log.push(Entry::new(
                world,
                "clock_restored",
                json!({ "deployment": NAMES[d], "after_ms": ms }),
            ));
        }
        Fault::ClientRestart => {
            // Black-hole both paths so messages pile up in outboxes, restart some visitors, then
            // heal: their state files must carry those messages.
            for path in &world.client_paths {
                path.set(NetFault::BlackHole);
            }
            log.push(Entry::new(world, "client_paths_black_hole", json!({})));
            tokio::time::sleep(Duration::from_millis(rng.between(1_500, 3_000))).await;
            let count = rng.between(5, 20) as usize;
            let restarted = workload.restart_visitors(count, rng).await;
            log.push(Entry::new(
                world,
                "client_restart",
                json!({ "visitors": restarted }),
            ));
            tokio::time::sleep(Duration::from_millis(rng.between(200, 1_000))).await;
            for path in &world.client_paths {
                path.set(NetFault::Pass);
            }
            log.push(Entry::new(world, "client_paths_healed", json!({})));
        }
        Fault::ReconnectStorm => {
            log.push(Entry::new(world, "reconnect_storm", json!({})));
            let [a, b] = &world.client_paths;
            tokio::join!(a.reset_all(), b.reset_all());
        }
        Fault::Failback => {
            let moderator = &world.moderator;
            let pinned =
                blocking(|| moderator.cli(&["failover", "--to", "redundant"], Some(ADMIN_SECRET)));
            log.push(Entry::new(
                world,
                "manual_failover",
                json!({ "to": "redundant", "ok": pinned }),
            ));
            let ms = pause(rng, 1_000, 4_000).await;
            let moderator = &world.moderator;
            let released = blocking(|| moderator.cli(&["release"], Some(ADMIN_SECRET)));
            log.push(Entry::new(
                world,
                "release",
                json!({ "ok": released, "after_ms": ms }),
            ));
        }
        Fault::Flaps => {
            log.push(Entry::new(
                world,
                "flaps",
                json!({ "deployment": "primary", "count": 100 }),
            ));
            for _ in 0..100 {
                world.client_paths[0].set(NetFault::Reset);
                tokio::time::sleep(Duration::from_millis(rng.between(5, 40))).await;
                world.client_paths[0].set(NetFault::Pass);
                tokio::time::sleep(Duration::from_millis(rng.between(5, 60))).await;
            }
            log.push(Entry::new(world, "flaps_done", json!({})));
        }
    }
}
