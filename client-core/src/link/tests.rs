//! The link against a scripted pair of deployments and a moderator, on a virtual clock: scenario
//! tests for each rule, and a proptest over random fault schedules asserting that every message
//! ends up on both deployments and leaves the outbox, with no id ever invented or lost.

use super::*;
use protocol::moderation::{DeploymentInfo, DeploymentRole};
use protocol::{ConversationId, ErrorCode, Message, SiteId, VisitorId};
use std::collections::{BTreeMap, BTreeSet};

const PRIMARY: &str = "http://primary.test";
const REDUNDANT: &str = "http://redundant.test";
const MODERATOR: &str = "http://moderator.test";

#[derive(Default)]
struct SimDeployment {
    up: bool,
    frozen: bool,
    /// Its disk stalls: messages sent to it are neither stored nor acknowledged, but the
    /// process runs and answers pings.
    stalled: bool,
    stored: BTreeSet<MessageId>,
}

/// Two deployments that replicate to each other (when the link between them is up), a
/// moderator, and the client's connections, all driven synchronously.
struct Sim {
    link: Link,
    now: u64,
    deployments: [SimDeployment; 2],
    /// Open connections: which deployment, and the ids acknowledged there awaiting replication.
    connections: BTreeMap<u64, (usize, Vec<MessageId>)>,
    moderator_up: bool,
    decision: (u64, usize),
    replicating: bool,
    duplicate_acks: bool,
    written: Vec<MessageId>,
    /// Every connection the client opened, by deployment.
    opened_to: Vec<usize>,
    /// Frames sent to a frozen deployment: TCP holds them until it runs again (or the connection
    /// is closed).
    held: Vec<(u64, ClientFrame)>,
    /// The credentials of every `hello` a deployment received.
    hellos: Vec<Auth>,
}

fn message(n: u64) -> PendingMessage {
    PendingMessage {
        conversation_id: ConversationId::from_parts(7_000, [0; 10]),
        message_id: MessageId::from_parts(n, [1; 10]),
        body: format!("message {n}"),
        written_at: n as i64,
        intake: None,
        attachment: None,
        private: false,
    }
}

fn stored_message(id: MessageId) -> Message {
    Message {
        id,
        conversation_id: ConversationId::from_parts(7_000, [0; 10]),
        seq: 1,
        hlc: 1,
        attachment: None,
        private: false,
        author: protocol::Author {
            kind: protocol::AuthorKind::Visitor,
            name: None,
        },
        body: "stored".into(),
        sent_at: 0,
    }
}

impl Sim {
    fn new(with_moderator: bool) -> Sim {
        let config = LinkConfig::new(
            vec![PRIMARY.into(), REDUNDANT.into()],
            with_moderator.then(|| MODERATOR.into()),
            42,
        );
        let auth = Auth::Visitor {
            site_id: SiteId("acme".into()),
            token: None,
            user: None,
        };
        let mut sim = Sim {
            link: Link::new(config, auth, None, Outbox::default(), None),
            now: 1_000,
            deployments: [
                SimDeployment {
                    up: true,
                    ..Default::default()
                },
                SimDeployment {
                    up: true,
                    ..Default::default()
                },
            ],
            connections: BTreeMap::new(),
            moderator_up: with_moderator,
            decision: (1, 0),
            replicating: true,
            duplicate_acks: false,
            written: Vec::new(),
            opened_to: Vec::new(),
            held: Vec::new(),
            hellos: Vec::new(),
        };
        sim.link.start(sim.now);
        sim.settle();
        sim
    }

    fn index(url: &str) -> usize {
        if url.contains("primary") {
            0
        } else {
            1
        }
    }

    fn active_deployment(&self) -> ActiveDeployment {
        let urls = [PRIMARY, REDUNDANT];
        ActiveDeployment {
            epoch: self.decision.0,
            active: ["primary", "redundant"][self.decision.1].into(),
            url: urls[self.decision.1].into(),
            pinned: false,
            deployments: vec![
                DeploymentInfo {
                    id: "primary".into(),
                    url: PRIMARY.into(),
                    role: DeploymentRole::Primary,
                },
                DeploymentInfo {
                    id: "redundant".into(),
                    url: REDUNDANT.into(),
                    role: DeploymentRole::Redundant,
                },
            ],
        }
    }

