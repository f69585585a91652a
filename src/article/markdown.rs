//! Markdown to plain text: the markup goes, the structure stays. Headings, paragraphs, list
//! items and code blocks become their own lines or paragraphs; links keep their text; images
//! are dropped. Used for Markdown articles and for the Markdown the HTML extractor produces.
//! A Markdown file's front matter (the YAML or TOML block static-site generators put first) is
//! not article text: `front_matter` takes it off and reads its title, author and date.
//!
//! pulldown-cmark builds the tree of the whole document it is given before the first event, about
//! 50 bytes of memory for each byte of a table or list (a 48 MB table took 2.4 GB), so a long
//! document is read in pieces of at most `PIECE_BYTES`, cut at a blank line outside a fenced code
//! block where there is one (else at a line end, else at a space): memory stays near that of one
//! piece. A block that spans a cut is read as two (a table cut between rows is given its header
//! rows again, so that its rows stay a table), and a link's reference defined in another piece is
//! not resolved; no ordinary article comes near the size where that happens.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// A Markdown document as plain text, with the text of its first top-level `# ` heading.
pub struct Plain {
    pub text: String,
    pub first_h1: Option<String>,
}

/// What a Markdown file's front matter says about the article.
#[derive(Debug, Default, PartialEq)]
pub struct FrontMatter {
    pub title: Option<String>,
    pub author: Option<String>,
    pub date: Option<String>,
}

/// Splits the front matter off a Markdown file: a block that opens on the first line with `---`
/// (YAML) or `+++` (TOML), closes with the same line (or `...` for YAML), and whose first line
/// inside is a key (`title: …`, `title = …`) or a TOML table (`[params]`). A thematic break
/// (`---`) that opens an ordinary document is not a key, and a block that never closes is not
/// front matter: both are left as they are. Returns what the block says and the Markdown after it.
pub fn front_matter(markdown: &str) -> (Option<FrontMatter>, &str) {
    let doc = markdown.strip_prefix('\u{feff}').unwrap_or(markdown);
    let (fence, closers): (&str, &[&str]) = if doc.starts_with("---") {
        ("---", &["---", "..."])
    } else if doc.starts_with("+++") {
        ("+++", &["+++"])
    } else {
        return (None, markdown);
    };
    let mut lines = doc.split_inclusive('\n');
    let Some(opening) = lines.next().filter(|l| l.trim_end() == fence) else {
        return (None, markdown);
    };
    let toml = fence == "+++";
    let mut matter = FrontMatter::default();
    let mut at = opening.len();
    let mut first = true;
    for line in lines {
        let end = at + line.len();
        let trimmed = line.trim_end();
        if closers.contains(&trimmed) {
            if first {
                return (None, markdown);
            }
            // A date with a time keeps its day, as a page's publication date does.
            matter.date = matter.date.map(|d| super::html::date_prefix(&d).unwrap_or(d));
            return (Some(matter), &doc[end..]);
        }
        if first && !trimmed.trim().is_empty() {
            first = false;
            if !opens_with_key(trimmed, toml) {
                return (None, markdown);
            }
        }
        // Only top-level keys with a value on their own line (not nested, not lists).
        if !line.starts_with([' ', '\t']) {
            let pair = if toml { trimmed.split_once('=') } else { trimmed.split_once(':') };
            if let Some((key, value)) = pair {
                let value = unquote(value.trim());
                let slot = match key.trim().to_ascii_lowercase().as_str() {
                    "title" => Some(&mut matter.title),
                    "author" => Some(&mut matter.author),
                    "date" => Some(&mut matter.date),
                    _ => None,
                };
                if let (Some(slot), false) = (slot, value.is_empty()) {
                    slot.get_or_insert_with(|| value.to_string());
                }
            }
        }
        at = end;
    }
    (None, markdown)
}

/// Whether `line` is a key of YAML (`key:`) or TOML (`key =`, `[table]`).
fn opens_with_key(line: &str, toml: bool) -> bool {
    let line = line.trim();
    if toml && line.starts_with('[') && line.ends_with(']') {
        return true;
    }
    let split = if toml { line.split_once('=') } else { line.split_once(':') };
    split.is_some_and(|(key, _)| {
        let key = key.trim();
        !key.is_empty()
            && key.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
    })
}

/// A scalar value without its quotation marks; a list or table (`[…]`, `{…}`) is no value here.
fn unquote(value: &str) -> &str {
    let quoted = ['"', '\''].iter().find(|&&q| value.len() >= 2 && value.starts_with(q) && value.ends_with(q));
    match quoted {
        Some(_) => value[1..value.len() - 1].trim(),
        None if value.starts_with(['[', '{', '|', '>']) => "",
        None => value,
    }
}

/// Most bytes of Markdown parsed at once: about 100 MB of pulldown-cmark's tree at most.
pub const PIECE_BYTES: usize = 2 << 20;

