//! Conversations: the inbox, a visitor's conversations, and the state changes operators make
//! (accept, close), each announced by a system message.

use super::rows::{self, Cached};
use super::{Reader, StoreError, Writer};
use protocol::admin::SiteScope;
use protocol::conversation::{Rating, RatingScale};
use protocol::replication::{Change, Reader as ReadBy};
use protocol::{
    AuthorKind, ConversationId, ConversationKind, ConversationState, ConversationSummary, Message,
    MessageId, OperatorCard, OperatorId, OperatorProfile, OperatorRole, SiteId, VisitorDetails,
    VisitorId,
};
use rusqlite::{OptionalExtension, Row};

/// What a state change produced: the conversation after it and the system message announcing it.
#[derive(Clone, Debug)]
pub struct StateChange {
    /// The conversation after the change.
    pub conversation: ConversationSummary,
    /// "Alice joined the chat" and the like; `None` when nothing changed (a repeated request).
    pub notice: Option<Message>,
}

pub(super) fn select(condition: &str) -> String {
    format!(
        "SELECT c.id, c.site_id, c.visitor_id, c.state, c.page_url, c.last_message,
            c.created_at, c.updated_at, o.id, o.name, c.kind, d.details,
            (SELECT up_to FROM conversation_reads WHERE conversation_id = c.id AND reader = 'visitor'),
            (SELECT up_to FROM conversation_reads WHERE conversation_id = c.id AND reader = 'operator'),
            rt.score, rt.comment, rt.scale,
            CASE WHEN c.state = 'waiting' AND c.kind = 'chat' AND EXISTS (
                SELECT 1 FROM site_settings s WHERE s.site_id = c.site_id AND s.key = 'routing'
                    AND json_extract(s.value, '$.value') != 'manual')
            THEN 1 + (SELECT count(*) FROM conversations w
                WHERE w.site_id = c.site_id AND w.state = 'waiting' AND w.kind = 'chat'
                    AND (w.created_at < c.created_at OR (w.created_at = c.created_at AND w.id < c.id)))
            END
         FROM conversations c LEFT JOIN operators o ON o.id = c.operator_id
             LEFT JOIN visitor_details d ON d.visitor_id = c.visitor_id
             LEFT JOIN conversation_ratings rt ON rt.conversation_id = c.id {condition}"
    )
}

pub(super) fn conversation_from_row(row: &Row<'_>) -> rusqlite::Result<ConversationSummary> {
    // Only the public card is read: summaries reach visitors.
    let operator = match row.get::<_, Option<String>>(8)? {
        Some(_) => Some(OperatorCard {
            id: OperatorId(rows::uuid(row, 8, "operator id")?),
            name: row.get(9)?,
        }),
        None => None,
    };
    Ok(ConversationSummary {
        id: ConversationId(rows::uuid(row, 0, "conversation id")?),
        site_id: SiteId(row.get(1)?),
        visitor_id: VisitorId(rows::uuid(row, 2, "conversation visitor_id")?),
        state: rows::parsed(row, 3, "conversation state", |s| {
            ConversationState::parse(s).ok_or("not a state")
        })?,
        page_url: row.get(4)?,
        last_message: row.get(5)?,
        created_at: row.get(6)?,
        updated_at: row.get(7)?,
        operator,
        kind: rows::parsed(row, 10, "conversation kind", |s| {
            ConversationKind::parse(s).ok_or("not a conversation kind")
        })?,
        visitor: rows::optional_json(row, 11, "visitor details")?,
        visitor_read: row.get::<_, Option<i64>>(12)?.unwrap_or(0) as u64,
        operator_read: row.get::<_, Option<i64>>(13)?.unwrap_or(0) as u64,
        rating: match row.get::<_, Option<u8>>(14)? {
            Some(score) => Some(Rating {
                score,
                comment: row.get(15)?,
                scale: rows::parsed(row, 16, "rating scale", |s| {
                    RatingScale::parse(s).ok_or("not a rating scale")
                })?,
            }),
            None => None,
        },
        queue_position: row.get(17)?,
    })
}

