//! Salience: which sentences are the article's key points. Each sentence gets a score from its
//! centrality (mean cosine similarity to the other sentences, by sentence embeddings or, without
//! an embedder, TF-IDF vectors) and a lead-position prior, less a penalty for words in quotation
//! marks, and sentences are picked greedily by maximal marginal relevance, so a point close to
//! one already chosen is passed over.
//!
//! Time and memory grow linearly with the number of sentences: no table of all pairs is built.
//! The vectors are unit-normalised, so a sentence's summed cosine to all the others is its dot
//! product with the sum of all vectors (the centroid, times n) less its dot product with itself;
//! and maximal marginal relevance needs a sentence's similarity only to the few already chosen,
//! each computed once when that one is chosen.

use crate::llm::CancelToken;
use crate::summary::lexical::{sparse_dot, tfidf, SparseVector};
use crate::summary::sentences::Sentence;

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
    /// With embeddings, the share of TF-IDF cosine mixed into the sentence similarities.
    pub lexical_mix: f32,
    /// What is trimmed from the chosen sentences to make the key points.
    pub trim: crate::summary::trim::TrimRules,
    /// Salience lost by a sentence all in quotation marks, in proportion to its quoted words: a
    /// key point states what the article reports, not what someone said about it.
    pub quote_penalty: f32,
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
            lexical_mix: 0.5,
            trim: crate::summary::trim::TrimRules::default(),
            quote_penalty: 0.4,
        }
    }
}

/// The similarities between the sentences of one article: the cosine of their embeddings, of
/// their TF-IDF vectors, or a mix of both, computed on demand.
pub struct Similarity<'a> {
    dense: Option<&'a [Vec<f32>]>,
    lexical: Vec<SparseVector>,
    /// Share of the TF-IDF cosine when there are embeddings too.
    mix: f32,
}

impl<'a> Similarity<'a> {
    /// By embeddings (`dense`, normalized) mixed with `mix` of the TF-IDF cosine; by TF-IDF alone
    /// without embeddings. `None` when `cancel` was cancelled on the way.
    pub fn new(
        text: &str,
        sentences: &[Sentence],
        dense: Option<&'a [Vec<f32>]>,
        mix: f32,
        cancel: &CancelToken,
    ) -> Option<Similarity<'a>> {
        let lexical = if dense.is_none() || mix > 0.0 {
            let words = sentences.iter().enumerate().map(|(i, s)| {
                if i % 4096 == 0 && cancel.is_cancelled() {
                    return None;
                }
                Some(crate::summary::lexical::content_words(s.span.of(text)))
            });
            tfidf(words)?
        } else {
            Vec::new()
        };
        Some(Similarity { dense, lexical, mix: if dense.is_some() { mix } else { 1.0 } })
    }

    fn len(&self) -> usize {
        self.dense.map_or(self.lexical.len(), <[_]>::len)
    }

    /// The similarity of sentences `i` and `j`.
    pub fn between(&self, i: usize, j: usize) -> f32 {
        let lexical = || sparse_dot(&self.lexical[i], &self.lexical[j]);
        match self.dense {
            Some(v) if self.mix > 0.0 => (1.0 - self.mix) * crate::llm::embed::dot(&v[i], &v[j]) + self.mix * lexical(),
            Some(v) => crate::llm::embed::dot(&v[i], &v[j]),
            None => lexical(),
        }
    }

    /// Each sentence's summed similarity to all the others: its dot product with the sum of all
    /// vectors, less its dot product with itself (summed in f64, so the difference keeps its
    /// precision).
    fn summed(&self) -> Vec<f64> {
        let n = self.len();
        let mut out = vec![0f64; n];
        if let Some(v) = self.dense {
            let dim = v.first().map_or(0, Vec::len);
            let mut total = vec![0f64; dim];
            for row in v {
                for (t, &x) in total.iter_mut().zip(row) {
                    *t += f64::from(x);
                }
            }
            let weight = if self.mix > 0.0 { f64::from(1.0 - self.mix) } else { 1.0 };
            for (o, row) in out.iter_mut().zip(v) {
                let all: f64 = row.iter().zip(&total).map(|(&x, t)| f64::from(x) * t).sum();
                let own: f64 = row.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
                *o += weight * (all - own);
            }
        }
        if self.mix > 0.0 && !self.lexical.is_empty() {
            let terms = self.lexical.iter().flat_map(|v| v.iter().map(|&(t, _)| t as usize + 1)).max().unwrap_or(0);
            let mut total = vec![0f64; terms];
            for v in &self.lexical {
                for &(t, x) in v.iter() {
                    total[t as usize] += f64::from(x);
                }
            }
            let weight = f64::from(self.mix);
            for (o, v) in out.iter_mut().zip(&self.lexical) {
                let all: f64 = v.iter().map(|&(t, x)| f64::from(x) * total[t as usize]).sum();
                let own: f64 = v.iter().map(|&(_, x)| f64::from(x) * f64::from(x)).sum();
                *o += weight * (all - own);
            }
        }
        out
    }
}

