//! Summaries: the prompt that asks a generator for a short summary and key points of an
//! article, the run that streams its answer, and the forgiving parser that turns whatever the
//! model wrote into a summary string and a list of bullets.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::article::Article;
use crate::error::{Error, Result};
use crate::generate::{generate, CancelToken, GenerateOptions, StopReason};
use crate::model::Generator;
use crate::template::Message;

/// The article is cut to this many tokens before it goes into the prompt.
pub const DEFAULT_ARTICLE_TOKENS: usize = 3000;
/// Fewer article tokens than this would not make a useful summary.
const MIN_ARTICLE_TOKENS: usize = 64;

const SYSTEM_PROMPT: &str = "You are Precis, a careful assistant that summarizes articles. \
You use only facts stated in the article and never add names, places, numbers or events it does not mention.";

/// A parsed answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Answer {
    pub summary: String,
    pub bullets: Vec<Bullet>,
}

/// One key point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Bullet {
    pub text: String,
}

/// How long each stage took.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Timings {
    pub load_ms: u64,
    pub prompt_tokens: usize,
    pub prefill_ms: u64,
    pub generated_tokens: usize,
    pub decode_ms: u64,
    pub total_ms: u64,
}

/// The result of summarizing one article.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Summary {
    pub title: Option<String>,
    pub summary: String,
    pub bullets: Vec<Bullet>,
    pub model: String,
    pub stop_reason: StopReason,
    /// True when the article was longer than the prompt budget and was cut.
    pub truncated: bool,
    pub timings: Timings,
}

/// Options of one summary run.
#[derive(Debug, Clone)]
pub struct SummarizeOptions {
    pub kind: SummaryType,
    pub length: Length,
    pub generate: GenerateOptions,
    /// Article tokens allowed into the prompt.
    pub article_tokens: usize,
}

impl Default for SummarizeOptions {
    fn default() -> Self {
        SummarizeOptions {
            kind: SummaryType::KeyPoints,
            length: Length::Medium,
            generate: GenerateOptions {
                max_tokens: 400,
                ..GenerateOptions::default()
            },
            article_tokens: DEFAULT_ARTICLE_TOKENS,
        }
    }
}

/// What kind of summary to write, as in Chrome's Summarizer API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SummaryType {
    /// A short summary and a list of key points.
    #[default]
    KeyPoints,
    /// A summary only: one sentence, one short paragraph or one paragraph.
    Tldr,
    /// One headline.
    Headline,
}

/// How long the summary should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Length {
    Short,
    #[default]
    Medium,
    Long,
}

impl Length {
    /// Most key points for this length.
    pub fn max_bullets(self) -> usize {
        match self {
            Length::Short => 3,
            Length::Medium => 5,
            Length::Long => 7,
        }
    }

    /// Most words in a headline of this length.
    pub fn headline_words(self) -> usize {
        match self {
            Length::Short => 12,
            Length::Medium => 17,
            Length::Long => 22,
        }
    }

    fn tldr(self) -> &'static str {
        match self {
            Length::Short => "one sentence",
            Length::Medium => "one short paragraph of two or three sentences",
            Length::Long => "one paragraph of four to six sentences",
        }
    }
}

impl std::str::FromStr for SummaryType {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "key-points" => Ok(SummaryType::KeyPoints),
            "tldr" => Ok(SummaryType::Tldr),
            "headline" => Ok(SummaryType::Headline),
            _ => Err(format!("`{s}` is not a summary type; use key-points, tldr or headline")),
        }
    }
}

impl std::str::FromStr for Length {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "short" => Ok(Length::Short),
            "medium" => Ok(Length::Medium),
            "long" => Ok(Length::Long),
            _ => Err(format!("`{s}` is not a length; use short, medium or long")),
        }
    }
}

fn count_word(n: usize) -> &'static str {
    ["zero", "one", "two", "three", "four", "five", "six", "seven"].get(n).copied().unwrap_or("several")
}

/// The chat messages that ask for a summary of an article (whose text may have been cut).
pub fn messages(title: Option<&str>, text: &str, kind: SummaryType, length: Length) -> Vec<Message> {
    let mut user = String::new();
    if let Some(title) = title {
        user.push_str(&format!("Title: {title}\n\n"));
    }
    user.push_str("Article:\n\"\"\"\n");
    user.push_str(text.trim());
    user.push_str("\n\"\"\"\n\n");
    let task = match kind {
        SummaryType::KeyPoints => format!(
            "Summarize the article above. First write a summary of two or three sentences. \
Then write at most {n} key points, each a short sentence with one fact from the article, \
each on its own line starting with \"- \". Use exactly this format:\n\n\
Summary: <the summary>\n\nKey points:\n- <first key point>\n- <second key point>\n- <third key point>",
            n = count_word(length.max_bullets())
        ),
        SummaryType::Tldr => format!(
            "Summarize the article above in {}. Use exactly this format:\n\nSummary: <the summary>",
            length.tldr()
        ),
        SummaryType::Headline => format!(
            "Write one headline for the article above, at most {} words, stating its main fact. \
Use exactly this format:\n\nSummary: <the headline>",
            length.headline_words()
        ),
    };
    user.push_str(&task);
    vec![Message::system(SYSTEM_PROMPT), Message::user(user)]
}

