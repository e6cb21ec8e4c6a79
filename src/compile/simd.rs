//! Lowering of the fixed-width SIMD operators (`v128`, WebAssembly 2.0) to
//! SSE instructions.
//!
//! The generated code assumes SSE4.1 (and so SSSE3: `pshufb`, `pabs*`,
//! `pmaddubsw`, `pmulhrsw`); a function using a SIMD operator on a CPU
//! without them fails to compile with a clear error instead of running
//! illegal instructions. `pcmpgtq` (SSE4.2) is used when present and
//! emulated otherwise. Vectors live in XMM registers and in 16-byte home
//! slots like floats; the 16-byte constants the lowering needs (and
//! `v128.const`) go into a RIP-relative pool after the function's code.
//!
//! Where SSE and WebAssembly disagree the lowering adds fix-ups: float
//! `min`/`max` (NaN propagation, `-0 < +0`), saturating truncation, unsigned
//! comparisons (through `pmin`/`pmax` and equality), shifts (the count
//! masked to the lane width; `i8x16` shifts and `i64x2.shr_s` emulated),
//! `q15mulr_sat_s` and the unsigned conversions.

use super::func::FuncCompiler;
use super::stack::{Loc, SCRATCH_XMM};
use crate::asm::x64::{AluOp, Cond, Label, Mem, RoundMode, Size, SseOp, Xmm, XmmShift};
use crate::decode::{MemArg, Operator, ValType};
use crate::error::{Error, Result};
use alloc::vec::Vec;
use hashbrown::HashMap;
use hashbrown::hash_map::Entry;

/// A function's 16-byte constants: each distinct value once, found by
/// hashing its bytes (a function may use hundreds of thousands, so a search
/// of the list would make compile time quadratic). Kept in a
/// [`super::func::Scratch`] between functions for its allocations.
#[derive(Default)]
pub(crate) struct V128Pool {
    /// The constants in first-use order, with their labels.
    order: Vec<([u8; 16], Label)>,
    /// Each constant's label.
    index: HashMap<[u8; 16], Label>,
}

impl V128Pool {
    /// The pool kept in `pool`, emptied, for the next function.
    pub(crate) fn reuse(pool: &mut V128Pool) -> V128Pool {
        let mut p = core::mem::take(pool);
        p.order.clear();
        p.index.clear();
        p
    }
}

const V: ValType = ValType::V128;
const S: Xmm = SCRATCH_XMM;

/// `cmpps`/`cmppd` predicates.
const CMP_EQ: u8 = 0;
const CMP_LT: u8 = 1;
const CMP_LE: u8 = 2;
const CMP_UNORD: u8 = 3;
const CMP_NEQ: u8 = 4;

/// The lane width of an integer vector operation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lane {
    B,
    W,
    D,
    Q,
}

impl Lane {
    fn bytes(self) -> u32 {
        match self {
            Lane::B => 1,
            Lane::W => 2,
            Lane::D => 4,
            Lane::Q => 8,
        }
    }
    fn add(self) -> SseOp {
        [SseOp::PADDB, SseOp::PADDW, SseOp::PADDD, SseOp::PADDQ][self as usize]
    }
    fn sub(self) -> SseOp {
        [SseOp::PSUBB, SseOp::PSUBW, SseOp::PSUBD, SseOp::PSUBQ][self as usize]
    }
    fn eq(self) -> SseOp {
        [
            SseOp::PCMPEQB,
            SseOp::PCMPEQW,
            SseOp::PCMPEQD,
            SseOp::PCMPEQQ,
        ][self as usize]
    }
    fn min_u(self) -> SseOp {
        [SseOp::PMINUB, SseOp::PMINUW, SseOp::PMINUD, SseOp::PMINUD][self as usize]
    }
    fn max_u(self) -> SseOp {
        [SseOp::PMAXUB, SseOp::PMAXUW, SseOp::PMAXUD, SseOp::PMAXUD][self as usize]
    }
}

/// An integer comparison.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    LtS,
    LtU,
    GtS,
    GtU,
    LeS,
    LeU,
    GeS,
    GeU,
}

/// A vector shift.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shift {
    Shl,
    ShrS,
    ShrU,
}

/// The packed instructions of one float width.
struct PackedOps {
    min: SseOp,
    max: SseOp,
    or: SseOp,
    xor: SseOp,
    andn: SseOp,
    sub: SseOp,
    cmp: SseOp,
    /// Shift right that turns a NaN mask into the payload bits below the
    /// quiet bit (10 for f32, 13 for f64).
    nan_shift: (XmmShift, u8),
}

const PS: PackedOps = PackedOps {
    min: SseOp::MINPS,
    max: SseOp::MAXPS,
    or: SseOp::ORPS,
    xor: SseOp::XORPS,
    andn: SseOp::ANDNPS,
    sub: SseOp::SUBPS,
    cmp: SseOp::CMPPS,
    nan_shift: (XmmShift::Psrld, 10),
};

const PD: PackedOps = PackedOps {
    min: SseOp::MINPD,
    max: SseOp::MAXPD,
    or: SseOp::ORPD,
    xor: SseOp::XORPD,
    andn: SseOp::ANDNPD,
    sub: SseOp::SUBPD,
    cmp: SseOp::CMPPD,
    nan_shift: (XmmShift::Psrlq, 13),
};

fn splat16(v: u16) -> [u8; 16] {
    let mut b = [0; 16];
    for c in b.chunks_exact_mut(2) {
        c.copy_from_slice(&v.to_le_bytes());
    }
    b
}

fn splat32(v: u32) -> [u8; 16] {
    let mut b = [0; 16];
    for c in b.chunks_exact_mut(4) {
        c.copy_from_slice(&v.to_le_bytes());
    }
    b
}

fn splat64(v: u64) -> [u8; 16] {
    let mut b = [0; 16];
    for c in b.chunks_exact_mut(8) {
        c.copy_from_slice(&v.to_le_bytes());
    }
    b
}

/// The `pshufb` masks of `i8x16.shuffle`: lanes taken from the first and
/// from the second operand (`0x80` zeroes a byte).
fn shuffle_masks(lanes: [u8; 16]) -> ([u8; 16], [u8; 16]) {
    let (mut a, mut b) = ([0x80; 16], [0x80; 16]);
    for (i, &l) in lanes.iter().enumerate() {
        if l < 16 {
            a[i] = l;
        } else {
            b[i] = l - 16;
        }
    }
    (a, b)
}

