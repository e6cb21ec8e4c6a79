//! Integer instructions: arithmetic, logic, shifts, multiplication and
//! division, bit scans and counts.

use super::*;

impl Assembler {
    /// `op dst, src`.
    pub fn alu_rr(&mut self, op: AluOp, size: Size, dst: Gpr, src: Gpr) {
        if let Some(w) = wide(size)
            && self.try_direct(w, (op as u8) << 3 | 1, src.enc(), dst, (0, 0))
        {
            return;
        }
        self.alu_rr_general(op, size, dst, src);
    }

    /// [`Self::alu_rr`] in every case.
    #[inline(never)]
    fn alu_rr_general(&mut self, op: AluOp, size: Size, dst: Gpr, src: Gpr) {
        let opc = (op as u8) << 3 | u8::from(size != Size::S8);
        self.inst(
            sized_bytes(size, &[dst, src]),
            &[opc],
            src.enc(),
            gpr(dst),
            &[],
        );
    }

    /// `op dst, [mem]`.
    pub fn alu_rm(&mut self, op: AluOp, size: Size, dst: Gpr, mem: Mem) {
        if let Some(w) = wide(size)
            && self.try_based(w, (op as u8) << 3 | 3, dst.enc(), &mem, (0, 0))
        {
            return;
        }
        self.alu_rm_general(op, size, dst, mem);
    }

    /// [`Self::alu_rm`] in every case.
    #[inline(never)]
    fn alu_rm_general(&mut self, op: AluOp, size: Size, dst: Gpr, mem: Mem) {
        let opc = (op as u8) << 3 | 2 | u8::from(size != Size::S8);
        // As in `mov_rm`: constant prefixes for the common sizes.
        match size {
            Size::S64 => self.inst(sized(Size::S64), &[opc], dst.enc(), Rm::Mem(&mem), &[]),
            Size::S32 => self.inst(sized(Size::S32), &[opc], dst.enc(), Rm::Mem(&mem), &[]),
            Size::S8 | Size::S16 => {
                let p = sized_bytes(size, &[dst]);
                self.inst(p, &[opc], dst.enc(), Rm::Mem(&mem), &[]);
            }
        }
    }

    /// `op [mem], src`.
    pub fn alu_mr(&mut self, op: AluOp, size: Size, mem: Mem, src: Gpr) {
        let opc = (op as u8) << 3 | u8::from(size != Size::S8);
        self.inst(
            sized_bytes(size, &[src]),
            &[opc],
            src.enc(),
            Rm::Mem(&mem),
            &[],
        );
    }

    /// `op dst, imm`: the sign-extended 8-bit form when `imm` fits, the
    /// short `rax` form otherwise when `dst` is `rax`. `imm` is truncated to
    /// `size`; 64-bit operations sign-extend it.
    pub fn alu_ri(&mut self, op: AluOp, size: Size, dst: Gpr, imm: i32) {
        if let Some(w) = wide(size) {
            let done = if fits_i8(imm.into()) {
                self.try_direct(w, 0x83, op as u8, dst, (imm as u32 & 0xFF, 1))
            } else {
                dst != Gpr::Rax && self.try_direct(w, 0x81, op as u8, dst, (imm as u32, 4))
            };
            if done {
                return;
            }
        }
        self.alu_ri_general(op, size, dst, imm);
    }

    /// [`Self::alu_ri`] in every case.
    #[inline(never)]
    fn alu_ri_general(&mut self, op: AluOp, size: Size, dst: Gpr, imm: i32) {
        let (bytes, len) = imm_for(size, imm);
        if size != Size::S8 && fits_i8(imm.into()) {
            self.inst(sized(size), &[0x83], op as u8, gpr(dst), &bytes[..1]);
        } else if dst == Gpr::Rax {
            let opc = (op as u8) << 3 | 4 | u8::from(size != Size::S8);
            encode::emit_plain(&mut self.buf, sized(size), &[opc]);
            self.buf.extend_from_slice(&bytes[..len]);
        } else {
            let opc = if size == Size::S8 { 0x80 } else { 0x81 };
            self.inst(
                sized_bytes(size, &[dst]),
                &[opc],
                op as u8,
                gpr(dst),
                &bytes[..len],
            );
        }
    }

    /// `op dst, imm` always in the 32-bit immediate form, for a value
    /// patched in later with [`Self::patch_i32`]; returns the immediate's
    /// offset. `size` is 32 or 64 bits.
    pub fn alu_ri_imm32(&mut self, op: AluOp, size: Size, dst: Gpr, imm: i32) -> usize {
        debug_assert!(matches!(size, Size::S32 | Size::S64));
        self.inst(
            sized_bytes(size, &[dst]),
            &[0x81],
            op as u8,
            gpr(dst),
            &imm.to_le_bytes(),
        );
        self.offset() - 4
    }