    fn redirect(&self) -> ServerFrame {
        let active = self.active_deployment();
        ServerFrame::Redirect {
            epoch: active.epoch,
            deployment: active.active,
            url: active.url,
        }
    }

    fn reachable(&self, deployment: usize) -> bool {
        self.deployments[deployment].up && !self.deployments[deployment].frozen
    }

    /// Carries out every action the link asked for, including the answers they cause.
    fn settle(&mut self) {
        let mut deliveries: VecDeque<(u64, ServerFrame)> = VecDeque::new();
        loop {
            if let Some(action) = self.link.poll_action() {
                match action {
                    Action::AskModerator { .. } => {
                        // A moderator that is down lets the request time out.
                        if self.moderator_up {
                            let answer = self.active_deployment();
                            self.link.moderator_answered(self.now, Some(answer));
                        }
                    }
                    Action::Open { conn, url } => {
                        let target = Self::index(&url);
                        self.opened_to.push(target);
                        if !self.deployments[target].up {
                            self.link.closed(conn, self.now);
                        } else if !self.deployments[target].frozen {
                            self.connections.insert(conn, (target, Vec::new()));
                            self.link.opened(conn, self.now);
                        }
                        // Frozen: the connection hangs until the link gives up on it.
                    }
                    Action::Close { conn } => {
                        self.connections.remove(&conn);
                    }
                    Action::Send { conn, frame } => {
                        let Some((target, _)) = self.connections.get(&conn).cloned() else {
                            continue;
                        };
                        if self.deployments[target].frozen {
                            self.held.push((conn, frame));
                            continue;
                        }
                        if !self.deployments[target].up {
                            continue;
                        }
                        for reply in self.serve(conn, target, frame) {
                            deliveries.push_back((conn, reply));
                        }
                    }
                }
                continue;
            }
            if let Some((conn, frame)) = deliveries.pop_front() {
                if self.connections.contains_key(&conn) {
                    self.link.received(conn, self.now, frame);
                }
                continue;
            }
            while self.link.poll_event().is_some() {}
            return;
        }
    }

    /// What a deployment answers to a frame.
    fn serve(&mut self, conn: u64, target: usize, frame: ClientFrame) -> Vec<ServerFrame> {
        match frame {
            ClientFrame::Hello { auth, .. } => {
                self.hellos.push(auth);
                let mut replies = vec![ServerFrame::Welcome {
                    protocol: protocol::PROTOCOL_VERSION,
                    max_message_bytes: 8192,
                    session: Session::Visitor {
                        visitor_id: VisitorId::from_parts(9, [2; 10]),
                        token: "token".into(),
                        conversations: vec![],
                        online: true,
                        details: None,
                    },
                    replicates: true,
                    log: Some(format!("log{target}")),
                }];
                if self.decision.1 != target {
                    replies.push(self.redirect());
                }
                replies
            }
            ClientFrame::Send { .. } if self.deployments[target].stalled => vec![],
            ClientFrame::Send { message_id, .. } => {
                self.deployments[target].stored.insert(message_id);
                let ack = ServerFrame::Ack {
                    message_id,
                    message: stored_message(message_id),
                };
                let mut replies = vec![ack.clone()];
                if self.duplicate_acks {
                    replies.push(ack);
                }
                let peer = 1 - target;
                if self.replicating && self.deployments[peer].up {
                    self.deployments[peer].stored.insert(message_id);
                    replies.push(ServerFrame::Replicated {
                        message_ids: vec![message_id],
                    });
                } else if let Some((_, awaiting)) = self.connections.get_mut(&conn) {
                    awaiting.push(message_id);
                }
                replies
            }
            ClientFrame::Ping { nonce } => vec![ServerFrame::Pong { nonce }],
            _ => vec![],
        }
    }

