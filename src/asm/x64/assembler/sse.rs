//! SSE instructions, from the encodings in [`super::super::sse`].

use super::*;

impl Assembler {
    pub(super) fn sse(&mut self, op: SseOp, w: bool, reg: u8, rm: Rm<'_>, imm: &[u8]) {
        let p = Prefixes {
            mandatory: op.prefix.byte(),
            w,
            ..Prefixes::default()
        };
        self.inst(p, op.opcode, reg, rm, imm);
    }

    /// The VEX.128 form of `op`, with `src1` as its extra source.
    fn vex(&mut self, op: SseOp, dst: Xmm, src1: Xmm, src2: Rm<'_>) {
        let (map, opcode) = match op.opcode {
            [0x0F, 0x38, rest @ ..] => (2, rest),
            [0x0F, 0x3A, rest @ ..] => (3, rest),
            [0x0F, rest @ ..] => (1, rest),
            _ => panic!("an SSE opcode starts with 0F"),
        };
        let p = Prefixes {
            mandatory: op.prefix.byte(),
            vex: Some(Vex {
                map,
                vvvv: src1.enc(),
            }),
            ..Prefixes::default()
        };
        self.inst_general(p, opcode, dst.enc(), src2, &[]);
    }

    /// `vop dst, src1, src2` (AVX): `op` of `src1` and `src2` into `dst`,
    /// neither source overwritten. For a scalar `op`, `dst`'s upper lanes
    /// come from `src1`.
    pub fn vex_rrr(&mut self, op: SseOp, dst: Xmm, src1: Xmm, src2: Xmm) {
        self.vex(op, dst, src1, xmm(src2));
    }

    /// `vop dst, src1, [mem]` (AVX).
    pub fn vex_rrm(&mut self, op: SseOp, dst: Xmm, src1: Xmm, src2: Mem) {
        self.vex(op, dst, src1, Rm::Mem(&src2));
    }

    /// `op dst, src` for a table entry of [`SseOp`].
    pub fn sse_rr(&mut self, op: SseOp, dst: Xmm, src: Xmm) {
        self.sse(op, false, dst.enc(), xmm(src), &[]);
    }

    /// `op dst, [mem]`.
    pub fn sse_rm(&mut self, op: SseOp, dst: Xmm, mem: Mem) {
        self.sse(op, false, dst.enc(), Rm::Mem(&mem), &[]);
    }

    /// `op [mem], src`, for the `*_STORE` entries of [`SseOp`].
    pub fn sse_mr(&mut self, op: SseOp, mem: Mem, src: Xmm) {
        self.sse(op, false, src.enc(), Rm::Mem(&mem), &[]);
    }

    /// `op dst, src, imm8` (`CMPSS`, `ROUNDSD`, `PSHUFD`, …).
    pub fn sse_rri(&mut self, op: SseOp, dst: Xmm, src: Xmm, imm: u8) {
        self.sse(op, false, dst.enc(), xmm(src), &[imm]);
    }

    /// `op dst, [mem], imm8`.
    pub fn sse_rmi(&mut self, op: SseOp, dst: Xmm, mem: Mem, imm: u8) {
        self.sse(op, false, dst.enc(), Rm::Mem(&mem), &[imm]);
    }

    /// `op [mem], src, imm8` (`pextrb`/`pextrw`/`pextrd` to memory).
    pub fn sse_mri(&mut self, op: SseOp, mem: Mem, src: Xmm, imm: u8) {
        self.sse(op, false, src.enc(), Rm::Mem(&mem), &[imm]);
    }

    /// `op` with the XMM `x` in the `reg` field and the GPR `g` in `rm`,
    /// plus `imm8`: `pinsrb x, g32, imm` and `pextrb g32, x, imm` and
    /// friends; `w` selects the 64-bit forms (`pinsrq`, `pextrq`).
    pub fn sse_xgi(&mut self, op: SseOp, w: bool, x: Xmm, g: Gpr, imm: u8) {
        self.sse(op, w, x.enc(), gpr(g), &[imm]);
    }

    /// `op dst, src` with a GPR destination: `pmovmskb`, `movmskps`, ….
    pub fn sse_gx(&mut self, op: SseOp, dst: Gpr, src: Xmm) {
        self.sse(op, false, dst.enc(), xmm(src), &[]);
    }

    /// `psrlq`/`psllq`/… `dst, imm8`.
    pub fn xmm_shift_ri(&mut self, op: XmmShift, dst: Xmm, imm: u8) {
        let (opc, digit) = op.encoding();
        let p = Prefixes {
            mandatory: Some(0x66),
            ..Prefixes::default()
        };
        self.inst(p, &[0x0F, opc], digit, xmm(dst), &[imm]);
    }

