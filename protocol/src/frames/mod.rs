//! WebSocket frames. Every frame is one JSON text message with a `type` field naming its variant.
//!
//! A connection starts with the client's [`ClientFrame::Hello`], answered by [`ServerFrame::Welcome`]
//! or by [`ServerFrame::Error`] followed by a close. After that both sides send frames in any order.

use crate::ids::{ConversationId, MessageId, SiteId, VisitorId};
use crate::model::{Author, ConversationSummary, ErrorCode, Message, OperatorProfile};
use serde::{Deserialize, Serialize};

/// How a client proves who it is in its `hello`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Auth {
    /// A visitor's widget. Without a token (first contact) the deployment creates a visitor and
    /// returns a token in the welcome; the widget keeps it and presents it on every later connection.
    Visitor {
        /// The site the widget is embedded on, from the snippet.
        site_id: SiteId,
        /// The signed visitor token from an earlier welcome, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        /// The site's signed-in user, vouched for by the site's backend (`identify` in the
        /// widget's API). When the signature holds, the deployment treats the connection as
        /// that user's visitor whatever the token says, on any device; when it does not, the
        /// hello is refused (`unauthorized`) and nothing of the user is revealed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<Box<crate::visitor::UserIdentity>>,
    },
    /// An operator's console, with the session token returned by the login endpoint.
    Operator {
        /// The session token.
        token: String,
        /// The availability the operator chose last (kept by the console across reloads and
        /// deployments), so a console reconnecting after a failover is never "online" for a
        /// moment before saying "away". Absent: the deployment's answer (another console's
        /// choice, or online).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        presence: Option<crate::conversation::Presence>,
    },
}

/// Frames sent by the widget or the console.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// The first frame: protocol version and credentials.
    Hello {
        /// The sender's [`crate::PROTOCOL_VERSION`].
        protocol: u32,
        /// Who is connecting.
        auth: Auth,
        /// The page the visitor is on, shown to operators as context.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        page_url: Option<String>,
        /// What the widget knows of the visitor's browser, shown to operators (boxed: it is
        /// the largest part of the largest frame, sent once per connection).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context: Option<Box<crate::visitor::VisitorContext>>,
    },
    /// Post a message. Resending the same `message_id` is always safe: it is stored once and
    /// acknowledged again. A visitor naming a conversation that does not exist yet opens it.
    Send {
        /// The conversation, chosen by the visitor's widget for a new conversation.
        conversation_id: ConversationId,
        /// The message's id, chosen by the sender (UUIDv7).
        message_id: MessageId,
        /// The text.
        body: String,
        /// A visitor's form answers (pre-chat or offline form), stored with the message in one
        /// step: both or neither. Only with the first message of a conversation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        intake: Option<crate::conversation::Intake>,
        /// A file sent with the message, uploaded first (`POST /v1/files`); the text may then
        /// be empty.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attachment: Option<crate::conversation::Attachment>,
        /// A private note: operators only, never sent to the visitor (an operator may write
        /// one in any conversation of a site they serve, whoever it is assigned to).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        private: bool,
    },
    /// The sender started or stopped typing. Not stored; relayed to the other side.
    Typing {
        /// The conversation being typed in.
        conversation_id: ConversationId,
        /// True while typing.
        typing: bool,
    },
    /// Ask for the messages of a conversation stored after `after_seq` (0 for all of them). The
    /// answer holds at most [`crate::SYNC_PAGE`] messages, the oldest first: a full page means there may
    /// be more, asked for with the last one's `seq`.
    Sync {
        /// The conversation.
        conversation_id: ConversationId,
        /// The highest sequence number the client already has.
        after_seq: u64,
    },
    /// An operator takes a waiting conversation.
    Accept {
        /// The conversation.
        conversation_id: ConversationId,
    },
    /// An operator, or the conversation's visitor, ends a conversation.
    Close {
        /// The conversation.
        conversation_id: ConversationId,
    },
    /// The sender has read the conversation up to the message with this clock value (a
    /// visitor: the operator's messages; an operator: the visitor's). Only moves forward; the
    /// other side sees it in the conversation's summary.
    Read {
        /// The conversation.
        conversation_id: ConversationId,
        /// The newest message read, by its `hlc`.
        up_to: u64,
    },
    /// The visitor rates a conversation that ended (again: the later rating replaces it). The
    /// deployment answers with the conversation's summary, which carries the rating.
    Rate {
        /// The conversation.
        conversation_id: ConversationId,
        /// The rating.
        rating: crate::conversation::Rating,
    },
    /// The visitor's custom attributes changed (`setAttributes` in the widget's API): they
    /// replace the ones stored, shown to operators beside the visitor's context. The widget
    /// sends them in every `hello`'s context too, so a change made while offline arrives.
    Attributes {
        /// Every attribute the page set, by key.
        attributes: std::collections::BTreeMap<String, String>,
    },
    /// The visitor asks for the conversation's transcript by e-mail (when the deployment has
    /// SMTP set up; a few times per conversation at most). Answered by `transcript_emailed`.
    EmailTranscript {
        /// The conversation.
        conversation_id: ConversationId,
        /// Where to send it.
        email: String,
    },
    /// An operator hands a chat to another operator: its assignee transfers it (to someone
    /// online with room), an admin assigns it (to anyone who serves the site). The visitor sees a
    /// notice; the note, if any, is stored as a private note.
    Transfer {
        /// The conversation.
        conversation_id: ConversationId,
        /// Who takes it.
        operator_id: crate::ids::OperatorId,
        /// A private note for the new assignee.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// An operator sets themselves online or away (visitors see whether anyone is online).
    Presence {
        /// The new state.
        state: crate::conversation::Presence,
    },
    /// A heartbeat, allowed at any time (even before `hello`): the deployment answers `pong` at
    /// once. A client that hears nothing for a few seconds knows the link is dead even when no
    /// connection was closed (a frozen server, a black-holed network).
    Ping {
        /// Echoed in the `pong`.
        nonce: u64,
    },
}

