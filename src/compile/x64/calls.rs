//! Calls: the argument and result areas, direct, imported and indirect
//! calls, tables, and exits to the host.
//!
//! **Checked calls.** A `call_indirect` checks that its index is within
//! the table, that the element is not null and that its function has the
//! called type. Through a table whose contents never change
//! ([`FixedTable`]) with an index that is a parameter no instruction
//! writes, the outcome is the same at every call of one type in one
//! invocation: a call dominated by such a call that passed
//! (`Controls::checked_calls`) loads its element unchecked. Single-pass
//! dominance: a check holds in the rest of the frame it ran in and in the
//! frames nested there; at the end of a loop it moves out to the frame
//! around it (the code after a loop is reached only by falling out of its
//! body, which passed every check at the loop's own level); at the end of
//! any other frame and at `else` it is forgotten.
//!
//! Tail calls (`tail`) reuse this module's argument setup and table
//! checks. Because of them, a call that may reach a function of a module
//! with tail calls gives it an area of at least
//! [`TAIL_CALL_AREA`](crate::abi::TAIL_CALL_AREA) bytes, and in such a
//! module a direct call reloads the caller's `r15` if the callee came back
//! with another instance's (`abi`, "Tail calls").

use super::frame::SAVED_VMCTX;
use super::regs::{SCRATCH, SCRATCH_XMM, SCRATCH2};
use super::stubs::SYM_EXIT;
use super::*;
use crate::abi::{ExecContext, ExitCode, TrapCode, VmContext, VmFuncRef, VmTable};
use crate::abi::{REGISTER_ARGS, TAIL_CALL_AREA, area_size, args_in_registers, slot_size};
use crate::asm::x64::{AluOp, Assembler, Cond, Gpr, Mem, Scale, Size, SseOp, Xmm};
use crate::compile::func::*;
use crate::compile::stack::{Loc, is_float};
use crate::compile::tables::FixedTable;
use crate::decode::{FuncType, ValType};
use core::mem::offset_of;

/// What a call may reach, for [`FuncCompiler::setup_call`] and
/// [`FuncCompiler::call_funcref_in_rax`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Callee {
    /// A function of this instance, compiled wasm: it reads its first
    /// arguments from their registers and runs with this instance's `r15`.
    Wasm,
    /// Possibly a host function (imports, `call_indirect`).
    Any,
}

/// Where a caller also passes the first arguments that are integers or
/// references ([`crate::abi`]), so the callee need not load them.
pub(crate) const ARG_GPRS: [Gpr; REGISTER_ARGS] = [Gpr::Rcx, Gpr::Rdx];
/// Where a caller also passes the first arguments that are `f32`/`f64`.
pub(crate) const ARG_XMMS: [Xmm; REGISTER_ARGS] = [Xmm::Xmm0, Xmm::Xmm1];

/// Whether an operand at `loc` is read from register `r`: one it owns or
/// a pinned local's.
fn in_gpr(loc: Loc, r: Gpr) -> bool {
    matches!(loc, Loc::Gpr(g) | Loc::PinnedGpr(g) if g == r)
}

/// Where a function also returns its first result if it is an integer or
/// reference ([`crate::abi`]), so the caller need not reload it.
pub(crate) const RESULT_GPR: Gpr = Gpr::Rax;
/// Where a function also returns its first result if it is `f32`/`f64`.
pub(crate) const RESULT_XMM: Xmm = Xmm::Xmm0;

