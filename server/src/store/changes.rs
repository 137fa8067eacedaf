//! Applying a [`Change`] to the database, each kind by its own function beside its merge rule.
//! This is the only code that writes chat data: a local action records an event and applies it
//! here; an event replicated from the peer is applied here too. One code path means both
//! deployments compute the same state from the same events, whatever order they arrive in.
//!
//! The merge rules are also listed in ARCHITECTURE.md; each function below states its own.

use super::rows::Cached;
use super::StoreError;
use protocol::conversation::Rating;
use protocol::replication::{Change, LoggedEvent, OperatorSetting, Reader};
use protocol::{
    AuthorKind, ConversationId, ConversationKind, ConversationState, OperatorId, OperatorRole,
    SiteId, VisitorDetails, VisitorId,
};
use rusqlite::{params, Connection, OptionalExtension};

/// The stamp of the event being applied: its clock value and origin decide last-writer-wins
/// comparisons, and its position in the origin's log is kept with messages.
struct Stamp<'a> {
    hlc: i64,
    origin: &'a str,
    origin_seq: i64,
}

impl Stamp<'_> {
    /// The wall-clock milliseconds of the HLC value, as stored in `*_at` columns.
    fn wall_ms(&self) -> i64 {
        self.hlc >> 16
    }
}

/// Applies one event. Returns the conversation it touched, if any (for live notifications).
pub fn apply(conn: &Connection, event: &LoggedEvent) -> Result<Option<ConversationId>, StoreError> {
    let stamp = Stamp {
        hlc: event.hlc as i64,
        origin: &event.origin,
        origin_seq: event.seq as i64,
    };
    match &event.change {
        Change::SiteUpserted {
            id,
            name,
            allowed_origins,
        } => site_upserted(conn, &stamp, id, name, allowed_origins).map(|()| None),
        Change::OperatorUpserted {
            id,
            email,
            name,
            password_hash,
            role,
            ends_sessions,
        } => {
            operator_upserted(conn, &stamp, *id, (email, name, password_hash), *role)?;
            if *ends_sessions {
                operator_sessions_ended(conn, &stamp, *id)?;
            }
            Ok(None)
        }
        Change::SiteSettingSet { site_id, setting } => {
            let value = serde_json::to_string(setting).expect("settings serialise");
            register_set(
                conn,
                &stamp,
                SITE_REGISTER,
                &site_id.0,
                setting.key(),
                &value,
            )
            .map(|()| None)
        }
        Change::SiteRemoved { id } => site_removed(conn, id).map(|()| None),
        Change::CannedReplySet { id, reply } => {
            let value = reply
                .as_ref()
                .map(|r| serde_json::to_string(r).expect("replies serialise"));
            conn.execute_cached(
                CANNED_REGISTER,
                params![id.to_string(), value, stamp.hlc, stamp.origin],
            )?;
            Ok(None)
        }
        Change::OperatorSettingSet {
            operator_id,
            setting,
        } => {
            let value = serde_json::to_string(setting).expect("settings serialise");
            let owner = operator_id.to_string();
            register_set(
                conn,
                &stamp,
                OPERATOR_REGISTER,
                &owner,
                setting.key(),
                &value,
            )?;
            if *setting == OperatorSetting::Disabled(true) {
                operator_sessions_ended(conn, &stamp, *operator_id)?;
            }
            Ok(None)
        }
        Change::OperatorRemoved { id } => operator_removed(conn, &stamp, *id).map(|()| None),
        Change::SessionCreated {
            token_hash,
            operator_id,
            expires_at,
        } => session_created(conn, &stamp, token_hash, *operator_id, *expires_at).map(|()| None),
        Change::SessionDeleted { token_hash } => session_deleted(conn, token_hash).map(|()| None),
        Change::PageViewed { visitor_id, url } => {
            conn.execute_cached(
                "INSERT INTO page_views (origin, origin_seq, visitor_id, url, at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                params![
                    stamp.origin,
                    stamp.origin_seq,
                    visitor_id.to_string(),
                    url,
                    stamp.wall_ms()
                ],
            )?;
            Ok(None)
        }
        Change::VisitorContextSet {
            visitor_id,
            context,
        } => {
            // **Last writer wins by (hlc, origin)**, one register per visitor.
            let value = serde_json::to_string(context).expect("contexts serialise");
            visitor_register(conn, &stamp, VISITOR_CONTEXT_REGISTER, *visitor_id, &value)?;
            Ok(None)
        }
        Change::VisitorSeen { id, site_id } => {
            visitor_seen(conn, *id, site_id, stamp.wall_ms()).map(|()| None)
        }
        Change::ConversationOpened {
            id,
            site_id,
            visitor_id,
            page_url,
            created_at,
            conversation_kind,
        } => {
            let opened = (site_id, *visitor_id, page_url.as_deref(), *created_at);
            conversation_opened(conn, &stamp, *id, opened, *conversation_kind).map(|()| Some(*id))
        }
        Change::VisitorDetailsSet {
            visitor_id,
            details,
        } => visitor_details_set(conn, &stamp, *visitor_id, details).map(|()| None),
        Change::MessagePosted {
            id,
            conversation_id,
            author_kind,
            author_id,
            author_name,
            body,
            sent_at,
            attachment,
            private,
        } => {
            let author = (*author_kind, *author_id, author_name.as_deref());
            let content = (body.as_str(), attachment.as_ref(), *private);
            message_posted(
                conn,
                &stamp,
                id,
                *conversation_id,
                author,
                content,
                *sent_at,
            )
            .map(|()| Some(*conversation_id))
        }
        Change::ConversationStateChanged {
            id,
            state,
            operator_id,
        } => state_changed(conn, &stamp, *id, *state, *operator_id).map(|()| Some(*id)),
        Change::ConversationRead { id, reader, up_to } => {
            conversation_read(conn, *id, *reader, *up_to).map(|()| Some(*id))
        }
        Change::ConversationRated { id, rating } => {
            conversation_rated(conn, &stamp, *id, rating).map(|()| Some(*id))
        }
    }
}

