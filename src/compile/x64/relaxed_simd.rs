//! The relaxed-SIMD proposal: the 20 operators whose results the proposal
//! leaves partly open, each lowered to one fixed SSE4.1/SSSE3 sequence, so
//! a given input gives the same result on every run and every x86-64 CPU
//! the compiler accepts (no FMA, no AVX, no choice by CPU feature).
//!
//! Each choice is one of the results the proposal allows; where several
//! are allowed, the table says which one the sequence gives:
//!
//! | operator | instructions | result in the open cases |
//! |---|---|---|
//! | `i8x16.relaxed_swizzle` | `pshufb` | index ≥ 128: 0; index 16..=127: lane `index % 16` |
//! | `i32x4.relaxed_trunc_f32x4_s` | `cvttps2dq` | NaN and out of range: `i32::MIN` |
//! | `i32x4.relaxed_trunc_f32x4_u` | as `i32x4.trunc_sat_f32x4_u` | NaN: 0; out of range: saturated |
//! | `i32x4.relaxed_trunc_f64x2_s_zero` | `cvttpd2dq` | NaN and out of range: `i32::MIN` |
//! | `i32x4.relaxed_trunc_f64x2_u_zero` | as `i32x4.trunc_sat_f64x2_u_zero` | NaN: 0; out of range: saturated |
//! | `f32x4`/`f64x2.relaxed_madd` | `mulps`/`mulpd`, `addps`/`addpd` | unfused: two roundings |
//! | `f32x4`/`f64x2.relaxed_nmadd` | `mulps`/`mulpd`, `subps`/`subpd` (`c - a*b`) | unfused: two roundings |
//! | `i8x16`/`i16x8`/`i32x4`/`i64x2.relaxed_laneselect` | `pand`, `pandn`, `por` | every mask bitwise (`v128.bitselect`) |
//! | `f32x4`/`f64x2.relaxed_min` | `minps`/`minpd` `a, b` | NaN in either lane, or `±0` against `∓0`: `b` |
//! | `f32x4`/`f64x2.relaxed_max` | `maxps`/`maxpd` `a, b` | NaN in either lane, or `±0` against `∓0`: `b` |
//! | `i16x8.relaxed_q15mulr_s` | `pmulhrsw` | `-32768 * -32768`: `-32768` (wraps) |
//! | `i16x8.relaxed_dot_i8x16_i7x16_s` | `pmaddubsw b, a` | `b` lane ≥ 128: read unsigned; pair sums saturate to `i16` |
//! | `i32x4.relaxed_dot_i8x16_i7x16_add_s` | `pmaddubsw b, a`, `pmaddwd` by 1s, `paddd c` | as the above, then exact widening sums |
//!
//! The lane selection is bitwise for every lane width: with masks whose
//! lanes are all ones or all zeros (the deterministic case) it is the
//! lane select, and a bitwise select is an allowed result for every mask.
//! The dot products read the second operand (the `i7x16` side) as
//! unsigned bytes, which `pmaddubsw` takes in its destination, and the
//! first as signed: for second-operand lanes in `0..=127` both readings
//! agree and a pair sum (at most `2 * 128 * 127` in magnitude) cannot
//! saturate, so the result is exact there.

use super::super::func::FuncCompiler;
use super::simd::{S, V, splat16};
use crate::asm::x64::{SseOp, Xmm};

/// The packed instructions of `relaxed_madd`/`relaxed_nmadd` of one float
/// width: multiply, add, subtract.
pub(in crate::compile) struct MaddOps {
    mul: SseOp,
    add: SseOp,
    sub: SseOp,
}

pub(in crate::compile) const MADD_PS: MaddOps = MaddOps {
    mul: SseOp::MULPS,
    add: SseOp::ADDPS,
    sub: SseOp::SUBPS,
};

pub(in crate::compile) const MADD_PD: MaddOps = MaddOps {
    mul: SseOp::MULPD,
    add: SseOp::ADDPD,
    sub: SseOp::SUBPD,
};