impl<'e, 'm, 'a> FuncCompiler<'e, 'm, 'a> {
    /// Pops the arguments of `ty`, spills everything else, stores the
    /// arguments into the outgoing area, also loads the first ones into
    /// their argument registers (`abi::args_in_registers`), and returns the
    /// area's size. It writes no other register than `SCRATCH`,
    /// `SCRATCH_XMM` and [`ARG_GPRS`]/[`ARG_XMMS`].
    ///
    /// For a `callee` known to be compiled wasm, those arguments go only in
    /// their registers, which such a callee reads (see `abi`); a host
    /// function, which `call_indirect` and imports may reach, reads the
    /// area.
    pub(crate) fn setup_call(&mut self, ty: &FuncType, callee: Callee) -> u32 {
        let params = ty.params();
        let base = self.ops.len() - params.len();
        // Spill what stays below the arguments, except reads of GPR-pinned
        // locals and lazy reads of parameters: the callee preserves those
        // registers, cannot change the locals and writes no slot of this
        // function's incoming area.
        for i in self.ops.below.call.min(base)..base {
            if !matches!(self.ops.at(i).loc, Loc::PinnedGpr(_) | Loc::Param(_)) {
                self.spill_at(i);
            }
        }
        let call = self.ops.below.call.max(base);
        self.ops.below.set(|w| &mut w.call, call);
        let in_registers = args_in_registers(params);
        let area_from = if callee == Callee::Wasm {
            in_registers
        } else {
            0
        };
        // The argument slots (`abi::slot_offsets`), summed as they go: the
        // ones before `area_from` are 8 bytes each (register arguments are
        // never `v128`s), and `at` ends at the end of the last.
        let mut at = 8 * area_from as u32;
        for (k, &t) in params.iter().enumerate().skip(area_from) {
            self.store_operand(Mem::base(Gpr::Rsp, at as i32), base + k);
            at += slot_size(t);
        }
        self.load_register_args(base, in_registers);
        for _ in 0..params.len() {
            self.pop();
        }
        let mut area = at.next_multiple_of(16).max(area_size(ty.results()));
        // A callee that may make tail calls may use this much of the area
        // (see `abi`, "Tail calls").
        if callee == Callee::Any || self.env.tail_calls {
            area = area.max(TAIL_CALL_AREA);
        }
        self.frame.max_call_area = self.frame.max_call_area.max(area);
        area
    }

    /// Loads the `n` arguments from stack position `base` on into their
    /// argument registers. A second argument that sits in the first one's
    /// register is loaded first, or, when the first sits in the second
    /// one's, parked in a scratch register.
    pub(crate) fn load_register_args(&mut self, base: usize, n: usize) {
        let load = |this: &mut Self, k: usize| {
            let v = this.ops.at(base + k);
            if is_float(v.ty) {
                this.load_xmm(ARG_XMMS[k], v, base + k);
            } else {
                this.load_gpr(ARG_GPRS[k], v, base + k);
            }
        };
        // The last argument, if the instruction just emitted computed it
        // (a load, `lea` or sum into a register of its own): computed into
        // its argument register instead, saving a `mov`, unless an earlier
        // argument still sits there.
        if n > 0 && base + n == self.ops.len() {
            let k = n - 1;
            let v = self.ops.at(base + k);
            let to = ARG_GPRS[k];
            if let Loc::Gpr(src) = v.loc
                && !is_float(v.ty)
                && src != to
                && (0..k).all(|j| !in_gpr(self.ops.at(base + j).loc, to))
                && self.a.redefine_last_gpr(src, to)
            {
                for j in 0..k {
                    load(self, j);
                }
                return;
            }
        }
        let second = (n == 2).then(|| self.ops.at(base + 1).loc);
        let first = (n == 2).then(|| self.ops.at(base).loc);
        // A register argument may also be a read of a local pinned in an
        // argument register (`frame::LEAF_ARRIVAL_PINS`).
        let second_in_first = second.is_some_and(|l| in_gpr(l, ARG_GPRS[0]));
        let first_in_second = first.is_some_and(|l| in_gpr(l, ARG_GPRS[1]));
        if second_in_first && !first_in_second {
            // The second moves out of the first one's register into its
            // own, which the first does not occupy.
            load(self, 1);
            load(self, 0);
        } else if second == Some(Loc::Xmm(ARG_XMMS[0])) && first != Some(Loc::Xmm(ARG_XMMS[1])) {
            load(self, 1);
            load(self, 0);
        } else if second_in_first {
            self.a.mov_rr(Size::S64, SCRATCH, ARG_GPRS[0]);
            load(self, 0);
            self.a.mov_rr(Size::S64, ARG_GPRS[1], SCRATCH);
        } else if second == Some(Loc::Xmm(ARG_XMMS[0])) {
            self.a.sse_rr(SseOp::MOVAPS, SCRATCH_XMM, ARG_XMMS[0]);
            load(self, 0);
            self.a.sse_rr(SseOp::MOVAPS, ARG_XMMS[1], SCRATCH_XMM);
        } else {
            for k in 0..n {
                load(self, k);
            }
        }
    }

