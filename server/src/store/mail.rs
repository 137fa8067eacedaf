//! The e-mails a deployment has to send: queued in the same transaction as what caused them (an
//! offline message, a visitor's request for a transcript), sent by [`crate::mail`], retried
//! with growing pauses until the mail server takes them. Local to this deployment, not
//! replicated: each message is sent by the deployment that stored it.

use super::rows::Cached;
use super::{Reader, StoreError, Writer};
use protocol::ConversationId;
use rusqlite::params;

/// Why an e-mail is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailKind {
    /// A visitor left the offline form: to the site's notification address.
    Offline,
    /// A visitor asked for their conversation's transcript.
    Transcript,
}

impl MailKind {
    fn as_str(self) -> &'static str {
        match self {
            MailKind::Offline => "offline",
            MailKind::Transcript => "transcript",
        }
    }
}

/// An e-mail to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    /// Its row, once queued.
    pub id: i64,
    /// The recipient.
    pub to: String,
    /// Where replies go (the visitor, for an offline message).
    pub reply_to: Option<String>,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
    /// How many times sending failed so far.
    pub attempts: u32,
}

impl Writer<'_> {
    /// Queues an e-mail about `conversation`; sent once the transaction commits.
    pub fn queue_mail(
        &self,
        kind: MailKind,
        conversation: ConversationId,
        mail: &Mail,
    ) -> Result<(), StoreError> {
        let now = self.now_ms();
        self.conn().execute_cached(
            "INSERT INTO mail_outbox (kind, conversation_id, to_addr, reply_to, subject, body, created_at, next_attempt_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            params![kind.as_str(), conversation.to_string(), mail.to, mail.reply_to, mail.subject, mail.body, now],
        )?;
        Ok(())
    }

    /// The mail server took it.
    pub fn mail_sent(&self, id: i64) -> Result<(), StoreError> {
        self.conn().execute_cached(
            "UPDATE mail_outbox SET sent_at = ?2, last_error = NULL WHERE id = ?1",
            params![id, self.now_ms()],
        )?;
        Ok(())
    }

    /// Sending failed: tried again after `retry_in_ms`.
    pub fn mail_failed(&self, id: i64, error: &str, retry_in_ms: i64) -> Result<(), StoreError> {
        self.conn().execute_cached(
            "UPDATE mail_outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3
             WHERE id = ?1",
            params![id, error, self.now_ms() + retry_in_ms],
        )?;
        Ok(())
    }
}

impl Reader<'_> {
    /// E-mails due at `now_ms`, oldest first (at most `limit`).
    pub fn mail_due(&self, now_ms: i64, limit: usize) -> Result<Vec<Mail>, StoreError> {
        // The limit is in the text: a bound `LIMIT` recompiles the statement on every call (see
        // `events::local_events_sql`).
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT id, to_addr, reply_to, subject, body, attempts FROM mail_outbox
             WHERE sent_at IS NULL AND next_attempt_at <= ?1 ORDER BY id LIMIT {limit}"
        ))?;
        let rows = stmt.query_map(params![now_ms], |row| {
            Ok(Mail {
                id: row.get(0)?,
                to: row.get(1)?,
                reply_to: row.get(2)?,
                subject: row.get(3)?,
                body: row.get(4)?,
                attempts: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many e-mails of `kind` were queued about `conversation` here.
    pub fn mail_count(
        &self,
        kind: MailKind,
        conversation: ConversationId,
    ) -> Result<u32, StoreError> {
        Ok(self.conn.query_row_cached(
            "SELECT count(*) FROM mail_outbox WHERE conversation_id = ?1 AND kind = ?2",
            params![conversation.to_string(), kind.as_str()],
            |row| row.get(0),
        )?)
    }
}
