//! The replication fuzz corpus (`fuzz/corpus/replication_batch`), replayed on every test run
//! with the fuzz target's checks: decoding and the event rules never panic.

use protocol::replication::ReplicationFrame;
use server::store::validate;

#[test]
fn every_corpus_entry_decodes_and_is_checked_without_panicking() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/corpus/replication_batch"
    );
    let mut batches = 0;
    for entry in std::fs::read_dir(dir).expect("the corpus is in the repository") {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        let Ok(text) = std::str::from_utf8(&data) else {
            continue;
        };
        if let Ok(ReplicationFrame::Batch { events, .. }) = ReplicationFrame::decode(text) {
            for event in &events {
                let _ = validate::stamp(event.hlc, 1_700_000_000_000);
                let _ = validate::change(&event.change);
            }
            batches += 1;
        }
    }
    assert!(batches >= 1, "the seed batch decodes");
}
