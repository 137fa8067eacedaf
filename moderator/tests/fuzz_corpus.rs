//! The health-report fuzz corpus (`fuzz/corpus/health_report`), replayed on every test run with
//! the fuzz target's checks: reading never panics, and only a 200 saying `ok` is healthy.

#[test]
fn every_corpus_entry_is_read_without_panicking_and_judged_right() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/health_report");
    let mut healthy = 0;
    for entry in std::fs::read_dir(dir).expect("the corpus is in the repository") {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        let (status, body) = match data.split_first() {
            Some((first, body)) => (if first % 4 == 0 { 503 } else { 200 }, body),
            None => (200, &data[..]),
        };
        let (report, failure) = moderator::service::read_health(status, body);
        if failure.is_none() {
            assert!(status == 200 && report.is_some_and(|r| r.ok));
            healthy += 1;
        }
    }
    assert!(healthy >= 2, "the seed reports read as healthy ({healthy})");
}
