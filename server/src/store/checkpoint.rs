//! Checkpoints off the writer's path. In WAL mode every commit appends pages to the write-ahead
//! log, and a checkpoint copies them back into the database file. Left to SQLite, the connection
//! whose commit pushes the log past its threshold runs the checkpoint inside that commit: the
//! writer thread then copies and fsyncs megabytes while every acknowledgement of the next batch
//! waits. Here a thread of its own, on a connection of its own, runs passive checkpoints shortly
//! after commits, which never block the writer (SQLite lets a writer append while a checkpointer
//! copies older frames). The writer keeps a high threshold of its own as a backstop, so the log
//! stays bounded even if this thread could not keep up.
//!
//! Durability does not depend on checkpoints: a commit is on disk once the log is synced. A
//! checkpoint syncs the log before copying and the database file after, so the log is restarted
//! only once its pages are safely in the file.

use super::StoreError;
use rusqlite::Connection;
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The shortest time between two checkpoints: each costs two fsyncs, so a busy writer's commits
/// are gathered into one checkpoint per interval.
const INTERVAL: Duration = Duration::from_millis(200);

/// The writer's own automatic checkpoint threshold, in pages: ten times SQLite's default, reached
/// only if this thread falls behind (a long-lived reader can hold a checkpoint back too).
pub(super) const WRITER_BACKSTOP_PAGES: u32 = 10_000;

/// How the writer tells the checkpointer that it committed. A full channel already holds a nudge,
/// which is all the checkpointer needs to know.
#[derive(Clone)]
pub(super) struct Nudge(mpsc::SyncSender<()>);

impl Nudge {
    /// Says that a batch committed; never blocks.
    pub(super) fn committed(&self) {
        let _ = self.0.try_send(());
    }
}

/// Starts the checkpointer on its own connection to `path`. It stops once every [`Nudge`] is
/// dropped (the writer thread has ended), after a last checkpoint.
pub(super) fn start(path: &Path) -> Result<(Nudge, JoinHandle<()>), StoreError> {
    let conn = Connection::open(path)?;
    // A checkpoint's syncs follow its connection's setting: without them the log could be
    // restarted before the copied pages are on disk.
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;")?;
    let (sender, nudges) = mpsc::sync_channel(1);
    let thread = std::thread::Builder::new()
        .name("store-checkpoint".into())
        .spawn(move || run(conn, nudges))?;
    Ok((Nudge(sender), thread))
}

fn run(conn: Connection, nudges: mpsc::Receiver<()>) {
    let mut last = Instant::now();
    while nudges.recv().is_ok() {
        // Commits arriving within the interval are covered by the checkpoint that follows it.
        let since = last.elapsed();
        if since < INTERVAL {
            std::thread::sleep(INTERVAL - since);
        }
        let _ = nudges.try_recv();
        checkpoint(&conn);
        last = Instant::now();
    }
    checkpoint(&conn);
}

/// One passive checkpoint: copies what no reader still needs and waits for nobody. A failure is
/// logged and retried at the next commit; the writer's backstop bounds the log meanwhile.
fn checkpoint(conn: &Connection) {
    let outcome = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
    });
    match outcome {
        Ok((log, copied)) => tracing::trace!(log, copied, "checkpointed the write-ahead log"),
        Err(e) => tracing::warn!(error = %e, "a checkpoint of the write-ahead log failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_are_checkpointed_by_the_thread_and_not_by_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite3");
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
                 PRAGMA wal_autocheckpoint = 0;
                 CREATE TABLE t (x BLOB);",
            )
            .unwrap();
        let (nudge, thread) = start(&path).unwrap();
        for _ in 0..50 {
            writer
                .execute("INSERT INTO t VALUES (zeroblob(8000))", [])
                .unwrap();
            nudge.committed();
        }
        // The writer never checkpoints (its threshold is off), so the database file grows past
        // its first pages only through the thread's checkpoints; once the nudges stop, its last
        // one copies everything committed.
        drop(nudge);
        thread.join().unwrap();
        let file = std::fs::metadata(&path).unwrap().len();
        assert!(file >= 50 * 8000, "the database file holds {file} bytes");
        let rows: i64 = writer
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 50);
    }
}
