//! Facts about this data directory itself, kept in `meta` (one text value per key) and never
//! replicated: each deployment has its own.

use super::rows::Cached;
use super::{Reader, StoreError, Writer};
use protocol::moderation::ActiveDeployment;
use rusqlite::{params, Connection, OptionalExtension};

/// The key of the newest moderator decision this deployment was told.
const DECISION: &str = "moderator_decision";

/// The key of the message log's identity (`welcome`'s `log`).
pub(super) const MESSAGE_LOG: &str = "message_log";

/// The identity of the message log in `conn`'s database, made up (random) when it has none: a
/// new database, one from a release before it, or one whose identity [`super::rebuild`] removed
/// because its sequence numbers may repeat ones handed out before.
pub(super) fn message_log(conn: &Connection) -> Result<String, StoreError> {
    if let Some(log) = (Reader { conn }).meta(MESSAGE_LOG)? {
        return Ok(log);
    }
    let log = format!("{:032x}", rand::random::<u128>());
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)",
        params![MESSAGE_LOG, log],
    )?;
    Ok(log)
}

impl Reader<'_> {
    /// The value kept under `key`, if any.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row_cached("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// The newest moderator decision this deployment was told before it stopped, so that a
    /// restarted deployment redirects its clients at once instead of waiting for the moderator.
    /// One that no longer parses (written by another release) is forgotten: the moderator pushes
    /// its decision again when it sees the older epoch in `/health`.
    pub fn remembered_decision(&self) -> Result<Option<ActiveDeployment>, StoreError> {
        Ok(self
            .meta(DECISION)?
            .and_then(|text| serde_json::from_str(&text).ok()))
    }
}

impl Writer<'_> {
    /// Keeps `value` under `key`, replacing what was there.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn().execute_cached(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Removes what is kept under `key`.
    pub fn delete_meta(&self, key: &str) -> Result<(), StoreError> {
        self.conn()
            .execute_cached("DELETE FROM meta WHERE key = ?1", [key])?;
        Ok(())
    }

    /// Keeps the moderator's decision unless a newer one is kept already (two pushes may cross).
    pub fn remember_decision(&self, decision: &ActiveDeployment) -> Result<(), StoreError> {
        let newer = self
            .remembered_decision()?
            .is_none_or(|known| decision.epoch > known.epoch);
        if newer {
            let text = serde_json::to_string(decision).expect("decisions serialise");
            self.set_meta(DECISION, &text)?;
        }
        Ok(())
    }
}
