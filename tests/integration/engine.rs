//! The engine on tiny random-weight models: loading every architecture, the tokenizer built
//! from metadata, the chat template, streaming generation and each stop reason.

use precis::llm::generator::Generator;
use precis::llm::gguf::{Architecture, GgufFile};
use precis::llm::template::Message;
use precis::llm::test_models::{write_gguf_header, TinySpec, Value};
use precis::llm::Error;
use precis::llm::{generate, CancelToken, GenerateOptions, StopReason, TokenOutputStream};

use crate::common::*;

fn opts(max_tokens: usize) -> GenerateOptions {
    GenerateOptions { max_tokens, no_repeat_ngram: 0, ..GenerateOptions::default() }
}

fn prompt(generator: &Generator) -> Vec<u32> {
    let text = generator.template.render(&[Message::user("Tell the news.")]).unwrap();
    generator.tokenizer.encode(&text, true, true).unwrap()
}

#[test]
fn every_architecture_loads_and_generates() {
    let dir = tempfile::tempdir().unwrap();
    for arch in ARCHITECTURES {
        let path = tiny_model(dir.path(), arch);
        let mut g = Generator::load(&path).unwrap_or_else(|e| panic!("{arch:?}: {e}"));
        assert_eq!(g.props.architecture, arch);
        assert_eq!(g.props.context_length, 2048);
        assert!(g.template.from_model);
        let ids = prompt(&g);
        let mut streamed = String::new();
        let run = generate(&mut g, &ids, &opts(12), &CancelToken::new(), &mut |t| streamed.push_str(t)).unwrap();
        assert_eq!(run.stop, StopReason::MaxTokens, "{arch:?}");
        assert_eq!(run.tokens.len(), 12, "{arch:?}");
        assert_eq!(run.prompt_tokens, ids.len());
        assert_eq!(streamed, run.text, "{arch:?}: streamed text equals the final text");
        assert_eq!(run.text, g.tokenizer.decode(&run.tokens).unwrap(), "{arch:?}");
    }
}

#[test]
fn generation_is_deterministic_and_chunked_prefill_matches() {
    let dir = tempfile::tempdir().unwrap();
    // Gemma 3 (on candle's model, which cannot continue a prompt) runs its prompt in one pass
    // whatever the chunk size asks.
    for arch in [Architecture::Qwen2, Architecture::Gemma3] {
        let path = tiny_model(dir.path(), arch);
        let mut g = Generator::load(&path).unwrap();
        let ids = prompt(&g);
        let whole = generate(&mut g, &ids, &opts(8), &CancelToken::new(), &mut |_| {}).unwrap();
        let again = generate(&mut g, &ids, &opts(8), &CancelToken::new(), &mut |_| {}).unwrap();
        assert_eq!(whole.tokens, again.tokens, "{arch:?}");
        let chunked = GenerateOptions { prefill_chunk: 5, ..opts(8) };
        let parts = generate(&mut g, &ids, &chunked, &CancelToken::new(), &mut |_| {}).unwrap();
        assert_eq!(whole.tokens, parts.tokens, "{arch:?}: prefill in chunks gives the same tokens");
    }
}

#[test]
fn end_of_turn_token_stops_generation() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny_model(dir.path(), Architecture::Llama);
    let mut g = Generator::load(&path).unwrap();
    let ids = prompt(&g);
    let first = generate(&mut g, &ids, &opts(6), &CancelToken::new(), &mut |_| {}).unwrap();
    // Make the model's fourth token its end-of-turn token.
    let stop = first.tokens[3];
    let before = first.tokens.iter().position(|&t| t == stop).unwrap();
    g.tokenizer.stop_tokens = vec![stop];
    let run = generate(&mut g, &ids, &opts(6), &CancelToken::new(), &mut |_| {}).unwrap();
    assert_eq!(run.stop, StopReason::EndOfTurn);
    assert_eq!(run.tokens, first.tokens[..before].to_vec(), "the stop token itself is not output");
}

#[test]
fn stop_string_cuts_the_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny_model(dir.path(), Architecture::Qwen3);
    let mut g = Generator::load(&path).unwrap();
    let ids = prompt(&g);
    let first = generate(&mut g, &ids, &opts(20), &CancelToken::new(), &mut |_| {}).unwrap();
    let chars: Vec<char> = first.text.chars().collect();
    assert!(chars.len() >= 6, "tiny model wrote {:?}", first.text);
    let stop: String = chars[3..6].iter().collect();
    let expected_len = first.text.find(&stop).unwrap();
    let o = GenerateOptions { stop_strings: vec![stop.clone()], ..opts(20) };
    let mut streamed = String::new();
    let run = generate(&mut g, &ids, &o, &CancelToken::new(), &mut |t| streamed.push_str(t)).unwrap();
    assert_eq!(run.stop, StopReason::StopString);
    assert_eq!(run.text, first.text[..expected_len]);
    assert_eq!(streamed, run.text, "no part of the stop string is streamed");
}