    /// Replication catches up: both deployments get everything, and connections hear
    /// `replicated` for what they were waiting on.
    fn replicate(&mut self) {
        if !(self.replicating && self.deployments[0].up && self.deployments[1].up) {
            return;
        }
        let all: BTreeSet<_> = self.deployments[0]
            .stored
            .union(&self.deployments[1].stored)
            .copied()
            .collect();
        self.deployments[0].stored = all.clone();
        self.deployments[1].stored = all;
        let conns: Vec<u64> = self.connections.keys().copied().collect();
        for conn in conns {
            let (target, awaiting) = self.connections.get_mut(&conn).unwrap();
            let target = *target;
            if self.deployments[target].frozen {
                // Told once it runs again (the frame waits in its socket).
                continue;
            }
            let ids = std::mem::take(awaiting);
            if !ids.is_empty() && self.reachable(target) {
                self.link
                    .received(conn, self.now, ServerFrame::Replicated { message_ids: ids });
            }
        }
        self.settle();
    }

    /// Lets `ms` of virtual time pass, with pongs answering pings on the way.
    fn advance(&mut self, ms: u64) {
        let end = self.now + ms;
        loop {
            let next = self.link.poll_timeout().unwrap_or(end).min(end);
            self.now = next.max(self.now);
            self.link.handle_timeout(self.now);
            self.settle();
            self.replicate();
            if self.now >= end {
                return;
            }
        }
    }

    fn write(&mut self, n: u64) {
        let m = message(n);
        self.written.push(m.message_id);
        self.link.send_message(self.now, m);
        self.settle();
    }

    /// A frozen deployment runs again and answers what it was sent meanwhile, on the
    /// connections still open.
    fn thaw(&mut self, deployment: usize) {
        self.deployments[deployment].frozen = false;
        for (conn, frame) in std::mem::take(&mut self.held) {
            match self.connections.get(&conn) {
                Some((target, _)) if *target == deployment => {
                    for reply in self.serve(conn, deployment, frame) {
                        if self.connections.contains_key(&conn) {
                            self.link.received(conn, self.now, reply);
                        }
                    }
                    self.settle();
                }
                Some(_) => self.held.push((conn, frame)),
                None => {}
            }
        }
    }

    /// The deployment dies: its connections are reset.
    fn kill(&mut self, deployment: usize) {
        self.deployments[deployment].up = false;
        self.drop_connections(deployment);
    }

    /// The open connections to `deployment`.
    fn connections_to(&self, deployment: usize) -> Vec<u64> {
        self.connections
            .iter()
            .filter(|(_, (d, _))| *d == deployment)
            .map(|(c, _)| *c)
            .collect()
    }

    /// The deployment shuts down gracefully: it tells its (reachable) clients it is draining,
    /// then dies with the connections still open closed.
    fn drain(&mut self, deployment: usize) {
        if self.reachable(deployment) {
            for conn in self.connections_to(deployment) {
                self.link.received(conn, self.now, ServerFrame::Draining);
            }
            self.settle();
        }
        self.kill(deployment);
    }

    /// The deployment closes its connections.
    fn drop_connections(&mut self, deployment: usize) {
        for conn in self.connections_to(deployment) {
            self.connections.remove(&conn);
            self.link.closed(conn, self.now);
        }
        self.settle();
    }

    /// The moderator decides; deployments tell their clients.
    fn decide(&mut self, active: usize) {
        self.decision = (self.decision.0 + 1, active);
        let told: Vec<u64> = self
            .connections
            .iter()
            .filter(|(_, (d, _))| *d != active && self.reachable(*d))
            .map(|(c, _)| *c)
            .collect();
        let redirect = self.redirect();
        for conn in told {
            self.link.received(conn, self.now, redirect.clone());
        }
        self.settle();
    }

    fn online_at(&self) -> Option<usize> {
        match self.link.status() {
            LinkStatus::Online { deployment } => Some(deployment),
            _ => None,
        }
    }

    fn everything_on_both(&self) -> bool {
        self.written.iter().all(|id| {
            self.deployments[0].stored.contains(id) && self.deployments[1].stored.contains(id)
        })
    }
}

#[test]
fn new_credentials_are_presented_at_once_on_the_same_deployment() {
    let mut sim = Sim::new(true);
    assert_eq!(sim.online_at(), Some(0));
    let user = protocol::visitor::UserIdentity {
        user_id: "alice".into(),
        signature: "0".repeat(64),
        name: None,
        email: None,
    };
    sim.link.set_auth(Auth::Visitor {
        site_id: SiteId("acme".into()),
        token: None,
        user: Some(Box::new(user.clone())),
    });
    let before = sim.opened_to.len();
    sim.link.reconnect(sim.now);
    sim.settle();
    // One new connection, to the deployment it was on, saying hello as the user.
    assert_eq!(sim.opened_to[before..], [0]);
    assert_eq!(sim.online_at(), Some(0));
    assert_eq!(sim.connections.len(), 1, "the old connection is closed");
    match sim.hellos.last() {
        Some(Auth::Visitor { user: Some(u), .. }) => assert_eq!(**u, user),
        other => panic!("the last hello was {other:?}"),
    }
}

