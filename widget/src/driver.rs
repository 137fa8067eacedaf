//! The widget's connection to a deployment: a WebSocket driven by browser callbacks, feeding
//! [`ChatState`] and the persisted outbox.
//!
//! Every message the visitor writes goes to the outbox (saved in `localStorage`) before anything
//! is sent, and leaves it only when a deployment acknowledges it as durable. On every (re)connect
//! the whole outbox is sent again with the original ids, which the deployment stores once. A lost
//! connection therefore never loses a message; it only delays it.

use crate::settings::Settings;
use crate::state::{ChatState, ConnectionState};
use crate::storage::Persisted;
use browser::{new_conversation_id, new_message_id, set_timeout, Socket};
use client_core::{Backoff, Outbox, PendingMessage, Transcript};
use leptos::prelude::*;
use protocol::{
    Auth, AuthorKind, ClientFrame, ConversationId, ConversationState, ErrorCode, MessageId,
    ServerFrame, Session, SiteId, PROTOCOL_VERSION,
};
use std::cell::RefCell;

thread_local! {
    /// The one driver of this page. Browser callbacks reach it through [`with_driver`].
    static DRIVER: RefCell<Option<Driver>> = const { RefCell::new(None) };
}

fn with_driver<R>(f: impl FnOnce(&mut Driver) -> R) -> Option<R> {
    DRIVER.with(|cell| cell.borrow_mut().as_mut().map(f))
}

/// Starts connecting in the background.
pub fn start(settings: Settings, state: ChatState) {
    let persisted = Persisted::open(&settings.site_id);
    let outbox = persisted.outbox();
    let conversation = persisted.conversation();
    let driver = Driver {
        endpoints: settings.endpoints(),
        settings,
        state,
        persisted,
        endpoint: 0,
        backoff: Backoff::default(),
        socket: None,
        generation: 0,
        outbox,
        conversation: None,
        max_message_bytes: protocol::DEFAULT_MAX_MESSAGE_BYTES,
        welcomed: false,
        stopped: false,
        last_typing_sent: 0.0,
        typing_epoch: 0,
        followed_epoch: 0,
    };
    DRIVER.with(|cell| *cell.borrow_mut() = Some(driver));
    with_driver(|d| {
        // Messages still pending from an earlier page show at once, before any connection.
        d.switch_conversation(conversation);
        d.connect();
    });
}

/// Queues a message typed by the visitor; returns false when it was refused locally.
pub fn send_message(body: &str) -> bool {
    with_driver(|d| d.send_message(body)).unwrap_or(false)
}

/// Tells the operator the visitor is typing (throttled) or stopped.
pub fn typing(active: bool) {
    with_driver(|d| d.typing(active));
}

struct Driver {
    /// The snippet's settings.
    settings: Settings,
    /// What the UI renders.
    state: ChatState,
    /// The visitor's token, conversation and outbox in `localStorage`.
    persisted: Persisted,
    /// WebSocket URLs, the deployment that served the widget first.
    endpoints: Vec<String>,
    /// Which endpoint the next connection uses.
    endpoint: usize,
    /// Delay before the next reconnect.
    backoff: Backoff,
    /// The current connection, if any.
    socket: Option<Socket>,
    /// Increments with every connection, so callbacks of a replaced socket are ignored.
    generation: u64,
    /// Messages not yet acknowledged, oldest first.
    outbox: Outbox,
    /// The conversation shown and written to; `None` until the first message.
    conversation: Option<ConversationId>,
    /// The deployment's limit, from its welcome.
    max_message_bytes: usize,
    /// Whether the current connection has been welcomed (frames may be sent).
    welcomed: bool,
    /// Set when retrying cannot help (outdated widget, unknown site).
    stopped: bool,
    /// When a "typing" frame was last sent (ms), to send at most one every two seconds.
    last_typing_sent: f64,
    /// Increments with every typing notification, so only the latest one's timeout clears it.
    typing_epoch: u64,
    /// The newest moderator epoch whose redirect was followed.
    followed_epoch: u64,
}

