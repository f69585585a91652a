//! PDF documents: the text layer through `pdf-extract`, page by page, then cleaned the way a
//! reader would: running headers, footers and bare page numbers removed, words hyphenated at
//! line ends joined, wrapped lines joined into paragraphs; and the title, author and creation
//! date from the document information dictionary (`/Info`), read through `lopdf` from the same
//! parsed document. A PDF without a text layer (a scan) or one that needs a password is a clear
//! error, never an empty article. The reader is run under `catch_unwind` (`quietly`, which keeps
//! the panic's message for the debug log), and each page under its own: a page the extractor
//! panics on is left out and counted, the others are read, and a file it cannot handle at all is
//! an error, not a crash. A page tree that loops is walked once (`reachable_pages`), and a font
//! whose character map would expand past reason is refused before it is parsed (`check_cmaps`).
//!
//! lopdf inflates a stream whole when asked (at load for object and cross-reference streams;
//! pdf-extract asks for page contents, forms, fonts and more), with no budget, and running out
//! of memory is not a panic `catch_unwind` could catch. So every stream is measured first, by
//! decoding it as a stream under a byte budget (`inflate`): the object and cross-reference
//! streams in the raw file before lopdf loads it, every other stream but images (which nothing
//! here decodes) once it is loaded and decrypted. A stream that would inflate past
//! `MAX_STREAM_BYTES`, or streams past `MAX_INFLATED_BYTES` together, are refused as damaged
//! before anything inflates them whole; so is content that pages and forms would draw past
//! their budgets (a stream drawn many times is counted each time), and the text is read page by
//! page under a time budget. What this cannot bound, an encrypted object stream that lopdf
//! decrypts and inflates before it can be measured (the stream is encrypted in the raw file), is
//! contained by running the reader in a worker process with limits (`contained`).

use lopdf::{Document, Object};

use crate::error::InputProblem;

/// What a PDF holds, before the shared checks.
pub struct Extracted {
    pub title: Option<String>,
    pub byline: Option<String>,
    pub published: Option<String>,
    /// Paragraphs separated by blank lines (not yet normalized).
    pub text: String,
    /// Pages the extractor could not read (a damaged page is left out, the others are kept),
    /// of `total_pages`.
    pub skipped_pages: usize,
    pub total_pages: usize,
}

