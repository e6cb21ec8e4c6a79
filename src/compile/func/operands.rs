//! The operand stack of one function and the registers its operands hold.
//!
//! [`Operands`] owns the state: where each operand is (register,
//! constant, flags, home slot, pinned local), which registers are taken,
//! which operand holds each register, and the watermarks that keep finding
//! an operand of a kind linear in the stack's height. Every change of an
//! operand's place goes through it, so the register bookkeeping has one
//! owner. The backend (`x64::operands`) emits the moves: spilling, loading
//! operands into registers, and allocation that spills when no register
//! is free.

use super::super::isa::{Gpr, Xmm};
use super::super::stack::{Loc, RegSet, Val};
use crate::decode::ValType;
use alloc::vec::Vec;

/// Stack positions below which the operand stack is known to hold no
/// operand of a kind, so that finding one (an XMM register to spill, operands to
/// spill before a call, reads of a pinned local) does not walk the whole
/// stack each time: with a stack of `n` operands that would make a function
/// quadratic in its size. Each is a lower bound on where the first such
/// operand is: operands are pushed only on top (every push clamps the marks
/// to the push position), and the only operand changed in place into one of
/// these kinds is a pinned read turned into a register operand, which clamps
/// the marks at its position. The marks only move up by the stack positions
/// they pass, so each operand is passed once per push. They are read
/// directly but raised only through [`Watermarks::set`] and
/// [`Watermarks::raise_all`], which keep `high` above them all.
#[derive(Default, Clone, Copy)]
pub(crate) struct Watermarks {
    /// No operand below holds an XMM register (`Loc::Xmm`).
    pub(crate) xmm: usize,
    /// Every operand below is in its home slot.
    pub(crate) home: usize,
    /// Every operand below is in its home slot, reads a GPR-pinned local
    /// or lazily reads a parameter (what a call leaves below its
    /// arguments).
    pub(crate) call: usize,
    /// No operand below reads a pinned local.
    pub(crate) pinned: usize,
    /// At least every mark above: a push at or above it lowers none, which
    /// one comparison tells. Raised with any mark.
    high: usize,
}

impl Watermarks {
    /// Lowers every mark to at most `at`. Each push does this, and the
    /// marks are rarely above the push position: one comparison with
    /// `high` finds that none is.
    #[inline(always)]
    pub(crate) fn clamp(&mut self, at: usize) {
        if self.high > at {
            self.lower_to(at);
        }
    }

    /// [`Self::clamp`] when a mark may lie above `at`.
    #[inline(never)]
    fn lower_to(&mut self, at: usize) {
        for m in [
            &mut self.xmm,
            &mut self.home,
            &mut self.call,
            &mut self.pinned,
        ] {
            *m = (*m).min(at);
        }
        self.high = at;
    }

    /// Raises the mark `field` selects to `at`.
    pub(crate) fn set(&mut self, field: fn(&mut Watermarks) -> &mut usize, at: usize) {
        *field(self) = at;
        self.high = self.high.max(at);
    }

    /// Every operand below `at` is in its home slot.
    pub(crate) fn raise_all(&mut self, at: usize) {
        *self = Watermarks {
            xmm: at,
            home: at,
            call: at,
            pinned: at,
            high: at,
        };
    }
}

/// The operand stack of one function and the registers its operands hold.
///
/// A register is taken while an operand holds it, while a lowering holds
/// it outside the stack ([`Self::take_gpr`] .. [`Self::free_gpr`]), or for
/// the whole function when a local or the memory base is pinned in it.
pub(crate) struct Operands {
    stack: Vec<Val>,
    regs: RegSet,
    /// Per GPR (by encoding): the stack position of the operand last put
    /// in it. An entry is current only while that position still holds
    /// the register ([`Self::gpr_holder_by_enc`] checks), so pops need not
    /// clear it; finding a register's operand then costs the same however
    /// many constants and home operands lie between register operands.
    holders: [u32; 16],
    /// How far up the stack each kind of operand is known to be absent.
    pub(crate) below: Watermarks,
    /// Per GPR (by encoding): the register of the pinned local the operand
    /// in this register equals, if any. Set by `local.tee` of a pinned
    /// local (its result keeps its own register, which the next operator
    /// may overwrite, but a memory access through it is one through the
    /// local: same checked bounds); cleared when the operand leaves the
    /// register or the local changes.
    pub(crate) tee_alias: [Option<Gpr>; 16],
}

