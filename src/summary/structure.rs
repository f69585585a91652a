//! The article's structure, as ranking needs it: which sentences can never be key points
//! (headings, lines that restate the title, bylines, captions, credits and calls to read or
//! subscribe), which section each sentence is in (by its headings, or by thirds when it has
//! none), and whether the piece is a long read, where a key point may come from anywhere rather
//! than from the opening that carries a news story.

use std::collections::HashSet;

use super::lexical::content_words;
use super::sentences::Sentence;
use crate::language::{self, Language};

/// Words from which an article counts as a long read even without headings. Hard news, which
/// puts the story first (the dev set's 48 CNN/DailyMail articles run 284 to 966 words), is
/// shorter; features, reports and essays, whose opening is a scene or an anecdote, are longer.
pub const LONG_READ_WORDS: usize = 1_200;

/// A text with at least this many headings is organised in sections, whatever its length.
const MIN_HEADINGS: usize = 3;

/// Parts a long read without headings is cut into, by its sentences.
const PARTS_WITHOUT_HEADINGS: usize = 3;

/// The most words a heading has.
const HEADING_WORDS: usize = 14;

/// The structure of one article, per sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Structure {
    /// Section of each sentence, from 0, in article order.
    pub section: Vec<usize>,
    /// How many sections there are (1 for an article that is one piece).
    pub sections: usize,
    /// Sentences that are never key points.
    pub excluded: Vec<bool>,
    /// Whether the sections came from the article's own headings.
    pub by_headings: bool,
    /// A long read: long, or organised under headings.
    pub long_read: bool,
}

impl Structure {
    /// `n` sentences of one piece: one section, nothing excluded, not a long read.
    pub fn one_piece(n: usize) -> Structure {
        Structure { section: vec![0; n], sections: 1, excluded: vec![false; n], by_headings: false, long_read: false }
    }

    /// The index of each sentence within its section (0 for a section's first sentence).
    pub fn position_in_section(&self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.section.len());
        let (mut current, mut at) = (usize::MAX, 0);
        for &s in &self.section {
            if s != current {
                (current, at) = (s, 0);
            }
            out.push(at);
            at += 1;
        }
        out
    }
}

/// Reads the structure of `text` (split into `sentences`), whose title is `title`, in `language`
/// (lengths are counted in English-word equivalents).
pub fn analyze(text: &str, title: Option<&str>, language: Language, sentences: &[Sentence]) -> Structure {
    let n = sentences.len();
    let heading: Vec<bool> = (0..n).map(|i| is_heading(text, sentences, i, language)).collect();
    let title_words: HashSet<String> = title.map(|t| content_words(t).into_iter().collect()).unwrap_or_default();
    let excluded: Vec<bool> = (0..n)
        .map(|i| {
            let s = sentences[i].span.of(text);
            heading[i] || restates(s, &title_words) || is_furniture(s)
        })
        .collect();
    let words: usize = sentences.iter().map(|s| language::words(s.span.of(text), language)).sum();
    let headings = heading.iter().filter(|&&h| h).count();
    let long_read = words >= LONG_READ_WORDS || headings >= MIN_HEADINGS;
    let (section, by_headings) = if headings >= 2 {
        // A new section at each heading; what comes before the first is a section of its own.
        let mut current = 0;
        let mut seen_body = false;
        let section = (0..n)
            .map(|i| {
                if heading[i] {
                    if seen_body {
                        current += 1;
                        seen_body = false;
                    }
                } else {
                    seen_body = true;
                }
                current
            })
            .collect();
        (section, true)
    } else if long_read {
        let parts = PARTS_WITHOUT_HEADINGS.min(n.max(1));
        ((0..n).map(|i| i * parts / n.max(1)).collect(), false)
    } else {
        (vec![0; n], false)
    };
    let sections = section.iter().max().map_or(1, |m| m + 1);
    Structure { section, sections, excluded, by_headings, long_read }
}

