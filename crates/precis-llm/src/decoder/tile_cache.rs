//! The tile cache: a model's tiled matrices kept in a file after the first load, so that later
//! loads map them instead of building them again. One file per model file, named after what
//! its tiles were built from (the model file's path, size, modification time and inode,
//! Precis's version and the tile layout); written on a low-priority helper thread into a
//! temporary file that is renamed once complete. Files whose model is gone or has changed
//! are removed, and the least recently used past a size budget, each with its model's prompt
//! prefix file (`prefix_file`). A file that does not match, or cannot be read, is ignored and
//! rebuilt.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use candle_core::quantized::GgmlDType;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::kernels::cpu::KernelPath;
use crate::kernels::tiles::Stored;
use crate::kernels::TiledMatrix;

use super::memory::{self, HugePageWriter};
use super::prefix_file::PrefixFile;

/// What a tile cache file starts with, before its format number.
const MAGIC: &[u8; 8] = b"PRECTILE";
/// The file's layout; a file of another format is rebuilt.
const FORMAT: u32 = 2;
/// The longest index read (a model of thousands of matrices needs a few hundred kilobytes).
const MAX_INDEX: usize = 16 << 20;
/// Each matrix's tiles start at a multiple of this, so they can be read in place.
const ALIGN: usize = 64;
/// The tiles start at the first multiple of this after the index.
const PAGE: usize = 4096;
/// The most the cache directory keeps; the least recently used files go first.
const BUDGET_BYTES: u64 = 4 << 30;
/// The extension of a model's prompt prefix file (`prefix_file`), named like its tile file.
const PREFIX_EXTENSION: &str = "prefix";
/// Temporary files older than this are left over from a process that stopped while writing.
const STALE_TEMPORARY: Duration = Duration::from_secs(3600);

/// Where a model's tiles came from at load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileSource {
    /// Built from the model file, with no cache to keep them in (or no tiles at all).
    Built,
    /// Built from the model file and being written to the cache.
    BuiltAndCached,
    /// Mapped from the cache.
    Mapped,
}

impl TileSource {
    pub fn name(self) -> &'static str {
        match self {
            TileSource::Built => "built",
            TileSource::BuiltAndCached => "built, cached",
            TileSource::Mapped => "mapped from cache",
        }
    }
}

/// A model's tile cache file, and the matrices it held when the model was loaded.
pub(super) struct TileCache {
    dir: PathBuf,
    file: PathBuf,
    model: PathBuf,
    identity: String,
    found: Option<Found>,
}

struct Found {
    map: Arc<memmap2::Mmap>,
    entries: HashMap<String, Entry>,
}

#[derive(Serialize, Deserialize)]
struct Index {
    identity: String,
    /// The model file the tiles were built from: when it is gone, so is the cache file.
    model: PathBuf,
    entries: Vec<Entry>,
}

/// One matrix in the file: its tensors' names joined with `+`, block type, shape, and where
/// its tiles lie (from the start of the tiles, the first page after the index).
#[derive(Serialize, Deserialize, Clone)]
struct Entry {
    key: String,
    dtype: String,
    rows: usize,
    cols: usize,
    offset: usize,
    len: usize,
}

/// The names of the block types with tiles, as the file writes them.
const DTYPES: [(GgmlDType, &str); 5] = [
    (GgmlDType::Q8_0, "q8_0"),
    (GgmlDType::Q5_0, "q5_0"),
    (GgmlDType::Q4_1, "q4_1"),
    (GgmlDType::Q4K, "q4_k"),
    (GgmlDType::Q6K, "q6_k"),
];

fn dtype_name(dtype: GgmlDType) -> Option<&'static str> {
    DTYPES.iter().find(|(d, _)| *d == dtype).map(|(_, n)| *n)
}

fn dtype_named(name: &str) -> Option<GgmlDType> {
    DTYPES.iter().find(|(_, n)| *n == name).map(|(d, _)| *d)
}

