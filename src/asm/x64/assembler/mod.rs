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
//!
//! This file holds the buffer, labels, fix-ups, relocations and the one
//! encoding path every instruction goes through; the emit methods are
//! grouped by kind in `int`, `moves`, `control` and `sse`.

use alloc::vec::Vec;
use core::fmt;

use super::cond::Cond;
use super::encode::{self, Prefixes, RipHole, Rm, Vex};
use super::operand::{Label, Mem};
use super::regs::{Gpr, Size, Xmm};
use super::sse::{SseOp, XmmShift};

mod control;
mod int;
mod moves;
mod sse;

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
    /// The displacement of a jump emitted without a label (at this code
    /// offset) does not fit in 32 bits, or lies past the code's end.
    JumpOutOfRange(usize),
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
            AsmError::JumpOutOfRange(at) => {
                write!(f, "jump displacement at offset {at} is out of 32-bit range")
            }
        }
    }
}

impl core::error::Error for AsmError {}

/// No fix-up / no position.
const NONE: u32 = u32::MAX;

/// The length of the longest jump to a label (`jcc rel32`).
const MAX_REL32_JUMP: usize = 6;

/// The recommended multi-byte `nop` forms, by length (1 to 9 bytes).
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

/// A point between pieces of an [`Assembler`]'s code ([`Assembler::mark`]).
#[derive(Clone, Copy, Debug)]
pub struct AsmMark {
    code: usize,
    relocs: usize,
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

/// For an operation of 32 or 64 bits, whether it is 64 (REX.W); `None`
/// for 8 and 16 bits.
#[inline(always)]
fn wide(size: Size) -> Option<bool> {
    match size {
        Size::S32 => Some(false),
        Size::S64 => Some(true),
        Size::S8 | Size::S16 => None,
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
        self.bind_here(label, self.buf.len() as u32);
    }

    /// Binds `label` to `at`, a position already emitted (an exit emitted
    /// in a batch, [`Self::call_relocs`]), and patches every reference
    /// emitted so far. A position past the code's end is recorded as an
    /// error, as a jump to it would be.
    pub fn bind_to(&mut self, label: Label, at: usize) {
        if at > self.buf.len() {
            self.record(AsmError::JumpOutOfRange(at));
            return;
        }
        self.bind_here(label, at as u32);
    }

    /// [`Self::bind_to`] `here`, which is not past the code's end.
    #[inline(always)]
    fn bind_here(&mut self, label: Label, here: u32) {
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

    /// Overwrites the `len` bytes of code at `at` (at least 5, already
    /// emitted) with `jmp target` (a 32-bit relative jump) and `int3`s
    /// after it.
    ///
    /// # Panics
    /// If `len < 5` or `at + len` is past the end of the code.
    pub fn patch_jmp(&mut self, at: usize, len: usize, target: usize) {
        assert!(len >= 5, "a 32-bit jump takes 5 bytes");
        let rel = target as i64 - (at + 5) as i64;
        self.buf[at] = 0xE9;
        self.buf[at + 1..at + 5].copy_from_slice(&(rel as i32).to_le_bytes());
        self.buf[at + 5..at + len].fill(0xcc);
    }

    /// The byte of code at `at`, if emitted.
    pub fn byte_at(&self, at: usize) -> Option<u8> {
        self.buf.get(at).copied()
    }

    /// Overwrites the code at `at` (already emitted) with a `push` of
    /// each of `regs`, in order, or a `pop` if `pop`; returns the offset
    /// after them. Each takes one byte, or two for `r8`-`r15`.
    ///
    /// # Panics
    /// If the instructions reach past the end of the code.
    pub fn patch_push_pop(&mut self, at: usize, regs: &[Gpr], pop: bool) -> usize {
        let opcode = if pop { 0x58 } else { 0x50 };
        let mut at = at;
        for r in regs {
            if r.enc() >= 8 {
                self.buf[at] = 0x41;
                at += 1;
            }
            self.buf[at] = opcode + (r.enc() & 7);
            at += 1;
        }
        at
    }

    /// Overwrites the code from `at` to `end` (already emitted) with
    /// no-ops, as few as possible ([`Self::nop_n`]'s forms), so that code
    /// reaching `at` goes on at `end`.
    ///
    /// # Panics
    /// If `at > end` or `end` is past the end of the code.
    pub fn patch_nops(&mut self, at: usize, end: usize) {
        let mut at = at;
        while at < end {
            let nop = NOPS[(end - at).min(NOPS.len()) - 1];
            self.buf[at..at + nop.len()].copy_from_slice(nop);
            at += nop.len();
        }
    }

    /// The length of the jump at `at` (already emitted) if it can move
    /// up ([`Self::patch_move_up`]): an indirect `jmp` through memory
    /// addressed by a base register alone or with an 8-bit displacement
    /// (`jmp [reg]`, `jmp [reg + disp8]`), which runs the same wherever it
    /// lies, or a `jmp rel32` whose displacement is a relocation, which
    /// moves with it. A `jmp` to a label is not: its displacement is
    /// patched, or was computed, for where it is.
    pub fn movable_jump_len(&self, at: usize) -> Option<usize> {
        if self.byte_at(at)? == 0xE9 {
            return self.reloc_at(at + 1).map(|_| 5);
        }
        let rex = usize::from(self.byte_at(at) == Some(0x41));
        let modrm = self.byte_at(at + rex + 1)?;
        let (mode, reg, rm) = (modrm >> 6, (modrm >> 3) & 7, modrm & 7);
        // rm 100 takes a SIB byte; mode 00 with rm 101 is rip-relative.
        let plain = rm != 0b100 && !(mode == 0 && rm == 0b101);
        let len = match mode {
            0 => 2,
            1 => 3,
            _ => return None,
        };
        (self.byte_at(at + rex)? == 0xFF && reg == 4 && plain).then_some(rex + len)
    }

    /// The index of the relocation of the field at `offset`, searched
    /// from the last: the ones a function's end rewrites are its own.
    fn reloc_at(&self, offset: usize) -> Option<usize> {
        self.relocs
            .iter()
            .rposition(|r| r.offset as usize == offset)
    }

    /// Moves the `len` bytes of code at `from` (already emitted; see
    /// [`Self::movable_jump_len`]) up to `at`, with the relocation of its
    /// field if it has one, and fills the bytes between the moved code
    /// and `from + len` with `int3`.
    ///
    /// # Panics
    /// If `at > from` or `from + len` is past the end of the code.
    pub fn patch_move_up(&mut self, at: usize, from: usize, len: usize) {
        assert!(at <= from, "code moves up");
        if let Some(k) = (1..len).find_map(|field| self.reloc_at(from + field)) {
            self.relocs[k].offset -= (from - at) as u32;
        }
        self.buf.copy_within(from..from + len, at);
        self.buf[at + len..from + len].fill(0xcc);
    }

    /// Overwrites the code from `at` to `end` (already emitted) with a
    /// `ret` followed by `int3`s.
    ///
    /// # Panics
    /// If `at >= end` or `end` is past the end of the code.
    pub fn patch_ret_to(&mut self, at: usize, end: usize) {
        self.buf[at] = 0xC3;
        self.buf[at + 1..end].fill(0xcc);
    }

    /// Removes the code from `at` to `end` (already emitted) from the path
    /// into it: the `at - start` bytes before it move up to end at `end`,
    /// and the bytes they leave, from `start`, become `int3`. Code entered
    /// at the returned offset (`start` plus the length removed) then runs
    /// what came before `at` and goes on at `end`, without a jump. The
    /// moved bytes must not be position-dependent (no relative jump or
    /// patch site in them).
    ///
    /// # Panics
    /// If `start <= at <= end` does not hold or `end` is past the end.
    pub fn skip_from_entry(&mut self, start: usize, at: usize, end: usize) -> usize {
        let entry = start + (end - at);
        self.buf.copy_within(start..at, entry);
        self.buf[start..entry].fill(0xcc);
        entry
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

    /// Where the code and relocations end: a point [`Self::rewind`] can
    /// go back to. Taken between pieces (after [`Self::seal`], before the
    /// next piece's first label).
    pub fn mark(&self) -> AsmMark {
        AsmMark {
            code: self.buf.len(),
            relocs: self.relocs.len(),
        }
    }

    /// Drops the piece begun at `mark`: its code, relocations, labels and
    /// fix-ups, and any error it hit.
    pub fn rewind(&mut self, mark: AsmMark) {
        self.buf.truncate(mark.code);
        self.relocs.truncate(mark.relocs);
        self.labels.clear();
        self.fixups.clear();
        self.error = None;
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

    /// Takes `buf` (emptied) for the relocations if none were recorded
    /// yet and it has more room than the current buffer: a buffer a
    /// previous compilation left mapped, where a fresh one faults each
    /// page in again.
    pub fn reuse_relocs(&mut self, mut buf: Vec<Reloc>) {
        if self.relocs.is_empty() && buf.capacity() > self.relocs.capacity() {
            buf.clear();
            self.relocs = buf;
        }
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
    /// the label is bound. Inlined: a jump to a label then calls nothing
    /// in the common case (the fix-ups grow out of line, as the code does
    /// for jumps, [`Self::has_room`]).
    #[inline]
    fn use_label32(&mut self, at: usize, base: usize, label: Label, addend: i32) {
        if self.fixups.len() >= self.fixups.capacity() {
            return self.use_label32_growing(at, base, label, addend);
        }
        let f = Fixup {
            at: at as u32,
            base: base as u32,
            addend,
            next: NONE,
        };
        let Some(state) = self.labels.get_mut(label.0 as usize) else {
            self.record(AsmError::UnknownLabel(label));
            return;
        };
        if state.offset != NONE {
            let target = state.offset;
            self.patch_fixup(label, target, f);
        } else {
            let idx = self.fixups.len() as u32;
            self.fixups.push(Fixup {
                next: state.pending,
                ..f
            });
            state.pending = idx;
        }
    }

    /// [`Self::use_label32`] when the fix-ups must grow first: grows them
    /// out of line and starts again.
    #[cold]
    #[inline(never)]
    fn use_label32_growing(&mut self, at: usize, base: usize, label: Label, addend: i32) {
        self.fixups.reserve(1);
        self.use_label32(at, base, label, addend);
    }

    /// Emits a ModRM instruction followed by `imm`, resolving a RIP-relative
    /// operand against the end of the instruction.
    ///
    /// Inlined, so that at each caller the operands that are constants there
    /// (opcode, immediate length, register or memory) decide between the
    /// fast paths and [`Self::inst_general`] at compile time.
    #[inline(always)]
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
        // Register with an immediate (`add r, imm8`, `and r, imm32` ...).
        if let (Rm::Reg(rm), &[op]) = (rm, opcode)
            && imm.len() <= 4
            && !p.opsize16
            && p.mandatory.is_none()
        {
            encode::emit_direct_imm(&mut self.buf, p, op, reg, rm, imm);
            return;
        }
        // The commonest memory form: no legacy prefix, one or two opcode
        // bytes, a base register, an immediate of at most 4 bytes.
        if let (Rm::Mem(&Mem::Based { base, index, disp }), 1 | 2) = (rm, opcode.len())
            && imm.len() <= 4
            && !p.opsize16
            && p.mandatory.is_none()
        {
            encode::emit_based(&mut self.buf, p, opcode, reg, (base, index, disp), imm);
            return;
        }
        self.inst_general(p, opcode, reg, rm, imm);
    }

    /// The fast path of the commonest memory instructions: a one-byte
    /// opcode, a based operand, REX.W if `w`, no other prefix, and an
    /// immediate of `imm.1` bytes (the encoding [`Self::inst`] gives them).
    /// Returns false, emitting nothing, for another operand or when the
    /// buffer must grow: the caller then takes its general path.
    #[inline(always)]
    fn try_based(&mut self, w: bool, opcode: u8, reg: u8, mem: &Mem, imm: (u32, usize)) -> bool {
        self.try_based2(w, (u16::from(opcode), 1), reg, mem, imm)
    }

    /// [`Self::try_based`] with an opcode of `opcode.1` (1 or 2) bytes,
    /// little-endian in `opcode.0`.
    #[inline(always)]
    fn try_based2(
        &mut self,
        w: bool,
        opcode: (u16, usize),
        reg: u8,
        mem: &Mem,
        imm: (u32, usize),
    ) -> bool {
        match *mem {
            Mem::Based { base, index, disp } => {
                encode::try_emit_based_op(&mut self.buf, w, opcode, reg, (base, index, disp), imm)
            }
            Mem::Rip { .. } => false,
        }
    }

    /// The fast path of the commonest register instructions: a one-byte
    /// opcode, registers `reg` and `rm`, REX.W if `w`, no other prefix, and
    /// an immediate of `imm.1` bytes (the encoding [`Self::inst`] gives
    /// them). Returns false, emitting nothing, when the buffer must grow.
    #[inline(always)]
    fn try_direct(&mut self, w: bool, opcode: u8, reg: u8, rm: Gpr, imm: (u32, usize)) -> bool {
        encode::try_emit_direct_op(&mut self.buf, w, opcode, reg, rm.enc(), imm)
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
        let Some(code) = self.buf.get_mut(start..) else {
            return false;
        };
        let mut at = 0;
        while matches!(code.get(at), Some(0x66 | 0xF2 | 0xF3)) {
            at += 1;
        }
        let rex = code.get(at).is_some_and(|&b| b & 0xF0 == 0x40);
        let opcode = at + usize::from(rex);
        let opcode_len = match (code.get(opcode), code.get(opcode + 1)) {
            (Some(0x0F), Some(0x38 | 0x3A)) => 3,
            (Some(0x0F), _) => 2,
            _ => 1,
        };
        let modrm = opcode + opcode_len;
        let Some(&modrm_byte) = code.get(modrm) else {
            return false;
        };
        if rex {
            code[at] = code[at] & !0x04 | (to & 8) >> 1;
        } else if to & 8 != 0 {
            self.insert_rex_r(start + at, start + modrm, to);
            return true;
        }
        code[modrm] = modrm_byte & 0xC7 | (to & 7) << 3;
        true
    }

    /// [`Self::set_reg_operand`] of an instruction without REX prefix and
    /// a register `to` that needs REX.R: inserts the prefix at `at`, which
    /// moves the ModRM byte at `modrm` one on. Out of line, so that the
    /// common case, a REX prefix to change or none needed, saves fewer
    /// registers (the move of the bytes after `at` is a call).
    #[cold]
    #[inline(never)]
    fn insert_rex_r(&mut self, at: usize, modrm: usize, to: u8) {
        self.buf.insert(at, encode::rex(false, true, false, false));
        if let Some(byte) = self.buf.get_mut(modrm + 1) {
            *byte = *byte & 0xC7 | (to & 7) << 3;
        }
    }

    /// Removes the code from `start` on: the last instructions, which no
    /// label is bound in and no label reference or relocation points into.
    pub fn truncate(&mut self, start: usize) {
        self.buf.truncate(start);
    }

    /// Emits `opcode` followed by a 32-bit displacement to `label`.
    fn rel32(&mut self, opcode: &[u8], label: Label) {
        // The opcode and a zero displacement, in one write.
        let mut bytes = [0; MAX_REL32_JUMP];
        bytes[..opcode.len()].copy_from_slice(opcode);
        let end = self.buf.len() + opcode.len() + 4;
        self.buf.extend_from_slice(&bytes[..opcode.len() + 4]);
        self.use_label32(end - 4, end, label, 0);
    }

    /// Whether the code buffer has room for `bytes` more without growing.
    /// A jump that has takes no path that calls (and so saves no
    /// registers); one that has not grows the buffer out of line
    /// ([`Self::grow_for_jump`]) and starts again.
    #[inline(always)]
    fn has_room(&self, bytes: usize) -> bool {
        self.buf.capacity() - self.buf.len() >= bytes
    }

    /// Makes room for the longest jump, out of line (see
    /// [`Self::has_room`]).
    #[cold]
    #[inline(never)]
    fn grow_for_jump(&mut self) {
        self.buf.reserve(MAX_REL32_JUMP);
    }

    /// The displacement of a 2-byte short jump to `label`, if it is bound
    /// and within reach.
    fn short_disp(&self, label: Label) -> Option<i8> {
        let target = self.label_offset(label)? as i64;
        let disp = target - (self.buf.len() as i64 + 2);
        i8::try_from(disp).ok()
    }
}
