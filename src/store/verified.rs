//! Which model files have been checked against their catalog sha256: each check is remembered
//! with the file's size and modification time in `.verified.json` in the models directory, so a
//! model that is present is hashed once (by its fetch, or the first time it is looked at) and
//! again only when the file changes or `precis models verify` asks for it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use super::catalog::ModelFile;
use super::fetch::sha256_file;
use crate::error::{Error, Result};

/// The remembered checks, in the models directory.
const FILE: &str = ".verified.json";

/// What a file looked like when its sha256 was checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Check {
    size: u64,
    modified_ns: u128,
    sha256: String,
}

/// The outcome of looking at one model file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// There is no file, or it has the wrong size.
    Missing,
    /// The file has its catalog size and sha256.
    Verified,
    /// The file has its catalog size but another sha256: damaged or replaced.
    Mismatch { actual: String },
}

/// Looks at `file` in `models_dir`: its size, then its sha256 (from the remembered check when
/// the file has not changed since, else computed now and remembered).
pub fn state(models_dir: &Path, file: &ModelFile) -> State {
    match check(models_dir, file, false) {
        Ok(state) => state,
        Err(err) => {
            tracing::warn!(%err, file = %file.path, "the model file could not be checked");
            State::Missing
        }
    }
}

/// Hashes `file` again whatever was remembered, and remembers the result.
pub fn verify(models_dir: &Path, file: &ModelFile) -> Result<State> {
    check(models_dir, file, true)
}

/// Remembers that `file` (just written and checked by a fetch) has its catalog sha256.
pub fn remember(models_dir: &Path, file: &ModelFile) -> Result<()> {
    let path = models_dir.join(&file.path);
    let Some((size, modified_ns)) = stamp(&path) else { return Ok(()) };
    update(models_dir, &file.path, Check { size, modified_ns, sha256: file.sha256.to_ascii_lowercase() })
}

fn check(models_dir: &Path, file: &ModelFile, again: bool) -> Result<State> {
    let path = models_dir.join(&file.path);
    let Some((size, modified_ns)) = stamp(&path) else { return Ok(State::Missing) };
    if size != file.size {
        return Ok(State::Missing);
    }
    let known = load(models_dir).remove(&file.path);
    let sha256 = match known {
        Some(c) if !again && c.size == size && c.modified_ns == modified_ns => c.sha256,
        _ => {
            tracing::info!(file = %path.display(), "checking the model file's sha256");
            let sha256 = sha256_file(&path)?;
            update(models_dir, &file.path, Check { size, modified_ns, sha256: sha256.clone() })?;
            sha256
        }
    };
    Ok(if sha256.eq_ignore_ascii_case(&file.sha256) { State::Verified } else { State::Mismatch { actual: sha256 } })
}

/// The file's size and modification time, or `None` when it is not a readable regular file.
fn stamp(path: &Path) -> Option<(u64, u128)> {
    let meta = std::fs::metadata(path).ok().filter(|m| m.is_file())?;
    let modified = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?.as_nanos();
    Some((meta.len(), modified))
}

fn record_path(models_dir: &Path) -> PathBuf {
    models_dir.join(FILE)
}

/// The remembered checks; an unreadable or damaged record is an empty one (files are hashed
/// again, nothing is lost).
fn load(models_dir: &Path) -> BTreeMap<String, Check> {
    std::fs::read(record_path(models_dir)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

/// Writes one check into the record, atomically (a temporary file renamed over it).
fn update(models_dir: &Path, name: &str, check: Check) -> Result<()> {
    let mut all = load(models_dir);
    all.insert(name.to_string(), check);
    let path = record_path(models_dir);
    let tmp = tempfile::NamedTempFile::new_in(models_dir).map_err(|e| Error::io(models_dir, e))?;
    serde_json::to_writer_pretty(tmp.as_file(), &all)?;
    tmp.persist(&path).map_err(|e| Error::io(&path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(data: &[u8]) -> ModelFile {
        use sha2::Digest;
        let sha256 = sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect();
        ModelFile { path: "m.gguf".into(), member: None, size: data.len() as u64, sha256 }
    }

    #[test]
    fn a_file_of_the_right_size_must_also_have_the_right_sha256() {
        let dir = tempfile::tempdir().unwrap();
        let spec = file(b"the real weights");
        assert_eq!(state(dir.path(), &spec), State::Missing);
        std::fs::write(dir.path().join("m.gguf"), b"fake weights!!!!").unwrap();
        assert!(matches!(state(dir.path(), &spec), State::Mismatch { .. }));
        std::fs::write(dir.path().join("m.gguf"), b"the real weights").unwrap();
        assert_eq!(state(dir.path(), &spec), State::Verified);
    }

    #[test]
    fn a_check_is_remembered_until_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let spec = file(b"the real weights");
        let path = dir.path().join("m.gguf");
        std::fs::write(&path, b"the real weights").unwrap();
        assert_eq!(state(dir.path(), &spec), State::Verified);
        // The record is what answers now: a wrong sha256 written into it is believed...
        let mut all = load(dir.path());
        all.get_mut("m.gguf").unwrap().sha256 = "00".repeat(32);
        std::fs::write(record_path(dir.path()), serde_json::to_vec(&all).unwrap()).unwrap();
        assert!(matches!(state(dir.path(), &spec), State::Mismatch { .. }));
        // ...until the file is verified again, or changes.
        assert_eq!(verify(dir.path(), &spec).unwrap(), State::Verified);
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(UNIX_EPOCH + std::time::Duration::from_secs(1)).unwrap();
        assert_eq!(state(dir.path(), &spec), State::Verified);
        // A damaged record is no record.
        std::fs::write(record_path(dir.path()), b"{not json").unwrap();
        assert_eq!(state(dir.path(), &spec), State::Verified);
    }
}
