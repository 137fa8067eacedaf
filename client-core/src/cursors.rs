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

/// A deployment (its index in the link's list) and the identity of its message log ("" for a
/// deployment that does not name it).
type LogKey = (usize, String);

/// The highest sequence number received of each conversation, per deployment and message log.
///
/// A client knows a handful of logs and at most some hundreds of conversations, so these are
/// plain lists searched in turn: a map's code would weigh more in the widget's download than the
/// searches cost.
#[derive(Debug, Default, Clone)]
pub struct Cursors {
    logs: Vec<(LogKey, Vec<(ConversationId, u64)>)>,
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
            self.logs.retain(|(known, _)| *known != key);
        }
        self.here = Some(key);
    }

    /// The `sync` that asks the current deployment for what it stored of `conversation_id` after
    /// what the client received from it (everything, if nothing).
    pub fn sync(&self, conversation_id: ConversationId) -> ClientFrame {
        let after_seq = self
            .logs
            .iter()
            .filter(|(key, _)| Some(key) == self.here.as_ref())
            .flat_map(|(_, seqs)| seqs)
            .find(|(id, _)| *id == conversation_id)
            .map_or(0, |(_, seq)| *seq);
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
        let at = match self.logs.iter().position(|(known, _)| known == key) {
            Some(at) => at,
            None => {
                self.logs.push((key.clone(), Vec::new()));
                self.logs.len() - 1
            }
        };
        let seqs = &mut self.logs[at].1;
        match seqs
            .iter_mut()
            .find(|(id, _)| *id == message.conversation_id)
        {
            Some((_, seq)) => *seq = (*seq).max(message.seq),
            None => seqs.push((message.conversation_id, message.seq)),
        }
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
        for (_, seqs) in &mut self.logs {
            seqs.retain(|(id, _)| *id != conversation_id);
        }
    }

    /// Forgets everything (a signed-out console).
    pub fn clear(&mut self) {
        *self = Cursors::default();
    }
}

#[cfg(test)]
mod tests;
