//! Which instruction set the tiled kernels use (`KernelPath`), chosen once per loaded model from
//! what the CPU has (checked at run time) or forced with `PRECIS_KERNELS`, and what the CPU
//! reports about itself (`CpuInfo`: its model name and the features the paths need).

use std::fmt;

use crate::error::{Error, Result};

/// The environment variable that forces a kernel path.
pub const KERNELS_VAR: &str = "PRECIS_KERNELS";

/// One implementation of the tiled products (and of one-token attention's f32 loops). Every
/// path gives the same integers and the same floats, bit for bit: none fuses a multiply-add and
/// all sum in one order, so all give the same tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KernelPath {
    /// 512-bit `vpdpbusd` (AVX-512 VNNI with F, BW and VL), two row groups per instruction:
    /// Intel from Ice Lake server and Sapphire Rapids on, AMD Zen 4 and 5.
    Avx512Vnni,
    /// 256-bit `vpdpbusd` (AVX-VNNI): Intel Alder Lake and later cores.
    AvxVnni,
    /// AVX2 with FMA and F16C, `vpmaddubsw` + `vpmaddwd`: x86-64 CPUs from about 2013 on.
    Avx2,
    /// Plain Rust, for every other CPU; the reference the others are tested against.
    Portable,
}

impl KernelPath {
    /// Every path, fastest first.
    pub const ALL: [KernelPath; 4] =
        [KernelPath::Avx512Vnni, KernelPath::AvxVnni, KernelPath::Avx2, KernelPath::Portable];

    /// The name `PRECIS_KERNELS` takes and reports give.
    pub fn name(self) -> &'static str {
        match self {
            KernelPath::Avx512Vnni => "avx512vnni",
            KernelPath::AvxVnni => "avxvnni",
            KernelPath::Avx2 => "avx2",
            KernelPath::Portable => "portable",
        }
    }

    /// The path called `name` (as `name` gives it, any case).
    pub fn from_name(name: &str) -> Option<KernelPath> {
        KernelPath::ALL.into_iter().find(|p| p.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The CPU features the path needs, as `is_x86_feature_detected!` names them.
    pub fn needs(self) -> &'static [&'static str] {
        match self {
            KernelPath::Avx512Vnni => &["avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512vnni"],
            KernelPath::AvxVnni => &["avx2", "fma", "f16c", "avxvnni"],
            KernelPath::Avx2 => &["avx2", "fma", "f16c"],
            KernelPath::Portable => &[],
        }
    }

    /// Whether this CPU runs the path.
    pub fn supported(self) -> bool {
        self.runs_with(&has_feature)
    }

    /// Whether a CPU with the features `has` says yes to runs the path.
    fn runs_with(self, has: &dyn Fn(&str) -> bool) -> bool {
        self.needs().iter().all(|f| has(f))
    }

    /// The paths this CPU runs, fastest first (always ending with `Portable`).
    pub fn available() -> Vec<KernelPath> {
        KernelPath::ALL.into_iter().filter(|p| p.supported()).collect()
    }

    /// The fastest path this CPU runs.
    pub fn best() -> KernelPath {
        KernelPath::ALL.into_iter().find(|p| p.supported()).unwrap_or(KernelPath::Portable)
    }

    /// The path `PRECIS_KERNELS` asks for, or the fastest this CPU runs when it is unset, empty
    /// or `auto`. A name that is not a path, or a path this CPU lacks, is an error that says
    /// which paths there are.
    pub fn from_env() -> Result<KernelPath> {
        match std::env::var(KERNELS_VAR) {
            Ok(value) => KernelPath::choose(&value),
            Err(std::env::VarError::NotPresent) => Ok(KernelPath::best()),
            Err(std::env::VarError::NotUnicode(_)) => KernelPath::choose("?"),
        }
    }

    /// The path `value` (a path's name, or empty or `auto` for the fastest) names, if this CPU
    /// runs it.
    pub fn choose(value: &str) -> Result<KernelPath> {
        KernelPath::choose_on(value, &has_feature, &cpu_model())
    }

    /// `choose` for a CPU called `cpu` with the features `has` says yes to.
    fn choose_on(value: &str, has: &dyn Fn(&str) -> bool, cpu: &str) -> Result<KernelPath> {
        let runs: Vec<KernelPath> = KernelPath::ALL.into_iter().filter(|p| p.runs_with(has)).collect();
        if value.trim().is_empty() || value.trim().eq_ignore_ascii_case("auto") {
            return Ok(runs[0]);
        }
        let names = |paths: &[KernelPath]| paths.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ");
        let Some(path) = KernelPath::from_name(value) else {
            return Err(Error::UnknownKernelPath { name: value.to_string(), known: names(&KernelPath::ALL) });
        };
        if !runs.contains(&path) {
            let missing = path.needs().iter().filter(|f| !has(f)).copied().collect::<Vec<_>>().join(", ");
            return Err(Error::KernelPathUnsupported {
                path: path.name(),
                cpu: cpu.to_string(),
                missing,
                available: names(&runs),
            });
        }
        Ok(path)
    }
}

