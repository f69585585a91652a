//! What a person can choose about a summary: its type and length (as in Chrome's Summarizer
//! API), the language it is written in, how many tokens the answer and the article may take,
//! and the ranking settings; and the budgets each choice implies.

use serde::{Deserialize, Serialize};

use super::rank::RankOptions;
use crate::language::Language;
use crate::llm::GenerateOptions;

/// Article tokens one prompt may hold by default; a longer article is summarized by sections.
pub const DEFAULT_ARTICLE_TOKENS: usize = 3000;

/// Tokens the generator may write for the summary that goes with key points.
pub(crate) const SUMMARY_TOKENS: usize = 200;

/// Options of one summary run.
#[derive(Debug, Clone)]
pub struct SummarizeOptions {
    pub kind: SummaryType,
    pub length: Length,
    pub generate: GenerateOptions,
    /// Article tokens allowed into one prompt; longer articles are summarized by sections.
    pub article_tokens: usize,
    /// How sentences are ranked.
    pub rank: RankOptions,
    /// Key points: let the generator shorten the key sentences (each shortening is checked and
    /// shown only when it is a faithful condensation). Off by default: on the dev set every
    /// rewrite setting tried scored lower than the key sentences themselves.
    pub condense: bool,
    /// Read every paragraph: an article longer than `article_tokens` is summarized section by
    /// section before the summary is written (map-reduce), which takes time in proportion to
    /// the article. Off by default: the generator reads the most salient sentences of every
    /// section, so the time to a summary does not grow with the article.
    pub thorough: bool,
    /// The language the summary is written in: the article's (`Auto`) or a chosen one.
    pub language: OutputLanguage,
    /// Key points in another language than the chosen one: also let the generator translate
    /// each into the chosen language (shown beside the article's sentence, marked as a
    /// translation).
    pub translate_points: bool,
}

impl Default for SummarizeOptions {
    fn default() -> Self {
        SummarizeOptions {
            kind: SummaryType::KeyPoints,
            length: Length::Medium,
            generate: GenerateOptions { max_tokens: 400, ..GenerateOptions::default() },
            article_tokens: DEFAULT_ARTICLE_TOKENS,
            rank: RankOptions::default(),
            condense: false,
            thorough: false,
            language: OutputLanguage::Auto,
            translate_points: false,
        }
    }
}

/// The language a summary is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputLanguage {
    /// The article's own language (as detected; when it is unknown, the model's choice).
    #[default]
    Auto,
    /// This language, whatever the article's.
    Chosen(Language),
}

impl OutputLanguage {
    /// The language to write in for an article in `article`: unknown when the choice is
    /// `Auto` and the article's language is not known.
    pub fn resolve(self, article: Language) -> Language {
        match self {
            OutputLanguage::Auto => article,
            OutputLanguage::Chosen(l) => l,
        }
    }

    /// `auto`, or the chosen language's code.
    pub fn code(self) -> &'static str {
        match self {
            OutputLanguage::Auto => "auto",
            OutputLanguage::Chosen(l) => l.code(),
        }
    }
}

impl std::str::FromStr for OutputLanguage {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s.trim().eq_ignore_ascii_case("auto") {
            return Ok(OutputLanguage::Auto);
        }
        match Language::parse(s) {
            Some(l) if l.is_known() => Ok(OutputLanguage::Chosen(l)),
            _ => Err(format!(
                "`{s}` is not a language Precis knows; use auto, or a code such as en, de, fr, es, pt, ru, zh, ja or ko"
            )),
        }
    }
}

impl Serialize for OutputLanguage {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for OutputLanguage {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        // A setting this version cannot read is the default.
        Ok(String::deserialize(d)?.parse().unwrap_or_default())
    }
}

impl ts_rs::TS for OutputLanguage {
    type WithoutGenerics = Self;
    type OptionInnerType = Self;

    fn name(_: &ts_rs::Config) -> String {
        "string".into()
    }

    fn inline(_: &ts_rs::Config) -> String {
        "string".into()
    }
}

/// What kind of summary to write, as in Chrome's Summarizer API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ts_rs::TS)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "kebab-case")]
pub enum Length {
    Short,
    #[default]
    Medium,
    Long,
}

impl Length {
    /// The next length up, if there is one.
    pub fn longer(self) -> Option<Length> {
        match self {
            Length::Short => Some(Length::Medium),
            Length::Medium => Some(Length::Long),
            Length::Long => None,
        }
    }

    /// Most key points for this length.
    pub fn max_bullets(self) -> usize {
        match self {
            Length::Short => 3,
            Length::Medium => 5,
            Length::Long => 7,
        }
    }

    /// Most words in a headline of this length.
    /// Words a generated key point may have.
    pub fn key_point_words(self) -> usize {
        match self {
            Length::Short => 12,
            Length::Medium => 15,
            Length::Long => 20,
        }
    }

    pub fn headline_words(self) -> usize {
        match self {
            Length::Short => 12,
            Length::Medium => 17,
            Length::Long => 22,
        }
    }

    /// How long the summary above key points is.
    pub(crate) fn key_points_summary(self) -> &'static str {
        match self {
            Length::Short => "one sentence",
            Length::Medium => "two or three sentences",
            Length::Long => "three or four sentences",
        }
    }

    pub(crate) fn tldr(self) -> &'static str {
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

/// Words the extractive key points may use together, by length (the bullets stop at the budget
/// or at the bullet count, whichever comes first).
pub(crate) fn word_budget(length: Length) -> usize {
    match length {
        Length::Short => 70,
        Length::Medium => 110,
        Length::Long => 170,
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
