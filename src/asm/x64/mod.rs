//! The x86-64 assembler. It knows machine instructions only, nothing about
//! WebAssembly.
//!
//! - [`regs`]: register names ([`Gpr`], [`Xmm`]) and operand sizes ([`Size`]);
//! - [`operand`]: memory operands ([`Mem`]) and [`Label`]s;
//! - [`cond`]: condition codes ([`Cond`]);
//! - [`encode`]: REX/ModRM/SIB/displacement bytes of one instruction;
//! - [`sse`]: SSE encodings as data ([`SseOp`], [`XmmShift`]);
//! - [`assembler`]: the [`Assembler`] with labels, fix-ups and relocations;
//! - [`cpu`]: CPU feature detection ([`CpuFeatures`]).

#[cfg(feature = "compiler")]
pub mod assembler;
#[cfg(feature = "compiler")]
pub mod cond;
pub mod cpu;
#[cfg(feature = "compiler")]
pub mod encode;
#[cfg(feature = "compiler")]
pub mod operand;
#[cfg(feature = "compiler")]
pub mod regs;
#[cfg(feature = "compiler")]
#[allow(missing_docs)] // the constants are named after the instructions' mnemonics
#[cfg(feature = "compiler")]
pub mod sse;

#[cfg(feature = "compiler")]
pub use assembler::{
    AluOp, AsmError, AsmMark, Assembler, Code, Reloc, RelocKind, ShiftOp, UnaryOp,
};
#[cfg(feature = "compiler")]
pub use cond::Cond;
pub use cpu::CpuFeatures;
#[cfg(feature = "compiler")]
pub use operand::{Label, Mem, Scale};
#[cfg(feature = "compiler")]
pub use regs::{Gpr, Size, Xmm};
#[cfg(feature = "compiler")]
pub use sse::{RoundMode, SseOp, SsePrefix, XmmShift};