    /// Makes the outgoing area at least `bytes` large.
    pub(crate) fn reserve_call_area(&mut self, bytes: u32) {
        self.frame.use_slots();
        self.frame.max_call_area = self.frame.max_call_area.max(bytes);
    }

    /// After a call: pushes the results, the first from its register (see
    /// `abi`), the others read from the outgoing area.
    pub(crate) fn finish_call(&mut self, ty: &FuncType) {
        self.fuel_segment();
        let mut at = 0;
        for (k, &t) in ty.results().iter().enumerate() {
            let src = Mem::base(Gpr::Rsp, at);
            at += slot_size(t) as i32;
            if k == 0 && matches!(t, ValType::F32 | ValType::F64) {
                self.push_xmm(t, RESULT_XMM);
            } else if k == 0 && !is_float(t) {
                self.push_gpr(t, RESULT_GPR);
            } else if is_float(t) {
                let x = self.alloc_xmm();
                self.a.sse_rm(load_op(t), x, src);
                self.push_xmm(t, x);
            } else {
                let r = self.alloc_gpr();
                let size = if t == ValType::I32 {
                    Size::S32
                } else {
                    Size::S64
                };
                self.a.mov_rm(size, r, src);
                self.push_gpr(t, r);
            }
        }
    }

    pub(crate) fn op_call(&mut self, function_index: u32) {
        let ty = &self.env.module.types[self.env.func_types[function_index as usize] as usize];
        let imported = function_index < self.env.num_imported_funcs;
        let callee = if imported { Callee::Any } else { Callee::Wasm };
        self.setup_call(ty, callee);
        self.save_pinned();
        if imported {
            self.a
                .mov_rm(Size::S64, Gpr::Rax, vmctx(offset_of!(VmContext, funcs)));
            let at = function_index as i64 * core::mem::size_of::<VmFuncRef>() as i64;
            self.add_imm64(Gpr::Rax, at);
            self.call_funcref_in_rax(Callee::Any);
        } else {
            self.a
                .call_reloc(function_index - self.env.num_imported_funcs);
            self.a.call_site();
            // The callee may have tail-called into another instance, unless
            // it can reach none (`Env::own_funcrefs_only`).
            if self.env.tail_calls && !self.env.own_funcrefs_only {
                self.set_r15_unless_equal(self.frame.slot_at(SAVED_VMCTX));
            }
        }
        self.restore_after_call(callee);
        self.finish_call(ty);
    }

    /// After a call of `callee`: reloads what the call may have clobbered
    /// or moved ([`Self::restore_pinned`]), except memory 0's base when
    /// the call cannot have left a stale one in its register.
    ///
    /// That holds for a call of this instance's compiled wasm in a module
    /// where no host code runs during a call: one that can reach no
    /// function reference but its own (`Env::own_funcrefs_only`: no
    /// imports, so no host function) and that never pauses (no fuel, no
    /// interruption), after which the host might grow an exported memory.
    /// Then the base moves only by the module's own `memory.grow`, and
    /// every function keeps the register current: one that uses memory
    /// loads the base in its prologue (unless it finds it current there:
    /// `Env::base_current_at_entry`) and after each exit (a
    /// `memory.grow`) and call, and one that does not never writes the
    /// register (`x64::frame::MEMORY_BASE`), so whatever its callees
    /// returned with passes up unchanged. The bound in
    /// `x64::frame::MEMORY_LAST`, a callee-saved register that callees
    /// restore to the value from before a growth, is reloaded too, unless
    /// no function of the module has `memory.grow` (`Env::grows_memory`):
    /// then nothing changes a memory's length during such a call (only the
    /// host's `Memory::grow` could, and no host code runs before it
    /// returns), so the register still holds the current bound.
    pub(crate) fn restore_after_call(&mut self, callee: Callee) {
        let options = &self.env.options;
        let no_host_code = callee == Callee::Wasm
            && self.env.own_funcrefs_only
            && !options.fuel
            && !options.interruptible;
        self.reload_pins(!no_host_code, !no_host_code || self.env.grows_memory);
    }

