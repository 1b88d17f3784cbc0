//! Fuzz target: the opaque paging cursor of `GET /v1/orders`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tradehook::http::orders::decode_cursor;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = decode_cursor(text);
    }
});
