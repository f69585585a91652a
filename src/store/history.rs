//! The history of summaries: one SQLite file that remembers every finished summary (where the
//! article came from, the article itself and what was left out of it, the options, the result
//! with its bullets and source spans, timings, the article's language and the date), answers
//! repeated requests from the cache, and searches titles, article text and bullets with FTS5:
//! by words (accents ignored) for text written with spaces, and by any run of characters (the
//! trigram index) when the query has Chinese, Japanese, Korean or Thai in it, whose words are not
//! set apart by spaces. The schema is versioned with `PRAGMA user_version`, and an older file is
//! brought up to date when it is opened (its entries kept, their languages detected); a file that
//! is damaged, is not a database, or was written by a newer Precis is reported and left exactly
//! as it is.
//!
//! A caller looks a request up first (`History::cached` with the key `cache_key` gives it,
//! unless the person asked to summarize again) and records the finished summary under the same
//! key (`History::record`); `recall::summarize_remembered` is that rule, shared by the command
//! line and the window. `list`, `search`, `get`, `delete`, `clear` and `stats` serve a history
//! view. Every returned shape is `Serialize`.
//!
//! Durability: the file runs in WAL mode with `synchronous=FULL` and each entry is written in
//! one transaction, so a crash or a kill loses at most the entry being written. FULL (rather
//! than NORMAL) also keeps the last committed entries across a power cut; an entry is written
//! once per summary, which takes seconds, so the extra fsync costs nothing anyone notices.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::article::{Article, Kind};
use crate::error::{Error, Result};
use crate::language::{self, Language};
use crate::summary::{Length, SummarizeOptions, Summary, SummaryType};

/// Overrides where the history is kept (a file path).
pub const HISTORY_ENV: &str = "PRECIS_HISTORY";

/// The schema version this Precis writes; `MIGRATIONS[n]` takes a file from version n to n + 1.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

const MIGRATIONS: &[&str] = &[
    // 1: entries, their full-text index (kept in sync by triggers) and the cache lookup.
    "CREATE TABLE entries (
        id INTEGER PRIMARY KEY,
        created_ms INTEGER NOT NULL,
        source TEXT NOT NULL,
        cache_key TEXT NOT NULL,
        model TEXT NOT NULL,
        kind TEXT NOT NULL,
        length TEXT NOT NULL,
        article_kind TEXT NOT NULL,
        title TEXT,
        byline TEXT,
        site TEXT,
        published TEXT,
        text TEXT NOT NULL,
        summary TEXT NOT NULL,
        bullets TEXT NOT NULL,
        result TEXT NOT NULL,
        total_ms INTEGER NOT NULL
    );
    CREATE INDEX entries_by_cache_key ON entries (cache_key, id);
    CREATE VIRTUAL TABLE entries_fts USING fts5(
        title, text, summary, bullets,
        content = 'entries', content_rowid = 'id',
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
    END;",
    // 2: the article's language (detected for the entries already there, see `migrate`), and a
    // trigram index of the same columns, which finds any run of three or more characters: the
    // word index cannot find a word inside Chinese or Japanese text, which has no spaces. The
    // word index is kept in sync only when the indexed columns change.
    "ALTER TABLE entries ADD COLUMN language TEXT NOT NULL DEFAULT '';
    CREATE VIRTUAL TABLE entries_trigram USING fts5(
        title, text, summary, bullets,
        content = 'entries', content_rowid = 'id',
        tokenize = 'trigram remove_diacritics 1'
    );
    INSERT INTO entries_trigram (entries_trigram) VALUES ('rebuild');
    DROP TRIGGER entries_au;
    CREATE TRIGGER entries_au AFTER UPDATE OF title, text, summary, bullets ON entries BEGIN
        INSERT INTO entries_fts (entries_fts, rowid, title, text, summary, bullets)
        VALUES ('delete', old.id, old.title, old.text, old.summary, old.bullets);
        INSERT INTO entries_fts (rowid, title, text, summary, bullets)
        VALUES (new.id, new.title, new.text, new.summary, new.bullets);
        INSERT INTO entries_trigram (entries_trigram, rowid, title, text, summary, bullets)
        VALUES ('delete', old.id, old.title, old.text, old.summary, old.bullets);
        INSERT INTO entries_trigram (rowid, title, text, summary, bullets)
        VALUES (new.id, new.title, new.text, new.summary, new.bullets);
    END;
    CREATE TRIGGER entries_trigram_ai AFTER INSERT ON entries BEGIN
        INSERT INTO entries_trigram (rowid, title, text, summary, bullets)
        VALUES (new.id, new.title, new.text, new.summary, new.bullets);
    END;
    CREATE TRIGGER entries_trigram_ad AFTER DELETE ON entries BEGIN
        INSERT INTO entries_trigram (entries_trigram, rowid, title, text, summary, bullets)
        VALUES ('delete', old.id, old.title, old.text, old.summary, old.bullets);
    END;",
    // 3: what was left out of the article when it was read (`Article::notes`, a JSON array of
    // sentences; empty for entries written before).
    "ALTER TABLE entries ADD COLUMN notes TEXT NOT NULL DEFAULT '[]';",
];