impl FuncCompiler<'_, '_, '_> {
    /// Pops three vector operands `(a b c)`, each in a register of its own.
    fn pop_xmm_triple(&mut self) -> (Xmm, Xmm, Xmm) {
        let c = self.pop_xmm();
        self.ops.take_xmm(c);
        let (a, b) = self.pop_xmm_pair();
        self.ops.free_xmm(c);
        (a, b, c)
    }

    /// `i8x16.relaxed_swizzle`: `pshufb` without the range fix-up of
    /// `i8x16.swizzle`.
    pub(in crate::compile) fn relaxed_swizzle(&mut self) {
        self.bin(SseOp::PSHUFB);
    }

    /// `relaxed_madd` (`a * b + c`) or, with `negate`, `relaxed_nmadd`
    /// (`-(a * b) + c`, computed as `c - a * b`, which is the same value),
    /// each with two roundings.
    pub(in crate::compile) fn relaxed_madd(&mut self, ops: &MaddOps, negate: bool) {
        let (a, b, c) = self.pop_xmm_triple();
        self.a.sse_rr(ops.mul, a, b);
        if negate {
            self.a.sse_rr(ops.sub, c, a);
            self.push_xmm(V, c);
        } else {
            self.a.sse_rr(ops.add, a, c);
            self.push_xmm(V, a);
        }
    }

    /// `relaxed_laneselect` of any lane width: `(v1 & m) | (v2 & !m)`.
    pub(in crate::compile) fn relaxed_laneselect(&mut self) {
        let (v1, v2, m) = self.pop_xmm_triple();
        self.a.sse_rr(SseOp::PAND, v1, m);
        self.a.sse_rr(SseOp::PANDN, m, v2);
        self.a.sse_rr(SseOp::POR, v1, m);
        self.push_xmm(V, v1);
    }

    /// `relaxed_min`/`relaxed_max` (`op` is `minps`, `maxpd`, …): the SSE
    /// instruction alone, `a op b`, which returns `b` for NaNs and for
    /// zeros of either sign.
    pub(in crate::compile) fn relaxed_min_max(&mut self, op: SseOp) {
        self.bin(op);
    }

    /// `i16x8.relaxed_q15mulr_s`: `pmulhrsw`, without the overflow fix-up
    /// of `i16x8.q15mulr_sat_s`.
    pub(in crate::compile) fn relaxed_q15mulr(&mut self) {
        self.bin(SseOp::PMULHRSW);
    }

    /// `i16x8.relaxed_dot_i8x16_i7x16_s`: `(a b)`, `a` signed and `b`
    /// unsigned bytes, adjacent products summed with `i16` saturation.
    pub(in crate::compile) fn relaxed_dot(&mut self) {
        self.bin_rev(SseOp::PMADDUBSW);
    }

    /// `i32x4.relaxed_dot_i8x16_i7x16_add_s`: `(a b c)`, the `i16` sums of
    /// [`Self::relaxed_dot`] added in pairs into `i32` lanes, plus `c`.
    pub(in crate::compile) fn relaxed_dot_add(&mut self) {
        let (a, b, c) = self.pop_xmm_triple();
        self.a.sse_rr(SseOp::PMADDUBSW, b, a);
        self.load_v128(S, splat16(1));
        self.a.sse_rr(SseOp::PMADDWD, b, S);
        self.a.sse_rr(SseOp::PADDD, b, c);
        self.push_xmm(V, b);
    }

    /// `i32x4.relaxed_trunc_f32x4_s` (with `PS`'s conversion) or
    /// `i32x4.relaxed_trunc_f64x2_s_zero`: the truncating conversion alone
    /// (`cvttps2dq`/`cvttpd2dq`, the latter zeroing the upper lanes).
    pub(in crate::compile) fn relaxed_trunc_s(&mut self, op: SseOp) {
        self.un(op);
    }
}
