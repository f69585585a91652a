//! Shared helpers: tiny models written on the spot, sample articles, and the `precis` command
//! set up with a private models directory.

use std::path::{Path, PathBuf};

use precis::llm::gguf::Architecture;
use precis::llm::test_models::{write_tiny_gguf, TinySpec};

pub const ARCHITECTURES: [Architecture; 4] =
    [Architecture::Llama, Architecture::Qwen2, Architecture::Qwen3, Architecture::Gemma3];

/// A short news article written for these tests.
pub const ARTICLE: &str = "City Council Approves Night Buses

The Riverton City Council voted 7 to 2 on Tuesday to expand the night bus network, adding twelve new routes and extending service on existing lines until 2 a.m. on weekdays.

The plan, proposed by transit director Maria Okafor, will cost about $4.2 million a year, paid for by higher downtown parking fees and a state grant.

Two council members voted against it, saying ridership in last year's pilot did not justify the cost. The new routes start on March 1.
";

/// Writes a tiny model of `arch` into `dir` and returns its path.
pub fn tiny_model(dir: &Path, arch: Architecture) -> PathBuf {
    tiny_model_with(dir, TinySpec::new(arch))
}

pub fn tiny_model_with(dir: &Path, spec: TinySpec) -> PathBuf {
    let path = dir.join(format!("tiny-{}.gguf", spec.architecture.name()));
    write_tiny_gguf(&path, &spec).expect("write tiny gguf");
    path
}

/// Writes `text` to `name` in `dir`.
pub fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The `precis` command with its own empty models directory, never touching a history.
pub fn precis(models_dir: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("precis").unwrap();
    cmd.env("PRECIS_MODELS_DIR", models_dir)
        .env_remove("PRECIS_LOG")
        .env_remove("PRECIS_HISTORY")
        .env("PRECIS_NO_HISTORY", "1");
    cmd
}

/// Runs `cmd`, which must succeed, and returns what it wrote to standard output.
pub fn stdout_of(cmd: &mut assert_cmd::Command) -> Vec<u8> {
    cmd.assert().success().get_output().stdout.clone()
}

/// The `precis` command remembering its summaries in `history`.
pub fn precis_with_history(models_dir: &Path, history: &Path) -> assert_cmd::Command {
    let mut cmd = precis(models_dir);
    cmd.env_remove("PRECIS_NO_HISTORY").env("PRECIS_HISTORY", history);
    cmd
}

/// The models directory the README commands fetch into (`$PRECIS_MODELS_DIR` or the default).
pub fn real_models_dir() -> PathBuf {
    precis::store::catalog::models_dir()
}

/// A PDF file of these objects (dictionaries, or streams with their dictionaries), numbered from 1
/// (the first is the catalog), with a cross-reference table and `trailer_extra` added to the
/// trailer.
pub fn pdf_file(objects: &[impl AsRef<[u8]>], trailer_extra: &str) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, obj) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(obj.as_ref());
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R {trailer_extra} >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1)
            .as_bytes(),
    );
    out
}
