//! Huge pages for a model's tiles, and buffers on huge pages (the KV cache's, `super::cache`).
//! A decode step streams through every weight once, a gigabyte for the default model; with
//! 4 KB pages that is a TLB miss every 4 KB, and under a hypervisor each miss walks two sets
//! of page tables. So the tile cache file is written in whole, aligned
//! 2 MB pieces (which the kernel caches as 2 MB folios on filesystems with large folios: XFS,
//! and ext4 from Linux 6.16) and mapped with the advice to use huge pages, and the page cache
//! then maps it 2 MB at a time, shared by every process that loads the model.

use std::fs::File;
use std::io::{self, Write};

use memmap2::{Mmap, MmapMut};

/// Huge pages are this large (x86-64, and aarch64 with 4 KB base pages).
pub(super) const HUGE_PAGE: usize = 2 << 20;

/// A zeroed, writable buffer of `len` bytes, backed by huge pages where the system grants them
/// (Linux with transparent huge pages on `always` or `madvise`); ordinary pages elsewhere.
pub fn huge_page_buffer(len: usize) -> io::Result<MmapMut> {
    let map = memmap2::MmapOptions::new().len(len).map_anon()?;
    // Advice only: a kernel without transparent huge pages refuses it, and ordinary pages
    // serve the same bytes.
    #[cfg(target_os = "linux")]
    let _ = map.advise(memmap2::Advice::HugePage);
    Ok(map)
}

/// `file`, mapped read-only with the advice to use huge pages and read in at once, so that a
/// prompt does not fault its pages in one by one.
///
/// SAFETY: the caller guarantees that nobody changes the file while the map lives.
pub(super) unsafe fn map_file(file: &File) -> io::Result<Mmap> {
    // SAFETY: as the caller guarantees.
    let map = unsafe { memmap2::MmapOptions::new().map(file)? };
    #[cfg(target_os = "linux")]
    {
        // Advice only, as in `huge_page_buffer`.
        let _ = map.advise(memmap2::Advice::HugePage);
        // Linux 5.14 and later; on older kernels the pages come in as they are first read.
        let _ = map.advise(memmap2::Advice::PopulateRead);
    }
    Ok(map)
}

/// Writes a file from its start in whole, aligned huge pages (the last piece may be shorter),
/// so the page cache can hold it in huge pages; a buffer of one huge page. What is buffered
/// reaches the file only through `into_file`.
#[must_use = "the last piece is written only by `into_file`"]
pub(super) struct HugePageWriter {
    file: File,
    buffer: Vec<u8>,
}

impl HugePageWriter {
    pub(super) fn new(file: File) -> HugePageWriter {
        HugePageWriter { file, buffer: Vec::with_capacity(HUGE_PAGE) }
    }

    /// Writes what is buffered and returns the file.
    pub(super) fn into_file(mut self) -> io::Result<File> {
        self.file.write_all(&self.buffer)?;
        Ok(self.file)
    }
}

impl Write for HugePageWriter {
    /// Takes as much of `bytes` as the buffer holds, after writing the buffer if it is full (so
    /// an error means nothing of `bytes` was taken).
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.buffer.len() == HUGE_PAGE {
            self.file.write_all(&self.buffer)?;
            self.buffer.clear();
        }
        let n = bytes.len().min(HUGE_PAGE - self.buffer.len());
        self.buffer.extend_from_slice(&bytes[..n]);
        Ok(n)
    }

    /// Writes nothing: a piece shorter than a huge page would start a smaller page in the
    /// page cache. `into_file` writes the rest.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek};

    #[test]
    fn a_file_written_in_huge_pages_holds_its_bytes() {
        let bytes: Vec<u8> = (0..5 * HUGE_PAGE + 12345).map(|i| (i * 31 % 251) as u8).collect();
        let mut out = HugePageWriter::new(tempfile::tempfile().unwrap());
        // Pieces of every size, across the huge pages' edges.
        let mut at = 0usize;
        for size in [1, 4095, HUGE_PAGE - 4096, 3 * HUGE_PAGE, 7, usize::MAX].into_iter().cycle() {
            let end = at.saturating_add(size).min(bytes.len());
            out.write_all(&bytes[at..end]).unwrap();
            at = end;
            if at == bytes.len() {
                break;
            }
        }
        let mut file = out.into_file().unwrap();
        let mut back = Vec::new();
        file.rewind().unwrap();
        file.read_to_end(&mut back).unwrap();
        assert!(back == bytes);
        // SAFETY: the file is this test's own.
        let map = unsafe { map_file(&file) }.unwrap();
        assert!(map[..] == bytes[..]);
    }
}
