//! Any text a visitor's or operator's socket may send: decoding never panics, and a frame that
//! decodes encodes to text that decodes to the same frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::ClientFrame;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(frame) = ClientFrame::decode(text) {
        let again = ClientFrame::decode(&frame.encode());
        assert_eq!(again.as_ref(), Ok(&frame));
    }
});
