//! Moves between registers and memory, immediates, extensions, `lea`,
//! conditional moves and `setcc`.

use super::*;

impl Assembler {
    /// `mov dst, src`.
    pub fn mov_rr(&mut self, size: Size, dst: Gpr, src: Gpr) {
        if let Some(w) = wide(size)
            && self.try_direct(w, 0x89, src.enc(), dst, (0, 0))
        {
            return;
        }
        self.mov_rr_general(size, dst, src);
    }

    /// [`Self::mov_rr`] in every case.
    #[inline(never)]
    fn mov_rr_general(&mut self, size: Size, dst: Gpr, src: Gpr) {
        let opc = 0x88 | u8::from(size != Size::S8);
        self.inst(
            sized_bytes(size, &[dst, src]),
            &[opc],
            src.enc(),
            gpr(dst),
            &[],
        );
    }

    /// `mov dst, [mem]` (a load).
    pub fn mov_rm(&mut self, size: Size, dst: Gpr, mem: Mem) {
        if let Some(w) = wide(size)
            && self.try_based(w, 0x8B, dst.enc(), &mem, (0, 0))
        {
            return;
        }
        self.mov_rm_general(size, dst, mem);
    }

    /// [`Self::mov_rm`] in every case.
    #[inline(never)]
    fn mov_rm_general(&mut self, size: Size, dst: Gpr, mem: Mem) {
        // One `inst` per common size, whose prefixes and opcode are then
        // constants that the encoding folds in.
        match size {
            Size::S64 => self.inst(sized(Size::S64), &[0x8B], dst.enc(), Rm::Mem(&mem), &[]),
            Size::S32 => self.inst(sized(Size::S32), &[0x8B], dst.enc(), Rm::Mem(&mem), &[]),
            Size::S8 | Size::S16 => {
                let opc = 0x8A | u8::from(size != Size::S8);
                let p = sized_bytes(size, &[dst]);
                self.inst(p, &[opc], dst.enc(), Rm::Mem(&mem), &[]);
            }
        }
    }

    /// `mov [mem], src` (a store).
    pub fn mov_mr(&mut self, size: Size, mem: Mem, src: Gpr) {
        if let Some(w) = wide(size)
            && self.try_based(w, 0x89, src.enc(), &mem, (0, 0))
        {
            return;
        }
        self.mov_mr_general(size, mem, src);
    }

    /// [`Self::mov_mr`] in every case.
    #[inline(never)]
    fn mov_mr_general(&mut self, size: Size, mem: Mem, src: Gpr) {
        // As in `mov_rm`: constant prefixes for the common sizes.
        match size {
            Size::S64 => self.inst(sized(Size::S64), &[0x89], src.enc(), Rm::Mem(&mem), &[]),
            Size::S32 => self.inst(sized(Size::S32), &[0x89], src.enc(), Rm::Mem(&mem), &[]),
            Size::S8 | Size::S16 => {
                let opc = 0x88 | u8::from(size != Size::S8);
                let p = sized_bytes(size, &[src]);
                self.inst(p, &[opc], src.enc(), Rm::Mem(&mem), &[]);
            }
        }
    }

    /// `mov [mem], imm` (truncated to `size`; sign-extended for 64 bits).
    pub fn mov_mi(&mut self, size: Size, mem: Mem, imm: i32) {
        if let Some(w) = wide(size)
            && self.try_based(w, 0xC7, 0, &mem, (imm as u32, 4))
        {
            return;
        }
        self.mov_mi_general(size, mem, imm);
    }

    /// [`Self::mov_mi`] in every case.
    #[inline(never)]
    fn mov_mi_general(&mut self, size: Size, mem: Mem, imm: i32) {
        // As in `mov_rm`: constant prefixes for the common sizes.
        let bytes = imm.to_le_bytes();
        match size {
            Size::S64 => self.inst(sized(Size::S64), &[0xC7], 0, Rm::Mem(&mem), &bytes),
            Size::S32 => self.inst(sized(Size::S32), &[0xC7], 0, Rm::Mem(&mem), &bytes),
            Size::S8 | Size::S16 => {
                let (bytes, len) = imm_for(size, imm);
                let opc = 0xC6 | u8::from(size != Size::S8);
                self.inst(sized(size), &[opc], 0, Rm::Mem(&mem), &bytes[..len]);
            }
        }
    }

