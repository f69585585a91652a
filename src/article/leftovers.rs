//! What the HTML extractor keeps around an article that is not the article, and taking it off:
//! lists and runs of links (related articles, "you may also like", navigation), stacks of
//! headings with nothing under them (newsletter boxes), call-to-action paragraphs, and the
//! paragraphs at either end of the article that a stricter extraction of the same page leaves
//! out. Each rule is structural, not a list of sites: it holds for pages in any language.

use std::collections::HashSet;
use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// One top-level block of the extractor's Markdown.
struct Block {
    range: Range<usize>,
    kind: Kind,
    /// Its text, whitespace collapsed.
    text: String,
    /// For a list: the first line of each item.
    items: Vec<String>,
}

#[derive(PartialEq)]
enum Kind {
    Paragraph,
    Heading,
    List,
    Other,
}

/// The texts of a page's links, to tell which lines of the extracted text were links (the
/// extractor's Markdown drops them), whitespace collapsed.
pub struct Links(HashSet<String>);

impl Links {
    pub fn new(texts: impl IntoIterator<Item = String>) -> Links {
        Links(texts.into_iter().map(|t| collapse(&t)).filter(|t| !t.is_empty()).collect())
    }

    fn has(&self, text: &str) -> bool {
        self.0.contains(text)
    }
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The extractor's Markdown with its link lists, runs of link-only paragraphs and stacks of
/// headings cut out, with the short line that introduces a link list ("You may also like...").
pub fn without_link_blocks(markdown: &str, links: &Links) -> String {
    let blocks = blocks(markdown);
    let all_link = |b: &Block| b.kind == Kind::Paragraph && links.has(&b.text);
    // A list whose items are mostly led by links: "related articles", a site's sections.
    let link_list = |b: &Block| {
        b.kind == Kind::List
            && b.items.len() >= 2
            && b.items.iter().filter(|i| links.has(i)).count() * 3 >= b.items.len() * 2
    };
    let mut cut = vec![false; blocks.len()];
    let mut i = 0;
    while i < blocks.len() {
        // How many blocks from `i` on form one leftover, and whether it is made of links.
        let (len, of_links) = if link_list(&blocks[i]) {
            (1, true)
        } else if all_link(&blocks[i]) {
            let run = blocks[i..].iter().take_while(|b| all_link(b)).count();
            (if run >= 2 { run } else { 0 }, true)
        } else if blocks[i].kind == Kind::Heading {
            // Three headings in a row with nothing under any of them: a box, not an outline.
            let run = blocks[i..].iter().take_while(|b| b.kind == Kind::Heading).count();
            (if run >= 3 { run } else { 0 }, false)
        } else {
            (0, false)
        };
        if len == 0 {
            i += 1;
            continue;
        }
        cut[i..i + len].iter_mut().for_each(|c| *c = true);
        let lead_in = i.checked_sub(1).filter(|&p| !cut[p] && blocks[p].kind != Kind::List);
        if let Some(p) = lead_in.filter(|&p| of_links && blocks[p].text.split(' ').count() <= 6) {
            cut[p] = true;
        }
        i += len;
    }
    if !cut.contains(&true) {
        return markdown.to_string();
    }
    let mut out = String::with_capacity(markdown.len());
    let mut from = 0;
    for (b, _) in blocks.iter().zip(&cut).filter(|(_, c)| **c) {
        out.push_str(&markdown[from..b.range.start]);
        out.push_str("\n\n");
        from = b.range.end;
    }
    out.push_str(&markdown[from..]);
    out
}

/// The top-level blocks of a Markdown document with their text and, for lists, the first line
/// of each item.
fn blocks(markdown: &str) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut depth = 0usize;
    let mut list_depth = 0usize;
    // The first line of the current top-level item, and whether that line has ended.
    let mut item: Option<(String, bool)> = None;
    let finish = |b: &mut Block, item: &mut Option<(String, bool)>| {
        if let Some((line, _)) = item.take() {
            b.items.push(collapse(&line));
        }
    };
    for (event, range) in Parser::new_ext(markdown, Options::ENABLE_TABLES).into_offset_iter() {
        match &event {
            Event::Start(tag) => {
                if depth == 0 {
                    let kind = match tag {
                        Tag::Paragraph => Kind::Paragraph,
                        Tag::Heading { .. } => Kind::Heading,
                        Tag::List(_) => Kind::List,
                        _ => Kind::Other,
                    };
                    blocks.push(Block { range: range.clone(), kind, text: String::new(), items: Vec::new() });
                }
                // A block inside an item ends its first line.
                if matches!(tag, Tag::Paragraph | Tag::Heading { .. } | Tag::List(_)) {
                    if let Some((line, done)) = item.as_mut() {
                        *done |= !line.trim().is_empty();
                    }
                }
                match tag {
                    Tag::List(_) => list_depth += 1,
                    Tag::Item if list_depth == 1 => item = Some((String::new(), false)),
                    _ => {}
                }
                depth += 1;
            }
            Event::End(tag) => {
                depth = depth.saturating_sub(1);
                match tag {
                    TagEnd::List(_) => list_depth = list_depth.saturating_sub(1),
                    TagEnd::Item if list_depth == 1 => {
                        if let Some(b) = blocks.last_mut() {
                            finish(b, &mut item);
                        }
                    }
                    _ => {}
                }
                if depth == 0 {
                    if let Some(b) = blocks.last_mut() {
                        b.text = collapse(&b.text);
                    }
                }
            }
            Event::Text(t) | Event::Code(t) if depth > 0 => {
                if let Some(b) = blocks.last_mut() {
                    b.text.push_str(t);
                }
                if let Some((line, false)) = item.as_mut() {
                    line.push_str(t);
                }
            }
            Event::SoftBreak | Event::HardBreak if depth > 0 => {
                if let Some(b) = blocks.last_mut() {
                    b.text.push(' ');
                }
                if let Some((line, done)) = item.as_mut() {
                    *done |= !line.trim().is_empty();
                }
            }
            _ => {}
        }
    }
    blocks
}

