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

pub mod assembler;
pub mod cond;
pub mod cpu;
pub mod encode;
pub mod operand;
pub mod regs;
#[allow(missing_docs)] // the constants are named after the instructions' mnemonics
pub mod sse;

pub use assembler::{AluOp, AsmError, Assembler, Code, Reloc, RelocKind, ShiftOp, UnaryOp};
pub use cond::Cond;
pub use cpu::CpuFeatures;
pub use operand::{Label, Mem, Scale};
pub use regs::{Gpr, Size, Xmm};
pub use sse::{RoundMode, SseOp, SsePrefix, XmmShift};
