//! Fuzz target: arbitrary bytes read as a docx article must give an article or an error, never a
//! panic that escapes the engine, a hang or a crash.
#![no_main]

mod contained;

use libfuzzer_sys::fuzz_target;

fuzz_target!(init: contained::install_hook(), |data: &[u8]| contained::read(data, "docx"));
