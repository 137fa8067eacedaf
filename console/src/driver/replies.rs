//! What the operator sends: replies (text, or a file once uploaded) queued in the link's outbox,
//! shown as pending until a deployment stores them; the outbox kept in `localStorage` for a
//! reload; a reply refused for good taken off the panes.

use super::{with_console, Console};
use browser::{monotonic_ms, new_message_id};
use client_core::{Link, PendingMessage};
use leptos::prelude::*;
use protocol::conversation::Attachment;
use protocol::{AuthorKind, ConversationId};

/// Queues a reply; returns false when there was nothing to send.
pub fn reply(id: ConversationId, body: &str) -> bool {
    let body = body.trim();
    !body.is_empty()
        && with_console(|console, link| console.compose(link, id, Reply::Text(body)))
            .unwrap_or(false)
}

/// Queues a private note (for operators only, in any conversation of a site the operator
/// serves); returns false when there was nothing to send.
pub fn note(id: ConversationId, body: &str) -> bool {
    let body = body.trim();
    !body.is_empty()
        && with_console(|console, link| console.compose(link, id, Reply::Note(body)))
            .unwrap_or(false)
}

/// What the operator sends.
pub(super) enum Reply<'a> {
    /// Text for the visitor.
    Text(&'a str),
    /// A file for the visitor, uploaded already.
    File(Attachment),
    /// A private note for the other operators.
    Note(&'a str),
}

impl Console {
    /// Keeps the outbox for a reload and shows which replies are not on both deployments.
    pub(super) fn outbox_changed(&mut self, link: &Link) {
        self.store.set_json("outbox", link.outbox());
        self.state.unconfirmed.set(link.outbox().ids());
    }

    /// Takes a reply refused for good off the panes.
    pub(super) fn forget_pending(&mut self, id: protocol::MessageId) {
        self.state.transcripts.update(|all| {
            for transcript in all.values_mut() {
                transcript.remove_pending(id);
            }
        });
    }

    /// Queues `reply` in conversation `id`.
    pub(super) fn compose(
        &mut self,
        link: Option<&mut Link>,
        id: ConversationId,
        reply: Reply<'_>,
    ) -> bool {
        let Some(link) = link else {
            return false;
        };
        let (body, attachment, private) = match reply {
            Reply::Text(body) => (body.to_owned(), None, false),
            Reply::File(file) => (String::new(), Some(file), false),
            Reply::Note(body) => (body.to_owned(), None, true),
        };
        let message = PendingMessage {
            conversation_id: id,
            message_id: new_message_id(),
            body,
            written_at: browser::now_ms(),
            intake: None,
            attachment,
            private,
        };
        self.state.transcripts.update(|all| {
            if let Some(t) = all.get_mut(&id) {
                t.add_outgoing(&message, AuthorKind::Operator);
            }
        });
        link.send_message(monotonic_ms(), message);
        self.typing_sent.remove(&id);
        true
    }
}