    /// `op [mem], imm` (imm8 form when it fits).
    pub fn alu_mi(&mut self, op: AluOp, size: Size, mem: Mem, imm: i32) {
        let (bytes, len) = imm_for(size, imm);
        if size != Size::S8 && fits_i8(imm.into()) {
            self.inst(sized(size), &[0x83], op as u8, Rm::Mem(&mem), &bytes[..1]);
        } else {
            let opc = if size == Size::S8 { 0x80 } else { 0x81 };
            self.inst(sized(size), &[opc], op as u8, Rm::Mem(&mem), &bytes[..len]);
        }
    }

    /// `test a, b`.
    pub fn test_rr(&mut self, size: Size, a: Gpr, b: Gpr) {
        if let Some(w) = wide(size)
            && self.try_direct(w, 0x85, b.enc(), a, (0, 0))
        {
            return;
        }
        self.test_rr_general(size, a, b);
    }

    /// [`Self::test_rr`] in every case.
    #[inline(never)]
    fn test_rr_general(&mut self, size: Size, a: Gpr, b: Gpr) {
        let opc = 0x84 | u8::from(size != Size::S8);
        self.inst(sized_bytes(size, &[a, b]), &[opc], b.enc(), gpr(a), &[]);
    }

    /// `test [mem], r`.
    pub fn test_mr(&mut self, size: Size, mem: Mem, r: Gpr) {
        let opc = 0x84 | u8::from(size != Size::S8);
        self.inst(sized_bytes(size, &[r]), &[opc], r.enc(), Rm::Mem(&mem), &[]);
    }

    /// `test r, imm` (truncated to `size`).
    pub fn test_ri(&mut self, size: Size, r: Gpr, imm: i32) {
        let (bytes, len) = imm_for(size, imm);
        if r == Gpr::Rax {
            let opc = 0xA8 | u8::from(size != Size::S8);
            encode::emit_plain(&mut self.buf, sized(size), &[opc]);
            self.buf.extend_from_slice(&bytes[..len]);
        } else {
            let opc = 0xF6 | u8::from(size != Size::S8);
            self.inst(sized_bytes(size, &[r]), &[opc], 0, gpr(r), &bytes[..len]);
        }
    }

    /// `test [mem], imm` (truncated to `size`).
    pub fn test_mi(&mut self, size: Size, mem: Mem, imm: i32) {
        let (bytes, len) = imm_for(size, imm);
        let opc = 0xF6 | u8::from(size != Size::S8);
        self.inst(sized(size), &[opc], 0, Rm::Mem(&mem), &bytes[..len]);
    }

    /// `not`/`neg`/`mul`/`imul`/`div`/`idiv r` (one operand).
    pub fn unary_r(&mut self, op: UnaryOp, size: Size, r: Gpr) {
        let opc = 0xF6 | u8::from(size != Size::S8);
        self.inst(sized_bytes(size, &[r]), &[opc], op as u8, gpr(r), &[]);
    }

    /// `not`/`neg`/`mul`/`imul`/`div`/`idiv [mem]` (one operand).
    pub fn unary_m(&mut self, op: UnaryOp, size: Size, mem: Mem) {
        let opc = 0xF6 | u8::from(size != Size::S8);
        self.inst(sized(size), &[opc], op as u8, Rm::Mem(&mem), &[]);
    }

    /// `imul dst, src` (16/32/64 bits).
    pub fn imul_rr(&mut self, size: Size, dst: Gpr, src: Gpr) {
        assert_not_byte(size, "imul r, r/m");
        self.inst(sized(size), &[0x0F, 0xAF], dst.enc(), gpr(src), &[]);
    }

    /// `imul dst, [mem]` (16/32/64 bits).
    pub fn imul_rm(&mut self, size: Size, dst: Gpr, mem: Mem) {
        assert_not_byte(size, "imul r, r/m");
        self.inst(sized(size), &[0x0F, 0xAF], dst.enc(), Rm::Mem(&mem), &[]);
    }

    /// `imul dst, src, imm` (imm8 form when it fits; 16/32/64 bits).
    pub fn imul_rri(&mut self, size: Size, dst: Gpr, src: Gpr, imm: i32) {
        self.imul_imm(size, dst, gpr(src), imm);
    }

    /// `imul dst, [mem], imm` (imm8 form when it fits; 16/32/64 bits).
    pub fn imul_rmi(&mut self, size: Size, dst: Gpr, mem: Mem, imm: i32) {
        self.imul_imm(size, dst, Rm::Mem(&mem), imm);
    }