    /// `movd xmm, r32`: zeroes the rest of `dst`.
    pub fn movd_xr(&mut self, dst: Xmm, src: Gpr) {
        self.gpr_xmm(false, 0x6E, dst, gpr(src));
    }

    /// `movq xmm, r64`: zeroes the rest of `dst`.
    pub fn movq_xr(&mut self, dst: Xmm, src: Gpr) {
        self.gpr_xmm(true, 0x6E, dst, gpr(src));
    }

    /// `movd r32, xmm`.
    pub fn movd_rx(&mut self, dst: Gpr, src: Xmm) {
        self.gpr_xmm(false, 0x7E, src, gpr(dst));
    }

    /// `movq r64, xmm`.
    pub fn movq_rx(&mut self, dst: Gpr, src: Xmm) {
        self.gpr_xmm(true, 0x7E, src, gpr(dst));
    }

    pub(super) fn gpr_xmm(&mut self, w: bool, opc: u8, x: Xmm, rm: Rm<'_>) {
        let p = Prefixes {
            mandatory: Some(0x66),
            w,
            ..Prefixes::default()
        };
        self.inst(p, &[0x0F, opc], x.enc(), rm, &[]);
    }

    pub(super) fn int_size_w(size: Size) -> bool {
        match size {
            Size::S32 => false,
            Size::S64 => true,
            _ => panic!("int/float conversions take 32- or 64-bit integers"),
        }
    }

    /// `cvtsi2ss dst, src`: the signed `src_size` (32/64) integer to f32.
    pub fn cvtsi2ss_rr(&mut self, src_size: Size, dst: Xmm, src: Gpr) {
        let w = Self::int_size_w(src_size);
        self.sse(SseOp::CVTSI2SS, w, dst.enc(), gpr(src), &[]);
    }

    /// `cvtsi2ss dst, [mem]` (32/64-bit integer in memory).
    pub fn cvtsi2ss_rm(&mut self, src_size: Size, dst: Xmm, mem: Mem) {
        let w = Self::int_size_w(src_size);
        self.sse(SseOp::CVTSI2SS, w, dst.enc(), Rm::Mem(&mem), &[]);
    }

    /// `cvtsi2sd dst, src`: the signed `src_size` (32/64) integer to f64.
    pub fn cvtsi2sd_rr(&mut self, src_size: Size, dst: Xmm, src: Gpr) {
        let w = Self::int_size_w(src_size);
        self.sse(SseOp::CVTSI2SD, w, dst.enc(), gpr(src), &[]);
    }

    /// `cvtsi2sd dst, [mem]` (32/64-bit integer in memory).
    pub fn cvtsi2sd_rm(&mut self, src_size: Size, dst: Xmm, mem: Mem) {
        let w = Self::int_size_w(src_size);
        self.sse(SseOp::CVTSI2SD, w, dst.enc(), Rm::Mem(&mem), &[]);
    }

    /// `cvttss2si dst, src`: f32 to a signed `dst_size` (32/64) integer,
    /// truncating; out of range gives the "integer indefinite" value
    /// (`0x80000000` / `0x8000000000000000`).
    pub fn cvttss2si_rr(&mut self, dst_size: Size, dst: Gpr, src: Xmm) {
        let w = Self::int_size_w(dst_size);
        self.sse(SseOp::CVTTSS2SI, w, dst.enc(), xmm(src), &[]);
    }

    /// `cvttss2si dst, dword [mem]`.
    pub fn cvttss2si_rm(&mut self, dst_size: Size, dst: Gpr, mem: Mem) {
        let w = Self::int_size_w(dst_size);
        self.sse(SseOp::CVTTSS2SI, w, dst.enc(), Rm::Mem(&mem), &[]);
    }

    /// `cvttsd2si dst, src`: f64 to a signed `dst_size` (32/64) integer,
    /// truncating.
    pub fn cvttsd2si_rr(&mut self, dst_size: Size, dst: Gpr, src: Xmm) {
        let w = Self::int_size_w(dst_size);
        self.sse(SseOp::CVTTSD2SI, w, dst.enc(), xmm(src), &[]);
    }

    /// `cvttsd2si dst, qword [mem]`.
    pub fn cvttsd2si_rm(&mut self, dst_size: Size, dst: Gpr, mem: Mem) {
        let w = Self::int_size_w(dst_size);
        self.sse(SseOp::CVTTSD2SI, w, dst.enc(), Rm::Mem(&mem), &[]);
    }
}
