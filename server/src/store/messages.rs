//! Messages: idempotent ingest (a resent id is answered with the stored copy), and the queries
//! clients catch up with.

use super::rows::{self, Cached};
use super::{Reader, StoreError, Writer};
use crate::identity::Identity;
use protocol::conversation::Attachment;
use protocol::replication::Change;
use protocol::{
    Author, AuthorKind, ConversationId, ConversationState, ConversationSummary, Intake, Message,
    MessageId,
};
use rusqlite::{params, OptionalExtension, Row};

/// What storing a message produced.
#[derive(Clone, Debug)]
pub struct Posted {
    /// The stored message (the earlier copy when the id was resent).
    pub message: Message,
    /// The conversation after the change.
    pub conversation: ConversationSummary,
    /// True when this id was already stored and nothing new was written.
    pub duplicate: bool,
}

/// Who wrote a message, as stored: the kind, the visitor's or operator's id (none for system
/// messages) and the operator's display name.
pub(super) type AuthorColumns = (AuthorKind, Option<uuid::Uuid>, Option<String>);

const MESSAGE_SELECT: &str =
    "SELECT id, conversation_id, author_kind, author_name, body, sent_at, seq, author_id, hlc, attachment, private FROM messages";

fn message_from_row(row: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: MessageId(rows::uuid(row, 0, "message id")?),
        conversation_id: ConversationId(rows::uuid(row, 1, "message conversation_id")?),
        author: Author {
            kind: rows::parsed(row, 2, "message author_kind", |s| {
                AuthorKind::parse(s).ok_or("not an author kind")
            })?,
            name: row.get(3)?,
        },
        body: row.get(4)?,
        sent_at: row.get(5)?,
        seq: row.get::<_, i64>(6)? as u64,
        hlc: row.get::<_, i64>(8)? as u64,
        attachment: rows::optional_json(row, 9, "message attachment")?,
        private: row.get::<_, i64>(10)? != 0,
    })
}