    /// `rax` = VmFuncRef: switch to its instance, call, switch back.
    ///
    /// A `callee` known to be a function of this instance
    /// ([`Callee::Wasm`]: `Env::own_funcrefs_only`) runs with this `r15`
    /// and returns with it (it can reach no other instance either), so
    /// neither switch is emitted. Otherwise a callee of this instance, the usual target of `call_indirect`,
    /// keeps `r15` as it is, loaded or restored by no instruction: behind
    /// the predicted branches, the callee's loads of context fields (the
    /// memory base, the memory length) need not wait for the loads of the
    /// table element and its `vmctx`, and the caller's after the call not
    /// for the restore. Those chains of loads lie on the critical path of
    /// every call through a table.
    pub(crate) fn call_funcref_in_rax(&mut self, callee: Callee) {
        let switch = callee == Callee::Any;
        if switch {
            self.set_r15_unless_equal(Mem::base(Gpr::Rax, offset_of!(VmFuncRef, vmctx) as i32));
        }
        self.a
            .call_m(Mem::base(Gpr::Rax, offset_of!(VmFuncRef, code) as i32));
        self.a.call_site();
        if switch {
            self.set_r15_unless_equal(self.frame.slot_at(SAVED_VMCTX));
        }
    }

    /// Loads `r15` from `context` only when it holds another value.
    ///
    /// The jump over the load has its own target, the end of the load: a
    /// displacement patched in place rather than a label (the same bytes as
    /// a jump to a label bound there). The load is the plain assembler's,
    /// which the peephole does not see: nothing may rewrite it, or the
    /// jump's target would move.
    pub(crate) fn set_r15_unless_equal(&mut self, context: Mem) {
        self.a.alu_rm(AluOp::Cmp, Size::S64, Gpr::R15, context);
        let same = self.a.jcc_forward(Cond::E);
        let plain: &mut Assembler = &mut self.a;
        plain.mov_rm(Size::S64, Gpr::R15, context);
        self.a.bind_rel32(same);
    }

    pub(crate) fn add_imm64(&mut self, r: Gpr, imm: i64) {
        if imm == 0 {
            return;
        }
        if let Ok(i) = i32::try_from(imm) {
            self.a.alu_ri(AluOp::Add, Size::S64, r, i);
        } else {
            self.a.mov_ri(Size::S64, SCRATCH, imm);
            self.a.alu_rr(AluOp::Add, Size::S64, r, SCRATCH);
        }
    }

    pub(crate) fn op_call_indirect(&mut self, type_index: u32, table_index: u32) {
        let ty = &self.env.module.types[type_index as usize];
        // The element index (an `i64` for a table64 table, checked whole
        // by `table_element`): keep it in a register the argument setup
        // leaves alone.
        let index = SCRATCH2;
        let fact = self.checked_call(type_index, table_index);
        self.pop_gpr_into(index);
        let callee = self.indirect_callee();
        self.setup_call(ty, callee);
        self.save_pinned();
        match fact {
            Some(f) if self.ctrl.checked_calls.iter().any(|c| c.same_call(&f)) => {
                let at = self.table_element_unchecked(table_index, index);
                self.a.mov_rm(Size::S64, Gpr::Rax, at);
            }
            _ => {
                self.checked_funcref_in_rax(type_index, table_index, index);
                if let Some(f) = fact {
                    self.ctrl.checked_calls.push(f);
                }
            }
        }
        self.call_funcref_in_rax(callee);
        self.restore_after_call(callee);
        self.finish_call(ty);
    }

    /// What a call through a function reference (`call_indirect`,
    /// `call_ref`) may reach: compiled wasm of this instance only when the
    /// module sees no function references but its own instance's
    /// (`Env::own_funcrefs_only`).
    pub(crate) fn indirect_callee(&self) -> Callee {
        if self.env.own_funcrefs_only {
            Callee::Wasm
        } else {
            Callee::Any
        }
    }

