//! Article intake: turns the bytes a person hands over (a file, standard input, dropped text)
//! into an `Article` — title and clean text with paragraph boundaries kept — or a specific error
//! saying what is wrong with the input and what to do. Each format has its own file: `html`
//! (saved web pages), `docx` (Word documents), `pdf` (the text layer and properties of PDFs) and
//! `markdown` (Markdown to plain text, for Markdown files and for the HTML extractor's output),
//! with `flat` for the whole text of a page too large for the HTML extractor; plain text is read
//! here, its bytes decoded by `encoding` (which also decodes web pages). PDFs are read in a worker
//! process with limits (`contained`). `web` fetches a page the person asked for and reads it the
//! same way.

use std::io::Read;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, InputProblem, Result};
use crate::language::{self, Unspaced};
pub(crate) use encoding::{decode_bom, decode_declared, decode_unlabelled};
use encoding::{decode_text, looks_binary};

pub mod contained;
pub mod controls;
pub mod docx;
mod elements;
mod encoding;
mod flat;
pub mod html;
mod inflate;
mod leftovers;
pub mod markdown;
mod mhtml;
pub mod nesting;
pub mod pdf;
pub mod web;

/// Inputs larger than this are refused before they are read.
pub const MAX_INPUT_BYTES: u64 = 50 * 1024 * 1024;
/// Texts with fewer words than this are too short to summarize.
pub const MIN_WORDS: usize = 25;

/// What kind of input the article came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Text,
    Markdown,
    Html,
    Docx,
    Pdf,
}

/// An article ready to summarize.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ts_rs::TS)]
pub struct Article {
    pub kind: Kind,
    pub title: Option<String>,
    pub byline: Option<String>,
    pub site: Option<String>,
    pub published: Option<String>,
    /// The clean text: paragraphs separated by one blank line, whitespace collapsed.
    pub text: String,
    /// What a reader should know about how the text was read, a sentence each (pages of a PDF
    /// left out, a page too large for the article finder read whole); the window shows them
    /// beside the article (also when it is opened again from the history), the command line as
    /// warnings.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// Words read per minute, for the reading-time estimate.
const WORDS_PER_MINUTE: usize = 230;

impl Article {
    /// Keeps `note` (if any) for the reader, and logs it as a warning naming the file.
    fn add_note(&mut self, name: &str, note: Option<String>) {
        if let Some(note) = note {
            tracing::warn!("{name}: {note}");
            self.notes.push(note);
        }
    }

    pub fn word_count(&self) -> usize {
        count_words(&self.text)
    }

    /// Minutes a person needs to read the text, at least one.
    pub fn reading_minutes(&self) -> usize {
        self.word_count().div_ceil(WORDS_PER_MINUTE).max(1)
    }

    /// The paragraphs of the text, in order.
    pub fn paragraphs(&self) -> impl Iterator<Item = &str> {
        self.text.split("\n\n").filter(|p| !p.trim().is_empty())
    }
}

/// Reads an article from a file. Only a regular file is read: a folder, a named pipe (FIFO), a
/// device or a socket is refused at once, and the file is opened without blocking (a FIFO with
/// no writer would otherwise wait forever). At most `MAX_INPUT_BYTES` + 1 bytes are read, whatever
/// the file's metadata says its size is.
pub fn from_path(path: &Path) -> Result<Article> {
    let name = path.display().to_string();
    let bytes = read_file(path, &name)?;
    from_bytes(&name, &bytes, path.extension().and_then(|e| e.to_str()))
}

/// The bytes of the regular file at `path`, at most `MAX_INPUT_BYTES`.
fn read_file(path: &Path, name: &str) -> Result<Vec<u8>> {
    let problem = |reason| Error::Input { name: name.to_string(), reason };
    let not_found = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => problem(InputProblem::NotFound),
        _ => Error::io(path, e),
    };
    // The kind is checked before opening (opening a socket fails, a FIFO may block) and again on
    // the opened file, which is what is read.
    check_kind(&std::fs::metadata(path).map_err(not_found)?).map_err(problem)?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = options.open(path).map_err(not_found)?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    check_kind(&meta).map_err(problem)?;
    if meta.len() > MAX_INPUT_BYTES {
        return Err(problem(InputProblem::TooLarge { size: meta.len(), limit: MAX_INPUT_BYTES }));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize + 1);
    file.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(problem(InputProblem::TooLarge { size: bytes.len() as u64, limit: MAX_INPUT_BYTES }));
    }
    Ok(bytes)
}

