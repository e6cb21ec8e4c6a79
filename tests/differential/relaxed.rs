//! Relaxed SIMD in the differential test: the operators whose results the
//! proposal leaves partly open, made comparable exactly.
//!
//! wasmkern compiles each relaxed operator to one fixed sequence whose
//! choice in the open cases is documented in
//! `src/compile/x64/relaxed_simd.rs`; wasmi and V8 make other choices, so
//! their results cannot be compared with wasmkern's as they are. Instead,
//! [`standardize`] rewrites the module the oracles run: each relaxed
//! operator becomes a sequence of standard (deterministic) SIMD operators
//! that computes exactly wasmkern's documented choice, for every input.
//! wasmkern runs the module with the relaxed operators; wasmi and V8 run
//! the rewritten one, which has none. Any difference is then a real one:
//! a wasmkern bug, a wrong rewrite (both are checked by
//! `tests/differential.rs`'s `relaxed_rewrites_agree_with_wasmkern`), or an
//! oracle bug.
//!
//! | operator | wasmkern's choice | standard sequence |
//! |---|---|---|
//! | `i8x16.relaxed_swizzle a s` | `pshufb`: index ≥ 128 gives 0, else lane `index % 16` | `i8x16.swizzle a (s & 0x8f)` |
//! | `i32x4.relaxed_trunc_f32x4_s` | NaN and out of range: `i32::MIN` | `trunc_sat_f32x4_s`, `bitselect` with `i32::MIN` where not `-2^31 <= x < 2^31` |
//! | `i32x4.relaxed_trunc_f64x2_s_zero` | the same, upper lanes 0 | `trunc_sat_f64x2_s_zero`, `bitselect` where not `-2^31-1 < x < 2^31` (mask narrowed by a shuffle) |
//! | `i32x4.relaxed_trunc_*_u*` | as `trunc_sat` | the `trunc_sat` operator |
//! | `f32x4`/`f64x2.relaxed_madd` | unfused `a*b + c` | `mul`, `add` |
//! | `f32x4`/`f64x2.relaxed_nmadd` | unfused `c - a*b` | `mul`, `sub` |
//! | `*.relaxed_laneselect` | bitwise | `v128.bitselect` |
//! | `f32x4`/`f64x2.relaxed_min a b` | `minps a, b`: `a < b ? a : b` | `pmin b a` |
//! | `f32x4`/`f64x2.relaxed_max a b` | `maxps a, b`: `a > b ? a : b` | `pmax b a` |
//! | `i16x8.relaxed_q15mulr_s` | `pmulhrsw`: `-32768 * -32768` wraps to `-32768` | `q15mulr_sat_s`, `bitselect` with `-32768` where both lanes are `-32768` |
//! | `i16x8.relaxed_dot_i8x16_i7x16_s a b` | `pmaddubsw`: `a` signed, `b` unsigned, pair sums saturate | even and odd bytes widened by shifts and masks, `i16x8.mul`, `i16x8.add_sat_s` |
//! | `i32x4.relaxed_dot_i8x16_i7x16_add_s a b c` | the above, then exact pair sums plus `c` | the above, `i32x4.extadd_pairwise_i16x8_s`, `i32x4.add` |
//!
//! Every sequence is exact bit for bit except one thing no sequence can
//! pin down: the payload of a NaN that `relaxed_madd`/`relaxed_nmadd`
//! produce (the proposal and the standard float operators leave it open,
//! and wasm-smith's NaN canonicalization does not cover the relaxed
//! operators). So the generated module itself gets, after each of those
//! four operators, the canonicalization wasm-smith inserts after a
//! standard float operator ([`canonicalize_madd`]): every engine runs that
//! module (wasmkern with the relaxed operator, the oracles with its
//! rewrite), and a NaN result has the same bits everywhere.
//!
//! The sequences keep the operands they need more than once in scratch
//! `v128` locals appended to the function's locals (existing local indices
//! do not move).

#![allow(dead_code)]

use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasmparser::{Operator, Parser, Payload};

/// Scratch `v128` locals a rewritten function gets.
const SCRATCH: u32 = 3;

/// What the pass does to the relaxed operators.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Keeps them, canonicalizing the NaNs `relaxed_madd`/`nmadd` make.
    CanonicalizeMadd,
    /// Replaces each by its standard sequence.
    Standardize,
}

