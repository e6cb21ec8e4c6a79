//! Register names: the sixteen general-purpose registers ([`Gpr`]) and the
//! sixteen SSE registers ([`Xmm`]), with their 4-bit hardware encodings.
//!
//! This module owns only naming and numbering; how a number is split between
//! the ModRM/SIB fields and the REX bits is `encode`'s business.

/// A 64-bit general-purpose register. The operand size of an instruction
/// decides which part of it is used (`rax`, `eax`, `ax`, `al`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
#[repr(u8)]
#[allow(missing_docs)] // the variants are the machine's register names
pub enum Gpr {
    Rax = 0,
    Rcx = 1,
    Rdx = 2,
    Rbx = 3,
    Rsp = 4,
    Rbp = 5,
    Rsi = 6,
    Rdi = 7,
    R8 = 8,
    R9 = 9,
    R10 = 10,
    R11 = 11,
    R12 = 12,
    R13 = 13,
    R14 = 14,
    R15 = 15,
}

impl Gpr {
    /// All sixteen registers in encoding order.
    pub const ALL: [Gpr; 16] = [
        Gpr::Rax,
        Gpr::Rcx,
        Gpr::Rdx,
        Gpr::Rbx,
        Gpr::Rsp,
        Gpr::Rbp,
        Gpr::Rsi,
        Gpr::Rdi,
        Gpr::R8,
        Gpr::R9,
        Gpr::R10,
        Gpr::R11,
        Gpr::R12,
        Gpr::R13,
        Gpr::R14,
        Gpr::R15,
    ];

    /// The 4-bit hardware encoding (0 = `rax` … 15 = `r15`).
    #[inline]
    pub const fn enc(self) -> u8 {
        self as u8
    }

    /// The register with hardware encoding `enc & 15`.
    #[inline]
    pub const fn from_enc(enc: u8) -> Gpr {
        Gpr::ALL[(enc & 15) as usize]
    }

    /// Whether naming this register needs a REX extension bit (`r8`–`r15`).
    #[inline]
    pub const fn needs_rex(self) -> bool {
        self.enc() >= 8
    }

    /// Whether its low byte needs a REX prefix to be addressed: without one,
    /// encodings 4–7 name `ah`, `ch`, `dh`, `bh` instead of `spl`, `bpl`,
    /// `sil`, `dil`.
    #[inline]
    pub const fn byte_needs_rex(self) -> bool {
        self.enc() >= 4
    }
}

/// An SSE register `xmm0`–`xmm15`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
#[repr(u8)]
#[allow(missing_docs)] // the variants are the machine's register names
pub enum Xmm {
    Xmm0 = 0,
    Xmm1 = 1,
    Xmm2 = 2,
    Xmm3 = 3,
    Xmm4 = 4,
    Xmm5 = 5,
    Xmm6 = 6,
    Xmm7 = 7,
    Xmm8 = 8,
    Xmm9 = 9,
    Xmm10 = 10,
    Xmm11 = 11,
    Xmm12 = 12,
    Xmm13 = 13,
    Xmm14 = 14,
    Xmm15 = 15,
}

impl Xmm {
    /// All sixteen registers in encoding order.
    pub const ALL: [Xmm; 16] = [
        Xmm::Xmm0,
        Xmm::Xmm1,
        Xmm::Xmm2,
        Xmm::Xmm3,
        Xmm::Xmm4,
        Xmm::Xmm5,
        Xmm::Xmm6,
        Xmm::Xmm7,
        Xmm::Xmm8,
        Xmm::Xmm9,
        Xmm::Xmm10,
        Xmm::Xmm11,
        Xmm::Xmm12,
        Xmm::Xmm13,
        Xmm::Xmm14,
        Xmm::Xmm15,
    ];

    /// The 4-bit hardware encoding.
    #[inline]
    pub const fn enc(self) -> u8 {
        self as u8
    }

    /// The register with hardware encoding `enc & 15`.
    #[inline]
    pub const fn from_enc(enc: u8) -> Xmm {
        Xmm::ALL[(enc & 15) as usize]
    }

    /// Whether naming this register needs a REX extension bit.
    #[inline]
    pub const fn needs_rex(self) -> bool {
        self.enc() >= 8
    }
}

/// The width of an integer operation.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Size {
    /// 8 bits (`al`, `byte ptr`).
    S8,
    /// 16 bits (`ax`, `word ptr`): adds the 0x66 operand-size prefix.
    S16,
    /// 32 bits (`eax`, `dword ptr`); writing a 32-bit register zeroes the
    /// upper half.
    S32,
    /// 64 bits (`rax`, `qword ptr`): sets REX.W.
    S64,
}

impl Size {
    /// The width in bytes.
    #[inline]
    pub const fn bytes(self) -> u32 {
        match self {
            Size::S8 => 1,
            Size::S16 => 2,
            Size::S32 => 4,
            Size::S64 => 8,
        }
    }
}
