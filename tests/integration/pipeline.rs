//! The summary pipeline with a tiny generator: extractive key points before any generation,
//! grounded bullets only, and map-reduce over an article longer than the model's context.

use precis::article;
use precis::engine::{Engine, Event, SummarizeJob};
use precis::llm::generator::Generator;
use precis::llm::gguf::Architecture;
use precis::llm::test_models::TinySpec;
use precis::llm::{CancelToken, GenerateOptions};
use precis::summary::{self, Models, Stage, Step, SummarizeOptions, SummaryType};

use crate::common::*;

/// An article of `paragraphs` paragraphs, each with its own facts.
fn long_article(paragraphs: usize) -> String {
    let mut text = String::from("Harbor Town Reports on Its Tidal Power Year\n\n");
    for i in 0..paragraphs {
        text.push_str(&format!(
            "In month {i}, the tidal station at the old ferry pier produced {} megawatt hours for the town. \
Engineer number {i} inspected turbine {} and reported that the blades were in good condition. \
The council published the figures for month {i} on its website.\n\n",
            100 + i * 7,
            i % 4
        ));
    }
    text
}

fn opts(article_tokens: usize, max_tokens: usize) -> SummarizeOptions {
    SummarizeOptions {
        generate: GenerateOptions { max_tokens, ..GenerateOptions::default() },
        article_tokens,
        ..SummarizeOptions::default()
    }
}

#[test]
fn an_article_longer_than_the_context_is_read_from_a_bounded_excerpt() {
    let dir = tempfile::tempdir().unwrap();
    let spec = TinySpec { context: 1024, ..TinySpec::new(Architecture::Qwen2) };
    let model = tiny_model_with(dir.path(), spec);
    let mut generator = Generator::load(&model).unwrap();
    let article = article::from_bytes("long", long_article(30).as_bytes(), Some("txt")).unwrap();
    let mut planned = false;
    let s = summary::summarize(
        Models { generator: Some(&mut generator), name: "tiny" },
        &article,
        &opts(3000, 8),
        &CancelToken::new(),
        &mut |step| planned |= matches!(step, Step::Plan { .. }),
    )
    .unwrap();
    assert!(!planned, "only a thorough summary reads the article section by section");
    assert_eq!(s.sections, 0);
    // One prompt: the excerpt within its budget, plus the instructions around it.
    let prompt = s.timings.prompt_tokens;
    assert!(prompt <= summary::LONG_READ_PROMPT_TOKENS + 300, "{prompt} prompt tokens");
    assert!(!s.bullets.is_empty());
}

#[test]
fn a_thorough_summary_reads_an_article_longer_than_the_context_section_by_section() {
    let dir = tempfile::tempdir().unwrap();
    let spec = TinySpec { context: 1024, ..TinySpec::new(Architecture::Qwen2) };
    let model = tiny_model_with(dir.path(), spec);
    let mut generator = Generator::load(&model).unwrap();
    let text = long_article(30);
    let article = article::from_bytes("long", text.as_bytes(), Some("txt")).unwrap();
    let article_tokens = generator.tokenizer.encode(&article.text, false, false).unwrap().len();
    assert!(article_tokens > 1024, "the article ({article_tokens} tokens) must not fit the context");

    let mut progress = Vec::new();
    let mut extractive_first = None;
    let mut plan = None;
    let s = summary::summarize(
        Models { generator: Some(&mut generator), name: "tiny" },
        &article,
        &SummarizeOptions { thorough: true, ..opts(3000, 8) },
        &CancelToken::new(),
        &mut |step| match step {
            Step::Plan { sections, seconds } => plan = Some((sections, seconds)),
            Step::Extractive(b) => {
                extractive_first.get_or_insert(progress.is_empty());
                assert!(!b.is_empty());
            }
            Step::Stage { stage: Stage::Reading, progress: Some(p) } => progress.push(p),
            _ => {}
        },
    )
    .unwrap();
    assert_eq!(extractive_first, Some(true), "extractive key points come before any section is read");
    assert!(s.sections >= 2, "{} sections", s.sections);
    let (planned, seconds) = plan.expect("a thorough summary states its plan first");
    assert!(planned >= 2 && seconds >= 1, "{planned} sections, {seconds} s");
    let last = progress.last().unwrap();
    assert_eq!(last.done, last.total);
    assert!(progress.iter().map(|p| p.total).max().unwrap() >= 2, "{progress:?}");
    // The tiny model writes noise; what is shown is grounded in the article, from its whole length.
    assert!(!s.bullets.is_empty());
    for b in &s.bullets {
        assert!(b.support >= 0.6, "{b:?}");
        for span in &b.sources {
            assert!(s.text[span.start..span.end].contains(b.text.trim_end_matches('.').split(' ').next().unwrap()));
        }
    }
}