impl Default for Operands {
    fn default() -> Self {
        Operands {
            stack: Vec::new(),
            regs: RegSet::default(),
            holders: [u32::MAX; 16],
            below: Watermarks::default(),
            tee_alias: [None; 16],
        }
    }
}

impl Operands {
    /// An empty stack with no register taken, reusing `self`'s buffer.
    pub(crate) fn reset(&mut self) {
        self.stack.clear();
        self.regs = RegSet::default();
        self.holders = [u32::MAX; 16];
        self.below = Watermarks::default();
        self.tee_alias = [None; 16];
    }

    /// The number of operands.
    pub(crate) fn len(&self) -> usize {
        self.stack.len()
    }

    /// The operand at stack position `i`.
    pub(crate) fn at(&self, i: usize) -> Val {
        self.stack[i]
    }

    /// The top operand, if any.
    pub(crate) fn last(&self) -> Option<Val> {
        self.stack.last().copied()
    }

    /// The operand `depth` below the top, without popping.
    pub(crate) fn peek(&self, depth: usize) -> Val {
        self.stack[self.stack.len() - 1 - depth]
    }

    pub(crate) fn push(&mut self, ty: ValType, loc: Loc) {
        match loc {
            Loc::Gpr(r) => {
                self.regs.take_gpr(r);
                self.holders[r.enc() as usize & 15] = self.stack.len() as u32;
            }
            Loc::Xmm(x) => self.regs.take_xmm(x),
            _ => {}
        }
        self.below.clamp(self.stack.len());
        self.stack.push(Val { ty, loc });
    }

    /// [`Self::push`] of an operand that takes no register (a pinned
    /// local's, a constant), inlined: `local.get` of a pinned local is
    /// only this.
    #[inline(always)]
    pub(crate) fn push_unowned(&mut self, ty: ValType, loc: Loc) {
        debug_assert!(!matches!(loc, Loc::Gpr(_) | Loc::Xmm(_)));
        self.below.clamp(self.stack.len());
        self.stack.push(Val { ty, loc });
    }

    /// Pops an operand, releasing its register (the caller owns it now).
    pub(crate) fn pop(&mut self) -> Val {
        let v = self.stack.pop().expect("the validator guarantees operands");
        self.release(v.loc);
        v
    }

    /// Pops the top operand, which holds no register (a constant or
    /// flags), if it satisfies `is`.
    pub(crate) fn pop_if(&mut self, is: impl FnOnce(Loc) -> bool) -> Option<Val> {
        let v = *self.stack.last()?;
        if !is(v.loc) {
            return None;
        }
        debug_assert!(!matches!(v.loc, Loc::Gpr(_) | Loc::Xmm(_)));
        self.stack.pop()
    }

    /// Frees the register an operand leaving `loc` held, and forgets what
    /// it was known to equal (`tee_alias`).
    pub(crate) fn release(&mut self, loc: Loc) {
        match loc {
            Loc::Gpr(r) => {
                self.regs.free_gpr(r);
                self.tee_alias[r.enc() as usize & 15] = None;
            }
            Loc::Xmm(x) => self.regs.free_xmm(x),
            _ => {}
        }
    }

    /// Moves the operand at position `i`, which was in `from` (a register
    /// now released or about to be), to `to`.
    pub(crate) fn relocate(&mut self, i: usize, to: Loc) {
        match to {
            Loc::Gpr(r) => {
                self.regs.take_gpr(r);
                self.holders[r.enc() as usize & 15] = i as u32;
            }
            Loc::Xmm(x) => self.regs.take_xmm(x),
            _ => {}
        }
        self.stack[i].loc = to;
    }

