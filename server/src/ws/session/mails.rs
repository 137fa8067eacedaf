//! The e-mails a session asks for: an offline message's notice to the site (queued in the same
//! transaction as the message) and a transcript a visitor asks for (a few per conversation).

use super::Session;
use crate::mail;
use crate::store::mail::MailKind;
use crate::store::{Posted, StoreError, Writer};
use crate::throttle::retry_after_secs;
use crate::ws::outcome::Outcome;
use protocol::{ConversationId, ConversationKind, ErrorCode, Intake, ServerFrame, VisitorId};

/// Queues the notice of an offline message to the site's notification address, if it has one.
pub(super) fn notify_offline(
    w: &Writer,
    intake: &Intake,
    posted: &Posted,
    body: &str,
) -> Result<(), StoreError> {
    if intake.kind != ConversationKind::Offline {
        return Ok(());
    }
    let site_id = &posted.conversation.site_id;
    let Some(to) = w.site_forms(site_id)?.notify_email else {
        return Ok(());
    };
    let site_name = w.site(site_id)?.map(|s| s.name).unwrap_or_default();
    let notice = mail::offline_notice(&to, &site_name, &intake.details, &posted.conversation, body);
    w.queue_mail(MailKind::Offline, posted.conversation.id, &notice)
}

impl Session {
    /// Queues a conversation's transcript for its visitor.
    pub(super) async fn email_transcript(
        &mut self,
        conversation_id: ConversationId,
        visitor: VisitorId,
        email: String,
    ) -> Outcome {
        if self.state.config.smtp_url.is_none() {
            return Outcome::refuse(
                ErrorCode::Conflict,
                "this chat cannot send e-mail; download the transcript instead",
            );
        }
        let email = email.trim().to_owned();
        if !protocol::conversation::is_email(&email) {
            return Outcome::refuse(
                ErrorCode::Malformed,
                format!("“{email}” is not an e-mail address"),
            );
        }
        if let Err(outcome) = self.visible(conversation_id).await {
            return outcome;
        }
        // The limit lives in the database, so reconnecting does not reset it.
        let limit = self.state.config.transcript_emails_per_conversation;
        let queued = self
            .state
            .store
            .write(move |w| {
                let conversation = w
                    .conversation(conversation_id)?
                    .filter(|c| c.visitor_id == visitor)
                    .ok_or(StoreError::NotFound("conversation"))?;
                if w.mail_count(MailKind::Transcript, conversation_id)? >= limit {
                    return Ok(false);
                }
                let messages = w.messages_after_for(conversation_id, 0, false)?;
                let site_name = w
                    .site(&conversation.site_id)?
                    .map(|s| s.name)
                    .unwrap_or_default();
                let transcript = mail::transcript(&email, &site_name, &messages);
                w.queue_mail(MailKind::Transcript, conversation_id, &transcript)?;
                Ok(true)
            })
            .await;
        match queued {
            Ok(true) => {
                mail::queued(&self.state.mail);
                Outcome::reply(ServerFrame::TranscriptEmailed { conversation_id })
            }
            Ok(false) => Outcome::refuse(
                ErrorCode::TooManyRequests,
                format!(
                    "this transcript was e-mailed {limit} times already; download it instead (retry in {} s)",
                    retry_after_secs(&std::time::Duration::from_secs(3600))
                ),
            ),
            Err(e) => Outcome::refused(e.into()),
        }
    }
}
