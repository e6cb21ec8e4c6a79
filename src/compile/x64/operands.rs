//! Operand moves on x86-64: spilling operands to their home slots,
//! loading them into registers, and register allocation that spills when
//! no register is free, keeping the operand stack's state ([`Operands`])
//! current.

use super::regs::{SCRATCH, SCRATCH_XMM};
use super::*;
use crate::asm::x64::{Cond, Gpr, Mem, Size, SseOp, Xmm};
use crate::compile::func::*;
use crate::compile::stack::{Loc, Val, is_float};
use crate::decode::ValType;

impl<'e, 'm, 'a> FuncCompiler<'e, 'm, 'a> {
    /// The home slot of stack position `i`.
    pub(crate) fn home(&self, i: usize) -> Mem {
        self.frame.slot_at(self.frame.home(i))
    }

    /// The slot of local `k` (for a [`Loc::Param`] read, its incoming area
    /// slot).
    pub(crate) fn local_slot(&self, k: u32) -> Mem {
        self.frame.slot_at(self.frame.locals[k as usize].offset)
    }

    /// Where an operand at position `pos` that lives in memory (`loc` is
    /// [`Loc::Home`] or [`Loc::Param`]) is read from.
    fn memory_operand(&self, loc: Loc, pos: usize) -> Mem {
        match loc {
            Loc::Param(k) => self.local_slot(k),
            _ => self.home(pos),
        }
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
    pub(crate) fn store_home(&mut self, i: usize, v: Val) {
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
            Loc::Param(k) => {
                let src = self.local_slot(k);
                self.copy_mem(dst, src, v.ty);
            }
            Loc::Home | Loc::Flags(_) => unreachable!("store_val of a value in memory or flags"),
        }
    }

