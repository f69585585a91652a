//! Salience: which sentences are the article's key points. Each sentence gets a score from its
//! centrality (mean cosine similarity of its TF-IDF vector to the other sentences') and a
//! position prior, less a penalty for words in quotation
//! marks, and sentences are picked greedily by maximal marginal relevance, so a point close to
//! one already chosen is passed over.
//!
//! Time and memory grow linearly with the number of sentences: no table of all pairs is built.
//! The vectors are unit-normalised, so a sentence's summed cosine to all the others is its dot
//! product with the sum of all vectors (the centroid, times n) less its dot product with itself;
//! and maximal marginal relevance needs a sentence's similarity only to the few already chosen,
//! each computed once when that one is chosen.

use crate::language::{self, Language};
use crate::llm::CancelToken;
use crate::summary::lexical::{sparse_dot, tfidf, SparseVector};
use crate::summary::sentences::Sentence;
use crate::summary::structure::Structure;

/// How a ranking is tuned. The defaults were chosen on the CNN/DailyMail dev set only.
#[derive(Debug, Clone, Copy)]
pub struct RankOptions {
    /// Weight of the position prior against centrality (0 = centrality only).
    pub position_weight: f32,
    /// Position prior = 1 / (1 + i / this) for the sentence at index i.
    pub position_scale: f32,
    /// MMR trade-off: 1 = salience only, 0 = novelty only.
    pub lambda: f32,
    /// A candidate whose similarity to a chosen sentence is at least this is never chosen.
    pub max_similarity: f32,
    /// Sentences with fewer words are not candidates (datelines, bylines, captions).
    pub min_words: usize,
    /// Sentences with more words are not candidates.
    pub max_words: usize,
    /// Scales the word budget of the key points (see `summarize`).
    pub budget_scale: f32,
    /// What is trimmed from the chosen sentences to make the key points.
    pub trim: crate::summary::trim::TrimRules,
    /// Salience lost by a sentence all in quotation marks, in proportion to its quoted words: a
    /// key point states what the article reports, not what someone said about it.
    pub quote_penalty: f32,
    /// In a long read (see `structure`), the weight of the position prior, counted from the
    /// start of each section rather than of the article: a feature opens with a scene, while
    /// each section's first sentence tends to say what the section is about.
    pub long_read_position_weight: f32,
    /// In a long read, what choosing a sentence from a section no key point comes from yet is
    /// worth in the MMR score, so the key points spread over the piece.
    pub coverage: f32,
}

impl Default for RankOptions {
    fn default() -> Self {
        RankOptions {
            position_weight: 0.85,
            position_scale: 1.0,
            lambda: 0.7,
            max_similarity: 0.85,
            min_words: 6,
            max_words: 70,
            budget_scale: 0.85,
            trim: crate::summary::trim::TrimRules::default(),
            quote_penalty: 0.4,
            long_read_position_weight: 0.5,
            coverage: 0.3,
        }
    }
}

/// The similarities between the sentences of one article: the cosine of their TF-IDF vectors,
/// computed on demand.
pub struct Similarity {
    /// The article's language: how its words are read and counted.
    language: Language,
    lexical: Vec<SparseVector>,
}

impl Similarity {
    /// For an article whose language is not known. `None` when `cancel` was cancelled on the way.
    pub fn new(text: &str, sentences: &[Sentence], cancel: &CancelToken) -> Option<Similarity> {
        Similarity::in_language(text, sentences, Language::UNKNOWN, cancel)
    }

    /// `new` for an article in `language` (its words read and counted as that language's).
    pub fn in_language(
        text: &str,
        sentences: &[Sentence],
        language: Language,
        cancel: &CancelToken,
    ) -> Option<Similarity> {
        let words = sentences.iter().enumerate().map(|(i, s)| {
            if i % 4096 == 0 && cancel.is_cancelled() {
                return None;
            }
            Some(crate::summary::lexical::content_words_in(s.span.of(text), language))
        });
        Some(Similarity { language, lexical: tfidf(words)? })
    }

    /// Words of `sentence` in English-word equivalents (see `language::words`).
    fn words(&self, sentence: &str) -> usize {
        language::words(sentence, self.language)
    }

    /// The similarity of sentences `i` and `j`.
    pub fn between(&self, i: usize, j: usize) -> f32 {
        sparse_dot(&self.lexical[i], &self.lexical[j])
    }

    /// Each sentence's summed similarity to all the others: its dot product with the sum of all
    /// vectors, less its dot product with itself (summed in f64, so the difference keeps its
    /// precision).
    fn summed(&self) -> Vec<f64> {
        let terms = self.lexical.iter().flat_map(|v| v.iter().map(|&(t, _)| t as usize + 1)).max().unwrap_or(0);
        let mut total = vec![0f64; terms];
        for v in &self.lexical {
            for &(t, x) in v.iter() {
                total[t as usize] += f64::from(x);
            }
        }
        self.lexical
            .iter()
            .map(|v| {
                let all: f64 = v.iter().map(|&(t, x)| f64::from(x) * total[t as usize]).sum();
                let own: f64 = v.iter().map(|&(_, x)| f64::from(x) * f64::from(x)).sum();
                all - own
            })
            .collect()
    }
}

