//! One WebSocket session's logic, without the socket: "process one frame" and "which events
//! concern me". The first frame must be `hello`; after it the session is a visitor or an operator.

mod handover;
mod hello;
mod mails;
mod signals;
mod syncs;

use super::outcome::Outcome;
use crate::error::Refusal;
use crate::extract;
use crate::hub::{ConnectionId, Event, Subscription};
use crate::identity::Identity;
use crate::state::AppState;
use crate::store::SessionStatus;
use crate::throttle::{retry_after_secs, ConnectionLimits};
use protocol::{
    ClientFrame, ConversationId, DecodeError, ErrorCode, MessageId, ServerFrame, VisitorId,
    PROTOCOL_VERSION,
};
use std::net::IpAddr;

/// The largest text frame read and parsed for a given message limit: room for a body of the
/// maximum size with every byte escaped as JSON encoders do (`\"`, `\\`, `\n`: two bytes; the
/// control characters that would take six are refused in bodies anyway, and non-ASCII text is
/// sent as it is), plus the frame's other fields.
pub fn frame_limit(max_message_bytes: usize) -> usize {
    max_message_bytes * 2 + 1024
}

/// The state of one connection.
pub struct Session {
    /// Storage, hub, signer and configuration.
    state: AppState,
    /// This connection's id in the hub.
    connection_id: ConnectionId,
    /// The `Origin` header of the upgrade request, checked against the site's allowed origins.
    origin: Option<String>,
    /// Who is on the other end; set by a successful `hello`.
    peer: Option<Identity>,
    /// Messages acknowledged on this connection that the peer deployment has not confirmed yet,
    /// as (position in our log, id): reported with `replicated` once it has.
    awaiting_peer: Vec<(u64, MessageId)>,
    /// The feed of events `hello` subscribed to, until the socket loop takes it.
    subscription: Option<Subscription>,
    /// An operator's session: its token and when it expires, checked again whenever accounts
    /// change and at its expiry, so the socket ends with the session.
    operator_session: Option<(String, i64)>,
    /// The client's address, for the limits on new visitors.
    address: Option<IpAddr>,
    /// How fast this connection may send messages and typing notices; made by the first message
    /// or typing notice, so that an idle connection holds none.
    limits: Option<Box<ConnectionLimits>>,
    /// An operator's console counted on the presence board, taken off it when the session ends.
    console_of: Option<protocol::OperatorId>,
    /// What this visitor's socket last said about availability, so a change is sent once.
    told_online: Option<bool>,
    /// The read marks this connection sent lately (a few conversations), so a repeated mark
    /// costs nothing.
    read_marks: Vec<(ConversationId, u64)>,
    /// Conversations a visitor's messages were stored in on this connection, so only a message
    /// naming another one costs a look-up (a new conversation counts against the visitor's
    /// limit). A handful at most: most visitors have one conversation.
    known_conversations: Vec<ConversationId>,
    /// `sync` requests not answered yet, oldest first (see [`syncs`]).
    waiting_syncs: syncs::WaitingSyncs,
}

/// What a `send` carries besides its ids.
struct Content {
    body: String,
    intake: Option<protocol::Intake>,
    attachment: Option<protocol::conversation::Attachment>,
    /// A private note (operators only).
    private: bool,
}

/// How many conversations [`Session::known_conversations`] remembers.
const KNOWN_CONVERSATIONS: usize = 8;

impl Session {
    /// A session that has not said `hello` yet.
    pub fn new(
        state: AppState,
        connection_id: ConnectionId,
        origin: Option<String>,
        address: Option<IpAddr>,
    ) -> Self {
        Self {
            address,
            console_of: None,
            told_online: None,
            read_marks: Vec::new(),
            limits: None,
            known_conversations: Vec::new(),
            waiting_syncs: syncs::WaitingSyncs::default(),
            state,
            connection_id,
            origin,
            peer: None,
            awaiting_peer: Vec::new(),
            subscription: None,
            operator_session: None,
        }
    }

    /// This connection's message and typing limits, made on first use.
    fn limits(&mut self) -> &mut ConnectionLimits {
        let config = &self.state.config;
        self.limits.get_or_insert_with(|| {
            Box::new(ConnectionLimits::new(
                config.messages_per_minute_per_connection,
                config.typing_per_minute_per_connection,
            ))
        })
    }

    /// When an operator's session expires (the deployment's clock), or `None` for a visitor or
    /// before `hello`.
    pub fn session_expires_at(&self) -> Option<i64> {
        self.operator_session.as_ref().map(|(_, at)| *at)
    }