impl TileCache {
    /// The cache in `dir` for the model file at `model`, mapped if a matching file is there.
    /// `None` when the model file's details cannot be read.
    pub(super) fn open(dir: &Path, model: &Path) -> Option<TileCache> {
        let model = fs::canonicalize(model).ok()?;
        let identity = identity(&model)?;
        let hash = Sha256::digest(identity.as_bytes());
        let stem = model.file_stem().and_then(|s| s.to_str()).unwrap_or("model");
        let stem: String = stem.chars().filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c)).take(80).collect();
        let file = dir.join(format!("{stem}-{}.tiles", hex(&hash[..8])));
        let found = match read(&file, &identity) {
            Ok(found) => found,
            Err(why) => {
                tracing::info!(file = %file.display(), %why, "tile cache file ignored; the tiles are built again");
                let _ = fs::remove_file(&file);
                None
            }
        };
        Some(TileCache { dir: dir.to_path_buf(), file, model, identity, found })
    }

    /// The matrix `key` (its tensors' names joined with `+`), of `dtype` and `rows × cols`, if
    /// the file holds it so, multiplied on `kernels`.
    pub(super) fn matrix(
        &self,
        key: &str,
        dtype: GgmlDType,
        shape: (usize, usize),
        kernels: KernelPath,
    ) -> Option<TiledMatrix> {
        let found = self.found.as_ref()?;
        let entry = found.entries.get(key)?;
        if dtype_named(&entry.dtype) != Some(dtype) || (entry.rows, entry.cols) != shape {
            return None;
        }
        TiledMatrix::mapped(dtype, shape, found.map.clone(), entry.offset..entry.offset + entry.len, kernels)
    }

    /// Keeps `matrices`, all the tiled matrices of the model, unless they were all mapped from
    /// the file: written on a helper thread (`finish_writes` waits for it). What the model's
    /// tiles came from.
    pub(super) fn keep(self, matrices: Vec<(String, Arc<TiledMatrix>)>) -> TileSource {
        if matrices.is_empty() {
            return TileSource::Built;
        }
        if matrices.iter().all(|(_, m)| m.is_mapped()) {
            // Used now: the last to go when the directory is over its budget.
            if let Ok(file) = File::options().append(true).open(&self.file) {
                let _ = file.set_modified(SystemTime::now());
            }
            return TileSource::Mapped;
        }
        let spawned = spawn_write("precis-tile-cache", move || {
            if let Err(why) = self.write(&matrices) {
                tracing::warn!(file = %self.file.display(), %why, "could not keep the tiles for the next load");
            }
            evict(&self.dir, &self.file);
        });
        if spawned {
            TileSource::BuiltAndCached
        } else {
            TileSource::Built
        }
    }

    /// The model's prompt prefix file (`prefix_file`), beside its tile cache file, for keys and
    /// values computed on `kernels` by this build of the engine.
    pub(super) fn prefix_file(&self, kernels: KernelPath) -> PrefixFile {
        PrefixFile::new(
            self.file.with_extension(PREFIX_EXTENSION),
            format!("{} kernels {} {ENGINE}", self.identity, kernels.name()),
        )
    }

    /// Writes the file (`write_whole`, synced).
    fn write(&self, matrices: &[(String, Arc<TiledMatrix>)]) -> std::io::Result<()> {
        let mut entries = Vec::with_capacity(matrices.len());
        let mut offset = 0;
        for (key, m) in matrices {
            let (dtype, rows, cols) = m.shape();
            let Some(dtype) = dtype_name(dtype) else { continue };
            let len = m.tile_bytes().len();
            entries.push(Entry { key: key.clone(), dtype: dtype.into(), rows, cols, offset, len });
            offset = (offset + len).next_multiple_of(ALIGN);
        }
        let index = Index { identity: self.identity.clone(), model: self.model.clone(), entries };
        let json = serde_json::to_vec(&index)?;
        let tiles_start = (16 + json.len()).next_multiple_of(PAGE);
        fs::create_dir_all(&self.dir)?;
        write_whole(&self.file, MAGIC, FORMAT, &json, true, |out, mut at| {
            let by_key: HashMap<&str, &TiledMatrix> = matrices.iter().map(|(k, m)| (k.as_str(), &**m)).collect();
            for entry in &index.entries {
                let offset = tiles_start + entry.offset;
                std::io::copy(&mut std::io::repeat(0).take((offset - at) as u64), out)?;
                out.write_all(by_key[entry.key.as_str()].tile_bytes())?;
                at = offset + entry.len;
            }
            Ok(())
        })
    }
}

