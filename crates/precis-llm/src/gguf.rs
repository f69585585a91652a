//! A small typed view over a GGUF file's header: opens the file, checks it is whole, and reads
//! the metadata Precis needs (architecture, context length, special tokens, chat template) into
//! plain fields, with errors that name the missing key or the supported architectures.
//!
//! The file is untrusted. Before candle reads the header, `check_header` walks it with checked
//! arithmetic and llama.cpp's rules: every length and count within the file, arrays nested at
//! most a few deep, an alignment that is a power of two, at most four dimensions whose product
//! (and size in bytes) fits, a known block type that divides the element count, and every
//! tensor's data inside the file. A file that breaks one is a damaged model
//! (`Error::ModelCorrupt`), never a panic or a wrapped offset inside candle.

use std::fs::File;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::quantized::GgmlDType;

use crate::error::{Error, Result};

/// The generator architectures this build can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    Llama,
    Qwen2,
    Qwen3,
    Gemma3,
}

impl Architecture {
    /// The list shown when a file names another architecture.
    pub const SUPPORTED: &'static str = "llama, qwen2, qwen3, gemma3";

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "llama" => Some(Self::Llama),
            "qwen2" => Some(Self::Qwen2),
            "qwen3" => Some(Self::Qwen3),
            "gemma3" => Some(Self::Gemma3),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Llama => "llama",
            Self::Qwen2 => "qwen2",
            Self::Qwen3 => "qwen3",
            Self::Gemma3 => "gemma3",
        }
    }
}

/// An opened GGUF file: its parsed header and where it lives.
#[derive(Debug)]
pub struct GgufFile {
    pub path: PathBuf,
    pub content: Content,
    pub file_size: u64,
}

impl GgufFile {
    /// Reads the header and checks that every tensor's data lies inside the file, so a
    /// truncated download is reported here rather than as a read error halfway through loading.
    pub fn open(path: &Path) -> Result<GgufFile> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let file_size = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let corrupt = |reason: String| Error::ModelCorrupt { path: path.to_path_buf(), reason };
        if file_size < 8 {
            return Err(corrupt(format!("the file is only {file_size} bytes")));
        }
        // Read from a map rather than through a `BufReader`: candle asks for the stream position
        // around every string it reads, and a `BufReader` answers that with a system call each
        // time (300,000 of them for a 151,000-token vocabulary with as many merges).
        // SAFETY: the file is opened read-only and the map is private; Precis does not write
        // model files while it reads them (a fetch writes a new file and renames it).
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        let mut reader = std::io::Cursor::new(&map[..]);
        check_header(&mut reader, file_size).map_err(|e| match e {
            HeaderProblem::Truncated(why) => corrupt(why),
            HeaderProblem::Unreadable(why) => corrupt(format!("not a readable GGUF file ({why})")),
        })?;
        reader.rewind().map_err(|e| Error::io(path, e))?;
        let content = Content::read(&mut reader).map_err(|e| corrupt(format!("not a readable GGUF file ({e})")))?;
        Ok(GgufFile { path: path.to_path_buf(), content, file_size })
    }

    /// A metadata value, or an error naming the key.
    pub fn get(&self, key: &str) -> Result<&Value> {
        self.content.metadata.get(key).ok_or_else(|| Error::MissingMetadata {
            path: self.path.clone(),
            key: key.to_string(),
            what: "model",
        })
    }

    pub fn get_opt(&self, key: &str) -> Option<&Value> {
        self.content.metadata.get(key)
    }

    pub fn string(&self, key: &str) -> Result<&str> {
        let v = self.get(key)?;
        v.to_string().map(|s| s.as_str()).map_err(|_| self.wrong_type(key, "a string"))
    }

    pub fn u32(&self, key: &str) -> Result<u32> {
        let v = self.get(key)?;
        value_u32(v).ok_or_else(|| self.wrong_type(key, "an integer"))
    }

    pub fn u32_opt(&self, key: &str) -> Option<u32> {
        self.get_opt(key).and_then(value_u32)
    }

    pub fn bool_opt(&self, key: &str) -> Option<bool> {
        self.get_opt(key).and_then(|v| v.to_bool().ok())
    }

    /// A string array, such as the token list.
    pub fn strings(&self, key: &str) -> Result<Vec<&str>> {
        let arr = self.get(key)?.to_vec().map_err(|_| self.wrong_type(key, "an array"))?;
        arr.iter()
            .map(|v| v.to_string().map(|s| s.as_str()).map_err(|_| self.wrong_type(key, "an array of strings")))
            .collect()
    }

    /// A numeric array, such as token types or scores.
    pub fn numbers(&self, key: &str) -> Result<Vec<f64>> {
        let arr = self.get(key)?.to_vec().map_err(|_| self.wrong_type(key, "an array"))?;
        arr.iter().map(|v| value_f64(v).ok_or_else(|| self.wrong_type(key, "an array of numbers"))).collect()
    }

    fn wrong_type(&self, key: &str, expected: &str) -> Error {
        Error::ModelCorrupt { path: self.path.clone(), reason: format!("metadata `{key}` is not {expected}") }
    }

    /// The typed properties of a generator model.
    pub fn props(&self) -> Result<ModelProps> {
        let arch_name = self.string("general.architecture")?;
        let architecture = Architecture::from_name(arch_name).ok_or_else(|| Error::UnsupportedArchitecture {
            path: self.path.clone(),
            architecture: arch_name.to_string(),
            supported: Architecture::SUPPORTED,
        })?;
        let context_length = self.u32(&format!("{arch_name}.context_length"))? as usize;
        Ok(ModelProps {
            architecture,
            name: self.get_opt("general.name").and_then(|v| v.to_string().ok()).cloned(),
            context_length,
            chat_template: self.get_opt("tokenizer.chat_template").and_then(|v| v.to_string().ok()).cloned(),
        })
    }
}