#[test]
fn connects_where_the_moderator_says_and_follows_redirects() {
    let mut sim = Sim::new(true);
    assert_eq!(sim.online_at(), Some(0));
    sim.decision = (5, 1);
    // A new round asks again; but while online, only a redirect moves the client.
    sim.decide(1);
    assert_eq!(sim.online_at(), Some(1));
    assert_eq!(sim.link.known_active().map(|k| k.deployment), Some(1));
    // An old epoch's redirect is ignored.
    let conn = *sim.connections.keys().last().unwrap();
    sim.link.received(
        conn,
        sim.now,
        ServerFrame::Redirect {
            epoch: 2,
            deployment: "primary".into(),
            url: PRIMARY.into(),
        },
    );
    sim.settle();
    assert_eq!(sim.online_at(), Some(1));
}

#[test]
fn a_dead_deployment_sends_the_client_to_the_other_at_once() {
    let mut sim = Sim::new(true);
    sim.write(1);
    sim.kill(0);
    assert_eq!(sim.online_at(), Some(1), "no wait before trying the other");
    sim.write(2);
    sim.advance(100);
    assert!(sim.link.outbox().is_empty() || sim.deployments[1].stored.len() == 2);
}

#[test]
fn a_draining_deployment_sends_the_client_to_the_other_before_it_closes() {
    let mut sim = Sim::new(true);
    assert_eq!(sim.online_at(), Some(0));
    // A message the primary acknowledged but could not replicate yet.
    sim.replicating = false;
    sim.write(1);
    assert!(sim.link.is_acknowledged(message(1).message_id));
    assert_eq!(sim.link.outbox().pending().len(), 1);
    sim.replicating = true;
    let draining = *sim.connections.keys().last().unwrap();
    sim.link.received(draining, sim.now, ServerFrame::Draining);
    sim.settle();
    // Moved at once, without waiting for the close; the draining socket is let go.
    assert_eq!(sim.online_at(), Some(1));
    assert!(!sim.connections.contains_key(&draining));
    // The acknowledged message went again to the redundant deployment and left the outbox.
    sim.advance(100);
    assert!(sim.link.outbox().is_empty());
    assert!(sim.deployments[1].stored.contains(&message(1).message_id));
    // The moderator still names the primary (it is restarting): the client stays put while the
    // primary is suspect instead of going back to a deployment about to close.
    sim.deployments[0].up = false;
    let opened = sim.opened_to.len();
    sim.advance(sim.link.config.suspect_ms - 200);
    assert_eq!(sim.opened_to.len(), opened, "no attempt to go back yet");
    assert_eq!(sim.online_at(), Some(1));
}

#[test]
fn a_frozen_deployment_is_detected_by_silence_and_left() {
    let mut sim = Sim::new(false);
    let start = sim.now;
    sim.deployments[0].frozen = true;
    sim.advance(2_000);
    assert_eq!(
        sim.online_at(),
        Some(0),
        "not yet: 2 s of silence is allowed"
    );
    sim.advance(1_000);
    assert_eq!(sim.online_at(), Some(1));
    assert!(sim.now - start <= 3_000);
}

#[test]
fn a_frozen_deployment_is_left_sooner_while_a_message_waits_for_its_ack() {
    let mut sim = Sim::new(false);
    // Idle for a while, so the last frame received is old when the message is written.
    sim.advance(900);
    sim.deployments[0].frozen = true;
    sim.write(1);
    let written = sim.now;
    sim.advance(1_400);
    assert_eq!(sim.online_at(), Some(0), "1.5 s from the write are allowed");
    sim.advance(200);
    assert_eq!(sim.online_at(), Some(1));
    assert!(sim.now - written <= 1_600);
    assert!(sim.deployments[1].stored.contains(&sim.written[0]));
}