/// Cuts `text` to at most `max_tokens` tokens of the generator's tokenizer, at a paragraph or
/// sentence end where possible. Returns the text and whether it was cut.
pub fn fit_article<'a>(generator: &Generator, text: &'a str, max_tokens: usize) -> Result<(&'a str, bool)> {
    let ids = generator.tokenizer.encode(text, false, false)?;
    if ids.len() <= max_tokens {
        return Ok((text, false));
    }
    // Estimate the byte position of the token limit, then back off to a boundary.
    let ratio = max_tokens as f64 / ids.len() as f64;
    let mut cut = ((text.len() as f64) * ratio * 0.97) as usize;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = &text[..cut];
    let boundary = head
        .rfind("\n\n")
        .filter(|&i| i > cut / 2)
        .or_else(|| head.rfind(". ").map(|i| i + 1).filter(|&i| i > cut / 2))
        .unwrap_or(cut);
    Ok((&text[..boundary], true))
}

/// How many article tokens fit: the requested budget, but never more than the model's
/// context leaves after the instructions and the answer.
fn article_budget(generator: &Generator, title: Option<&str>, opts: &SummarizeOptions) -> Result<usize> {
    let frame = generator.template.render(&messages(title, "", opts.kind, opts.length))?;
    let overhead = generator.tokenizer.encode(&frame, true, true)?.len();
    let context = generator.props.context_length;
    let room = context.saturating_sub(overhead + opts.generate.max_tokens + 8);
    if room < MIN_ARTICLE_TOKENS {
        return Err(Error::ContextTooSmall {
            context,
            needed: overhead + opts.generate.max_tokens + MIN_ARTICLE_TOKENS,
        });
    }
    Ok(opts.article_tokens.min(room))
}

/// Summarizes an article, calling `on_text` with the model's answer as it is written.
pub fn summarize(
    generator: &mut Generator,
    model_name: &str,
    article: &Article,
    opts: &SummarizeOptions,
    cancel: &CancelToken,
    on_text: &mut dyn FnMut(&str),
) -> Result<Summary> {
    let start = Instant::now();
    let budget = article_budget(generator, article.title.as_deref(), opts)?;
    let (text, truncated) = fit_article(generator, &article.text, budget)?;
    let prompt = generator
        .template
        .render(&messages(article.title.as_deref(), text, opts.kind, opts.length))?;
    let ids = generator.tokenizer.encode(&prompt, true, true)?;
    let run = generate(generator, &ids, &opts.generate, cancel, on_text)?;
    let mut answer = parse_answer(&run.text);
    match opts.kind {
        SummaryType::KeyPoints => answer.bullets.truncate(opts.length.max_bullets()),
        SummaryType::Tldr | SummaryType::Headline => {
            // Anything the model listed beyond the asked-for text is not part of the answer.
            if answer.summary.is_empty() {
                if let Some(first) = answer.bullets.first() {
                    answer.summary = first.text.clone();
                }
            }
            answer.bullets.clear();
        }
    }
    Ok(Summary {
        title: article.title.clone(),
        summary: answer.summary,
        bullets: answer.bullets,
        model: model_name.to_string(),
        stop_reason: run.stop,
        truncated,
        timings: Timings {
            load_ms: ms(generator.load_time),
            prompt_tokens: run.prompt_tokens,
            prefill_ms: ms(run.prefill_time),
            generated_tokens: run.tokens.len(),
            decode_ms: ms(run.decode_time),
            total_ms: ms(start.elapsed()) + ms(generator.load_time),
        },
    })
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
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

/// Classifies one line of a model's answer.
pub fn classify(line: &str) -> Line<'_> {
    let trimmed = line.trim();
    let bare = trimmed.trim_start_matches(['#', '*', '_', ' ']);
    let lower = bare.to_lowercase();
    for label in ["summary", "tl;dr", "tldr"] {
        if lower.starts_with(label) {
            let rest = bare[label.len()..].trim_start_matches(['*', '_', ' ']);
            if let Some(after) = rest.strip_prefix(':') {
                return Line::SummaryLabel(after.trim_start_matches(['*', '_']).trim());
            }
            if rest.is_empty() {
                return Line::SummaryLabel("");
            }
        }
    }
    for label in ["key points", "key point", "keypoints", "key takeaways", "main points", "highlights"] {
        if lower.starts_with(label) {
            let rest = bare[label.len()..].trim_matches(['*', '_', ' ', ':']);
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

/// Removes Markdown emphasis markers around a whole item.
fn clean(text: &str) -> String {
    let t = text.trim();
    let t = t.strip_prefix("**").and_then(|x| x.strip_suffix("**")).unwrap_or(t);
    t.split_whitespace().collect::<Vec<_>>().join(" ")
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
    let key = |s: &str| {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    let k = key(&text);
    if !k.is_empty() && !bullets.iter().any(|b| key(&b.text) == k) {
        bullets.push(Bullet { text });
    }
}

/// The most tokens an answer of this type and length should need; generation stops there, so a
/// small model that rambles is cut off in proportion to what was asked.
pub fn answer_tokens(kind: SummaryType, length: Length) -> usize {
    match (kind, length) {
        (SummaryType::KeyPoints, Length::Short) => 200,
        (SummaryType::KeyPoints, Length::Medium) => 320,
        (SummaryType::KeyPoints, Length::Long) => 450,
        (SummaryType::Tldr, Length::Short) => 90,
        (SummaryType::Tldr, Length::Medium) => 180,
        (SummaryType::Tldr, Length::Long) => 300,
        (SummaryType::Headline, _) => 60,
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
    fn points_without_markers_and_truncated_answers() {
        let a = parse_answer("Summary: Rain is coming.\nKey points:\nStorms on Friday.\nRoads may flood.");
        assert_eq!(texts(&a), ["Storms on Friday.", "Roads may flood."]);
        let a = parse_answer("Summary: Cut off mid");
        assert_eq!(a.summary, "Cut off mid");
        assert!(a.bullets.is_empty());
        assert_eq!(parse_answer(""), Answer::default());
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
