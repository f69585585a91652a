//! The model thread behind `Engine`: event order, cancellation before the next token, jobs
//! that queue behind each other, and failures reported as events rather than panics.

use std::path::Path;

use precis::article;
use precis::engine::{Engine, Event, Stage, SummarizeJob};
use precis::llm::gguf::Architecture;
use precis::llm::test_models::TinySpec;
use precis::llm::{GenerateOptions, StopReason};
use precis::summary::SummarizeOptions;

use crate::common::*;

fn job(model: &Path, max_tokens: usize) -> SummarizeJob {
    SummarizeJob {
        model_name: "tiny".into(),
        model_path: model.to_path_buf(),
        article: article::from_bytes("test", ARTICLE.as_bytes(), None).unwrap(),
        options: SummarizeOptions {
            generate: GenerateOptions { max_tokens, ..GenerateOptions::default() },
            ..SummarizeOptions::default()
        },
    }
}

#[test]
fn events_arrive_in_order_and_the_model_stays_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path(), Architecture::Qwen2);
    let (engine, _worker) = Engine::start();

    let mut events = Vec::new();
    let last = engine.summarize(job(&model, 6)).wait(|e| events.push(e.clone())).unwrap();
    let stages: Vec<Stage> = events
        .iter()
        .filter_map(|e| match e {
            Event::Stage { stage, .. } => Some(*stage),
            _ => None,
        })
        .collect();
    assert_eq!(stages, [Stage::LoadingModel, Stage::Ranking, Stage::Reading, Stage::Writing]);
    let deltas: String = events
        .iter()
        .filter_map(|e| match e {
            Event::Partial { delta, .. } => Some(delta.as_str()),
            _ => None,
        })
        .collect();
    let Event::Done { summary } = last else { panic!("{last:?}") };
    assert_eq!(summary.timings.generated_tokens, 6);
    assert!(!deltas.is_empty());
    assert!(summary.timings.load_ms > 0 || summary.timings.total_ms > 0);

    // The second job reuses the loaded model: no loading stage, no load time.
    let mut events = Vec::new();
    let last = engine.summarize(job(&model, 4)).wait(|e| events.push(e.clone())).unwrap();
    assert!(!events.iter().any(|e| matches!(e, Event::Stage { stage: Stage::LoadingModel, .. })));
    let Event::Done { summary } = last else { panic!("{last:?}") };
    assert_eq!(summary.timings.load_ms, 0);
}

#[test]
fn cancel_takes_effect_before_the_next_token() {
    let dir = tempfile::tempdir().unwrap();
    // The cancel is asked for on this thread when the first text arrives, while the model
    // thread goes on: tokens it finished meanwhile may still arrive (how many depends on how
    // the two threads are scheduled, and the tests share two cores), but none is generated
    // after the cancel is seen, and the job ends as cancelled with what was written.
    // `engine::cancel_stops_before_the_next_token` checks on the generating thread itself that
    // a cancel lets no further token through. A model big enough to take milliseconds a token
    // keeps the job far from its 400-token limit.
    let spec = TinySpec { embedding: 512, feed_forward: 2048, ..TinySpec::new(Architecture::Llama) };
    let model = tiny_model_with(dir.path(), spec);
    let (engine, _worker) = Engine::start();
    let handle = engine.summarize(job(&model, 400));
    let cancel = handle.cancel.clone();
    let mut partials = 0;
    let mut after_end = false;
    let mut ended = false;
    let last = handle
        .wait(|e| {
            after_end |= ended;
            match e {
                Event::Partial { .. } => {
                    partials += 1;
                    cancel.cancel();
                }
                Event::Cancelled { .. } | Event::Done { .. } | Event::Failed { .. } => ended = true,
                _ => {}
            }
        })
        .unwrap();
    let Event::Cancelled { summary: Some(summary) } = last else { panic!("{last:?}") };
    assert_eq!(summary.stop_reason, StopReason::Cancelled);
    assert!(!after_end, "no event arrives after the job ended");
    assert!(partials >= 1);
    // Every piece of text came from a generated token, and generation stopped long before
    // the limit.
    assert!(
        partials <= summary.timings.generated_tokens,
        "{partials} pieces of text from {} tokens",
        summary.timings.generated_tokens
    );
    assert!(summary.timings.generated_tokens < 400);
}

#[test]
fn a_second_job_queues_and_keeps_its_own_events() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path(), Architecture::Qwen2);
    let (engine, _worker) = Engine::start();
    let first = engine.summarize(job(&model, 400));
    let second = engine.summarize(job(&model, 3));
    // Replacing the running job: cancel the first, then read the second.
    first.cancel.cancel();
    let last_first = first.wait(|_| {}).unwrap();
    assert!(matches!(last_first, Event::Cancelled { .. }), "{last_first:?}");
    let mut tokens = 0;
    let last = second
        .wait(|e| {
            if let Event::Partial { .. } = e {
                tokens += 1;
            }
        })
        .unwrap();
    let Event::Done { summary } = last else { panic!("{last:?}") };
    assert_eq!(summary.timings.generated_tokens, 3);
    assert!(tokens <= 3);
}

#[test]
fn a_bad_model_is_a_failed_event() {
    let dir = tempfile::tempdir().unwrap();
    let junk = write(dir.path(), "junk.gguf", b"GGUF but not really");
    let (engine, _worker) = Engine::start();
    let last = engine.summarize(job(&junk, 4)).wait(|_| {}).unwrap();
    let Event::Failed { code, message } = last else { panic!("{last:?}") };
    assert_eq!(code, "model_invalid");
    assert!(message.contains("junk.gguf"), "{message}");
    // The thread is still there for the next job.
    let model = tiny_model(dir.path(), Architecture::Qwen2);
    assert!(matches!(engine.summarize(job(&model, 2)).wait(|_| {}), Some(Event::Done { .. })));
}

#[test]
fn events_serialize_as_tagged_camel_case() {
    let e = Event::Stage { stage: Stage::LoadingModel, progress: None };
    assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"event":"stage","data":{"stage":"loadingModel"}}"#);
    let e = Event::Failed { code: "input".into(), message: "x: empty".into() };
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        r#"{"event":"failed","data":{"code":"input","message":"x: empty"}}"#
    );
}
