//! The history through the `precis` command: the cache and `--again`, `precis history`, batches
//! with a broken file, a writer killed mid-write, and files it must refuse.

use std::io::BufRead;
use std::path::Path;
use std::process::Stdio;

use precis::llm::gguf::Architecture;
use precis::store::history::History;
use predicates::prelude::*;

use crate::common::*;

fn json_lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn a_repeated_summary_comes_from_the_history_unless_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.sqlite3");
    let model = tiny_model(dir.path(), Architecture::Qwen2);
    let article = write(dir.path(), "a.txt", ARTICLE);
    let run = |extra: &[&str]| -> serde_json::Value {
        let out = stdout_of(
            precis_with_history(dir.path(), &db)
                .args(["summarize", "--format", "json", "--max-tokens", "8", "--model"])
                .arg(&model)
                .arg(&article)
                .args(extra),
        );
        serde_json::from_slice(&out).unwrap()
    };
    let first = run(&[]);
    assert_eq!(first["cached"], false);
    assert_eq!(first["history_id"], 1);
    assert_eq!(first["source"], article.display().to_string());
    let second = run(&[]);
    assert_eq!(second["cached"], true, "{second}");
    assert_eq!(second["history_id"], 1);
    for key in ["summary", "bullets", "text", "title", "model"] {
        assert_eq!(first[key], second[key], "{key}");
    }
    let again = run(&["--again"]);
    assert_eq!(again["cached"], false);
    assert_eq!(again["history_id"], 2);
    // Other options are another summary.
    let short = run(&["--length", "short"]);
    assert_eq!(short["cached"], false);
    assert_eq!(short["history_id"], 3);
    // Markdown from the cache looks like the streamed one.
    precis_with_history(dir.path(), &db)
        .args(["summarize", "--max-tokens", "8", "--model"])
        .arg(&model)
        .arg(&article)
        .assert()
        .success()
        .stdout(predicate::str::starts_with("# City Council Approves Night Buses\n\n"));
    // --no-history neither reads nor writes.
    let out = stdout_of(
        precis_with_history(dir.path(), &db)
            .args(["--no-history", "summarize", "--format", "json", "--max-tokens", "8", "--model"])
            .arg(&model)
            .arg(&article),
    );
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["cached"], false);
    assert!(v["history_id"].is_null());
    assert_eq!(History::open(&db).unwrap().stats().unwrap().count, 3);
}

#[test]
fn history_commands_list_search_show_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.sqlite3");
    let a = write(dir.path(), "buses.txt", ARTICLE);
    let b = write(dir.path(), "cafe.md", "# Café Owners Protest Rent Rise\n\nOwners of the old café on Élysée Street protested on Monday against a rent rise of forty percent that the landlord announced last month for the building.\n\nThe café has served coffee since 1952, and its regulars signed a petition asking the city to step in.\n");
    let h = |args: &[&str]| {
        let mut cmd = precis(dir.path());
        cmd.arg("--history").arg(&db).args(args);
        cmd
    };
    h(&["summarize", "--extractive", "--format", "json"]).arg(&a).arg(&b).assert().success();
    let list = json_lines(&stdout_of(&mut h(&["history", "list", "--format", "json"])));
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["id"], 2, "newest first");
    assert_eq!(list[0]["title"], "Café Owners Protest Rent Rise");
    assert_eq!(list[1]["source"], a.display().to_string());
    h(&["history", "list"]).assert().success().stdout(
        predicate::str::contains("City Council Approves Night Buses").and(predicate::str::contains("extractive")),
    );
    h(&["history", "search", "cafe", "elysee"]).assert().success().stdout(
        predicate::str::contains("Café Owners")
            .and(predicate::str::contains("[Élysée]"))
            .and(predicate::str::contains("Night").not()),
    );
    let hits = json_lines(&stdout_of(&mut h(&["history", "search", "\"night bus\" OR", "--format", "json"])));
    assert!(hits.is_empty(), "OR is a word here, and no article has it: {hits:?}");
    let hits = json_lines(&stdout_of(&mut h(&["history", "search", "\"night bus network\"", "--format", "json"])));
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["id"], 1);
    assert!(hits[0]["snippet"].is_string() && hits[0]["highlights"].is_array(), "{}", hits[0]);
    let entry: serde_json::Value =
        serde_json::from_slice(&stdout_of(&mut h(&["history", "show", "1", "--format", "json"]))).unwrap();
    assert!(entry["article"]["text"].as_str().unwrap().contains("Maria Okafor"));
    assert!(!entry["summary"]["bullets"].as_array().unwrap().is_empty());
    h(&["history", "show", "1"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("# City Council Approves Night Buses"));
    h(&["history", "rm", "1"]).assert().success();
    h(&["history", "rm", "1"]).assert().failure().stderr(predicate::str::contains("there is no history entry 1"));
    h(&["history", "show", "1"]).assert().failure().stderr(predicate::str::contains("there is no history entry 1"));
    h(&["history", "clear"]).assert().code(2).stderr(predicate::str::contains("--yes"));
    assert_eq!(json_lines(&stdout_of(&mut h(&["history", "list", "--format", "json"]))).len(), 1);
    h(&["history", "clear", "--yes"]).assert().success().stderr(predicate::str::contains("deleted 1 entries"));
    assert!(stdout_of(&mut h(&["history", "list"])).is_empty());
    h(&["history", "info"]).assert().success().stdout(predicate::str::contains("0 entries"));
}