/// True when the bytes open with the PDF signature (allowing some leading junk, as readers do).
pub fn sniff(bytes: &[u8]) -> bool {
    find(&bytes[..bytes.len().min(1024)], b"%PDF-").is_some()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The document's properties and its text, paragraphs separated by blank lines.
pub fn extract(bytes: &[u8]) -> Result<Extracted, InputProblem> {
    check_load_streams(bytes).map_err(broken)?;
    // Only a trailer's `/Encrypt` entry makes a document encrypted: the same bytes elsewhere (in
    // a title, in a damaged file's noise) say nothing about it.
    let mut encrypted = trailer_names_encrypt(bytes);
    let read = quietly(|| -> Result<(Info, PageTexts), InputProblem> {
        let unreadable = |e: lopdf::Error| if encrypted { InputProblem::Encrypted } else { broken(e) };
        let mut doc = Document::load_mem(bytes).map_err(unreadable)?;
        encrypted = doc.trailer.get(b"Encrypt").is_ok();
        if doc.is_encrypted() {
            // Many PDFs are encrypted only to set permissions, with an empty user password.
            doc.decrypt("").map_err(|_| InputProblem::Encrypted)?;
        }
        reachable_pages(&mut doc).map_err(broken)?;
        let sizes = stream_sizes(&doc).map_err(broken)?;
        check_structure(&doc, &sizes).map_err(broken)?;
        check_cmaps(&doc).map_err(broken)?;
        let count = doc.get_pages().len();
        if count > MAX_PAGES {
            return Err(InputProblem::TooManyPages { pages: count, limit: MAX_PAGES });
        }
        Ok((Info::of(&doc), pages(&doc)?))
    });
    let (info, pages) = match read {
        Ok(read) => read?,
        Err(panic) => {
            tracing::debug!(%panic, "the PDF reader stopped on the document");
            if encrypted {
                return Err(InputProblem::Encrypted);
            }
            return Err(broken("the PDF reader could not make sense of its structure"));
        }
    };
    let mut text = clean_pages(&pages.texts);
    if text.split_whitespace().next().is_none() {
        if encrypted {
            return Err(InputProblem::Encrypted);
        }
        if pages.skipped > 0 {
            return Err(broken(match pages.total {
                1 => "its only page could not be read".to_string(),
                n => format!("none of its {n} pages could be read"),
            }));
        }
        return Err(InputProblem::NoTextLayer);
    }
    // The title shown apart is taken off the top of the text when it opens the first page.
    if let Some(title) = &info.title {
        let first = text.split("\n\n").next().unwrap_or("");
        if first.split_whitespace().eq(title.split_whitespace()) {
            text = text[first.len()..].trim_start().to_string();
        }
    }
    Ok(Extracted {
        title: info.title,
        byline: info.author,
        published: info.created,
        text,
        skipped_pages: pages.skipped,
        total_pages: pages.total,
    })
}

/// Most bytes one stream may inflate to: a page's content or a font is rarely over a few MB.
pub const MAX_STREAM_BYTES: usize = 64 << 20;
/// Most bytes all the streams of a document but its images may inflate to, each counted once.
pub const MAX_INFLATED_BYTES: usize = 512 << 20;
/// Most bytes of page content the text extractor may read, a stream counted each time a page
/// uses it.
pub const MAX_PAGE_CONTENT_BYTES: usize = 256 << 20;
/// Processor time the text extractor may take, checked between pages (processor time, not the
/// clock's: a busy machine must not turn a document away). Measured, pdf-extract reads 1,000
/// pages of dense text in two embedded TrueType fonts (4 MB of text) in 2.8 s, and a 1,611-page
/// manual (3.8 MB of text, heavier pages) in 21 s, which this leaves room for: past it a document
/// is too long or too complex for a desktop app to wait on, and is refused saying so.
pub const READ_BUDGET: std::time::Duration = std::time::Duration::from_secs(30);
/// Most pages read: the dense pages above read at about 360 a second, the manual's at 75, so a
/// longer document would mostly run out of `READ_BUDGET`; it is turned away at once instead,
/// with its page count.
pub const MAX_PAGES: usize = 2_000;

/// Whether the raw file's trailer names an `/Encrypt` dictionary: a `trailer` dictionary, or the
/// dictionary of a cross-reference stream (`/Type /XRef`), the only places where the key means
/// the document is encrypted. For a file lopdf cannot load; a loaded document's own trailer
/// decides otherwise. Only the first few occurrences are looked at, each within a few kilobytes.
fn trailer_names_encrypt(bytes: &[u8]) -> bool {
    const WINDOW: usize = 4096;
    let mut at = 0;
    for _ in 0..64 {
        let Some(p) = find(&bytes[at..], b"/Encrypt") else { return false };
        let pos = at + p;
        at = pos + 8;
        let before = &bytes[pos.saturating_sub(WINDOW)..pos];
        let trailer = find_last(before, b"trailer");
        let object = find_last(before, b" obj");
        match (trailer, object) {
            (Some(t), o) if o.is_none_or(|o| t > o) => return true,
            (_, Some(o)) => {
                // An object's dictionary: a cross-reference stream's names its type before or after.
                let after = &bytes[pos..(pos + WINDOW).min(bytes.len())];
                let end = find(after, b"stream").or_else(|| find(after, b"endobj")).unwrap_or(after.len());
                if find(&before[o..], b"/XRef").is_some() || find(&after[..end], b"/XRef").is_some() {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// Measures, under the byte budget, the streams lopdf inflates while loading (object streams
/// and cross-reference streams), found in the raw file by their `stream` keyword.
fn check_load_streams(bytes: &[u8]) -> Result<(), String> {
    let mut total = 0usize;
    let mut at = 0;
    while let Some(pos) = find(&bytes[at..], b"stream") {
        let keyword = at + pos;
        at = keyword + 6;
        if keyword >= 3 && &bytes[keyword - 3..keyword] == b"end" {
            continue;
        }
        let data_start = match &bytes[at..] {
            [b'\r', b'\n', ..] => at + 2,
            [b'\n', ..] | [b'\r', ..] => at + 1,
            _ => continue,
        };
        // The stream's dictionary: back to the object's start, at most 64 KB before.
        let window = &bytes[keyword.saturating_sub(64 * 1024)..keyword];
        let dict = find_last(window, b" obj").map_or(window, |p| &window[p..]);
        if find(dict, b"/ObjStm").is_none() && find(dict, b"/XRef").is_none() {
            continue;
        }
        let end = find(&bytes[data_start..], b"endstream").map_or(bytes.len(), |e| data_start + e);
        let filters = filter_names(dict);
        let inflated = super::inflate::decode(&filters, &bytes[data_start..end], MAX_STREAM_BYTES)
            .map_err(|_| format!("a stream would inflate to over {} MB", MAX_STREAM_BYTES >> 20))?;
        total += inflated.len();
        if total > MAX_INFLATED_BYTES {
            return Err(format!("its streams would inflate to over {} MB", MAX_INFLATED_BYTES >> 20));
        }
        at = end;
    }
    Ok(())
}

/// The filter names in a stream dictionary's raw bytes: `/Filter /Name` or `/Filter [/A /B]`.
fn filter_names(dict: &[u8]) -> Vec<Vec<u8>> {
    let Some(p) = find(dict, b"/Filter") else { return Vec::new() };
    let rest = &dict[p + 7..];
    let rest = &rest[rest.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(rest.len())..];
    let list = match rest.first() {
        Some(b'[') => &rest[1..rest.iter().position(|&b| b == b']').unwrap_or(rest.len())],
        Some(b'/') => {
            &rest[..rest[1..]
                .iter()
                .position(|&b| b == b'/' || b == b'>' || b.is_ascii_whitespace())
                .map_or(rest.len(), |e| e + 1)]
        }
        _ => return Vec::new(),
    };
    list.split(|&b| b == b'/' || b.is_ascii_whitespace()).filter(|n| !n.is_empty()).map(<[u8]>::to_vec).collect()
}

fn find_last(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// Deepest page tree walked, as lopdf's page iterator goes (it stops descending there).
const MAX_PAGE_TREE_DEPTH: usize = 256;

/// Finds the pages the page tree reaches, walking it as lopdf's page iterator does (kids in
/// order, depth first) but visiting each `/Pages` node once. A tree whose `/Kids` lead back to a
/// node above, or to itself, sends the iterator round until its limit and it finds no page at
/// all, or only some; when the walk meets such a loop, the tree's root is given the pages found
/// as its kids, so that every reader of the document sees the same pages. A document without a
/// page tree, or whose tree reaches no page, is damaged (not a scan without text).
fn reachable_pages(doc: &mut Document) -> Result<(), String> {
    let root = doc
        .catalog()
        .ok()
        .and_then(|catalog| catalog.get(b"Pages").ok())
        .and_then(|pages| pages.as_reference().ok())
        .ok_or("it has no page tree: its catalog is missing or damaged")?;
    let kids_of = |doc: &Document, id| -> Vec<lopdf::ObjectId> {
        doc.get_dictionary(id)
            .and_then(|node| node.get_deref(b"Kids", doc))
            .and_then(Object::as_array)
            .map(|kids| kids.iter().filter_map(|k| k.as_reference().ok()).collect())
            .unwrap_or_default()
    };
    let mut seen = std::collections::HashSet::from([root]);
    let (mut pages, mut looped) = (Vec::new(), false);
    let mut stack: Vec<(lopdf::ObjectId, usize)> = kids_of(doc, root).into_iter().rev().map(|k| (k, 1)).collect();
    while let Some((id, depth)) = stack.pop() {
        match doc.get_dictionary(id).and_then(lopdf::Dictionary::get_type) {
            Ok(b"Page") => pages.push(id),
            Ok(b"Pages") if depth < MAX_PAGE_TREE_DEPTH => {
                if !seen.insert(id) {
                    looped = true;
                    continue;
                }
                stack.extend(kids_of(doc, id).into_iter().rev().map(|k| (k, depth + 1)));
            }
            _ => {}
        }
    }
    if pages.is_empty() {
        return Err(if looped {
            "its page tree loops back on itself and reaches no page".into()
        } else {
            "its page tree holds no pages".into()
        });
    }
    if looped {
        tracing::debug!(pages = pages.len(), "the PDF's page tree loops; reading the pages it reaches");
        let count = pages.len() as i64;
        let kids = pages.into_iter().map(Object::Reference).collect();
        let node = doc.get_dictionary_mut(root).map_err(|e| format!("its page tree is damaged ({e})"))?;
        node.set("Kids", Object::Array(kids));
        node.set("Count", count);
    }
    Ok(())
}

/// Most character codes one ToUnicode CMap may map, each code of each range counted: a font's
/// codes are at most two bytes, 65,536 of them; this leaves room for ranges that overlap.
const MAX_CMAP_CODES: u64 = 1 << 18;

/// Refuses a font whose ToUnicode CMap maps more codes than any font has. pdf-extract's CMap
/// parser makes one map entry for each code of each `bfrange`, again for every page that uses
/// the font, so a few kilobytes of `<0000> <FFFF>` ranges take it seconds to minutes (and 4-byte
/// ranges billions of entries). The ranges are added up from the stream before anything parses
/// it (its size was measured by `stream_sizes`), for every font the document holds.
fn check_cmaps(doc: &Document) -> Result<(), String> {
    let mut measured = std::collections::HashSet::new();
    // Every dictionary of the document, those written inside others (a font inside a page's
    // resources) included.
    let mut stack: Vec<&Object> = doc.objects.values().collect();
    while let Some(object) = stack.pop() {
        let dict = match object {
            Object::Dictionary(dict) => dict,
            Object::Stream(stream) => &stream.dict,
            Object::Array(items) => {
                stack.extend(items);
                continue;
            }
            _ => continue,
        };
        stack.extend(dict.iter().map(|(_, value)| value));
        let Ok(to_unicode) = dict.get(b"ToUnicode") else { continue };
        let Ok((id, Object::Stream(stream))) = doc.dereference(to_unicode) else { continue };
        if id.is_some_and(|id| !measured.insert(id)) {
            continue;
        }
        let filters: Vec<Vec<u8>> =
            stream.filters().map(|f| f.into_iter().map(<[u8]>::to_vec).collect()).unwrap_or_default();
        let Ok(cmap) = super::inflate::decode(&filters, &stream.content, MAX_STREAM_BYTES) else { continue };
        if cmap_codes(&cmap) > MAX_CMAP_CODES {
            return Err(format!("a font's character map (ToUnicode) covers over {MAX_CMAP_CODES} codes"));
        }
    }
    Ok(())
}

/// The codes the `bfrange` sections of a CMap cover: each entry is a first code, a last code
/// (hexadecimal strings) and a target (a string or an array), and covers last - first + 1 codes.
fn cmap_codes(cmap: &[u8]) -> u64 {
    let hex = |digits: &[u8]| -> u64 {
        digits.iter().filter_map(|&d| (d as char).to_digit(16)).fold(0u64, |v, d| {
            if v > u64::MAX >> 4 {
                u64::MAX
            } else {
                v << 4 | u64::from(d)
            }
        })
    };
    let mut total = 0u64;
    let mut at = 0;
    while let Some(p) = find(&cmap[at..], b"beginbfrange") {
        let start = at + p + b"beginbfrange".len();
        let end = find(&cmap[start..], b"endbfrange").map_or(cmap.len(), |e| start + e);
        // The section's strings and arrays in order, `None` for an array.
        let mut values = Vec::new();
        let mut i = start;
        while i < end {
            let close = |c: u8| cmap[i..end].iter().position(|&b| b == c).map_or(end, |e| i + e);
            match cmap[i] {
                b'<' => {
                    let to = close(b'>');
                    values.push(Some(hex(&cmap[i + 1..to])));
                    i = to + 1;
                }
                b'[' => {
                    values.push(None);
                    i = close(b']') + 1;
                }
                _ => i += 1,
            }
        }
        for entry in values.chunks(3) {
            if let [Some(first), Some(last), _] = entry {
                if last >= first {
                    total = total.saturating_add(last - first).saturating_add(1);
                }
            }
        }
        at = end;
    }
    total
}

/// The inflated size of every stream of the loaded document but images, measured under the
/// byte budget; refuses a stream or a total past it.
fn stream_sizes(doc: &Document) -> Result<std::collections::HashMap<lopdf::ObjectId, usize>, String> {
    let mut sizes = std::collections::HashMap::new();
    let mut total = 0usize;
    for (&id, object) in &doc.objects {
        let Object::Stream(stream) = object else { continue };
        if stream.dict.get(b"Subtype").and_then(Object::as_name).is_ok_and(|n| n == b"Image") {
            continue;
        }
        let filters: Vec<Vec<u8>> =
            stream.filters().map(|f| f.into_iter().map(<[u8]>::to_vec).collect()).unwrap_or_default();
        let len = super::inflate::decode(&filters, &stream.content, MAX_STREAM_BYTES)
            .map_err(|_| format!("object {} would inflate to over {} MB", id.0, MAX_STREAM_BYTES >> 20))?
            .len();
        total += len;
        if total > MAX_INFLATED_BYTES {
            return Err(format!("its streams would inflate to over {} MB", MAX_INFLATED_BYTES >> 20));
        }
        sizes.insert(id, len);
    }
    Ok(sizes)
}

/// The text the extractor read from a document's pages.
struct PageTexts {
    /// The text of each page it could read, in order.
    texts: Vec<String>,
    /// Pages it could not read (an error or a panic in the extractor), of `total`.
    skipped: usize,
    total: usize,
}

/// The text of each page in order. A page the extractor fails on (pdf-extract panics on many
/// kinds of damage: a missing font object, a broken content stream, a font's tables that do not
/// add up) is left out and counted, and the other pages are kept: the document is immutable while
/// it is read, so a panic in one page leaves nothing half-changed for the next. Refused once
/// reading takes longer than `READ_BUDGET`.
fn pages(doc: &Document) -> Result<PageTexts, InputProblem> {
    let start = thread_time();
    let numbers: Vec<u32> = doc.get_pages().into_keys().collect();
    let mut read = PageTexts { texts: Vec::new(), skipped: 0, total: numbers.len() };
    for number in numbers {
        if thread_time().saturating_sub(start) > READ_BUDGET {
            return Err(InputProblem::TooDemanding { format: "PDF", limit: format!("{} s", READ_BUDGET.as_secs()) });
        }
        let mut text = String::new();
        let page = quietly(|| {
            let mut output = pdf_extract::PlainTextOutput::new(&mut text);
            pdf_extract::output_doc_page(doc, &mut output, number).map_err(|e| e.to_string())
        });
        match page {
            Ok(Ok(())) => read.texts.push(text),
            Ok(Err(problem)) | Err(problem) => {
                tracing::debug!(page = number, %problem, "a page of the PDF could not be read");
                read.skipped += 1;
            }
        }
    }
    Ok(read)
}

thread_local! {
    /// Whether a panic on this thread is expected and caught (by `quietly`).
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The last panic `quietly` caught on this thread: its message and where it happened.
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Runs `work`, catching a panic in it: `Err` holds the panic's message and place. The default
/// hook would print the message (and, with `RUST_BACKTRACE`, a backtrace) on standard error, which
/// the person would see for a damaged file the reader already reports; a panic caught here is
/// kept for the debug log instead. Panics anywhere else still go to the hook that was there.
pub(crate) fn quietly<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(std::cell::Cell::get) {
                let place = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
                let payload = info.payload();
                let message = payload
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("a panic");
                LAST_PANIC.with(|last| *last.borrow_mut() = Some(format!("{message}{place}")));
            } else {
                previous(info);
            }
        }));
    });
    let was_quiet = QUIET.with(|q| q.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    QUIET.with(|q| q.set(was_quiet));
    result.map_err(|_| LAST_PANIC.with(|last| last.borrow_mut().take()).unwrap_or_else(|| "a panic".into()))
}

/// The processor time this thread has used.
#[cfg(unix)]
fn thread_time() -> std::time::Duration {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec passed to it and nothing else.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    std::time::Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Elsewhere the clock's time since the first call stands in.
#[cfg(not(unix))]
fn thread_time() -> std::time::Duration {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}

/// Most levels of the page tree above a page; real documents use a handful.
const MAX_TREE_DEPTH: usize = 64;
/// Most levels of forms (XObjects) drawn inside one another; real documents use a few.
const MAX_FORM_DEPTH: usize = 32;
/// Most work drawing XObjects in a whole document: the bytes of each XObject's content, plus
/// `DRAW_COST` for setting up, each time it is drawn.
const MAX_FORM_BYTES: usize = 64 * 1024 * 1024;
const DRAW_COST: usize = 256;

/// Refuses what would make `pdf-extract` recurse without end or work without bound, neither of
/// which `catch_unwind` can contain (a stack overflow aborts the process): `/Parent` links that
/// loop or run too deep (it climbs them for a page's resources and media box), and XObjects that
/// draw themselves, nest too deep or multiply (it reads an XObject's content each time it is
/// drawn, with that XObject's resources or else the drawing content's, as followed here).
fn check_structure(doc: &Document, sizes: &std::collections::HashMap<lopdf::ObjectId, usize>) -> Result<(), String> {
    let mut budget = FormBudget { doc, drawn: std::collections::HashMap::new(), bytes: 0 };
    let mut content = 0usize;
    for &page in doc.get_pages().values() {
        // The page's content streams, counted each time (many pages can share one).
        if let Ok(dict) = doc.get_dictionary(page) {
            let ids: Vec<lopdf::ObjectId> = match dict.get(b"Contents") {
                Ok(Object::Reference(id)) => vec![*id],
                Ok(Object::Array(items)) => items.iter().filter_map(|o| o.as_reference().ok()).collect(),
                _ => Vec::new(),
            };
            for id in ids {
                content = content.saturating_add(sizes.get(&id).copied().unwrap_or(0));
            }
            if content > MAX_PAGE_CONTENT_BYTES {
                return Err(format!("its pages would draw over {} MB of content", MAX_PAGE_CONTENT_BYTES >> 20));
            }
        }
        let (mut id, mut seen) = (page, std::collections::HashSet::new());
        let mut resources = None;
        loop {
            if !seen.insert(id) {
                return Err("a page is its own ancestor in the page tree".into());
            }
            if seen.len() > MAX_TREE_DEPTH {
                return Err(format!("its page tree is over {MAX_TREE_DEPTH} levels deep"));
            }
            let Ok(dict) = doc.get_dictionary(id) else { break };
            resources = resources.or_else(|| deref(doc, dict.get(b"Resources").ok()).and_then(|o| o.as_dict().ok()));
            match dict.get(b"Parent").and_then(Object::as_reference) {
                Ok(parent) => id = parent,
                Err(_) => break,
            }
        }
        let (Some(resources), Ok(content)) = (resources, doc.get_page_content(page)) else {
            continue;
        };
        for name in drawn_names(&content) {
            budget.draw(resources, &name, 1)?;
        }
    }
    Ok(())
}

/// The work that drawing XObjects costs, with what each XObject draws.
struct FormBudget<'a> {
    doc: &'a Document,
    drawn: std::collections::HashMap<lopdf::ObjectId, Drawing>,
    bytes: usize,
}

/// One XObject's content: its length, and the names of the XObjects it draws in turn.
#[derive(Clone)]
struct Drawing {
    len: usize,
    names: std::rc::Rc<[Vec<u8>]>,
}

impl<'a> FormBudget<'a> {
    /// Draws XObject `name` of `resources` at nesting `depth`, as `pdf-extract` would.
    fn draw(&mut self, resources: &'a lopdf::Dictionary, name: &[u8], depth: usize) -> Result<(), String> {
        let doc = self.doc;
        let xobjects = deref(doc, resources.get(b"XObject").ok()).and_then(|o| o.as_dict().ok());
        let Some(entry) = xobjects.and_then(|x| x.get(name).ok()) else { return Ok(()) };
        let Ok((Some(id), Object::Stream(stream))) = doc.dereference(entry) else { return Ok(()) };
        // Images are not drawn as content, and nothing here decodes them.
        if stream.dict.get(b"Subtype").and_then(Object::as_name).is_ok_and(|n| n == b"Image") {
            return Ok(());
        }
        if depth > MAX_FORM_DEPTH {
            return Err(format!("its XObjects draw themselves or nest over {MAX_FORM_DEPTH} levels deep"));
        }
        let Drawing { len, names } = self
            .drawn
            .entry(id)
            .or_insert_with(|| {
                let content = stream.decompressed_content().unwrap_or_else(|_| stream.content.clone());
                Drawing { len: content.len(), names: drawn_names(&content).into() }
            })
            .clone();
        self.bytes += len + DRAW_COST;
        if self.bytes > MAX_FORM_BYTES {
            return Err(format!("drawing its XObjects would take over {} MB of content", MAX_FORM_BYTES >> 20));
        }
        let own = deref(doc, stream.dict.get(b"Resources").ok()).and_then(|o| o.as_dict().ok());
        for name in names.iter() {
            self.draw(own.unwrap_or(resources), name, depth + 1)?;
        }
        Ok(())
    }
}

/// The object a value refers to (itself if it is not a reference).
fn deref<'a>(doc: &'a Document, object: Option<&'a Object>) -> Option<&'a Object> {
    doc.dereference(object?).ok().map(|(_, o)| o)
}

/// The names of the XObjects a content stream draws (`/Name Do`), in order.
fn drawn_names(content: &[u8]) -> Vec<Vec<u8>> {
    let Ok(content) = lopdf::content::Content::decode(content) else { return Vec::new() };
    content
        .operations
        .into_iter()
        .filter(|op| op.operator == "Do")
        .filter_map(|op| op.operands.first().and_then(|o| o.as_name().ok()).map(<[u8]>::to_vec))
        .collect()
}

pub(super) fn broken(detail: impl std::fmt::Display) -> InputProblem {
    InputProblem::Broken { format: "PDF", detail: detail.to_string() }
}

/// The usable entries of the document information dictionary.
#[derive(Debug, Default, PartialEq)]
struct Info {
    title: Option<String>,
    author: Option<String>,
    /// `YYYY-MM-DD`, as the other formats give it.
    created: Option<String>,
}

impl Info {
    fn of(doc: &Document) -> Info {
        let Some(dict) =
            doc.trailer.get(b"Info").ok().and_then(|o| doc.dereference(o).ok()).and_then(|(_, o)| o.as_dict().ok())
        else {
            return Info::default();
        };
        let text = |key: &[u8]| {
            let (_, value) = doc.dereference(dict.get(key).ok()?).ok()?;
            value.as_str().ok().map(decode_text)
        };
        Info {
            title: text(b"Title").and_then(|t| usable_title(&t)),
            author: text(b"Author").and_then(|a| usable_author(&a)),
            created: text(b"CreationDate").and_then(|d| pdf_date(&d)),
        }
    }
}

/// Decodes a PDF text string: UTF-16BE after the FE FF byte-order mark, UTF-8 after EF BB BF
/// (PDF 2.0), PDFDocEncoding otherwise. Characters that cannot be decoded become U+FFFD or,
/// for PDFDocEncoding's undefined codes, are dropped.
fn decode_text(bytes: &[u8]) -> String {
    if let Some(utf16) = bytes.strip_prefix(b"\xFE\xFF") {
        let units = utf16.chunks(2).map(|c| u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]));
        return char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect();
    }
    if let Some(utf8) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return String::from_utf8_lossy(utf8).into_owned();
    }
    bytes.iter().filter_map(|&b| pdf_doc_char(b)).collect()
}