    /// Takes `r` for a value held outside the stack (until [`Self::free_gpr`]).
    pub(crate) fn take_gpr(&mut self, r: Gpr) {
        self.regs.take_gpr(r);
    }

    pub(crate) fn free_gpr(&mut self, r: Gpr) {
        self.regs.free_gpr(r);
    }

    /// Takes `x` for a value held outside the stack (until [`Self::free_xmm`]).
    pub(crate) fn take_xmm(&mut self, x: Xmm) {
        self.regs.take_xmm(x);
    }

    pub(crate) fn free_xmm(&mut self, x: Xmm) {
        self.regs.free_xmm(x);
    }

    /// Reserves `r` for the whole function (a pinned local or base).
    pub(crate) fn pin_gpr(&mut self, r: Gpr) {
        self.regs.pin_gpr(r);
    }

    pub(crate) fn pin_xmm(&mut self, x: Xmm) {
        self.regs.pin_xmm(x);
    }

    /// Gives a pinned register back to allocation.
    pub(crate) fn unpin_gpr(&mut self, r: Gpr) {
        self.regs.unpin_gpr(r);
    }

    pub(crate) fn has_gpr(&self, r: Gpr) -> bool {
        self.regs.has_gpr(r)
    }

    /// A free GPR not in `avoid`, if any.
    pub(crate) fn free_gpr_except(&self, avoid: &[Gpr]) -> Option<Gpr> {
        self.regs.free_gpr_except(avoid)
    }

    pub(crate) fn any_free_xmm(&self) -> Option<Xmm> {
        self.regs.any_free_xmm()
    }

    /// The first stack position from `self.below.<field>` on whose operand
    /// satisfies `is`, moving that watermark up to it (every operand below
    /// fails `is`); the stack's height if none.
    pub(crate) fn first_from(
        &mut self,
        field: fn(&mut Watermarks) -> &mut usize,
        is: fn(Loc) -> bool,
    ) -> usize {
        let mut i = (*field(&mut self.below)).min(self.stack.len());
        while i < self.stack.len() && !is(self.stack[i].loc) {
            i += 1;
        }
        self.below.set(field, i);
        i
    }

    /// The stack position of the operand held in the GPR encoded `enc`,
    /// and that register, if an operand holds it.
    pub(crate) fn gpr_holder_by_enc(&self, enc: u8) -> Option<(usize, Gpr)> {
        let i = self.holders[enc as usize & 15] as usize;
        match self.stack.get(i)?.loc {
            Loc::Gpr(r) if r.enc() == enc => Some((i, r)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Watermarks;

    fn marks(w: &Watermarks) -> [usize; 4] {
        [w.xmm, w.home, w.call, w.pinned]
    }

    #[test]
    fn a_push_below_a_raised_mark_lowers_it() {
        let mut w = Watermarks::default();
        w.set(|w| &mut w.xmm, 8);
        w.set(|w| &mut w.call, 5);
        // Pushes at or above every mark change nothing.
        w.clamp(8);
        w.clamp(20);
        assert_eq!(marks(&w), [8, 0, 5, 0]);
        // A push below a mark lowers it to the push's position.
        w.clamp(6);
        assert_eq!(marks(&w), [6, 0, 5, 0]);
        w.clamp(3);
        assert_eq!(marks(&w), [3, 0, 3, 0]);
    }

    #[test]
    fn raise_all_then_clamp() {
        let mut w = Watermarks::default();
        w.raise_all(10);
        w.clamp(10);
        assert_eq!(marks(&w), [10; 4]);
        w.clamp(4);
        assert_eq!(marks(&w), [4; 4]);
        // Raised again after a clamp, a mark is lowered again.
        w.set(|w| &mut w.pinned, 9);
        w.clamp(7);
        assert_eq!(marks(&w), [4, 4, 4, 7]);
    }
}
