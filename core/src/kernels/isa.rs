//! The kernel families and which of them this CPU runs, detected once.

use std::sync::OnceLock;

/// A family of kernels, each needing the CPU features its name says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Portable Rust: the reference.
    Scalar,
    /// x86-64 AVX2 + FMA + F16C.
    Avx2,
    /// AVX2 plus AVX-512 F/BW/VL and AVX-512 VNNI, used on 256-bit vectors
    /// (`vpdpbusd`/`vpdpwssd`, mask registers and 32 vector registers).
    Avx512Vnni,
    /// aarch64 baseline Advanced SIMD (`smull`/`sadalp`).
    Neon,
    /// aarch64 with the dot-product extension (`sdot`).
    NeonDotprod,
    /// aarch64 with dotprod and i8mm: Q4_0, Q5_0 and Q8_0 products of several activation rows
    /// (prefill) multiply two weight rows by two activation rows with `smmla`; the rest are the
    /// `NeonDotprod` kernels.
    NeonI8mm,
}

impl Isa {
    pub const ALL: [Isa; 6] = [
        Isa::Scalar,
        Isa::Avx2,
        Isa::Avx512Vnni,
        Isa::Neon,
        Isa::NeonDotprod,
        Isa::NeonI8mm,
    ];

    /// Whether this CPU can run the family (checked at run time).
    pub fn is_available(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                is_x86_feature_detected!("avx2")
                    && is_x86_feature_detected!("fma")
                    && is_x86_feature_detected!("f16c")
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Vnni => {
                Isa::Avx2.is_available()
                    && is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
                    && is_x86_feature_detected!("avx512vl")
                    && is_x86_feature_detected!("avx512vnni")
            }
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            #[cfg(target_arch = "aarch64")]
            Isa::NeonDotprod => {
                Isa::Neon.is_available() && std::arch::is_aarch64_feature_detected!("dotprod")
            }
            #[cfg(target_arch = "aarch64")]
            Isa::NeonI8mm => {
                Isa::NeonDotprod.is_available() && std::arch::is_aarch64_feature_detected!("i8mm")
            }
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// Every family this CPU can run, slowest first.
    pub fn available() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|i| i.is_available()).collect()
    }
}

/// The fastest family this CPU runs, detected once. `GEMKIT_ISA=scalar|avx2|avx512vnni|neon|
/// neondotprod|neoni8mm` lowers it (a family this CPU lacks is ignored).
pub fn detected() -> Isa {
    static DETECTED: OnceLock<Isa> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        let best = *Isa::available().last().expect("scalar is always available");
        let wanted = std::env::var("GEMKIT_ISA").ok().and_then(|name| {
            Isa::ALL
                .into_iter()
                .find(|i| format!("{i:?}").eq_ignore_ascii_case(name.trim()))
        });
        match wanted {
            Some(isa) if isa.is_available() => isa,
            _ => best,
        }
    })
}
