//! The messages of one conversation as a client shows them.
//!
//! Stored messages are ordered by (hybrid logical clock, id), the order both deployments agree on;
//! messages still pending (not acknowledged) follow them in the order they were written. A message arriving twice (an ack and a
//! broadcast, a resync after reconnect) replaces its earlier copy, so nothing is ever shown twice;
//! of two copies stored with different clock values, the smaller is kept, as the deployments do.

use crate::outbox::PendingMessage;
use protocol::{Author, AuthorKind, ConversationId, Message, MessageId};
use serde::{Deserialize, Serialize};

/// How far a message has travelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DeliveryStatus {
    /// Written here, not yet acknowledged by a deployment (it is in the outbox).
    Pending,
    /// Durably stored by a deployment.
    Sent,
}

impl DeliveryStatus {
    /// The name used in the `data-status` test hook.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sent => "sent",
        }
    }
}

/// One line of the transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The message id.
    pub id: MessageId,
    /// Who wrote it.
    pub author: Author,
    /// The text.
    pub body: String,
    /// Pending or sent.
    pub status: DeliveryStatus,
    /// The deployment's sequence number, once stored (used to ask for what follows).
    pub seq: Option<u64>,
    /// The message's hybrid logical clock value once stored (the display order); 0 while pending.
    pub hlc: u64,
    /// When it was stored (Unix ms), or written, for pending messages.
    pub at: i64,
    /// The file it carries, if any.
    pub attachment: Option<protocol::conversation::Attachment>,
    /// Whether it is a private note between operators.
    pub private: bool,
}

/// The messages of one conversation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transcript {
    /// The conversation shown, if any yet.
    conversation: Option<ConversationId>,
    /// Entries in display order.
    entries: Vec<Entry>,
}

impl Transcript {
    /// An empty transcript for `conversation`.
    pub fn new(conversation: Option<ConversationId>) -> Self {
        Self {
            conversation,
            entries: Vec::new(),
        }
    }

    /// The conversation shown.
    pub fn conversation(&self) -> Option<ConversationId> {
        self.conversation
    }

    /// The entries in display order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The highest sequence number held, whichever deployment numbered it. Clients resume by
    /// [`crate::Cursors`], which know which deployment's log each number came from; this is
    /// only a figure about the transcript.
    pub fn last_seq(&self) -> u64 {
        self.entries.iter().filter_map(|e| e.seq).max().unwrap_or(0)
    }

    /// Adds or updates a stored message. Messages of other conversations are ignored; returns
    /// whether the transcript changed.
    pub fn apply_stored(&mut self, message: &Message) -> bool {
        if self.conversation != Some(message.conversation_id) {
            return false;
        }
        let entry = Entry {
            id: message.id,
            author: message.author.clone(),
            body: message.body.clone(),
            status: DeliveryStatus::Sent,
            seq: Some(message.seq),
            hlc: message.hlc,
            at: message.sent_at,
            attachment: message.attachment.clone(),
            private: message.private,
        };
        // A message stored on both deployments before either replicated it (its writer resent
        // it elsewhere) has two copies; both deployments keep the one with the smaller clock
        // value, and so does the transcript, whichever copy arrives last.
        let kept = self
            .entries
            .iter()
            .any(|e| e.id == message.id && e.status == DeliveryStatus::Sent && e.hlc < message.hlc);
        if kept || self.entries.contains(&entry) {
            return false;
        }
        self.entries.retain(|e| e.id != message.id);
        self.insert(entry);
        true
    }

    /// Adds a message written here and not yet acknowledged. Ignored if the id is already shown.
    pub fn add_pending(&mut self, id: MessageId, author: AuthorKind, body: String, now_ms: i64) {
        if self.entries.iter().any(|e| e.id == id) {
            return;
        }
        self.insert(Entry {
            id,
            author: Author {
                kind: author,
                name: None,
            },
            body,
            status: DeliveryStatus::Pending,
            seq: None,
            hlc: 0,
            at: now_ms,
            attachment: None,
            private: false,
        });
    }

