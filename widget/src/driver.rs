//! The widget's connection: the client core's [`Link`] (in a [`LinkHost`], the browser driver)
//! feeding [`ChatState`], with the outbox and the last known active deployment persisted.
//!
//! Every message the visitor writes goes to the link's outbox (saved in `localStorage`) before
//! anything is sent, and leaves it only once it is stored on both deployments. The link finds a
//! deployment (moderator, last known active, primary, redundant), follows redirects, notices dead
//! links by heartbeat, and resends the whole outbox after every welcome, so a lost connection, a
//! reload or the loss of a data centre never loses a message; it only delays it. This file only
//! turns the link's events into what the visitor sees.

use crate::settings::Settings;
use crate::state::{ChatState, ConnectionState};
use crate::storage::Persisted;
use browser::link::{Input, LinkHost};
use browser::{monotonic_ms, new_conversation_id, new_message_id, set_timeout};
use client_core::{Event, Link, LinkConfig, LinkStatus, PendingMessage, Transcript};
use leptos::prelude::*;
use protocol::{
    Auth, AuthorKind, ClientFrame, ConversationId, ConversationState, ErrorCode, Message,
    MessageId, ServerFrame, Session, SiteId,
};
use std::cell::RefCell;

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
        d.host.input(input);
        d.drain();
    });
}

