//! The storage baseline: raw durable inserts into SQLite with the deployment's settings (WAL,
//! `synchronous = FULL`), one transaction per row as an acknowledged message needs, on the same
//! disk as the deployments' data.

use std::time::{Duration, Instant};

/// `sqlite_baseline_rows_per_s`: single-row transactions for `duration`.
pub fn rows_per_s(duration: Duration) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir_in(std::env::current_dir()?)?;
    let conn = rusqlite::Connection::open(dir.path().join("baseline.sqlite3"))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
         CREATE TABLE messages (id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL,
                                body TEXT NOT NULL, sent_at INTEGER NOT NULL);",
    )?;
    let started = Instant::now();
    let mut rows = 0u64;
    while started.elapsed() < duration {
        let tx = conn.unchecked_transaction()?;
        tx.execute(
            "INSERT INTO messages (id, conversation_id, body, sent_at) VALUES (?1, ?2, ?3, ?4)",
            (
                uuid::Uuid::now_v7().to_string(),
                "baseline",
                "a typical chat message of some forty bytes",
                rows as i64,
            ),
        )?;
        tx.commit()?;
        rows += 1;
    }
    Ok(rows as f64 / started.elapsed().as_secs_f64())
}
