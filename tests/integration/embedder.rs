//! The sentence embedder: mechanics on a tiny random BERT written here, the pipeline's use of it,
//! and (ignored by default; scripts/test fetches the model) the real all-MiniLM-L6-v2 against
//! reference values from an independent NumPy forward pass (scripts/minilm_reference.py).

use precis::llm::embed::{dot, Embedder};
use precis::llm::test_models::write_tiny_bert;
use precis::llm::CancelToken;
use precis::summary::{extract, Length, Ranker};

use crate::common::*;

#[test]
fn tiny_bert_embeddings_are_unit_vectors_independent_of_batching() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_bert(dir.path(), 7).unwrap();
    let e = Embedder::load(dir.path()).unwrap();
    assert_eq!(e.dim, 16);
    let texts = ["the council voted", "the bakery won a prize for bread on tuesday .", "the council voted"];
    let all = e.embed(&texts).unwrap();
    assert_eq!(all.len(), 3);
    for v in &all {
        assert_eq!(v.len(), 16);
        assert!((dot(v, v) - 1.0).abs() < 1e-5);
    }
    // Padding to the longer sentence must not change the shorter one's embedding.
    let alone = e.embed(&texts[..1]).unwrap();
    for (a, b) in alone[0].iter().zip(&all[0]) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
    assert_eq!(all[0], all[2]);
    assert!(dot(&all[0], &all[1]) < 0.999);
}

#[test]
fn pipeline_ranks_with_an_embedder_and_without() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_bert(dir.path(), 7).unwrap();
    let e = Embedder::load(dir.path()).unwrap();
    let text = ARTICLE.split_once("\n\n").unwrap().1;
    let opts = precis::summary::rank::RankOptions::default();
    let with = extract(text, Some(&e), 3, Length::Short, &opts, &CancelToken::new()).unwrap();
    assert_eq!(with.ranker, Ranker::Embedding);
    assert!(!with.chosen.is_empty());
    let without = extract(text, None, 3, Length::Short, &opts, &CancelToken::new()).unwrap();
    assert_eq!(without.ranker, Ranker::Lexical);
    assert!(!without.chosen.is_empty());
}

#[test]
fn a_missing_or_broken_embedder_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    assert!(Embedder::load(dir.path()).is_err());
    write_tiny_bert(dir.path(), 7).unwrap();
    std::fs::write(dir.path().join("model.safetensors"), b"junk").unwrap();
    assert!(Embedder::load(dir.path()).is_err());
}

/// Reference values: scripts/minilm_reference.py (NumPy, float32 weights, exact GELU) on this
/// sentence gave these first eight components and this component sum. Tolerance 1e-4 absolute
/// per component (the two implementations differ only in float summation order).
#[test]
#[ignore = "needs all-minilm-l6-v2 (scripts/test fetches it)"]
fn minilm_matches_the_reference_embedding() {
    let dir = real_models_dir().join("all-minilm-l6-v2");
    let e = Embedder::load(&dir).expect("run `precis models fetch all-minilm-l6-v2`");
    let v = &e.embed(&["The council approved the night bus plan on Tuesday."]).unwrap()[0];
    let reference = [0.002050f32, -0.008963, 0.042169, 0.034367, 0.005071, 0.005527, 0.012240, -0.031169];
    assert_eq!(v.len(), 384);
    for (i, (a, b)) in v.iter().zip(reference).enumerate() {
        assert!((a - b).abs() < 1e-4, "component {i}: {a} vs reference {b}");
    }
    let sum: f32 = v.iter().sum();
    assert!((sum - 0.443228).abs() < 1e-3, "sum {sum}");
    // Related sentences are closer than unrelated ones.
    let w = e.embed(&["Night buses were approved by the council.", "A bakery won a prize for its bread."]).unwrap();
    assert!(dot(v, &w[0]) > dot(v, &w[1]) + 0.2);
}