/// **Sites: last writer wins by (hlc, origin).**
fn site_upserted(
    conn: &Connection,
    stamp: &Stamp,
    id: &SiteId,
    name: &str,
    allowed_origins: &[String],
) -> Result<(), StoreError> {
    // Events written before sites had to name their origins (schema migration 5) meant "any"
    // by an empty list; they are read that way, so a deployment replaying an old log stores
    // what its peer's migration stored.
    let any = [super::ANY_ORIGIN.to_owned()];
    let allowed_origins = if allowed_origins.is_empty() {
        &any[..]
    } else {
        allowed_origins
    };
    let origins = serde_json::to_string(allowed_origins).expect("strings serialise");
    conn.execute_cached(
        "INSERT INTO sites (id, name, allowed_origins, created_at, hlc, origin)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name, allowed_origins = excluded.allowed_origins,
             hlc = excluded.hlc, origin = excluded.origin
         WHERE (excluded.hlc, excluded.origin) > (sites.hlc, sites.origin)",
        params![id.0, name, origins, stamp.wall_ms(), stamp.hlc, stamp.origin],
    )?;
    Ok(())
}

/// The upsert of a site's last-writer-wins register (see [`register_set`]).
const SITE_REGISTER: &str = "INSERT INTO site_settings (site_id, key, value, hlc, origin)
     VALUES (?1, ?2, ?3, ?4, ?5)
     ON CONFLICT(site_id, key) DO UPDATE SET value = excluded.value, hlc = excluded.hlc,
         origin = excluded.origin
     WHERE (excluded.hlc, excluded.origin) > (site_settings.hlc, site_settings.origin)";
