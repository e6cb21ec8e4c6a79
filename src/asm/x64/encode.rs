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

use super::operand::{Label, Mem};

/// `mod` field values of the ModRM byte.
const MOD_INDIRECT: u8 = 0b00;
const MOD_DISP8: u8 = 0b01;
const MOD_DISP32: u8 = 0b10;
const MOD_DIRECT: u8 = 0b11;

/// The ModRM byte: `mod` (2 bits), `reg` (3 bits), `rm` (3 bits).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ModRm {
    pub mode: u8,
    pub reg: u8,
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
    pub at: usize,
    pub label: Label,
    pub disp: i32,
}

fn emit_prefixes(buf: &mut Vec<u8>, p: Prefixes, r: bool, x: bool, b: bool) {
    if p.opsize16 {
        buf.push(0x66);
    }
    if let Some(m) = p.mandatory {
        buf.push(m);
    }
    if p.w || r || x || b || p.force_rex {
        buf.push(rex(p.w, r, x, b));
    }
}

/// Emits `prefixes opcode modrm [sib] [disp]` with `reg` (a 4-bit register
/// encoding or a 3-bit opcode extension `/digit`) in the ModRM reg field.
/// Returns the displacement hole of a RIP-relative operand; the caller
/// records it and emits any immediate.
pub fn emit_modrm(
    buf: &mut Vec<u8>,
    p: Prefixes,
    opcode: &[u8],
    reg: u8,
    rm: Rm<'_>,
) -> Option<RipHole> {
    let r = reg & 8 != 0;
    match rm {
        Rm::Reg(rm) => {
            emit_prefixes(buf, p, r, false, rm & 8 != 0);
            buf.extend_from_slice(opcode);
            buf.push(
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
            emit_prefixes(buf, p, r, false, false);
            buf.extend_from_slice(opcode);
            buf.push(
                ModRm {
                    mode: MOD_INDIRECT,
                    reg,
                    rm: 0b101,
                }
                .byte(),
            );
            let at = buf.len();
            buf.extend_from_slice(&[0; 4]);
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
            emit_prefixes(buf, p, r, x, base & 8 != 0);
            buf.extend_from_slice(opcode);
            let rm = if sib_byte.is_some() { 0b100 } else { base };
            buf.push(ModRm { mode, reg, rm }.byte());
            if let Some(s) = sib_byte {
                buf.push(s);
            }
            match mode {
                MOD_DISP8 => buf.push(disp as u8),
                MOD_DISP32 => buf.extend_from_slice(&disp.to_le_bytes()),
                _ => {}
            }
            None
        }
    }
}

/// Emits `prefixes opcode+reg`: the register in the low three bits of the
/// last opcode byte and its high bit in REX.B (`push`, `pop`, `mov r, imm`).
pub fn emit_opreg(buf: &mut Vec<u8>, p: Prefixes, opcode: &[u8], reg: u8) {
    emit_prefixes(buf, p, false, false, reg & 8 != 0);
    let (last, head) = opcode.split_last().expect("opcode is never empty");
    buf.extend_from_slice(head);
    buf.push(last | (reg & 7));
}

/// Emits `prefixes opcode` for an instruction without ModRM (implicit
/// operands, e.g. `add eax, imm32`).
pub fn emit_plain(buf: &mut Vec<u8>, p: Prefixes, opcode: &[u8]) {
    emit_prefixes(buf, p, false, false, false);
    buf.extend_from_slice(opcode);
}
