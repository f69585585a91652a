//! Process-wide settings that make the decoder faster on this machine: which of candle's
//! kernel tiers runs the products left to it, and how glibc's allocator keeps freed buffers.

/// Keeps candle from holding a third copy of K-quant weights. On CPUs with AMX, candle packs
/// each Q4_K matrix twice besides the stored copy: AVX-512 tiles for one-row products and
/// unpacked AMX tiles for prompts, together about 3.5 times the stored bytes (3.6 GB instead
/// of 1.8 GB for qwen2.5-coder-1.5b). Its 256-bit kernel tier packs once. candle picks its
/// tier once per process from `MISTRALRS_FORCE_AVXVNNI` / `MISTRALRS_FORCE_AVX2`; unless the
/// user set either, this asks for AVX-VNNI where the CPU has it (prompt speed -8%, one-token
/// speed -6%, peak memory -36% on qwen2.5-coder-1.5b) and plain AVX2 otherwise. CPUs without
/// AMX are left alone. Must run before candle's first quantized product; the CLI and the
/// window call it first thing in `main`, while the process has one thread, and model loading
/// calls it again for library users (a no-op once a variable is set).
pub fn prefer_compact_kernels() {
    keep_freed_buffers();
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::__cpuid_count;
        const VARS: [&str; 2] = ["MISTRALRS_FORCE_AVXVNNI", "MISTRALRS_FORCE_AVX2"];
        if VARS.iter().any(|v| std::env::var_os(v).is_some()) {
            return;
        }
        // SAFETY: CPUID is available on every x86_64 CPU.
        #[allow(unused_unsafe)]
        let (leaf7, leaf7_1) = unsafe { (__cpuid_count(7, 0), __cpuid_count(7, 1)) };
        let amx = leaf7.edx & (1 << 24) != 0 && leaf7.edx & (1 << 25) != 0;
        if !amx {
            return;
        }
        let avx_vnni = leaf7_1.eax & (1 << 4) != 0;
        // candle reads these through `std::env`, which serializes access; nothing else in
        // Precis reads them.
        std::env::set_var(VARS[if avx_vnni { 0 } else { 1 }], "1");
    }
}

/// Lets glibc's allocator keep freed blocks of up to 32 MB for reuse instead of unmapping each
/// one. A prompt allocates and frees buffers of megabytes layer after layer (activations,
/// attention scores), and a fresh mapping costs a page fault per page every time: with the
/// default (blocks from 128 KB mapped on their own, until a large free raises the limit),
/// smollm2's prompts ran at 360 instead of 480 tokens a second. Freed memory at the top of the
/// heap is returned once 64 MB of it are free, as glibc itself would after such a raise. A
/// no-op elsewhere; called by `prefer_compact_kernels`, so at start and again at model loading.
fn keep_freed_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes the allocator's thresholds; it takes its own lock.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}