#[test]
fn a_batch_over_a_folder_skips_the_broken_file_and_fails_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("articles");
    std::fs::create_dir(&folder).unwrap();
    write(&folder, "1-buses.txt", ARTICLE);
    write(&folder, "2-broken.docx", b"PK\x03\x04 this is not really a Word document");
    write(&folder, "3-buses-again.md", ARTICLE.replace("Tuesday", "Wednesday"));
    write(&folder, ".hidden", "ignored");
    let db = dir.path().join("h.sqlite3");
    let out = precis_with_history(dir.path(), &db)
        .args(["summarize", "--extractive", "--format", "json"])
        .arg(&folder)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("2-broken.docx").and(predicate::str::contains("1 of 3 articles failed")))
        .get_output()
        .stdout
        .clone();
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0]["source"].as_str().unwrap().ends_with("1-buses.txt"));
    assert_eq!(lines[0]["title"], "City Council Approves Night Buses");
    assert!(lines[1]["source"].as_str().unwrap().ends_with("2-broken.docx"));
    assert_eq!(lines[1]["error"]["code"], "input");
    assert!(lines[1]["error"]["message"].as_str().unwrap().contains("damaged"), "{}", lines[1]);
    assert!(lines[2]["source"].as_str().unwrap().ends_with("3-buses-again.md"));
    assert!(!lines[2]["bullets"].as_array().unwrap().is_empty());
    assert_eq!(History::open(&db).unwrap().stats().unwrap().count, 2);
    // Several files as arguments, in Markdown: one section each.
    precis(dir.path())
        .args(["summarize", "--extractive"])
        .arg(folder.join("1-buses.txt"))
        .arg(folder.join("3-buses-again.md"))
        .assert()
        .success()
        .stdout(predicate::str::contains("==> ").count(2));
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    precis(dir.path())
        .args(["summarize", "--extractive"])
        .arg(&empty)
        .assert()
        .failure()
        .stderr(predicate::str::contains("the folder holds no files"));
}

#[test]
fn a_writer_killed_mid_write_leaves_every_committed_entry() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.sqlite3");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("precis"))
        .arg("--history")
        .arg(&db)
        .args(["history", "stress", "--paragraphs", "2000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut committed = Vec::new();
    while committed.len() < 25 {
        let line = lines.next().expect("the writer stopped early").unwrap();
        committed.push(line.parse::<i64>().unwrap());
    }
    child.kill().unwrap(); // SIGKILL: no destructors, no checkpoint
    child.wait().unwrap();
    // Ids printed before the kill landed were committed too.
    committed.extend(lines.map_while(|l| l.ok()?.parse::<i64>().ok()));
    let h = History::open(&db).unwrap();
    let count = h.stats().unwrap().count as usize;
    assert!(count >= committed.len() && count <= committed.len() + 1, "{count} entries, {} committed", committed.len());
    for id in &committed {
        let e = h.get(*id).unwrap();
        assert_eq!(e.article.title.as_deref(), Some(format!("Stress entry {}", id - 1).as_str()));
        assert_eq!(e.article.paragraphs().count(), 2000);
    }
    assert_eq!(h.search("\"stress entry\"", 1000).unwrap().len(), count);
}

fn assert_untouched(path: &Path, before: &[u8]) {
    assert_eq!(std::fs::read(path).unwrap(), before, "{} was changed", path.display());
}

#[test]
fn a_damaged_or_newer_history_is_reported_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let article = write(dir.path(), "a.txt", ARTICLE);
    let junk = write(dir.path(), "junk.sqlite3", "not a database ".repeat(500));
    let before = std::fs::read(&junk).unwrap();
    precis_with_history(dir.path(), &junk)
        .args(["history", "list"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("junk.sqlite3 is damaged").and(predicate::str::contains("left it untouched")));
    // A summary still works, says the history is not used, and leaves the file alone.
    precis_with_history(dir.path(), &junk)
        .args(["summarize", "--extractive"])
        .arg(&article)
        .assert()
        .success()
        .stderr(predicate::str::contains("warning").and(predicate::str::contains("not remembered")));
    assert_untouched(&junk, &before);

    let newer = dir.path().join("newer.sqlite3");
    rusqlite::Connection::open(&newer).unwrap().execute_batch("PRAGMA user_version = 7;").unwrap();
    let before = std::fs::read(&newer).unwrap();
    precis_with_history(dir.path(), &newer)
        .args(["history", "search", "anything"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("written by a newer Precis (schema version 7"));
    assert_untouched(&newer, &before);
}
