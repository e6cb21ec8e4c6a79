//! The x86-64 macro assembler: what the compiler needs from the machine
//! beyond single instructions.
//!
//! [`MacroAssembler`] wraps the plain [`Assembler`] (whose instructions it
//! passes through, by `Deref`) and owns:
//!
//! - the peephole that lets a value computed into a fresh register land in
//!   a local's register instead ([`MacroAssembler::redefine_last_gpr`]): it
//!   remembers the last instruction when that instruction writes all of its
//!   destination without reading it (a load, a `lea`, a sum emitted with
//!   [`MacroAssembler::add_sum`], a shift left by 1 to 3 emitted with
//!   [`MacroAssembler::shl_ri`], or a three-operand AVX operation,
//!   [`MacroAssembler::vex_rrr`]);
//! - the same knowledge folds address arithmetic into one `lea` with a
//!   base register: a sum with a scaled register, a sum with a temporary
//!   computed as a register plus a constant or a scaled register, a
//!   constant added to such a `lea`, a doubled register plus a constant
//!   (`[base + index * scale + disp]` from two or three instructions);
//! - the sites generated code reports to the runtime, at code offsets that
//!   only it may move: trap exits ([`MacroAssembler::trap_label`]), call
//!   return addresses for backtraces, and guard-region fault sites. When the
//!   peephole moves bytes, it moves the fault site with them.
//!
//! The plain assembler encodes instructions and knows nothing of these;
//! the compiler above never writes bytes itself.

use super::super::FaultSite;
use super::stubs::sym_trap;
use crate::abi::{HandlerSite, TYPE_ID_PLACEHOLDER, TrapCode, UnwindInfo};
use crate::asm::x64::{AluOp, Assembler, Cond, Gpr, Label, Mem, Scale, ShiftOp, Size, SseOp, Xmm};
use alloc::vec::Vec;
use core::ops::{Deref, DerefMut};

/// The last instruction emitted, when [`MacroAssembler::redefine_last_gpr`]
/// can give it another destination: where it lies and what it is.
#[derive(Clone, Copy, Debug)]
struct LastDef {
    start: u32,
    end: u32,
    /// Register encoding of the destination, and whether it is an XMM one.
    dst: u8,
    xmm: bool,
    /// The instruction leaves the upper 32 bits of its GPR destination
    /// zero (a 32-bit write, or a zero-extending load).
    upper_zero: bool,
    kind: DefKind,
}

#[derive(Clone, Copy, Debug)]
enum DefKind {
    /// A load or `lea`, which writes all of its ModRM `reg` field's
    /// register without reading it. Redefined in place. A scalar float
    /// load keeps its address, for [`MacroAssembler::fold_last_load`].
    Load(Option<Mem>),
    /// `add dst, addend` (32 or 64 bits), redefined as `lea`.
    Sum { size: Size, addend: Addend },
    /// `lea dst, [base + disp]` (32 or 64 bits, per `upper_zero`), which
    /// redefined into `base` itself becomes `add base, disp`, whose flags
    /// then test the sum ([`MacroAssembler::flags_test`]).
    Lea { base: Gpr, disp: i32 },
    /// `lea dst, [base + index * scale + disp]` (32 or 64 bits, per
    /// `upper_zero`): redefined in place as a load is; an added constant
    /// joins its displacement ([`MacroAssembler::add_sum`]).
    Indexed {
        base: Gpr,
        index: Gpr,
        scale: Scale,
        disp: i32,
    },
    /// `dst = index * scale + disp` (32 or 64 bits, per `upper_zero`):
    /// [`MacroAssembler::lea_scaled`]'s `lea`, or copy, shift and add, or
    /// a `shl` by 1 to 3 ([`MacroAssembler::shl_ri`]; `index` is then
    /// `dst` itself, whose old value the shift reads). An added register
    /// joins it in one `lea` with a base ([`MacroAssembler::add_sum`]).
    Scaled { index: Gpr, scale: Scale, disp: i32 },
    /// The AVX `vop dst, src1, src2`, which writes all of `dst` (its
    /// upper lanes from `src1`) and reads only its sources: emitted again
    /// with the new destination, which may be a source too (the sources
    /// are read before the destination is written).
    Vex { op: SseOp, src1: Xmm, src2: VexSrc },
}

/// The second source of a [`DefKind::Vex`]: a register, or a memory
/// operand that is not RIP-relative.
#[derive(Clone, Copy, Debug)]
enum VexSrc {
    Xmm(Xmm),
    Mem(Mem),
}

/// What [`MacroAssembler::add_sum`] adds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Addend {
    /// A constant (sign-extended for 64 bits).
    Imm(i32),
    /// A register's value.
    Reg(Gpr),
}

/// How code reaches a trap exit: through a label (which any number of
/// jumps may use), or through the one jump whose 32-bit displacement is at
/// this code offset ([`MacroAssembler::trap_if`]), the commonest case,
/// which needs no label and no fix-up.
#[derive(Clone, Copy, Debug)]
enum TrapEntry {
    Label(Label),
    Rel32(u32),
}

/// What a [`MacroAssembler`] leaves when the compiling is done.
pub(crate) struct CodeParts {
    pub asm: Assembler,
    /// Backtrace sites (return-address offset, module offset), ascending.
    pub sites: Vec<(u32, u32)>,
    pub fault_sites: Vec<FaultSite>,
    /// (immediate offset, type index), ascending.
    pub type_id_sites: Vec<(u32, u32)>,
    /// Catch clauses, inner `try_table`s first within a function.
    pub handlers: Vec<HandlerSite>,
    /// Each function's [`UnwindInfo`], in the order they were compiled.
    pub unwind: Vec<UnwindInfo>,
}

/// A `cmp` whose flags still stand: nothing but `setcc` and `movzx` into
/// other registers than its operands came after it, up to `end`, and no
/// label was bound since, so comparing the same operands again would set
/// the same flags.
#[derive(Clone, Copy)]
struct FlagsCmp {
    size: Size,
    a: Gpr,
    b: CmpOperand,
    end: u32,
}

/// The second operand of a comparison ([`MacroAssembler::cmp`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOperand {
    Reg(Gpr),
    Imm(i32),
}

/// A point between functions of a [`MacroAssembler`]'s code
/// ([`MacroAssembler::mark`]).
#[derive(Clone, Copy)]
pub(crate) struct MasmMark {
    asm: crate::asm::x64::AsmMark,
    sites: usize,
    fault_sites: usize,
    type_id_sites: usize,
    handlers: usize,
    unwind: usize,
}

/// The assembler of one compiling thread, with the peephole and the sites
/// of the functions compiled so far (see the module docs).
#[derive(Default)]
pub(crate) struct MacroAssembler {
    asm: Assembler,
    last_def: Option<LastDef>,
    /// The comparison the flags hold, and where the code that keeps them
    /// ends (see [`MacroAssembler::cmp`]).
    flags_cmp: Option<FlagsCmp>,
    /// Module offset of the operator being compiled, which trap and call
    /// sites report.
    op_offset: u32,
    /// The current function's trap exits: what jumps there, trap, and
    /// module offset; emitted at its end ([`Self::emit_trap_exits`]).
    trap_sites: Vec<(TrapEntry, TrapCode, u32)>,
    /// (code offset of a return address, module offset) of every call and
    /// trap exit, for backtraces, of all functions so far, ascending.
    sites: Vec<(u32, u32)>,
    /// Guard-region mode: where the current operator's unchecked memory
    /// access code begins (its fault site ends with the operator).
    fault_start: Option<u32>,
    /// Guard-region fault sites of all functions so far, ascending.
    fault_sites: Vec<FaultSite>,
    /// (code offset of a 32-bit immediate, type index): where the code
    /// compares with the engine-wide id of a function type, ascending.
    type_id_sites: Vec<(u32, u32)>,
    /// The `try_table` catch clauses of all functions so far.
    handlers: Vec<HandlerSite>,
    /// The [`UnwindInfo`] of every function so far, in order.
    unwind: Vec<UnwindInfo>,
}

