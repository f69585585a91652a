//! The model's own thread and the cheap handle that talks to it. Each job (a summary, or the
//! translation of a summary's key points) goes in with its own event channel and cancellation
//! token; the worker keeps the loaded generator between jobs, so only a change of
//! model pays the load again. Nothing here blocks the caller.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

use serde::Serialize;

use crate::article::Article;
use crate::error::{Error, Result};
use crate::language::Language;
use crate::llm::{CancelToken, Generator, StopReason};
use crate::store::history::ListItem;
use crate::store::recall;
use crate::summary::{self, parse_answer, Bullet, Models, Step, SummarizeOptions, Summary};

pub use crate::summary::{Progress, Stage};

/// One event of a job, in order: stages and partial answers, then exactly one `Done`,
/// `Cancelled` or `Failed`.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(tag = "event", content = "data", rename_all = "camelCase")]
pub enum Event {
    /// The job moved to a new stage (with its progress, for a stage done in parts).
    Stage {
        stage: Stage,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        progress: Option<Progress>,
    },
    /// A thorough run is about to read the article section by section: how many sections, and
    /// about how many seconds that takes.
    Plan { sections: usize, seconds: u64 },
    /// The extractive key points, sent as soon as ranking is done, before the generator runs.
    Extractive { bullets: Vec<Bullet> },
    /// New text from the model, and the answer as parsed so far.
    Partial { delta: String, summary: String, bullets: Vec<Bullet> },
    /// The finished summary.
    Done { summary: Summary },
    /// The key points of a translation job, each with its translation (when the model gave one
    /// in the language asked for).
    Translated { bullets: Vec<Bullet> },
    /// The same article was summarized with the same model and options before: the stored
    /// result, sent instead of running the model (the shell looks it up in the history).
    Remembered { summary: Summary, entry: ListItem },
    /// The job was cancelled; what the model had written is in `summary`.
    Cancelled { summary: Option<Summary> },
    /// The job failed.
    Failed {
        #[ts(type = "ErrorCode")]
        code: String,
        message: String,
    },
}

/// A summary job.
#[derive(Debug, Clone)]
pub struct SummarizeJob {
    /// Display name of the model (catalog name or file stem).
    pub model_name: String,
    pub model_path: PathBuf,
    pub article: Article,
    pub options: SummarizeOptions,
}

impl SummarizeJob {
    /// What identifies the job's summary in the history (see `store::recall`), with `source`
    /// as the name the article is remembered by.
    pub fn request<'a>(&'a self, source: &'a str) -> recall::Request<'a> {
        recall::Request {
            source,
            article: &self.article,
            model_name: &self.model_name,
            model_file: Some(&self.model_path),
            options: &self.options,
        }
    }
}

/// A job that translates a summary's key points (the article's own sentences) into another
/// language.
#[derive(Debug, Clone)]
pub struct TranslateJob {
    pub model_name: String,
    pub model_path: PathBuf,
    pub bullets: Vec<Bullet>,
    /// The article's language.
    pub from: Language,
    /// The language to translate into.
    pub to: Language,
}

enum Request {
    Summarize { job: Box<SummarizeJob>, events: Sender<Event>, cancel: CancelToken },
    Translate { job: Box<TranslateJob>, events: Sender<Event>, cancel: CancelToken },
}

/// A cheap, cloneable handle to the model thread.
#[derive(Clone)]
pub struct Engine {
    requests: Sender<Request>,
}

/// The caller's side of one job.
pub struct JobHandle {
    pub events: Receiver<Event>,
    pub cancel: CancelToken,
}

impl JobHandle {
    /// Waits for the job's last event, calling `on_event` for every event on the way.
    pub fn wait(self, mut on_event: impl FnMut(&Event)) -> Option<Event> {
        let mut last = None;
        for event in self.events.iter() {
            on_event(&event);
            last = Some(event);
        }
        last
    }
}

impl Engine {
    /// Starts the model thread. It ends when every handle is dropped.
    pub fn start() -> (Engine, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel::<Request>();
        let worker = std::thread::Builder::new()
            .name("precis-model".into())
            .spawn(move || Worker::default().run(rx))
            .expect("spawning the model thread");
        (Engine { requests: tx }, worker)
    }

    /// Queues a summary job; events arrive on the returned handle.
    pub fn summarize(&self, job: SummarizeJob) -> JobHandle {
        self.summarize_with(job, CancelToken::new())
    }

    /// Queues a summary job that `cancel` stops, for a caller that hands the token out before
    /// the job is queued.
    pub fn summarize_with(&self, job: SummarizeJob, cancel: CancelToken) -> JobHandle {
        self.queue(cancel, |events, cancel| Request::Summarize { job: Box::new(job), events, cancel })
    }

    /// Queues a translation job that `cancel` stops; it ends with `Translated`, `Cancelled` or
    /// `Failed`.
    pub fn translate_with(&self, job: TranslateJob, cancel: CancelToken) -> JobHandle {
        self.queue(cancel, |events, cancel| Request::Translate { job: Box::new(job), events, cancel })
    }

