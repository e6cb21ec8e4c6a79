//! The operand stack and register allocation of one function.
//!
//! [`Operands`] owns the state: where each operand is (register,
//! constant, flags, home slot, pinned local), which registers are taken,
//! which operand holds each register, and the watermarks that keep finding
//! an operand of a kind linear in the stack's height. Every change of an
//! operand's place goes through it, so the register bookkeeping has one
//! owner. The `FuncCompiler` methods below it emit the moves: spilling,
//! loading operands into registers, and allocation that spills when no
//! register is free.

use super::super::stack::{Loc, RegSet, SCRATCH, SCRATCH_XMM, Val};
use super::*;
use crate::asm::x64::{Gpr, Mem, Size, SseOp, Xmm};
use crate::decode::ValType;

/// Stack positions below which the operand stack is known to hold no
/// operand of a kind, so that finding one (an XMM register to spill, operands to
/// spill before a call, reads of a pinned local) does not walk the whole
/// stack each time: with a stack of `n` operands that would make a function
/// quadratic in its size. Each is a lower bound on where the first such
/// operand is: operands are pushed only on top (every push clamps the marks
/// to the push position), and the only operand changed in place into one of
/// these kinds is a pinned read turned into a register operand, which clamps
/// the marks at its position. The marks only move up by the stack positions
/// they pass, so each operand is passed once per push.
#[derive(Default, Clone, Copy)]
pub(super) struct Watermarks {
    /// No operand below holds an XMM register (`Loc::Xmm`).
    pub(super) xmm: usize,
    /// Every operand below is in its home slot.
    pub(super) home: usize,
    /// Every operand below is in its home slot or reads a GPR-pinned local
    /// (what a call leaves below its arguments).
    pub(super) call: usize,
    /// No operand below reads a pinned local.
    pub(super) pinned: usize,
}

impl Watermarks {
    /// Lowers every mark to at most `at`.
    fn clamp(&mut self, at: usize) {
        for m in [
            &mut self.xmm,
            &mut self.home,
            &mut self.call,
            &mut self.pinned,
        ] {
            *m = (*m).min(at);
        }
    }