#[test]
fn a_thorough_summary_of_an_article_that_fits_reads_all_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let spec = TinySpec { context: 4096, ..TinySpec::new(Architecture::Qwen2) };
    let model = tiny_model_with(dir.path(), spec);
    let mut generator = Generator::load(&model).unwrap();
    let article = article::from_bytes("fits", long_article(10).as_bytes(), Some("txt")).unwrap();
    let article_tokens = generator.tokenizer.encode(&article.text, false, false).unwrap().len();
    let mut prompt_tokens = |thorough: bool| {
        let s = summary::summarize(
            Models { generator: Some(&mut generator), name: "tiny" },
            &article,
            &SummarizeOptions { thorough, ..opts(3000, 4) },
            &CancelToken::new(),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(s.sections, 0, "the article fits: one prompt");
        s.timings.prompt_tokens
    };
    // Key points from the key sentences among their neighbours, unless every paragraph is asked for.
    let excerpt = prompt_tokens(false);
    let whole = prompt_tokens(true);
    assert!(excerpt < article_tokens, "{excerpt} prompt tokens for an article of {article_tokens}");
    assert!(whole > article_tokens, "{whole} prompt tokens for an article of {article_tokens}");
}

#[test]
fn extractive_mode_needs_no_generator() {
    let text = long_article(6);
    let article = article::from_bytes("a", text.as_bytes(), Some("txt")).unwrap();
    for kind in [SummaryType::KeyPoints, SummaryType::Tldr, SummaryType::Headline] {
        let o = SummarizeOptions { kind, ..opts(3000, 8) };
        let s = summary::summarize(Models::extractive("extractive"), &article, &o, &CancelToken::new(), &mut |_| {})
            .unwrap();
        match kind {
            SummaryType::KeyPoints => {
                assert!((1..=5).contains(&s.bullets.len()));
                for b in &s.bullets {
                    assert_eq!(b.support, 1.0);
                    assert_eq!(&s.text[b.sources[0].start..b.sources[0].end], b.text);
                }
            }
            _ => {
                assert!(s.bullets.is_empty());
                assert!(!s.summary.is_empty());
            }
        }
    }
}

#[test]
fn the_worker_sends_extractive_points_before_the_generated_ones() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path(), Architecture::Llama);
    let (engine, _worker) = Engine::start();
    let job = SummarizeJob {
        model_name: "tiny".into(),
        model_path: model,
        article: article::from_bytes("test", ARTICLE.as_bytes(), None).unwrap(),
        options: opts(3000, 6),
    };
    let mut events = Vec::new();
    let last = engine.summarize(job).wait(|e| events.push(e.clone())).unwrap();
    let Event::Done { summary } = last else { panic!("{last:?}") };
    let extractive = events.iter().position(|e| matches!(e, Event::Extractive { .. })).expect("an extractive event");
    let partial = events.iter().position(|e| matches!(e, Event::Partial { .. })).unwrap_or(usize::MAX);
    assert!(extractive < partial);
    // The model was not loaded yet: the key points come while it loads, before the pipeline's
    // ranking stage (which runs once the generator is there).
    let loading = events.iter().position(|e| matches!(e, Event::Stage { stage: Stage::LoadingModel, .. }));
    let ranking = events.iter().position(|e| matches!(e, Event::Stage { stage: Stage::Ranking, .. }));
    assert!(loading.unwrap() < extractive && extractive < ranking.unwrap(), "{events:?}");
    let json = serde_json::to_value(&events[extractive]).unwrap();
    assert_eq!(json["event"], "extractive");
    assert!(json["data"]["bullets"][0]["sources"][0]["start"].is_u64(), "{json}");
    assert!(summary.bullets.iter().all(|b| b.support >= 0.6));
    let ranking = serde_json::to_value(Event::Stage { stage: Stage::Ranking, progress: None }).unwrap();
    assert_eq!(ranking, serde_json::json!({"event": "stage", "data": {"stage": "ranking"}}));
}