    /// Adds a message of the outbox (written here by `author`, not yet acknowledged).
    pub fn add_outgoing(&mut self, message: &PendingMessage, author: AuthorKind) {
        self.add_pending(
            message.message_id,
            author,
            message.body.clone(),
            message.written_at,
        );
        if let Some(entry) = self
            .entries
            .iter_mut()
            .find(|e| e.id == message.message_id && e.status == DeliveryStatus::Pending)
        {
            entry.attachment.clone_from(&message.attachment);
            entry.private = message.private;
        }
    }

    /// Removes a pending message the deployment refused for good (for example, too large).
    pub fn remove_pending(&mut self, id: MessageId) {
        self.entries
            .retain(|e| !(e.id == id && e.status == DeliveryStatus::Pending));
    }

    /// Puts `entry` in its place. The entries are always in display order: stored messages by
    /// (hlc, id), then pending ones by id (UUIDv7: writing order). Every change adds one entry or
    /// removes some, so finding the place is enough, and no sort's code is in the widget.
    fn insert(&mut self, entry: Entry) {
        let key = |e: &Entry| (e.seq.is_none(), e.hlc, e.id);
        let at = self.entries.partition_point(|e| key(e) < key(&entry));
        self.entries.insert(at, entry);
    }
}

/// What a message's sender sees of it, from the first of these that holds: `pending` (in the
/// outbox, not stored yet), `read` (the other side read up to it: `other_read` is their read
/// mark), `sent` (stored by a deployment, still in the outbox until the other one has it too),
/// `delivered` (on both deployments). Messages of others (and system notices) are `sent`.
pub fn shown_status(
    entry: &Entry,
    own: AuthorKind,
    in_outbox: bool,
    other_read: u64,
) -> &'static str {
    if entry.author.kind != own {
        return DeliveryStatus::Sent.as_str();
    }
    match entry.status {
        DeliveryStatus::Pending => "pending",
        DeliveryStatus::Sent if entry.hlc != 0 && entry.hlc <= other_read => "read",
        DeliveryStatus::Sent if in_outbox => "sent",
        DeliveryStatus::Sent => "delivered",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversation() -> ConversationId {
        ConversationId::from_parts(1, [1; 10])
    }

    fn stored(n: u64, seq: u64) -> Message {
        Message {
            id: MessageId::from_parts(n, [0; 10]),
            conversation_id: conversation(),
            author: Author {
                kind: AuthorKind::Operator,
                name: Some("Alice".into()),
            },
            body: format!("m{n}"),
            sent_at: n as i64,
            seq,
            hlc: seq,
            attachment: None,
            private: false,
        }
    }

    #[test]
    fn duplicates_are_shown_once_and_order_follows_the_logical_clock() {
        let mut t = Transcript::new(Some(conversation()));
        assert!(t.apply_stored(&stored(2, 20)));
        assert!(t.apply_stored(&stored(1, 10)));
        assert!(!t.apply_stored(&stored(2, 20)));
        let bodies: Vec<_> = t.entries().iter().map(|e| e.body.as_str()).collect();
        assert_eq!(bodies, ["m1", "m2"]);
        assert_eq!(t.last_seq(), 20);
    }

    #[test]
    fn a_pending_message_becomes_sent_in_place_when_acknowledged() {
        let mut t = Transcript::new(Some(conversation()));
        t.apply_stored(&stored(1, 10));
        let mine = MessageId::from_parts(5, [5; 10]);
        t.add_pending(mine, AuthorKind::Visitor, "mine".into(), 5);
        t.add_pending(mine, AuthorKind::Visitor, "mine".into(), 5);
        assert_eq!(t.entries().len(), 2);
        assert_eq!(t.entries()[1].status, DeliveryStatus::Pending);
        let ack = Message {
            id: mine,
            author: Author {
                kind: AuthorKind::Visitor,
                name: None,
            },
            body: "mine".into(),
            seq: 11,
            ..stored(5, 11)
        };
        t.apply_stored(&ack);
        assert_eq!(t.entries().len(), 2);
        assert_eq!(
            (t.entries()[1].id, t.entries()[1].status),
            (mine, DeliveryStatus::Sent)
        );
    }

    #[test]
    fn pending_messages_stay_after_stored_ones_and_other_conversations_are_ignored() {
        let mut t = Transcript::new(Some(conversation()));
        t.add_pending(
            MessageId::from_parts(1, [0; 10]),
            AuthorKind::Visitor,
            "pending".into(),
            1,
        );
        t.apply_stored(&stored(9, 90));
        assert_eq!(t.entries()[0].body, "m9");
        let mut elsewhere = stored(3, 30);
        elsewhere.conversation_id = ConversationId::from_parts(2, [2; 10]);
        assert!(!t.apply_stored(&elsewhere));
        t.remove_pending(MessageId::from_parts(1, [0; 10]));
        assert_eq!(t.entries().len(), 1);
    }

    #[test]
    fn of_two_stored_copies_the_smaller_clock_value_is_kept_in_either_order() {
        let earlier = {
            let mut m = stored(1, 40);
            m.hlc = 5;
            m
        };
        let later = {
            let mut m = stored(1, 41);
            m.hlc = 50;
            m
        };
        for copies in [[&earlier, &later], [&later, &earlier]] {
            let mut t = Transcript::new(Some(conversation()));
            t.apply_stored(&stored(2, 20));
            for copy in copies {
                t.apply_stored(copy);
            }
            let order: Vec<_> = t
                .entries()
                .iter()
                .map(|e| (e.body.as_str(), e.hlc))
                .collect();
            assert_eq!(order, [("m1", 5), ("m2", 20)]);
        }
    }

    #[test]
    fn a_message_replicated_late_is_placed_by_its_clock_not_by_its_arrival() {
        let mut t = Transcript::new(Some(conversation()));
        let mut late = stored(1, 30);
        late.hlc = 5;
        t.apply_stored(&stored(2, 10));
        t.apply_stored(&late);
        assert_eq!(t.entries()[0].body, "m1");
        assert_eq!(t.last_seq(), 30);
    }

    #[test]
    fn the_sender_sees_pending_sent_delivered_and_read() {
        let mut transcript = Transcript::new(Some(ConversationId::from_parts(1, [1; 10])));
        let stored = |n: u64, kind: AuthorKind| Message {
            id: MessageId::from_parts(n, [n as u8; 10]),
            conversation_id: ConversationId::from_parts(1, [1; 10]),
            author: Author { kind, name: None },
            body: format!("m{n}"),
            sent_at: n as i64,
            seq: n,
            hlc: n * 10,
            attachment: None,
            private: false,
        };
        transcript.apply_stored(&stored(1, AuthorKind::Visitor));
        transcript.apply_stored(&stored(2, AuthorKind::Visitor));
        transcript.apply_stored(&stored(3, AuthorKind::Operator));
        let [first, second, theirs] = [0, 1, 2].map(|i| transcript.entries()[i].clone());
        let visitor = AuthorKind::Visitor;
        assert_eq!(shown_status(&first, visitor, true, 0), "sent");
        assert_eq!(shown_status(&first, visitor, false, 0), "delivered");
        assert_eq!(shown_status(&first, visitor, false, 10), "read");
        assert_eq!(
            shown_status(&second, visitor, false, 10),
            "delivered",
            "read only up to the mark"
        );
        assert_eq!(
            shown_status(&theirs, visitor, false, 100),
            "sent",
            "not the reader's own"
        );
        let mut pending = first.clone();
        pending.status = DeliveryStatus::Pending;
        assert_eq!(shown_status(&pending, visitor, true, 100), "pending");
    }
}
