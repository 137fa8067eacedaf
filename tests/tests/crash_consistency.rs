//! Crash consistency of the group commit: many visitors write at once (so every transaction
//! carries several of them) and the deployment is killed with SIGKILL at a different moment each
//! time, many times over. After every restart the database must open and pass SQLite's integrity
//! check, and every message acknowledged before the kill must be in it: an acknowledgement means
//! "on disk", whatever instant the power goes.

use std::collections::BTreeSet;
use std::time::Duration;
use tests::burst::{stored_ids, write_burst};
use tests::pair::start_pair;
use tokio::sync::mpsc;

/// Concurrent writers: enough that the writer thread gathers several requests per commit.
const WRITERS: usize = 16;
/// Kill -9 rounds.
const ROUNDS: usize = 12;

fn integrity(dir: &std::path::Path) -> String {
    let conn = rusqlite::Connection::open_with_flags(
        dir.join("livechat.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("the database opens after a kill");
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("the integrity check runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_group_commits_never_loses_an_acknowledged_message() {
    let (mut primary, _redundant) = start_pair(0);
    let mut acked = BTreeSet::new();
    for round in 0..ROUNDS {
        let (acked_tx, mut acked_rx) = mpsc::unbounded_channel();
        let writers: Vec<_> = (0..WRITERS)
            .map(|_| tokio::spawn(write_burst(primary.ws_url(), acked_tx.clone(), 100_000)))
            .collect();
        drop(acked_tx);
        // A different moment each round: after 1, 8, 15, … acknowledgements.
        let kill_after = 1 + round * 7;
        for _ in 0..kill_after {
            let id = tokio::time::timeout(Duration::from_secs(20), acked_rx.recv())
                .await
                .expect("acknowledgements keep coming")
                .expect("the writers are running");
            acked.insert(id.to_string());
        }
        tokio::task::block_in_place(|| primary.kill9());
        for writer in writers {
            let _ = writer.await;
        }
        // Everything acknowledged before the process died, including acks in flight.
        while let Some(id) = acked_rx.recv().await {
            acked.insert(id.to_string());
        }
        tokio::task::block_in_place(|| primary.start());
        assert_eq!(
            integrity(primary.data_dir.path()),
            "ok",
            "round {round}: the database is damaged"
        );
        let stored: BTreeSet<String> = stored_ids(primary.data_dir.path()).into_iter().collect();
        let missing: Vec<_> = acked.difference(&stored).collect();
        assert!(
            missing.is_empty(),
            "round {round}: {} acknowledged messages are missing: {missing:?}",
            missing.len()
        );
    }
    assert!(
        acked.len() >= ROUNDS * 10,
        "too few writes: {}",
        acked.len()
    );
}
