//! Lowering of the numeric operators: integer and float arithmetic,
//! comparisons, conversions (trapping and saturating), sign extension.

use super::super::func::FuncCompiler;
use super::super::stack::{Loc, Val};
use super::masm::{Addend, CmpOperand, scale_of_shift};
use super::regs::{SCRATCH, SCRATCH_XMM, SCRATCH2};
use crate::abi::TrapCode;
use crate::asm::x64::{
    AluOp, Cond, Gpr, Mem, RoundMode, Scale, ShiftOp, Size, SseOp, UnaryOp, Xmm,
};
use crate::decode::ValType;

pub(in crate::compile) fn int_size(ty: ValType) -> Size {
    if ty == ValType::I32 {
        Size::S32
    } else {
        Size::S64
    }
}

/// The scalar SSE instructions of one float width.
pub(in crate::compile) struct FloatOps {
    pub(in crate::compile) add: SseOp,
    pub(in crate::compile) sub: SseOp,
    pub(in crate::compile) mul: SseOp,
    pub(in crate::compile) div: SseOp,
    pub(in crate::compile) min: SseOp,
    pub(in crate::compile) max: SseOp,
    pub(in crate::compile) sqrt: SseOp,
    pub(in crate::compile) ucomi: SseOp,
    pub(in crate::compile) round: SseOp,
    pub(in crate::compile) and: SseOp,
    pub(in crate::compile) andn: SseOp,
    pub(in crate::compile) or: SseOp,
    pub(in crate::compile) xor: SseOp,
    pub(in crate::compile) sign_bit: u64,
}

pub(in crate::compile) const F32_OPS: FloatOps = FloatOps {
    add: SseOp::ADDSS,
    sub: SseOp::SUBSS,
    mul: SseOp::MULSS,
    div: SseOp::DIVSS,
    min: SseOp::MINSS,
    max: SseOp::MAXSS,
    sqrt: SseOp::SQRTSS,
    ucomi: SseOp::UCOMISS,
    round: SseOp::ROUNDSS,
    and: SseOp::ANDPS,
    andn: SseOp::ANDNPS,
    or: SseOp::ORPS,
    xor: SseOp::XORPS,
    sign_bit: 0x8000_0000,
};

pub(in crate::compile) const F64_OPS: FloatOps = FloatOps {
    add: SseOp::ADDSD,
    sub: SseOp::SUBSD,
    mul: SseOp::MULSD,
    div: SseOp::DIVSD,
    min: SseOp::MINSD,
    max: SseOp::MAXSD,
    sqrt: SseOp::SQRTSD,
    ucomi: SseOp::UCOMISD,
    round: SseOp::ROUNDSD,
    and: SseOp::ANDPD,
    andn: SseOp::ANDNPD,
    or: SseOp::ORPD,
    xor: SseOp::XORPD,
    sign_bit: 0x8000_0000_0000_0000,
};

pub(in crate::compile) fn float_ops(ty: ValType) -> &'static FloatOps {
    if ty == ValType::F32 {
        &F32_OPS
    } else {
        &F64_OPS
    }
}

/// A float-to-integer conversion.
#[derive(Clone, Copy)]
pub(in crate::compile) struct Trunc {
    pub(in crate::compile) from: ValType,
    pub(in crate::compile) to: ValType,
    pub(in crate::compile) signed: bool,
    pub(in crate::compile) saturating: bool,
}