impl Deref for MacroAssembler {
    type Target = Assembler;
    fn deref(&self) -> &Assembler {
        &self.asm
    }
}

impl DerefMut for MacroAssembler {
    fn deref_mut(&mut self) -> &mut Assembler {
        &mut self.asm
    }
}

impl MacroAssembler {
    /// A macro assembler whose code goes into `buf` (emptied first).
    pub(crate) fn with_buffer(buf: Vec<u8>) -> MacroAssembler {
        MacroAssembler {
            asm: Assembler::with_buffer(buf),
            ..MacroAssembler::default()
        }
    }

    /// The plain assembler, handed back when the compiling is done.
    #[cfg(test)]
    pub(crate) fn into_inner(self) -> Assembler {
        self.asm
    }

    /// The plain assembler with the backtrace sites, fault sites and
    /// type-id sites of the code, when the compiling is done.
    pub(crate) fn into_parts(self) -> CodeParts {
        CodeParts {
            asm: self.asm,
            sites: self.sites,
            fault_sites: self.fault_sites,
            type_id_sites: self.type_id_sites,
            handlers: self.handlers,
            unwind: self.unwind,
        }
    }

    /// Where the code and every site list end: a point between functions
    /// that [`Self::rewind`] can go back to.
    pub(crate) fn mark(&self) -> MasmMark {
        MasmMark {
            asm: self.asm.mark(),
            sites: self.sites.len(),
            fault_sites: self.fault_sites.len(),
            type_id_sites: self.type_id_sites.len(),
            handlers: self.handlers.len(),
            unwind: self.unwind.len(),
        }
    }

    /// Drops the function begun at `mark`, to compile it again: its code,
    /// labels and relocations, its sites, and what the peephole knew.
    pub(crate) fn rewind(&mut self, mark: MasmMark) {
        self.asm.rewind(mark.asm);
        self.sites.truncate(mark.sites);
        self.fault_sites.truncate(mark.fault_sites);
        self.type_id_sites.truncate(mark.type_id_sites);
        self.handlers.truncate(mark.handlers);
        self.unwind.truncate(mark.unwind);
        self.trap_sites.clear();
        self.fault_start = None;
        self.last_def = None;
        self.flags_cmp = None;
    }

    /// Records a catch clause (see [`HandlerSite`]).
    pub(crate) fn handler_site(&mut self, site: HandlerSite) {
        self.handlers.push(site);
    }

    /// Records the unwind information of the function just compiled.
    pub(crate) fn unwind_info(&mut self, info: UnwindInfo) {
        self.unwind.push(info);
    }

    /// `cmp dword [mem], id` where `id` is the engine-wide id of type
    /// `type_index`. Engines number types differently, so the compiled
    /// code holds [`TYPE_ID_PLACEHOLDER`], recorded as a type-id site, and
    /// whoever loads the code into an engine writes that engine's id there
    /// (see `CompiledModule::type_id_sites`).
    pub(crate) fn cmp_type_id(&mut self, mem: Mem, type_index: u32) {
        self.asm
            .alu_mi(AluOp::Cmp, Size::S32, mem, TYPE_ID_PLACEHOLDER as i32);
        let at = self.asm.offset() as u32 - 4;
        self.type_id_sites.push((at, type_index));
    }

    /// Keeps the backtrace sites in `buf` (emptied first) if no site is
    /// recorded yet and it has more room than the current list: a table
    /// of an unloaded module, whose pages are mapped already.
    pub(crate) fn reuse_sites(&mut self, mut buf: Vec<(u32, u32)>) {
        if self.sites.is_empty() && buf.capacity() > self.sites.capacity() {
            buf.clear();
            self.sites = buf;
        }
    }

    /// Makes room for `n` more call and trap sites.
    pub(crate) fn reserve_sites(&mut self, n: usize) {
        self.sites.reserve(n);
    }

    /// Sets the module offset of the operator being compiled (for trap and
    /// call sites).
    pub(crate) fn set_op_offset(&mut self, offset: u32) {
        self.op_offset = offset;
    }

    /// A new out-of-line trap exit for the operator being compiled.
    pub(crate) fn trap_label(&mut self, code: TrapCode) -> Label {
        let label = self.asm.new_label();
        self.trap_sites
            .push((TrapEntry::Label(label), code, self.op_offset));
        label
    }

    /// Traps when `cond` holds: a `jcc` to a new out-of-line trap exit for
    /// the operator being compiled (the same bytes as a `jcc` to a new
    /// [`Self::trap_label`]).
    pub(crate) fn trap_if(&mut self, cond: Cond, code: TrapCode) {
        let at = self.asm.jcc_forward(cond) as u32;
        self.trap_sites
            .push((TrapEntry::Rel32(at), code, self.op_offset));
    }

    /// Unconditionally traps.
    pub(crate) fn trap(&mut self, code: TrapCode) {
        let at = self.asm.jmp_forward() as u32;
        self.trap_sites
            .push((TrapEntry::Rel32(at), code, self.op_offset));
    }

    /// Records the current position as the return address of a call made
    /// by the operator being compiled.
    pub(crate) fn call_site(&mut self) {
        self.sites.push((self.asm.offset() as u32, self.op_offset));
    }

    /// Emits the current function's trap exits: one call of the module's
    /// trap stub per site, so the return address says where the trap
    /// happened.
    pub(crate) fn emit_trap_exits(&mut self) {
        self.last_def = None;
        self.flags_cmp = None;
        // Each exit is a 5-byte call with one relocation and one site,
        // emitted all at once, then bound to its entry.
        const CALL_LEN: usize = 5;
        let start = self.asm.call_relocs(
            self.trap_sites
                .iter()
                .map(|&(_, code, _)| sym_trap(code as u32)),
        );
        for (i, &(entry, _, _)) in self.trap_sites.iter().enumerate() {
            let exit = start + CALL_LEN * i;
            match entry {
                TrapEntry::Label(label) => self.asm.bind_to(label, exit),
                TrapEntry::Rel32(at) => self.asm.bind_rel32_to(at as usize, exit),
            }
        }
        self.sites.extend(
            self.trap_sites
                .iter()
                .enumerate()
                .map(|(i, &(_, _, wasm_offset))| {
                    ((start + CALL_LEN * (i + 1)) as u32, wasm_offset)
                }),
        );
        self.trap_sites.clear();
    }

    /// Guard-region mode: the operator being compiled may fault from here
    /// on (until [`Self::close_fault_site`]).
    pub(crate) fn open_fault_site(&mut self) {
        self.fault_start.get_or_insert(self.asm.offset() as u32);
    }

    /// Ends the fault site the operator at module offset `wasm_offset`
    /// opened, if any, here.
    /// Inlined is only the test, which nearly every operator fails (it
    /// runs after each one).
    #[inline(always)]
    pub(crate) fn close_fault_site(&mut self, wasm_offset: u32) {
        if self.fault_start.is_some() {
            self.push_fault_site(wasm_offset);
        }
    }

    /// [`Self::close_fault_site`] of an open fault site.
    #[inline(never)]
    fn push_fault_site(&mut self, wasm_offset: u32) {
        if let Some(start) = self.fault_start.take() {
            self.fault_sites.push(FaultSite {
                start,
                end: self.asm.offset() as u32,
                wasm_offset,
            });
        }
    }

    /// Remembers the instruction emitted from `start` to here as the last
    /// definition of `dst`, if `defines` (it writes all of `dst` without
    /// reading it) and its operand is not RIP-relative (a RIP-relative
    /// displacement counts from the instruction's end, which may move).
    /// `upper_zero` says whether it leaves the upper half of a GPR `dst`
    /// zero.
    fn def(
        &mut self,
        defines: bool,
        start: usize,
        dst: u8,
        xmm: bool,
        mem: &Mem,
        upper_zero: bool,
    ) {
        self.last_def = (defines && !matches!(mem, Mem::Rip { .. })).then_some(LastDef {
            start: start as u32,
            end: self.asm.offset() as u32,
            dst,
            xmm,
            upper_zero,
            kind: DefKind::Load(xmm.then_some(*mem)),
        });
    }