/// Salience of every sentence in [0, 1]; -1 for sentences that are not candidates (see
/// `is_candidate`, and the headings and furniture `structure` excludes). The position prior
/// counts from the article's start in news and from each section's start in a long read.
pub fn salience(
    text: &str,
    sentences: &[Sentence],
    sim: &Similarity,
    opts: &RankOptions,
    structure: &Structure,
) -> Vec<f32> {
    let n = sentences.len();
    let mut candidate: Vec<bool> = sentences
        .iter()
        .zip(&structure.excluded)
        .map(|(s, &ex)| !ex && is_candidate(s.span.of(text), sim, opts))
        .collect();
    if !candidate.contains(&true) {
        // A text of only short lines (a list, a poem) still has key points, furniture aside.
        candidate = structure.excluded.iter().map(|&ex| !ex).collect();
        if !candidate.contains(&true) {
            candidate.iter_mut().for_each(|c| *c = true);
        }
    }
    let (positions, weight) = if structure.long_read {
        (structure.position_in_section(), opts.long_read_position_weight)
    } else {
        ((0..n).collect(), opts.position_weight)
    };
    let centrality: Vec<f32> = if n < 2 {
        vec![1.0; n]
    } else {
        sim.summed().into_iter().map(|total| (total / (n - 1) as f64) as f32).collect()
    };
    let (lo, hi) = (0..n)
        .filter(|&i| candidate[i])
        .fold((f32::MAX, f32::MIN), |(lo, hi), i| (lo.min(centrality[i]), hi.max(centrality[i])));
    (0..n)
        .map(|i| {
            if !candidate[i] {
                return -1.0;
            }
            let c = if hi > lo { (centrality[i] - lo) / (hi - lo) } else { 1.0 };
            let p = 1.0 / (1.0 + positions[i] as f32 / opts.position_scale);
            let quoted = crate::summary::lexical::quoted_share(sentences[i].span.of(text));
            ((1.0 - weight) * c + weight * p - opts.quote_penalty * quoted).max(0.0)
        })
        .collect()
}

fn is_candidate(sentence: &str, sim: &Similarity, opts: &RankOptions) -> bool {
    let words = sim.words(sentence);
    words >= opts.min_words && words <= opts.max_words && !sentence.starts_with('#') && !sentence.ends_with('?')
}

/// Picks up to `k` sentences by maximal marginal relevance, stopping early once `word_budget`
/// words are used. Returns their indices in the order chosen (most salient first).
pub fn select(
    text: &str,
    sentences: &[Sentence],
    salience: &[f32],
    sim: &Similarity,
    k: usize,
    word_budget: usize,
    opts: &RankOptions,
) -> Vec<usize> {
    let one_piece = Structure::one_piece(sentences.len());
    let picks = Picks { k, word_budget, structure: &one_piece };
    select_until(text, sentences, salience, sim, &picks, opts, &CancelToken::new()).unwrap_or_default()
}

/// How many sentences `select_until` picks, within how many words, over which sections.
pub struct Picks<'a> {
    pub k: usize,
    pub word_budget: usize,
    pub structure: &'a Structure,
}

/// `select`, looking at `cancel` before each pick: `None` once it is cancelled. Each candidate's
/// redundancy (its greatest similarity to a chosen sentence) is kept up to date as sentences are
/// chosen, so each pick costs one similarity per candidate. In a long read, a sentence from a
/// section no key point comes from yet scores `opts.coverage` more.
pub fn select_until(
    text: &str,
    sentences: &[Sentence],
    salience: &[f32],
    sim: &Similarity,
    picks: &Picks<'_>,
    opts: &RankOptions,
    cancel: &CancelToken,
) -> Option<Vec<usize>> {
    let (k, word_budget, structure) = (picks.k, picks.word_budget, picks.structure);
    let coverage = if structure.long_read { opts.coverage } else { 0.0 };
    let mut covered = vec![false; structure.sections];
    let n = sentences.len();
    let mut chosen: Vec<usize> = Vec::new();
    // Greatest similarity to a chosen sentence, and whether one is too similar to pick.
    let mut redundancy = vec![0.0f32; n];
    let mut excluded: Vec<bool> = salience.iter().map(|&s| s < 0.0).collect();
    let mut words = 0;
    while chosen.len() < k {
        if cancel.is_cancelled() {
            return None;
        }
        let best = (0..n)
            .filter(|&i| !excluded[i])
            .map(|i| {
                let new_section = if covered[structure.section[i]] { 0.0 } else { coverage };
                (i, opts.lambda * salience[i] - (1.0 - opts.lambda) * redundancy[i] + new_section)
            })
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let Some((i, _)) = best else { break };
        let w = sim.words(sentences[i].span.of(text));
        if !chosen.is_empty() && words + w > word_budget {
            break;
        }
        words += w;
        chosen.push(i);
        covered[structure.section[i]] = true;
        excluded[i] = true;
        if chosen.len() == k {
            break;
        }
        for j in 0..n {
            if !excluded[j] {
                let s = sim.between(j, i);
                if s.partial_cmp(&opts.max_similarity) != Some(std::cmp::Ordering::Less) {
                    excluded[j] = true;
                }
                redundancy[j] = redundancy[j].max(s);
            }
        }
    }
    Some(chosen)
}

