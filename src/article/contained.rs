//! The PDF reader run where a budget can be enforced. lopdf and pdf-extract offer no memory
//! budget, and `pdf` measures every stream it can before they inflate one, but an encrypted
//! object stream is decrypted and inflated by lopdf while loading, before anything can measure
//! it; running out of memory is not a panic that `catch_unwind` could catch. So, as browsers do
//! with untrusted content, the executable that reads a PDF starts a copy of itself as a worker
//! (`precis` and `precis-app` both call `serve_if_worker` first thing in `main`), which limits
//! its own address space and processor time before it reads a byte of the file, reads the PDF,
//! answers in JSON on its standard output and exits. Whatever the file holds, the worker ends
//! within its limits (1.5 GB, 35 s of processor time) and the caller gets an answer or one clear
//! message ("damaged", or "too large or too complex"); what the worker writes on its error stream
//! (a page it could not read, the allocator's last words) goes to the debug log. A program that
//! does not start as a worker (tests, fuzz targets, other users of the library) reads PDFs in
//! its own process, as does any program whose worker cannot be started.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::pdf::{self, broken};
use crate::error::InputProblem;

/// The argument that starts an executable as a worker.
const WORKER_ARG: &str = "--precis-pdf-worker";
/// The worker's address space, its program included. Measured: a 7 MB PDF of 1,300 pages with
/// 3.8 MB of text peaks at 460 MB, three times less; past this a document is too large or too
/// complex for a desktop app to read (the allocator then fails and the worker stops).
pub const WORKER_MEMORY: u64 = 3 << 29;
/// The worker's address space as the person reads it.
const WORKER_MEMORY_SHOWN: &str = "1.5 GB of memory";
/// The worker's processor time: the reader's own budget (`pdf::READ_BUDGET`, checked between
/// pages) and loading fit inside; this stops a single page that never ends.
pub const WORKER_TIME: Duration = Duration::from_secs(35);
/// The time the caller waits for a worker's answer, longer than `WORKER_TIME`: on a busy machine
/// the worker gets less than a whole core, and only its processor time is its own doing.
const WORKER_WAIT: Duration = Duration::from_secs(60);
/// Most bytes of answer read from a worker: the text (at most 50 MB, up to six times that once
/// escaped as JSON) and the document's properties.
const MAX_ANSWER_BYTES: u64 = 6 * super::MAX_INPUT_BYTES + (1 << 20);

static WORKER_AVAILABLE: AtomicBool = AtomicBool::new(false);

/// Serves as a worker and exits when this process was started as one; otherwise records that
/// PDFs may be read in a worker started from this executable. Called first in `main`, before any
/// thread starts.
pub fn serve_if_worker() {
    if std::env::args_os().nth(1).is_some_and(|a| a == WORKER_ARG) {
        std::process::exit(serve());
    }
    WORKER_AVAILABLE.store(true, Ordering::Relaxed);
}

/// What a worker answers.
#[derive(Serialize, Deserialize)]
enum Answer {
    Read {
        title: Option<String>,
        byline: Option<String>,
        published: Option<String>,
        text: String,
        skipped_pages: usize,
        total_pages: usize,
    },
    /// The text came to this many bytes, over `MAX_INPUT_BYTES`: not sent.
    TooMuchText(u64),
    /// The document has this many pages, over `pdf::MAX_PAGES`.
    TooManyPages(usize),
    /// Reading it would take more than this (`InputProblem::TooDemanding`).
    TooDemanding(String),
    Broken(String),
    NoTextLayer,
    Encrypted,
}

fn serve() -> i32 {
    limit_self();
    // What goes wrong inside (a page the reader panicked on) is logged on the error stream, one
    // line each, which the caller keeps for its own debug log; nothing else of the library logs.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("precis=debug"))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time()
        .try_init();
    let mut bytes = Vec::new();
    if std::io::stdin().take(super::MAX_INPUT_BYTES + 1).read_to_end(&mut bytes).is_err() {
        return 2;
    }
    let answer = match pdf::extract(&bytes) {
        Ok(found) if found.text.len() as u64 > super::MAX_INPUT_BYTES => Answer::TooMuchText(found.text.len() as u64),
        Ok(found) => Answer::Read {
            title: found.title,
            byline: found.byline,
            published: found.published,
            text: found.text,
            skipped_pages: found.skipped_pages,
            total_pages: found.total_pages,
        },
        Err(InputProblem::NoTextLayer) => Answer::NoTextLayer,
        Err(InputProblem::Encrypted) => Answer::Encrypted,
        Err(InputProblem::TooManyPages { pages, .. }) => Answer::TooManyPages(pages),
        Err(InputProblem::TooDemanding { limit, .. }) => Answer::TooDemanding(limit),
        Err(InputProblem::Broken { detail, .. }) => Answer::Broken(detail),
        Err(other) => Answer::Broken(other.to_string()),
    };
    let mut out = std::io::stdout().lock();
    match serde_json::to_writer(&mut out, &answer).and_then(|()| out.flush().map_err(serde_json::Error::io)) {
        Ok(()) => 0,
        Err(_) => 2,
    }
}

