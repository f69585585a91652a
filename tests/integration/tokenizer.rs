//! Tokenizer parity with llama.cpp. For every catalog generator, the tokenizer rebuilt from the
//! real GGUF file must give exactly the ids in `tests/data/tokenizer/golden/<model>.json`, which
//! `scripts/tokenizer_goldens.py` wrote with llama.cpp's own tokenizer, for every text in
//! `tests/data/tokenizer/corpus` — with special tokens read as text (`plain`) and parsed
//! (`special`). The model tests are ignored by a plain `cargo test`; `scripts/test` fetches the
//! models and runs them. The corpus/golden consistency check needs no model and always runs.
//!
//! Each model has its own golden file, also when two models share a vocabulary (the two
//! Qwen2.5-Coder sizes do, and their goldens are identical): the goldens record what llama.cpp
//! gave for that very file, and a future build of one of them with another vocabulary would
//! show up as a mismatch rather than be hidden by a shared golden.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use precis::llm::gguf::GgufFile;
use precis::llm::tokenizer::TextTokenizer;
use precis::store::catalog::{Catalog, Role};
use sha2::{Digest, Sha256};

use crate::common::*;

#[derive(serde::Deserialize)]
struct Golden {
    llama_cpp_python: String,
    corpus: BTreeMap<String, GoldenEntry>,
}

#[derive(serde::Deserialize)]
struct GoldenEntry {
    sha256: String,
    plain: Vec<u32>,
    /// Present only where parsing special tokens changes the ids.
    special: Option<Vec<u32>>,
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tokenizer")
}

/// The corpus texts by file name.
fn corpus() -> BTreeMap<String, String> {
    let mut texts = BTreeMap::new();
    for entry in std::fs::read_dir(data_dir().join("corpus")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "txt") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            texts.insert(name, std::fs::read_to_string(&path).unwrap());
        }
    }
    assert!(!texts.is_empty(), "no corpus files");
    texts
}

