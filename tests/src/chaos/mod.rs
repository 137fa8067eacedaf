//! The fault-injection suite (`cargo xtask chaos`, and a short run in `cargo xtask test`).
//!
//! Real processes (primary, redundant, moderator) with a fault-injecting [`Proxy`] on every path:
//! clients to each deployment (the moderator probes through the same proxies, so it sees what
//! clients see), clients and deployments to the moderator, and each deployment's replication
//! link to its peer. A seeded schedule injects one fault at a time (see [`faults`]) while native
//! visitors and operators chat ([`workload`]); then everything is healed and the checker
//! ([`check`]) compares what every participant was told with what both databases hold.
//!
//! The seed fixes the schedule, its timings and the workload's choices. It cannot fix the
//! operating system's scheduling, so a failing seed is a strong lead rather than an exact replay;
//! the report's log says what was injected when, to the millisecond.

pub mod browsers;
pub mod check;
pub mod faults;
pub mod workload;

use crate::deployment::ADMIN_PASSWORD;
use crate::moderator::ModeratorProcess;
use crate::pair::{prepare_pair, Member, Routes};
use crate::proxy::{Fault, Proxy};
use std::time::{Duration, Instant};

/// How a run is set up.
#[derive(Clone, Debug)]
pub struct Options {
    /// Fixes the fault schedule and the workload's choices.
    pub seed: u64,
    /// How long faults are injected; healing and checking come after (bounded too).
    pub duration: Duration,
    /// Native visitors, each in a conversation of their own.
    pub visitors: usize,
    /// Native operators sharing the conversations.
    pub operators: usize,
    /// Headless Chromium visitors on the customer's page (the real widget).
    pub browsers: usize,
}

/// A small deterministic generator (SplitMix64): the suite needs reproducible choices, not
/// cryptographic quality.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low + 1)
    }

    /// True with probability `numerator / denominator`.
    pub fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.next_u64() % denominator < numerator
    }

    /// A generator of its own for a part of the run (one participant, the schedule), so the
    /// parts' choices do not depend on how their calls interleave.
    pub fn fork(&mut self) -> Rng {
        Rng(self.next_u64())
    }
}

/// The e-mail address of operator `index`.
pub fn operator_email(index: usize) -> String {
    format!("agent{index}@example.com")
}

/// The display name of operator `index`, unique, so that a participant recognises its own chats
/// in the summaries (which name operators by their public card, without e-mail).
pub fn operator_name(index: usize) -> String {
    format!("Agent {index}")
}

/// Everything running: the processes and the proxies between them.
pub struct World {
    /// The deployments (their processes restart in place).
    pub deployments: [Member; 2],
    /// The moderator.
    pub moderator: ModeratorProcess,
    /// In front of each deployment, for clients and the moderator's probes.
    pub client_paths: [Proxy; 2],
    /// In front of the moderator, for clients and deployments.
    pub moderator_path: Proxy,
    /// `replication_paths[i]` is where deployment `i` pulls its peer's log from.
    pub replication_paths: [Proxy; 2],
    /// When the run started, for the log's timestamps.
    pub started: Instant,
}

