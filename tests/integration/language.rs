//! Articles in other languages than English: detection, key points split and grounded in each
//! language's own way, the `--language` option, the history's search in any script and its
//! migration, and (with the real default model, `#[ignore]`d) summaries written in the
//! article's language or the chosen one, checked by the detector.

use std::path::{Path, PathBuf};

use precis::article;
use precis::language::{self, Language, Verdict};
use precis::llm::CancelToken;
use precis::store::catalog::Catalog;
use precis::store::history::{self, History, NewEntry};
use precis::summary::{self, Models, OutputLanguage, SummarizeOptions, Summary};

use crate::common::*;

/// The parallel articles of `tests/data/lang/`: the same article in each language, by code.
const CODES: [&str; 9] = ["en", "de", "fr", "es", "pt", "ru", "zh", "ja", "ko"];

fn article_path(code: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/lang").join(format!("{code}.txt"))
}

fn extractive(code: &str, opts: &SummarizeOptions) -> Summary {
    let a = article::from_path(&article_path(code)).unwrap();
    summary::summarize(Models::extractive("extractive"), &a, opts, &CancelToken::new(), &mut |_| {}).unwrap()
}

/// Whether a key point is grounded: each cited span lies in the text, and a key point taken from
/// the article is exactly the bytes it cites.
fn assert_grounded(s: &Summary) {
    for b in &s.bullets {
        assert!(b.support >= 0.6 && !b.sources.is_empty(), "{b:?}");
        let cited: Vec<&str> = b.sources.iter().map(|x| x.of(&s.text)).collect();
        if b.support == 1.0 {
            assert_eq!(b.text, cited.join(" "), "{b:?}");
        }
    }
}

#[test]
fn every_article_is_detected_in_its_language() {
    for code in CODES {
        let a = article::from_path(&article_path(code)).unwrap();
        let d = language::detect(&a.text);
        assert_eq!(d.language.code(), code, "{code}: {d:?}");
        assert!(d.confidence >= 0.5, "{code}: {d:?}");
    }
}

#[test]
fn key_points_are_whole_sentences_of_the_article_in_every_language() {
    for code in CODES {
        let s = extractive(code, &SummarizeOptions::default());
        assert_eq!(s.language.code(), code);
        assert!((2..=5).contains(&s.bullets.len()), "{code}: {:?}", s.bullets);
        assert_grounded(&s);
        for b in &s.bullets {
            // Never cut mid-sentence: every point ends as a sentence does.
            assert!(b.text.ends_with(['.', '。', '!', '?', '！', '？']), "{code}: {b:?}");
        }
        // The word budget holds in every language: about as much text as the English points.
        let words: usize = s.bullets.iter().map(|b| language::words(&b.text, s.language)).sum();
        assert!((40..=110).contains(&words), "{code}: {words} words in {:?}", s.bullets);
    }
}

#[test]
fn a_chinese_article_gives_sentences_not_paragraphs() {
    let s = extractive("zh", &SummarizeOptions::default());
    // The article has three paragraphs of two or three sentences; the points are sentences.
    assert!(s.bullets.len() >= 3, "{:?}", s.bullets);
    assert!(s.bullets.iter().all(|b| b.text.matches('。').count() == 1), "{:?}", s.bullets);
}

/// A Thai article of six paragraphs, as Thai is written: no spaces between words, a space
/// between phrases and sentences, no full stops.
fn thai_article() -> String {
    let paragraph = "สภาเทศบาลลงมติเมื่อวันอังคารให้ขยายเครือข่ายรถประจำทางโดยเพิ่มเส้นทางใหม่สิบสองเส้นทาง\
และขยายเวลาให้บริการช่วงเย็นจนถึงเที่ยงคืน เจ้าหน้าที่กล่าวว่าแผนนี้จะมีค่าใช้จ่ายสี่ล้านดอลลาร์ต่อปีซึ่งจะจ่ายจากค่าที่จอดรถ \
ชาวบ้านต่างยินดีกับการตัดสินใจนี้ในการประชุมสาธารณะที่มีผู้คนหนาแน่นในใจกลางเมือง";
    format!("รถประจำทางกลางคืน\n\n{}\n", [paragraph; 6].join("\n\n"))
}

