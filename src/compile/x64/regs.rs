//! The x86-64 register file as the compiler uses it: which registers the
//! allocator hands out and which are the code generator's scratch
//! registers (pin registers are `super::frame`'s).

use crate::asm::x64::{Gpr, Xmm};

/// Registers the allocator may hand out. `r10` and `r11` are scratch
/// registers of the code generator, `r15` holds the `VmContext`, `rbp` the
/// frame and `rsp` the stack.
pub const ALLOCATABLE_GPRS: [Gpr; 11] = [
    Gpr::Rax,
    Gpr::Rcx,
    Gpr::Rdx,
    Gpr::Rbx,
    Gpr::Rsi,
    Gpr::Rdi,
    Gpr::R8,
    Gpr::R9,
    Gpr::R12,
    Gpr::R13,
    Gpr::R14,
];

/// First scratch GPR (never allocated).
pub const SCRATCH: Gpr = Gpr::R11;

/// Second scratch GPR (never allocated).
pub const SCRATCH2: Gpr = Gpr::R10;

/// XMM registers the allocator may hand out; `xmm15` is scratch.
pub const ALLOCATABLE_XMMS: [Xmm; 15] = [
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
];

/// Scratch XMM register (never allocated).
pub const SCRATCH_XMM: Xmm = Xmm::Xmm15;