impl FuncCompiler<'_, '_, '_> {
    /// Lowers `op` if it is a SIMD operator; returns whether it was.
    pub(crate) fn simd_op(&mut self, op: &Operator<'_>) -> Result<bool> {
        let handled = self.simd_lower(op)?;
        if handled && !(self.env.cpu.sse41 && self.env.cpu.ssse3) {
            return Err(Error::limit(
                0,
                "SIMD operators need SSE4.1 and SSSE3, which this CPU lacks or Config::cpu_features left out",
            ));
        }
        Ok(handled)
    }

    fn simd_lower(&mut self, op: &Operator<'_>) -> Result<bool> {
        use Lane::{B, D, Q, W};
        use Operator::*;
        match *op {
            // Loads and stores.
            V128Load { memarg } => self.v_load(memarg, 16, SseOp::MOVDQU),
            V128Load8x8S { memarg } => self.v_load(memarg, 8, SseOp::PMOVSXBW),
            V128Load8x8U { memarg } => self.v_load(memarg, 8, SseOp::PMOVZXBW),
            V128Load16x4S { memarg } => self.v_load(memarg, 8, SseOp::PMOVSXWD),
            V128Load16x4U { memarg } => self.v_load(memarg, 8, SseOp::PMOVZXWD),
            V128Load32x2S { memarg } => self.v_load(memarg, 8, SseOp::PMOVSXDQ),
            V128Load32x2U { memarg } => self.v_load(memarg, 8, SseOp::PMOVZXDQ),
            V128Load32Zero { memarg } => self.v_load(memarg, 4, SseOp::MOVSS),
            V128Load64Zero { memarg } => self.v_load(memarg, 8, SseOp::MOVQ),
            V128Load8Splat { memarg } => {
                let at = self.address(memarg, 1);
                let x = self.alloc_xmm();
                self.a.sse_rmi(SseOp::PINSRB, x, at, 0);
                self.broadcast(B, x);
                self.push_xmm(V, x);
            }
            V128Load16Splat { memarg } => {
                let at = self.address(memarg, 2);
                let x = self.alloc_xmm();
                self.a.sse_rmi(SseOp::PINSRW, x, at, 0);
                self.broadcast(W, x);
                self.push_xmm(V, x);
            }
            V128Load32Splat { memarg } => {
                let at = self.address(memarg, 4);
                let x = self.alloc_xmm();
                self.a.sse_rm(SseOp::MOVSS, x, at);
                self.broadcast(D, x);
                self.push_xmm(V, x);
            }
            V128Load64Splat { memarg } => {
                let at = self.address(memarg, 8);
                let x = self.alloc_xmm();
                self.a.sse_rm(SseOp::MOVQ, x, at);
                self.broadcast(Q, x);
                self.push_xmm(V, x);
            }
            V128Store { memarg } => {
                let x = self.pop_xmm();
                self.regs.take_xmm(x);
                let at = self.address(memarg, 16);
                self.regs.free_xmm(x);
                self.a.sse_mr(SseOp::MOVDQU_STORE, at, x);
            }
            V128Load8Lane { memarg, lane } => self.v_load_lane(memarg, B, lane),
            V128Load16Lane { memarg, lane } => self.v_load_lane(memarg, W, lane),
            V128Load32Lane { memarg, lane } => self.v_load_lane(memarg, D, lane),
            V128Load64Lane { memarg, lane } => self.v_load_lane(memarg, Q, lane),
            V128Store8Lane { memarg, lane } => self.v_store_lane(memarg, B, lane),
            V128Store16Lane { memarg, lane } => self.v_store_lane(memarg, W, lane),
            V128Store32Lane { memarg, lane } => self.v_store_lane(memarg, D, lane),
            V128Store64Lane { memarg, lane } => self.v_store_lane(memarg, Q, lane),

            // Constants, shuffles, lanes.
            V128Const { value } => {
                let x = self.alloc_xmm();
                match value.0 {
                    b if b == [0; 16] => self.a.sse_rr(SseOp::PXOR, x, x),
                    b if b == [0xff; 16] => self.a.sse_rr(SseOp::PCMPEQD, x, x),
                    bytes => self.load_v128(x, bytes),
                }
                self.push_xmm(V, x);
            }
            I8x16Shuffle { lanes } => {
                let (a, b) = self.pop_xmm_pair();
                let (ma, mb) = shuffle_masks(lanes.0);
                self.load_v128(S, ma);
                self.a.sse_rr(SseOp::PSHUFB, a, S);
                self.load_v128(S, mb);
                self.a.sse_rr(SseOp::PSHUFB, b, S);
                self.a.sse_rr(SseOp::POR, a, b);
                self.push_xmm(V, a);
            }
            I8x16Swizzle => {
                // Indices of 16 and above get bit 7 set: pshufb zeroes them.
                let (a, b) = self.pop_xmm_pair();
                self.load_v128(S, [0x70; 16]);
                self.a.sse_rr(SseOp::PADDUSB, b, S);
                self.a.sse_rr(SseOp::PSHUFB, a, b);
                self.push_xmm(V, a);
            }
            I8x16Splat => self.splat_int(B),
            I16x8Splat => self.splat_int(W),
            I32x4Splat => self.splat_int(D),
            I64x2Splat => self.splat_int(Q),
            F32x4Splat => {
                let x = self.pop_xmm();
                self.broadcast(D, x);
                self.push_xmm(V, x);
            }
            F64x2Splat => {
                let x = self.pop_xmm();
                self.broadcast(Q, x);
                self.push_xmm(V, x);
            }
            I8x16ExtractLaneS { lane } => self.extract_int(B, lane, true),
            I8x16ExtractLaneU { lane } => self.extract_int(B, lane, false),
            I16x8ExtractLaneS { lane } => self.extract_int(W, lane, true),
            I16x8ExtractLaneU { lane } => self.extract_int(W, lane, false),
            I32x4ExtractLane { lane } => self.extract_int(D, lane, false),
            I64x2ExtractLane { lane } => self.extract_int(Q, lane, false),
            F32x4ExtractLane { lane } => {
                let x = self.pop_xmm();
                // Lane `lane` to lane 0, the others zeroed.
                self.a.sse_rri(SseOp::INSERTPS, x, x, (lane << 6) | 0b1110);
                self.push_xmm(ValType::F32, x);
            }
            F64x2ExtractLane { lane } => {
                let x = self.pop_xmm();
                if lane == 0 {
                    self.a.sse_rr(SseOp::MOVQ, x, x);
                } else {
                    self.a.xmm_shift_ri(XmmShift::Psrldq, x, 8);
                }
                self.push_xmm(ValType::F64, x);
            }
            I8x16ReplaceLane { lane } => self.replace_int(B, lane),
            I16x8ReplaceLane { lane } => self.replace_int(W, lane),
            I32x4ReplaceLane { lane } => self.replace_int(D, lane),
            I64x2ReplaceLane { lane } => self.replace_int(Q, lane),
            F32x4ReplaceLane { lane } => {
                let (x, s) = self.pop_xmm_pair();
                self.a.sse_rri(SseOp::INSERTPS, x, s, lane << 4);
                self.push_xmm(V, x);
            }
            F64x2ReplaceLane { lane } => {
                let (x, s) = self.pop_xmm_pair();
                let op = if lane == 0 {
                    SseOp::MOVSD
                } else {
                    SseOp::MOVLHPS
                };
                self.a.sse_rr(op, x, s);
                self.push_xmm(V, x);
            }

            // Integer comparisons.
            I8x16Eq => self.cmp_int(B, Cmp::Eq),
            I8x16Ne => self.cmp_int(B, Cmp::Ne),
            I8x16LtS => self.cmp_int(B, Cmp::LtS),
            I8x16LtU => self.cmp_int(B, Cmp::LtU),
            I8x16GtS => self.cmp_int(B, Cmp::GtS),
            I8x16GtU => self.cmp_int(B, Cmp::GtU),
            I8x16LeS => self.cmp_int(B, Cmp::LeS),
            I8x16LeU => self.cmp_int(B, Cmp::LeU),
            I8x16GeS => self.cmp_int(B, Cmp::GeS),
            I8x16GeU => self.cmp_int(B, Cmp::GeU),
            I16x8Eq => self.cmp_int(W, Cmp::Eq),
            I16x8Ne => self.cmp_int(W, Cmp::Ne),
            I16x8LtS => self.cmp_int(W, Cmp::LtS),
            I16x8LtU => self.cmp_int(W, Cmp::LtU),
            I16x8GtS => self.cmp_int(W, Cmp::GtS),
            I16x8GtU => self.cmp_int(W, Cmp::GtU),
            I16x8LeS => self.cmp_int(W, Cmp::LeS),
            I16x8LeU => self.cmp_int(W, Cmp::LeU),
            I16x8GeS => self.cmp_int(W, Cmp::GeS),
            I16x8GeU => self.cmp_int(W, Cmp::GeU),
            I32x4Eq => self.cmp_int(D, Cmp::Eq),
            I32x4Ne => self.cmp_int(D, Cmp::Ne),
            I32x4LtS => self.cmp_int(D, Cmp::LtS),
            I32x4LtU => self.cmp_int(D, Cmp::LtU),
            I32x4GtS => self.cmp_int(D, Cmp::GtS),
            I32x4GtU => self.cmp_int(D, Cmp::GtU),
            I32x4LeS => self.cmp_int(D, Cmp::LeS),
            I32x4LeU => self.cmp_int(D, Cmp::LeU),
            I32x4GeS => self.cmp_int(D, Cmp::GeS),
            I32x4GeU => self.cmp_int(D, Cmp::GeU),
            I64x2Eq => self.cmp_int(Q, Cmp::Eq),
            I64x2Ne => self.cmp_int(Q, Cmp::Ne),
            I64x2LtS => self.cmp_int(Q, Cmp::LtS),
            I64x2GtS => self.cmp_int(Q, Cmp::GtS),
            I64x2LeS => self.cmp_int(Q, Cmp::LeS),
            I64x2GeS => self.cmp_int(Q, Cmp::GeS),

            // Float comparisons.
            F32x4Eq => self.cmp_float(SseOp::CMPPS, CMP_EQ, false),
            F32x4Ne => self.cmp_float(SseOp::CMPPS, CMP_NEQ, false),
            F32x4Lt => self.cmp_float(SseOp::CMPPS, CMP_LT, false),
            F32x4Gt => self.cmp_float(SseOp::CMPPS, CMP_LT, true),
            F32x4Le => self.cmp_float(SseOp::CMPPS, CMP_LE, false),
            F32x4Ge => self.cmp_float(SseOp::CMPPS, CMP_LE, true),
            F64x2Eq => self.cmp_float(SseOp::CMPPD, CMP_EQ, false),
            F64x2Ne => self.cmp_float(SseOp::CMPPD, CMP_NEQ, false),
            F64x2Lt => self.cmp_float(SseOp::CMPPD, CMP_LT, false),
            F64x2Gt => self.cmp_float(SseOp::CMPPD, CMP_LT, true),
            F64x2Le => self.cmp_float(SseOp::CMPPD, CMP_LE, false),
            F64x2Ge => self.cmp_float(SseOp::CMPPD, CMP_LE, true),

            // Bitwise.
            V128Not => {
                let x = self.pop_xmm();
                self.not(x);
                self.push_xmm(V, x);
            }
            V128And => self.bin(SseOp::PAND),
            V128Or => self.bin(SseOp::POR),
            V128Xor => self.bin(SseOp::PXOR),
            V128AndNot => self.bin_rev(SseOp::PANDN),
            V128Bitselect => {
                let c = self.pop_xmm();
                self.regs.take_xmm(c);
                let (v1, v2) = self.pop_xmm_pair();
                self.regs.free_xmm(c);
                self.a.sse_rr(SseOp::PAND, v1, c);
                self.a.sse_rr(SseOp::PANDN, c, v2);
                self.a.sse_rr(SseOp::POR, v1, c);
                self.push_xmm(V, v1);
            }
            V128AnyTrue => {
                let x = self.pop_xmm();
                self.a.sse_rr(SseOp::PTEST, x, x);
                self.push(ValType::I32, Loc::Flags(Cond::Ne));
            }
            I8x16AllTrue => self.all_true(B),
            I16x8AllTrue => self.all_true(W),
            I32x4AllTrue => self.all_true(D),
            I64x2AllTrue => self.all_true(Q),
            I8x16Bitmask => self.bitmask(B),
            I16x8Bitmask => self.bitmask(W),
            I32x4Bitmask => self.bitmask(D),
            I64x2Bitmask => self.bitmask(Q),

            // Integer arithmetic.
            I8x16Abs => self.un(SseOp::PABSB),
            I16x8Abs => self.un(SseOp::PABSW),
            I32x4Abs => self.un(SseOp::PABSD),
            I64x2Abs => {
                let x = self.pop_xmm();
                self.a.sse_rri(SseOp::PSHUFD, S, x, 0xF5);
                self.a.xmm_shift_ri(XmmShift::Psrad, S, 31);
                self.a.sse_rr(SseOp::PXOR, x, S);
                self.a.sse_rr(SseOp::PSUBQ, x, S);
                self.push_xmm(V, x);
            }
            I8x16Neg => self.neg(B),
            I16x8Neg => self.neg(W),
            I32x4Neg => self.neg(D),
            I64x2Neg => self.neg(Q),
            I8x16Popcnt => self.popcnt(),
            I8x16Add => self.bin(B.add()),
            I16x8Add => self.bin(W.add()),
            I32x4Add => self.bin(D.add()),
            I64x2Add => self.bin(Q.add()),
            I8x16Sub => self.bin(B.sub()),
            I16x8Sub => self.bin(W.sub()),
            I32x4Sub => self.bin(D.sub()),
            I64x2Sub => self.bin(Q.sub()),
            I16x8Mul => self.bin(SseOp::PMULLW),
            I32x4Mul => self.bin(SseOp::PMULLD),
            I64x2Mul => self.i64x2_mul(),
            I8x16AddSatS => self.bin(SseOp::PADDSB),
            I8x16AddSatU => self.bin(SseOp::PADDUSB),
            I8x16SubSatS => self.bin(SseOp::PSUBSB),
            I8x16SubSatU => self.bin(SseOp::PSUBUSB),
            I16x8AddSatS => self.bin(SseOp::PADDSW),
            I16x8AddSatU => self.bin(SseOp::PADDUSW),
            I16x8SubSatS => self.bin(SseOp::PSUBSW),
            I16x8SubSatU => self.bin(SseOp::PSUBUSW),
            I8x16MinS => self.bin(SseOp::PMINSB),
            I8x16MinU => self.bin(SseOp::PMINUB),
            I8x16MaxS => self.bin(SseOp::PMAXSB),
            I8x16MaxU => self.bin(SseOp::PMAXUB),
            I16x8MinS => self.bin(SseOp::PMINSW),
            I16x8MinU => self.bin(SseOp::PMINUW),
            I16x8MaxS => self.bin(SseOp::PMAXSW),
            I16x8MaxU => self.bin(SseOp::PMAXUW),
            I32x4MinS => self.bin(SseOp::PMINSD),
            I32x4MinU => self.bin(SseOp::PMINUD),
            I32x4MaxS => self.bin(SseOp::PMAXSD),
            I32x4MaxU => self.bin(SseOp::PMAXUD),
            I8x16AvgrU => self.bin(SseOp::PAVGB),
            I16x8AvgrU => self.bin(SseOp::PAVGW),
            I32x4DotI16x8S => self.bin(SseOp::PMADDWD),
            I16x8Q15MulrSatS => {
                // Only 0x8000 * 0x8000 overflows, to 0x8000: flip it.
                let (a, b) = self.pop_xmm_pair();
                self.a.sse_rr(SseOp::PMULHRSW, a, b);
                self.load_v128(S, splat16(0x8000));
                self.a.sse_rr(SseOp::PCMPEQW, S, a);
                self.a.sse_rr(SseOp::PXOR, a, S);
                self.push_xmm(V, a);
            }

            // Shifts.
            I8x16Shl => self.shift(B, Shift::Shl),
            I8x16ShrS => self.shift(B, Shift::ShrS),
            I8x16ShrU => self.shift(B, Shift::ShrU),
            I16x8Shl => self.shift(W, Shift::Shl),
            I16x8ShrS => self.shift(W, Shift::ShrS),
            I16x8ShrU => self.shift(W, Shift::ShrU),
            I32x4Shl => self.shift(D, Shift::Shl),
            I32x4ShrS => self.shift(D, Shift::ShrS),
            I32x4ShrU => self.shift(D, Shift::ShrU),
            I64x2Shl => self.shift(Q, Shift::Shl),
            I64x2ShrS => self.shift(Q, Shift::ShrS),
            I64x2ShrU => self.shift(Q, Shift::ShrU),

            // Narrowing, widening.
            I8x16NarrowI16x8S => self.bin(SseOp::PACKSSWB),
            I8x16NarrowI16x8U => self.bin(SseOp::PACKUSWB),
            I16x8NarrowI32x4S => self.bin(SseOp::PACKSSDW),
            I16x8NarrowI32x4U => self.bin(SseOp::PACKUSDW),
            I16x8ExtendLowI8x16S => self.extend(SseOp::PMOVSXBW, false),
            I16x8ExtendHighI8x16S => self.extend(SseOp::PMOVSXBW, true),
            I16x8ExtendLowI8x16U => self.extend(SseOp::PMOVZXBW, false),
            I16x8ExtendHighI8x16U => self.extend(SseOp::PMOVZXBW, true),
            I32x4ExtendLowI16x8S => self.extend(SseOp::PMOVSXWD, false),
            I32x4ExtendHighI16x8S => self.extend(SseOp::PMOVSXWD, true),
            I32x4ExtendLowI16x8U => self.extend(SseOp::PMOVZXWD, false),
            I32x4ExtendHighI16x8U => self.extend(SseOp::PMOVZXWD, true),
            I64x2ExtendLowI32x4S => self.extend(SseOp::PMOVSXDQ, false),
            I64x2ExtendHighI32x4S => self.extend(SseOp::PMOVSXDQ, true),
            I64x2ExtendLowI32x4U => self.extend(SseOp::PMOVZXDQ, false),
            I64x2ExtendHighI32x4U => self.extend(SseOp::PMOVZXDQ, true),
            I16x8ExtaddPairwiseI8x16S => {
                let x = self.pop_xmm();
                self.load_v128(S, [1; 16]);
                self.a.sse_rr(SseOp::PMADDUBSW, S, x);
                self.a.sse_rr(SseOp::MOVDQA, x, S);
                self.push_xmm(V, x);
            }
            I16x8ExtaddPairwiseI8x16U => {
                let x = self.pop_xmm();
                self.load_v128(S, [1; 16]);
                self.a.sse_rr(SseOp::PMADDUBSW, x, S);
                self.push_xmm(V, x);
            }
            I32x4ExtaddPairwiseI16x8S => {
                let x = self.pop_xmm();
                self.load_v128(S, splat16(1));
                self.a.sse_rr(SseOp::PMADDWD, x, S);
                self.push_xmm(V, x);
            }
            I32x4ExtaddPairwiseI16x8U => {
                // Bias to signed, add pairs, remove the bias (2 * 0x8000).
                let x = self.pop_xmm();
                self.load_v128(S, splat16(0x8000));
                self.a.sse_rr(SseOp::PXOR, x, S);
                self.load_v128(S, splat16(1));
                self.a.sse_rr(SseOp::PMADDWD, x, S);
                self.load_v128(S, splat32(0x1_0000));
                self.a.sse_rr(SseOp::PADDD, x, S);
                self.push_xmm(V, x);
            }
            I16x8ExtmulLowI8x16S => self.extmul(SseOp::PMOVSXBW, SseOp::PMULLW, false),
            I16x8ExtmulHighI8x16S => self.extmul(SseOp::PMOVSXBW, SseOp::PMULLW, true),
            I16x8ExtmulLowI8x16U => self.extmul(SseOp::PMOVZXBW, SseOp::PMULLW, false),
            I16x8ExtmulHighI8x16U => self.extmul(SseOp::PMOVZXBW, SseOp::PMULLW, true),
            I32x4ExtmulLowI16x8S => self.extmul(SseOp::PMOVSXWD, SseOp::PMULLD, false),
            I32x4ExtmulHighI16x8S => self.extmul(SseOp::PMOVSXWD, SseOp::PMULLD, true),
            I32x4ExtmulLowI16x8U => self.extmul(SseOp::PMOVZXWD, SseOp::PMULLD, false),
            I32x4ExtmulHighI16x8U => self.extmul(SseOp::PMOVZXWD, SseOp::PMULLD, true),
            I64x2ExtmulLowI32x4S => self.extmul64(SseOp::PMULDQ, false),
            I64x2ExtmulHighI32x4S => self.extmul64(SseOp::PMULDQ, true),
            I64x2ExtmulLowI32x4U => self.extmul64(SseOp::PMULUDQ, false),
            I64x2ExtmulHighI32x4U => self.extmul64(SseOp::PMULUDQ, true),

            // Float arithmetic.
            F32x4Add => self.bin(SseOp::ADDPS),
            F32x4Sub => self.bin(SseOp::SUBPS),
            F32x4Mul => self.bin(SseOp::MULPS),
            F32x4Div => self.bin(SseOp::DIVPS),
            F32x4Sqrt => self.un(SseOp::SQRTPS),
            F64x2Add => self.bin(SseOp::ADDPD),
            F64x2Sub => self.bin(SseOp::SUBPD),
            F64x2Mul => self.bin(SseOp::MULPD),
            F64x2Div => self.bin(SseOp::DIVPD),
            F64x2Sqrt => self.un(SseOp::SQRTPD),
            F32x4Abs => self.sign_op(XmmShift::Psrld, 1, SseOp::ANDPS),
            F64x2Abs => self.sign_op(XmmShift::Psrlq, 1, SseOp::ANDPD),
            F32x4Neg => self.sign_op(XmmShift::Pslld, 31, SseOp::XORPS),
            F64x2Neg => self.sign_op(XmmShift::Psllq, 63, SseOp::XORPD),
            F32x4Ceil => self.round(SseOp::ROUNDPS, RoundMode::Ceil),
            F32x4Floor => self.round(SseOp::ROUNDPS, RoundMode::Floor),
            F32x4Trunc => self.round(SseOp::ROUNDPS, RoundMode::Trunc),
            F32x4Nearest => self.round(SseOp::ROUNDPS, RoundMode::Nearest),
            F64x2Ceil => self.round(SseOp::ROUNDPD, RoundMode::Ceil),
            F64x2Floor => self.round(SseOp::ROUNDPD, RoundMode::Floor),
            F64x2Trunc => self.round(SseOp::ROUNDPD, RoundMode::Trunc),
            F64x2Nearest => self.round(SseOp::ROUNDPD, RoundMode::Nearest),
            F32x4Min => self.float_min(&PS),
            F64x2Min => self.float_min(&PD),
            F32x4Max => self.float_max(&PS),
            F64x2Max => self.float_max(&PD),
            // pmin(a, b) = b < a ? b : a, which is `minps b, a`.
            F32x4PMin => self.bin_rev(SseOp::MINPS),
            F64x2PMin => self.bin_rev(SseOp::MINPD),
            F32x4PMax => self.bin_rev(SseOp::MAXPS),
            F64x2PMax => self.bin_rev(SseOp::MAXPD),

            // Conversions.
            F32x4DemoteF64x2Zero => self.un(SseOp::CVTPD2PS),
            F64x2PromoteLowF32x4 => self.un(SseOp::CVTPS2PD),
            F32x4ConvertI32x4S => self.un(SseOp::CVTDQ2PS),
            F64x2ConvertLowI32x4S => self.un(SseOp::CVTDQ2PD),
            F32x4ConvertI32x4U => self.f32x4_convert_u(),
            F64x2ConvertLowI32x4U => {
                // Build 2^52 + x as doubles, subtract 2^52.
                let x = self.pop_xmm();
                self.load_v128(S, splat32(0x4330_0000));
                self.a.sse_rr(SseOp::UNPCKLPS, x, S);
                self.load_v128(S, splat64(0x4330_0000_0000_0000));
                self.a.sse_rr(SseOp::SUBPD, x, S);
                self.push_xmm(V, x);
            }
            I32x4TruncSatF32x4S => self.i32x4_trunc_sat_s(),
            I32x4TruncSatF32x4U => self.i32x4_trunc_sat_u(),
            I32x4TruncSatF64x2SZero => {
                // Clamp above (NaN lanes to 0) and convert; below, the
                // conversion's 0x80000000 is already the saturated value.
                let x = self.pop_xmm();
                let t = self.tmp_xmm(&[x]);
                self.a.sse_rr(SseOp::MOVAPD, S, x);
                self.a.sse_rri(SseOp::CMPPD, S, x, CMP_EQ);
                self.load_v128(t, splat64(2_147_483_647f64.to_bits()));
                self.a.sse_rr(SseOp::ANDPD, S, t);
                self.a.sse_rr(SseOp::MINPD, x, S);
                self.a.sse_rr(SseOp::CVTTPD2DQ, x, x);
                self.push_xmm(V, x);
            }
            I32x4TruncSatF64x2UZero => {
                let x = self.pop_xmm();
                self.a.sse_rr(SseOp::XORPD, S, S);
                self.a.sse_rr(SseOp::MAXPD, x, S);
                self.load_v128(S, splat64(4_294_967_295f64.to_bits()));
                self.a.sse_rr(SseOp::MINPD, x, S);
                self.a.sse_rri(SseOp::ROUNDPD, x, x, RoundMode::Trunc as u8);
                // 2^52 + x has x in its low 32 bits.
                self.load_v128(S, splat64(0x4330_0000_0000_0000));
                self.a.sse_rr(SseOp::ADDPD, x, S);
                self.a.sse_rr(SseOp::XORPS, S, S);
                self.a.sse_rri(SseOp::SHUFPS, x, S, 0x88);
                self.push_xmm(V, x);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    // ---------------------------------------------------------------
    // Constants and operands.

    /// Loads a 16-byte constant from the function's pool into `x`.
    fn load_v128(&mut self, x: Xmm, bytes: [u8; 16]) {
        let label = match self.v128_consts.index.entry(bytes) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(e) => {
                let label = self.a.new_label();
                e.insert(label);
                self.v128_consts.order.push((bytes, label));
                label
            }
        };
        self.a.sse_rm(SseOp::MOVDQU, x, Mem::rip(label));
    }

    /// Emits the constant pool (after the function's code), in the order
    /// the constants were first used.
    pub(crate) fn emit_v128_consts(&mut self) {
        if self.v128_consts.order.is_empty() {
            return;
        }
        self.a.align(16);
        for &(bytes, label) in &self.v128_consts.order {
            self.a.bind(label);
            self.a.emit_bytes(&bytes);
        }
        self.v128_consts.order.clear();
        self.v128_consts.index.clear();
    }

    /// A temporary XMM register distinct from `keep`.
    fn tmp_xmm(&mut self, keep: &[Xmm]) -> Xmm {
        for &x in keep {
            self.regs.take_xmm(x);
        }
        let t = self.alloc_xmm();
        for &x in keep {
            self.regs.free_xmm(x);
        }
        t
    }

    /// `a = a op b`.
    fn bin(&mut self, op: SseOp) {
        let (a, b) = self.pop_xmm_pair();
        self.a.sse_rr(op, a, b);
        self.push_xmm(V, a);
    }

    /// `b = b op a` (for `andnot`, `pmin`, `pmax`).
    fn bin_rev(&mut self, op: SseOp) {
        let (a, b) = self.pop_xmm_pair();
        self.a.sse_rr(op, b, a);
        self.push_xmm(V, b);
    }

    /// `x = op x`.
    fn un(&mut self, op: SseOp) {
        let x = self.pop_xmm();
        self.a.sse_rr(op, x, x);
        self.push_xmm(V, x);
    }

    fn not(&mut self, x: Xmm) {
        self.a.sse_rr(SseOp::PCMPEQD, S, S);
        self.a.sse_rr(SseOp::PXOR, x, S);
    }

    // ---------------------------------------------------------------
    // Memory.

    fn v_load(&mut self, memarg: MemArg, size: u32, op: SseOp) {
        let at = self.address(memarg, size);
        let x = self.alloc_xmm();
        self.a.sse_rm(op, x, at);
        self.push_xmm(V, x);
    }

    fn v_load_lane(&mut self, memarg: MemArg, lane: Lane, index: u8) {
        let x = self.pop_xmm();
        self.regs.take_xmm(x);
        let at = self.address(memarg, lane.bytes());
        self.regs.free_xmm(x);
        match lane {
            Lane::B => self.a.sse_rmi(SseOp::PINSRB, x, at, index),
            Lane::W => self.a.sse_rmi(SseOp::PINSRW, x, at, index),
            Lane::D => self.a.sse_rmi(SseOp::PINSRD, x, at, index),
            Lane::Q if index == 0 => self.a.sse_rm(SseOp::MOVLPS, x, at),
            Lane::Q => self.a.sse_rm(SseOp::MOVHPS, x, at),
        }
        self.push_xmm(V, x);
    }

    fn v_store_lane(&mut self, memarg: MemArg, lane: Lane, index: u8) {
        let x = self.pop_xmm();
        self.regs.take_xmm(x);
        let at = self.address(memarg, lane.bytes());
        self.regs.free_xmm(x);
        match lane {
            Lane::B => self.a.sse_mri(SseOp::PEXTRB, at, x, index),
            Lane::W => self.a.sse_mri(SseOp::PEXTRW, at, x, index),
            Lane::D => self.a.sse_mri(SseOp::PEXTRD, at, x, index),
            Lane::Q if index == 0 => self.a.sse_mr(SseOp::MOVQ_STORE, at, x),
            Lane::Q => self.a.sse_mr(SseOp::MOVHPS_STORE, at, x),
        }
    }

    // ---------------------------------------------------------------
    // Lanes.

    /// Copies lane 0 of `x` to all its lanes.
    fn broadcast(&mut self, lane: Lane, x: Xmm) {
        match lane {
            Lane::B => {
                self.a.sse_rr(SseOp::PXOR, S, S);
                self.a.sse_rr(SseOp::PSHUFB, x, S);
            }
            Lane::W => {
                self.a.sse_rri(SseOp::PSHUFLW, x, x, 0);
                self.a.sse_rri(SseOp::PSHUFD, x, x, 0);
            }
            Lane::D => self.a.sse_rri(SseOp::PSHUFD, x, x, 0),
            Lane::Q => self.a.sse_rr(SseOp::PUNPCKLQDQ, x, x),
        }
    }

    fn splat_int(&mut self, lane: Lane) {
        let r = self.pop_gpr();
        let x = self.alloc_xmm();
        if lane == Lane::Q {
            self.a.movq_xr(x, r);
        } else {
            self.a.movd_xr(x, r);
        }
        self.broadcast(lane, x);
        self.push_xmm(V, x);
    }

    fn extract_int(&mut self, lane: Lane, index: u8, signed: bool) {
        let x = self.pop_xmm();
        let r = self.alloc_gpr();
        let mut ty = ValType::I32;
        match lane {
            Lane::B => {
                self.a.sse_xgi(SseOp::PEXTRB, false, x, r, index);
                if signed {
                    self.a.movsx_rr(Size::S32, Size::S8, r, r);
                }
            }
            Lane::W => {
                self.a.sse_xgi(SseOp::PEXTRW, false, x, r, index);
                if signed {
                    self.a.movsx_rr(Size::S32, Size::S16, r, r);
                }
            }
            Lane::D if index == 0 => self.a.movd_rx(r, x),
            Lane::D => self.a.sse_xgi(SseOp::PEXTRD, false, x, r, index),
            Lane::Q => {
                ty = ValType::I64;
                if index == 0 {
                    self.a.movq_rx(r, x);
                } else {
                    self.a.sse_xgi(SseOp::PEXTRD, true, x, r, index);
                }
            }
        }
        self.push_gpr(ty, r);
    }

    fn replace_int(&mut self, lane: Lane, index: u8) {
        let r = self.pop_gpr();
        self.regs.take_gpr(r);
        let x = self.pop_xmm();
        self.regs.free_gpr(r);
        let (op, w) = match lane {
            Lane::B => (SseOp::PINSRB, false),
            Lane::W => (SseOp::PINSRW, false),
            Lane::D => (SseOp::PINSRD, false),
            Lane::Q => (SseOp::PINSRD, true),
        };
        self.a.sse_xgi(op, w, x, r, index);
        self.push_xmm(V, x);
    }

    // ---------------------------------------------------------------
    // Comparisons and tests.

    /// `dst = dst > src` (signed), lane-wise; may clobber `src`.
    fn gt_s(&mut self, lane: Lane, dst: Xmm, src: Xmm) {
        match lane {
            Lane::B => self.a.sse_rr(SseOp::PCMPGTB, dst, src),
            Lane::W => self.a.sse_rr(SseOp::PCMPGTW, dst, src),
            Lane::D => self.a.sse_rr(SseOp::PCMPGTD, dst, src),
            Lane::Q if self.env.cpu.sse42 => self.a.sse_rr(SseOp::PCMPGTQ, dst, src),
            Lane::Q => {
                // a > b  <=>  sign of d ^ ((a ^ b) & (d ^ b)), d = b - a.
                self.a.sse_rr(SseOp::MOVDQA, S, src);
                self.a.sse_rr(SseOp::PSUBQ, S, dst);
                self.a.sse_rr(SseOp::PXOR, dst, src);
                self.a.sse_rr(SseOp::PXOR, src, S);
                self.a.sse_rr(SseOp::PAND, dst, src);
                self.a.sse_rr(SseOp::PXOR, dst, S);
                self.a.xmm_shift_ri(XmmShift::Psrad, dst, 31);
                self.a.sse_rri(SseOp::PSHUFD, dst, dst, 0xF5);
            }
        }
    }

    fn cmp_int(&mut self, lane: Lane, cmp: Cmp) {
        let (a, b) = self.pop_xmm_pair();
        let result = match cmp {
            Cmp::Eq | Cmp::Ne => {
                self.a.sse_rr(lane.eq(), a, b);
                if cmp == Cmp::Ne {
                    self.not(a);
                }
                a
            }
            Cmp::GtS | Cmp::LeS => {
                self.gt_s(lane, a, b);
                if cmp == Cmp::LeS {
                    self.not(a);
                }
                a
            }
            Cmp::LtS | Cmp::GeS => {
                self.gt_s(lane, b, a);
                if cmp == Cmp::GeS {
                    self.not(b);
                }
                b
            }
            Cmp::GeU | Cmp::LtU => {
                // a >= b  <=>  max(a, b) == a.
                self.a.sse_rr(SseOp::MOVDQA, S, a);
                self.a.sse_rr(lane.max_u(), S, b);
                self.a.sse_rr(lane.eq(), a, S);
                if cmp == Cmp::LtU {
                    self.not(a);
                }
                a
            }
            Cmp::LeU | Cmp::GtU => {
                self.a.sse_rr(SseOp::MOVDQA, S, a);
                self.a.sse_rr(lane.min_u(), S, b);
                self.a.sse_rr(lane.eq(), a, S);
                if cmp == Cmp::GtU {
                    self.not(a);
                }
                a
            }
        };
        self.push_xmm(V, result);
    }

    /// `cmpps`/`cmppd` with predicate `pred`; `swap` compares `b` with `a`.
    fn cmp_float(&mut self, op: SseOp, pred: u8, swap: bool) {
        let (a, b) = self.pop_xmm_pair();
        let (dst, src) = if swap { (b, a) } else { (a, b) };
        self.a.sse_rri(op, dst, src, pred);
        self.push_xmm(V, dst);
    }

    fn all_true(&mut self, lane: Lane) {
        let x = self.pop_xmm();
        self.a.sse_rr(SseOp::PXOR, S, S);
        self.a.sse_rr(lane.eq(), S, x);
        self.a.sse_rr(SseOp::PTEST, S, S);
        self.push(ValType::I32, Loc::Flags(Cond::E));
    }

    fn bitmask(&mut self, lane: Lane) {
        let x = self.pop_xmm();
        let r = self.alloc_gpr();
        match lane {
            Lane::B => self.a.sse_gx(SseOp::PMOVMSKB, r, x),
            Lane::W => {
                self.a.sse_rr(SseOp::PACKSSWB, x, x);
                self.a.sse_gx(SseOp::PMOVMSKB, r, x);
                self.a.alu_ri(AluOp::And, Size::S32, r, 0xff);
            }
            Lane::D => self.a.sse_gx(SseOp::MOVMSKPS, r, x),
            Lane::Q => self.a.sse_gx(SseOp::MOVMSKPD, r, x),
        }
        self.push_gpr(ValType::I32, r);
    }

    // ---------------------------------------------------------------
    // Integer arithmetic.

    fn neg(&mut self, lane: Lane) {
        let x = self.pop_xmm();
        self.a.sse_rr(SseOp::PXOR, S, S);
        self.a.sse_rr(lane.sub(), S, x);
        self.a.sse_rr(SseOp::MOVDQA, x, S);
        self.push_xmm(V, x);
    }

    fn popcnt(&mut self) {
        // Look up the counts of both nibbles with pshufb.
        const COUNTS: [u8; 16] = [0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4];
        let x = self.pop_xmm();
        let t = self.tmp_xmm(&[x]);
        self.load_v128(t, [0x0f; 16]);
        self.a.sse_rr(SseOp::MOVDQA, S, x);
        self.a.xmm_shift_ri(XmmShift::Psrlw, S, 4);
        self.a.sse_rr(SseOp::PAND, S, t);
        self.a.sse_rr(SseOp::PAND, x, t);
        self.load_v128(t, COUNTS);
        self.a.sse_rr(SseOp::PSHUFB, t, x);
        self.load_v128(x, COUNTS);
        self.a.sse_rr(SseOp::PSHUFB, x, S);
        self.a.sse_rr(SseOp::PADDB, x, t);
        self.push_xmm(V, x);
    }

    fn i64x2_mul(&mut self) {
        // lo(a)lo(b) + ((hi(a)lo(b) + lo(a)hi(b)) << 32)
        let (a, b) = self.pop_xmm_pair();
        let t = self.tmp_xmm(&[a, b]);
        self.a.sse_rr(SseOp::MOVDQA, S, a);
        self.a.xmm_shift_ri(XmmShift::Psrlq, S, 32);
        self.a.sse_rr(SseOp::PMULUDQ, S, b);
        self.a.sse_rr(SseOp::MOVDQA, t, b);
        self.a.xmm_shift_ri(XmmShift::Psrlq, t, 32);
        self.a.sse_rr(SseOp::PMULUDQ, t, a);
        self.a.sse_rr(SseOp::PADDQ, S, t);
        self.a.xmm_shift_ri(XmmShift::Psllq, S, 32);
        self.a.sse_rr(SseOp::PMULUDQ, a, b);
        self.a.sse_rr(SseOp::PADDQ, a, S);
        self.push_xmm(V, a);
    }

    fn shift(&mut self, lane: Lane, kind: Shift) {
        let mask = lane.bytes() * 8 - 1;
        if lane != Lane::B && !(lane == Lane::Q && kind == Shift::ShrS) {
            // A constant count: the immediate form.
            if let Some(n) = self.pop_const() {
                use XmmShift::*;
                let op = match (kind, lane) {
                    (Shift::Shl, Lane::W) => Psllw,
                    (Shift::Shl, Lane::D) => Pslld,
                    (Shift::Shl, _) => Psllq,
                    (Shift::ShrS, Lane::W) => Psraw,
                    (Shift::ShrS, _) => Psrad,
                    (Shift::ShrU, Lane::W) => Psrlw,
                    (Shift::ShrU, Lane::D) => Psrld,
                    (Shift::ShrU, _) => Psrlq,
                };
                let x = self.pop_xmm();
                self.a.xmm_shift_ri(op, x, (n as u32 & mask) as u8);
                self.push_xmm(V, x);
                return;
            }
        }
        let r = self.pop_gpr();
        self.regs.take_gpr(r);
        let x = self.pop_xmm();
        self.regs.free_gpr(r);
        self.a.alu_ri(AluOp::And, Size::S32, r, mask as i32);
        let op = |w: SseOp, d: SseOp, q: SseOp| match lane {
            Lane::W => w,
            Lane::D => d,
            _ => q,
        };
        match (lane, kind) {
            (Lane::B, Shift::Shl) => {
                // Shift words, then clear the bits that crossed bytes.
                self.a.movd_xr(S, r);
                self.a.sse_rr(SseOp::PSLLW, x, S);
                let t = self.tmp_xmm(&[x]);
                self.a.sse_rr(SseOp::PCMPEQD, t, t);
                self.a.sse_rr(SseOp::PSLLW, t, S);
                self.a.sse_rr(SseOp::PXOR, S, S);
                self.a.sse_rr(SseOp::PSHUFB, t, S);
                self.a.sse_rr(SseOp::PAND, x, t);
                self.push_xmm(V, x);
            }
            (Lane::B, _) => {
                // Each byte to the top of a word, shift by count + 8, pack.
                self.a.alu_ri(AluOp::Add, Size::S32, r, 8);
                self.a.movd_xr(S, r);
                let t = self.tmp_xmm(&[x]);
                self.a.sse_rr(SseOp::MOVDQA, t, x);
                self.a.sse_rr(SseOp::PUNPCKLBW, t, x);
                self.a.sse_rr(SseOp::PUNPCKHBW, x, x);
                let (shift, pack) = if kind == Shift::ShrS {
                    (SseOp::PSRAW, SseOp::PACKSSWB)
                } else {
                    (SseOp::PSRLW, SseOp::PACKUSWB)
                };
                self.a.sse_rr(shift, t, S);
                self.a.sse_rr(shift, x, S);
                self.a.sse_rr(pack, t, x);
                self.push_xmm(V, t);
            }
            (Lane::Q, Shift::ShrS) => {
                // ((x >>u n) ^ m) - m with m = 1 << 63 >>u n.
                self.a.movd_xr(S, r);
                let t = self.tmp_xmm(&[x]);
                self.load_v128(t, splat64(1 << 63));
                self.a.sse_rr(SseOp::PSRLQ, t, S);
                self.a.sse_rr(SseOp::PSRLQ, x, S);
                self.a.sse_rr(SseOp::PXOR, x, t);
                self.a.sse_rr(SseOp::PSUBQ, x, t);
                self.push_xmm(V, x);
            }
            (_, kind) => {
                let op = match kind {
                    Shift::Shl => op(SseOp::PSLLW, SseOp::PSLLD, SseOp::PSLLQ),
                    Shift::ShrS => op(SseOp::PSRAW, SseOp::PSRAD, SseOp::PSRAD),
                    Shift::ShrU => op(SseOp::PSRLW, SseOp::PSRLD, SseOp::PSRLQ),
                };
                self.a.movd_xr(S, r);
                self.a.sse_rr(op, x, S);
                self.push_xmm(V, x);
            }
        }
    }

    /// Widens the low (or high) half of the top vector with `op`.
    fn extend(&mut self, op: SseOp, high: bool) {
        let x = self.pop_xmm();
        if high {
            self.a.sse_rri(SseOp::PSHUFD, x, x, 0xEE);
        }
        self.a.sse_rr(op, x, x);
        self.push_xmm(V, x);
    }

    fn extmul(&mut self, extend: SseOp, mul: SseOp, high: bool) {
        let (a, b) = self.pop_xmm_pair();
        if high {
            self.a.sse_rri(SseOp::PSHUFD, a, a, 0xEE);
            self.a.sse_rri(SseOp::PSHUFD, b, b, 0xEE);
        }
        self.a.sse_rr(extend, a, a);
        self.a.sse_rr(extend, b, b);
        self.a.sse_rr(mul, a, b);
        self.push_xmm(V, a);
    }

    fn extmul64(&mut self, mul: SseOp, high: bool) {
        // Lanes 0, 1 (or 2, 3) to dwords 0 and 2, then multiply those.
        let (a, b) = self.pop_xmm_pair();
        let sel = if high { 0xFA } else { 0x50 };
        self.a.sse_rri(SseOp::PSHUFD, a, a, sel);
        self.a.sse_rri(SseOp::PSHUFD, b, b, sel);
        self.a.sse_rr(mul, a, b);
        self.push_xmm(V, a);
    }

    // ---------------------------------------------------------------
    // Float arithmetic and conversions.

    /// `abs`/`neg`: a sign mask made by shifting all-ones, then `op`.
    fn sign_op(&mut self, shift: XmmShift, n: u8, op: SseOp) {
        let x = self.pop_xmm();
        self.a.sse_rr(SseOp::PCMPEQD, S, S);
        self.a.xmm_shift_ri(shift, S, n);
        self.a.sse_rr(op, x, S);
        self.push_xmm(V, x);
    }

    fn round(&mut self, op: SseOp, mode: RoundMode) {
        let x = self.pop_xmm();
        self.a.sse_rri(op, x, x, mode as u8);
        self.push_xmm(V, x);
    }

    /// WebAssembly `min`: NaN if either is NaN, and `-0 < +0`.
    fn float_min(&mut self, ops: &PackedOps) {
        // minps returns its second operand on NaN and on equal zeros: take
        // it both ways and merge.
        let (a, b) = self.pop_xmm_pair();
        self.a.sse_rr(SseOp::MOVAPS, S, b);
        self.a.sse_rr(ops.min, S, a);
        self.a.sse_rr(ops.min, a, b);
        self.a.sse_rr(ops.or, S, a);
        self.a.sse_rri(ops.cmp, a, S, CMP_UNORD);
        self.a.sse_rr(ops.or, S, a);
        self.a.xmm_shift_ri(ops.nan_shift.0, a, ops.nan_shift.1);
        self.a.sse_rr(ops.andn, a, S);
        self.push_xmm(V, a);
    }

    /// WebAssembly `max`: NaN if either is NaN, and `+0 > -0`.
    fn float_max(&mut self, ops: &PackedOps) {
        let (a, b) = self.pop_xmm_pair();
        self.a.sse_rr(SseOp::MOVAPS, S, b);
        self.a.sse_rr(ops.max, S, a);
        self.a.sse_rr(ops.max, a, b);
        // The lanes where the two orders disagree.
        self.a.sse_rr(ops.xor, a, S);
        // Propagate NaNs and the sign of zeros.
        self.a.sse_rr(ops.or, S, a);
        self.a.sse_rr(ops.sub, S, a);
        self.a.sse_rri(ops.cmp, a, S, CMP_UNORD);
        self.a.xmm_shift_ri(ops.nan_shift.0, a, ops.nan_shift.1);
        self.a.sse_rr(ops.andn, a, S);
        self.push_xmm(V, a);
    }

    fn f32x4_convert_u(&mut self) {
        // Convert the low 16 and high 16 bits separately (both exact) and
        // add (one rounding).
        let x = self.pop_xmm();
        self.a.sse_rr(SseOp::MOVDQA, S, x);
        self.a.xmm_shift_ri(XmmShift::Pslld, S, 16);
        self.a.xmm_shift_ri(XmmShift::Psrld, S, 16);
        self.a.sse_rr(SseOp::PSUBD, x, S);
        self.a.sse_rr(SseOp::CVTDQ2PS, S, S);
        self.a.xmm_shift_ri(XmmShift::Psrld, x, 1);
        self.a.sse_rr(SseOp::CVTDQ2PS, x, x);
        self.a.sse_rr(SseOp::ADDPS, x, x);
        self.a.sse_rr(SseOp::ADDPS, x, S);
        self.push_xmm(V, x);
    }

    fn i32x4_trunc_sat_s(&mut self) {
        let x = self.pop_xmm();
        // NaN lanes to 0.
        self.a.sse_rr(SseOp::MOVAPS, S, x);
        self.a.sse_rri(SseOp::CMPPS, S, S, CMP_EQ);
        self.a.sse_rr(SseOp::PAND, x, S);
        // Top bit of S set where x >= +0.
        self.a.sse_rr(SseOp::PXOR, S, x);
        self.a.sse_rr(SseOp::CVTTPS2DQ, x, x);
        // Lanes that were positive but converted to 0x80000000 overflowed.
        self.a.sse_rr(SseOp::PAND, S, x);
        self.a.xmm_shift_ri(XmmShift::Psrad, S, 31);
        self.a.sse_rr(SseOp::PXOR, x, S);
        self.push_xmm(V, x);
    }

    fn i32x4_trunc_sat_u(&mut self) {
        let x = self.pop_xmm();
        let t = self.tmp_xmm(&[x]);
        // NaN and negative lanes to 0.
        self.a.sse_rr(SseOp::XORPS, S, S);
        self.a.sse_rr(SseOp::MAXPS, x, S);
        // S = 2^31 as f32.
        self.a.sse_rr(SseOp::PCMPEQD, S, S);
        self.a.xmm_shift_ri(XmmShift::Psrld, S, 1);
        self.a.sse_rr(SseOp::CVTDQ2PS, S, S);
        // t = the part of x at or above 2^31 (0x7fffffff if too large).
        self.a.sse_rr(SseOp::MOVAPS, t, x);
        self.a.sse_rr(SseOp::SUBPS, t, S);
        self.a.sse_rri(SseOp::CMPPS, S, t, CMP_LE);
        self.a.sse_rr(SseOp::CVTTPS2DQ, t, t);
        self.a.sse_rr(SseOp::PXOR, t, S);
        self.a.sse_rr(SseOp::PXOR, S, S);
        self.a.sse_rr(SseOp::PMAXSD, t, S);
        // x below 2^31 converts exactly; above, to 0x80000000, plus t.
        self.a.sse_rr(SseOp::CVTTPS2DQ, x, x);
        self.a.sse_rr(SseOp::PADDD, x, t);
        self.push_xmm(V, x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asm::x64::CpuFeatures;
    use crate::compile::compile_module;
    use alloc::vec::Vec;

    fn compile(wat: &str, cpu: CpuFeatures) -> Result<()> {
        let bytes = wat::parse_str(wat).unwrap();
        let module = crate::decode::Module::decode(&bytes).unwrap();
        let info = crate::validate::validate_module(&module).unwrap();
        let type_ids: Vec<u32> = (0..module.types.len() as u32).collect();
        compile_module(&module, &info, &type_ids, &cpu).map(|_| ())
    }

    #[test]
    fn simd_operators_need_sse41() {
        let simd = "(module (func (result i32) v128.const i64x2 1 2 v128.any_true))";
        let err = compile(simd, CpuFeatures::baseline()).unwrap_err();
        assert!(alloc::format!("{err}").contains("SSE4.1"), "{err}");
        assert!(compile(simd, CpuFeatures::all()).is_ok());
        // Moving vectors around needs only SSE2.
        let moves = "(module (func (param v128) (result v128) (local v128)
            local.get 0 local.set 1 local.get 1))";
        assert!(compile(moves, CpuFeatures::baseline()).is_ok());
    }

    #[test]
    fn splats_repeat_little_endian_lanes() {
        assert_eq!(splat16(0x8000)[..4], [0x00, 0x80, 0x00, 0x80]);
        assert_eq!(splat32(0x4330_0000)[4..8], [0x00, 0x00, 0x30, 0x43]);
        assert_eq!(splat64(1 << 63)[8..], [0, 0, 0, 0, 0, 0, 0, 0x80]);
    }

    #[test]
    fn shuffle_masks_split_the_operands() {
        let mut lanes = [0u8; 16];
        for (i, l) in lanes.iter_mut().enumerate() {
            *l = if i % 2 == 0 { i as u8 } else { 31 - i as u8 };
        }
        let (a, b) = shuffle_masks(lanes);
        assert_eq!(a[..4], [0, 0x80, 2, 0x80]);
        assert_eq!(b[..4], [0x80, 14, 0x80, 12]);
    }
}
