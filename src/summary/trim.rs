//! Trimming of key sentences: the parts of an article sentence a key point can do without
//! (a dateline such as "LONDON, England (CNN) --", a leading connective such as "But" or
//! "However,", an attribution such as ", police said on Tuesday." or "According to X, ", and a
//! reference to a picture such as "(pictured)"). What is kept is always the article's own bytes:
//! one or more spans of the sentence, so a trimmed key point still points at exactly what it
//! shows and stays as grounded as the sentence. The rules are conservative: when a cut would
//! leave a quotation open or too little of the sentence, the sentence is kept whole.
//!
//! The connective, attribution and picture rules are English word lists; for an article in
//! another language only the dateline rule (an agency in parentheses) applies
//! (`TrimRules::for_language`).

use crate::summary::lexical::{closes_quote, opens_quote};
use crate::summary::sentences::Span;

/// A trimmed sentence keeps at least this many words, or it is kept whole.
const MIN_KEPT_WORDS: usize = 6;

/// Which rules run. All but `attribution` by default: a key point without its ", police
/// said" states as fact what the article only reports someone saying, which is the kind of
/// misstatement key points must not make (on the dev set the rule is worth +0.2 ROUGE-1;
/// `precis eval --trim` measures it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrimRules {
    pub dateline: bool,
    pub connective: bool,
    pub attribution: bool,
    pub picture: bool,
}

impl Default for TrimRules {
    fn default() -> Self {
        TrimRules { dateline: true, connective: true, attribution: false, picture: true }
    }
}

impl TrimRules {
    /// The rules that apply to an article in `language`: all of these for English or an
    /// unknown language; for others only the dateline, as the other rules know English words only.
    pub fn for_language(self, language: crate::language::Language) -> TrimRules {
        if language.is_english() || !language.is_known() {
            return self;
        }
        TrimRules { dateline: self.dateline, ..TrimRules::NONE }
    }

    /// No trimming at all: the sentence as it is.
    pub const ALL: TrimRules = TrimRules { dateline: true, connective: true, attribution: true, picture: true };
    pub const NONE: TrimRules = TrimRules { dateline: false, connective: false, attribution: false, picture: false };
}

impl std::str::FromStr for TrimRules {
    type Err = String;

    /// Rule names separated by commas (`dateline,attribution`), or `none`.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut rules = TrimRules::NONE;
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty() && *n != "none") {
            match name {
                "dateline" => rules.dateline = true,
                "connective" => rules.connective = true,
                "attribution" => rules.attribution = true,
                "picture" => rules.picture = true,
                _ => {
                    return Err(format!(
                        "`{name}` is not a trimming rule; use dateline, connective, attribution, picture or none"
                    ))
                }
            }
        }
        Ok(rules)
    }
}

/// The spans of the sentence at `span` in `text` that make its key point, in order. Without
/// anything to trim, that is `span` itself.
pub fn key_point(text: &str, span: Span, rules: TrimRules) -> Vec<Span> {
    let s = span.of(text);
    let kept = keep(s, rules);
    kept.into_iter().map(|(a, b)| Span { start: span.start + a, end: span.start + b }).collect()
}

/// The text of a key point made of `spans` of the sentence at `sentence` in `text`: the spans
/// one after the other, a space between them unless the next one starts with punctuation, white
/// space collapsed, and, when the start of the sentence was cut ("But they ..."), the first
/// letter capitalized.
pub fn joined(text: &str, sentence: Span, spans: &[Span]) -> String {
    let mut out = String::new();
    for s in spans {
        let piece = s.of(text);
        if !out.is_empty() && !piece.starts_with(['.', ',', ';', ':', '!', '?', ')']) {
            out.push(' ');
        }
        out.push_str(piece);
    }
    let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    let first_word = out.split(' ').next().unwrap_or("");
    // A cut start, but not a name written in lower case on purpose ("iPhone", "eBay").
    if spans.first().is_none_or(|s| s.start == sentence.start) || first_word.chars().skip(1).any(char::is_uppercase) {
        return out;
    }
    let mut chars = out.chars();
    match chars.next() {
        Some(c) if c.is_lowercase() => c.to_uppercase().chain(chars).collect(),
        _ => out,
    }
}