impl FuncCompiler<'_, '_, '_> {
    /// Pops two integer operands into registers for `a op= b`: `a` is
    /// the caller's to write, `b` only to read (see
    /// [`FuncCompiler::pop_gpr_read`]).
    pub(in crate::compile) fn pop_gpr_pair(&mut self) -> (Gpr, Gpr) {
        let b = self.pop_gpr_read();
        self.ops.take_gpr(b);
        let a = self.pop_gpr();
        self.ops.free_gpr(b);
        (a, b)
    }

    /// Pops two integer operands that are only read (comparisons).
    pub(in crate::compile) fn pop_gpr_pair_read(&mut self) -> (Gpr, Gpr) {
        let b = self.pop_gpr_read();
        self.ops.take_gpr(b);
        let a = self.pop_gpr_read();
        self.ops.free_gpr(b);
        (a, b)
    }

    /// The pinned local register the next operand below the top reads, if
    /// it is one.
    pub(in crate::compile) fn pinned_below_top(&self) -> Option<Gpr> {
        match self.peek(1).loc {
            Loc::PinnedGpr(p) => Some(p),
            _ => None,
        }
    }

    /// Pops an integer operand for an instruction that reads it into
    /// another register: `(source, destination)`, a fresh destination for
    /// a pinned local's read (whose register keeps the local), else the
    /// operand's own register for both.
    fn pop_gpr_source(&mut self) -> (Gpr, Gpr) {
        if let Loc::PinnedGpr(p) = self.peek(0).loc {
            self.pop();
            (p, self.alloc_gpr())
        } else {
            let a = self.pop_gpr();
            (a, a)
        }
    }

    /// `a + (x <u y)`, `a - (x <u y)` and the same with `x >=u y`, where
    /// the comparison is still in the flags and `a` in a register of its
    /// own: the carry flag is that comparison, so `adc`/`sbb` adds or
    /// subtracts it without turning it into a register value first. The
    /// three-way comparison `(x > y) - (x < y)` ends this way. Returns
    /// whether it emitted the operation.
    fn carry_alu(&mut self, size: Size, op: AluOp) -> bool {
        let lhs = self.peek(1);
        let (Loc::Gpr(a), Loc::Flags(cond)) = (lhs.loc, self.peek(0).loc) else {
            return false;
        };
        // `a + CF`, `a + 1 - CF`, `a - CF` and `a - 1 + CF`: `a + 1 - CF`
        // is `a - (-1) - CF`.
        let (carry_op, imm) = match (op, cond) {
            (AluOp::Add, Cond::B) => (AluOp::Adc, 0),
            (AluOp::Add, Cond::Ae) => (AluOp::Sbb, -1),
            (AluOp::Sub, Cond::B) => (AluOp::Sbb, 0),
            (AluOp::Sub, Cond::Ae) => (AluOp::Adc, -1),
            _ => return false,
        };
        // Neither pop emits code: the flags stay as the comparison left
        // them.
        self.ops.pop_if(|l| matches!(l, Loc::Flags(_)));
        self.pop();
        self.a.alu_ri(carry_op, size, a, imm);
        self.push_gpr(lhs.ty, a);
        true
    }

    /// For the top two operands `a op b`: the register `x` and parameter
    /// `k` when `a` is in a register of its own and `b` a lazy read of a
    /// parameter, or (for a `commutative` op) the other way round.
    fn register_and_param(&self, commutative: bool) -> Option<(Gpr, u32)> {
        match (self.peek(1).loc, self.peek(0).loc) {
            (Loc::Gpr(x), Loc::Param(k)) => Some((x, k)),
            (Loc::Param(k), Loc::Gpr(x)) if commutative => Some((x, k)),
            _ => None,
        }
    }

    pub(in crate::compile) fn int_alu(&mut self, ty: ValType, op: AluOp) {
        let size = int_size(ty);
        // Only `i32.add`/`i32.sub` find a comparison still in the flags
        // (`operator` materializes it for the others).
        if let Some(Val {
            loc: Loc::Flags(_), ..
        }) = self.ops.last()
        {
            if self.carry_alu(size, op) {
                return;
            }
            self.materialize_flags();
        }
        // `local + imm` and `local + local` need no copy of the local:
        // `lea` computes into a fresh register.
        if op == AluOp::Add
            && let Some(pa) = self.pinned_below_top()
        {
            let at = match self.peek(0).loc {
                Loc::Const(_) => self.pop_imm32(ty).map(|imm| Mem::base(pa, imm)),
                Loc::PinnedGpr(pb) => {
                    self.pop();
                    Some(Mem::indexed(pa, pb, Scale::X1, 0))
                }
                _ => None,
            };
            if let Some(at) = at {
                self.pop();
                let r = self.alloc_gpr();
                self.a.lea(size, r, at);
                self.push_gpr(ty, r);
                return;
            }
        }
        // `x & 0xff` and `x & 0xffff`: a `movzx`, into a fresh register
        // when `x` is a pinned local (no copy of it first).
        if op == AluOp::And
            && let Loc::Const(mask) = self.peek(0).loc
            && let Some(from) = match mask {
                0xff => Some(Size::S8),
                0xffff => Some(Size::S16),
                _ => None,
            }
        {
            self.pop();
            let (a, r) = self.pop_gpr_source();
            self.a.movzx_rr(Size::S32, from, r, a);
            self.push_gpr(ty, r);
            return;
        }
        let commutative = matches!(op, AluOp::Add | AluOp::And | AluOp::Or | AluOp::Xor);
        // `local op x` for a commutative `op` and `x` in a register of its
        // own: `x op= local`, no copy of the local.
        if commutative
            && let Some(pa) = self.pinned_below_top()
            && let Loc::Gpr(b) = self.peek(0).loc
        {
            self.pop();
            self.pop();
            match op {
                AluOp::Add => self.a.add_sum(size, b, Addend::Reg(pa)),
                _ => self.a.alu_rr(op, size, b, pa),
            }
            self.push_gpr(ty, b);
            return;
        }
        // `x op param` and, for a commutative `op`, `param op x`, with `x`
        // in a register of its own and a parameter read lazily: `x op=
        // [slot]`, no load of the parameter into a register.
        if let Some((x, k)) = self.register_and_param(commutative) {
            self.pop();
            self.pop();
            let slot = self.local_slot(k);
            self.a.alu_rm(op, size, x, slot);
            self.push_gpr(ty, x);
            return;
        }
        // `local op param` and, for a commutative `op`, `param op local`,
        // with the local pinned and the parameter read lazily: a copy of
        // the local, then `op` from the slot.
        if let Some((pa, k)) = match (self.peek(1).loc, self.peek(0).loc) {
            (Loc::PinnedGpr(pa), Loc::Param(k)) => Some((pa, k)),
            (Loc::Param(k), Loc::PinnedGpr(pa)) if commutative => Some((pa, k)),
            _ => None,
        } {
            self.pop();
            self.pop();
            let r = self.alloc_gpr();
            self.a.mov_rr(size, r, pa);
            let slot = self.local_slot(k);
            self.a.alu_rm(op, size, r, slot);
            self.push_gpr(ty, r);
            return;
        }
        // Sums are emitted so that a `local.set` of the result can make
        // them a `lea` into the local's register.
        if let Some(imm) = self.pop_imm32(ty) {
            let a = self.pop_gpr();
            match op {
                AluOp::Add => self.a.add_sum(size, a, Addend::Imm(imm)),
                _ => self.a.alu_ri(op, size, a, imm),
            }
            self.push_gpr(ty, a);
        } else if let Some(at) = self.pop_pooled_i64(ty) {
            // `x op c` for an `i64` constant `c` that no immediate holds:
            // `op x, [c]` from the constant pool.
            let a = self.pop_gpr();
            self.a.alu_rm(op, size, a, at);
            self.push_gpr(ty, a);
        } else {
            // A temporary `b` is consumed: the sum may take in the
            // instruction that computed it.
            let temporary = matches!(self.peek(0).loc, Loc::Gpr(_));
            let (a, b) = self.pop_gpr_pair();
            match op {
                AluOp::Add if temporary => self.a.add_consumed(size, a, b),
                AluOp::Add => self.a.add_sum(size, a, Addend::Reg(b)),
                _ => self.a.alu_rr(op, size, a, b),
            }
            self.push_gpr(ty, a);
        }
    }

    pub(in crate::compile) fn int_mul(&mut self, ty: ValType) {
        let size = int_size(ty);
        if let Some(imm) = self.pop_imm32(ty) {
            // `x * 3`, `x * 5`, `x * 9`: `lea r, [x + x * 2^k]`, one cycle
            // of latency where `imul` takes three (hash loops chain them),
            // and no copy of a pinned local.
            let scale = match imm {
                3 => Some(Scale::X2),
                5 => Some(Scale::X4),
                9 => Some(Scale::X8),
                _ => None,
            };
            // A parameter read lazily is multiplied from its slot.
            if let (None, Loc::Param(k)) = (scale, self.peek(0).loc) {
                self.pop();
                let r = self.alloc_gpr();
                let slot = self.local_slot(k);
                self.a.imul_rmi(size, r, slot, imm);
                self.push_gpr(ty, r);
                return;
            }
            // Other factors: `imul r, x, imm`, which reads `x` and writes
            // `r`, so a pinned local is not copied first either.
            let (x, r) = self.pop_gpr_source();
            match scale {
                Some(scale) => self.a.lea(size, r, Mem::indexed(x, x, scale, 0)),
                None => self.a.imul_rri(size, r, x, imm),
            }
            self.push_gpr(ty, r);
        } else if let Some(at) = self.pop_pooled_i64(ty) {
            // `x * c` for an `i64` constant `c` that no immediate holds: `x
            // *= [c]` from the constant pool.
            let a = self.pop_gpr();
            self.a.imul_rm(size, a, at);
            self.push_gpr(ty, a);
        } else {
            // `x * param` or `param * x`, `x` in a register of its own and
            // a parameter read lazily: `x *= [slot]`.
            if let Some((x, k)) = self.register_and_param(true) {
                self.pop();
                self.pop();
                let slot = self.local_slot(k);
                self.a.imul_rm(size, x, slot);
                self.push_gpr(ty, x);
                return;
            }
            let (a, b) = self.pop_gpr_pair();
            self.a.imul_rr(size, a, b);
            self.push_gpr(ty, a);
        }
    }

    pub(in crate::compile) fn int_cmp(&mut self, ty: ValType, cond: Cond) {
        let size = int_size(ty);
        if let Some(imm) = self.pop_imm32(ty) {
            let a = self.pop_gpr_read();
            self.a.cmp(size, a, CmpOperand::Imm(imm));
        } else if let Some(at) = self.pop_pooled_i64(ty) {
            let a = self.pop_gpr_read();
            self.a.alu_rm(AluOp::Cmp, size, a, at);
        } else {
            let (a, b) = self.pop_gpr_pair_read();
            self.a.cmp(size, a, CmpOperand::Reg(b));
        }
        self.push(ValType::I32, Loc::Flags(cond));
    }

    pub(in crate::compile) fn int_eqz(&mut self, ty: ValType) {
        if let Some(Val {
            loc: Loc::Flags(cond),
            ..
        }) = self.ops.pop_if(|l| matches!(l, Loc::Flags(_)))
        {
            self.push(ValType::I32, Loc::Flags(cond.invert()));
            return;
        }
        let a = self.pop_gpr_read();
        if !self.a.flags_test(a, int_size(ty)) {
            self.a.test_rr(int_size(ty), a, a);
        }
        self.push(ValType::I32, Loc::Flags(Cond::E));
    }

    pub(in crate::compile) fn int_extend(&mut self, ty: ValType, to: Size, from: Size) {
        let a = self.pop_gpr();
        self.a.movsx_rr(to, from, a, a);
        if ty == ValType::I32 {
            // Keep the upper half of an i32 register zero.
            self.a.mov_rr(Size::S32, a, a);
        }
        self.push_gpr(ty, a);
    }

    pub(in crate::compile) fn int_clz(&mut self, ty: ValType) {
        let size = int_size(ty);
        let a = self.pop_gpr();
        if self.env.cpu.lzcnt {
            self.a.lzcnt_rr(size, a, a);
        } else {
            // bsr gives the index of the highest set bit (ZF when zero):
            // clz = (bits - 1) - index, and -1 stands in for zero.
            let bits = if ty == ValType::I32 { 31 } else { 63 };
            self.a.mov_ri(Size::S64, SCRATCH, -1);
            self.a.bsr_rr(size, a, a);
            self.a.cmov_rr(Cond::E, size, a, SCRATCH);
            self.a.unary_r(UnaryOp::Neg, size, a);
            self.a.alu_ri(AluOp::Add, size, a, bits);
        }
        self.push_gpr(ty, a);
    }

    pub(in crate::compile) fn int_ctz(&mut self, ty: ValType) {
        let size = int_size(ty);
        let a = self.pop_gpr();
        if self.env.cpu.bmi1 {
            self.a.tzcnt_rr(size, a, a);
        } else {
            let bits = if ty == ValType::I32 { 32 } else { 64 };
            self.a.mov_ri(Size::S64, SCRATCH, bits);
            self.a.bsf_rr(size, a, a);
            self.a.cmov_rr(Cond::E, size, a, SCRATCH);
        }
        self.push_gpr(ty, a);
    }

    pub(in crate::compile) fn int_popcnt(&mut self, ty: ValType) {
        let size = int_size(ty);
        let a = self.pop_gpr();
        if self.env.cpu.popcnt {
            self.a.popcnt_rr(size, a, a);
        } else {
            // SWAR population count.
            let (m1, m2, m4, h01): (i64, i64, i64, i64) = if ty == ValType::I32 {
                (0x5555_5555, 0x3333_3333, 0x0f0f_0f0f, 0x0101_0101)
            } else {
                (
                    0x5555_5555_5555_5555,
                    0x3333_3333_3333_3333,
                    0x0f0f_0f0f_0f0f_0f0f,
                    0x0101_0101_0101_0101,
                )
            };
            let shift = if ty == ValType::I32 { 24 } else { 56 };
            // a - ((a >> 1) & m1)
            self.a.mov_rr(size, SCRATCH, a);
            self.a.shift_ri(ShiftOp::Shr, size, SCRATCH, 1);
            self.a.mov_ri(size, SCRATCH2, m1);
            self.a.alu_rr(AluOp::And, size, SCRATCH, SCRATCH2);
            self.a.alu_rr(AluOp::Sub, size, a, SCRATCH);
            // (a & m2) + ((a >> 2) & m2)
            self.a.mov_ri(size, SCRATCH2, m2);
            self.a.mov_rr(size, SCRATCH, a);
            self.a.shift_ri(ShiftOp::Shr, size, SCRATCH, 2);
            self.a.alu_rr(AluOp::And, size, SCRATCH, SCRATCH2);
            self.a.alu_rr(AluOp::And, size, a, SCRATCH2);
            self.a.alu_rr(AluOp::Add, size, a, SCRATCH);
            // (a + (a >> 4)) & m4
            self.a.mov_rr(size, SCRATCH, a);
            self.a.shift_ri(ShiftOp::Shr, size, SCRATCH, 4);
            self.a.alu_rr(AluOp::Add, size, a, SCRATCH);
            self.a.mov_ri(size, SCRATCH2, m4);
            self.a.alu_rr(AluOp::And, size, a, SCRATCH2);
            // (a * h01) >> shift
            self.a.mov_ri(size, SCRATCH2, h01);
            self.a.imul_rr(size, a, SCRATCH2);
            self.a.shift_ri(ShiftOp::Shr, size, a, shift);
        }
        self.push_gpr(ty, a);
    }

    /// `x << count` by a constant. A pinned local's read shifted by 1 to 3
    /// goes into a fresh register as a scaled value
    /// ([`super::masm::MacroAssembler::lea_scaled`]: `lea r, [x + x]`, or a
    /// copy and a shift, which a sum that follows can fold away with the
    /// copy); any other value is shifted where it is
    /// ([`super::masm::MacroAssembler::shl_ri`], which folds a doubled sum
    /// of a constant into its `lea`).
    fn shift_left_const(&mut self, ty: ValType, count: u8) {
        let size = int_size(ty);
        if let Loc::PinnedGpr(src) = self.peek(0).loc
            && let Some(scale) = scale_of_shift(count)
        {
            self.pop();
            let dst = self.alloc_gpr();
            self.a.lea_scaled(size, dst, src, scale, 0);
            self.push_gpr(ty, dst);
            return;
        }
        let a = self.pop_gpr();
        self.a.shl_ri(size, a, count);
        self.push_gpr(ty, a);
    }

    pub(in crate::compile) fn int_shift(&mut self, ty: ValType, op: ShiftOp) {
        let size = int_size(ty);
        if let Some(count) = self.pop_const() {
            let mask = if ty == ValType::I32 { 31 } else { 63 };
            let count = (count & mask) as u8;
            if op == ShiftOp::Shl {
                self.shift_left_const(ty, count);
                return;
            }
            let a = self.pop_gpr();
            self.a.shift_ri(op, size, a, count);
            self.push_gpr(ty, a);
            return;
        }
        // BMI2's shifts take the count from any register and write a
        // third: no count moved to `cl`, no pinned local copied first.
        if self.env.cpu.bmi2 && matches!(op, ShiftOp::Shl | ShiftOp::Shr | ShiftOp::Sar) {
            let count = self.pop_gpr_read();
            self.ops.take_gpr(count);
            let (a, r) = self.pop_gpr_source();
            self.ops.free_gpr(count);
            let emitted = self.a.shiftx_rrr(op, size, r, a, count);
            debug_assert!(emitted, "{op:?} has a BMI2 form");
            self.push_gpr(ty, r);
            return;
        }
        // A leaf may pin a parameter in `rcx` (`frame::LEAF_ARRIVAL_PINS`).
        let unpinned = self.unpin_gprs_if_pinned([Gpr::Rcx]);
        self.pop_into_gpr(Gpr::Rcx, &[]);
        self.ops.take_gpr(Gpr::Rcx);
        let a = self.pop_gpr();
        self.ops.free_gpr(Gpr::Rcx);
        self.a.shift_rcl(op, size, a);
        self.push_gpr(ty, a);
        self.repin_gprs(unpinned);
    }

    /// Pops `(a b)` for an instruction on `rdx:rax` (division, widening
    /// multiplication): `a` into `rax`, `b` into the returned register
    /// (neither `rax` nor `rdx`), and `rdx` free.
    pub(in crate::compile) fn pop_pair_for_rdx_rax(&mut self) -> Gpr {
        let mut b = self.pop_gpr();
        if b == Gpr::Rax || b == Gpr::Rdx {
            let to = self.alloc_gpr_except(&[Gpr::Rax, Gpr::Rdx]);
            self.a.mov_rr(Size::S64, to, b);
            b = to;
        }
        self.ops.take_gpr(b);
        self.pop_into_gpr(Gpr::Rax, &[b, Gpr::Rdx]);
        self.ops.take_gpr(Gpr::Rax);
        self.evict_gpr(Gpr::Rdx, &[b, Gpr::Rax]);
        self.ops.free_gpr(Gpr::Rax);
        self.ops.free_gpr(b);
        b
    }

    pub(in crate::compile) fn int_divrem(&mut self, ty: ValType, signed: bool, rem: bool) {
        let size = int_size(ty);
        // A leaf may pin a parameter in `rdx` (`frame::LEAF_ARRIVAL_PINS`).
        let unpinned = self.unpin_gprs_if_pinned([Gpr::Rdx]);
        let b = self.pop_pair_for_rdx_rax();

        self.a.test_rr(size, b, b);
        self.a.trap_if(Cond::E, TrapCode::IntegerDivideByZero);
        let done = self.a.new_label();
        if signed {
            let normal = self.a.new_label();
            self.a.alu_ri(AluOp::Cmp, size, b, -1);
            self.a.jcc(Cond::Ne, normal);
            if rem {
                // x rem -1 = 0 (and INT_MIN rem -1 must not fault).
                self.a.alu_rr(AluOp::Xor, Size::S32, Gpr::Rdx, Gpr::Rdx);
                self.a.jmp(done);
            } else {
                let overflow = self.a.trap_label(TrapCode::IntegerOverflow);
                let min = if ty == ValType::I32 {
                    i64::from(i32::MIN as u32)
                } else {
                    i64::MIN
                };
                self.a.mov_ri(Size::S64, SCRATCH, min);
                self.a.alu_rr(AluOp::Cmp, size, Gpr::Rax, SCRATCH);
                self.a.jcc(Cond::E, overflow);
            }
            self.a.bind(normal);
            if ty == ValType::I32 {
                self.a.cdq();
            } else {
                self.a.cqo();
            }
            self.a.unary_r(UnaryOp::Idiv, size, b);
        } else {
            self.a.alu_rr(AluOp::Xor, Size::S32, Gpr::Rdx, Gpr::Rdx);
            self.a.unary_r(UnaryOp::Div, size, b);
        }
        self.a.bind(done);
        let mut result = if rem { Gpr::Rdx } else { Gpr::Rax };
        if rem && unpinned[0].is_some() {
            // `rdx` goes back to its local.
            result = self.alloc_gpr_except(&[Gpr::Rdx]);
            self.a.mov_rr(Size::S64, result, Gpr::Rdx);
        }
        self.push_gpr(ty, result);
        self.repin_gprs(unpinned);
    }

    /// Pops two float or vector operands: `(a, b)` for `a op b` (`b` was
    /// on top), both the caller's to write.
    pub(crate) fn pop_xmm_pair(&mut self) -> (Xmm, Xmm) {
        let b = self.pop_xmm();
        self.ops.take_xmm(b);
        let a = self.pop_xmm();
        self.ops.free_xmm(b);
        (a, b)
    }

    /// Pops two float operands for `a op= b`: `b` only to read.
    pub(in crate::compile) fn pop_xmm_pair_read_b(&mut self) -> (Xmm, Xmm) {
        let b = self.pop_xmm_read();
        self.ops.take_xmm(b);
        let a = self.pop_xmm();
        self.ops.free_xmm(b);
        (a, b)
    }

    pub(in crate::compile) fn float_bin(&mut self, ty: ValType, op: SseOp) {
        // (Computing `a + b` or `a * b` as `b + a` or `b * a` changes only
        // the payload of a NaN result, which WebAssembly leaves open.)
        let commutative = matches!(
            op,
            SseOp::ADDSS | SseOp::ADDSD | SseOp::MULSS | SseOp::MULSD
        );
        let arithmetic = commutative
            || matches!(
                op,
                SseOp::SUBSS | SseOp::SUBSD | SseOp::DIVSS | SseOp::DIVSD
            );
        if arithmetic && self.env.cpu.avx && self.fold_load_beside_pinned(ty, op, commutative) {
            return;
        }
        // `a + b` and `a * b` with `a` a pinned local and `b` in a register
        // of its own: computed into `b`, so `a` need not be copied first.
        if let (true, Loc::PinnedXmm(a), Loc::Xmm(b)) =
            (commutative, self.peek(1).loc, self.peek(0).loc)
        {
            self.pop();
            self.pop();
            self.sse_rrr(op, b, b, a);
            self.push_xmm(ty, b);
            return;
        }
        // A constant operand is read from the constant pool: `op a, [c]`
        // (for a constant `a`, only where `a op b = b op a`).
        if arithmetic && let Loc::Const(bits) = self.peek(0).loc {
            self.pop();
            let (a, owned) = self.pop_xmm_source();
            let dst = self.result_xmm(a, owned);
            let c = self.float_const(ty, bits);
            self.sse_rrm(op, dst, a, c);
            self.push_xmm(ty, dst);
            return;
        }
        if commutative && let Loc::Const(bits) = self.peek(1).loc {
            let (b, owned) = self.pop_xmm_source();
            self.pop();
            let dst = self.result_xmm(b, owned);
            let c = self.float_const(ty, bits);
            self.sse_rrm(op, dst, b, c);
            self.push_xmm(ty, dst);
            return;
        }
        // `a op b` with `b` just loaded from memory: `op a, [address]`
        // (with AVX, `vop a, a, [address]`, which a `local.set` can give
        // another destination).
        if let (true, Loc::Xmm(a), Loc::Xmm(b)) = (arithmetic, self.peek(1).loc, self.peek(0).loc)
            && self
                .a
                .fold_last_load(b, op, a, self.env.cpu.avx.then_some(a))
        {
            self.pop();
            self.pop();
            self.push_xmm(ty, a);
            return;
        }
        // With AVX, neither operand is copied: the result goes to the
        // register of one the code owns (`a`'s first), or a new one when
        // both are pinned locals.
        if arithmetic && self.env.cpu.avx {
            let (b, b_owned) = self.pop_xmm_source();
            self.ops.take_xmm(b);
            let (a, a_owned) = self.pop_xmm_source();
            self.ops.free_xmm(b);
            let dst = match (a_owned, b_owned) {
                (true, _) => a,
                (false, true) => b,
                (false, false) => self.alloc_xmm(),
            };
            self.sse_rrr(op, dst, a, b);
            self.push_xmm(ty, dst);
            return;
        }
        let (a, b) = self.pop_xmm_pair_read_b();
        self.a.sse_rr(op, a, b);
        self.push_xmm(ty, a);
    }

    /// With AVX, `a op b` where one operand is a pinned local and the
    /// other was just loaded from memory: the load becomes the operation's
    /// memory operand, `vop loaded, pinned, [address]` (for a loaded `a`,
    /// only where `a op b = b op a`). Returns whether it did.
    fn fold_load_beside_pinned(&mut self, ty: ValType, op: SseOp, commutative: bool) -> bool {
        let (loaded, pinned) = match (self.peek(1).loc, self.peek(0).loc) {
            (Loc::PinnedXmm(a), Loc::Xmm(b)) => (b, a),
            (Loc::Xmm(a), Loc::PinnedXmm(b)) if commutative => (a, b),
            _ => return false,
        };
        if !self.a.fold_last_load(loaded, op, loaded, Some(pinned)) {
            return false;
        }
        self.pop();
        self.pop();
        self.push_xmm(ty, loaded);
        true
    }

    /// Pops a float operand to read: its register, and whether the code
    /// owns it (a temporary to overwrite) or only reads it (a pinned
    /// local's register, with AVX, whose three-operand forms need no
    /// copy). Without AVX, always a register of the code's own.
    fn pop_xmm_source(&mut self) -> (Xmm, bool) {
        if self.env.cpu.avx
            && let Loc::PinnedXmm(pin) = self.peek(0).loc
        {
            self.pop();
            return (pin, false);
        }
        (self.pop_xmm(), true)
    }

    /// The register for the result of an operation on `src`: `src` itself
    /// when the code `owns` it, else a new one.
    fn result_xmm(&mut self, src: Xmm, owns: bool) -> Xmm {
        if owns { src } else { self.alloc_xmm() }
    }

    /// `dst = src1 op src2`: the AVX form when the machine has it (no
    /// longer than the SSE one, and a following `local.set` can give it
    /// the local's register as destination), else the SSE form, which
    /// needs `dst` to be `src1`.
    fn sse_rrr(&mut self, op: SseOp, dst: Xmm, src1: Xmm, src2: Xmm) {
        if dst == src1 && !self.env.cpu.avx {
            self.a.sse_rr(op, dst, src2);
        } else {
            self.a.vex_rrr(op, dst, src1, src2);
        }
    }

    /// `dst = src1 op [src2]`, as [`Self::sse_rrr`].
    fn sse_rrm(&mut self, op: SseOp, dst: Xmm, src1: Xmm, src2: Mem) {
        if dst == src1 {
            self.a.sse_rm(op, dst, src2);
        } else {
            self.a.vex_rrm(op, dst, src1, src2);
        }
    }

    pub(in crate::compile) fn float_unary(&mut self, ty: ValType, op: SseOp) {
        // With AVX, a pinned local's square root goes straight to a new
        // register (`vsqrtsd dst, x, x`: its upper lanes from `x` too, so
        // the result waits on nothing `dst` held).
        let (a, owned) = self.pop_xmm_source();
        let dst = self.result_xmm(a, owned);
        self.sse_rrr(op, dst, a, a);
        self.push_xmm(ty, dst);
    }

    pub(in crate::compile) fn float_unary_to(&mut self, to: ValType, op: SseOp) {
        let a = self.pop_xmm();
        self.a.sse_rr(op, a, a);
        self.push_xmm(to, a);
    }

    pub(in crate::compile) fn float_round(&mut self, ty: ValType, mode: RoundMode) {
        let ops = float_ops(ty);
        let a = self.pop_xmm();
        self.a.sse_rri(ops.round, a, a, mode as u8);
        self.push_xmm(ty, a);
    }

    /// Loads a float bit pattern into the scratch XMM register.
    pub(in crate::compile) fn scratch_xmm_bits(&mut self, ty: ValType, bits: u64) {
        self.load_const_xmm(SCRATCH_XMM, ty, bits);
    }

    pub(in crate::compile) fn float_sign(&mut self, ty: ValType, negate: bool) {
        let ops = float_ops(ty);
        let a = self.pop_xmm();
        if negate {
            self.scratch_xmm_bits(ty, ops.sign_bit);
            self.a.sse_rr(ops.xor, a, SCRATCH_XMM);
        } else {
            let mask = if ty == ValType::F32 {
                0x7fff_ffff
            } else {
                0x7fff_ffff_ffff_ffff
            };
            self.scratch_xmm_bits(ty, mask);
            self.a.sse_rr(ops.and, a, SCRATCH_XMM);
        }
        self.push_xmm(ty, a);
    }

    pub(in crate::compile) fn float_copysign(&mut self, ty: ValType) {
        let ops = float_ops(ty);
        let (a, b) = self.pop_xmm_pair();
        // a = (a & !sign) | (b & sign)
        self.scratch_xmm_bits(ty, ops.sign_bit);
        self.a.sse_rr(ops.and, b, SCRATCH_XMM);
        self.a.sse_rr(ops.andn, SCRATCH_XMM, a);
        self.a.sse_rr(ops.or, SCRATCH_XMM, b);
        self.a.sse_rr(SseOp::MOVAPS, a, SCRATCH_XMM);
        self.push_xmm(ty, a);
    }

    /// `min`/`max` with WebAssembly's rules: NaN if either is NaN, and
    /// -0 < +0.
    pub(in crate::compile) fn float_minmax(&mut self, ty: ValType, is_min: bool) {
        let ops = float_ops(ty);
        let (a, b) = self.pop_xmm_pair_read_b();
        let nan = self.a.new_label();
        let equal = self.a.new_label();
        let done = self.a.new_label();
        self.a.sse_rr(ops.ucomi, a, b);
        self.a.jcc(Cond::P, nan);
        self.a.jcc(Cond::E, equal);
        self.a.sse_rr(if is_min { ops.min } else { ops.max }, a, b);
        self.a.jmp(done);
        self.a.bind(equal);
        // Equal: only the signs of zeros can differ.
        self.a.sse_rr(if is_min { ops.or } else { ops.and }, a, b);
        self.a.jmp(done);
        self.a.bind(nan);
        self.a.sse_rr(ops.add, a, b);
        self.a.bind(done);
        self.push_xmm(ty, a);
    }

    pub(in crate::compile) fn float_cmp(&mut self, ty: ValType, cmp: FloatCmp) {
        let ops = float_ops(ty);
        let (a, b) = self.pop_xmm_pair();
        let r = self.alloc_gpr();
        match cmp {
            FloatCmp::Eq | FloatCmp::Ne => {
                self.a.sse_rr(ops.ucomi, a, b);
                if cmp == FloatCmp::Eq {
                    self.a.setcc(Cond::E, r);
                    self.a.setcc(Cond::Np, SCRATCH);
                    self.a.alu_rr(AluOp::And, Size::S32, r, SCRATCH);
                } else {
                    self.a.setcc(Cond::Ne, r);
                    self.a.setcc(Cond::P, SCRATCH);
                    self.a.alu_rr(AluOp::Or, Size::S32, r, SCRATCH);
                }
            }
            // Unordered sets CF, so "above" conditions are false on NaN.
            FloatCmp::Gt => {
                self.a.sse_rr(ops.ucomi, a, b);
                self.a.setcc(Cond::A, r);
            }
            FloatCmp::Ge => {
                self.a.sse_rr(ops.ucomi, a, b);
                self.a.setcc(Cond::Ae, r);
            }
            FloatCmp::Lt => {
                self.a.sse_rr(ops.ucomi, b, a);
                self.a.setcc(Cond::A, r);
            }
            FloatCmp::Le => {
                self.a.sse_rr(ops.ucomi, b, a);
                self.a.setcc(Cond::Ae, r);
            }
        }
        self.a.movzx_rr(Size::S32, Size::S8, r, r);
        self.push_gpr(ValType::I32, r);
    }

    pub(in crate::compile) fn int_to_float(
        &mut self,
        to: ValType,
        src_size: Size,
        unsigned64: bool,
    ) {
        let r = self.pop_gpr();
        self.ops.take_gpr(r);
        let x = self.alloc_xmm();
        self.ops.free_gpr(r);
        let cvt = |s: &mut Self, x: Xmm, r: Gpr, size: Size| {
            s.a.sse_rr(SseOp::XORPS, x, x);
            if to == ValType::F32 {
                s.a.cvtsi2ss_rr(size, x, r)
            } else {
                s.a.cvtsi2sd_rr(size, x, r)
            }
        };
        if !unsigned64 {
            cvt(self, x, r, src_size);
        } else {
            let big = self.a.new_label();
            let done = self.a.new_label();
            self.a.test_rr(Size::S64, r, r);
            self.a.jcc(Cond::S, big);
            cvt(self, x, r, Size::S64);
            self.a.jmp(done);
            self.a.bind(big);
            // Halve with the low bit kept (round-to-odd), convert, double.
            self.a.mov_rr(Size::S64, SCRATCH, r);
            self.a.shift_ri(ShiftOp::Shr, Size::S64, SCRATCH, 1);
            self.a.mov_rr(Size::S64, SCRATCH2, r);
            self.a.alu_ri(AluOp::And, Size::S64, SCRATCH2, 1);
            self.a.alu_rr(AluOp::Or, Size::S64, SCRATCH, SCRATCH2);
            cvt(self, x, SCRATCH, Size::S64);
            let add = if to == ValType::F32 {
                SseOp::ADDSS
            } else {
                SseOp::ADDSD
            };
            self.a.sse_rr(add, x, x);
            self.a.bind(done);
        }
        self.push_xmm(to, x);
    }

    pub(in crate::compile) fn float_bits(ty: ValType, v: f64) -> u64 {
        if ty == ValType::F32 {
            u64::from((v as f32).to_bits())
        } else {
            v.to_bits()
        }
    }

    /// Float to integer, trapping or saturating.
    pub(in crate::compile) fn trunc(&mut self, t: Trunc) {
        let ops = float_ops(t.from);
        let x = self.pop_xmm();
        self.ops.take_xmm(x);
        let r = self.alloc_gpr();
        self.ops.free_xmm(x);
        let done = self.a.new_label();
        let to_size = int_size(t.to);
        let cvtt = |s: &mut Self, size: Size| {
            if t.from == ValType::F32 {
                s.a.cvttss2si_rr(size, r, x)
            } else {
                s.a.cvttsd2si_rr(size, r, x)
            }
        };
        // Bounds: valid iff lo (<|<=) x < hi.
        // 2^e exactly (no `powi` in core).
        let two = |e: i32| f64::from_bits(((1023 + e) as u64) << 52);
        let (lo, lo_inclusive, hi) = match (t.to, t.signed) {
            (ValType::I32, true) if t.from == ValType::F32 => (-two(31), true, two(31)),
            (ValType::I32, true) => (-two(31) - 1.0, false, two(31)),
            (ValType::I32, false) => (-1.0, false, two(32)),
            (_, true) => (-two(63), true, two(63)),
            (_, false) => (-1.0, false, two(64)),
        };
        let (min, max): (i64, i64) = match (t.to, t.signed) {
            (ValType::I32, true) => (i64::from(i32::MIN as u32), i64::from(i32::MAX)),
            (ValType::I32, false) => (0, i64::from(u32::MAX)),
            (_, true) => (i64::MIN, i64::MAX),
            (_, false) => (0, -1),
        };
        // NaN (xor before the compare: it clobbers the flags).
        if t.saturating {
            self.a.alu_rr(AluOp::Xor, Size::S32, r, r);
        }
        self.a.sse_rr(ops.ucomi, x, x);
        if t.saturating {
            self.a.jcc(Cond::P, done);
        } else {
            self.a
                .trap_if(Cond::P, TrapCode::InvalidConversionToInteger);
        }
        let overflow = if t.saturating {
            None
        } else {
            Some(self.a.trap_label(TrapCode::IntegerOverflow))
        };
        // Too small.
        let lo_bits = Self::float_bits(t.from, lo);
        self.scratch_xmm_bits(t.from, lo_bits);
        self.a.sse_rr(ops.ucomi, x, SCRATCH_XMM);
        let below = if lo_inclusive { Cond::B } else { Cond::Be };
        match overflow {
            Some(l) => self.a.jcc(below, l),
            None => {
                self.a.mov_ri(Size::S64, r, min);
                self.a.jcc(below, done);
            }
        }
        // Too large.
        let hi_bits = Self::float_bits(t.from, hi);
        self.scratch_xmm_bits(t.from, hi_bits);
        self.a.sse_rr(ops.ucomi, x, SCRATCH_XMM);
        match overflow {
            Some(l) => self.a.jcc(Cond::Ae, l),
            None => {
                self.a.mov_ri(Size::S64, r, max);
                self.a.jcc(Cond::Ae, done);
            }
        }
        match (t.to, t.signed) {
            (ValType::I32, true) => cvtt(self, Size::S32),
            (ValType::I32, false) => {
                cvtt(self, Size::S64);
                self.a.mov_rr(Size::S32, r, r);
            }
            (_, true) => cvtt(self, Size::S64),
            (_, false) => {
                // Values >= 2^63: subtract 2^63, convert, set bit 63.
                let big = self.a.new_label();
                let two63 = Self::float_bits(t.from, two(63));
                self.scratch_xmm_bits(t.from, two63);
                self.a.sse_rr(ops.ucomi, x, SCRATCH_XMM);
                self.a.jcc(Cond::Ae, big);
                cvtt(self, Size::S64);
                self.a.jmp(done);
                self.a.bind(big);
                self.a.sse_rr(ops.sub, x, SCRATCH_XMM);
                cvtt(self, Size::S64);
                self.a.mov_ri(Size::S64, SCRATCH, i64::MIN);
                self.a.alu_rr(AluOp::Xor, Size::S64, r, SCRATCH);
            }
        }
        self.a.bind(done);
        let _ = to_size;
        self.push_gpr(t.to, r);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(in crate::compile) enum FloatCmp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}
