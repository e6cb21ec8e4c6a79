//! The [`Assembler`]: a growing code buffer with one emit method per
//! instruction form, labels with fix-ups, and relocations for targets outside
//! the buffer. [`Assembler::finish`] turns it into [`Code`].
//!
//! Naming: `op_rr` register ← register, `op_ri` register ← immediate,
//! `op_rm` register ← memory, `op_mr` memory ← register, `op_mi` memory ←
//! immediate; the destination comes first, as in Intel syntax. Integer
//! operations take a [`Size`]. Asking for an operand size an instruction does
//! not have (e.g. `imul` with [`Size::S8`]) is a programming error and
//! panics; everything that depends on the program being assembled (labels
//! never bound, bound twice, unknown) is reported by `finish` instead.
//!
//! Label references are 32-bit fix-ups patched when the label is bound (or
//! at once if it already is); a backward `jmp`/`jcc` whose target is within
//! reach uses the 8-bit form.

use alloc::vec::Vec;
use core::fmt;

use super::cond::Cond;
use super::encode::{self, Prefixes, RipHole, Rm};
use super::operand::{Label, Mem};
use super::regs::{Gpr, Size, Xmm};
use super::sse::{SseOp, XmmShift};

/// The eight classic two-operand integer operations; the discriminant is
/// both the `/digit` of opcodes 80/81/83 and bits 3–5 of the short opcodes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[repr(u8)]
#[allow(missing_docs)] // the variants are the instructions' mnemonics
pub enum AluOp {
    Add = 0,
    Or = 1,
    Adc = 2,
    Sbb = 3,
    And = 4,
    Sub = 5,
    Xor = 6,
    Cmp = 7,
}

/// Unary group 3 (opcodes F6/F7): the discriminant is the `/digit`.
/// `Mul`/`Imul`/`Div`/`Idiv` work on `rdx:rax` implicitly.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[repr(u8)]
#[allow(missing_docs)] // the variants are the instructions' mnemonics
pub enum UnaryOp {
    Not = 2,
    Neg = 3,
    Mul = 4,
    Imul = 5,
    Div = 6,
    Idiv = 7,
}

/// Shift group 2 (opcodes C0/C1/D0–D3): the discriminant is the `/digit`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[repr(u8)]
#[allow(missing_docs)] // the variants are the instructions' mnemonics
pub enum ShiftOp {
    Rol = 0,
    Ror = 1,
    Rcl = 2,
    Rcr = 3,
    Shl = 4,
    Shr = 5,
    Sar = 7,
}

/// The kind of an external [`Reloc`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum RelocKind {
    /// A 32-bit PC-relative field (of `call rel32`/`jmp rel32`): write
    /// `target - (code_start + offset + 4)` as an `i32` at `offset`.
    Rel32,
}

/// A reference from the code to something outside it, named by a caller-
/// chosen symbol id, to be patched once the target's address is known.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Reloc {
    /// Offset in the code of the field to patch (32 bits, as label
    /// offsets: code is limited to 2 GiB, and relocations are kept for a
    /// whole module's calls).
    pub offset: u32,
    /// The caller's name for the target (e.g. a function index).
    pub symbol: u32,
    /// How the field is computed.
    pub kind: RelocKind,
}

/// What [`Assembler::finish`] returns: machine code, position-independent
/// except for `relocs`.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Code {
    /// The machine code.
    pub bytes: Vec<u8>,
    /// Fields that refer to targets outside `bytes`.
    pub relocs: Vec<Reloc>,
}

/// Errors in the assembled program, reported by [`Assembler::finish`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum AsmError {
    /// A label is referenced but never bound.
    UnboundLabel(Label),
    /// A label was bound twice.
    LabelBoundTwice(Label),
    /// A label not created by this assembler was used.
    UnknownLabel(Label),
    /// A label reference does not fit in 32 bits (code over 2 GiB).
    OffsetOutOfRange(Label),
}

impl fmt::Display for AsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AsmError::UnboundLabel(l) => write!(f, "label {} is used but never bound", l.0),
            AsmError::LabelBoundTwice(l) => write!(f, "label {} is bound twice", l.0),
            AsmError::UnknownLabel(l) => write!(f, "label {} belongs to no assembler", l.0),
            AsmError::OffsetOutOfRange(l) => {
                write!(f, "reference to label {} is out of 32-bit range", l.0)
            }
        }
    }
}

impl core::error::Error for AsmError {}