    /// Pops an integer operand into `index`, a register the value stack
    /// does not allocate: computed there by the instruction that made it
    /// when that was the last one emitted (the element index of an indirect
    /// call is usually just loaded, from a local or from memory), else
    /// moved.
    pub(crate) fn pop_gpr_into(&mut self, index: Gpr) {
        let pos = self.ops.len() - 1;
        let v = self.pop();
        if let Loc::Gpr(src) = v.loc
            && self.a.redefine_last_gpr(src, index)
        {
            return;
        }
        self.load_gpr(index, v, pos);
    }

    /// Loads `rax` with the `VmFuncRef` of element `index` (a register) of
    /// table `table_index`, trapping as `call_indirect` does when the
    /// index is out of bounds, the element null, or its type not
    /// `type_index`. Writes `SCRATCH` too.
    ///
    /// A table whose contents are known ([`FixedTable`]) skips the null
    /// check when it holds no null, and the type check when every function
    /// it holds has the called type.
    pub(super) fn checked_funcref_in_rax(&mut self, type_index: u32, table_index: u32, index: Gpr) {
        let fixed = self.fixed_table(table_index);
        let at = self.table_element(table_index, index, TrapCode::UndefinedElement);
        self.a.mov_rm(Size::S64, Gpr::Rax, at);
        if !fixed.is_some_and(|t| t.non_null) {
            self.a.test_rr(Size::S64, Gpr::Rax, Gpr::Rax);
            self.a.trap_if(Cond::E, TrapCode::UninitializedElement);
        }
        let called = self.env.type_reps.get(type_index as usize).copied();
        if fixed
            .and_then(|t| t.single_type)
            .is_none_or(|t| Some(t) != called)
        {
            self.a.cmp_type_id(
                Mem::base(Gpr::Rax, offset_of!(VmFuncRef, type_id) as i32),
                type_index,
            );
            self.a.trap_if(Cond::Ne, TrapCode::IndirectCallTypeMismatch);
        }
    }

    /// The fact a `call_indirect` of `type_index` through `table` would
    /// establish, if its checks can stand for later calls (see "Checked
    /// calls"): a table whose contents never change, and an index operand
    /// (on top of the stack) that is a parameter no instruction writes,
    /// read from its slot or its register.
    fn checked_call(&self, type_index: u32, table: u32) -> Option<CheckedCall> {
        let param = match self.peek(0).loc {
            Loc::Param(k) => k,
            // A parameter pinned in a register.
            Loc::PinnedGpr(r) => (0..self.func_type.params().len() as u32)
                .find(|&k| self.frame.locals[k as usize].pin == Some(Loc::Gpr(r)))?,
            _ => return None,
        };
        if !self.frame.is_unwritten_param(param) {
            return None;
        }
        self.fixed_table(table)?;
        Some(CheckedCall {
            param,
            table,
            ty: *self.env.type_reps.get(type_index as usize)?,
            depth: self.ctrl.frames.len(),
        })
    }

    /// At the end of the innermost frame (`end`, or `else` for an `if`):
    /// forgets the checked calls made in it, or, at the end of a loop
    /// (`keep`), moves them to the frame around it.
    pub(crate) fn leave_checked_calls(&mut self, keep: bool) {
        let depth = self.ctrl.frames.len();
        if keep {
            for c in &mut self.ctrl.checked_calls {
                c.depth = c.depth.min(depth - 1);
            }
        } else {
            self.ctrl.checked_calls.retain(|c| c.depth < depth);
        }
    }

    /// What is known of table `index`'s contents, if anything.
    pub(crate) fn fixed_table(&self, index: u32) -> Option<FixedTable> {
        self.env.fixed_tables.get(index as usize).copied().flatten()
    }

