//! The server's frames as a reader sees them when it cannot afford serde's `Content` buffering:
//! the browser apps, whose every byte is downloaded.
//!
//! [`ServerFrame`] and [`Session`] are internally tagged (`"type": "ack"`, `"role": "visitor"`).
//! serde reads such an enum by first buffering the whole value into its `Content` tree, to find the
//! tag wherever it stands, and then reading the variant from that tree: every type a frame holds is
//! compiled a second time for the tree, which was about 29 KB of the widget's gzipped download.
//! A reader that can move the tag itself (the browser apps move it on the parsed JavaScript object,
//! `browser::json`) puts each tagged value under its tag, `{"ack": {...}}`, and reads it as
//! [`ServerFrameByType`], an externally tagged twin that serde reads directly; the wire does not
//! change. [`FRAME_TAG`] and [`NESTED_TAGS`] say where the tags are.
//!
//! The twins must follow every change to [`ServerFrame`] and [`Session`]: a test converts every
//! frame both ways, and its exhaustive `match` stops compiling when a variant is added here and
//! not there.

use super::{ServerFrame, Session};
use crate::conversation::{Presence, VisitorDetails};
use crate::files::FileRules;
use crate::ids::{ConversationId, MessageId, VisitorId};
use crate::model::{Author, ConversationSummary, ErrorCode, Message, OperatorProfile};
use serde::Deserialize;

/// The field that names a server frame's type.
pub const FRAME_TAG: &str = "type";

/// The tagged values inside server frames: in a frame whose type is `.0`, the field `.1` holds a
/// value tagged by its own field `.2`, to be put under its tag like the frame.
pub const NESTED_TAGS: &[(&str, &str, &str)] = &[("welcome", "session", "role")];

/// [`ServerFrame`], externally tagged. Field attributes are those of [`ServerFrame`].
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerFrameByType {
    Welcome {
        protocol: u32,
        max_message_bytes: usize,
        session: SessionByRole,
        #[serde(default)]
        replicates: bool,
        #[serde(default)]
        log: Option<String>,
    },
    Ack {
        message_id: MessageId,
        message: Message,
    },
    Replicated {
        message_ids: Vec<MessageId>,
    },
    Message {
        message: Message,
    },
    Typing {
        conversation_id: ConversationId,
        author: Author,
        typing: bool,
    },
    Conversation {
        conversation: ConversationSummary,
    },
    History {
        conversation_id: ConversationId,
        messages: Vec<Message>,
    },
    Availability {
        online: bool,
    },
    Presence {
        state: Presence,
    },
    TranscriptEmailed {
        conversation_id: ConversationId,
    },
    Pong {
        nonce: u64,
    },
    Redirect {
        epoch: u64,
        deployment: String,
        url: String,
    },
    // A struct variant, not a unit one: the frame arrives as an object (`{"type": "draining"}`).
    Draining {},
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default)]
        message_id: Option<MessageId>,
    },
}

/// [`Session`], externally tagged. Field attributes are those of [`Session`].
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionByRole {
    Visitor {
        visitor_id: VisitorId,
        token: String,
        conversations: Vec<ConversationSummary>,
        #[serde(default)]
        online: bool,
        #[serde(default)]
        details: Option<VisitorDetails>,
    },
    Operator {
        operator: OperatorProfile,
        inbox: Vec<ConversationSummary>,
        #[serde(default)]
        presence: Presence,
        #[serde(default)]
        idle_away_secs: u64,
        #[serde(default)]
        files: Option<FileRules>,
    },
}

impl From<SessionByRole> for Session {
    fn from(session: SessionByRole) -> Self {
        match session {
            SessionByRole::Visitor {
                visitor_id,
                token,
                conversations,
                online,
                details,
            } => Session::Visitor {
                visitor_id,
                token,
                conversations,
                online,
                details,
            },
            SessionByRole::Operator {
                operator,
                inbox,
                presence,
                idle_away_secs,
                files,
            } => Session::Operator {
                operator,
                inbox,
                presence,
                idle_away_secs,
                files,
            },
        }
    }
}

impl From<ServerFrameByType> for ServerFrame {
    fn from(frame: ServerFrameByType) -> Self {
        use ServerFrameByType as T;
        match frame {
            T::Welcome {
                protocol,
                max_message_bytes,
                session,
                replicates,
                log,
            } => ServerFrame::Welcome {
                protocol,
                max_message_bytes,
                session: session.into(),
                replicates,
                log,
            },
            T::Ack {
                message_id,
                message,
            } => ServerFrame::Ack {
                message_id,
                message,
            },
            T::Replicated { message_ids } => ServerFrame::Replicated { message_ids },
            T::Message { message } => ServerFrame::Message { message },
            T::Typing {
                conversation_id,
                author,
                typing,
            } => ServerFrame::Typing {
                conversation_id,
                author,
                typing,
            },
            T::Conversation { conversation } => ServerFrame::Conversation { conversation },
            T::History {
                conversation_id,
                messages,
            } => ServerFrame::History {
                conversation_id,
                messages,
            },
            T::Availability { online } => ServerFrame::Availability { online },
            T::Presence { state } => ServerFrame::Presence { state },
            T::TranscriptEmailed { conversation_id } => {
                ServerFrame::TranscriptEmailed { conversation_id }
            }
            T::Pong { nonce } => ServerFrame::Pong { nonce },
            T::Redirect {
                epoch,
                deployment,
                url,
            } => ServerFrame::Redirect {
                epoch,
                deployment,
                url,
            },
            T::Draining {} => ServerFrame::Draining,
            T::Error {
                code,
                message,
                message_id,
            } => ServerFrame::Error {
                code,
                message,
                message_id,
            },
        }
    }
}