#[test]
fn cancel_stops_before_the_next_token() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny_model(dir.path(), Architecture::Qwen2);
    let mut g = Generator::load(&path).unwrap();
    let ids = prompt(&g);

    let cancelled = CancelToken::new();
    cancelled.cancel();
    let run = generate(&mut g, &ids, &opts(50), &cancelled, &mut |_| {}).unwrap();
    assert_eq!(run.stop, StopReason::Cancelled);
    assert!(run.tokens.is_empty());

    let cancel = CancelToken::new();
    let c = cancel.clone();
    let mut deltas = 0;
    let run = generate(&mut g, &ids, &opts(50), &cancel, &mut |_| {
        deltas += 1;
        c.cancel();
    })
    .unwrap();
    assert_eq!(run.stop, StopReason::Cancelled);
    assert_eq!(deltas, 1);
    assert!(run.tokens.len() < 50);
}

#[test]
fn tokenizer_from_metadata_merges_and_keeps_specials_as_text_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny_model(dir.path(), Architecture::Qwen2);
    let g = Generator::load(&path).unwrap();
    let tk = &g.tokenizer;
    let the = tk.token_id("Ġthe").unwrap();
    let ids = tk.encode("in the", false, false).unwrap();
    assert_eq!(ids, vec![tk.token_id("in").unwrap(), the]);
    let im_end = tk.token_id("<|im_end|>").unwrap();
    assert_eq!(tk.encode("<|im_end|>", true, false).unwrap(), vec![im_end]);
    let plain = tk.encode("<|im_end|>", false, false).unwrap();
    assert!(plain.len() > 1 && !plain.contains(&im_end), "{plain:?}");
    assert_eq!(tk.decode(&plain).unwrap(), "<|im_end|>");
    assert!(tk.is_stop(im_end));
    // Every byte round-trips, including multi-byte characters.
    let text = "Zoë — 東京 😀 café\n\t end";
    assert_eq!(tk.decode(&tk.encode(text, false, false).unwrap()).unwrap(), text);
}

#[test]
fn streaming_never_splits_a_character_and_keeps_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny_model(dir.path(), Architecture::Llama);
    let g = Generator::load(&path).unwrap();
    let text = "é東😀x🎉";
    let ids = g.tokenizer.encode(text, false, false).unwrap();
    assert!(ids.len() > text.chars().count(), "multi-byte characters span several tokens");
    let mut stream = TokenOutputStream::new();
    let mut pieces = Vec::new();
    for &id in &ids {
        if let Some(p) = stream.next_token(&g.tokenizer, id).unwrap() {
            pieces.push(p);
        }
    }
    if let Some(p) = stream.flush(&g.tokenizer).unwrap() {
        pieces.push(p);
    }
    assert!(pieces.iter().all(|p| !p.contains('\u{FFFD}')), "{pieces:?}");
    assert_eq!(pieces.concat(), text);

    // A sequence cut inside a character still gives its bytes back at the end.
    let mut stream = TokenOutputStream::new();
    let cut = &ids[..ids.len() - 1];
    let mut out = String::new();
    for &id in cut {
        if let Some(p) = stream.next_token(&g.tokenizer, id).unwrap() {
            out.push_str(&p);
        }
    }
    let tail = stream.flush(&g.tokenizer).unwrap().unwrap_or_default();
    assert_eq!(format!("{out}{tail}"), g.tokenizer.decode(cut).unwrap());
    assert!(!tail.is_empty());
}

#[test]
fn missing_template_falls_back_per_architecture() {
    let dir = tempfile::tempdir().unwrap();
    let spec = TinySpec { with_template: false, ..TinySpec::new(Architecture::Gemma3) };
    let path = tiny_model_with(dir.path(), spec);
    let g = Generator::load(&path).unwrap();
    assert!(!g.template.from_model);
    assert_eq!(
        g.template.render(&[Message::user("Hi")]).unwrap(),
        "<|endoftext|><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n"
    );
}

#[test]
fn truncated_and_garbage_files_are_reported_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny_model(dir.path(), Architecture::Qwen2);
    let bytes = std::fs::read(&path).unwrap();
    let cut = write(dir.path(), "cut.gguf", &bytes[..bytes.len() * 2 / 3]);
    let err = Generator::load(&cut).unwrap_err();
    assert!(matches!(err, Error::ModelCorrupt { .. }), "{err}");
    assert!(err.to_string().contains("truncated"), "{err}");

    let garbage = write(dir.path(), "junk.gguf", b"this is not a model at all, just some text");
    let err = Generator::load(&garbage).unwrap_err();
    assert!(err.to_string().contains("not a readable GGUF file"), "{err}");
}

#[test]
fn unsupported_architecture_names_the_supported_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mamba.gguf");
    let arch = Value::String("mamba".into());
    let ctx = Value::U32(512);
    write_gguf_header(&path, &[("general.architecture", &arch), ("mamba.context_length", &ctx)]).unwrap();
    let gguf = GgufFile::open(&path).unwrap();
    let err = gguf.props().unwrap_err().to_string();
    assert!(err.contains("architecture `mamba` is not supported"), "{err}");
    assert!(err.contains("llama, qwen2, qwen3, gemma3"), "{err}");
    let err = Generator::load(&path).unwrap_err().to_string();
    assert!(err.contains("mamba"), "{err}");
}

#[test]
fn missing_metadata_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bare.gguf");
    let arch = Value::String("llama".into());
    write_gguf_header(&path, &[("general.architecture", &arch)]).unwrap();
    let err = Generator::load(&path).unwrap_err().to_string();
    assert!(err.contains("GGUF metadata has no `llama.context_length`"), "{err}");
}
