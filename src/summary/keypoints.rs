//! Key points: the article split and ranked, its key sentences chosen and trimmed into
//! bullets that cite exactly the bytes they show (`extract`), and points the generator wrote
//! grounded against those sentences, standing for one only when it is a faithful
//! condensation of it (`ground_bullets`).

use super::ground::{same_point_in, Evidence, SUPPORT_THRESHOLD};
use super::options::{word_budget, Length};
use super::rank::{self, Picks, RankOptions};
use super::sentences::{self, Sentence};
use super::structure::{self, Structure};
use super::trim::{self, TrimRules};
use super::Bullet;
use crate::error::{Error, Result};
use crate::language::{self, Language};
use crate::llm::CancelToken;

/// Ranking of one article: its sentences, their structure and salience, and the chosen ones.
pub struct Extraction {
    pub sentences: Vec<Sentence>,
    /// Headings, furniture and sections (see `structure`).
    pub structure: Structure,
    /// Each sentence's salience (-1 for those that are not candidates).
    pub salience: Vec<f32>,
    /// Chosen sentences, in article order.
    pub chosen: Vec<usize>,
    /// Most key points asked for: `k`, or more for a long read (see `extract`).
    pub points: usize,
    /// What is trimmed from the chosen sentences to make the key points.
    pub trim: TrimRules,
    /// The language the article was read in.
    pub language: Language,
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
        Bullet { text: trim::joined(text, self.sentences[i].span, &sources), sources, support: 1.0, translation: None }
    }
}

/// Splits and ranks `text` and picks up to `k` key sentences, in the language detected in it
/// (see `extract_in`).
pub fn extract(
    text: &str,
    title: Option<&str>,
    k: usize,
    length: Length,
    opts: &RankOptions,
    cancel: &CancelToken,
) -> Result<Extraction> {
    extract_in(text, title, language::detect(text).language, k, length, opts, cancel)
}

/// Splits `text` with the sentence rules of `language`, ranks its sentences and picks up to `k`
/// key sentences, by position and TF-IDF centrality with that language's words. Lengths are counted in English-word equivalents (`language::words`), and only the
/// trimming rules that know the language apply. Every step looks at `cancel`, and time and
/// memory grow linearly with the text.
#[allow(clippy::too_many_arguments)]
pub fn extract_in(
    text: &str,
    title: Option<&str>,
    language: Language,
    k: usize,
    length: Length,
    opts: &RankOptions,
    cancel: &CancelToken,
) -> Result<Extraction> {
    let sentences = sentences::split_until_in(text, language, cancel).ok_or(Error::Cancelled)?;
    let sim = rank::Similarity::in_language(text, &sentences, language, cancel).ok_or(Error::Cancelled)?;
    let structure = structure::analyze(text, title, language, &sentences);
    let salience = rank::salience(text, &sentences, &sim, opts, &structure);
    // A long read has more ground to cover than a news story (several sections, each with its
    // own findings): its key points get the room and the count of the next length up.
    let (k, length) = match (structure.long_read, length.longer()) {
        (true, Some(longer)) => (k + longer.max_bullets() - length.max_bullets(), longer),
        _ => (k, length),
    };
    let budget = (word_budget(length) as f32 * opts.budget_scale) as usize;
    let picks = Picks { k, word_budget: budget, structure: &structure };
    let mut chosen =
        rank::select_until(text, &sentences, &salience, &sim, &picks, opts, cancel).ok_or(Error::Cancelled)?;
    chosen.sort_unstable();
    drop(sim);
    Ok(Extraction {
        sentences,
        structure,
        salience,
        chosen,
        points: k,
        trim: opts.trim.for_language(language),
        language,
    })
}

/// Grounds generated bullets against the key sentences they were asked to shorten, one point
/// per key sentence, in article order. A generated point that is a condensation of a key
/// sentence (see [`Evidence::condenses`]: supported, nearly all in the sentence's own words, and
/// keeping most of them) stands for it, with its sources and score; every other key sentence is shown as it is.
/// Points the model added beyond the key sentences, rewrites that drift from their sentence
/// and unsupported points are not shown, and no two points say the same thing. Returns at most
/// `k` bullets and how many generated points the article did not support at all.
pub fn ground_bullets(text: &str, extraction: &Extraction, generated: Vec<Bullet>, k: usize) -> (Vec<Bullet>, usize) {
    let evidence = Evidence::in_language(text, &extraction.sentences, extraction.language);
    let chosen = &extraction.chosen;
    let mut condensed: Vec<Option<Bullet>> = vec![None; chosen.len()];
    let mut unsupported = 0;
    for (n, b) in generated.into_iter().enumerate() {
        let g = evidence.ground(&b.text);
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
            Some(slot) => {
                condensed[slot] =
                    Some(Bullet { text: b.text, sources: g.sources, support: g.support, translation: None })
            }
            None => {
                tracing::debug!(bullet = %b.text, support = g.support, coverage = g.coverage, missing = ?g.missing, "generated point not shown")
            }
        }
    }
    let mut out: Vec<Bullet> = Vec::new();
    for (slot, &i) in chosen.iter().enumerate() {
        let b = condensed[slot].take().unwrap_or_else(|| extraction.bullet(text, i));
        if out.len() < k && !out.iter().any(|o| same_point_in(&o.text, &b.text, extraction.language)) {
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
        let n = sentences.len();
        let extraction = Extraction {
            sentences,
            structure: Structure::one_piece(n),
            salience: vec![1.0; n],
            chosen: vec![0, 2, 4],
            points: 3,
            trim: TrimRules::NONE,
            language: Language::ENGLISH,
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
        let (bullets, unsupported) = ground_bullets(text, &extraction, generated, 5);
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
        let (bullets, _) = ground_bullets(text, &extraction, Vec::new(), 2);
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
        let evidence = Evidence::new(text, &extraction.sentences);
        for b in &bullets {
            let kept: Vec<&str> = b.sources.iter().map(|s| s.of(text)).collect();
            assert_eq!(b.text.to_lowercase(), kept.join(" ").replace(" .", ".").to_lowercase());
            let g = evidence.ground(&b.text);
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