#[test]
fn a_frozen_deployment_is_left_sooner_by_a_client_receiving_a_chat_than_by_an_idle_one() {
    let mut sim = Sim::new(false);
    // An operator's message arrives; the client itself writes nothing.
    let conn = sim.connections_to(0)[0];
    let incoming = stored_message(MessageId::from_parts(99, [2; 10]));
    sim.link
        .received(conn, sim.now, ServerFrame::Message { message: incoming });
    sim.deployments[0].frozen = true;
    let frozen_at = sim.now;
    sim.advance(1_400);
    assert_eq!(sim.online_at(), Some(0));
    sim.advance(200);
    assert_eq!(sim.online_at(), Some(1), "1.5 s while the chat is active");
    assert!(sim.now - frozen_at <= 1_600);
}

#[test]
fn a_chat_without_a_message_for_ten_seconds_is_idle_again() {
    let mut sim = Sim::new(false);
    let conn = sim.connections_to(0)[0];
    let incoming = stored_message(MessageId::from_parts(99, [2; 10]));
    sim.link
        .received(conn, sim.now, ServerFrame::Message { message: incoming });
    sim.advance(11_000);
    sim.deployments[0].frozen = true;
    sim.advance(2_000);
    assert_eq!(
        sim.online_at(),
        Some(0),
        "idle: 2.5 s of silence are allowed"
    );
    sim.advance(1_000);
    assert_eq!(sim.online_at(), Some(1));
}

#[test]
fn a_slow_acknowledgement_from_a_deployment_that_answers_pings_is_waited_for() {
    let mut sim = Sim::new(false);
    sim.deployments[0].stalled = true;
    sim.write(1);
    // Pings every 500 ms are answered, so the link stays where it is however long the disk takes.
    sim.advance(10_000);
    assert_eq!(sim.online_at(), Some(0));
    assert_eq!(sim.opened_to, vec![0], "never left");
    sim.deployments[0].stalled = false;
    sim.kill(0);
    assert!(sim.deployments[1].stored.contains(&sim.written[0]));
}

#[test]
fn messages_stay_in_the_outbox_until_they_are_on_both_deployments() {
    let mut sim = Sim::new(false);
    sim.replicating = false;
    sim.write(1);
    let id = sim.written[0];
    assert!(sim.link.is_acknowledged(id), "acknowledged by the primary");
    assert_eq!(sim.link.outbox().pending().len(), 1, "but kept");
    // The primary dies before replicating: the message goes to the redundant deployment.
    sim.kill(0);
    assert!(sim.deployments[1].stored.contains(&id));
    // The primary comes back and replication catches up: now it may leave the outbox.
    sim.deployments[0].up = true;
    sim.replicating = true;
    sim.advance(100);
    assert!(sim.link.outbox().is_empty());
    assert!(sim.everything_on_both());
}

#[test]
fn the_moderator_down_is_bypassed_after_its_deadline() {
    let mut sim = Sim::new(true);
    sim.moderator_up = false;
    sim.kill(0);
    sim.kill(1);
    assert_eq!(sim.link.status(), LinkStatus::Offline);
    sim.deployments[1].up = true;
    sim.advance(5_000);
    assert_eq!(sim.online_at(), Some(1));
}

#[test]
fn a_redirect_to_a_deployment_that_just_failed_waits_for_the_suspicion_to_expire() {
    let mut sim = Sim::new(false);
    sim.kill(0);
    assert_eq!(sim.online_at(), Some(1));
    // The moderator has not noticed yet and the redundant deployment redirects to the primary,
    // which is back already: the client stays put until the primary is no longer suspect.
    sim.deployments[0].up = true;
    sim.decide(0);
    assert_eq!(sim.online_at(), Some(1));
    sim.advance(5_100);
    assert_eq!(sim.online_at(), Some(0));
}

#[test]
fn a_stale_redirect_does_not_send_the_client_back_to_a_dead_deployment() {
    let mut sim = Sim::new(true);
    // The primary dies; the client moves to the redundant deployment at once, which (not yet
    // told otherwise by the moderator) redirects to the primary under the same epoch.
    sim.kill(0);
    assert_eq!(sim.online_at(), Some(1));
    let conn = *sim.connections.keys().last().unwrap();
    sim.link.received(conn, sim.now, sim.redirect());
    sim.settle();
    sim.advance(20_000);
    assert_eq!(sim.online_at(), Some(1));
    // This moderator keeps naming the dead primary: the client tries to go back only when it
    // asks again, after 5 s and then 10 s, never in a tight loop, and each time keeps its
    // working connection to the redundant deployment (made once).
    assert_eq!(sim.opened_to, [0, 1, 0, 0]);
}

