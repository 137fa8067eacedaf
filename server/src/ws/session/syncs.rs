//! Catching a client up: `sync` asks for a conversation's summary and its messages after a
//! sequence number. A client that moved to this deployment asks for every conversation it knows
//! at once (an operator, for hundreds), and each answer reads the store. Answered in the order
//! they arrived, those requests once held up everything the client sent after them: in a fault
//! run an operator's message waited 12 s for its `ack` behind 204 of them, and its pings went
//! unanswered until the client took the busy deployment for dead. So a `sync` only joins a queue
//! here, and the socket loop answers the queue one request at a time whenever no frame from the
//! client is waiting. Hub events still wait until the queue is empty, as they waited while each
//! request was answered on arrival, and each answer is read and sent in one piece, so an event
//! that happened after an answer's snapshot still reaches the client after that answer.

use super::{Identity, Outcome, Session};
use protocol::{ConversationId, ErrorCode, ServerFrame};
use std::collections::VecDeque;

/// How many `sync` requests may wait on one connection. An operator asks once per conversation
/// it knows, so this is far above any real inbox; it bounds what one connection can make the
/// deployment hold (16 bytes each) when a client sends requests faster than they are answered.
pub(crate) const MAX_WAITING_SYNCS: usize = 10_000;

/// The `sync` requests waiting on one connection, oldest first. Empty, it holds no memory.
#[derive(Debug, Default)]
pub(super) struct WaitingSyncs(VecDeque<(ConversationId, u64)>);

impl WaitingSyncs {
    /// Adds a request; `false` (and nothing added) when [`MAX_WAITING_SYNCS`] wait already.
    fn push(&mut self, conversation_id: ConversationId, after_seq: u64) -> bool {
        if self.0.len() >= MAX_WAITING_SYNCS {
            return false;
        }
        self.0.push_back((conversation_id, after_seq));
        true
    }

    fn pop(&mut self) -> Option<(ConversationId, u64)> {
        self.0.pop_front()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Session {
    /// Queues a `sync` request, or refuses it when too many are waiting already.
    pub(super) fn queue_sync(
        &mut self,
        conversation_id: ConversationId,
        after_seq: u64,
    ) -> Outcome {
        if !self.waiting_syncs.push(conversation_id, after_seq) {
            return Outcome::refuse(
                ErrorCode::TooManyRequests,
                format!(
                    "{MAX_WAITING_SYNCS} sync requests are waiting on this connection already; \
                     ask again once they are answered"
                ),
            );
        }
        Outcome::default()
    }

    /// Whether a `sync` request waits for its answer.
    pub fn has_waiting_syncs(&self) -> bool {
        !self.waiting_syncs.is_empty()
    }

    /// Answers the oldest waiting `sync` request (nothing, when none waits).
    pub async fn answer_next_sync(&mut self) -> Outcome {
        match self.waiting_syncs.pop() {
            Some((conversation_id, after_seq)) => self.sync(conversation_id, after_seq).await,
            None => Outcome::default(),
        }
    }

    async fn sync(&mut self, conversation_id: ConversationId, after_seq: u64) -> Outcome {
        if let Err(outcome) = self.visible(conversation_id).await {
            return outcome;
        }
        let notes = matches!(self.peer, Some(Identity::Operator(_)));
        // The conversation's summary comes first: a client catching up after a reconnect (a
        // failover) learns what changed while it was away (closed, read, rated), not only the
        // messages.
        match self
            .state
            .store
            .read(move |r| {
                let summary = r.conversation(conversation_id)?;
                Ok((
                    summary,
                    r.messages_after_for(conversation_id, after_seq, notes)?,
                ))
            })
            .await
        {
            Ok((summary, messages)) => {
                let mut outcome = Outcome::default();
                if let Some(conversation) = summary {
                    outcome
                        .replies
                        .push(ServerFrame::Conversation { conversation });
                }
                outcome.replies.push(ServerFrame::History {
                    conversation_id,
                    messages,
                });
                outcome
            }
            Err(e) => Outcome::refused(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_come_out_in_order_and_the_queue_is_bounded() {
        let mut waiting = WaitingSyncs::default();
        let conversation = |n: u64| ConversationId::from_parts(n, [0; 10]);
        for n in 0..MAX_WAITING_SYNCS as u64 {
            assert!(waiting.push(conversation(n), n));
        }
        assert!(
            !waiting.push(conversation(u64::MAX), 0),
            "one past the limit is refused"
        );
        for n in 0..MAX_WAITING_SYNCS as u64 {
            assert_eq!(waiting.pop(), Some((conversation(n), n)));
        }
        assert!(waiting.is_empty());
        assert!(waiting.push(conversation(1), 1), "room again once answered");
    }
}