/// Writes a cache file whole or not at all. A temporary file of its own beside `path` (named
/// after the process and a count, so no two writes share one) gets `magic`, `format`, the
/// length of `header` and `header`, then what `rest` writes (told how many bytes come before);
/// it is synced when `sync`, then renamed to `path`, so the name only ever holds a whole file.
pub(super) fn write_whole(
    path: &Path,
    magic: &[u8; 8],
    format: u32,
    header: &[u8],
    sync: bool,
    rest: impl FnOnce(&mut HugePageWriter, usize) -> std::io::Result<()>,
) -> std::io::Result<()> {
    static WRITES: AtomicUsize = AtomicUsize::new(0);
    let write = WRITES.fetch_add(1, Ordering::Relaxed);
    let temporary = path.with_extension(format!("{}.{write}.tmp", std::process::id()));
    let result = (|| {
        let mut out = HugePageWriter::new(File::create_new(&temporary)?);
        out.write_all(magic)?;
        out.write_all(&format.to_le_bytes())?;
        out.write_all(&(header.len() as u32).to_le_bytes())?;
        out.write_all(header)?;
        rest(&mut out, 16 + header.len())?;
        let file = out.into_file()?;
        if sync {
            file.sync_all()?;
        }
        fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

/// Reads the tile cache file at `file` if it is one for `identity`: `None` if there is none.
fn read(file: &Path, identity: &str) -> Result<Option<Found>, String> {
    let f = match File::open(file) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    // SAFETY: the map is read-only; Precis never writes a tile cache file in place (it
    // writes a new file and renames it), so the mapped bytes do not change.
    let map = unsafe { memory::map_file(&f) }.map_err(|e| e.to_string())?;
    // The index is read through the map, so its pages come into the page cache as the tiles'
    // do, in a huge page (a plain read would bring small ones, `memory::settle`).
    let (index, tiles_start) = read_index(&mut &map[..])?;
    if index.identity != identity {
        return Err("it was built from another model file or version".into());
    }
    let gained = memory::settle(&map, &f);
    if gained > 0 {
        tracing::info!(file = %file.display(), mb = gained >> 20, "tile cache pages read again into huge pages");
    }
    let mut entries = HashMap::with_capacity(index.entries.len());
    for e in index.entries {
        // From here on, offsets count from the start of the file.
        let offset = tiles_start.checked_add(e.offset).filter(|o| o % ALIGN == 0);
        let Some(offset) = offset.filter(|o| o.checked_add(e.len).is_some_and(|end| end <= map.len())) else {
            return Err(format!("matrix `{}` lies outside the file", e.key));
        };
        entries.insert(e.key.clone(), Entry { offset, ..e });
    }
    Ok(Some(Found { map: Arc::new(map), entries }))
}

/// The index at the start of a tile cache file, and where the tiles start.
fn read_index(f: &mut impl Read) -> Result<(Index, usize), String> {
    let json = read_head(f, MAGIC, FORMAT, MAX_INDEX, "a tile cache file")?;
    let index = serde_json::from_slice(&json).map_err(|e| e.to_string())?;
    Ok((index, (16 + json.len()).next_multiple_of(PAGE)))
}

/// The header at the start of a file `write_whole` wrote with `magic` and `format` (what `what`
/// names), at most `max` bytes long; the reader is left where the body starts.
pub(super) fn read_head(
    r: &mut impl Read,
    magic: &[u8; 8],
    format: u32,
    max: usize,
    what: &str,
) -> Result<Vec<u8>, String> {
    let mut head = [0u8; 16];
    r.read_exact(&mut head).map_err(|e| e.to_string())?;
    if &head[..8] != magic || head[8..12] != format.to_le_bytes() {
        return Err(format!("it is not {what} of this format"));
    }
    let len = u32::from_le_bytes([head[12], head[13], head[14], head[15]]) as usize;
    if len > max {
        return Err(format!("its header claims {len} bytes"));
    }
    let mut header = vec![0u8; len];
    r.read_exact(&mut header).map_err(|e| e.to_string())?;
    Ok(header)
}

/// Bytes as lowercase hexadecimal digits.
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The engine's build, by a fingerprint of its source and of the crates it is built with
/// (`build.rs`): keys and values depend on all of its arithmetic, which its version does not pin
/// down while Precis is being developed (a build whose kernels differ would otherwise reuse
/// another's prompt prefix). The window and the command line, built from the same engine, share
/// a prefix. Tiles depend only on their layout (`layout_fingerprint`) and are kept across builds.
pub(super) const ENGINE: &str = concat!("engine ", env!("PRECIS_ENGINE_SOURCE"));

/// What a model file's tiles are built from: the file (path, size, modification time, inode),
/// Precis's version and the tile layout. `None` if the file's details cannot be read.
fn identity(path: &Path) -> Option<String> {
    let meta = fs::metadata(path).ok()?;
    let modified = meta.modified().ok()?.duration_since(SystemTime::UNIX_EPOCH).ok()?;
    #[cfg(unix)]
    let inode = {
        use std::os::unix::fs::MetadataExt;
        format!("{}:{}", meta.dev(), meta.ino())
    };
    #[cfg(not(unix))]
    let inode = String::new();
    Some(format!(
        "precis-llm {} tiles {} model {} bytes {} modified {}.{:09} inode {inode}",
        env!("CARGO_PKG_VERSION"),
        layout_fingerprint(),
        path.display(),
        meta.len(),
        modified.as_secs(),
        modified.subsec_nanos(),
    ))
}

/// A hash of the tiles built from fixed rows of every tiled block type: it changes whenever
/// the way tiles are built does, so no file of an older layout is ever mapped.
fn layout_fingerprint() -> &'static str {
    static FINGERPRINT: OnceLock<String> = OnceLock::new();
    FINGERPRINT.get_or_init(|| {
        let mut hash = Sha256::new();
        for (dtype, name) in DTYPES {
            // Nine rows (a whole group and a padded one) of 256 values, of arbitrary bytes.
            let cols = 256;
            let bytes: Vec<u8> =
                (0..9 * cols / dtype.block_size() * dtype.type_size()).map(|i| (i * 131 + i / 7) as u8).collect();
            hash.update(name.as_bytes());
            let tiled =
                Stored::new(dtype, cols, vec![&bytes]).and_then(|s| TiledMatrix::from_stored(&s, KernelPath::Portable));
            if let Ok(Some(tiled)) = tiled {
                hash.update(tiled.tile_bytes());
            }
        }
        hex(&hash.finalize()[..8])
    })
}

/// Runs `work` on a low-priority helper thread that `finish_writes` waits for; false if no
/// thread could be started.
pub(super) fn spawn_write(name: &str, work: impl FnOnce() + Send + 'static) -> bool {
    let spawned = std::thread::Builder::new().name(name.into()).spawn(move || {
        lower_priority();
        work();
    });
    match spawned {
        Ok(handle) => {
            let mut pending = pending().lock().unwrap_or_else(|e| e.into_inner());
            // A long-running process (the window) writes a prefix per summary.
            pending.retain(|h| !h.is_finished());
            pending.push(handle);
            true
        }
        Err(_) => false,
    }
}

fn pending() -> &'static Mutex<Vec<JoinHandle<()>>> {
    static PENDING: Mutex<Vec<JoinHandle<()>>> = Mutex::new(Vec::new());
    &PENDING
}

/// Waits until every tile cache and prompt prefix file being written is written.
pub fn finish_writes() {
    let handles = std::mem::take(&mut *pending().lock().unwrap_or_else(|e| e.into_inner()));
    for handle in handles {
        let _ = handle.join();
    }
}

/// Runs the calling thread at the lowest priority, so writing the cache gives way to the model.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread (on Linux a priority is a thread's).
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 19);
    }
}

