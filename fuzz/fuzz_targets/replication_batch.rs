//! Any text the peer's replication link may send: decoding never panics, and every event of a
//! batch goes through the rules a deployment checks before applying it (which must not panic
//! either, whatever the values).
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::replication::ReplicationFrame;
use server::store::validate;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(ReplicationFrame::Batch { events, .. }) = ReplicationFrame::decode(text) {
        for event in &events {
            let _ = validate::stamp(event.hlc, 1_700_000_000_000);
            let _ = validate::change(&event.change);
        }
    }
});
