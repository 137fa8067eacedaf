//! The connection to the pair of deployments, as a sans-IO state machine shared by the widget, the
//! console and the native client. It decides where to connect, notices when a link is dead,
//! follows redirects, and keeps the outbox until each message is on both deployments.
//!
//! The driver owns the sockets, the HTTP request to the moderator, the clock and the storage. It
//! feeds in what happens ([`Link::start`], [`Link::moderator_answered`], [`Link::opened`],
//! [`Link::received`], [`Link::closed`], [`Link::handle_timeout`]) and after each call carries
//! out [`Link::poll_action`] until it is empty, hands [`Link::poll_event`] to the app, and calls
//! [`Link::handle_timeout`] when [`Link::poll_timeout`] says so.
//!
//! **Where to connect.** Each round asks the moderator (if there is one) with a short deadline;
//! its answer, else the last known active deployment, else the primary, else the redundant one is
//! tried. A deployment that fails (refused, closed before its welcome, silent) makes the link try
//! the other at once; when both failed, it waits (exponential backoff with jitter) and starts a
//! new round. An attempt not welcomed within a second gets the other deployment tried beside it,
//! and the first welcome wins (a black-holed network never answers, and each such attempt used
//! to cost the whole connect timeout). A `redirect` from a deployment is followed at once, except
//! to a deployment that failed us moments ago: then it is followed when that suspicion expires.
//! A switch (a redirect, a return) keeps the working connection until the new one is welcomed,
//! and gives up the new one if it is not within a second (see [`probe`]). A `draining` frame
//! (the deployment is shutting down) counts as a failure of that deployment, said before its
//! sockets close: the other is tried at once. A client that fled the
//! deployment believed active asks the moderator again after a while (5 s, doubling after each
//! failed return) and goes back if it still names it: a deployment back before the moderator
//! noticed it was gone changes no decision, so no redirect would bring the client back. When the
//! device's network comes back ([`Link::network_back`]), what failed while it was gone no longer
//! counts: the link tries at once, or checks the connection it has.
//!
//! **Liveness.** While online the link sends `ping` whenever it has sent nothing for
//! `heartbeat_ms`, and declares the link dead when nothing at all arrived for `silence_ms`, which
//! catches a frozen server or a black-holed network that never closes the socket. While the chat
//! is active (a message written or received within `active_window_ms`, or one sent and waiting
//! for its `ack`), both are shorter (`active_heartbeat_ms`, `active_silence_ms`; a wait for an
//! `ack` counts from its start, not from the last frame received): a healthy deployment
//! acknowledges within milliseconds and answers pings even while its disk is slow, so a chat in
//! progress leaves a frozen deployment sooner, and an idle link pays nothing for it.
//!
//! **The outbox.** Every message written goes into the outbox first, and is sent at once if the
//! link is online. After every welcome the whole outbox is sent again (same ids, stored once). A
//! message leaves the outbox on `replicated` (it is on both deployments) or, from a deployment
//! that does not replicate, on `ack`. So losing a deployment before replication finished loses
//! nothing: the message is still in the outbox and goes to the other one.

use crate::outbox::{Outbox, PendingMessage};
use crate::Backoff;
use protocol::moderation::ActiveDeployment;
use protocol::{Auth, ClientFrame, MessageId, ServerFrame, Session};
use std::collections::VecDeque;

mod frames;
mod interface;
mod probe;
mod timers;

use probe::Probe;

pub use interface::{Action, Event, KnownActive, LinkConfig, LinkStatus};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    Asking {
        until: u64,
    },
    Connecting {
        conn: u64,
        target: usize,
        until: u64,
    },
    Online {
        conn: u64,
        target: usize,
        last_rx: u64,
        last_tx: u64,
    },
    Waiting {
        until: u64,
    },
}

