//! Messages written but not yet acknowledged. The driver persists the outbox after every change
//! (localStorage in the browser) so that a reload, a crash or a lost connection loses nothing: on
//! every reconnect each pending message is sent again with its original id.

use protocol::{ClientFrame, ConversationId, MessageId};
use serde::{Deserialize, Serialize};

/// A message waiting for its acknowledgement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingMessage {
    /// The conversation it belongs to.
    pub conversation_id: ConversationId,
    /// Its id, kept across resends so the deployment stores it once.
    pub message_id: MessageId,
    /// The text.
    pub body: String,
    /// When it was written (Unix ms).
    pub written_at: i64,
    /// The form answers it carries (the first message after the pre-chat form, or the offline
    /// form's message): kept with it, so a resend after a failover stores both again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intake: Option<protocol::Intake>,
    /// The file it carries, already uploaded to a deployment (the peer gets it by replication,
    /// or the client uploads it again where it resends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<protocol::conversation::Attachment>,
    /// A private note (operators only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub private: bool,
}

impl PendingMessage {
    /// The frame that sends (or resends: same id, stored once) this message.
    pub fn send_frame(&self) -> ClientFrame {
        ClientFrame::Send {
            conversation_id: self.conversation_id,
            message_id: self.message_id,
            body: self.body.clone(),
            intake: self.intake.clone(),
            attachment: self.attachment.clone(),
            private: self.private,
        }
    }
}

/// The pending messages, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outbox {
    /// In writing order; resent in this order.
    pending: Vec<PendingMessage>,
}

impl Outbox {
    /// Adds a message; a message with the same id is not added twice.
    pub fn push(&mut self, message: PendingMessage) {
        if !self
            .pending
            .iter()
            .any(|m| m.message_id == message.message_id)
        {
            self.pending.push(message);
        }
    }

    /// The ids of the pending messages, in writing order (what the apps show as not yet on
    /// both deployments).
    pub fn ids(&self) -> Vec<MessageId> {
        self.pending.iter().map(|m| m.message_id).collect()
    }

    /// Forgets an acknowledged (or definitively refused) message; returns whether it was here.
    pub fn remove(&mut self, id: MessageId) -> bool {
        let before = self.pending.len();
        self.pending.retain(|m| m.message_id != id);
        before != self.pending.len()
    }

    /// Takes a message out (a definitive refusal), returning it if it was here.
    pub fn take(&mut self, id: MessageId) -> Option<PendingMessage> {
        let at = self.pending.iter().position(|m| m.message_id == id)?;
        Some(self.pending.remove(at))
    }

    /// The pending messages, oldest first.
    pub fn pending(&self) -> &[PendingMessage] {
        &self.pending
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(n: u64) -> PendingMessage {
        PendingMessage {
            conversation_id: ConversationId::from_parts(1, [1; 10]),
            message_id: MessageId::from_parts(n, [0; 10]),
            body: format!("m{n}"),
            written_at: n as i64,
            intake: None,
            attachment: None,
            private: false,
        }
    }

    #[test]
    fn messages_stay_until_acknowledged_and_survive_serialisation() {
        let mut outbox = Outbox::default();
        outbox.push(message(1));
        outbox.push(message(2));
        outbox.push(message(1));
        assert_eq!(outbox.pending().len(), 2);
        let restored: Outbox = serde_json_roundtrip(&outbox);
        assert_eq!(restored, outbox);
        assert!(outbox.remove(message(1).message_id));
        assert!(!outbox.remove(message(1).message_id));
        assert_eq!(outbox.pending()[0].body, "m2");
    }

    fn serde_json_roundtrip(outbox: &Outbox) -> Outbox {
        serde_json::from_str(&serde_json::to_string(outbox).unwrap()).unwrap()
    }
}
