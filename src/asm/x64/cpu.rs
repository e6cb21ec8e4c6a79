//! CPU feature detection: which optional instruction-set extensions the
//! host processor offers ([`CpuFeatures`]), read with `cpuid`.
//!
//! The assembler itself emits whatever it is asked to; callers consult these
//! flags to choose between, say, `lzcnt` and a `bsr` sequence. The engine
//! compiles for the detected features intersected with
//! `Config::cpu_features`, so tests can force every fallback.

/// Optional x86-64 extensions. [`CpuFeatures::baseline`] is what every
/// x86-64 processor has (SSE and SSE2 only).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct CpuFeatures {
    /// SSE3 (`cpuid.1:ecx[0]`).
    pub sse3: bool,
    /// SSSE3 (`cpuid.1:ecx[9]`): `pshufb`, `palignr`, …
    pub ssse3: bool,
    /// SSE4.1 (`cpuid.1:ecx[19]`): `roundss`, `pminsd`, `ptest`, …
    pub sse41: bool,
    /// SSE4.2 (`cpuid.1:ecx[20]`): `pcmpgtq`, `crc32`.
    pub sse42: bool,
    /// POPCNT (`cpuid.1:ecx[23]`).
    pub popcnt: bool,
    /// LZCNT, called ABM by AMD (`cpuid.80000001h:ecx[5]`).
    pub lzcnt: bool,
    /// BMI1 (`cpuid.7.0:ebx[3]`): `tzcnt`, `andn`, …
    pub bmi1: bool,
    /// BMI2 (`cpuid.7.0:ebx[8]`): `shlx`, `sarx`, `rorx`, …
    pub bmi2: bool,
    /// AVX, usable: the CPU has it (`cpuid.1:ecx[28]`) and the OS saves the
    /// YMM state (OSXSAVE and XCR0 bits 1–2).
    pub avx: bool,
    /// AVX2 (`cpuid.7.0:ebx[5]`), usable only with `avx`.
    pub avx2: bool,
    /// FMA3 (`cpuid.1:ecx[12]`), usable only with `avx`.
    pub fma: bool,
}

impl CpuFeatures {
    /// Plain x86-64: SSE2 and nothing optional.
    pub const fn baseline() -> CpuFeatures {
        CpuFeatures {
            sse3: false,
            ssse3: false,
            sse41: false,
            sse42: false,
            popcnt: false,
            lzcnt: false,
            bmi1: false,
            bmi2: false,
            avx: false,
            avx2: false,
            fma: false,
        }
    }

    /// What every operator of the compiler needs and no more: SSE3, SSSE3
    /// and SSE4.1 (float rounding and SIMD). Code compiled for it runs
    /// each fallback: no POPCNT, LZCNT, BMI1/2, SSE4.2 or AVX.
    pub const fn sse41_baseline() -> CpuFeatures {
        CpuFeatures {
            sse3: true,
            ssse3: true,
            sse41: true,
            ..CpuFeatures::baseline()
        }
    }

    /// The features both `self` and `other` have.
    pub const fn intersection(self, other: CpuFeatures) -> CpuFeatures {
        CpuFeatures {
            sse3: self.sse3 && other.sse3,
            ssse3: self.ssse3 && other.ssse3,
            sse41: self.sse41 && other.sse41,
            sse42: self.sse42 && other.sse42,
            popcnt: self.popcnt && other.popcnt,
            lzcnt: self.lzcnt && other.lzcnt,
            bmi1: self.bmi1 && other.bmi1,
            bmi2: self.bmi2 && other.bmi2,
            avx: self.avx && other.avx,
            avx2: self.avx2 && other.avx2,
            fma: self.fma && other.fma,
        }
    }

    /// Every extension this struct knows; for tests and for generating code
    /// ahead of time for a known machine.
    pub const fn all() -> CpuFeatures {
        CpuFeatures {
            sse3: true,
            ssse3: true,
            sse41: true,
            sse42: true,
            popcnt: true,
            lzcnt: true,
            bmi1: true,
            bmi2: true,
            avx: true,
            avx2: true,
            fma: true,
        }
    }

    /// The features of the processor this code runs on.
    #[cfg(target_arch = "x86_64")]
    pub fn detect() -> CpuFeatures {
        use core::arch::x86_64::{__cpuid, __cpuid_count};

        let bit = |reg: u32, n: u32| reg & (1 << n) != 0;
        let max_leaf = __cpuid(0).eax;
        let max_ext_leaf = __cpuid(0x8000_0000).eax;

        let mut f = CpuFeatures::baseline();
        if max_leaf >= 1 {
            let l1 = __cpuid(1);
            f.sse3 = bit(l1.ecx, 0);
            f.ssse3 = bit(l1.ecx, 9);
            f.sse41 = bit(l1.ecx, 19);
            f.sse42 = bit(l1.ecx, 20);
            f.popcnt = bit(l1.ecx, 23);
            let osxsave = bit(l1.ecx, 27);
            if osxsave && bit(l1.ecx, 28) {
                // SAFETY: OSXSAVE (cpuid.1:ecx[27]) is set, so the OS has
                // enabled XSAVE and `xgetbv` with ecx = 0 is a valid
                // instruction that only reads XCR0.
                let xcr0 = unsafe { core::arch::x86_64::_xgetbv(0) };
                f.avx = xcr0 & 0b110 == 0b110;
            }
            f.fma = f.avx && bit(l1.ecx, 12);
        }
        if max_leaf >= 7 {
            let l7 = __cpuid_count(7, 0);
            f.bmi1 = bit(l7.ebx, 3);
            f.avx2 = f.avx && bit(l7.ebx, 5);
            f.bmi2 = bit(l7.ebx, 8);
        }
        if max_ext_leaf >= 0x8000_0001 {
            f.lzcnt = bit(__cpuid(0x8000_0001).ecx, 5);
        }
        f
    }

    /// Not an x86-64 host: nothing optional can be assumed.
    #[cfg(not(target_arch = "x86_64"))]
    pub fn detect() -> CpuFeatures {
        CpuFeatures::baseline()
    }
}
