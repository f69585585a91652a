//! Summary jobs: start one (it replaces any running job) with its events streamed to the
//! window over a channel, and cancel one by its id. A summary made before for the same article,
//! model and options is answered from the history; a finished one is stored there. A summary's
//! key points can be translated afterwards by a job of their own.

use precis::engine::{Event, SummarizeJob, TranslateJob};
use precis::language::Language;
use precis::llm::{CancelToken, GenerateOptions};
use precis::store::recall::{summarize_remembered, Remembered};
use precis::summary::Bullet;
use precis::summary::{self, SummarizeOptions};
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, Runtime, State};

use crate::commands::article::ArticleView;
use crate::commands::models;
use crate::error::Result;
use crate::state::{lock, AppState, Settings};

#[tauri::command]
pub async fn summarize<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    job_id: u32,
    article: ArticleView,
    options: Settings,
    again: Option<bool>,
    on_event: Channel<Event>,
) -> Result<()> {
    let model = models::resolve(&state, options.model.as_deref())?;
    let source = article.source.clone();
    let job = SummarizeJob {
        model_name: model.name,
        model_path: model.path,
        article: article.article,
        options: SummarizeOptions {
            kind: options.kind,
            length: options.length,
            generate: GenerateOptions {
                max_tokens: summary::answer_tokens(options.kind, options.length),
                ..GenerateOptions::default()
            },
            thorough: options.thorough,
            language: options.language.unwrap_or_default(),
            ..SummarizeOptions::default()
        },
    };
    let again = again.unwrap_or(false);
    start_job(app, &state, job_id, on_event, move |state, token, on_event| {
        run_job(state, job, source, again, token, on_event)
    })
}

/// Starts a job on a thread of its own (the history and the engine's events stay off the
/// window's main thread), replacing any running job, registered under `job_id` for `cancel_job`
/// from the start until it ends. A panic in `work` (the history, the bridge) ends the job with a
/// message instead of leaving the window waiting; the engine's thread catches its own likewise.
fn start_job<R: Runtime>(
    app: AppHandle<R>,
    state: &AppState,
    job_id: u32,
    on_event: Channel<Event>,
    work: impl FnOnce(&AppState, &CancelToken, &Channel<Event>) + Send + 'static,
) -> Result<()> {
    state.cancel_all();
    let token = CancelToken::new();
    lock(&state.jobs).insert(job_id, token.clone());
    std::thread::Builder::new()
        .name(format!("precis-job-{job_id}"))
        .spawn(move || {
            let state = app.state::<AppState>();
            let run = std::panic::AssertUnwindSafe(|| work(&state, &token, &on_event));
            if std::panic::catch_unwind(run).is_err() {
                let _ = on_event.send(Event::Failed {
                    code: "internal".into(),
                    message: "the job stopped unexpectedly; try again".into(),
                });
            }
            let mut jobs = lock(&state.jobs);
            if jobs.get(&job_id).is_some_and(|t| t.same_as(&token)) {
                jobs.remove(&job_id);
            }
        })
        .map_err(|e| {
            lock(&state.jobs).remove(&job_id);
            crate::error::AppError::internal(format!("could not start the job: {e}"))
        })?;
    Ok(())
}

/// One job, on its own thread (the history lookup and writes stay off the window's main
/// thread): the stored summary when there is one and `again` is not asked, otherwise the
/// engine's events, forwarded as they come, the finished summary stored before it is sent.
fn run_job(
    state: &AppState,
    job: SummarizeJob,
    source: String,
    again: bool,
    token: &CancelToken,
    on_event: &Channel<Event>,
) {
    let send = |event: Event| {
        if on_event.send(event).is_err() {
            // The window is gone: stop working for it.
            token.cancel();
        }
    };
    let outcome = summarize_remembered(state, &job.request(&source), again, || {
        let handle = state.engine.summarize_with(job.clone(), token.clone());
        for event in handle.events.iter() {
            match event {
                // A job replaced or cancelled after its model finished, but before its result
                // was sent, ends as cancelled like one stopped a moment earlier: its summary is
                // sent with the event and not stored.
                Event::Done { summary } if token.is_cancelled() => {
                    send(Event::Cancelled { summary: Some(summary) });
                    return Err(precis::Error::Cancelled);
                }
                // Sent once it is stored, below.
                Event::Done { summary } => return Ok(summary),
                Event::Cancelled { .. } | Event::Failed { .. } => {
                    send(event);
                    // Reported already; nothing to store or send.
                    return Err(precis::Error::Cancelled);
                }
                other => send(other),
            }
        }
        Err(precis::Error::Cancelled)
    });
    match outcome {
        // Every job ends with one final event, a cancelled one included.
        Ok(r) if r.cached && token.is_cancelled() => send(Event::Cancelled { summary: None }),
        Ok(Remembered { summary, cached: true, entry: Some(entry) }) => send(Event::Remembered { summary, entry }),
        Ok(Remembered { summary, .. }) => send(Event::Done { summary }),
        Err(_) => {}
    }
}

/// Translates key points (the article's sentences, in `from`) into `to` with the chosen model,
/// as a job of its own that `cancel_job` stops and a new summary replaces. Its events are
/// `stage`, then one of `translated` (the bullets, each with its translation when the model gave
/// one in `to`), `cancelled` or `failed`.
#[tauri::command]
#[allow(clippy::too_many_arguments)]
pub async fn translate_points<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    job_id: u32,
    bullets: Vec<Bullet>,
    from: Language,
    to: Language,
    model: Option<String>,
    on_event: Channel<Event>,
) -> Result<()> {
    let model = models::resolve(&state, model.as_deref())?;
    let job = TranslateJob { model_name: model.name, model_path: model.path, bullets, from, to };
    start_job(app, &state, job_id, on_event, move |state, token, on_event| {
        let handle = state.engine.translate_with(job, token.clone());
        for event in handle.events.iter() {
            if on_event.send(event).is_err() {
                // The window is gone: stop working for it.
                token.cancel();
            }
        }
    })
}

#[tauri::command]
pub fn cancel_job(state: State<'_, AppState>, job_id: u32) {
    if let Some(token) = lock(&state.jobs).remove(&job_id) {
        token.cancel();
    }
}