impl Driver {
    fn connect(&mut self) {
        if self.stopped {
            return;
        }
        self.generation += 1;
        let generation = self.generation;
        let url = self.endpoints[self.endpoint % self.endpoints.len()].clone();
        self.state.connection.set(ConnectionState::Connecting);
        let socket = Socket::open(
            &url,
            move || {
                with_driver(|d| d.on_open(generation));
            },
            move |text| {
                with_driver(|d| d.on_frame(generation, &text));
            },
            move || {
                with_driver(|d| d.on_close(generation));
            },
        );
        match socket {
            Ok(socket) => self.socket = Some(socket),
            Err(_) => self.schedule_reconnect(false),
        }
    }

    fn on_open(&mut self, generation: u64) {
        if generation != self.generation {
            return;
        }
        let page_url = web_sys::window().and_then(|w| w.location().href().ok());
        let hello = ClientFrame::Hello {
            protocol: PROTOCOL_VERSION,
            auth: Auth::Visitor {
                site_id: SiteId(self.settings.site_id.clone()),
                token: self.persisted.token(),
            },
            page_url,
        };
        self.send_raw(&hello);
    }

    fn on_close(&mut self, generation: u64) {
        if generation != self.generation {
            return;
        }
        let was_welcomed = self.welcomed;
        if let Some(socket) = self.socket.take() {
            socket.dispose_later();
        }
        self.welcomed = false;
        self.state.operator_typing.set(None);
        if !self.stopped {
            self.state.connection.set(ConnectionState::Offline);
            self.schedule_reconnect(was_welcomed);
        }
    }

    /// Reconnects after the backoff delay; a connection that never got a welcome moves on to the
    /// next deployment, so an unreachable one is not retried forever.
    fn schedule_reconnect(&mut self, was_welcomed: bool) {
        if !was_welcomed {
            self.endpoint = (self.endpoint + 1) % self.endpoints.len();
        }
        let delay = self.backoff.next_delay_ms(js_sys::Math::random());
        set_timeout(delay, || {
            with_driver(|d| {
                if d.socket.is_none() {
                    d.connect();
                }
            });
        });
    }

    fn send_raw(&self, frame: &ClientFrame) {
        if let Some(socket) = &self.socket {
            socket.send(frame);
        }
    }