impl ClientFrame {
    /// The `type` names of every client frame, used to tell an unknown frame from a malformed one.
    pub const TYPES: [&'static str; 13] = [
        "hello",
        "send",
        "typing",
        "sync",
        "accept",
        "close",
        "read",
        "rate",
        "email_transcript",
        "attributes",
        "transfer",
        "presence",
        "ping",
    ];

    /// The `hello` of a visitor's first contact with `site_id`: no token, no user, no page.
    pub fn first_visitor_hello(site_id: SiteId) -> ClientFrame {
        ClientFrame::Hello {
            protocol: crate::PROTOCOL_VERSION,
            auth: Auth::Visitor {
                site_id,
                token: None,
                user: None,
            },
            page_url: None,
            context: None,
        }
    }

    /// Decodes one text frame, telling apart invalid JSON, an unknown `type` and a known type with
    /// missing or ill-typed fields, so the deployment can answer each with its own error code.
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| DecodeError::Malformed(e.to_string()))?;
        let kind = value
            .get("type")
            .and_then(|t| t.as_str())
            .ok_or_else(|| DecodeError::Malformed("missing string field `type`".into()))?;
        if !Self::TYPES.contains(&kind) {
            return Err(DecodeError::UnknownType(kind.to_owned()));
        }
        if kind == "hello" {
            // Checked before the full decode: a future client may change the rest of `hello`, and it
            // must still be told to reload rather than that its frame is malformed.
            match value.get("protocol").and_then(|p| p.as_u64()) {
                Some(v)
                    if (u64::from(crate::MIN_PROTOCOL_VERSION)
                        ..=u64::from(crate::PROTOCOL_VERSION))
                        .contains(&v) => {}
                Some(v) => return Err(DecodeError::UnsupportedProtocol(v)),
                None => {
                    return Err(DecodeError::Malformed(
                        "missing number field `protocol`".into(),
                    ))
                }
            }
        }
        serde_json::from_value(value).map_err(|e| DecodeError::Malformed(e.to_string()))
    }

    /// Encodes the frame as the JSON text sent on the socket.
    pub fn encode(&self) -> String {
        // Frames have string keys only, so writing cannot fail. Not `expect`: the formatting of
        // serde_json's error would be in every visitor's download.
        serde_json::to_string(self).unwrap_or_else(|_| unreachable!("client frames serialise"))
    }
}

/// Why a client frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON, or a known frame type with missing or ill-typed fields.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// Valid JSON whose `type` names no known frame.
    #[error("unknown frame type `{0}`")]
    UnknownType(String),
    /// A `hello` announcing a protocol version this build does not speak.
    #[error("unsupported protocol version {0}")]
    UnsupportedProtocol(u64),
}

impl DecodeError {
    /// The error code the deployment answers with.
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::Malformed(_) => ErrorCode::Malformed,
            DecodeError::UnknownType(_) => ErrorCode::UnknownFrame,
            DecodeError::UnsupportedProtocol(_) => ErrorCode::UnsupportedProtocol,
        }
    }
}