    /// Loads a constant into `dst`, truncated to `size`, with the shortest
    /// encoding: for 64 bits, `mov r32, imm32` when the value is in
    /// `0..=u32::MAX` (the upper half is zeroed), `mov r64, simm32` when it
    /// fits sign-extended, otherwise `movabs r64, imm64`. (To zero a
    /// register, `xor r32, r32` is shorter but changes the flags.)
    pub fn mov_ri(&mut self, size: Size, dst: Gpr, imm: i64) {
        match size {
            Size::S8 => {
                encode::emit_opreg(&mut self.buf, sized_bytes(size, &[dst]), &[0xB0], dst.enc());
                self.buf.push(imm as u8);
            }
            Size::S16 => {
                encode::emit_opreg(&mut self.buf, sized(size), &[0xB8], dst.enc());
                self.buf.extend_from_slice(&(imm as u16).to_le_bytes());
            }
            Size::S32 => {
                encode::emit_opreg(&mut self.buf, sized(size), &[0xB8], dst.enc());
                self.buf.extend_from_slice(&(imm as u32).to_le_bytes());
            }
            Size::S64 => {
                if let Ok(v) = u32::try_from(imm) {
                    self.mov_ri(Size::S32, dst, v.into());
                } else if let Ok(v) = i32::try_from(imm) {
                    self.inst(sized(size), &[0xC7], 0, gpr(dst), &v.to_le_bytes());
                } else {
                    self.movabs_ri(dst, imm as u64);
                }
            }
        }
    }

    /// `movabs dst, imm64`: always the 10-byte form (e.g. for a constant
    /// patched later).
    pub fn movabs_ri(&mut self, dst: Gpr, imm: u64) {
        encode::emit_opreg(&mut self.buf, sized(Size::S64), &[0xB8], dst.enc());
        self.buf.extend_from_slice(&imm.to_le_bytes());
    }

    pub(super) fn extend_opcode(from: Size, signed: bool) -> [u8; 2] {
        let base = if signed { 0xBE } else { 0xB6 };
        match from {
            Size::S8 => [0x0F, base],
            Size::S16 => [0x0F, base | 1],
            _ => panic!("movzx/movsx extend from 8 or 16 bits"),
        }
    }

    /// `movzx dst, src`: zero-extends the `from` (8 or 16) bits of `src`
    /// into `to` (16, 32 or 64) bits.
    pub fn movzx_rr(&mut self, to: Size, from: Size, dst: Gpr, src: Gpr) {
        let p = Prefixes {
            force_rex: from == Size::S8 && src.byte_needs_rex(),
            ..sized(to)
        };
        self.inst(
            p,
            &Self::extend_opcode(from, false),
            dst.enc(),
            gpr(src),
            &[],
        );
    }

    /// `movzx dst, [mem]`: a zero-extending 8- or 16-bit load.
    pub fn movzx_rm(&mut self, to: Size, from: Size, dst: Gpr, mem: Mem) {
        let opc = Self::extend_opcode(from, false);
        self.extend_rm(to, &opc, dst, mem);
    }

    /// A `movzx`/`movsx` load: it writes all of `dst` unless `to` is 16
    /// bits.
    pub(super) fn extend_rm(&mut self, to: Size, opcode: &[u8; 2], dst: Gpr, mem: Mem) {
        if let Some(w) = wide(to)
            && self.try_based2(w, (u16::from_le_bytes(*opcode), 2), dst.enc(), &mem, (0, 0))
        {
            return;
        }
        self.extend_rm_general(to, opcode, dst, mem);
    }

    /// [`Self::extend_rm`] in every case.
    #[inline(never)]
    fn extend_rm_general(&mut self, to: Size, opcode: &[u8; 2], dst: Gpr, mem: Mem) {
        self.inst(sized(to), opcode, dst.enc(), Rm::Mem(&mem), &[]);
    }

    /// `movsx dst, src`: sign-extends the `from` (8 or 16) bits of `src`
    /// into `to` (16, 32 or 64) bits.
    pub fn movsx_rr(&mut self, to: Size, from: Size, dst: Gpr, src: Gpr) {
        let p = Prefixes {
            force_rex: from == Size::S8 && src.byte_needs_rex(),
            ..sized(to)
        };
        self.inst(
            p,
            &Self::extend_opcode(from, true),
            dst.enc(),
            gpr(src),
            &[],
        );
    }