/// Renders Markdown as plain text: blocks separated by blank lines, list items and table rows
/// on lines of their own, soft line breaks as spaces.
pub fn to_plain(markdown: &str) -> Plain {
    let mut plain = Plain { text: String::new(), first_h1: None };
    let mut rest = markdown;
    // The header and delimiter rows of a table that the last cut fell inside.
    let mut header: Option<&str> = None;
    while !rest.is_empty() {
        let (piece, after) = rest.split_at(piece_end(rest, PIECE_BYTES));
        match header {
            Some(head) => render(&format!("{head}{piece}"), &mut plain, true),
            None => render(piece, &mut plain, false),
        }
        header = table_cut(piece, after, header);
        rest = after;
    }
    plain.text.truncate(plain.text.trim_end().len());
    plain
}

/// Where the first piece of `markdown` ends: all of it when within `limit` bytes, else after the
/// last blank line within `limit` that is outside a fenced code block, else after the last line
/// end within it, else after the last space (or at the limit itself, on a character boundary).
fn piece_end(markdown: &str, limit: usize) -> usize {
    if markdown.len() <= limit {
        return markdown.len();
    }
    let (mut blank, mut line, mut fenced) = (None, None, false);
    let mut at = 0;
    for text in markdown.split_inclusive('\n') {
        if at + text.len() > limit {
            break;
        }
        at += text.len();
        let trimmed = text.trim();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
        }
        if text.ends_with('\n') {
            line = Some(at);
            if trimmed.is_empty() && !fenced {
                blank = Some(at);
            }
        }
    }
    let mut end = limit;
    while !markdown.is_char_boundary(end) {
        end -= 1;
    }
    blank.or(line).filter(|&e| e > 0).unwrap_or_else(|| markdown[..end].rfind(' ').map_or(end, |s| s + 1).max(1))
}

/// When the cut between `piece` and `after` falls inside a table (rows that start with `|` on
/// both sides), the table's header and delimiter rows, so that the next piece reads its rows as
/// the same table: from `piece` when the table starts there, else `carried`, the rows the table
/// started with in an earlier piece.
fn table_cut<'a>(piece: &'a str, after: &str, carried: Option<&'a str>) -> Option<&'a str> {
    let row = |line: &str| line.trim_start().starts_with('|');
    if !piece.ends_with('\n') || !after.lines().next().is_some_and(row) {
        return None;
    }
    let lines: Vec<&str> = piece.split_inclusive('\n').collect();
    let rows = lines.iter().rev().take_while(|l| row(l)).count();
    if rows == 0 {
        return None;
    }
    if rows == lines.len() && carried.is_some() {
        return carried;
    }
    let first = lines.len() - rows;
    let delimiter = |l: &str| l.trim().chars().all(|c| matches!(c, '|' | '-' | ':' | ' ')) && l.contains('-');
    if rows < 2 || !delimiter(lines[first + 1]) {
        return None;
    }
    let start = lines[..first].iter().map(|l| l.len()).sum::<usize>();
    Some(&piece[start..start + lines[first].len() + lines[first + 1].len()])
}

