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

use super::super::func::FuncCompiler;
use super::super::stack::Loc;
use super::regs::SCRATCH_XMM;
use crate::asm::x64::{AluOp, Cond, Label, Mem, RoundMode, Size, SseOp, Xmm, XmmShift};
use crate::decode::{MemArg, ValType};
use alloc::vec::Vec;
use hashbrown::HashMap;
use hashbrown::hash_map::Entry;

/// A function's 16-byte constants: each distinct value once, found by
/// hashing its bytes (a function may use hundreds of thousands, so a search
/// of the list would make compile time quadratic). Kept in a
/// [`super::super::func::Scratch`] between functions for its allocations.
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

pub(in crate::compile) const V: ValType = ValType::V128;
pub(in crate::compile) const S: Xmm = SCRATCH_XMM;

/// `cmpps`/`cmppd` predicates.
pub(in crate::compile) const CMP_EQ: u8 = 0;
pub(in crate::compile) const CMP_LT: u8 = 1;
pub(in crate::compile) const CMP_LE: u8 = 2;
pub(in crate::compile) const CMP_UNORD: u8 = 3;
pub(in crate::compile) const CMP_NEQ: u8 = 4;

/// The lane width of an integer vector operation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(in crate::compile) enum Lane {
    B,
    W,
    D,
    Q,
}

impl Lane {
    pub(in crate::compile) fn bytes(self) -> u32 {
        match self {
            Lane::B => 1,
            Lane::W => 2,
            Lane::D => 4,
            Lane::Q => 8,
        }
    }
    pub(in crate::compile) fn add(self) -> SseOp {
        [SseOp::PADDB, SseOp::PADDW, SseOp::PADDD, SseOp::PADDQ][self as usize]
    }
    pub(in crate::compile) fn sub(self) -> SseOp {
        [SseOp::PSUBB, SseOp::PSUBW, SseOp::PSUBD, SseOp::PSUBQ][self as usize]
    }
    pub(in crate::compile) fn eq(self) -> SseOp {
        [
            SseOp::PCMPEQB,
            SseOp::PCMPEQW,
            SseOp::PCMPEQD,
            SseOp::PCMPEQQ,
        ][self as usize]
    }
    pub(in crate::compile) fn min_u(self) -> SseOp {
        [SseOp::PMINUB, SseOp::PMINUW, SseOp::PMINUD, SseOp::PMINUD][self as usize]
    }
    pub(in crate::compile) fn max_u(self) -> SseOp {
        [SseOp::PMAXUB, SseOp::PMAXUW, SseOp::PMAXUD, SseOp::PMAXUD][self as usize]
    }
}

/// An integer comparison.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(in crate::compile) enum Cmp {
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
pub(in crate::compile) enum Shift {
    Shl,
    ShrS,
    ShrU,
}

