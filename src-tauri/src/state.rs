//! What the app keeps while it runs: the engine handle, the cancel token of each running job
//! keyed by job id, the person's settings (output type, length, model, added models), saved as
//! JSON in the app's config directory, and the files the person chose — the only ones the shell
//! reads or writes when the page asks.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use precis::engine::Engine;
use precis::llm::CancelToken;
use precis::store::history::History;
use precis::store::recall::HistoryAccess;
use precis::summary::{Length, SummaryType};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, Result};

/// The choices shown in the window, remembered between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Settings {
    #[serde(rename = "type")]
    pub kind: SummaryType,
    pub length: Length,
    /// A catalog name or the path of an added GGUF file; `None` is the default generator.
    pub model: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { kind: SummaryType::KeyPoints, length: Length::Medium, model: None }
    }
}

/// The settings file's contents.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stored {
    #[serde(default)]
    pub settings: Settings,
    /// GGUF files the person added, by path.
    #[serde(default)]
    pub custom_models: Vec<PathBuf>,
}

pub struct AppState {
    pub engine: Engine,
    pub jobs: Mutex<HashMap<u32, CancelToken>>,
    pub models_dir: PathBuf,
    settings_path: PathBuf,
    stored: Mutex<Stored>,
    /// Models being fetched right now with their cancel tokens, so a second click does not
    /// fetch twice and a fetch can be stopped.
    pub fetching: Mutex<HashMap<String, CancelToken>>,
    /// Where the history of summaries lives, and the history once opened.
    pub history_path: PathBuf,
    history: Mutex<Option<History>>,
    /// Files the person chose to open (dropped on the window, picked in the open dialog, given
    /// on the command line) and to save to (picked in the save dialog).
    chosen: Mutex<Chosen>,
}

/// Files the person chose, by canonical path.
#[derive(Debug, Default)]
struct Chosen {
    read: HashSet<PathBuf>,
    write: HashSet<PathBuf>,
}

impl AppState {
    /// State with settings read from `config_dir` (missing or unreadable settings start fresh)
    /// and the history at `history_path` (opened on first use).
    pub fn new(engine: Engine, models_dir: PathBuf, config_dir: &Path, history_path: PathBuf) -> AppState {
        let settings_path = config_dir.join("settings.json");
        let stored =
            std::fs::read(&settings_path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        AppState {
            engine,
            jobs: Mutex::new(HashMap::new()),
            models_dir,
            settings_path,
            stored: Mutex::new(stored),
            fetching: Mutex::new(HashMap::new()),
            history_path,
            history: Mutex::new(None),
            chosen: Mutex::new(Chosen::default()),
        }
    }

    pub fn stored(&self) -> Stored {
        lock(&self.stored).clone()
    }

    /// Changes the stored settings and writes them to disk (atomically).
    pub fn update(&self, change: impl FnOnce(&mut Stored)) -> Result<()> {
        let mut stored = lock(&self.stored);
        change(&mut stored);
        let json = serde_json::to_vec_pretty(&*stored).map_err(|e| AppError::internal(e.to_string()))?;
        let dir = self.settings_path.parent().unwrap_or(Path::new("."));
        let io = |e: std::io::Error| AppError::new("io", format!("saving settings in {}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(io)?;
        let tmp = self.settings_path.with_extension("json.tmp");
        std::fs::write(&tmp, json).map_err(io)?;
        std::fs::rename(&tmp, &self.settings_path).map_err(io)?;
        Ok(())
    }

    /// Runs `work` on the history, opening it first if needed. A history that cannot be opened
    /// (damaged, from a newer Precis) is an error each time it is asked for, and is left as is.
    pub fn with_history<T>(&self, work: impl FnOnce(&mut History) -> precis::Result<T>) -> Result<T> {
        Ok(self.on_history(work)?)
    }

    fn on_history<T>(&self, work: impl FnOnce(&mut History) -> precis::Result<T>) -> precis::Result<T> {
        let mut slot = lock(&self.history);
        if slot.is_none() {
            *slot = Some(History::open(&self.history_path)?);
        }
        work(slot.as_mut().expect("opened above"))
    }

    /// Remembers files (or folders) the person chose to open: dropped on the window, picked in
    /// the open dialog, or given on the command line.
    pub fn choose_to_read(&self, paths: impl IntoIterator<Item = PathBuf>) {
        let mut chosen = lock(&self.chosen);
        for path in paths {
            chosen.read.insert(canonical(&path));
        }
    }

    /// Remembers a file the person chose in the save dialog.
    pub fn choose_to_write(&self, path: &Path) {
        lock(&self.chosen).write.insert(canonical(path));
    }

    /// `path` when the person chose it to open (or chose the folder it is in), else an error:
    /// the page never gets to name a file on its own.
    pub fn readable(&self, path: &Path) -> Result<PathBuf> {
        let path = canonical(path);
        let chosen = lock(&self.chosen);
        if chosen.read.contains(&path) || path.parent().is_some_and(|dir| chosen.read.contains(dir)) {
            return Ok(path);
        }
        Err(not_chosen(&path, "open"))
    }

    /// `path` when the person chose it in the save dialog, else an error.
    pub fn writable(&self, path: &Path) -> Result<PathBuf> {
        let path = canonical(path);
        if lock(&self.chosen).write.contains(&path) {
            return Ok(path);
        }
        Err(not_chosen(&path, "save to"))
    }

    /// Cancels every running job (a new one is about to replace it).
    pub fn cancel_all(&self) {
        for (_, token) in lock(&self.jobs).drain() {
            token.cancel();
        }
    }
}

/// The window's history for summary jobs: always on, opened on first use.
impl HistoryAccess for AppState {
    fn with_history<T>(&self, work: impl FnOnce(&mut History) -> precis::Result<T>) -> Option<precis::Result<T>> {
        Some(self.on_history(work))
    }
}

/// The path with symbolic links and `..` resolved; a file that does not exist yet keeps its name
/// under its resolved folder.
fn canonical(path: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    match (path.parent().and_then(|p| std::fs::canonicalize(p).ok()), path.file_name()) {
        (Some(dir), Some(name)) => dir.join(name),
        _ => path.to_path_buf(),
    }
}

fn not_chosen(path: &Path, what: &str) -> AppError {
    AppError::new(
        "not_chosen",
        format!(
            "Precis will only {what} files you choose: drop the file on the window or pick it with \
             Open…; {} was not chosen",
            path.display()
        ),
    )
}

/// Locks a mutex, recovering the data if a panic poisoned it: every guarded value here stays
/// consistent between statements.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
