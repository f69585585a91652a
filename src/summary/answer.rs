//! Reading the model's answer: each line classified (summary label, key-points label, list
//! item, text) and the whole parsed forgivingly into a summary and points, so a small model's
//! malformed answer still gives what is usable. A model asked for another language than English
//! sometimes writes the labels in that language too ("Zusammenfassung:", "摘要：").

use serde::Serialize;

use super::Bullet;

/// A parsed answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Answer {
    pub summary: String,
    pub bullets: Vec<Bullet>,
}

/// What a line of the answer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    /// `Summary: text` (the text may be empty).
    SummaryLabel(&'a str),
    /// `Key points:` and its variants.
    KeyPointsLabel,
    /// A list item, without its marker.
    Bullet(&'a str),
    /// Anything else.
    Text(&'a str),
}

/// Labels of a summary, in English and the languages small models translate it into.
const SUMMARY_LABELS: &[&str] = &[
    "summary",
    "tl;dr",
    "tldr",
    "zusammenfassung",
    "résumé",
    "resume",
    "resumen",
    "resumo",
    "riassunto",
    "sommario",
    "samenvatting",
    "streszczenie",
    "shrnutí",
    "sammanfattning",
    "özet",
    "tóm tắt",
    "ringkasan",
    "резюме",
    "краткое содержание",
    "итог",
    "摘要",
    "总结",
    "概要",
    "要約",
    "まとめ",
    "요약",
];

/// Labels of the key points, likewise.
const KEY_POINTS_LABELS: &[&str] = &[
    "key points",
    "key point",
    "keypoints",
    "key takeaways",
    "main points",
    "highlights",
    "kernpunkte",
    "wichtigste punkte",
    "points clés",
    "puntos clave",
    "pontos-chave",
    "pontos principais",
    "punti chiave",
    "ключевые моменты",
    "основные моменты",
    "要点",
    "重点",
    "ポイント",
    "핵심 내용",
    "주요 내용",
];

/// Classifies one line of a model's answer.
pub fn classify(line: &str) -> Line<'_> {
    let trimmed = line.trim();
    let bare = trimmed.trim_start_matches(['#', '*', '_', ' ']);
    let lower = bare.to_lowercase();
    for label in SUMMARY_LABELS {
        // Lower-casing keeps the byte length of every label's letters, so `bare` is cut right.
        if lower.starts_with(label) && lower.len() == bare.len() {
            let rest = bare[label.len()..].trim_start_matches(['*', '_', ' ', '\u{a0}']);
            if let Some(after) = rest.strip_prefix(':').or_else(|| rest.strip_prefix('：')) {
                return Line::SummaryLabel(after.trim_start_matches(['*', '_']).trim());
            }
            if rest.is_empty() {
                return Line::SummaryLabel("");
            }
        }
    }
    for label in KEY_POINTS_LABELS {
        if lower.starts_with(label) && lower.len() == bare.len() {
            let rest = bare[label.len()..].trim_matches(['*', '_', ' ', ':', '：', '\u{a0}']);
            if rest.is_empty() {
                return Line::KeyPointsLabel;
            }
        }
    }
    if let Some(item) = list_item(trimmed) {
        return Line::Bullet(item);
    }
    Line::Text(trimmed)
}

/// The text of a list item (`- x`, `* x`, `• x`, `1. x`, `2) x`), or `None`.
fn list_item(line: &str) -> Option<&str> {
    for marker in ["- ", "* ", "• ", "– ", "+ "] {
        if let Some(rest) = line.strip_prefix(marker) {
            return Some(rest.trim());
        }
    }
    let digits = line.chars().take_while(|c| c.is_ascii_digit()).count();
    if digits > 0 && digits <= 2 {
        let rest = &line[digits..];
        if let Some(rest) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return Some(rest.trim());
        }
    }
    None
}