impl fmt::Display for KernelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether the CPU has `feature` (an `is_x86_feature_detected!` name; `false` for unknown
/// names and on other architectures).
fn has_feature(feature: &str) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        match feature {
            "avx2" => has!("avx2"),
            "fma" => has!("fma"),
            "f16c" => has!("f16c"),
            "avxvnni" => has!("avxvnni"),
            "avx512f" => has!("avx512f"),
            "avx512bw" => has!("avx512bw"),
            "avx512vl" => has!("avx512vl"),
            "avx512vnni" => has!("avx512vnni"),
            "amx-int8" => amx_int8(),
            _ => false,
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        use std::arch::is_aarch64_feature_detected as has;
        match feature {
            "neon" => has!("neon"),
            "dotprod" => has!("dotprod"),
            _ => false,
        }
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let _ = feature;
        false
    }
}

/// AMX-INT8 (CPUID leaf 7, EDX bit 25), which no path uses but llama.cpp does where it is built
/// for it; reports mention it.
#[cfg(target_arch = "x86_64")]
fn amx_int8() -> bool {
    // SAFETY: CPUID is available on every x86_64 CPU.
    #[allow(unused_unsafe)]
    let leaf7 = unsafe { std::arch::x86_64::__cpuid_count(7, 0) };
    leaf7.edx & (1 << 25) != 0
}

