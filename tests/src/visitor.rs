//! Native visitors and operators for process tests: the real client ([`native_client::Client`],
//! the client core on tokio) plus a record of what happened to it: every message written, every
//! acknowledgement, every message received, the conversations it heard of, and which deployment
//! welcomed it each time.

use client_core::Transcript;
use client_core::{Cursors, Event};
use daemon::http::{HttpClient, Method};
use native_client::{Client, ClientOptions, Trace};
use protocol::{
    Auth, ClientFrame, ConversationId, ConversationSummary, LoginResponse, Message, MessageId,
    ServerFrame, Session,
};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// A visitor or an operator, and its record.
pub struct Visitor {
    client: Client,
    /// The deployments, primary first, as configured.
    pub deployments: Vec<String>,
    /// Every message written, in order.
    pub written: Vec<MessageId>,
    /// Every message a deployment acknowledged (stored durably there).
    pub acked: BTreeSet<MessageId>,
    /// The deployment (base URL) of every welcome, in order.
    pub welcomed_by: Vec<String>,
    /// Every message received from others (or from itself elsewhere), in arrival order.
    pub received: Vec<Message>,
    /// The conversations heard of (an operator's inbox), latest summary of each.
    pub conversations: Vec<ConversationSummary>,
    /// When each message was written and when its first acknowledgement arrived.
    pub timings: BTreeMap<MessageId, (Instant, Option<Instant>)>,
    /// Messages a deployment refused for good (an error naming them).
    pub refused: BTreeSet<MessageId>,
    /// What the client would show of each conversation it heard messages of: acknowledgements,
    /// live messages and history merged by id, as the widget and the console merge them.
    pub transcripts: BTreeMap<ConversationId, Transcript>,
    /// When set, every welcome is followed by a `sync` of every conversation in `transcripts`
    /// from what was received of it before from the welcoming deployment's message log, as the
    /// console does for its open panes.
    pub resync_on_welcome: bool,
    /// What was received of each conversation, per deployment and message log.
    cursors: Cursors,
    /// How the client was started, to start it again from its state file.
    options: ClientOptions,
}

impl Visitor {
    /// Starts a visitor of `site` that knows both deployments and, if given, the moderator.
    pub fn start(site: &str, deployments: [String; 2], moderator: Option<String>) -> Visitor {
        Self::start_with(site, deployments, moderator, |_| {})
    }

    /// Like [`Visitor::start`], with the options (tuning, state file) adjusted by `tune`.
    pub fn start_with(
        site: &str,
        deployments: [String; 2],
        moderator: Option<String>,
        tune: impl FnOnce(&mut ClientOptions),
    ) -> Visitor {
        let mut options = ClientOptions::visitor(site, deployments.to_vec(), moderator);
        tune(&mut options);
        Self::with_options(options, deployments)
    }

    /// Logs `email` in on `deployments[0]` over HTTP and starts an operator client with the session.
    pub async fn operator(
        email: &str,
        password: &str,
        deployments: [String; 2],
        moderator: Option<String>,
    ) -> Visitor {
        let body = serde_json::json!({ "email": email, "password": password }).to_string();
        let answer = HttpClient::default()
            .call(
                Method::POST,
                &format!("{}/v1/operators/login", deployments[0]),
                None,
                Some(body.into_bytes()),
                Duration::from_secs(30),
            )
            .await
            .expect("the login answers");
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        let login: LoginResponse = serde_json::from_slice(&answer.body).unwrap();
        let mut options = ClientOptions::visitor("", deployments.to_vec(), moderator);
        options.auth = Auth::Operator {
            token: login.token,
            presence: None,
        };
        Self::with_options(options, deployments)
    }

    /// The test admin's console as a native client, online for every site: a widget shows its
    /// composer (not the offline form) while it runs. Tests about the chat itself start one
    /// before the visitor writes, as a staffed site would have.
    pub async fn standby(deployments: [String; 2], moderator: Option<String>) -> Visitor {
        use crate::deployment::{ADMIN_EMAIL, ADMIN_PASSWORD};
        Self::operator(ADMIN_EMAIL, ADMIN_PASSWORD, deployments, moderator).await
    }

    fn with_options(mut options: ClientOptions, deployments: [String; 2]) -> Visitor {
        options.trace.get_or_insert_with(Trace::default);
        Visitor {
            client: Client::start(options.clone()),
            deployments: deployments.to_vec(),
            written: Vec::new(),
            acked: BTreeSet::new(),
            welcomed_by: Vec::new(),
            received: Vec::new(),
            conversations: Vec::new(),
            timings: BTreeMap::new(),
            refused: BTreeSet::new(),
            transcripts: BTreeMap::new(),
            resync_on_welcome: false,
            cursors: Cursors::default(),
            options,
        }
    }

    /// What the client's driver did and heard from `from` to `to` (see [`Trace`]).
    pub fn trace_between(&self, from: Instant, to: Instant) -> Vec<(Instant, String)> {
        self.options
            .trace
            .as_ref()
            .map_or_else(Vec::new, |trace| trace.between(from, to))
    }

