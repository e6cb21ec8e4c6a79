//! The byte-level encoding of one instruction: legacy prefixes, REX, the
//! opcode, ModRM, SIB and displacement.
//!
//! This module owns the addressing-mode rules of x86-64:
//! - a base of `rsp`/`r12` (low bits 100) needs a SIB byte;
//! - a base of `rbp`/`r13` (low bits 101) with `mod = 00` would mean
//!   RIP-relative / no base, so a zero displacement is emitted as `disp8 = 0`;
//! - displacements that fit in `i8` use `disp8`, others `disp32`;
//! - a REX prefix is emitted when W, R, X or B is needed, or when a byte
//!   register `spl`/`bpl`/`sil`/`dil` is named.
//!
//! It writes into a plain byte vector and knows nothing about labels except
//! that a RIP-relative operand leaves a 32-bit hole, reported to the caller.

use alloc::vec::Vec;
use core::mem::MaybeUninit;

use super::operand::{Label, Mem, Scale};
use super::regs::Gpr;

/// `mod` field values of the ModRM byte.
const MOD_INDIRECT: u8 = 0b00;
const MOD_DISP8: u8 = 0b01;
const MOD_DISP32: u8 = 0b10;
const MOD_DIRECT: u8 = 0b11;

/// The ModRM byte: `mod` (2 bits), `reg` (3 bits), `rm` (3 bits).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ModRm {
    /// Addressing mode: 0b11 register, else memory with no/8/32-bit disp.
    pub mode: u8,
    /// Register operand or opcode extension (low 3 bits).
    pub reg: u8,
    /// Register or memory base (low 3 bits; 0b100 means a SIB follows).
    pub rm: u8,
}

impl ModRm {
    /// The encoded byte (only the low bits of each field are used).
    #[inline]
    pub const fn byte(self) -> u8 {
        ((self.mode & 3) << 6) | ((self.reg & 7) << 3) | (self.rm & 7)
    }
}

/// The SIB byte: `scale` (2 bits), `index` (3 bits), `base` (3 bits).
#[inline]
pub const fn sib(scale: u8, index: u8, base: u8) -> u8 {
    ((scale & 3) << 6) | ((index & 7) << 3) | (base & 7)
}

/// A REX prefix `0100WRXB`.
#[inline]
pub const fn rex(w: bool, r: bool, x: bool, b: bool) -> u8 {
    0x40 | ((w as u8) << 3) | ((r as u8) << 2) | ((x as u8) << 1) | (b as u8)
}

/// The parts of an instruction that precede ModRM.
#[derive(Clone, Copy, Debug, Default)]
pub struct Prefixes {
    /// The 0x66 operand-size prefix (16-bit operations).
    pub opsize16: bool,
    /// A mandatory prefix (0x66, 0xF2 or 0xF3) of SSE and some other
    /// instructions; emitted after 0x66 and before REX.
    pub mandatory: Option<u8>,
    /// REX.W: 64-bit operand size.
    pub w: bool,
    /// Emit a REX prefix even if no bit is set (byte registers 4–7).
    pub force_rex: bool,
    /// A VEX prefix instead of the mandatory prefix, REX and the opcode
    /// escape (the opcode is then given without its `0F`, `0F 38` or
    /// `0F 3A`).
    pub vex: Option<Vex>,
}

/// What a VEX prefix says beyond [`Prefixes`].
#[derive(Clone, Copy, Debug)]
pub struct Vex {
    /// The opcode map: 1 for `0F`, 2 for `0F 38`, 3 for `0F 3A`.
    pub map: u8,
    /// The extra source register (the encoding of an XMM register).
    pub vvvv: u8,
}

/// The r/m operand of a ModRM instruction.
#[derive(Clone, Copy, Debug)]
pub enum Rm<'a> {
    /// A register, by its 4-bit encoding.
    Reg(u8),
    /// Memory.
    Mem(&'a Mem),
}