    /// Copies a value of type `ty` between two memory places (through the
    /// scratch registers): 16 bytes for `v128`, 8 otherwise.
    pub(crate) fn copy_mem(&mut self, dst: Mem, src: Mem, ty: ValType) {
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
    pub(crate) fn store_at(&mut self, dst: Mem, v: Val, pos: usize) {
        match v.loc {
            Loc::Home => {
                let src = self.home(pos);
                self.copy_mem(dst, src, v.ty);
            }
            _ => self.store_val(dst, v),
        }
    }

    /// Moves the operand at position `i` to its home slot.
    pub(crate) fn spill_at(&mut self, i: usize) {
        let v = self.ops.at(i);
        if v.loc == Loc::Home {
            return;
        }
        self.store_home(i, v);
        self.ops.release(v.loc);
        self.ops.relocate(i, Loc::Home);
    }

    /// Whether the operand at position `pos` is a lazy read of the slot at
    /// `rbp + at` (a store of it there would write what the slot holds).
    pub(crate) fn reads_slot(&self, pos: usize, at: i32) -> bool {
        matches!(self.ops.at(pos).loc, Loc::Param(k) if self.frame.locals[k as usize].offset == at)
    }

    /// Loads the operand at position `pos` into a register (or, if none is
    /// free, its home slot) if it is a lazy read of a parameter whose slot
    /// overlaps the bytes `[lo, hi)` above `rbp`, which are about to be
    /// overwritten (see [`Loc::Param`]).
    pub(crate) fn load_param_read_in(&mut self, pos: usize, lo: i32, hi: i32) {
        let v = self.ops.at(pos);
        let Loc::Param(k) = v.loc else {
            return;
        };
        let at = self.frame.locals[k as usize].offset;
        if at + crate::abi::slot_size(v.ty) as i32 <= lo || at >= hi {
            return;
        }
        // The operand becomes a register operand in place, which the
        // watermarks may have passed.
        self.ops.below.clamp(pos);
        if is_float(v.ty) {
            match self.ops.any_free_xmm() {
                Some(x) => {
                    self.load_xmm(x, v, pos);
                    self.ops.relocate(pos, Loc::Xmm(x));
                }
                None => self.spill_at(pos),
            }
        } else {
            match self.ops.free_gpr_except(&[]) {
                Some(r) => {
                    self.load_gpr(r, v, pos);
                    self.ops.relocate(pos, Loc::Gpr(r));
                }
                None => self.spill_at(pos),
            }
        }
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

    /// [`Self::alloc_gpr`], avoiding the registers in `avoid`.
    ///
    /// Inlined: taking a free register is a few mask operations; spilling
    /// to free one is out of line ([`Self::spill_for_gpr`]).
    #[inline]
    pub(crate) fn alloc_gpr_except(&mut self, avoid: &[Gpr]) -> Gpr {
        if let Some(r) = self.ops.free_gpr_except(avoid) {
            return r;
        }
        self.spill_for_gpr(avoid)
    }

    /// Frees a register not in `avoid` by spilling the deepest operand in
    /// one, and returns it.
    #[inline(never)]
    fn spill_for_gpr(&mut self, avoid: &[Gpr]) -> Gpr {
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
    pub(crate) fn load_gpr(&mut self, r: Gpr, v: Val, pos: usize) {
        match v.loc {
            Loc::Gpr(src) | Loc::PinnedGpr(src) => {
                if src != r {
                    self.a.mov_rr(Size::S64, r, src);
                }
            }
            Loc::Const(bits) => self.a.mov_ri(Size::S64, r, bits as i64),
            Loc::Home | Loc::Param(_) => {
                let size = if v.ty == ValType::I32 {
                    Size::S32
                } else {
                    Size::S64
                };
                let at = self.memory_operand(v.loc, pos);
                self.a.mov_rm(size, r, at);
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
    ///
    /// Inlined: a pinned local, the common case, is only a pop; any other
    /// operand takes the out-of-line [`Self::pop_gpr`].
    #[inline]
    pub(crate) fn pop_gpr_read(&mut self) -> Gpr {
        if let Loc::PinnedGpr(pin) = self.peek(0).loc {
            self.pop();
            return pin;
        }
        self.pop_gpr_out_of_line()
    }

    #[inline(never)]
    fn pop_gpr_out_of_line(&mut self) -> Gpr {
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
    pub(crate) fn detach_pinned(&mut self, pin: Loc) {
        if let Loc::PinnedGpr(p) = pin {
            // A select rather than a branch per entry: the loop becomes a
            // few vector instructions.
            for alias in &mut self.ops.tee_alias {
                *alias = if *alias == Some(p) { None } else { *alias };
            }
        }
        let from = self.ops.first_from(
            |w| &mut w.pinned,
            |l| matches!(l, Loc::PinnedGpr(_) | Loc::PinnedXmm(_)),
        );
        if from < self.ops.len() {
            self.detach_pinned_from(pin, from);
        }
    }

    /// [`Self::detach_pinned`] of the operands from stack position `from`
    /// on. Out of line: most writes to a local find no read of a pinned
    /// local on the stack, and return without this loop's registers.
    #[inline(never)]
    fn detach_pinned_from(&mut self, pin: Loc, from: usize) {
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
    pub(crate) fn load_xmm(&mut self, x: Xmm, v: Val, pos: usize) {
        match v.loc {
            Loc::Xmm(src) | Loc::PinnedXmm(src) => {
                if src != x {
                    self.a.sse_rr(SseOp::MOVAPS, x, src);
                }
            }
            Loc::Const(bits) => self.load_const_xmm(x, v.ty, bits),
            Loc::Home | Loc::Param(_) => {
                let at = self.memory_operand(v.loc, pos);
                self.a.sse_rm(load_op(v.ty), x, at);
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

    /// Materializes a float constant in `x`: zero by `xorps`, any other
    /// value by one load from the function's constant pool.
    pub(crate) fn load_const_xmm(&mut self, x: Xmm, ty: ValType, bits: u64) {
        if bits == 0 {
            self.a.sse_rr(SseOp::XORPS, x, x);
        } else {
            let at = self.float_const(ty, bits);
            self.a.sse_rm(load_op(ty), x, at);
        }
    }

    /// The address of float constant `bits` of type `ty` in the
    /// function's constant pool, the rest of its 16 bytes zero.
    pub(crate) fn float_const(&mut self, ty: ValType, bits: u64) -> Mem {
        let bits = if ty == ValType::F32 {
            u128::from(bits as u32)
        } else {
            u128::from(bits)
        };
        self.pool_const(bits.to_le_bytes())
    }

    /// Pops an operand that is a constant, if it is one.
    pub(crate) fn pop_const(&mut self) -> Option<u64> {
        match self.ops.pop_if(|l| matches!(l, Loc::Const(_)))?.loc {
            Loc::Const(bits) => Some(bits),
            _ => None,
        }
    }

    /// Pops the top operand if it is an `i64` constant that no immediate
    /// holds and only a 10-byte `movabs` could load (neither a
    /// sign-extended nor a zero-extended 32-bit value), and returns its
    /// address in the function's constant pool: an ALU operation, a
    /// multiplication or a comparison reads it from there, one instruction
    /// instead of a `movabs` and the operation, in 7 bytes instead of 13
    /// or more. Hash loops multiply and add such constants in every round.
    /// Its callers try it where [`Self::pop_imm32`] found no immediate.
    pub(crate) fn pop_pooled_i64(&mut self, ty: ValType) -> Option<Mem> {
        let Loc::Const(bits) = self.ops.last()?.loc else {
            return None;
        };
        if ty != ValType::I64 || i32::try_from(bits as i64).is_ok() || u32::try_from(bits).is_ok() {
            return None;
        }
        self.ops.pop();
        Some(self.pool_const(u128::from(bits).to_le_bytes()))
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

    /// `select`: the first operand if the condition is non-zero, else the
    /// second, without a branch for integers.
    ///
    /// A condition still in the flags (a comparison just before) is used
    /// as it is: the cmov or branch tests its condition directly, with no
    /// `setcc`/`test`. Nothing between the comparison and that test may
    /// write the flags, and nothing does: loading the two value operands
    /// (`mov` of registers, memory and immediates — `mov_ri` never uses the
    /// `xor r, r` form — `movaps`, `movss`/`movsd`, and `xorps x, x` for a
    /// float zero, an SSE logical operation) and spilling to free a
    /// register leave the flags alone.
    ///
    /// The integer select only reads its second operand (the cmov's
    /// source), so a pinned local there is used in its own register.
    pub(crate) fn op_select(&mut self) {
        // `select` is true (takes the first operand) when `take_first`
        // holds after the test.
        // A condition in a register is tested after both value operands
        // are loaded, as one in the flags is.
        let (take_first, tested) = match self.ops.pop_if(|l| matches!(l, Loc::Flags(_))) {
            Some(Val {
                loc: Loc::Flags(cond),
                ..
            }) => (cond, None),
            _ => {
                let cond = self.pop_gpr();
                self.ops.take_gpr(cond);
                (Cond::Ne, Some(cond))
            }
        };
        let ty = self.peek(0).ty;
        if is_float(ty) {
            let b = self.pop_xmm();
            self.ops.take_xmm(b);
            let a = self.pop_xmm();
            self.ops.free_xmm(b);
            self.test_select_condition(tested);
            self.select_tested(ty, take_first, a, b);
        } else {
            let b = self.pop_gpr_read();
            self.ops.take_gpr(b);
            let a = self.pop_gpr();
            self.ops.free_gpr(b);
            self.test_select_condition(tested);
            self.cmov_tested(ty, take_first, a, b);
        }
    }

    /// Sets the flags from a `select` condition held in a register (and
    /// frees it); a condition already in the flags has none.
    fn test_select_condition(&mut self, cond: Option<Gpr>) {
        if let Some(cond) = cond {
            self.ops.free_gpr(cond);
            self.a.test_rr(Size::S32, cond, cond);
        }
    }

    /// The integer `select` once the flags are set: `a` (owned) becomes
    /// `b` unless `take_first` holds, and is pushed.
    fn cmov_tested(&mut self, ty: ValType, take_first: Cond, a: Gpr, b: Gpr) {
        let size = if ty == ValType::I32 {
            Size::S32
        } else {
            Size::S64
        };
        self.a.cmov_rr(take_first.invert(), size, a, b);
        self.push_gpr(ty, a);
    }

    /// The float or vector `select` once the flags are set: a branch over
    /// the copy of `b` into `a` (owned), which is pushed.
    fn select_tested(&mut self, ty: ValType, take_first: Cond, a: Xmm, b: Xmm) {
        let done = self.a.new_label();
        self.a.jcc(take_first, done);
        self.a.sse_rr(SseOp::MOVAPS, a, b);
        self.a.bind(done);
        self.push_xmm(ty, a);
    }
}
