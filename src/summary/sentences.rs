//! Sentences with positions: the article text cut into paragraphs and sentences, each kept as a
//! byte span into the text, so a key point can always point back at where it came from.
//! Sentence boundaries come from `sentencex` (Wikimedia's rule-based segmenter) with the rules of
//! the article's language (English rules when it is unknown), run one paragraph at a time; a
//! small post-pass joins the few breaks it gets wrong in news text (a sentence that starts in
//! lower case, or one cut after a lone initial). Chinese and Japanese full stops end a sentence
//! with no space after them, and so do other scripts' full stops (Tibetan, Devanagari, Ethiopic,
//! ...) in any language; Thai, Lao and Khmer, which mark a sentence end with a space, are cut
//! at their spaces.

use serde::{Deserialize, Serialize};

use crate::language::{Language, Script};
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

/// `split` with the rules of `language`.
pub fn split_in(text: &str, language: Language) -> Vec<Sentence> {
    split_until_in(text, language, &CancelToken::new()).unwrap_or_default()
}

/// Units (paragraphs, list items, headings) segmented between two looks at the cancel token.
const UNITS_PER_CHECK: usize = 256;

/// `split`, looking at `cancel` as it goes: `None` once it is cancelled. The work is linear in
/// the text: each unit is segmented once and wrong breaks are joined in one pass.
pub fn split_until(text: &str, cancel: &CancelToken) -> Option<Vec<Sentence>> {
    split_until_in(text, Language::UNKNOWN, cancel)
}

/// `split_until` with the sentence rules of `language`.
pub fn split_until_in(text: &str, language: Language, cancel: &CancelToken) -> Option<Vec<Sentence>> {
    let rules = language.sentence_rules();
    let spaced_clauses = matches!(language.script(), Some(Script::Thai | Script::Khmer));
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
        if spaced_clauses || spaced_by_phrase(&flat) {
            push_clauses(text, start, end, paragraph, &mut out);
        } else {
            for (n, (at, piece)) in pieces(&flat).into_iter().enumerate() {
                if n > 0 && n % UNITS_PER_CHECK == 0 && cancel.is_cancelled() {
                    return None;
                }
                for b in sentencex::get_sentence_boundaries(rules, piece) {
                    push_full_stops(text, start + at + b.start_byte, start + at + b.end_byte, paragraph, &mut out);
                }
            }
        }
        if out.len() == first {
            push_trimmed(text, start, end, paragraph, &mut out);
        }
        join_wrong_breaks(text, &mut out, first);
    }
    Some(out)
}

/// A unit up to this long goes to the segmenter whole (`pieces`).
const WHOLE_UNIT_BYTES: usize = 8 * 1024;
/// In a longer unit, a sentence-ending mark this far or further past the last white space, full
/// stop or slash ends a piece.
const MAX_RUN_BYTES: usize = 256;

/// `flat` (one unit) cut into pieces for the segmenter, each with its offset in `flat`. At every
/// mark that may end a sentence, the segmenter looks back to the last white space, full stop or
/// slash for the word before it; in a long paragraph without any (Chinese, Japanese, a run of
/// exclamation marks) that costs the square of its length: 46 s for one 4 MB paragraph of
/// Japanese. A unit up to `WHOLE_UNIT_BYTES` (any ordinary paragraph) goes whole. A longer one is
/// cut right after a mark that ends a sentence in any language (`STOPS`, `!`, `?`) once
/// `MAX_RUN_BYTES` have passed without white space, a full stop or a slash, unless a closing
/// quotation mark or bracket follows it (「…。」と… may go on); the segmenter would end a sentence
/// there too, and the cost becomes linear.
fn pieces(flat: &str) -> Vec<(usize, &str)> {
    if flat.len() <= WHOLE_UNIT_BYTES {
        return vec![(0, flat)];
    }
    let mut out = Vec::new();
    let (mut piece, mut run_from) = (0, 0);
    let mut chars = flat.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = i + c.len_utf8();
        if c.is_whitespace() || c == '.' || c == '/' {
            run_from = end;
        } else if (STOPS.contains(&c) || c == '!' || c == '?')
            && i - run_from >= MAX_RUN_BYTES
            && chars.peek().is_none_or(|&(_, next)| !CLOSERS.contains(&next))
        {
            out.push((piece, &flat[piece..end]));
            (piece, run_from) = (end, end);
        }
    }
    if piece < flat.len() {
        out.push((piece, &flat[piece..]));
    }
    out
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

/// Full stops of Chinese and Japanese (and their exclamation and question marks) end a sentence
/// even with no space after them, which the segmenter may not see; a closing bracket or quotation
/// mark right after one stays with its sentence, and a quotation followed by a particle
/// (「…。」と話した) goes on. So do the marks that end a sentence in other scripts, which the
/// segmenter's rules know only for some languages (and the English rules, used when the
/// language is not detected, for none): the Tibetan shad (which also ends a clause) and its
/// double, the Devanagari and Bengali danda and its double, the Ethiopic full stop and question
/// mark, the Burmese and Khmer full stops, and the Armenian and Urdu full stops.
const STOPS: [char; 14] = ['。', '！', '？', '།', '༎', '।', '॥', '።', '፧', '။', '។', '៕', '։', '۔'];
const CLOSERS: [char; 6] = ['」', '』', '）', '”', '’', '"'];

