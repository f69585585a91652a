//! HTML pages (as saved by a browser's "Save page as"): charset detection, a guard against
//! hostile nesting, and Readability-class extraction of the article with `trafilatura` (the
//! elements it would take the text after them with given a fate first, see `elements`; its
//! leftovers then taken off, see `leftovers`), plus its title, byline, site name and
//! publication date. The extractor's time and memory grow with the page's elements and text, so
//! only a page within `MAX_TREE_BYTES` and `MAX_TREE_ELEMENTS` (counted with the nesting, before
//! the extractor runs) is extracted; a larger one has its whole text read in one pass (`flat`).
//! Nothing in the page is run or fetched: scripts and styles are only text to the parser, and no
//! URL is ever opened.

use std::time::Duration;

use super::nesting::{self, Nesting};
use super::{elements, leftovers};
use crate::error::InputProblem;

/// Pages whose tags nest deeper than this (counted as an HTML5 parser builds the tree, see
/// `nesting`) are refused before the article is extracted: the tree builder slows down
/// quadratically on pathological nesting (it scans its stack of open elements for many tags),
/// the extractor walks the tree recursively, and no real article needs it (news pages nest 20 to
/// 80 deep; Blink stops nesting at 512). It was 5,000 while depth was counted tag by tag; counted
/// as a browser builds the tree, reaching 5,000 cost the counting alone 0.3 s (release) to 5 s
/// (debug) and trafilatura up to 10 s more on a page of a few kilobytes, 25 times what 1,000 costs.
pub const MAX_NESTING: usize = 1_000;

/// What the extractor found in a page, before the shared length checks.
pub struct Extracted {
    pub title: Option<String>,
    pub byline: Option<String>,
    pub site: Option<String>,
    pub published: Option<String>,
    /// Plain text, paragraphs separated by blank lines (not yet normalized).
    pub text: String,
    /// The page was too large for the article extractor: this is all of its text (`flat`).
    pub whole_page: bool,
}

/// True when the bytes look like HTML: a doctype or a common tag opens the first kilobyte,
/// after any byte-order mark and whitespace.
pub fn sniff(bytes: &[u8]) -> bool {
    let head = decode(&bytes[..bytes.len().min(4096)]);
    let start = head.trim_start_matches('\u{feff}').trim_start();
    let lower: String = start.chars().take(1024).collect::<String>().to_ascii_lowercase();
    if lower.starts_with("<!doctype html") || lower.starts_with("<?xml") && lower.contains("<html") {
        return true;
    }
    if !lower.starts_with('<') {
        return false;
    }
    ["<html", "<head", "<body", "<!--", "<meta", "<title", "<p>", "<p ", "<div", "<article"]
        .iter()
        .any(|t| lower.starts_with(t))
        || ["<html", "<head", "<body"].iter().any(|t| lower.contains(t))
}

/// Decodes a page: a byte-order mark first, then a `<meta charset>` or `http-equiv` declaration
/// in the first 4 KB, else UTF-8, else the legacy encoding `chardetng` finds likeliest.
pub fn decode(bytes: &[u8]) -> String {
    if let Some(text) = super::decode_bom(bytes) {
        return text;
    }
    if let Some(enc) = declared_charset(&bytes[..bytes.len().min(4096)]) {
        // A page that declares UTF-16 but has no BOM is read as ASCII-compatible, as browsers do.
        if enc != encoding_rs::UTF_16LE && enc != encoding_rs::UTF_16BE {
            return super::decode_declared(bytes, enc);
        }
    }
    super::decode_unlabelled(bytes)
}

