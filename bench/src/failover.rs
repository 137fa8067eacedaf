//! Faults of the active primary while chats go on: kill -9, SIGSTOP, and a black hole (a network
//! path that swallows every packet to and from the primary's data centre without closing
//! anything). Per chat, the time from the fault to its first message delivered end to end
//! afterwards; per round, the worst end-to-end latency of the messages written in the second
//! before and the second after the fault (the messages a failover actually delays). Then the
//! primary returns, the moderator fails back once it holds everything, and the next round starts.

use crate::load::{self, Pace, Seen, Window};
use crate::report::Trace;
use crate::stats::now_us;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tests::moderator::ModeratorProcess;
use tests::pair::{in_sync, prepare_pair, start_pair, Member, Routes};
use tests::proxy::{Fault as Network, Proxy};

/// What happens to the primary in a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `kill -9`: its sockets are closed by the kernel at once.
    Kill,
    /// `SIGSTOP`: it holds every socket open and answers nothing.
    Freeze,
    /// Every path to and from it (clients, the moderator's probes, replication both ways)
    /// swallows bytes and never closes: only silence tells.
    BlackHole,
}

impl Fault {
    fn label(self) -> &'static str {
        match self {
            Fault::Kill => "kill -9",
            Fault::Freeze => "SIGSTOP",
            Fault::BlackHole => "black hole",
        }
    }
}

/// One round's figures.
pub struct Round {
    /// What was done.
    pub fault: Fault,
    /// Per chat live before the fault, from the fault to its first delivery afterwards (ms).
    pub resume_ms: Vec<f64>,
    /// The worst end-to-end latency (ms) of the messages written from 1 s before to 1 s after.
    pub worst_latency_ms: f64,
}

/// What all the rounds of one run measured.
pub struct Outcome {
    /// Each round in order.
    pub rounds: Vec<Round>,
    /// Visitor messages written but stored on neither deployment (the larger count of the two).
    pub lost: u64,
    /// Visitor messages stored twice under different ids.
    pub duplicates: u64,
    /// The first round's per-message latencies, for `failover.svg`.
    pub first_round: Option<Trace>,
}

impl Outcome {
    /// Every chat's resume time over the rounds of `fault`.
    pub fn resume_ms(&self, fault: Fault) -> Vec<f64> {
        self.of(fault).flat_map(|r| r.resume_ms.clone()).collect()
    }

    /// The worst latency over the rounds of `fault`.
    pub fn worst_latency_ms(&self, fault: Fault) -> f64 {
        self.of(fault)
            .map(|r| r.worst_latency_ms)
            .fold(0.0, f64::max)
    }

    fn of(&self, fault: Fault) -> impl Iterator<Item = &Round> {
        self.rounds.iter().filter(move |r| r.fault == fault)
    }
}

/// The paths that stand between everyone and the deployments in a black-hole run.
struct Paths {
    /// In front of each deployment, for clients and the moderator's probes.
    clients: [Proxy; 2],
    /// `replication[i]` is where deployment `i` pulls its peer's log from.
    replication: [Proxy; 2],
}

impl Paths {
    /// The proxies a black-holed primary's data centre is reached (and reaches out) through.
    fn of_primary(&self) -> [&Proxy; 3] {
        [&self.clients[0], &self.replication[0], &self.replication[1]]
    }
}

