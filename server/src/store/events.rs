//! The event log: every change recorded here or applied from the peer, in this deployment's order,
//! and the replication cursor (how far into the peer's log this deployment has applied).

use super::rows::Cached;
use super::{Reader, StoreError, Writer};
use protocol::replication::{Change, LoggedEvent};
use rusqlite::{params, OptionalExtension};

/// The query behind [`Reader::local_events_after`]. The limit is written into the text, not bound:
/// SQLite's planner reads a bound `LIMIT` and marks the statement to be compiled again whenever
/// it is bound, so a cached statement with `LIMIT ?` is parsed and planned anew on every call.
/// This one runs for every pull of the peer, and that recompilation was a seventh of the
/// primary's request threads under load (see docs/benchmarks.md). Each limit used is its own
/// cached statement; there are two.
pub(super) fn local_events_sql(limit: usize) -> String {
    format!(
        "SELECT id, origin_seq, hlc, body FROM events WHERE origin = ?1 AND origin_seq > ?2
         ORDER BY origin_seq LIMIT {limit}"
    )
}

impl Reader<'_> {
    /// Whether an event was already recorded or applied here.
    pub fn contains_event(&self, id: uuid::Uuid) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .exists_cached("SELECT 1 FROM events WHERE id = ?1", [id.to_string()])?)
    }

    /// Whether an event from the peer was set aside here (see `Writer::apply_remote`).
    pub fn quarantined(&self, id: uuid::Uuid) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .exists_cached("SELECT 1 FROM quarantine WHERE id = ?1", [id.to_string()])?)
    }

    /// How many events from the peer are set aside here, and the newest reason.
    pub fn quarantine_report(&self) -> Result<(u64, Option<String>), StoreError> {
        let count: i64 =
            self.conn
                .query_row_cached("SELECT count(*) FROM quarantine", [], |r| r.get(0))?;
        let newest = self
            .conn
            .query_row_cached(
                "SELECT reason FROM quarantine ORDER BY at DESC, rowid DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        Ok((count as u64, newest))
    }

    /// This deployment's own events after position `after_seq` of its own log (`origin_seq`),
    /// oldest first, at most `limit`: what the peer pulls. Reading from disk in bounded batches keeps memory flat however far behind the
    /// peer is. An event that does not parse is an error (fail closed): skipping it would lose it
    /// on the peer for good.
    pub fn local_events_after(
        &self,
        origin: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<LoggedEvent>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&local_events_sql(limit))?;
        let rows = stmt.query_map(params![origin, after_seq as i64], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, String>(3)?,
            ))
        })?;
        let mut events = Vec::new();
        for row in rows {
            let (id, seq, hlc, body) = row?;
            let corrupt = |detail: String| StoreError::Corrupt {
                what: format!("event {id}"),
                detail,
            };
            let change: Change = serde_json::from_str(&body).map_err(|e| corrupt(e.to_string()))?;
            let id = uuid::Uuid::parse_str(&id).map_err(|e| corrupt(e.to_string()))?;
            events.push(LoggedEvent {
                id,
                origin: origin.to_owned(),
                seq: seq as u64,
                hlc: hlc as u64,
                change,
            });
        }
        Ok(events)
    }

    /// The newest position in `origin`'s own log held here (0 when none).
    pub fn head(&self, origin: &str) -> Result<u64, StoreError> {
        Ok(self.conn.query_row_cached(
            "SELECT COALESCE(MAX(origin_seq), 0) FROM events WHERE origin = ?1",
            [origin],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// The largest clock value in the log, so a restarted deployment never issues a smaller one.
    pub fn max_hlc(&self) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .query_row_cached("SELECT COALESCE(MAX(hlc), 0) FROM events", [], |r| {
                r.get::<_, i64>(0)
            })? as u64)
    }

    /// How far into `peer`'s log this deployment has applied.
    pub fn cursor(&self, peer: &str) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .query_row_cached(
                "SELECT last_seq FROM replication_cursors WHERE peer = ?1",
                [peer],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .unwrap_or(0) as u64)
    }
}

impl Writer<'_> {
    /// Appends an event at position `origin_seq` of its origin's log (for a local event, the next
    /// position of our own log, from the writer's counter). Returns the local sequence number.
    pub(super) fn append_event(
        &self,
        event: &LoggedEvent,
        origin_seq: u64,
    ) -> Result<u64, StoreError> {
        let body = serde_json::to_string(&event.change).expect("changes serialise");
        let conn = self.conn();
        conn.execute_cached(
            "INSERT INTO events (id, origin, origin_seq, hlc, body) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                event.id.to_string(),
                event.origin,
                origin_seq as i64,
                event.hlc as i64,
                body
            ],
        )?;
        Ok(conn.last_insert_rowid() as u64)
    }

    /// Moves the cursor; called in the same transaction as the events it covers, so a crash can
    /// neither skip nor repeat an event.
    pub fn set_cursor(&self, peer: &str, seq: u64) -> Result<(), StoreError> {
        self.conn().execute_cached(
            "INSERT INTO replication_cursors (peer, last_seq, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(peer) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq), updated_at = excluded.updated_at",
            params![peer, seq as i64, self.now_ms()],
        )?;
        Ok(())
    }
}
