//! Summary jobs: start one (it replaces any running job) with its events streamed to the
//! window over a channel, and cancel one by its id.

use precis::engine::{Event, SummarizeJob};
use precis::generate::GenerateOptions;
use precis::summarize::{self, SummarizeOptions};
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, Runtime, State};

use crate::commands::article::ArticleView;
use crate::commands::models;
use crate::error::Result;
use crate::state::{lock, AppState, Settings};

#[tauri::command]
pub fn summarize<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    job_id: u32,
    article: ArticleView,
    options: Settings,
    on_event: Channel<Event>,
) -> Result<()> {
    let model = models::resolve(&state, options.model.as_deref())?;
    state.cancel_all();
    let job = SummarizeJob {
        model_name: model.name,
        model_path: model.path,
        embedder_path: models::embedder(&state),
        article: article.into_article(),
        options: SummarizeOptions {
            kind: options.kind,
            length: options.length,
            generate: GenerateOptions {
                max_tokens: summarize::answer_tokens(options.kind, options.length),
                ..GenerateOptions::default()
            },
            ..SummarizeOptions::default()
        },
    };
    let handle = state.engine.summarize(job);
    let token = handle.cancel.clone();
    lock(&state.jobs).insert(job_id, token.clone());
    std::thread::Builder::new()
        .name(format!("precis-job-{job_id}"))
        .spawn(move || {
            for event in handle.events.iter() {
                if on_event.send(event).is_err() {
                    // The window is gone: stop working for it.
                    token.cancel();
                }
            }
            let state = app.state::<AppState>();
            let mut jobs = lock(&state.jobs);
            if jobs.get(&job_id).is_some_and(|t| t.same_as(&token)) {
                jobs.remove(&job_id);
            }
        })
        .map_err(|e| crate::error::AppError::internal(format!("could not start the job: {e}")))?;
    Ok(())
}

#[tauri::command]
pub fn cancel_job(state: State<'_, AppState>, job_id: u32) {
    if let Some(token) = lock(&state.jobs).remove(&job_id) {
        token.cancel();
    }
}
