//! Arbitrary bytes as the streams of up to four clients of one broker: decoding, validation,
//! the session state machine, routing, retained messages, wills and expiry (on a paused clock).
//! See `skeeter::broker::fuzz` for the input layout.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    skeeter::broker::fuzz::run_connection(data);
});