/// The schema version that added the `language` column, whose old entries get theirs detected.
const LANGUAGE_VERSION: i64 = 2;

/// The first bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Files up to this size get an integrity check when they are opened.
const QUICK_CHECK_MAX_BYTES: u64 = 256 * 1024 * 1024;

/// Characters of the summary shown in a list item.
const PREVIEW_CHARS: usize = 160;

/// Marks a match inside a search snippet; never part of stored text.
const MARK_START: char = '\u{1}';
const MARK_END: char = '\u{2}';

/// The history file, open.
pub struct History {
    conn: Connection,
    path: PathBuf,
}

/// One entry as a list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ListItem {
    pub id: i64,
    /// When the summary was made, as RFC 3339 in UTC (`2026-11-27T05:40:12.345Z`).
    pub created_at: String,
    /// The file it came from, or what the caller named it ("pasted text").
    pub source: String,
    pub title: Option<String>,
    pub model: String,
    pub kind: SummaryType,
    pub length: Length,
    /// The start of the summary (or of the first key point when there is no summary).
    pub preview: String,
    pub bullet_count: usize,
    pub words: usize,
    pub total_ms: u64,
    /// The article's language (`unknown` when it could not be told).
    pub language: Language,
}

/// A search result: the entry and the best-matching passage.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    #[serde(flatten)]
    pub item: ListItem,
    /// A short passage around the matches.
    pub snippet: String,
    /// Byte ranges `[start, end)` of the matched words in `snippet`.
    pub highlights: Vec<[usize; 2]>,
}

/// One whole entry: the article and its summary, bullets and source spans.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub id: i64,
    pub created_at: String,
    pub source: String,
    pub kind: SummaryType,
    pub length: Length,
    pub cache_key: String,
    pub article: Article,
    /// The result, as `summarize` returned it; bullet spans point into `article.text`.
    pub summary: Summary,
}

/// What the history file holds.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub path: PathBuf,
    pub count: u64,
    /// Bytes on disk, the write-ahead log included.
    pub bytes: u64,
}

/// A summary to remember.
pub struct NewEntry<'a> {
    pub source: &'a str,
    pub article: &'a Article,
    pub options: &'a SummarizeOptions,
    pub cache_key: &'a str,
    pub summary: &'a Summary,
}

