//! Fuzz target: arbitrary bytes as a GGUF file must be read, or refused as a damaged model,
//! never a panic: the header check first, then candle's reader and the typed view, then the
//! tokenizer built from the metadata (`inspect`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = precis::llm::gguf::check_header(&mut &data[..], data.len() as u64);
    let dir = std::env::temp_dir().join(format!("precis-fuzz-gguf-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("model.gguf");
    if std::fs::write(&path, data).is_ok() {
        let _ = precis::llm::generator::inspect(&path);
    }
});
