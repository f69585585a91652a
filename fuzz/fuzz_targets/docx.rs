//! Fuzz target: arbitrary bytes read as a docx article must give an article or an error, never a
//! panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = precis::article::from_bytes("fuzz", data, Some("docx"));
});
