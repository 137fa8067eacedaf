//! The widget's connection: the client core's [`Link`], run by the browser driver
//! ([`browser::link::Driver`]), feeding [`ChatState`], with the outbox and the last known active
//! deployment persisted.
//!
//! Every message the visitor writes goes to the link's outbox (saved in `localStorage`) before
//! anything is sent, and leaves it only once it is stored on both deployments. The link finds a
//! deployment (moderator, last known active, primary, redundant), follows redirects, notices dead
//! links by heartbeat, and resends the whole outbox after every welcome, so a lost connection, a
//! reload or the loss of a data centre never loses a message; it only delays it. This file only
//! turns the link's events into what the visitor sees.

mod embed;
use embed::visitor_context;
mod files;
mod forms;
pub use embed::{identify, set_attributes, shutdown};
pub use files::attach;
pub use forms::{email_transcript, end_chat, mark_read, rate, submit_offline, submit_prechat};

use crate::settings::Settings;
use crate::state::{ChatState, ConnectionState};
use crate::storage::Persisted;
use browser::link::{Driver, LinkApp};
use browser::{monotonic_ms, new_conversation_id, new_message_id, set_timeout};
use client_core::{Cursors, Event, Link, LinkConfig, LinkStatus, PendingMessage, Transcript};
use leptos::prelude::*;
use protocol::{
    Auth, AuthorKind, ClientFrame, ConversationId, ConversationState, ErrorCode, Intake, Message,
    MessageId, ServerFrame, Session, SiteId,
};

/// Starts connecting in the background.
pub fn start(settings: Settings, state: ChatState) {
    if settings.unavailable {
        state.connection.set(ConnectionState::Unavailable);
        state.notice.set(Some(crate::i18n::t("notice.unavailable")));
        return;
    }
    state.visible.set(browser::page_visible());
    browser::watch_visibility(move |visible| state.visible.set(visible));
    let persisted = Persisted::open(&settings.site_id);
    let outbox = persisted.outbox();
    let conversation = persisted.conversation();
    let auth = Auth::Visitor {
        site_id: SiteId(settings.site_id.clone()),
        token: persisted.token(),
        user: persisted.identity().map(Box::new),
    };
    let page_url = web_sys::window().and_then(|w| w.location().href().ok());
    let config = LinkConfig::new(
        settings.deployment_bases(),
        settings.moderator.clone(),
        browser::random_u64(),
    );
    let mut link = Link::new(config, auth, page_url, outbox, persisted.known_active());
    link.set_context(Some(visitor_context(persisted.attributes())));
    let pending_intake = persisted.intake();
    if pending_intake.is_some() {
        state.details_known.set(true);
    }
    let driver = Driver::install(Widget {
        settings,
        state,
        persisted,
        conversation: None,
        cursors: Cursors::default(),
        max_message_bytes: protocol::DEFAULT_MAX_MESSAGE_BYTES,
        stopped: false,
        last_typing_sent: 0.0,
        typing_epoch: 0,
        pending_intake,
        read_sent: 0,
        awaiting_transcript: false,
        files: Default::default(),
        next_upload: 0,
        waiting: Default::default(),
    });
    driver.connect(link);
    // Messages still pending from an earlier page show at once, before any connection is up.
    driver.update(|widget, link| {
        if let Some(link) = link {
            widget.switch_conversation(link, conversation);
        }
    });
}

/// Runs `f` on the widget and its link, then carries out what followed.
fn with_link<R>(f: impl FnOnce(&mut Widget, &mut Link) -> R) -> Option<R> {
    browser::link::with::<Widget, _>(|widget, link| link.map(|link| f(widget, link))).flatten()
}

/// Queues a message typed by the visitor; returns false when it was refused locally.
pub fn send_message(body: &str) -> bool {
    with_link(|w, link| w.send_message(link, body)).unwrap_or(false)
}

/// Tells the operator the visitor is typing (throttled) or stopped.
pub fn typing(active: bool) {
    with_link(|w, link| w.typing(link, active));
}

