//! The history database through the engine API: migrations, the cache key, full-text search,
//! deleting, and files it must refuse and leave alone.

use std::path::Path;

use precis::article::{self, Article};
use precis::llm::CancelToken;
use precis::store::history::{self, History, NewEntry};
use precis::summary::{self, Length, Models, SummarizeOptions, Summary};
use precis::Error;

use crate::common::*;

/// An extractive summary of `text` (no model needed) and the article it came from.
pub fn extractive(name: &str, text: &str, opts: &SummarizeOptions) -> (Article, Summary) {
    let article = article::from_bytes(name, text.as_bytes(), Some("md")).unwrap();
    let summary =
        summary::summarize(Models::extractive("extractive"), &article, opts, &CancelToken::new(), &mut |_| {}).unwrap();
    (article, summary)
}

fn remember(h: &mut History, source: &str, text: &str) -> i64 {
    let opts = SummarizeOptions::default();
    let (article, summary) = extractive(source, text, &opts);
    let key = history::cache_key(&article, "extractive", None, &opts);
    h.record(&NewEntry { source, article: &article, options: &opts, cache_key: &key, summary: &summary }).unwrap()
}

const CAFE: &str = "# Café Owners Protest Rent Rise\n\nOwners of the old café on Élysée Street in Riverton protested on Monday against a rent rise of forty percent that the landlord announced last month.\n\nThe café has served coffee and pastries since 1952, and its regulars signed a petition asking the city to step in before the new lease starts in June.\n\nThe landlord said the rise follows the market and that talks are still open.\n";

#[test]
fn an_empty_file_is_migrated_and_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/history.sqlite3");
    let h = History::open(&path).unwrap();
    assert_eq!(h.schema_version().unwrap(), history::SCHEMA_VERSION);
    assert_eq!(h.stats().unwrap().count, 0);
    let mode: String =
        rusqlite::Connection::open(&path).unwrap().query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    drop(h);
    // A zero-byte file (as `touch` leaves) is an empty database, not damage.
    let empty = dir.path().join("empty.sqlite3");
    std::fs::write(&empty, b"").unwrap();
    let mut h = History::open(&empty).unwrap();
    let id = remember(&mut h, "a.txt", ARTICLE);
    drop(h);
    let h = History::open(&empty).unwrap();
    assert_eq!(h.schema_version().unwrap(), history::SCHEMA_VERSION);
    assert_eq!(h.list(10, None).unwrap()[0].id, id);
}

#[test]
fn an_entry_keeps_the_article_options_and_spans() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(dir.path().join("h.sqlite3")).unwrap();
    let id = remember(&mut h, "pasted text", ARTICLE);
    let e = h.get(id).unwrap();
    assert_eq!(e.source, "pasted text");
    assert_eq!(e.article.title.as_deref(), Some("City Council Approves Night Buses"));
    assert_eq!(e.kind, summary::SummaryType::KeyPoints);
    assert_eq!(e.length, Length::Medium);
    assert_eq!(e.summary.text, e.article.text);
    assert!(!e.summary.bullets.is_empty());
    for b in &e.summary.bullets {
        assert!(!b.sources.is_empty());
        for s in &b.sources {
            assert!(e.article.text.get(s.start..s.end).is_some(), "{s:?}");
        }
    }
    assert!(e.created_at.ends_with('Z') && e.created_at.len() == 24, "{}", e.created_at);
    let v = serde_json::to_value(&e).unwrap();
    for key in ["id", "createdAt", "source", "kind", "length", "cacheKey", "article", "summary"] {
        assert!(v.get(key).is_some(), "{key} in {v}");
    }
    let item = &h.list(10, None).unwrap()[0];
    assert_eq!(item.bullet_count, e.summary.bullets.len());
    assert_eq!(item.title.as_deref(), Some("City Council Approves Night Buses"));
    let v = serde_json::to_value(item).unwrap();
    for key in
        ["id", "createdAt", "source", "title", "model", "kind", "length", "preview", "bulletCount", "words", "totalMs"]
    {
        assert!(v.get(key).is_some(), "{key} in {v}");
    }
}

