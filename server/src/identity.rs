//! Who is calling: the one type for an authenticated caller, whether the proof came over HTTP (a
//! bearer token), in a WebSocket `hello`, or is the author the store records for a message.
//!
//! The type is plain data and depends on nothing in the server, so the store, the HTTP handlers
//! and the socket sessions can all use it without depending on each other. Where an identity comes
//! from (tokens, sessions) and what it may do (role checks) is [`crate::extract`]'s business.

use protocol::{OperatorProfile, SiteId, VisitorId};

/// A caller whose credentials were checked.
#[derive(Clone, Debug)]
pub enum Identity {
    /// A visitor with a valid token (or a new one, just issued), who may read and write only
    /// their own conversations.
    Visitor {
        /// The visitor, from their signed token.
        visitor_id: VisitorId,
        /// The site their token is for.
        site_id: SiteId,
        /// The page they said they are on (`hello`), kept for the conversations they open.
        page_url: Option<String>,
    },
    /// An operator with a live session, who may post only in conversations assigned to them.
    Operator(OperatorProfile),
}

impl Identity {
    /// The operator behind this identity, if it is one.
    pub fn operator(&self) -> Option<&OperatorProfile> {
        match self {
            Identity::Operator(op) => Some(op),
            Identity::Visitor { .. } => None,
        }
    }

    /// The visitor behind this identity, if it is one.
    pub fn visitor_id(&self) -> Option<VisitorId> {
        match self {
            Identity::Visitor { visitor_id, .. } => Some(*visitor_id),
            Identity::Operator(_) => None,
        }
    }
}
