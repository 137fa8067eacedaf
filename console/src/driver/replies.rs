//! What the operator sends: replies (text, or a file once uploaded) queued in the link's outbox,
//! shown as pending until a deployment stores them; the outbox kept in `localStorage` for a
//! reload; a reply refused for good taken off the panes.

use super::{with_console, Console};
use browser::{monotonic_ms, new_message_id};
use client_core::{Link, PendingMessage};
use leptos::prelude::*;
use protocol::{AuthorKind, ConversationId};

/// Queues a reply; returns false when there was nothing to send.
pub fn reply(id: ConversationId, body: &str) -> bool {
    with_console(|console, link| console.reply_now(link, id, body)).unwrap_or(false)
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

    pub(super) fn reply_now(
        &mut self,
        link: Option<&mut Link>,
        id: ConversationId,
        body: &str,
    ) -> bool {
        let body = body.trim();
        !body.is_empty() && self.compose(link, id, body, None)
    }

    /// Queues a reply with `body` and `attachment` in conversation `id`.
    pub(super) fn compose(
        &mut self,
        link: Option<&mut Link>,
        id: ConversationId,
        body: &str,
        attachment: Option<protocol::conversation::Attachment>,
    ) -> bool {
        let Some(link) = link else {
            return false;
        };
        let message = PendingMessage {
            conversation_id: id,
            message_id: new_message_id(),
            body: body.to_owned(),
            written_at: browser::now_ms(),
            intake: None,
            attachment,
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
