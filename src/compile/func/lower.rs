//! The per-operator entry point of one function's compilation.

use super::super::stack::{Loc, Val, is_float};
use super::*;
use crate::abi::{TrapCode, VmContext, VmFuncRef};
use crate::asm::x64::{Cond, Size, SseOp};
use crate::decode::{Operator, ValType};
use crate::error::{Error, Result};
use core::mem::offset_of;

impl<'e, 'm, 'a> FuncCompiler<'e, 'm, 'a> {
    /// Compiles one instruction. Inlined into the loops with the decoder,
    /// like the validator's: one indirect jump per instruction, not two.
    #[inline(always)]
    pub(crate) fn operator(&mut self, op: &Operator<'_>) -> Result<()> {
        if self.unreachable && self.dead_operator(op)? {
            return Ok(());
        }
        if let Some(Val {
            loc: Loc::Flags(_), ..
        }) = self.stack.last()
            && !matches!(
                op,
                Operator::BrIf { .. } | Operator::If { .. } | Operator::I32Eqz | Operator::Select
            )
        {
            self.materialize_flags();
        }
        // Every live operator costs one unit of the current fuel segment.
        self.fuel_ops += 1;
        match *op {
            Operator::Unreachable => {
                self.a.trap(TrapCode::Unreachable);
                self.set_unreachable();
            }
            Operator::Nop => {}
            Operator::Block { blockty } => self.push_frame(FrameKind::Block, blockty),
            Operator::Loop { blockty } => self.push_frame(FrameKind::Loop, blockty),
            Operator::If { blockty } => self.op_if(blockty),
            Operator::Else => self.op_else(),
            Operator::End => self.end_frame(),
            Operator::Br { relative_depth } => {
                self.spill_all();
                self.branch_to(relative_depth);
                self.set_unreachable();
            }
            Operator::BrIf { relative_depth } => self.op_br_if(relative_depth),
            Operator::BrTable { targets } => {
                self.op_br_table(&targets);
                self.set_unreachable();
            }
            Operator::Return => {
                // Results go straight from wherever they are to the caller.
                self.materialize_flags();
                self.emit_return();
                self.set_unreachable();
            }
            Operator::Call { function_index } => self.op_call(function_index),
            Operator::CallIndirect {
                type_index,
                table_index,
            } => self.op_call_indirect(type_index, table_index),
            Operator::Drop => {
                self.pop();
            }
            Operator::Select | Operator::TypedSelect { .. } => self.op_select(),
            Operator::LocalGet { local_index } => self.op_local_get(local_index),
            Operator::LocalSet { local_index } => self.op_local_set(local_index, false),
            Operator::LocalTee { local_index } => self.op_local_set(local_index, true),
            Operator::GlobalGet { global_index } => self.op_global_get(global_index),
            Operator::GlobalSet { global_index } => self.op_global_set(global_index),
            Operator::I32Const { value } => {
                self.push(ValType::I32, Loc::Const(value as u32 as u64))
            }
            Operator::I64Const { value } => self.push(ValType::I64, Loc::Const(value as u64)),
            Operator::F32Const { value } => self.push(ValType::F32, Loc::Const(u64::from(value.0))),
            Operator::F64Const { value } => self.push(ValType::F64, Loc::Const(value.0)),
            Operator::RefNull { hty } => self.push(hty.into(), Loc::Const(0)),
            Operator::RefIsNull => {
                let r = self.pop_gpr();
                self.a.test_rr(Size::S64, r, r);
                self.a.setcc(Cond::E, r);
                self.a.movzx_rr(Size::S32, Size::S8, r, r);
                self.push_gpr(ValType::I32, r);
            }
            Operator::RefFunc { function_index } => {
                let r = self.alloc_gpr();
                self.a
                    .mov_rm(Size::S64, r, vmctx(offset_of!(VmContext, funcs)));
                self.add_imm64(
                    r,
                    function_index as i64 * core::mem::size_of::<VmFuncRef>() as i64,
                );
                self.push_gpr(ValType::FuncRef, r);
            }
            _ => {
                if !self.numeric(op)?
                    && !self.memory_op(op)?
                    && !self.bulk_op(op)?
                    && !self.simd_op(op)?
                {
                    return Err(
                        Error::limit(0, "operator not supported by the compiler yet")
                            .with_detail(format_args!("{op:?}")),
                    );
                }
            }
        }
        Ok(())
    }

    pub(super) fn op_select(&mut self) {
        self.materialize_flags();
        let cond = self.pop_gpr();
        self.regs.take_gpr(cond);
        let ty = self.peek(0).ty;
        if is_float(ty) {
            let b = self.pop_xmm();
            self.regs.take_xmm(b);
            let a = self.pop_xmm();
            self.regs.free_xmm(b);
            self.regs.free_gpr(cond);
            let done = self.a.new_label();
            self.a.test_rr(Size::S32, cond, cond);
            self.a.jcc(Cond::Ne, done);
            self.a.sse_rr(SseOp::MOVAPS, a, b);
            self.a.bind(done);
            self.push_xmm(ty, a);
        } else {
            let b = self.pop_gpr();
            self.regs.take_gpr(b);
            let a = self.pop_gpr();
            self.regs.free_gpr(b);
            self.regs.free_gpr(cond);
            let size = if ty == ValType::I32 {
                Size::S32
            } else {
                Size::S64
            };
            self.a.test_rr(Size::S32, cond, cond);
            self.a.cmov_rr(Cond::E, size, a, b);
            self.push_gpr(ty, a);
        }
    }
}