    /// Every operand below `at` is in its home slot.
    fn raise_all(&mut self, at: usize) {
        *self = Watermarks {
            xmm: at,
            home: at,
            call: at,
            pinned: at,
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
    pub(super) below: Watermarks,
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
    pub(super) fn reset(&mut self) {
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
    pub(super) fn release(&mut self, loc: Loc) {
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
    fn relocate(&mut self, i: usize, to: Loc) {
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
    pub(super) fn pin_gpr(&mut self, r: Gpr) {
        self.regs.pin_gpr(r);
    }

    pub(super) fn pin_xmm(&mut self, x: Xmm) {
        self.regs.pin_xmm(x);
    }

    /// Gives a pinned register back to allocation.
    pub(super) fn unpin_gpr(&mut self, r: Gpr) {
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
    pub(super) fn first_from(
        &mut self,
        field: fn(&mut Watermarks) -> &mut usize,
        is: fn(Loc) -> bool,
    ) -> usize {
        let mut i = (*field(&mut self.below)).min(self.stack.len());
        while i < self.stack.len() && !is(self.stack[i].loc) {
            i += 1;
        }
        *field(&mut self.below) = i;
        i
    }

    /// The stack position of the operand held in the GPR encoded `enc`,
    /// and that register, if an operand holds it.
    pub(super) fn gpr_holder_by_enc(&self, enc: u8) -> Option<(usize, Gpr)> {
        let i = self.holders[enc as usize & 15] as usize;
        match self.stack.get(i)?.loc {
            Loc::Gpr(r) if r.enc() == enc => Some((i, r)),
            _ => None,
        }
    }
}

impl<'e, 'm, 'a> FuncCompiler<'e, 'm, 'a> {
    /// The home slot of stack position `i`.
    pub(crate) fn home(&self, i: usize) -> Mem {
        self.frame.home(i)
    }

    pub(crate) fn push(&mut self, ty: ValType, loc: Loc) {
        self.ops.push(ty, loc);
    }

    pub(crate) fn push_gpr(&mut self, ty: ValType, r: Gpr) {
        self.push(ty, Loc::Gpr(r));
    }

    pub(crate) fn push_xmm(&mut self, ty: ValType, x: Xmm) {
        self.push(ty, Loc::Xmm(x));
    }

    /// Pops an operand, releasing its register (the caller owns it now).
    pub(crate) fn pop(&mut self) -> Val {
        self.ops.pop()
    }

    /// The operand `depth` below the top, without popping.
    pub(crate) fn peek(&self, depth: usize) -> Val {
        self.ops.peek(depth)
    }

    /// Turns a comparison held in the flags into a 0/1 register value.
    pub(crate) fn materialize_flags(&mut self) {
        let Some(Val {
            loc: Loc::Flags(cond),
            ty,
        }) = self.ops.pop_if(|l| matches!(l, Loc::Flags(_)))
        else {
            return;
        };
        let r = self.alloc_gpr();
        self.a.setcc(cond, r);
        self.a.movzx_rr(Size::S32, Size::S8, r, r);
        self.push_gpr(ty, r);
    }

    /// Stores `v` (at stack position `i`) into its home slot.
    pub(super) fn store_home(&mut self, i: usize, v: Val) {
        let home = self.home(i);
        self.store_val(home, v);
    }

    /// Stores the value `v` into memory at `dst` (8 bytes, 16 for v128).
    pub(crate) fn store_val(&mut self, dst: Mem, v: Val) {
        match v.loc {
            Loc::Gpr(r) | Loc::PinnedGpr(r) => self.a.mov_mr(Size::S64, dst, r),
            Loc::Xmm(x) | Loc::PinnedXmm(x) => {
                let op = if v.ty == ValType::V128 {
                    SseOp::MOVDQU_STORE
                } else {
                    SseOp::MOVSD_STORE
                };
                self.a.sse_mr(op, dst, x);
            }
            Loc::Const(bits) => {
                if let Ok(imm) = i32::try_from(bits as i64) {
                    self.a.mov_mi(Size::S64, dst, imm);
                } else {
                    self.a.mov_ri(Size::S64, SCRATCH, bits as i64);
                    self.a.mov_mr(Size::S64, dst, SCRATCH);
                }
            }
            Loc::Home | Loc::Flags(_) => unreachable!("store_val of a value in memory or flags"),
        }
    }

    /// Copies a value of type `ty` between two memory places (through the
    /// scratch registers): 16 bytes for `v128`, 8 otherwise.
    pub(super) fn copy_mem(&mut self, dst: Mem, src: Mem, ty: ValType) {
        if ty == ValType::V128 {
            self.a.sse_rm(SseOp::MOVDQU, SCRATCH_XMM, src);
            self.a.sse_mr(SseOp::MOVDQU_STORE, dst, SCRATCH_XMM);
        } else {
            self.a.mov_rm(Size::S64, SCRATCH, src);
            self.a.mov_mr(Size::S64, dst, SCRATCH);
        }
    }

    /// Stores the operand at stack position `pos` to `dst`, wherever it is
    /// (register, constant or home slot); the operand stays on the stack.
    pub(crate) fn store_operand(&mut self, dst: Mem, pos: usize) {
        self.store_at(dst, self.ops.at(pos), pos);
    }

    /// Stores `v`, the operand of stack position `pos`, to `dst`.
    pub(super) fn store_at(&mut self, dst: Mem, v: Val, pos: usize) {
        match v.loc {
            Loc::Home => {
                let src = self.home(pos);
                self.copy_mem(dst, src, v.ty);
            }
            _ => self.store_val(dst, v),
        }
    }

    /// Moves the operand at position `i` to its home slot.
    pub(super) fn spill_at(&mut self, i: usize) {
        let v = self.ops.at(i);
        if v.loc == Loc::Home {
            return;
        }
        self.store_home(i, v);
        self.ops.release(v.loc);
        self.ops.relocate(i, Loc::Home);
    }

    /// Moves every operand to its home slot (the merge state).
    pub(crate) fn spill_all(&mut self) {
        let height = self.ops.len();
        let from = self.ops.below.home.min(height);
        for i in from..height {
            self.spill_at(i);
        }
        self.ops.below.raise_all(height);
    }

    /// A free GPR, spilling the deepest register operand if none is free.
    pub(crate) fn alloc_gpr(&mut self) -> Gpr {
        self.alloc_gpr_except(&[])
    }

    pub(crate) fn alloc_gpr_except(&mut self, avoid: &[Gpr]) -> Gpr {
        if let Some(r) = self.ops.free_gpr_except(avoid) {
            return r;
        }
        // The deepest operand in a register not in `avoid`.
        let (victim, r) = (0..16u8)
            .filter_map(|enc| self.ops.gpr_holder_by_enc(enc))
            .filter(|(_, r)| !avoid.contains(r))
            .min_by_key(|&(i, _)| i)
            .expect("some operand holds a register when none is free");
        self.spill_at(victim);
        r
    }

    /// A free XMM register, spilling if needed.
    pub(crate) fn alloc_xmm(&mut self) -> Xmm {
        if let Some(x) = self.ops.any_free_xmm() {
            return x;
        }
        let victim = self
            .ops
            .first_from(|w| &mut w.xmm, |l| matches!(l, Loc::Xmm(_)));
        assert!(
            victim < self.ops.len(),
            "some operand holds an XMM register when none is free"
        );
        let Loc::Xmm(x) = self.ops.at(victim).loc else {
            unreachable!()
        };
        self.spill_at(victim);
        x
    }

    /// Frees `r` if an operand holds it, by moving that operand elsewhere.
    pub(crate) fn evict_gpr(&mut self, r: Gpr, avoid: &[Gpr]) {
        if !self.ops.has_gpr(r) {
            return;
        }
        let (i, _) = self
            .ops
            .gpr_holder_by_enc(r.enc())
            .expect("a taken register belongs to an operand");
        let mut avoid_all: [Gpr; 4] = [r; 4];
        for (k, &g) in avoid.iter().take(3).enumerate() {
            avoid_all[k + 1] = g;
        }
        if let Some(to) = self.ops.free_gpr_except(&avoid_all) {
            self.a.mov_rr(Size::S64, to, r);
            self.ops.free_gpr(r);
            self.ops.relocate(i, Loc::Gpr(to));
            self.ops.tee_alias[to.enc() as usize & 15] =
                core::mem::take(&mut self.ops.tee_alias[r.enc() as usize & 15]);
        } else {
            self.spill_at(i);
        }
    }

    /// Loads the value `v` (popped from position `pos`) into GPR `r`.
    pub(super) fn load_gpr(&mut self, r: Gpr, v: Val, pos: usize) {
        match v.loc {
            Loc::Gpr(src) | Loc::PinnedGpr(src) => {
                if src != r {
                    self.a.mov_rr(Size::S64, r, src);
                }
            }
            Loc::Const(bits) => self.a.mov_ri(Size::S64, r, bits as i64),
            Loc::Home => {
                let size = if v.ty == ValType::I32 {
                    Size::S32
                } else {
                    Size::S64
                };
                let home = self.home(pos);
                self.a.mov_rm(size, r, home);
            }
            Loc::Xmm(_) | Loc::PinnedXmm(_) | Loc::Flags(_) => {
                unreachable!("integer operand in an XMM register or flags")
            }
        }
    }

    /// Pops an integer or reference operand into a register it owns.
    pub(crate) fn pop_gpr(&mut self) -> Gpr {
        let pos = self.ops.len() - 1;
        let v = self.pop();
        if let Loc::Gpr(r) = v.loc {
            return r;
        }
        let r = self.alloc_gpr();
        self.load_gpr(r, v, pos);
        r
    }

    /// Pops an integer or reference operand into a register the caller
    /// may only read: a pinned local's own register, or one it owns (as
    /// [`Self::pop_gpr`]). Holding it with `regs.take_gpr` and releasing it
    /// with `regs.free_gpr` is safe either way.
    pub(crate) fn pop_gpr_read(&mut self) -> Gpr {
        if let Loc::PinnedGpr(pin) = self.peek(0).loc {
            self.pop();
            return pin;
        }
        self.pop_gpr()
    }

    /// [`Self::pop_gpr_read`] for float and vector operands.
    pub(crate) fn pop_xmm_read(&mut self) -> Xmm {
        if let Loc::PinnedXmm(pin) = self.peek(0).loc {
            self.pop();
            return pin;
        }
        self.pop_xmm()
    }

    /// Moves every operand that reads the local pinned in `pin` off it,
    /// before the local changes.
    pub(super) fn detach_pinned(&mut self, pin: Loc) {
        if let Loc::PinnedGpr(p) = pin {
            for alias in &mut self.ops.tee_alias {
                if *alias == Some(p) {
                    *alias = None;
                }
            }
        }
        let from = self.ops.first_from(
            |w| &mut w.pinned,
            |l| matches!(l, Loc::PinnedGpr(_) | Loc::PinnedXmm(_)),
        );
        for i in from..self.ops.len() {
            if self.ops.at(i).loc != pin {
                continue;
            }
            // A read of a pinned local becomes a register operand, which
            // the register and call watermarks may have passed.
            self.ops.below.clamp(i);
            match pin {
                Loc::PinnedGpr(p) => match self.ops.free_gpr_except(&[]) {
                    Some(r) => {
                        self.a.mov_rr(Size::S64, r, p);
                        self.ops.relocate(i, Loc::Gpr(r));
                    }
                    None => self.spill_at(i),
                },
                Loc::PinnedXmm(p) => match self.ops.any_free_xmm() {
                    Some(x) => {
                        self.a.sse_rr(SseOp::MOVAPS, x, p);
                        self.ops.relocate(i, Loc::Xmm(x));
                    }
                    None => self.spill_at(i),
                },
                _ => {}
            }
        }
    }

    /// Pops into a specific GPR (evicting its current holder).
    pub(crate) fn pop_into_gpr(&mut self, r: Gpr, avoid: &[Gpr]) {
        let pos = self.ops.len() - 1;
        let v = self.pop();
        if v.loc == Loc::Gpr(r) {
            return;
        }
        // Hold the operand's own register while `r`'s occupant moves out,
        // or the eviction could move it there and overwrite the operand.
        if let Loc::Gpr(own) = v.loc {
            self.ops.take_gpr(own);
            self.evict_gpr(r, avoid);
            self.ops.free_gpr(own);
        } else {
            self.evict_gpr(r, avoid);
        }
        self.load_gpr(r, v, pos);
    }

    /// Loads the float or vector value `v` (at position `pos`, not
    /// popped) into `x`.
    pub(super) fn load_xmm(&mut self, x: Xmm, v: Val, pos: usize) {
        match v.loc {
            Loc::Xmm(src) | Loc::PinnedXmm(src) => {
                if src != x {
                    self.a.sse_rr(SseOp::MOVAPS, x, src);
                }
            }
            Loc::Const(bits) => self.load_const_xmm(x, v.ty, bits),
            Loc::Home => {
                let home = self.home(pos);
                self.a.sse_rm(load_op(v.ty), x, home);
            }
            Loc::Gpr(_) | Loc::PinnedGpr(_) | Loc::Flags(_) => {
                unreachable!("float operand in a GPR or flags")
            }
        }
    }

    /// Pops a float or vector operand into an XMM register it owns.
    pub(crate) fn pop_xmm(&mut self) -> Xmm {
        let pos = self.ops.len() - 1;
        let v = self.pop();
        if let Loc::Xmm(x) = v.loc {
            return x;
        }
        let x = self.alloc_xmm();
        self.load_xmm(x, v, pos);
        x
    }

    /// Materializes a float constant in `x`.
    pub(crate) fn load_const_xmm(&mut self, x: Xmm, ty: ValType, bits: u64) {
        if bits == 0 {
            self.a.sse_rr(SseOp::XORPS, x, x);
        } else if ty == ValType::F32 {
            self.a.mov_ri(Size::S32, SCRATCH, bits as u32 as i64);
            self.a.movd_xr(x, SCRATCH);
        } else {
            self.a.mov_ri(Size::S64, SCRATCH, bits as i64);
            self.a.movq_xr(x, SCRATCH);
        }
    }

    /// Pops an operand that is a constant, if it is one.
    pub(crate) fn pop_const(&mut self) -> Option<u64> {
        match self.ops.pop_if(|l| matches!(l, Loc::Const(_)))?.loc {
            Loc::Const(bits) => Some(bits),
            _ => None,
        }
    }

    /// Pops an operand known to be an `i32` constant that fits an immediate.
    pub(crate) fn pop_imm32(&mut self, ty: ValType) -> Option<i32> {
        let Loc::Const(bits) = self.ops.last()?.loc else {
            return None;
        };
        let imm = if ty == ValType::I32 {
            bits as u32 as i32
        } else {
            i32::try_from(bits as i64).ok()?
        };
        self.ops.pop();
        Some(imm)
    }
}
