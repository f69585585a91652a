//! Huge pages for a model's tiles, and buffers on huge pages (the KV cache's, `super::cache`).
//! A decode step streams through every weight once, a gigabyte for the default model; with
//! 4 KB pages that is a TLB miss every 4 KB, and under a hypervisor each miss walks two sets
//! of page tables. So the tile cache file is written in whole, aligned
//! 2 MB pieces (which the kernel caches as 2 MB folios on filesystems with large folios: XFS,
//! and ext4 from Linux 6.16) and mapped with the advice to use huge pages, and the page cache
//! then maps it 2 MB at a time, shared by every process that loads the model. Pieces the page
//! cache holds in small pages anyway (written while memory was fragmented, or read by a
//! plain `read`) are read again into huge ones when the file is mapped (`settle`).

use std::fs::File;
use std::io::{self, Write};
#[cfg(target_os = "linux")]
use std::ops::Range;

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

/// `file`, mapped read-only with the advice to use huge pages. Its pages come in as they are
/// first read; `settle` reads them all in at once.
///
/// SAFETY: the caller guarantees that nobody changes the file while the map lives.
pub(super) unsafe fn map_file(file: &File) -> io::Result<Mmap> {
    // SAFETY: as the caller guarantees.
    let map = unsafe { memmap2::MmapOptions::new().map(file)? };
    // Advice only, as in `huge_page_buffer`.
    #[cfg(target_os = "linux")]
    let _ = map.advise(memmap2::Advice::HugePage);
    Ok(map)
}

/// Reads all of `map` (a map of the whole of `file`, from `map_file`) in at once, so that a
/// prompt does not fault its pages in one by one, and reads again any whole 2 MB piece of it
/// that the page cache holds in small pages, so that it comes back in a huge one. Tiles half
/// in small pages decoded 8–10% slower than tiles all in huge ones (docs/performance.md).
/// Pieces that another process has mapped stay as they are. The pieces are read again a part
/// at a time, first one piece, then up to `PART` bytes; a part that comes back without a huge
/// page means the system will not give them now (a filesystem without large folios, huge pages
/// turned off, memory too fragmented), and the rest is left as it is, so a load pays for at
/// most one part in vain. What came back in huge pages, in bytes.
pub(super) fn settle(map: &Mmap, file: &File) -> usize {
    /// The most a part read again holds.
    #[cfg(target_os = "linux")]
    const PART: usize = 8 * HUGE_PAGE;
    #[cfg(target_os = "linux")]
    {
        // Linux 5.14 and later; on older kernels the pages come in as they are first read.
        let _ = map.advise(memmap2::Advice::PopulateRead);
        let Some(small) = small_pieces(map) else { return 0 };
        let base = map.as_ptr() as usize;
        let mut gained = 0;
        let mut part = HUGE_PAGE;
        for run in small {
            let mut at = run.start;
            while at < run.end {
                let piece = at..(at + part).min(run.end);
                read_again(map, file, piece.clone());
                let huge = pagemap::huge_ranges(base + piece.start..base + piece.end);
                let now: usize = huge.iter().flatten().map(Range::len).sum();
                if now == 0 {
                    return gained;
                }
                gained += now;
                (at, part) = (piece.end, PART);
            }
        }
        gained
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (map, file);
        0
    }
}

/// Drops `piece` of `map` from this process and from the page cache, and reads it in again.
#[cfg(target_os = "linux")]
fn read_again(map: &Mmap, file: &File, piece: Range<usize>) {
    // SAFETY: the map is shared and read-only, so dropping its pages loses nothing: they are
    // read from the file again when next touched.
    let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, piece.start, piece.len()) };
    // SAFETY: a plain system call on an open file; the range lies within it.
    unsafe {
        libc::posix_fadvise(
            std::os::fd::AsRawFd::as_raw_fd(file),
            piece.start as libc::off_t,
            piece.len() as libc::off_t,
            libc::POSIX_FADV_DONTNEED,
        );
    }
    let _ = map.advise_range(memmap2::Advice::PopulateRead, piece.start, piece.len());
}

/// The whole 2 MB pieces of `map` that are not mapped by huge pages, merged where they meet,
/// as offsets into the map; None when the system cannot say (a kernel before 6.7) or could
/// not map them by huge pages (a map that does not start on a huge page's edge).
#[cfg(target_os = "linux")]
fn small_pieces(map: &Mmap) -> Option<Vec<Range<usize>>> {
    let start = map.as_ptr() as usize;
    if !start.is_multiple_of(HUGE_PAGE) {
        return None;
    }
    let huge = pagemap::huge_ranges(start..start + map.len())?;
    let mut small: Vec<Range<usize>> = Vec::new();
    let mut ranges = huge.iter().peekable();
    for piece in 0..map.len() / HUGE_PAGE {
        let (from, to) = (start + piece * HUGE_PAGE, start + (piece + 1) * HUGE_PAGE);
        while ranges.next_if(|r| r.end <= from).is_some() {}
        if ranges.peek().is_some_and(|r| r.start <= from && r.end >= to) {
            continue;
        }
        let offset = piece * HUGE_PAGE;
        match small.last_mut() {
            Some(last) if last.end == offset => last.end += HUGE_PAGE,
            _ => small.push(offset..offset + HUGE_PAGE),
        }
    }
    Some(small)
}