/// The widget's side of the link: what the visitor sees and what is kept for the next page.
struct Widget {
    /// The snippet's settings.
    settings: Settings,
    /// What the UI renders.
    state: ChatState,
    /// The visitor's token, conversation, outbox and last known active deployment.
    persisted: Persisted,
    /// The conversation shown and written to; `None` until the first message.
    conversation: Option<ConversationId>,
    /// The highest sequence number received of each conversation, per deployment and message
    /// log: a reconnect, even after time on the other deployment, asks only for what is new.
    cursors: Cursors,
    /// The deployment's limit, from its welcome.
    max_message_bytes: usize,
    /// Set when retrying cannot help (outdated widget, unknown site).
    stopped: bool,
    /// When a "typing" frame was last sent (ms), to send at most one every two seconds.
    last_typing_sent: f64,
    /// Increments with every typing notification, so only the latest one's timeout clears it.
    typing_epoch: u64,
    /// The pre-chat form's answers, until the first message of a new conversation takes them.
    pending_intake: Option<Intake>,
    /// The read mark last sent for the current conversation (reset by every welcome, so a mark
    /// lost with a connection is sent again).
    read_sent: u64,
    /// Whether a request to e-mail the transcript awaits its answer (a refusal is shown then).
    awaiting_transcript: bool,
    /// The files the visitor sent from this page, with their hashes: uploaded again should a
    /// deployment that never got one be asked to take the message carrying it. A page sends a
    /// handful, so a list (no hash table's code in the download).
    files: Vec<(String, web_sys::File)>,
    /// Numbers the uploads shown.
    next_upload: u64,
    /// A change of visitor (`identify`, `shutdown`) waiting for the outbox to drain.
    waiting: embed::Waiting,
}

impl LinkApp for Widget {
    fn on_event(&mut self, link: &mut Link, event: Event) {
        match event {
            Event::Status(status) => self.show_status(status),
            Event::Welcome {
                frame, deployment, ..
            } => {
                self.cursors.welcomed(deployment, &frame);
                self.on_welcome(link, frame);
            }
            Event::Frame(frame) => self.on_frame(link, frame),
            Event::Refused {
                message,
                code,
                reason,
            } => self.on_refused(link, message, code, reason),
            Event::OutboxChanged => {
                self.outbox_changed(link);
                self.outbox_drained(link);
            }
        }
    }

    fn settled(&mut self, link: &Link) {
        if let Some(known) = link.known_active() {
            self.persisted.set_known_active(known);
        }
    }
}