/// Pushes the sentence at `start..end`, cut after each full stop of `STOPS` inside it.
fn push_full_stops(text: &str, start: usize, end: usize, paragraph: usize, out: &mut Vec<Sentence>) {
    let piece = &text[start..end];
    let mut from = 0;
    let mut chars = piece.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if !STOPS.contains(&c) {
            continue;
        }
        let mut cut = i + c.len_utf8();
        while let Some(&(j, next)) = chars.peek() {
            if CLOSERS.contains(&next) || STOPS.contains(&next) {
                cut = j + next.len_utf8();
                chars.next();
            } else {
                break;
            }
        }
        if cut < piece.len() && !continues_quotation(&piece[..cut], &piece[cut..]) {
            push_trimmed(text, start + from, start + cut, paragraph, out);
            from = cut;
        }
    }
    push_trimmed(text, start + from, end, paragraph, out);
}

/// Whether text after a Japanese quotation goes on with its sentence: the quotation closes with a
/// bracket and a hiragana particle follows (「…。」と話した).
fn continues_quotation(before: &str, after: &str) -> bool {
    before.ends_with(['」', '』']) && after.chars().next().is_some_and(|c| ('\u{3041}'..='\u{309F}').contains(&c))
}

/// Whether most letters of `unit` are Thai, Lao or Khmer, which end a sentence or a clause with a
/// space: such a unit is cut at its spaces whatever the article's language (Lao is not detected
/// at all, and a Thai passage may stand in an article in another language).
fn spaced_by_phrase(unit: &str) -> bool {
    let (mut spaced, mut letters) = (0, 0);
    for c in unit.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        spaced += usize::from(matches!(c as u32, 0x0E00..=0x0EFF | 0x1780..=0x17FF));
    }
    spaced * 2 > letters
}