/// A heading: a paragraph of one short line without the punctuation that ends a sentence, which
/// may start with its section's number ("2.3. How patches get into the kernel", which the
/// splitter cuts after the number); the number is part of the heading.
fn is_heading(text: &str, sentences: &[Sentence], i: usize, language: Language) -> bool {
    let p = sentences[i].paragraph;
    let in_paragraph = |j: usize| sentences.get(j).is_some_and(|s| s.paragraph == p);
    let (mut first, mut last) = (i, i);
    // A heading's paragraph holds at most a number or two and the heading itself.
    while first > 0 && in_paragraph(first - 1) && i - first < 2 {
        first -= 1;
    }
    while in_paragraph(last + 1) && last - i < 2 {
        last += 1;
    }
    if (first > 0 && in_paragraph(first - 1)) || in_paragraph(last + 1) {
        return false;
    }
    let numbers = (first..last).all(|j| is_section_number(sentences[j].span.of(text)));
    numbers && is_heading_line(sentences[last].span.of(text), language)
}

/// One short line without the punctuation that ends a sentence, or a Markdown heading. Its length
/// is in English-word equivalents: a sentence of Thai, which ends with no punctuation, or a line
/// of Chinese, which has no spaces, is one white-space "word" however long it is.
fn is_heading_line(s: &str, language: Language) -> bool {
    let s = s.trim();
    let words = language::words(s, language);
    let ends_sentence =
        s.ends_with(['.', '!', '?', '…', '。', '！', '？', ':', ';', ',', '"', '”', '’', '»', ')', '」', '』']);
    s.starts_with('#') || (words > 0 && words <= HEADING_WORDS && !ends_sentence)
}

/// A section's number standing alone: "2.", "2.3.", "IV.", "A)".
fn is_section_number(s: &str) -> bool {
    let s = s.trim().trim_end_matches(['.', ')']);
    let roman = |c: char| matches!(c, 'I' | 'V' | 'X' | 'L');
    !s.is_empty()
        && s.len() <= 8
        && (s.chars().all(|c| c.is_ascii_digit() || c == '.')
            || s.chars().all(roman)
            || (s.len() == 1 && s.chars().all(|c| c.is_ascii_uppercase())))
}

/// A sentence made mostly of the title's words: it restates the title.
fn restates(sentence: &str, title_words: &HashSet<String>) -> bool {
    if title_words.is_empty() {
        return false;
    }
    let words = content_words(sentence);
    if words.is_empty() {
        return false;
    }
    let shared = words.iter().filter(|w| title_words.contains(*w)).count();
    // Most of the sentence is the title, and the sentence adds little of its own.
    shared * 5 >= words.len() * 4 || (shared * 10 >= title_words.len() * 8 && words.len() <= title_words.len() + 3)
}