/// A byte in PDFDocEncoding (ISO 32000-1, annex D): Latin-1 except for the accents at 0x18-0x1F,
/// the punctuation and letters at 0x80-0x9E and the euro sign at 0xA0.
fn pdf_doc_char(b: u8) -> Option<char> {
    const ACCENTS: [char; 8] = ['\u{2d8}', '\u{2c7}', '\u{2c6}', '\u{2d9}', '\u{2dd}', '\u{2db}', '\u{2da}', '\u{2dc}'];
    const HIGH: [char; 31] = [
        '\u{2022}', '\u{2020}', '\u{2021}', '\u{2026}', '\u{2014}', '\u{2013}', '\u{192}', '\u{2044}', '\u{2039}',
        '\u{203a}', '\u{2212}', '\u{2030}', '\u{201e}', '\u{201c}', '\u{201d}', '\u{2018}', '\u{2019}', '\u{201a}',
        '\u{2122}', '\u{fb01}', '\u{fb02}', '\u{141}', '\u{152}', '\u{160}', '\u{178}', '\u{17d}', '\u{131}',
        '\u{142}', '\u{153}', '\u{161}', '\u{17e}',
    ];
    match b {
        0x18..=0x1f => Some(ACCENTS[usize::from(b - 0x18)]),
        0x80..=0x9e => Some(HIGH[usize::from(b - 0x80)]),
        0xa0 => Some('\u{20ac}'),
        0x7f | 0x9f | 0xad => None,
        _ => Some(char::from(b)),
    }
}