/// `$PRECIS_HISTORY`, else `history.sqlite3` in the platform data directory
/// (`~/.local/share/precis/history.sqlite3` on Linux).
pub fn default_path() -> PathBuf {
    if let Some(path) = std::env::var_os(HISTORY_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    dirs::data_dir().unwrap_or_else(|| PathBuf::from(".")).join("precis").join("history.sqlite3")
}

/// The cache key of a summary: a SHA-256 over everything that decides the result — the article
/// title and text, the model (its name, and the size and date of its file when there is one),
/// every summarize option and the Precis version (a
/// new version may summarize differently). Options are hashed through their `Debug` form so a
/// new option changes the key without anyone remembering to add it here.
pub fn cache_key(article: &Article, model_name: &str, model_file: Option<&Path>, options: &SummarizeOptions) -> String {
    let mut h = Sha256::new();
    let mut field = |name: &str, value: &[u8]| {
        h.update(name.as_bytes());
        h.update((value.len() as u64).to_le_bytes());
        h.update(value);
    };
    field("version", env!("CARGO_PKG_VERSION").as_bytes());
    field("title", article.title.as_deref().unwrap_or("").trim().as_bytes());
    field("text", article.text.trim().as_bytes());
    field("model", model_name.as_bytes());
    if let Some(meta) = model_file.and_then(|p| std::fs::metadata(p).ok()) {
        let modified = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
        field("model-file", format!("{} {modified}", meta.len()).as_bytes());
    }
    field("options", format!("{options:?}").as_bytes());
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Turns what a person typed into an FTS5 query that can never be a syntax error: each word
/// and each "quoted phrase" becomes a quoted string (all must match), so quotes, `AND`, `*`,
/// `-` or `:` are searched for as words, not read as operators. The last word also matches as
/// a prefix (unless a space follows it), for search as you type. `None` when there is nothing
/// to search for.
pub fn fts_query(input: &str) -> Option<String> {
    let mut terms: Vec<(String, bool)> = Vec::new();
    let mut rest = input;
    while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
        rest = &rest[start..];
        if let Some(after) = rest.strip_prefix('"') {
            let end = after.find('"').unwrap_or(after.len());
            terms.push((after[..end].to_string(), true));
            rest = after.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(|c: char| c.is_whitespace() || c == '"').unwrap_or(rest.len());
            terms.push((rest[..end].to_string(), false));
            rest = &rest[end..];
        }
    }
    terms.retain(|(t, _)| t.chars().any(char::is_alphanumeric));
    let last = terms.len().checked_sub(1)?;
    let ends_in_word = input.trim_end().ends_with(|c: char| c != '"') && input == input.trim_end();
    let parts: Vec<String> = terms
        .iter()
        .enumerate()
        .map(|(i, (t, phrase))| {
            let quoted = format!("\"{}\"", t.replace('"', "\"\""));
            if i == last && !phrase && ends_in_word {
                quoted + "*"
            } else {
                quoted
            }
        })
        .collect();
    Some(parts.join(" "))
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn to_text<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn from_text<T: serde::de::DeserializeOwned>(text: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).ok()
}

/// Columns of a list item, in the order `list_item` reads them.
const ITEM_COLUMNS: &str = "e.id, strftime('%Y-%m-%dT%H:%M:%fZ', e.created_ms / 1000.0, 'unixepoch'), e.source, \
     e.title, e.model, e.kind, e.length, e.summary, e.bullets, e.text, e.total_ms, e.language";
/// The column after `ITEM_COLUMNS`.
const AFTER_ITEM: usize = 12;

fn list_item(row: &rusqlite::Row<'_>) -> rusqlite::Result<ListItem> {
    let summary: String = row.get(7)?;
    let bullets: String = row.get(8)?;
    let text: String = row.get(9)?;
    let preview_from = if summary.trim().is_empty() { bullets.lines().next().unwrap_or("") } else { &summary };
    let mut preview: String = preview_from.chars().take(PREVIEW_CHARS).collect();
    if preview_from.chars().nth(PREVIEW_CHARS).is_some() {
        preview.push('…');
    }
    Ok(ListItem {
        id: row.get(0)?,
        created_at: row.get(1)?,
        source: row.get(2)?,
        title: row.get(3)?,
        model: row.get(4)?,
        kind: from_text(&row.get::<_, String>(5)?).unwrap_or_default(),
        length: from_text(&row.get::<_, String>(6)?).unwrap_or_default(),
        preview,
        bullet_count: bullets.lines().filter(|l| !l.is_empty()).count(),
        words: crate::article::count_words(&text),
        total_ms: row.get::<_, i64>(10)?.max(0) as u64,
        language: Language::parse(&row.get::<_, String>(11)?).unwrap_or_default(),
    })
}

impl History {
    /// Opens the history at `path`, creating it (and its folder) when there is none and
    /// bringing an older schema up to date. A file that is not an SQLite database, fails the
    /// integrity check or has a newer schema is refused with an error that says so, untouched.
    pub fn open(path: impl AsRef<Path>) -> Result<History> {
        let path = path.as_ref().to_path_buf();
        let corrupt = |reason: String| Error::HistoryCorrupt { path: path.clone(), reason };
        match std::fs::File::open(&path) {
            Ok(mut file) => {
                use std::io::Read;
                let mut head = Vec::with_capacity(16);
                (&mut file).take(16).read_to_end(&mut head).map_err(|e| Error::io(&path, e))?;
                if !head.is_empty() && head.as_slice() != SQLITE_MAGIC {
                    return Err(corrupt("it is not an SQLite database".into()));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
                }
            }
            Err(e) => return Err(Error::io(&path, e)),
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(|e| db_error(&path, e))?;
        let history = History { conn, path };
        history.prepare()?;
        Ok(history)
    }

    /// Checks the file before anything is written to it, then sets it up and migrates it.
    fn prepare(&self) -> Result<()> {
        let err = |e| db_error(&self.path, e);
        self.conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(err)?;
        // Read-only checks first: a file this version cannot handle must not be changed.
        let version: i64 = self.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(err)?;
        if version > SCHEMA_VERSION {
            return Err(Error::HistoryTooNew { path: self.path.clone(), version, supported: SCHEMA_VERSION });
        }
        // The integrity check reads every page (about 1.5 s per GB here); past a size no real
        // history reaches it is skipped, and damage still surfaces as `HistoryCorrupt` from the
        // query that meets it.
        let size = std::fs::metadata(&self.path).map_or(0, |m| m.len());
        if size <= QUICK_CHECK_MAX_BYTES {
            let check: String = self.conn.query_row("PRAGMA quick_check(1)", [], |r| r.get(0)).map_err(err)?;
            if check != "ok" {
                return Err(Error::HistoryCorrupt { path: self.path.clone(), reason: check });
            }
        }
        let mode: String = self.conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %self.path.display(), mode, "the history could not use write-ahead logging");
        }
        self.conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;").map_err(err)?;
        self.migrate(version)
    }

    /// Applies the missing migrations, all in one transaction with the new version number.
    fn migrate(&self, from: i64) -> Result<()> {
        if from == SCHEMA_VERSION {
            return Ok(());
        }
        let err = |e| db_error(&self.path, e);
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(err)?;
        let result = (|| {
            // Another process may have migrated while this one waited for the lock.
            let now: i64 = self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            for step in MIGRATIONS.iter().skip(now.max(0) as usize) {
                self.conn.execute_batch(step)?;
            }
            if now < LANGUAGE_VERSION {
                self.detect_languages()?;
            }
            self.conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
            self.conn.execute_batch("COMMIT")
        })();
        if let Err(e) = result {
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(err(e));
        }
        Ok(())
    }

    /// Detects the language of every entry that has none recorded (those written before
    /// Precis knew languages).
    fn detect_languages(&self) -> rusqlite::Result<()> {
        let mut read = self.conn.prepare("SELECT id, text FROM entries WHERE language = ''")?;
        let found: Vec<(i64, Language)> = read
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, language::detect(&r.get::<_, String>(1)?).language)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut write = self.conn.prepare("UPDATE entries SET language = ?1 WHERE id = ?2")?;
        for (id, language) in found {
            write.execute(params![language.code(), id])?;
        }
        Ok(())
    }

    /// The file this history lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64> {
        self.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| self.error(e))
    }

    fn error(&self, e: rusqlite::Error) -> Error {
        db_error(&self.path, e)
    }

    /// Remembers a finished summary in one transaction and returns its id.
    pub fn record(&mut self, entry: &NewEntry<'_>) -> Result<i64> {
        let article = entry.article;
        // The article text is stored once, in its own column; the result keeps the rest.
        let mut result = entry.summary.clone();
        result.text = String::new();
        let result = serde_json::to_string(&result)?;
        let bullets: Vec<&str> = entry.summary.bullets.iter().map(|b| b.text.as_str()).collect();
        let notes = serde_json::to_string(&article.notes)?;
        let tx = self.conn.transaction().map_err(|e| db_error(&self.path, e))?;
        tx.execute(
            "INSERT INTO entries (created_ms, source, cache_key, model, kind, length, article_kind, title, \
             byline, site, published, text, summary, bullets, result, total_ms, language, notes) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            params![
                now_ms(),
                entry.source,
                entry.cache_key,
                entry.summary.model,
                to_text(&entry.options.kind),
                to_text(&entry.options.length),
                to_text(&article.kind),
                article.title,
                article.byline,
                article.site,
                article.published,
                article.text,
                entry.summary.summary,
                bullets.join("\n"),
                result,
                entry.summary.timings.total_ms as i64,
                entry.summary.language.code(),
                notes,
            ],
        )
        .map_err(|e| db_error(&self.path, e))?;
        let id = tx.last_insert_rowid();
        tx.commit().map_err(|e| db_error(&self.path, e))?;
        Ok(id)
    }

    /// The newest entry made with this cache key, if any.
    pub fn cached(&self, cache_key: &str) -> Result<Option<Entry>> {
        let id: Option<i64> = self
            .conn
            .query_row("SELECT id FROM entries WHERE cache_key = ?1 ORDER BY id DESC LIMIT 1", [cache_key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.error(e))?;
        id.map(|id| self.get(id)).transpose()
    }

    /// Entries newest first: at most `limit`, older than entry `before` when given (for paging,
    /// pass the id of the last item of the previous page).
    pub fn list(&self, limit: usize, before: Option<i64>) -> Result<Vec<ListItem>> {
        let sql = format!("SELECT {ITEM_COLUMNS} FROM entries e WHERE e.id < ?1 ORDER BY e.id DESC LIMIT ?2");
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map(params![before.unwrap_or(i64::MAX), limit.min(i64::MAX as usize) as i64], list_item)
            .map_err(|e| self.error(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.error(e))
    }

    /// One entry as a list shows it.
    pub fn item(&self, id: i64) -> Result<ListItem> {
        self.list(1, id.checked_add(1))?.pop().filter(|item| item.id == id).ok_or(Error::HistoryEntryMissing { id })
    }

    /// Entries whose title, article text, summary or bullets match `query` (words and "quoted
    /// phrases", all of which must match, accents ignored), best match first.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        if query.chars().any(written_without_spaces) {
            return self.search_characters(query, limit);
        }
        let Some(fts) = fts_query(query) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT {ITEM_COLUMNS}, snippet(entries_fts, -1, ?2, ?3, '…', 16) FROM entries_fts \
             JOIN entries e ON e.id = entries_fts.rowid WHERE entries_fts MATCH ?1 \
             ORDER BY bm25(entries_fts, 10.0, 1.0, 4.0, 4.0), e.id DESC LIMIT ?4"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map(
                params![fts, MARK_START.to_string(), MARK_END.to_string(), limit.min(i64::MAX as usize) as i64],
                |row| {
                    let (snippet, highlights) = highlights(&row.get::<_, String>(AFTER_ITEM)?);
                    Ok(SearchHit { item: list_item(row)?, snippet, highlights })
                },
            )
            .map_err(|e| self.error(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.error(e))
    }

    /// `search` for a query with Chinese, Japanese, Korean, Thai or another script written without
    /// spaces in it: every term must occur as a run of characters (case and accents ignored) in
    /// the title, text, summary or bullets. Terms of three characters or more are found through
    /// the trigram index; shorter ones (most Chinese and Korean words are two characters) by a
    /// scan, which a history of thousands of entries takes in milliseconds. The snippet is the
    /// text around the first match.
    fn search_characters(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let terms: Vec<String> = query_terms(query).into_iter().map(|t| t.to_lowercase()).collect();
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let (long, short): (Vec<&String>, Vec<&String>) = terms.iter().partition(|t| t.chars().count() >= 3);
        let mut conditions = Vec::new();
        let mut values: Vec<String> = Vec::new();
        if !long.is_empty() {
            conditions.push("t.entries_trigram MATCH ?".to_string());
            values.push(long.iter().map(|t| format!("\"{}\"", t.replace('"', "\"\""))).collect::<Vec<_>>().join(" "));
        }
        for t in &short {
            conditions.push(
                "(instr(lower(e.title), ?1) OR instr(lower(e.text), ?1) OR instr(lower(e.summary), ?1) \
                 OR instr(lower(e.bullets), ?1))"
                    .replace("?1", &format!("?{}", values.len() + 1)),
            );
            values.push((*t).clone());
        }
        let conditions: Vec<String> = conditions
            .into_iter()
            .enumerate()
            .map(|(i, c)| if i == 0 && !long.is_empty() { c.replace('?', "?1") } else { c })
            .collect();
        let order =
            if long.is_empty() { "e.id DESC" } else { "bm25(t.entries_trigram, 10.0, 1.0, 4.0, 4.0), e.id DESC" };
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM entries_trigram t JOIN entries e ON e.id = t.rowid WHERE {} ORDER BY {order} LIMIT {}",
            conditions.join(" AND "),
            limit.min(i64::MAX as usize)
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(values.iter()), |row| {
                let item = list_item(row)?;
                let fields: Vec<String> = [3, 7, 8, 9]
                    .into_iter()
                    .map(|i| row.get::<_, Option<String>>(i).map(Option::unwrap_or_default))
                    .collect::<rusqlite::Result<_>>()?;
                let (snippet, highlights) = character_snippet(&fields, &terms);
                Ok(SearchHit { item, snippet, highlights })
            })
            .map_err(|e| self.error(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.error(e))
    }

    /// One whole entry.
    pub fn get(&self, id: i64) -> Result<Entry> {
        let row = self
            .conn
            .query_row(
                "SELECT id, strftime('%Y-%m-%dT%H:%M:%fZ', created_ms / 1000.0, 'unixepoch'), source, kind, length, \
                 cache_key, article_kind, title, byline, site, published, text, result, language, notes \
                 FROM entries WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        (r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?),
                        (r.get::<_, String>(3)?, r.get::<_, String>(4)?, r.get::<_, String>(5)?),
                        (r.get::<_, String>(6)?, r.get::<_, Option<String>>(7)?, r.get::<_, Option<String>>(8)?),
                        (r.get::<_, Option<String>>(9)?, r.get::<_, Option<String>>(10)?),
                        (r.get::<_, String>(11)?, r.get::<_, String>(12)?, r.get::<_, String>(13)?),
                        r.get::<_, String>(14)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.error(e))?
            .ok_or(Error::HistoryEntryMissing { id })?;
        let (
            (id, created_at, source),
            (kind, length, cache_key),
            (article_kind, title, byline),
            (site, published),
            (text, result, language),
            notes,
        ) = row;
        let mut summary: Summary = serde_json::from_str(&result).map_err(|e| Error::HistoryCorrupt {
            path: self.path.clone(),
            reason: format!("entry {id} cannot be read ({e})"),
        })?;
        summary.text = text.clone();
        if !summary.language.is_known() {
            // Entries from before languages were known have theirs in the column only.
            summary.language = Language::parse(&language).unwrap_or_default();
        }
        Ok(Entry {
            id,
            created_at,
            source,
            kind: from_text(&kind).unwrap_or_default(),
            length: from_text(&length).unwrap_or_default(),
            cache_key,
            article: Article {
                kind: from_text(&article_kind).unwrap_or(Kind::Text),
                title,
                byline,
                site,
                published,
                text,
                // Notes are what the window shows under the title; an entry stays readable
                // without them.
                notes: serde_json::from_str(&notes).unwrap_or_default(),
            },
            summary,
        })
    }

    /// Deletes one entry.
    pub fn delete(&mut self, id: i64) -> Result<()> {
        let n = self.conn.execute("DELETE FROM entries WHERE id = ?1", [id]).map_err(|e| self.error(e))?;
        if n == 0 {
            return Err(Error::HistoryEntryMissing { id });
        }
        Ok(())
    }

    /// Deletes every entry and gives the space back to the disk; returns how many there were.
    pub fn clear(&mut self) -> Result<u64> {
        let n = self.conn.execute("DELETE FROM entries", []).map_err(|e| self.error(e))?;
        self.conn
            .execute_batch(
                "INSERT INTO entries_fts (entries_fts) VALUES ('optimize'); VACUUM; PRAGMA wal_checkpoint(TRUNCATE);",
            )
            .map_err(|e| self.error(e))?;
        Ok(n as u64)
    }

    /// How many entries there are and how much space the file takes.
    pub fn stats(&self) -> Result<Stats> {
        let count: i64 =
            self.conn.query_row("SELECT count(*) FROM entries", [], |r| r.get(0)).map_err(|e| self.error(e))?;
        let mut bytes = 0;
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            bytes += std::fs::metadata(&p).map_or(0, |m| m.len());
        }
        Ok(Stats { path: self.path.clone(), count: count.max(0) as u64, bytes })
    }
}