    /// `movsx dst, [mem]`: a sign-extending 8- or 16-bit load.
    pub fn movsx_rm(&mut self, to: Size, from: Size, dst: Gpr, mem: Mem) {
        let opc = Self::extend_opcode(from, true);
        self.extend_rm(to, &opc, dst, mem);
    }

    /// `movsxd dst64, src32`.
    pub fn movsxd_rr(&mut self, dst: Gpr, src: Gpr) {
        self.inst(sized(Size::S64), &[0x63], dst.enc(), gpr(src), &[]);
    }

    /// `movsxd dst64, dword [mem]`.
    pub fn movsxd_rm(&mut self, dst: Gpr, mem: Mem) {
        self.inst(sized(Size::S64), &[0x63], dst.enc(), Rm::Mem(&mem), &[]);
    }

    /// `xchg a, b`.
    pub fn xchg_rr(&mut self, size: Size, a: Gpr, b: Gpr) {
        let opc = 0x86 | u8::from(size != Size::S8);
        self.inst(sized_bytes(size, &[a, b]), &[opc], b.enc(), gpr(a), &[]);
    }

    /// `xchg [mem], r` (implicitly locked by the processor).
    pub fn xchg_mr(&mut self, size: Size, mem: Mem, r: Gpr) {
        let opc = 0x86 | u8::from(size != Size::S8);
        self.inst(sized_bytes(size, &[r]), &[opc], r.enc(), Rm::Mem(&mem), &[]);
    }

    /// `push r64`.
    pub fn push_r(&mut self, r: Gpr) {
        encode::emit_opreg(&mut self.buf, Prefixes::default(), &[0x50], r.enc());
    }

    /// `pop r64`.
    pub fn pop_r(&mut self, r: Gpr) {
        encode::emit_opreg(&mut self.buf, Prefixes::default(), &[0x58], r.enc());
    }

    /// `push imm` (sign-extended to 64 bits; imm8 form when it fits).
    pub fn push_i(&mut self, imm: i32) {
        if let Ok(v) = i8::try_from(imm) {
            self.buf.extend_from_slice(&[0x6A, v as u8]);
        } else {
            self.buf.push(0x68);
            self.buf.extend_from_slice(&imm.to_le_bytes());
        }
    }

    /// `push qword [mem]`.
    pub fn push_m(&mut self, mem: Mem) {
        self.inst(Prefixes::default(), &[0xFF], 6, Rm::Mem(&mem), &[]);
    }

    /// `pop qword [mem]`.
    pub fn pop_m(&mut self, mem: Mem) {
        self.inst(Prefixes::default(), &[0x8F], 0, Rm::Mem(&mem), &[]);
    }

    /// `setcc dst8`: 1 if `cond` holds, else 0 (upper bits unchanged).
    pub fn setcc(&mut self, cond: Cond, dst: Gpr) {
        let p = sized_bytes(Size::S8, &[dst]);
        self.inst(p, &[0x0F, 0x90 | cond.enc()], 0, gpr(dst), &[]);
    }

    /// `setcc byte [mem]`.
    pub fn setcc_m(&mut self, cond: Cond, mem: Mem) {
        self.inst(
            Prefixes::default(),
            &[0x0F, 0x90 | cond.enc()],
            0,
            Rm::Mem(&mem),
            &[],
        );
    }

    /// `cmovcc dst, src` (16/32/64 bits; a 32-bit cmov zeroes the upper
    /// half even when the condition is false).
    pub fn cmov_rr(&mut self, cond: Cond, size: Size, dst: Gpr, src: Gpr) {
        assert_not_byte(size, "cmovcc");
        self.inst(
            sized(size),
            &[0x0F, 0x40 | cond.enc()],
            dst.enc(),
            gpr(src),
            &[],
        );
    }

    /// `cmovcc dst, [mem]`.
    pub fn cmov_rm(&mut self, cond: Cond, size: Size, dst: Gpr, mem: Mem) {
        assert_not_byte(size, "cmovcc");
        let opc = [0x0F, 0x40 | cond.enc()];
        self.inst(sized(size), &opc, dst.enc(), Rm::Mem(&mem), &[]);
    }
}
