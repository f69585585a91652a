//! The prompt prefix kept between processes: the keys and values of the first tokens of the
//! last prompt a model read, in a file beside the model's tile cache file, so that a new
//! process whose prompt opens the same way (every summary prompt starts with the same system
//! message) starts with those positions cached instead of running them again. Written on
//! a low-priority helper thread into a temporary file that is renamed once complete; checked on
//! reading against what it was computed with (the tile cache's identity, the kernel path, the
//! engine's build and the prompt's pass size) and against a hash of its contents, and ignored
//! when anything differs.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::tile_cache;

/// What a prefix file starts with, before its format number.
const MAGIC: &[u8; 8] = b"PRECPFX\0";
/// The file's layout; a file of another format is ignored.
const FORMAT: u32 = 1;
/// The longest header read.
const MAX_HEADER: usize = 1 << 20;
/// The most tokens a file read may hold (`Generator::keep_prefix` keeps 128).
const MAX_TOKENS: usize = 1024;

/// A model's prompt prefix file, and the tokens it was last known to hold.
pub(super) struct PrefixFile {
    path: PathBuf,
    /// The tile cache's identity of the model and the kernel path the keys were computed on.
    identity: String,
    /// The tokens the file holds and the pass size they were run in, once read or written
    /// (`None`: not known yet).
    held: Option<(Vec<u32>, usize)>,
}

/// The tokens a prefix file holds, and their keys and values.
pub(super) struct Kept {
    pub(super) tokens: Vec<u32>,
    /// `per_token` floats for each token, in the order `Decoder::keep_prefix` writes them.
    pub(super) floats: Vec<f32>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    identity: String,
    tokens: Vec<u32>,
    /// Tokens per pass of the prompt they were run in.
    chunk: usize,
    /// Floats per token (every layer's keys and values).
    per_token: usize,
    /// Sha-256 of the floats' bytes, in hex.
    sha256: String,
}

impl PrefixFile {
    pub(super) fn new(path: PathBuf, identity: String) -> PrefixFile {
        PrefixFile { path, identity, held: None }
    }

    /// What the file holds (`per_token` floats a token), if it is a whole file for this model
    /// whose tokens were run in passes of `chunk`.
    pub(super) fn read(&mut self, per_token: usize, chunk: usize) -> Option<Kept> {
        let read = self.read_checked(per_token, chunk);
        if let Err(why) = &read {
            tracing::debug!(file = %self.path.display(), %why, "prompt prefix file not used");
        }
        let kept = read.ok()??;
        self.held = Some((kept.tokens.clone(), chunk));
        Some(kept)
    }

    fn read_checked(&self, per_token: usize, chunk: usize) -> Result<Option<Kept>, String> {
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        let most = 16 + MAX_HEADER + 4 + MAX_TOKENS * per_token * 4;
        let mut file = file.take(most as u64 + 1);
        let json = tile_cache::read_head(&mut file, MAGIC, FORMAT, MAX_HEADER, "a prompt prefix file")?;
        let header: Header = serde_json::from_slice(&json).map_err(|e| e.to_string())?;
        if header.identity != self.identity || header.per_token != per_token || header.chunk != chunk {
            return Err("it was computed by another model file, version, kernel path or pass size".into());
        }
        let mut body = Vec::new();
        file.read_to_end(&mut body).map_err(|e| e.to_string())?;
        if 16 + json.len() + body.len() > most {
            return Err(format!("it is over {most} bytes"));
        }
        // The floats start at the first multiple of four after the header.
        let padding = (16 + json.len()).next_multiple_of(4) - 16 - json.len();
        let data = body.get(padding..).unwrap_or_default();
        if Some(data.len()) != header.tokens.len().checked_mul(per_token * 4)
            || tile_cache::hex(&Sha256::digest(data)) != header.sha256
        {
            return Err("its keys and values are cut short or damaged".into());
        }
        let floats = data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        Ok(Some(Kept { tokens: header.tokens, floats }))
    }

    /// Whether the file already holds exactly `tokens`, run in passes of `chunk`.
    pub(super) fn holds(&self, tokens: &[u32], chunk: usize) -> bool {
        self.held.as_ref().is_some_and(|(held, c)| held == tokens && *c == chunk)
    }

    /// Replaces the file with `tokens` (run in passes of `chunk`) and their keys and values
    /// (`per_token` floats each), on a helper thread (`tile_cache::finish_writes` waits for it).
    pub(super) fn write(&mut self, tokens: Vec<u32>, chunk: usize, floats: Vec<f32>, per_token: usize) {
        self.held = Some((tokens.clone(), chunk));
        let path = self.path.clone();
        let header = Header { identity: self.identity.clone(), tokens, chunk, per_token, sha256: String::new() };
        tile_cache::spawn_write("precis-prefix", move || {
            if let Err(why) = write_file(&path, header, &floats) {
                tracing::debug!(file = %path.display(), %why, "could not keep the prompt prefix");
            }
        });
    }
}

/// Writes the file (`tile_cache::write_whole`; not synced: a file cut short by a crash fails
/// its hash and is ignored).
fn write_file(path: &Path, mut header: Header, floats: &[f32]) -> std::io::Result<()> {
    let data: Vec<u8> = floats.iter().flat_map(|f| f.to_le_bytes()).collect();
    header.sha256 = tile_cache::hex(&Sha256::digest(&data));
    let json = serde_json::to_vec(&header)?;
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    tile_cache::write_whole(path, MAGIC, FORMAT, &json, false, |out, at| {
        out.write_all(&[0u8; 3][..at.next_multiple_of(4) - at])?;
        out.write_all(&data)
    })
}
