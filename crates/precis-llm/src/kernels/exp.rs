//! `e^x` over runs of f32 with exactly the bits `f32::exp` gives, eight or sixteen values at a
//! time, for the MLP's activation (`tiles::Give::SiluGated`) and one-token attention's softmax.
//! `f32::exp` is the C library's `expf`, one call per value; on Linux with glibc (2.27 on) that
//! is a table-driven algorithm in double precision, and these kernels follow its steps in SIMD
//! registers: `x · 32 / ln 2` split into an integer `k` and a rest `r` (|r| ≤ 1/2), each with
//! one rounding (a fused multiply-add, as glibc's build for FMA CPUs has it), `2^(k / 32)` from
//! a table of 32 doubles and the exponent bits, `2^(r / 32)` from a cubic, one rounding to f32
//! at the end. Where the algorithm is glibc's, both give the same bits for every f32 input
//! (checked on a few thousand when the kernels are chosen, and on all of them in a test);
//! elsewhere, and on the portable path, the values go through `f32::exp` one by one.

#[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
use std::sync::OnceLock;

use crate::kernels::cpu::KernelPath;

/// Replaces each value `x` with `e^x`.
pub(crate) type Exp = fn(&mut [f32]);

/// `e^x` of each value through the C library, one at a time: the reference, and the kernel of
/// the portable path.
pub(crate) fn plain(xs: &mut [f32]) {
    for x in xs {
        *x = x.exp();
    }
}

/// The kernel for `path`: SIMD on the x86 paths where the C library is glibc and the SIMD
/// kernel gives the library's bits for a spread of inputs, else `plain`.
pub(crate) fn for_path(path: KernelPath) -> Exp {
    #[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
    {
        // Whether the library agrees is the same for every matrix: asked once per kernel.
        static WIDE: OnceLock<bool> = OnceLock::new();
        static NARROW: OnceLock<bool> = OnceLock::new();
        let (kernel, agreed): (Exp, _) = match path {
            _ if !path.supported() => (plain, None),
            KernelPath::Avx512Vnni => (simd::wide, Some(&WIDE)),
            KernelPath::AvxVnni | KernelPath::Avx2 => (simd::narrow, Some(&NARROW)),
            KernelPath::Portable => (plain, None),
        };
        if agreed.is_some_and(|a| *a.get_or_init(|| agrees(kernel))) {
            return kernel;
        }
    }
    let _ = path;
    plain
}

/// Whether `kernel` gives `f32::exp`'s bits for a few thousand inputs spread over the range
/// where `e^x` is neither 0 nor infinite, and for the edges: a C library with another `expf`
/// (an old glibc) is caught here and gets `plain`.
#[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
fn agrees(kernel: Exp) -> bool {
    let mut xs: Vec<f32> = (0..4096).map(|i| -104.5 + 194.0 * i as f32 / 4095.0 + i as f32 * 1e-5).collect();
    xs.extend([0.0, -0.0, 1e-30, -1e-30, 88.72, 88.73, -103.97, -103.98, f32::INFINITY, f32::NEG_INFINITY]);
    let mut ours = xs.clone();
    kernel(&mut ours);
    xs.iter().zip(&ours).all(|(x, y)| x.exp().to_bits() == y.to_bits())
}

#[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
mod simd {
    //! The SIMD kernels: `wide` on 512-bit registers (sixteen values, as two sets of eight
    //! doubles), `narrow` on 256-bit ones (eight, as two sets of four); leftovers go through
    //! `f32::exp`.

    use std::arch::x86_64::*;

