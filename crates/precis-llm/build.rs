//! Build script: a fingerprint of the engine's source and of the crates it is built with (the
//! workspace's lock file), for the prompt prefix file. Keys and values depend on all of the
//! engine's arithmetic, which the version does not pin down while Precis is being developed, so
//! a prefix kept by one build is reused only by a build of the same engine (the window and the
//! command line share it; `decoder::tile_cache::ENGINE`).

use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};

fn main() {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    files.sort();
    let mut hash = DefaultHasher::new();
    for file in &files {
        hash.write(file.to_string_lossy().as_bytes());
        hash.write(&std::fs::read(file).unwrap_or_default());
    }
    let lock = Path::new("../../Cargo.lock");
    hash.write(&std::fs::read(lock).unwrap_or_default());
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed={}", lock.display());
    println!("cargo:rustc-env=PRECIS_ENGINE_SOURCE={:016x}", hash.finish());
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}