impl Reader<'_> {
    fn message_with_author(
        &self,
        id: MessageId,
    ) -> Result<Option<(Message, Option<String>)>, StoreError> {
        let sql = format!("{MESSAGE_SELECT} WHERE id = ?1");
        Ok(self
            .conn
            .query_row_cached(&sql, [id.to_string()], |row| {
                Ok((message_from_row(row)?, row.get(7)?))
            })
            .optional()?)
    }

    /// Where the stored copy of a message was first written: the origin deployment and the
    /// message's position in that deployment's log.
    pub fn message_origin(&self, id: MessageId) -> Result<Option<(String, u64)>, StoreError> {
        Ok(self
            .conn
            .query_row_cached(
                "SELECT origin, origin_seq FROM messages WHERE id = ?1",
                [id.to_string()],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)),
            )
            .optional()?)
    }

    /// One message.
    pub fn message(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        Ok(self.message_with_author(id)?.map(|(m, _)| m))
    }

    /// The messages of a conversation stored after `after_seq`, in storage order (at most 1,000;
    /// the client asks again from the last one it received).
    pub fn messages_after(
        &self,
        id: ConversationId,
        after_seq: u64,
    ) -> Result<Vec<Message>, StoreError> {
        self.messages_after_for(id, after_seq, true)
    }

    /// As [`Reader::messages_after`], with the private notes only when `notes` (for operators;
    /// a visitor's reads pass false, so no note ever leaves for a widget).
    pub fn messages_after_for(
        &self,
        id: ConversationId,
        after_seq: u64,
        notes: bool,
    ) -> Result<Vec<Message>, StoreError> {
        let sql = format!(
            "{MESSAGE_SELECT} WHERE conversation_id = ?1 AND seq > ?2 AND (?3 OR private = 0)
             ORDER BY seq LIMIT {}",
            protocol::SYNC_PAGE
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![id.to_string(), after_seq as i64, notes],
            message_from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl Reader<'_> {
    /// A file carried by a message that `who` may see (a visitor: in their own conversation; an
    /// operator: in a conversation of a site they serve), as it was attached.
    pub fn readable_attachment(
        &self,
        hash: &str,
        who: &Identity,
    ) -> Result<Option<Attachment>, StoreError> {
        let (visitor, sites) = match who {
            Identity::Visitor { visitor_id, .. } => (Some(visitor_id.to_string()), None),
            Identity::Operator(op) => (
                None,
                match &op.sites {
                    protocol::admin::SiteScope::All => None,
                    protocol::admin::SiteScope::Only(sites) => Some(
                        serde_json::to_string(&sites.iter().map(|s| &s.0).collect::<Vec<_>>())
                            .expect("strings serialise"),
                    ),
                },
            ),
        };
        let is_operator = who.operator().is_some();
        let found = self
            .conn
            .query_row_cached(
                "SELECT m.attachment FROM messages m JOIN conversations c ON c.id = m.conversation_id
                 WHERE m.attachment_hash = ?1
                   AND ((?4 = 0 AND c.visitor_id = ?2)
                        OR (?4 = 1 AND (?3 IS NULL OR c.site_id IN (SELECT value FROM json_each(?3)))))
                 LIMIT 1",
                params![hash, visitor, sites, is_operator as i64],
                |row| rows::optional_json::<Attachment>(row, 0, "message attachment"),
            )
            .optional()?;
        Ok(found.flatten())
    }
}

impl Writer<'_> {
    /// Stores a message idempotently, opening the conversation when a visitor names a new one.
    ///
    /// A resent id is answered with the stored copy and `duplicate = true`; an id already used for
    /// a different conversation or author is a conflict. All checks happen before the first write.
    pub fn post_message(
        &self,
        author: &Identity,
        conversation_id: ConversationId,
        message_id: MessageId,
        body: &str,
        intake: Option<&Intake>,
        attachment: Option<&Attachment>,
    ) -> Result<Posted, StoreError> {
        let (author_kind, author_id) = match author {
            Identity::Visitor { visitor_id, .. } => (AuthorKind::Visitor, visitor_id.0),
            Identity::Operator(op) => (AuthorKind::Operator, op.id.0),
        };
        if let Some(posted) = self.posted_before(message_id, conversation_id, author, false)? {
            return Ok(posted);
        }
        if let Some(file) = attachment {
            self.check_site_file_rules(author, conversation_id, file)?;
        }
        self.check_may_post(author, conversation_id, intake)?;
        let author_name = author.operator().map(|op| op.name.clone());
        self.record_message(
            conversation_id,
            message_id,
            (author_kind, Some(author_id), author_name),
            (body, attachment, false),
        )?;
        self.just_posted(message_id, conversation_id)
    }

    /// Stores an operator's private note idempotently: any operator who serves the
    /// conversation's site may write one, whatever its state and whoever it is assigned to. It
    /// is stored and replicated like a message and never read for a visitor.
    pub fn post_note(
        &self,
        author: &Identity,
        conversation_id: ConversationId,
        message_id: MessageId,
        body: &str,
    ) -> Result<Posted, StoreError> {
        let Identity::Operator(op) = author else {
            return Err(StoreError::Forbidden(
                "only operators write private notes".into(),
            ));
        };
        if let Some(posted) = self.posted_before(message_id, conversation_id, author, true)? {
            return Ok(posted);
        }
        let conversation = self
            .conversation(conversation_id)?
            .ok_or(StoreError::NotFound("conversation"))?;
        if !op.sites.allows(&conversation.site_id) {
            return Err(StoreError::Forbidden(
                "this chat belongs to a site you do not serve".into(),
            ));
        }
        self.record_message(
            conversation_id,
            message_id,
            (AuthorKind::Operator, Some(op.id.0), Some(op.name.clone())),
            (body, None, true),
        )?;
        self.just_posted(message_id, conversation_id)
    }

    /// What was stored just now, to answer with.
    fn just_posted(
        &self,
        message_id: MessageId,
        conversation_id: ConversationId,
    ) -> Result<Posted, StoreError> {
        Ok(Posted {
            message: self
                .message(message_id)?
                .ok_or(StoreError::NotFound("message"))?,
            conversation: self.existing_conversation(conversation_id)?,
            duplicate: false,
        })
    }

    /// The stored copy of a resent id (a duplicate), or a conflict when the id is already used
    /// for something else: another conversation, author, or a note where a message was meant
    /// (and the reverse).
    fn posted_before(
        &self,
        message_id: MessageId,
        conversation_id: ConversationId,
        author: &Identity,
        private: bool,
    ) -> Result<Option<Posted>, StoreError> {
        let (author_kind, author_id) = match author {
            Identity::Visitor { visitor_id, .. } => (AuthorKind::Visitor, visitor_id.0),
            Identity::Operator(op) => (AuthorKind::Operator, op.id.0),
        };
        let Some((message, stored_author)) = self.message_with_author(message_id)? else {
            return Ok(None);
        };
        if message.conversation_id != conversation_id
            || message.author.kind != author_kind
            || message.private != private
            || stored_author.as_deref() != Some(author_id.to_string().as_str())
        {
            return Err(StoreError::Conflict(format!(
                "message id {message_id} is already used"
            )));
        }
        Ok(Some(Posted {
            message,
            conversation: self.existing_conversation(conversation_id)?,
            duplicate: true,
        }))
    }

    /// Whether the site of the conversation allows `file` (its own rules; the deployment's
    /// were checked before). The site is the conversation's, or the visitor's for a new one.
    fn check_site_file_rules(
        &self,
        author: &Identity,
        conversation_id: ConversationId,
        file: &Attachment,
    ) -> Result<(), StoreError> {
        let site = match (self.conversation(conversation_id)?, author) {
            (Some(c), _) => c.site_id,
            (None, Identity::Visitor { site_id, .. }) => site_id.clone(),
            (None, Identity::Operator(_)) => return Err(StoreError::NotFound("conversation")),
        };
        match self.site_forms(&site)?.files {
            Some(rules) => rules
                .check(&file.content_type, file.size)
                .map_err(StoreError::Forbidden),
            None => Ok(()),
        }
    }

    /// Whether `author` may post a new message in the conversation; a visitor naming a new
    /// conversation opens it, with the form answers that came with the message (checked against
    /// the site's forms before anything is written).
    fn check_may_post(
        &self,
        author: &Identity,
        conversation_id: ConversationId,
        intake: Option<&Intake>,
    ) -> Result<(), StoreError> {
        let current = self.gate(conversation_id)?;
        if intake.is_some() && (current.is_some() || author.operator().is_some()) {
            return Err(StoreError::Invalid(
                "form answers come with the first message of a visitor's conversation".into(),
            ));
        }
        match (current, author) {
            (
                None,
                Identity::Visitor {
                    visitor_id,
                    site_id,
                    page_url,
                },
            ) => {
                let kind = intake.map(|i| i.kind).unwrap_or_default();
                if let Some(intake) = intake {
                    let forms = self.site_forms(site_id)?;
                    intake
                        .check(&forms)
                        .map_err(|e| StoreError::Invalid(e.message))?;
                    self.record(Change::VisitorDetailsSet {
                        visitor_id: *visitor_id,
                        details: intake.details.clone(),
                    })?;
                }
                self.record(Change::ConversationOpened {
                    id: conversation_id,
                    site_id: site_id.clone(),
                    visitor_id: *visitor_id,
                    page_url: page_url.clone(),
                    created_at: self.now_ms(),
                    conversation_kind: kind,
                })?;
                Ok(())
            }
            (None, Identity::Operator(_)) => Err(StoreError::NotFound("conversation")),
            (Some(c), _) if c.state == ConversationState::Closed => {
                Err(StoreError::ConversationClosed)
            }
            (Some(c), Identity::Visitor { visitor_id, .. }) if c.visitor_id != *visitor_id => Err(
                StoreError::Forbidden("this conversation belongs to another visitor".into()),
            ),
            (Some(c), Identity::Operator(op)) if c.operator_id != Some(op.id.0) => Err(
                StoreError::Forbidden("accept the conversation before replying".into()),
            ),
            (Some(_), _) => Ok(()),
        }
    }

    /// What deciding whether a message may be posted needs of a conversation, read alone: every
    /// message passes here, and the whole summary (its operator's card, the visitor's details, the
    /// read marks, the rating, the place in the queue) is read once, for the answer, after the
    /// message is written.
    fn gate(&self, id: ConversationId) -> Result<Option<Gate>, StoreError> {
        Ok(self
            .conn
            .query_row_cached(
                "SELECT state, visitor_id, operator_id FROM conversations WHERE id = ?1",
                [id.to_string()],
                |row| {
                    Ok(Gate {
                        state: rows::parsed(row, 0, "conversation state", |s| {
                            ConversationState::parse(s).ok_or("not a state")
                        })?,
                        visitor_id: protocol::VisitorId(rows::uuid(
                            row,
                            1,
                            "conversation visitor_id",
                        )?),
                        operator_id: match row.get::<_, Option<String>>(2)? {
                            Some(_) => Some(rows::uuid(row, 2, "conversation operator_id")?),
                            None => None,
                        },
                    })
                },
            )
            .optional()?)
    }

    /// Records a message posted now by `author` in a conversation.
    pub(super) fn record_message(
        &self,
        conversation_id: ConversationId,
        id: MessageId,
        (kind, author_id, author_name): AuthorColumns,
        (body, attachment, private): (&str, Option<&Attachment>, bool),
    ) -> Result<(), StoreError> {
        self.record(Change::MessagePosted {
            id,
            conversation_id,
            author_kind: kind,
            author_id,
            author_name,
            body: body.to_owned(),
            sent_at: self.now_ms(),
            attachment: attachment.cloned(),
            private,
        })?;
        Ok(())
    }
}

/// A conversation as [`Writer::post_message`] checks it.
struct Gate {
    state: ConversationState,
    visitor_id: protocol::VisitorId,
    operator_id: Option<uuid::Uuid>,
}