#[test]
fn an_entry_keeps_what_was_left_out_of_its_article() {
    // As a PDF with unreadable pages is read: the article says what it left out, and the entry,
    // opened again from the history, says the same under its title.
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(dir.path().join("h.sqlite3")).unwrap();
    let opts = SummarizeOptions::default();
    let (mut article, summary) = extractive("report.pdf", ARTICLE, &opts);
    article.notes = vec!["Pages 3 and 7 could not be read and are left out.".into()];
    let key = history::cache_key(&article, "extractive", None, &opts);
    let id = h
        .record(&NewEntry {
            source: "report.pdf",
            article: &article,
            options: &opts,
            cache_key: &key,
            summary: &summary,
        })
        .unwrap();
    let plain = remember(&mut h, "a.txt", CAFE);
    drop(h);
    let h = History::open(dir.path().join("h.sqlite3")).unwrap();
    assert_eq!(h.get(id).unwrap().article.notes, article.notes);
    assert!(h.get(plain).unwrap().article.notes.is_empty());
    assert_eq!(h.cached(&key).unwrap().unwrap().article.notes, article.notes);
}

#[test]
fn the_cache_key_follows_text_model_and_options() {
    let opts = SummarizeOptions::default();
    let (article, _) = extractive("a.txt", ARTICLE, &opts);
    let key = |a: &Article, model: &str, o: &SummarizeOptions| history::cache_key(a, model, None, o);
    let base = key(&article, "m", &opts);
    assert_eq!(base.len(), 64);
    assert_eq!(base, key(&article, "m", &opts));
    let same_text = article::from_bytes("b.txt", ARTICLE.as_bytes(), Some("md")).unwrap();
    assert_eq!(base, key(&same_text, "m", &opts), "the file name is not part of the key");
    assert_ne!(base, key(&article, "other", &opts));
    assert_ne!(base, key(&article, "m", &SummarizeOptions { length: Length::Short, ..opts.clone() }));
    let mut fewer_tokens = opts.clone();
    fewer_tokens.generate.max_tokens += 1;
    assert_ne!(base, key(&article, "m", &fewer_tokens));
    let mut edited = article.clone();
    edited.text.push_str(" One more sentence.");
    assert_ne!(base, key(&edited, "m", &opts));
}

#[test]
fn a_cached_summary_is_found_by_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(dir.path().join("h.sqlite3")).unwrap();
    let opts = SummarizeOptions::default();
    let (article, summary) = extractive("a.txt", ARTICLE, &opts);
    let key = history::cache_key(&article, "extractive", None, &opts);
    assert!(h.cached(&key).unwrap().is_none());
    let first = h
        .record(&NewEntry { source: "a.txt", article: &article, options: &opts, cache_key: &key, summary: &summary })
        .unwrap();
    assert_eq!(h.cached(&key).unwrap().unwrap().id, first);
    // Summarizing again stores a new entry; the cache answers with the newest.
    let second = h
        .record(&NewEntry { source: "a.txt", article: &article, options: &opts, cache_key: &key, summary: &summary })
        .unwrap();
    let hit = h.cached(&key).unwrap().unwrap();
    assert_eq!(hit.id, second);
    assert_eq!(hit.summary.bullets, summary.bullets);
    assert_eq!(hit.summary.summary, summary.summary);
    assert!(h.cached(&"0".repeat(64)).unwrap().is_none());
}