    /// Records the instruction from `start` as the last definition of
    /// general register `dst` when it `defines` all of it (or forgets the
    /// last definition when it does not).
    fn def_gpr(&mut self, defines: bool, start: usize, dst: Gpr, upper_zero: bool, kind: DefKind) {
        self.last_def = defines.then_some(LastDef {
            start: start as u32,
            end: self.asm.offset() as u32,
            dst: dst.enc(),
            xmm: false,
            upper_zero,
            kind,
        });
    }

    /// Binds `label` here. Code may now jump in after the last instruction,
    /// so the peephole must leave it be.
    pub(crate) fn bind(&mut self, label: Label) {
        self.last_def = None;
        self.flags_cmp = None;
        self.asm.bind(label);
    }

    /// `cmp a, b` of `size`, unless the flags already hold that comparison
    /// of the same registers (a `(x > y) - (x < y)` compares twice): the
    /// code since the last `cmp` only turned its flags into a value
    /// ([`Self::setcc`], [`Self::movzx_rr`]) in other registers.
    pub(crate) fn cmp(&mut self, size: Size, a: Gpr, b: CmpOperand) {
        let offset = self.asm.offset() as u32;
        if let Some(f) = self.flags_cmp
            && f.end == offset
            && f.size == size
            && f.a == a
            && f.b == b
        {
            return;
        }
        match b {
            CmpOperand::Reg(b) => self.asm.alu_rr(AluOp::Cmp, size, a, b),
            CmpOperand::Imm(imm) => self.asm.alu_ri(AluOp::Cmp, size, a, imm),
        }
        self.last_def = None;
        self.flags_cmp = Some(FlagsCmp {
            size,
            a,
            b,
            end: self.asm.offset() as u32,
        });
    }

    /// Keeps [`Self::flags_cmp`] standing over an instruction emitted from
    /// `start` that writes `dst` and leaves the flags alone.
    fn keep_flags_over(&mut self, start: usize, dst: Gpr) {
        if let Some(f) = &mut self.flags_cmp
            && f.end as usize == start
            && dst != f.a
            && f.b != CmpOperand::Reg(dst)
        {
            f.end = self.asm.offset() as u32;
        }
    }

    /// `jcc label`, which leaves the flags and every register as they
    /// were: a comparison in the flags stands on the fall-through path (a
    /// `br_if` on `x == y` followed by `x < y` compares once).
    pub(crate) fn jcc(&mut self, cond: Cond, label: Label) {
        let start = self.asm.offset();
        self.asm.jcc(cond, label);
        if let Some(f) = &mut self.flags_cmp
            && f.end as usize == start
        {
            f.end = self.asm.offset() as u32;
        }
    }

    /// `setcc dst` (the low byte), which leaves the flags as they were.
    pub(crate) fn setcc(&mut self, cond: Cond, dst: Gpr) {
        let start = self.asm.offset();
        self.asm.setcc(cond, dst);
        self.keep_flags_over(start, dst);
    }

    /// Ends one function's code ([`Assembler::seal`]).
    pub(crate) fn seal(&mut self) -> Result<(), crate::asm::x64::AsmError> {
        self.last_def = None;
        self.flags_cmp = None;
        self.asm.seal()
    }

    /// `lea dst, [mem]`.
    pub(crate) fn lea(&mut self, size: Size, dst: Gpr, mem: Mem) {
        let start = self.asm.offset();
        self.asm.lea(size, dst, mem);
        self.def(
            size != Size::S16,
            start,
            dst.enc(),
            false,
            &mem,
            size == Size::S32,
        );
        if let (Some(d), Mem::Based { base, index, disp }) = (&mut self.last_def, mem) {
            d.kind = match index {
                None => DefKind::Lea { base, disp },
                Some((index, scale)) => DefKind::Indexed {
                    base,
                    index,
                    scale,
                    disp,
                },
            };
        }
    }

    /// `mov dst, [mem]`; 8- and 16-bit loads keep the rest of `dst`.
    pub(crate) fn mov_rm(&mut self, size: Size, dst: Gpr, mem: Mem) {
        let start = self.asm.offset();
        self.asm.mov_rm(size, dst, mem);
        let whole = matches!(size, Size::S32 | Size::S64);
        self.def(whole, start, dst.enc(), false, &mem, size == Size::S32);
    }

    /// `movzx dst, [mem]`.
    pub(crate) fn movzx_rm(&mut self, to: Size, from: Size, dst: Gpr, mem: Mem) {
        let start = self.asm.offset();
        self.asm.movzx_rm(to, from, dst, mem);
        self.def(to != Size::S16, start, dst.enc(), false, &mem, true);
    }

    /// `movzx dst, src`, which a following [`Self::redefine_last_gpr`] can
    /// give another destination (it reads only `src`'s low bits, which
    /// stay where they are).
    pub(crate) fn movzx_rr(&mut self, to: Size, from: Size, dst: Gpr, src: Gpr) {
        let start = self.asm.offset();
        self.asm.movzx_rr(to, from, dst, src);
        self.def_gpr(to != Size::S16, start, dst, true, DefKind::Load(None));
        self.keep_flags_over(start, dst);
    }

    /// `imul dst, src, imm` (32 or 64 bits), which a following
    /// [`Self::redefine_last_gpr`] can give another destination (it writes
    /// all of `dst` and reads only `src`).
    pub(crate) fn imul_rri(&mut self, size: Size, dst: Gpr, src: Gpr, imm: i32) {
        let start = self.asm.offset();
        self.asm.imul_rri(size, dst, src, imm);
        let whole = matches!(size, Size::S32 | Size::S64);
        self.def_gpr(whole, start, dst, size == Size::S32, DefKind::Load(None));
    }

    /// `movsx dst, [mem]`.
    pub(crate) fn movsx_rm(&mut self, to: Size, from: Size, dst: Gpr, mem: Mem) {
        let start = self.asm.offset();
        self.asm.movsx_rm(to, from, dst, mem);
        self.def(
            to != Size::S16,
            start,
            dst.enc(),
            false,
            &mem,
            to == Size::S32,
        );
    }

    /// `movsxd dst64, dword [mem]`.
    pub(crate) fn movsxd_rm(&mut self, dst: Gpr, mem: Mem) {
        let start = self.asm.offset();
        self.asm.movsxd_rm(dst, mem);
        self.def(true, start, dst.enc(), false, &mem, false);
    }

    /// `op dst, [mem]`; of these only the scalar loads write all of `dst`
    /// (arithmetic from memory merges into it).
    pub(crate) fn sse_rm(&mut self, op: SseOp, dst: Xmm, mem: Mem) {
        let start = self.asm.offset();
        self.asm.sse_rm(op, dst, mem);
        let load = matches!(op, SseOp::MOVSS | SseOp::MOVSD);
        self.def(load, start, dst.enc(), true, &mem, false);
    }

    /// `vop dst, src1, src2` (AVX), which a following
    /// [`Self::redefine_last_xmm`] can give another destination.
    pub(crate) fn vex_rrr(&mut self, op: SseOp, dst: Xmm, src1: Xmm, src2: Xmm) {
        let start = self.asm.offset();
        self.asm.vex_rrr(op, dst, src1, src2);
        self.def_vex(start, op, dst, src1, VexSrc::Xmm(src2));
    }

    /// Records the AVX operation emitted from `start` as the last
    /// definition of `dst`.
    fn def_vex(&mut self, start: usize, op: SseOp, dst: Xmm, src1: Xmm, src2: VexSrc) {
        self.last_def = Some(LastDef {
            start: start as u32,
            end: self.asm.offset() as u32,
            dst: dst.enc(),
            xmm: true,
            upper_zero: false,
            kind: DefKind::Vex { op, src1, src2 },
        });
    }

