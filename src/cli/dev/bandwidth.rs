//! The machine's read bandwidth, as `precis bench` compares a decode step with it: threads
//! stream through their own parts of a buffer several times larger than the last-level cache
//! (so every pass comes from memory), summing its words, and the fastest of a few passes
//! counts. A decode step reads each weight once, in order, the same way, so this is the most
//! it could read a second. The buffer asks for huge pages, as the weights' memory does
//! (`precis_llm::huge_page_buffer`): with 4 KB pages the test would read slower than the
//! weights can be read, and overstate the share a decode step reaches.

use std::sync::Barrier;
use std::time::{Duration, Instant};

/// The buffer is this many times the last-level cache…
const CACHE_MULTIPLE: usize = 4;
/// …and at least this large (a cache may be reported smaller than it is, or not at all),
const MIN_BYTES: usize = 1 << 30;
/// …and at most this large, or half of the memory available, whichever is less.
const MAX_BYTES: usize = 4 << 30;
/// Passes over the buffer; the fastest counts.
const PASSES: usize = 4;

/// What the test measured.
pub struct Bandwidth {
    /// Bytes read a second by all threads together, in the fastest pass.
    pub bytes_per_second: f64,
    /// The buffer's size.
    pub buffer_bytes: usize,
    /// The last-level cache's size, as the system reports it (Linux).
    pub last_level_cache: Option<usize>,
    pub threads: usize,
    /// How much of the buffer the system put in huge pages (Linux; `None` elsewhere).
    pub huge_page_bytes: Option<usize>,
}

/// A buffer several times the last-level cache, split among `threads` threads, ready to be
/// read: one pass (`pass`) is about as much memory as a decode step of the default model reads.
pub struct Stream {
    buffer: memmap2::MmapMut,
    words: usize,
    threads: usize,
    last_level_cache: Option<usize>,
    huge_page_bytes: Option<usize>,
}

impl Stream {
    /// Maps and writes the buffer.
    pub fn new(threads: usize) -> Stream {
        let threads = threads.max(1);
        let last_level_cache = last_level_cache();
        let mut bytes = last_level_cache.map_or(MIN_BYTES, |c| c * CACHE_MULTIPLE).clamp(MIN_BYTES, MAX_BYTES);
        if let Some(available) = available_memory() {
            bytes = bytes.min(available / 2);
        }
        let words = bytes / 8 / threads / 8 * 8 * threads;
        let before = huge_pages_in_use();
        let mut buffer = precis_llm::huge_page_buffer(words * 8).expect("memory for the bandwidth test");
        // SAFETY: the map is page-aligned, `words * 8` bytes long, and any bytes are a valid u64.
        let all: &mut [u64] = unsafe { std::slice::from_raw_parts_mut(buffer.as_mut_ptr().cast(), words) };
        // Written with something other than zeros, so every page is really there (a page never
        // written reads from the one shared page of zeros, from cache).
        for (i, w) in all.iter_mut().enumerate() {
            *w = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
        let huge_page_bytes = before.and_then(|b| Some(huge_pages_in_use()?.saturating_sub(b)));
        Stream { buffer, words, threads, last_level_cache, huge_page_bytes }
    }

    /// The buffer's size in bytes.
    pub fn bytes(&self) -> usize {
        self.words * 8
    }

    /// Reads the whole buffer once, each thread its part, and returns the time from the first
    /// thread's start to the last one's end.
    pub fn pass(&self) -> Duration {
        // SAFETY: as in `new`; the buffer is only read here.
        let all: &[u64] = unsafe { std::slice::from_raw_parts(self.buffer.as_ptr().cast(), self.words) };
        let parts: Vec<&[u64]> = all.chunks(self.words / self.threads).collect();
        let start = Barrier::new(parts.len());
        let times: Vec<(Instant, Instant, u64)> = std::thread::scope(|scope| {
            let handles: Vec<_> = parts
                .iter()
                .map(|part| {
                    let start = &start;
                    scope.spawn(move || {
                        start.wait();
                        let began = Instant::now();
                        let sum = sum(part);
                        (began, Instant::now(), sum)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("a bandwidth thread panicked")).collect()
        });
        let began = times.iter().map(|t| t.0).min().expect("at least one thread");
        let ended = times.iter().map(|t| t.1).max().expect("at least one thread");
        // The sums are used, so the reads cannot be left out.
        std::hint::black_box(times.iter().fold(0u64, |a, t| a.wrapping_add(t.2)));
        ended - began
    }

    /// The fastest of `PASSES` passes.
    pub fn measure(&self) -> Bandwidth {
        let best = (0..PASSES).map(|_| self.pass()).min().expect("at least one pass");
        Bandwidth {
            bytes_per_second: self.bytes() as f64 / best.as_secs_f64().max(1e-9),
            buffer_bytes: self.bytes(),
            last_level_cache: self.last_level_cache,
            threads: self.threads,
            huge_page_bytes: self.huge_page_bytes,
        }
    }
}

/// Bytes of this process's memory in huge pages: anonymous, and mapped from files (Linux's
/// `AnonHugePages` and `FilePmdMapped`; `None` elsewhere).
pub fn huge_pages_in_use() -> Option<usize> {
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").ok()?;
    let kb = |key: &str| -> Option<usize> {
        rollup.lines().find(|l| l.starts_with(key))?.split_whitespace().nth(1)?.parse().ok()
    };
    Some((kb("AnonHugePages:")? + kb("FilePmdMapped:").unwrap_or(0)) << 10)
}

/// The words' sum, in eight independent lanes (which the compiler keeps in vector registers).
/// One run a thread: on the Zen 4 this was checked on, two runs a few MB apart (as the decode's
/// kernels read) read no faster (61.3 against 60.6 GB/s when the host's memory was plentiful,
/// 35.1 against 35.1 when scarce; docs/performance.md).
fn sum(words: &[u64]) -> u64 {
    let mut lanes = [0u64; 8];
    for chunk in words.chunks_exact(8) {
        for (l, w) in lanes.iter_mut().zip(chunk) {
            *l = l.wrapping_add(*w);
        }
    }
    lanes.iter().fold(0, |a, l| a.wrapping_add(*l))
}

/// The largest data cache's size (Linux sysfs, CPU 0).
fn last_level_cache() -> Option<usize> {
    let mut largest = None;
    for index in 0..8 {
        let dir = format!("/sys/devices/system/cpu/cpu0/cache/index{index}");
        let Ok(kind) = std::fs::read_to_string(format!("{dir}/type")) else { break };
        if kind.trim() == "Instruction" {
            continue;
        }
        let size = std::fs::read_to_string(format!("{dir}/size")).ok().and_then(|s| parse_size(s.trim()));
        largest = largest.max(size);
    }
    largest
}

/// "491520K", "2048K", "32M" as bytes.
fn parse_size(s: &str) -> Option<usize> {
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: usize = number.parse().ok()?;
    Some(match unit {
        "" => n,
        "K" => n << 10,
        "M" => n << 20,
        "G" => n << 30,
        _ => return None,
    })
}

/// `MemAvailable` from `/proc/meminfo`, in bytes.
fn available_memory() -> Option<usize> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb << 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_sizes_parse() {
        assert_eq!(parse_size("491520K"), Some(491520 << 10));
        assert_eq!(parse_size("32M"), Some(32 << 20));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("big"), None);
    }

    #[test]
    fn the_sum_counts_every_word() {
        for n in [0u64, 8, 16, 1000] {
            let words: Vec<u64> = (1..=n).collect();
            assert_eq!(sum(&words), n * (n + 1) / 2, "{n} words");
        }
    }
}