/// What the deployment tells a client about itself after a successful `hello`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Session {
    /// A visitor's session.
    Visitor {
        /// The visitor.
        visitor_id: VisitorId,
        /// The token to present on later connections (freshly issued or renewed).
        token: String,
        /// The visitor's conversations, newest first.
        conversations: Vec<ConversationSummary>,
        /// Whether an operator who serves the site is online now (then `availability` frames
        /// follow each change).
        #[serde(default)]
        online: bool,
        /// What the visitor told about themselves before (a returning visitor is not asked
        /// again).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        details: Option<crate::conversation::VisitorDetails>,
    },
    /// An operator's session.
    Operator {
        /// The logged-in operator.
        operator: OperatorProfile,
        /// Every waiting and active conversation, newest first.
        inbox: Vec<ConversationSummary>,
        /// The operator's availability as the deployment knows it (their choice in another
        /// console, or online for a first console).
        #[serde(default)]
        presence: crate::conversation::Presence,
        /// After how many seconds without input the console sets the operator away (0: never).
        #[serde(default)]
        idle_away_secs: u64,
        /// What files the deployment accepts (a site may narrow this further; the deployment
        /// says so when a message is sent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        files: Option<crate::files::FileRules>,
    },
}

/// Frames sent by a deployment.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The answer to a valid `hello`.
    Welcome {
        /// The deployment's protocol version.
        protocol: u32,
        /// The largest message body it accepts, in bytes.
        max_message_bytes: usize,
        /// Who the client is and what it can see.
        session: Session,
        /// True when this deployment replicates to a peer, so each of the client's messages is
        /// confirmed twice: `ack` (stored here) and later `replicated` (stored on both). A client
        /// keeps a message in its outbox until the confirmation that applies.
        #[serde(default)]
        replicates: bool,
        /// The identity of this deployment's message log. Sequence numbers (`seq`) are
        /// comparable only between welcomes that name the same log from the same deployment: a
        /// client may then `sync` from the highest it received there, even after time spent on
        /// the other deployment. A new database, or one restored from a backup, has a new log.
        /// Absent from deployments before this field: sequence numbers are then comparable only
        /// while the client stays on the same deployment.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        log: Option<String>,
    },
    /// A message the client sent is durably stored (sent again for a resent id).
    Ack {
        /// The acknowledged message.
        message_id: MessageId,
        /// The stored record, with its sequence number and timestamp.
        message: Message,
    },
    /// These messages of the client's are now stored on both deployments: a client may forget
    /// them (the second acknowledgement level, after `ack`).
    Replicated {
        /// The messages.
        message_ids: Vec<MessageId>,
    },
    /// A message someone else wrote, or one of the client's own written from another tab.
    Message {
        /// The message.
        message: Message,
    },
    /// The other side started or stopped typing.
    Typing {
        /// The conversation.
        conversation_id: ConversationId,
        /// Who is typing.
        author: Author,
        /// True while typing.
        typing: bool,
    },
    /// A conversation was opened, accepted or closed, or received a message (inbox preview).
    Conversation {
        /// Its new summary.
        conversation: ConversationSummary,
    },
    /// The answer to `sync`: messages in sequence order.
    History {
        /// The conversation.
        conversation_id: ConversationId,
        /// The messages stored after the requested sequence number.
        messages: Vec<Message>,
    },
    /// To a visitor: whether an operator who serves the site is online, sent when it changes.
    Availability {
        /// True when someone can answer now.
        online: bool,
    },
    /// To an operator's consoles: their availability changed (in another console, or because
    /// the deployment set them away).
    Presence {
        /// The new state.
        state: crate::conversation::Presence,
    },
    /// The transcript the visitor asked for is queued for sending (it is on its way: the
    /// deployment retries until the mail server takes it).
    TranscriptEmailed {
        /// The conversation.
        conversation_id: ConversationId,
    },
    /// The answer to `ping`.
    Pong {
        /// The `ping`'s nonce.
        nonce: u64,
    },
    /// This deployment is not the active one: the client should reconnect to `url` now. The
    /// deployment keeps serving the client until it goes (it never refuses one), so following
    /// the redirect is about converging on one deployment, not about correctness.
    Redirect {
        /// The moderator's epoch for this decision; a client ignores a redirect older than a
        /// decision it already knows.
        epoch: u64,
        /// The active deployment's id.
        deployment: String,
        /// The active deployment's base URL (`https://…`, not the WebSocket URL).
        url: String,
    },
    /// This deployment is shutting down (an upgrade, a restart): the client should connect to
    /// another deployment now and drop this connection once it has. The deployment keeps serving
    /// the socket for a short grace (frames in flight are still answered) and then closes it with
    /// "going away"; a client that does not know this frame fails over at that close instead.
    Draining,
    /// A frame was refused. Nothing it asked for was stored.
    Error {
        /// What went wrong, for the client to branch on.
        code: ErrorCode,
        /// A human-readable explanation.
        message: String,
        /// The message id of the refused `send`, so the client knows which message failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<MessageId>,
    },
}

impl ServerFrame {
    /// Encodes the frame as the JSON text sent on the socket.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("server frames always serialise")
    }

    /// Decodes a frame received from a deployment.
    pub fn decode(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// A shorthand for an error frame.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        ServerFrame::Error {
            code,
            message: message.into(),
            message_id: None,
        }
    }
}

pub mod by_type;

#[cfg(test)]
mod tests;