    /// `add dst, addend` (32 or 64 bits), which a following
    /// [`Self::redefine_last_gpr`] can turn into `lea to, [dst + addend]`.
    /// When the last instruction emitted (with nothing bound or emitted
    /// since) computed one of the two operands as a scaled register or a
    /// register plus a constant, the sum is one `lea` of both instead
    /// (which leaves the flags alone; [`Self::flags_test`] then says so):
    /// - `dst = index * scale + disp` ([`DefKind::Scaled`]) plus a
    ///   constant or another register: `lea dst, [addend + index * scale
    ///   + disp]`;
    /// - `dst = base + index * scale + disp` ([`DefKind::Indexed`]) plus a
    ///   constant: the constant joins the displacement;
    /// - with [`Self::add_consumed`], an added register `src = base +
    ///   disp` ([`DefKind::Lea`]): `lea dst, [base + dst + disp]`, or `src
    ///   = index * scale + disp`: `lea dst, [dst + index * scale + disp]`.
    pub(crate) fn add_sum(&mut self, size: Size, dst: Gpr, addend: Addend) {
        if self.may_fold_into_sum(size, false) && self.fold_into_sum(size, dst, addend, false) {
            return;
        }
        self.add_unfolded(size, dst, addend);
    }

    /// [`Self::add_sum`] of a register `src` that holds a temporary value,
    /// which the sum consumes: nothing reads `src` afterwards, so when the
    /// last instruction computed it as `base + disp` or scaled, that
    /// instruction is dropped and the sum is one `lea` of both. (`src`
    /// must not be a local's register: the dropped instruction would be
    /// the local's assignment.)
    pub(crate) fn add_consumed(&mut self, size: Size, dst: Gpr, src: Gpr) {
        let addend = Addend::Reg(src);
        if self.may_fold_into_sum(size, true) && self.fold_into_sum(size, dst, addend, true) {
            return;
        }
        self.add_unfolded(size, dst, addend);
    }

    /// `add dst, addend`, recorded as a [`DefKind::Sum`].
    fn add_unfolded(&mut self, size: Size, dst: Gpr, addend: Addend) {
        let start = self.asm.offset();
        match addend {
            Addend::Imm(imm) => self.asm.alu_ri(AluOp::Add, size, dst, imm),
            Addend::Reg(src) => self.asm.alu_rr(AluOp::Add, size, dst, src),
        }
        let whole = matches!(size, Size::S32 | Size::S64);
        self.def_gpr(
            whole,
            start,
            dst,
            size == Size::S32,
            DefKind::Sum { size, addend },
        );
    }

    /// Whether the last instruction is of a kind a sum of `size` may take
    /// in (the cheap test before [`Self::fold_into_sum`]'s full one).
    #[inline(always)]
    fn may_fold_into_sum(&self, size: Size, consumes: bool) -> bool {
        matches!(size, Size::S32 | Size::S64)
            && self.last_def.as_ref().is_some_and(|d| match d.kind {
                DefKind::Scaled { .. } | DefKind::Indexed { .. } => true,
                DefKind::Lea { .. } => consumes,
                _ => false,
            })
    }

    /// [`Self::add_sum`]'s `lea` forms: emits one and returns true when
    /// the last instruction can join the sum (a register addend's own
    /// definition only if the sum `consumes` it).
    #[inline(never)]
    fn fold_into_sum(&mut self, size: Size, dst: Gpr, addend: Addend, consumes: bool) -> bool {
        let Some(d) = self.last_def else {
            return false;
        };
        if d.end as usize != self.asm.offset() || d.xmm || d.upper_zero != (size == Size::S32) {
            return false;
        }
        let mem = match (d.kind, addend) {
            (DefKind::Scaled { index, scale, disp }, Addend::Imm(imm)) if d.dst == dst.enc() => {
                let Some(disp) = disp.checked_add(imm) else {
                    return false;
                };
                self.asm.truncate(d.start as usize);
                self.flags_cmp = None;
                self.lea_scaled(size, dst, index, scale, disp);
                return true;
            }
            (
                DefKind::Indexed {
                    base,
                    index,
                    scale,
                    disp,
                },
                Addend::Imm(imm),
            ) if d.dst == dst.enc() => {
                let Some(disp) = disp.checked_add(imm) else {
                    return false;
                };
                Mem::indexed(base, index, scale, disp)
            }
            // `src` is read as the base, which may be `rsp`; it must not
            // be `dst`, whose value the `lea` replaced.
            (DefKind::Scaled { index, scale, disp }, Addend::Reg(src))
                if d.dst == dst.enc() && src != dst =>
            {
                Mem::indexed(src, index, scale, disp)
            }
            // `dst` becomes the index (never `rsp`, which holds no value).
            (DefKind::Lea { base, disp }, Addend::Reg(src))
                if consumes && d.dst == src.enc() && src != dst && dst != Gpr::Rsp =>
            {
                Mem::indexed(base, dst, Scale::X1, disp)
            }
            (DefKind::Scaled { index, scale, disp }, Addend::Reg(src))
                if consumes && d.dst == src.enc() && src != dst =>
            {
                Mem::indexed(dst, index, scale, disp)
            }
            _ => return false,
        };
        self.asm.truncate(d.start as usize);
        self.flags_cmp = None;
        self.lea(size, dst, mem);
        true
    }

    /// `shl dst, count` (32 or 64 bits). For a count of 1, when the last
    /// instruction emitted (with nothing bound or emitted since) computed
    /// `dst` as a register plus a constant (a `lea dst, [base + disp]` or
    /// an [`Self::add_sum`] of a constant, of the same size), it becomes
    /// one `lea dst, [base + base + 2 * disp]` instead (larger counts would
    /// need the form without base, see [`Self::lea_scaled`]). For a count
    /// of 1 to 3 the result is a [`DefKind::Scaled`], which a following
    /// [`Self::add_sum`] joins and [`Self::redefine_last_gpr`] can move to
    /// another register.
    pub(crate) fn shl_ri(&mut self, size: Size, dst: Gpr, count: u8) {
        let scaled = scale_of_shift(count).filter(|_| matches!(size, Size::S32 | Size::S64));
        let Some(scale) = scaled else {
            self.asm.shift_ri(ShiftOp::Shl, size, dst, count);
            return;
        };
        if scale == Scale::X2
            && let Some((start, base, disp)) = self.last_sum_of_constant(size, dst)
            && let Some(disp) = disp.checked_mul(2)
        {
            self.asm.truncate(start);
            self.flags_cmp = None;
            self.lea_scaled(size, dst, base, scale, disp);
            return;
        }
        let start = self.asm.offset();
        self.asm.shift_ri(ShiftOp::Shl, size, dst, count);
        let kind = DefKind::Scaled {
            index: dst,
            scale,
            disp: 0,
        };
        self.def_gpr(true, start, dst, size == Size::S32, kind);
    }

    /// `dst = index * scale + disp` (32 or 64 bits): `lea dst, [index +
    /// index + disp]` for a scale of 2, else a copy of `index` (unless it
    /// is `dst`), a shift and the addition of `disp` (unless 0). The one
    /// `lea` of the form without base register (`[index * scale +
    /// disp32]`) would do it all, but runs slower than these on AMD Zen 4
    /// (the interpreter's dispatch, `benches/results.md`). A following
    /// [`Self::add_sum`] can join the value, into a `lea` with a base, and
    /// [`Self::redefine_last_gpr`] give it another destination.
    pub(crate) fn lea_scaled(&mut self, size: Size, dst: Gpr, index: Gpr, scale: Scale, disp: i32) {
        let start = self.asm.offset();
        if scale == Scale::X2 {
            self.asm
                .lea(size, dst, Mem::indexed(index, index, Scale::X1, disp));
        } else {
            if dst != index {
                self.asm.mov_rr(Size::S64, dst, index);
            }
            self.asm.shift_ri(ShiftOp::Shl, size, dst, scale.enc());
            if disp != 0 {
                self.asm.alu_ri(AluOp::Add, size, dst, disp);
            }
        }
        let kind = DefKind::Scaled { index, scale, disp };
        self.def_gpr(true, start, dst, size == Size::S32, kind);
    }

