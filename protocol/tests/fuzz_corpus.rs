//! The client-frame fuzz corpus (`fuzz/corpus/client_frame`), replayed on every test run with
//! the fuzz target's checks: nothing panics, and what decodes round-trips.

use protocol::ClientFrame;

#[test]
fn every_corpus_entry_decodes_without_panicking_and_round_trips() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/client_frame");
    let mut decoded = 0;
    for entry in std::fs::read_dir(dir).expect("the corpus is in the repository") {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        let Ok(text) = std::str::from_utf8(&data) else {
            continue;
        };
        if let Ok(frame) = ClientFrame::decode(text) {
            assert_eq!(ClientFrame::decode(&frame.encode()), Ok(frame));
            decoded += 1;
        }
    }
    assert!(decoded >= 4, "the seed frames decode ({decoded})");
}