/// Deepest nesting of arrays in a metadata value (real files use none; llama.cpp reads none).
const MAX_ARRAY_DEPTH: usize = 4;
/// Most dimensions of a tensor (ggml's `GGML_MAX_DIMS`).
const MAX_DIMS: u32 = 4;

/// What is wrong with a GGUF header, in words for the person who chose the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderProblem {
    /// The header is whole, but a tensor's data runs past the end of the file.
    Truncated(String),
    /// The header itself cannot be read, or holds impossible values.
    Unreadable(String),
}

/// Walks a GGUF header from the start of `reader` (a file of `file_size` bytes) without keeping
/// it, and says what is wrong with it, if anything.
pub fn check_header(reader: &mut impl Read, file_size: u64) -> std::result::Result<(), HeaderProblem> {
    walk_header(reader, file_size)?.map_err(HeaderProblem::Truncated)
}

/// The header's problem (`Err`), or whether its tensors' data lies inside the file (`Ok`).
fn walk_header(
    reader: &mut impl Read,
    file_size: u64,
) -> std::result::Result<std::result::Result<(), String>, HeaderProblem> {
    walk(reader, file_size).map_err(HeaderProblem::Unreadable)
}

fn walk(reader: &mut impl Read, file_size: u64) -> std::result::Result<std::result::Result<(), String>, String> {
    let mut h = Header { reader, at: 0, size: file_size, v1: false };
    let mut magic = [0u8; 4];
    h.bytes(&mut magic)?;
    if &magic != b"GGUF" {
        return Err("it is not a GGUF file (it does not start with `GGUF`)".into());
    }
    let version = h.u32()?;
    if !(1..=3).contains(&version) {
        return Err(format!("its GGUF version {version} is not one Precis reads (1 to 3)"));
    }
    h.v1 = version == 1;
    let tensors = h.length()?;
    let entries = h.length()?;
    // Each tensor takes at least 24 bytes of header and each entry 12; more than fit is a lie.
    let room = h.size.saturating_sub(h.at);
    if tensors.checked_mul(24).is_none_or(|b| b > room) || entries.checked_mul(12).is_none_or(|b| b > room) {
        return Err(format!(
            "its header claims {tensors} tensors and {entries} metadata entries, more than the file holds"
        ));
    }
    let mut alignment = candle_core::quantized::gguf_file::DEFAULT_ALIGNMENT;
    for _ in 0..entries {
        let key = h.string()?;
        let kind = h.u32()?;
        if key == b"general.alignment" && matches!(kind, 0..=5) {
            let value = h.integer(kind)?;
            if value <= 0 || value & (value - 1) != 0 {
                return Err(format!("its alignment ({value}) is not a power of two"));
            }
            alignment = value as u64;
        } else {
            h.skip_value(kind, 0)?;
        }
    }
    let mut ends: Vec<(String, u64, u64)> = Vec::new();
    for _ in 0..tensors {
        let name = String::from_utf8_lossy(&h.string()?).into_owned();
        let dims = h.u32()?;
        if dims > MAX_DIMS {
            return Err(format!("tensor `{name}` has {dims} dimensions (at most {MAX_DIMS})"));
        }
        let mut elements: u64 = 1;
        for _ in 0..dims {
            let dim = if h.v1 { u64::from(h.u32()?) } else { h.u64()? };
            elements = elements
                .checked_mul(dim)
                .filter(|&e| usize::try_from(e).is_ok())
                .ok_or_else(|| format!("tensor `{name}` has more elements than can be counted"))?;
        }
        let kind = h.u32()?;
        let dtype = dtype_of(kind).ok_or_else(|| format!("tensor `{name}` has an unknown type ({kind})"))?;
        let (block, size) = (dtype.block_size() as u64, dtype.type_size() as u64);
        if !elements.is_multiple_of(block) {
            return Err(format!(
                "tensor `{name}` has {elements} elements, not a whole number of {block}-element blocks"
            ));
        }
        let bytes = (elements / block)
            .checked_mul(size)
            .ok_or_else(|| format!("tensor `{name}` is larger than can be counted"))?;
        let offset = h.u64()?;
        ends.push((name, offset, bytes));
    }
    let data = h.at.div_ceil(alignment).checked_mul(alignment).ok_or("its tensor data starts past any file size")?;
    for (name, offset, bytes) in ends {
        let end = data.checked_add(offset).and_then(|start| start.checked_add(bytes));
        match end {
            Some(end) if end <= file_size => {}
            Some(end) => {
                return Ok(Err(format!(
                    "it is truncated: tensor `{name}` ends at byte {end} but the file has {file_size} bytes"
                )))
            }
            None => return Err(format!("tensor `{name}` lies past any file size (offset {offset})")),
        }
    }
    Ok(Ok(()))
}