/// The byte ranges of `s` to keep, in order.
fn keep(s: &str, rules: TrimRules) -> Vec<(usize, usize)> {
    let whole = vec![(0, s.len())];
    let mut start = 0;
    if rules.dateline {
        start = dateline_end(s).unwrap_or(0);
    }
    if rules.connective {
        start += connective_end(&s[start..]).unwrap_or(0);
    }
    if rules.attribution {
        start += leading_attribution_end(&s[start..]).unwrap_or(0);
    }
    let mut end = s.len();
    let mut terminal = None;
    if rules.attribution {
        if let Some(cut) = trailing_attribution_start(&s[start..]) {
            end = start + cut;
            // The sentence's own full stop ends the shortened sentence.
            terminal = Some((s.len() - 1, s.len()));
        }
    }
    let mut kept = Vec::new();
    let mut from = start;
    if rules.picture {
        for (a, b) in picture_references(&s[start..end]) {
            kept.push((from, start + a));
            from = start + b;
        }
    }
    kept.push((from, end));
    kept.extend(terminal);
    kept.retain(|(a, b)| a < b);
    let words: usize = kept.iter().map(|&(a, b)| s[a..b].split_whitespace().count()).sum();
    if words < MIN_KEPT_WORDS || kept == whole {
        return whole;
    }
    // A span never starts or ends in white space.
    kept.iter()
        .map(|&(a, b)| {
            let piece = &s[a..b];
            let a2 = a + (piece.len() - piece.trim_start().len());
            (a2, a2 + piece.trim().len())
        })
        .filter(|(a, b)| a < b)
        .collect()
}

fn is_quote(c: char) -> bool {
    matches!(c, '"' | '\'' | '“' | '”' | '‘' | '’')
}

/// Whether `s` has a quotation mark: a double one, or a single one that opens or closes a
/// word (an apostrophe inside a word, as in "study's", is not one).
fn has_quotation(s: &str) -> bool {
    s.contains(['"', '“', '”']) || s.split_whitespace().any(|w| opens_quote(w) || closes_quote(w))
}

/// Bare words, without surrounding punctuation.
fn bare(word: &str) -> &str {
    word.trim_matches(|c: char| !c.is_alphanumeric())
}

/// The end of a dateline at the start of `s`: "(CNN)", "LONDON, England (CNN) --",
/// "Washington (AP) —". The agency is in parentheses, and either nothing comes before it or a
/// dash follows it, so a parenthesis in an ordinary sentence is never taken for one.
fn dateline_end(s: &str) -> Option<usize> {
    let open = s.find('(')?;
    let head = &s[..open];
    let head_words: Vec<&str> = head.split_whitespace().collect();
    if head_words.len() > 4 || !head_words.iter().all(|w| w.chars().next().is_some_and(char::is_uppercase)) {
        return None;
    }
    let close = open + s[open..].find(')')?;
    let agency = &s[open + 1..close];
    let known = ["CNN", "AP", "AFP", "Reuters", "UPI", "PA", "EW.com", "CNN Student News", "Mashable"];
    let caps = !agency.is_empty() && agency.len() <= 6 && agency.chars().all(|c| c.is_ascii_uppercase());
    if !(known.contains(&agency) || caps) {
        return None;
    }
    let after = &s[close + 1..];
    let rest = after.trim_start();
    let dash = ["--", "—", "–", "-"].iter().find(|d| rest.starts_with(**d));
    if dash.is_none() && !head_words.is_empty() {
        return None;
    }
    let rest = dash.map_or(rest, |d| rest[d.len()..].trim_start());
    let first = rest.chars().next()?;
    if !(first.is_uppercase() || first.is_ascii_digit() || is_quote(first)) {
        return None;
    }
    Some(s.len() - rest.len())
}

/// Words that tie a sentence to the one before it and mean nothing in a key point on its own.
/// "But" and "And" stand alone; the adverbs need their comma ("Still, ..." but not "Still
/// others ...").
const CONNECTIVES: &[&str] = &[
    "But ",
    "And ",
    "However, ",
    "Meanwhile, ",
    "Yet, ",
    "Still, ",
    "So, ",
    "Now, ",
    "Also, ",
    "Instead, ",
    "Moreover, ",
    "Furthermore, ",
    "In addition, ",
    "Indeed, ",
    "Nevertheless, ",
    "Nonetheless, ",
    "Besides, ",
    "Incidentally, ",
    "Then, ",
    "Thus, ",
];

/// The end of a leading connective, when a clause with a word of its own follows it.
fn connective_end(s: &str) -> Option<usize> {
    let c = CONNECTIVES.iter().find(|c| s.starts_with(**c))?;
    let rest = &s[c.len()..];
    rest.chars().next().filter(|c| c.is_alphanumeric() || is_quote(*c))?;
    Some(c.len())
}

