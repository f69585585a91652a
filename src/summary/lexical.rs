//! Words for ranking and grounding without a neural model: lower-cased, lightly stemmed content
//! words, the numbers and names of a text (the tokens an invented fact shows up in), and TF-IDF
//! vectors with their cosine (compact, with terms numbered), the fallback when no embedder is
//! downloaded.

use std::collections::{HashMap, HashSet};

const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "after",
    "again",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "been",
    "before",
    "being",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "during",
    "each",
    "for",
    "from",
    "had",
    "has",
    "have",
    "he",
    "her",
    "here",
    "hers",
    "him",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "just",
    "me",
    "more",
    "most",
    "my",
    "no",
    "not",
    "now",
    "of",
    "on",
    "one",
    "only",
    "or",
    "other",
    "our",
    "out",
    "over",
    "said",
    "says",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "up",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "say",
    "told",
    "according",
    "new",
    "cnn",
];

/// Whether a lower-case word is a stop word.
pub fn is_stopword(w: &str) -> bool {
    STOPWORDS.contains(&w)
}

/// The words of `text` as they appear (letters, digits and inner `.,'-` of numbers and names).
pub fn raw_words(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_alphanumeric() || matches!(c, '.' | ',' | '\'' | '’' | '-' | '%' | '$')))
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .collect()
}

/// A crude English stem: enough to match "votes"/"voted"/"voting" and "cities"/"city".
pub fn stem(word: &str) -> String {
    let w = word.to_lowercase();
    let w = w.trim_end_matches("'s").trim_end_matches("’s");
    if w.chars().any(|c| c.is_ascii_digit()) {
        return w.replace(',', "");
    }
    for (suffix, keep) in [("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""), ("ly", "")] {
        if let Some(base) = w.strip_suffix(suffix) {
            if base.chars().count() >= 3 && !(suffix == "s" && base.ends_with('s')) {
                return format!("{base}{keep}");
            }
        }
    }
    w.to_string()
}

/// Stemmed content words of `text`, in order (stop words and one-letter words left out).
pub fn content_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for w in raw_words(text) {
        if w.chars().any(|c| c.is_ascii_digit()) {
            out.push(normalize_number(w));
            continue;
        }
        for part in w.split(['-', '.']) {
            let lower = part.to_lowercase();
            if lower.chars().count() > 1 && !is_stopword(&lower) {
                out.push(stem(&lower));
            }
        }
    }
    out
}

/// The facts a reader would check: numbers (normalized: "4,200" is "4200") and capitalized words
/// that do not start a sentence (names, places, organizations), lower-cased.
pub fn checkable_tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut sentence_start = true;
    for piece in text.split_whitespace() {
        let word = piece.trim_matches(|c: char| !c.is_alphanumeric());
        if word.is_empty() {
            continue;
        }
        let has_digit = word.chars().any(|c| c.is_ascii_digit());
        if has_digit {
            out.push(normalize_number(word));
        } else if !sentence_start && word.chars().next().is_some_and(char::is_uppercase) {
            let lower = word.to_lowercase();
            if !is_stopword(&lower) {
                out.push(lower.trim_end_matches("'s").trim_end_matches("’s").to_string());
            }
        }
        sentence_start = piece.ends_with(['.', '!', '?', ':', '"', '”']) && !has_digit;
    }
    out
}

fn normalize_number(word: &str) -> String {
    word.to_lowercase().replace(',', "").trim_end_matches("'s").to_string()
}

/// Every token of the article a checkable token may match: lower-case words and their pieces,
/// and numbers with and without thousands separators.
pub fn vocabulary(text: &str) -> HashSet<String> {
    let mut set = HashSet::new();
    for piece in text.split_whitespace() {
        let word = piece.trim_matches(|c: char| !c.is_alphanumeric());
        if word.is_empty() {
            continue;
        }
        set.insert(normalize_number(word));
        let lower = word.to_lowercase();
        set.insert(lower.trim_end_matches("'s").trim_end_matches("’s").to_string());
        for part in lower.split(['-', '/', '’', '\'']) {
            set.insert(part.to_string());
        }
    }
    set
}

/// Whether a word (as split on white space) opens a quotation: it starts with a quotation mark.
/// An apostrophe inside a word ("study's") is not one.
pub fn opens_quote(word: &str) -> bool {
    word.starts_with(['"', '“', '\'', '‘'])
}