    /// `2^(i / 32)` as a double's bits, less `i << 47` (what adding the scaled `k` puts back).
    const TABLE: [u64; 32] = [
        0x3ff0000000000000,
        0x3fefd9b0d3158574,
        0x3fefb5586cf9890f,
        0x3fef9301d0125b51,
        0x3fef72b83c7d517b,
        0x3fef54873168b9aa,
        0x3fef387a6e756238,
        0x3fef1e9df51fdee1,
        0x3fef06fe0a31b715,
        0x3feef1a7373aa9cb,
        0x3feedea64c123422,
        0x3feece086061892d,
        0x3feebfdad5362a27,
        0x3feeb42b569d4f82,
        0x3feeab07dd485429,
        0x3feea47eb03a5585,
        0x3feea09e667f3bcd,
        0x3fee9f75e8ec5f74,
        0x3feea11473eb0187,
        0x3feea589994cce13,
        0x3feeace5422aa0db,
        0x3feeb737b0cdc5e5,
        0x3feec49182a3f090,
        0x3feed503b23e255d,
        0x3feee89f995ad3ad,
        0x3feeff76f2fb5e47,
        0x3fef199bdd85529c,
        0x3fef3720dcef9069,
        0x3fef5818dcfba487,
        0x3fef7c97337b9b5f,
        0x3fefa4afa2a490da,
        0x3fefd0765b6e4540,
    ];
    /// 32 / ln 2.
    const SCALE: f64 = f64::from_bits(0x3FF7_1547_652B_82FE) * 32.0;
    /// Adding it leaves `round(z)` in a double's low bits (ties to even).
    const SHIFT: f64 = f64::from_bits(0x4338_0000_0000_0000);
    /// The cubic for `2^(r / 32) - 1`, highest power first.
    const C3: f64 = f64::from_bits(0x3FAC_6AF8_4B91_2394) / 32768.0;
    const C2: f64 = f64::from_bits(0x3FCE_BFCE_50FA_C4F3) / 1024.0;
    const C1: f64 = f64::from_bits(0x3FE6_2E42_FF0C_52D6) / 32.0;
    /// Above this, `e^x` overflows f32; below `UNDER` it rounds to 0.
    const OVER: f32 = f32::from_bits(0x42B1_7217);
    const UNDER: f32 = f32::from_bits(0xC2CF_F1B4);

    /// Sixteen values at a time, then eight (as eight doubles in one register), then one by
    /// one.
    pub(super) fn wide(xs: &mut [f32]) {
        let mut sixteens = xs.chunks_exact_mut(16);
        for chunk in &mut sixteens {
            // SAFETY: chosen only for the AVX-512 path on a CPU that runs it (AVX-512 F and
            // VL, AVX2, FMA); the chunk holds sixteen values.
            unsafe { sixteen(chunk.as_mut_ptr()) };
        }
        let mut eights = sixteens.into_remainder().chunks_exact_mut(8);
        for chunk in &mut eights {
            // SAFETY: as above; the chunk holds eight values.
            unsafe { eight_wide(chunk.as_mut_ptr()) };
        }
        super::plain(eights.into_remainder());
    }

    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
    unsafe fn eight_wide(p: *mut f32) {
        let x = _mm256_loadu_ps(p);
        let y = _mm512_cvtpd_ps(core8(_mm512_cvtps_pd(x)));
        let y = _mm256_mask_blend_ps(
            _mm256_cmp_ps_mask::<_CMP_GT_OQ>(x, _mm256_set1_ps(OVER)),
            y,
            _mm256_set1_ps(f32::INFINITY),
        );
        let y =
            _mm256_mask_blend_ps(_mm256_cmp_ps_mask::<_CMP_LT_OQ>(x, _mm256_set1_ps(UNDER)), y, _mm256_setzero_ps());
        let y = _mm256_mask_blend_ps(_mm256_cmp_ps_mask::<_CMP_UNORD_Q>(x, x), y, _mm256_add_ps(x, x));
        _mm256_storeu_ps(p, y);
    }

