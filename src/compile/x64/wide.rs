//! The wide-arithmetic proposal: 128-bit addition and subtraction on
//! pairs of `i64` halves (`i64.add128`, `i64.sub128`), and the full
//! 128-bit products of two `i64`s (`i64.mul_wide_s`, `i64.mul_wide_u`).
//!
//! Each result pair is pushed low half first, as the proposal orders it.
//! Addition and subtraction are a carry chain (`add`/`adc`, `sub`/`sbb`)
//! on the first operand's registers; the products are the one-operand
//! `mul`/`imul`, which leave the product in `rdx:rax`.

use super::super::func::FuncCompiler;
use crate::asm::x64::{AluOp, Gpr, Size, UnaryOp};
use crate::decode::ValType;

impl FuncCompiler<'_, '_, '_> {
    /// `i64.add128` (or `i64.sub128` with `sub`): `(a_lo a_hi b_lo b_hi)`
    /// to `(lo hi)`.
    pub(in crate::compile) fn wide_add_sub(&mut self, sub: bool) {
        // The four halves in registers of their own, held until the carry
        // chain has run so that no load reuses one.
        let b_hi = self.pop_gpr();
        self.ops.take_gpr(b_hi);
        let b_lo = self.pop_gpr();
        self.ops.take_gpr(b_lo);
        let a_hi = self.pop_gpr();
        self.ops.take_gpr(a_hi);
        let a_lo = self.pop_gpr();
        for r in [b_hi, b_lo, a_hi] {
            self.ops.free_gpr(r);
        }
        let (low, high) = if sub {
            (AluOp::Sub, AluOp::Sbb)
        } else {
            (AluOp::Add, AluOp::Adc)
        };
        self.a.alu_rr(low, Size::S64, a_lo, b_lo);
        self.a.alu_rr(high, Size::S64, a_hi, b_hi);
        self.push_gpr(ValType::I64, a_lo);
        self.push_gpr(ValType::I64, a_hi);
    }

    /// `i64.mul_wide_s` (with `signed`) or `i64.mul_wide_u`: `(a b)` to the
    /// product's `(lo hi)`.
    pub(in crate::compile) fn wide_mul(&mut self, signed: bool) {
        let b = self.pop_pair_for_rdx_rax();
        let op = if signed { UnaryOp::Imul } else { UnaryOp::Mul };
        self.a.unary_r(op, Size::S64, b);
        self.push_gpr(ValType::I64, Gpr::Rax);
        self.push_gpr(ValType::I64, Gpr::Rdx);
    }
}
