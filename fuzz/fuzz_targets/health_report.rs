//! Any answer a deployment's `/health` may give the moderator: reading it never panics, and a
//! deployment counts as healthy only with a 200 and a report saying so.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (status, body) = match data.split_first() {
        // The first byte picks the status: mostly 200, sometimes an error.
        Some((first, body)) => (if first % 4 == 0 { 503 } else { 200 }, body),
        None => (200, data),
    };
    let (report, failure) = moderator::service::read_health(status, body);
    if failure.is_none() {
        assert!(status == 200 && report.is_some_and(|r| r.ok));
    }
});