/// Whether a word closes a quotation: it ends with a quotation mark, perhaps before punctuation
/// ("gone,'"). A plural possessive ("players'") is not taken for one.
pub fn closes_quote(word: &str) -> bool {
    let w = word.trim_end_matches(['.', ',', ';', ':', '!', '?']);
    w.ends_with(['"', '”']) || (w.ends_with(['\'', '’']) && !w.ends_with("s'") && !w.ends_with("s’"))
}

/// The share of the words of `text` inside quotation marks, in [0, 1].
pub fn quoted_share(text: &str) -> f32 {
    let mut inside = false;
    let (mut quoted, mut total) = (0, 0);
    for w in text.split_whitespace() {
        total += 1;
        if opens_quote(w) {
            inside = true;
        }
        if inside {
            quoted += 1;
        }
        if inside && closes_quote(w) && (w.chars().count() > 1 || !opens_quote(w)) {
            inside = false;
        }
    }
    if total == 0 {
        0.0
    } else {
        quoted as f32 / total as f32
    }
}

/// A sparse vector: `(term, weight)` pairs in increasing term order.
pub type SparseVector = Box<[(u32, f32)]>;

/// TF-IDF vectors of `docs` (sub-linear tf, smoothed idf), L2-normalized, with each term
/// numbered once; `None` as soon as `docs` yields `None` (the caller was cancelled). Memory is a
/// few bytes per word of the documents.
pub fn tfidf(docs: impl Iterator<Item = Option<Vec<String>>>) -> Option<Vec<SparseVector>> {
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut df: Vec<f32> = Vec::new();
    let mut counts: Vec<SparseVector> = Vec::new();
    for doc in docs {
        let mut tf: Vec<(u32, f32)> = Vec::with_capacity(doc.as_ref()?.len());
        for w in doc? {
            let next = ids.len() as u32;
            let id = *ids.entry(w).or_insert(next);
            if id as usize == df.len() {
                df.push(0.0);
            }
            tf.push((id, 1.0));
        }
        tf.sort_unstable_by_key(|&(id, _)| id);
        let mut merged: Vec<(u32, f32)> = Vec::with_capacity(tf.len());
        for (id, c) in tf {
            match merged.last_mut() {
                Some(last) if last.0 == id => last.1 += c,
                _ => merged.push((id, c)),
            }
        }
        for &(id, _) in &merged {
            df[id as usize] += 1.0;
        }
        counts.push(merged.into_boxed_slice());
    }
    let n = counts.len() as f32;
    Some(
        counts
            .into_iter()
            .map(|mut v| {
                for (id, x) in v.iter_mut() {
                    let idf = ((1.0 + n) / (1.0 + df[*id as usize])).ln() + 1.0;
                    *x = (1.0 + x.ln()) * idf;
                }
                let norm = v.iter().map(|(_, x)| x * x).sum::<f32>().sqrt().max(1e-9);
                v.iter_mut().for_each(|(_, x)| *x /= norm);
                v
            })
            .collect(),
    )
}

/// Cosine of two normalized sparse vectors.
pub fn sparse_dot(a: &[(u32, f32)], b: &[(u32, f32)]) -> f32 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0f32);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_and_content_words() {
        assert_eq!(stem("votes"), stem("voted"));
        assert_eq!(stem("cities"), "city");
        assert_eq!(content_words("The council voted on the new budget."), ["council", "vot", "budget"]);
    }

    #[test]
    fn quoted_share_counts_words_inside_quotation_marks() {
        assert_eq!(quoted_share("The council voted on the budget."), 0.0);
        assert_eq!(quoted_share("'We are no heroes,' he said."), 4.0 / 6.0);
        assert_eq!(quoted_share("\u{201c}It works.\u{201d}"), 1.0);
        // Apostrophes and plural possessives do not open or close a quotation.
        assert_eq!(quoted_share("The study's author met the players' union."), 0.0);
        assert_eq!(quoted_share("She said the plan was 'all evasion' and left."), 2.0 / 9.0);
    }

    #[test]
    fn checkable_tokens_are_numbers_and_names() {
        assert_eq!(
            checkable_tokens("The plan costs $4,200 and Maria Okafor backs it. Two voted no."),
            ["4200", "maria", "okafor"]
        );
    }
}