#[test]
fn search_ignores_accents_and_keeps_phrases() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(dir.path().join("h.sqlite3")).unwrap();
    let buses = remember(&mut h, "buses.txt", ARTICLE);
    let cafe = remember(&mut h, "cafe.md", CAFE);
    let ids = |q: &str| h.search(q, 10).unwrap().iter().map(|x| x.item.id).collect::<Vec<_>>();
    assert_eq!(ids("cafe"), vec![cafe]);
    assert_eq!(ids("CAFÉ elysee"), vec![cafe]);
    assert_eq!(ids("Élysée"), vec![cafe]);
    assert_eq!(ids("night bus"), vec![buses], "the last word is a prefix");
    assert_eq!(ids("\"expand the night bus network\""), vec![buses]);
    assert_eq!(ids("\"night buse\""), Vec::<i64>::new(), "a phrase matches whole words");
    assert_eq!(ids("\"bus night\""), Vec::<i64>::new(), "a phrase keeps its order");
    assert_eq!(ids("\"cafe has served\" coffee"), vec![cafe]);
    let mut both = ids("Riverton");
    both.sort();
    assert_eq!(both, vec![buses, cafe]);
    // Quotes and operators are words to look for, never a syntax error.
    for q in [
        "\"",
        "\"\"",
        "NOT",
        "cafe AND",
        "OR OR",
        "title:cafe",
        "caf* ^",
        "(night",
        "-buses",
        "a\"b\"c",
        "NEAR(cafe rent)",
        "';DROP TABLE entries;--",
    ] {
        h.search(q, 10).unwrap_or_else(|e| panic!("{q}: {e}"));
    }
    assert_eq!(ids("title:cafe"), Vec::<i64>::new(), "`title:` is not a column filter");
    let hit = &h.search("petition", 10).unwrap()[0];
    assert_eq!(hit.item.id, cafe);
    let [s, e] = hit.highlights[0];
    assert_eq!(&hit.snippet[s..e], "petition");
    assert_eq!(h.search("", 10).unwrap().len(), 0);
}

#[test]
fn delete_and_clear() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(dir.path().join("h.sqlite3")).unwrap();
    let a = remember(&mut h, "a.txt", ARTICLE);
    let b = remember(&mut h, "b.md", CAFE);
    assert_eq!(h.list(10, None).unwrap().iter().map(|x| x.id).collect::<Vec<_>>(), vec![b, a]);
    assert_eq!(h.list(1, Some(b)).unwrap().iter().map(|x| x.id).collect::<Vec<_>>(), vec![a]);
    h.delete(b).unwrap();
    assert!(matches!(h.get(b), Err(Error::HistoryEntryMissing { id }) if id == b));
    assert!(matches!(h.delete(b), Err(Error::HistoryEntryMissing { .. })));
    assert!(h.search("petition", 10).unwrap().is_empty(), "the index forgets a deleted entry");
    assert_eq!(h.stats().unwrap().count, 1);
    for _ in 0..5 {
        remember(&mut h, "b.md", CAFE);
    }
    let before = h.stats().unwrap();
    assert_eq!(h.clear().unwrap(), 6);
    let after = h.stats().unwrap();
    assert_eq!(after.count, 0);
    assert!(after.bytes < before.bytes, "{before:?} -> {after:?}");
    assert!(h.search("riverton", 10).unwrap().is_empty());
    assert!(h.list(10, None).unwrap().is_empty());
}

fn assert_refused_untouched(path: &Path, check: impl Fn(&Error) -> bool) {
    let before = std::fs::read(path).unwrap();
    let err = History::open(path).err().expect("the file is refused");
    assert!(check(&err), "{err:?}");
    assert!(err.to_string().contains(&path.display().to_string()), "{err}");
    assert!(err.to_string().contains("untouched"), "{err}");
    assert_eq!(std::fs::read(path).unwrap(), before, "the file was changed");
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "history.sqlite3", "these are my notes, not a database\n".repeat(200));
    assert_refused_untouched(&path, |e| e.code() == "history_corrupt");
}

#[test]
fn a_damaged_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite3");
    let mut h = History::open(&path).unwrap();
    for _ in 0..20 {
        remember(&mut h, "a.txt", ARTICLE);
    }
    drop(h); // checkpoints the log into the file
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 4 * 4096, "{}", bytes.len());
    for b in &mut bytes[4096 + 8..4 * 4096] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    assert_refused_untouched(&path, |e| matches!(e, Error::HistoryCorrupt { .. }));
}

#[test]
fn a_newer_schema_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite3");
    let newer = history::SCHEMA_VERSION + 1;
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(&format!("CREATE TABLE future (x); PRAGMA user_version = {newer};")).unwrap();
    }
    assert_refused_untouched(&path, |e| {
        matches!(e, Error::HistoryTooNew { version, supported, .. } if *version == newer && *supported == history::SCHEMA_VERSION)
            && e.code() == "history_too_new"
    });
}
