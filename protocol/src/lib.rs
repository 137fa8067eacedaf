//! The wire protocol of the live chat: every JSON frame and HTTP body that crosses a network boundary.
//!
//! This crate is the API boundary. The server, the visitor widget and the operator console all depend on
//! it and nothing else defines frames, so a change to the protocol is a change to this crate (and to
//! [`PROTOCOL_VERSION`] when it is not backwards compatible). It builds for native targets and for
//! `wasm32-unknown-unknown` and does no IO.
//!
//! - [`ids`]: the identifiers, including the client-generated UUIDv7 message ids that make ingest
//!   idempotent.
//! - [`frames`]: WebSocket frames in both directions, and their decoding with precise errors.
//! - [`model`]: the shared records (messages, conversations, operators) carried inside frames.
//! - [`http`]: the bodies of the HTTP endpoints (login, errors, health).
//! - [`replication`]: the event log entries and frames exchanged between the two deployments.
//! - [`moderation`]: what the moderator publishes (the active deployment and its epoch).
//! - [`admin`]: the site owner's admin API and the widget's public configuration.
//! - [`conversation`]: presence, the visitor's form answers, the kind of a conversation.
//! - [`canned`]: canned replies and their placeholders.
//! - [`files`]: files sent with messages and the rules for what may be sent.
//! - [`history`]: closed conversations, their search and their transcripts.
//! - [`visitor`]: what operators see of a visitor (pages, browser, earlier conversations).
//! - [`routing`]: how a site's chats are assigned, and the roster of operators to hand one to.

pub mod admin;
pub mod appearance;
pub mod canned;
pub mod conversation;
pub mod files;
pub mod frames;
pub mod history;
pub mod http;
pub mod ids;
pub mod model;
pub mod moderation;
pub mod replication;
pub mod routing;
pub mod visitor;

pub use conversation::{ConversationKind, Intake, Presence, VisitorDetails};
pub use frames::{Auth, ClientFrame, DecodeError, ServerFrame, Session};
pub use http::{ApiError, ClientConfig, ConfigProblem, HealthReport, LoginRequest, LoginResponse};
pub use ids::{ConversationId, MessageId, OperatorId, SiteId, VisitorId};
pub use model::{
    Author, AuthorKind, ConversationState, ConversationSummary, ErrorCode, Message, OperatorCard,
    OperatorProfile, OperatorRole,
};

/// The protocol version spoken by this build. A client announces it in [`ClientFrame::Hello`]; a
/// deployment that does not speak it answers [`ErrorCode::UnsupportedProtocol`] so that an old widget
/// cached in a visitor's browser asks for a reload instead of misbehaving.
///
/// Version 2: conversation summaries carry an [`OperatorCard`] (id and name) instead of the full
/// operator profile, so no visitor learns an operator's e-mail address or role.
pub const PROTOCOL_VERSION: u32 = 2;

/// The oldest protocol version a deployment of this build still serves. The compatibility rule
/// (`docs/operations.md`): changes within a version are additions an older peer ignores (a new
/// frame type, a new optional field); a change that is not bumps [`PROTOCOL_VERSION`] and keeps
/// this one release behind, so a widget cached from the release before keeps working against a
/// deployment upgraded under it, and the deployment answers each client in the version it spoke.
pub const MIN_PROTOCOL_VERSION: u32 = 2;

/// The path of the WebSocket endpoint, relative to a deployment's base URL.
pub const WS_PATH: &str = "/v1/ws";

/// The default upper bound for a message body, in bytes of UTF-8 text. Deployments may configure
/// another limit; they announce theirs in [`Session`].
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 8 * 1024;

/// The most messages one `history` frame holds, the answer to a `sync`: a client that gets this
/// many asks again after the last one's `seq`, until a page holds fewer.
pub const SYNC_PAGE: usize = 1000;

/// The WebSocket URL of endpoint `path` on the deployment at `base`: `https://host/x` with
/// `/v1/ws` gives `wss://host/x/v1/ws`. Every client (widget, peer deployment) builds its URLs
/// here so they agree.
pub fn websocket_url(base: &str, path: &str) -> String {
    let base = base.trim_end_matches('/');
    let base = match (base.strip_prefix("https://"), base.strip_prefix("http://")) {
        (Some(rest), _) => format!("wss://{rest}"),
        (None, Some(rest)) => format!("ws://{rest}"),
        (None, None) => base.to_owned(),
    };
    format!("{base}{path}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn websocket_urls_follow_the_scheme() {
        assert_eq!(
            super::websocket_url("https://chat.example.com/", super::WS_PATH),
            "wss://chat.example.com/v1/ws"
        );
        assert_eq!(
            super::websocket_url("http://127.0.0.1:8080", "/v1/replication"),
            "ws://127.0.0.1:8080/v1/replication"
        );
    }
}
