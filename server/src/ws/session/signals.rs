//! What a session relays without storing it (typing notices, operators' presence, and the
//! `availability` a visitor's socket is told when their site's answer changes) and the small
//! records about a conversation that are not messages: read marks and ratings.

use super::Session;
use crate::hub::Event;
use crate::identity::Identity;
use crate::throttle::per_connection::TypingVerdict;
use crate::ws::outcome::Outcome;
use protocol::conversation::Rating;
use protocol::replication::Reader;
use protocol::{
    Author, AuthorKind, ClientFrame, ConversationId, ErrorCode, OperatorId, Presence, ServerFrame,
    VisitorId,
};

impl Session {
    pub(super) async fn typing(
        &mut self,
        conversation_id: ConversationId,
        typing: bool,
    ) -> Outcome {
        // Coalesced and limited before anything is read or broadcast.
        if self.limits().typing(conversation_id, typing) == TypingVerdict::Drop {
            return Outcome::default();
        }
        let visitor_id = match self.visible(conversation_id).await {
            Ok(visitor_id) => visitor_id,
            Err(outcome) => return outcome,
        };
        let author = match &self.peer {
            Some(Identity::Operator(op)) => Author {
                kind: AuthorKind::Operator,
                name: Some(op.name.clone()),
            },
            _ => Author {
                kind: AuthorKind::Visitor,
                name: None,
            },
        };
        let site_id = match &self.peer {
            Some(Identity::Visitor { site_id, .. }) => Some(site_id.clone()),
            _ => None,
        };
        self.state.hub.publish(Event::Typing {
            visitor_id,
            site_id,
            conversation_id,
            author,
            typing,
            origin: self.connection_id,
        });
        Outcome::default()
    }

    /// The sender read the conversation up to `up_to`: stored when it moves the mark forward,
    /// and announced as the conversation's new summary (the other side shows "read").
    pub(super) async fn read(&mut self, conversation_id: ConversationId, up_to: u64) -> Outcome {
        if self
            .read_marks
            .iter()
            .any(|(id, mark)| *id == conversation_id && *mark >= up_to)
        {
            return Outcome::default();
        }
        if let Err(outcome) = self.visible(conversation_id).await {
            return outcome;
        }
        let reader = match self.peer {
            Some(Identity::Operator(_)) => Reader::Operator,
            _ => Reader::Visitor,
        };
        let marked = self
            .state
            .store
            .write(move |w| w.mark_read(conversation_id, reader, up_to))
            .await;
        match marked {
            Ok(Some(conversation)) => {
                // Only what was stored is remembered: a mark beyond the newest message here
                // (one not replicated yet) was cut back, and is worth sending again.
                let stored = match reader {
                    Reader::Operator => conversation.operator_read,
                    Reader::Visitor => conversation.visitor_read,
                };
                self.read_marks.retain(|(id, _)| *id != conversation_id);
                if self.read_marks.len() == 8 {
                    self.read_marks.remove(0);
                }
                self.read_marks.push((conversation_id, stored));
                self.state.hub.publish(Event::Conversation { conversation });
                Outcome::default()
            }
            Ok(None) => Outcome::default(),
            Err(e) => Outcome::refused(e.into()),
        }
    }

    /// The visitor rated their conversation: stored, and announced as its summary (which the
    /// visitor's own sockets receive too: their confirmation).
    /// A frame only a visitor sends: a rating, a transcript by mail, custom attributes.
    pub(super) async fn visitor_frame(
        &mut self,
        visitor: VisitorId,
        frame: ClientFrame,
    ) -> Outcome {
        match frame {
            ClientFrame::Rate {
                conversation_id,
                rating,
            } => self.rate(conversation_id, visitor, rating).await,
            ClientFrame::EmailTranscript {
                conversation_id,
                email,
            } => self.email_transcript(conversation_id, visitor, email).await,
            ClientFrame::Attributes { attributes } => {
                self.set_attributes(visitor, attributes).await
            }
            _ => Outcome::default(),
        }
    }

    /// The page set the visitor's custom attributes: checked, then stored in their context
    /// (operators see them beside the conversation). Counted with the socket's messages, so a
    /// page calling `setAttributes` in a loop is refused, not stored a thousand times.
    async fn set_attributes(
        &mut self,
        visitor: VisitorId,
        attributes: std::collections::BTreeMap<String, String>,
    ) -> Outcome {
        if let Err(why) = protocol::visitor::check_attributes(&attributes) {
            return Outcome::refuse(ErrorCode::Malformed, format!("setAttributes: {why}"));
        }
        if let Err(wait) = self.limits().message() {
            return Outcome::refuse(
                ErrorCode::TooManyRequests,
                format!(
                    "setAttributes: too often; try again in {} s",
                    crate::throttle::retry_after_secs(&wait)
                ),
            );
        }
        match self
            .state
            .store
            .write(move |w| w.set_attributes(visitor, attributes))
            .await
        {
            Ok(()) => Outcome::default(),
            Err(e) => Outcome::refused(e.into()),
        }
    }

    async fn rate(
        &mut self,
        conversation_id: ConversationId,
        visitor: VisitorId,
        rating: Rating,
    ) -> Outcome {
        match self
            .state
            .store
            .write(move |w| w.rate(conversation_id, visitor, rating))
            .await
        {
            Ok(conversation) => {
                self.state.hub.publish(Event::Conversation { conversation });
                Outcome::default()
            }
            Err(e) => Outcome::refused(e.into()),
        }
    }

    /// An operator chose online or away: the board counts it, and their other consoles follow.
    pub(super) fn set_presence(&mut self, operator: OperatorId, state: Presence) -> Outcome {
        self.state.presence.set(operator, state);
        self.state.hub.publish(Event::Presence {
            operator_id: operator,
            state,
        });
        Outcome::default()
    }

    /// Whether a visitor's socket should watch the presence board (after a visitor's `hello`).
    pub fn watches_presence(&self) -> bool {
        matches!(self.peer, Some(Identity::Visitor { .. }))
    }

    /// The `availability` frame for a visitor whose site's answer changed since they were last
    /// told, if it did.
    pub fn availability_changed(&mut self) -> Option<ServerFrame> {
        let Some(Identity::Visitor { site_id, .. }) = &self.peer else {
            return None;
        };
        let online = self.state.presence.online_for(site_id);
        if self.told_online == Some(online) {
            return None;
        }
        self.told_online = Some(online);
        Some(ServerFrame::Availability { online })
    }
}

impl Drop for Session {
    /// An operator's console that closes no longer counts as them being online.
    fn drop(&mut self) {
        if let Some(operator) = self.console_of.take() {
            self.state.presence.console_closed(operator);
        }
    }
}

/// The refusal an operator gets for a frame only visitors send.
pub(super) fn visitor_only(frame: &ClientFrame) -> &'static str {
    match frame {
        ClientFrame::Rate { .. } => "only the visitor rates a conversation",
        ClientFrame::EmailTranscript { .. } => "transcripts are e-mailed to visitors",
        _ => "only visitors have custom attributes",
    }
}