/// The encoding named by `charset=` inside a `<meta` tag, if any.
fn declared_charset(head: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let lower = head.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = find(&lower[from..], b"<meta") {
        let tag_start = from + pos;
        let tag_end = find(&lower[tag_start..], b">").map_or(lower.len(), |e| tag_start + e);
        let tag = &lower[tag_start..tag_end];
        if let Some(c) = find(tag, b"charset=") {
            let value: Vec<u8> = tag[c + 8..]
                .iter()
                .skip_while(|b| matches!(b, b'"' | b'\'' | b' '))
                .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.'))
                .copied()
                .collect();
            if let Some(enc) = encoding_rs::Encoding::for_label(&value) {
                return Some(enc);
            }
        }
        from = tag_end;
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Time the nesting count may take: an ordinary page of 50 MB takes under a second or two;
/// one whose every tag makes the tree builder scan thousands of open elements takes minutes.
pub const NESTING_BUDGET: Duration = Duration::from_secs(4);

/// Stack of the thread that extracts the article. trafilatura and the HTML-to-Markdown step walk
/// the tree recursively: measured, a page nested 5,000 deep needed under 2 MB (divs, lists,
/// quotes, formatting) and 2-4 MB (tables, 6,663 levels counting rows and cells) — a thread's
/// default is 2 MB, and `<p.x>` repeated 200,000 times (which the old count missed) overflowed
/// even the main thread's 8 MB. This is far more than `MAX_NESTING` needs, and it is only reserved
/// address space: the pages a page touches are all it costs.
const EXTRACT_STACK: usize = 64 << 20;

/// Most bytes of page the article extractor is given. Measured (debug build, the extractor
/// itself optimized), it takes about 0.4 µs a byte of text: a 10 MB page of paragraphs 4.1 s, one
/// 50 MB text 16 s and 0.9 GB. Saved news and documentation pages are 20 to 300 KB.
pub const MAX_TREE_BYTES: usize = 4 << 20;
/// Most elements of a page the article extractor is given. Measured, it takes about 10 µs and a
/// kilobyte an element (500,000 `<br>` 5.4 s and 1.3 GB); the 30 saved news pages of the
/// development corpus have 140 to 1,600 elements, long documentation pages up to 4,000.
pub const MAX_TREE_ELEMENTS: usize = 50_000;

/// Extracts the article from a decoded page: a page over `MAX_TREE_BYTES` has its whole text read
/// in one pass (`flat`); otherwise the nesting and the elements are counted first, a page that
/// nests too deep or takes too long to build is refused, one with over `MAX_TREE_ELEMENTS`
/// elements has its whole text read, and the article of any other is extracted on a thread of its
/// own with a stack sized for the deepest page allowed.
pub fn extract(html: &str) -> Result<Extracted, InputProblem> {
    let slim;
    let html = if html.len() > MAX_TREE_BYTES {
        // A page saved as one file carries its pictures and styles: without them it may fit.
        slim = without_inlined(html);
        if slim.len() > MAX_TREE_BYTES {
            return whole_page(html);
        }
        slim.as_str()
    } else {
        html
    };
    let measured = nesting::measure_tree(html, MAX_NESTING, MAX_TREE_ELEMENTS, NESTING_BUDGET);
    match measured.nesting {
        Nesting::Depth(_) => {}
        Nesting::TooManyElements => return whole_page(html),
        Nesting::TooDeep(depth) => return Err(InputProblem::TooDeep { depth, limit: MAX_NESTING }),
        Nesting::TooSlow => return Err(InputProblem::TooComplex { seconds: NESTING_BUDGET.as_secs() }),
    }
    let strict = html.len() <= STRICT_PASS_MAX_BYTES && measured.elements <= STRICT_PASS_MAX_ELEMENTS;
    on_big_stack(|| extract_tree(html, strict))
}

/// `html` with what a page saved as one file inlines emptied: attribute values that are `data:`
/// URIs (pictures, fonts) become `data:,`, and the content of `<style>` elements goes. Neither
/// is text the extractor reads, but they count in the page's size: a saved news page with a
/// 3 MB photo inlined would otherwise pass `MAX_TREE_BYTES` and be read whole, menus and comments
/// included. One pass over the page.
fn without_inlined(html: &str) -> String {
    let bytes = html.as_bytes();
    let mut out = String::with_capacity(html.len().min(MAX_TREE_BYTES + 1));
    let (mut copied, mut at) = (0, 0);
    while let Some(found) = html[at..].find(['=', '<']) {
        let i = at + found;
        at = i + 1;
        if bytes[i] == b'=' {
            // `="data:…"`, `='data:…'`: the value up to its closing quotation mark.
            let Some(&quote) = bytes.get(i + 1).filter(|q| matches!(q, b'"' | b'\'')) else { continue };
            let value = i + 2;
            if !bytes.get(value..value + 5).is_some_and(|v| v.eq_ignore_ascii_case(b"data:")) {
                continue;
            }
            let Some(end) = html[value..].find(char::from(quote)).map(|e| value + e) else { break };
            out.push_str(&html[copied..value]);
            out.push_str("data:,");
            (copied, at) = (end, end);
        } else if bytes.get(i + 1..i + 6).is_some_and(|t| t.eq_ignore_ascii_case(b"style"))
            && bytes.get(i + 6).is_some_and(|&b| b == b'>' || b.is_ascii_whitespace())
        {
            // `<style …>` up to `</style`: its content goes, the element stays.
            let Some(open_end) = html[i..].find('>').map(|e| i + e + 1) else { break };
            let close = html[open_end..]
                .match_indices("</")
                .map(|(e, _)| open_end + e)
                .find(|&c| bytes.get(c + 2..c + 7).is_some_and(|t| t.eq_ignore_ascii_case(b"style")));
            let Some(close) = close else { break };
            out.push_str(&html[copied..open_end]);
            (copied, at) = (close, close);
        }
    }
    out.push_str(&html[copied..]);
    out
}

/// Time reading the whole text of a page may take. Measured (the whole command, optimized): 48 MB
/// of paragraphs 0.8 s, 44 MB of empty `div`s 1.5 s, 40 MB of `&amp;` 3.5 s; in a debug build the
/// tokenizer (generic over this crate's sink) runs several times slower.
pub const FLAT_BUDGET: Duration = Duration::from_secs(5);

/// All the text of a page too large for the article extractor, with its title and date.
fn whole_page(html: &str) -> Result<Extracted, InputProblem> {
    let flat = super::flat::read(html, super::MAX_INPUT_BYTES as usize, FLAT_BUDGET)
        .ok_or(InputProblem::TooComplex { seconds: FLAT_BUDGET.as_secs() })?;
    Ok(Extracted {
        title: flat.title,
        byline: None,
        site: None,
        published: published_from_meta(html),
        text: flat.text,
        whole_page: true,
    })
}

/// Runs `work` on a thread with `EXTRACT_STACK` of stack; a panic in it, or no thread to run it
/// on, is a page that cannot be read.
pub(crate) fn on_big_stack<T: Send>(work: impl FnOnce() -> Result<T, InputProblem> + Send) -> Result<T, InputProblem> {
    std::thread::scope(|scope| {
        match std::thread::Builder::new().name("precis-html".into()).stack_size(EXTRACT_STACK).spawn_scoped(scope, work)
        {
            Ok(handle) => handle.join().unwrap_or_else(|_| {
                Err(InputProblem::Broken { format: "HTML", detail: "the page could not be parsed".into() })
            }),
            Err(e) => {
                tracing::warn!(%e, "no thread for the HTML extractor");
                Err(InputProblem::Broken { format: "HTML", detail: format!("no thread to read it on ({e})") })
            }
        }
    })
}

/// Pages up to this size and `STRICT_PASS_MAX_ELEMENTS` are extracted twice, the second time
/// favouring precision, to trim the ends of the article (`leftovers::trim_to_agreement`). A news
/// page is 50 KB to 2 MB with a few thousand elements and takes milliseconds; the second pass
/// doubles the time (a 4 MB page: 1.8 s to 3.7 s, debug build), so larger pages are extracted once.
const STRICT_PASS_MAX_BYTES: usize = 2 << 20;
const STRICT_PASS_MAX_ELEMENTS: usize = 20_000;

/// The article of a page whose nesting has been checked: its metadata read from the page as it
/// is, then trafilatura's extraction of the page its elements were given a fate in (`elements`),
/// its leftovers taken off (the page's links are collected first, to recognise lists of them),
/// trimmed by a second, stricter extraction when `strict`.
fn extract_tree(html: &str, strict: bool) -> Result<Extracted, InputProblem> {
    let opts = trafilatura::Options::default().with_fallback(true);
    let mut doc = trafilatura::dom::Document::parse(html);
    // Read from the page as it is: `elements` renames its `<time>`s, which may be what dates it.
    // The extractor is then told not to look for the date again (it could miss that one).
    let meta = trafilatura::metadata::extract_metadata(&doc, &opts);
    let opts = opts.with_html_date_mode(trafilatura::HtmlDateMode::Disabled);
    let prepared = elements::prepare(&mut doc);
    tracing::debug!(removed = prepared.removed, renamed = prepared.renamed, "elements given a fate");
    // After it, so that a link's text is what the extractor shows of it (an icon's drawing gone).
    let links = leftovers::Links::new(
        doc.get_elements_by_tag_name(doc.root(), "a").into_iter().filter_map(|a| link_text(&doc, a)),
    );
    // A copy of the prepared tree for the second pass, cheaper than parsing the page again (and
    // preparing it): a page that gets one is at most `STRICT_PASS_MAX_BYTES`.
    let strict_doc = strict.then(|| doc.clone_document());
    let result = trafilatura::extract_document(doc, &opts).map_err(|_| InputProblem::NoArticle)?;
    let nonempty = |s: &str| {
        let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
        (!s.is_empty()).then_some(s)
    };
    let title = nonempty(&meta.title);
    let mut text = article_text(&result, title.as_deref(), &links);
    if let Some(strict_doc) = strict_doc {
        let strict = opts.with_focus(trafilatura::ExtractionFocus::FavorPrecision);
        if let Ok(strict) = trafilatura::extract_document(strict_doc, &strict) {
            text = leftovers::trim_to_agreement(&text, &article_text(&strict, title.as_deref(), &links));
        }
    }
    let published = published_from_meta(html).or_else(|| meta.date.map(|d| d.format("%Y-%m-%d").to_string()));
    Ok(Extracted {
        title,
        byline: nonempty(&meta.author),
        site: nonempty(&meta.sitename),
        published,
        text,
        whole_page: false,
    })
}

/// Most bytes of a link's text worth knowing: a headline, not an article wrapped in a link.
const LINK_TEXT_BYTES: usize = 300;
/// Most elements walked inside one link.
const LINK_ELEMENTS: usize = 64;

/// The text of link `a` when it is short and holds no other link (as a related-articles list
/// shows them). The walk stops at `LINK_ELEMENTS` elements or `LINK_TEXT_BYTES` bytes, and at a
/// link inside the link, so that links nested deep, or wrapped around much of a page, cost no
/// more than a headline does.
fn link_text(doc: &trafilatura::dom::Document, a: trafilatura::dom::NodeId) -> Option<String> {
    enum Step {
        Element(trafilatura::dom::NodeId),
        Tail(trafilatura::dom::NodeId),
    }
    let steps_of = |id| doc.children(id).into_iter().rev().flat_map(|c| [Step::Tail(c), Step::Element(c)]);
    let mut text = doc.text(a);
    let mut steps: Vec<Step> = steps_of(a).collect();
    let mut walked = 0;
    while let Some(step) = steps.pop() {
        if text.len() > LINK_TEXT_BYTES {
            return None;
        }
        match step {
            Step::Tail(c) => text.push_str(&doc.tail(c)),
            Step::Element(c) => {
                walked += 1;
                if walked > LINK_ELEMENTS || doc.tag_name(c).eq_ignore_ascii_case("a") {
                    return None;
                }
                text.push_str(&doc.text(c));
                steps.extend(steps_of(c));
            }
        }
    }
    (text.len() <= LINK_TEXT_BYTES).then_some(text)
}

/// An extraction's text: its Markdown without link blocks, as plain text, without the title
/// when it opens the text again, and without boilerplate paragraphs.
fn article_text(result: &trafilatura::ExtractResult, title: Option<&str>, links: &leftovers::Links) -> String {
    let plain = super::markdown::to_plain(&leftovers::without_link_blocks(&result.content_markdown(), links));
    let mut text = plain.text;
    // The Markdown often repeats the title as its first heading.
    if let Some(t) = title {
        let first = text.split("\n\n").next().unwrap_or("");
        if first.split_whitespace().eq(t.split_whitespace()) {
            text = text[first.len()..].trim_start().to_string();
        }
    }
    text.split("\n\n").filter(|p| !leftovers::is_boilerplate(p)).collect::<Vec<_>>().join("\n\n")
}

/// The publication date the page states for itself: `article:published_time` (or a few common
/// equivalents) in a `<meta>` tag, else `datePublished` in JSON-LD; trimmed to `YYYY-MM-DD`
/// when it starts with one.
fn published_from_meta(html: &str) -> Option<String> {
    const KEYS: &[&str] = &["article:published_time", "datepublished", "og:published_time", "pubdate", "publish-date"];
    let lower = html.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find("<meta") {
        let start = from + pos;
        let end = lower[start..].find('>').map_or(lower.len(), |e| start + e);
        let tag = &html[start..end];
        let tag_lower = &lower[start..end];
        if KEYS
            .iter()
            .any(|k| ["property=", "name=", "itemprop="].iter().any(|a| attr(tag_lower, a).is_some_and(|v| v == *k)))
        {
            if let Some(v) = attr(tag, "content=").or_else(|| attr(tag, "CONTENT=")) {
                if let Some(d) = date_prefix(&v) {
                    return Some(d);
                }
            }
        }
        from = end;
    }
    let key = lower.find("\"datepublished\"")?;
    let after = &html[key + "\"datepublished\"".len()..];
    let value = after.trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    date_prefix(&value[..value.find('"')?])
}

/// The value of attribute `name` (given with its `=`) in a tag, unquoted.
fn attr(tag: &str, name: &str) -> Option<String> {
    let mut search = 0;
    while let Some(p) = tag[search..].find(name) {
        let at = search + p;
        search = at + name.len();
        if at > 0 && !tag[..at].ends_with(char::is_whitespace) {
            continue;
        }
        let rest = &tag[at + name.len()..];
        return Some(match rest.chars().next() {
            Some(q @ ('"' | '\'')) => rest[1..].split(q).next().unwrap_or("").to_string(),
            _ => rest.split(|c: char| c.is_whitespace() || c == '/').next().unwrap_or("").to_string(),
        });
    }
    None
}

/// `YYYY-MM-DD` from the start of an ISO 8601 date or date-time.
pub(crate) fn date_prefix(value: &str) -> Option<String> {
    let v = value.trim();
    let b = v.as_bytes();
    let ok = b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit);
    ok.then(|| v[..10].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_html_by_content() {
        assert!(sniff(b"\xef\xbb\xbf  <!DOCTYPE html><html>"));
        assert!(sniff(b"\n<html lang=en><p>hi"));
        assert!(sniff(b"<p>Just a paragraph</p>"));
        assert!(!sniff(b"Plain text that mentions <html> later"));
        assert!(!sniff(b"# Markdown"));
    }

    #[test]
    fn charset_from_meta_and_bom() {
        assert_eq!(decode(b"<meta charset=\"iso-8859-1\"><p>caf\xe9"), "<meta charset=\"iso-8859-1\"><p>café");
        assert_eq!(
            decode(b"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1251\">\xcf"),
            "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1251\">П"
        );
        assert_eq!(decode("<p>ß".as_bytes()), "<p>ß");
        assert_eq!(decode(b"<p>\xdf"), "<p>ß");
    }

    #[test]
    fn published_date_prefers_the_page_metadata() {
        let html = r#"<meta property="article:published_time" content="2024-03-05T10:00:00+09:00">"#;
        assert_eq!(published_from_meta(html).as_deref(), Some("2024-03-05"));
        let ld = r#"<script type="application/ld+json">{"dateModified":"2024-05-01","datePublished": "2023-12-31T23:00:00Z"}</script>"#;
        assert_eq!(published_from_meta(ld).as_deref(), Some("2023-12-31"));
        assert_eq!(published_from_meta("<p>no date</p>"), None);
    }

    #[test]
    fn inlined_pictures_and_styles_are_emptied() {
        let page = "<style>body { color: red }</style><STYLE media=print>p{}</STYLE><p a=1 b='DATA:x' \
c=\"data:image/png;base64,AAAA\">x = 'data:' stays</p><styles>kept</styles>";
        assert_eq!(
            without_inlined(page),
            "<style></style><STYLE media=print></STYLE><p a=1 b='data:,' c=\"data:,\">x = 'data:' stays</p><styles>kept</styles>"
        );
        assert_eq!(without_inlined("<p>plain</p>"), "<p>plain</p>");
        assert_eq!(without_inlined("<img src=\"data:never closed"), "<img src=\"data:never closed");
    }

    #[test]
    fn a_page_over_the_size_limit_for_an_inlined_picture_gets_the_article_finder() {
        let paragraph = "The city council voted on Tuesday to expand the bus network, adding twelve routes \
and extending evening service until midnight, officials said at a crowded meeting downtown.";
        let links: String =
            (0..15).map(|i| format!("<li><a href=\"/story/{i}\">Related story number {i}</a></li>")).collect();
        let picture = "A".repeat(MAX_TREE_BYTES);
        let page = format!(
            "<html><head><title>Night buses</title><style>{}</style></head><body><nav><ul>{links}</ul></nav>\
<article><h1>Night buses</h1><img src=\"data:image/jpeg;base64,{picture}\"><p>{paragraph}</p><p>{paragraph}</p>\
<p>{paragraph}</p></article><aside><ul>{links}</ul></aside></body></html>",
            "p { margin: 0 }\n".repeat(1000)
        );
        assert!(page.len() > MAX_TREE_BYTES);
        let found = extract(&page).unwrap();
        assert!(!found.whole_page, "read whole");
        assert!(found.text.contains("evening service") && !found.text.contains("Related story"), "{}", found.text);
    }
}