/// TF-IDF similarities of the sentences' content words (no embeddings).
pub fn lexical_similarity(text: &str, sentences: &[Sentence]) -> Similarity {
    Similarity::new(text, sentences, &CancelToken::new()).expect("never cancelled")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::sentences::split;

    const ARTICLE: &str = "The city council approved a new budget for the public library on Monday night. \
The library budget adds money for longer opening hours and new books. \
The council also approved the library budget increase by a vote of seven to two. \
A local bakery won a prize for its bread at the county fair last week. \
Library officials said the longer opening hours of the library start in May.";

    #[test]
    fn central_sentences_rank_above_off_topic_ones() {
        let s = split(ARTICLE);
        let sim = lexical_similarity(ARTICLE, &s);
        let sal = salience(
            ARTICLE,
            &s,
            &sim,
            &RankOptions { position_weight: 0.0, ..Default::default() },
            &Structure::one_piece(s.len()),
        );
        // The bakery sentence shares nothing with the rest.
        let bakery = 3;
        assert!(sal.iter().enumerate().all(|(i, &x)| i == bakery || x > sal[bakery]), "{sal:?}");
    }

    #[test]
    fn mmr_skips_a_near_duplicate() {
        let text = "The council approved the library budget on Monday. \
On Monday, the council approved the library budget. \
The library budget pays for longer opening hours from May.";
        let s = split(text);
        let sim = lexical_similarity(text, &s);
        let opts = RankOptions { position_weight: 0.0, ..Default::default() };
        let sal = salience(text, &s, &sim, &opts, &Structure::one_piece(s.len()));
        let picked = select(text, &s, &sal, &sim, 2, 100, &opts);
        assert_eq!(picked.len(), 2);
        assert!(picked.contains(&2), "{picked:?}");
        assert!(!(picked.contains(&0) && picked.contains(&1)), "{picked:?}");
    }

    #[test]
    fn quoted_sentences_lose_salience_but_stay_candidates() {
        let text = "\"We will build the bridge over the river by next summer,\" the mayor said on Monday. \
The council approved money for the new bridge over the river on Monday. \
Work on the bridge over the river starts in March next year.";
        let s = split(text);
        let sim = lexical_similarity(text, &s);
        let plain = RankOptions { position_weight: 0.0, quote_penalty: 0.0, ..Default::default() };
        let penalized = RankOptions { quote_penalty: 0.4, ..plain };
        let (a, b) = (
            salience(text, &s, &sim, &plain, &Structure::one_piece(s.len())),
            salience(text, &s, &sim, &penalized, &Structure::one_piece(s.len())),
        );
        assert!(b[0] < a[0] && b[0] >= 0.0, "{a:?} {b:?}");
        assert_eq!(&a[1..], &b[1..], "sentences without quotations keep their salience");
        // An article of quotations only still has key points.
        let text = "\"The bridge will be ready by next summer, I promise,\" the mayor said. \
\"We have waited for this bridge for twenty long years,\" a resident said. \
\"The money is already in the budget for this year,\" the treasurer said.";
        let s = split(text);
        let sim = lexical_similarity(text, &s);
        let opts = RankOptions { quote_penalty: 1.0, ..Default::default() };
        let sal = salience(text, &s, &sim, &opts, &Structure::one_piece(s.len()));
        assert_eq!(select(text, &s, &sal, &sim, 2, 100, &opts).len(), 2, "{sal:?}");
    }

    #[test]
    fn short_lines_are_still_ranked() {
        let text = "Buses at night.\nTwelve new routes.\nStarts in March.";
        let s = split(text);
        let sim = lexical_similarity(text, &s);
        let opts = RankOptions::default();
        let sal = salience(text, &s, &sim, &opts, &Structure::one_piece(s.len()));
        assert_eq!(select(text, &s, &sal, &sim, 2, 100, &opts).len(), 2);
    }

    #[test]
    fn budget_and_position_prior() {
        let s = split(ARTICLE);
        let sim = lexical_similarity(ARTICLE, &s);
        let opts = RankOptions { position_weight: 1.0, ..Default::default() };
        let sal = salience(ARTICLE, &s, &sim, &opts, &Structure::one_piece(s.len()));
        assert_eq!(select(ARTICLE, &s, &sal, &sim, 3, 1000, &opts)[0], 0);
        // A budget smaller than two sentences still gives the first one.
        assert_eq!(select(ARTICLE, &s, &sal, &sim, 3, 5, &opts).len(), 1);
    }
}
