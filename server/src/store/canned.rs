//! Canned replies as stored: one last-writer-wins register per reply (`canned_replies`), whose
//! value is the reply or, once removed, nothing. Reads are [`Reader`] methods, writes a
//! [`Writer`] method that records a change (applied in [`super::changes`]).

use super::rows::{self, Cached};
use super::{Reader, StoreError, Writer};
use protocol::canned::{CannedId, CannedReply, CannedScope};
use protocol::replication::Change;
use protocol::OperatorProfile;
use rusqlite::OptionalExtension;

impl Reader<'_> {
    /// The reply `id`, unless it was removed.
    pub fn canned(&self, id: CannedId) -> Result<Option<CannedReply>, StoreError> {
        let found = self
            .conn
            .query_row_cached(
                "SELECT value FROM canned_replies WHERE id = ?1 AND value IS NOT NULL",
                [id.to_string()],
                |row| {
                    rows::parsed(row, 0, "canned reply", |s| {
                        serde_json::from_str::<CannedReply>(s)
                    })
                },
            )
            .optional()?;
        Ok(found)
    }

    /// Every reply not removed.
    pub fn canned_all(&self) -> Result<Vec<CannedReply>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT value FROM canned_replies WHERE value IS NOT NULL ORDER BY id",
        )?;
        let all = stmt.query_map([], |row| {
            rows::parsed(row, 0, "canned reply", |s| {
                serde_json::from_str::<CannedReply>(s)
            })
        })?;
        Ok(all.collect::<Result<Vec<_>, _>>()?)
    }

    /// The replies `operator` may use: their own, and those of the sites they serve; by
    /// shortcut.
    pub fn canned_for(&self, operator: &OperatorProfile) -> Result<Vec<CannedReply>, StoreError> {
        let mut mine: Vec<CannedReply> = self
            .canned_all()?
            .into_iter()
            .filter(|reply| match &reply.scope {
                CannedScope::Personal(owner) => *owner == operator.id,
                CannedScope::Site(site) => operator.sites.allows(site),
            })
            .collect();
        mine.sort_by(|a, b| a.shortcut.cmp(&b.shortcut).then(a.id.cmp(&b.id)));
        Ok(mine)
    }
}

impl Writer<'_> {
    /// Creates, edits (`Some`) or removes (`None`) the reply `id`.
    pub fn set_canned(&self, id: CannedId, reply: Option<CannedReply>) -> Result<(), StoreError> {
        self.record(Change::CannedReplySet { id, reply })?;
        Ok(())
    }
}
