//! A small typed view over a GGUF file's header: opens the file, checks it is whole, and reads
//! the metadata Precis needs (architecture, context length, special tokens, chat template) into
//! plain fields, with errors that name the missing key or the supported architectures.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{Content, Value};

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
        let mut reader = BufReader::new(file);
        let content = Content::read(&mut reader).map_err(|e| corrupt(format!("not a readable GGUF file ({e})")))?;
        for (name, info) in &content.tensor_infos {
            let bytes = info.shape.elem_count() / info.ggml_dtype.block_size() * info.ggml_dtype.type_size();
            let end = content.tensor_data_offset + info.offset + bytes as u64;
            if end > file_size {
                return Err(corrupt(format!(
                    "it is truncated: tensor `{name}` ends at byte {end} but the file has {file_size} bytes"
                )));
            }
        }
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