    pub(super) fn imul_imm(&mut self, size: Size, dst: Gpr, src: Rm<'_>, imm: i32) {
        assert_not_byte(size, "imul r, r/m, imm");
        let (bytes, len) = imm_for(size, imm);
        if fits_i8(imm.into()) {
            self.inst(sized(size), &[0x6B], dst.enc(), src, &bytes[..1]);
        } else {
            self.inst(sized(size), &[0x69], dst.enc(), src, &bytes[..len]);
        }
    }

    /// `cdq`: sign-extends `eax` into `edx:eax`.
    pub fn cdq(&mut self) {
        self.buf.push(0x99);
    }

    /// `cqo`: sign-extends `rax` into `rdx:rax`.
    pub fn cqo(&mut self) {
        self.buf.extend_from_slice(&[0x48, 0x99]);
    }

    /// `rep movsb`: copies `rcx` bytes from `[rsi]` to `[rdi]`, stepping
    /// both forwards (or backwards while the direction flag is set) and
    /// counting `rcx` down to zero.
    pub fn rep_movsb(&mut self) {
        self.buf.extend_from_slice(&[0xF3, 0xA4]);
    }

    /// `rep stosb`: stores `al` into `rcx` bytes from `[rdi]` on, counting
    /// `rcx` down to zero.
    pub fn rep_stosb(&mut self) {
        self.buf.extend_from_slice(&[0xF3, 0xAA]);
    }

    /// `std`: sets the direction flag (string instructions step
    /// backwards). The System V ABI requires it clear again at calls and
    /// returns: follow it with [`Assembler::cld`].
    pub fn std(&mut self) {
        self.buf.push(0xFD);
    }

    /// `cld`: clears the direction flag.
    pub fn cld(&mut self) {
        self.buf.push(0xFC);
    }

    /// `shlx`, `shrx` or `sarx dst, src, count` (BMI2), for `op` `Shl`,
    /// `Shr` or `Sar` at 32 or 64 bits (`size` `S64`, else 32): `src`
    /// shifted by `count` into `dst`, the count masked to 5 or 6 bits as
    /// the legacy shifts mask it. Unlike them it reads the count from any
    /// register, not only `cl`, overwrites neither source and leaves the
    /// flags alone. Returns false, emitting nothing, for another `op`.
    pub fn shiftx_rrr(&mut self, op: ShiftOp, size: Size, dst: Gpr, src: Gpr, count: Gpr) -> bool {
        let mandatory = match op {
            ShiftOp::Shl => 0x66,
            ShiftOp::Sar => 0xF3,
            ShiftOp::Shr => 0xF2,
            ShiftOp::Rol | ShiftOp::Ror | ShiftOp::Rcl | ShiftOp::Rcr => return false,
        };
        let p = Prefixes {
            mandatory: Some(mandatory),
            w: size == Size::S64,
            vex: Some(Vex {
                map: 2,
                vvvv: count.enc(),
            }),
            ..Prefixes::default()
        };
        self.inst_general(p, &[0xF7], dst.enc(), gpr(src), &[]);
        true
    }

    /// `op r, cl`.
    pub fn shift_rcl(&mut self, op: ShiftOp, size: Size, r: Gpr) {
        let opc = 0xD2 | u8::from(size != Size::S8);
        self.inst(sized_bytes(size, &[r]), &[opc], op as u8, gpr(r), &[]);
    }

    /// `op [mem], cl`.
    pub fn shift_mcl(&mut self, op: ShiftOp, size: Size, mem: Mem) {
        let opc = 0xD2 | u8::from(size != Size::S8);
        self.inst(sized(size), &[opc], op as u8, Rm::Mem(&mem), &[]);
    }

    /// `op r, imm` (the one-byte-shorter D0/D1 form for a count of 1).
    pub fn shift_ri(&mut self, op: ShiftOp, size: Size, r: Gpr, imm: u8) {
        self.shift_imm(op, size, sized_bytes(size, &[r]), gpr(r), imm);
    }

    /// `op [mem], imm`.
    pub fn shift_mi(&mut self, op: ShiftOp, size: Size, mem: Mem, imm: u8) {
        self.shift_imm(op, size, sized(size), Rm::Mem(&mem), imm);
    }

    pub(super) fn shift_imm(&mut self, op: ShiftOp, size: Size, p: Prefixes, rm: Rm<'_>, imm: u8) {
        let wide = u8::from(size != Size::S8);
        if imm == 1 {
            self.inst(p, &[0xD0 | wide], op as u8, rm, &[]);
        } else {
            self.inst(p, &[0xC0 | wide], op as u8, rm, &[imm]);
        }
    }