    /// Eight values at a time, then one by one.
    pub(super) fn narrow(xs: &mut [f32]) {
        let mut eights = xs.chunks_exact_mut(8);
        for chunk in &mut eights {
            // SAFETY: chosen only for x86 SIMD paths this CPU runs, all of which need AVX2 and
            // FMA; the chunk holds eight values.
            unsafe { eight(chunk.as_mut_ptr()) };
        }
        super::plain(eights.into_remainder());
    }

    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn sixteen(p: *mut f32) {
        let x = _mm512_loadu_ps(p);
        let low = _mm512_cvtps_pd(_mm512_castps512_ps256(x));
        let high = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(x))));
        let (low, high) = (_mm512_cvtpd_ps(core8(low)), _mm512_cvtpd_ps(core8(high)));
        let y = _mm512_castpd_ps(_mm512_insertf64x4::<1>(
            _mm512_castpd256_pd512(_mm256_castps_pd(low)),
            _mm256_castps_pd(high),
        ));
        // The edges, as the library takes them: overflow, underflow (also -inf) and NaN.
        let y = _mm512_mask_blend_ps(
            _mm512_cmp_ps_mask::<_CMP_GT_OQ>(x, _mm512_set1_ps(OVER)),
            y,
            _mm512_set1_ps(f32::INFINITY),
        );
        let y =
            _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, _mm512_set1_ps(UNDER)), y, _mm512_setzero_ps());
        let y = _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x), y, _mm512_add_ps(x, x));
        _mm512_storeu_ps(p, y);
    }

    /// The algorithm on eight doubles (each an f32 widened), before the rounding to f32.
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn core8(xd: __m512d) -> __m512d {
        // Both fused, as glibc's FMA build computes them.
        let shifted = _mm512_fmadd_pd(_mm512_set1_pd(SCALE), xd, _mm512_set1_pd(SHIFT));
        let k = _mm512_castpd_si512(shifted);
        let r = _mm512_fmsub_pd(_mm512_set1_pd(SCALE), xd, _mm512_sub_pd(shifted, _mm512_set1_pd(SHIFT)));
        // Table entry `k % 32`: entries 0..16 and 16..32 by permutes, chosen by bit 4.
        let t = TABLE.as_ptr() as *const __m512i;
        let index = _mm512_and_si512(k, _mm512_set1_epi64(31));
        let first = _mm512_permutex2var_epi64(_mm512_loadu_si512(t), index, _mm512_loadu_si512(t.add(1)));
        let second = _mm512_permutex2var_epi64(_mm512_loadu_si512(t.add(2)), index, _mm512_loadu_si512(t.add(3)));
        let entry = _mm512_mask_blend_epi64(_mm512_test_epi64_mask(index, _mm512_set1_epi64(16)), first, second);
        let s = _mm512_castsi512_pd(_mm512_add_epi64(entry, _mm512_slli_epi64::<47>(k)));
        let cubic = _mm512_fmadd_pd(_mm512_set1_pd(C3), r, _mm512_set1_pd(C2));
        let linear = _mm512_fmadd_pd(_mm512_set1_pd(C1), r, _mm512_set1_pd(1.0));
        let y = _mm512_fmadd_pd(cubic, _mm512_mul_pd(r, r), linear);
        _mm512_mul_pd(y, s)
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn eight(p: *mut f32) {
        let x = _mm256_loadu_ps(p);
        let low = _mm256_cvtpd_ps(core4(_mm256_cvtps_pd(_mm256_castps256_ps128(x))));
        let high = _mm256_cvtpd_ps(core4(_mm256_cvtps_pd(_mm256_extractf128_ps::<1>(x))));
        let y = _mm256_insertf128_ps::<1>(_mm256_castps128_ps256(low), high);
        let y =
            _mm256_blendv_ps(y, _mm256_set1_ps(f32::INFINITY), _mm256_cmp_ps::<_CMP_GT_OQ>(x, _mm256_set1_ps(OVER)));
        let y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps::<_CMP_LT_OQ>(x, _mm256_set1_ps(UNDER)));
        let y = _mm256_blendv_ps(y, _mm256_add_ps(x, x), _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x));
        _mm256_storeu_ps(p, y);
    }

    /// `core8` on four doubles; the table entry by a gather.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn core4(xd: __m256d) -> __m256d {
        let shifted = _mm256_fmadd_pd(_mm256_set1_pd(SCALE), xd, _mm256_set1_pd(SHIFT));
        let k = _mm256_castpd_si256(shifted);
        let r = _mm256_fmsub_pd(_mm256_set1_pd(SCALE), xd, _mm256_sub_pd(shifted, _mm256_set1_pd(SHIFT)));
        let index = _mm256_and_si256(k, _mm256_set1_epi64x(31));
        let entry = _mm256_i64gather_epi64::<8>(TABLE.as_ptr() as *const i64, index);
        let s = _mm256_castsi256_pd(_mm256_add_epi64(entry, _mm256_slli_epi64::<47>(k)));
        let cubic = _mm256_fmadd_pd(_mm256_set1_pd(C3), r, _mm256_set1_pd(C2));
        let linear = _mm256_fmadd_pd(_mm256_set1_pd(C1), r, _mm256_set1_pd(1.0));
        let y = _mm256_fmadd_pd(cubic, _mm256_mul_pd(r, r), linear);
        _mm256_mul_pd(y, s)
    }

    #[cfg(test)]
    pub(super) fn table() -> &'static [u64; 32] {
        &TABLE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every f32 bit pattern from `start` on in steps of `step`, through `kernel` in runs of
    /// 4096 (so the SIMD loops and the leftovers both see every kind of input): the inputs
    /// whose bits differ from `f32::exp`'s.
    fn mismatches(kernel: Exp, start: u64, step: u64) -> Vec<u32> {
        let mut bad = Vec::new();
        let mut run = Vec::with_capacity(4099);
        let mut bits = start;
        while bits < 1 << 32 {
            run.clear();
            while run.len() < 4099 && bits < 1 << 32 {
                run.push(f32::from_bits(bits as u32));
                bits += step;
            }
            let mut ys = run.clone();
            kernel(&mut ys);
            for (x, y) in run.iter().zip(&ys) {
                let want = x.exp();
                if want.to_bits() != y.to_bits() && !(want.is_nan() && y.is_nan()) {
                    bad.push(x.to_bits());
                }
            }
        }
        bad
    }

    #[test]
    #[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
    fn the_table_holds_the_powers_of_two() {
        for (i, &bits) in simd::table().iter().enumerate() {
            let power = f64::from_bits(bits.wrapping_add((i as u64) << 47));
            assert_eq!(power, (i as f64 / 32.0).exp2(), "entry {i}");
        }
    }

    #[test]
    fn every_path_gives_the_librarys_bits() {
        // A prime stride: about 1.1 million inputs over every exponent and sign.
        for path in KernelPath::available() {
            let kernel = for_path(path);
            assert!(mismatches(kernel, 0, 3_907).is_empty(), "{}", path.name());
            assert!(mismatches(kernel, 1_953, 3_907).is_empty(), "{}", path.name());
        }
    }

    #[test]
    #[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
    fn the_simd_kernels_run_where_the_library_is_glibc() {
        for path in KernelPath::available().into_iter().filter(|&p| p != KernelPath::Portable) {
            assert_ne!(for_path(path) as usize, plain as Exp as usize, "{}", path.name());
        }
    }

    /// Every one of the 2^32 inputs through each SIMD kernel this CPU runs (the portable path's
    /// is `f32::exp` itself): about 40 seconds. Ignored by a plain `cargo test`; `scripts/test`
    /// runs it.
    #[test]
    #[ignore]
    fn every_input_gives_the_librarys_bits() {
        let mut kernels: Vec<(Exp, &str)> = Vec::new();
        for path in KernelPath::available() {
            let kernel = for_path(path);
            if !kernels.iter().any(|&(k, _)| k as usize == kernel as usize) && kernel as usize != plain as Exp as usize
            {
                kernels.push((kernel, path.name()));
            }
        }
        for (kernel, name) in kernels {
            assert_eq!(mismatches(kernel, 0, 1), Vec::<u32>::new(), "{name}");
        }
    }
}
