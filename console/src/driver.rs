//! The console's connection: the client core's [`Link`] (in a [`LinkHost`]) while logged in,
//! keeping the inbox and the open conversations live. The link knows both deployments and the
//! moderator (from `/v1/client-config`), so when the deployment that served the console dies the
//! console carries on at the other one. Replies go through the link's persisted outbox, like the
//! widget's messages, so an operator's reply survives a lost connection, a reload or a failover.

use crate::api;
use crate::state::{ConnectionState, ConsoleState};
use browser::link::{Input, LinkHost};
use browser::{monotonic_ms, new_message_id, LocalStore};
use client_core::{Event, Link, LinkConfig, LinkStatus, Outbox, PendingMessage, Transcript};
use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::{
    Auth, AuthorKind, ClientConfig, ClientFrame, ConversationId, ConversationState,
    ConversationSummary, ErrorCode, ServerFrame, Session,
};
use std::cell::RefCell;
use std::collections::BTreeMap;

thread_local! {
    /// The one driver of this page. Browser callbacks reach it through [`with_driver`].
    static DRIVER: RefCell<Option<Driver>> = const { RefCell::new(None) };
}

fn with_driver<R>(f: impl FnOnce(&mut Driver) -> R) -> Option<R> {
    DRIVER.with(|cell| cell.borrow_mut().as_mut().map(f))
}

/// How browser callbacks reach the link: feed it, then show what it says.
fn deliver(input: Input) {
    with_driver(|d| {
        if let Some(host) = &mut d.host {
            host.input(input);
            d.drain();
        }
    });
}

/// Creates the driver, learns where the deployments are, and connects when a session token was
/// kept from an earlier visit.
pub fn start(state: ConsoleState) {
    let store = LocalStore::new("livechat.console.");
    let token = store.get("token");
    let driver = Driver {
        state,
        store,
        token,
        config: None,
        host: None,
        seq_here: BTreeMap::new(),
        typing_sent: Default::default(),
    };
    DRIVER.with(|cell| *cell.borrow_mut() = Some(driver));
    with_driver(|d| {
        if d.token.is_some() {
            d.state.logged_in.set(true);
            d.state.connection.set(ConnectionState::Connecting);
        }
    });
    // Leptos's executor starts with the app's mount, after this: the browser's own runs now.
    wasm_bindgen_futures::spawn_local(async {
        let config = api::client_config().await;
        with_driver(|d| {
            d.config = Some(config);
            d.connect();
        });
    });
}

/// Logs in with the form's values and connects; a refusal is shown as the notice.
pub fn login(email: String, password: String) {
    spawn_local(async move {
        match api::login(email, password).await {
            Ok(response) => {
                with_driver(|d| {
                    d.store.set("token", Some(&response.token));
                    d.token = Some(response.token);
                    d.state.notice.set(None);
                    d.state.logged_in.set(true);
                    d.state.connection.set(ConnectionState::Connecting);
                    d.connect();
                });
            }
            Err(message) => with_driver(|d| d.state.notice.set(Some(message))).unwrap_or(()),
        }
    });
}

/// Ends the session here and on the server.
pub fn logout() {
    let token = with_driver(|d| d.forget_session()).flatten();
    if let Some(token) = token {
        spawn_local(async move { api::logout(&token).await });
    }
}

/// Opens a conversation in a pane (or leaves it open) and loads its messages.
pub fn open_conversation(summary: ConversationSummary) {
    with_driver(|d| d.open_conversation(summary));
}

/// Closes a pane (the conversation itself is untouched).
pub fn close_pane(id: ConversationId) {
    with_driver(|d| {
        d.state.open.update(|open| open.retain(|c| c.id != id));
        d.state.transcripts.update(|t| {
            t.remove(&id);
        });
    });
}

/// Takes a waiting conversation.
pub fn accept(id: ConversationId) {
    with_driver(|d| {
        d.send(ClientFrame::Accept {
            conversation_id: id,
        })
    });
}

/// Ends a conversation for both sides.
pub fn close_conversation(id: ConversationId) {
    with_driver(|d| {
        d.send(ClientFrame::Close {
            conversation_id: id,
        })
    });
}

/// Queues a reply; returns false when there was nothing to send.
pub fn reply(id: ConversationId, body: &str) -> bool {
    with_driver(|d| d.reply(id, body)).unwrap_or(false)
}

/// Tells the visitor the operator is typing: at most one notice every two seconds per
/// conversation, and one when the field is emptied.
pub fn typing(id: ConversationId, active: bool) {
    with_driver(|d| {
        let now = browser::now_ms();
        let last = d.typing_sent.get(&id).copied().unwrap_or(0);
        if active && now - last > 2_000 {
            d.typing_sent.insert(id, now);
            d.send(ClientFrame::Typing {
                conversation_id: id,
                typing: true,
            });
        } else if !active && last > 0 {
            d.typing_sent.remove(&id);
            d.send(ClientFrame::Typing {
                conversation_id: id,
                typing: false,
            });
        }
    });
}