/// Runs `rounds` against a fresh pair with `chats` visitors each writing every 100 ms. A run with
/// black-hole rounds reaches the deployments through proxies (in this process); the others reach
/// them directly, so a kill's figure has no extra hop in it.
pub async fn run(rounds: &[Fault], chats: usize) -> anyhow::Result<Outcome> {
    let proxied = rounds.contains(&Fault::BlackHole);
    let (mut primary, redundant, moderator, paths) = if proxied {
        let (mut primary, mut redundant) = prepare_pair(0);
        let paths = Paths {
            clients: [
                Proxy::start(primary.port).await,
                Proxy::start(redundant.port).await,
            ],
            replication: [
                Proxy::start(redundant.port).await,
                Proxy::start(primary.port).await,
            ],
        };
        let public = [paths.clients[0].url(), paths.clients[1].url()];
        for (member, pull) in [
            (&mut primary, &paths.replication[0]),
            (&mut redundant, &paths.replication[1]),
        ] {
            member.route_through(Routes {
                public_urls: public.clone(),
                peer_url: pull.url(),
                moderator_url: format!("http://127.0.0.1:{}", member.moderator_port),
            });
            member.start();
        }
        let moderator = ModeratorProcess::start_watching(primary.moderator_port, public);
        (primary, redundant, moderator, Some(paths))
    } else {
        let (primary, redundant) = start_pair(0);
        let moderator = ModeratorProcess::start(&primary, &redundant);
        (primary, redundant, moderator, None)
    };
    moderator.wait_until_pushed().await;
    let deployments = match &paths {
        Some(paths) => vec![paths.clients[0].url(), paths.clients[1].url()],
        None => vec![primary.url(), redundant.url()],
    };
    let token = load::operator_token(&primary.url()).await?;
    // The chats go on until every round is done.
    let until = load::deadline(u64::MAX);
    let window = Window {
        from_us: 0,
        to_us: u64::MAX,
    };
    let seen = Arc::new(Seen::default());
    let operator = load::operator(
        deployments.clone(),
        Some(moderator.url.clone()),
        token,
        window,
        u64::MAX,
        seen.clone(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let visitors: Vec<_> = (0..chats)
        .map(|i| {
            let period = Duration::from_millis(100);
            load::visitor(
                deployments.clone(),
                Some(moderator.url.clone()),
                Pace::Every {
                    period,
                    offset: period.mul_f64(i as f64 / chats as f64),
                },
                window,
                until.clone(),
                seen.clone(),
            )
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;

    let mut outcome = Outcome {
        rounds: Vec::new(),
        lost: 0,
        duplicates: 0,
        first_round: None,
    };
    for (index, &fault) in rounds.iter().enumerate() {
        // Failback itself waits until the primary holds everything; the chats never stop,
        // so the two are never identical at an instant until the end.
        moderator
            .wait_for_active("primary", Duration::from_secs(60))
            .await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let chats_now = live_chats(&seen);
        let fault_us = now_us();
        match fault {
            Fault::Kill => primary.kill9(),
            Fault::Freeze => primary.freeze(),
            Fault::BlackHole => {
                for proxy in paths.as_ref().expect("proxied").of_primary() {
                    proxy.set(Network::BlackHole);
                }
            }
        }
        moderator
            .wait_for_active("redundant", Duration::from_secs(30))
            .await;
        let switch_us = now_us();
        tokio::time::sleep(Duration::from_secs(4)).await;
        let resume_ms = resume_times(&seen, &chats_now, fault_us);
        let around = latencies_sent_between(
            &seen,
            fault_us.saturating_sub(1_000_000),
            fault_us + 1_000_000,
        );
        let worst_latency_ms = around.iter().map(|p| p.1).fold(0.0, f64::max);
        println!(
            "  round {}: {} of the primary, {} chats live, {} resumed, moderator switched after {} ms, \
             worst latency of the messages written within 1 s of it {:.0} ms",
            index + 1,
            fault.label(),
            chats_now.len(),
            resume_ms.len(),
            (switch_us - fault_us) / 1000,
            worst_latency_ms,
        );
        if index == 0 {
            let shown = latencies_sent_between(
                &seen,
                fault_us.saturating_sub(3_000_000),
                fault_us + 4_000_000,
            );
            outcome.first_round = Some(Trace {
                points: shown,
                fault_us,
                switch_us: Some(switch_us),
            });
        }
        outcome.rounds.push(Round {
            fault,
            resume_ms,
            worst_latency_ms,
        });
        match fault {
            Fault::Kill => primary.start(),
            Fault::Freeze => {
                primary.thaw();
                // A thawed primary rejoins; restarting it as well keeps rounds alike.
                primary.kill9();
                primary.start();
            }
            Fault::BlackHole => {
                // The connections swallowed stay dead, as after a real outage; resetting them
                // makes everyone reconnect through the healed path.
                for proxy in paths.as_ref().expect("proxied").of_primary() {
                    proxy.reset_all().await;
                }
            }
        }
    }
    until.store(now_us(), Ordering::Relaxed);
    let mut written = 0;
    for visitor in visitors {
        written += visitor.await.unwrap_or(0);
    }
    operator.abort();
    moderator
        .wait_for_active("primary", Duration::from_secs(60))
        .await;
    in_sync(&primary, &redundant).await;
    for member in [&primary, &redundant] {
        let (stored, doubled) = count_messages(member)?;
        outcome.lost = outcome.lost.max(written.saturating_sub(stored));
        outcome.duplicates = outcome.duplicates.max(doubled);
    }
    drop(paths);
    Ok(outcome)
}

/// The chats that had a message delivered in the last second.
fn live_chats(seen: &Seen) -> BTreeSet<protocol::ConversationId> {
    let deliveries = seen.deliveries.lock().expect("lock");
    let recent = now_us().saturating_sub(1_000_000);
    deliveries
        .iter()
        .filter(|(_, t)| *t >= recent)
        .map(|(c, _)| *c)
        .collect()
}

/// The (send time, latency) of every message delivered that was written in `from_us..to_us`.
fn latencies_sent_between(seen: &Seen, from_us: u64, to_us: u64) -> Vec<(u64, f64)> {
    seen.latencies
        .lock()
        .expect("lock")
        .iter()
        .filter(|(sent, _)| (from_us..to_us).contains(sent))
        .copied()
        .collect()
}

/// Per chat that was live before the fault, the time (ms) from the fault to its first
/// delivery to the operator afterwards.
fn resume_times(
    seen: &Seen,
    chats: &BTreeSet<protocol::ConversationId>,
    fault_us: u64,
) -> Vec<f64> {
    let deliveries = seen.deliveries.lock().expect("lock");
    let mut first: BTreeMap<protocol::ConversationId, u64> = BTreeMap::new();
    for (conversation, at) in deliveries.iter() {
        if *at > fault_us && chats.contains(conversation) {
            first.entry(*conversation).or_insert(*at);
        }
    }
    first
        .values()
        .map(|at| (at - fault_us) as f64 / 1000.0)
        .collect()
}

/// Visitor messages stored, and how many were stored twice under different ids (the same
/// conversation and body, which carries the send time).
fn count_messages(member: &Member) -> anyhow::Result<(u64, u64)> {
    let conn = rusqlite::Connection::open_with_flags(
        member.data_dir.path().join("livechat.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let (stored, distinct): (i64, i64) = conn.query_row(
        "SELECT COUNT(*), COUNT(DISTINCT conversation_id || '|' || body) FROM messages
         WHERE author_kind = 'visitor'",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok((stored as u64, (stored - distinct) as u64))
}
