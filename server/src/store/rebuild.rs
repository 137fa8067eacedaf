//! Taking back from the peer what this deployment had written itself, after its data directory
//! was lost (deleted by mistake, a new disk) or replaced by an older backup.
//!
//! Two things go wrong when a deployment starts again without its history, and this module holds
//! the answer to both:
//! - **Its own log would be numbered again from 1**, while the peer's cursor for it still stands at
//!   the old head: the peer would skip every new event until the count passed that head, and the
//!   records keyed by log position (page views) would collide. So a data directory that is new, or
//!   restored from a backup, numbers its own events from a *floor* above anything the deployment's
//!   name can have issued before: the wall clock in microseconds (a deployment would have to record
//!   a million events a second on average since its previous floor to reach it).
//! - **What it wrote itself exists only at the peer**, which never sends a deployment its own
//!   events over the pull link. So until the peer has given them back, page by page from
//!   `/v1/replication/returned` (events of ours below the floor, in the peer's log order), the
//!   deployment reports itself `rebuilding` and the moderator does not make it active. The
//!   position reached is kept here, in the same transaction as the events, so an interrupted
//!   rebuild goes on where it stopped.
//!
//! Our events and the peer's come back side by side, in no causal order, so one may refer to
//! what has not arrived yet (the peer's reply in a conversation we had opened). The database
//! refuses it and it is quarantined like any refused event; after the last page the rebuild
//! *settles*: it applies those again until none is left, or until the pull link has caught up
//! and what is left truly refers to nothing, and only then stops reporting `rebuilding`.
//!
//! The peer's own events need nothing special: a fresh directory's cursor is 0 and a restored
//! one's is where the backup stood, and the pull link takes it from there.

use super::{Reader, StoreError, Writer};
use protocol::replication::{Change, LoggedEvent, ReturnedEvents};
use rusqlite::{params, Connection};

/// The `meta` key of the first position of our own log on this data directory.
const FLOOR: &str = "own_seq_floor";
/// The `meta` key of the rebuild's position in the peer's log; absent once rebuilt.
const REBUILD_AFTER: &str = "rebuild_after";
/// The `meta` key present from the rebuild's last page until the events held back meanwhile (see
/// `Writer::retry_held_back`) are applied or known to stay quarantined.
const SETTLING: &str = "rebuild_settling";

/// Marks a database that was just created or restored: its own events are numbered from a floor
/// above everything before, and it takes its own past back from the peer from the start.
pub fn mark_for_rebuild(conn: &Connection, now_ms: i64) -> rusqlite::Result<()> {
    // Above every position in the log whatever its origin: the restored backup's own head is
    // among them, and the wall clock may stand behind it.
    let head: i64 = conn.query_row("SELECT COALESCE(MAX(origin_seq), 0) FROM events", [], |r| {
        r.get(0)
    })?;
    let floor = (now_ms.max(0) * 1_000).max(head + 1);
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2), (?3, '0')
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![FLOOR, floor.to_string(), REBUILD_AFTER],
    )?;
    // Messages taken back from the peer get sequence numbers clients may already have seen for
    // other messages (a restored backup numbers on from its own past): the log is a new one.
    conn.execute(
        "DELETE FROM meta WHERE key = ?1",
        [super::meta::MESSAGE_LOG],
    )?;
    Ok(())
}

fn meta_number(reader: &Reader, key: &str) -> Result<Option<u64>, StoreError> {
    reader
        .meta(key)?
        .map(|v| {
            v.parse::<u64>().map_err(|e| StoreError::Corrupt {
                what: format!("meta {key}"),
                detail: e.to_string(),
            })
        })
        .transpose()
}

impl Reader<'_> {
    /// The first position of our own log on this data directory (0 for one that predates the
    /// floor, whose numbering simply goes on).
    pub fn own_seq_floor(&self) -> Result<u64, StoreError> {
        Ok(meta_number(self, FLOOR)?.unwrap_or(0))
    }

    /// Where the rebuild stands in the peer's log, or `None` when there is nothing to take back.
    pub fn rebuild_position(&self) -> Result<Option<u64>, StoreError> {
        meta_number(self, REBUILD_AFTER)
    }

    /// Whether every page is back but events held back meanwhile may still apply.
    pub fn rebuild_settling(&self) -> Result<bool, StoreError> {
        Ok(self.meta(SETTLING)?.is_some())
    }

    /// What the peer asking as `origin` gets back: its events held here after position `after` of
    /// our log and below its floor `below`, at most `limit`, in our log order.
    pub fn returned_events(
        &self,
        origin: &str,
        after: u64,
        below: u64,
        limit: usize,
    ) -> Result<ReturnedEvents, StoreError> {
        // The limit is in the text: a bound `LIMIT` recompiles the statement on every call (see
        // `events::local_events_sql`).
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT seq, id, origin_seq, hlc, body FROM events
             WHERE origin = ?1 AND seq > ?2 AND origin_seq < ?3 ORDER BY seq LIMIT {limit}"
        ))?;
        let rows = stmt.query_map(
            params![origin, after as i64, below.min(i64::MAX as u64) as i64],
            |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, String>(4)?,
                ))
            },
        )?;
        let mut page = ReturnedEvents {
            events: Vec::new(),
            next_after: after,
            done: false,
        };
        for row in rows {
            let (seq, id, origin_seq, hlc, body) = row?;
            // Fail closed, as the pull link does: skipping an event would lose it for good.
            let corrupt = |detail: String| StoreError::Corrupt {
                what: format!("event {id}"),
                detail,
            };
            let change: Change = serde_json::from_str(&body).map_err(|e| corrupt(e.to_string()))?;
            let id = uuid::Uuid::parse_str(&id).map_err(|e| corrupt(e.to_string()))?;
            page.events.push(LoggedEvent {
                id,
                origin: origin.to_owned(),
                seq: origin_seq as u64,
                hlc: hlc as u64,
                change,
            });
            page.next_after = seq as u64;
        }
        page.done = page.events.len() < limit;
        Ok(page)
    }
}

impl Writer<'_> {
    /// Moves the rebuild on to `position` of the peer's log, or, with `None`, ends taking pages
    /// back and starts settling; called in the transaction that applied the events up to there.
    pub fn set_rebuild_position(&self, position: Option<u64>) -> Result<(), StoreError> {
        match position {
            Some(at) => self.set_meta(REBUILD_AFTER, &at.to_string()),
            None => {
                self.delete_meta(REBUILD_AFTER)?;
                self.set_meta(SETTLING, "1")
            }
        }
    }

    /// Ends the rebuild's settling: nothing held back is waiting any longer.
    pub fn end_rebuild(&self) -> Result<(), StoreError> {
        self.delete_meta(SETTLING)
    }
}