struct Driver {
    /// What the UI renders.
    state: ConsoleState,
    /// The session token, the outbox and the last known active deployment in `localStorage`.
    store: LocalStore,
    /// The session token, while logged in.
    token: Option<String>,
    /// Where the deployments and the moderator are, once asked.
    config: Option<ClientConfig>,
    /// The link, while logged in.
    host: Option<LinkHost>,
    /// Per open conversation, the highest sequence number received from the deployment of the
    /// current welcome (sequence numbers are per deployment; cleared when the console moves).
    seq_here: BTreeMap<ConversationId, u64>,
    /// When a typing notice was last sent, per conversation (ms).
    typing_sent: BTreeMap<ConversationId, i64>,
}

impl Driver {
    /// Starts the link when there is both a session and a configuration.
    fn connect(&mut self) {
        let (Some(token), Some(config), None) = (&self.token, &self.config, &self.host) else {
            return;
        };
        let outbox: Outbox = self.store.get_json("outbox").unwrap_or_default();
        let link = Link::new(
            LinkConfig::new(
                config.deployments.clone(),
                config.moderator.clone(),
                browser::random_u64(),
            ),
            Auth::Operator {
                token: token.clone(),
            },
            None,
            outbox,
            self.store.get_json("active"),
        );
        let mut host = LinkHost::new(link, deliver);
        host.start();
        self.host = Some(host);
        self.drain();
    }

    fn outbox(&self) -> Option<&Outbox> {
        self.host.as_ref().map(|h| h.link.outbox())
    }

    /// Hands every event of the link to the UI, then sends what the handlers queued.
    fn drain(&mut self) {
        while let Some(event) = self.host.as_mut().and_then(|h| h.link.poll_event()) {
            match event {
                Event::Status(status) => self.show_status(status),
                Event::Welcome { frame, moved, .. } => self.on_welcome(frame, moved),
                Event::Frame(frame) => self.on_frame(frame),
                Event::OutboxChanged => {
                    if let Some(outbox) = self.outbox() {
                        self.store.set_json("outbox", outbox);
                    }
                }
            }
        }
        let Some(host) = &mut self.host else {
            return;
        };
        if let Some(known) = host.link.known_active() {
            self.store.set_json("active", &known);
            let deployments = &self.config.as_ref().expect("configured").deployments;
            self.state
                .moderator_view
                .set(deployments.get(known.deployment).cloned());
        }
        host.carry_out();
    }

    fn show_status(&mut self, status: LinkStatus) {
        let deployments = &self.config.as_ref().expect("configured").deployments;
        let (shown, deployment) = match status {
            LinkStatus::Online { deployment } => (
                ConnectionState::Online,
                deployments.get(deployment).cloned(),
            ),
            LinkStatus::Connecting | LinkStatus::Idle => (ConnectionState::Connecting, None),
            LinkStatus::Offline => (ConnectionState::Offline, None),
        };
        self.state.connection.set(shown);
        self.state.deployment.set(deployment);
    }

    fn forget_session(&mut self) -> Option<String> {
        let token = self.token.take();
        self.store.set("token", None);
        if let Some(mut host) = self.host.take() {
            host.link.stop();
            host.carry_out();
        }
        self.seq_here.clear();
        self.state.logged_in.set(false);
        self.state.operator.set(None);
        self.state.connection.set(ConnectionState::LoggedOut);
        self.state.deployment.set(None);
        self.state.inbox.set(Vec::new());
        self.state.open.set(Vec::new());
        self.state.transcripts.set(Default::default());
        token
    }

    /// Sends a frame that is not worth keeping (accept, close, typing, sync) if online.
    fn send(&mut self, frame: ClientFrame) {
        if let Some(host) = &mut self.host {
            host.link.send(monotonic_ms(), frame);
            host.carry_out();
        }
    }

    fn on_welcome(&mut self, frame: ServerFrame, moved: bool) {
        let ServerFrame::Welcome {
            session: Session::Operator { operator, inbox },
            ..
        } = frame
        else {
            return;
        };
        if moved {
            self.seq_here.clear();
        }
        self.state.operator.set(Some(operator));
        self.state.inbox.set(inbox);
        // Catch up on what the open panes missed: only what is new on the same deployment,
        // everything (merged by id) after a move.
        let open: Vec<_> = self
            .state
            .open
            .get_untracked()
            .iter()
            .map(|c| c.id)
            .collect();
        for id in open {
            let after_seq = self.seq_here.get(&id).copied().unwrap_or(0);
            self.send(ClientFrame::Sync {
                conversation_id: id,
                after_seq,
            });
        }
    }