/// The worker's limits, set on itself before it reads the file: address space, processor time,
/// no files written, no core dumps.
#[cfg(unix)]
fn limit_self() {
    let limit = |resource, value: u64| {
        let value = value as libc::rlim_t;
        let limit = libc::rlimit { rlim_cur: value, rlim_max: value };
        // SAFETY: setrlimit reads the struct passed by reference and nothing else.
        if unsafe { libc::setrlimit(resource, &limit) } != 0 {
            eprintln!("precis PDF worker: a limit was not set: {}", std::io::Error::last_os_error());
        }
    };
    limit(libc::RLIMIT_AS, WORKER_MEMORY);
    limit(libc::RLIMIT_CPU, WORKER_TIME.as_secs());
    limit(libc::RLIMIT_FSIZE, 0);
    limit(libc::RLIMIT_CORE, 0);
    // A worker whose caller is gone (killed, or stopped waiting) ends too, rather than reading on.
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_PDEATHSIG takes a signal number and changes only this process's settings.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
    }
}

/// Other systems: the worker is still a process of its own, stopped when its time is up. (macOS
/// takes the limits but does not hold a process to `RLIMIT_AS`.)
#[cfg(not(unix))]
fn limit_self() {}

/// A PDF's properties and text, read in a worker when this program can start one, else here.
pub fn read_pdf(bytes: &[u8]) -> Result<pdf::Extracted, InputProblem> {
    if !WORKER_AVAILABLE.load(Ordering::Relaxed) {
        return pdf::extract(bytes);
    }
    match in_worker(bytes) {
        Ok(answer) => answer,
        Err(e) => {
            tracing::warn!(%e, "no worker for the PDF reader; reading it in this process");
            pdf::extract(bytes)
        }
    }
}

/// Runs the reader in a worker: `Err` only when no worker could be started.
fn in_worker(bytes: &[u8]) -> std::io::Result<Result<pdf::Extracted, InputProblem>> {
    // This very program: on Linux through /proc, which still reaches it after an upgrade has
    // replaced the file on disk.
    let exe = if cfg!(target_os = "linux") { "/proc/self/exe".into() } else { std::env::current_exe()? };
    let mut child = Command::new(exe)
        .arg(WORKER_ARG)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let (Some(mut input), Some(output), Some(errors)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(std::io::Error::other("the worker's pipes were not set up"));
    };
    let start = Instant::now();
    let (status, answer, errors) = std::thread::scope(|scope| {
        // A worker that stops reading (it ran out of memory) closes the pipe: the write fails.
        scope.spawn(move || {
            let _ = input.write_all(bytes);
        });
        let answer = scope.spawn(move || read_bounded(output, MAX_ANSWER_BYTES));
        let errors = scope.spawn(move || read_bounded(errors, 64 * 1024));
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if start.elapsed() < WORKER_WAIT => std::thread::sleep(Duration::from_millis(10)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
            }
        };
        (status, answer.join().unwrap_or_default(), errors.join().unwrap_or_default())
    });
    // The worker's own log (a page it could not read, an allocator's last words): for debugging
    // only, since the answer, or how the worker ended, is what the person is told.
    let errors = String::from_utf8_lossy(&errors);
    if !errors.trim().is_empty() {
        tracing::debug!(%errors, "the PDF worker wrote to its error stream");
    }
    let too_demanding = |limit: String| InputProblem::TooDemanding { format: "PDF", limit };
    let Some(status) = status else {
        return Ok(Err(too_demanding(format!("{} s", WORKER_WAIT.as_secs()))));
    };
    if status.success() {
        if let Ok(answer) = serde_json::from_slice::<Answer>(&answer) {
            return Ok(match answer {
                Answer::Read { title, byline, published, text, skipped_pages, total_pages } => {
                    Ok(pdf::Extracted { title, byline, published, text, skipped_pages, total_pages })
                }
                Answer::TooMuchText(size) => Err(InputProblem::TextTooLarge { size, limit: super::MAX_INPUT_BYTES }),
                Answer::TooManyPages(pages) => Err(InputProblem::TooManyPages { pages, limit: pdf::MAX_PAGES }),
                Answer::TooDemanding(limit) => Err(too_demanding(limit)),
                Answer::Broken(detail) => Err(broken(detail)),
                Answer::NoTextLayer => Err(InputProblem::NoTextLayer),
                Answer::Encrypted => Err(InputProblem::Encrypted),
            });
        }
    }
    tracing::debug!(?status, "the PDF worker stopped without an answer");
    Ok(Err(match stopped_by(&status) {
        _ if errors.contains("memory allocation") => too_demanding(WORKER_MEMORY_SHOWN.into()),
        Stop::CpuLimit => too_demanding(format!("{} s", WORKER_TIME.as_secs())),
        Stop::Killed => broken("the system stopped the PDF reader, which may have run short of memory"),
        Stop::Other => broken("the PDF reader stopped on it"),
    }))
}

/// Up to `limit` bytes from a pipe, what came before an error; the rest is read and dropped, so
/// that the worker never waits on a full pipe.
fn read_bounded(mut pipe: impl Read, limit: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = (&mut pipe).take(limit).read_to_end(&mut out);
    let _ = std::io::copy(&mut pipe, &mut std::io::sink());
    out
}

/// How a worker that gave no answer ended (a worker this process stopped is told apart before).
enum Stop {
    /// Its processor time ran out.
    CpuLimit,
    /// Something else killed it: on Linux, most likely the kernel when memory ran short.
    Killed,
    Other,
}

#[cfg(unix)]
fn stopped_by(status: &std::process::ExitStatus) -> Stop {
    use std::os::unix::process::ExitStatusExt;
    match status.signal() {
        Some(libc::SIGXCPU) => Stop::CpuLimit,
        Some(libc::SIGKILL) => Stop::Killed,
        _ => Stop::Other,
    }
}

#[cfg(not(unix))]
fn stopped_by(_: &std::process::ExitStatus) -> Stop {
    Stop::Other
}
