//! The abstract value stack of the single-pass compiler.
//!
//! Each operand is a [`Val`]: its type and where it lives right now ([`Loc`]):
//! a general-purpose or XMM register, a constant not yet materialized, or its
//! *home slot* in the frame. Operand stack position `i` has a fixed home slot
//! (the validator told us the maximum height), so spilling never searches for
//! space and control-flow merges have one canonical state: every value in its
//! home slot.
//!
//! [`RegSet`] tracks which registers hold values. Every register holds at
//! most one stack value, so an operand popped from a register owns it.

use super::isa::regs::{ALLOCATABLE_GPRS, ALLOCATABLE_XMMS};
use super::isa::{Cond, Gpr, Xmm};
use crate::decode::ValType;

/// Where an operand lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loc {
    /// In a general-purpose register (integers and references). An `i32`
    /// in a register always has its upper 32 bits zero.
    Gpr(Gpr),
    /// In an XMM register (floats and vectors).
    Xmm(Xmm),
    /// A constant (the raw bits), not yet in any register.
    Const(u64),
    /// In the home slot of its stack position.
    Home,
    /// An `i32` comparison result still in the CPU flags: true when the
    /// condition holds. Only the top operand can be here, and only until the
    /// next operator, which either branches on it or materializes it.
    Flags(Cond),
    /// The value of a local pinned in this GPR, read lazily (`local.get`
    /// costs nothing): the operand does not own the register, so consumers
    /// read it and never write it, and `local.set`/`local.tee` of that
    /// local first moves such operands elsewhere.
    PinnedGpr(Gpr),
    /// The same for a local pinned in an XMM register.
    PinnedXmm(Xmm),
    /// The value of parameter `k`, unpinned and never written, read lazily
    /// from its incoming area slot (which holds it from the prologue on):
    /// `local.get` costs nothing, a consumer loads the slot, and a tail
    /// call passing it on to the same slot stores nothing. Only the stores
    /// of a tail call's arguments and of the results write the incoming
    /// area; they first load such reads of the slots they overwrite.
    Param(u32),
}

/// One operand of the value stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Val {
    /// Its WebAssembly type.
    pub ty: ValType,
    /// Where it is.
    pub loc: Loc,
}

/// [`ALLOCATABLE_GPRS`] as a mask of encodings.
const ALLOCATABLE_GPR_MASK: u16 = {
    let (mut mask, mut i) = (0u16, 0);
    while i < ALLOCATABLE_GPRS.len() {
        // In ascending order of encoding, as `free_gpr_except` assumes.
        assert!(i == 0 || ALLOCATABLE_GPRS[i - 1].enc() < ALLOCATABLE_GPRS[i].enc());
        mask |= 1 << ALLOCATABLE_GPRS[i].enc();
        i += 1;
    }
    mask
};

/// The set of registers currently holding operands, and of those pinned
/// to locals for the whole function (always taken: freeing one is a no-op,
/// so code that holds and releases an operand's register needs no special
/// case for a pinned local's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RegSet {
    gprs: u16,
    xmms: u16,
    pinned_gprs: u16,
    pinned_xmms: u16,
}

impl RegSet {
    /// Reserves `r` for a local for the whole function.
    pub fn pin_gpr(&mut self, r: Gpr) {
        self.gprs |= 1 << r.enc();
        self.pinned_gprs |= 1 << r.enc();
    }

    /// Reserves `x` for a local for the whole function.
    pub fn pin_xmm(&mut self, x: Xmm) {
        self.xmms |= 1 << x.enc();
        self.pinned_xmms |= 1 << x.enc();
    }

    /// Releases `r` from its local (it is free afterwards); the local
    /// lives in its frame slot until [`Self::pin_gpr`] takes `r` back.
    pub fn unpin_gpr(&mut self, r: Gpr) {
        self.gprs &= !(1 << r.enc());
        self.pinned_gprs &= !(1 << r.enc());
    }

    /// Marks `r` as holding a value.
    pub fn take_gpr(&mut self, r: Gpr) {
        debug_assert!(
            !self.has_gpr(r) || self.pinned_gprs & (1 << r.enc()) != 0,
            "{r:?} is already in use"
        );
        self.gprs |= 1 << r.enc();
    }