/// Starts connecting in the background.
pub fn start(settings: Settings, state: ChatState) {
    let persisted = Persisted::open(&settings.site_id);
    let outbox = persisted.outbox();
    let conversation = persisted.conversation();
    let auth = Auth::Visitor {
        site_id: SiteId(settings.site_id.clone()),
        token: persisted.token(),
    };
    let page_url = web_sys::window().and_then(|w| w.location().href().ok());
    let config = LinkConfig::new(
        settings.deployment_bases(),
        settings.moderator.clone(),
        browser::random_u64(),
    );
    let link = Link::new(config, auth, page_url, outbox, persisted.known_active());
    let driver = Driver {
        settings,
        state,
        persisted,
        host: LinkHost::new(link, deliver),
        conversation: None,
        last_seq_here: 0,
        max_message_bytes: protocol::DEFAULT_MAX_MESSAGE_BYTES,
        stopped: false,
        last_typing_sent: 0.0,
        typing_epoch: 0,
    };
    DRIVER.with(|cell| *cell.borrow_mut() = Some(driver));
    with_driver(|d| {
        // Messages still pending from an earlier page show at once, before any connection.
        d.switch_conversation(conversation);
        d.host.start();
        d.drain();
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
    /// The visitor's token, conversation, outbox and last known active deployment.
    persisted: Persisted,
    /// The link and its browser resources.
    host: LinkHost,
    /// The conversation shown and written to; `None` until the first message.
    conversation: Option<ConversationId>,
    /// The highest sequence number received from the deployment of the current welcome.
    /// Sequence numbers are per deployment, so it restarts at 0 when the widget moves.
    last_seq_here: u64,
    /// The deployment's limit, from its welcome.
    max_message_bytes: usize,
    /// Set when retrying cannot help (outdated widget, unknown site).
    stopped: bool,
    /// When a "typing" frame was last sent (ms), to send at most one every two seconds.
    last_typing_sent: f64,
    /// Increments with every typing notification, so only the latest one's timeout clears it.
    typing_epoch: u64,
}

impl Driver {
    /// Hands every event of the link to the UI, then persists what changed.
    fn drain(&mut self) {
        while let Some(event) = self.host.link.poll_event() {
            match event {
                Event::Status(status) => self.show_status(status),
                Event::Welcome { frame, moved, .. } => self.on_welcome(frame, moved),
                Event::Frame(frame) => self.on_frame(frame),
                Event::OutboxChanged => self.persisted.set_outbox(self.host.link.outbox()),
            }
        }
        if let Some(known) = self.host.link.known_active() {
            self.persisted.set_known_active(known);
        }
        // Frames queued by the handlers above go out now.
        self.host.carry_out();
    }

    fn show_status(&mut self, status: LinkStatus) {
        if self.stopped {
            return;
        }
        let bases = self.settings.deployment_bases();
        self.state.deployment.set(match status {
            LinkStatus::Online { deployment } => bases.get(deployment).cloned(),
            _ => None,
        });
        let shown = match status {
            LinkStatus::Online { .. } => ConnectionState::Online,
            LinkStatus::Connecting | LinkStatus::Idle => ConnectionState::Connecting,
            LinkStatus::Offline => ConnectionState::Offline,
        };
        if shown != ConnectionState::Online {
            self.state.operator_typing.set(None);
        }
        self.state.connection.set(shown);
    }

    fn on_welcome(&mut self, frame: ServerFrame, moved: bool) {
        let ServerFrame::Welcome {
            max_message_bytes,
            session:
                Session::Visitor {
                    token,
                    conversations,
                    ..
                },
            ..
        } = frame
        else {
            return;
        };
        if moved {
            self.last_seq_here = 0;
        }
        self.persisted.set_token(Some(&token));
        self.max_message_bytes = max_message_bytes;
        let known = |id: &ConversationId| conversations.iter().any(|c| c.id == *id);
        let outbox = self.host.link.outbox();
        let pending =
            |id: &ConversationId| outbox.pending().iter().any(|m| m.conversation_id == *id);
        let chosen = self
            .conversation
            .filter(|id| known(id) || pending(id))
            .or_else(|| conversations.first().map(|c| c.id));
        self.switch_conversation(chosen);
        let summary = chosen.and_then(|id| conversations.iter().find(|c| c.id == id).cloned());
        self.state.conversation.set(summary);
        if let Some(id) = chosen.filter(known) {
            // On the same deployment only what is new; after a move everything, merged by id.
            self.host.link.send(
                monotonic_ms(),
                ClientFrame::Sync {
                    conversation_id: id,
                    after_seq: self.last_seq_here,
                },
            );
        }
    }

    fn note_stored(&mut self, message: &Message) {
        self.last_seq_here = self.last_seq_here.max(message.seq);
        self.state.transcript.update(|t| {
            t.apply_stored(message);
        });
    }

    fn on_frame(&mut self, frame: ServerFrame) {
        match frame {
            ServerFrame::Ack { message, .. } => self.note_stored(&message),
            ServerFrame::Message { message } => {
                if message.author.kind == AuthorKind::Operator {
                    self.state.operator_typing.set(None);
                    if !self.state.open.get_untracked() {
                        self.state.unread.update(|n| *n += 1);
                    }
                }
                self.note_stored(&message);
            }
            ServerFrame::History { messages, .. } => {
                for message in &messages {
                    self.note_stored(message);
                }
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
                self.host.link.outbox_mut().move_to(id, fresh);
                self.persisted.set_outbox(self.host.link.outbox());
                self.state.conversation.set(None);
                self.switch_conversation(Some(fresh));
                self.host.link.resend(monotonic_ms(), id);
            }
            (ErrorCode::Internal, Some(_)) => {
                // Nothing was stored; the message stays in the outbox and is resent on reconnect.
            }
            (_, Some(id)) => {
                // Refused for good (too large, empty, not allowed): retrying cannot help.
                self.host.link.outbox_mut().remove(id);
                self.persisted.set_outbox(self.host.link.outbox());
                self.state.transcript.update(|t| t.remove_pending(id));
                self.state.notice.set(Some(message));
            }
            (ErrorCode::Unauthorized, None) => {
                // The stored identity is no longer valid: start afresh as a new visitor.
                self.persisted.set_token(None);
                self.persisted.set_conversation(None);
                self.host.link.set_auth(Auth::Visitor {
                    site_id: SiteId(self.settings.site_id.clone()),
                    token: None,
                });
            }
            (ErrorCode::UnsupportedProtocol, None) => {
                self.stop(
                    ConnectionState::Outdated,
                    "This chat was updated. Please reload the page.".into(),
                );
            }
            (ErrorCode::NotFound | ErrorCode::Forbidden, None)
                if !matches!(self.host.link.status(), LinkStatus::Online { .. }) =>
            {
                self.stop(ConnectionState::Unavailable, message);
            }
            (_, None) => web_sys::console::warn_1(&format!("LiveChat: {message}").into()),
        }
    }

    fn stop(&mut self, state: ConnectionState, notice: String) {
        self.stopped = true;
        self.host.link.stop();
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
            .host
            .link
            .outbox()
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
        self.state.transcript.update(|t| {
            t.add_pending(
                message.message_id,
                AuthorKind::Visitor,
                message.body.clone(),
                message.written_at,
            )
        });
        self.host.link.send_message(monotonic_ms(), message);
        self.last_typing_sent = 0.0;
        self.drain();
        true
    }

    fn typing(&mut self, active: bool) {
        let Some(conversation_id) = self.conversation else {
            return;
        };
        let now = js_sys::Date::now();
        let frame = if active && now - self.last_typing_sent > 2_000.0 {
            self.last_typing_sent = now;
            ClientFrame::Typing {
                conversation_id,
                typing: true,
            }
        } else if !active && self.last_typing_sent > 0.0 {
            self.last_typing_sent = 0.0;
            ClientFrame::Typing {
                conversation_id,
                typing: false,
            }
        } else {
            return;
        };
        // Typing notices are not worth keeping: dropped while offline.
        self.host.link.send(monotonic_ms(), frame);
        self.host.carry_out();
    }
}
