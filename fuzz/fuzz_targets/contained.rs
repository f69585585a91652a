//! What counts as a failure for the intake fuzz targets: a panic that escapes
//! `precis::article::from_bytes`. libfuzzer-sys installs a panic hook that aborts on every panic,
//! even one the engine catches on purpose (the PDF reader runs under `catch_unwind`, so a file it
//! cannot handle becomes a "damaged PDF" error). The hook installed here only records the panic;
//! `read` aborts, printing it, when a panic reaches the fuzz target.

use std::cell::RefCell;

thread_local! {
    static LAST_PANIC: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Replaces libfuzzer-sys's aborting panic hook with one that records the message (and a
/// backtrace when `RUST_BACKTRACE` is set).
pub fn install_hook() {
    std::panic::set_hook(Box::new(|info| {
        let report = format!("{info}\n{}", std::backtrace::Backtrace::capture());
        LAST_PANIC.with(|last| *last.borrow_mut() = report);
    }));
}

/// Reads `data` as an article with this extension; a panic the engine does not contain aborts.
pub fn read(data: &[u8], extension: &str) {
    let outcome = std::panic::catch_unwind(|| precis::article::from_bytes("fuzz", data, Some(extension)));
    if outcome.is_err() {
        LAST_PANIC.with(|last| eprintln!("a panic escaped precis::article::from_bytes: {}", last.borrow()));
        std::process::abort();
    }
}