/// One line of text: control characters dropped, whitespace collapsed; `None` when nothing
/// with a letter or digit is left.
fn one_line(text: &str) -> Option<String> {
    let text: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    text.chars().any(char::is_alphanumeric).then_some(text)
}

/// Extensions of the documents that PDFs are commonly printed from.
const SOURCE_EXTENSIONS: &[&str] = &[
    "doc", "docx", "dot", "dotx", "rtf", "odt", "txt", "md", "pdf", "ppt", "pptx", "xls", "xlsx", "pages", "tex",
    "htm", "html", "indd", "qxd", "ps", "eps",
];

/// The title as a reader should see it, or `None` for the names that tools fill in: an empty or
/// placeholder title ("Untitled", "Document1"), a bare file name, or an office suite's
/// "Microsoft Word - report.docx" (which becomes "report" when that reads as a title).
fn usable_title(raw: &str) -> Option<String> {
    let mut title = one_line(raw)?;
    let mut from_file = false;
    for app in ["Microsoft Word - ", "Microsoft PowerPoint - ", "Microsoft Excel - "] {
        if title.len() > app.len() && title.is_char_boundary(app.len()) && title[..app.len()].eq_ignore_ascii_case(app)
        {
            title = title[app.len()..].trim().to_string();
            from_file = true;
        }
    }
    if title.contains(['/', '\\']) && !title.contains(' ') {
        return None;
    }
    if let Some((stem, ext)) = title.rsplit_once('.') {
        if SOURCE_EXTENSIONS.iter().any(|e| ext.eq_ignore_ascii_case(e)) {
            // "C:\Users\Jo\report.doc": the file's own name, without its folder.
            title = stem.rsplit(['/', '\\']).next().unwrap_or(stem).trim().to_string();
            from_file = true;
        }
    }
    // What is left of a file name is a title only if it reads like one, with spaces.
    if from_file && !title.contains(' ') {
        return None;
    }
    let lower = title.to_lowercase();
    let placeholder = lower.starts_with("untitled")
        || lower.strip_prefix("document").is_some_and(|n| n.trim().chars().all(|c| c.is_ascii_digit()))
        || ["title", "no title", "none", "null", "unknown", "(anonymous)", "slide 1"].contains(&lower.as_str());
    if placeholder {
        return None;
    }
    one_line(&title)
}

