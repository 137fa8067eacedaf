//! Compares two deployments' databases: the same messages in the same per-conversation order, the
//! same conversation states, sites and their settings, operators and theirs, removals, visitors,
//! sessions and session tombstones. Used by the replication
//! tests and by operators (`server check-sync <data-dir-a> <data-dir-b>`).

use super::DATABASE_FILE;
use rusqlite::{Connection, OpenFlags};
use std::collections::BTreeSet;
use std::path::Path;

/// What is compared, as (name, query). Each query yields one text row per record, in a canonical
/// order; messages are ordered per conversation by (hlc, id), the order clients display.
const TABLES: &[(&str, &str)] = &[
    ("sites", "SELECT id || ' ' || name || ' ' || allowed_origins FROM sites ORDER BY id"),
    ("operators", "SELECT id || ' ' || email || ' ' || name || ' ' || role || ' ' || password_hash || ' ' || sessions_from FROM operators ORDER BY id"),
    // Sessions expired for more than a day are left out: each deployment purges them on its own
    // (two days after expiry, `Writer::purge_expired_sessions`), at its own moment.
    ("operator sessions", "SELECT token_hash || ' ' || operator_id || ' ' || hlc FROM operator_sessions
        WHERE expires_at > (CAST(strftime('%s', 'now') AS INTEGER) - 86400) * 1000 ORDER BY token_hash"),
    ("site settings", "SELECT site_id || ' ' || key || ' ' || value FROM site_settings ORDER BY site_id, key"),
    ("canned replies", "SELECT id || ' ' || quote(value) FROM canned_replies ORDER BY id"),
    ("site tombstones", "SELECT id FROM site_tombstones ORDER BY id"),
    ("operator settings", "SELECT operator_id || ' ' || key || ' ' || value FROM operator_settings ORDER BY operator_id, key"),
    ("operator tombstones", "SELECT id FROM operator_tombstones ORDER BY id"),
    ("session tombstones", "SELECT token_hash FROM session_tombstones ORDER BY token_hash"),
    ("visitors", "SELECT id || ' ' || site_id FROM visitors ORDER BY id"),
    ("page views", "SELECT origin || ' ' || origin_seq || ' ' || visitor_id || ' ' || url || ' ' || at FROM page_views ORDER BY origin, origin_seq"),
    ("visitor contexts", "SELECT visitor_id || ' ' || value FROM visitor_contexts ORDER BY visitor_id"),
    ("visitor details", "SELECT visitor_id || ' ' || details FROM visitor_details ORDER BY visitor_id"),
    ("read marks", "SELECT conversation_id || ' ' || reader || ' ' || up_to FROM conversation_reads ORDER BY conversation_id, reader"),
    ("ratings", "SELECT conversation_id || ' ' || scale || ' ' || score || ' ' || quote(comment) FROM conversation_ratings ORDER BY conversation_id"),
    (
        "conversations",
        "SELECT id || ' ' || site_id || ' ' || visitor_id || ' ' || state || ' ' || COALESCE(operator_id, '-') || ' ' || kind FROM conversations ORDER BY id",
    ),
    (
        "messages",
        "SELECT conversation_id || ' ' || id || ' ' || author_kind || ' ' || COALESCE(author_id, '-') || ' ' || hlc || ' ' || quote(body) || ' ' || COALESCE(attachment_hash, '-')
         FROM messages ORDER BY conversation_id, hlc, id",
    ),
];

/// Why the comparison could not run.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A database could not be opened or read.
    #[error("{path}: {source}")]
    Database {
        /// The data directory.
        path: String,
        /// What SQLite said.
        source: rusqlite::Error,
    },
}

/// Every difference between the databases in `a` and `b` (data directories), as sentences; empty
/// when they hold the same data in the same order.
pub fn compare(a: &Path, b: &Path) -> Result<Vec<String>, CheckError> {
    let (left, right) = (open(a)?, open(b)?);
    let mut differences = Vec::new();
    for (name, query) in TABLES {
        let rows_a = rows(&left, query).map_err(|source| CheckError::Database {
            path: a.display().to_string(),
            source,
        })?;
        let rows_b = rows(&right, query).map_err(|source| CheckError::Database {
            path: b.display().to_string(),
            source,
        })?;
        if rows_a == rows_b {
            continue;
        }
        let (set_a, set_b): (BTreeSet<_>, BTreeSet<_>) =
            (rows_a.iter().collect(), rows_b.iter().collect());
        for only in set_a.difference(&set_b).take(20) {
            differences.push(format!("{name}: only in {}: {only}", a.display()));
        }
        for only in set_b.difference(&set_a).take(20) {
            differences.push(format!("{name}: only in {}: {only}", b.display()));
        }
        if set_a == set_b {
            differences.push(format!("{name}: the same records in a different order"));
        }
    }
    Ok(differences)
}

fn open(dir: &Path) -> Result<Connection, CheckError> {
    Connection::open_with_flags(dir.join(DATABASE_FILE), OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(
        |source| CheckError::Database {
            path: dir.display().to_string(),
            source,
        },
    )
}

fn rows(conn: &Connection, query: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(query)?;
    let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
    rows.collect()
}