/// **Canned replies: last writer wins by (hlc, origin), one register per reply**, a removal
/// being the value `NULL`: an edit and a removal on the two sides of a cut link agree on the
/// later one, in either order of arrival.
const CANNED_REGISTER: &str = "INSERT INTO canned_replies (id, value, hlc, origin) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT(id) DO UPDATE SET value = excluded.value, hlc = excluded.hlc, origin = excluded.origin
     WHERE (excluded.hlc, excluded.origin) > (canned_replies.hlc, canned_replies.origin)";

/// [`SITE_REGISTER`] for operators.
const OPERATOR_REGISTER: &str =
    "INSERT INTO operator_settings (operator_id, key, value, hlc, origin)
     VALUES (?1, ?2, ?3, ?4, ?5)
     ON CONFLICT(operator_id, key) DO UPDATE SET value = excluded.value, hlc = excluded.hlc,
         origin = excluded.origin
     WHERE (excluded.hlc, excluded.origin) > (operator_settings.hlc, operator_settings.origin)";

/// **Site and operator settings: last writer wins by (hlc, origin), one register per owner and
/// key.** The register does not need its owner's row: whichever arrives first, the result is the
/// same.
fn register_set(
    conn: &Connection,
    stamp: &Stamp,
    upsert: &str,
    owner: &str,
    key: &str,
    value: &str,
) -> Result<(), StoreError> {
    conn.execute_cached(upsert, params![owner, key, value, stamp.hlc, stamp.origin])?;
    Ok(())
}

/// **Sites removed: final.** A tombstone, so the site stays removed whatever edits arrive after
/// it; its row, settings and conversations stay (transcripts are kept).
fn site_removed(conn: &Connection, id: &SiteId) -> Result<(), StoreError> {
    conn.execute_cached(
        "INSERT INTO site_tombstones (id) VALUES (?1) ON CONFLICT(id) DO NOTHING",
        [&id.0],
    )?;
    Ok(())
}

/// The e-mail address a removed operator's row keeps, so that the address is free for a new
/// account while the row (and the name on their messages) stays.
fn removed_email(id: OperatorId) -> String {
    format!("{id}@removed.invalid")
}

/// **Operators removed: final.** A tombstone, the address given up (the row keeps
/// [`removed_email`], in any order with the account's upserts, which apply as usual but with that
/// address), and every session ended.
fn operator_removed(conn: &Connection, stamp: &Stamp, id: OperatorId) -> Result<(), StoreError> {
    conn.execute_cached(
        "INSERT INTO operator_tombstones (id) VALUES (?1) ON CONFLICT(id) DO NOTHING",
        [id.to_string()],
    )?;
    conn.execute_cached(
        "UPDATE operators SET email = ?2 WHERE id = ?1",
        params![id.to_string(), removed_email(id)],
    )?;
    operator_sessions_ended(conn, stamp, id)
}