#[test]
fn a_client_returns_to_a_primary_that_came_back_before_the_moderator_noticed() {
    let mut sim = Sim::new(true);
    // The primary drops everyone and is back at once: the moderator never saw it down, so no
    // decision changes and no redirect will come.
    sim.kill(0);
    sim.deployments[0].up = true;
    assert_eq!(sim.online_at(), Some(1));
    sim.advance(2_000);
    assert_eq!(sim.online_at(), Some(1), "not while the primary is suspect");
    sim.advance(4_000);
    assert_eq!(
        sim.online_at(),
        Some(0),
        "asked the moderator again and went back"
    );
    // Where the moderator switched meanwhile, the client stays where it is.
    sim.kill(0);
    sim.decide(1);
    sim.deployments[0].up = true;
    sim.advance(20_000);
    assert_eq!(sim.online_at(), Some(1));
}

#[test]
fn a_return_to_a_deployment_that_froze_meanwhile_falls_back_within_a_second() {
    let mut sim = Sim::new(true);
    sim.kill(0);
    sim.deployments[0].up = true;
    assert_eq!(sim.online_at(), Some(1));
    // The primary freezes before the moderator noticed anything: it still names the primary,
    // so the client's next question sends it back there, into a socket nobody answers.
    sim.deployments[0].frozen = true;
    let opened = sim.opened_to.len();
    let mut waited = 0;
    while sim.opened_to.len() == opened && waited < 10_000 {
        sim.advance(50);
        waited += 50;
    }
    assert_eq!(sim.opened_to[opened], 0, "it tried to return");
    // The working connection stays up while the return is tried: a message written meanwhile
    // is stored at once, and nothing reconnects to where the client already was.
    assert_eq!(sim.online_at(), Some(1));
    sim.write(1);
    assert!(sim.deployments[1].stored.contains(&sim.written[0]));
    sim.advance(1_100);
    assert_eq!(sim.online_at(), Some(1));
    assert_eq!(
        sim.opened_to[opened..],
        [0],
        "the return given up, no new connection"
    );
}

#[test]
fn an_attempt_nobody_answers_is_raced_by_the_other_deployment_after_a_second() {
    let mut sim = Sim::new(false);
    assert_eq!(sim.online_at(), Some(0));
    // The primary's network starts swallowing everything, and the client happens to connect
    // anew (new credentials): the attempt to the primary hangs, as a black hole's does.
    sim.deployments[0].frozen = true;
    let opened = sim.opened_to.len();
    sim.link.reconnect(sim.now);
    sim.settle();
    sim.write(1);
    sim.advance(900);
    assert_eq!(sim.online_at(), None, "still waiting on the primary alone");
    sim.advance(200);
    assert_eq!(
        sim.online_at(),
        Some(1),
        "the redundant deployment, tried beside it after a second, won"
    );
    assert_eq!(sim.opened_to[opened..], [0, 1]);
    assert!(sim.deployments[1].stored.contains(&sim.written[0]));
    assert!(
        sim.connections_to(0).is_empty(),
        "the slow attempt was closed"
    );
    // The redundant deployment redirects to the primary, the active one: the client goes back
    // only once the primary is no longer suspect, and keeps its connection until it is there.
    sim.deployments[0].frozen = false;
    sim.advance(3_000);
    assert_eq!(sim.online_at(), Some(1));
    assert_eq!(sim.opened_to[opened..], [0, 1]);
    sim.advance(3_000);
    assert_eq!(sim.online_at(), Some(0));
}

