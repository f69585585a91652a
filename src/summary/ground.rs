//! The grounding check: which article sentences support a bullet, and how well. A bullet's
//! support is the share of its content words found in its best one or two source sentences; a
//! number or a name that appears nowhere in the article caps the support far below the
//! threshold, since that is the mark of an invented fact. Also the near-duplicate test that keeps two bullets from saying
//! the same thing.

use std::collections::HashSet;

use crate::language::Language;
use crate::summary::lexical::{checkable_tokens_in, content_words_in, vocabulary_in};
use crate::summary::sentences::{Sentence, Span};

/// Bullets with at least this support are shown as generated; the others are replaced by their
/// extractive source or dropped.
pub const SUPPORT_THRESHOLD: f32 = 0.6;
/// Support of a bullet with a number or name the article does not contain.
const UNSUPPORTED_FACT_CAP: f32 = 0.2;
/// A generated key point is shown in place of its source sentence only when at least this share
/// of its content words come from its source sentence(s): a condensation in the article's own
/// words. Looser rewrites, even supported ones, lose names and facts often enough (and score
/// lower against human highlights on the dev set) that the sentence itself is the better point.
const CONDENSATION_COVERAGE: f32 = 0.9;
/// A generated key point stands for its key sentence only when it keeps at least this share of
/// the sentence's content words: shortening may drop attributions and asides, not the facts.
const CONDENSATION_KEEP: f32 = 0.6;
/// A second source sentence is added when it raises word coverage by at least this much.
const SECOND_SOURCE_GAIN: f32 = 0.15;

/// What supports a bullet.
#[derive(Debug, Clone, PartialEq)]
pub struct Grounding {
    pub sources: Vec<Span>,
    /// Indices of the source sentences.
    pub sentences: Vec<usize>,
    pub support: f32,
    /// Share of the bullet's content words found in its source sentences.
    pub coverage: f32,
    /// Checkable tokens (numbers, names) of the bullet that the article does not contain.
    pub missing: Vec<String>,
}

/// The article as the grounding check sees it, computed once per article.
pub struct Evidence<'a> {
    text: &'a str,
    language: Language,
    sentences: &'a [Sentence],
    words: Vec<HashSet<String>>,
    vocabulary: HashSet<String>,
}

impl<'a> Evidence<'a> {
    /// The evidence of an article whose language is not known.
    pub fn new(text: &'a str, sentences: &'a [Sentence]) -> Self {
        Evidence::in_language(text, sentences, Language::UNKNOWN)
    }

    /// `new` for an article in `language`, whose words are read as that language's.
    pub fn in_language(text: &'a str, sentences: &'a [Sentence], language: Language) -> Self {
        Evidence {
            text,
            language,
            sentences,
            words: sentences
                .iter()
                .map(|s| content_words_in(s.span.of(text), language).into_iter().collect())
                .collect(),
            vocabulary: vocabulary_in(text, language),
        }
    }

    /// Grounds one bullet.
    pub fn ground(&self, bullet: &str) -> Grounding {
        let missing: Vec<String> =
            checkable_tokens_in(bullet, self.language).into_iter().filter(|t| !self.vocabulary.contains(t)).collect();
        let words: HashSet<String> = content_words_in(bullet, self.language).into_iter().collect();
        if words.is_empty() || self.sentences.is_empty() {
            return Grounding { sources: Vec::new(), sentences: Vec::new(), support: 0.0, coverage: 0.0, missing };
        }
        let coverage =
            |set: &HashSet<String>| words.iter().filter(|w| set.contains(*w)).count() as f32 / words.len() as f32;
        let score = |i: usize| coverage(&self.words[i]);
        let best = (0..self.sentences.len()).max_by(|&a, &b| score(a).total_cmp(&score(b))).expect("non-empty");
        let mut chosen = vec![best];
        let mut lex = coverage(&self.words[best]);
        // A bullet may fuse two sentences: add the one that covers most of what is left.
        if lex < 1.0 {
            let second = (0..self.sentences.len())
                .filter(|&i| i != best)
                .map(|i| {
                    let union: HashSet<String> = self.words[best].union(&self.words[i]).cloned().collect();
                    (i, coverage(&union))
                })
                .max_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((i, both)) = second {
                if both >= lex + SECOND_SOURCE_GAIN {
                    chosen.push(i);
                    lex = both;
                }
            }
        }
        let mut support = lex;
        if !missing.is_empty() {
            support = support.min(UNSUPPORTED_FACT_CAP);
        }
        chosen.sort_unstable();
        Grounding {
            sources: chosen.iter().map(|&i| self.sentences[i].span).collect(),
            sentences: chosen,
            support: support.clamp(0.0, 1.0),
            coverage: lex,
            missing,
        }
    }

