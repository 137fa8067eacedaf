//! Applying a [`Change`] to the database, with its merge rule. This is the only code that writes
//! chat data: a local action records an event and applies it here; an event replicated from the
//! peer is applied here too. One code path means both deployments compute the same state from the
//! same events, whatever order they arrive in.
//!
//! Merge rules (also in ARCHITECTURE.md):
//! - sites, operators: last writer wins by (hlc, origin);
//! - visitors, conversations opened, sessions created: grow-only (first insert wins, later ones
//!   are no-ops); a deleted session stays deleted;
//! - messages: grow-only set by id; of two copies of one id, the smaller (hlc, origin) is kept;
//! - conversation state: only moves forward (waiting < active < closed); among equal states the
//!   latest (hlc, origin) decides the operator. Two operators accepting the same chat on the two
//!   deployments therefore converge to the one whose accept has the later clock, and both keep
//!   every message written meanwhile.

use super::{Cached, StoreError};
use protocol::replication::{Change, LoggedEvent};
use rusqlite::{params, Connection};

/// Applies one event. Returns the conversation it touched, if any (for live notifications).
pub fn apply(
    conn: &Connection,
    event: &LoggedEvent,
) -> Result<Option<protocol::ConversationId>, StoreError> {
    let (hlc, origin) = (event.hlc as i64, event.origin.as_str());
    match &event.change {
        Change::SiteUpserted {
            id,
            name,
            allowed_origins,
        } => {
            let origins = serde_json::to_string(allowed_origins).expect("strings serialise");
            conn.execute_cached(
                "INSERT INTO sites (id, name, allowed_origins, created_at, hlc, origin)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(id) DO UPDATE SET name = excluded.name, allowed_origins = excluded.allowed_origins,
                     hlc = excluded.hlc, origin = excluded.origin
                 WHERE (excluded.hlc, excluded.origin) > (sites.hlc, sites.origin)",
                params![id.0, name, origins, wall(hlc), hlc, origin],
            )?;
            Ok(None)
        }
        Change::OperatorUpserted {
            id,
            email,
            name,
            password_hash,
            role,
        } => {
            let taken_by_other: Option<String> = conn
                .query_row_cached(
                    "SELECT id FROM operators WHERE email = ?1 AND id <> ?2",
                    params![email, id.to_string()],
                    |r| r.get(0),
                )
                .ok();
            if let Some(other) = taken_by_other {
                // The same e-mail address was given to two accounts on the two deployments before
                // they synchronised. The account created here keeps the address; the event is
                // recorded (so it is never re-sent) but not applied.
                tracing::warn!(%email, kept = %other, dropped = %id, "two operator accounts share an e-mail address");
                return Ok(None);
            }
            conn.execute_cached(
                "INSERT INTO operators (id, email, name, password_hash, role, created_at, hlc, origin)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT(id) DO UPDATE SET email = excluded.email, name = excluded.name,
                     password_hash = excluded.password_hash, role = excluded.role,
                     hlc = excluded.hlc, origin = excluded.origin
                 WHERE (excluded.hlc, excluded.origin) > (operators.hlc, operators.origin)",
                params![id.to_string(), email, name, password_hash, role.as_str(), wall(hlc), hlc, origin],
            )?;
            Ok(None)
        }
        Change::SessionCreated {
            token_hash,
            operator_id,
            expires_at,
        } => {
            conn.execute_cached(
                "INSERT INTO operator_sessions (token_hash, operator_id, created_at, expires_at)
                 SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1 FROM events WHERE body = ?5)
                 ON CONFLICT(token_hash) DO NOTHING",
                params![
                    token_hash,
                    operator_id.to_string(),
                    wall(hlc),
                    expires_at,
                    deleted_marker(token_hash)
                ],
            )?;
            Ok(None)
        }
        Change::SessionDeleted { token_hash } => {
            conn.execute_cached(
                "DELETE FROM operator_sessions WHERE token_hash = ?1",
                [token_hash],
            )?;
            Ok(None)
        }
        Change::VisitorSeen { id, site_id } => {
            conn.execute_cached(
                "INSERT INTO visitors (id, site_id, created_at) VALUES (?1, ?2, ?3) ON CONFLICT(id) DO NOTHING",
                params![id.to_string(), site_id.0, wall(hlc)],
            )?;
            Ok(None)
        }
        Change::ConversationOpened {
            id,
            site_id,
            visitor_id,
            page_url,
            created_at,
        } => {
            conn.execute_cached(
                "INSERT INTO visitors (id, site_id, created_at) VALUES (?1, ?2, ?3) ON CONFLICT(id) DO NOTHING",
                params![visitor_id.to_string(), site_id.0, created_at],
            )?;
            conn.execute_cached(
                "INSERT INTO conversations (id, site_id, visitor_id, state, page_url, created_at, updated_at, state_hlc, state_origin)
                 VALUES (?1, ?2, ?3, 'waiting', ?4, ?5, ?5, ?6, ?7) ON CONFLICT(id) DO NOTHING",
                params![id.to_string(), site_id.0, visitor_id.to_string(), page_url, created_at, hlc, origin],
            )?;
            Ok(Some(*id))
        }
        Change::MessagePosted {
            id,
            conversation_id,
            author_kind,
            author_id,
            author_name,
            body,
            sent_at,
        } => {
            conn.execute_cached(
                "INSERT INTO messages (id, conversation_id, author_kind, author_id, author_name, body, sent_at, hlc, origin, origin_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT(id) DO UPDATE SET hlc = excluded.hlc, origin = excluded.origin, sent_at = excluded.sent_at,
                     origin_seq = excluded.origin_seq
                 WHERE (excluded.hlc, excluded.origin) < (messages.hlc, messages.origin)",
                params![
                    id.to_string(),
                    conversation_id.to_string(),
                    author_kind.as_str(),
                    author_id.map(|a| a.to_string()),
                    author_name,
                    body,
                    sent_at,
                    hlc,
                    origin,
                    event.seq as i64
                ],
            )?;
            conn.execute_cached(
                "UPDATE conversations SET last_message = ?2, updated_at = max(updated_at, ?3), last_message_hlc = ?4
                 WHERE id = ?1 AND last_message_hlc <= ?4",
                params![conversation_id.to_string(), body, sent_at, hlc],
            )?;
            Ok(Some(*conversation_id))
        }
        Change::ConversationStateChanged {
            id,
            state,
            operator_id,
        } => {
            conn.execute_cached(
                "UPDATE conversations SET state = ?2, operator_id = ?3, state_hlc = ?4, state_origin = ?5,
                     updated_at = max(updated_at, ?6)
                 WHERE id = ?1 AND (
                     (CASE ?2 WHEN 'waiting' THEN 0 WHEN 'active' THEN 1 ELSE 2 END) >
                     (CASE state WHEN 'waiting' THEN 0 WHEN 'active' THEN 1 ELSE 2 END)
                     OR ((CASE ?2 WHEN 'waiting' THEN 0 WHEN 'active' THEN 1 ELSE 2 END) =
                         (CASE state WHEN 'waiting' THEN 0 WHEN 'active' THEN 1 ELSE 2 END)
                         AND (?4, ?5) > (state_hlc, state_origin)))",
                params![id.to_string(), state.as_str(), operator_id.map(|o| o.to_string()), hlc, origin, wall(hlc)],
            )?;
            Ok(Some(*id))
        }
    }
}

/// The stored JSON of a session deletion, so a late creation of the same session is not revived.
fn deleted_marker(token_hash: &str) -> String {
    serde_json::to_string(&Change::SessionDeleted {
        token_hash: token_hash.to_owned(),
    })
    .expect("serialises")
}

/// The wall-clock milliseconds of an HLC value, as stored in `*_at` columns.
fn wall(hlc: i64) -> i64 {
    hlc >> 16
}