#[test]
fn a_link_waiting_out_its_backoff_tries_again_as_soon_as_the_network_is_back() {
    let mut sim = Sim::new(false);
    sim.write(1);
    // The device loses its network: to the link, both deployments refuse, round after round,
    // and the waits between rounds grow to seconds.
    sim.kill(0);
    sim.kill(1);
    sim.advance(20_000);
    assert_eq!(sim.online_at(), None);
    let Phase::Waiting { until } = sim.link.phase else {
        panic!("waiting between rounds, not {:?}", sim.link.phase);
    };
    assert!(
        until - sim.now > 1_000,
        "a long wait ahead: {} ms",
        until - sim.now
    );
    // The network is back: the browser says so, and the link connects at once.
    sim.deployments[0].up = true;
    sim.deployments[1].up = true;
    sim.link.network_back(sim.now);
    sim.settle();
    assert_eq!(sim.online_at(), Some(0), "the primary, no longer suspect");
    assert!(sim.deployments[0].stored.contains(&sim.written[0]));
}

#[test]
fn attempts_opened_into_a_dead_network_are_opened_anew_when_it_is_back() {
    let mut sim = Sim::new(false);
    // Both paths swallow everything (a network gone without an error), and the client happens
    // to connect anew: both attempts hang, as they would until their 4 s timeout.
    sim.deployments[0].frozen = true;
    sim.deployments[1].frozen = true;
    sim.link.reconnect(sim.now);
    sim.settle();
    sim.advance(1_500);
    assert_eq!(sim.online_at(), None);
    let opened = sim.opened_to.len();
    // The network is back; the hung attempts would never be answered.
    sim.deployments[0].frozen = false;
    sim.deployments[1].frozen = false;
    sim.link.network_back(sim.now);
    sim.settle();
    assert_eq!(
        sim.online_at(),
        Some(0),
        "a fresh attempt, welcomed at once"
    );
    assert_eq!(sim.opened_to[opened..], [0]);
}

#[test]
fn an_online_link_checks_its_connection_when_the_network_is_back() {
    let mut sim = Sim::new(false);
    // Just after a heartbeat was answered, so the idle threshold would take 2.5 s from here.
    sim.advance(1_000);
    // The device moved to another network: the old connection is silently dead.
    sim.deployments[0].frozen = true;
    sim.link.network_back(sim.now);
    sim.settle();
    let checked = sim.now;
    sim.advance(1_400);
    assert_eq!(sim.online_at(), Some(0), "1.5 s for the answer to the ping");
    sim.advance(200);
    assert_eq!(sim.online_at(), Some(1), "left without the idle 2.5 s");
    assert!(sim.now - checked <= 1_600);
    // A connection that answers is kept, and the chat counts as idle again after it.
    let mut sim = Sim::new(false);
    sim.link.network_back(sim.now);
    sim.settle();
    sim.advance(5_000);
    assert_eq!(sim.online_at(), Some(0));
    assert_eq!(sim.opened_to, [0]);
}

mod schedules {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Fault {
        Write,
        Kill(usize),
        /// The deployment closes every connection (a restart behind a load balancer, a proxy
        /// timeout) but stays up.
        Drop(usize),
        /// The data centre is lost: the deployment dies and comes back with an empty database,
        /// refilled only by replication from the other one and by clients' outboxes.
        Destroy(usize),
        /// The deployment shuts down for an upgrade: `draining` to every client, then down.
        Drain(usize),
        Restart(usize),
        Freeze(usize),
        Thaw(usize),
        CutReplication,
        HealReplication,
        Decide(usize),
        ModeratorDown,
        ModeratorUp,
        DuplicateAcks(bool),
        Wait(u64),
    }

