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
    /// For a list: the first line of each item, and the item's words.
    items: Vec<(String, usize)>,
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

/// Most words a list item may hold and still count as a link: a headline and its teaser, not a
/// linked name followed by a paragraph about it.
const LINK_ITEM_WORDS: usize = 40;
/// Headings in a row, with nothing under any of them, that make a box rather than an outline
/// (an outline has a title, a subtitle and a first section at most).
const HEADING_STACK: usize = 4;
/// Most words of the line that introduces a link list ("You may also like...").
const LEAD_IN_WORDS: usize = 6;

/// The extractor's Markdown with its link lists, runs of link-only paragraphs and stacks of
/// headings cut out, with the short line that introduces a link list ("You may also like...").
pub fn without_link_blocks(markdown: &str, links: &Links) -> String {
    let blocks = blocks(markdown);
    let all_link = |b: &Block| b.kind == Kind::Paragraph && links.has(&b.text);
    // A list whose items are mostly links with at most a teaser: "related articles", a site's
    // sections, a share bar.
    let link_list = |b: &Block| {
        let linked = b.items.iter().filter(|(line, words)| *words <= LINK_ITEM_WORDS && links.has(line)).count();
        b.kind == Kind::List && b.items.len() >= 2 && linked * 3 >= b.items.len() * 2
    };
    // A heading, or a short paragraph that announces what follows rather than ending a sentence.
    let lead_in = |b: &Block| {
        let announces = !b.text.ends_with(['.', '!', '?', '"', '\u{201d}']) || b.text.ends_with("...");
        b.text.split(' ').count() <= LEAD_IN_WORDS
            && (b.kind == Kind::Heading || b.kind == Kind::Paragraph && announces)
    };
    let mut cut = vec![false; blocks.len()];
    let mut seen_prose = false;
    let mut i = 0;
    while i < blocks.len() {
        // How many blocks from `i` on form one leftover, and whether it is made of links.
        let (len, of_links) = if link_list(&blocks[i]) {
            (1, true)
        } else if all_link(&blocks[i]) {
            let run = blocks[i..].iter().take_while(|b| all_link(b)).count();
            (if run >= 2 { run } else { 0 }, true)
        } else if blocks[i].kind == Kind::Heading && seen_prose {
            let run = blocks[i..].iter().take_while(|b| b.kind == Kind::Heading).count();
            (if run >= HEADING_STACK { run } else { 0 }, false)
        } else {
            (0, false)
        };
        if len == 0 {
            seen_prose |= blocks[i].kind == Kind::Paragraph;
            i += 1;
            continue;
        }
        cut[i..i + len].iter_mut().for_each(|c| *c = true);
        if let Some(p) = i.checked_sub(1).filter(|&p| of_links && !cut[p] && lead_in(&blocks[p])) {
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
    // The current top-level item: its first line, whether that line has ended, its words.
    let mut item: Option<(String, bool, usize)> = None;
    let finish = |b: &mut Block, item: &mut Option<(String, bool, usize)>| {
        if let Some((line, _, words)) = item.take() {
            b.items.push((collapse(&line), words));
        }
    };
    // The options `markdown::to_plain` reads the same Markdown with.
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    for (event, range) in Parser::new_ext(markdown, options).into_offset_iter() {
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
                // A block inside an item ends its first line; blocks are apart in the text.
                if matches!(tag, Tag::Paragraph | Tag::Heading { .. } | Tag::List(_) | Tag::Item | Tag::TableCell) {
                    if let Some((line, done, _)) = item.as_mut() {
                        *done |= !line.trim().is_empty();
                    }
                    if let Some(b) = blocks.last_mut() {
                        b.text.push(' ');
                    }
                }
                match tag {
                    Tag::List(_) => list_depth += 1,
                    Tag::Item if list_depth == 1 => item = Some((String::new(), false, 0)),
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
                if let Some((line, done, words)) = item.as_mut() {
                    *words += t.split_whitespace().count();
                    if !*done {
                        line.push_str(t);
                    }
                }
            }
            Event::SoftBreak | Event::HardBreak if depth > 0 => {
                if let Some(b) = blocks.last_mut() {
                    b.text.push(' ');
                }
                if let Some((line, done, _)) = item.as_mut() {
                    *done |= !line.trim().is_empty();
                }
            }
            _ => {}
        }
    }
    blocks
}

/// Most words of a boilerplate paragraph: a call to action is a line or two.
const BOILERPLATE_WORDS: usize = 60;

/// Paragraphs that news sites put around every article: tip lines, newsletter and app
/// promotions, "read more" links. Only short paragraphs that open with such a call (as a label:
/// "DON'T MISS:", not "Don't miss the cathedral, which…") are dropped; emphasis marks the
/// extractor left around them do not hide one.
pub fn is_boilerplate(paragraph: &str) -> bool {
    /// Calls that are boilerplate whatever follows them.
    const OPENERS: &[&str] = &[
        "have a tip?",
        "read more:",
        "click here to get",
        "subscribe to ",
        "sign up for our",
        "get the latest updates",
        "thanks for signing up",
    ];
    /// Calls that are boilerplate only as a label, followed by no more words of their sentence.
    const LABELS: &[&str] =
        &["don't miss", "don\u{2019}t miss", "read more", "related", "advertisement", "subscribe", "share"];
    if paragraph.split_whitespace().count() > BOILERPLATE_WORDS {
        return false;
    }
    let lower = paragraph.trim_start_matches(|c: char| c.is_whitespace() || c == '*' || c == '_').to_lowercase();
    OPENERS.iter().any(|o| lower.starts_with(o))
        || LABELS.iter().any(|l| {
            lower
                .strip_prefix(l)
                .is_some_and(|rest| rest.chars().next().is_none_or(|c| !c.is_alphanumeric() && c != ' '))
        })
        || lower.contains("thanks for signing up")
}

/// `text` with the paragraphs at its start and end that `strict` (a stricter extraction of the
/// same page) does not have taken off, when the two agree on the article: most of the strict
/// extraction's paragraphs are in `text`, and what is kept holds most of `text`. Otherwise the
/// strict extraction chose other content, or too little of it, and `text` is kept whole.
pub fn trim_to_agreement(text: &str, strict: &str) -> String {
    let paragraphs: Vec<&str> = text.split("\n\n").collect();
    let ours: HashSet<String> = paragraphs.iter().map(|p| collapse(p)).collect();
    let theirs: HashSet<String> = strict.split("\n\n").map(collapse).filter(|p| !p.is_empty()).collect();
    let shared = theirs.iter().filter(|p| ours.contains(*p)).count();
    if theirs.is_empty() || shared * 5 < theirs.len() * 4 {
        return text.to_string();
    }
    let kept = |p: &str| theirs.contains(&collapse(p));
    let Some(first) = paragraphs.iter().position(|p| kept(p)) else { return text.to_string() };
    let last = paragraphs.iter().rposition(|p| kept(p)).unwrap_or(first);
    // Only the edges go: a strict extraction that kept a sliver of the article is no guide.
    let span: usize = paragraphs[first..=last].iter().map(|p| p.len()).sum();
    if span * 10 < text.len() * 7 {
        return text.to_string();
    }
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
    fn linked_titles_with_paragraphs_a_short_last_sentence_and_tables_stay() {
        let about = "a long description of the product that goes on for many words, ".repeat(4);
        let md = format!(
            "Our picks this year.\n\n- First product\n\n  {about}\n- Second product\n\n  {about}\n\n\
             He denied the charges.\n\n[One story](http://a)\n\n[Another story](http://b)"
        );
        let links = ["First product", "Second product", "One story", "Another story"];
        let text = plain(&md, &links);
        assert!(text.contains("First product") && text.contains("Second product"), "{text}");
        assert!(text.ends_with("He denied the charges."), "{text}");
    }

    #[test]
    fn stacked_headings_go_but_an_outline_stays() {
        let md = "## Part one\n\n### Background\n\nText under it.\n\n### Thanks!\n\n#### Check your inbox\n\n\
                  ### Sorry!\n\n#### Something went wrong";
        assert_eq!(plain(md, &[]), "Part one\n\nBackground\n\nText under it.");
        // A title, a subtitle and a first section at the top are an outline.
        let md = "# Title\n\n## Subtitle\n\n### First part\n\nText.\n\n## A\n\n### B\n\n#### C\n\nMore text.";
        assert_eq!(plain(md, &[]), "Title\n\nSubtitle\n\nFirst part\n\nText.\n\nA\n\nB\n\nC\n\nMore text.");
    }

    #[test]
    fn boilerplate_is_seen_through_emphasis() {
        assert!(is_boilerplate("**DON'T MISS****Ten things [LIST]**"));
        assert!(is_boilerplate("Have a tip? Reach me at x@y.z"));
        assert!(!is_boilerplate("Officials said they would not miss the deadline."));
        assert!(is_boilerplate("DON'T MISS: the ten best things"));
        assert!(is_boilerplate("Related"));
        assert!(!is_boilerplate("Don't miss the cathedral, which towers over the old town."));
        assert!(!is_boilerplate("Related groups met on Tuesday to agree the plan."));
        assert!(is_boilerplate("Advertisement") && is_boilerplate("SUBSCRIBE"));
        assert!(!is_boilerplate("Shares in the company fell."));
    }

    #[test]
    fn ends_the_strict_extraction_leaves_out_are_trimmed_when_both_agree() {
        let (first, second, third) = (
            "The first paragraph of the article, as both extractions have it.",
            "The second paragraph, which only the balanced extraction kept.",
            "The third and last paragraph of the article, in both again.",
        );
        let text = format!("Teaser line\n\n{first}\n\n{second}\n\n{third}\n\nSign-off box");
        let article = format!("{first}\n\n{second}\n\n{third}");
        assert_eq!(trim_to_agreement(&text, &article), article);
        // A paragraph missing in the middle is kept: only the ends are trimmed.
        assert_eq!(trim_to_agreement(&text, &format!("{first}\n\n{third}")), article);
        let text = text.as_str();
        // The strict extraction picked something else: nothing is trimmed.
        assert_eq!(trim_to_agreement(text, &format!("Comments\n\n{first}")), text);
        assert_eq!(trim_to_agreement(text, ""), text);
        // The strict extraction kept a sliver: nothing is trimmed on its word.
        let long = "Lead paragraph of the article, with many words in it.\n\nSecond paragraph, also long.\n\nShort.";
        assert_eq!(trim_to_agreement(long, "Short."), long);
    }
}
