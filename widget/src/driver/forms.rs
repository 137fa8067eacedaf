//! What the visitor sends besides messages: the pre-chat and offline forms (whose answers ride
//! with a message, through the outbox), the end of a chat, its rating (kept until a deployment
//! confirms it), and how far the visitor has read.

use super::{with_link, Widget};
use browser::{monotonic_ms, new_conversation_id, new_message_id};
use client_core::{Link, LinkStatus, PendingMessage};
use leptos::prelude::*;
use protocol::{AuthorKind, ClientFrame, ConversationKind, Intake, VisitorDetails};

/// The pre-chat form was filled in: the answers go with the first message. Returns why not when
/// they break the site's rules (nothing is kept then).
pub fn submit_prechat(details: VisitorDetails) -> Result<(), String> {
    with_link(|w, _| w.submit_prechat(details)).unwrap_or(Err("The chat is not ready yet.".into()))
}

/// The offline form: name, e-mail address and message become an offline conversation, in the
/// outbox until both deployments have it.
pub fn submit_offline(details: VisitorDetails, message: &str) -> Result<(), String> {
    with_link(|w, link| w.submit_offline(link, details, message))
        .unwrap_or(Err("The chat is not ready yet.".into()))
}

/// The visitor ends the chat (the rating form follows).
pub fn end_chat() {
    with_link(|w, link| {
        if let Some(conversation_id) = w.conversation {
            link.send(monotonic_ms(), ClientFrame::Close { conversation_id });
        }
    });
}

/// The visitor rates the ended chat: kept until a deployment confirms it, so a failover in
/// between only delays it.
pub fn rate(rating: protocol::conversation::Rating) -> Result<(), String> {
    with_link(|w, link| w.rate(link, rating)).unwrap_or(Err("The chat is not ready yet.".into()))
}

/// The visitor may have read new messages (the panel is open and the page visible): tells the
/// deployment how far, once per new message.
pub fn mark_read() {
    with_link(|w, link| w.mark_read(link));
}

/// Asks for the transcript by e-mail; the answer shows in `transcript_mail`.
pub fn email_transcript(email: &str) -> Result<(), String> {
    let email = email.trim();
    if !protocol::conversation::is_email(email) {
        return Err(format!("“{email}” is not an e-mail address."));
    }
    with_link(|w, link| {
        let conversation_id = w.conversation.ok_or("There is no chat to send.")?;
        if !matches!(link.status(), LinkStatus::Online { .. }) {
            return Err("The chat is reconnecting; try again in a moment.".to_owned());
        }
        w.awaiting_transcript = true;
        link.send(
            monotonic_ms(),
            ClientFrame::EmailTranscript {
                conversation_id,
                email: email.to_owned(),
            },
        );
        Ok(())
    })
    .unwrap_or(Err("The chat is not ready yet.".into()))
}

impl Widget {
    pub(super) fn rate(
        &mut self,
        link: &mut Link,
        rating: protocol::conversation::Rating,
    ) -> Result<(), String> {
        rating.check(self.settings.forms.rating)?;
        let Some(conversation_id) = self.conversation else {
            return Err("There is no chat to rate.".into());
        };
        self.persisted
            .set_rating(Some(&(conversation_id, rating.clone())));
        self.state.rating_given.set(true);
        link.send(
            monotonic_ms(),
            ClientFrame::Rate {
                conversation_id,
                rating,
            },
        );
        Ok(())
    }

    pub(super) fn mark_read(&mut self, link: &mut Link) {
        let Some(conversation_id) = self.conversation else {
            return;
        };
        let newest = self.state.transcript.with_untracked(|t| {
            t.entries()
                .iter()
                .filter(|e| e.author.kind != AuthorKind::Visitor)
                .map(|e| e.hlc)
                .max()
                .unwrap_or(0)
        });
        if newest > self.read_sent && matches!(link.status(), LinkStatus::Online { .. }) {
            self.read_sent = newest;
            link.send(
                monotonic_ms(),
                ClientFrame::Read {
                    conversation_id,
                    up_to: newest,
                },
            );
        }
    }

    pub(super) fn submit_prechat(&mut self, details: VisitorDetails) -> Result<(), String> {
        let intake = Intake {
            kind: ConversationKind::Chat,
            details,
        };
        intake.check(&self.settings.forms).map_err(|e| e.message)?;
        self.persisted.set_intake(Some(&intake));
        self.pending_intake = Some(intake);
        self.state.form_dirty.set(false);
        self.state.form_error.set(None);
        self.state.details_known.set(true);
        Ok(())
    }

    pub(super) fn submit_offline(
        &mut self,
        link: &mut Link,
        details: VisitorDetails,
        message: &str,
    ) -> Result<(), String> {
        let intake = Intake {
            kind: ConversationKind::Offline,
            details,
        };
        intake.check(&self.settings.forms).map_err(|e| e.message)?;
        let body = message.trim();
        if body.is_empty() {
            return Err("Please write your message.".into());
        }
        if body.len() > self.max_message_bytes {
            let limit = self.max_message_bytes.to_string();
            return Err(crate::i18n::t_with("notice.too_long", &[("n", &limit)]));
        }
        self.state.conversation.set(None);
        self.switch_conversation(link, Some(new_conversation_id()));
        let Some(conversation_id) = self.conversation else {
            return Err("The chat is not ready yet.".into());
        };
        self.pending_intake = None;
        self.persisted.set_intake(None);
        self.queue(
            link,
            PendingMessage {
                conversation_id,
                message_id: new_message_id(),
                body: body.to_owned(),
                written_at: browser::now_ms(),
                intake: Some(intake),
                attachment: None,
                private: false,
            },
        );
        self.state.form_dirty.set(false);
        self.state.form_error.set(None);
        self.state.details_known.set(true);
        self.state.offline_sent.set(true);
        Ok(())
    }
}