/// No fix-up / no position.
const NONE: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct LabelState {
    /// Bound position, or `NONE`.
    offset: u32,
    /// First pending fix-up (index into `fixups`), or `NONE`.
    pending: u32,
}

/// A 32-bit field at `at` that must hold `label + addend - base`.
#[derive(Clone, Copy, Debug)]
struct Fixup {
    at: u32,
    base: u32,
    addend: i32,
    /// Next pending fix-up of the same label, or `NONE`.
    next: u32,
}

/// An x86-64 assembler writing into a byte buffer.
#[derive(Clone, Debug, Default)]
pub struct Assembler {
    buf: Vec<u8>,
    labels: Vec<LabelState>,
    fixups: Vec<Fixup>,
    relocs: Vec<Reloc>,
    error: Option<AsmError>,
}

/// Prefixes for an integer operation of `size`.
fn sized(size: Size) -> Prefixes {
    Prefixes {
        opsize16: size == Size::S16,
        w: size == Size::S64,
        ..Prefixes::default()
    }
}

/// Prefixes for an 8-bit operation naming the given byte registers.
fn sized_bytes(size: Size, regs: &[Gpr]) -> Prefixes {
    Prefixes {
        force_rex: size == Size::S8 && regs.iter().any(|r| r.byte_needs_rex()),
        ..sized(size)
    }
}

/// The immediate of an integer operation, truncated to `size` (at most 32
/// bits; 64-bit operations sign-extend it).
fn imm_for(size: Size, imm: i32) -> ([u8; 4], usize) {
    let len = match size {
        Size::S8 => 1,
        Size::S16 => 2,
        Size::S32 | Size::S64 => 4,
    };
    (imm.to_le_bytes(), len)
}

fn fits_i8(v: i64) -> bool {
    i8::try_from(v).is_ok()
}

fn gpr(r: Gpr) -> Rm<'static> {
    Rm::Reg(r.enc())
}

fn xmm(r: Xmm) -> Rm<'static> {
    Rm::Reg(r.enc())
}

#[track_caller]
fn assert_not_byte(size: Size, what: &str) {
    assert!(size != Size::S8, "{what} has no 8-bit form");
}

impl Assembler {
    /// An empty assembler.
    pub fn new() -> Assembler {
        Assembler::default()
    }

    /// An empty assembler that writes into `buf` (emptied first), reusing
    /// its memory.
    pub fn with_buffer(mut buf: Vec<u8>) -> Assembler {
        buf.clear();
        Assembler {
            buf,
            ..Assembler::default()
        }
    }

    // ----- buffer, labels, data -----

    /// The current position: the offset the next instruction gets.
    #[inline]
    pub fn offset(&self) -> usize {
        self.buf.len()
    }

    /// The bytes emitted so far (label references not yet bound read 0).
    #[inline]
    pub fn code(&self) -> &[u8] {
        &self.buf
    }

    /// A new, unbound label.
    pub fn new_label(&mut self) -> Label {
        let l = Label(self.labels.len() as u32);
        self.labels.push(LabelState {
            offset: NONE,
            pending: NONE,
        });
        l
    }

    /// Binds `label` to the current position and patches every reference
    /// emitted so far.
    pub fn bind(&mut self, label: Label) {
        let here = self.buf.len() as u32;
        let Some(state) = self.labels.get_mut(label.0 as usize) else {
            self.record(AsmError::UnknownLabel(label));
            return;
        };
        if state.offset != NONE {
            self.record(AsmError::LabelBoundTwice(label));
            return;
        }
        state.offset = here;
        let mut next = core::mem::replace(&mut state.pending, NONE);
        while next != NONE {
            let f = self.fixups[next as usize];
            self.patch_fixup(label, here, f);
            next = f.next;
        }
    }

    /// Where `label` is bound, if it is.
    pub fn label_offset(&self, label: Label) -> Option<usize> {
        match self.labels.get(label.0 as usize) {
            Some(s) if s.offset != NONE => Some(s.offset as usize),
            _ => None,
        }
    }