    /// Where table `index`'s `VmTable` is: table 0's copy in the context,
    /// or the table itself through its pointer, loaded into `SCRATCH`.
    /// Returns the base register and the `VmTable`'s displacement.
    pub(crate) fn table_view(&mut self, index: u32) -> (Gpr, i32) {
        if index == 0 {
            return (Gpr::R15, offset_of!(VmContext, table0) as i32);
        }
        self.a
            .mov_rm(Size::S64, SCRATCH, vmctx(offset_of!(VmContext, tables)));
        self.a
            .mov_rm(Size::S64, SCRATCH, Mem::base(SCRATCH, 8 * index as i32));
        (SCRATCH, 0)
    }

    /// Checks `index < len` of table `table` (else traps with `trap`) and
    /// returns the element's address operand, based on `SCRATCH`. `index`
    /// is the register of the table's index operand: an `i32`'s, whose
    /// upper half is zero, or a table64 table's `i64`, whole. The compare
    /// is 64-bit either way, so an `i64` index of 2^32 or more is out of
    /// bounds (never truncated to a smaller, valid one), and no addition
    /// can wrap.
    pub(crate) fn table_element(&mut self, table: u32, index: Gpr, trap: TrapCode) -> Mem {
        let (base, at) = self.table_view(table);
        // A fixed table's length is its declared minimum.
        match self
            .fixed_table(table)
            .and_then(|t| i32::try_from(t.size).ok())
        {
            Some(len) => self.a.alu_ri(AluOp::Cmp, Size::S64, index, len),
            None => self.a.alu_rm(
                AluOp::Cmp,
                Size::S64,
                index,
                Mem::base(base, at + offset_of!(VmTable, len) as i32),
            ),
        }
        self.a.trap_if(Cond::Ae, trap);
        self.element_at(base, at, index)
    }

    /// The address operand of element `index` (a register) of table
    /// `table`, based on `SCRATCH`, with no bounds check: for an index
    /// known to be within it.
    pub(crate) fn table_element_unchecked(&mut self, table: u32, index: Gpr) -> Mem {
        let (base, at) = self.table_view(table);
        self.element_at(base, at, index)
    }

    /// Loads the elements pointer of the `VmTable` at `at` from `base`
    /// into `SCRATCH`: element `index`'s address operand.
    fn element_at(&mut self, base: Gpr, at: i32, index: Gpr) -> Mem {
        self.a.mov_rm(
            Size::S64,
            SCRATCH,
            Mem::base(base, at + offset_of!(VmTable, elements) as i32),
        );
        Mem::indexed(SCRATCH, index, Scale::X8, 0)
    }

    /// Leaves to the host with `code`, `payload` in `ExecContext::payload`
    /// and the outgoing area (at `rsp`, its operands already stored) in
    /// `ExecContext::call_args`: the exits whose host side reads operands
    /// from the area (`throw`, bulk-memory helpers).
    pub(crate) fn exit_with_area(&mut self, code: ExitCode, payload: i32) {
        self.a
            .mov_rm(Size::S64, SCRATCH, vmctx(offset_of!(VmContext, exec)));
        self.a.mov_mi(
            Size::S64,
            Mem::base(SCRATCH, offset_of!(ExecContext, payload) as i32),
            payload,
        );
        self.a.mov_rr(Size::S64, SCRATCH2, Gpr::Rsp);
        self.a.mov_mr(
            Size::S64,
            Mem::base(SCRATCH, offset_of!(ExecContext, call_args) as i32),
            SCRATCH2,
        );
        self.exit_to_host(code);
    }

    /// Leaves to the host with `code` (everything must be spilled).
    pub(crate) fn exit_to_host(&mut self, code: ExitCode) {
        // The exit stub pushes below `rsp`, and locals pinned in
        // caller-saved registers wait in their slots: the frame must be
        // allocated.
        self.frame.use_slots();
        self.a
            .mov_rm(Size::S64, SCRATCH, vmctx(offset_of!(VmContext, exec)));
        self.a.mov_mi(
            Size::S32,
            Mem::base(SCRATCH, offset_of!(ExecContext, exit_code) as i32),
            code as i32,
        );
        self.save_pinned();
        self.a.call_reloc(SYM_EXIT);
        self.restore_pinned();
    }
}
