//! The console's connection: logs in, keeps one WebSocket open while logged in, and keeps the
//! inbox and the open conversations live. Replies go through a persisted outbox, like the widget's
//! messages, so an operator's reply survives a lost connection or a reload.

use crate::api;
use crate::state::{ConnectionState, ConsoleState};
use browser::{new_message_id, set_timeout, LocalStore, Socket};
use client_core::{Backoff, Outbox, PendingMessage, Transcript};
use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::{
    Auth, AuthorKind, ClientFrame, ConversationId, ConversationState, ConversationSummary,
    ErrorCode, ServerFrame, Session, PROTOCOL_VERSION,
};
use std::cell::RefCell;

thread_local! {
    /// The one driver of this page. Browser callbacks reach it through [`with_driver`].
    static DRIVER: RefCell<Option<Driver>> = const { RefCell::new(None) };
}

fn with_driver<R>(f: impl FnOnce(&mut Driver) -> R) -> Option<R> {
    DRIVER.with(|cell| cell.borrow_mut().as_mut().map(f))
}

/// Creates the driver and, when a session token was kept from an earlier visit, connects.
pub fn start(state: ConsoleState) {
    let store = LocalStore::new("livechat.console.");
    let token = store.get("token");
    let outbox = store.get_json("outbox").unwrap_or_default();
    let driver = Driver {
        state,
        store,
        token,
        socket: None,
        generation: 0,
        backoff: Backoff::default(),
        outbox,
        welcomed: false,
        typing_sent: Default::default(),
    };
    DRIVER.with(|cell| *cell.borrow_mut() = Some(driver));
    with_driver(|d| {
        if d.token.is_some() {
            d.state.logged_in.set(true);
            d.connect();
        }
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
        d.send(&ClientFrame::Accept {
            conversation_id: id,
        })
    });
}