/// **Operators: last writer wins by (hlc, origin)**, except that an e-mail address belongs to one
/// account: when two accounts were given the same address on the two deployments before they
/// synchronised, the account stored first here keeps it, and the other account's event is
/// recorded (so it is never re-sent) but not applied. A removed account keeps its
/// [`removed_email`] whatever address the upsert carries.
fn operator_upserted(
    conn: &Connection,
    stamp: &Stamp,
    id: OperatorId,
    (email, name, password_hash): (&str, &str, &str),
    role: OperatorRole,
) -> Result<(), StoreError> {
    let removed = conn.exists_cached(
        "SELECT 1 FROM operator_tombstones WHERE id = ?1",
        [id.to_string()],
    )?;
    let removed_address = removed_email(id);
    let email = if removed { &removed_address } else { email };
    let taken_by_other: Option<String> = conn
        .query_row_cached(
            "SELECT id FROM operators WHERE email = ?1 AND id <> ?2",
            params![email, id.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(other) = taken_by_other {
        tracing::warn!(%email, kept = %other, dropped = %id, "two operator accounts share an e-mail address");
        return Ok(());
    }
    conn.execute_cached(
        "INSERT INTO operators (id, email, name, password_hash, role, created_at, hlc, origin)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(id) DO UPDATE SET email = excluded.email, name = excluded.name,
             password_hash = excluded.password_hash, role = excluded.role,
             hlc = excluded.hlc, origin = excluded.origin
         WHERE (excluded.hlc, excluded.origin) > (operators.hlc, operators.origin)",
        params![
            id.to_string(),
            email,
            name,
            password_hash,
            role.as_str(),
            stamp.wall_ms(),
            stamp.hlc,
            stamp.origin
        ],
    )?;
    Ok(())
}

/// **An operator's sessions ended: the latest such change wins by maximum**, whatever the order
/// and whichever upsert won the last-writer-wins comparison: a session is valid only when it was
/// created (by HLC) after every change that ended its operator's sessions. A maximum gives the
/// same result in any order.
fn operator_sessions_ended(
    conn: &Connection,
    stamp: &Stamp,
    id: OperatorId,
) -> Result<(), StoreError> {
    conn.execute_cached(
        "UPDATE operators SET sessions_from = MAX(sessions_from, ?2) WHERE id = ?1",
        params![id.to_string(), stamp.hlc + 1],
    )?;
    Ok(())
}

/// **Sessions created: grow-only, and a deleted session stays deleted**: a creation arriving
/// after the deletion of the same token (possible across the two deployments' logs) finds its
/// tombstone and is not revived.
fn session_created(
    conn: &Connection,
    stamp: &Stamp,
    token_hash: &str,
    operator_id: OperatorId,
    expires_at: i64,
) -> Result<(), StoreError> {
    conn.execute_cached(
        "INSERT INTO operator_sessions (token_hash, operator_id, created_at, expires_at, hlc)
         SELECT ?1, ?2, ?3, ?4, ?5
         WHERE NOT EXISTS (SELECT 1 FROM session_tombstones WHERE token_hash = ?1)
         ON CONFLICT(token_hash) DO NOTHING",
        params![
            token_hash,
            operator_id.to_string(),
            stamp.wall_ms(),
            expires_at,
            stamp.hlc
        ],
    )?;
    Ok(())
}

/// **Sessions deleted: final.** The session goes and a tombstone stays (an indexed table), so
/// the rule above holds in any order.
fn session_deleted(conn: &Connection, token_hash: &str) -> Result<(), StoreError> {
    conn.execute_cached(
        "INSERT INTO session_tombstones (token_hash) VALUES (?1) ON CONFLICT(token_hash) DO NOTHING",
        [token_hash],
    )?;
    conn.execute_cached(
        "DELETE FROM operator_sessions WHERE token_hash = ?1",
        [token_hash],
    )?;
    Ok(())
}

/// **Visitors: grow-only**; the first insert wins, later ones are no-ops.
fn visitor_seen(
    conn: &Connection,
    id: VisitorId,
    site_id: &SiteId,
    created_at: i64,
) -> Result<(), StoreError> {
    conn.execute_cached(
        "INSERT INTO visitors (id, site_id, created_at) VALUES (?1, ?2, ?3) ON CONFLICT(id) DO NOTHING",
        params![id.to_string(), site_id.0, created_at],
    )?;
    Ok(())
}

/// **Conversations opened: grow-only.** The id was chosen by the visitor's widget, so both
/// deployments opening it is the same conversation; the first insert wins. The visitor is
/// recorded too, since a conversation can arrive before its visitor's own event.
fn conversation_opened(
    conn: &Connection,
    stamp: &Stamp,
    id: ConversationId,
    (site_id, visitor_id, page_url, created_at): (&SiteId, VisitorId, Option<&str>, i64),
    kind: ConversationKind,
) -> Result<(), StoreError> {
    visitor_seen(conn, visitor_id, site_id, created_at)?;
    conn.execute_cached(
        "INSERT INTO conversations (id, site_id, visitor_id, state, page_url, created_at, updated_at, state_hlc, state_origin, kind)
         VALUES (?1, ?2, ?3, 'waiting', ?4, ?5, ?5, ?6, ?7, ?8) ON CONFLICT(id) DO NOTHING",
        params![id.to_string(), site_id.0, visitor_id.to_string(), page_url, created_at, stamp.hlc, stamp.origin, kind.as_str()],
    )?;
    Ok(())
}

/// **Visitor details: last writer wins by (hlc, origin), per visitor.** The register does not
/// need the visitor's row, so it merges in any order with the visitor's own events.
fn visitor_details_set(
    conn: &Connection,
    stamp: &Stamp,
    visitor_id: VisitorId,
    details: &VisitorDetails,
) -> Result<(), StoreError> {
    let value = serde_json::to_string(details).expect("details serialise");
    visitor_register(conn, stamp, VISITOR_DETAILS_REGISTER, visitor_id, &value)
}

/// The last-writer-wins registers kept per visitor: their form answers and their browser.
const VISITOR_DETAILS_REGISTER: &str =
    "INSERT INTO visitor_details (visitor_id, details, hlc, origin)
     VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT(visitor_id) DO UPDATE SET details = excluded.details, hlc = excluded.hlc,
         origin = excluded.origin
     WHERE (excluded.hlc, excluded.origin) > (visitor_details.hlc, visitor_details.origin)";
const VISITOR_CONTEXT_REGISTER: &str =
    "INSERT INTO visitor_contexts (visitor_id, value, hlc, origin)
     VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT(visitor_id) DO UPDATE SET value = excluded.value, hlc = excluded.hlc,
         origin = excluded.origin
     WHERE (excluded.hlc, excluded.origin) > (visitor_contexts.hlc, visitor_contexts.origin)";

/// Sets a visitor's register (`sql`, one of the above) to `value` if this event is later.
fn visitor_register(
    conn: &Connection,
    stamp: &Stamp,
    sql: &str,
    visitor_id: VisitorId,
    value: &str,
) -> Result<(), StoreError> {
    conn.execute_cached(
        sql,
        params![visitor_id.to_string(), value, stamp.hlc, stamp.origin],
    )?;
    Ok(())
}

/// **Messages: a grow-only set by id.** If both deployments stored the same id before
/// replicating (a client resent it elsewhere), the copy with the smaller (hlc, origin) is kept on
/// both. The conversation's preview shows the message with the largest clock value.
///
/// A copy replaced that way takes the next local sequence number (above every number handed out,
/// those of removed rows included): a client that received the other copy and resumes from its
/// last sequence number gets the kept one again and shows it where both deployments do. Setting
/// `body` (to the same text) moves the full-text index's row with it (`messages_fts_update`).
fn message_posted(
    conn: &Connection,
    stamp: &Stamp,
    id: &protocol::MessageId,
    conversation_id: ConversationId,
    (author_kind, author_id, author_name): (AuthorKind, Option<uuid::Uuid>, Option<&str>),
    (body, attachment, private): (&str, Option<&protocol::conversation::Attachment>, bool),
    sent_at: i64,
) -> Result<(), StoreError> {
    let attachment_json =
        attachment.map(|a| serde_json::to_string(a).expect("attachments serialise"));
    conn.execute_cached(
        "INSERT INTO messages (id, conversation_id, author_kind, author_id, author_name, body, sent_at, hlc, origin, origin_seq, attachment, attachment_hash, private)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT(id) DO UPDATE SET hlc = excluded.hlc, origin = excluded.origin, sent_at = excluded.sent_at,
             origin_seq = excluded.origin_seq, body = excluded.body,
             seq = 1 + max((SELECT max(seq) FROM messages),
                           coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0))
         WHERE (excluded.hlc, excluded.origin) < (messages.hlc, messages.origin)",
        params![
            id.to_string(),
            conversation_id.to_string(),
            author_kind.as_str(),
            author_id.map(|a| a.to_string()),
            author_name,
            body,
            sent_at,
            stamp.hlc,
            stamp.origin,
            stamp.origin_seq,
            attachment_json,
            attachment.map(|a| a.hash.as_str()),
            private as i64
        ],
    )?;
    // A note is not the conversation's news: summaries reach the visitor too.
    if private {
        return Ok(());
    }
    // A file sent without text shows as its name in the inbox.
    let preview = match attachment {
        Some(file) if body.trim().is_empty() => format!("📎 {}", file.name),
        _ => body.to_owned(),
    };
    conn.execute_cached(
        "UPDATE conversations SET last_message = ?2, updated_at = max(updated_at, ?3), last_message_hlc = ?4
         WHERE id = ?1 AND last_message_hlc <= ?4",
        params![conversation_id.to_string(), preview, sent_at, stamp.hlc],
    )?;
    Ok(())
}

/// **Conversation state only moves forward** (waiting < active < closed); among equal states the
/// latest (hlc, origin) decides the operator. Two operators accepting the same chat on the two
/// deployments therefore converge to the one whose accept has the later clock, both keep every
/// message written meanwhile, and a close wins over any accept.
fn state_changed(
    conn: &Connection,
    stamp: &Stamp,
    id: ConversationId,
    state: ConversationState,
    operator_id: Option<OperatorId>,
) -> Result<(), StoreError> {
    conn.execute_cached(
        "UPDATE conversations SET state = ?2, operator_id = ?3, state_hlc = ?4, state_origin = ?5,
             updated_at = max(updated_at, ?6)
         WHERE id = ?1 AND (
             (CASE ?2 WHEN 'waiting' THEN 0 WHEN 'active' THEN 1 ELSE 2 END) >
             (CASE state WHEN 'waiting' THEN 0 WHEN 'active' THEN 1 ELSE 2 END)
             OR ((CASE ?2 WHEN 'waiting' THEN 0 WHEN 'active' THEN 1 ELSE 2 END) =
                 (CASE state WHEN 'waiting' THEN 0 WHEN 'active' THEN 1 ELSE 2 END)
                 AND (?4, ?5) > (state_hlc, state_origin)))",
        params![
            id.to_string(),
            state.as_str(),
            operator_id.map(|o| o.to_string()),
            stamp.hlc,
            stamp.origin,
            stamp.wall_ms()
        ],
    )?;
    Ok(())
}

/// **Read state only moves forward**: per conversation and reader the largest clock value wins,
/// whatever order the reads arrive in.
fn conversation_read(
    conn: &Connection,
    id: ConversationId,
    reader: Reader,
    up_to: u64,
) -> Result<(), StoreError> {
    conn.execute_cached(
        "INSERT INTO conversation_reads (conversation_id, reader, up_to) VALUES (?1, ?2, ?3)
         ON CONFLICT(conversation_id, reader) DO UPDATE SET up_to = max(up_to, excluded.up_to)",
        params![id.to_string(), reader.as_str(), up_to as i64],
    )?;
    Ok(())
}

/// **Ratings: last writer wins by (hlc, origin)** per conversation: a visitor who changes their
/// mind on the other deployment ends with the same rating on both.
fn conversation_rated(
    conn: &Connection,
    stamp: &Stamp,
    id: ConversationId,
    rating: &Rating,
) -> Result<(), StoreError> {
    conn.execute_cached(
        "INSERT INTO conversation_ratings (conversation_id, score, comment, hlc, origin, scale)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(conversation_id) DO UPDATE SET score = excluded.score, scale = excluded.scale,
             comment = excluded.comment, hlc = excluded.hlc, origin = excluded.origin
         WHERE (excluded.hlc, excluded.origin) > (conversation_ratings.hlc, conversation_ratings.origin)",
        params![
            id.to_string(),
            rating.score,
            rating.comment,
            stamp.hlc,
            stamp.origin,
            rating.scale.as_str()
        ],
    )?;
    Ok(())
}
