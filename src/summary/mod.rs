//! Summaries: the extract-then-abstract pipeline and the pieces it is made of. The article is
//! cut into sentences with byte spans (`sentences`), its sentences are scored and the key ones
//! chosen (`lexical`, `rank`, `keypoints`) and trimmed (`trim`): these are the key points,
//! available before the generator reads anything. The generator then writes the summary from
//! a prompt of those sentences and their neighbours (`prompts`; a long read, or an article too
//! long for the prompt, from a bounded excerpt of every section, or section by section first
//! when the person asked for every paragraph), its answer is parsed (`answer`), and any
//! point it writes is checked against the article (`ground`). `pipeline` runs the stages in
//! order; `options` holds what a person can choose. Each stage reads the article in its
//! language (`crate::language`); the prompts ask for the summary in the article's language or
//! the chosen one, and the answer's language is checked. The result types live here.

pub mod answer;
pub mod ground;
pub mod keypoints;
pub mod lexical;
pub mod options;
pub mod pipeline;
pub mod prompts;
pub mod rank;
pub mod sentences;
pub mod structure;
pub mod trim;

use serde::{Deserialize, Serialize};

use crate::language::Language;
use crate::llm::StopReason;
use sentences::Span;

pub use answer::{parse_answer, Answer};
pub use keypoints::{extract, Extraction};
pub use options::{answer_tokens, Length, OutputLanguage, SummarizeOptions, SummaryType, DEFAULT_ARTICLE_TOKENS};
pub use pipeline::{
    key_points_first, summarize, translate_points, Models, Progress, Stage, Step, LONG_READ_PROMPT_TOKENS,
};

/// One key point, with the article sentences that support it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Bullet {
    pub text: String,
    /// Byte spans into the article text. A key point taken from the article cites exactly the
    /// bytes it shows (several spans when something was cut from the middle of its sentence, see
    /// [`crate::summary::trim`]); a generated one cites the sentences that support it.
    #[serde(default)]
    pub sources: Vec<Span>,
    /// How well the sources support the bullet, in [0, 1]; 1 for text taken from the article itself.
    #[serde(default)]
    pub support: f32,
    /// The generator's translation of the bullet into the summary's language, when the article
    /// is in another one and a translation was asked for. It cites the same `sources`; only
    /// `text` is the article's own words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub translation: Option<Translation>,
}

/// A key point in another language, written by the generator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Translation {
    pub text: String,
    pub language: Language,
}

impl Bullet {
    /// A bullet not yet grounded.
    pub fn new(text: impl Into<String>) -> Bullet {
        Bullet { text: text.into(), sources: Vec::new(), support: 0.0, translation: None }
    }
}

/// How long each stage took.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, ts_rs::TS)]
pub struct Timings {
    pub load_ms: u64,
    /// From the start of the run to the extractive key points.
    #[serde(default)]
    pub first_bullet_ms: u64,
    pub prompt_tokens: usize,
    pub prefill_ms: u64,
    pub generated_tokens: usize,
    pub decode_ms: u64,
    pub total_ms: u64,
}

/// The result of summarizing one article.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ts_rs::TS)]
pub struct Summary {
    pub title: Option<String>,
    pub summary: String,
    pub bullets: Vec<Bullet>,
    pub model: String,
    pub stop_reason: StopReason,
    pub timings: Timings,
    /// The article text that bullet sources point into.
    #[serde(default)]
    pub text: String,
    /// Sections a thorough run summarized separately because the article did not fit the prompt
    /// (0: none were).
    #[serde(default)]
    pub sections: usize,
    /// Generated bullets that were not supported by the article and were replaced or dropped.
    #[serde(default)]
    pub unsupported: usize,
    /// The article's language as detected (`unknown` when its text is too short or mixed).
    #[serde(default)]
    pub language: Language,
    /// How sure the detection is, in [0, 1].
    #[serde(default)]
    pub language_confidence: f32,
    /// The language the summary was asked for (`unknown`: the article's language is not
    /// known and none was chosen, so the model chose).
    #[serde(default)]
    pub output_language: Language,
    /// The summary is not in `output_language`, even after asking again: shown for what it is
    /// rather than as if it were fine.
    #[serde(default)]
    pub language_mismatch: bool,
}

impl Summary {
    /// A summary of `text` by `model` with nothing written yet: no summary, no bullets, the turn
    /// ended, no timings.
    pub fn new(model: impl Into<String>, title: Option<String>, text: impl Into<String>) -> Summary {
        Summary {
            title,
            summary: String::new(),
            bullets: Vec::new(),
            model: model.into(),
            stop_reason: StopReason::EndOfTurn,
            timings: Timings::default(),
            text: text.into(),
            sections: 0,
            unsupported: 0,
            language: Language::UNKNOWN,
            language_confidence: 0.0,
            output_language: Language::UNKNOWN,
            language_mismatch: false,
        }
    }
}