/// The state machine; see the module documentation.
pub struct Link {
    config: LinkConfig,
    auth: Auth,
    page_url: Option<String>,
    /// What a widget says of its browser in every `hello`.
    context: Option<protocol::visitor::VisitorContext>,
    outbox: Outbox,
    /// Messages acknowledged by a replicating deployment and not yet replicated, each once. A
    /// list: it holds at most what the outbox holds, and an ordered set's code weighed more in
    /// the widget's download than anything it saves here.
    acked: Vec<MessageId>,
    /// Whether the deployment of the current connection sends `replicated`.
    replicates: bool,
    phase: Phase,
    next_conn: u64,
    /// Failures in the current round (a round tries each deployment once).
    round_failures: u32,
    backoff: Backoff,
    known: Option<KnownActive>,
    followed_epoch: u64,
    deferred_redirect: Option<KnownActive>,
    /// While online elsewhere than the known active deployment: when to ask the moderator again
    /// whether to go back. A deployment back before the moderator noticed it was gone changes no
    /// decision, so no redirect would ever bring the client back.
    recheck_at: Option<u64>,
    /// Between two such questions, in ms: doubles (up to a minute) each time going back failed,
    /// so a moderator naming a dead deployment costs a blip now and then, not a flicker.
    recheck_interval_ms: u64,
    /// Whether a moderator request made while online is in flight.
    rechecking: bool,
    /// Whether the current connection attempt is such a return.
    returning: bool,
    suspect_until: Vec<u64>,
    /// A second connection attempt beside the current one (see [`probe`]).
    probe: Option<Probe>,
    /// While connecting: when to try the other deployment beside the attempt under way.
    race_at: Option<u64>,
    last_welcomed_by: Option<usize>,
    nonce: u64,
    /// Since when a message sent on the current connection has waited for its `ack`, if one has.
    awaiting_since: Option<u64>,
    /// When a message was last written or received, if ever.
    last_activity: Option<u64>,
    rng: u64,
    actions: VecDeque<Action>,
    events: VecDeque<Event>,
    status: LinkStatus,
}

/// The moderator's `/v1/active` URL.
fn active_url(base: &str) -> String {
    format!(
        "{}{}",
        base.trim_end_matches('/'),
        protocol::moderation::ACTIVE_PATH
    )
}

