//! State changes an operator makes to a conversation (accept, close, transfer) and what they
//! publish.

use super::{Outcome, Session};
use crate::hub::Event;
use crate::store::{StateChange, StoreError, Writer};
use protocol::{ConversationId, OperatorId, OperatorProfile};

impl Session {
    pub(super) async fn change_state<F>(&mut self, change: F) -> Outcome
    where
        F: FnOnce(&Writer) -> Result<StateChange, StoreError> + Send + 'static,
    {
        match self.state.store.write(change).await {
            Ok(change) => {
                crate::routing::publish(&self.state, &change);
                Outcome::default()
            }
            Err(e) => Outcome::refused(e.into()),
        }
    }

    /// Hands a chat to another operator. Whether they are online comes from presence (here or
    /// at the peer); everything else is checked inside the write.
    pub(super) async fn transfer(
        &mut self,
        by: OperatorProfile,
        conversation_id: ConversationId,
        to: OperatorId,
        note: Option<String>,
    ) -> Outcome {
        let online = self.state.presence.is_online(to);
        let result = self
            .state
            .store
            .write(move |w| w.transfer(conversation_id, &by, to, note.as_deref(), online))
            .await;
        match result {
            Ok(done) => {
                if let Some(note) = done.note {
                    self.state.hub.publish(Event::Message {
                        visitor_id: done.change.conversation.visitor_id,
                        site_id: done.change.conversation.site_id.clone(),
                        message: note,
                        origin: crate::hub::REMOTE_ORIGIN,
                    });
                }
                crate::routing::publish(&self.state, &done.change);
                Outcome::default()
            }
            Err(e) => Outcome::refused(e.into()),
        }
    }
}