/// Ends a conversation for both sides.
pub fn close_conversation(id: ConversationId) {
    with_driver(|d| {
        d.send(&ClientFrame::Close {
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
            d.send(&ClientFrame::Typing {
                conversation_id: id,
                typing: true,
            });
        } else if !active && last > 0 {
            d.typing_sent.remove(&id);
            d.send(&ClientFrame::Typing {
                conversation_id: id,
                typing: false,
            });
        }
    });
}

struct Driver {
    /// What the UI renders.
    state: ConsoleState,
    /// The session token and outbox in `localStorage`.
    store: LocalStore,
    /// The session token, while logged in.
    token: Option<String>,
    /// The current connection.
    socket: Option<Socket>,
    /// Increments with every connection, so callbacks of a replaced socket are ignored.
    generation: u64,
    /// Delay before the next reconnect.
    backoff: Backoff,
    /// Replies not yet acknowledged.
    outbox: Outbox,
    /// Whether the current connection has been welcomed.
    welcomed: bool,
    /// When a typing notice was last sent, per conversation (ms).
    typing_sent: std::collections::BTreeMap<ConversationId, i64>,
}

impl Driver {
    fn connect(&mut self) {
        let Some(token) = self.token.clone() else {
            return;
        };
        self.generation += 1;
        let generation = self.generation;
        self.state.connection.set(ConnectionState::Connecting);
        let url = websocket_url();
        let socket = Socket::open(
            &url,
            move || {
                with_driver(|d| {
                    if d.generation == generation {
                        d.send_now(&ClientFrame::Hello {
                            protocol: PROTOCOL_VERSION,
                            auth: Auth::Operator {
                                token: token.clone(),
                            },
                            page_url: None,
                        });
                    }
                });
            },
            move |text| {
                with_driver(|d| {
                    if d.generation == generation {
                        d.on_frame(&text);
                    }
                });
            },
            move || {
                with_driver(|d| {
                    if d.generation == generation {
                        d.on_close();
                    }
                });
            },
        );
        match socket {
            Ok(socket) => self.socket = Some(socket),
            Err(_) => self.on_close(),
        }
    }

    fn on_close(&mut self) {
        if let Some(socket) = self.socket.take() {
            socket.dispose_later();
        }
        self.welcomed = false;
        if self.token.is_none() {
            return;
        }
        self.state.connection.set(ConnectionState::Offline);
        let delay = self.backoff.next_delay_ms(js_sys::Math::random());
        set_timeout(delay, || {
            with_driver(|d| {
                if d.socket.is_none() {
                    d.connect();
                }
            });
        });
    }

    fn forget_session(&mut self) -> Option<String> {
        let token = self.token.take();
        self.store.set("token", None);
        self.generation += 1;
        self.socket = None;
        self.welcomed = false;
        self.state.logged_in.set(false);
        self.state.operator.set(None);
        self.state.connection.set(ConnectionState::LoggedOut);
        self.state.inbox.set(Vec::new());
        self.state.open.set(Vec::new());
        self.state.transcripts.set(Default::default());
        token
    }

    fn send_now(&self, frame: &ClientFrame) {
        if let Some(socket) = &self.socket {
            socket.send(frame);
        }
    }

    fn send(&self, frame: &ClientFrame) {
        if self.welcomed {
            self.send_now(frame);
        }
    }

    fn on_frame(&mut self, text: &str) {
        let Ok(frame) = ServerFrame::decode(text) else {
            return;
        };
        match frame {
            ServerFrame::Welcome {
                session: Session::Operator { operator, inbox },
                ..
            } => {
                self.welcomed = true;
                self.backoff.reset();
                self.state.operator.set(Some(operator));
                self.state.inbox.set(inbox);
                self.state.connection.set(ConnectionState::Online);
                // Catch up on what the open panes missed while disconnected.
                let open: Vec<_> = self
                    .state
                    .open
                    .get_untracked()
                    .iter()
                    .map(|c| c.id)
                    .collect();
                for id in open {
                    let after_seq = self
                        .state
                        .transcripts
                        .with_untracked(|t| t.get(&id).map(Transcript::last_seq).unwrap_or(0));
                    self.send(&ClientFrame::Sync {
                        conversation_id: id,
                        after_seq,
                    });
                }
                for message in self.outbox.pending().to_vec() {
                    self.send(&message.send_frame());
                }
            }
            ServerFrame::Welcome { .. } => {}
            ServerFrame::Ack {
                message_id,
                message,
            } => {
                if self.outbox.remove(message_id) {
                    self.store.set_json("outbox", &self.outbox);
                }
                self.apply_messages(std::slice::from_ref(&message));
            }
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
            // The message is now on both deployments. The outbox already released it on `ack`;
            // keeping it until this confirmation is part of client failover (a later issue).
            ServerFrame::Replicated { .. } => {}
            // The console talks to the deployment that served it (its session and storage belong to
            // that origin), so it cannot follow a redirect yet; moving the console between
            // deployments is part of client failover (a later issue).
            ServerFrame::Redirect { .. } | ServerFrame::Pong { .. } => {}
            ServerFrame::Error {
                code,
                message,
                message_id,
            } => self.on_error(code, message, message_id),
        }
    }

    fn on_error(
        &mut self,
        code: ErrorCode,
        message: String,
        message_id: Option<protocol::MessageId>,
    ) {
        if code == ErrorCode::Unauthorized && !self.welcomed {
            // The session expired or was revoked: back to the login form.
            self.forget_session();
            self.state
                .notice
                .set(Some("Your session has ended; please log in again.".into()));
            return;
        }
        if let Some(id) = message_id {
            if code != ErrorCode::Internal {
                self.outbox.remove(id);
                self.store.set_json("outbox", &self.outbox);
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
            .outbox
            .pending()
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
        self.send(&ClientFrame::Sync {
            conversation_id: id,
            after_seq: 0,
        });
    }

    fn reply(&mut self, id: ConversationId, body: &str) -> bool {
        let body = body.trim();
        if body.is_empty() {
            return false;
        }
        let message = PendingMessage {
            conversation_id: id,
            message_id: new_message_id(),
            body: body.to_owned(),
            written_at: browser::now_ms(),
        };
        self.outbox.push(message.clone());
        self.store.set_json("outbox", &self.outbox);
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
        self.send(&message.send_frame());
        self.typing_sent.remove(&id);
        true
    }
}

/// The console is served by the deployment it talks to, so the socket is on the same host.
fn websocket_url() -> String {
    let location = web_sys::window().map(|w| w.location());
    let host = location
        .as_ref()
        .and_then(|l| l.host().ok())
        .unwrap_or_default();
    let secure = location
        .and_then(|l| l.protocol().ok())
        .is_some_and(|p| p == "https:");
    format!(
        "{}://{host}{}",
        if secure { "wss" } else { "ws" },
        protocol::WS_PATH
    )
}
