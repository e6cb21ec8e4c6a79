//! Control flow: jumps, calls (to labels, relocations, registers, memory),
//! returns, stack instructions and padding.

use super::*;

impl Assembler {
    /// `jmp label` (rel8 when the label is bound and within reach).
    pub fn jmp(&mut self, label: Label) {
        if !self.has_room(MAX_REL32_JUMP) {
            return self.jmp_growing(label);
        }
        if let Some(d) = self.short_disp(label) {
            self.buf.extend_from_slice(&[0xEB, d as u8]);
        } else {
            self.rel32(&[0xE9], label);
        }
    }

    /// `jcc label` (rel8 when the label is bound and within reach).
    pub fn jcc(&mut self, cond: Cond, label: Label) {
        if !self.has_room(MAX_REL32_JUMP) {
            return self.jcc_growing(cond, label);
        }
        if let Some(d) = self.short_disp(label) {
            self.buf.extend_from_slice(&[0x70 | cond.enc(), d as u8]);
        } else {
            self.rel32(&[0x0F, 0x80 | cond.enc()], label);
        }
    }

    /// [`Self::jmp`] when the code buffer must grow first.
    #[cold]
    #[inline(never)]
    fn jmp_growing(&mut self, label: Label) {
        self.grow_for_jump();
        self.jmp(label);
    }

    /// [`Self::jcc`] when the code buffer must grow first.
    #[cold]
    #[inline(never)]
    fn jcc_growing(&mut self, cond: Cond, label: Label) {
        self.grow_for_jump();
        self.jcc(cond, label);
    }

    /// `jcc rel32` to a forward target not known yet, without a label:
    /// returns where its displacement lies, for [`Self::bind_rel32`]. The
    /// bytes are those of [`Self::jcc`] to an unbound label; it is cheaper
    /// for the many jumps that each have their own target (trap exits).
    pub fn jcc_forward(&mut self, cond: Cond) -> usize {
        let at = self.buf.len() + 2;
        self.buf
            .extend_from_slice(&[0x0F, 0x80 | cond.enc(), 0, 0, 0, 0]);
        at
    }

    /// [`Self::jcc_forward`] for `jmp rel32`.
    pub fn jmp_forward(&mut self) -> usize {
        let at = self.buf.len() + 1;
        self.buf.extend_from_slice(&[0xE9, 0, 0, 0, 0]);
        at
    }

    /// Makes the jump whose displacement [`Self::jcc_forward`] or
    /// [`Self::jmp_forward`] returned as `at` go to the current position.
    pub fn bind_rel32(&mut self, at: usize) {
        self.bind_rel32_to(at, self.buf.len());
    }

    /// [`Self::bind_rel32`] to `target`, a position already emitted (at
    /// or after the displacement's end), for exits emitted in a batch
    /// ([`Self::call_relocs`]).
    pub fn bind_rel32_to(&mut self, at: usize, target: usize) {
        let end = at
            .checked_add(4)
            .filter(|&end| end <= target && target <= self.buf.len());
        match end.and_then(|end| i32::try_from(target - end).ok()) {
            Some(disp) => self.patch_i32(at, disp),
            None => self.record(AsmError::JumpOutOfRange(at)),
        }
    }

    /// `call label`.
    pub fn call(&mut self, label: Label) {
        self.rel32(&[0xE8], label);
    }

    /// `call rel32` to an external target: records a [`Reloc`] for `symbol`.
    pub fn call_reloc(&mut self, symbol: u32) {
        self.reloc32(0xE8, symbol);
    }

    /// [`Self::call_reloc`] to each of `symbols` in a row, each 5 bytes
    /// long; returns where the first begins. The code and relocations
    /// are those of one [`Self::call_reloc`] after another, written after
    /// one check for room per buffer instead of one per call (for a
    /// function's trap exits, which are many).
    pub fn call_relocs(&mut self, symbols: impl ExactSizeIterator<Item = u32>) -> usize {
        const CALL: [u8; 5] = [0xE8, 0, 0, 0, 0];
        let start = self.buf.len();
        self.buf.resize(start + CALL.len() * symbols.len(), 0);
        for call in self.buf[start..].chunks_exact_mut(CALL.len()) {
            call.copy_from_slice(&CALL);
        }
        self.relocs
            .extend(symbols.enumerate().map(|(i, symbol)| Reloc {
                offset: (start + CALL.len() * i + 1) as u32,
                symbol,
                kind: RelocKind::Rel32,
            }));
        start
    }

    /// `jmp rel32` to an external target: records a [`Reloc`] for `symbol`.
    pub fn jmp_reloc(&mut self, symbol: u32) {
        self.reloc32(0xE9, symbol);
    }

    pub(super) fn reloc32(&mut self, opcode: u8, symbol: u32) {
        let offset = self.buf.len() as u32 + 1;
        self.buf.extend_from_slice(&[opcode, 0, 0, 0, 0]);
        self.relocs.push(Reloc {
            offset,
            symbol,
            kind: RelocKind::Rel32,
        });
    }

    /// `jmp r64`.
    pub fn jmp_r(&mut self, r: Gpr) {
        self.inst(Prefixes::default(), &[0xFF], 4, gpr(r), &[]);
    }

    /// `jmp qword [mem]`.
    pub fn jmp_m(&mut self, mem: Mem) {
        self.inst(Prefixes::default(), &[0xFF], 4, Rm::Mem(&mem), &[]);
    }

    /// `call r64`.
    pub fn call_r(&mut self, r: Gpr) {
        self.inst(Prefixes::default(), &[0xFF], 2, gpr(r), &[]);
    }

    /// `call qword [mem]`.
    pub fn call_m(&mut self, mem: Mem) {
        self.inst(Prefixes::default(), &[0xFF], 2, Rm::Mem(&mem), &[]);
    }

    /// `ret`.
    pub fn ret(&mut self) {
        self.buf.push(0xC3);
    }

    /// `ud2`: a guaranteed invalid-opcode fault.
    pub fn ud2(&mut self) {
        self.buf.extend_from_slice(&[0x0F, 0x0B]);
    }

    /// `int3`: a breakpoint.
    pub fn int3(&mut self) {
        self.buf.push(0xCC);
    }

    /// `jmp` to the instruction right after it (`EB 00`): a taken branch
    /// that changes nothing else.
    pub fn jmp_next(&mut self) {
        self.buf.extend_from_slice(&[0xEB, 0x00]);
    }

    /// `nop` (one byte).
    pub fn nop(&mut self) {
        self.buf.push(0x90);
    }

    /// `len` bytes of no-ops, as few instructions as possible ([`NOPS`]).
    pub fn nop_n(&mut self, mut len: usize) {
        while len > 0 {
            let n = len.min(NOPS.len());
            self.buf.extend_from_slice(NOPS[n - 1]);
            len -= n;
        }
    }

    /// Pads with no-ops up to a multiple of `align` (a power of two).
    ///
    /// # Panics
    /// If `align` is not a power of two.
    pub fn align(&mut self, align: usize) {
        assert!(align.is_power_of_two(), "alignment must be a power of two");
        let pad = self.buf.len().wrapping_neg() & (align - 1);
        self.nop_n(pad);
    }
}