    /// Checks an operator's session again. Returns the sentence to close the connection with if
    /// it has ended (logged out here or on the peer, expired, password or role changed);
    /// otherwise takes in the operator's profile as it is now. A failed read keeps the
    /// connection: the next check decides.
    pub async fn session_ended(&mut self) -> Option<&'static str> {
        let (token, _) = self.operator_session.clone()?;
        match extract::session_status(&self.state, &token).await {
            Ok(SessionStatus::Live {
                operator,
                expires_at,
            }) => {
                self.state.presence.set_sites(operator.id, &operator.sites);
                self.peer = Some(Identity::Operator(operator));
                if let Some(session) = &mut self.operator_session {
                    session.1 = expires_at;
                }
                None
            }
            Ok(ended) => Some(ended.ended_because()),
            Err(e) => {
                tracing::warn!(error = %e.message, "could not check an operator's session again");
                None
            }
        }
    }

    /// The event feed a successful `hello` subscribed to (once).
    pub fn take_subscription(&mut self) -> Option<Subscription> {
        self.subscription.take()
    }

    /// Whether `hello` succeeded.
    pub fn is_authenticated(&self) -> bool {
        self.peer.is_some()
    }

    /// Processes one text frame from the client.
    pub async fn handle_text(&mut self, text: &str) -> Outcome {
        if text.len() > frame_limit(self.state.config.max_message_bytes) {
            return Outcome::refuse(
                ErrorCode::TooLarge,
                format!(
                    "frames are limited to {} bytes",
                    frame_limit(self.state.config.max_message_bytes)
                ),
            );
        }
        let frame = match ClientFrame::decode(text) {
            Ok(frame) => frame,
            Err(e @ DecodeError::UnsupportedProtocol(_)) => {
                return Outcome::refuse_and_close(Refusal::new(
                    e.code(),
                    format!(
                        "this chat was updated (protocol {PROTOCOL_VERSION}); please reload the page"
                    ),
                ))
            }
            Err(e) => return Outcome::refuse(e.code(), e.to_string()),
        };
        match (&self.peer, frame) {
            (_, ClientFrame::Ping { nonce }) => Outcome::reply(ServerFrame::Pong { nonce }),
            (
                None,
                ClientFrame::Hello {
                    auth,
                    page_url,
                    context,
                    ..
                },
            ) => self.hello(auth, page_url, context).await,
            (None, _) => Outcome::refuse(ErrorCode::HelloRequired, "the first frame must be hello"),
            (Some(_), ClientFrame::Hello { .. }) => {
                Outcome::refuse(ErrorCode::Conflict, "hello was already received")
            }
            (
                Some(_),
                ClientFrame::Send {
                    conversation_id,
                    message_id,
                    body,
                    intake,
                    attachment,
                    private,
                },
            ) => {
                let content = Content {
                    body,
                    intake,
                    attachment,
                    private,
                };
                self.send(conversation_id, message_id, content).await
            }
            (Some(Identity::Operator(op)), ClientFrame::Presence { state }) => {
                let id = op.id;
                self.set_presence(id, state)
            }
            (Some(Identity::Visitor { .. }), ClientFrame::Presence { .. }) => Outcome::refuse(
                ErrorCode::Forbidden,
                "only operators set themselves online or away",
            ),
            (
                Some(_),
                ClientFrame::Typing {
                    conversation_id,
                    typing,
                },
            ) => self.typing(conversation_id, typing).await,
            (
                Some(_),
                ClientFrame::Sync {
                    conversation_id,
                    after_seq,
                },
            ) => self.queue_sync(conversation_id, after_seq),
            (Some(Identity::Operator(op)), ClientFrame::Accept { conversation_id }) => {
                let op = op.clone();
                self.change_state(move |w| w.accept(conversation_id, &op))
                    .await
            }
            (Some(Identity::Operator(op)), ClientFrame::Close { conversation_id }) => {
                let op = op.clone();
                self.change_state(move |w| w.close(conversation_id, &op))
                    .await
            }
            (
                Some(Identity::Visitor { visitor_id, .. }),
                ClientFrame::Close { conversation_id },
            ) => {
                let visitor = *visitor_id;
                self.change_state(move |w| w.close_by_visitor(conversation_id, visitor))
                    .await
            }
            (
                Some(Identity::Operator(op)),
                ClientFrame::Transfer {
                    conversation_id,
                    operator_id,
                    note,
                },
            ) => {
                let op = op.clone();
                self.transfer(op, conversation_id, operator_id, note).await
            }
            (
                Some(Identity::Visitor { .. }),
                ClientFrame::Accept { .. } | ClientFrame::Transfer { .. },
            ) => Outcome::refuse(
                ErrorCode::Forbidden,
                "only operators can accept or hand over conversations",
            ),
            (
                Some(_),
                ClientFrame::Read {
                    conversation_id,
                    up_to,
                },
            ) => self.read(conversation_id, up_to).await,
            (
                Some(Identity::Visitor { visitor_id, .. }),
                frame @ (ClientFrame::Rate { .. }
                | ClientFrame::EmailTranscript { .. }
                | ClientFrame::Attributes { .. }),
            ) => {
                let visitor = *visitor_id;
                self.visitor_frame(visitor, frame).await
            }
            (
                Some(Identity::Operator(_)),
                frame @ (ClientFrame::Rate { .. }
                | ClientFrame::EmailTranscript { .. }
                | ClientFrame::Attributes { .. }),
            ) => Outcome::refuse(ErrorCode::Forbidden, signals::visitor_only(&frame)),
        }
    }

    async fn send(
        &mut self,
        conversation_id: ConversationId,
        message_id: MessageId,
        content: Content,
    ) -> Outcome {
        let Content {
            body,
            intake,
            attachment,
            private,
        } = content;
        let refuse = |code: ErrorCode, message: String| {
            Outcome::reply(ServerFrame::Error {
                code,
                message,
                message_id: Some(message_id),
            })
        };
        if private && !matches!(self.peer, Some(Identity::Operator(_))) {
            return refuse(
                ErrorCode::Forbidden,
                "only operators write private notes".into(),
            );
        }
        if private && (attachment.is_some() || intake.is_some()) {
            return refuse(ErrorCode::Malformed, "a private note is text only".into());
        }
        if let Some(file) = &attachment {
            if let Err(refusal) = self.check_attachment(file) {
                return refuse(refusal.code, refusal.message);
            }
        }
        if body.trim().is_empty() && attachment.is_none() {
            return refuse(ErrorCode::EmptyMessage, "a message needs some text".into());
        }
        let limit = self.state.config.max_message_bytes;
        if body.len() > limit {
            return refuse(
                ErrorCode::TooLarge,
                format!("messages are limited to {limit} bytes"),
            );
        }
        if let Some(c) = crate::text::refused_character(&body) {
            return refuse(
                ErrorCode::Malformed,
                format!(
                    "messages may not contain the invisible control character U+{:04X}",
                    c as u32
                ),
            );
        }
        let Some(author) = self.peer.clone() else {
            return refuse(
                ErrorCode::HelloRequired,
                "the first frame must be hello".into(),
            );
        };
        if let Err(wait) = self.limits().message() {
            let frame = ServerFrame::Error {
                code: ErrorCode::TooManyRequests,
                message: format!(
                    "too many messages; this one is sent again in {} s",
                    retry_after_secs(&wait)
                ),
                message_id: Some(message_id),
            };
            return Outcome::flood(frame, "too many messages");
        }
        if let Identity::Visitor { visitor_id, .. } = &author {
            let new = (*visitor_id, conversation_id, message_id);
            if let Err(outcome) = self.admit_conversation(new).await {
                return outcome;
            }
        }
        // An offline message is e-mailed to the site, queued in the same transaction.
        let mails = self.state.config.smtp_url.is_some();
        let posted = self
            .state
            .store
            .write(move |w| {
                let posted = match private {
                    true => w.post_note(&author, conversation_id, message_id, &body)?,
                    false => w.post_message(
                        &author,
                        conversation_id,
                        message_id,
                        &body,
                        intake.as_ref(),
                        attachment.as_ref(),
                    )?,
                };
                if let Some(intake) = intake.as_ref().filter(|_| mails && !posted.duplicate) {
                    mails::notify_offline(w, intake, &posted, &body)?;
                }
                let copy = w.message_origin(message_id)?;
                Ok((posted, copy))
            })
            .await;
        if mails && matches!(&posted, Ok((p, _)) if !p.duplicate) {
            crate::mail::queued(&self.state.mail);
        }
        match posted {
            Ok((posted, copy)) => {
                if !posted.duplicate {
                    self.state.hub.publish(Event::Message {
                        visitor_id: posted.conversation.visitor_id,
                        site_id: posted.conversation.site_id.clone(),
                        message: posted.message.clone(),
                        origin: self.connection_id,
                    });
                    self.state.hub.publish(Event::Conversation {
                        conversation: posted.conversation,
                    });
                }
                let mut outcome = Outcome::reply(ServerFrame::Ack {
                    message_id,
                    message: posted.message,
                });
                match copy {
                    // Written first on the peer and replicated here: it is on both already.
                    Some((origin, _)) if origin != self.state.store.origin() => {
                        outcome.replies.push(ServerFrame::Replicated {
                            message_ids: vec![message_id],
                        });
                    }
                    Some((_, seq)) if self.state.config.peer_url.is_some() => {
                        self.awaiting_peer.push((seq, message_id));
                        let confirmed = *self.state.link.confirmed().borrow();
                        outcome.replies.extend(self.replicated_up_to(confirmed));
                    }
                    _ => {}
                }
                outcome
            }
            Err(e) => {
                let refusal = Refusal::from(&e);
                refuse(refusal.code, refusal.message)
            }
        }
    }

    /// Whether a message may carry `file`: a well-formed reference to a file stored here, of
    /// the size it claims, of an allowed type. A file uploaded at the other deployment and not
    /// replicated yet is `not_found`: the client uploads it here and sends again.
    fn check_attachment(&self, file: &protocol::conversation::Attachment) -> Result<(), Refusal> {
        file.check()
            .map_err(|e| Refusal::new(ErrorCode::Malformed, e))?;
        if !self.state.config.file_types.contains(&file.content_type) {
            return Err(Refusal::forbidden(format!(
                "files of type `{}` cannot be sent here",
                file.content_type
            )));
        }
        match self.state.files.size(&file.hash) {
            Some(size) if size == file.size => Ok(()),
            Some(_) => Err(Refusal::new(
                ErrorCode::Malformed,
                "the attachment's size is not the stored file's",
            )),
            None => Err(Refusal::new(
                ErrorCode::NotFound,
                "upload the file to this deployment first",
            )),
        }
    }

    /// Counts a visitor's message naming a conversation that does not exist yet against the
    /// visitor's limit on new conversations; nothing is stored when the limit refuses it.
    async fn admit_conversation(
        &mut self,
        (visitor, conversation_id, message_id): (VisitorId, ConversationId, MessageId),
    ) -> Result<(), Outcome> {
        if self.known_conversations.contains(&conversation_id) {
            return Ok(());
        }
        let exists = self
            .state
            .store
            .read(move |r| r.conversation(conversation_id))
            .await
            .map_err(|e| Outcome::refused(e.into()))?
            .is_some();
        if !exists {
            self.state
                .visitors
                .new_conversation(visitor)
                .map_err(|wait| {
                    let frame = ServerFrame::Error {
                        code: ErrorCode::TooManyRequests,
                        message: format!(
                            "too many new conversations; try again in {} s",
                            retry_after_secs(&wait)
                        ),
                        message_id: Some(message_id),
                    };
                    Outcome::flood(frame, "too many conversations")
                })?;
        }
        if self.known_conversations.len() == KNOWN_CONVERSATIONS {
            self.known_conversations.remove(0);
        }
        self.known_conversations.push(conversation_id);
        Ok(())
    }

    /// Checks that this session may see a conversation, returning its visitor.
    async fn visible(&self, conversation_id: ConversationId) -> Result<VisitorId, Outcome> {
        let found = self
            .state
            .store
            .read(move |r| r.conversation(conversation_id))
            .await
            .map_err(|e| Outcome::refused(e.into()))?;
        let conversation =
            found.ok_or_else(|| Outcome::refuse(ErrorCode::NotFound, "conversation not found"))?;
        match &self.peer {
            Some(Identity::Visitor { visitor_id, .. })
                if *visitor_id != conversation.visitor_id =>
            {
                Err(Outcome::refuse(
                    ErrorCode::Forbidden,
                    "this conversation belongs to another visitor",
                ))
            }
            Some(Identity::Operator(op)) if !op.sites.allows(&conversation.site_id) => {
                Err(Outcome::refuse(
                    ErrorCode::Forbidden,
                    "this conversation belongs to a site you do not serve",
                ))
            }
            _ => Ok(conversation.visitor_id),
        }
    }

    /// Whether a message sent on this connection waits for the peer's confirmation.
    pub fn awaits_peer(&self) -> bool {
        !self.awaiting_peer.is_empty()
    }

    /// The `replicated` frame for this connection's messages that the peer has confirmed, now
    /// that it has confirmed our log up to `confirmed`.
    pub fn replicated_up_to(&mut self, confirmed: u64) -> Option<ServerFrame> {
        if self.awaiting_peer.is_empty() {
            return None;
        }
        let (done, waiting): (Vec<_>, Vec<_>) = self
            .awaiting_peer
            .drain(..)
            .partition(|(seq, _)| *seq <= confirmed);
        self.awaiting_peer = waiting;
        (!done.is_empty()).then(|| ServerFrame::Replicated {
            message_ids: done.into_iter().map(|(_, id)| id).collect(),
        })
    }

    /// Turns a hub event into a frame for this client, or `None` when it does not concern it.
    pub fn filter_event(&self, event: Event) -> Option<ServerFrame> {
        super::audience::frame_for(self.peer.as_ref(), self.connection_id, event)
    }
}