/// Paragraphs that news sites put around every article: tip lines, newsletter and app
/// promotions, "read more" links. Only whole paragraphs that open with (or are) such a call are
/// dropped; emphasis marks left in the text do not hide one.
pub fn is_boilerplate(paragraph: &str) -> bool {
    const OPENERS: &[&str] = &[
        "have a tip?",
        "read more:",
        "don't miss",
        "don\u{2019}t miss",
        "click here to get",
        "subscribe to ",
        "sign up for our",
        "get the latest updates",
        "thanks for signing up",
    ];
    let lower = paragraph.trim_start_matches(|c: char| c.is_whitespace() || c == '*' || c == '_').to_lowercase();
    OPENERS.iter().any(|o| lower.starts_with(o)) || lower.contains("thanks for signing up")
}

/// `text` with the paragraphs at its start and end that `strict` (a stricter extraction of the
/// same page) does not have taken off, when the two agree on the article: most of the strict
/// extraction's paragraphs are in `text`. When they do not agree, the strict extraction chose
/// other content, and `text` is kept whole.
pub fn trim_to_agreement(text: &str, strict: &str) -> String {
    let key = |p: &str| p.split_whitespace().collect::<Vec<_>>().join(" ");
    let paragraphs: Vec<&str> = text.split("\n\n").collect();
    let ours: std::collections::HashSet<String> = paragraphs.iter().map(|p| key(p)).collect();
    let theirs: std::collections::HashSet<String> = strict.split("\n\n").map(key).filter(|p| !p.is_empty()).collect();
    let shared = theirs.iter().filter(|p| ours.contains(*p)).count();
    if theirs.is_empty() || shared * 5 < theirs.len() * 4 {
        return text.to_string();
    }
    let kept = |p: &str| theirs.contains(&key(p));
    let Some(first) = paragraphs.iter().position(|p| kept(p)) else { return text.to_string() };
    let last = paragraphs.iter().rposition(|p| kept(p)).unwrap_or(first);
    paragraphs[first..=last].join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(md: &str, links: &[&str]) -> String {
        let links = Links::new(links.iter().map(|l| l.to_string()));
        super::super::markdown::to_plain(&without_link_blocks(md, &links)).text
    }

    #[test]
    fn related_lists_and_link_runs_go_with_their_lead_in() {
        let md = "The council voted on Tuesday.\n\nIt takes effect in May.\n\nYou may also like...\n\n\
                  One story here\n\nAnother  story\n\n\
                  * Headline one\n  #### Its teaser line\n* Second headline\n  #### More teaser\n\n\
                  - Share\n- Email\n- Print";
        let links = ["One story here", "Another story", "Headline one", "Second\nheadline", "Share", "Email"];
        assert_eq!(plain(md, &links), "The council voted on Tuesday.\n\nIt takes effect in May.");
    }

    #[test]
    fn lists_of_prose_and_single_links_stay() {
        let md = "Key findings:\n\n- The report found costs rose by a third in two years\n\
                  - Rents rose faster than wages\n- Most of the rise came after 2021\n\n\
                  Read the report at the council's site.\n\nStandalone link";
        let links = ["The report", "the council's site", "Standalone link"];
        assert_eq!(
            plain(md, &links),
            "Key findings:\n\nThe report found costs rose by a third in two years\nRents rose faster than wages\n\
             Most of the rise came after 2021\n\nRead the report at the council's site.\n\nStandalone link"
        );
    }

    #[test]
    fn stacked_headings_go_but_an_outline_stays() {
        let md = "## Part one\n\n### Background\n\nText under it.\n\n### Thanks!\n\n#### Check your inbox\n\n\
                  ### Sorry!\n\n#### Something went wrong";
        assert_eq!(plain(md, &[]), "Part one\n\nBackground\n\nText under it.");
    }

    #[test]
    fn boilerplate_is_seen_through_emphasis() {
        assert!(is_boilerplate("**DON'T MISS****Ten things [LIST]**"));
        assert!(is_boilerplate("Have a tip? Reach me at x@y.z"));
        assert!(!is_boilerplate("Officials said they would not miss the deadline."));
    }

    #[test]
    fn ends_the_strict_extraction_leaves_out_are_trimmed_when_both_agree() {
        let text = "Teaser line\n\nFirst.\n\nSecond.\n\nThird.\n\nSign-off box";
        assert_eq!(trim_to_agreement(text, "First.\n\nSecond.\n\nThird."), "First.\n\nSecond.\n\nThird.");
        // A paragraph missing in the middle is kept: only the ends are trimmed.
        assert_eq!(trim_to_agreement(text, "First.\n\nThird."), "First.\n\nSecond.\n\nThird.");
        // The strict extraction picked something else: nothing is trimmed.
        assert_eq!(trim_to_agreement(text, "Comments\n\nFirst."), text);
        assert_eq!(trim_to_agreement(text, ""), text);
    }
}