#[test]
fn a_thai_article_is_long_enough_and_split_at_its_spaces() {
    let a = article::from_bytes("th.txt", thai_article().as_bytes(), Some("txt")).unwrap();
    assert_eq!(a.title.as_deref(), Some("รถประจำทางกลางคืน"));
    assert_eq!(a.paragraphs().count(), 6);
    // 6 paragraphs of 257 letters, a word for every 5.
    assert_eq!(a.word_count(), 308);
    assert_eq!(language::words(&a.text, Language::parse("th").unwrap()), 308);
    let s = summary::summarize(
        Models::extractive("extractive"),
        &a,
        &SummarizeOptions::default(),
        &CancelToken::new(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(s.language.code(), "th");
    assert!(!s.bullets.is_empty());
    assert_grounded(&s);
    for b in &s.bullets {
        // Each key point is one or more of the phrases between spaces, never a whole paragraph.
        assert!(b.text.chars().count() < 200, "{b:?}");
    }
}

#[test]
fn an_extractive_tldr_in_another_language_than_chosen_is_reported() {
    let opts = SummarizeOptions {
        kind: summary::SummaryType::Tldr,
        language: OutputLanguage::Chosen(Language::ENGLISH),
        ..SummarizeOptions::default()
    };
    let s = extractive("de", &opts);
    assert_eq!((s.language.code(), s.output_language.code()), ("de", "en"));
    assert!(s.language_mismatch, "a German sentence is not an English summary");
    let s = extractive("de", &SummarizeOptions { language: OutputLanguage::Auto, ..opts });
    assert!(!s.language_mismatch);
}

#[test]
fn the_command_line_reports_the_language_and_refuses_an_unknown_one() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        stdout_of(precis(dir.path()).args(["summarize", "--extractive", "--format", "json"]).arg(article_path("ko")));
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["language"], "ko");
    assert_eq!(v["output_language"], "ko");
    assert_eq!(v["language_mismatch"], false);
    assert!(v["language_confidence"].as_f64().unwrap() > 0.5);
    let out = stdout_of(precis(dir.path()).args(["extract", "--format", "json"]).arg(article_path("ja")));
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["language"], "ja");
    precis(dir.path())
        .args(["summarize", "--extractive", "--language", "klingon"])
        .arg(article_path("de"))
        .assert()
        .failure()
        .stderr(predicates::str::contains("`klingon` is not a language Precis knows"));
}

fn remember(h: &mut History, code: &str) -> i64 {
    let opts = SummarizeOptions::default();
    let a = article::from_path(&article_path(code)).unwrap();
    let s = summary::summarize(Models::extractive("extractive"), &a, &opts, &CancelToken::new(), &mut |_| {}).unwrap();
    let key = history::cache_key(&a, "extractive", None, &opts);
    h.record(&NewEntry { source: code, article: &a, options: &opts, cache_key: &key, summary: &s }).unwrap()
}

#[test]
fn history_search_finds_words_in_any_script() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(dir.path().join("h.sqlite3")).unwrap();
    let ids: Vec<(&str, i64)> = CODES.iter().map(|&c| (c, remember(&mut h, c))).collect();
    let id = |code: &str| ids.iter().find(|(c, _)| *c == code).unwrap().1;
    let found = |q: &str| h.search(q, 20).unwrap().into_iter().map(|hit| hit.item.id).collect::<Vec<_>>();
    // Two-character words inside Chinese, Japanese and Korean text (no spaces around them).
    assert_eq!(found("午夜"), [id("zh")]);
    assert_eq!(found("閲覧室"), [id("ja")]);
    assert_eq!(found("열람실"), [id("ko")]);
    assert_eq!(found("도서관"), [id("ko")]);
    assert_eq!(found("图书馆 午夜"), [id("zh")]);
    assert!(found("图书馆 Okafor").is_empty());
    // Words of spaced languages as before; accents ignored.
    assert_eq!(found("Lesesaal"), [id("de")]);
    assert_eq!(found("bibliotheque"), [id("fr")]);
    let hit = &h.search("阅览室", 5).unwrap()[0];
    assert_eq!(hit.item.language.code(), "zh");
    let marked: Vec<&str> = hit.highlights.iter().map(|[a, b]| &hit.snippet[*a..*b]).collect();
    assert!(!marked.is_empty() && marked.iter().all(|m| *m == "阅览室"), "{hit:?}");
    // Every entry lists its language.
    let listed: Vec<String> = h.list(20, None).unwrap().iter().map(|i| i.language.code().to_string()).collect();
    assert_eq!(listed.len(), CODES.len());
    assert!(CODES.iter().all(|c| listed.iter().any(|l| l == c)));
}