    /// Where the last instruction starts and `(base, disp)` when it is
    /// still the last (nothing bound or emitted since) and computed `dst`
    /// as `base + disp` at `size` (32 or 64 bits): a `lea dst, [base +
    /// disp]` or an `add dst, disp` (then `base` is `dst`).
    fn last_sum_of_constant(&self, size: Size, dst: Gpr) -> Option<(usize, Gpr, i32)> {
        let d = self.last_def?;
        if d.end as usize != self.asm.offset() || d.xmm || d.dst != dst.enc() {
            return None;
        }
        let (base, disp) = match d.kind {
            DefKind::Lea { base, disp } if d.upper_zero == (size == Size::S32) => (base, disp),
            DefKind::Sum {
                size: s,
                addend: Addend::Imm(imm),
            } if s == size => (dst, imm),
            _ => return None,
        };
        // (`rsp` cannot be an index.)
        (base != Gpr::Rsp).then_some((d.start as usize, base, disp))
    }

    /// True when the last instruction emitted (with nothing bound or
    /// emitted since) is a load, `lea` or [`Self::add_sum`] into `r` that
    /// left its upper 32 bits zero: a zero-extending `mov r32, r32` after
    /// it would change nothing.
    pub(crate) fn last_zero_extended(&self, r: Gpr) -> bool {
        self.last_def.is_some_and(|d| {
            d.end as usize == self.asm.offset() && !d.xmm && d.dst == r.enc() && d.upper_zero
        })
    }

    /// True when the last instruction emitted (with nothing bound or
    /// emitted since) is a [`Self::add_sum`] of `size` into `r`: the flags
    /// then hold what `test r, r` of that size would set.
    pub(crate) fn flags_test(&self, r: Gpr, size: Size) -> bool {
        self.last_def.is_some_and(|d| {
            d.end as usize == self.asm.offset()
                && !d.xmm
                && d.dst == r.enc()
                && matches!(d.kind, DefKind::Sum { size: s, .. } if s == size)
        })
    }

    /// If the last instruction emitted (with nothing bound or emitted
    /// since) is a load, `lea` or [`Self::add_sum`] into `from`, makes `to`
    /// its destination instead and returns true: the compiler stores a
    /// computed value into a local's register without a `mov`. `from`
    /// then holds nothing.
    pub(crate) fn redefine_last_gpr(&mut self, from: Gpr, to: Gpr) -> bool {
        self.redefine_last(from.enc(), to.enc(), false)
    }

    /// [`Self::redefine_last_gpr`] for an XMM load or an AVX operation
    /// ([`Self::vex_rrr`], or one [`Self::fold_last_load`] made).
    pub(crate) fn redefine_last_xmm(&mut self, from: Xmm, to: Xmm) -> bool {
        self.redefine_last(from.enc(), to.enc(), true)
    }

    /// If the last instruction emitted (with nothing bound or emitted
    /// since) is a scalar float load (`movss`/`movsd`) into `loaded`,
    /// replaces it with `op dst, [its address]` (or, given `src1`, the AVX
    /// `vop dst, src1, [its address]`) and returns true: the arithmetic
    /// reads its operand from memory, one instruction and one register
    /// fewer. `op` must be a scalar operation of the load's width that
    /// only reads its source; `loaded` then holds nothing (but `dst`, if
    /// it is `loaded`). The load's guard-region fault site, if any, now
    /// covers the new instruction.
    pub(crate) fn fold_last_load(
        &mut self,
        loaded: Xmm,
        op: SseOp,
        dst: Xmm,
        src1: Option<Xmm>,
    ) -> bool {
        let Some(d) = self.last_def else {
            return false;
        };
        let DefKind::Load(Some(mem)) = d.kind else {
            return false;
        };
        if d.end as usize != self.asm.offset() || !d.xmm || d.dst != loaded.enc() {
            return false;
        }
        self.asm.truncate(d.start as usize);
        self.flags_cmp = None;
        match src1 {
            Some(src1) => {
                self.asm.vex_rrm(op, dst, src1, mem);
                self.def_vex(d.start as usize, op, dst, src1, VexSrc::Mem(mem));
            }
            None => {
                self.asm.sse_rm(op, dst, mem);
                self.last_def = None;
            }
        }
        let end = self.asm.offset() as u32;
        if let Some(site) = self.fault_sites.last_mut()
            && site.end == d.end
        {
            site.end = end;
        }
        true
    }

    fn redefine_last(&mut self, from: u8, to: u8, xmm: bool) -> bool {
        let Some(d) = self.last_def else {
            return false;
        };
        if d.end as usize != self.asm.offset() || d.dst != from || d.xmm != xmm {
            return false;
        }
        // The new destination may be an operand of the comparison whose
        // flags stand.
        self.flags_cmp = None;
        let redefined = match d.kind {
            // `x = x + disp`: an `add`, which also sets the flags by `x`.
            DefKind::Lea { base, disp } if !xmm && base.enc() == to => {
                let size = if d.upper_zero { Size::S32 } else { Size::S64 };
                self.asm.truncate(d.start as usize);
                self.add_sum(size, base, Addend::Imm(disp));
                true
            }
            DefKind::Lea { .. } | DefKind::Indexed { .. } | DefKind::Load(_) => {
                self.asm.set_reg_operand(d.start as usize, to)
            }
            DefKind::Scaled { index, scale, disp } => {
                let size = if d.upper_zero { Size::S32 } else { Size::S64 };
                self.asm.truncate(d.start as usize);
                self.lea_scaled(size, Gpr::from_enc(to), index, scale, disp);
                true
            }
            DefKind::Vex { op, src1, src2 } => {
                self.asm.truncate(d.start as usize);
                let to = Xmm::from_enc(to);
                match src2 {
                    VexSrc::Xmm(src2) => self.asm.vex_rrr(op, to, src1, src2),
                    VexSrc::Mem(src2) => self.asm.vex_rrm(op, to, src1, src2),
                }
                true
            }
            DefKind::Sum { size, addend } => {
                // The sum's first operand is still in `from`.
                let base = Gpr::from_enc(from);
                let mem = match addend {
                    Addend::Imm(imm) => Mem::base(base, imm),
                    // (`rsp` cannot be an index; no sum adds it.)
                    Addend::Reg(Gpr::Rsp) => return false,
                    Addend::Reg(src) => Mem::indexed(base, src, Scale::X1, 0),
                };
                self.asm.truncate(d.start as usize);
                self.lea(size, Gpr::from_enc(to), mem);
                true
            }
        };
        if !redefined {
            return false;
        }
        let end = self.asm.offset() as u32;
        // A guarded load's fault site ends where the load now does.
        if let Some(site) = self.fault_sites.last_mut()
            && site.end == d.end
        {
            site.end = end;
        }
        if let Some(d) = &mut self.last_def {
            d.end = end;
            d.dst = to;
        }
        true
    }
}