/// Whether `op` is a relaxed SIMD operator.
pub fn is_relaxed(op: &Operator<'_>) -> bool {
    use Operator as O;
    matches!(
        op,
        O::I8x16RelaxedSwizzle
            | O::I32x4RelaxedTruncF32x4S
            | O::I32x4RelaxedTruncF32x4U
            | O::I32x4RelaxedTruncF64x2SZero
            | O::I32x4RelaxedTruncF64x2UZero
            | O::F32x4RelaxedMadd
            | O::F32x4RelaxedNmadd
            | O::F64x2RelaxedMadd
            | O::F64x2RelaxedNmadd
            | O::I8x16RelaxedLaneselect
            | O::I16x8RelaxedLaneselect
            | O::I32x4RelaxedLaneselect
            | O::I64x2RelaxedLaneselect
            | O::F32x4RelaxedMin
            | O::F32x4RelaxedMax
            | O::F64x2RelaxedMin
            | O::F64x2RelaxedMax
            | O::I16x8RelaxedQ15mulrS
            | O::I16x8RelaxedDotI8x16I7x16S
            | O::I32x4RelaxedDotI8x16I7x16AddS
    )
}

/// Whether a function body of `bytes` uses a relaxed SIMD operator.
pub fn uses_relaxed(bytes: &[u8]) -> bool {
    for payload in Parser::new(0).parse_all(bytes) {
        if let Ok(Payload::CodeSectionEntry(body)) = payload
            && body_uses_relaxed(&body)
        {
            return true;
        }
    }
    false
}

