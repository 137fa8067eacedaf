//! The realtime fan-out: every committed change is published here and reaches the open WebSockets
//! it concerns (operators see everything, a visitor only their own conversations).
//!
//! Events are published only after the change is durable, so a client never sees a message that a
//! crash could take back. A connection that falls too far behind is closed and resynchronises from
//! the database when it reconnects, so a slow client can never make the hub lose a message.

use protocol::{Author, ConversationId, ConversationSummary, Message, SiteId, VisitorId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
pub use tokio::sync::broadcast::error::{RecvError, TryRecvError};

/// How many events an operator's connection may lag behind before it is told to resynchronise.
const CAPACITY: usize = 4096;

/// Identifies one WebSocket connection, so its own events are not echoed back to it.
pub type ConnectionId = u64;

/// The origin of events that no local connection caused: system notices and changes replicated
/// from the peer. No connection filters these out as its own echo.
pub const REMOTE_ORIGIN: ConnectionId = ConnectionId::MAX;

/// Something that happened, as published to the connections it concerns.
#[derive(Clone, Debug)]
pub enum Event {
    /// A message was stored.
    Message {
        /// The visitor whose conversation it is (for filtering).
        visitor_id: VisitorId,
        /// The conversation's site (operators may serve some sites only).
        site_id: SiteId,
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
        /// The conversation's site, when the typist is its visitor (operators may serve some
        /// sites only; an operator's typing goes to the visitor alone).
        site_id: Option<SiteId>,
        /// The conversation.
        conversation_id: ConversationId,
        /// Who types.
        author: Author,
        /// True while typing.
        typing: bool,
        /// The connection that typed.
        origin: ConnectionId,
    },
    /// An operator chose online or away: their other consoles follow.
    Presence {
        /// The operator.
        operator_id: protocol::OperatorId,
        /// Their new state.
        state: protocol::Presence,
    },
}

/// How many events a visitor's connections may lag behind before they are told to resynchronise.
/// A visitor hears only of their own conversations, at the pace people write, so a few dozen is
/// plenty. Every connected visitor holds a channel of this size, so it is kept small and its
/// slots hold pointers (`Arc`), not events: an idle connection costs a few hundred bytes here.
const VISITOR_CAPACITY: usize = 32;

/// Each visitor's own channel, created by their first connection and removed with their last.
type VisitorChannels = Arc<Mutex<HashMap<VisitorId, broadcast::Sender<Arc<Event>>>>>;

/// The publisher half; cloned into every request handler.
///
/// Events are routed, not filtered everywhere: operators (and the replication link) hear every
/// event on one channel, and each visitor's connections hear their own conversations' events on
/// a channel of that visitor. A message therefore wakes its visitor's connections and the
/// operators, not every connection of the deployment; with thousands of visitors connected that is
/// the difference between a few wake-ups per message and thousands.
#[derive(Clone)]
pub struct Hub {
    /// Every event: operators and the replication source.
    everyone: broadcast::Sender<Event>,
    /// Each connected visitor's events.
    visitors: VisitorChannels,
    /// Hands out connection ids.
    next_id: Arc<AtomicU64>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            everyone: broadcast::channel(CAPACITY).0,
            visitors: Default::default(),
            next_id: Default::default(),
        }
    }
}

/// The visitor an event concerns, if any.
fn visitor_of(event: &Event) -> Option<VisitorId> {
    match event {
        // A private note is for operators only.
        Event::Message { message, .. } if message.private => None,
        Event::Message { visitor_id, .. } | Event::Typing { visitor_id, .. } => Some(*visitor_id),
        Event::Conversation { conversation } => Some(conversation.visitor_id),
        Event::Presence { .. } => None,
    }
}

impl Hub {
    /// Publishes an event to the operators and to the connections of the visitor it concerns.
    /// Having no listener is fine.
    pub fn publish(&self, event: Event) {
        if let Some(visitor) = visitor_of(&event) {
            let mut visitors = self.visitors.lock().expect("hub lock");
            if let Some(channel) = visitors.get(&visitor) {
                if channel.send(Arc::new(event.clone())).is_err() {
                    // Nobody listens any more (the last connection is closing): forget the channel.
                    visitors.remove(&visitor);
                }
            }
        }
        let _ = self.everyone.send(event);
    }

