//! Key points: the article split and ranked, its key sentences chosen and trimmed into
//! bullets that cite exactly the bytes they show (`extract`), and points the generator wrote
//! grounded against those sentences, standing for one only when it is a faithful
//! condensation of it (`ground_bullets`).

use super::ground::{same_point, Evidence, SUPPORT_THRESHOLD};
use super::options::{word_budget, Length};
use super::rank::{self, RankOptions};
use super::sentences::{self, Sentence};
use super::trim::{self, TrimRules};
use super::{Bullet, Ranker};
use crate::error::{Error, Result};
use crate::llm::embed::{Embedder, MAX_TEXT_BYTES};
use crate::llm::CancelToken;

/// Ranking of one article: its sentences, their vectors and the chosen ones.
pub struct Extraction {
    pub sentences: Vec<Sentence>,
    /// Normalized sentence embeddings (none when ranked lexically).
    pub vectors: Option<Vec<Vec<f32>>>,
    /// Chosen sentences, in article order.
    pub chosen: Vec<usize>,
    pub ranker: Ranker,
    /// What is trimmed from the chosen sentences to make the key points.
    pub trim: TrimRules,
}

impl Extraction {
    /// The chosen sentences as bullets that cite themselves.
    pub fn bullets(&self, text: &str) -> Vec<Bullet> {
        self.chosen.iter().map(|&i| self.bullet(text, i)).collect()
    }

    /// Sentence `i` as a key point: what is left of it after trimming, citing exactly those
    /// bytes of the article.
    pub(crate) fn bullet(&self, text: &str, i: usize) -> Bullet {
        let sources = trim::key_point(text, self.sentences[i].span, self.trim);
        Bullet { text: trim::joined(text, self.sentences[i].span, &sources), sources, support: 1.0 }
    }
}

/// Most text the embedder is asked to embed, in bytes (each sentence counted up to the
/// embedder's own cut, `embed::MAX_TEXT_BYTES`). Embedding costs time in proportion to the text:
/// measured on the release build, two cores embed 6.6 KB (while busy with a build) to 14 KB of
/// news sentences a second, so this much takes 5 to 10 seconds. An article with more is ranked by TF-IDF alone, which on the
/// dev set scores as well as the embeddings (ROUGE-1/2/Lsum 44.7/21.3/40.5 against
/// 44.7/21.2/40.4) at a thousandth of the cost. The longest dev-set article is 5.8 KB and a long
/// feature of 5,000 words about 30 KB, so every ordinary article is still embedded.
pub const MAX_EMBEDDED_BYTES: usize = 64 * 1024;

/// Splits and ranks `text` and picks up to `k` key sentences. Without an embedder, if it fails,
/// or for an article of more than `MAX_EMBEDDED_BYTES` of sentences, the ranking is lexical
/// (TF-IDF); a log line says so. Every step looks at `cancel`, and time and memory grow linearly
/// with the text.
pub fn extract(
    text: &str,
    embedder: Option<&Embedder>,
    k: usize,
    length: Length,
    opts: &RankOptions,
    cancel: &CancelToken,
) -> Result<Extraction> {
    let sentences = sentences::split_until(text, cancel).ok_or(Error::Cancelled)?;
    let to_embed: usize = sentences.iter().map(|s| (s.span.end - s.span.start).min(MAX_TEXT_BYTES)).sum();
    let vectors = match embedder {
        Some(_) if to_embed > MAX_EMBEDDED_BYTES => {
            tracing::info!(
                bytes = to_embed,
                limit = MAX_EMBEDDED_BYTES,
                "too much text to embed; ranking the sentences by position and TF-IDF centrality"
            );
            None
        }
        Some(e) => {
            let pieces: Vec<&str> = sentences.iter().map(|s| s.span.of(text)).collect();
            match e.embed_until(&pieces, cancel) {
                Ok(Some(v)) => Some(v),
                Ok(None) => return Err(Error::Cancelled),
                Err(err) => {
                    tracing::warn!(%err, "embedding the sentences failed; ranking them by TF-IDF instead");
                    None
                }
            }
        }
        None => {
            tracing::info!("no embedder loaded; ranking sentences by position and TF-IDF centrality");
            None
        }
    };
    let sim = rank::Similarity::new(text, &sentences, vectors.as_deref(), opts.lexical_mix, cancel)
        .ok_or(Error::Cancelled)?;
    let salience = rank::salience(text, &sentences, &sim, opts);
    let budget = (word_budget(length) as f32 * opts.budget_scale) as usize;
    let mut chosen =
        rank::select_until(text, &sentences, &salience, &sim, k, budget, opts, cancel).ok_or(Error::Cancelled)?;
    chosen.sort_unstable();
    drop(sim);
    Ok(Extraction {
        ranker: if vectors.is_some() { Ranker::Embedding } else { Ranker::Lexical },
        sentences,
        vectors,
        chosen,
        trim: opts.trim,
    })
}