/// `https://a.example/` and `https://a.example` name the same deployment.
fn same_base(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

impl Link {
    /// A link that will authenticate with `auth`, resend `outbox`, and start from `known`.
    pub fn new(
        config: LinkConfig,
        auth: Auth,
        page_url: Option<String>,
        outbox: Outbox,
        known: Option<KnownActive>,
    ) -> Link {
        assert!(
            !config.deployments.is_empty(),
            "a link needs at least one deployment"
        );
        let known = known.filter(|k| k.deployment < config.deployments.len());
        Link {
            suspect_until: vec![0; config.deployments.len()],
            probe: None,
            race_at: None,
            rng: config.seed | 1,
            awaiting_since: None,
            last_activity: None,
            followed_epoch: known.map_or(0, |k| k.epoch),
            config,
            auth,
            page_url,
            context: None,
            outbox,
            acked: Vec::new(),
            replicates: false,
            phase: Phase::Idle,
            next_conn: 0,
            round_failures: 0,
            backoff: Backoff::default(),
            known,
            deferred_redirect: None,
            recheck_at: None,
            recheck_interval_ms: 0,
            rechecking: false,
            returning: false,
            last_welcomed_by: None,
            nonce: 0,
            actions: VecDeque::new(),
            events: VecDeque::new(),
            status: LinkStatus::Idle,
        }
    }

    /// Replaces the credentials used from the next `hello` on (a visitor whose token was refused
    /// starts afresh).
    pub fn set_auth(&mut self, auth: Auth) {
        self.auth = auth;
    }

    /// Says `hello` again with the credentials set now (a visitor who signed in or out): the
    /// connection, if any, is closed and one to the same deployment opened at once. While no
    /// connection is up or opening, the next `hello` carries them anyway.
    pub fn reconnect(&mut self, now: u64) {
        if let Phase::Connecting { conn, target, .. } | Phase::Online { conn, target, .. } =
            self.phase
        {
            self.abandon_probe();
            self.actions.push_back(Action::Close { conn });
            self.connect_to(target, now);
        }
    }

    /// The device's network is back (the browser's `online` event). What the link did while it
    /// was gone says nothing about the deployments, so it stops acting on it: a link waiting out
    /// its backoff tries again at once, and attempts opened into the dead network (which may
    /// hang until their timeout) are opened anew, with no deployment held suspect. A link that
    /// is online checks its connection, which may not have survived a change of network: a
    /// `ping` now, and the connection is given up if nothing answers within
    /// `active_silence_ms`.
    pub fn network_back(&mut self, now: u64) {
        self.suspect_until.fill(0);
        self.backoff.reset();
        match self.phase {
            Phase::Waiting { .. } => self.begin_round(now),
            Phase::Connecting { conn, target, .. } => {
                self.abandon_probe();
                self.actions.push_back(Action::Close { conn });
                self.connect_to(target, now);
            }
            Phase::Online { conn, .. } => {
                self.awaiting_since = Some(now);
                self.nonce += 1;
                self.send_on(conn, now, ClientFrame::Ping { nonce: self.nonce });
            }
            Phase::Idle | Phase::Asking { .. } => {}
        }
    }

    /// Starts looking for a deployment.
    pub fn start(&mut self, now: u64) {
        if self.phase == Phase::Idle {
            self.begin_round(now);
        }
    }

    /// Stops for good (an outdated client, an unknown site): closes the connection and does
    /// nothing more.
    pub fn stop(&mut self) {
        self.abandon_probe();
        if let Some(conn) = self.current_conn() {
            self.actions.push_back(Action::Close { conn });
        }
        self.phase = Phase::Idle;
        self.set_status(LinkStatus::Idle);
    }

    /// The moderator's answer (or `None`: unreachable, slow, unreadable).
    pub fn moderator_answered(&mut self, now: u64, answer: Option<ActiveDeployment>) {
        if let Phase::Online { target, .. } = self.phase {
            if !std::mem::take(&mut self.rechecking) {
                return;
            }
            if let Some(answer) = answer {
                if self.learn(answer.epoch, &answer.url).is_some() {
                    self.followed_epoch = self.followed_epoch.max(answer.epoch);
                }
            }
            if let Some(known) = self.known.filter(|k| k.deployment != target) {
                if !self.suspect(known.deployment, now) {
                    self.returning = true;
                    self.switch_to(known.deployment, now);
                }
            }
            return;
        }
        if !matches!(self.phase, Phase::Asking { .. }) {
            return;
        }
        if let Some(answer) = answer {
            if self.learn(answer.epoch, &answer.url).is_some() {
                // Connecting where the moderator says follows its decision: a redirect of the
                // same epoch (from a deployment we fled to when this one failed) is stale.
                self.followed_epoch = self.followed_epoch.max(answer.epoch);
            }
        }
        let target = self.choose(now);
        self.connect_to(target, now);
    }

    /// Sends `context` (the visitor's browser, for operators) in every `hello` from now on.
    pub fn set_context(&mut self, context: Option<protocol::visitor::VisitorContext>) {
        self.context = context;
    }

    /// The WebSocket `conn` is open.
    pub fn opened(&mut self, conn: u64, _now: u64) {
        let connecting =
            matches!(self.phase, Phase::Connecting { conn: current, .. } if current == conn);
        if connecting || self.probe.is_some_and(|p| p.conn == conn) {
            let hello = ClientFrame::Hello {
                protocol: protocol::PROTOCOL_VERSION,
                auth: self.auth.clone(),
                page_url: self.page_url.clone(),
                context: self.context.clone().map(Box::new),
            };
            self.actions.push_back(Action::Send { conn, frame: hello });
        }
    }

    /// A frame arrived on `conn`.
    pub fn received(&mut self, conn: u64, now: u64, frame: ServerFrame) {
        if self.probe.is_some_and(|p| p.conn == conn) {
            self.probe_received(now, frame);
            return;
        }
        match self.phase {
            Phase::Connecting {
                conn: current,
                target,
                ..
            } if current == conn => match frame {
                ServerFrame::Welcome { .. } => self.welcomed(conn, target, now, frame),
                ServerFrame::Pong { .. } | ServerFrame::Redirect { .. } => {}
                ServerFrame::Draining => self.leave_draining(conn, now),
                other => self.events.push_back(Event::Frame(other)),
            },
            Phase::Online {
                conn: current,
                target,
                last_tx,
                ..
            } if current == conn => {
                self.phase = Phase::Online {
                    conn,
                    target,
                    last_rx: now,
                    last_tx,
                };
                if matches!(frame, ServerFrame::Message { .. }) {
                    self.last_activity = Some(now);
                }
                self.on_frame(conn, target, now, frame);
                if !self.awaits_ack() {
                    self.awaiting_since = None;
                }
            }
            _ => {}
        }
    }

    /// Connection `conn` closed or failed to open.
    pub fn closed(&mut self, conn: u64, now: u64) {
        if self.probe.is_some_and(|p| p.conn == conn) {
            self.probe_failed(now);
        } else if self.current_conn() == Some(conn) {
            self.fail(now);
        }
    }

    /// Writes a message: into the outbox, and onto the link if it is online.
    pub fn send_message(&mut self, now: u64, message: PendingMessage) {
        let frame = message.send_frame();
        self.outbox.push(message);
        self.events.push_back(Event::OutboxChanged);
        if let Phase::Online { conn, .. } = self.phase {
            self.send_on(conn, now, frame);
        }
    }

    /// Sends the outbox's message `id` again (after the app moved it to another conversation).
    pub fn resend(&mut self, now: u64, id: MessageId) {
        let frame = self
            .outbox
            .pending()
            .iter()
            .find(|m| m.message_id == id)
            .map(PendingMessage::send_frame);
        if let (Some(frame), Phase::Online { conn, .. }) = (frame, self.phase) {
            self.send_on(conn, now, frame);
        }
    }

    /// Sends a frame that is not worth keeping (typing, sync, accept, close) if online; returns
    /// whether it went out.
    pub fn send(&mut self, now: u64, frame: ClientFrame) -> bool {
        match self.phase {
            Phase::Online { conn, .. } => {
                self.send_on(conn, now, frame);
                true
            }
            _ => false,
        }
    }

    /// The next thing for the driver to do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next thing for the app to hear.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The outbox, for display and persistence.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// The outbox, for the app's corrections (moving a message to a new conversation, dropping a
    /// refused one). Persist it afterwards.
    pub fn outbox_mut(&mut self) -> &mut Outbox {
        &mut self.outbox
    }

    /// Whether a deployment has acknowledged message `id` (it may still wait for replication).
    pub fn is_acknowledged(&self, id: MessageId) -> bool {
        self.acked.contains(&id) || !self.outbox.pending().iter().any(|m| m.message_id == id)
    }

    /// The state, for the connection indicator.
    pub fn status(&self) -> LinkStatus {
        self.status
    }

    /// The newest decision known, to persist.
    pub fn known_active(&self) -> Option<KnownActive> {
        self.known
    }

    fn current_conn(&self) -> Option<u64> {
        match self.phase {
            Phase::Connecting { conn, .. } | Phase::Online { conn, .. } => Some(conn),
            _ => None,
        }
    }

    fn set_status(&mut self, status: LinkStatus) {
        if self.status != status {
            self.status = status;
            self.events.push_back(Event::Status(status));
        }
    }

    fn send_on(&mut self, conn: u64, now: u64, frame: ClientFrame) {
        if matches!(frame, ClientFrame::Send { .. }) {
            self.last_activity = Some(now);
            self.awaiting_since.get_or_insert(now);
        }
        if let Phase::Online {
            conn: current,
            target,
            last_rx,
            ..
        } = self.phase
        {
            if current == conn {
                self.phase = Phase::Online {
                    conn,
                    target,
                    last_rx,
                    last_tx: now,
                };
            }
        }
        self.actions.push_back(Action::Send { conn, frame });
    }

    fn index_of(&self, url: &str) -> Option<usize> {
        self.config
            .deployments
            .iter()
            .position(|d| same_base(d, url))
    }

    /// Takes a decision (from the moderator or a redirect) into account if it is news.
    fn learn(&mut self, epoch: u64, url: &str) -> Option<KnownActive> {
        let deployment = self.index_of(url)?;
        if self.known.is_some_and(|k| k.epoch > epoch) {
            return None;
        }
        let known = KnownActive { epoch, deployment };
        self.known = Some(known);
        if self.deferred_redirect.is_some_and(|d| d.epoch < epoch) {
            self.deferred_redirect = None;
        }
        Some(known)
    }

    fn suspect(&self, deployment: usize, now: u64) -> bool {
        now < self.suspect_until[deployment]
    }

    /// The moderator's answer or the last known active deployment, then the primary, then the
    /// redundant one, skipping deployments that failed moments ago when another remains.
    fn choose(&self, now: u64) -> usize {
        let preferred = self.known.map(|k| k.deployment);
        preferred
            .into_iter()
            .chain(0..self.config.deployments.len())
            .find(|&d| !self.suspect(d, now))
            .or(preferred)
            .unwrap_or(0)
    }

    pub(super) fn other(&self, deployment: usize) -> Option<usize> {
        let count = self.config.deployments.len();
        (count > 1).then(|| (deployment + 1) % count)
    }

    fn begin_round(&mut self, now: u64) {
        self.round_failures = 0;
        self.set_status(LinkStatus::Connecting);
        match &self.config.moderator {
            Some(base) => {
                let url = active_url(base);
                self.actions.push_back(Action::AskModerator {
                    url,
                    timeout_ms: self.config.moderator_timeout_ms,
                });
                self.phase = Phase::Asking {
                    until: now + self.config.moderator_timeout_ms,
                };
            }
            None => {
                let target = self.choose(now);
                self.connect_to(target, now);
            }
        }
    }

    fn connect_to(&mut self, target: usize, now: u64) {
        self.next_conn += 1;
        let conn = self.next_conn;
        let url = protocol::websocket_url(&self.config.deployments[target], protocol::WS_PATH);
        self.actions.push_back(Action::Open { conn, url });
        self.phase = Phase::Connecting {
            conn,
            target,
            until: now + self.config.connect_timeout_ms,
        };
        self.race_at = (self.config.deployments.len() > 1).then(|| now + self.race_after_ms());
        self.set_status(LinkStatus::Connecting);
    }

    fn fail(&mut self, now: u64) {
        let failed = match self.phase {
            Phase::Connecting { target, .. } | Phase::Online { target, .. } => target,
            _ => return,
        };
        self.suspect_until[failed] = now + self.config.suspect_ms;
        self.round_failures += 1;
        if self.promote_probe() {
            return;
        }
        match self.other(failed) {
            Some(other) if self.round_failures == 1 => self.connect_to(other, now),
            _ => {
                let jitter = self.next_jitter();
                let delay = self.backoff.next_delay_ms(jitter);
                self.phase = Phase::Waiting { until: now + delay };
                self.set_status(LinkStatus::Offline);
            }
        }
    }

    fn next_jitter(&mut self) -> f64 {
        // xorshift64: deterministic for tests, different per client through the seed.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests;