    fn on_frame(&mut self, generation: u64, text: &str) {
        if generation != self.generation {
            return;
        }
        let Ok(frame) = ServerFrame::decode(text) else {
            web_sys::console::warn_1(&"LiveChat: ignoring an unreadable frame".into());
            return;
        };
        match frame {
            ServerFrame::Welcome {
                max_message_bytes,
                session:
                    Session::Visitor {
                        token,
                        conversations,
                        ..
                    },
                ..
            } => {
                self.persisted.set_token(Some(&token));
                self.max_message_bytes = max_message_bytes;
                let known = |id: &ConversationId| conversations.iter().any(|c| c.id == *id);
                let pending = |id: &ConversationId| {
                    self.outbox
                        .pending()
                        .iter()
                        .any(|m| m.conversation_id == *id)
                };
                let chosen = self
                    .conversation
                    .filter(|id| known(id) || pending(id))
                    .or_else(|| conversations.first().map(|c| c.id));
                self.switch_conversation(chosen);
                let summary =
                    chosen.and_then(|id| conversations.iter().find(|c| c.id == id).cloned());
                self.state.conversation.set(summary);
                self.welcomed = true;
                self.backoff.reset();
                if let Some(id) = chosen.filter(known) {
                    let after_seq = self.state.transcript.with_untracked(Transcript::last_seq);
                    self.send_raw(&ClientFrame::Sync {
                        conversation_id: id,
                        after_seq,
                    });
                }
                for message in self.outbox.pending().to_vec() {
                    self.send_raw(&message.send_frame());
                }
                self.state.connection.set(ConnectionState::Online);
            }
            ServerFrame::Welcome { .. } => {}
            ServerFrame::Ack {
                message_id,
                message,
            } => {
                if self.outbox.remove(message_id) {
                    self.persisted.set_outbox(&self.outbox);
                }
                self.state.transcript.update(|t| {
                    t.apply_stored(&message);
                });
            }
            ServerFrame::Message { message } => {
                if message.author.kind == AuthorKind::Operator {
                    self.state.operator_typing.set(None);
                    if !self.state.open.get_untracked() {
                        self.state.unread.update(|n| *n += 1);
                    }
                }
                self.state.transcript.update(|t| {
                    t.apply_stored(&message);
                });
            }
            ServerFrame::History { messages, .. } => {
                self.state.transcript.update(|t| {
                    for message in &messages {
                        t.apply_stored(message);
                    }
                });
            }
            ServerFrame::Conversation { conversation } => {
                if Some(conversation.id) == self.conversation {
                    self.state.conversation.set(Some(conversation));
                }
            }
            ServerFrame::Typing {
                conversation_id,
                author,
                typing,
            } => {
                if Some(conversation_id) == self.conversation && author.kind == AuthorKind::Operator
                {
                    self.show_operator_typing(
                        typing.then(|| author.name.unwrap_or_else(|| "The operator".into())),
                    );
                }
            }
            // The message is now on both deployments. The outbox already released it on `ack`;
            // keeping it until this confirmation is part of client failover (a later issue).
            ServerFrame::Replicated { .. } => {}
            ServerFrame::Redirect { epoch, url, .. } => self.follow_redirect(epoch, &url),
            ServerFrame::Pong { .. } => {}
            ServerFrame::Error {
                code,
                message,
                message_id,
            } => self.on_error(code, message, message_id),
        }
    }

    /// Moves to the deployment the moderator named, when the snippet lists it. The outbox lives in
    /// this page's storage, so it goes along and is resent there on welcome. Each decision is
    /// followed once: should the named deployment be unreachable, the widget falls back to the
    /// next one (see `schedule_reconnect`) and stays there instead of bouncing between the two.
    fn follow_redirect(&mut self, epoch: u64, url: &str) {
        let target = protocol::websocket_url(url, protocol::WS_PATH);
        let Some(index) = self.endpoints.iter().position(|e| *e == target) else {
            return;
        };
        if epoch <= self.followed_epoch || index == self.endpoint % self.endpoints.len() {
            return;
        }
        self.followed_epoch = epoch;
        self.endpoint = index;
        // A new generation makes the old socket's late callbacks harmless; this runs inside one
        // of them, so the socket itself is freed on the next turn.
        self.generation += 1;
        if let Some(socket) = self.socket.take() {
            socket.dispose_later();
        }
        self.welcomed = false;
        self.connect();
    }

    fn show_operator_typing(&mut self, name: Option<String>) {
        self.typing_epoch += 1;
        let epoch = self.typing_epoch;
        let shown = name.is_some();
        self.state.operator_typing.set(name);
        if shown {
            // Typing notices are not stored; if the "stopped" one is lost, hide the indicator anyway.
            set_timeout(6_000, move || {
                with_driver(|d| {
                    if d.typing_epoch == epoch {
                        d.state.operator_typing.set(None);
                    }
                });
            });
        }
    }

