//! All SQL of the deployment, one function per question or change. Writes take the writer's
//! connection (inside a group commit, see [`super::Store::write`]); reads take a read connection.

use super::{now_ms, Cached, StoreError, Writer};
use protocol::replication::Change;
use protocol::{
    Author, AuthorKind, ConversationId, ConversationState, ConversationSummary, Message, MessageId,
    OperatorId, OperatorProfile, OperatorRole, SiteId, VisitorId,
};
use rusqlite::{params, Connection, OptionalExtension, Row};

/// A site as its owner configured it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// The slug the snippet carries.
    pub id: SiteId,
    /// The name shown in the widget's header.
    pub name: String,
    /// Origins (`https://shop.example`) whose pages may embed the widget; empty allows any.
    pub allowed_origins: Vec<String>,
}

impl Site {
    /// Whether a page from `origin` may open a visitor session on this site.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins.is_empty()
            || self
                .allowed_origins
                .iter()
                .any(|o| o.trim_end_matches('/') == origin)
    }
}

/// Who is posting a message, as established by authentication.
#[derive(Clone, Debug)]
pub enum Poster {
    /// A visitor, who may post only in their own conversations.
    Visitor {
        visitor_id: VisitorId,
        site_id: SiteId,
        page_url: Option<String>,
    },
    /// An operator, who may post only in conversations assigned to them.
    Operator(OperatorProfile),
}

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

/// Creates or updates a site.
pub fn upsert_site(w: &Writer, site: &Site) -> Result<(), StoreError> {
    w.record(Change::SiteUpserted {
        id: site.id.clone(),
        name: site.name.clone(),
        allowed_origins: site.allowed_origins.clone(),
    })?;
    Ok(())
}

/// Looks a site up.
pub fn site(conn: &Connection, id: &SiteId) -> Result<Option<Site>, StoreError> {
    let row = conn
        .query_row_cached(
            "SELECT name, allowed_origins FROM sites WHERE id = ?1",
            [&id.0],
            |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
        )
        .optional()?;
    Ok(row.map(|(name, origins)| Site {
        id: id.clone(),
        name,
        allowed_origins: serde_json::from_str(&origins).unwrap_or_default(),
    }))
}