/// The author as a byline, or `None` for the account names that tools fill in.
fn usable_author(raw: &str) -> Option<String> {
    let author = one_line(raw)?;
    let lower = author.to_lowercase();
    (!["unknown", "administrator", "admin", "user", "owner", "author", "none", "null"].contains(&lower.as_str()))
        .then_some(author)
}

/// `YYYY-MM-DD` from a PDF date, `D:YYYYMMDDHHmmSSOHH'mm'` (the local date as written; the
/// `D:` is often left out, and everything after the day is optional). `None` for a date without
/// a day, or with a month or day that does not exist.
fn pdf_date(raw: &str) -> Option<String> {
    let v = raw.trim();
    let v = v.strip_prefix("D:").unwrap_or(v);
    let digits = v.get(..8).filter(|d| d.bytes().all(|b| b.is_ascii_digit()))?;
    let number = |r: std::ops::Range<usize>| digits[r].parse::<u32>().ok();
    let (year, month, day) = (number(0..4)?, number(4..6)?, number(6..8)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (year > 0 && (1..=days).contains(&day)).then(|| format!("{year:04}-{month:02}-{day:02}"))
}

/// A line with its digits masked, so "Page 3" and "Page 4" compare equal.
fn shape(line: &str) -> String {
    line.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect()
}

/// A line that is only a page number: "7", "- 7 -", "Page 7", "7 of 12", "vii".
fn is_page_number(line: &str) -> bool {
    let l = line.trim().trim_matches(|c: char| c == '-' || c == '–' || c.is_whitespace()).to_lowercase();
    let l = l.strip_prefix("page").map_or(l.as_str(), str::trim);
    if l.is_empty() {
        return false;
    }
    let mut parts = l.split(|c: char| c == '/' || c.is_whitespace()).filter(|p| !p.is_empty() && *p != "of");
    let roman = |p: &str| p.len() <= 4 && p.chars().all(|c| "ivxl".contains(c));
    parts.all(|p| p.chars().all(|c| c.is_ascii_digit()) || roman(p))
}

/// Lines a document needs before its spacing is judged (`clean_pages`).
const DOUBLE_SPACED_MIN_LINES: usize = 10;

/// Joins the pages into paragraphs, without running headers, footers and page numbers.
pub fn clean_pages(pages: &[String]) -> String {
    let pages: Vec<Vec<&str>> = pages.iter().map(|p| p.lines().map(str::trim_end).collect::<Vec<_>>()).collect();
    // A line (digits masked) among the first or last three lines of more than half of the
    // pages, with at least three pages, is a running header or footer.
    let mut counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for page in &pages {
        let content: Vec<&str> = page.iter().copied().filter(|l| !l.trim().is_empty()).collect();
        let mut edge: Vec<String> =
            content.iter().take(3).chain(content.iter().rev().take(3)).map(|l| shape(l)).collect();
        edge.sort();
        edge.dedup();
        for s in edge {
            *counts.entry(s).or_default() += 1;
        }
    }
    let running = |line: &str| {
        pages.len() >= 3
            && line.split_whitespace().count() <= 12
            && counts.get(&shape(line)).is_some_and(|&n| n * 2 > pages.len())
    };

    let words = Vocabulary::of(&pages);
    // Text set with double (or wider) line spacing reads as a blank line after nearly every
    // line; there a blank line ends a paragraph only where a sentence ends, as a page break does.
    let (mut lines, mut spaced) = (0, 0);
    for page in &pages {
        for (i, line) in page.iter().enumerate() {
            if !line.trim().is_empty() {
                lines += 1;
                spaced += usize::from(page.get(i + 1).is_some_and(|next| next.trim().is_empty()));
            }
        }
    }
    let double_spaced = lines >= DOUBLE_SPACED_MIN_LINES && spaced * 10 >= lines * 8;
    let ends_sentence = |out: &str| out.trim_end().ends_with(['.', '!', '?', '"', '\u{201d}', ':']);
    let mut out = String::new();
    for page in &pages {
        let content: Vec<&str> = page.iter().copied().filter(|l| !l.trim().is_empty()).collect();
        let n = content.len();
        let (mut blank_run, mut kept_on_page, mut index) = (false, false, 0);
        for line in page {
            if line.trim().is_empty() {
                // Blank lines before the page's first kept line (after a header) break nothing.
                blank_run = kept_on_page;
                continue;
            }
            let at_edge = index < 3 || index + 3 >= n;
            index += 1;
            if at_edge && (running(line) || is_page_number(line)) {
                continue;
            }
            let line = line.trim();
            if blank_run && !out.is_empty() && (!double_spaced || ends_sentence(&out)) {
                out.truncate(out.trim_end().len());
                out.push_str("\n\n");
            }
            join_line(&mut out, line, &words);
            blank_run = false;
            kept_on_page = true;
        }
        // A page break ends a paragraph only where a sentence ends.
        if ends_sentence(&out) {
            out.push_str("\n\n");
        }
    }
    out.trim().to_string()
}

/// The words of the document as written, lowercased, to tell a word broken at a line end
/// ("informa-" + "tion") from a compound that keeps its hyphen ("well-" + "known").
struct Vocabulary {
    words: std::collections::HashSet<String>,
}

impl Vocabulary {
    fn of(pages: &[Vec<&str>]) -> Vocabulary {
        let mut words = std::collections::HashSet::new();
        for line in pages.iter().flatten() {
            // A word cut at this line's end is not a word of the document.
            let line = line.trim_end();
            let whole = if line.ends_with('-') {
                line.rsplit_once(char::is_whitespace).map_or("", |(head, _)| head)
            } else {
                line
            };
            for word in whole.split(|c: char| !(c.is_alphanumeric() || c == '-')) {
                let word = word.trim_matches('-');
                if !word.is_empty() {
                    words.insert(word.to_lowercase());
                }
            }
        }
        Vocabulary { words }
    }

    /// Whether `left-` at a line end followed by `right` is a hyphenated compound.
    fn keeps_hyphen(&self, left: &str, right: &str) -> bool {
        let (left, right) = (left.to_lowercase(), right.to_lowercase());
        let joined = format!("{left}{right}");
        let compound = format!("{left}-{right}");
        if self.words.contains(&compound) {
            return true;
        }
        if self.words.contains(&joined) {
            return false;
        }
        // Nowhere else in the document: English compounds that are nearly always hyphenated.
        // The lists leave out parts that are also common syllable breaks ("low-er", "so-cial",
        // "Tues-day", "ten-ant").
        const FIRST: &[&str] =
            &["well", "self", "half", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
        const SECOND: &[&str] =
            &["known", "based", "term", "related", "driven", "owned", "friendly", "scale", "level", "old"];
        let head = left.rsplit('-').next().unwrap_or(&left);
        FIRST.contains(&head) || SECOND.contains(&right.trim_end_matches(|c: char| !c.is_alphanumeric()))
    }
}

/// Appends a wrapped line: a word broken at the line end ("informa-" + "tion") is joined, a
/// compound broken at its hyphen ("well-" + "known", "Franco-" + "German") keeps it; other
/// lines are joined with a space.
fn join_line(out: &mut String, line: &str, words: &Vocabulary) {
    let hyphen_end = out.ends_with('-') && out[..out.len() - 1].ends_with(|c: char| c.is_alphabetic());
    let broken = hyphen_end && line.starts_with(|c: char| c.is_lowercase());
    if hyphen_end && line.starts_with(|c: char| c.is_uppercase()) {
        // "Franco-" + "German": a compound of names, never a wrapped word.
    } else if broken {
        let left_start = out[..out.len() - 1]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '-'))
            .map_or(0, |i| i + out[i..].chars().next().map_or(1, char::len_utf8));
        let left = &out[left_start..out.len() - 1];
        let right = line.split(|c: char| !c.is_alphanumeric()).next().unwrap_or("");
        if !words.keeps_hyphen(left, right) {
            out.pop();
        }
    } else if !out.is_empty() && !out.ends_with([' ', '\n']) {
        out.push(' ');
    }
    out.push_str(line);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_strings_decode_from_utf16_utf8_and_pdf_doc_encoding() {
        let utf16: Vec<u8> = [0xfe, 0xff]
            .into_iter()
            .chain("Nachtbusse — 夜行バス 🚌".encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(decode_text(&utf16), "Nachtbusse — 夜行バス 🚌");
        // An unpaired surrogate and an odd trailing byte do not lose the rest.
        assert_eq!(decode_text(&[0xfe, 0xff, 0, b'A', 0xd8, 0x00, 0, b'B', 0x41]), "A\u{fffd}B\u{4100}");
        assert_eq!(decode_text(b"\xef\xbb\xbfZo\xc3\xab"), "Zoë");
        // Latin-1 where PDFDocEncoding agrees with it, its own characters where it does not.
        assert_eq!(decode_text(b"Caf\xe9 \x84 \x8dquoted\x8e \x93ne \xa0 5\x8b \x18"), "Café — “quoted” ﬁne € 5‰ ˘");
        assert_eq!(decode_text(b"a\x7f\x9f\xadb"), "ab");
    }

    #[test]
    fn cmap_ranges_are_counted_code_by_code() {
        let cmap = b"2 beginbfrange\n<0020> <007E> <0020>\n<0100> <01FF> [<0041> <0042>]\nendbfrange\n\
                     1 beginbfchar <0003> <0020> endbfchar\n1 beginbfrange <FFFF> <0000> <0041> endbfrange";
        assert_eq!(cmap_codes(cmap), 95 + 256);
        assert_eq!(cmap_codes(b"1 beginbfrange <00000000> <FFFFFFFF> <0041> endbfrange"), 1 << 32);
        assert_eq!(cmap_codes(b"1 beginbfrange <0> <FFFFFFFFFFFFFFFFFFFF> <0041> endbfrange"), u64::MAX);
        assert_eq!(cmap_codes(b"no ranges"), 0);
    }

    #[test]
    fn only_a_trailer_or_a_cross_reference_stream_names_encryption() {
        assert!(trailer_names_encrypt(b"1 0 obj <<>> endobj\ntrailer\n<< /Root 1 0 R /Encrypt 5 0 R >>"));
        assert!(trailer_names_encrypt(b"9 0 obj\n<< /Type /XRef /Encrypt 5 0 R /W [1 2 1] >>\nstream\n"));
        assert!(trailer_names_encrypt(b"9 0 obj\n<< /Encrypt 5 0 R /Type /XRef >>\nstream\n"));
        assert!(!trailer_names_encrypt(b"1 0 obj << /Producer (/Encrypt test) >> endobj"));
        assert!(!trailer_names_encrypt(b"trailer << /Root 1 0 R >>\n2 0 obj (/Encrypt) endobj"));
    }

    #[test]
    fn titles_that_tools_fill_in_are_ignored() {
        let title = |t: &str| usable_title(t);
        assert_eq!(title("  Night  buses\r\nfor Riverton "), Some("Night buses for Riverton".into()));
        assert_eq!(title("Microsoft Word - Night Buses Report.docx"), Some("Night Buses Report".into()));
        assert_eq!(title("Microsoft Word - Night Buses Report"), Some("Night Buses Report".into()));
        assert_eq!(title("C:\\Users\\jo\\Night buses.doc"), Some("Night buses".into()));
        assert_eq!(title("Version 2.0 of the plan"), Some("Version 2.0 of the plan".into()));
        assert_eq!(title("Dune"), Some("Dune".into()));
        for junk in [
            "",
            "  ",
            "\u{0}",
            "---",
            "Untitled",
            "untitled-1",
            "Untitled document",
            "Document1",
            "title",
            "Microsoft Word - x.docx",
            "Microsoft Word - Document2",
            "Microsoft PowerPoint - deck_v3.pptx",
            "report_final.pdf",
            "/tmp/scan0001",
            "C:\\Users\\jo\\report.doc",
        ] {
            assert_eq!(title(junk), None, "{junk:?}");
        }
        assert_eq!(usable_author(" Maria  Okafor "), Some("Maria Okafor".into()));
        assert_eq!(usable_author("Administrator"), None);
        assert_eq!(usable_author(""), None);
    }

    #[test]
    fn pdf_dates_become_calendar_days() {
        assert_eq!(pdf_date("D:20240219103000+01'00'"), Some("2024-02-19".into()));
        assert_eq!(pdf_date("D:20240229"), Some("2024-02-29".into()));
        assert_eq!(pdf_date(" 20231231235959Z"), Some("2023-12-31".into()));
        for bad in [
            "",
            "D:",
            "D:2024",
            "D:202402",
            "D:20230229",
            "D:20241301",
            "D:20240400",
            "D:00000101",
            "D:2024-02-19",
            "D:２０２４0219",
        ] {
            assert_eq!(pdf_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn page_numbers_are_recognised() {
        for l in ["7", " - 7 - ", "Page 7", "page 7 of 12", "7 / 12", "vii"] {
            assert!(is_page_number(l), "{l}");
        }
        for l in ["7 buses", "In 2024 the city", "", "Civic"] {
            assert!(!is_page_number(l), "{l}");
        }
    }

    #[test]
    fn a_broken_word_is_joined_and_a_compound_keeps_its_hyphen() {
        let page = |body: &str| vec![body.to_string()];
        // The document's own words decide, either way.
        assert_eq!(
            clean_pages(&page("The co-\noperative met. The co-operative grew.")),
            "The co-operative met. The co-operative grew."
        );
        assert_eq!(
            clean_pages(&page("The co-\noperative met. The cooperative grew.")),
            "The cooperative met. The cooperative grew."
        );
        assert_eq!(
            clean_pages(&page("A state-\nment on Tues-\nday: a five-\nyear plan for a self-\nrun, city-\nowned and sea-\nson-\nbased network.")),
            "A statement on Tuesday: a five-year plan for a self-run, city-owned and season-based network."
        );
        // A capitalized second part is a compound of names.
        assert_eq!(clean_pages(&page("The Franco-\nGerman border.")), "The Franco-German border.");
    }

    #[test]
    fn double_spaced_lines_join_into_paragraphs_that_end_with_sentences() {
        let single = "The city council voted on Tuesday to expand the bus network, adding twelve routes and
extending evening service until midnight. Officials said the plan would cost four
million dollars a year, paid by parking fees. Residents welcomed the decision at a
crowded public meeting downtown.
Der Stadtrat hat am Dienstag beschlossen, das Busnetz zu erweitern. Zwölf neue Linien
kommen hinzu, und der Abendverkehr wird bis Mitternacht verlängert. Die Kosten von
vier Millionen Euro jährlich werden durch Parkgebühren gedeckt. Anwohner begrüßten
die Entscheidung; Bürgermeisterin Jürgens sprach von großem Fortschritt.
Le conseil municipal a voté mardi l'extension du réseau de bus : douze lignes
ajoutées, service prolongé jusqu'à minuit.";
        let double = single.replace('\n', "\n\n");
        let paragraphs: Vec<String> =
            clean_pages(std::slice::from_ref(&double)).split("\n\n").map(str::to_string).collect();
        assert_eq!(paragraphs.len(), 3, "{paragraphs:#?}");
        assert!(paragraphs[0].starts_with("The city council") && paragraphs[0].ends_with("downtown."));
        assert!(paragraphs[1].starts_with("Der Stadtrat") && paragraphs[1].ends_with("Fortschritt."));
        // Single spacing, where a blank line is a paragraph's end, is read as before.
        let spaced = "First paragraph without an end\n\nSecond one.\nIt goes on.\nAnd on.\nAnd on again.\nStill.\nMore.\nYet more.\nLast.\nEnd.";
        assert!(clean_pages(&[spaced.to_string()]).starts_with("First paragraph without an end\n\nSecond one."));
    }

    #[test]
    fn headers_footers_and_hyphens_are_cleaned() {
        let bodies = [
            "Alpha has a long infor-\nmation line that wraps\nonto another line.",
            "Bravo keeps its read-\ners busy with lines\nthat run on.",
            "Charlie ends the well-\nknown story here.",
        ];
        let pages: Vec<String> = bodies
            .iter()
            .enumerate()
            .map(|(n, body)| format!("Riverton Transit Report\n\n{body}\n\n{}\n", n + 1))
            .collect();
        assert_eq!(
            clean_pages(&pages),
            "Alpha has a long information line that wraps onto another line.\n\n\
             Bravo keeps its readers busy with lines that run on.\n\n\
             Charlie ends the well-known story here."
        );
    }
}