/// A RIP-relative displacement hole left by [`emit_modrm`]: 4 bytes at
/// `at`, to hold `label + disp - (end of instruction)`.
#[derive(Clone, Copy, Debug)]
pub struct RipHole {
    /// Offset of the 4-byte field.
    pub at: usize,
    /// The label addressed.
    pub label: Label,
    /// Bytes from the label.
    pub disp: i32,
}

/// Room reserved for one instruction: an x86 instruction is at most 15
/// bytes, and [`Insn::put_u32`] and [`Insn::put_u64`] store 4 or 8 bytes
/// at a time from any of the first 16 positions.
const WINDOW: usize = 32;

/// One instruction's bytes, written straight into the code buffer's spare
/// capacity, which then becomes part of the buffer up to the instruction's
/// length. (Pushing byte by byte re-checks the vector's capacity on every
/// byte; building the bytes in a local array and copying it as one block
/// stalls the copy's load until the byte stores retire, because
/// store-to-load forwarding fails; zeroing room and cutting it back costs
/// as much as the encoding. This is the compiler's hottest path: opcodes,
/// displacements and immediates are each one 4-byte store, not a loop over
/// their bytes.)
///
/// Invariant: the first `len` bytes (at most 16) of `bytes` are
/// initialized, as every write covers the bytes from `len` on before `len`
/// moves past them.
struct Insn<'a> {
    bytes: &'a mut [MaybeUninit<u8>; WINDOW],
    len: usize,
}

impl<'a> Insn<'a> {
    #[inline(always)]
    fn new(bytes: &'a mut [MaybeUninit<u8>; WINDOW]) -> Insn<'a> {
        Insn { bytes, len: 0 }
    }

    #[inline(always)]
    fn put(&mut self, byte: u8) {
        // `& 15` keeps the index in range without a panic path.
        self.bytes[self.len & 15].write(byte);
        self.len += 1;
    }

    /// Puts the low `n` (at most 4) bytes of `v`, little-endian. The bytes
    /// above `n` land past the end and are overwritten or left out.
    #[inline(always)]
    fn put_u32(&mut self, v: u32, n: usize) {
        let at = self.len & 15;
        self.bytes[at..at + 4].write_copy_of_slice(&v.to_le_bytes());
        self.len += n.min(4);
    }

    /// Puts the low `n` (at most 8) bytes of `v`, little-endian, as
    /// [`Self::put_u32`] does.
    #[inline(always)]
    fn put_u64(&mut self, v: u64, n: usize) {
        let at = self.len & 15;
        self.bytes[at..at + 8].write_copy_of_slice(&v.to_le_bytes());
        self.len += n.min(8);
    }

    /// Puts `bytes`: at most 4 in one store, longer ones byte by byte.
    #[inline(always)]
    fn put_all(&mut self, bytes: &[u8]) {
        match *bytes {
            [] => {}
            [a] => self.put(a),
            [a, b] => self.put_u32(u32::from_le_bytes([a, b, 0, 0]), 2),
            [a, b, c] => self.put_u32(u32::from_le_bytes([a, b, c, 0]), 3),
            [a, b, c, d] => self.put_u32(u32::from_le_bytes([a, b, c, d]), 4),
            _ => {
                for &b in bytes {
                    self.put(b);
                }
            }
        }
    }

    #[inline(always)]
    fn prefixes(&mut self, p: Prefixes, r: bool, x: bool, b: bool) {
        if let Some(v) = p.vex {
            self.vex(p, v, r, x, b);
            return;
        }
        if p.opsize16 {
            self.put(0x66);
        }
        if let Some(m) = p.mandatory {
            self.put(m);
        }
        if p.w || r || x || b || p.force_rex {
            self.put(rex(p.w, r, x, b));
        }
    }
}

impl Insn<'_> {
    /// A VEX prefix (128-bit vectors) in place of the legacy prefixes, REX
    /// and the opcode escape: the two-byte form when it can say it all
    /// (map `0F`, no `X`, `B` or `W`), else the three-byte one. The
    /// register bits are stored inverted, the mandatory prefix as `pp`.
    #[inline(never)]
    fn vex(&mut self, p: Prefixes, v: Vex, r: bool, x: bool, b: bool) {
        let pp = match p.mandatory {
            None => 0,
            Some(0x66) => 1,
            Some(0xF3) => 2,
            _ => 3,
        };
        let vvvv_pp = (!v.vvvv & 15) << 3 | pp;
        if v.map == 1 && !x && !b && !p.w {
            self.put(0xC5);
            self.put((!r as u8) << 7 | vvvv_pp);
        } else {
            self.put(0xC4);
            self.put((!r as u8) << 7 | (!x as u8) << 6 | (!b as u8) << 5 | v.map);
            self.put((p.w as u8) << 7 | vvvv_pp);
        }
    }
}