    /// Sends the request `make` builds to the worker; when the worker is gone, the job fails at
    /// once.
    fn queue(&self, cancel: CancelToken, make: impl FnOnce(Sender<Event>, CancelToken) -> Request) -> JobHandle {
        let (events, rx) = mpsc::channel();
        if self.requests.send(make(events.clone(), cancel.clone())).is_err() {
            let _ = events.send(Event::Failed {
                code: "internal".into(),
                message: "the model thread has stopped; restart Precis".into(),
            });
        }
        JobHandle { events: rx, cancel }
    }
}

#[derive(Default)]
struct Worker {
    loaded: Option<(PathBuf, Generator)>,
}

impl Worker {
    fn run(mut self, requests: Receiver<Request>) {
        for request in requests {
            match request {
                Request::Summarize { job, events, cancel } => {
                    // A job cancelled while it waited in the queue never starts.
                    if cancel.is_cancelled() {
                        let _ = events.send(Event::Cancelled { summary: None });
                        continue;
                    }
                    let send = |e: Event| {
                        let _ = events.send(e);
                    };
                    // A panic in the model code must not take the thread (and the app) down.
                    let outcome =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.summarize(&job, &cancel, &send)));
                    let last = match outcome {
                        Ok(Ok(summary)) if summary.stop_reason == StopReason::Cancelled => {
                            Event::Cancelled { summary: Some(summary) }
                        }
                        Ok(Ok(summary)) => Event::Done { summary },
                        Ok(Err(Error::Cancelled)) => Event::Cancelled { summary: None },
                        Ok(Err(e)) => Event::Failed { code: e.code().into(), message: e.to_string() },
                        Err(_) => {
                            // The model's state is unknown after a panic: load it afresh next time.
                            self.loaded = None;
                            Event::Failed {
                                code: "internal".into(),
                                message: "the model stopped unexpectedly; try again".into(),
                            }
                        }
                    };
                    send(last);
                }
                Request::Translate { job, events, cancel } => {
                    if cancel.is_cancelled() {
                        let _ = events.send(Event::Cancelled { summary: None });
                        continue;
                    }
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        self.translate(&job, &cancel, &events)
                    }));
                    let last = match outcome {
                        Ok(Ok(bullets)) => Event::Translated { bullets },
                        Ok(Err(Error::Cancelled)) => Event::Cancelled { summary: None },
                        Ok(Err(e)) => Event::Failed { code: e.code().into(), message: e.to_string() },
                        Err(_) => {
                            self.loaded = None;
                            Event::Failed {
                                code: "internal".into(),
                                message: "the model stopped unexpectedly; try again".into(),
                            }
                        }
                    };
                    let _ = events.send(last);
                }
            }
        }
    }

    fn translate(&mut self, job: &TranslateJob, cancel: &CancelToken, events: &Sender<Event>) -> Result<Vec<Bullet>> {
        if self.loaded.as_ref().is_none_or(|(p, _)| *p != job.model_path) {
            let _ = events.send(Event::Stage { stage: Stage::LoadingModel, progress: None });
        }
        let generator = load(&mut self.loaded, &job.model_path)?;
        let _ = events.send(Event::Stage { stage: Stage::Writing, progress: None });
        summary::translate_points(generator, &job.bullets, job.from, job.to, cancel)
    }

    fn summarize(&mut self, job: &SummarizeJob, cancel: &CancelToken, send: &dyn Fn(Event)) -> Result<Summary> {
        let fresh = self.loaded.as_ref().is_none_or(|(p, _)| *p != job.model_path);
        if fresh {
            send(Event::Stage { stage: Stage::LoadingModel, progress: None });
            // The key points need no generator: they are shown while it loads (ranking takes
            // milliseconds, so ranking again in the pipeline below costs nothing).
            if let Some(bullets) = summary::key_points_first(&job.article, &job.options, cancel)? {
                send(Event::Extractive { bullets });
            }
        }
        let generator = load(&mut self.loaded, &job.model_path)?;
        if !fresh {
            // The load happened for an earlier job; this one did not wait for it.
            generator.load_time = std::time::Duration::ZERO;
        }
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let mut text = String::new();
        summary::summarize(
            Models { generator: Some(generator), name: &job.model_name },
            &job.article,
            &job.options,
            cancel,
            &mut |step| match step {
                Step::Stage { stage, progress } => send(Event::Stage { stage, progress }),
                Step::Plan { sections, seconds } => send(Event::Plan { sections, seconds }),
                Step::Extractive(bullets) => send(Event::Extractive { bullets: bullets.to_vec() }),
                Step::Text(delta) => {
                    text.push_str(delta);
                    let answer = parse_answer(&text);
                    send(Event::Partial {
                        delta: delta.to_string(),
                        summary: answer.summary,
                        // Without condensing, the key points are the key sentences already sent.
                        bullets: if job.options.condense { answer.bullets } else { Vec::new() },
                    });
                }
            },
        )
    }
}

/// The generator at `path` in `slot`, loaded unless it is the one already there.
fn load<'a>(slot: &'a mut Option<(PathBuf, Generator)>, path: &PathBuf) -> Result<&'a mut Generator> {
    if slot.as_ref().is_none_or(|(p, _)| p != path) {
        *slot = None;
        *slot = Some((path.clone(), Generator::load_with(path, crate::store::catalog::load_options())?));
    }
    Ok(&mut slot.as_mut().expect("just loaded").1)
}
