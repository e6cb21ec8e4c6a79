//! Tail calls: `return_call` and `return_call_indirect`.
//!
//! A tail call replaces the caller's frame (the convention is in `abi`,
//! "Tail calls"): the arguments go into the caller's own incoming area
//! (`[rbp + 16 ..]`) and, the first ones, into their argument registers;
//! the caller restores the pin registers it saved and `rbp`, as its
//! epilogue does, and jumps to the callee, whose return goes to the
//! caller's caller. Nothing below the arguments on the operand stack
//! survives, so nothing is spilled.
//!
//! The only operands that live in the incoming area are lazy reads of
//! parameters no instruction writes
//! ([`Loc::Param`](crate::compile::stack::Loc::Param)); the others are
//! in registers, home slots below `rbp`, or constants. The arguments are
//! stored in order, after the reads of slots an earlier store overwrites
//! are loaded into registers (or home slots), so no argument overwrites
//! another's source. An argument that already is in its slot is not
//! stored at all: a lazy read of that very slot, or the function's own
//! stack-passed parameter of the same position, never written, read from
//! its pin register ([`FuncCompiler::holds_own_param`]). In a threaded
//! interpreter's handlers that is most of the state they pass on.
//!
//! A function whose only calls are tail calls is a leaf for its frame
//! (`func::frame`): nothing returns into it, so it saves no `r15`, may pin
//! in caller-saved registers, and skips the stack-limit check unless a
//! tail call grows the area ([`FuncCompiler::grow_and_jump`]).
//!
//! The area is known to hold `max(own area, TAIL_CALL_AREA)` bytes
//! ([`FuncCompiler::fits_in_place`]). A tail call whose arguments need more
//! sets them up as a call would, in the outgoing area, and then either
//! copies them into an area an earlier tail call grew, or turns the frame
//! into a record and grows the area below it (`abi`, "Tail calls";
//! [`FuncCompiler::grow_and_jump`]). Every such call goes through a
//! `VmFuncRef`, so all three kinds share that one path.
//!
//! Through a `VmFuncRef` (imports, `return_call_indirect`), the callee's
//! `vmctx` goes into `r15` before the jump, and the jump goes to its
//! `code`: a wasm function of any instance or the host-call stub, which
//! finds its arguments above the return address as after a call. The
//! element checks are `call_indirect`'s and trap while the caller's frame
//! is still there, so the backtrace shows it.

use super::calls::Callee;
use super::regs::{SCRATCH, SCRATCH2};
use super::variables::pinned_read;
use super::vmctx;
use crate::abi::{ExecContext, TAIL_CALL_AREA, VmContext, VmFuncRef, area_size, slot_offsets};
use crate::asm::x64::{AluOp, Cond, Gpr, Mem, Size};
use crate::compile::func::*;
use crate::decode::FuncType;
use core::mem::offset_of;

impl<'e, 'm, 'a> FuncCompiler<'e, 'm, 'a> {
    pub(super) fn op_return_call(&mut self, function_index: u32) {
        let env = self.env;
        let ty = &env.module.types[env.func_types[function_index as usize] as usize];
        let imported = function_index < env.num_imported_funcs;
        if !self.fits_in_place(ty) {
            self.setup_call(ty, Callee::Any);
            self.funcref_in_rax(function_index);
            self.grow_and_jump(ty);
            self.set_unreachable();
            return;
        }
        self.tail_args(ty, if imported { Callee::Any } else { Callee::Wasm });
        if imported {
            self.funcref_in_rax(function_index);
            self.tail_jump_funcref_in_rax();
        } else {
            self.leave_frame();
            self.a.jmp_reloc(function_index - env.num_imported_funcs);
        }
        self.set_unreachable();
    }

    pub(super) fn op_return_call_indirect(&mut self, type_index: u32, table_index: u32) {
        let ty = &self.env.module.types[type_index as usize];
        // The element index stays in a register the argument setup leaves
        // alone.
        let index = SCRATCH2;
        self.pop_gpr_into(index);
        if !self.fits_in_place(ty) {
            self.setup_call(ty, self.indirect_callee());
            self.checked_funcref_in_rax(type_index, table_index, index);
            self.grow_and_jump(ty);
            self.set_unreachable();
            return;
        }
        let callee = self.indirect_callee();
        self.tail_args(ty, callee);
        self.checked_funcref_in_rax(type_index, table_index, index);
        self.tail_jump_to_funcref_in_rax(callee);
        self.set_unreachable();
    }