/// Bylines, credits, captions' credit lines, datelines standing alone, and calls to read more,
/// share or subscribe: a page's furniture, not what the article says.
fn is_furniture(sentence: &str) -> bool {
    let s = sentence.trim();
    let lower = s.to_lowercase();
    let words = s.split_whitespace().count();
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| lower.starts_with(p));
    let has = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    (words <= 12 && starts(&["by ", "written by", "words by", "story by", "reporting by", "posted by", "von ", "par "]))
        || (words <= 25
            && has(&[
                "photo:",
                "photograph:",
                "image:",
                "credit:",
                "illustration:",
                "(photo",
                "getty images",
                "/ reuters",
                "ap photo",
                "shutterstock",
                "foto:",
                "bild:",
            ]))
        || (words <= 12
            && starts(&[
                "updated ",
                "published ",
                "last updated",
                "read more",
                "related:",
                "see also",
                "subscribe",
                "sign up",
                "follow us",
                "share this",
                "click here",
            ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::sentences::split;

    #[test]
    fn headings_make_sections_and_are_never_key_points() {
        let text = "Cells That Taste Danger\n\nWhen the immunologist looked at the lungs of mice, he saw \
something odd. It looked like a tuft cell.\n\nA Surprise in the Gut\n\nTuft cells carry taste \
receptors that detect parasites. They raise the alarm.\n\nWhat Comes Next\n\nThe team now studies \
the airways of people. Results are due next year.";
        let s = split(text);
        let st = analyze(text, Some("Cells That Taste Danger Set Off Immune Responses"), Language::ENGLISH, &s);
        assert!(st.by_headings && st.long_read);
        assert_eq!(st.sections, 3);
        let shown: Vec<(&str, usize, bool)> =
            s.iter().enumerate().map(|(i, x)| (x.span.of(text), st.section[i], st.excluded[i])).collect();
        assert_eq!(
            shown[0],
            ("Cells That Taste Danger", 0, true),
            "the title line is a heading and restates the title"
        );
        assert_eq!(shown[3], ("A Surprise in the Gut", 1, true));
        assert_eq!(shown[4].1, 1);
        assert!(!shown[4].2);
        assert_eq!(shown[6], ("What Comes Next", 2, true));
        assert_eq!(shown.last().unwrap().1, 2);
        assert_eq!(st.position_in_section()[4], 1, "the heading opens its section");
    }

    #[test]
    fn a_numbered_heading_is_a_heading_number_and_all() {
        let text = "Process\n\n2.2. The big picture\n\nThe kernel has a merge window. It lasts two weeks.\n\n\
2.3. How patches get into the Kernel¶\n\nA patch goes through review. Maintainers pick it up.\n\n\
Section 2.3. of the guide says more. It has examples.";
        let s = split(text);
        let st = analyze(text, None, Language::ENGLISH, &s);
        let excluded: Vec<&str> =
            s.iter().enumerate().filter(|(i, _)| st.excluded[*i]).map(|(_, x)| x.span.of(text)).collect();
        assert_eq!(excluded, ["Process", "2.2.", "The big picture", "2.3.", "How patches get into the Kernel¶"]);
        // The title line and the first heading open one section; the second heading another.
        assert_eq!(st.sections, 2);
    }

    #[test]
    fn news_is_one_piece_and_a_long_read_without_headings_is_cut_in_thirds() {
        let news = "The council voted on Tuesday to expand the night buses. The plan costs four million a year. \
Two members voted against it.";
        let s = split(news);
        let st = analyze(news, None, Language::ENGLISH, &s);
        assert!(!st.long_read && !st.by_headings);
        assert_eq!((st.sections, st.excluded.iter().filter(|&&e| e).count()), (1, 0));

        let long = "This sentence is one of many in a long essay about rivers and towns. ".repeat(200);
        let s = split(&long);
        let st = analyze(&long, None, Language::ENGLISH, &s);
        assert!(st.long_read && !st.by_headings);
        assert_eq!(st.sections, 3);
        assert_eq!((st.section[0], st.section[s.len() / 2], st.section[s.len() - 1]), (0, 1, 2));
    }

    #[test]
    fn bylines_credits_and_title_restatements_are_furniture() {
        let text = "By Jane Smith and Tom Reyes\n\nThe harbour town opens its tidal power station today. \
Photo: Anna Berg / Reuters. The turbines sit under the old ferry pier and turn twice a day. \
Read more about the project here.";
        let s = split(text);
        let st = analyze(text, Some("Harbour town opens tidal power station"), Language::ENGLISH, &s);
        let excluded: Vec<&str> =
            s.iter().zip(&st.excluded).filter(|(_, &e)| e).map(|(x, _)| x.span.of(text)).collect();
        assert_eq!(
            excluded,
            [
                "By Jane Smith and Tom Reyes",
                "The harbour town opens its tidal power station today.",
                "Photo: Anna Berg / Reuters.",
                "Read more about the project here."
            ]
        );
    }

    #[test]
    fn a_thai_sentence_alone_in_its_paragraph_is_not_a_heading() {
        // Thai ends a sentence with no punctuation, and puts no spaces between its words.
        let th = Language::parse("th").unwrap();
        let sentence = "สภาเทศบาลลงมติเมื่อวันอังคารให้ขยายเครือข่ายรถประจำทางโดยเพิ่มเส้นทางใหม่สิบสองเส้นทาง\
และขยายเวลาให้บริการช่วงเย็นจนถึงเที่ยงคืน";
        let text = format!("รถประจำทางกลางคืน\n\n{sentence}\n\n{sentence} {sentence}");
        let s = crate::summary::sentences::split_in(&text, th);
        assert_eq!(s.len(), 4);
        // The short title line is a heading; the long sentence alone in its paragraph is not.
        assert_eq!(analyze(&text, None, th, &s).excluded, [true, false, false, false]);
    }
}