impl Widget {
    /// Keeps the outbox for the next page and shows which messages are not on both deployments.
    fn outbox_changed(&mut self, link: &Link) {
        self.persisted.set_outbox(link.outbox());
        let ids = link.outbox().ids();
        crate::api::outbox_now(&ids);
        self.state.unconfirmed.set(ids);
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

    fn on_welcome(&mut self, link: &mut Link, frame: ServerFrame) {
        let ServerFrame::Welcome {
            max_message_bytes,
            session:
                Session::Visitor {
                    token,
                    conversations,
                    online,
                    details,
                    ..
                },
            ..
        } = frame
        else {
            return;
        };
        self.state.online.set(Some(online));
        if details.is_some() {
            self.state.details_known.set(true);
        }
        self.read_sent = 0;
        // A rating the last connection may not have delivered goes again (the later one wins
        // on both deployments, so twice is harmless).
        if let Some((conversation_id, rating)) = self.persisted.rating() {
            link.send(
                monotonic_ms(),
                ClientFrame::Rate {
                    conversation_id,
                    rating,
                },
            );
        }
        self.persisted.set_token(Some(&token));
        self.state.token.set(Some(token));
        self.max_message_bytes = max_message_bytes;
        let known = |id: &ConversationId| conversations.iter().any(|c| c.id == *id);
        let outbox = link.outbox();
        let pending =
            |id: &ConversationId| outbox.pending().iter().any(|m| m.conversation_id == *id);
        let chosen = self
            .conversation
            .filter(|id| known(id) || pending(id))
            .or_else(|| conversations.first().map(|c| c.id));
        self.switch_conversation(link, chosen);
        let summary = chosen.and_then(|id| conversations.iter().find(|c| c.id == id).cloned());
        let pending_rating = self
            .persisted
            .rating()
            .is_some_and(|(id, _)| Some(id) == chosen);
        self.state
            .rating_given
            .set(pending_rating || summary.as_ref().is_some_and(|c| c.rating.is_some()));
        self.state.conversation.set(summary);
        if let Some(id) = chosen.filter(known) {
            // From a message log read before only what is new; from another everything, merged
            // by id.
            link.send(monotonic_ms(), self.cursors.sync(id));
        }
    }

    fn note_stored(&mut self, message: &Message) {
        // Deployments never send operators' notes to visitors; should one ever, it is not shown.
        if message.private {
            return;
        }
        self.cursors.received(message);
        self.persisted.remember(message);
        self.state.transcript.update(|t| {
            t.apply_stored(message);
        });
    }

    fn on_frame(&mut self, link: &mut Link, frame: ServerFrame) {
        match frame {
            ServerFrame::Ack { message, .. } => {
                crate::api::acknowledged(&message);
                self.note_stored(&message);
            }
            ServerFrame::Message { message } => {
                if message.author.kind == AuthorKind::Operator {
                    self.state.operator_typing.set(None);
                    crate::alerts::operator_wrote(&self.settings, self.state);
                    crate::api::message_received(&message);
                }
                self.note_stored(&message);
            }
            ServerFrame::History {
                conversation_id,
                messages,
            } => {
                // A long conversation comes a page at a time.
                if let Some(next) = self.cursors.history(conversation_id, &messages) {
                    link.send(monotonic_ms(), next);
                }
                for message in &messages {
                    self.note_stored(message);
                }
            }
            ServerFrame::Conversation { conversation } => {
                let given = self.persisted.rating();
                if given.as_ref().is_some_and(|(id, rating)| {
                    *id == conversation.id && conversation.rating.as_ref() == Some(rating)
                }) {
                    self.persisted.set_rating(None);
                }
                if Some(conversation.id) == self.conversation {
                    crate::api::conversation_changed(self.state, &conversation);
                    self.state.rating_given.set(conversation.rating.is_some());
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
                    self.show_operator_typing(typing.then(|| {
                        author
                            .name
                            .unwrap_or_else(|| crate::i18n::t("operator.default"))
                    }));
                }
            }
            ServerFrame::Availability { online } => self.state.online.set(Some(online)),
            ServerFrame::Error {
                code,
                message,
                message_id,
            } => self.on_error(link, code, message, message_id),
            ServerFrame::TranscriptEmailed { .. } => {
                self.awaiting_transcript = false;
                self.state.transcript_mail.set(Some(Ok(())));
            }
            // Presence frames are for operators' consoles; welcomes, redirects, draining notices,
            // pongs and replication confirmations are the link's business.
            ServerFrame::Presence { .. }
            | ServerFrame::Welcome { .. }
            | ServerFrame::Replicated { .. }
            | ServerFrame::Redirect { .. }
            | ServerFrame::Draining
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
                browser::link::with::<Widget, _>(|widget, _| {
                    if widget.typing_epoch == epoch {
                        widget.state.operator_typing.set(None);
                    }
                });
            });
        }
    }

    /// A message the deployment refused for good, already out of the outbox.
    fn on_refused(
        &mut self,
        link: &mut Link,
        message: PendingMessage,
        code: ErrorCode,
        reason: String,
    ) {
        if code == ErrorCode::ConversationClosed {
            // The conversation was closed while this message travelled: it opens a new one.
            let fresh = new_conversation_id();
            self.state.conversation.set(None);
            self.switch_conversation(link, Some(fresh));
            let message = PendingMessage {
                conversation_id: fresh,
                ..message
            };
            self.queue(link, message);
            return;
        }
        if code == ErrorCode::NotFound && message.attachment.is_some() {
            let name = message.attachment.as_ref().map(|a| a.name.clone());
            if self.upload_again(link, message.clone()) {
                return;
            }
            self.state
                .transcript
                .update(|t| t.remove_pending(message.message_id));
            self.state.notice.set(Some(format!(
                "“{}” did not reach us before the page reloaded: please attach it again.",
                name.unwrap_or_default()
            )));
            return;
        }
        // Too large, empty, not allowed: retrying cannot help.
        self.state
            .transcript
            .update(|t| t.remove_pending(message.message_id));
        self.state.notice.set(Some(reason));
    }

    fn on_error(
        &mut self,
        link: &mut Link,
        code: ErrorCode,
        message: String,
        message_id: Option<MessageId>,
    ) {
        if self.awaiting_transcript && message_id.is_none() && code != ErrorCode::Unauthorized {
            self.awaiting_transcript = false;
            self.state.transcript_mail.set(Some(Err(message)));
            return;
        }
        match (code, message_id) {
            // Nothing was stored (`internal`), or the message is no longer ours: it stays in the
            // outbox, if there, and is resent on reconnect.
            (_, Some(_)) => {}
            (ErrorCode::Unauthorized, None) if self.identity_refused(link, &message) => {}
            (ErrorCode::Unauthorized, None) => {
                // The stored identity is no longer valid: start afresh as a new visitor.
                self.persisted.set_token(None);
                self.persisted.set_conversation(None);
                link.set_auth(Auth::Visitor {
                    site_id: SiteId(self.settings.site_id.clone()),
                    token: None,
                    user: None,
                });
            }
            (ErrorCode::UnsupportedProtocol, None) => {
                self.stop(
                    link,
                    ConnectionState::Outdated,
                    crate::i18n::t("notice.updated"),
                );
            }
            (ErrorCode::NotFound | ErrorCode::Forbidden, None)
                if !matches!(link.status(), LinkStatus::Online { .. }) =>
            {
                self.stop(link, ConnectionState::Unavailable, message);
            }
            (_, None) => web_sys::console::warn_1(&format!("LiveChat: {message}").into()),
        }
    }

    fn stop(&mut self, link: &mut Link, state: ConnectionState, notice: String) {
        self.stopped = true;
        link.stop();
        self.state.connection.set(state);
        self.state.notice.set(Some(notice));
    }

    /// Shows `conversation`: a fresh transcript with the outbox's pending messages for it.
    fn switch_conversation(&mut self, link: &Link, conversation: Option<ConversationId>) {
        if self.conversation == conversation
            && self
                .state
                .transcript
                .with_untracked(|t| t.conversation() == conversation)
        {
            return;
        }
        self.conversation = conversation;
        self.read_sent = 0;
        self.state.rating_given.set(false);
        self.state.rating_choice.set(None);
        self.state.rating_comment.set(String::new());
        self.persisted.set_conversation(conversation);
        let mut transcript = Transcript::new(conversation);
        for message in link
            .outbox()
            .pending()
            .iter()
            .filter(|m| Some(m.conversation_id) == conversation)
        {
            transcript.add_outgoing(message, AuthorKind::Visitor);
        }
        for message in conversation
            .map(|c| self.persisted.recent(c))
            .unwrap_or_default()
        {
            transcript.apply_stored(&message);
        }
        self.state.transcript.set(transcript);
    }

    fn send_message(&mut self, link: &mut Link, body: &str) -> bool {
        let body = body.trim();
        if body.is_empty() {
            return false;
        }
        if body.len() > self.max_message_bytes {
            let limit = self.max_message_bytes.to_string();
            self.state.notice.set(Some(crate::i18n::t_with(
                "notice.too_long",
                &[("n", &limit)],
            )));
            return false;
        }
        self.state.notice.set(None);
        self.compose(link, body, None)
    }

    /// Queues a message with `body` and `attachment` in the current conversation, or in a new
    /// one when there is none or it ended.
    fn compose(
        &mut self,
        link: &mut Link,
        body: &str,
        attachment: Option<protocol::conversation::Attachment>,
    ) -> bool {
        let closed = self.state.conversation.with_untracked(|c| {
            c.as_ref()
                .is_some_and(|c| c.state == ConversationState::Closed)
        });
        let fresh = self.conversation.is_none() || closed;
        if fresh {
            self.state.conversation.set(None);
            self.state.offline_sent.set(false);
            self.switch_conversation(link, Some(new_conversation_id()));
            crate::api::conversation_started(self.conversation);
        }
        let Some(conversation_id) = self.conversation else {
            return false;
        };
        // The pre-chat answers travel with the first message of the conversation they opened;
        // from then on the outbox keeps them (with the message) until both deployments have them.
        let intake = if fresh {
            self.pending_intake.take()
        } else {
            None
        };
        if intake.is_some() {
            self.persisted.set_intake(None);
        }
        let message = PendingMessage {
            conversation_id,
            message_id: new_message_id(),
            body: body.to_owned(),
            written_at: browser::now_ms(),
            intake,
            attachment,
            private: false,
        };
        self.queue(link, message);
        self.last_typing_sent = 0.0;
        true
    }

    /// Shows a message as pending and hands it to the link's outbox.
    fn queue(&mut self, link: &mut Link, message: PendingMessage) {
        self.state
            .transcript
            .update(|t| t.add_outgoing(&message, AuthorKind::Visitor));
        link.send_message(monotonic_ms(), message);
    }

    fn typing(&mut self, link: &mut Link, active: bool) {
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
        link.send(monotonic_ms(), frame);
    }
}