/// Lets `write` put an instruction at the end of `buf`, in its spare
/// capacity, and extends `buf` over it.
#[inline(always)]
fn append<R>(buf: &mut Vec<u8>, write: impl FnOnce(&mut Insn<'_>) -> R) -> R {
    buf.reserve(WINDOW);
    try_append(buf, write).expect("reserve(WINDOW) leaves WINDOW bytes of spare capacity")
}

/// [`append`] if `buf` has room for any instruction without growing;
/// `None`, with nothing written, if it has not.
#[inline(always)]
fn try_append<R>(buf: &mut Vec<u8>, write: impl FnOnce(&mut Insn<'_>) -> R) -> Option<R> {
    let start = buf.len();
    let window = buf.spare_capacity_mut().first_chunk_mut::<WINDOW>()?;
    let mut insn = Insn::new(window);
    let r = write(&mut insn);
    let len = insn.len.min(16);
    // SAFETY: by `Insn`'s invariant the first `len` bytes of the spare
    // capacity are initialized, and `len <= WINDOW` fits in it.
    unsafe { buf.set_len(start + len) };
    Some(r)
}

/// Emits `prefixes opcode modrm [sib] [disp] [imm]` with `reg` (a 4-bit
/// register encoding or a 3-bit opcode extension `/digit`) in the ModRM reg
/// field. Returns the displacement hole of a RIP-relative operand (relative
/// to the end of the instruction, immediate included); the caller records
/// it.
#[inline]
pub fn emit_modrm(
    buf: &mut Vec<u8>,
    p: Prefixes,
    opcode: &[u8],
    reg: u8,
    rm: Rm<'_>,
    imm: &[u8],
) -> Option<RipHole> {
    let r = reg & 8 != 0;
    let start = buf.len();
    append(buf, |insn| {
        let hole = match rm {
            Rm::Reg(rm) => {
                insn.prefixes(p, r, false, rm & 8 != 0);
                insn.put_all(opcode);
                insn.put(
                    ModRm {
                        mode: MOD_DIRECT,
                        reg,
                        rm,
                    }
                    .byte(),
                );
                None
            }
            Rm::Mem(Mem::Rip { label, disp }) => {
                insn.prefixes(p, r, false, false);
                insn.put_all(opcode);
                insn.put(
                    ModRm {
                        mode: MOD_INDIRECT,
                        reg,
                        rm: 0b101,
                    }
                    .byte(),
                );
                let at = start + insn.len;
                insn.put_u32(0, 4);
                Some(RipHole {
                    at,
                    label: *label,
                    disp: *disp,
                })
            }
            Rm::Mem(Mem::Based { base, index, disp }) => {
                let base = base.enc();
                let (x, sib_byte) = match index {
                    Some((index, scale)) => {
                        (index.needs_rex(), Some(sib(scale.enc(), index.enc(), base)))
                    }
                    // rsp/r12 as base: a SIB with "no index" (100).
                    None if base & 7 == 0b100 => (false, Some(sib(0, 0b100, base))),
                    None => (false, None),
                };
                let disp = *disp;
                // rbp/r13 with mod=00 would mean "no base": use disp8 = 0.
                let mode = if disp == 0 && base & 7 != 0b101 {
                    MOD_INDIRECT
                } else if i8::try_from(disp).is_ok() {
                    MOD_DISP8
                } else {
                    MOD_DISP32
                };
                insn.prefixes(p, r, x, base & 8 != 0);
                insn.put_all(opcode);
                let rm = if sib_byte.is_some() { 0b100 } else { base };
                insn.put(ModRm { mode, reg, rm }.byte());
                if let Some(s) = sib_byte {
                    insn.put(s);
                }
                match mode {
                    MOD_DISP8 => insn.put(disp as u8),
                    MOD_DISP32 => insn.put_u32(disp as u32, 4),
                    _ => {}
                }
                None
            }
        };
        insn.put_all(imm);
        hole
    })
}

/// [`emit_modrm`] for the commonest memory operand, `[base + index*scale +
/// disp]`, of an instruction without legacy prefixes, with a one- or
/// two-byte opcode and an immediate of at most 4 bytes (loads, stores,
/// `lea`, `movzx`, ALU operations on frame slots, stores of constants).
/// Emits the same bytes; inlined into each caller, where the opcode and
/// prefixes are constants, it builds the bytes before the displacement in
/// one register and stores them at once: an 8-byte store of REX, opcode,
/// ModRM and SIB, then a 4-byte store of the displacement and one of the
/// immediate after them (all inside the window [`append`] reserves).
#[inline(always)]
pub fn emit_based(
    buf: &mut Vec<u8>,
    p: Prefixes,
    opcode: &[u8],
    reg: u8,
    (base, index, disp): (Gpr, Option<(Gpr, Scale)>, i32),
    imm: &[u8],
) {
    debug_assert!(!p.opsize16 && p.mandatory.is_none() && matches!(opcode.len(), 1 | 2));
    debug_assert!(imm.len() <= 4);
    let base = base.enc();
    let (x, sib_byte) = match index {
        Some((index, scale)) => (index.needs_rex(), Some(sib(scale.enc(), index.enc(), base))),
        // rsp/r12 as base: a SIB with "no index" (100).
        None if base & 7 == 0b100 => (false, Some(sib(0, 0b100, base))),
        None => (false, None),
    };
    // `mod`: 00 without a displacement, 01 for a disp8, 10 for a disp32,
    // computed without branches (displacement sizes vary too much to
    // predict). rbp/r13 with mod=00 would mean "no base": disp8 = 0.
    // The displacement's length is then `mod` squared: 0, 1 or 4.
    let needs_disp = disp != 0 || base & 7 == 0b101;
    let mode = u8::from(needs_disp) + u8::from(i32::from(disp as i8) != disp);
    let disp_len = usize::from(mode * mode);
    let (r, b) = (reg & 8 != 0, base & 8 != 0);
    // The bytes after REX, little-endian, `bits` long: the opcode's (a
    // constant length), ModRM, SIB. Built first, so that every shift is by
    // a constant; REX then goes before them or not.
    let (mut head, mut bits) = (0u64, 0u32);
    for &op in opcode.iter().take(2) {
        head |= u64::from(op) << bits;
        bits += 8;
    }
    let rm = if sib_byte.is_some() { 0b100 } else { base };
    head |= u64::from(ModRm { mode, reg, rm }.byte()) << bits;
    bits += 8;
    if let Some(s) = sib_byte {
        head |= u64::from(s) << bits;
        bits += 8;
    }
    if p.w || r || x || b || p.force_rex {
        head = head << 8 | u64::from(rex(p.w, r, x, b));
        bits += 8;
    }
    append(buf, |insn| {
        insn.put_u64(head, (bits / 8) as usize);
        insn.put_u32(disp as u32, disp_len);
        insn.put_all(imm);
    });
}

/// An instruction with an opcode of `opcode_len` (1 or 2) bytes, a based
/// memory operand, REX.W or not, and no other prefix: [`emit_based`]'s
/// bytes for that form (the loads, extending loads, stores, `lea` and ALU
/// operations with memory of 32 and 64 bits)
/// with an immediate of `imm_len` (at most 4) bytes of `imm`, written only
/// if the buffer has room for them without growing: returns whether it
/// wrote them. Nothing here calls a function, so that the assembler's
/// methods with this fast path need no stack frame for it; the caller
/// falls back to the general encoding, which grows the buffer, when it
/// returns false.
#[inline(always)]
pub fn try_emit_based_op(
    buf: &mut Vec<u8>,
    w: bool,
    (opcode, opcode_len): (u16, usize),
    reg: u8,
    (base, index, disp): (Gpr, Option<(Gpr, Scale)>, i32),
    (imm, imm_len): (u32, usize),
) -> bool {
    let b = base.enc();
    // `mod` and the displacement's length as in `emit_based`: disp32,
    // disp8, or none (but rbp/r13 always have one).
    let (mode, disp_len) = if i32::from(disp as i8) != disp {
        (MOD_DISP32, 4)
    } else if disp != 0 || b & 7 == 0b101 {
        (MOD_DISP8, 1)
    } else {
        (MOD_INDIRECT, 0)
    };
    let r_bits = u8::from(w) << 3 | (reg >> 3 & 1) << 2 | (b >> 3 & 1);
    let modrm = u32::from(mode << 6 | (reg & 7) << 3);
    // ModRM with the base in `rm`, or a SIB byte for an index, or for
    // `rsp`/`r12` as base ("no index").
    let (rex_bits, tail, tail_len) = match index {
        Some((index, scale)) => (
            r_bits | (index.enc() >> 3 & 1) << 1,
            modrm | 0b100 | u32::from(sib(scale.enc(), index.enc(), b)) << 8,
            2,
        ),
        None if b & 7 == 0b100 => (r_bits, modrm | 0b100 | 0x24 << 8, 2),
        None => (r_bits, modrm | u32::from(b & 7), 1),
    };
    let mut head = u64::from(opcode) | u64::from(tail) << (8 * (opcode_len & 3));
    let mut len = opcode_len + tail_len;
    if rex_bits != 0 {
        head = head << 8 | u64::from(0x40 | rex_bits);
        len += 1;
    }
    try_append(buf, |insn| {
        insn.put_u64(head, len);
        insn.put_u32(disp as u32, disp_len);
        if imm_len > 0 {
            insn.put_u32(imm, imm_len);
        }
    })
    .is_some()
}

/// A one-byte-opcode instruction with a register operand in ModRM's `rm`,
/// REX.W or not, no other prefix and an immediate of `imm_len` (at most
/// 4) bytes of `imm`: [`emit_direct_imm`]'s bytes for that form (`mov`,
/// `test` and the ALU operations of 32 and 64 bits), written only if the
/// buffer has room for them without growing, as [`try_emit_based_op`]
/// does: returns whether it wrote them.
#[inline(always)]
pub fn try_emit_direct_op(
    buf: &mut Vec<u8>,
    w: bool,
    opcode: u8,
    reg: u8,
    rm: u8,
    (imm, imm_len): (u32, usize),
) -> bool {
    let modrm = MOD_DIRECT << 6 | (reg & 7) << 3 | (rm & 7);
    let rex_bits = u8::from(w) << 3 | (reg >> 3 & 1) << 2 | (rm >> 3 & 1);
    let mut head = u32::from(opcode) | u32::from(modrm) << 8;
    let mut len = 2;
    if rex_bits != 0 {
        head = head << 8 | u32::from(0x40 | rex_bits);
        len = 3;
    }
    try_append(buf, |insn| {
        insn.put_u32(head, len);
        if imm_len > 0 {
            insn.put_u32(imm, imm_len);
        }
    })
    .is_some()
}

/// Emits `[REX] opcode modrm imm` for a register operand in ModRM's `rm`
/// field and an immediate of at most 4 bytes (`add r, imm8`, `mov r, imm32`
/// ...), without legacy prefixes: [`emit_modrm`]'s encoding of that form,
/// with the immediate stored at once.
#[inline(always)]
pub fn emit_direct_imm(buf: &mut Vec<u8>, p: Prefixes, opcode: u8, reg: u8, rm: u8, imm: &[u8]) {
    debug_assert!(!p.opsize16 && p.mandatory.is_none() && imm.len() <= 4);
    let rex_byte = rex(p.w, reg & 8 != 0, false, rm & 8 != 0);
    let modrm = ModRm {
        mode: MOD_DIRECT,
        reg,
        rm,
    }
    .byte();
    append(buf, |insn| {
        if rex_byte != 0x40 || p.force_rex {
            insn.put(rex_byte);
        }
        insn.put(opcode);
        insn.put(modrm);
        insn.put_all(imm);
    });
}

/// Emits `prefixes opcode+reg`: the register in the low three bits of the
/// last opcode byte and its high bit in REX.B (`push`, `pop`, `mov r, imm`).
pub fn emit_opreg(buf: &mut Vec<u8>, p: Prefixes, opcode: &[u8], reg: u8) {
    append(buf, |insn| {
        insn.prefixes(p, false, false, reg & 8 != 0);
        if let Some((last, head)) = opcode.split_last() {
            insn.put_all(head);
            insn.put(last | (reg & 7));
        }
    });
}

/// Emits `prefixes opcode` for an instruction without ModRM (implicit
/// operands, e.g. `add eax, imm32`).
pub fn emit_plain(buf: &mut Vec<u8>, p: Prefixes, opcode: &[u8]) {
    append(buf, |insn| {
        insn.prefixes(p, false, false, false);
        insn.put_all(opcode);
    });
}

#[cfg(test)]
mod tests {
    //! Byte-exact checks of the special addressing cases against encodings
    //! written out by hand from the Intel SDM (Vol. 2, tables 2-2 and 2-3).

    use super::*;

    /// `mov [mem], eax` (89 /r).
    fn store_eax(mem: Mem) -> Vec<u8> {
        let mut buf = Vec::new();
        emit_modrm(
            &mut buf,
            Prefixes::default(),
            &[0x89],
            0,
            Rm::Mem(&mem),
            &[],
        );
        buf
    }

    #[test]
    fn rsp_and_r12_bases_need_a_sib() {
        assert_eq!(store_eax(Mem::base(Gpr::Rsp, 0)), [0x89, 0x04, 0x24]);
        assert_eq!(store_eax(Mem::base(Gpr::R12, 0)), [0x41, 0x89, 0x04, 0x24]);
    }

    #[test]
    fn rbp_and_r13_bases_need_a_displacement() {
        assert_eq!(store_eax(Mem::base(Gpr::Rbp, 0)), [0x89, 0x45, 0x00]);
        assert_eq!(store_eax(Mem::base(Gpr::R13, 0)), [0x41, 0x89, 0x45, 0x00]);
        let m = Mem::indexed(Gpr::R13, Gpr::Rax, Scale::X1, 0);
        assert_eq!(store_eax(m), [0x41, 0x89, 0x44, 0x05, 0x00]);
    }

    #[test]
    fn displacement_width() {
        assert_eq!(store_eax(Mem::base(Gpr::Rcx, 127)), [0x89, 0x41, 0x7F]);
        assert_eq!(store_eax(Mem::base(Gpr::Rcx, -128)), [0x89, 0x41, 0x80]);
        assert_eq!(
            store_eax(Mem::base(Gpr::Rcx, 128)),
            [0x89, 0x81, 0x80, 0x00, 0x00, 0x00]
        );
    }

    #[test]
    fn rex_bits() {
        assert_eq!(rex(false, false, false, false), 0x40);
        assert_eq!(rex(true, true, true, true), 0x4F);
        let m = Mem::indexed(Gpr::R8, Gpr::R9, Scale::X8, 0);
        let mut buf = Vec::new();
        let p = Prefixes {
            w: true,
            ..Prefixes::default()
        };
        emit_modrm(&mut buf, p, &[0x8B], Gpr::R10.enc(), Rm::Mem(&m), &[]);
        // mov r10, [r8 + r9*8]
        assert_eq!(buf, [0x4F, 0x8B, 0x14, 0xC8]);
    }

    /// The fast path emits what the general one does, for every base and
    /// index register, each displacement width and both opcode lengths.
    #[test]
    fn based_fast_path_matches_the_general_encoding() {
        let disps = [0, 1, -1, 127, -128, 128, -129, 0x1234_5678, i32::MIN];
        let mut cases = 0;
        for base in 0..16 {
            for index in (0..16).filter(|&i| i != 4) {
                for disp in disps {
                    for (opcode, reg, w, force_rex) in [
                        (&[0x8B][..], 0, false, false),
                        (&[0x89][..], 9, true, false),
                        (&[0x88][..], 6, false, true),
                        (&[0x0F, 0xB6][..], 3, false, false),
                        (&[0x0F, 0xBF][..], 12, true, false),
                    ] {
                        let p = Prefixes {
                            w,
                            force_rex,
                            ..Prefixes::default()
                        };
                        let base = Gpr::from_enc(base);
                        let indexes = [
                            None,
                            Some((Gpr::from_enc(index), Scale::ALL[index as usize % 4])),
                        ];
                        for (index, imm) in indexes.into_iter().flat_map(|i| IMMS.map(|m| (i, m))) {
                            let mem = Mem::Based { base, index, disp };
                            let mut general = alloc::vec![0xAA];
                            emit_modrm(&mut general, p, opcode, reg, Rm::Mem(&mem), imm);
                            let mut fast = alloc::vec![0xAA];
                            emit_based(&mut fast, p, opcode, reg, (base, index, disp), imm);
                            assert_eq!(fast, general, "{mem:?} {opcode:x?} reg {reg} {imm:x?}");
                            cases += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(cases, 16 * 15 * 9 * 5 * 2 * IMMS.len());
    }

    /// [`try_emit_based_op`] writes what [`emit_modrm`] writes, for every
    /// base, index and `reg` register, each displacement width, REX.W or
    /// not and each immediate length; and nothing when the buffer lacks
    /// room.
    #[test]
    fn based_op_fast_path_matches_the_general_encoding() {
        let disps = [0, 1, -1, 127, -128, 128, -129, 0x1234_5678, i32::MIN];
        let mut cases = 0;
        for base in (0..16).map(Gpr::from_enc) {
            for index in (0..16).filter(|&i| i != 4) {
                let indexes = [
                    None,
                    Some((Gpr::from_enc(index), Scale::ALL[index as usize % 4])),
                ];
                for (index, disp, reg, w) in indexes.into_iter().flat_map(|i| {
                    disps.into_iter().flat_map(move |d| {
                        (0..16).flat_map(move |r| [false, true].map(|w| (i, d, r, w)))
                    })
                }) {
                    for imm in [&[][..], &[0xEF, 0xBE, 0xAD, 0xDE]] {
                        let p = Prefixes {
                            w,
                            ..Prefixes::default()
                        };
                        let mem = Mem::Based { base, index, disp };
                        for (opcode, op16) in
                            [(&[0x8B][..], (0x8B, 1)), (&[0x0F, 0xB6], (0xB60F, 2))]
                        {
                            let mut general = alloc::vec![0xAA];
                            emit_modrm(&mut general, p, opcode, reg, Rm::Mem(&mem), imm);
                            let mut fast = alloc::vec::Vec::with_capacity(64);
                            fast.push(0xAA);
                            let imm32 = u32::from_le_bytes([0xEF, 0xBE, 0xAD, 0xDE]);
                            let wrote = try_emit_based_op(
                                &mut fast,
                                w,
                                op16,
                                reg,
                                (base, index, disp),
                                (imm32, imm.len()),
                            );
                            assert!(wrote);
                            assert_eq!(
                                fast, general,
                                "{mem:?} {opcode:x?} reg {reg} w {w} {imm:x?}"
                            );
                            cases += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(cases, 16 * 15 * 2 * 9 * 16 * 2 * 2 * 2);
        // Without WINDOW bytes of room it writes nothing.
        let mut full = alloc::vec::Vec::with_capacity(WINDOW);
        full.push(0xAA);
        let mem = (Gpr::Rbp, None, -8);
        assert!(!try_emit_based_op(
            &mut full,
            true,
            (0x8B, 1),
            0,
            mem,
            (0, 0)
        ));
        assert_eq!(full, [0xAA]);
    }

    /// [`try_emit_direct_op`] writes what [`emit_modrm`] writes, for every
    /// pair of registers, REX.W or not and each immediate length; and
    /// nothing when the buffer lacks room.
    #[test]
    fn direct_op_fast_path_matches_the_general_encoding() {
        let mut cases = 0;
        for reg in 0..16 {
            for rm in 0..16 {
                for w in [false, true] {
                    for imm in IMMS.into_iter().filter(|i| i.len() != 2 && i.len() != 3) {
                        let p = Prefixes {
                            w,
                            ..Prefixes::default()
                        };
                        let mut general = alloc::vec![0xAA];
                        emit_modrm(&mut general, p, &[0x81], reg, Rm::Reg(rm), imm);
                        let mut fast = alloc::vec::Vec::with_capacity(64);
                        fast.push(0xAA);
                        let mut imm32 = [0; 4];
                        imm32[..imm.len()].copy_from_slice(imm);
                        let imm32 = (u32::from_le_bytes(imm32), imm.len());
                        assert!(try_emit_direct_op(&mut fast, w, 0x81, reg, rm, imm32));
                        assert_eq!(fast, general, "reg {reg} rm {rm} w {w} {imm:x?}");
                        cases += 1;
                    }
                }
            }
        }
        assert_eq!(cases, 16 * 16 * 2 * 3);
        let mut full = alloc::vec::Vec::with_capacity(WINDOW);
        full.push(0xAA);
        assert!(!try_emit_direct_op(&mut full, true, 0x89, 0, 1, (0, 0)));
        assert_eq!(full, [0xAA]);
    }

    /// Immediates of every length the fast paths take.
    const IMMS: [&[u8]; 4] = [&[], &[0x80], &[0x34, 0x12], &[0xEF, 0xBE, 0xAD, 0xDE]];

    /// [`emit_direct_imm`] writes what [`emit_modrm`] writes, for every
    /// pair of registers, REX.W and forced REX, and each immediate length.
    #[test]
    fn direct_imm_fast_path_matches_the_general_encoding() {
        let mut cases = 0;
        for reg in 0..16 {
            for rm in 0..16 {
                for (w, force_rex) in [(false, false), (true, false), (false, true)] {
                    for imm in IMMS {
                        let p = Prefixes {
                            w,
                            force_rex,
                            ..Prefixes::default()
                        };
                        let mut general = alloc::vec![0xAA];
                        emit_modrm(&mut general, p, &[0x81], reg, Rm::Reg(rm), imm);
                        let mut fast = alloc::vec![0xAA];
                        emit_direct_imm(&mut fast, p, 0x81, reg, rm, imm);
                        assert_eq!(fast, general, "reg {reg} rm {rm} {imm:x?}");
                        cases += 1;
                    }
                }
            }
        }
        assert_eq!(cases, 16 * 16 * 3 * IMMS.len());
    }

    #[test]
    fn modrm_byte() {
        let b = ModRm {
            mode: 0b11,
            reg: 0b010,
            rm: 0b101,
        };
        assert_eq!(b.byte(), 0xD5);
        assert_eq!(sib(3, 1, 0), 0xC8);
    }
}