/// Which pages of this process are mapped by huge pages, through `/proc/self/pagemap`'s
/// `PAGEMAP_SCAN` request (Linux 6.7 and later).
#[cfg(target_os = "linux")]
mod pagemap {
    use std::ops::Range;
    use std::os::fd::AsRawFd;

    /// The request's argument (`struct pm_scan_arg` in `linux/fs.h`).
    #[repr(C)]
    struct ScanArg {
        size: u64,
        flags: u64,
        start: u64,
        end: u64,
        walk_end: u64,
        vec: u64,
        vec_len: u64,
        max_pages: u64,
        category_inverted: u64,
        category_mask: u64,
        category_anyof_mask: u64,
        return_mask: u64,
    }

    /// A run of pages in the same categories (`struct page_region`).
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Region {
        start: u64,
        end: u64,
        categories: u64,
    }

    /// `PAGE_IS_HUGE`: mapped by a transparent huge page (or a hugetlb page).
    const HUGE: u64 = 1 << 6;
    /// `_IOWR('f', 16, struct pm_scan_arg)`.
    const PAGEMAP_SCAN: u64 = (3 << 30) | ((size_of::<ScanArg>() as u64) << 16) | ((b'f' as u64) << 8) | 16;

    /// The address ranges within `range` mapped by huge pages, in order; None when the kernel
    /// cannot say.
    pub(super) fn huge_ranges(range: Range<usize>) -> Option<Vec<Range<usize>>> {
        let pagemap = std::fs::File::open("/proc/self/pagemap").ok()?;
        let mut regions = [Region::default(); 256];
        let mut found = Vec::new();
        let mut at = range.start as u64;
        while at < range.end as u64 {
            let mut arg = ScanArg {
                size: size_of::<ScanArg>() as u64,
                flags: 0,
                start: at,
                end: range.end as u64,
                walk_end: 0,
                vec: regions.as_mut_ptr() as u64,
                vec_len: regions.len() as u64,
                max_pages: 0,
                category_inverted: 0,
                category_mask: HUGE,
                category_anyof_mask: 0,
                return_mask: HUGE,
            };
            // SAFETY: `arg` and the `regions` it points to outlive the call, which writes at
            // most `vec_len` regions and `walk_end`.
            let n = unsafe { libc::ioctl(pagemap.as_raw_fd(), PAGEMAP_SCAN as _, &mut arg) };
            let n = usize::try_from(n).ok()?;
            // Clipped to the range asked about: a region may run on past it.
            let clip = |r: &Region| (r.start as usize).max(range.start)..(r.end as usize).min(range.end);
            found.extend(regions[..n.min(regions.len())].iter().map(clip).filter(|r| !r.is_empty()));
            if arg.walk_end <= at {
                break;
            }
            at = arg.walk_end;
        }
        Some(found)
    }
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

    /// Reads every page of `file` on its own, with read-ahead off: the page cache then holds
    /// it in small pages.
    #[cfg(target_os = "linux")]
    fn read_in_small_pages(file: &File, len: usize) {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::FileExt;
        // SAFETY: plain system calls on an open file.
        unsafe {
            libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
            libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_RANDOM);
        }
        let mut page = [0u8; 4096];
        for at in (0..len).step_by(page.len()) {
            file.read_at(&mut page, at as u64).unwrap();
        }
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn settling_a_map_reads_small_pages_again_into_huge_ones() {
        let bytes: Vec<u8> = (0..6 * HUGE_PAGE + 777).map(|i| (i * 13 % 241) as u8).collect();
        // Beside the build, on the filesystem the cache directory usually shares.
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).or_else(|_| tempfile::tempdir()).unwrap();
        let path = dir.path().join("tiles");
        let mut out = HugePageWriter::new(File::create(&path).unwrap());
        out.write_all(&bytes).unwrap();
        out.into_file().unwrap().sync_all().unwrap();
        let file = File::open(&path).unwrap();
        read_in_small_pages(&file, bytes.len());
        // SAFETY: the file is this test's own.
        let map = unsafe { map_file(&file) }.unwrap();
        let small = |map: &Mmap| small_pieces(map).map(|s| s.iter().map(Range::len).sum::<usize>());
        // Every page mapped, as the page cache holds it, before counting the small ones.
        assert!(map[..] == bytes[..]);
        let before = small(&map);
        let gained = settle(&map, &file);
        assert!(map[..] == bytes[..], "the bytes are the file's after reading them again");
        match before {
            // This system can say which pages are huge: what settling gained is what is no
            // longer small (all of it where the page cache gives this file huge pages and
            // memory is not too fragmented; on a filesystem without them, nothing).
            Some(before) => {
                assert!(gained <= before, "gained {gained} of {before} small bytes");
                assert_eq!(small(&map), Some(before - gained), "gained {gained}");
                eprintln!("small before: {before} bytes; came back huge: {gained}");
            }
            None => assert_eq!(gained, 0),
        }
    }
}