    fn on_error(&mut self, code: ErrorCode, message: String, message_id: Option<MessageId>) {
        match (code, message_id) {
            (ErrorCode::ConversationClosed, Some(id)) => {
                // The conversation was closed while this message travelled: it opens a new one.
                let fresh = new_conversation_id();
                self.outbox.move_to(id, fresh);
                self.persisted.set_outbox(&self.outbox);
                self.state.conversation.set(None);
                self.switch_conversation(Some(fresh));
                if let Some(pending) = self
                    .outbox
                    .pending()
                    .iter()
                    .find(|m| m.message_id == id)
                    .cloned()
                {
                    self.send_raw(&pending.send_frame());
                }
            }
            (ErrorCode::Internal, Some(_)) => {
                // Nothing was stored; the message stays in the outbox and is resent on reconnect.
            }
            (_, Some(id)) => {
                // Refused for good (too large, empty, not allowed): retrying cannot help.
                self.outbox.remove(id);
                self.persisted.set_outbox(&self.outbox);
                self.state.transcript.update(|t| t.remove_pending(id));
                self.state.notice.set(Some(message));
            }
            (ErrorCode::Unauthorized, None) => {
                // The stored identity is no longer valid: start afresh as a new visitor.
                self.persisted.set_token(None);
                self.persisted.set_conversation(None);
            }
            (ErrorCode::UnsupportedProtocol, None) => {
                self.stop(
                    ConnectionState::Outdated,
                    "This chat was updated. Please reload the page.".into(),
                );
            }
            (ErrorCode::NotFound | ErrorCode::Forbidden, None) if !self.welcomed => {
                self.stop(ConnectionState::Unavailable, message);
            }
            (_, None) => web_sys::console::warn_1(&format!("LiveChat: {message}").into()),
        }
    }

    fn stop(&mut self, state: ConnectionState, notice: String) {
        self.stopped = true;
        self.state.connection.set(state);
        self.state.notice.set(Some(notice));
    }

    /// Shows `conversation`: a fresh transcript with the outbox's pending messages for it.
    fn switch_conversation(&mut self, conversation: Option<ConversationId>) {
        if self.conversation == conversation
            && self
                .state
                .transcript
                .with_untracked(|t| t.conversation() == conversation)
        {
            return;
        }
        self.conversation = conversation;
        self.persisted.set_conversation(conversation);
        let mut transcript = Transcript::new(conversation);
        for message in self
            .outbox
            .pending()
            .iter()
            .filter(|m| Some(m.conversation_id) == conversation)
        {
            transcript.add_pending(
                message.message_id,
                AuthorKind::Visitor,
                message.body.clone(),
                message.written_at,
            );
        }
        self.state.transcript.set(transcript);
    }

    fn send_message(&mut self, body: &str) -> bool {
        let body = body.trim();
        if body.is_empty() {
            return false;
        }
        if body.len() > self.max_message_bytes {
            self.state.notice.set(Some(format!(
                "Messages can be at most {} characters long.",
                self.max_message_bytes
            )));
            return false;
        }
        self.state.notice.set(None);
        let closed = self.state.conversation.with_untracked(|c| {
            c.as_ref()
                .is_some_and(|c| c.state == ConversationState::Closed)
        });
        if self.conversation.is_none() || closed {
            self.state.conversation.set(None);
            self.switch_conversation(Some(new_conversation_id()));
        }
        let conversation_id = self.conversation.expect("just ensured");
        let message = PendingMessage {
            conversation_id,
            message_id: new_message_id(),
            body: body.to_owned(),
            written_at: browser::now_ms(),
        };
        self.outbox.push(message.clone());
        self.persisted.set_outbox(&self.outbox);
        self.state.transcript.update(|t| {
            t.add_pending(
                message.message_id,
                AuthorKind::Visitor,
                message.body.clone(),
                message.written_at,
            )
        });
        if self.welcomed {
            self.send_raw(&message.send_frame());
        }
        self.last_typing_sent = 0.0;
        true
    }

    fn typing(&mut self, active: bool) {
        let Some(conversation_id) = self.conversation else {
            return;
        };
        if !self.welcomed {
            return;
        }
        let now = js_sys::Date::now();
        if active && now - self.last_typing_sent > 2_000.0 {
            self.last_typing_sent = now;
            self.send_raw(&ClientFrame::Typing {
                conversation_id,
                typing: true,
            });
        } else if !active && self.last_typing_sent > 0.0 {
            self.last_typing_sent = 0.0;
            self.send_raw(&ClientFrame::Typing {
                conversation_id,
                typing: false,
            });
        }
    }
}