    /// Whether the arguments of `callee` fit in the incoming area this
    /// function is known to have: its own type's area, and at least
    /// [`TAIL_CALL_AREA`] (see `abi`, "Tail calls"). The callee's results
    /// are this function's, so they fit as well.
    pub(super) fn fits_in_place(&self, callee: &FuncType) -> bool {
        let own = area_size(self.func_type.params()).max(area_size(self.func_type.results()));
        area_size(callee.params()) <= own.max(TAIL_CALL_AREA)
    }

    /// Pops the arguments of `ty` into this function's incoming area and,
    /// the first ones, into their argument registers (for a `callee` known
    /// to be compiled wasm, those only in their registers, as
    /// [`Self::setup_call`] does). Writes no other register than
    /// `SCRATCH`, `SCRATCH_XMM`, the argument registers and those the
    /// value stack allocates (which hold nothing that outlives the call).
    pub(super) fn tail_args(&mut self, ty: &FuncType, callee: Callee) {
        let params = ty.params();
        let end = 16 + slot_offsets(params, &mut self.offsets) as i32;
        let base = self.ops.len() - params.len();
        let in_registers = crate::abi::args_in_registers(params);
        let from = if callee == Callee::Wasm {
            in_registers
        } else {
            0
        };
        // The stores go in ascending order over the slots from `from`'s
        // on: a lazy read of a slot below the argument's own is gone by
        // the time its store reads it, and the register arguments, loaded
        // after all stores, read from slots any store may have written.
        if from < params.len() {
            let first = 16 + self.offsets[from] as i32;
            for k in 0..params.len() {
                let written_to = if k < in_registers {
                    end
                } else {
                    16 + self.offsets[k] as i32
                };
                self.load_param_read_in(base + k, first, written_to);
            }
        }
        for k in from..params.len() {
            let at = 16 + self.offsets[k] as i32;
            if self.holds_own_param(k, at, base + k) || self.reads_slot(base + k, at) {
                continue;
            }
            self.store_operand(self.frame.slot_at(at), base + k);
        }
        self.load_register_args(base, in_registers);
        for _ in 0..params.len() {
            self.pop();
        }
    }

    /// Whether the incoming area slot at `rbp + at`, argument `k`'s, holds
    /// the operand at stack position `pos` already, which reads this
    /// function's own parameter `k` pinned in a register: the parameter no
    /// instruction of the function writes, and whose slot is that one and
    /// was written by the caller (the parameter did not travel in a
    /// register only). The other arguments' stores go to other slots, so
    /// skipping this one is safe in any order. (A lazy read of the slot
    /// is skipped as well: `Self::reads_slot`.)
    fn holds_own_param(&self, k: usize, at: i32, pos: usize) -> bool {
        let Some(local) = self.frame.locals.get(k) else {
            return false;
        };
        k < self.func_type.params().len()
            && k < 64
            && self.frame.unwritten_params & (1 << k) != 0
            && k >= crate::abi::args_in_registers(self.func_type.params())
            && local.offset == at
            && match (local.pin, self.ops.at(pos).loc) {
                (Some(pin), loc) => loc == pinned_read(pin),
                (None, _) => false,
            }
    }

    /// Switches to the instance of the `VmFuncRef` in `rax`, drops this
    /// frame and jumps to the function. As for calls, `r15` is written
    /// only when it changes: behind the predicted branch, the callee's
    /// loads through `r15` need not wait for the table element's.
    pub(super) fn tail_jump_funcref_in_rax(&mut self) {
        self.tail_jump_to_funcref_in_rax(Callee::Any);
    }