    /// Marks `r` as free (unless it is pinned).
    pub fn free_gpr(&mut self, r: Gpr) {
        self.gprs &= !(1 << r.enc()) | self.pinned_gprs;
    }

    /// True when `r` holds a value.
    pub fn has_gpr(&self, r: Gpr) -> bool {
        self.gprs & (1 << r.enc()) != 0
    }

    /// A free allocatable GPR, if any, avoiding those in `avoid`.
    /// The first in `ALLOCATABLE_GPRS`' order, which is by encoding, so
    /// the lowest bit of a mask.
    pub fn free_gpr_except(&self, avoid: &[Gpr]) -> Option<Gpr> {
        let avoid = avoid.iter().fold(0u16, |m, r| m | 1 << r.enc());
        let free = ALLOCATABLE_GPR_MASK & !self.gprs & !avoid;
        (free != 0).then(|| Gpr::from_enc(free.trailing_zeros() as u8))
    }

    /// Marks `x` as holding a value.
    pub fn take_xmm(&mut self, x: Xmm) {
        debug_assert!(
            !self.has_xmm(x) || self.pinned_xmms & (1 << x.enc()) != 0,
            "{x:?} is already in use"
        );
        self.xmms |= 1 << x.enc();
    }

    /// Marks `x` as free (unless it is pinned).
    pub fn free_xmm(&mut self, x: Xmm) {
        self.xmms &= !(1 << x.enc()) | self.pinned_xmms;
    }

    /// True when `x` holds a value.
    pub fn has_xmm(&self, x: Xmm) -> bool {
        self.xmms & (1 << x.enc()) != 0
    }

    /// A free allocatable XMM register, if any.
    pub fn any_free_xmm(&self) -> Option<Xmm> {
        ALLOCATABLE_XMMS.iter().copied().find(|&x| !self.has_xmm(x))
    }

    /// True when no register holds an operand (pinned ones aside).
    pub fn is_empty(&self) -> bool {
        self.gprs & !self.pinned_gprs == 0 && self.xmms & !self.pinned_xmms == 0
    }
}

/// True for types that live in XMM registers.
pub fn is_float(ty: ValType) -> bool {
    matches!(ty, ValType::F32 | ValType::F64 | ValType::V128)
}

#[cfg(test)]
mod tests {
    use super::super::isa::regs::{SCRATCH, SCRATCH_XMM, SCRATCH2};
    use super::*;

    #[test]
    fn allocation_skips_taken_and_avoided_registers() {
        let mut regs = RegSet::default();
        assert_eq!(regs.free_gpr_except(&[]), Some(Gpr::Rax));
        regs.take_gpr(Gpr::Rax);
        assert_eq!(regs.free_gpr_except(&[Gpr::Rcx]), Some(Gpr::Rdx));
        for r in ALLOCATABLE_GPRS {
            if !regs.has_gpr(r) {
                regs.take_gpr(r);
            }
        }
        assert_eq!(regs.free_gpr_except(&[]), None);
        regs.free_gpr(Gpr::R13);
        assert_eq!(regs.free_gpr_except(&[]), Some(Gpr::R13));
        // Registers outside the allocatable set (rsp, rbp, r10, r11) are
        // passed over.
        let mut regs = RegSet::default();
        for r in [Gpr::Rax, Gpr::Rcx, Gpr::Rdx, Gpr::Rbx] {
            regs.take_gpr(r);
        }
        assert_eq!(regs.free_gpr_except(&[]), Some(Gpr::Rsi));
        for r in [Gpr::Rsi, Gpr::Rdi, Gpr::R8] {
            regs.take_gpr(r);
        }
        assert_eq!(regs.free_gpr_except(&[Gpr::R9]), Some(Gpr::R12));
        // Scratch registers are never handed out.
        assert!(!ALLOCATABLE_GPRS.contains(&SCRATCH));
        assert!(!ALLOCATABLE_GPRS.contains(&SCRATCH2));
        assert!(!ALLOCATABLE_XMMS.contains(&SCRATCH_XMM));
    }

    #[test]
    fn xmm_allocation() {
        let mut regs = RegSet::default();
        regs.take_xmm(Xmm::Xmm0);
        assert_eq!(regs.any_free_xmm(), Some(Xmm::Xmm1));
        regs.free_xmm(Xmm::Xmm0);
        assert!(regs.is_empty());
    }
}