/// Grounds generated bullets against the key sentences they were asked to shorten, one point
/// per key sentence, in article order. A generated point that is a condensation of a key
/// sentence (see [`Evidence::condenses`]: supported, nearly all in the sentence's own words, and
/// keeping most of them) stands for it, with its sources and score; every other key sentence is shown as it is.
/// Points the model added beyond the key sentences, rewrites that drift from their sentence
/// and unsupported points are not shown, and no two points say the same thing. Returns at most
/// `k` bullets and how many generated points the article did not support at all.
pub fn ground_bullets(
    text: &str,
    extraction: &Extraction,
    embedder: Option<&Embedder>,
    generated: Vec<Bullet>,
    k: usize,
) -> (Vec<Bullet>, usize) {
    let evidence = Evidence::new(text, &extraction.sentences, extraction.vectors.as_deref());
    let vectors: Option<Vec<Vec<f32>>> = match (embedder, &extraction.vectors) {
        (Some(e), Some(_)) => {
            let texts: Vec<&str> = generated.iter().map(|b| b.text.as_str()).collect();
            e.embed(&texts).ok()
        }
        _ => None,
    };
    let chosen = &extraction.chosen;
    let mut condensed: Vec<Option<Bullet>> = vec![None; chosen.len()];
    let mut unsupported = 0;
    for (n, b) in generated.into_iter().enumerate() {
        let g = evidence.ground(&b.text, vectors.as_ref().map(|v| v[n].as_slice()));
        if g.support < SUPPORT_THRESHOLD {
            unsupported += 1;
        }
        // The key sentence it would stand for: the one it was asked for when that is among its
        // sources, else the first free key sentence among them.
        let free = |slot: usize| condensed[slot].is_none();
        let slot =
            chosen.get(n).filter(|i| g.sentences.contains(i)).map(|_| n).filter(|&slot| free(slot)).or_else(|| {
                g.sentences.iter().filter_map(|i| chosen.iter().position(|c| c == i)).find(|&slot| free(slot))
            });
        match slot.filter(|&slot| evidence.condenses(&g, &b.text, chosen[slot])) {
            Some(slot) => condensed[slot] = Some(Bullet { text: b.text, sources: g.sources, support: g.support }),
            None => {
                tracing::debug!(bullet = %b.text, support = g.support, coverage = g.coverage, missing = ?g.missing, "generated point not shown")
            }
        }
    }
    let mut out: Vec<Bullet> = Vec::new();
    for (slot, &i) in chosen.iter().enumerate() {
        let b = condensed[slot].take().unwrap_or_else(|| extraction.bullet(text, i));
        if out.len() < k && !out.iter().any(|o| same_point(&o.text, &b.text, None)) {
            out.push(b);
        }
    }
    (out, unsupported)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_sentence_is_shown_condensed_or_as_it_is() {
        let text = "The Riverton City Council voted 7 to 2 on Tuesday to expand the night bus network. \
Residents had asked for later buses for years. \
The plan, proposed by transit director Maria Okafor, will cost about $4.2 million a year. \
Some council members wanted a smaller trial first. \
The new routes start on March 1 and run until 2 a.m. every night.";
        let sentences = sentences::split(text);
        assert_eq!(sentences.len(), 5);
        let extraction = Extraction {
            sentences,
            vectors: None,
            chosen: vec![0, 2, 4],
            ranker: Ranker::Lexical,
            trim: TrimRules::NONE,
        };
        let generated = [
            // Faithful, but it drops most of the sentence's facts.
            "The council voted on Tuesday.",
            "The council voted 7 to 2 to expand the night bus network.",
            // Supported, but in the model's words rather than the article's.
            "Maria Okafor's plan will cost the city roughly $4.2 million annually.",
            // Invented.
            "Mayor John Smith will open the first route in June.",
            // A condensation of the third key sentence, out of place.
            "The new routes start on March 1 and run until 2 a.m.",
            // About a sentence that is not a key sentence.
            "Residents had asked for later buses for years.",
        ]
        .map(Bullet::new)
        .to_vec();
        let (bullets, unsupported) = ground_bullets(text, &extraction, None, generated, 5);
        let shown: Vec<&str> = bullets.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(
            shown,
            [
                "The council voted 7 to 2 to expand the night bus network.",
                "The plan, proposed by transit director Maria Okafor, will cost about $4.2 million a year.",
                "The new routes start on March 1 and run until 2 a.m.",
            ]
        );
        assert_eq!(bullets[0].sources[0].of(text), extraction.sentences[0].span.of(text));
        assert_eq!(bullets[2].sources[0].of(text), extraction.sentences[4].span.of(text));
        assert_eq!(bullets[1].support, 1.0);
        assert_eq!(unsupported, 1, "only the invented point is unsupported");
        // The list never exceeds k.
        let (bullets, _) = ground_bullets(text, &extraction, None, Vec::new(), 2);
        assert_eq!(bullets.len(), 2);
    }

    #[test]
    fn extractive_key_points_are_trimmed_and_cite_exactly_the_kept_bytes() {
        let text = "(CNN)The Riverton City Council voted 7 to 2 on Tuesday to expand the night bus network. \
Residents had asked the council for later buses for years. \
But the plan will cost the city about $4.2 million a year, a council spokesman said.";
        // By default the attribution stays: the key point is what the spokesman said.
        let plain =
            extract(text, None, 3, Length::Medium, &RankOptions::default(), &CancelToken::new()).unwrap().bullets(text);
        assert_eq!(plain[2].text, "The plan will cost the city about $4.2 million a year, a council spokesman said.");
        assert_eq!(plain[2].sources.len(), 1);
        // With every rule, the attribution goes too.
        let all = RankOptions { trim: TrimRules::ALL, ..RankOptions::default() };
        let extraction = extract(text, None, 3, Length::Medium, &all, &CancelToken::new()).unwrap();
        assert_eq!(extraction.chosen, [0, 1, 2]);
        let bullets = extraction.bullets(text);
        let shown: Vec<&str> = bullets.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(
            shown,
            [
                "The Riverton City Council voted 7 to 2 on Tuesday to expand the night bus network.",
                "Residents had asked the council for later buses for years.",
                "The plan will cost the city about $4.2 million a year.",
            ]
        );
        // The last one cites the kept clause and the sentence's own full stop.
        let cited: Vec<&str> = bullets[2].sources.iter().map(|s| s.of(text)).collect();
        assert_eq!(cited, ["the plan will cost the city about $4.2 million a year", "."]);
        let evidence = Evidence::new(text, &extraction.sentences, None);
        for b in &bullets {
            let kept: Vec<&str> = b.sources.iter().map(|s| s.of(text)).collect();
            assert_eq!(b.text.to_lowercase(), kept.join(" ").replace(" .", ".").to_lowercase());
            let g = evidence.ground(&b.text, None);
            assert!(g.support >= SUPPORT_THRESHOLD && g.missing.is_empty(), "{b:?} {g:?}");
            assert_eq!(b.support, 1.0);
        }
        // Without trimming, the key points are the sentences as they are.
        let whole = extract(
            text,
            None,
            3,
            Length::Medium,
            &RankOptions { trim: TrimRules::NONE, ..RankOptions::default() },
            &CancelToken::new(),
        )
        .unwrap();
        let bullets = whole.bullets(text);
        assert!(
            bullets[0].text.starts_with("(CNN)The Riverton") && bullets[2].text.ends_with("a council spokesman said.")
        );
        assert!(bullets.iter().all(|b| b.sources.len() == 1));
    }
}