/// Salience of every sentence in [0, 1]; -1 for sentences that are not candidates.
pub fn salience(text: &str, sentences: &[Sentence], sim: &Similarity<'_>, opts: &RankOptions) -> Vec<f32> {
    let n = sentences.len();
    let mut candidate: Vec<bool> = sentences.iter().map(|s| is_candidate(s.span.of(text), opts)).collect();
    if !candidate.contains(&true) {
        // A text of only short lines (a list, a poem) still has key points.
        candidate.iter_mut().for_each(|c| *c = true);
    }
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
            let p = 1.0 / (1.0 + i as f32 / opts.position_scale);
            let quoted = crate::summary::lexical::quoted_share(sentences[i].span.of(text));
            ((1.0 - opts.position_weight) * c + opts.position_weight * p - opts.quote_penalty * quoted).max(0.0)
        })
        .collect()
}

fn is_candidate(sentence: &str, opts: &RankOptions) -> bool {
    let words = sentence.split_whitespace().count();
    words >= opts.min_words && words <= opts.max_words && !sentence.starts_with('#') && !sentence.ends_with('?')
}

/// Picks up to `k` sentences by maximal marginal relevance, stopping early once `word_budget`
/// words are used. Returns their indices in the order chosen (most salient first).
pub fn select(
    text: &str,
    sentences: &[Sentence],
    salience: &[f32],
    sim: &Similarity<'_>,
    k: usize,
    word_budget: usize,
    opts: &RankOptions,
) -> Vec<usize> {
    select_until(text, sentences, salience, sim, k, word_budget, opts, &CancelToken::new()).unwrap_or_default()
}

/// `select`, looking at `cancel` before each pick: `None` once it is cancelled. Each candidate's
/// redundancy (its greatest similarity to a chosen sentence) is kept up to date as sentences are
/// chosen, so each pick costs one similarity per candidate.
#[allow(clippy::too_many_arguments)]
pub fn select_until(
    text: &str,
    sentences: &[Sentence],
    salience: &[f32],
    sim: &Similarity<'_>,
    k: usize,
    word_budget: usize,
    opts: &RankOptions,
    cancel: &CancelToken,
) -> Option<Vec<usize>> {
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
            .map(|i| (i, opts.lambda * salience[i] - (1.0 - opts.lambda) * redundancy[i]))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let Some((i, _)) = best else { break };
        let w = sentences[i].span.of(text).split_whitespace().count();
        if !chosen.is_empty() && words + w > word_budget {
            break;
        }
        words += w;
        chosen.push(i);
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
pub fn lexical_similarity<'a>(text: &str, sentences: &[Sentence]) -> Similarity<'a> {
    Similarity::new(text, sentences, None, 1.0, &CancelToken::new()).expect("never cancelled")
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
        let sal = salience(ARTICLE, &s, &sim, &RankOptions { position_weight: 0.0, ..Default::default() });
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
        let sal = salience(text, &s, &sim, &opts);
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
        let (a, b) = (salience(text, &s, &sim, &plain), salience(text, &s, &sim, &penalized));
        assert!(b[0] < a[0] && b[0] >= 0.0, "{a:?} {b:?}");
        assert_eq!(&a[1..], &b[1..], "sentences without quotations keep their salience");
        // An article of quotations only still has key points.
        let text = "\"The bridge will be ready by next summer, I promise,\" the mayor said. \
\"We have waited for this bridge for twenty long years,\" a resident said. \
\"The money is already in the budget for this year,\" the treasurer said.";
        let s = split(text);
        let sim = lexical_similarity(text, &s);
        let opts = RankOptions { quote_penalty: 1.0, ..Default::default() };
        let sal = salience(text, &s, &sim, &opts);
        assert_eq!(select(text, &s, &sal, &sim, 2, 100, &opts).len(), 2, "{sal:?}");
    }

    #[test]
    fn short_lines_are_still_ranked() {
        let text = "Buses at night.\nTwelve new routes.\nStarts in March.";
        let s = split(text);
        let sim = lexical_similarity(text, &s);
        let opts = RankOptions::default();
        let sal = salience(text, &s, &sim, &opts);
        assert_eq!(select(text, &s, &sal, &sim, 2, 100, &opts).len(), 2);
    }

    #[test]
    fn budget_and_position_prior() {
        let s = split(ARTICLE);
        let sim = lexical_similarity(ARTICLE, &s);
        let opts = RankOptions { position_weight: 1.0, ..Default::default() };
        let sal = salience(ARTICLE, &s, &sim, &opts);
        assert_eq!(select(ARTICLE, &s, &sal, &sim, 3, 1000, &opts)[0], 0);
        // A budget smaller than two sentences still gives the first one.
        assert_eq!(select(ARTICLE, &s, &sal, &sim, 3, 5, &opts).len(), 1);
    }
}