/// Removes leftover temporary files, cache files whose model file is gone or has changed (or
/// that another version of Precis wrote), and the least recently used cache files past the
/// budget; `keep` stays whatever its size.
fn evict(dir: &Path, keep: &Path) {
    let Ok(listing) = fs::read_dir(dir) else { return };
    let now = SystemTime::now();
    let mut files = Vec::new();
    for entry in listing.flatten() {
        let path = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        let modified = meta.modified().unwrap_or(now);
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".tmp") && now.duration_since(modified).unwrap_or_default() > STALE_TEMPORARY {
            let _ = fs::remove_file(&path);
        } else if name.ends_with(".tiles") && path != keep {
            // Built from a model file that is gone or has changed since, or by another version.
            let index = File::open(&path).ok().and_then(|mut f| read_index(&mut f).ok()).map(|(index, _)| index);
            if index.is_some_and(|i| identity(&i.model).is_none_or(|now| now != i.identity)) {
                remove_with_prefix(&path);
            } else {
                files.push((modified, meta.len(), path));
            }
        } else if path.extension().is_some_and(|e| e == PREFIX_EXTENSION) && !path.with_extension("tiles").exists() {
            // A prompt prefix whose model's tiles are gone.
            let _ = fs::remove_file(&path);
        }
    }
    let mut total = fs::metadata(keep).map_or(0, |m| m.len());
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    for (_, len, path) in files {
        total += len;
        if total > BUDGET_BYTES {
            tracing::info!(file = %path.display(), "tile cache over its budget: removed the least recently used");
            remove_with_prefix(&path);
        }
    }
}

/// Removes a tile cache file and its model's prompt prefix file.
fn remove_with_prefix(tiles: &Path) {
    let _ = fs::remove_file(tiles);
    let _ = fs::remove_file(tiles.with_extension(PREFIX_EXTENSION));
}
