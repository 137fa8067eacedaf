//! History: closed conversations of an operator's sites, filtered and searched with SQLite's
//! FTS5 over message bodies (`messages_fts`, kept by triggers and [`index_pending`]: schema
//! migrations 15 and 18), newest activity first, a page at a time; and a conversation's whole
//! transcript for operators.

use super::conversations::{conversation_from_row, select};
use super::{Reader, StoreError};
use protocol::admin::{OperatorState, SiteScope};
use protocol::history::{HistoryPage, HistoryQuery, TranscriptPage, HISTORY_PAGE};
use protocol::{ConversationId, OperatorCard, OperatorProfile, SiteId};
use rusqlite::{params, Connection};

use super::rows::Cached;

/// Whether messages wait to be indexed: every message stored since the last
/// [`index_pending`] is listed in `messages_fts_pending` (schema migration 18).
pub(super) fn any_pending(conn: &Connection) -> rusqlite::Result<bool> {
    conn.exists_cached("SELECT 1 FROM messages_fts_pending LIMIT 1", [])
}

/// Indexes the messages noted in `messages_fts_pending` and empties the list: the writer calls it
/// once per batch, just before the commit and outside every job's savepoint, so the batch adds
/// one segment to the full-text index instead of one per message. The store also calls it when
/// it opens, if anything wrote messages without it.
pub(super) fn index_pending(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_cached(
        "INSERT INTO messages_fts (rowid, body)
         SELECT m.seq, m.body FROM messages_fts_pending p JOIN messages m ON m.seq = p.seq",
        [],
    )?;
    conn.execute_cached("DELETE FROM messages_fts_pending", [])?;
    Ok(())
}

/// A history search after the caller's input was checked: the full-text query already built.
#[derive(Debug, Default)]
pub struct Search {
    /// What `messages_fts MATCH` gets ([`protocol::history::fts_query`]).
    pub fts: Option<String>,
    /// The filters, as asked.
    pub query: HistoryQuery,
    /// Where to continue: (updated_at, id) of the last conversation of the page before.
    pub before: Option<(i64, ConversationId)>,
}

impl Reader<'_> {
    /// One page of `op`'s history (the sites they serve only).
    pub fn history(
        &self,
        op: &OperatorProfile,
        search: &Search,
    ) -> Result<HistoryPage, StoreError> {
        let scope = match &op.sites {
            SiteScope::All => None,
            SiteScope::Only(sites) => Some(
                serde_json::to_string(&sites.iter().map(|s| &s.0).collect::<Vec<_>>())
                    .expect("strings serialise"),
            ),
        };
        let q = &search.query;
        let sql = select(
            "WHERE c.state = 'closed'
               AND (?1 IS NULL OR c.site_id IN (SELECT value FROM json_each(?1)))
               AND (?2 IS NULL OR c.site_id = ?2)
               AND (?3 IS NULL OR c.operator_id = ?3)
               AND (?4 IS NULL OR c.updated_at >= ?4)
               AND (?5 IS NULL OR c.created_at < ?5)
               AND (?6 IS NULL
                    OR (?6 = 'rated' AND rt.score IS NOT NULL)
                    OR (?6 = 'unrated' AND rt.score IS NULL)
                    OR (?6 = 'good' AND ((rt.scale = 'good_bad' AND rt.score = 1)
                                         OR (rt.scale = 'stars' AND rt.score >= 4)))
                    OR (?6 = 'bad' AND ((rt.scale = 'good_bad' AND rt.score = 0)
                                        OR (rt.scale = 'stars' AND rt.score <= 2))))
               AND (?7 IS NULL OR c.id IN (
                    SELECT m.conversation_id FROM messages_fts f JOIN messages m ON m.seq = f.rowid
                    WHERE messages_fts MATCH ?7))
               AND (?8 IS NULL OR c.updated_at < ?8 OR (c.updated_at = ?8 AND c.id < ?9))
             ORDER BY c.updated_at DESC, c.id DESC LIMIT ?10",
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![
                scope,
                q.site.as_ref().map(|s| &s.0),
                q.operator.map(|o| o.to_string()),
                q.from,
                q.to,
                q.rating.map(|r| r.as_str()),
                search.fts,
                search.before.map(|(at, _)| at),
                search.before.map(|(_, id)| id.to_string()),
                (HISTORY_PAGE + 1) as i64,
            ],
            conversation_from_row,
        )?;
        let mut conversations: Vec<_> = rows.collect::<Result<_, _>>()?;
        let next = match conversations.len() > HISTORY_PAGE {
            true => {
                conversations.truncate(HISTORY_PAGE);
                conversations
                    .last()
                    .map(|c| protocol::history::cursor(c.updated_at, &c.id))
            }
            false => None,
        };
        let sites = self
            .admin_sites()?
            .into_iter()
            .map(|s| s.id)
            .filter(|s| op.sites.allows(s))
            .collect::<Vec<SiteId>>();
        let operators = self
            .admin_operators()?
            .into_iter()
            .filter(|o| o.state == OperatorState::Active)
            .map(|o| OperatorCard {
                id: o.id,
                name: o.name,
            })
            .collect();
        Ok(HistoryPage {
            conversations,
            next,
            sites,
            operators,
        })
    }

    /// A conversation of a site `op` serves, with every message and note; `None` when there
    /// is no such conversation (or it belongs to a site they do not serve: the same answer).
    pub fn transcript(
        &self,
        op: &OperatorProfile,
        id: ConversationId,
    ) -> Result<Option<TranscriptPage>, StoreError> {
        let Some(conversation) = self.conversation(id)? else {
            return Ok(None);
        };
        if !op.sites.allows(&conversation.site_id) {
            return Ok(None);
        }
        let messages = self.messages_after_for(id, 0, true)?;
        Ok(Some(TranscriptPage {
            conversation,
            messages,
        }))
    }
}