/// The version 1 schema, as Precis wrote it before it knew languages.
const SCHEMA_V1: &str = "CREATE TABLE entries (
        id INTEGER PRIMARY KEY, created_ms INTEGER NOT NULL, source TEXT NOT NULL,
        cache_key TEXT NOT NULL, model TEXT NOT NULL, kind TEXT NOT NULL, length TEXT NOT NULL,
        article_kind TEXT NOT NULL, title TEXT, byline TEXT, site TEXT, published TEXT,
        text TEXT NOT NULL, summary TEXT NOT NULL, bullets TEXT NOT NULL, result TEXT NOT NULL,
        total_ms INTEGER NOT NULL
    );
    CREATE INDEX entries_by_cache_key ON entries (cache_key, id);
    CREATE VIRTUAL TABLE entries_fts USING fts5(
        title, text, summary, bullets, content = 'entries', content_rowid = 'id',
        tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER entries_ai AFTER INSERT ON entries BEGIN
        INSERT INTO entries_fts (rowid, title, text, summary, bullets)
        VALUES (new.id, new.title, new.text, new.summary, new.bullets);
    END;
    CREATE TRIGGER entries_ad AFTER DELETE ON entries BEGIN
        INSERT INTO entries_fts (entries_fts, rowid, title, text, summary, bullets)
        VALUES ('delete', old.id, old.title, old.text, old.summary, old.bullets);
    END;
    CREATE TRIGGER entries_au AFTER UPDATE ON entries BEGIN
        INSERT INTO entries_fts (entries_fts, rowid, title, text, summary, bullets)
        VALUES ('delete', old.id, old.title, old.text, old.summary, old.bullets);
        INSERT INTO entries_fts (rowid, title, text, summary, bullets)
        VALUES (new.id, new.title, new.text, new.summary, new.bullets);
    END;
    PRAGMA user_version = 1;";

#[test]
fn a_history_of_version_1_keeps_its_entries_and_learns_their_languages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite3");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(SCHEMA_V1).unwrap();
    for code in ["zh", "de"] {
        let a = article::from_path(&article_path(code)).unwrap();
        // What version 1 stored: a result without any language field.
        let mut result = serde_json::to_value(Summary::new("extractive", a.title.clone(), "")).unwrap();
        for field in ["language", "language_confidence", "output_language", "language_mismatch"] {
            result.as_object_mut().unwrap().remove(field);
        }
        conn.execute(
            "INSERT INTO entries (created_ms, source, cache_key, model, kind, length, article_kind, title, text, \
             summary, bullets, result, total_ms) VALUES (1, ?1, 'k', 'extractive', 'key-points', 'medium', 'text', \
             ?2, ?3, '', '', ?4, 5)",
            rusqlite::params![code, a.title, a.text, result.to_string()],
        )
        .unwrap();
    }
    drop(conn);
    let h = History::open(&path).unwrap();
    assert_eq!(h.schema_version().unwrap(), history::SCHEMA_VERSION);
    let items = h.list(10, None).unwrap();
    let langs: Vec<&str> = items.iter().map(|i| i.language.code()).collect();
    assert_eq!(langs, ["de", "zh"]);
    assert_eq!(h.get(items[1].id).unwrap().summary.language.code(), "zh");
    // Version 3's notes: none for entries written before.
    assert!(h.get(items[1].id).unwrap().article.notes.is_empty());
    // Both indexes hold the old entries: words as before, and characters inside Chinese text.
    assert_eq!(h.search("Lesesaal", 5).unwrap().len(), 1);
    assert_eq!(h.search("阅览", 5).unwrap().len(), 1);
    assert_eq!(h.search("图书馆", 5).unwrap().len(), 1);
}