/// The packed instructions of one float width.
pub(in crate::compile) struct PackedOps {
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

pub(in crate::compile) const PS: PackedOps = PackedOps {
    min: SseOp::MINPS,
    max: SseOp::MAXPS,
    or: SseOp::ORPS,
    xor: SseOp::XORPS,
    andn: SseOp::ANDNPS,
    sub: SseOp::SUBPS,
    cmp: SseOp::CMPPS,
    nan_shift: (XmmShift::Psrld, 10),
};

pub(in crate::compile) const PD: PackedOps = PackedOps {
    min: SseOp::MINPD,
    max: SseOp::MAXPD,
    or: SseOp::ORPD,
    xor: SseOp::XORPD,
    andn: SseOp::ANDNPD,
    sub: SseOp::SUBPD,
    cmp: SseOp::CMPPD,
    nan_shift: (XmmShift::Psrlq, 13),
};

pub(in crate::compile) fn splat16(v: u16) -> [u8; 16] {
    let mut b = [0; 16];
    for c in b.chunks_exact_mut(2) {
        c.copy_from_slice(&v.to_le_bytes());
    }
    b
}

pub(in crate::compile) fn splat32(v: u32) -> [u8; 16] {
    let mut b = [0; 16];
    for c in b.chunks_exact_mut(4) {
        c.copy_from_slice(&v.to_le_bytes());
    }
    b
}

pub(in crate::compile) fn splat64(v: u64) -> [u8; 16] {
    let mut b = [0; 16];
    for c in b.chunks_exact_mut(8) {
        c.copy_from_slice(&v.to_le_bytes());
    }
    b
}

/// The `pshufb` masks of `i8x16.shuffle`: lanes taken from the first and
/// from the second operand (`0x80` zeroes a byte).
pub(in crate::compile) fn shuffle_masks(lanes: [u8; 16]) -> ([u8; 16], [u8; 16]) {
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
    // ---------------------------------------------------------------
    // Constants and operands.

    /// Loads a 16-byte constant from the function's pool into `x`.
    pub(in crate::compile) fn load_v128(&mut self, x: Xmm, bytes: [u8; 16]) {
        let at = self.pool_const(bytes);
        self.a.sse_rm(SseOp::MOVDQU, x, at);
    }

    /// The address of a 16-byte constant in the function's pool (which
    /// float constants share, in their low bytes).
    pub(in crate::compile) fn pool_const(&mut self, bytes: [u8; 16]) -> Mem {
        let label = match self.v128_consts.index.entry(bytes) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(e) => {
                let label = self.a.new_label();
                e.insert(label);
                self.v128_consts.order.push((bytes, label));
                label
            }
        };
        Mem::rip(label)
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
    pub(in crate::compile) fn tmp_xmm(&mut self, keep: &[Xmm]) -> Xmm {
        for &x in keep {
            self.ops.take_xmm(x);
        }
        let t = self.alloc_xmm();
        for &x in keep {
            self.ops.free_xmm(x);
        }
        t
    }

    /// `a = a op b`.
    pub(in crate::compile) fn bin(&mut self, op: SseOp) {
        let (a, b) = self.pop_xmm_pair();
        self.a.sse_rr(op, a, b);
        self.push_xmm(V, a);
    }

    /// `b = b op a` (for `andnot`, `pmin`, `pmax`).
    pub(in crate::compile) fn bin_rev(&mut self, op: SseOp) {
        let (a, b) = self.pop_xmm_pair();
        self.a.sse_rr(op, b, a);
        self.push_xmm(V, b);
    }

    /// `x = op x`.
    pub(in crate::compile) fn un(&mut self, op: SseOp) {
        let x = self.pop_xmm();
        self.a.sse_rr(op, x, x);
        self.push_xmm(V, x);
    }

    pub(in crate::compile) fn not(&mut self, x: Xmm) {
        self.a.sse_rr(SseOp::PCMPEQD, S, S);
        self.a.sse_rr(SseOp::PXOR, x, S);
    }

    // ---------------------------------------------------------------
    // Memory.

    pub(in crate::compile) fn v_load(&mut self, memarg: MemArg, size: u32, op: SseOp) {
        let at = self.address(memarg, size);
        let x = self.alloc_xmm();
        self.a.sse_rm(op, x, at);
        self.push_xmm(V, x);
    }

    pub(in crate::compile) fn v_load_lane(&mut self, memarg: MemArg, lane: Lane, index: u8) {
        let x = self.pop_xmm();
        self.ops.take_xmm(x);
        let at = self.address(memarg, lane.bytes());
        self.ops.free_xmm(x);
        match lane {
            Lane::B => self.a.sse_rmi(SseOp::PINSRB, x, at, index),
            Lane::W => self.a.sse_rmi(SseOp::PINSRW, x, at, index),
            Lane::D => self.a.sse_rmi(SseOp::PINSRD, x, at, index),
            Lane::Q if index == 0 => self.a.sse_rm(SseOp::MOVLPS, x, at),
            Lane::Q => self.a.sse_rm(SseOp::MOVHPS, x, at),
        }
        self.push_xmm(V, x);
    }

    pub(in crate::compile) fn v_store_lane(&mut self, memarg: MemArg, lane: Lane, index: u8) {
        let x = self.pop_xmm();
        self.ops.take_xmm(x);
        let at = self.address(memarg, lane.bytes());
        self.ops.free_xmm(x);
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
    pub(in crate::compile) fn broadcast(&mut self, lane: Lane, x: Xmm) {
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

    pub(in crate::compile) fn splat_int(&mut self, lane: Lane) {
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

    pub(in crate::compile) fn extract_int(&mut self, lane: Lane, index: u8, signed: bool) {
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

    pub(in crate::compile) fn replace_int(&mut self, lane: Lane, index: u8) {
        let r = self.pop_gpr();
        self.ops.take_gpr(r);
        let x = self.pop_xmm();
        self.ops.free_gpr(r);
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
    pub(in crate::compile) fn gt_s(&mut self, lane: Lane, dst: Xmm, src: Xmm) {
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

    pub(in crate::compile) fn cmp_int(&mut self, lane: Lane, cmp: Cmp) {
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
    pub(in crate::compile) fn cmp_float(&mut self, op: SseOp, pred: u8, swap: bool) {
        let (a, b) = self.pop_xmm_pair();
        let (dst, src) = if swap { (b, a) } else { (a, b) };
        self.a.sse_rri(op, dst, src, pred);
        self.push_xmm(V, dst);
    }

    pub(in crate::compile) fn all_true(&mut self, lane: Lane) {
        let x = self.pop_xmm();
        self.a.sse_rr(SseOp::PXOR, S, S);
        self.a.sse_rr(lane.eq(), S, x);
        self.a.sse_rr(SseOp::PTEST, S, S);
        self.push(ValType::I32, Loc::Flags(Cond::E));
    }

    pub(in crate::compile) fn bitmask(&mut self, lane: Lane) {
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

    pub(in crate::compile) fn neg(&mut self, lane: Lane) {
        let x = self.pop_xmm();
        self.a.sse_rr(SseOp::PXOR, S, S);
        self.a.sse_rr(lane.sub(), S, x);
        self.a.sse_rr(SseOp::MOVDQA, x, S);
        self.push_xmm(V, x);
    }

    pub(in crate::compile) fn popcnt(&mut self) {
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

    pub(in crate::compile) fn i64x2_mul(&mut self) {
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

    pub(in crate::compile) fn shift(&mut self, lane: Lane, kind: Shift) {
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
        self.ops.take_gpr(r);
        let x = self.pop_xmm();
        self.ops.free_gpr(r);
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
    pub(in crate::compile) fn extend(&mut self, op: SseOp, high: bool) {
        let x = self.pop_xmm();
        if high {
            self.a.sse_rri(SseOp::PSHUFD, x, x, 0xEE);
        }
        self.a.sse_rr(op, x, x);
        self.push_xmm(V, x);
    }

    pub(in crate::compile) fn extmul(&mut self, extend: SseOp, mul: SseOp, high: bool) {
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

    pub(in crate::compile) fn extmul64(&mut self, mul: SseOp, high: bool) {
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
    pub(in crate::compile) fn sign_op(&mut self, shift: XmmShift, n: u8, op: SseOp) {
        let x = self.pop_xmm();
        self.a.sse_rr(SseOp::PCMPEQD, S, S);
        self.a.xmm_shift_ri(shift, S, n);
        self.a.sse_rr(op, x, S);
        self.push_xmm(V, x);
    }

    pub(in crate::compile) fn round(&mut self, op: SseOp, mode: RoundMode) {
        let x = self.pop_xmm();
        self.a.sse_rri(op, x, x, mode as u8);
        self.push_xmm(V, x);
    }

    /// WebAssembly `min`: NaN if either is NaN, and `-0 < +0`.
    pub(in crate::compile) fn float_min(&mut self, ops: &PackedOps) {
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
    pub(in crate::compile) fn float_max(&mut self, ops: &PackedOps) {
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

    pub(in crate::compile) fn f32x4_convert_u(&mut self) {
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

    pub(in crate::compile) fn i32x4_trunc_sat_s(&mut self) {
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

    pub(in crate::compile) fn i32x4_trunc_sat_u(&mut self) {
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

    /// Clamps to `[0, 2^32 - 1]` (NaN lanes to 0), truncates, and takes
    /// the low 32 bits of `2^52 + x`; the upper lanes are zero.
    pub(in crate::compile) fn i32x4_trunc_sat_f64x2_u_zero(&mut self) {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asm::x64::CpuFeatures;
    use crate::compile::compile_module;
    use crate::error::Result;

    fn compile(wat: &str, cpu: CpuFeatures) -> Result<()> {
        let bytes = wat::parse_str(wat).unwrap();
        let module = crate::decode::Module::decode(&bytes).unwrap();
        let info = crate::validate::validate_module(&module).unwrap();
        compile_module(&module, &info, &cpu).map(|_| ())
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