    /// Stops the client and starts it again from its state file (like a reloaded page), keeping
    /// the record.
    pub fn restart(&mut self) {
        self.client = Client::start(self.options.clone());
    }

    /// Asks the deployment for every message of every conversation in `transcripts`.
    pub fn resync(&self) {
        for &conversation_id in self.transcripts.keys() {
            self.client.send(ClientFrame::Sync {
                conversation_id,
                after_seq: 0,
            });
        }
    }

    fn merge(&mut self, message: &Message) {
        self.transcripts
            .entry(message.conversation_id)
            .or_insert_with(|| Transcript::new(Some(message.conversation_id)))
            .apply_stored(message);
    }

    fn note_conversation(&mut self, summary: ConversationSummary) {
        self.conversations.retain(|c| c.id != summary.id);
        self.conversations.push(summary);
    }

    fn absorb(&mut self, event: Event) {
        match event {
            Event::Welcome {
                deployment, frame, ..
            } => {
                self.welcomed_by.push(self.deployments[deployment].clone());
                self.cursors.welcomed(deployment, &frame);
                if self.resync_on_welcome {
                    for &conversation_id in self.transcripts.keys() {
                        self.client.send(self.cursors.sync(conversation_id));
                    }
                }
                if let ServerFrame::Welcome {
                    session: Session::Operator { inbox, .. },
                    ..
                } = frame
                {
                    for summary in inbox {
                        self.note_conversation(summary);
                    }
                }
            }
            Event::Frame(ServerFrame::Ack {
                message_id,
                message,
            }) => {
                self.acked.insert(message_id);
                if let Some((_, acked_at)) = self.timings.get_mut(&message_id) {
                    acked_at.get_or_insert_with(Instant::now);
                }
                self.cursors.received(&message);
                self.merge(&message);
            }
            Event::Frame(ServerFrame::Message { message }) => {
                self.cursors.received(&message);
                self.merge(&message);
                self.received.push(message);
            }
            Event::Frame(ServerFrame::History {
                conversation_id,
                messages,
            }) => {
                if let Some(next) = self.cursors.history(conversation_id, &messages) {
                    self.client.send(next);
                }
                for message in &messages {
                    self.merge(message);
                }
            }
            Event::Frame(ServerFrame::Error {
                message_id: Some(id),
                ..
            }) => {
                self.refused.insert(id);
            }
            Event::Refused { message, .. } => {
                self.refused.insert(message.message_id);
            }
            Event::Frame(ServerFrame::Conversation { conversation }) => {
                self.note_conversation(conversation)
            }
            _ => {}
        }
    }

    /// Handles events for `duration`.
    pub async fn pump(&mut self, duration: Duration) {
        let deadline = tokio::time::Instant::now() + duration;
        loop {
            tokio::select! {
                event = self.client.next_event() => match event {
                    Some(event) => self.absorb(event),
                    None => return,
                },
                _ = tokio::time::sleep_until(deadline) => return,
            }
        }
    }

    /// Writes `count` messages, one every `interval`, handling events meanwhile.
    pub async fn write_paced(&mut self, count: usize, interval: Duration) {
        for _ in 0..count {
            self.write(&format!("message {}", self.written.len()));
            self.pump(interval).await;
        }
    }

    /// Writes one message to the client's own conversation; returns its id.
    pub fn write(&mut self, body: &str) -> MessageId {
        let conversation = self.client.conversation();
        self.write_to(conversation, body)
    }

    /// Writes one message to `conversation` (an operator's reply); returns its id.
    pub fn write_to(&mut self, conversation: ConversationId, body: &str) -> MessageId {
        let id = self.client.write_to(conversation, body);
        self.written.push(id);
        self.timings.insert(id, (Instant::now(), None));
        self.transcripts
            .entry(conversation)
            .or_insert_with(|| Transcript::new(Some(conversation)));
        id
    }

    /// Sends a frame that is not kept while offline (accept, close, typing).
    pub fn send(&self, frame: ClientFrame) {
        self.client.send(frame);
    }

    /// Handles events until `check` holds, at most `limit`; returns whether it held.
    pub async fn until(&mut self, limit: Duration, check: impl Fn(&Visitor) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        while !check(self) {
            if Instant::now() >= deadline {
                return false;
            }
            self.pump(Duration::from_millis(50)).await;
        }
        true
    }

    /// Waits until every message written was acknowledged, at most `limit`.
    pub async fn acknowledged(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while !self.written.iter().all(|id| self.acked.contains(id)) {
            if Instant::now() >= deadline {
                return false;
            }
            self.pump(Duration::from_millis(50)).await;
        }
        true
    }

    /// Waits until the outbox is empty (every message on both deployments), at most `limit`.
    pub async fn drained(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while self.client.outbox_len() > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            self.pump(Duration::from_millis(50)).await;
        }
        true
    }

    /// The conversation a visitor writes to.
    pub fn conversation(&self) -> protocol::ConversationId {
        self.client.conversation()
    }

    /// Messages not yet on both deployments.
    pub fn outbox_len(&self) -> usize {
        self.client.outbox_len()
    }
}