/// A summary by the default model with `extra` options, as the `precis` command writes it.
fn summarize_with_default(article: &Path, extra: &[&str]) -> serde_json::Value {
    let models = real_models_dir();
    let catalog = Catalog::builtin();
    let model = &catalog.default_generator;
    assert!(
        catalog.entry(model).unwrap().is_present(&models),
        "{model} is not in {}; run `precis models fetch` (scripts/test does)",
        models.display()
    );
    let out = stdout_of(
        precis(&models)
            .args(["summarize", "--format", "json", "--length", "short", "--model", model])
            .args(extra)
            .arg(article),
    );
    serde_json::from_slice(&out).unwrap()
}

/// Checks a real summary: written in `expected` (by the detector, and by the summary's own
/// report), with every key point grounded.
fn assert_written_in(v: &serde_json::Value, expected: &str, article_language: &str) {
    let summary = v["summary"].as_str().unwrap();
    let want = Language::parse(expected).unwrap();
    let source = Language::parse(article_language).unwrap();
    assert_eq!(v["language"], article_language, "{v}");
    assert_eq!(v["output_language"], expected, "{v}");
    assert_eq!(v["language_mismatch"], false, "{v}");
    assert!(language::words(summary, want) >= 5, "{summary:?}");
    assert_ne!(language::judge(summary, want, source), Verdict::Differs(Language::ENGLISH), "{summary:?}");
    assert!(matches!(language::judge(summary, want, source), Verdict::Matches), "{summary:?}");
    let text = v["text"].as_str().unwrap();
    for b in v["bullets"].as_array().unwrap() {
        assert!(b["support"].as_f64().unwrap() >= 0.6, "{b}");
        let sources = b["sources"].as_array().unwrap();
        assert!(!sources.is_empty(), "{b}");
        for s in sources {
            assert!(s["end"].as_u64().unwrap() as usize <= text.len(), "{b}");
        }
    }
}

#[test]
#[ignore = "needs the default model (scripts/test fetches it)"]
fn default_model_writes_in_the_articles_language() {
    for code in ["de", "pt", "ru", "zh", "ja", "ko"] {
        let v = summarize_with_default(&article_path(code), &[]);
        assert_written_in(&v, code, code);
    }
}

#[test]
#[ignore = "needs the default model (scripts/test fetches it)"]
fn default_model_writes_in_the_chosen_language_and_translates_key_points() {
    let v = summarize_with_default(&article_path("de"), &["--language", "en", "--translate-points"]);
    assert_written_in(&v, "en", "de");
    let bullets = v["bullets"].as_array().unwrap();
    // The key points stay the article's German sentences; their translations are English.
    let text = v["text"].as_str().unwrap();
    let mut translated = 0;
    for b in bullets {
        let cited = &text
            [b["sources"][0]["start"].as_u64().unwrap() as usize..b["sources"][0]["end"].as_u64().unwrap() as usize];
        assert!(cited.starts_with(b["text"].as_str().unwrap().trim_end_matches('.')), "{b}");
        if let Some(t) = b.get("translation") {
            assert_eq!(t["language"], "en", "{b}");
            let t = t["text"].as_str().unwrap();
            assert_eq!(language::judge(t, Language::ENGLISH, Language::parse("de").unwrap()), Verdict::Matches, "{t}");
            translated += 1;
        }
    }
    assert!(translated * 2 >= bullets.len(), "most key points are translated: {v}");
    let v = summarize_with_default(&article_path("en"), &["--language", "es"]);
    assert_written_in(&v, "es", "en");
}