    fn on_frame(&mut self, frame: ServerFrame) {
        match frame {
            ServerFrame::Ack { message, .. } => self.apply_messages(std::slice::from_ref(&message)),
            ServerFrame::Message { message } => {
                if message.author.kind == AuthorKind::Visitor {
                    self.state.visitor_typing.update(|t| {
                        t.remove(&message.conversation_id);
                    });
                }
                self.apply_messages(std::slice::from_ref(&message));
            }
            ServerFrame::History { messages, .. } => self.apply_messages(&messages),
            ServerFrame::Conversation { conversation } => self.apply_summary(conversation),
            ServerFrame::Typing {
                conversation_id,
                typing,
                ..
            } => {
                self.state.visitor_typing.update(|t| {
                    if typing {
                        t.insert(conversation_id, true);
                    } else {
                        t.remove(&conversation_id);
                    }
                });
            }
            ServerFrame::Error {
                code,
                message,
                message_id,
            } => self.on_error(code, message, message_id),
            // Welcomes, redirects, pongs and replication confirmations are the link's business.
            ServerFrame::Welcome { .. }
            | ServerFrame::Replicated { .. }
            | ServerFrame::Redirect { .. }
            | ServerFrame::Pong { .. } => {}
        }
    }

    fn on_error(
        &mut self,
        code: ErrorCode,
        message: String,
        message_id: Option<protocol::MessageId>,
    ) {
        let online = self
            .host
            .as_ref()
            .is_some_and(|h| matches!(h.link.status(), LinkStatus::Online { .. }));
        if code == ErrorCode::Unauthorized && !online {
            // The session expired or was revoked: back to the login form.
            self.forget_session();
            self.state
                .notice
                .set(Some("Your session has ended; please log in again.".into()));
            return;
        }
        if let (Some(id), Some(host)) = (message_id, &mut self.host) {
            if code != ErrorCode::Internal {
                host.link.outbox_mut().remove(id);
                self.store.set_json("outbox", host.link.outbox());
                self.state.transcripts.update(|all| {
                    for transcript in all.values_mut() {
                        transcript.remove_pending(id);
                    }
                });
            }
        }
        self.state.notice.set(Some(message));
    }

    fn apply_messages(&mut self, messages: &[protocol::Message]) {
        for message in messages {
            let seq = self.seq_here.entry(message.conversation_id).or_default();
            *seq = (*seq).max(message.seq);
        }
        self.state.transcripts.update(|all| {
            for message in messages {
                if let Some(transcript) = all.get_mut(&message.conversation_id) {
                    transcript.apply_stored(message);
                }
            }
        });
    }

    fn apply_summary(&mut self, summary: ConversationSummary) {
        self.state.inbox.update(|inbox| {
            inbox.retain(|c| c.id != summary.id);
            if summary.state != ConversationState::Closed {
                inbox.insert(0, summary.clone());
            }
        });
        self.state.open.update(|open| {
            for pane in open.iter_mut().filter(|c| c.id == summary.id) {
                *pane = summary.clone();
            }
        });
    }

    fn open_conversation(&mut self, summary: ConversationSummary) {
        let id = summary.id;
        if self
            .state
            .open
            .with_untracked(|open| open.iter().any(|c| c.id == id))
        {
            return;
        }
        self.state.open.update(|open| open.push(summary));
        let mut transcript = Transcript::new(Some(id));
        for message in self
            .outbox()
            .map(|o| o.pending().to_vec())
            .unwrap_or_default()
            .iter()
            .filter(|m| m.conversation_id == id)
        {
            transcript.add_pending(
                message.message_id,
                AuthorKind::Operator,
                message.body.clone(),
                message.written_at,
            );
        }
        self.state.transcripts.update(|t| {
            t.insert(id, transcript);
        });
        self.seq_here.remove(&id);
        self.send(ClientFrame::Sync {
            conversation_id: id,
            after_seq: 0,
        });
    }

    fn reply(&mut self, id: ConversationId, body: &str) -> bool {
        let body = body.trim();
        if body.is_empty() || self.host.is_none() {
            return false;
        }
        let message = PendingMessage {
            conversation_id: id,
            message_id: new_message_id(),
            body: body.to_owned(),
            written_at: browser::now_ms(),
        };
        self.state.transcripts.update(|all| {
            if let Some(t) = all.get_mut(&id) {
                t.add_pending(
                    message.message_id,
                    AuthorKind::Operator,
                    message.body.clone(),
                    message.written_at,
                );
            }
        });
        if let Some(host) = &mut self.host {
            host.link.send_message(monotonic_ms(), message);
        }
        self.typing_sent.remove(&id);
        self.drain();
        true
    }
}