/// Refuses what is not a regular file, naming what it is.
fn check_kind(meta: &std::fs::Metadata) -> std::result::Result<(), InputProblem> {
    let kind = meta.file_type();
    if kind.is_file() {
        return Ok(());
    }
    let what = if kind.is_dir() {
        "a folder"
    } else {
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            if kind.is_fifo() {
                "a named pipe (FIFO)"
            } else if kind.is_socket() {
                "a socket"
            } else if kind.is_char_device() || kind.is_block_device() {
                "a device"
            } else {
                "not a regular file"
            }
        }
        #[cfg(not(unix))]
        "not a regular file"
    };
    Err(InputProblem::NotAFile { what })
}

/// Reads an article from a stream (standard input), with the same size limit.
pub fn from_reader(name: &str, reader: impl Read) -> Result<Article> {
    let mut bytes = Vec::new();
    reader.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes).map_err(|e| Error::io(name, e))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(Error::Input {
            name: name.to_string(),
            reason: InputProblem::TooLarge { size: bytes.len() as u64, limit: MAX_INPUT_BYTES },
        });
    }
    from_bytes(name, &bytes, None)
}

/// Builds an article from raw bytes; `extension` is the file name's extension, if any.
pub fn from_bytes(name: &str, bytes: &[u8], extension: Option<&str>) -> Result<Article> {
    let problem = |reason| Error::Input { name: name.to_string(), reason };
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(problem(InputProblem::TooLarge { size: bytes.len() as u64, limit: MAX_INPUT_BYTES }));
    }
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(problem(InputProblem::Empty));
    }
    let ext = extension.map(str::to_ascii_lowercase);
    let markdown_ext = matches!(ext.as_deref(), Some("md" | "markdown" | "mdown" | "mkd"));
    let text_ext = markdown_ext || matches!(ext.as_deref(), Some("txt" | "text"));
    // A PDF's header may stand anywhere in its first kilobyte (`pdf::sniff`), so a text that
    // only mentions one there ("every PDF begins with %PDF-1.7") looks like a PDF too. A file
    // named as text is a PDF only when the header opens it; any other is read as a PDF, and as
    // text if that fails and the header did not open it.
    let header_first = bytes.starts_with(b"%PDF-");
    if ext.as_deref() == Some("pdf") || header_first || !text_ext && pdf::sniff(bytes) {
        match contained::read_pdf(bytes) {
            Ok(found) => {
                let mut article =
                    finish(name, Kind::Pdf, found.title, found.byline, None, found.published, &found.text)?;
                let note = match found.skipped_pages {
                    0 => None,
                    1 => Some(format!(
                        "1 of its {} pages could not be read (it is damaged) and was left out.",
                        found.total_pages
                    )),
                    n => Some(format!(
                        "{n} of its {} pages could not be read (they are damaged) and were left out.",
                        found.total_pages
                    )),
                };
                article.add_note(name, note);
                return Ok(article);
            }
            Err(_) if ext.as_deref() != Some("pdf") && !header_first && decode_text(bytes).is_some() => {}
            Err(e) => return Err(problem(e)),
        }
    }
    // Office files that are not Word documents (a renamed spreadsheet, one saved with a password)
    // go to the Word reader too, which says what they are.
    let office = matches!(ext.as_deref(), Some("docx" | "doc" | "odt" | "xlsx" | "pptx" | "ods" | "odp"));
    if docx::sniff(bytes) || docx::sniff_compound(bytes) || office {
        let found = docx::extract(bytes).map_err(problem)?;
        return finish(name, Kind::Docx, found.title, found.byline, None, found.published, &found.text);
    }
    if mhtml::sniff(bytes) || matches!(ext.as_deref(), Some("mht" | "mhtml")) {
        // The page inside, read as a saved page is; an archive without one has no article.
        let page = mhtml::page(bytes).ok_or_else(|| problem(InputProblem::NoArticle))?;
        return from_html(name, page.as_bytes());
    }
    if html::sniff(bytes) || matches!(ext.as_deref(), Some("html" | "htm" | "xhtml" | "shtml")) {
        return from_html(name, bytes);
    }
    let raw = decode_text(bytes).ok_or_else(|| problem(InputProblem::Binary))?;
    // A byte-order mark alone, or one followed by white space, is as empty as no bytes at all.
    if raw.chars().all(|c| c.is_whitespace() || c == '\u{feff}') {
        return Err(problem(InputProblem::Empty));
    }
    // A legacy encoding can take up to three bytes of UTF-8 for each byte of the file.
    check_text_size(&raw).map_err(problem)?;
    let (matter, after_matter) = markdown::front_matter(&raw);
    let markdown = markdown_ext || raw.trim_start().starts_with("# ") || matter.is_some();
    let kind = if markdown { Kind::Markdown } else { Kind::Text };
    let matter = matter.filter(|_| markdown).unwrap_or_default();
    let (title, body) = if markdown {
        let plain = markdown::to_plain(after_matter);
        let text = normalize(&plain.text);
        match (plain.first_h1, &matter.title) {
            (Some(h1), _) => {
                let first = text.split("\n\n").next().unwrap_or("");
                let body = if first == h1 { text[first.len()..].trim_start().to_string() } else { text };
                (Some(h1), body)
            }
            (None, Some(title)) => (Some(normalize(title)), text),
            (None, None) => split_title(&text, false),
        }
    } else {
        split_title(&normalize(&raw), false)
    };
    let words = count_words(&body);
    if words < MIN_WORDS {
        return Err(problem(InputProblem::TooShort { words, min: MIN_WORDS }));
    }
    Ok(Article {
        kind,
        title: title.map(cap_title),
        byline: matter.author.map(controls::strip_owned),
        site: None,
        published: matter.date.map(controls::strip_owned),
        text: body,
        notes: Vec::new(),
    })
}

