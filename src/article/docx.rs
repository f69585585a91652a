//! Word documents (`.docx`): the paragraphs of `word/document.xml` in order, with Title and
//! Heading styles kept as structure, and the title, author and creation date from
//! `docProps/core.xml`. Text boxes are read once (not their fallback copies), after the
//! paragraph they are anchored in; hidden text, text a tracked change moved away and ruby
//! readings (furigana) are not read. The XML is read with a small scanner over the few elements
//! that carry text; nothing else in the package (macros, images, links) is opened. A file that
//! is not a Word document says what it is: one saved with a password (an OLE compound file
//! holding an encrypted package, or a zip whose entries are encrypted), an older Office file, a
//! spreadsheet, a presentation or an OpenDocument file.
//!
//! The work is bounded by the input: a part is inflated as a stream and refused as damaged as
//! soon as it would pass `MAX_PART_BYTES` (never inflated whole first), the scanner makes one
//! pass with no backtracking (an entity is looked for in the next few bytes only), and the text
//! is refused once it passes the 50 MB every format is held to.

use std::io::Read;

use crate::error::InputProblem;

/// Most bytes of XML one part of the package may inflate to; a part that would inflate past it
/// is refused as damaged, so a zip bomb cannot exhaust memory. Word's markup is about four to
/// ten times the text it holds, so this leaves room for a document of 50 MB of text.
pub const MAX_PART_BYTES: u64 = 200 * 1024 * 1024;

/// Paragraphs set aside while the text boxes inside them are read; Word nests text boxes a level
/// or two.
const MAX_NESTED_PARAGRAPHS: usize = 16;

/// What a Word document holds, before the shared checks.
pub struct Extracted {
    pub title: Option<String>,
    pub byline: Option<String>,
    pub published: Option<String>,
    /// Paragraphs separated by blank lines (not yet normalized).
    pub text: String,
}

/// True for a zip package that holds a Word document body.
pub fn sniff(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") && bytes.windows(17).any(|w| w == b"word/document.xml")
}

/// The signature of an OLE compound file: what Word saves a document with a password as (the
/// encrypted package inside one), and the format of Office before 2007 (.doc, .xls, .ppt).
const COMPOUND_FILE: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";

/// True for an OLE compound file, which `extract` tells apart.
pub fn sniff_compound(bytes: &[u8]) -> bool {
    bytes.starts_with(COMPOUND_FILE)
}

/// What an OLE compound file is, told by the names of its streams (in UTF-16 in its directory).
fn compound_file(bytes: &[u8]) -> InputProblem {
    let has = |name: &str| {
        let name: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
        bytes.windows(name.len()).any(|w| w == name)
    };
    if has("EncryptedPackage") {
        InputProblem::PasswordProtected
    } else if has("WordDocument") {
        InputProblem::NotWord { what: "an older Word document (.doc)" }
    } else if has("Workbook") {
        InputProblem::NotWord { what: "an older Excel spreadsheet (.xls)" }
    } else if has("PowerPoint Document") {
        InputProblem::NotWord { what: "an older PowerPoint presentation (.ppt)" }
    } else {
        InputProblem::NotWord { what: "an older Microsoft Office file" }
    }
}

/// What a zip package without a Word document body is, by the parts it has.
fn other_package<R: Read + std::io::Seek>(zip: &mut zip::ZipArchive<R>) -> InputProblem {
    if zip.index_for_name("xl/workbook.xml").is_some() {
        return InputProblem::NotWord { what: "an Excel spreadsheet (.xlsx)" };
    }
    if zip.index_for_name("ppt/presentation.xml").is_some() {
        return InputProblem::NotWord { what: "a PowerPoint presentation (.pptx)" };
    }
    // OpenDocument names its kind in its first part, `mimetype`.
    match read_part(zip, "mimetype").ok().flatten() {
        Some(kind) if kind.starts_with("application/vnd.oasis.opendocument.text") => {
            InputProblem::NotWord { what: "an OpenDocument text (.odt)" }
        }
        Some(kind) if kind.starts_with("application/vnd.oasis.opendocument") => {
            InputProblem::NotWord { what: "an OpenDocument file (a spreadsheet or presentation)" }
        }
        _ => broken("it has no word/document.xml"),
    }
}