/// The scale of an index that a shift left by `count` multiplies by, for
/// the counts an address can scale by (1 to 3).
pub(super) fn scale_of_shift(count: u8) -> Option<Scale> {
    match count {
        1 => Some(Scale::X2),
        2 => Some(Scale::X4),
        3 => Some(Scale::X8),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A function dropped with `rewind` leaves nothing behind: the next
    /// one is compiled as if it had never been, at the same offset, with
    /// the earlier function's sites only, and its labels start afresh.
    #[test]
    fn rewind_drops_a_function_and_all_it_recorded() {
        let mut m = MacroAssembler::default();
        let emit = |m: &mut MacroAssembler, code: TrapCode| {
            m.set_op_offset(7);
            m.trap_if(Cond::E, code);
            m.asm.call_reloc(3);
            m.call_site();
            let l = m.trap_label(TrapCode::Unreachable);
            m.asm.jmp(l);
            m.emit_trap_exits();
            m.unwind_info(1);
        };
        emit(&mut m, TrapCode::IntegerDivideByZero);
        m.seal().unwrap();
        let mark = m.mark();
        let (len, sites) = (m.asm.offset(), m.sites.clone());
        emit(&mut m, TrapCode::IntegerOverflow);
        assert!(m.asm.offset() > len && m.sites.len() > sites.len());
        m.rewind(mark);
        assert_eq!(m.asm.offset(), len);
        assert_eq!(m.sites, sites);
        assert_eq!(m.unwind.len(), 1);
        assert!(m.trap_sites.is_empty());
        emit(&mut m, TrapCode::IntegerDivideByZero);
        m.seal().unwrap();
        let parts = m.into_parts();
        // The two functions kept are the same code, one after the other,
        // with the same relocations.
        let code = parts.asm.code().to_vec();
        assert_eq!(code[..len], code[len..]);
        assert_eq!(parts.unwind, [1, 1]);
        let relocs = parts.asm.finish().unwrap().relocs;
        assert_eq!(relocs.len() % 2, 0);
        let (a, b) = relocs.split_at(relocs.len() / 2);
        for (x, y) in a.iter().zip(b) {
            assert_eq!(x.offset + len as u32, y.offset);
        }
    }
    use iced_x86::{Decoder, DecoderOptions, Instruction, Mnemonic, Register as R};

    fn decode(bytes: &[u8]) -> alloc::vec::Vec<Instruction> {
        let mut d = Decoder::with_ip(64, bytes, 0, DecoderOptions::NONE);
        let mut out = alloc::vec::Vec::new();
        while d.can_decode() {
            let ins = d.decode();
            assert!(!ins.is_invalid(), "invalid encoding {bytes:02x?}");
            out.push(ins);
        }
        out
    }

    /// The last instruction's mnemonic, first register and memory operand
    /// (base, index, scale, displacement), as the decoder reads them.
    fn last(bytes: &[u8]) -> (Mnemonic, R, R, R, u32, u64) {
        let all = decode(bytes);
        let i = all.last().expect("an instruction");
        (
            i.mnemonic(),
            i.op0_register(),
            i.memory_base(),
            i.memory_index(),
            i.memory_index_scale(),
            i.memory_displacement64(),
        )
    }

    fn code(f: impl FnOnce(&mut MacroAssembler)) -> alloc::vec::Vec<u8> {
        let mut a = MacroAssembler::default();
        f(&mut a);
        a.into_inner().finish().expect("assembles").bytes
    }

    /// The loads and `lea`s the compiler may re-emit into a local's
    /// register: each writes all of its destination from a memory operand.
    #[test]
    fn last_load_or_lea_is_emitted_again_into_another_register() {
        type Emit = fn(&mut MacroAssembler, Gpr, Mem);
        let cases: [(Emit, Mnemonic, R); 7] = [
            (|a, d, m| a.lea(Size::S32, d, m), Mnemonic::Lea, R::EDX),
            (|a, d, m| a.lea(Size::S64, d, m), Mnemonic::Lea, R::RDX),
            (|a, d, m| a.mov_rm(Size::S32, d, m), Mnemonic::Mov, R::EDX),
            (|a, d, m| a.mov_rm(Size::S64, d, m), Mnemonic::Mov, R::RDX),
            (
                |a, d, m| a.movzx_rm(Size::S32, Size::S8, d, m),
                Mnemonic::Movzx,
                R::EDX,
            ),
            (
                |a, d, m| a.movsx_rm(Size::S64, Size::S16, d, m),
                Mnemonic::Movsx,
                R::RDX,
            ),
            (|a, d, m| a.movsxd_rm(d, m), Mnemonic::Movsxd, R::RDX),
        ];
        let mems = [
            (Mem::base(Gpr::Rsi, 8), R::RSI, R::None, 1, 8u64),
            (Mem::base(Gpr::R13, 8), R::R13, R::None, 1, 8),
            (
                Mem::indexed(Gpr::Rax, Gpr::R13, Scale::X8, -129),
                R::RAX,
                R::R13,
                8,
                -129i64 as u64,
            ),
        ];
        for (emit, mnemonic, dst) in cases {
            for (mem, base, index, scale, disp) in mems {
                // A `lea` from `r13` alone into `r13` is an `add`
                // (`lea_into_its_base_is_an_add_that_sets_the_flags`).
                if mnemonic == Mnemonic::Lea && base == R::R13 && index == R::None {
                    continue;
                }
                let b = code(|a| {
                    a.nop();
                    emit(a, Gpr::Rax, mem);
                    assert!(!a.redefine_last_gpr(Gpr::Rcx, Gpr::R13), "not rcx's");
                    assert!(a.redefine_last_gpr(Gpr::Rax, Gpr::R13));
                    // Again: the re-emitted instruction is now the last one.
                    assert!(a.redefine_last_gpr(Gpr::R13, Gpr::Rdx));
                });
                assert_eq!(decode(&b).len(), 2, "{b:02x?}");
                assert_eq!(
                    last(&b),
                    (mnemonic, dst, base, index, scale, disp),
                    "{b:02x?}"
                );
            }
        }
        for (mem, base) in [
            (Mem::base(Gpr::Rsi, 16), R::RSI),
            (Mem::base(Gpr::R14, 16), R::R14),
        ] {
            let b = code(|a| {
                a.sse_rm(SseOp::MOVSD, Xmm::Xmm0, mem);
                assert!(a.redefine_last_xmm(Xmm::Xmm0, Xmm::Xmm9));
                assert!(!a.redefine_last_gpr(Gpr::Rcx, Gpr::Rax), "an xmm load");
            });
            assert_eq!(last(&b), (Mnemonic::Movsd, R::XMM9, base, R::None, 1, 16));
            let b = code(|a| {
                a.sse_rm(SseOp::MOVSS, Xmm::Xmm12, mem);
                assert!(a.redefine_last_xmm(Xmm::Xmm12, Xmm::Xmm3));
            });
            assert_eq!(last(&b), (Mnemonic::Movss, R::XMM3, base, R::None, 1, 16));
        }
    }

    /// A three-operand AVX operation, and one that folded a load, is
    /// emitted again with the new destination and the same sources (which
    /// may include the new destination).
    #[test]
    fn last_avx_operation_is_emitted_again_into_another_register() {
        for to in [Xmm::Xmm12, Xmm::Xmm9, Xmm::Xmm3] {
            let b = code(|a| {
                a.nop();
                a.vex_rrr(SseOp::SUBSD, Xmm::Xmm0, Xmm::Xmm9, Xmm::Xmm1);
                assert!(!a.redefine_last_xmm(Xmm::Xmm1, to), "not xmm1's");
                assert!(a.redefine_last_xmm(Xmm::Xmm0, to));
            });
            let all = decode(&b);
            assert_eq!(all.len(), 2, "{b:02x?}");
            let i = all[1];
            assert_eq!(
                (
                    i.mnemonic(),
                    i.op0_register(),
                    i.op1_register(),
                    i.op2_register()
                ),
                (
                    Mnemonic::Vsubsd,
                    R::XMM0 + to.enc() as u32,
                    R::XMM9,
                    R::XMM1
                ),
                "{b:02x?}"
            );
            let b = code(|a| {
                a.sse_rm(SseOp::MOVSS, Xmm::Xmm2, Mem::base(Gpr::R14, 4));
                assert!(a.fold_last_load(Xmm::Xmm2, SseOp::MULSS, Xmm::Xmm2, Some(Xmm::Xmm9)));
                assert!(a.redefine_last_xmm(Xmm::Xmm2, to));
            });
            assert_eq!(
                last(&b),
                (
                    Mnemonic::Vmulss,
                    R::XMM0 + to.enc() as u32,
                    R::R14,
                    R::None,
                    1,
                    4
                ),
                "{b:02x?}"
            );
            assert_eq!(decode(&b).len(), 1, "{b:02x?}");
        }
        let mut a = MacroAssembler::default();
        a.sse_rr(SseOp::SUBSD, Xmm::Xmm0, Xmm::Xmm1);
        assert!(
            !a.redefine_last_xmm(Xmm::Xmm0, Xmm::Xmm9),
            "subsd reads xmm0"
        );
    }

    /// `shl` by 1 of a value the last instruction computed as a register
    /// plus a constant becomes one `lea [base + base + 2 * disp]`, which
    /// can then move to another register; by 2 or 3 it stays a `shl` (the
    /// `lea` would need the form without base), and so does anything else.
    #[test]
    fn shift_of_a_sum_of_a_constant_becomes_one_lea() {
        for (size, rax, r13) in [(Size::S32, R::EAX, R::R13D), (Size::S64, R::RAX, R::R13)] {
            // `lea rax, [rcx + 5]`, `shl rax, 1`.
            let b = code(|a| {
                a.lea(size, Gpr::Rax, Mem::base(Gpr::Rcx, 5));
                a.shl_ri(size, Gpr::Rax, 1);
            });
            assert_eq!(decode(&b).len(), 1, "{b:02x?}");
            assert_eq!(last(&b), (Mnemonic::Lea, rax, R::RCX, R::RCX, 1, 10));
            // `add rax, -3`, `shl rax, 1`: the old `rax` is the base.
            let b = code(|a| {
                a.add_sum(size, Gpr::Rax, Addend::Imm(-3));
                a.shl_ri(size, Gpr::Rax, 1);
                assert!(a.redefine_last_gpr(Gpr::Rax, Gpr::R13));
            });
            assert_eq!(decode(&b).len(), 1, "{b:02x?}");
            let minus6 = -6i64 as u64;
            assert_eq!(last(&b), (Mnemonic::Lea, r13, R::RAX, R::RAX, 1, minus6));
            for count in [2, 3] {
                let b = code(|a| {
                    a.lea(size, Gpr::Rax, Mem::base(Gpr::Rcx, 5));
                    a.shl_ri(size, Gpr::Rax, count);
                });
                assert_eq!(decode(&b).len(), 2, "{b:02x?}");
                assert_eq!(last(&b).0, Mnemonic::Shl, "{b:02x?}");
            }
            // No fold: a count of 4, a sum of a register, a displacement
            // whose scaled value leaves 32 bits, another register, or
            // something emitted or bound in between.
            let shl = (Mnemonic::Shl, rax);
            let cases: [&dyn Fn(&mut MacroAssembler); 6] = [
                &|a| {
                    a.lea(size, Gpr::Rax, Mem::base(Gpr::Rcx, 5));
                    a.shl_ri(size, Gpr::Rax, 4);
                },
                &|a| {
                    a.add_sum(size, Gpr::Rax, Addend::Reg(Gpr::Rcx));
                    a.shl_ri(size, Gpr::Rax, 1);
                },
                &|a| {
                    a.lea(size, Gpr::Rax, Mem::base(Gpr::Rcx, 0x4000_0000));
                    a.shl_ri(size, Gpr::Rax, 1);
                },
                &|a| {
                    a.lea(size, Gpr::Rcx, Mem::base(Gpr::Rcx, 5));
                    a.shl_ri(size, Gpr::Rax, 1);
                },
                &|a| {
                    a.lea(size, Gpr::Rax, Mem::base(Gpr::Rcx, 5));
                    a.asm.mov_rr(Size::S64, Gpr::Rdx, Gpr::Rcx);
                    a.shl_ri(size, Gpr::Rax, 1);
                },
                &|a| {
                    a.lea(size, Gpr::Rax, Mem::base(Gpr::Rcx, 5));
                    let l = a.new_label();
                    a.bind(l);
                    a.shl_ri(size, Gpr::Rax, 1);
                },
            ];
            for case in cases {
                let b = code(case);
                let (mnemonic, dst, ..) = last(&b);
                assert_eq!((mnemonic, dst), shl, "{b:02x?}");
            }
            // A 32-bit sum shifted at 64 bits keeps its own wrap-around.
            let other = if size == Size::S32 {
                Size::S64
            } else {
                Size::S32
            };
            let b = code(|a| {
                a.lea(other, Gpr::Rax, Mem::base(Gpr::Rcx, 5));
                a.shl_ri(size, Gpr::Rax, 1);
            });
            assert_eq!(last(&b).0, Mnemonic::Shl, "{b:02x?}");
        }
    }

    /// A sum of a register and a value the last instruction scaled (a
    /// `shl` by 1 to 3, [`MacroAssembler::lea_scaled`]), a constant added
    /// to a `lea` with an index, and a sum that consumes an operand the
    /// last instruction computed as a register plus a constant or scaled,
    /// are one `lea`; a constant added to a scaled value stays an `add`
    /// (the `lea` would have no base), and so does the sum of a register
    /// it does not consume, or after anything else.
    #[test]
    fn sum_of_a_scaled_or_offset_operand_becomes_one_lea() {
        let (eax, ecx) = (R::EAX, R::ECX);
        // (code, expected last instruction: mnemonic, register, base,
        // index, scale, displacement; instructions in all).
        type Case = (
            &'static dyn Fn(&mut MacroAssembler),
            (Mnemonic, R, R, R, u32, u64),
            usize,
        );
        let cases: [Case; 9] = [
            // `lea eax, [rsi + rax + 0x20]; add eax, -4`
            (
                &|a| {
                    let mem = Mem::indexed(Gpr::Rsi, Gpr::Rax, Scale::X1, 0x20);
                    a.lea(Size::S32, Gpr::Rax, mem);
                    a.add_sum(Size::S32, Gpr::Rax, Addend::Imm(-4));
                },
                (Mnemonic::Lea, eax, R::RSI, R::RAX, 1, 0x1c),
                1,
            ),
            // `shl eax, 2; add eax, 0x400`: a `lea` would have no base,
            // so the two stay.
            (
                &|a| {
                    a.shl_ri(Size::S32, Gpr::Rax, 2);
                    a.add_sum(Size::S32, Gpr::Rax, Addend::Imm(0x400));
                },
                (Mnemonic::Add, eax, R::None, R::None, 1, 0),
                2,
            ),
            // `shl eax, 3; add eax, esi`
            (
                &|a| {
                    a.shl_ri(Size::S32, Gpr::Rax, 3);
                    a.add_sum(Size::S32, Gpr::Rax, Addend::Reg(Gpr::Rsi));
                },
                (Mnemonic::Lea, eax, R::RSI, R::RAX, 8, 0),
                1,
            ),
            // `r13 * 4 + 8` (a copy, a shift, an add), plus -8: the
            // constants cancel, the add goes.
            (
                &|a| {
                    a.lea_scaled(Size::S32, Gpr::Rax, Gpr::R13, Scale::X4, 8);
                    a.add_sum(Size::S32, Gpr::Rax, Addend::Imm(-8));
                },
                (Mnemonic::Shl, eax, R::None, R::None, 1, 0),
                2,
            ),
            // `lea ecx, [rsi + 0x20]; add eax, ecx`, consumed.
            (
                &|a| {
                    a.lea(Size::S32, Gpr::Rcx, Mem::base(Gpr::Rsi, 0x20));
                    a.add_consumed(Size::S32, Gpr::Rax, Gpr::Rcx);
                },
                (Mnemonic::Lea, eax, R::RSI, R::RAX, 1, 0x20),
                1,
            ),
            // `lea ecx, [r13 * 4]; add eax, ecx`, consumed.
            (
                &|a| {
                    a.lea_scaled(Size::S32, Gpr::Rcx, Gpr::R13, Scale::X4, 0);
                    a.add_consumed(Size::S32, Gpr::Rax, Gpr::Rcx);
                },
                (Mnemonic::Lea, eax, R::RAX, R::R13, 4, 0),
                1,
            ),
            // Not consumed (a local's register): the `lea` stays.
            (
                &|a| {
                    a.lea(Size::S32, Gpr::Rcx, Mem::base(Gpr::Rsi, 0x20));
                    a.add_sum(Size::S32, Gpr::Rax, Addend::Reg(Gpr::Rcx));
                },
                (Mnemonic::Add, eax, R::None, R::None, 1, 0),
                2,
            ),
            // `shl eax, 2; add eax, eax`: the base would read the scaled
            // value, which the `lea` no longer computes first.
            (
                &|a| {
                    a.shl_ri(Size::S32, Gpr::Rax, 2);
                    a.add_sum(Size::S32, Gpr::Rax, Addend::Reg(Gpr::Rax));
                },
                (Mnemonic::Add, eax, R::None, R::None, 1, 0),
                2,
            ),
            // A 64-bit scaled value in a 32-bit sum.
            (
                &|a| {
                    a.shl_ri(Size::S64, Gpr::Rcx, 2);
                    a.add_sum(Size::S32, Gpr::Rcx, Addend::Imm(1));
                },
                (Mnemonic::Add, ecx, R::None, R::None, 1, 0),
                2,
            ),
        ];
        for (f, want, n) in cases {
            let b = code(f);
            assert_eq!(decode(&b).len(), n, "{b:02x?}");
            let mut got = last(&b);
            if matches!(got.0, Mnemonic::Add | Mnemonic::Shl) {
                // No memory operand to compare.
                got = (got.0, got.1, R::None, R::None, 1, 0);
            }
            assert_eq!(got, want, "{b:02x?}");
        }
    }

    /// A sum's `add` stays an `add` unless redefined, and then is a `lea`
    /// of its two operands into the new destination.
    #[test]
    fn last_sum_becomes_a_lea_into_another_register() {
        for (size, rcx, r13, rsi) in [
            (Size::S32, R::ECX, R::R13D, R::ESI),
            (Size::S64, R::RCX, R::R13, R::RSI),
        ] {
            for (addend, index, disp) in [
                (Addend::Imm(8), R::None, 8u64),
                (Addend::Imm(i32::MIN), R::None, i64::from(i32::MIN) as u64),
                (Addend::Reg(Gpr::R9), R::R9, 0),
            ] {
                let b = code(|a| a.add_sum(size, Gpr::Rcx, addend));
                let (mnemonic, dst, ..) = last(&b);
                assert_eq!((mnemonic, dst), (Mnemonic::Add, rcx));
                for (to, want) in [(Gpr::R13, r13), (Gpr::Rsi, rsi)] {
                    let b = code(|a| {
                        a.add_sum(size, Gpr::Rcx, addend);
                        assert!(a.redefine_last_gpr(Gpr::Rcx, to));
                    });
                    assert_eq!(decode(&b).len(), 1, "{b:02x?}");
                    assert_eq!(
                        last(&b),
                        (Mnemonic::Lea, want, R::RCX, index, 1, disp),
                        "{b:02x?}"
                    );
                }
            }
        }
        let mut a = MacroAssembler::default();
        a.add_sum(Size::S16, Gpr::Rcx, Addend::Imm(1));
        assert!(!a.redefine_last_gpr(Gpr::Rcx, Gpr::R13), "16-bit sum");
    }

    /// A `lea` of `x + disp` redefined into `x` itself is `add x, disp`,
    /// whose flags test the sum: [`MacroAssembler::flags_test`] holds after
    /// it, and after a sum, for that register and size only; not after a
    /// `lea` (no flags), nor once anything follows. An indexed `lea` into
    /// its base stays a `lea`.
    #[test]
    fn lea_into_its_base_is_an_add_that_sets_the_flags() {
        for (size, other, r13) in [
            (Size::S32, Size::S64, R::R13D),
            (Size::S64, Size::S32, R::R13),
        ] {
            let b = code(|a| {
                a.lea(size, Gpr::Rax, Mem::base(Gpr::R13, -1));
                assert!(!a.flags_test(Gpr::Rax, size), "a lea sets no flags");
                assert!(a.redefine_last_gpr(Gpr::Rax, Gpr::R13));
                assert!(a.flags_test(Gpr::R13, size));
                assert!(!a.flags_test(Gpr::R13, other));
                assert!(!a.flags_test(Gpr::Rax, size));
            });
            assert_eq!(decode(&b).len(), 1, "{b:02x?}");
            let (mnemonic, dst, ..) = last(&b);
            assert_eq!((mnemonic, dst), (Mnemonic::Add, r13), "{b:02x?}");
            let b = code(|a| {
                a.lea(
                    size,
                    Gpr::Rax,
                    Mem::indexed(Gpr::R13, Gpr::Rcx, Scale::X1, 0),
                );
                assert!(a.redefine_last_gpr(Gpr::Rax, Gpr::R13));
                assert!(!a.flags_test(Gpr::R13, size));
            });
            assert_eq!(last(&b).0, Mnemonic::Lea, "{b:02x?}");
            let mut a = MacroAssembler::default();
            a.add_sum(size, Gpr::Rcx, Addend::Imm(1));
            assert!(a.flags_test(Gpr::Rcx, size));
            a.nop();
            assert!(!a.flags_test(Gpr::Rcx, size), "an instruction after");
        }
    }

    /// Anything that would make re-emitting the last instruction wrong
    /// keeps it: an instruction after it, a label bound after it (code
    /// jumps there without running it), a partial write, a read of the
    /// destination, a RIP-relative operand, or the end of a function.
    #[test]
    fn last_instruction_stays_when_it_cannot_be_redefined() {
        let at = Mem::base(Gpr::Rsi, 4);
        type Setup = fn(&mut MacroAssembler);
        let refusals: [(&str, Setup); 8] = [
            ("instruction after", |a| {
                a.mov_rm(Size::S32, Gpr::Rax, Mem::base(Gpr::Rsi, 4));
                a.nop();
            }),
            ("label bound after", |a| {
                let l = a.new_label();
                a.jmp(l);
                a.mov_rm(Size::S32, Gpr::Rax, Mem::base(Gpr::Rsi, 4));
                a.bind(l);
            }),
            ("8-bit load", |a| {
                a.mov_rm(Size::S8, Gpr::Rax, Mem::base(Gpr::Rsi, 4))
            }),
            ("16-bit load", |a| {
                a.mov_rm(Size::S16, Gpr::Rax, Mem::base(Gpr::Rsi, 4))
            }),
            ("16-bit lea", |a| {
                a.lea(Size::S16, Gpr::Rax, Mem::base(Gpr::Rsi, 4))
            }),
            ("reads its destination", |a| {
                a.alu_rm(AluOp::Add, Size::S32, Gpr::Rax, Mem::base(Gpr::Rsi, 4))
            }),
            ("rip-relative", |a| {
                let l = a.new_label();
                a.bind(l);
                a.nop();
                a.lea(Size::S64, Gpr::Rax, Mem::rip(l));
            }),
            ("sealed", |a| {
                a.mov_rm(Size::S32, Gpr::Rax, Mem::base(Gpr::Rsi, 4));
                a.seal().unwrap();
            }),
        ];
        for (what, setup) in refusals {
            let mut a = MacroAssembler::default();
            setup(&mut a);
            let before = a.offset();
            assert!(!a.redefine_last_gpr(Gpr::Rax, Gpr::R13), "{what}");
            assert_eq!(a.offset(), before, "{what}");
        }
        let mut a = MacroAssembler::default();
        a.sse_rm(SseOp::ADDSD, Xmm::Xmm0, at);
        assert!(!a.redefine_last_xmm(Xmm::Xmm0, Xmm::Xmm9), "addsd merges");
    }
}
