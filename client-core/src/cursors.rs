//! Where a client resumes each conversation when it is welcomed: the highest sequence number it
//! received of it from that deployment's message log, so that a `sync` asks only for what it
//! missed.
//!
//! Sequence numbers are each deployment's own, and a deployment's numbering starts again when
//! its database does (a new one, a restored backup): the `welcome` names the log (`log`), and a
//! cursor is kept per deployment and log. A client that leaves a deployment and comes back to
//! the same log (after a freeze, a cut link, a restart on the same data) asks only for what is
//! new there; one welcomed by a log it has not been on asks for everything, merged by id. Before
//! this, every move cost a client a full history of every conversation it showed, which was the
//! heaviest load a deployment carried during a failover.
//!
//! A deployment answers a `sync` with at most [`SYNC_PAGE`] messages; [`Cursors::history`]
//! says when to ask for the next page.

use protocol::{ClientFrame, ConversationId, Message, ServerFrame, SYNC_PAGE};
use std::collections::BTreeMap;

/// A deployment (its index in the link's list) and the identity of its message log ("" for a
/// deployment that does not name it).
type LogKey = (usize, String);

/// The highest sequence number received of each conversation, per deployment and message log.
#[derive(Debug, Default, Clone)]
pub struct Cursors {
    logs: BTreeMap<LogKey, BTreeMap<ConversationId, u64>>,
    /// The log of the current welcome.
    here: Option<LogKey>,
}

impl Cursors {
    /// Notes a `welcome` from deployment `deployment`; what follows is numbered by its log.
    pub fn welcomed(&mut self, deployment: usize, welcome: &ServerFrame) {
        let log = match welcome {
            ServerFrame::Welcome { log, .. } => log.clone(),
            _ => None,
        };
        let key = (deployment, log.clone().unwrap_or_default());
        // A deployment that does not name its log may have a new one after any absence.
        if log.is_none() && self.here.as_ref() != Some(&key) {
            self.logs.remove(&key);
        }
        self.here = Some(key);
    }

    /// The `sync` that asks the current deployment for what it stored of `conversation_id` after
    /// what the client received from it (everything, if nothing).
    pub fn sync(&self, conversation_id: ConversationId) -> ClientFrame {
        let after_seq = self
            .here
            .as_ref()
            .and_then(|key| self.logs.get(key))
            .and_then(|seqs| seqs.get(&conversation_id))
            .copied()
            .unwrap_or(0);
        ClientFrame::Sync {
            conversation_id,
            after_seq,
        }
    }

    /// Notes a stored message received from the current deployment (in an `ack`, a `message` or
    /// a `history`).
    pub fn received(&mut self, message: &Message) {
        let Some(key) = &self.here else {
            return;
        };
        let seq = self
            .logs
            .entry(key.clone())
            .or_default()
            .entry(message.conversation_id)
            .or_default();
        *seq = (*seq).max(message.seq);
    }

    /// Notes a `history` page of `conversation_id`, and returns the `sync` for the next page
    /// when this one was full.
    pub fn history(
        &mut self,
        conversation_id: ConversationId,
        messages: &[Message],
    ) -> Option<ClientFrame> {
        for message in messages {
            self.received(message);
        }
        let last = messages.iter().map(|m| m.seq).max()?;
        (messages.len() >= SYNC_PAGE).then_some(ClientFrame::Sync {
            conversation_id,
            after_seq: last,
        })
    }

    /// Forgets `conversation_id` everywhere: the next `sync` of it asks for everything.
    pub fn forget(&mut self, conversation_id: ConversationId) {
        for seqs in self.logs.values_mut() {
            seqs.remove(&conversation_id);
        }
    }

    /// Forgets everything (a signed-out console).
    pub fn clear(&mut self) {
        *self = Cursors::default();
    }
}

#[cfg(test)]
mod tests;