    /// Whether `bullet`, grounded as `g`, is a condensation of sentence `i`: supported, every
    /// checkable token in the article, nearly all its words from its source sentences, and most
    /// of sentence `i`'s content words kept.
    pub fn condenses(&self, g: &Grounding, bullet: &str, i: usize) -> bool {
        if g.support < SUPPORT_THRESHOLD || !g.missing.is_empty() || g.coverage < CONDENSATION_COVERAGE {
            return false;
        }
        let sentence = &self.words[i];
        if sentence.is_empty() {
            return true;
        }
        let kept: HashSet<String> = content_words_in(bullet, self.language).into_iter().collect();
        sentence.iter().filter(|w| kept.contains(*w)).count() as f32 / sentence.len() as f32 >= CONDENSATION_KEEP
    }

    /// The text of sentence `i`.
    pub fn sentence(&self, i: usize) -> &'a str {
        self.sentences[i].span.of(self.text)
    }
}

/// Whether two bullets say the same thing: most content words shared (Jaccard at least 0.5, or
/// one's words nearly all inside the other's).
pub fn same_point(a: &str, b: &str) -> bool {
    same_point_in(a, b, Language::UNKNOWN)
}

/// `same_point` for bullets in `language`.
pub fn same_point_in(a: &str, b: &str, language: Language) -> bool {
    let wa: HashSet<String> = content_words_in(a, language).into_iter().collect();
    let wb: HashSet<String> = content_words_in(b, language).into_iter().collect();
    if wa.is_empty() || wb.is_empty() {
        return wa.is_empty() && wb.is_empty();
    }
    let inter = wa.intersection(&wb).count() as f32;
    let union = wa.union(&wb).count() as f32;
    inter / union >= 0.5 || inter / wa.len().min(wb.len()) as f32 >= 0.8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::sentences::split;

    const ARTICLE: &str = "The Riverton City Council voted 7 to 2 on Tuesday to expand the night bus network. \
The plan, proposed by transit director Maria Okafor, will cost about $4.2 million a year. \
The new routes start on March 1.";

    fn ev(s: &[Sentence]) -> Evidence<'_> {
        Evidence::new(ARTICLE, s)
    }

    #[test]
    fn a_faithful_paraphrase_is_supported_by_its_sentence() {
        let s = split(ARTICLE);
        let g = ev(&s).ground("Transit director Maria Okafor's plan will cost $4.2 million a year.");
        assert!(g.support >= SUPPORT_THRESHOLD, "{g:?}");
        assert_eq!(g.sentences, [1]);
        assert_eq!(g.sources[0].of(ARTICLE), s[1].span.of(ARTICLE));
    }

    #[test]
    fn a_bullet_fusing_two_sentences_cites_both() {
        let s = split(ARTICLE);
        let g = ev(&s).ground("The council expanded the night bus network; new routes start March 1.");
        assert_eq!(g.sentences, [0, 2], "{g:?}");
        assert!(g.support >= SUPPORT_THRESHOLD, "{g:?}");
    }

    #[test]
    fn invented_numbers_names_and_content_are_not_supported() {
        let s = split(ARTICLE);
        let e = ev(&s);
        let g = e.ground("The plan will cost about $6.5 million a year.");
        assert_eq!(g.missing, ["6.5"]);
        assert!(g.support < SUPPORT_THRESHOLD, "{g:?}");
        let g = e.ground("Mayor John Smith opposed the night bus network.");
        assert!(g.support < SUPPORT_THRESHOLD, "{g:?}");
        let g = e.ground("Residents complained about noise from the airport.");
        assert!(g.support < SUPPORT_THRESHOLD, "{g:?}");
    }

    #[test]
    fn only_close_condensations_replace_their_sentence() {
        let s = split(ARTICLE);
        let e = ev(&s);
        let bullet = "The council voted 7 to 2 to expand the night bus network.";
        assert!(e.condenses(&e.ground(bullet), bullet, 0));
        // Supported, but "approved", "service" and "evenings" are the model's words, not the article's.
        let bullet = "The council approved more night bus service for evenings by 7 to 2.";
        let g = e.ground(bullet);
        assert!(g.support >= SUPPORT_THRESHOLD * 0.5 && !e.condenses(&g, bullet, 0), "{g:?}");
        let bullet = "The plan will cost about $6.5 million a year.";
        assert!(!e.condenses(&e.ground(bullet), bullet, 1));
    }

    #[test]
    fn near_duplicates() {
        assert!(same_point("The council voted 7 to 2 for night buses.", "Night buses: the council voted 7-2."));
        assert!(!same_point("The council voted 7 to 2 for night buses.", "The routes start on March 1."));
    }
}
