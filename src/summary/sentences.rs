//! Sentences with positions: the article text cut into paragraphs and sentences, each kept as a
//! byte span into the text, so a key point can always point back at where it came from.
//! Sentence boundaries come from `sentencex` (Wikimedia's rule-based segmenter, English rules),
//! run one paragraph at a time; a small post-pass joins the few breaks it gets wrong in news
//! text (a sentence that starts in lower case, or one cut after a lone initial).

use serde::{Deserialize, Serialize};

use crate::llm::CancelToken;

/// A byte range `start..end` into the article text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn of<'a>(&self, text: &'a str) -> &'a str {
        &text[self.start..self.end]
    }
}

/// One sentence of an article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentence {
    pub span: Span,
    /// Index of its paragraph, from 0.
    pub paragraph: usize,
}

/// Splits `text` into sentences, in order. Paragraphs are separated by blank lines; inside one,
/// a hard-wrapped line continues its sentence, while a heading or list item (`#`, `-`, `*`, `1.`)
/// starts a unit of its own. Spans are trimmed of surrounding white space and never empty.
pub fn split(text: &str) -> Vec<Sentence> {
    split_until(text, &CancelToken::new()).unwrap_or_default()
}

/// Units (paragraphs, list items, headings) segmented between two looks at the cancel token.
const UNITS_PER_CHECK: usize = 256;

/// `split`, looking at `cancel` as it goes: `None` once it is cancelled. The work is linear in
/// the text: each unit is segmented once and wrong breaks are joined in one pass.
pub fn split_until(text: &str, cancel: &CancelToken) -> Option<Vec<Sentence>> {
    let mut out: Vec<Sentence> = Vec::new();
    let mut paragraph = 0;
    let mut offset = 0;
    // Units: (start, end) byte ranges of consecutive lines that belong together.
    let mut unit: Option<(usize, usize)> = None;
    let mut units: Vec<(usize, usize, bool)> = Vec::new(); // (start, end, starts a paragraph)
    let mut new_paragraph = true;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let t = line.trim();
        if t.is_empty() {
            if let Some((a, b)) = unit.take() {
                units.push((a, b, new_paragraph));
            }
            new_paragraph = true;
            continue;
        }
        let marker = t.starts_with('#')
            || t.starts_with("- ")
            || t.starts_with("* ")
            || t.starts_with("• ")
            || t.split_once(". ")
                .is_some_and(|(n, _)| !n.is_empty() && n.len() <= 2 && n.chars().all(|c| c.is_ascii_digit()));
        let after_heading = unit.is_some_and(|(a, _)| text[a..].trim_start().starts_with('#'));
        match unit {
            Some((a, _)) if !marker && !after_heading => unit = Some((a, offset)),
            _ => {
                if let Some((a, b)) = unit.take() {
                    units.push((a, b, new_paragraph));
                    new_paragraph = false;
                }
                unit = Some((start, offset));
            }
        }
    }
    if let Some((a, b)) = unit {
        units.push((a, b, new_paragraph));
    }
    for (i, &(start, end, starts_paragraph)) in units.iter().enumerate() {
        if i % UNITS_PER_CHECK == 0 && cancel.is_cancelled() {
            return None;
        }
        if starts_paragraph && i > 0 {
            paragraph += 1;
        }
        // Line breaks inside a unit are spaces to the segmenter (same byte length, same spans).
        let flat = text[start..end].replace(['\n', '\r'], " ");
        let first = out.len();
        for b in sentencex::get_sentence_boundaries("en", &flat) {
            push_trimmed(text, start + b.start_byte, start + b.end_byte, paragraph, &mut out);
        }
        if out.len() == first {
            push_trimmed(text, start, end, paragraph, &mut out);
        }
        join_wrong_breaks(text, &mut out, first);
    }
    Some(out)
}

fn push_trimmed(text: &str, start: usize, end: usize, paragraph: usize, out: &mut Vec<Sentence>) {
    let piece = &text[start..end];
    let lead = piece.len() - piece.trim_start().len();
    let trimmed = piece.trim();
    if trimmed.is_empty() {
        return;
    }
    let s = start + lead;
    out.push(Sentence { span: Span { start: s, end: s + trimmed.len() }, paragraph });
}

/// Joins a sentence to the one before it (within one paragraph) when the break cannot be real:
/// the next piece starts with a lower-case letter or a digit-less continuation, or the previous
/// one ends in a lone capital initial ("J.") or a known abbreviation.
/// The pieces are compacted in place, in one pass: a paragraph of a million wrong breaks costs
/// a million steps, not a million removals from the middle of a vector.
fn join_wrong_breaks(text: &str, out: &mut Vec<Sentence>, first: usize) {
    if out.len() <= first + 1 {
        return;
    }
    // `kept` is the last sentence kept so far; each next piece joins it or follows it.
    let mut kept = first;
    for i in first + 1..out.len() {
        let next = out[i].span;
        if is_wrong_break(out[kept].span.of(text), next.of(text)) {
            out[kept].span.end = next.end;
        } else {
            kept += 1;
            out[kept] = out[i].clone();
        }
    }
    out.truncate(kept + 1);
}