fn body_uses_relaxed(body: &wasmparser::FunctionBody<'_>) -> bool {
    let Ok(mut ops) = body.get_operators_reader() else {
        return false;
    };
    while !ops.eof() {
        match ops.read() {
            Ok(op) if is_relaxed(&op) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

/// `bytes` with the canonical NaN substituted for any NaN that
/// `relaxed_madd`/`relaxed_nmadd` produce (unchanged when it has none of
/// them). `None` when `bytes` cannot be parsed.
pub fn canonicalize_madd(bytes: &[u8]) -> Option<Vec<u8>> {
    rewrite(bytes, Pass::CanonicalizeMadd)
}

/// `bytes` with every relaxed SIMD operator replaced by the standard
/// sequence that computes wasmkern's choice (unchanged when it has none).
/// `None` when `bytes` cannot be parsed.
pub fn standardize(bytes: &[u8]) -> Option<Vec<u8>> {
    rewrite(bytes, Pass::Standardize)
}

fn rewrite(bytes: &[u8], pass: Pass) -> Option<Vec<u8>> {
    if !uses_relaxed(bytes) {
        return Some(bytes.to_vec());
    }
    let mut rewriter = Rewriter {
        pass,
        params: defined_func_params(bytes)?,
        next: 0,
    };
    let mut module = wasm_encoder::Module::new();
    rewriter
        .parse_core_module(&mut module, Parser::new(0), bytes)
        .ok()?;
    Some(module.finish())
}

/// The parameter count of each function the module defines, in order.
fn defined_func_params(bytes: &[u8]) -> Option<Vec<u32>> {
    let mut types = Vec::new();
    let mut params = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.ok()? {
            Payload::TypeSection(reader) => {
                for group in reader {
                    for sub in group.ok()?.into_types() {
                        types.push(match &sub.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(f) => f.params().len() as u32,
                            _ => 0,
                        });
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    params.push(*types.get(ty.ok()? as usize)?);
                }
            }
            _ => {}
        }
    }
    Some(params)
}

struct Rewriter {
    pass: Pass,
    /// Parameter counts of the defined functions.
    params: Vec<u32>,
    /// The defined function whose body comes next.
    next: usize,
}

impl Reencode for Rewriter {
    type Error = std::convert::Infallible;

    fn parse_function_body(
        &mut self,
        code: &mut wasm_encoder::CodeSection,
        func: wasmparser::FunctionBody<'_>,
    ) -> Result<(), wasm_encoder::reencode::Error> {
        let params = self.params.get(self.next).copied().unwrap_or(0);
        self.next += 1;
        if !body_uses_relaxed(&func) {
            return wasm_encoder::reencode::utils::parse_function_body(
                &mut RoundtripReencoder,
                code,
                func,
            );
        }
        let mut locals = Vec::new();
        let mut declared = 0u32;
        for pair in func.get_locals_reader()? {
            let (count, ty) = pair?;
            declared += count;
            locals.push((count, RoundtripReencoder.val_type(ty)?));
        }
        locals.push((SCRATCH, wasm_encoder::ValType::V128));
        let scratch = params + declared;
        let mut f = wasm_encoder::Function::new(locals);
        let mut reader = func.get_operators_reader()?;
        while !reader.eof() {
            let op = reader.read()?;
            if self.pass == Pass::Standardize && is_relaxed(&op) {
                standard_sequence(&mut f.instructions(), &op, scratch);
            } else {
                let madd = matches!(
                    op,
                    Operator::F32x4RelaxedMadd
                        | Operator::F32x4RelaxedNmadd
                        | Operator::F64x2RelaxedMadd
                        | Operator::F64x2RelaxedNmadd
                );
                let f32 = matches!(op, Operator::F32x4RelaxedMadd | Operator::F32x4RelaxedNmadd);
                f.instruction(&RoundtripReencoder.instruction(op)?);
                if self.pass == Pass::CanonicalizeMadd && madd {
                    canonicalize_nan(&mut f.instructions(), f32, scratch);
                }
            }
        }
        code.function(&f);
        Ok(())
    }
}

/// A `v128` with `lane` in each of its four 32-bit lanes.
fn splat32(lane: u32) -> i128 {
    (0..4).fold(0u128, |v, i| v | u128::from(lane) << (32 * i)) as i128
}

/// A `v128` with `lane` in each of its two 64-bit lanes.
fn splat64(lane: u64) -> i128 {
    (u128::from(lane) | u128::from(lane) << 64) as i128
}

/// A `v128` with `lane` in each of its eight 16-bit lanes.
fn splat16(lane: u16) -> i128 {
    (0..8).fold(0u128, |v, i| v | u128::from(lane) << (16 * i)) as i128
}

/// A `v128` with `lane` in each of its sixteen bytes.
fn splat8(lane: u8) -> i128 {
    (0..16).fold(0u128, |v, i| v | u128::from(lane) << (8 * i)) as i128
}

/// What wasm-smith inserts after a float operator: the top `v128` with
/// every NaN lane replaced by the canonical NaN (`scratch` is free).
fn canonicalize_nan(s: &mut wasm_encoder::InstructionSink<'_>, f32: bool, scratch: u32) {
    s.local_tee(scratch);
    if f32 {
        s.v128_const(splat32(0x7fc0_0000));
    } else {
        s.v128_const(splat64(0x7ff8_0000_0000_0000));
    }
    s.local_get(scratch).local_get(scratch);
    if f32 {
        s.f32x4_eq();
    } else {
        s.f64x2_eq();
    }
    s.v128_bitselect();
}

/// The standard sequence for relaxed operator `op`; its operands are on
/// the stack, `scratch..scratch + SCRATCH` are free `v128` locals.
fn standard_sequence(s: &mut wasm_encoder::InstructionSink<'_>, op: &Operator<'_>, scratch: u32) {
    use Operator as O;
    let (l0, l1, l2) = (scratch, scratch + 1, scratch + 2);
    match op {
        O::I8x16RelaxedSwizzle => {
            // Bit 7 set: an index >= 16 for swizzle, so 0; else the low
            // four bits select.
            s.v128_const(splat8(0x8f)).v128_and().i8x16_swizzle();
        }
        O::I32x4RelaxedTruncF32x4S => {
            // bitselect(trunc_sat(x), i32::MIN, -2^31 <= x < 2^31): NaN
            // fails both comparisons.
            s.local_tee(l0)
                .i32x4_trunc_sat_f32x4_s()
                .v128_const(splat32(i32::MIN as u32))
                .local_get(l0)
                .v128_const(splat32((-2_147_483_648f32).to_bits()))
                .f32x4_ge()
                .local_get(l0)
                .v128_const(splat32(2_147_483_648f32.to_bits()))
                .f32x4_lt()
                .v128_and()
                .v128_bitselect();
        }
        O::I32x4RelaxedTruncF64x2SZero => {
            // Truncation fits i32 exactly when -2^31 - 1 < x < 2^31; the
            // 64-bit lane masks narrow to lanes 0 and 1 (lanes 2 and 3 are
            // 0 on both sides of the select).
            let low_halves = [0, 1, 2, 3, 8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11];
            s.local_tee(l0)
                .i32x4_trunc_sat_f64x2_s_zero()
                .v128_const(
                    (u128::from(i32::MIN as u32) | u128::from(i32::MIN as u32) << 32) as i128,
                )
                .local_get(l0)
                .v128_const(splat64((-2_147_483_649f64).to_bits()))
                .f64x2_gt()
                .local_get(l0)
                .v128_const(splat64(2_147_483_648f64.to_bits()))
                .f64x2_lt()
                .v128_and()
                .local_tee(l1)
                .local_get(l1)
                .i8x16_shuffle(low_halves)
                .v128_bitselect();
        }
        O::I32x4RelaxedTruncF32x4U => {
            s.i32x4_trunc_sat_f32x4_u();
        }
        O::I32x4RelaxedTruncF64x2UZero => {
            s.i32x4_trunc_sat_f64x2_u_zero();
        }
        O::F32x4RelaxedMadd => {
            s.local_set(l0).f32x4_mul().local_get(l0).f32x4_add();
        }
        O::F64x2RelaxedMadd => {
            s.local_set(l0).f64x2_mul().local_get(l0).f64x2_add();
        }
        O::F32x4RelaxedNmadd => {
            s.local_set(l0)
                .f32x4_mul()
                .local_set(l1)
                .local_get(l0)
                .local_get(l1)
                .f32x4_sub();
        }
        O::F64x2RelaxedNmadd => {
            s.local_set(l0)
                .f64x2_mul()
                .local_set(l1)
                .local_get(l0)
                .local_get(l1)
                .f64x2_sub();
        }
        O::I8x16RelaxedLaneselect
        | O::I16x8RelaxedLaneselect
        | O::I32x4RelaxedLaneselect
        | O::I64x2RelaxedLaneselect => {
            s.v128_bitselect();
        }
        // `pmin z1 z2` is `z2 < z1 ? z2 : z1`, so `pmin b a` is
        // `a < b ? a : b`: `minps a, b`. Likewise for max.
        O::F32x4RelaxedMin => {
            swap(s, l0, l1).f32x4_pmin();
        }
        O::F32x4RelaxedMax => {
            swap(s, l0, l1).f32x4_pmax();
        }
        O::F64x2RelaxedMin => {
            swap(s, l0, l1).f64x2_pmin();
        }
        O::F64x2RelaxedMax => {
            swap(s, l0, l1).f64x2_pmax();
        }
        O::I16x8RelaxedQ15mulrS => {
            // bitselect(-32768, q15mulr_sat(a, b), a == -32768 & b == -32768):
            // the only product that saturates.
            let min = splat16(0x8000);
            s.local_set(l0)
                .local_set(l1)
                .v128_const(min)
                .local_get(l1)
                .local_get(l0)
                .i16x8_q15mulr_sat_s()
                .local_get(l1)
                .v128_const(min)
                .i16x8_eq()
                .local_get(l0)
                .v128_const(min)
                .i16x8_eq()
                .v128_and()
                .v128_bitselect();
        }
        O::I16x8RelaxedDotI8x16I7x16S => {
            s.local_set(l0).local_set(l1);
            dot_i16(s, l1, l0);
        }
        O::I32x4RelaxedDotI8x16I7x16AddS => {
            s.local_set(l2).local_set(l0).local_set(l1);
            dot_i16(s, l1, l0);
            s.i32x4_extadd_pairwise_i16x8_s().local_get(l2).i32x4_add();
        }
        other => unreachable!("not a relaxed operator: {other:?}"),
    }
}

/// Swaps the two operands on top of the stack.
fn swap<'a, 'b>(
    s: &'a mut wasm_encoder::InstructionSink<'b>,
    l0: u32,
    l1: u32,
) -> &'a mut wasm_encoder::InstructionSink<'b> {
    s.local_set(l0).local_set(l1).local_get(l0).local_get(l1)
}

/// `pmaddubsw b, a` in standard operators: per 16-bit lane, the signed
/// bytes of local `a` times the unsigned bytes of local `b` (each product
/// fits `i16`: at most 128 * 255), the two products added with signed
/// saturation.
fn dot_i16(s: &mut wasm_encoder::InstructionSink<'_>, a: u32, b: u32) {
    // Even bytes are the low halves of the 16-bit lanes.
    s.local_get(a)
        .i32_const(8)
        .i16x8_shl()
        .i32_const(8)
        .i16x8_shr_s()
        .local_get(b)
        .v128_const(splat16(0x00ff))
        .v128_and()
        .i16x8_mul()
        .local_get(a)
        .i32_const(8)
        .i16x8_shr_s()
        .local_get(b)
        .i32_const(8)
        .i16x8_shr_u()
        .i16x8_mul()
        .i16x8_add_sat_s();
}