/// Builds an article from an HTML page.
fn from_html(name: &str, bytes: &[u8]) -> Result<Article> {
    let problem = |reason| Error::Input { name: name.to_string(), reason };
    let page = html::decode(bytes);
    if looks_binary(&page) {
        return Err(problem(InputProblem::Binary));
    }
    let found = html::extract(&page).map_err(problem)?;
    let mut article = finish(name, Kind::Html, found.title, found.byline, found.site, found.published, &found.text)?;
    let note = found.whole_page.then(|| {
        format!(
            "The page is too large for the article finder (over {} MB or {} elements), so all of its text was \
             read, menus and footers included.",
            html::MAX_TREE_BYTES >> 20,
            html::MAX_TREE_ELEMENTS
        )
    });
    article.add_note(name, note);
    Ok(article)
}

/// Normalizes an extracted text and checks that there is enough of it to summarize.
fn finish(
    name: &str,
    kind: Kind,
    title: Option<String>,
    byline: Option<String>,
    site: Option<String>,
    published: Option<String>,
    text: &str,
) -> Result<Article> {
    let problem = |reason| Error::Input { name: name.to_string(), reason };
    check_text_size(text).map_err(problem)?;
    let text = normalize(text);
    let words = count_words(&text);
    if words == 0 {
        // Only a web page has an article to miss among other text.
        return Err(problem(match kind {
            Kind::Docx => InputProblem::NoText { format: "Word (DOCX)" },
            Kind::Pdf => InputProblem::NoTextLayer,
            _ => InputProblem::NoArticle,
        }));
    }
    if words < MIN_WORDS {
        return Err(problem(InputProblem::TooShort { words, min: MIN_WORDS }));
    }
    Ok(Article {
        kind,
        title: title.map(cap_title),
        byline: byline.map(controls::strip_owned),
        site: site.map(controls::strip_owned),
        published: published.map(controls::strip_owned),
        text,
        notes: Vec::new(),
    })
}

/// Most characters of a title. Headlines run to about a hundred; a document's properties or a
/// page's `<title>` can hold anything (a Word file's core properties held a 190 MB title), which
/// would be printed whole and put in the model's prompt.
pub const MAX_TITLE_CHARS: usize = 300;

/// A title of at most `MAX_TITLE_CHARS` characters: a longer one is cut at the last space within
/// the limit (or at the limit, when a word runs past half of it) and ends with an ellipsis.
pub fn cap_title(title: String) -> String {
    let title = controls::strip_owned(title);
    let Some((cut, _)) = title.char_indices().nth(MAX_TITLE_CHARS - 1) else { return title };
    if cut + title[cut..].chars().next().map_or(0, char::len_utf8) == title.len() {
        return title;
    }
    let head = &title[..cut];
    let head = match head.rfind(char::is_whitespace) {
        Some(space) if head[..space].chars().count() >= MAX_TITLE_CHARS / 2 => &head[..space],
        _ => head,
    };
    format!("{}…", head.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '-')))
}

/// Refuses a text longer than `MAX_INPUT_BYTES`: the text that comes out of any format is held
/// to the same limit as the file it came from.
pub(crate) fn check_text_size(text: &str) -> std::result::Result<(), InputProblem> {
    if text.len() as u64 > MAX_INPUT_BYTES {
        return Err(InputProblem::TextTooLarge { size: text.len() as u64, limit: MAX_INPUT_BYTES });
    }
    Ok(())
}