/// Titles and ranks that stand before a name: a full stop after one never ends a sentence
/// ("Army Spc. Caleb Barnes", "Rev. Jesse Jackson"). Other abbreviations ("a.m.", "Inc.") often
/// do end one when a capital follows, so they are left to the segmenter.
const TITLES: &[&str] = &[
    "mr", "mrs", "ms", "messrs", "dr", "prof", "sr", "jr", "st", "mt", "ft", "no", "vs", "gen", "gov", "sen", "rep",
    "reps", "pres", "supt", "insp", "det", "rev", "fr", "hon", "amb", "atty", "lt", "col", "maj", "capt", "cmdr",
    "cdr", "adm", "brig", "sgt", "cpl", "pvt", "pfc", "spc", "lieut", "cpt",
];

fn is_wrong_break(prev: &str, next: &str) -> bool {
    let Some(first) = next.chars().find(|c| !matches!(c, '"' | '\'' | '“' | '‘' | '(' | '[')) else {
        return true;
    };
    if first.is_lowercase() {
        return true;
    }
    let Some(body) = prev.strip_suffix('.') else {
        return false;
    };
    let last = body.rsplit(|c: char| c.is_whitespace() || c == '(').next().unwrap_or("");
    // A lone initial: "John F. Kennedy", "J. R. R. Tolkien".
    if last.chars().count() == 1 && last.chars().all(|c| c.is_uppercase()) {
        return true;
    }
    TITLES.contains(&last.to_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<&str> {
        split(text).iter().map(|s| s.span.of(text)).collect()
    }

    #[test]
    fn plain_sentences_and_paragraphs() {
        let t = "First one. Second one!\n\nThird one? Yes.";
        assert_eq!(texts(t), ["First one.", "Second one!", "Third one?", "Yes."]);
        let s = split(t);
        assert_eq!(s.iter().map(|s| s.paragraph).collect::<Vec<_>>(), [0, 0, 1, 1]);
        assert_eq!(&t[s[2].span.start..s[2].span.end], "Third one?");
    }

    #[test]
    fn abbreviations_titles_and_initials() {
        assert_eq!(
            texts("Dr. Smith met Mr. Jones at 10 a.m. on Monday. They talked."),
            ["Dr. Smith met Mr. Jones at 10 a.m. on Monday.", "They talked."]
        );
        assert_eq!(
            texts("The U.S. economy grew. John F. Kennedy was president. J. R. R. Tolkien wrote books."),
            ["The U.S. economy grew.", "John F. Kennedy was president.", "J. R. R. Tolkien wrote books."]
        );
        assert_eq!(texts("Prices rose, e.g. bread and milk. Fine."), ["Prices rose, e.g. bread and milk.", "Fine."]);
        assert_eq!(
            texts("She took her boyfriend, Army Spc. Caleb Barnes, to a concert. Rev. Al Green sang."),
            ["She took her boyfriend, Army Spc. Caleb Barnes, to a concert.", "Rev. Al Green sang."]
        );
    }

    #[test]
    fn decimals_quotes_and_unicode() {
        assert_eq!(
            texts("It cost $4.2 million, up 3.5 percent. \"We are glad,\" she said. \"It works.\" Then he left."),
            ["It cost $4.2 million, up 3.5 percent.", "\"We are glad,\" she said.", "\"It works.\"", "Then he left."]
        );
        assert_eq!(
            texts("Café prices rose. Zoë paid €3.50 — twice."),
            ["Café prices rose.", "Zoë paid €3.50 — twice."]
        );
    }

    #[test]
    fn wrapped_lines_lists_and_headings() {
        let t = "# Title\nThe town switched on a station, built into the\nold pier. It cost 6.3 million\neuros.\n\n- First item\n- Second item";
        assert_eq!(
            texts(t),
            [
                "# Title",
                "The town switched on a station, built into the\nold pier.",
                "It cost 6.3 million\neuros.",
                "- First item",
                "- Second item"
            ]
        );
        let p: Vec<usize> = split(t).iter().map(|s| s.paragraph).collect();
        assert_eq!(p, [0, 0, 0, 1, 1]);
    }

    #[test]
    fn spans_are_exact_and_cover_headings() {
        let t = "# A heading\n\nBody text here. More body.\n";
        let s = split(t);
        assert_eq!(texts(t), ["# A heading", "Body text here.", "More body."]);
        for x in &s {
            assert_eq!(x.span.of(t), t[x.span.start..x.span.end].trim());
        }
    }
}
