//! Fuzz target: an arbitrary chat template (the model file's own, so untrusted) rendered with a
//! short conversation must give a prompt or an error within its fuel, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use precis::llm::gguf::Architecture;
use precis::llm::template::{ChatTemplate, Message};

fuzz_target!(|data: &[u8]| {
    let source = String::from_utf8_lossy(data);
    let template = ChatTemplate::new(Some(&source), Architecture::Qwen2, |_| false, "<s>".into(), "</s>".into());
    let _ = template.render(&[Message::system("Be brief."), Message::user("Summarize: the council voted.")]);
});
