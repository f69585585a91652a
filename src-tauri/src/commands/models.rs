//! Models: the catalog with what is downloaded, fetching one with progress, and adding a GGUF
//! file the person dropped or picked. Each model has an `id`, what a job's `model` setting
//! names: a catalog model's name, or an added file's path.

use std::path::{Path, PathBuf};

use precis::llm::gguf::GgufFile;
use precis::llm::CancelToken;
use precis::store::catalog::{Catalog, ResolvedModel, Role};
use precis::store::fetch::{self, FetchProgress, PipOptions};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::State;

use super::blocking;
use crate::error::{AppError, Result};
use crate::state::{lock, AppState};

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ModelView {
    /// What the `model` setting holds to use this model: the catalog name, or the path of an
    /// added file.
    pub id: String,
    pub name: String,
    pub description: String,
    pub role: Role,
    pub architecture: String,
    pub size: u64,
    pub present: bool,
    pub path: Option<PathBuf>,
    pub custom: bool,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ModelsView {
    pub models_dir: PathBuf,
    pub default_model: String,
    pub models: Vec<ModelView>,
}

/// An added GGUF file's display name: its file name without `.gguf`.
fn custom_name(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string())
}

/// An added file as the list shows it. Only the GGUF header is read (its architecture), never
/// the tokenizer or the weights.
fn custom_view(path: &Path) -> ModelView {
    let meta = std::fs::metadata(path).ok();
    ModelView {
        id: path.display().to_string(),
        name: custom_name(path),
        description: path.display().to_string(),
        role: Role::Generator,
        architecture: GgufFile::open(path)
            .and_then(|g| g.props())
            .map(|p| p.architecture.name().to_string())
            .unwrap_or_else(|_| "unreadable".into()),
        size: meta.as_ref().map_or(0, |m| m.len()),
        present: meta.is_some(),
        path: Some(path.to_path_buf()),
        custom: true,
    }
}

/// Resolves the model a job asked for: an added GGUF file (by its id, the path; or by its name,
/// as settings written by earlier versions hold it), or a catalog name.
pub fn resolve(state: &AppState, choice: Option<&str>) -> Result<ResolvedModel> {
    if let Some(choice) = choice {
        let custom = state.stored().custom_models;
        let by_path = custom.iter().find(|p| p.as_os_str() == choice);
        let by_name = || custom.iter().find(|p| custom_name(p) == choice && Catalog::builtin().get(choice).is_none());
        if let Some(path) = by_path.or_else(by_name) {
            if !path.is_file() {
                return Err(AppError::new(
                    "model_missing",
                    format!("the model file {} is gone; add it again or choose another model", path.display()),
                ));
            }
            return Ok(ResolvedModel { name: custom_name(path), path: path.clone() });
        }
    }
    Ok(Catalog::builtin().resolve_generator(choice, &state.models_dir)?)
}

/// The catalog's sentence embedder, when it is downloaded; without it sentences are ranked
/// lexically.
pub fn embedder(state: &AppState) -> Option<PathBuf> {
    Catalog::builtin().embedder_in(&state.models_dir)
}

/// The catalog with what is downloaded (checking a model's sha256 the first time it is seen), and
/// the added files.
#[tauri::command]
pub async fn list_models(state: State<'_, AppState>) -> Result<ModelsView> {
    let (models_dir, custom) = (state.models_dir.clone(), state.stored().custom_models);
    blocking(move || {
        let catalog = Catalog::builtin();
        let mut models: Vec<ModelView> = catalog
            .models
            .iter()
            .map(|m| {
                let present = m.is_present(&models_dir);
                ModelView {
                    id: m.name.clone(),
                    name: m.name.clone(),
                    description: m.description.clone(),
                    role: m.role,
                    architecture: m.architecture.clone(),
                    size: m.size(),
                    present,
                    path: present.then(|| m.location(&models_dir)),
                    custom: false,
                }
            })
            .collect();
        models.extend(custom.iter().map(|p| custom_view(p)));
        Ok(ModelsView { models_dir, default_model: catalog.default_generator.clone(), models })
    })
    .await
}

#[tauri::command]
pub async fn fetch_model(state: State<'_, AppState>, name: String, on_progress: Channel<FetchProgress>) -> Result<()> {
    let entry = Catalog::builtin().entry(&name)?.clone();
    let cancel = CancelToken::new();
    {
        let mut fetching = lock(&state.fetching);
        if fetching.contains_key(&name) {
            return Err(AppError::new("busy", format!("{name} is already being fetched")));
        }
        fetching.insert(name.clone(), cancel.clone());
    }
    let models_dir = state.models_dir.clone();
    let result = tauri::async_runtime::spawn_blocking(move || {
        // Byte updates are thinned to about one per half percent.
        let mut last_step = u64::MAX;
        fetch::fetch_cancellable(
            &entry,
            &models_dir,
            &PipOptions::default(),
            &mut |p| {
                if let FetchProgress::Bytes { done, total } = p {
                    let step = done * 200 / total.max(1);
                    if step == last_step && done != total {
                        return;
                    }
                    last_step = step;
                }
                let _ = on_progress.send(p);
            },
            &cancel,
        )
    })
    .await;
    lock(&state.fetching).remove(&name);
    match result {
        Ok(r) => r.map(|_| ()).map_err(AppError::from),
        Err(e) => Err(AppError::internal(format!("the fetch stopped unexpectedly: {e}"))),
    }
}

/// Stops a running fetch of `name`; the partial download is removed. Stopping one that is not
/// running does nothing.
#[tauri::command]
pub fn cancel_fetch(state: State<'_, AppState>, name: String) {
    if let Some(cancel) = lock(&state.fetching).get(&name) {
        cancel.cancel();
    }
}

/// Adds a GGUF file the person dropped or picked, once its header and tokenizer check out.
#[tauri::command]
pub async fn add_model(state: State<'_, AppState>, path: PathBuf) -> Result<ModelView> {
    let path = state.readable(&path)?;
    let checked = path.clone();
    blocking(move || Ok(precis::llm::generator::inspect(&checked).map(|_| ())?)).await?;
    state.update(|s| {
        if !s.custom_models.contains(&path) {
            s.custom_models.push(path.clone());
        }
    })?;
    let view = path.clone();
    blocking(move || Ok(custom_view(&view))).await
}