/// The block type GGUF numbers `kind` (the numbering candle reads).
fn dtype_of(kind: u32) -> Option<GgmlDType> {
    Some(match kind {
        0 => GgmlDType::F32,
        1 => GgmlDType::F16,
        2 => GgmlDType::Q4_0,
        3 => GgmlDType::Q4_1,
        6 => GgmlDType::Q5_0,
        7 => GgmlDType::Q5_1,
        8 => GgmlDType::Q8_0,
        9 => GgmlDType::Q8_1,
        10 => GgmlDType::Q2K,
        11 => GgmlDType::Q3K,
        12 => GgmlDType::Q4K,
        13 => GgmlDType::Q5K,
        14 => GgmlDType::Q6K,
        15 => GgmlDType::Q8K,
        30 => GgmlDType::BF16,
        _ => return None,
    })
}

/// A GGUF header being walked: where the reader is, and how big the file is.
struct Header<'a, R> {
    reader: &'a mut R,
    at: u64,
    size: u64,
    /// Version 1 files have 32-bit lengths and counts.
    v1: bool,
}

impl<R: Read> Header<'_, R> {
    fn bytes(&mut self, out: &mut [u8]) -> std::result::Result<(), String> {
        self.reader.read_exact(out).map_err(|_| format!("it ends inside its header, at byte {}", self.at))?;
        self.at += out.len() as u64;
        Ok(())
    }

    fn u32(&mut self) -> std::result::Result<u32, String> {
        let mut b = [0u8; 4];
        self.bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self) -> std::result::Result<u64, String> {
        let mut b = [0u8; 8];
        self.bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn length(&mut self) -> std::result::Result<u64, String> {
        if self.v1 {
            self.u32().map(u64::from)
        } else {
            self.u64()
        }
    }

    /// Skips `n` bytes, which must lie inside the file.
    fn skip(&mut self, n: u64) -> std::result::Result<(), String> {
        if n > self.size.saturating_sub(self.at) {
            return Err(format!("a value at byte {} runs past the end of the file", self.at));
        }
        let copied =
            std::io::copy(&mut self.reader.by_ref().take(n), &mut std::io::sink()).map_err(|e| e.to_string())?;
        if copied != n {
            return Err(format!("it ends inside its header, at byte {}", self.at + copied));
        }
        self.at += n;
        Ok(())
    }

    fn string(&mut self) -> std::result::Result<Vec<u8>, String> {
        let len = self.length()?;
        if len > self.size.saturating_sub(self.at) {
            return Err(format!("a string at byte {} runs past the end of the file", self.at));
        }
        let mut out = vec![0u8; len as usize];
        self.bytes(&mut out)?;
        Ok(out)
    }

    /// An integer value of type `kind` (0 to 5: u8, i8, u16, i16, u32, i32).
    fn integer(&mut self, kind: u32) -> std::result::Result<i64, String> {
        let mut b = [0u8; 4];
        let width = [1, 1, 2, 2, 4, 4][kind as usize];
        self.bytes(&mut b[..width])?;
        Ok(match kind {
            0 => i64::from(b[0]),
            1 => i64::from(b[0] as i8),
            2 => i64::from(u16::from_le_bytes([b[0], b[1]])),
            3 => i64::from(i16::from_le_bytes([b[0], b[1]])),
            4 => i64::from(u32::from_le_bytes(b)),
            _ => i64::from(i32::from_le_bytes(b)),
        })
    }

    /// Skips one metadata value of type `kind`, inside arrays nested `depth` deep.
    fn skip_value(&mut self, kind: u32, depth: usize) -> std::result::Result<(), String> {
        match kind {
            0 | 1 | 7 => self.skip(1),
            2 | 3 => self.skip(2),
            4..=6 => self.skip(4),
            10..=12 => self.skip(8),
            8 => self.string().map(drop),
            9 => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(format!("its metadata nests arrays over {MAX_ARRAY_DEPTH} deep"));
                }
                let inner = self.u32()?;
                let count = self.length()?;
                let fixed = match inner {
                    0 | 1 | 7 => Some(1u64),
                    2 | 3 => Some(2),
                    4..=6 => Some(4),
                    10..=12 => Some(8),
                    8 | 9 => None,
                    other => return Err(format!("its metadata has a value of unknown type {other}")),
                };
                match fixed {
                    Some(width) => self.skip(count.saturating_mul(width)),
                    None => {
                        // Each string or array takes at least 8 bytes.
                        if count.checked_mul(8).is_none_or(|b| b > self.size.saturating_sub(self.at)) {
                            return Err(format!("an array at byte {} claims more items than the file holds", self.at));
                        }
                        (0..count).try_for_each(|_| self.skip_value(inner, depth + 1))
                    }
                }
            }
            other => Err(format!("its metadata has a value of unknown type {other}")),
        }
    }
}

fn value_u32(v: &Value) -> Option<u32> {
    match v {
        Value::U8(x) => Some(*x as u32),
        Value::U16(x) => Some(*x as u32),
        Value::U32(x) => Some(*x),
        Value::U64(x) => u32::try_from(*x).ok(),
        Value::I8(x) => u32::try_from(*x).ok(),
        Value::I16(x) => u32::try_from(*x).ok(),
        Value::I32(x) => u32::try_from(*x).ok(),
        Value::I64(x) => u32::try_from(*x).ok(),
        _ => None,
    }
}

fn value_f64(v: &Value) -> Option<f64> {
    match v {
        Value::F32(x) => Some(*x as f64),
        Value::F64(x) => Some(*x),
        other => value_u32(other).map(f64::from).or(match other {
            Value::I32(x) => Some(*x as f64),
            Value::I64(x) => Some(*x as f64),
            _ => None,
        }),
    }
}

/// What Precis needs to know about a generator, read from its metadata.
#[derive(Debug, Clone)]
pub struct ModelProps {
    pub architecture: Architecture,
    /// `general.name`, when the file has one.
    pub name: Option<String>,
    pub context_length: usize,
    pub chat_template: Option<String>,
}