/// Counts words: runs of text between spaces, except in scripts that put no spaces between
/// words. There each Chinese or Japanese character and each Korean syllable counts as a word of
/// its own, and the letters of Thai, Lao, Khmer, Burmese, Tibetan and the other such alphabets
/// count a word for every `language::LETTERS_PER_WORD` of them.
pub fn count_words(text: &str) -> usize {
    let (mut words, mut letters) = (0, 0);
    for token in text.split_whitespace() {
        let (mut characters, mut spaceless_letters, mut rest) = (0, 0, false);
        for c in token.chars() {
            match language::unspaced(c) {
                Some(Unspaced::Character) => characters += 1,
                Some(Unspaced::Letter) => spaceless_letters += usize::from(c.is_alphanumeric()),
                None => rest |= c.is_alphanumeric(),
            }
        }
        // A run of punctuation alone ("—") still counts as a word, as white space set it apart.
        words += characters + usize::from(rest || characters == 0 && spaceless_letters == 0);
        letters += spaceless_letters;
    }
    words + (letters + language::LETTERS_PER_WORD / 2) / language::LETTERS_PER_WORD
}

/// What a dropped or pasted text turned out to be.
#[derive(Debug, Clone)]
pub enum Dropped {
    /// Ordinary text: the article itself.
    Article(Article),
    /// A list of `file://` URIs: the files to read.
    Files(Vec<std::path::PathBuf>),
}

/// Takes dropped or pasted text: a `file://` URI list becomes files to read (a URI naming another
/// machine is refused), an `http(s)` link is refused with advice (`Error::Link`: Precis fetches a
/// page only when the person asks, through `web::fetch`), anything else is the article.
pub fn from_dropped_text(text: &str) -> Result<Dropped> {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    if !lines.is_empty() && lines.iter().all(|l| l.starts_with("file://")) {
        return lines.iter().map(|l| file_uri_path(l)).collect::<Result<_>>().map(Dropped::Files);
    }
    if let Some(url) = web::link_in(text) {
        return Err(Error::Link { url: url.to_string() });
    }
    from_bytes("dropped text", text.as_bytes(), None).map(Dropped::Article)
}

/// The local path of a `file://` URI, with percent-escapes decoded. Only an empty host or
/// `localhost` names this machine; a URI with any other host is refused.
fn file_uri_path(uri: &str) -> Result<std::path::PathBuf> {
    let rest = &uri["file://".len()..];
    let host_end = rest.find('/').unwrap_or(rest.len());
    let host = &rest[..host_end];
    if !host.is_empty() && !host.eq_ignore_ascii_case("localhost") {
        return Err(Error::Input {
            name: uri.to_string(),
            reason: InputProblem::OtherMachine { host: host.to_string() },
        });
    }
    let bytes = &rest.as_bytes()[host_end..];
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(hi * 16 + lo);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    Ok(std::path::PathBuf::from(String::from_utf8_lossy(&out).into_owned()))
}

/// Normalizes line endings and whitespace: one space between words, one blank line between
/// paragraphs, no trailing spaces; terminal escape sequences and other control characters go
/// (`controls`); characters are otherwise kept exactly.
pub fn normalize(raw: &str) -> String {
    let unix = controls::strip(raw).replace("\r\n", "\n").replace('\r', "\n");
    let mut paragraphs: Vec<String> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    for line in unix.lines() {
        let collapsed = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if collapsed.is_empty() {
            if !current.is_empty() {
                paragraphs.push(current.join("\n"));
                current.clear();
            }
        } else {
            current.push(collapsed);
        }
    }
    if !current.is_empty() {
        paragraphs.push(current.join("\n"));
    }
    paragraphs.join("\n\n")
}

/// Chinese, Japanese or Korean characters that count as one word of a title's length.
const CHARACTERS_PER_TITLE_WORD: usize = 3;
/// Marks that end a sentence, and never a title, in scripts other than Latin: the full stops,
/// question and exclamation marks and commas of Chinese and Japanese (full width and half
/// width), the Devanagari danda, the Arabic and Urdu full stop and question mark, the Ethiopic,
/// Armenian, Burmese, Khmer and Tibetan full stops.
const SENTENCE_ENDS: [char; 19] =
    ['。', '！', '？', '：', '；', '，', '、', '｡', '।', '॥', '۔', '؟', '።', '։', '။', '។', '།', '؛', '،'];