fn broken(detail: impl std::fmt::Display) -> InputProblem {
    InputProblem::Broken { format: "Word (DOCX)", detail: detail.to_string() }
}

/// Reads the document's paragraphs and properties.
pub fn extract(bytes: &[u8]) -> Result<Extracted, InputProblem> {
    if sniff_compound(bytes) {
        return Err(compound_file(bytes));
    }
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(broken)?;
    let Some(body) = read_part(&mut zip, "word/document.xml")? else {
        return Err(other_package(&mut zip));
    };
    let core = read_part(&mut zip, "docProps/core.xml").unwrap_or(None).unwrap_or_default();

    let mut paragraphs: Vec<(Option<String>, String)> = Vec::new();
    let (mut style, mut text, mut in_text, mut in_para) = (None::<String>, String::new(), false, false);
    let mut total = 0usize;
    // A text box's paragraphs sit inside the paragraph that anchors it: that one is set aside
    // until they end (at most `MAX_NESTED_PARAGRAPHS` deep; a paragraph deeper than that starts
    // afresh, as every paragraph did before).
    let mut outer: Vec<(Option<String>, String)> = Vec::new();
    // Inside what Word writes twice or keeps only for tracking: the fallback copy of a text box
    // or drawing (`mc:Fallback`, read once as `mc:Choice`), and text moved elsewhere
    // (`w:moveFrom`, read where it went); and a ruby's reading (`w:rt`, the furigana set over
    // its base text, which is the sentence's). Depths, as such elements may nest.
    let (mut skipped, mut in_run, mut hidden) = (0usize, false, false);
    for item in scan(&body) {
        match item {
            Item::Open("mc:Fallback" | "w:moveFrom" | "w:rt", tag) if !tag.ends_with('/') => skipped += 1,
            Item::Close("mc:Fallback" | "w:moveFrom" | "w:rt") => skipped = skipped.saturating_sub(1),
            _ if skipped > 0 => {}
            Item::Open("w:r", tag) => (in_run, hidden) = (!tag.ends_with('/'), false),
            Item::Close("w:r") => (in_run, hidden) = (false, false),
            // Hidden text (a run formatted as hidden) is not shown in Word, nor here.
            Item::Open("w:vanish", tag) if in_run => {
                hidden = !matches!(attr(tag, "w:val").as_deref(), Some("0" | "false" | "off"))
            }
            Item::Open("w:p", tag) => {
                if in_para && outer.len() < MAX_NESTED_PARAGRAPHS {
                    outer.push((style.take(), std::mem::take(&mut text)));
                }
                in_para = true;
                style = None;
                text.clear();
                if tag.ends_with('/') {
                    in_para = false;
                    if let Some((s, t)) = outer.pop() {
                        (style, text, in_para) = (s, t, true);
                    }
                }
            }
            Item::Close(name) if name == "w:p" && in_para => {
                in_para = false;
                // Empty paragraphs are never shown, and a hostile part can hold millions.
                if text.trim().is_empty() {
                    text.clear();
                } else {
                    total += text.len();
                    if total as u64 > super::MAX_INPUT_BYTES {
                        return Err(InputProblem::TextTooLarge { size: total as u64, limit: super::MAX_INPUT_BYTES });
                    }
                    paragraphs.push((style.take(), std::mem::take(&mut text)));
                }
                if let Some((s, t)) = outer.pop() {
                    (style, text, in_para) = (s, t, true);
                }
            }
            Item::Open("w:pStyle", tag) => style = attr(tag, "w:val"),
            Item::Open("w:t", tag) => in_text = !tag.ends_with('/'),
            Item::Close("w:t") => in_text = false,
            Item::Open(name, _) if name == "w:tab" && in_para => text.push('\t'),
            Item::Open(name, _) if (name == "w:br" || name == "w:cr") && in_para => text.push('\n'),
            Item::Open("w:noBreakHyphen", _) if in_para && !hidden => text.push('-'),
            Item::Text(_) if hidden => {}
            Item::Text(t) if in_text => {
                text.push_str(&unescape(t));
                if (total + text.len()) as u64 > super::MAX_INPUT_BYTES {
                    let size = (total + text.len()) as u64;
                    return Err(InputProblem::TextTooLarge { size, limit: super::MAX_INPUT_BYTES });
                }
            }
            _ => {}
        }
    }

    let is_heading = |s: &Option<String>| {
        s.as_deref().is_some_and(|s| {
            let s = s.to_ascii_lowercase();
            s.starts_with("heading") || s == "title" || s == "subtitle"
        })
    };
    let clean = |s: &str| {
        let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
        (!s.is_empty()).then_some(s)
    };
    let first_titled = paragraphs.iter().find(|(s, t)| {
        s.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("title") || s.eq_ignore_ascii_case("heading1"))
            && !t.trim().is_empty()
    });
    let title =
        element_text(&core, "dc:title").and_then(|t| clean(&t)).or_else(|| first_titled.and_then(|(_, t)| clean(t)));
    // The title shown apart is taken off the top of the text.
    let first_nonempty = paragraphs.iter().position(|(_, t)| !t.trim().is_empty());
    if let (Some(i), Some(title)) = (first_nonempty, &title) {
        if is_heading(&paragraphs[i].0) && clean(&paragraphs[i].1).as_deref() == Some(title.as_str()) {
            paragraphs.remove(i);
        }
    }
    let text = paragraphs.iter().map(|(_, t)| t.trim()).filter(|t| !t.is_empty()).collect::<Vec<_>>().join("\n\n");
    Ok(Extracted {
        title,
        byline: element_text(&core, "dc:creator").and_then(|t| clean(&t)),
        published: element_text(&core, "dcterms:created").and_then(|d| super::html::date_prefix(&d)),
        text,
    })
}

