//! The records carried inside frames: messages, conversations, operators and error codes.

use crate::ids::{ConversationId, MessageId, OperatorId, SiteId, VisitorId};
use serde::{Deserialize, Serialize};

/// Who wrote a message.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorKind {
    /// The visitor of the customer's site, through the widget.
    Visitor,
    /// An operator, through the console.
    Operator,
    /// The deployment itself (for example "Alice joined the chat").
    System,
}

impl AuthorKind {
    /// The lower-case name used on the wire, in the database and in `data-author` test hooks.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorKind::Visitor => "visitor",
            AuthorKind::Operator => "operator",
            AuthorKind::System => "system",
        }
    }

    /// The inverse of [`AuthorKind::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "visitor" => Some(AuthorKind::Visitor),
            "operator" => Some(AuthorKind::Operator),
            "system" => Some(AuthorKind::System),
            _ => None,
        }
    }
}

/// The author of a message as shown to the other side.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    /// Visitor, operator or system.
    pub kind: AuthorKind,
    /// The display name: the operator's name; absent for visitors and the system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A stored message.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The id its writer chose; unique across all deployments.
    pub id: MessageId,
    /// The conversation it belongs to.
    pub conversation_id: ConversationId,
    /// Who wrote it.
    pub author: Author,
    /// The text, shown as text and never interpreted as HTML.
    pub body: String,
    /// When the deployment stored it, in Unix milliseconds.
    pub sent_at: i64,
    /// The deployment's local sequence number: strictly increasing in storage order, so a client
    /// asks for "everything after seq N" when it reconnects. Differs between deployments.
    pub seq: u64,
    /// The hybrid logical clock value of the message, identical on both deployments. Transcripts
    /// are shown ordered by (hlc, id), so both deployments show the same order.
    #[serde(default)]
    pub hlc: u64,
    /// A file sent with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<crate::conversation::Attachment>,
    /// A private note between operators: never sent to the visitor.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub private: bool,
}

/// The life of a conversation.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationState {
    /// Opened by a visitor, no operator yet.
    Waiting,
    /// An operator accepted it.
    Active,
    /// Closed by an operator; the visitor's next message opens a new conversation.
    Closed,
}

impl ConversationState {
    /// The lower-case name used on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationState::Waiting => "waiting",
            ConversationState::Active => "active",
            ConversationState::Closed => "closed",
        }
    }

    /// The inverse of [`ConversationState::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "waiting" => Some(ConversationState::Waiting),
            "active" => Some(ConversationState::Active),
            "closed" => Some(ConversationState::Closed),
            _ => None,
        }
    }
}

/// What the inbox and the widget know about a conversation without its messages.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationSummary {
    /// The conversation.
    pub id: ConversationId,
    /// The site the visitor was on.
    pub site_id: SiteId,
    /// The visitor who opened it.
    pub visitor_id: VisitorId,
    /// Waiting, active or closed.
    pub state: ConversationState,
    /// The operator who accepted it, if any, as the visitor may see them: never their e-mail
    /// address or role, since summaries reach the widget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<OperatorCard>,
    /// When it was opened, in Unix milliseconds.
    pub created_at: i64,
    /// When its state or messages last changed, in Unix milliseconds.
    pub updated_at: i64,
    /// The body of its latest message, for the inbox preview.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message: Option<String>,
    /// The page the visitor was on when the conversation was opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_url: Option<String>,
    /// A live chat, or a message left in the offline form.
    #[serde(default)]
    pub kind: crate::conversation::ConversationKind,
    /// What the visitor told about themselves (pre-chat or offline form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor: Option<crate::conversation::VisitorDetails>,
    /// The visitor has read the operators' messages up to this clock value (0: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub visitor_read: u64,
    /// Operators have read the visitor's messages up to this clock value (0: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub operator_read: u64,
    /// The visitor's rating, once the conversation ended and they gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<crate::conversation::Rating>,
    /// Its place in the site's queue (1: next), while it waits on a site that assigns chats
    /// automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_position: Option<u32>,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// An operator's role.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorRole {
    /// Manages operators and sites, and chats.
    Admin,
    /// Chats.
    Agent,
}

impl OperatorRole {
    /// The lower-case name used on the wire, in the database and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            OperatorRole::Admin => "admin",
            OperatorRole::Agent => "agent",
        }
    }

    /// The inverse of [`OperatorRole::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "admin" => Some(OperatorRole::Admin),
            "agent" => Some(OperatorRole::Agent),
            _ => None,
        }
    }
}

/// An operator as they and the deployment know them (login, `me`, the operator's own welcome).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorProfile {
    /// The account.
    pub id: OperatorId,
    /// The display name shown to visitors.
    pub name: String,
    /// The login e-mail address.
    pub email: String,
    /// Admin or agent.
    pub role: OperatorRole,
    /// The sites whose conversations they see (an admin's choice; every site by default).
    #[serde(default)]
    pub sites: crate::admin::SiteScope,
}

/// What a visitor may see of an operator: the display name, and the id the console uses to tell
/// its own chats from others'. The e-mail address and the role stay with the operators' own
/// endpoints ([`OperatorProfile`]).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorCard {
    /// The account.
    pub id: OperatorId,
    /// The display name.
    pub name: String,
}

impl From<&OperatorProfile> for OperatorCard {
    fn from(profile: &OperatorProfile) -> Self {
        OperatorCard {
            id: profile.id,
            name: profile.name.clone(),
        }
    }
}

/// Why a request or frame was refused. Clients branch on these, never on the human-readable text.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The client speaks another protocol version; it should reload to get the current build.
    UnsupportedProtocol,
    /// The frame or body is not valid JSON or lacks required fields.
    Malformed,
    /// The frame's `type` is not one this deployment knows.
    UnknownFrame,
    /// The frame, body or message is larger than the configured limit.
    TooLarge,
    /// A message with no visible text.
    EmptyMessage,
    /// No credentials, or credentials that are forged, expired or revoked.
    Unauthorized,
    /// Valid credentials that do not grant this action.
    Forbidden,
    /// The conversation, site or record does not exist.
    NotFound,
    /// The id is already used by a different record, or the action conflicts with the current state.
    Conflict,
    /// The conversation is closed; the visitor's next message starts a new one.
    ConversationClosed,
    /// The first frame on a connection must be `hello`, and only once.
    HelloRequired,
    /// The deployment failed; nothing was stored and the client may retry.
    Internal,
    /// Too many requests of this kind from this client, address or account: nothing was done;
    /// retry after the time the deployment names (HTTP `Retry-After`).
    TooManyRequests,
}

impl ErrorCode {
    /// Whether the same request may succeed later unchanged: nothing was stored, and the cause
    /// (a failure, a limit) passes. Clients keep what they were sending.
    pub fn retryable(self) -> bool {
        matches!(self, ErrorCode::Internal | ErrorCode::TooManyRequests)
    }
}