/// Whether a character belongs to a script written without spaces between words (Chinese,
/// Japanese, Thai, Lao, Khmer, Burmese, ...) or, for Korean, with particles joined to its words:
/// a query with one is searched by characters.
fn written_without_spaces(c: char) -> bool {
    crate::language::unspaced(c).is_some()
}

/// The words and "quoted phrases" of a query, as `fts_query` reads them.
fn query_terms(input: &str) -> Vec<String> {
    let mut terms = Vec::new();
    let mut rest = input;
    while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
        rest = &rest[start..];
        if let Some(after) = rest.strip_prefix('"') {
            let end = after.find('"').unwrap_or(after.len());
            terms.push(after[..end].trim().to_string());
            rest = after.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(|c: char| c.is_whitespace() || c == '"').unwrap_or(rest.len());
            terms.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    terms.retain(|t| t.chars().any(char::is_alphanumeric));
    terms
}

/// Characters of context on each side of the first match in a character search's snippet.
const SNIPPET_CONTEXT_CHARS: usize = 40;

/// A snippet for a character search: the first of `fields` (title, summary, bullets, text) that
/// has a term, cut around its first match, with every match of a term in it as a highlight.
fn character_snippet(fields: &[String], terms: &[String]) -> (String, Vec<[usize; 2]>) {
    let order = [0, 1, 2, 3];
    for &f in &order {
        let Some(field) = fields.get(f) else { continue };
        let lower = field.to_lowercase();
        // Lower-casing may change byte lengths; look for matches only where it does not.
        if lower.len() != field.len() {
            continue;
        }
        let Some(first) = terms.iter().filter_map(|t| lower.find(t.as_str())).min() else { continue };
        let start = field[..first].char_indices().rev().nth(SNIPPET_CONTEXT_CHARS).map_or(0, |(i, _)| i);
        let end = field[first..].char_indices().nth(SNIPPET_CONTEXT_CHARS * 2).map_or(field.len(), |(i, _)| first + i);
        let mut snippet = String::new();
        if start > 0 {
            snippet.push('…');
        }
        let offset = snippet.len();
        snippet.push_str(&field[start..end]);
        let piece = &lower[start..end];
        let mut ranges: Vec<[usize; 2]> = Vec::new();
        for t in terms {
            for (i, _) in piece.match_indices(t.as_str()) {
                ranges.push([offset + i, offset + i + t.len()]);
            }
        }
        ranges.sort_unstable();
        if end < field.len() {
            snippet.push('…');
        }
        return (snippet.split('\n').collect::<Vec<_>>().join(" "), ranges);
    }
    (fields.get(1).cloned().unwrap_or_default().chars().take(SNIPPET_CONTEXT_CHARS * 2).collect(), Vec::new())
}

/// Takes the match markers out of a snippet and returns where they were.
fn highlights(marked: &str) -> (String, Vec<[usize; 2]>) {
    let mut out = String::with_capacity(marked.len());
    let mut ranges = Vec::new();
    let mut start = None;
    for c in marked.chars() {
        match c {
            MARK_START => start = Some(out.len()),
            MARK_END => {
                if let Some(s) = start.take() {
                    ranges.push([s, out.len()]);
                }
            }
            c => out.push(c),
        }
    }
    (out, ranges)
}

/// A database failure, named for the file; damage is told apart from other failures.
fn db_error(path: &Path, e: rusqlite::Error) -> Error {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            Error::HistoryCorrupt { path: path.to_path_buf(), reason: e.to_string() }
        }
        _ => Error::History { path: path.to_path_buf(), source: e },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_quoted_words_and_phrases() {
        assert_eq!(fts_query("night buses").as_deref(), Some("\"night\" \"buses\"*"));
        assert_eq!(fts_query("\"night bus\" council ").as_deref(), Some("\"night bus\" \"council\""));
        assert_eq!(fts_query("a\"b").as_deref(), Some("\"a\" \"b\""));
        assert_eq!(fts_query("NOT OR AND").as_deref(), Some("\"NOT\" \"OR\" \"AND\"*"));
        assert_eq!(fts_query("\"unclosed phrase").as_deref(), Some("\"unclosed phrase\""));
        assert_eq!(fts_query("  - * : ( ) \"\" "), None);
        assert_eq!(fts_query(""), None);
    }

    #[test]
    fn character_snippets_mark_every_match() {
        let fields = ["標題".to_string(), "图书馆将开放到午夜。".to_string(), String::new(), String::new()];
        let (snippet, ranges) = character_snippet(&fields, &["午夜".to_string(), "图书".to_string()]);
        assert_eq!(snippet, "图书馆将开放到午夜。");
        let marked: Vec<&str> = ranges.iter().map(|[a, b]| &snippet[*a..*b]).collect();
        assert_eq!(marked, ["图书", "午夜"]);
        assert_eq!(query_terms("图书馆 \"午 夜\" -"), ["图书馆", "午 夜"]);
    }

    #[test]
    fn snippet_markers_become_ranges() {
        let (text, ranges) = highlights("the \u{1}café\u{2} is \u{1}open\u{2}");
        assert_eq!(text, "the café is open");
        assert_eq!(ranges, vec![[4, 9], [13, 17]]);
    }
}