/// Takes a title off the top: a Markdown `# ` heading, or a short first line without a
/// sentence end that stands alone as a paragraph.
fn split_title(text: &str, markdown: bool) -> (Option<String>, String) {
    let (first, rest) = match text.split_once("\n\n") {
        Some((f, r)) => (f, r),
        None => match text.split_once('\n') {
            Some((f, r)) => (f, r),
            None => return (None, text.to_string()),
        },
    };
    if first.contains('\n') {
        return (None, text.to_string());
    }
    if markdown {
        if let Some(h) = first.strip_prefix("# ") {
            return (Some(h.trim().to_string()), rest.to_string());
        }
    }
    // Thai and the other alphabets without spaces end a sentence with no punctuation and put no
    // space inside it: their letters are counted by the word, or a lead sentence would pass for
    // a title. Chinese and Japanese characters count a word for every three: a headline in them
    // is one white-space word of 10 to 30 characters, a lead paragraph one of 50 or more.
    let spaceless_letters =
        first.chars().filter(|&c| language::unspaced(c) == Some(Unspaced::Letter) && c.is_alphanumeric()).count();
    let characters = first.chars().filter(|&c| language::unspaced(c) == Some(Unspaced::Character)).count();
    let words = first.split_whitespace().count()
        + spaceless_letters / language::LETTERS_PER_WORD
        + characters / CHARACTERS_PER_TITLE_WORD;
    // A sentence's end in any script (a Chinese or Japanese full stop, a danda, ...) is no title's.
    let ends_sentence = first.ends_with(['.', '!', '?', ':', ';', ','])
        || first.trim_end_matches(['」', '』', '）', '”', '’', '"']).ends_with(SENTENCE_ENDS);
    if words <= 16 && !ends_sentence && !rest.trim().is_empty() {
        return (Some(first.trim_start_matches("# ").to_string()), rest.to_string());
    }
    (None, text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "The city council voted on Tuesday to expand the bus network, adding twelve routes \
and extending evening service until midnight. Officials said the plan would cost four million dollars.";

    #[test]
    fn plain_text_with_a_title_line() {
        let a = from_bytes("a.txt", format!("City expands buses\r\n\r\n{BODY}\r\n").as_bytes(), Some("txt")).unwrap();
        assert_eq!(a.title.as_deref(), Some("City expands buses"));
        assert_eq!(a.text, BODY);
        assert_eq!(a.kind, Kind::Text);
    }

    #[test]
    fn a_lead_paragraph_in_chinese_or_japanese_is_no_title() {
        let lead = "市議会は火曜日、バス路線網を拡大することを決定し、十二の新しい路線を追加して夜間の運行を深夜まで延長した。\
当局によると、この計画には年間四百万ドルの費用がかかり、駐車料金で賄われるという。";
        let second = "住民は市の中心部で開かれた集会でこの決定を歓迎した。市長は来月から運行を始めると述べた。";
        for (name, ext) in [("a.txt", Some("txt")), ("a.md", Some("md"))] {
            let a = from_bytes(name, format!("{lead}\n\n{second}\n").as_bytes(), ext).unwrap();
            assert_eq!(a.title, None, "{name}");
            assert!(a.text.starts_with(lead), "{name}");
            // A headline stays the title, without a full stop or with a question mark it has not.
            let a = from_bytes(name, format!("市議会、夜間バスを深夜まで延長\n\n{lead}\n\n{second}").as_bytes(), ext)
                .unwrap();
            assert_eq!(a.title.as_deref(), Some("市議会、夜間バスを深夜まで延長"), "{name}");
        }
        let zh = "市政府周一宣布旧渡轮码头将改建为潮汐发电站预计每年可为三千户家庭供电这项工程耗资六百万欧元部分资金由州政府承担";
        let a = from_bytes("z.txt", format!("{zh}\n\n{zh}。").as_bytes(), Some("txt")).unwrap();
        assert_eq!(a.title, None, "56 characters are a paragraph, with or without a full stop");
    }

    #[test]
    fn markdown_heading_is_the_title() {
        let a = from_bytes("a.md", format!("# Buses\n\n{BODY}").as_bytes(), Some("md")).unwrap();
        assert_eq!(a.title.as_deref(), Some("Buses"));
        assert_eq!(a.kind, Kind::Markdown);
    }

    #[test]
    fn markdown_front_matter_gives_the_title_author_and_date_and_is_no_article_text() {
        let post =
            format!("---\nlayout: post\ntitle: \"Night buses\"\nauthor: Jane Roe\ndate: 2024-03-05\n---\n\n{BODY}\n");
        for (name, ext) in [("post.md", Some("md")), ("-", None)] {
            let a = from_bytes(name, post.as_bytes(), ext).unwrap();
            assert_eq!(a.kind, Kind::Markdown);
            assert_eq!(a.title.as_deref(), Some("Night buses"));
            assert_eq!(a.byline.as_deref(), Some("Jane Roe"));
            assert_eq!(a.published.as_deref(), Some("2024-03-05"));
            assert_eq!(a.text, BODY);
        }
        // A heading names the article before the front matter does.
        let headed = format!("---\ntitle: Slug title\n---\n# Buses\n\n{BODY}");
        assert_eq!(from_bytes("a.md", headed.as_bytes(), Some("md")).unwrap().title.as_deref(), Some("Buses"));
        // Front matter alone is not an article.
        let keys: String = (0..2000).map(|i| format!("key{i}: value number {i} of many\n")).collect();
        let only = format!("---\n{keys}---\nShort.\n");
        let err = from_bytes("a.md", only.as_bytes(), Some("md")).unwrap_err();
        assert!(matches!(err, Error::Input { reason: InputProblem::TooShort { .. }, .. }), "{err:?}");
    }

    #[test]
    fn saved_html_page_gives_the_article_and_its_metadata() {
        let page = format!(
            r#"<!DOCTYPE html><html><head><meta charset="windows-1252"><title>Night buses | Riverton Post</title>
<meta property="og:title" content="Night buses">
<meta property="og:site_name" content="Riverton Post">
<meta name="author" content="Ana Lima">
<meta property="article:published_time" content="2024-03-05T08:00:00Z">
<style>body {{ color: red }} .x > p {{ margin: 0 }}</style>
<script>document.write("<p>injected</p>"); fetch("https://example.com/track");</script></head>
<body><nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav>
<article><h1>Night buses</h1><p>{BODY}</p><p>Caf&eacute; owners <a href="/x">welcomed</a> the <b>plan</b>, saying that late workers had long asked for it and that the buses would bring more customers downtown.</p>
<p>Zoë Brandt, who runs a bakery on Main Street, said she would now stay open later on Fridays.</p></article>
<footer>Copyright 2024 Riverton Post. All rights reserved.</footer></body></html>"#
        );
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&page);
        assert!(bytes.contains(&0xEB), "the page is really in Windows-1252");
        let a = from_bytes("page.html", &bytes, Some("html")).unwrap();
        assert_eq!(a.kind, Kind::Html);
        assert_eq!(a.title.as_deref(), Some("Night buses"));
        assert_eq!(a.byline.as_deref(), Some("Ana Lima"));
        assert_eq!(a.site.as_deref(), Some("Riverton Post"));
        assert_eq!(a.published.as_deref(), Some("2024-03-05"));
        assert!(a.text.starts_with("The city council voted"), "{}", a.text);
        assert!(a.text.contains("\n\nCafé owners welcomed the plan, saying"), "{}", a.text);
        assert!(a.text.contains("\n\nZoë Brandt"), "{}", a.text);
        for junk in ["injected", "color", "Sport", "Copyright", "track"] {
            assert!(!a.text.contains(junk), "{junk} in {}", a.text);
        }
    }

    #[test]
    fn deeply_nested_html_is_refused_before_parsing() {
        let page = format!("<html><body>{}{BODY}</body></html>", "<div>".repeat(100_000));
        match from_bytes("deep.html", page.as_bytes(), None).unwrap_err() {
            Error::Input { reason: InputProblem::TooDeep { depth, .. }, .. } => assert!(depth >= 100_000),
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn markdown_loses_its_markup_and_keeps_its_structure() {
        let md = format!(
            "Intro line before the title.\n\n# Night *buses*\n\n{BODY} See [the plan](https://example.com/plan) ![map](map.png).\n\n\
             ## Costs\n\n* Four **million** a year\n* Paid by `parking` fees\n\n```sh\nprecis summarize plan.md\n```\n"
        );
        let a = from_bytes("a.md", md.as_bytes(), Some("md")).unwrap();
        assert_eq!(a.kind, Kind::Markdown);
        assert_eq!(a.title.as_deref(), Some("Night buses"));
        assert_eq!(
            a.paragraphs().collect::<Vec<_>>(),
            [
                "Intro line before the title.",
                "Night buses",
                &format!("{BODY} See the plan ."),
                "Costs",
                "Four million a year\nPaid by parking fees",
                "precis summarize plan.md",
            ]
        );
    }

    #[test]
    fn encodings_are_detected_without_labels() {
        let text = format!("Zoë and François met in Málaga. {BODY}");
        let utf16le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let utf16be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(from_bytes("le.txt", &utf16le, None).unwrap().text, text);
        assert_eq!(from_bytes("be.txt", &utf16be, None).unwrap().text, text);
        let latin1: Vec<u8> = text.chars().map(|c| c as u32 as u8).collect();
        assert_eq!(from_bytes("l1.txt", &latin1, None).unwrap().text, text);
        let cp1252 = format!("\u{201c}Quoted\u{201d} \u{2013} {text}");
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&cp1252);
        assert_eq!(from_bytes("w.txt", &bytes, None).unwrap().text, cp1252);
        let cyrillic = format!("Привет, это статья о новых ночных автобусах в городе. {BODY}");
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(&cyrillic);
        assert_eq!(from_bytes("r.txt", &bytes, None).unwrap().text, cyrillic);
        let crlf = from_bytes("crlf.txt", format!("{BODY}\r\n\r\n{BODY}\rMore.").as_bytes(), None).unwrap();
        assert_eq!(crlf.text, format!("{BODY}\n\n{BODY}\nMore."));
    }

    #[test]
    fn titles_are_cut_at_a_word_near_their_limit() {
        assert_eq!(cap_title("Night buses".into()), "Night buses");
        let exact = "x".repeat(MAX_TITLE_CHARS);
        assert_eq!(cap_title(exact.clone()), exact);
        let long = "Night buses, ".repeat(100);
        let capped = cap_title(long);
        assert!(capped.chars().count() <= MAX_TITLE_CHARS, "{}", capped.chars().count());
        assert!(capped.ends_with("Night buses…"), "{capped}");
        // One word with no space: cut at the limit, on a character boundary.
        let word = cap_title("é".repeat(1000));
        assert_eq!(word.chars().count(), MAX_TITLE_CHARS);
        assert!(word.ends_with("é…"));
        // Every format's title goes through it.
        let md = format!("# {}\n\n{BODY}", "Buses ".repeat(200));
        assert!(from_bytes("a.md", md.as_bytes(), None).unwrap().title.unwrap().chars().count() <= MAX_TITLE_CHARS);
        let html = format!(
            "<html><head><title>{}</title></head><body><article><p>{BODY}</p><p>{BODY}</p></article></body></html>",
            "Buses ".repeat(200)
        );
        assert!(from_bytes("a.html", html.as_bytes(), None).unwrap().title.unwrap().chars().count() <= MAX_TITLE_CHARS);
    }

    #[test]
    fn words_are_counted_in_spaceless_scripts_too() {
        assert_eq!(count_words("two words"), 2);
        assert_eq!(count_words("日本語の文 and iPhone。"), 7);
        // Thai puts spaces between phrases, not words: its 42 letters here (tone marks are not
        // letters) are eight words and a bit, and the Latin word after them one more.
        let thai = "สภาเมืองลงมติเมื่อวันอังคาร ให้ขยายเครือข่ายรถ BTS";
        let letters = thai.chars().filter(|&c| language::unspaced(c).is_some() && c.is_alphanumeric()).count();
        assert_eq!(letters, 42);
        assert_eq!(count_words(thai), 8 + 1);
        // Lao (16 letters), Khmer (14), Burmese (13) and Tibetan (12) the same way.
        assert_eq!(count_words("ສະພາເມືອງລົງມະຕິ"), 3);
        assert_eq!(count_words("ក្រុមប្រឹក្សាក្រុង"), 3);
        assert_eq!(count_words("မြို့တော်ကောင်စီ"), 3);
        assert_eq!(count_words("བོད་ཀྱི་སྐད་ཡིག"), 2);
    }

    #[test]
    fn a_thai_lead_sentence_is_not_a_title() {
        let lead = "สภาเทศบาลลงมติเมื่อวันอังคารให้ขยายเครือข่ายรถประจำทางโดยเพิ่มเส้นทางใหม่สิบสองเส้นทาง\
และขยายเวลาให้บริการช่วงเย็นจนถึงเที่ยงคืน";
        let rest = "เจ้าหน้าที่กล่าวว่าแผนนี้จะมีค่าใช้จ่ายสี่ล้านดอลลาร์ต่อปี ชาวบ้านต่างยินดีกับการตัดสินใจนี้";
        let text = format!("{lead}\n\n{rest}\n\n{rest}");
        let a = from_bytes("th.txt", text.as_bytes(), Some("txt")).unwrap();
        assert_eq!(a.title, None);
        assert_eq!(a.text, text);
    }

    #[test]
    fn a_long_thai_article_is_long_enough() {
        let paragraph = "สภาเมืองลงมติเมื่อวันอังคารให้ขยายเครือข่ายรถประจำทาง เพิ่มเส้นทางใหม่สิบสองเส้นทาง \
และขยายเวลาให้บริการช่วงค่ำจนถึงเที่ยงคืน เจ้าหน้าที่กล่าวว่าแผนนี้จะมีค่าใช้จ่ายสี่ล้านดอลลาร์ต่อปี";
        let text = format!("รถประจำทางกลางคืน\n\n{paragraph}\n\n{paragraph}\n");
        let a = from_bytes("th.txt", text.as_bytes(), Some("txt")).unwrap();
        assert_eq!(a.title.as_deref(), Some("รถประจำทางกลางคืน"));
        assert_eq!(a.text, format!("{paragraph}\n\n{paragraph}"));
        assert!(a.word_count() >= MIN_WORDS, "{}", a.word_count());
        // The same in TIS-620 (Windows-874), as Thai files written on Windows are.
        let (tis620, _, _) = encoding_rs::WINDOWS_874.encode(&text);
        assert_eq!(from_bytes("th.txt", &tis620, Some("txt")).unwrap(), a);
    }

    #[test]
    fn whitespace_is_collapsed_and_paragraphs_kept() {
        assert_eq!(normalize("a  b\t c  \n\n\n\nd\r\ne"), "a b c\n\nd\ne");
    }

    #[test]
    fn windows_1252_and_utf16_decode() {
        let mut bytes = b"Caf\xe9 ".to_vec();
        bytes.extend_from_slice(BODY.as_bytes());
        let a = from_bytes("a.txt", &bytes, None).unwrap();
        assert!(a.text.starts_with("Café "));
        let mut utf16 = vec![0xFF, 0xFE];
        for u in format!("Zoë. {BODY}").encode_utf16() {
            utf16.extend_from_slice(&u.to_le_bytes());
        }
        assert!(from_bytes("b.txt", &utf16, None).unwrap().text.starts_with("Zoë."));
    }

    #[test]
    fn dropped_uri_lists_links_and_text() {
        match from_dropped_text("file:///home/me/My%20Article.html\r\nfile:///tmp/b.txt\n").unwrap() {
            Dropped::Files(f) => assert_eq!(
                f,
                vec![std::path::PathBuf::from("/home/me/My Article.html"), std::path::PathBuf::from("/tmp/b.txt")]
            ),
            other => panic!("{other:?}"),
        }
        let err = from_dropped_text(" https://example.com/news/story \n").unwrap_err().to_string();
        assert!(err.contains("https://example.com/news/story"), "{err}");
        assert!(err.contains("Save Page As"), "{err}");
        match from_dropped_text(BODY).unwrap() {
            Dropped::Article(a) => assert_eq!(a.text, BODY),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_inputs_get_specific_errors() {
        let err = |b: &[u8]| match from_bytes("x", b, None).unwrap_err() {
            Error::Input { reason, .. } => reason,
            other => panic!("unexpected {other}"),
        };
        assert_eq!(err(b""), InputProblem::Empty);
        assert_eq!(err(b"  \n "), InputProblem::Empty);
        assert_eq!(err(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0"), InputProblem::Binary);
        assert_eq!(err(b"Too short to say much."), InputProblem::TooShort { words: 5, min: MIN_WORDS });
        // A byte-order mark alone, or with white space after it, in any encoding, is empty too.
        assert_eq!(err(b"\xef\xbb\xbf"), InputProblem::Empty);
        assert_eq!(err(b"\xef\xbb\xbf  \n\n "), InputProblem::Empty);
        assert_eq!(err(b"\xff\xfe"), InputProblem::Empty);
        assert_eq!(err(b"\xff\xfe \0\n\0"), InputProblem::Empty);
        assert_eq!(err(b"\xfe\xff\0 \0\n"), InputProblem::Empty);
        assert_eq!(err(b"\xff\xfe\0\0"), InputProblem::Empty);
        assert_eq!(err(b"\0\0\0\0"), InputProblem::Empty);
        assert_eq!(err("\u{a0}\u{3000}\n".as_bytes()), InputProblem::Empty);
    }

    #[test]
    fn too_short_says_word_or_words() {
        let message = |text: &str| from_bytes("a.txt", text.as_bytes(), None).unwrap_err().to_string();
        assert_eq!(
            message("Hello."),
            "a.txt: the text has only 1 word, too short to summarize (at least 25 are needed); pass the whole \
             article, not a headline or an excerpt"
        );
        assert!(message("Hello there.").contains("only 2 words, too short"), "{}", message("Hello there."));
    }

    #[test]
    fn text_that_mentions_a_pdf_header_is_text() {
        let text =
            format!("Repairing PDF headers\n\nA valid file starts with the bytes %PDF-1.7 and a comment. {BODY}");
        for ext in [Some("txt"), Some("md"), None] {
            let a = from_bytes("a", text.as_bytes(), ext).unwrap();
            assert_eq!(a.title.as_deref(), Some("Repairing PDF headers"), "{ext:?}");
            assert!(a.text.starts_with("A valid file starts with the bytes %PDF-1.7"), "{ext:?}: {}", a.text);
        }
        // A file named .txt that opens with the header is a PDF (here a broken one).
        match from_bytes("a.txt", format!("%PDF-1.7\n{BODY}").as_bytes(), Some("txt")).unwrap_err() {
            Error::Input { reason: InputProblem::Broken { format: "PDF", .. }, .. } => {}
            other => panic!("unexpected {other}"),
        }
    }
}