/// The end of a leading "According to X, ", X a few words without quotes.
fn leading_attribution_end(s: &str) -> Option<usize> {
    let rest = s.strip_prefix("According to ")?;
    let comma = rest.find(", ")?;
    let source = &rest[..comma];
    if source.split_whitespace().count() > 8 || has_quotation(source) {
        return None;
    }
    // "According to the officers, who spoke ..., nothing was taken": the comma opens an aside.
    let next = rest[comma + 2..].split_whitespace().next().map(|w| bare(w).to_lowercase()).unwrap_or_default();
    if ["who", "whom", "whose", "which", "where", "when"].contains(&next.as_str()) {
        return None;
    }
    Some("According to ".len() + comma + 2)
}

/// Verbs of saying that end an attribution ("..., police said.").
const SAYING: &[&str] = &[
    "said",
    "says",
    "added",
    "adds",
    "told",
    "tells",
    "announced",
    "reported",
    "reports",
    "claimed",
    "claims",
    "confirmed",
    "revealed",
    "explained",
    "insisted",
    "warned",
    "wrote",
    "stated",
    "noted",
    "admitted",
];
/// Words that may follow the verb of an attribution: when and how it was said.
const WHEN: &[&str] = &[
    "on",
    "last",
    "this",
    "in",
    "at",
    "earlier",
    "later",
    "yesterday",
    "today",
    "tonight",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];
/// Speakers that "found" something: ", a study found."
const FINDERS: &[&str] =
    &["report", "study", "survey", "poll", "research", "researchers", "review", "investigation", "inquiry"];

/// Where a trailing attribution starts (the byte of its comma) in a sentence ending in a full
/// stop: ", police said on Tuesday.", ", a spokesman told the BBC.", ", according to court
/// documents.", ", said the study's author, Dr Jane Doe.", ", a report found.", ", it emerged
/// today.". Not when what is left would end in a quotation ("'I want her gone,' it emerged"):
/// the attribution then belongs to the quote.
fn trailing_attribution_start(s: &str) -> Option<usize> {
    let body = s.strip_suffix('.')?;
    let mut best = None;
    for (comma, _) in body.match_indices(", ") {
        let tail = &body[comma + 2..];
        let words: Vec<&str> = tail.split_whitespace().collect();
        if words.len() > 12 || has_quotation(tail) {
            continue;
        }
        if is_attribution(&words) {
            best = Some(comma);
            break;
        }
    }
    let comma = best?;
    let kept = body[..comma].trim_end();
    if kept.split_whitespace().count() < MIN_KEPT_WORDS || kept.ends_with(is_quote) {
        return None;
    }
    Some(comma)
}

fn is_attribution(words: &[&str]) -> bool {
    let lower: Vec<String> = words.iter().map(|w| bare(w).to_lowercase()).collect();
    let Some(first) = lower.first() else { return false };
    // ", according to court documents."
    if first == "according" {
        return lower.get(1).is_some_and(|w| w == "to") && words.len() <= 10 && !words.iter().any(|w| w.ends_with(','));
    }
    // ", said the study's author, Dr Jane Doe, of the University of X."
    if first == "said" || first == "says" {
        return lower.get(1).is_some_and(|w| !WHEN.contains(&w.as_str()) && !w.is_empty());
    }
    // ", it emerged today." / ", it was revealed."
    if first == "it" {
        let rest: Vec<&str> = lower[1..].iter().map(String::as_str).collect();
        let verb = match rest.as_slice() {
            ["emerged", ..] => 1,
            ["has", "emerged", ..] | ["was", "revealed", ..] | ["was", "reported", ..] | ["was", "claimed", ..] => 2,
            ["has", "been", "revealed", ..] | ["has", "been", "reported", ..] | ["has", "been", "claimed", ..] => 3,
            _ => return false,
        };
        return rest[verb..].len() <= 2 && rest[verb..].first().is_none_or(|w| WHEN.contains(w));
    }
    // ", police said on Tuesday.", ", a spokesman told the New York Post.", ", a study found."
    if ["and", "but", "as", "which", "who", "while", "when", "if", "because", "so"].contains(&first.as_str()) {
        return false;
    }
    let Some(v) = lower.iter().position(|w| SAYING.contains(&w.as_str()) || w == "found") else {
        return false;
    };
    if v == 0 || v > 8 || words[..v].iter().any(|w| w.ends_with(',')) {
        return false;
    }
    if lower[v] == "found" && !lower[..v].iter().any(|w| FINDERS.contains(&w.as_str())) {
        return false;
    }
    let after = &lower[v + 1..];
    if lower[v] == "told" || lower[v] == "tells" {
        // Whom: "told the New York Post", "told reporters on Monday".
        return !after.is_empty() && after.len() <= 6 && !words[v + 1..].iter().any(|w| w.ends_with(','));
    }
    after.len() <= 4
        && after.first().is_none_or(|w| WHEN.contains(&w.as_str()))
        && !words[v + 1..].iter().any(|w| w.ends_with(','))
}