/// Removes Markdown emphasis markers around a whole item, and the `[1]`, `[2]` marks of the key
/// sentences the prompt showed, which a model sometimes copies into its answer.
fn clean(text: &str) -> String {
    let t = text.trim();
    let t = t.strip_prefix("**").and_then(|x| x.strip_suffix("**")).unwrap_or(t);
    t.split_whitespace().map(without_marks).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// `word` without any `[n]` (one to three digits in brackets) in it.
fn without_marks(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    while let Some(at) = rest.find('[') {
        let after = &rest[at + 1..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if (1..=3).contains(&digits) && after[digits..].starts_with(']') {
            out.push_str(&rest[..at]);
            rest = &after[digits + 1..];
        } else {
            out.push_str(&rest[..=at]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Parses a model's answer into a summary and bullets. Malformed answers still give what is
/// usable: text before any list becomes the summary, list items become bullets, repeated
/// bullets are kept once, and an answer with no list at all yields its sentences as bullets.
pub fn parse_answer(text: &str) -> Answer {
    let mut summary_parts: Vec<String> = Vec::new();
    let mut loose: Vec<String> = Vec::new();
    let mut bullets: Vec<Bullet> = Vec::new();
    let mut in_points = false;
    for line in text.lines() {
        match classify(line) {
            Line::SummaryLabel(rest) => {
                in_points = false;
                // "Summary: Zusammenfassung: ...": the label asked for, then the model's own.
                let rest = match classify(rest) {
                    Line::SummaryLabel(inner) => inner,
                    _ => rest,
                };
                if !rest.is_empty() {
                    summary_parts.push(clean(rest));
                }
            }
            Line::KeyPointsLabel => in_points = true,
            Line::Bullet(item) => {
                let item = clean(item);
                if !item.is_empty() {
                    push_unique(&mut bullets, item);
                }
            }
            Line::Text("") => {}
            Line::Text(t) => {
                if in_points {
                    loose.push(clean(t));
                } else if bullets.is_empty() {
                    summary_parts.push(clean(t));
                }
            }
        }
    }
    if bullets.is_empty() {
        for t in loose {
            push_unique(&mut bullets, t);
        }
    }
    let mut summary = summary_parts.join(" ");
    if bullets.is_empty() && summary_parts.len() > 1 {
        // No list at all: the first paragraph is the summary, the rest are the points.
        summary = summary_parts[0].clone();
        for t in &summary_parts[1..] {
            push_unique(&mut bullets, t.clone());
        }
    }
    Answer { summary, bullets }
}

fn push_unique(bullets: &mut Vec<Bullet>, text: String) {
    let key = |s: &str| s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect::<String>();
    let k = key(&text);
    if !k.is_empty() && !bullets.iter().any(|b| key(&b.text) == k) {
        bullets.push(Bullet::new(text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(a: &Answer) -> Vec<&str> {
        a.bullets.iter().map(|b| b.text.as_str()).collect()
    }

    #[test]
    fn well_formed_answer() {
        let a = parse_answer(
            "Summary: The council approved the budget. It takes effect in May.\n\nKey points:\n- The vote was 7 to 2.\n- Parks get more money.\n- Taxes stay flat.",
        );
        assert_eq!(a.summary, "The council approved the budget. It takes effect in May.");
        assert_eq!(texts(&a), ["The vote was 7 to 2.", "Parks get more money.", "Taxes stay flat."]);
    }

    #[test]
    fn markdown_headings_numbers_and_bold() {
        let a = parse_answer(
            "## Summary\nA **short** summary.\n\n### Key Points:\n1. **First point.**\n2) Second point.\n* Third point.",
        );
        assert_eq!(a.summary, "A **short** summary.");
        assert_eq!(texts(&a), ["First point.", "Second point.", "Third point."]);
    }

    #[test]
    fn repeated_bullets_are_kept_once() {
        let a = parse_answer("Summary: S.\nKey points:\n- Same thing.\n- same thing\n- Other.\n- Same thing.");
        assert_eq!(texts(&a), ["Same thing.", "Other."]);
    }

    #[test]
    fn no_labels_at_all() {
        let a = parse_answer("The mayor resigned on Monday.\n\n- She cited health reasons.\n- An election follows.");
        assert_eq!(a.summary, "The mayor resigned on Monday.");
        assert_eq!(texts(&a), ["She cited health reasons.", "An election follows."]);
    }

    #[test]
    fn the_prompts_sentence_marks_are_not_kept() {
        let a = parse_answer(
            "Summary: The library lends tools. [1] Members borrow drills.[2] See [note] and [12345].\n- Point [3] one",
        );
        assert_eq!(a.summary, "The library lends tools. Members borrow drills. See [note] and [12345].");
        assert_eq!(a.bullets[0].text, "Point one");
    }

    #[test]
    fn points_without_markers_and_truncated_answers() {
        let a = parse_answer("Summary: Rain is coming.\nKey points:\nStorms on Friday.\nRoads may flood.");
        assert_eq!(texts(&a), ["Storms on Friday.", "Roads may flood."]);
        let a = parse_answer("Summary: Cut off mid");
        assert_eq!(a.summary, "Cut off mid");
        assert!(a.bullets.is_empty());
        assert_eq!(parse_answer(""), Answer::default());
    }

    #[test]
    fn labels_in_other_languages() {
        assert_eq!(parse_answer("摘要：河滨市议会决定开放。").summary, "河滨市议会决定开放。");
        assert_eq!(parse_answer("Summary: 摘要：河滨市议会决定开放。").summary, "河滨市议会决定开放。");
        assert_eq!(classify("**Zusammenfassung:** Der Rat"), Line::SummaryLabel("Der Rat"));
        assert_eq!(classify("Résumé : La ville"), Line::SummaryLabel("La ville"));
        assert_eq!(classify("요약: 시의회는"), Line::SummaryLabel("시의회는"));
        assert_eq!(classify("Kernpunkte:"), Line::KeyPointsLabel);
        assert_eq!(classify("Resumen del plan de la ciudad"), Line::Text("Resumen del plan de la ciudad"));
    }

    #[test]
    fn classify_lines() {
        assert_eq!(classify("**Summary:** Hi"), Line::SummaryLabel("Hi"));
        assert_eq!(classify("Key points:"), Line::KeyPointsLabel);
        assert_eq!(classify("  - item "), Line::Bullet("item"));
        assert_eq!(classify("12. item"), Line::Bullet("item"));
        assert_eq!(classify("2024 was a year."), Line::Text("2024 was a year."));
        assert_eq!(classify("Summaryless text"), Line::Text("Summaryless text"));
    }
}