impl Reader<'_> {
    /// One conversation.
    pub fn conversation(
        &self,
        id: ConversationId,
    ) -> Result<Option<ConversationSummary>, StoreError> {
        Ok(self
            .conn
            .query_row_cached(
                &select("WHERE c.id = ?1"),
                [id.to_string()],
                conversation_from_row,
            )
            .optional()?)
    }

    /// A visitor's conversations, newest first (at most 20).
    pub fn visitor_conversations(
        &self,
        visitor: VisitorId,
    ) -> Result<Vec<ConversationSummary>, StoreError> {
        let sql = select("WHERE c.visitor_id = ?1 ORDER BY c.created_at DESC, c.id DESC LIMIT 20");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([visitor.to_string()], conversation_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every waiting and active conversation of the sites in `scope`, most recently updated
    /// first: an operator's inbox.
    pub fn inbox(&self, scope: &SiteScope) -> Result<Vec<ConversationSummary>, StoreError> {
        let sql = select(
            "WHERE c.state IN ('waiting', 'active')
               AND (?1 IS NULL OR c.site_id IN (SELECT value FROM json_each(?1)))
             ORDER BY c.updated_at DESC LIMIT 500",
        );
        let sites = match scope {
            SiteScope::All => None,
            SiteScope::Only(sites) => Some(
                serde_json::to_string(&sites.iter().map(|s| &s.0).collect::<Vec<_>>())
                    .expect("strings serialise"),
            ),
        };
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([sites], conversation_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// What a visitor told about themselves, if anything.
    pub fn visitor_details(
        &self,
        visitor: VisitorId,
    ) -> Result<Option<VisitorDetails>, StoreError> {
        let found = self
            .conn
            .query_row_cached(
                "SELECT details FROM visitor_details WHERE visitor_id = ?1",
                [visitor.to_string()],
                |row| {
                    rows::parsed(row, 0, "visitor details", |s| {
                        serde_json::from_str::<VisitorDetails>(s)
                    })
                },
            )
            .optional()?;
        Ok(found)
    }

    /// One conversation that must exist (the caller just wrote to it, or checked it).
    pub(super) fn existing_conversation(
        &self,
        id: ConversationId,
    ) -> Result<ConversationSummary, StoreError> {
        self.conversation(id)?
            .ok_or(StoreError::NotFound("conversation"))
    }
}

impl Writer<'_> {
    /// An operator takes a waiting conversation. Accepting one's own active conversation again is
    /// a no-op; a conversation taken by someone else is a conflict.
    pub fn accept(
        &self,
        id: ConversationId,
        op: &OperatorProfile,
    ) -> Result<StateChange, StoreError> {
        let current = self.existing_conversation(id)?;
        serves(op, &current)?;
        match current.state {
            ConversationState::Closed => return Err(StoreError::ConversationClosed),
            ConversationState::Active if current.operator.as_ref().map(|o| o.id) == Some(op.id) => {
                return Ok(StateChange {
                    conversation: current,
                    notice: None,
                })
            }
            ConversationState::Active => {
                return Err(StoreError::Conflict(
                    "another operator has already accepted this chat".into(),
                ))
            }
            ConversationState::Waiting => {}
        }
        self.assign(id, op.id)?;
        self.system_notice(id, format!("{} joined the chat", op.name))
    }

    /// Closes a conversation. The assigned operator or an admin may close an active one; any
    /// operator may close a waiting one. Closing a closed conversation again is a no-op.
    pub fn close(
        &self,
        id: ConversationId,
        op: &OperatorProfile,
    ) -> Result<StateChange, StoreError> {
        let current = self.existing_conversation(id)?;
        serves(op, &current)?;
        let assigned_elsewhere = current.operator.as_ref().is_some_and(|o| o.id != op.id);
        match current.state {
            ConversationState::Closed => {
                return Ok(StateChange {
                    conversation: current,
                    notice: None,
                })
            }
            ConversationState::Active if assigned_elsewhere && op.role != OperatorRole::Admin => {
                return Err(StoreError::Forbidden(
                    "only the assigned operator or an admin can close this chat".into(),
                ))
            }
            _ => {}
        }
        self.record(Change::ConversationStateChanged {
            id,
            state: ConversationState::Closed,
            operator_id: current.operator.as_ref().map(|o| o.id),
        })?;
        self.system_notice(id, format!("{} closed the chat", op.name))
    }

    /// The visitor ends their conversation (a closed one stays closed: a no-op).
    pub fn close_by_visitor(
        &self,
        id: ConversationId,
        visitor: VisitorId,
    ) -> Result<StateChange, StoreError> {
        let current = self.existing_conversation(id)?;
        if current.visitor_id != visitor {
            return Err(StoreError::Forbidden(
                "this conversation belongs to another visitor".into(),
            ));
        }
        if current.state == ConversationState::Closed {
            return Ok(StateChange {
                conversation: current,
                notice: None,
            });
        }
        self.record(Change::ConversationStateChanged {
            id,
            state: ConversationState::Closed,
            operator_id: current.operator.as_ref().map(|o| o.id),
        })?;
        self.system_notice(id, "The visitor ended the chat".into())
    }

    /// Notes that `reader` read the conversation up to the message with clock value `up_to`
    /// (at most its newest message: a mark cannot cover what was not written yet). Returns the
    /// conversation when the mark moved forward, `None` when it did not (nothing is written).
    pub fn mark_read(
        &self,
        id: ConversationId,
        reader: ReadBy,
        up_to: u64,
    ) -> Result<Option<ConversationSummary>, StoreError> {
        let current = self.existing_conversation(id)?;
        let newest: Option<i64> = self.conn.query_row_cached(
            "SELECT max(hlc) FROM messages WHERE conversation_id = ?1",
            [id.to_string()],
            |row| row.get(0),
        )?;
        let up_to = up_to.min(newest.unwrap_or(0) as u64);
        let already = match reader {
            ReadBy::Visitor => current.visitor_read,
            ReadBy::Operator => current.operator_read,
        };
        if up_to <= already {
            return Ok(None);
        }
        self.record(Change::ConversationRead { id, reader, up_to })?;
        self.conversation(id)
    }

    /// The visitor rates their conversation, on the site's scale. The widget asks only once the
    /// conversation ended, but the state is not checked here: after a failover the deployment
    /// the visitor reaches may not know yet that it ended, and the rating must not be lost.
    pub fn rate(
        &self,
        id: ConversationId,
        visitor: VisitorId,
        rating: Rating,
    ) -> Result<ConversationSummary, StoreError> {
        let current = self.existing_conversation(id)?;
        if current.visitor_id != visitor {
            return Err(StoreError::Forbidden(
                "this conversation belongs to another visitor".into(),
            ));
        }
        let scale = self.site_forms(&current.site_id)?.rating;
        rating.check(scale).map_err(StoreError::Invalid)?;
        self.record(Change::ConversationRated { id, rating })?;
        self.existing_conversation(id)
    }

    /// Makes `operator` the conversation's assignee (accept, routing, transfer): an active
    /// state, merged like every state change.
    pub(super) fn assign(
        &self,
        id: ConversationId,
        operator: OperatorId,
    ) -> Result<(), StoreError> {
        self.record(Change::ConversationStateChanged {
            id,
            state: ConversationState::Active,
            operator_id: Some(operator),
        })
        .map(|_| ())
    }

    pub(super) fn system_notice(
        &self,
        id: ConversationId,
        text: String,
    ) -> Result<StateChange, StoreError> {
        let notice_id = MessageId(uuid::Uuid::now_v7());
        self.record_message(
            id,
            notice_id,
            (AuthorKind::System, None, None),
            (&text, None, false),
        )?;
        Ok(StateChange {
            conversation: self.existing_conversation(id)?,
            notice: self.message(notice_id)?,
        })
    }
}

/// Refuses an operator who does not serve the conversation's site.
fn serves(op: &OperatorProfile, conversation: &ConversationSummary) -> Result<(), StoreError> {
    match op.sites.allows(&conversation.site_id) {
        true => Ok(()),
        false => Err(StoreError::Forbidden(
            "this chat belongs to a site you do not serve".into(),
        )),
    }
}
