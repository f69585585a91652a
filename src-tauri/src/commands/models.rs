//! Models: the catalog with what is downloaded, fetching one with progress, and adding a GGUF
//! file from disk.

use std::path::{Path, PathBuf};

use precis::llm::CancelToken;
use precis::store::catalog::{Catalog, ResolvedModel, Role};
use precis::store::fetch::{self, FetchProgress, PipOptions};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::State;

use crate::error::{AppError, Result};
use crate::state::{lock, AppState};

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ModelView {
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

fn custom_view(path: &Path) -> ModelView {
    let meta = std::fs::metadata(path).ok();
    ModelView {
        name: path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string()),
        description: path.display().to_string(),
        role: Role::Generator,
        architecture: precis::llm::generator::inspect(path)
            .map(|p| p.architecture.name().to_string())
            .unwrap_or_else(|_| "unreadable".into()),
        size: meta.as_ref().map_or(0, |m| m.len()),
        present: meta.is_some(),
        path: Some(path.to_path_buf()),
        custom: true,
    }
}

/// Resolves the model a job asked for: an added GGUF file (by path), or a catalog name.
pub fn resolve(state: &AppState, choice: Option<&str>) -> Result<ResolvedModel> {
    if let Some(choice) = choice {
        let custom = state.stored().custom_models;
        if let Some(path) = custom.iter().find(|p| p.as_os_str() == choice) {
            if !path.is_file() {
                return Err(AppError::new(
                    "model_missing",
                    format!("the model file {} is gone; add it again or choose another model", path.display()),
                ));
            }
            return Ok(ResolvedModel { name: custom_view(path).name, path: path.clone() });
        }
    }
    Ok(Catalog::builtin().resolve_generator(choice, &state.models_dir)?)
}

/// The catalog's sentence embedder, when it is downloaded; without it sentences are ranked
/// lexically.
pub fn embedder(state: &AppState) -> Option<PathBuf> {
    Catalog::builtin().embedder_in(&state.models_dir)
}

#[tauri::command]
pub fn list_models(state: State<'_, AppState>) -> ModelsView {
    let catalog = Catalog::builtin();
    let mut models: Vec<ModelView> = catalog
        .models
        .iter()
        .map(|m| ModelView {
            name: m.name.clone(),
            description: m.description.clone(),
            role: m.role,
            architecture: m.architecture.clone(),
            size: m.size(),
            present: m.is_present(&state.models_dir),
            path: m.is_present(&state.models_dir).then(|| m.location(&state.models_dir)),
            custom: false,
        })
        .collect();
    models.extend(state.stored().custom_models.iter().map(|p| custom_view(p)));
    ModelsView { models_dir: state.models_dir.clone(), default_model: catalog.default_generator.clone(), models }
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

#[tauri::command]
pub fn add_model(state: State<'_, AppState>, path: PathBuf) -> Result<ModelView> {
    precis::llm::generator::inspect(&path)?;
    let path = std::fs::canonicalize(&path).unwrap_or(path);
    state.update(|s| {
        if !s.custom_models.contains(&path) {
            s.custom_models.push(path.clone());
        }
    })?;
    Ok(custom_view(&path))
}
