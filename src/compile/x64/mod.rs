//! The x86-64 backend: everything the compiler emits, as `impl` blocks of
//! [`FuncCompiler`](super::func::FuncCompiler) over the function's state
//! (`super::func`), and the stubs.
//!
//! - `lower`: the dispatch, one exhaustive `match` over the operators;
//! - [`masm`]: the macro assembler: the peephole and the code sites the
//!   runtime reads (trap exits, call sites, fault sites);
//! - `regs`: the allocatable and scratch registers;
//! - `operands`: spills, loads and register allocation;
//! - `frame`: the pin registers, prologue, epilogue, fuel checkpoints and
//!   the function's end;
//! - `control`: merges, branches, returns, `br_table`, blocks and `if`s;
//! - `calls`: calls, tables and exits to the host;
//! - `tail`: tail calls (`return_call`, `return_call_indirect`);
//! - `variables`: locals and globals;
//! - `stubs`: the engine's entry and exit stubs and the module's trap
//!   stubs;
//! - `numeric`: integer and float arithmetic, comparisons, conversions;
//! - `memory`: loads, stores, bounds checks, guard-region accesses,
//!   `memory.size` and `memory.grow`;
//! - `memories`: the same for the memories other than a 32-bit memory 0
//!   (multi-memory, memory64), always with explicit bounds checks;
//! - `bulk`: tables and bulk memory;
//! - `simd`: the 128-bit vector operators over SSE4.1;
//! - `relaxed_simd`: the relaxed-SIMD proposal's operators, one fixed
//!   choice each;
//! - `wide`: the wide-arithmetic proposal's 128-bit operators;
//! - `refs`: typed function references (`call_ref`, the null checks and
//!   branches);
//! - `exceptions`: `throw`, `throw_ref`, `try_table`, landing pads and
//!   handler sites.
//!
//! It exports the names the rest of the compiler uses through `isa`:
//! `Gpr`, `Xmm`, `Cond`, `Label`, `Assembler`, `Code`, `CpuFeatures`, and
//! the modules above.

pub(crate) mod bulk;
pub(crate) mod calls;
pub(crate) mod control;
pub(crate) mod exceptions;
pub(crate) mod frame;
pub(crate) mod lower;
pub(crate) mod masm;
pub(crate) mod memories;
pub(crate) mod memory;
pub(crate) mod numeric;
pub(crate) mod operands;
pub(crate) mod refs;
pub(crate) mod regs;
pub(crate) mod relaxed_simd;
pub(crate) mod simd;
pub(crate) mod stubs;
pub(crate) mod tail;
pub(crate) mod variables;
pub(crate) mod wide;

use crate::abi::VmContext;
pub(crate) use crate::asm::x64::{Assembler, Code, Cond, CpuFeatures, Gpr, Label, Xmm};
use crate::asm::x64::{Mem, SseOp};
use crate::decode::ValType;
use core::mem::offset_of;
use regs::ALLOCATABLE_GPRS;

/// `Mem` for a field of the `VmContext` in `r15`.
pub(crate) fn vmctx(offset: usize) -> Mem {
    Mem::base(Gpr::R15, offset as i32)
}

/// `VmContext::memory_last[k]`: the last address where an access of `2^k`
/// bytes fits.
pub(crate) fn memory_last_field(k: u32) -> Mem {
    vmctx(offset_of!(VmContext, memory_last) + 8 * k as usize)
}

/// The SSE load for a float or vector type.
pub(crate) fn load_op(ty: ValType) -> SseOp {
    match ty {
        ValType::F32 => SseOp::MOVSS,
        ValType::F64 => SseOp::MOVSD,
        _ => SseOp::MOVDQU,
    }
}

/// The SSE store for a float or vector type.
pub(crate) fn store_op(ty: ValType) -> SseOp {
    match ty {
        ValType::F32 => SseOp::MOVSS_STORE,
        ValType::F64 => SseOp::MOVSD_STORE,
        _ => SseOp::MOVDQU_STORE,
    }
}

// `r15` holds the `VmContext` for the whole function: never allocatable.
const _: () = {
    let mut i = 0;
    while i < ALLOCATABLE_GPRS.len() {
        assert!(ALLOCATABLE_GPRS[i].enc() != Gpr::R15.enc());
        i += 1;
    }
};