    fn fault() -> impl Strategy<Value = Fault> {
        prop_oneof![
            4 => Just(Fault::Write),
            1 => (0..2usize).prop_map(Fault::Kill),
            1 => (0..2usize).prop_map(Fault::Destroy),
            1 => (0..2usize).prop_map(Fault::Drop),
            1 => (0..2usize).prop_map(Fault::Drain),
            1 => (0..2usize).prop_map(Fault::Restart),
            1 => (0..2usize).prop_map(Fault::Freeze),
            1 => (0..2usize).prop_map(Fault::Thaw),
            1 => Just(Fault::CutReplication),
            1 => Just(Fault::HealReplication),
            1 => (0..2usize).prop_map(Fault::Decide),
            1 => Just(Fault::ModeratorDown),
            1 => Just(Fault::ModeratorUp),
            1 => any::<bool>().prop_map(Fault::DuplicateAcks),
            2 => (0..4_000u64).prop_map(Fault::Wait),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn every_message_ends_on_both_deployments_and_leaves_the_outbox(
            faults in proptest::collection::vec(fault(), 1..60)
        ) {
            let mut sim = Sim::new(true);
            let mut n = 0;
            let mut destroyed = false;
            for fault in faults {
                match fault {
                    Fault::Write => { n += 1; sim.write(n); }
                    Fault::Kill(d) => sim.kill(d),
                    Fault::Drop(d) => sim.drop_connections(d),
                    // One data centre may be lost; losing both after replication is beyond any
                    // promise, so a second loss is only a crash.
                    Fault::Destroy(d) => {
                        sim.kill(d);
                        if !destroyed {
                            destroyed = true;
                            sim.deployments[d].stored.clear();
                        }
                    }
                    Fault::Drain(d) => sim.drain(d),
                    Fault::Restart(d) => sim.deployments[d].up = true,
                    Fault::Freeze(d) => sim.deployments[d].frozen = true,
                    Fault::Thaw(d) => sim.thaw(d),
                    Fault::CutReplication => sim.replicating = false,
                    Fault::HealReplication => sim.replicating = true,
                    Fault::Decide(d) => sim.decide(d),
                    Fault::ModeratorDown => sim.moderator_up = false,
                    Fault::ModeratorUp => sim.moderator_up = true,
                    Fault::DuplicateAcks(on) => sim.duplicate_acks = on,
                    Fault::Wait(ms) => sim.advance(ms),
                }
            }
            // Heal everything; the moderator may even name a deployment it should not.
            for d in 0..2 {
                sim.deployments[d].up = true;
                sim.thaw(d);
            }
            sim.replicating = true;
            sim.moderator_up = true;
            sim.advance(60_000);
            prop_assert!(sim.online_at().is_some(), "the client reconnected");
            prop_assert!(sim.link.outbox().is_empty(), "outbox drained: {:?}", sim.link.outbox());
            prop_assert!(sim.everything_on_both());
            // No id was invented: the deployments hold exactly the messages written.
            let written: BTreeSet<_> = sim.written.iter().copied().collect();
            prop_assert_eq!(&sim.deployments[0].stored, &written);
            prop_assert_eq!(&sim.deployments[1].stored, &written);
        }
    }
}

/// The link's policy for a refused message, the same in every client: a definitive refusal takes
/// the message out of the outbox and says so once; a refusal a later attempt can cure keeps it.
#[test]
fn a_definitive_refusal_leaves_the_outbox_and_a_curable_one_keeps_the_message() {
    let mut sim = Sim::new(false);
    sim.replicating = false;
    let conn = *sim.connections.keys().next().expect("online");
    let (kept, refused) = (message(1), message(2));
    for m in [&kept, &refused] {
        sim.link.send_message(sim.now, m.clone());
    }
    while sim.link.poll_action().is_some() {}
    while sim.link.poll_event().is_some() {}
    let error = |code, id| ServerFrame::Error {
        code,
        message: "refused".into(),
        message_id: Some(id),
    };
    sim.link
        .received(conn, sim.now, error(ErrorCode::Internal, kept.message_id));
    sim.link.received(
        conn,
        sim.now,
        error(ErrorCode::TooLarge, refused.message_id),
    );
    let events: Vec<Event> = std::iter::from_fn(|| sim.link.poll_event()).collect();
    assert!(
        matches!(
            &events[0],
            Event::Frame(ServerFrame::Error {
                code: ErrorCode::Internal,
                ..
            })
        ),
        "{events:?}"
    );
    assert!(matches!(events[1], Event::OutboxChanged), "{events:?}");
    assert!(
        matches!(&events[2], Event::Refused { message, code: ErrorCode::TooLarge, reason }
            if *message == refused && reason == "refused"),
        "{events:?}"
    );
    assert_eq!(events.len(), 3);
    let pending: Vec<_> = sim
        .link
        .outbox()
        .pending()
        .iter()
        .map(|m| m.message_id)
        .collect();
    assert_eq!(pending, vec![kept.message_id]);
    // A repeated refusal of a message no longer held is not reported twice.
    sim.link.received(
        conn,
        sim.now,
        error(ErrorCode::TooLarge, refused.message_id),
    );
    assert!(sim.link.poll_event().is_none());
}