/// Renders one piece of Markdown onto `plain`; with `repeated_head`, the piece opens with the
/// header of a table the last piece was cut inside, which is not shown again.
fn render(markdown: &str, plain: &mut Plain, repeated_head: bool) {
    let mut skip_head = repeated_head;
    let mut in_head = false;
    let out = &mut plain.text;
    let first_h1 = &mut plain.first_h1;
    let mut heading: Option<(bool, String)> = None;
    let mut image_depth = 0usize;
    let mut in_code = false;
    let block_break = |out: &mut String| {
        let trimmed = out.trim_end_matches([' ', '\n']).len();
        out.truncate(trimmed);
        if !out.is_empty() {
            out.push_str("\n\n");
        }
    };
    let line_break = |out: &mut String| {
        let trimmed = out.trim_end_matches(' ').len();
        out.truncate(trimmed);
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
    };
    // A piece after the first starts a new block.
    block_break(out);
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::Start(Tag::Image { .. }) => image_depth += 1,
            Event::End(TagEnd::Image) => image_depth = image_depth.saturating_sub(1),
            _ if image_depth > 0 => {}
            Event::Start(Tag::TableHead) if skip_head => in_head = true,
            Event::End(TagEnd::TableHead) if in_head => (in_head, skip_head) = (false, false),
            _ if in_head => {}
            Event::Start(Tag::Heading { level, .. }) => {
                block_break(out);
                heading = Some((level == pulldown_cmark::HeadingLevel::H1, String::new()));
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((true, text)) = heading.take() {
                    if first_h1.is_none() && !text.trim().is_empty() {
                        *first_h1 = Some(text.split_whitespace().collect::<Vec<_>>().join(" "));
                    }
                }
                block_break(out);
            }
            Event::Start(Tag::CodeBlock(_)) => {
                block_break(out);
                in_code = true;
            }
            Event::End(TagEnd::CodeBlock) => {
                in_code = false;
                block_break(out);
            }
            Event::Start(Tag::Paragraph | Tag::BlockQuote(_) | Tag::List(_) | Tag::Table(_))
            | Event::End(TagEnd::Paragraph | TagEnd::BlockQuote(_) | TagEnd::List(_) | TagEnd::Table) => {
                // A paragraph inside a list item stays on the item's line.
                if out.ends_with('\n') || !matches!(event, Event::Start(Tag::Paragraph) | Event::End(TagEnd::Paragraph))
                {
                    block_break(out);
                } else {
                    line_break(out);
                }
            }
            Event::Start(Tag::Item | Tag::TableRow | Tag::TableHead)
            | Event::End(TagEnd::TableRow | TagEnd::TableHead) => line_break(out),
            Event::End(TagEnd::TableCell) => out.push(' '),
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, h)) = heading.as_mut() {
                    h.push_str(&t);
                }
                out.push_str(&t);
            }
            Event::SoftBreak => out.push(if in_code { '\n' } else { ' ' }),
            Event::HardBreak => out.push('\n'),
            Event::Rule => block_break(out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_is_read_and_taken_off() {
        let yaml = "---\ntitle: \"Night buses\"\nauthor: Jane Roe\ndate: 2024-03-05T10:00:00+01:00\ntags:\n  - transit\n  - title: nested\n---\nThe council voted.\n";
        let (matter, rest) = front_matter(yaml);
        let matter = matter.expect("YAML front matter");
        assert_eq!(matter.title.as_deref(), Some("Night buses"));
        assert_eq!(matter.author.as_deref(), Some("Jane Roe"));
        assert_eq!(matter.date.as_deref(), Some("2024-03-05"));
        assert_eq!(rest, "The council voted.\n");
        let toml = "\u{feff}+++\ntitle = 'Night buses'\ndraft = false\n[params]\nauthor = \"Someone Else\"\n+++\n\n# Heading\n";
        let (matter, rest) = front_matter(toml);
        assert_eq!(matter.unwrap().title.as_deref(), Some("Night buses"));
        assert_eq!(rest, "\n# Heading\n");
        let closed_by_dots = "---\ntitle: A\n...\nText.";
        assert_eq!(front_matter(closed_by_dots).1, "Text.");
    }

    #[test]
    fn a_leading_rule_or_an_unclosed_block_is_no_front_matter() {
        for doc in [
            "---\n\nThe council voted on Tuesday.\n\n---\n\nMore text.",
            "---\nThe council voted: seven to two.\n---\n",
            "---\ntitle: Never closed\n\nThe council voted.",
            "--- title: inline\n---\n",
            "Text first.\n---\ntitle: x\n---\n",
        ] {
            assert_eq!(front_matter(doc), (None, doc), "{doc:?}");
        }
    }

    #[test]
    fn markup_goes_structure_stays() {
        let md = "# The Title\n\nSome *emphasis* and a [link](http://x.y) and ![pic](a.png).\n\n\
                  ## Part two\n\n- one\n- two\n\n```\nlet x = 1;\nlet y = 2;\n```\n\nEscaped \\* star.";
        let p = to_plain(md);
        assert_eq!(p.first_h1.as_deref(), Some("The Title"));
        assert_eq!(
            p.text,
            "The Title\n\nSome emphasis and a link and .\n\nPart two\n\none\ntwo\n\nlet x = 1;\nlet y = 2;\n\nEscaped * star."
        );
    }

    #[test]
    fn a_table_cut_between_pieces_keeps_its_header_and_reads_as_a_table() {
        let rows: String = (0..PIECE_BYTES / 8).map(|i| format!("| {:>3} |\n", i % 1000)).collect();
        let table = format!("Intro.\n\n| n |\n|---|\n{rows}");
        let plain = to_plain(&table).text;
        assert!(!plain.contains('|'), "{}", &plain[..200]);
        assert_eq!(plain.lines().filter(|l| l.trim() == "n").count(), 1);
        assert_eq!(plain.lines().filter(|l| !l.trim().is_empty()).count(), 2 + PIECE_BYTES / 8);
    }

    #[test]
    fn a_long_document_is_read_in_pieces_cut_between_blocks() {
        let block = "# Title\n\nA paragraph with *emphasis*,\nwrapped.\n\n```\ncode\n\nmore code\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n";
        let whole = to_plain(block).text;
        let long = block.repeat(PIECE_BYTES / block.len() * 3);
        let plain = to_plain(&long);
        assert_eq!(plain.first_h1.as_deref(), Some("Title"));
        assert_eq!(plain.text, vec![whole; PIECE_BYTES / block.len() * 3].join("\n\n"));
        // The cut is at a blank line outside code, else at a line end, else at a space.
        assert_eq!(piece_end("a\n\n```\nb\n\nc\n```\nd\n", 14), 3);
        assert_eq!(piece_end("aaaa\nbbbb\ncccc", 12), 10);
        assert_eq!(piece_end("aaaa bbbb cccc", 12), 10);
        assert_eq!(piece_end("ééééé", 5), 4);
    }
}