/// A part of the package as text; `None` when the package has no such part. A part that says
/// or turns out to inflate past `MAX_PART_BYTES` is refused as soon as that is known.
fn read_part<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
) -> Result<Option<String>, InputProblem> {
    let file = match zip.by_name(name) {
        Ok(f) => f,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        // Zip's own encryption (ZipCrypto or AES), as some tools apply it.
        Err(zip::result::ZipError::UnsupportedArchive(why)) if why == zip::result::ZipError::PASSWORD_REQUIRED => {
            return Err(InputProblem::PasswordProtected)
        }
        Err(e) => return Err(broken(e)),
    };
    let too_big = || broken(format!("{name} would inflate to over {} MB", MAX_PART_BYTES >> 20));
    if file.size() > MAX_PART_BYTES {
        return Err(too_big());
    }
    let mut xml = Vec::with_capacity(file.size() as usize);
    file.take(MAX_PART_BYTES + 1).read_to_end(&mut xml).map_err(|e| broken(format!("{name}: {e}")))?;
    if xml.len() as u64 > MAX_PART_BYTES {
        return Err(too_big());
    }
    String::from_utf8(xml).map(Some).map_err(|_| broken(format!("{name} is not UTF-8 XML")))
}

enum Item<'a> {
    /// An opening or empty element: its name and the rest of the tag (ending in `/` if empty).
    Open(&'a str, &'a str),
    Close(&'a str),
    Text(&'a str),
}

/// The elements and text runs of an XML document, in order; comments, declarations and
/// processing instructions are skipped.
fn scan(xml: &str) -> impl Iterator<Item = Item<'_>> {
    let mut rest = xml;
    std::iter::from_fn(move || loop {
        if rest.is_empty() {
            return None;
        }
        if !rest.starts_with('<') {
            let end = rest.find('<').unwrap_or(rest.len());
            let (text, after) = rest.split_at(end);
            rest = after;
            return Some(Item::Text(text));
        }
        let end = rest.find('>').map_or(rest.len(), |e| e + 1);
        let (tag, after) = rest.split_at(end);
        rest = after;
        let inner = tag.trim_start_matches('<').trim_end_matches('>');
        if inner.starts_with(['?', '!']) {
            continue;
        }
        if let Some(name) = inner.strip_prefix('/') {
            return Some(Item::Close(name.trim()));
        }
        let name_end = inner.find(|c: char| c.is_whitespace() || c == '/').unwrap_or(inner.len());
        return Some(Item::Open(&inner[..name_end], &inner[name_end..]));
    })
}

