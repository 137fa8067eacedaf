//! The realtime fan-out: every committed change is published here and every open WebSocket decides
//! which events concern it (operators see everything, a visitor only their own conversations).
//!
//! Events are published only after the change is durable, so a client never sees a message that a
//! crash could take back. A connection that falls too far behind is closed and resynchronises from
//! the database when it reconnects, so a slow client can never make the hub lose a message.

use protocol::{Author, ConversationId, ConversationSummary, Message, VisitorId};
use tokio::sync::broadcast;

/// How many events a connection may lag behind before it is told to resynchronise.
const CAPACITY: usize = 4096;

/// Identifies one WebSocket connection, so its own events are not echoed back to it.
pub type ConnectionId = u64;

/// The origin of events that no local connection caused: system notices and changes replicated
/// from the peer. No connection filters these out as its own echo.
pub const REMOTE_ORIGIN: ConnectionId = ConnectionId::MAX;

/// Something that happened, as published to every connection.
#[derive(Clone, Debug)]
pub enum Event {
    /// A message was stored.
    Message {
        /// The visitor whose conversation it is (for filtering).
        visitor_id: VisitorId,
        /// The stored message.
        message: Message,
        /// The connection that sent it.
        origin: ConnectionId,
    },
    /// A conversation was opened, accepted, closed or got a message.
    Conversation {
        /// Its new summary.
        conversation: ConversationSummary,
    },
    /// Someone started or stopped typing.
    Typing {
        /// The visitor whose conversation it is.
        visitor_id: VisitorId,
        /// The conversation.
        conversation_id: ConversationId,
        /// Who types.
        author: Author,
        /// True while typing.
        typing: bool,
        /// The connection that typed.
        origin: ConnectionId,
    },
}

/// The publisher half; cloned into every request handler.
#[derive(Clone)]
pub struct Hub {
    /// The broadcast channel shared by every connection.
    sender: broadcast::Sender<Event>,
    /// Hands out connection ids.
    next_id: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
            next_id: Default::default(),
        }
    }
}

impl Hub {
    /// Publishes an event to every connection. Having no listener is fine.
    pub fn publish(&self, event: Event) {
        let _ = self.sender.send(event);
    }

    /// Subscribes a new connection and gives it its id.
    pub fn subscribe(&self) -> (ConnectionId, broadcast::Receiver<Event>) {
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (id, self.sender.subscribe())
    }
}