/// Records a visitor if it is not known yet (a valid token may name a visitor this database has
/// not seen, for example one created on the other deployment and not replicated yet).
pub fn ensure_visitor(w: &Writer, id: VisitorId, site: &SiteId) -> Result<(), StoreError> {
    let known = w
        .query_row_cached(
            "SELECT 1 FROM visitors WHERE id = ?1",
            [id.to_string()],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if !known {
        w.record(Change::VisitorSeen {
            id,
            site_id: site.clone(),
        })?;
    }
    Ok(())
}

/// Creates an operator; fails with [`StoreError::Conflict`] when the e-mail is taken, unless
/// `replace` is set, in which case the existing account's name, password and role are updated.
pub fn add_operator(
    w: &Writer,
    email: &str,
    name: &str,
    password_hash: &str,
    role: OperatorRole,
    replace: bool,
) -> Result<OperatorProfile, StoreError> {
    let id = match operator_by_email(w, email)? {
        Some(_) if !replace => {
            return Err(StoreError::Conflict(format!(
                "an operator with e-mail {email} already exists"
            )))
        }
        Some((existing, _)) => existing.id,
        None => OperatorId(uuid::Uuid::now_v7()),
    };
    w.record(Change::OperatorUpserted {
        id,
        email: email.to_owned(),
        name: name.to_owned(),
        password_hash: password_hash.to_owned(),
        role,
    })?;
    Ok(OperatorProfile {
        id,
        name: name.into(),
        email: email.into(),
        role,
    })
}

const OPERATOR_COLUMNS: &str = "id, name, email, role";

fn operator_from_row(row: &Row<'_>) -> rusqlite::Result<OperatorProfile> {
    Ok(OperatorProfile {
        id: OperatorId(parse_uuid(row, 0)?),
        name: row.get(1)?,
        email: row.get(2)?,
        role: OperatorRole::parse(&row.get::<_, String>(3)?).unwrap_or(OperatorRole::Agent),
    })
}

/// Finds an operator and their password hash by e-mail (case-insensitive).
pub fn operator_by_email(
    conn: &Connection,
    email: &str,
) -> Result<Option<(OperatorProfile, String)>, StoreError> {
    let sql = format!("SELECT {OPERATOR_COLUMNS}, password_hash FROM operators WHERE email = ?1");
    Ok(conn
        .query_row_cached(&sql, [email], |row| {
            Ok((operator_from_row(row)?, row.get(4)?))
        })
        .optional()?)
}

/// Stores a new operator session under the hash of its token.
pub fn create_session(
    w: &Writer,
    token_hash: &str,
    operator: OperatorId,
    expires_at: i64,
) -> Result<(), StoreError> {
    w.record(Change::SessionCreated {
        token_hash: token_hash.to_owned(),
        operator_id: operator,
        expires_at,
    })?;
    Ok(())
}

/// The operator owning an unexpired session.
pub fn session_operator(
    conn: &Connection,
    token_hash: &str,
) -> Result<Option<OperatorProfile>, StoreError> {
    let sql = format!(
        "SELECT {} FROM operator_sessions s JOIN operators o ON o.id = s.operator_id
         WHERE s.token_hash = ?1 AND s.expires_at > ?2",
        OPERATOR_COLUMNS
            .split(", ")
            .map(|c| format!("o.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(conn
        .query_row_cached(&sql, params![token_hash, now_ms()], operator_from_row)
        .optional()?)
}

/// Ends a session (logout). Ending an unknown session is not an error.
pub fn delete_session(w: &Writer, token_hash: &str) -> Result<(), StoreError> {
    w.record(Change::SessionDeleted {
        token_hash: token_hash.to_owned(),
    })?;
    Ok(())
}

/// Stores a message idempotently, opening the conversation when a visitor names a new one.
///
/// A resent id is answered with the stored copy and `duplicate = true`; an id already used for a
/// different conversation or author is a conflict. All checks happen before the first write.
pub fn post_message(
    conn: &Writer,
    poster: &Poster,
    conversation_id: ConversationId,
    message_id: MessageId,
    body: &str,
) -> Result<Posted, StoreError> {
    let (author_kind, author_id) = match poster {
        Poster::Visitor { visitor_id, .. } => (AuthorKind::Visitor, visitor_id.0),
        Poster::Operator(op) => (AuthorKind::Operator, op.id.0),
    };
    if let Some((message, stored_author)) = message_with_author(conn, message_id)? {
        if message.conversation_id != conversation_id
            || message.author.kind != author_kind
            || stored_author.as_deref() != Some(author_id.to_string().as_str())
        {
            return Err(StoreError::Conflict(format!(
                "message id {message_id} is already used"
            )));
        }
        let conversation =
            conversation(conn, conversation_id)?.ok_or(StoreError::NotFound("conversation"))?;
        return Ok(Posted {
            message,
            conversation,
            duplicate: true,
        });
    }
    match (conversation(conn, conversation_id)?, poster) {
        (
            None,
            Poster::Visitor {
                visitor_id,
                site_id,
                page_url,
            },
        ) => {
            conn.record(Change::ConversationOpened {
                id: conversation_id,
                site_id: site_id.clone(),
                visitor_id: *visitor_id,
                page_url: page_url.clone(),
                created_at: conn.now_ms(),
            })?;
        }
        (None, Poster::Operator(_)) => return Err(StoreError::NotFound("conversation")),
        (Some(c), _) if c.state == ConversationState::Closed => {
            return Err(StoreError::ConversationClosed)
        }
        (Some(c), Poster::Visitor { visitor_id, .. }) if c.visitor_id != *visitor_id => {
            return Err(StoreError::Forbidden(
                "this conversation belongs to another visitor".into(),
            ))
        }
        (Some(c), Poster::Operator(op)) if c.operator.as_ref().map(|o| o.id) != Some(op.id) => {
            return Err(StoreError::Forbidden(
                "accept the conversation before replying".into(),
            ))
        }
        (Some(_), _) => {}
    }
    let author_name = match poster {
        Poster::Operator(op) => Some(op.name.clone()),
        Poster::Visitor { .. } => None,
    };
    record_message(
        conn,
        conversation_id,
        message_id,
        (author_kind, Some(author_id), author_name),
        body,
    )?;
    let message = message_with_author(conn, message_id)?
        .expect("just inserted")
        .0;
    let conversation = conversation(conn, conversation_id)?.expect("exists");
    Ok(Posted {
        message,
        conversation,
        duplicate: false,
    })
}

/// Records a message posted now by `kind` (and `author_id`) in a conversation.
fn record_message(
    w: &Writer,
    conversation_id: ConversationId,
    id: MessageId,
    (kind, author_id, author_name): (AuthorKind, Option<uuid::Uuid>, Option<String>),
    body: &str,
) -> Result<(), StoreError> {
    w.record(Change::MessagePosted {
        id,
        conversation_id,
        author_kind: kind,
        author_id,
        author_name,
        body: body.to_owned(),
        sent_at: w.now_ms(),
    })?;
    Ok(())
}

/// What a state change produced: the conversation after it and the system message announcing it.
#[derive(Clone, Debug)]
pub struct StateChange {
    /// The conversation after the change.
    pub conversation: ConversationSummary,
    /// "Alice joined the chat" and the like; `None` when nothing changed (a repeated request).
    pub notice: Option<Message>,
}

/// An operator takes a waiting conversation. Accepting one's own active conversation again is a
/// no-op; a conversation taken by someone else is a conflict.
pub fn accept(
    conn: &Writer,
    id: ConversationId,
    op: &OperatorProfile,
) -> Result<StateChange, StoreError> {
    let current = conversation(conn, id)?.ok_or(StoreError::NotFound("conversation"))?;
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
    conn.record(Change::ConversationStateChanged {
        id,
        state: ConversationState::Active,
        operator_id: Some(op.id),
    })?;
    system_notice(conn, id, format!("{} joined the chat", op.name))
}

/// Closes a conversation. The assigned operator or an admin may close an active one; any operator
/// may close a waiting one. Closing a closed conversation again is a no-op.
pub fn close(
    conn: &Writer,
    id: ConversationId,
    op: &OperatorProfile,
) -> Result<StateChange, StoreError> {
    let current = conversation(conn, id)?.ok_or(StoreError::NotFound("conversation"))?;
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
    conn.record(Change::ConversationStateChanged {
        id,
        state: ConversationState::Closed,
        operator_id: current.operator.as_ref().map(|o| o.id),
    })?;
    system_notice(conn, id, format!("{} closed the chat", op.name))
}

fn system_notice(w: &Writer, id: ConversationId, text: String) -> Result<StateChange, StoreError> {
    let notice_id = MessageId(uuid::Uuid::now_v7());
    record_message(w, id, notice_id, (AuthorKind::System, None, None), &text)?;
    Ok(StateChange {
        conversation: conversation(w, id)?.expect("exists"),
        notice: message_with_author(w, notice_id)?.map(|(m, _)| m),
    })
}

const CONVERSATION_SELECT: &str =
    "SELECT c.id, c.site_id, c.visitor_id, c.state, c.page_url, c.last_message,
        c.created_at, c.updated_at, o.id, o.name, o.email, o.role
     FROM conversations c LEFT JOIN operators o ON o.id = c.operator_id";

fn conversation_from_row(row: &Row<'_>) -> rusqlite::Result<ConversationSummary> {
    let operator = match row.get::<_, Option<String>>(8)? {
        Some(_) => Some(OperatorProfile {
            id: OperatorId(parse_uuid(row, 8)?),
            name: row.get(9)?,
            email: row.get(10)?,
            role: OperatorRole::parse(&row.get::<_, String>(11)?).unwrap_or(OperatorRole::Agent),
        }),
        None => None,
    };
    Ok(ConversationSummary {
        id: ConversationId(parse_uuid(row, 0)?),
        site_id: SiteId(row.get(1)?),
        visitor_id: VisitorId(parse_uuid(row, 2)?),
        state: ConversationState::parse(&row.get::<_, String>(3)?)
            .unwrap_or(ConversationState::Closed),
        page_url: row.get(4)?,
        last_message: row.get(5)?,
        created_at: row.get(6)?,
        updated_at: row.get(7)?,
        operator,
    })
}

/// One conversation.
pub fn conversation(
    conn: &Connection,
    id: ConversationId,
) -> Result<Option<ConversationSummary>, StoreError> {
    let sql = format!("{CONVERSATION_SELECT} WHERE c.id = ?1");
    Ok(conn
        .query_row_cached(&sql, [id.to_string()], conversation_from_row)
        .optional()?)
}

/// A visitor's conversations, newest first (at most 20).
pub fn visitor_conversations(
    conn: &Connection,
    visitor: VisitorId,
) -> Result<Vec<ConversationSummary>, StoreError> {
    let sql = format!("{CONVERSATION_SELECT} WHERE c.visitor_id = ?1 ORDER BY c.created_at DESC, c.id DESC LIMIT 20");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([visitor.to_string()], conversation_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every waiting and active conversation, most recently updated first: the operators' inbox.
pub fn inbox(conn: &Connection) -> Result<Vec<ConversationSummary>, StoreError> {
    let sql = format!("{CONVERSATION_SELECT} WHERE c.state IN ('waiting', 'active') ORDER BY c.updated_at DESC LIMIT 500");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([], conversation_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

const MESSAGE_SELECT: &str =
    "SELECT id, conversation_id, author_kind, author_name, body, sent_at, seq, author_id, hlc FROM messages";

fn message_from_row(row: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: MessageId(parse_uuid(row, 0)?),
        conversation_id: ConversationId(parse_uuid(row, 1)?),
        author: Author {
            kind: AuthorKind::parse(&row.get::<_, String>(2)?).unwrap_or(AuthorKind::System),
            name: row.get(3)?,
        },
        body: row.get(4)?,
        sent_at: row.get(5)?,
        seq: row.get::<_, i64>(6)? as u64,
        hlc: row.get::<_, i64>(8)? as u64,
    })
}

fn message_with_author(
    conn: &Connection,
    id: MessageId,
) -> Result<Option<(Message, Option<String>)>, StoreError> {
    let sql = format!("{MESSAGE_SELECT} WHERE id = ?1");
    Ok(conn
        .query_row_cached(&sql, [id.to_string()], |row| {
            Ok((message_from_row(row)?, row.get(7)?))
        })
        .optional()?)
}

/// Where the stored copy of a message was first written: the origin deployment and the message's
/// position in that deployment's log.
pub fn message_origin(
    conn: &Connection,
    id: MessageId,
) -> Result<Option<(String, u64)>, StoreError> {
    Ok(conn
        .query_row_cached(
            "SELECT origin, origin_seq FROM messages WHERE id = ?1",
            [id.to_string()],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)),
        )
        .optional()?)
}

/// One message.
pub fn message(conn: &Connection, id: MessageId) -> Result<Option<Message>, StoreError> {
    Ok(message_with_author(conn, id)?.map(|(m, _)| m))
}

/// The messages of a conversation stored after `after_seq`, in storage order (at most 1,000; the
/// client asks again from the last one it received).
pub fn messages_after(
    conn: &Connection,
    id: ConversationId,
    after_seq: u64,
) -> Result<Vec<Message>, StoreError> {
    let sql =
        format!("{MESSAGE_SELECT} WHERE conversation_id = ?1 AND seq > ?2 ORDER BY seq LIMIT 1000");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![id.to_string(), after_seq as i64], message_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Writes to a dedicated row, proving the database takes durable writes (used by `/health`).
pub fn health_probe(conn: &Writer) -> Result<(), StoreError> {
    conn.execute_cached(
        "INSERT INTO meta (key, value) VALUES ('health_probe', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [now_ms().to_string()],
    )?;
    Ok(())
}

fn parse_uuid(row: &Row<'_>, index: usize) -> rusqlite::Result<uuid::Uuid> {
    let text: String = row.get(index)?;
    uuid::Uuid::parse_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}
