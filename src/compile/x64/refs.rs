//! Typed function references: `call_ref`, `return_call_ref`,
//! `ref.as_non_null`, `br_on_null` and `br_on_non_null`.
//!
//! A typed reference is represented at run time exactly as `funcref` and
//! `externref` are (the address of a `VmFuncRef`, or an extern handle; 0
//! is null), so only the null checks are new. `call_ref` is
//! `call_indirect` without the table and without the signature check: the
//! validator proved the reference's type equal to the call's, and the
//! callee may be any function a `VmFuncRef` describes (this instance's,
//! another instance's or a host function; only this instance's in a module
//! that sees no other, `Env::own_funcrefs_only`), so it goes through
//! [`FuncCompiler::call_funcref_in_rax`] as `call_indirect` does.
//!
//! The two branches spill every operand first (a branch's merge state),
//! then compare the reference in its home slot with zero, so no register
//! has to survive the branch's moves.

use super::super::func::FuncCompiler;
use super::super::stack::Loc;
use super::calls::Callee;
use super::regs::SCRATCH2;
use crate::abi::TrapCode;
use crate::asm::x64::{AluOp, Cond, Gpr, Size};

impl<'e, 'm, 'a> FuncCompiler<'e, 'm, 'a> {
    /// `call_ref $t`: traps on null, else calls the reference.
    pub(crate) fn op_call_ref(&mut self, type_index: u32) {
        let ty = &self.env.module.types[type_index as usize];
        // The reference: in a register the argument setup leaves alone.
        let pos = self.ops.len() - 1;
        let v = self.pop();
        self.load_gpr(SCRATCH2, v, pos);
        let callee = self.indirect_callee();
        self.setup_call(ty, callee);
        self.save_pinned();
        self.a.mov_rr(Size::S64, Gpr::Rax, SCRATCH2);
        self.a.test_rr(Size::S64, Gpr::Rax, Gpr::Rax);
        self.a.trap_if(Cond::E, TrapCode::NullFunctionReference);
        self.call_funcref_in_rax(callee);
        self.restore_after_call(callee);
        self.finish_call(ty);
    }

    /// `ref.as_non_null`: traps on null; the value stays where it is.
    pub(crate) fn op_ref_as_non_null(&mut self) {
        let r = match self.peek(0).loc {
            Loc::Gpr(r) | Loc::PinnedGpr(r) => r,
            _ => {
                let ty = self.peek(0).ty;
                let r = self.pop_gpr();
                self.push_gpr(ty, r);
                r
            }
        };
        self.a.test_rr(Size::S64, r, r);
        self.a.trap_if(Cond::E, TrapCode::NullReference);
    }

    /// Spills every operand and compares the top one, a reference, with
    /// null in its home slot.
    fn compare_top_with_null(&mut self) {
        self.spill_all();
        let top = self.home(self.ops.len() - 1);
        self.a.alu_mi(AluOp::Cmp, Size::S64, top, 0);
    }

    /// `br_on_null l`: branches with the values below the reference when
    /// it is null, else leaves it on the stack.
    pub(crate) fn op_br_on_null(&mut self, depth: u32) {
        self.compare_top_with_null();
        // The reference stays in its home slot, the slot of the position
        // it is pushed back at.
        let r = self.pop();
        self.branch_if(Cond::E, depth);
        self.push(r.ty, Loc::Home);
    }

    /// `br_on_non_null l`: branches with the values and the reference
    /// when it is not null, else drops it.
    pub(crate) fn op_br_on_non_null(&mut self, depth: u32) {
        self.compare_top_with_null();
        self.branch_if(Cond::Ne, depth);
        self.pop();
    }

    /// `return_call_ref $t`: `call_ref` as a tail call (`tail`): the
    /// arguments replace this frame's, the null check traps while the
    /// frame is still there, then the jump goes through the reference as
    /// `return_call_indirect`'s does, growing the area if it must.
    pub(crate) fn op_return_call_ref(&mut self, type_index: u32) {
        let ty = &self.env.module.types[type_index as usize];
        let pos = self.ops.len() - 1;
        let v = self.pop();
        self.load_gpr(SCRATCH2, v, pos);
        let fits = self.fits_in_place(ty);
        if fits {
            self.tail_args(ty, Callee::Any);
        } else {
            self.setup_call(ty, Callee::Any);
        }
        self.a.mov_rr(Size::S64, Gpr::Rax, SCRATCH2);
        self.a.test_rr(Size::S64, Gpr::Rax, Gpr::Rax);
        self.a.trap_if(Cond::E, TrapCode::NullFunctionReference);
        if fits {
            self.tail_jump_funcref_in_rax();
        } else {
            self.grow_and_jump(ty);
        }
        self.set_unreachable();
    }
}