/// Thai and Khmer mark the end of a sentence (or a clause) with a space: each stretch between
/// spaces is a sentence, and one of fewer than `MIN_CLAUSE_CHARS` letters joins the next (the
/// last one joins the one before).
fn push_clauses(text: &str, start: usize, end: usize, paragraph: usize, out: &mut Vec<Sentence>) {
    const MIN_CLAUSE_CHARS: usize = 20;
    let unit = &text[start..end];
    // (start, end, letters) of each stretch between spaces.
    let mut clauses: Vec<(usize, usize, usize)> = Vec::new();
    let mut current: Option<(usize, usize, usize)> = None;
    for (i, c) in unit.char_indices() {
        if c.is_whitespace() {
            clauses.extend(current.take());
            continue;
        }
        let (_, e, letters) = current.get_or_insert((i, i, 0));
        *e = i + c.len_utf8();
        *letters += usize::from(c.is_alphanumeric());
    }
    clauses.extend(current);
    let mut merged: Vec<(usize, usize, usize)> = Vec::new();
    let mut pending: Option<(usize, usize, usize)> = None;
    for (a, b, n) in clauses {
        let (a, n) = pending.take().map_or((a, n), |(pa, _, pn)| (pa, pn + n));
        if n < MIN_CLAUSE_CHARS {
            pending = Some((a, b, n));
        } else {
            merged.push((a, b, n));
        }
    }
    if let Some((a, b, n)) = pending {
        match merged.last_mut() {
            Some(last) => {
                last.1 = b;
                last.2 += n;
            }
            None => merged.push((a, b, n)),
        }
    }
    for (a, b, _) in merged {
        push_trimmed(text, start + a, start + b, paragraph, out);
    }
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
    if first.is_lowercase() || continues_quotation(prev, next) {
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
    fn a_long_paragraph_without_spaces_is_split_into_its_sentences() {
        let sentence = |i: usize| match i % 3 {
            0 => format!("市議会は第{i}回の会合で新しい路線を決めた。"),
            1 => format!("市長は「第{i}の計画は良い。」と話した。"),
            _ => format!("住民{i}人が集会に来たのか？"),
        };
        for n in [20, 600] {
            let sentences: Vec<String> = (0..n).map(sentence).collect();
            let paragraph = sentences.concat();
            assert_eq!(paragraph.len() > WHOLE_UNIT_BYTES, n == 600);
            assert_eq!(texts(&paragraph), sentences, "{n} sentences");
        }
    }

    #[test]
    fn only_a_long_unit_is_cut_and_only_after_a_sentence_end() {
        let short = "市議会は新しい路線を決めた。".repeat(100);
        assert_eq!(pieces(&short), [(0, short.as_str())]);
        let long = "市長は「計画は良い。」と話した。住民が集会に来た！".repeat(400) + "終わり";
        let cut = pieces(&long);
        assert!(cut.len() > 10, "{} pieces", cut.len());
        assert_eq!(cut.iter().map(|(_, p)| *p).collect::<String>(), long);
        for (n, &(at, piece)) in cut.iter().enumerate() {
            assert_eq!(&long[at..at + piece.len()], piece);
            if n + 1 < cut.len() {
                assert!(piece.ends_with(['。', '！']), "{piece}");
                assert!(!long[at + piece.len()..].starts_with(CLOSERS), "a quotation goes on");
            }
        }
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
    fn cjk_full_stops_and_thai_spaces() {
        let zh = "河滨市议会周二作出决定。每晚约有240人使用阅览室！图书馆还将出借电脑吗？是的。";
        let got: Vec<&str> = split_in(zh, Language::parse("zh").unwrap()).iter().map(|s| s.span.of(zh)).collect();
        assert_eq!(got, ["河滨市议会周二作出决定。", "每晚约有240人使用阅览室！", "图书馆还将出借电脑吗？", "是的。"]);
        let ja = "市長は「延長します。」と話した。利用者は増えた。";
        let got: Vec<&str> = split_in(ja, Language::parse("ja").unwrap()).iter().map(|s| s.span.of(ja)).collect();
        assert_eq!(got, ["市長は「延長します。」と話した。", "利用者は増えた。"]);
        let ko = "시의회는 화요일 계획을 승인했다. 약 240명이 열람실을 이용했다.";
        let got: Vec<&str> = split_in(ko, Language::parse("ko").unwrap()).iter().map(|s| s.span.of(ko)).collect();
        assert_eq!(got, ["시의회는 화요일 계획을 승인했다.", "약 240명이 열람실을 이용했다."]);
        let th = "ห้องสมุดเมืองริเวอร์ไซด์จะเปิดห้องอ่านหนังสือถึงเที่ยงคืน สภาเมืองอนุมัติแผนนี้เมื่อวันอังคาร ดี";
        let got: Vec<&str> = split_in(th, Language::parse("th").unwrap()).iter().map(|s| s.span.of(th)).collect();
        assert_eq!(got, ["ห้องสมุดเมืองริเวอร์ไซด์จะเปิดห้องอ่านหนังสือถึงเที่ยงคืน", "สภาเมืองอนุมัติแผนนี้เมื่อวันอังคาร ดี"]);
        // Thai in an article of unknown language, and Lao (which is never detected), the same way.
        assert_eq!(texts(th), ["ห้องสมุดเมืองริเวอร์ไซด์จะเปิดห้องอ่านหนังสือถึงเที่ยงคืน", "สภาเมืองอนุมัติแผนนี้เมื่อวันอังคาร ดี"]);
        let lo = "ສະພາເມືອງໄດ້ລົງມະຕິຂະຫຍາຍເຄືອຂ່າຍລົດເມໃນວັນອັງຄານ ເຈົ້າໜ້າທີ່ກ່າວວ່າແຜນການນີ້ຈະມີຄ່າໃຊ້ຈ່າຍສີ່ລ້ານໂດລາ";
        assert_eq!(texts(lo), ["ສະພາເມືອງໄດ້ລົງມະຕິຂະຫຍາຍເຄືອຂ່າຍລົດເມໃນວັນອັງຄານ", "ເຈົ້າໜ້າທີ່ກ່າວວ່າແຜນການນີ້ຈະມີຄ່າໃຊ້ຈ່າຍສີ່ລ້ານໂດລາ"]);
    }

    #[test]
    fn other_scripts_full_stops_end_a_sentence_in_any_language() {
        // Each in an article of unknown language (English rules), where the segmenter knew none
        // of these marks: Tibetan, Amharic, Hindi, Armenian, Urdu.
        let cases: [(&str, &[&str]); 5] = [
            ("བཀྲ་ཤིས་བདེ་ལེགས། ང་བོད་པ་ཡིན།", &["བཀྲ་ཤིས་བདེ་ལེགས།", "ང་བོད་པ་ཡིན།"]),
            ("ሰላም ነው። እንዴት ነህ፧ ደህና ነኝ።", &["ሰላም ነው።", "እንዴት ነህ፧", "ደህና ነኝ።"]),
            ("नमस्ते। आप कैसे हैं? मैं ठीक हूँ।", &["नमस्ते।", "आप कैसे हैं?", "मैं ठीक हूँ।"]),
            ("Բարեւ։ Ինչպես ես։", &["Բարեւ։", "Ինչպես ես։"]),
            (
                "شہر کی کونسل نے منصوبہ منظور کیا۔ کام جون میں شروع ہوگا۔",
                &["شہر کی کونسل نے منصوبہ منظور کیا۔", "کام جون میں شروع ہوگا۔"],
            ),
        ];
        for (text, want) in cases {
            assert_eq!(texts(text), want, "{text}");
        }
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