fn golden(model: &str) -> Golden {
    let path = data_dir().join("golden").join(format!("{model}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; write it with scripts/tokenizer_goldens.py {model}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn generator_names() -> Vec<String> {
    Catalog::builtin().models.iter().filter(|m| m.role == Role::Generator).map(|m| m.name.clone()).collect()
}

/// `ids` shown as `[position] id 'token'` around `at`.
fn window(tokenizer: &TextTokenizer, ids: &[u32], at: usize) -> String {
    let start = at.saturating_sub(3);
    let end = (at + 4).min(ids.len());
    (start..end)
        .map(|i| {
            let text = tokenizer.token_text(ids[i]).unwrap_or_else(|| "?".into());
            let mark = if i == at { ">" } else { " " };
            format!("{mark}[{i}] {} {text:?}", ids[i])
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where `actual` first departs from `expected`, with the tokens around it, or `None`.
fn mismatch(tokenizer: &TextTokenizer, expected: &[u32], actual: &[u32]) -> Option<String> {
    if expected == actual {
        return None;
    }
    let at = expected.iter().zip(actual).position(|(e, a)| e != a).unwrap_or(expected.len().min(actual.len()));
    Some(format!(
        "first difference at token {at} ({} expected ids, {} actual)\n  llama.cpp:\n{}\n  precis:\n{}",
        expected.len(),
        actual.len(),
        window(tokenizer, expected, at),
        window(tokenizer, actual, at)
    ))
}

/// Loads `model`'s tokenizer from its GGUF header and compares every corpus text with the goldens.
fn check_model(model: &str) {
    let models = real_models_dir();
    let entry = Catalog::builtin().entry(model).unwrap();
    assert!(
        entry.is_present(&models),
        "{model} is not in {}; run `precis models fetch {model}` (scripts/test does)",
        models.display()
    );
    let tokenizer = TextTokenizer::from_gguf(&GgufFile::open(&entry.location(&models)).unwrap()).unwrap();
    let golden = golden(model);
    let mut failures = Vec::new();
    for (name, text) in corpus() {
        let expected = golden
            .corpus
            .get(&name)
            .unwrap_or_else(|| panic!("{name} has no golden for {model}; run scripts/tokenizer_goldens.py"));
        let plain = tokenizer.encode(&text, false, false).unwrap();
        if let Some(diff) = mismatch(&tokenizer, &expected.plain, &plain) {
            failures.push(format!("{name} (special tokens as text): {diff}"));
        }
        let special = tokenizer.encode(&text, true, false).unwrap();
        let expected_special = expected.special.as_ref().unwrap_or(&expected.plain);
        if let Some(diff) = mismatch(&tokenizer, expected_special, &special) {
            failures.push(format!("{name} (special tokens parsed): {diff}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{model}: {} of {} encodings differ from llama.cpp (llama-cpp-python {}):\n\n{}",
        failures.len(),
        2 * golden.corpus.len(),
        golden.llama_cpp_python,
        failures.join("\n\n")
    );
}

#[test]
fn every_generator_has_goldens_for_the_current_corpus() {
    let texts = corpus();
    for model in generator_names() {
        let golden = golden(&model);
        for (name, text) in &texts {
            let entry = golden
                .corpus
                .get(name)
                .unwrap_or_else(|| panic!("{name} has no golden for {model}; run scripts/tokenizer_goldens.py"));
            let sha = format!("{:x}", Sha256::digest(text.as_bytes()));
            assert_eq!(
                entry.sha256, sha,
                "{name} changed since the {model} goldens were written; run scripts/tokenizer_goldens.py"
            );
        }
        let extra: Vec<_> = golden.corpus.keys().filter(|k| !texts.contains_key(*k)).collect();
        assert!(extra.is_empty(), "{model} goldens name files no longer in the corpus: {extra:?}");
    }
}

#[test]
#[ignore = "needs qwen2.5-coder-1.5b-instruct-q4_k_m (scripts/test fetches it)"]
fn qwen2_5_coder_1_5b_matches_llama_cpp() {
    check_model("qwen2.5-coder-1.5b-instruct-q4_k_m");
}

#[test]
#[ignore = "needs qwen2.5-coder-0.5b-instruct-q4_k_m (scripts/test fetches it)"]
fn qwen2_5_coder_0_5b_matches_llama_cpp() {
    check_model("qwen2.5-coder-0.5b-instruct-q4_k_m");
}

#[test]
#[ignore = "needs smollm2-135m-instruct-q4_1 (scripts/test fetches it)"]
fn smollm2_135m_matches_llama_cpp() {
    check_model("smollm2-135m-instruct-q4_1");
}

#[test]
fn every_generator_has_a_parity_test() {
    // Keep this list in step with the tests above when a generator joins the catalog.
    let tested =
        ["qwen2.5-coder-1.5b-instruct-q4_k_m", "qwen2.5-coder-0.5b-instruct-q4_k_m", "smollm2-135m-instruct-q4_1"];
    for model in generator_names() {
        assert!(tested.contains(&model.as_str()), "{model} has no tokenizer parity test");
    }
}

#[test]
#[ignore = "needs smollm2-135m-instruct-q4_1 (scripts/test fetches it)"]
fn tokenize_command_prints_the_golden_ids() {
    let model = "smollm2-135m-instruct-q4_1";
    let name = "control_tokens.txt";
    let out = stdout_of(
        precis(&real_models_dir()).args(["tokenize", "--model", model]).arg(data_dir().join("corpus").join(name)),
    );
    let ids: Vec<u32> = serde_json::from_slice(&out).unwrap();
    assert_eq!(ids, golden(model).corpus[name].plain);
}

#[test]
fn tokenize_command_reads_a_gguf_path_and_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path(), precis::llm::gguf::Architecture::Qwen2);
    let text = "Hello world <|im_end|> again";
    let tokenizer = TextTokenizer::from_gguf(&GgufFile::open(&model).unwrap()).unwrap();
    let expected = tokenizer.encode(text, false, false).unwrap();
    let out = stdout_of(precis(dir.path()).args(["tokenize", "--model"]).arg(&model).arg("-").write_stdin(text));
    assert_eq!(String::from_utf8(out).unwrap(), format!("{}\n", serde_json::to_string(&expected).unwrap()));
}