    /// Overwrites the four bytes at `at` with `value` (little-endian).
    ///
    /// # Panics
    /// If `at + 4` is past the end of the code.
    pub fn patch_i32(&mut self, at: usize, value: i32) {
        self.buf[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }

    /// Overwrites the code from `at` to `end` (already emitted, at most
    /// 129 bytes) with a short jump to `end`, so it is skipped.
    ///
    /// # Panics
    /// If the range is longer than a short jump reaches or past the end.
    pub fn patch_skip(&mut self, at: usize, end: usize) {
        let disp = i8::try_from(end - at - 2).expect("a short jump reaches the end");
        self.buf[at] = 0xeb;
        self.buf[at + 1] = disp as u8;
    }

    /// Emits raw bytes (data, or instructions this assembler lacks).
    pub fn emit_bytes(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Emits one byte.
    pub fn emit_u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// Emits a little-endian `u32`.
    pub fn emit_u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Emits a little-endian `u64`.
    pub fn emit_u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Emits a 32-bit field holding `label - base` (e.g. jump-table entries
    /// relative to the table start `base`).
    pub fn emit_label_diff32(&mut self, label: Label, base: usize) {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        self.use_label32(at, base, label, 0);
    }

    /// Ends one piece of code (a function) of a buffer that goes on with
    /// others: checks that every label it used is bound and nothing failed,
    /// then forgets its labels, so that the next piece starts afresh. Its
    /// bytes and relocations stay, at their offsets in the buffer, for
    /// [`Self::finish`]. A compiler thus puts all the functions it compiles
    /// in one buffer, without copying each out.
    pub fn seal(&mut self) -> Result<(), AsmError> {
        self.check_finished()?;
        self.labels.clear();
        self.fixups.clear();
        Ok(())
    }

    /// Makes room for at least `bytes` more bytes of code.
    pub fn reserve(&mut self, bytes: usize) {
        self.buf.reserve(bytes);
    }

    /// The code buffer's room beyond the code so far (for the host to map
    /// it in ahead of the writes).
    pub fn spare_capacity(&mut self) -> &mut [core::mem::MaybeUninit<u8>] {
        self.buf.spare_capacity_mut()
    }

    /// Makes room for at least `n` more relocations.
    pub fn reserve_relocs(&mut self, n: usize) {
        self.relocs.reserve(n);
    }

    /// Pads with `int3` up to a multiple of `align` (a power of two), where
    /// no code runs (between functions).
    pub fn pad_to(&mut self, align: usize) {
        self.buf
            .resize(self.buf.len().next_multiple_of(align), 0xcc);
    }

    fn check_finished(&self) -> Result<(), AsmError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if let Some(i) = self.labels.iter().position(|s| s.pending != NONE) {
            return Err(AsmError::UnboundLabel(Label(i as u32)));
        }
        Ok(())
    }

    /// Finishes the code. Fails if a referenced label was never bound, or a
    /// label was misused.
    pub fn finish(self) -> Result<Code, AsmError> {
        self.check_finished()?;
        Ok(Code {
            bytes: self.buf,
            relocs: self.relocs,
        })
    }

    fn record(&mut self, e: AsmError) {
        self.error.get_or_insert(e);
    }

    fn patch_fixup(&mut self, label: Label, target: u32, f: Fixup) {
        let value = i64::from(target) + i64::from(f.addend) - i64::from(f.base);
        match i32::try_from(value) {
            Ok(v) => self.patch_i32(f.at as usize, v),
            Err(_) => self.record(AsmError::OffsetOutOfRange(label)),
        }
    }

    /// Makes the 4 bytes at `at` hold `label + addend - base`, now or when
    /// the label is bound.
    fn use_label32(&mut self, at: usize, base: usize, label: Label, addend: i32) {
        let f = Fixup {
            at: at as u32,
            base: base as u32,
            addend,
            next: NONE,
        };
        let Some(&state) = self.labels.get(label.0 as usize) else {
            self.record(AsmError::UnknownLabel(label));
            return;
        };
        if state.offset != NONE {
            self.patch_fixup(label, state.offset, f);
        } else {
            let idx = self.fixups.len() as u32;
            self.fixups.push(Fixup {
                next: state.pending,
                ..f
            });
            self.labels[label.0 as usize].pending = idx;
        }
    }

    /// Emits a ModRM instruction followed by `imm`, resolving a RIP-relative
    /// operand against the end of the instruction.
    ///
    /// Inlined, so that at each caller the operands that are constants there
    /// (opcode, immediate length, register or memory) decide between the
    /// fast path and [`Self::inst_general`] at compile time.
    #[inline]
    fn inst(&mut self, p: Prefixes, opcode: &[u8], reg: u8, rm: Rm<'_>, imm: &[u8]) {
        // Fast path for the commonest form, register to register with one
        // opcode byte and no legacy prefix or immediate (`mov`, `add`,
        // `cmp`, `test`, ...): at most REX, opcode, ModRM.
        if let (Rm::Reg(rm), &[op], &[]) = (rm, opcode, imm)
            && !p.opsize16
            && p.mandatory.is_none()
        {
            let rex = encode::rex(p.w, reg & 8 != 0, false, rm & 8 != 0);
            let modrm = 0xc0 | (reg & 7) << 3 | (rm & 7);
            if rex != 0x40 || p.force_rex {
                self.buf.extend_from_slice(&[rex, op, modrm]);
            } else {
                self.buf.extend_from_slice(&[op, modrm]);
            }
            return;
        }
        self.inst_general(p, opcode, reg, rm, imm);
    }

    /// [`Self::inst`] for every form.
    #[inline(never)]
    fn inst_general(&mut self, p: Prefixes, opcode: &[u8], reg: u8, rm: Rm<'_>, imm: &[u8]) {
        let hole = encode::emit_modrm(&mut self.buf, p, opcode, reg, rm, imm);
        if let Some(RipHole { at, label, disp }) = hole {
            let end = self.buf.len();
            self.use_label32(at, end, label, disp);
        }
    }

    /// Gives the instruction at `start`, the last one emitted, register
    /// `to` as its ModRM `reg` operand (REX.R and the `reg` field),
    /// inserting a REX prefix when `to` needs one and there was none
    /// (nothing after it moves). Returns false, changing nothing, if no
    /// ModRM byte follows. The instruction must have a ModRM byte and no
    /// VEX prefix; the prefixes before REX are the only legacy ones the
    /// assembler emits (`66`, `F2`, `F3`), and its opcodes are one byte,
    /// `0F xx`, or `0F 38 xx`/`0F 3A xx`.
    pub fn set_reg_operand(&mut self, start: usize, to: u8) -> bool {
        let mut at = start;
        while matches!(self.buf.get(at), Some(0x66 | 0xF2 | 0xF3)) {
            at += 1;
        }
        let rex = self.buf.get(at).is_some_and(|&b| b & 0xF0 == 0x40);
        let opcode = at + usize::from(rex);
        let opcode_len = match (self.buf.get(opcode), self.buf.get(opcode + 1)) {
            (Some(0x0F), Some(0x38 | 0x3A)) => 3,
            (Some(0x0F), _) => 2,
            _ => 1,
        };
        let mut modrm = opcode + opcode_len;
        if modrm >= self.buf.len() {
            return false;
        }
        if rex {
            self.buf[at] = self.buf[at] & !0x04 | (to & 8) >> 1;
        } else if to & 8 != 0 {
            self.buf.insert(at, encode::rex(false, true, false, false));
            modrm += 1;
        }
        self.buf[modrm] = self.buf[modrm] & 0xC7 | (to & 7) << 3;
        true
    }

    /// Removes the code from `start` on: the last instructions, which no
    /// label is bound in and no label reference or relocation points into.
    pub fn truncate(&mut self, start: usize) {
        self.buf.truncate(start);
    }

    /// Emits `opcode` followed by a 32-bit displacement to `label`.
    fn rel32(&mut self, opcode: &[u8], label: Label) {
        self.buf.extend_from_slice(opcode);
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        self.use_label32(at, at + 4, label, 0);
    }

    /// The displacement of a 2-byte short jump to `label`, if it is bound
    /// and within reach.
    fn short_disp(&self, label: Label) -> Option<i8> {
        let target = self.label_offset(label)? as i64;
        let disp = target - (self.buf.len() as i64 + 2);
        i8::try_from(disp).ok()
    }

    // ----- integer arithmetic and logic -----

    /// `op dst, src`.
    pub fn alu_rr(&mut self, op: AluOp, size: Size, dst: Gpr, src: Gpr) {
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
        let opc = (op as u8) << 3 | 2 | u8::from(size != Size::S8);
        self.inst(
            sized_bytes(size, &[dst]),
            &[opc],
            dst.enc(),
            Rm::Mem(&mem),
            &[],
        );
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

    fn imul_imm(&mut self, size: Size, dst: Gpr, src: Rm<'_>, imm: i32) {
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

    fn shift_imm(&mut self, op: ShiftOp, size: Size, p: Prefixes, rm: Rm<'_>, imm: u8) {
        let wide = u8::from(size != Size::S8);
        if imm == 1 {
            self.inst(p, &[0xD0 | wide], op as u8, rm, &[]);
        } else {
            self.inst(p, &[0xC0 | wide], op as u8, rm, &[imm]);
        }
    }

    /// `lea dst, [mem]` (16/32/64 bits).
    pub fn lea(&mut self, size: Size, dst: Gpr, mem: Mem) {
        assert_not_byte(size, "lea");
        self.inst(sized(size), &[0x8D], dst.enc(), Rm::Mem(&mem), &[]);
    }

    // ----- moves -----

    /// `mov dst, src`.
    pub fn mov_rr(&mut self, size: Size, dst: Gpr, src: Gpr) {
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
        let opc = 0x8A | u8::from(size != Size::S8);
        self.inst(
            sized_bytes(size, &[dst]),
            &[opc],
            dst.enc(),
            Rm::Mem(&mem),
            &[],
        );
    }

    /// `mov [mem], src` (a store).
    pub fn mov_mr(&mut self, size: Size, mem: Mem, src: Gpr) {
        let opc = 0x88 | u8::from(size != Size::S8);
        self.inst(
            sized_bytes(size, &[src]),
            &[opc],
            src.enc(),
            Rm::Mem(&mem),
            &[],
        );
    }

    /// `mov [mem], imm` (truncated to `size`; sign-extended for 64 bits).
    pub fn mov_mi(&mut self, size: Size, mem: Mem, imm: i32) {
        let (bytes, len) = imm_for(size, imm);
        let opc = 0xC6 | u8::from(size != Size::S8);
        self.inst(sized(size), &[opc], 0, Rm::Mem(&mem), &bytes[..len]);
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

    fn extend_opcode(from: Size, signed: bool) -> [u8; 2] {
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
    fn extend_rm(&mut self, to: Size, opcode: &[u8], dst: Gpr, mem: Mem) {
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

    // ----- bits -----

    fn bits_op(&mut self, prefix: Option<u8>, opc: u8, size: Size, dst: Gpr, src: Rm<'_>) {
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

    // ----- control flow -----

    /// `jmp label` (rel8 when the label is bound and within reach).
    pub fn jmp(&mut self, label: Label) {
        if let Some(d) = self.short_disp(label) {
            self.buf.extend_from_slice(&[0xEB, d as u8]);
        } else {
            self.rel32(&[0xE9], label);
        }
    }

    /// `jcc label` (rel8 when the label is bound and within reach).
    pub fn jcc(&mut self, cond: Cond, label: Label) {
        if let Some(d) = self.short_disp(label) {
            self.buf.extend_from_slice(&[0x70 | cond.enc(), d as u8]);
        } else {
            self.rel32(&[0x0F, 0x80 | cond.enc()], label);
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

    /// `jmp rel32` to an external target: records a [`Reloc`] for `symbol`.
    pub fn jmp_reloc(&mut self, symbol: u32) {
        self.reloc32(0xE9, symbol);
    }

    fn reloc32(&mut self, opcode: u8, symbol: u32) {
        self.buf.push(opcode);
        self.relocs.push(Reloc {
            offset: self.buf.len() as u32,
            symbol,
            kind: RelocKind::Rel32,
        });
        self.buf.extend_from_slice(&[0; 4]);
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

    /// `nop` (one byte).
    pub fn nop(&mut self) {
        self.buf.push(0x90);
    }

    /// `len` bytes of no-ops, as few instructions as possible (the
    /// recommended multi-byte `nop` forms of up to 9 bytes).
    pub fn nop_n(&mut self, mut len: usize) {
        const NOPS: [&[u8]; 9] = [
            &[0x90],
            &[0x66, 0x90],
            &[0x0F, 0x1F, 0x00],
            &[0x0F, 0x1F, 0x40, 0x00],
            &[0x0F, 0x1F, 0x44, 0x00, 0x00],
            &[0x66, 0x0F, 0x1F, 0x44, 0x00, 0x00],
            &[0x0F, 0x1F, 0x80, 0x00, 0x00, 0x00, 0x00],
            &[0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
            &[0x66, 0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
        ];
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

    // ----- SSE -----

    fn sse(&mut self, op: SseOp, w: bool, reg: u8, rm: Rm<'_>, imm: &[u8]) {
        let p = Prefixes {
            mandatory: op.prefix.byte(),
            w,
            ..Prefixes::default()
        };
        self.inst(p, op.opcode, reg, rm, imm);
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

    fn gpr_xmm(&mut self, w: bool, opc: u8, x: Xmm, rm: Rm<'_>) {
        let p = Prefixes {
            mandatory: Some(0x66),
            w,
            ..Prefixes::default()
        };
        self.inst(p, &[0x0F, opc], x.enc(), rm, &[]);
    }

    fn int_size_w(size: Size) -> bool {
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