    /// A fresh id for a new connection, so its own events are not echoed back to it.
    pub fn connection_id(&self) -> ConnectionId {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Every event from now on (operators, the replication link).
    pub fn subscribe_all(&self) -> Subscription {
        Subscription {
            feed: Feed::Everyone(self.everyone.subscribe()),
            visitor: None,
        }
    }

    /// The events of `visitor`'s conversations from now on.
    pub fn subscribe_visitor(&self, visitor: VisitorId) -> Subscription {
        let mut visitors = self.visitors.lock().expect("hub lock");
        let receiver = visitors
            .entry(visitor)
            .or_insert_with(|| broadcast::channel(VISITOR_CAPACITY).0)
            .subscribe();
        Subscription {
            feed: Feed::Visitor(receiver),
            visitor: Some((visitor, self.visitors.clone())),
        }
    }

    /// How many visitors have a channel now (for tests: channels do not outlive connections).
    pub fn visitor_channels(&self) -> usize {
        self.visitors.lock().expect("hub lock").len()
    }
}

/// One connection's feed of events. Dropping the last subscription of a visitor removes the
/// visitor's channel, so the hub holds nothing for visitors who left.
pub struct Subscription {
    feed: Feed,
    visitor: Option<(VisitorId, VisitorChannels)>,
}

/// The channel a subscription reads.
enum Feed {
    Everyone(broadcast::Receiver<Event>),
    Visitor(broadcast::Receiver<Arc<Event>>),
}

impl Subscription {
    /// The next event; `Lagged` when this connection fell too far behind and must resynchronise.
    pub async fn recv(&mut self) -> Result<Event, RecvError> {
        match &mut self.feed {
            Feed::Everyone(receiver) => receiver.recv().await,
            Feed::Visitor(receiver) => receiver.recv().await.map(|event| (*event).clone()),
        }
    }

    /// The next event if one is queued already, without waiting.
    pub fn try_recv(&mut self) -> Result<Event, TryRecvError> {
        match &mut self.feed {
            Feed::Everyone(receiver) => receiver.try_recv(),
            Feed::Visitor(receiver) => receiver.try_recv().map(|event| (*event).clone()),
        }
    }

    /// Skips every event already queued (a listener that only needs to know that something
    /// happened, like the router, handles them all at once).
    pub fn skip_queued(&mut self) {
        match &mut self.feed {
            Feed::Everyone(receiver) => *receiver = receiver.resubscribe(),
            Feed::Visitor(receiver) => *receiver = receiver.resubscribe(),
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some((visitor, channels)) = &self.visitor {
            let mut channels = channels.lock().expect("hub lock");
            // This subscription's receiver still counts until the fields are dropped.
            if channels
                .get(visitor)
                .is_some_and(|channel| channel.receiver_count() <= 1)
            {
                channels.remove(visitor);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{AuthorKind, ConversationId, Message, MessageId};

    fn message_for(visitor_id: VisitorId) -> Event {
        let conversation_id = ConversationId(uuid::Uuid::now_v7());
        Event::Message {
            visitor_id,
            site_id: SiteId("acme".into()),
            message: Message {
                id: MessageId(uuid::Uuid::now_v7()),
                conversation_id,
                author: Author {
                    kind: AuthorKind::Visitor,
                    name: None,
                },
                body: "hello".into(),
                sent_at: 0,
                seq: 1,
                hlc: 1,
                attachment: None,
                private: false,
            },
            origin: REMOTE_ORIGIN,
        }
    }

    #[tokio::test]
    async fn visitors_hear_only_their_own_events_and_operators_hear_all() {
        let hub = Hub::default();
        let (alice, bob) = (
            VisitorId(uuid::Uuid::now_v7()),
            VisitorId(uuid::Uuid::now_v7()),
        );
        let mut alice_tab_1 = hub.subscribe_visitor(alice);
        let mut alice_tab_2 = hub.subscribe_visitor(alice);
        let mut bob_feed = hub.subscribe_visitor(bob);
        let mut operator = hub.subscribe_all();
        hub.publish(message_for(alice));
        for feed in [&mut alice_tab_1, &mut alice_tab_2, &mut operator] {
            assert!(
                matches!(feed.recv().await, Ok(Event::Message { visitor_id, .. }) if visitor_id == alice)
            );
        }
        let nothing = tokio::time::timeout(std::time::Duration::from_millis(50), bob_feed.recv());
        assert!(nothing.await.is_err(), "bob heard of alice's message");
    }

    #[test]
    fn a_visitor_channel_lives_as_long_as_their_connections() {
        let hub = Hub::default();
        let visitor = VisitorId(uuid::Uuid::now_v7());
        let first = hub.subscribe_visitor(visitor);
        let second = hub.subscribe_visitor(visitor);
        assert_eq!(hub.visitor_channels(), 1);
        drop(first);
        assert_eq!(hub.visitor_channels(), 1);
        drop(second);
        assert_eq!(hub.visitor_channels(), 0);
        // Publishing for a visitor nobody listens to keeps nothing either.
        hub.publish(message_for(visitor));
        assert_eq!(hub.visitor_channels(), 0);
    }
}