    /// [`Self::tail_jump_funcref_in_rax`] for a `callee` that may be known
    /// to be compiled wasm of a module that sees no function reference
    /// but its own ([`Self::indirect_callee`]): every such reference
    /// is one of this instance's (the module imports nothing and hands
    /// none of its references' holders out), so its `vmctx` is the one
    /// `r15` holds, and the jump leaves `r15` alone.
    fn tail_jump_to_funcref_in_rax(&mut self, callee: Callee) {
        if callee == Callee::Any {
            self.set_r15_unless_equal(Mem::base(Gpr::Rax, offset_of!(VmFuncRef, vmctx) as i32));
        }
        self.leave_frame();
        self.a
            .jmp_m(Mem::base(Gpr::Rax, offset_of!(VmFuncRef, code) as i32));
    }

    /// `rax` = the `VmFuncRef` of function `function_index` (of this
    /// instance or imported).
    fn funcref_in_rax(&mut self, function_index: u32) {
        self.a
            .mov_rm(Size::S64, Gpr::Rax, vmctx(offset_of!(VmContext, funcs)));
        let at = function_index as i64 * core::mem::size_of::<VmFuncRef>() as i64;
        self.add_imm64(Gpr::Rax, at);
    }

    /// The tail call of the `VmFuncRef` in `rax` with type `callee`, whose
    /// arguments the outgoing area holds (and the first ones their
    /// registers, as after [`Self::setup_call`]) because they need more
    /// than this function's incoming area is known to hold (`abi`, "Tail
    /// calls"). Writes `SCRATCH` and `SCRATCH2`, which no argument uses.
    pub(super) fn grow_and_jump(&mut self, callee: &FuncType) {
        self.frame.grows_area = true;
        let needed = area_size(callee.params());
        let results = area_size(self.func_type.results());
        let capacity = needed.max(results).max(TAIL_CALL_AREA).next_multiple_of(16);
        // With the outgoing area at least the new area and its record,
        // the new area starts at or above `rsp`: the copy below moves the
        // arguments up, from the last word down.
        self.reserve_call_area(capacity + 16);
        let (stub, record) = (SCRATCH2, SCRATCH);
        self.a
            .mov_rm(Size::S64, stub, vmctx(offset_of!(VmContext, exec)));
        self.a.mov_rm(
            Size::S64,
            stub,
            Mem::base(stub, offset_of!(ExecContext, tail_return) as i32),
        );
        let grow = self.a.new_label();
        self.a
            .alu_rm(AluOp::Cmp, Size::S64, stub, self.frame.slot_at(8));
        self.a.jcc(Cond::Ne, grow);
        self.a.mov_rm(Size::S64, record, self.frame.slot_at(0));
        self.a
            .alu_mi(AluOp::Cmp, Size::S64, Mem::base(record, -8), needed as i32);
        self.a.jcc(Cond::B, grow);
        // An area grown before holds the arguments.
        for at in (0..needed as i32).step_by(8) {
            self.a.mov_rm(Size::S64, SCRATCH, Mem::base(Gpr::Rsp, at));
            self.a
                .mov_mr(Size::S64, self.frame.slot_at(16 + at), SCRATCH);
        }
        self.tail_jump_funcref_in_rax();
        // This frame becomes the record: the pins go back first, since the
        // new area covers their slots.
        self.a.bind(grow);
        self.restore_saved_gprs();
        let area = -16 - capacity as i32;
        for at in (0..needed as i32).step_by(8).rev() {
            self.a.mov_rm(Size::S64, SCRATCH, Mem::base(Gpr::Rsp, at));
            self.a
                .mov_mr(Size::S64, self.frame.slot_at(area + at), SCRATCH);
        }
        self.a
            .mov_mi(Size::S64, self.frame.slot_at(-8), capacity as i32);
        self.a
            .mov_mi(Size::S64, self.frame.slot_at(-16), results as i32);
        self.set_r15_unless_equal(Mem::base(Gpr::Rax, offset_of!(VmFuncRef, vmctx) as i32));
        self.a
            .lea(Size::S64, Gpr::Rsp, self.frame.slot_at(area - 8));
        self.a.mov_mr(Size::S64, Mem::base(Gpr::Rsp, 0), stub);
        self.a
            .jmp_m(Mem::base(Gpr::Rax, offset_of!(VmFuncRef, code) as i32));
    }
}