impl World {
    /// Starts both deployments, the moderator and the five proxies, with `operators` operator
    /// accounts created on the primary.
    pub async fn start(operators: usize) -> World {
        let (mut primary, mut redundant) = prepare_pair(0);
        for index in 0..operators {
            let email = operator_email(index);
            let name = operator_name(index);
            assert!(
                primary.admin(&[
                    "operator", "add", "--email", &email, "--name", &name, "--role", "agent",
                ]),
                "creating operator {email}"
            );
        }
        let client_paths = [
            Proxy::start(primary.port).await,
            Proxy::start(redundant.port).await,
        ];
        let moderator_path = Proxy::start(primary.moderator_port).await;
        // Each deployment pulls from the other one's port.
        let replication_paths = [
            Proxy::start(redundant.port).await,
            Proxy::start(primary.port).await,
        ];
        let public_urls = [client_paths[0].url(), client_paths[1].url()];
        for (member, pull) in [
            (&mut primary, &replication_paths[0]),
            (&mut redundant, &replication_paths[1]),
        ] {
            member.route_through(Routes {
                public_urls: public_urls.clone(),
                peer_url: pull.url(),
                moderator_url: moderator_path.url(),
            });
        }
        let moderator_port = primary.moderator_port;
        tokio::task::block_in_place(|| {
            primary.start();
            redundant.start();
        });
        let moderator = tokio::task::block_in_place(|| {
            ModeratorProcess::start_watching(moderator_port, public_urls)
        });
        World {
            deployments: [primary, redundant],
            moderator,
            client_paths,
            moderator_path,
            replication_paths,
            started: Instant::now(),
        }
    }

    /// The deployments' base URLs as clients reach them, primary first.
    pub fn client_urls(&self) -> [String; 2] {
        [self.client_paths[0].url(), self.client_paths[1].url()]
    }

    /// The moderator's base URL as clients reach it.
    pub fn moderator_url(&self) -> String {
        self.moderator_path.url()
    }

    /// Milliseconds since the run started.
    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Every proxy passing, every process running unfrozen with an accurate clock, and no manual
    /// decision pinned: the state in which the checker expects everything to converge.
    pub async fn heal(&mut self) {
        for proxy in self
            .client_paths
            .iter()
            .chain(&self.replication_paths)
            .chain([&self.moderator_path])
        {
            proxy.set(Fault::Pass);
        }
        for member in &mut self.deployments {
            if let Some(pid) = member.pid() {
                crate::signal(pid, "CONT");
            }
            if member.pid().is_none() || member.skew_ms != 0 {
                member.skew_ms = 0;
                tokio::task::block_in_place(|| {
                    member.kill9();
                    member.start();
                });
            }
        }
        match self.moderator.pid() {
            Some(pid) => crate::signal(pid, "CONT"),
            None => tokio::task::block_in_place(|| self.moderator.restart()),
        }
        // `release` is refused when nothing is pinned; either way nothing is pinned afterwards.
        let moderator = &self.moderator;
        tokio::task::block_in_place(|| moderator.cli(&["release"], None));
    }
}

/// The password every operator account of the run has.
pub const OPERATOR_PASSWORD: &str = ADMIN_PASSWORD;

/// Runs the suite: starts the world and the workload, injects faults for `options.duration`,
/// heals, lets everything converge, and checks. Everything is bounded: the faults by the duration
/// (each fault's own hold is at most a few seconds), healing and checking by fixed limits.
pub async fn run(options: Options) -> check::Report {
    let mut rng = Rng::new(options.seed);
    let mut world = World::start(options.operators).await;
    let workload = workload::Workload::start(&world, &options, rng.fork()).await;
    let mut schedule = rng.fork();
    let mut log = Vec::new();
    let mut injected = 0;
    let deadline = Instant::now() + options.duration;
    // Chat for a moment before the first fault, so every conversation exists.
    tokio::time::sleep(Duration::from_secs(3)).await;
    while Instant::now() < deadline {
        let fault = faults::pick(&mut schedule);
        faults::inject(&mut world, &workload, fault, &mut schedule, &mut log).await;
        injected += 1;
        // Let the clients settle between faults (bounded), as real incidents come apart.
        tokio::time::sleep(Duration::from_millis(schedule.between(500, 2_000))).await;
    }
    log.push(faults::Entry::new(&world, "heal", serde_json::json!({})));
    world.heal().await;
    let finished = workload.finish().await;
    let state = finished.state;
    let report = check::check(
        &world,
        &options,
        finished.participants,
        finished.browsers,
        log,
        injected,
    )
    .await;
    // The participants' clients stopped with the check; their state files may go now.
    drop(state);
    report
}