/// The value of attribute `name` in the rest of a tag: the first `name=` that starts an attribute
/// (after white space) and is followed by a quotation mark.
fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!("{name}=");
    let mut from = 0;
    while let Some(pos) = tag[from..].find(&key) {
        let at = from + pos;
        from = at + key.len();
        if at != 0 && !tag[..at].ends_with(|c: char| c.is_ascii_whitespace()) {
            continue;
        }
        let quoted = &tag[from..];
        let Some(q) = quoted.chars().next().filter(|c| matches!(c, '"' | '\'')) else { continue };
        return quoted[q.len_utf8()..].split(q).next().map(unescape);
    }
    None
}

/// Most bytes of a property kept (a title, an author, a date): far more than any needs, and the
/// article's title is cut shorter still (`article::MAX_TITLE_CHARS`).
const MAX_PROPERTY_BYTES: usize = 16 * 1024;

/// The text of the first element called `name`, unescaped, at most about `MAX_PROPERTY_BYTES`.
fn element_text(xml: &str, name: &str) -> Option<String> {
    let mut inside = false;
    let mut out = String::new();
    for item in scan(xml) {
        match item {
            Item::Open(n, tag) if n == name && !tag.ends_with('/') => inside = true,
            Item::Close(n) if n == name && inside => return Some(out),
            Item::Text(t) if inside && out.len() < MAX_PROPERTY_BYTES => {
                let mut end = t.len().min(MAX_PROPERTY_BYTES);
                while !t.is_char_boundary(end) {
                    end -= 1;
                }
                out.push_str(&unescape(&t[..end]));
            }
            _ => {}
        }
    }
    None
}

/// Replaces XML's five named entities and numeric character references.
fn unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        // An entity is short: look for its `;` in the next 12 bytes only, so a text of many `&`
        // is read in one pass.
        let Some(semi) = rest.as_bytes().iter().take(13).position(|&b| b == b';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let ch = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .map(|h| u32::from_str_radix(h, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_entities() {
        assert_eq!(unescape("a &amp; b &lt;c&gt; &#233;&#x2013; & x"), "a & b <c> é– & x");
    }

    #[test]
    fn many_ampersands_are_read_in_one_pass() {
        // Searching to the end of the text for every `&` would not finish this test.
        let text = "&".repeat(4 << 20);
        assert_eq!(unescape(&text).len(), text.len());
    }

    #[test]
    fn an_attribute_is_found_only_where_one_starts() {
        // `w:val=` inside another attribute's value, before a multi-byte character.
        assert_eq!(attr(r#" w:x="aw:val=é" w:val="Heading1""#, "w:val").as_deref(), Some("Heading1"));
        assert_eq!(attr(r#" w:x="w:val=é""#, "w:val"), None);
        assert_eq!(attr(r#" w:val=é"#, "w:val"), None);
        assert_eq!(attr(r#" w:val='Title'"#, "w:val").as_deref(), Some("Title"));
    }

    #[test]
    fn scans_elements_and_text() {
        let xml = r#"<?xml version="1.0"?><w:p><w:pPr><w:pStyle w:val="Heading2"/></w:pPr><w:r><w:t xml:space="preserve">Hi </w:t></w:r></w:p>"#;
        assert_eq!(element_text(xml, "w:t").as_deref(), Some("Hi "));
        assert!(scan(xml)
            .any(|i| matches!(i, Item::Open("w:pStyle", t) if attr(t, "w:val").as_deref() == Some("Heading2"))));
    }
}
