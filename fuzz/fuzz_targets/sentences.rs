//! Fuzz target: arbitrary text split into sentences and ranked (TF-IDF, MMR) must give spans
//! that lie inside the text on character boundaries, and key points among them, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use precis::llm::CancelToken;
use precis::summary::{extract, Length};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let opts = precis::summary::rank::RankOptions::default();
    let extraction = extract(&text, None, 5, Length::Medium, &opts, &CancelToken::new()).expect("never cancelled");
    for s in &extraction.sentences {
        assert!(s.span.start < s.span.end && s.span.end <= text.len());
        let _ = s.span.of(&text);
    }
    assert!(extraction.chosen.iter().all(|&i| i < extraction.sentences.len()));
    let _ = extraction.bullets(&text);
});