/// Words of a reference to a picture: "(pictured)", "(left)", "(not pictured)", "(second
/// right)", "(file photo)".
const PICTURE: &[&str] = &[
    "pictured", "picture", "left", "right", "centre", "center", "above", "below", "top", "bottom", "inset", "photo",
    "file",
];
const PICTURE_EXTRA: &[&str] = &[
    "not", "second", "third", "far", "front", "back", "middle", "main", "both", "and", "with", "also", "here",
    "together", "l", "r",
];

/// Byte ranges of references to pictures in `s`, each with the white space before it.
fn picture_references(s: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(open) = s[from..].find(" (").map(|i| from + i) {
        let Some(close) = s[open..].find(')').map(|i| open + i) else { break };
        let inner = &s[open + 2..close];
        let words: Vec<String> = inner.split([' ', ',']).filter(|w| !w.is_empty()).map(|w| w.to_lowercase()).collect();
        let is_picture = !words.is_empty()
            && words.iter().any(|w| PICTURE.contains(&w.as_str()))
            && words.iter().all(|w| PICTURE.contains(&w.as_str()) || PICTURE_EXTRA.contains(&w.as_str()));
        if is_picture {
            out.push((open, close + 1));
        }
        from = close + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key point of `s` alone, and whether its spans join to exactly that text.
    fn trimmed(s: &str) -> String {
        let whole = Span { start: 0, end: s.len() };
        let spans = key_point(s, whole, TrimRules::ALL);
        let text = joined(s, whole, &spans);
        for sp in &spans {
            let piece = sp.of(s);
            assert_eq!(piece, piece.trim(), "spans never start or end in white space: {spans:?}");
        }
        // The text is the spans' own words (bar the capital of the first letter).
        let words: String = spans.iter().map(|sp| sp.of(s)).collect::<Vec<_>>().join(" ");
        let words = words.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(text.to_lowercase(), words.to_lowercase().replace(" .", ".").replace(" ,", ","), "{spans:?}");
        text
    }

    #[test]
    fn datelines_are_dropped() {
        assert_eq!(
            trimmed("(CNN)An unmanned Russian spacecraft will re-enter the atmosphere next week."),
            "An unmanned Russian spacecraft will re-enter the atmosphere next week."
        );
        assert_eq!(
            trimmed("LONDON, England (CNN) -- The river burst its banks in three towns overnight."),
            "The river burst its banks in three towns overnight."
        );
        assert_eq!(
            trimmed("Washington (AP) — Senators agreed on a spending bill late on Friday night."),
            "Senators agreed on a spending bill late on Friday night."
        );
    }

    #[test]
    fn parentheses_that_are_not_datelines_stay() {
        for s in [
            "The World Health Organization (WHO) said the outbreak was over in March.",
            "Roscosmos (the Russian space agency) lost contact with the cargo ship.",
            "The kite measured 6,000 metres (3.7 miles) and weighed 200 kilograms.",
        ] {
            assert_eq!(trimmed(s), s);
        }
    }

    #[test]
    fn only_a_cut_start_is_capitalized() {
        // Nothing to trim: the sentence stays exactly as written, lower-case start and all.
        assert_eq!(
            trimmed("iPhone sales fell by a tenth in the last three months."),
            "iPhone sales fell by a tenth in the last three months."
        );
        assert_eq!(
            trimmed("But sales of the iPhone fell by a tenth this spring."),
            "Sales of the iPhone fell by a tenth this spring."
        );
        assert_eq!(
            trimmed("But iPhone sales fell by a tenth in the last three months."),
            "iPhone sales fell by a tenth in the last three months."
        );
    }

    #[test]
    fn leading_connectives_are_dropped() {
        assert_eq!(
            trimmed("But they had overlooked how close the festival was to the airport."),
            "They had overlooked how close the festival was to the airport."
        );
        assert_eq!(
            trimmed("However, aviation authorities ruled that the kite could not be flown."),
            "Aviation authorities ruled that the kite could not be flown."
        );
        assert_eq!(
            trimmed("And the mayor said the bridge would reopen before the summer."),
            "The mayor said the bridge would reopen before the summer."
        );
    }

    #[test]
    fn words_that_only_look_like_connectives_stay() {
        for s in [
            "Still others waited outside the stadium for the gates to open.",
            "Butter prices rose by a third in the first three months of the year.",
            "Andrew Marr interviewed the prime minister on Sunday morning.",
            "Now is the time to book a summer holiday, travel agents say.",
        ] {
            assert!(trimmed(s).starts_with(&s[..6]), "{s}");
        }
    }

    #[test]
    fn trailing_attributions_are_dropped() {
        assert_eq!(
            trimmed("The suspect was arrested near the border on Monday, police said on Tuesday."),
            "The suspect was arrested near the border on Monday."
        );
        assert_eq!(
            trimmed("The bridge will stay closed for at least three more weeks, officials said."),
            "The bridge will stay closed for at least three more weeks."
        );
        assert_eq!(
            trimmed("The team flew only half of the kite at the festival, according to local media."),
            "The team flew only half of the kite at the festival."
        );
        assert_eq!(
            trimmed("Four tourists rushed in to stop an assault on a crowded train, a witness told the New York Post."),
            "Four tourists rushed in to stop an assault on a crowded train."
        );
        assert_eq!(
            trimmed("Exercise may reduce the risk of falling in later life, said the study's author, Dr Jane Moor."),
            "Exercise may reduce the risk of falling in later life."
        );
        assert_eq!(
            trimmed("More than 20,000 foreign fighters have travelled to the region, a United Nations report found."),
            "More than 20,000 foreign fighters have travelled to the region."
        );
    }

    #[test]
    fn attributions_stay_by_default() {
        let s = "The suspect was arrested near the border on Monday, police said on Tuesday.";
        let whole = Span { start: 0, end: s.len() };
        assert_eq!(key_point(s, whole, TrimRules::default()), [whole]);
        let s = "According to court documents, the car was found submerged in a pond.";
        assert_eq!(
            key_point(s, Span { start: 0, end: s.len() }, TrimRules::default()),
            [Span { start: 0, end: s.len() }]
        );
    }

    #[test]
    fn attributions_that_carry_content_or_close_a_quote_stay() {
        for s in [
            // The quote is the point; its speaker stays with it.
            "\"We are no heroes, just tourists,\" one of the officers told the New York Post.",
            "The girl texted him hours before the stabbing, 'I want her gone,' it emerged today.",
            // What follows "said" is the content, not when it was said.
            "The club apologised to its fans, the manager said the fine would be paid.",
            // An appositive speaker: which comma starts the attribution is not clear.
            "The craft will burn up in about a week, Roscosmos, the Russian space agency, said Wednesday.",
            // Too little would be left.
            "Prices rose, officials said.",
            // Not a speaker that found something.
            "The divers searched the lake for hours, and a phone was found.",
        ] {
            assert_eq!(trimmed(s), s);
        }
    }

    #[test]
    fn a_leading_according_to_is_dropped() {
        assert_eq!(
            trimmed("According to court documents, the car was found submerged in a pond."),
            "The car was found submerged in a pond."
        );
        assert_eq!(
            trimmed("According to the officers, who spoke on condition of anonymity, nothing was taken."),
            "According to the officers, who spoke on condition of anonymity, nothing was taken."
        );
    }

    #[test]
    fn picture_references_are_cut_from_the_middle() {
        let s = "Sister Gertrud (not pictured) was found in her bedroom at the mission on Sunday.";
        let spans = key_point(s, Span { start: 0, end: s.len() }, TrimRules::default());
        assert_eq!(spans.len(), 2, "{spans:?}");
        assert_eq!(spans[0].of(s), "Sister Gertrud");
        assert_eq!(spans[1].of(s), "was found in her bedroom at the mission on Sunday.");
        assert_eq!(trimmed(s), "Sister Gertrud was found in her bedroom at the mission on Sunday.");
        assert_eq!(
            trimmed("Jamie (left), 14, and her boyfriend (right) were charged with murder on Friday."),
            "Jamie, 14, and her boyfriend were charged with murder on Friday."
        );
    }

    #[test]
    fn rules_combine_and_spans_point_into_the_text() {
        let text = "Intro line.\n\nBut the council approved the new budget on Monday, a spokesman said. Next.";
        let start = text.find("But").unwrap();
        let end = text.find(" Next").unwrap();
        let spans = key_point(text, Span { start, end }, TrimRules::ALL);
        assert_eq!(
            spans.iter().map(|s| s.of(text)).collect::<Vec<_>>(),
            ["the council approved the new budget on Monday", "."]
        );
        assert_eq!(joined(text, Span { start, end }, &spans), "The council approved the new budget on Monday.");
        let whole = key_point(text, Span { start, end }, TrimRules::NONE);
        assert_eq!(whole, [Span { start, end }]);
    }
}