    /// `lea dst, [mem]` (16/32/64 bits).
    pub fn lea(&mut self, size: Size, dst: Gpr, mem: Mem) {
        if let Some(w) = wide(size)
            && self.try_based(w, 0x8D, dst.enc(), &mem, (0, 0))
        {
            return;
        }
        self.lea_general(size, dst, mem);
    }

    /// [`Self::lea`] in every case.
    #[inline(never)]
    fn lea_general(&mut self, size: Size, dst: Gpr, mem: Mem) {
        assert_not_byte(size, "lea");
        // As in `mov_rm`: constant prefixes for the common sizes.
        match size {
            Size::S64 => self.inst(sized(Size::S64), &[0x8D], dst.enc(), Rm::Mem(&mem), &[]),
            Size::S32 => self.inst(sized(Size::S32), &[0x8D], dst.enc(), Rm::Mem(&mem), &[]),
            _ => self.inst(sized(size), &[0x8D], dst.enc(), Rm::Mem(&mem), &[]),
        }
    }

    pub(super) fn bits_op(
        &mut self,
        prefix: Option<u8>,
        opc: u8,
        size: Size,
        dst: Gpr,
        src: Rm<'_>,
    ) {
        assert_not_byte(size, "bit scan/count");
        let p = Prefixes {
            mandatory: prefix,
            ..sized(size)
        };
        self.inst(p, &[0x0F, opc], dst.enc(), src, &[]);
    }

    /// `lzcnt dst, src` (needs LZCNT; without it this decodes as `bsr`).
    pub fn lzcnt_rr(&mut self, size: Size, dst: Gpr, src: Gpr) {
        self.bits_op(Some(0xF3), 0xBD, size, dst, gpr(src));
    }

    /// `lzcnt dst, [mem]`.
    pub fn lzcnt_rm(&mut self, size: Size, dst: Gpr, mem: Mem) {
        self.bits_op(Some(0xF3), 0xBD, size, dst, Rm::Mem(&mem));
    }

    /// `tzcnt dst, src` (needs BMI1; without it this decodes as `bsf`).
    pub fn tzcnt_rr(&mut self, size: Size, dst: Gpr, src: Gpr) {
        self.bits_op(Some(0xF3), 0xBC, size, dst, gpr(src));
    }

    /// `tzcnt dst, [mem]`.
    pub fn tzcnt_rm(&mut self, size: Size, dst: Gpr, mem: Mem) {
        self.bits_op(Some(0xF3), 0xBC, size, dst, Rm::Mem(&mem));
    }

    /// `popcnt dst, src` (needs POPCNT).
    pub fn popcnt_rr(&mut self, size: Size, dst: Gpr, src: Gpr) {
        self.bits_op(Some(0xF3), 0xB8, size, dst, gpr(src));
    }

    /// `popcnt dst, [mem]`.
    pub fn popcnt_rm(&mut self, size: Size, dst: Gpr, mem: Mem) {
        self.bits_op(Some(0xF3), 0xB8, size, dst, Rm::Mem(&mem));
    }

    /// `bsr dst, src` (`dst` undefined and ZF set when `src` is 0).
    pub fn bsr_rr(&mut self, size: Size, dst: Gpr, src: Gpr) {
        self.bits_op(None, 0xBD, size, dst, gpr(src));
    }

    /// `bsr dst, [mem]`.
    pub fn bsr_rm(&mut self, size: Size, dst: Gpr, mem: Mem) {
        self.bits_op(None, 0xBD, size, dst, Rm::Mem(&mem));
    }

    /// `bsf dst, src` (`dst` undefined and ZF set when `src` is 0).
    pub fn bsf_rr(&mut self, size: Size, dst: Gpr, src: Gpr) {
        self.bits_op(None, 0xBC, size, dst, gpr(src));
    }

    /// `bsf dst, [mem]`.
    pub fn bsf_rm(&mut self, size: Size, dst: Gpr, mem: Mem) {
        self.bits_op(None, 0xBC, size, dst, Rm::Mem(&mem));
    }

    /// `bt r, imm`: CF = bit `imm` of `r`.
    pub fn bt_ri(&mut self, size: Size, r: Gpr, imm: u8) {
        assert_not_byte(size, "bt");
        self.inst(sized(size), &[0x0F, 0xBA], 4, gpr(r), &[imm]);
    }

    /// `bt r, bit`: CF = bit `bit mod size` of `r`.
    pub fn bt_rr(&mut self, size: Size, r: Gpr, bit: Gpr) {
        assert_not_byte(size, "bt");
        self.inst(sized(size), &[0x0F, 0xA3], bit.enc(), gpr(r), &[]);
    }
}