/// Whether the CPU is an AMD Zen 4 (CPUID: vendor "AuthenticAMD", family 25, AVX-512 F), the
/// one CPU whose kernels were measured faster asking for their tiles otherwise
/// (`tiles::Fetch::Zen4`).
pub(crate) fn is_zen4() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::__cpuid;
        // SAFETY: CPUID leaves 0 and 1 are available on every x86_64 CPU.
        #[allow(unused_unsafe)]
        let (vendor, signature) = unsafe { (__cpuid(0), __cpuid(1).eax) };
        zen4([vendor.ebx, vendor.edx, vendor.ecx], signature, has_feature("avx512f"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// A CPUID vendor string as leaf 0 gives it: in EBX, EDX and ECX.
#[cfg(any(target_arch = "x86_64", test))]
fn vendor_words(name: &[u8; 12]) -> [u32; 3] {
    let word = |i: usize| u32::from_le_bytes([name[i], name[i + 1], name[i + 2], name[i + 3]]);
    [word(0), word(4), word(8)]
}

/// Whether CPUID's vendor words (EBX, EDX, ECX of leaf 0), leaf 1's signature (EAX) and AVX-512
/// F say Zen 4: AMD's family 25 (base family 15 plus extended family 10), which Zen 3 shares,
/// with AVX-512, which Zen 3 lacks.
#[cfg(any(target_arch = "x86_64", test))]
fn zen4(vendor: [u32; 3], signature: u32, avx512f: bool) -> bool {
    let amd = vendor == vendor_words(b"AuthenticAMD");
    let base = (signature >> 8) & 0xF;
    let family = if base == 0xF { base + ((signature >> 20) & 0xFF) } else { base };
    amd && family == 25 && avx512f
}

/// The CPU's model name and the features the kernel paths care about.
#[derive(Debug, Clone)]
pub struct CpuInfo {
    /// As the CPU (or the system) names itself, e.g. "AMD EPYC 9R14 96-Core Processor".
    pub model: String,
    /// Each relevant feature and whether the CPU has it.
    pub features: Vec<(&'static str, bool)>,
}

impl CpuInfo {
    pub fn detect() -> CpuInfo {
        #[cfg(target_arch = "x86_64")]
        const FEATURES: &[&str] =
            &["avx2", "fma", "f16c", "avxvnni", "avx512f", "avx512bw", "avx512vl", "avx512vnni", "amx-int8"];
        #[cfg(target_arch = "aarch64")]
        const FEATURES: &[&str] = &["neon", "dotprod"];
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        const FEATURES: &[&str] = &[];
        CpuInfo { model: cpu_model(), features: FEATURES.iter().map(|&f| (f, has_feature(f))).collect() }
    }

    /// The features the CPU has, space-separated.
    pub fn present(&self) -> String {
        self.features.iter().filter(|(_, has)| *has).map(|(f, _)| *f).collect::<Vec<_>>().join(" ")
    }
}

/// The CPU's model name: CPUID's brand string on x86-64, else `/proc/cpuinfo`'s, else "unknown".
pub fn cpu_model() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::__cpuid;
        // SAFETY: CPUID is available on every x86_64 CPU; leaves above the highest extended
        // leaf are not read.
        #[allow(unused_unsafe)]
        let highest = unsafe { __cpuid(0x8000_0000) }.eax;
        if highest >= 0x8000_0004 {
            let mut bytes = Vec::with_capacity(48);
            for leaf in 0x8000_0002u32..=0x8000_0004 {
                #[allow(unused_unsafe)]
                let r = unsafe { __cpuid(leaf) };
                for word in [r.eax, r.ebx, r.ecx, r.edx] {
                    bytes.extend_from_slice(&word.to_le_bytes());
                }
            }
            let name = String::from_utf8_lossy(&bytes).trim_matches(char::from(0)).trim().to_string();
            if !name.is_empty() {
                return name;
            }
        }
    }
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    for key in ["model name", "Model", "Hardware"] {
        if let Some(line) = cpuinfo.lines().find(|l| l.split(':').next().is_some_and(|k| k.trim() == key)) {
            if let Some((_, value)) = line.split_once(':') {
                return value.trim().to_string();
            }
        }
    }
    "unknown".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zen4_is_amds_family_25_with_avx512() {
        let (amd, intel) = (vendor_words(b"AuthenticAMD"), vendor_words(b"GenuineIntel"));
        // Family 25 (0xF + 0xA), model 0x11: an EPYC 9004; family 23 (0xF + 0x8): Zen 2.
        let (family25, family23) = (0x00A1_0F11, 0x0083_0F10);
        assert!(zen4(amd, family25, true));
        assert!(!zen4(amd, family25, false), "Zen 3 is family 25 too, without AVX-512");
        assert!(!zen4(amd, family23, true));
        assert!(!zen4(intel, family25, true));
        assert!(!zen4(intel, 0x0008_06F8, true), "a Sapphire Rapids Xeon (family 6)");
    }

    #[test]
    fn names_round_trip_and_portable_always_runs() {
        for p in KernelPath::ALL {
            assert_eq!(KernelPath::from_name(p.name()), Some(p));
            assert_eq!(KernelPath::from_name(&p.name().to_uppercase()), Some(p));
        }
        assert!(KernelPath::Portable.supported());
        assert_eq!(KernelPath::available().last(), Some(&KernelPath::Portable));
        assert_eq!(KernelPath::available()[0], KernelPath::best());
        assert_eq!(KernelPath::choose("").unwrap(), KernelPath::best());
        assert_eq!(KernelPath::choose("auto").unwrap(), KernelPath::best());
        assert_eq!(KernelPath::choose("portable").unwrap(), KernelPath::Portable);
    }

    #[test]
    fn an_unknown_or_missing_path_is_refused_with_the_choices() {
        let e = KernelPath::choose("sse9").unwrap_err();
        assert!(e.to_string().contains("avx512vnni, avxvnni, avx2, portable"), "{e}");
        if let Some(missing) = KernelPath::ALL.into_iter().find(|p| !p.supported()) {
            let e = KernelPath::choose(missing.name()).unwrap_err();
            let message = e.to_string();
            assert!(message.contains(missing.name()) && message.contains("portable"), "{message}");
            assert!(message.contains(&cpu_model()), "{message}");
        }
    }

    #[test]
    fn a_path_the_cpu_lacks_is_refused_with_what_it_lacks_and_what_it_runs() {
        // An AVX2-only CPU (Zen 2, Skylake) asked for each faster path.
        let avx2_only = |f: &str| ["avx2", "fma", "f16c"].contains(&f);
        let cpu = "AMD Ryzen 7 3700X 8-Core Processor";
        assert_eq!(KernelPath::choose_on("", &avx2_only, cpu).unwrap(), KernelPath::Avx2);
        assert_eq!(KernelPath::choose_on("AVX2", &avx2_only, cpu).unwrap(), KernelPath::Avx2);
        let e = KernelPath::choose_on("avx512vnni", &avx2_only, cpu).unwrap_err();
        assert_eq!(
            e.to_string(),
            "PRECIS_KERNELS=avx512vnni cannot run on this CPU (AMD Ryzen 7 3700X 8-Core Processor): it lacks \
             avx512f, avx512bw, avx512vl, avx512vnni. This CPU runs: avx2, portable"
        );
        assert_eq!(e.code(), "kernels");
        let e = KernelPath::choose_on("avxvnni", &avx2_only, cpu).unwrap_err();
        assert!(e.to_string().contains("it lacks avxvnni. This CPU runs: avx2, portable"), "{e}");
        // A CPU without AVX2 (or not x86 at all) runs only the portable path.
        let none = |_: &str| false;
        assert_eq!(KernelPath::choose_on("auto", &none, cpu).unwrap(), KernelPath::Portable);
        let e = KernelPath::choose_on("avx2", &none, cpu).unwrap_err();
        assert!(e.to_string().contains("it lacks avx2, fma, f16c. This CPU runs: portable"), "{e}");
    }

    #[test]
    fn the_cpu_has_a_name() {
        let info = CpuInfo::detect();
        assert!(!info.model.is_empty());
        #[cfg(target_arch = "x86_64")]
        assert!(info.features.iter().any(|(f, _)| *f == "avx2"));
    }
}
