//! The backend's per-operator entry point: one exhaustive `match` over
//! [`Operator`], the enum `for_each_operator!` generates from the
//! instruction table, so an instruction added to the table without a
//! lowering here is a build error. Each arm names the lowering of its
//! instruction and the machine operation it uses; the lowerings live with
//! their families (`numeric`, `memory`, `bulk`, `simd` and this module's
//! other siblings). The driver (`func`) calls [`FuncCompiler::operator`]
//! for each instruction.

use super::memory::*;
use super::numeric::*;
use super::relaxed_simd::{MADD_PD, MADD_PS};
use super::simd::*;
use super::vmctx;
use crate::abi::{Helper, TrapCode, VmContext, VmFuncRef};
use crate::asm::x64::{AluOp, Cond, RoundMode, ShiftOp, Size, SseOp, XmmShift};
use crate::compile::func::*;
use crate::compile::stack::{Loc, Val};
use crate::decode::{Operator, RefType, ValType};
use crate::error::{Error, ErrorKind, Result};
use core::mem::offset_of;

/// `is_fd!(prefix)`: whether a table row's prefix is `fd` (the vector
/// instructions).
macro_rules! is_fd {
    (fd) => {
        true
    };
    ($other:ident) => {
        false
    };
}

/// Defines `is_vector` from the instruction table.
macro_rules! define_is_vector {
    ($($prefix:ident $code:literal $name:ident $({ $($field:ident : $ty:ty),* })? => $sig:tt)*) => {
        /// Whether `op` is a vector instruction (the `0xFD` prefix); those
        /// need SSE4.1 and SSSE3.
        fn is_vector(op: &Operator<'_>) -> bool {
            match op {
                $( Operator::$name { .. } => is_fd!($prefix), )*
            }
        }
    };
}

crate::for_each_operator!(define_is_vector);

impl<'e, 'm, 'a> FuncCompiler<'e, 'm, 'a> {
    /// Compiles one instruction. Inlined into the loops with the decoder,
    /// like the validator's: one indirect jump per instruction, not two.
    #[inline(always)]
    pub(crate) fn operator(&mut self, op: &Operator<'_>) -> Result<()> {
        if self.ctrl.unreachable && self.dead_operator(op)? {
            return Ok(());
        }
        if let Some(Val {
            loc: Loc::Flags(_), ..
        }) = self.ops.last()
            && !matches!(
                op,
                Operator::BrIf { .. }
                    | Operator::If { .. }
                    | Operator::I32Eqz
                    | Operator::I32Add
                    | Operator::I32Sub
                    | Operator::Select
                    | Operator::TypedSelect { .. }
            )
        {
            self.materialize_flags();
        }
        // Every live operator costs one unit of the current fuel segment.
        self.fuel.ops += 1;
        if !(self.env.cpu.sse41 && self.env.cpu.ssse3) && is_vector(op) {
            return Err(Error::from_kind(
                ErrorKind::Limit,
                "SIMD operators need SSE4.1 and SSSE3, which this CPU lacks or Config::cpu_features left out",
            ));
        }
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
            Operator::End => {
                self.close_try();
                self.end_frame()
            }
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
            Operator::CallRef { type_index } => self.op_call_ref(type_index),
            Operator::RefAsNonNull => self.op_ref_as_non_null(),
            Operator::BrOnNull { relative_depth } => self.op_br_on_null(relative_depth),
            Operator::BrOnNonNull { relative_depth } => self.op_br_on_non_null(relative_depth),
            Operator::Drop => {
                self.pop();
            }
            Operator::Select | Operator::TypedSelect { .. } => self.op_select(),
            Operator::LocalGet { local_index } => self.op_local_get(local_index),
            Operator::LocalSet { local_index } => self.op_local_set(local_index, false),
            Operator::LocalTee { local_index } => self.op_local_set(local_index, true),
            Operator::GlobalGet { global_index } => self.op_global_get(global_index),
            Operator::GlobalSet { global_index } => self.op_global_set(global_index),
            Operator::I32Const { value } => self
                .ops
                .push_unowned(ValType::I32, Loc::Const(value as u32 as u64)),
            Operator::I64Const { value } => self
                .ops
                .push_unowned(ValType::I64, Loc::Const(value as u64)),
            Operator::F32Const { value } => self
                .ops
                .push_unowned(ValType::F32, Loc::Const(u64::from(value.0))),
            Operator::F64Const { value } => {
                self.ops.push_unowned(ValType::F64, Loc::Const(value.0))
            }
            Operator::RefNull { hty } => {
                self.push(ValType::Ref(RefType::new(true, hty)), Loc::Const(0))
            }
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
            _ => self.lower_family(op)?,
        }
        Ok(())
    }

    /// Lowers an operator of the numeric, memory, table and bulk-memory,
    /// and vector families: kept out of [`Self::operator`], which is
    /// inlined into the decoding loop, so that loop stays small. The
    /// match is exhaustive; the operators [`Self::operator`] lowers itself
    /// never reach it.
    #[inline(never)]
    fn lower_family(&mut self, op: &Operator<'_>) -> Result<()> {
        use Lane::{B, D, Q, W};
        use Operator::*;
        use ValType::{F32, F64, I32, I64};
        match *op {
            // ROUNDSS/ROUNDSD are SSE4.1; refuse rather than emit an
            // instruction that would fault.
            F32Ceil | F32Floor | F32Trunc | F32Nearest | F64Ceil | F64Floor | F64Trunc
            | F64Nearest
                if !self.env.cpu.sse41 =>
            {
                return Err(Error::from_kind(
                    ErrorKind::Limit,
                    "float rounding needs SSE4.1, which this CPU lacks or Config::cpu_features left out",
                )
                .with_detail(format_args!("{op:?}")));
            }
            // Integer and float arithmetic, comparisons and conversions.
            I32Eqz => self.int_eqz(I32),
            I64Eqz => self.int_eqz(I64),
            I32Eq => self.int_cmp(I32, Cond::E),
            I32Ne => self.int_cmp(I32, Cond::Ne),
            I32LtS => self.int_cmp(I32, Cond::L),
            I32LtU => self.int_cmp(I32, Cond::B),
            I32GtS => self.int_cmp(I32, Cond::G),
            I32GtU => self.int_cmp(I32, Cond::A),
            I32LeS => self.int_cmp(I32, Cond::Le),
            I32LeU => self.int_cmp(I32, Cond::Be),
            I32GeS => self.int_cmp(I32, Cond::Ge),
            I32GeU => self.int_cmp(I32, Cond::Ae),
            I64Eq => self.int_cmp(I64, Cond::E),
            I64Ne => self.int_cmp(I64, Cond::Ne),
            I64LtS => self.int_cmp(I64, Cond::L),
            I64LtU => self.int_cmp(I64, Cond::B),
            I64GtS => self.int_cmp(I64, Cond::G),
            I64GtU => self.int_cmp(I64, Cond::A),
            I64LeS => self.int_cmp(I64, Cond::Le),
            I64LeU => self.int_cmp(I64, Cond::Be),
            I64GeS => self.int_cmp(I64, Cond::Ge),
            I64GeU => self.int_cmp(I64, Cond::Ae),
            I32Clz => self.int_clz(I32),
            I64Clz => self.int_clz(I64),
            I32Ctz => self.int_ctz(I32),
            I64Ctz => self.int_ctz(I64),
            I32Popcnt => self.int_popcnt(I32),
            I64Popcnt => self.int_popcnt(I64),
            I32Add => self.int_alu(I32, AluOp::Add),
            I32Sub => self.int_alu(I32, AluOp::Sub),
            I32And => self.int_alu(I32, AluOp::And),
            I32Or => self.int_alu(I32, AluOp::Or),
            I32Xor => self.int_alu(I32, AluOp::Xor),
            I64Add => self.int_alu(I64, AluOp::Add),
            I64Sub => self.int_alu(I64, AluOp::Sub),
            I64And => self.int_alu(I64, AluOp::And),
            I64Or => self.int_alu(I64, AluOp::Or),
            I64Xor => self.int_alu(I64, AluOp::Xor),
            I32Mul => self.int_mul(I32),
            I64Mul => self.int_mul(I64),
            I32DivS => self.int_divrem(I32, true, false),
            I32DivU => self.int_divrem(I32, false, false),
            I32RemS => self.int_divrem(I32, true, true),
            I32RemU => self.int_divrem(I32, false, true),
            I64DivS => self.int_divrem(I64, true, false),
            I64DivU => self.int_divrem(I64, false, false),
            I64RemS => self.int_divrem(I64, true, true),
            I64RemU => self.int_divrem(I64, false, true),
            I32Shl => self.int_shift(I32, ShiftOp::Shl),
            I32ShrS => self.int_shift(I32, ShiftOp::Sar),
            I32ShrU => self.int_shift(I32, ShiftOp::Shr),
            I32Rotl => self.int_shift(I32, ShiftOp::Rol),
            I32Rotr => self.int_shift(I32, ShiftOp::Ror),
            I64Shl => self.int_shift(I64, ShiftOp::Shl),
            I64ShrS => self.int_shift(I64, ShiftOp::Sar),
            I64ShrU => self.int_shift(I64, ShiftOp::Shr),
            I64Rotl => self.int_shift(I64, ShiftOp::Rol),
            I64Rotr => self.int_shift(I64, ShiftOp::Ror),
            I32Extend8S => self.int_extend(I32, Size::S32, Size::S8),
            I32Extend16S => self.int_extend(I32, Size::S32, Size::S16),
            I64Extend8S => self.int_extend(I64, Size::S64, Size::S8),
            I64Extend16S => self.int_extend(I64, Size::S64, Size::S16),
            I64Extend32S | I64ExtendI32S => {
                let r = self.pop_gpr();
                self.a.movsxd_rr(r, r);
                self.push_gpr(I64, r);
            }
            I32WrapI64 => {
                // Nothing to clear when the instruction just emitted wrote
                // the register with its upper half zero (an `i32.load`
                // extended by `i64.extend_i32_u`, which emits nothing).
                let r = self.pop_gpr();
                if !self.a.last_zero_extended(r) {
                    self.a.mov_rr(Size::S32, r, r);
                }
                self.push_gpr(I32, r);
            }
            I64ExtendI32U => {
                // An `i32` in a register of its own already has its upper
                // half zero (`Loc::Gpr`): it becomes the `i64` as it is;
                // so does one just loaded from its home slot.
                let in_register = matches!(self.peek(0).loc, Loc::Gpr(_));
                let r = self.pop_gpr();
                if !in_register && !self.a.last_zero_extended(r) {
                    self.a.mov_rr(Size::S32, r, r);
                }
                self.push_gpr(I64, r);
            }
            F32Eq => self.float_cmp(F32, FloatCmp::Eq),
            F32Ne => self.float_cmp(F32, FloatCmp::Ne),
            F32Lt => self.float_cmp(F32, FloatCmp::Lt),
            F32Gt => self.float_cmp(F32, FloatCmp::Gt),
            F32Le => self.float_cmp(F32, FloatCmp::Le),
            F32Ge => self.float_cmp(F32, FloatCmp::Ge),
            F64Eq => self.float_cmp(F64, FloatCmp::Eq),
            F64Ne => self.float_cmp(F64, FloatCmp::Ne),
            F64Lt => self.float_cmp(F64, FloatCmp::Lt),
            F64Gt => self.float_cmp(F64, FloatCmp::Gt),
            F64Le => self.float_cmp(F64, FloatCmp::Le),
            F64Ge => self.float_cmp(F64, FloatCmp::Ge),
            F32Add => self.float_bin(F32, F32_OPS.add),
            F32Sub => self.float_bin(F32, F32_OPS.sub),
            F32Mul => self.float_bin(F32, F32_OPS.mul),
            F32Div => self.float_bin(F32, F32_OPS.div),
            F64Add => self.float_bin(F64, F64_OPS.add),
            F64Sub => self.float_bin(F64, F64_OPS.sub),
            F64Mul => self.float_bin(F64, F64_OPS.mul),
            F64Div => self.float_bin(F64, F64_OPS.div),
            F32Min => self.float_minmax(F32, true),
            F32Max => self.float_minmax(F32, false),
            F64Min => self.float_minmax(F64, true),
            F64Max => self.float_minmax(F64, false),
            F32Copysign => self.float_copysign(F32),
            F64Copysign => self.float_copysign(F64),
            F32Abs => self.float_sign(F32, false),
            F64Abs => self.float_sign(F64, false),
            F32Neg => self.float_sign(F32, true),
            F64Neg => self.float_sign(F64, true),
            F32Sqrt => self.float_unary(F32, F32_OPS.sqrt),
            F64Sqrt => self.float_unary(F64, F64_OPS.sqrt),
            F32Ceil => self.float_round(F32, RoundMode::Ceil),
            F32Floor => self.float_round(F32, RoundMode::Floor),
            F32Trunc => self.float_round(F32, RoundMode::Trunc),
            F32Nearest => self.float_round(F32, RoundMode::Nearest),
            F64Ceil => self.float_round(F64, RoundMode::Ceil),
            F64Floor => self.float_round(F64, RoundMode::Floor),
            F64Trunc => self.float_round(F64, RoundMode::Trunc),
            F64Nearest => self.float_round(F64, RoundMode::Nearest),
            F32DemoteF64 => self.float_unary_to(F32, SseOp::CVTSD2SS),
            F64PromoteF32 => self.float_unary_to(F64, SseOp::CVTSS2SD),
            F32ConvertI32S => self.int_to_float(F32, Size::S32, false),
            F32ConvertI32U => self.int_to_float(F32, Size::S64, false),
            F32ConvertI64S => self.int_to_float(F32, Size::S64, false),
            F32ConvertI64U => self.int_to_float(F32, Size::S64, true),
            F64ConvertI32S => self.int_to_float(F64, Size::S32, false),
            F64ConvertI32U => self.int_to_float(F64, Size::S64, false),
            F64ConvertI64S => self.int_to_float(F64, Size::S64, false),
            F64ConvertI64U => self.int_to_float(F64, Size::S64, true),
            I32ReinterpretF32 => {
                let x = self.pop_xmm();
                let r = self.alloc_gpr();
                self.a.movd_rx(r, x);
                self.push_gpr(I32, r);
            }
            I64ReinterpretF64 => {
                let x = self.pop_xmm();
                let r = self.alloc_gpr();
                self.a.movq_rx(r, x);
                self.push_gpr(I64, r);
            }
            F32ReinterpretI32 => {
                let r = self.pop_gpr();
                let x = self.alloc_xmm();
                self.a.movd_xr(x, r);
                self.push_xmm(F32, x);
            }
            F64ReinterpretI64 => {
                let r = self.pop_gpr();
                let x = self.alloc_xmm();
                self.a.movq_xr(x, r);
                self.push_xmm(F64, x);
            }
            I32TruncF32S => self.trunc(Trunc {
                from: F32,
                to: I32,
                signed: true,
                saturating: false,
            }),
            I32TruncF32U => self.trunc(Trunc {
                from: F32,
                to: I32,
                signed: false,
                saturating: false,
            }),
            I32TruncF64S => self.trunc(Trunc {
                from: F64,
                to: I32,
                signed: true,
                saturating: false,
            }),
            I32TruncF64U => self.trunc(Trunc {
                from: F64,
                to: I32,
                signed: false,
                saturating: false,
            }),
            I64TruncF32S => self.trunc(Trunc {
                from: F32,
                to: I64,
                signed: true,
                saturating: false,
            }),
            I64TruncF32U => self.trunc(Trunc {
                from: F32,
                to: I64,
                signed: false,
                saturating: false,
            }),
            I64TruncF64S => self.trunc(Trunc {
                from: F64,
                to: I64,
                signed: true,
                saturating: false,
            }),
            I64TruncF64U => self.trunc(Trunc {
                from: F64,
                to: I64,
                signed: false,
                saturating: false,
            }),
            I32TruncSatF32S => self.trunc(Trunc {
                from: F32,
                to: I32,
                signed: true,
                saturating: true,
            }),
            I32TruncSatF32U => self.trunc(Trunc {
                from: F32,
                to: I32,
                signed: false,
                saturating: true,
            }),
            I32TruncSatF64S => self.trunc(Trunc {
                from: F64,
                to: I32,
                signed: true,
                saturating: true,
            }),
            I32TruncSatF64U => self.trunc(Trunc {
                from: F64,
                to: I32,
                signed: false,
                saturating: true,
            }),
            I64TruncSatF32S => self.trunc(Trunc {
                from: F32,
                to: I64,
                signed: true,
                saturating: true,
            }),
            I64TruncSatF32U => self.trunc(Trunc {
                from: F32,
                to: I64,
                signed: false,
                saturating: true,
            }),
            I64TruncSatF64S => self.trunc(Trunc {
                from: F64,
                to: I64,
                signed: true,
                saturating: true,
            }),
            I64TruncSatF64U => self.trunc(Trunc {
                from: F64,
                to: I64,
                signed: false,
                saturating: true,
            }),
            // Loads, stores, memory size and growth.
            I32Load { memarg } => self.load(memarg, 4, I32, Load::Int(Size::S32)),
            I64Load { memarg } => self.load(memarg, 8, I64, Load::Int(Size::S64)),
            F32Load { memarg } => self.load(memarg, 4, F32, Load::Float(SseOp::MOVSS)),
            F64Load { memarg } => self.load(memarg, 8, F64, Load::Float(SseOp::MOVSD)),
            I32Load8S { memarg } => self.load(memarg, 1, I32, Load::Sx(Size::S32, Size::S8)),
            I32Load8U { memarg } => self.load(memarg, 1, I32, Load::Zx(Size::S32, Size::S8)),
            I32Load16S { memarg } => self.load(memarg, 2, I32, Load::Sx(Size::S32, Size::S16)),
            I32Load16U { memarg } => self.load(memarg, 2, I32, Load::Zx(Size::S32, Size::S16)),
            I64Load8S { memarg } => self.load(memarg, 1, I64, Load::Sx(Size::S64, Size::S8)),
            I64Load8U { memarg } => self.load(memarg, 1, I64, Load::Zx(Size::S32, Size::S8)),
            I64Load16S { memarg } => self.load(memarg, 2, I64, Load::Sx(Size::S64, Size::S16)),
            I64Load16U { memarg } => self.load(memarg, 2, I64, Load::Zx(Size::S32, Size::S16)),
            I64Load32S { memarg } => self.load(memarg, 4, I64, Load::Sx32),
            I64Load32U { memarg } => self.load(memarg, 4, I64, Load::Int(Size::S32)),
            I32Store { memarg } => self.store(memarg, Size::S32),
            I64Store { memarg } => self.store(memarg, Size::S64),
            F32Store { memarg } => self.store(memarg, Size::S32),
            F64Store { memarg } => self.store(memarg, Size::S64),
            I32Store8 { memarg } | I64Store8 { memarg } => self.store(memarg, Size::S8),
            I32Store16 { memarg } | I64Store16 { memarg } => self.store(memarg, Size::S16),
            I64Store32 { memarg } => self.store(memarg, Size::S32),
            MemorySize { mem } if !self.fast_memory(mem.index) => self.memory_size(mem.index),
            MemorySize { .. } => {
                let r = self.alloc_gpr();
                self.a
                    .mov_rm(Size::S64, r, vmctx(offset_of!(VmContext, memory_len)));
                // The length in bytes counted in the memory's own pages.
                let log2 = self.env.memory_page_log2;
                if log2 != 0 {
                    self.a.shift_ri(ShiftOp::Shr, Size::S64, r, log2 as u8);
                }
                self.push_gpr(I32, r);
            }
            MemoryGrow { mem } => self.memory_grow(mem.index),
            // Tables and bulk memory.
            TableGet { table } => self.table_get(table),
            TableSet { table } => self.table_set(table),
            TableSize { table } => self.table_size(table),
            TableGrow { table } => self.table_grow(table),
            TableFill { table } => self.helper(Helper::TableFill, [table, 0], 3, false),
            TableCopy {
                dst_table,
                src_table,
            } => self.helper(Helper::TableCopy, [dst_table, src_table], 3, false),
            TableInit { elem_index, table } => {
                self.helper(Helper::TableInit, [table, elem_index], 3, false)
            }
            ElemDrop { elem_index } => self.helper(Helper::ElemDrop, [elem_index, 0], 0, false),
            MemoryInit { data_index, mem } => {
                self.helper(Helper::MemoryInit, [mem.index, data_index], 3, false)
            }
            DataDrop { data_index } => self.helper(Helper::DataDrop, [data_index, 0], 0, false),
            MemoryCopy { dst_mem, src_mem }
                if dst_mem.index == 0 && src_mem.index == 0 && self.fast_memory(0) =>
            {
                self.memory_copy()
            }
            MemoryFill { mem } if self.fast_memory(mem.index) => self.memory_fill(),
            MemoryCopy { dst_mem, src_mem } => {
                self.helper(Helper::MemoryCopy, [dst_mem.index, src_mem.index], 3, false)
            }
            MemoryFill { mem } => self.helper(Helper::MemoryFill, [mem.index, 0], 3, false),
            // Vector operators (128-bit SIMD).
            // Loads and stores.
            V128Load { memarg } => self.v_load(memarg, 16, SseOp::MOVDQU),
            V128Load8x8S { memarg } => self.v_load(memarg, 8, SseOp::PMOVSXBW),
            V128Load8x8U { memarg } => self.v_load(memarg, 8, SseOp::PMOVZXBW),
            V128Load16x4S { memarg } => self.v_load(memarg, 8, SseOp::PMOVSXWD),
            V128Load16x4U { memarg } => self.v_load(memarg, 8, SseOp::PMOVZXWD),
            V128Load32x2S { memarg } => self.v_load(memarg, 8, SseOp::PMOVSXDQ),
            V128Load32x2U { memarg } => self.v_load(memarg, 8, SseOp::PMOVZXDQ),
            V128Load32Zero { memarg } => self.v_load(memarg, 4, SseOp::MOVSS),
            V128Load64Zero { memarg } => self.v_load(memarg, 8, SseOp::MOVQ),
            V128Load8Splat { memarg } => {
                let at = self.address(memarg, 1);
                let x = self.alloc_xmm();
                self.a.sse_rmi(SseOp::PINSRB, x, at, 0);
                self.broadcast(B, x);
                self.push_xmm(V, x);
            }
            V128Load16Splat { memarg } => {
                let at = self.address(memarg, 2);
                let x = self.alloc_xmm();
                self.a.sse_rmi(SseOp::PINSRW, x, at, 0);
                self.broadcast(W, x);
                self.push_xmm(V, x);
            }
            V128Load32Splat { memarg } => {
                let at = self.address(memarg, 4);
                let x = self.alloc_xmm();
                self.a.sse_rm(SseOp::MOVSS, x, at);
                self.broadcast(D, x);
                self.push_xmm(V, x);
            }
            V128Load64Splat { memarg } => {
                let at = self.address(memarg, 8);
                let x = self.alloc_xmm();
                self.a.sse_rm(SseOp::MOVQ, x, at);
                self.broadcast(Q, x);
                self.push_xmm(V, x);
            }
            V128Store { memarg } => {
                let x = self.pop_xmm();
                self.ops.take_xmm(x);
                let at = self.address(memarg, 16);
                self.ops.free_xmm(x);
                self.a.sse_mr(SseOp::MOVDQU_STORE, at, x);
            }
            V128Load8Lane { memarg, lane } => self.v_load_lane(memarg, B, lane),
            V128Load16Lane { memarg, lane } => self.v_load_lane(memarg, W, lane),
            V128Load32Lane { memarg, lane } => self.v_load_lane(memarg, D, lane),
            V128Load64Lane { memarg, lane } => self.v_load_lane(memarg, Q, lane),
            V128Store8Lane { memarg, lane } => self.v_store_lane(memarg, B, lane),
            V128Store16Lane { memarg, lane } => self.v_store_lane(memarg, W, lane),
            V128Store32Lane { memarg, lane } => self.v_store_lane(memarg, D, lane),
            V128Store64Lane { memarg, lane } => self.v_store_lane(memarg, Q, lane),

            // Constants, shuffles, lanes.
            V128Const { value } => {
                let x = self.alloc_xmm();
                match value.0 {
                    b if b == [0; 16] => self.a.sse_rr(SseOp::PXOR, x, x),
                    b if b == [0xff; 16] => self.a.sse_rr(SseOp::PCMPEQD, x, x),
                    bytes => self.load_v128(x, bytes),
                }
                self.push_xmm(V, x);
            }
            I8x16Shuffle { lanes } => {
                let (a, b) = self.pop_xmm_pair();
                let (ma, mb) = shuffle_masks(lanes.0);
                self.load_v128(S, ma);
                self.a.sse_rr(SseOp::PSHUFB, a, S);
                self.load_v128(S, mb);
                self.a.sse_rr(SseOp::PSHUFB, b, S);
                self.a.sse_rr(SseOp::POR, a, b);
                self.push_xmm(V, a);
            }
            I8x16Swizzle => {
                // Indices of 16 and above get bit 7 set: pshufb zeroes them.
                let (a, b) = self.pop_xmm_pair();
                self.load_v128(S, [0x70; 16]);
                self.a.sse_rr(SseOp::PADDUSB, b, S);
                self.a.sse_rr(SseOp::PSHUFB, a, b);
                self.push_xmm(V, a);
            }
            I8x16Splat => self.splat_int(B),
            I16x8Splat => self.splat_int(W),
            I32x4Splat => self.splat_int(D),
            I64x2Splat => self.splat_int(Q),
            F32x4Splat => {
                let x = self.pop_xmm();
                self.broadcast(D, x);
                self.push_xmm(V, x);
            }
            F64x2Splat => {
                let x = self.pop_xmm();
                self.broadcast(Q, x);
                self.push_xmm(V, x);
            }
            I8x16ExtractLaneS { lane } => self.extract_int(B, lane, true),
            I8x16ExtractLaneU { lane } => self.extract_int(B, lane, false),
            I16x8ExtractLaneS { lane } => self.extract_int(W, lane, true),
            I16x8ExtractLaneU { lane } => self.extract_int(W, lane, false),
            I32x4ExtractLane { lane } => self.extract_int(D, lane, false),
            I64x2ExtractLane { lane } => self.extract_int(Q, lane, false),
            F32x4ExtractLane { lane } => {
                let x = self.pop_xmm();
                // Lane `lane` to lane 0, the others zeroed.
                self.a.sse_rri(SseOp::INSERTPS, x, x, (lane << 6) | 0b1110);
                self.push_xmm(ValType::F32, x);
            }
            F64x2ExtractLane { lane } => {
                let x = self.pop_xmm();
                if lane == 0 {
                    self.a.sse_rr(SseOp::MOVQ, x, x);
                } else {
                    self.a.xmm_shift_ri(XmmShift::Psrldq, x, 8);
                }
                self.push_xmm(ValType::F64, x);
            }
            I8x16ReplaceLane { lane } => self.replace_int(B, lane),
            I16x8ReplaceLane { lane } => self.replace_int(W, lane),
            I32x4ReplaceLane { lane } => self.replace_int(D, lane),
            I64x2ReplaceLane { lane } => self.replace_int(Q, lane),
            F32x4ReplaceLane { lane } => {
                let (x, s) = self.pop_xmm_pair();
                self.a.sse_rri(SseOp::INSERTPS, x, s, lane << 4);
                self.push_xmm(V, x);
            }
            F64x2ReplaceLane { lane } => {
                let (x, s) = self.pop_xmm_pair();
                let op = if lane == 0 {
                    SseOp::MOVSD
                } else {
                    SseOp::MOVLHPS
                };
                self.a.sse_rr(op, x, s);
                self.push_xmm(V, x);
            }

            // Integer comparisons.
            I8x16Eq => self.cmp_int(B, Cmp::Eq),
            I8x16Ne => self.cmp_int(B, Cmp::Ne),
            I8x16LtS => self.cmp_int(B, Cmp::LtS),
            I8x16LtU => self.cmp_int(B, Cmp::LtU),
            I8x16GtS => self.cmp_int(B, Cmp::GtS),
            I8x16GtU => self.cmp_int(B, Cmp::GtU),
            I8x16LeS => self.cmp_int(B, Cmp::LeS),
            I8x16LeU => self.cmp_int(B, Cmp::LeU),
            I8x16GeS => self.cmp_int(B, Cmp::GeS),
            I8x16GeU => self.cmp_int(B, Cmp::GeU),
            I16x8Eq => self.cmp_int(W, Cmp::Eq),
            I16x8Ne => self.cmp_int(W, Cmp::Ne),
            I16x8LtS => self.cmp_int(W, Cmp::LtS),
            I16x8LtU => self.cmp_int(W, Cmp::LtU),
            I16x8GtS => self.cmp_int(W, Cmp::GtS),
            I16x8GtU => self.cmp_int(W, Cmp::GtU),
            I16x8LeS => self.cmp_int(W, Cmp::LeS),
            I16x8LeU => self.cmp_int(W, Cmp::LeU),
            I16x8GeS => self.cmp_int(W, Cmp::GeS),
            I16x8GeU => self.cmp_int(W, Cmp::GeU),
            I32x4Eq => self.cmp_int(D, Cmp::Eq),
            I32x4Ne => self.cmp_int(D, Cmp::Ne),
            I32x4LtS => self.cmp_int(D, Cmp::LtS),
            I32x4LtU => self.cmp_int(D, Cmp::LtU),
            I32x4GtS => self.cmp_int(D, Cmp::GtS),
            I32x4GtU => self.cmp_int(D, Cmp::GtU),
            I32x4LeS => self.cmp_int(D, Cmp::LeS),
            I32x4LeU => self.cmp_int(D, Cmp::LeU),
            I32x4GeS => self.cmp_int(D, Cmp::GeS),
            I32x4GeU => self.cmp_int(D, Cmp::GeU),
            I64x2Eq => self.cmp_int(Q, Cmp::Eq),
            I64x2Ne => self.cmp_int(Q, Cmp::Ne),
            I64x2LtS => self.cmp_int(Q, Cmp::LtS),
            I64x2GtS => self.cmp_int(Q, Cmp::GtS),
            I64x2LeS => self.cmp_int(Q, Cmp::LeS),
            I64x2GeS => self.cmp_int(Q, Cmp::GeS),

            // Float comparisons.
            F32x4Eq => self.cmp_float(SseOp::CMPPS, CMP_EQ, false),
            F32x4Ne => self.cmp_float(SseOp::CMPPS, CMP_NEQ, false),
            F32x4Lt => self.cmp_float(SseOp::CMPPS, CMP_LT, false),
            F32x4Gt => self.cmp_float(SseOp::CMPPS, CMP_LT, true),
            F32x4Le => self.cmp_float(SseOp::CMPPS, CMP_LE, false),
            F32x4Ge => self.cmp_float(SseOp::CMPPS, CMP_LE, true),
            F64x2Eq => self.cmp_float(SseOp::CMPPD, CMP_EQ, false),
            F64x2Ne => self.cmp_float(SseOp::CMPPD, CMP_NEQ, false),
            F64x2Lt => self.cmp_float(SseOp::CMPPD, CMP_LT, false),
            F64x2Gt => self.cmp_float(SseOp::CMPPD, CMP_LT, true),
            F64x2Le => self.cmp_float(SseOp::CMPPD, CMP_LE, false),
            F64x2Ge => self.cmp_float(SseOp::CMPPD, CMP_LE, true),

            // Bitwise.
            V128Not => {
                let x = self.pop_xmm();
                self.not(x);
                self.push_xmm(V, x);
            }
            V128And => self.bin(SseOp::PAND),
            V128Or => self.bin(SseOp::POR),
            V128Xor => self.bin(SseOp::PXOR),
            V128AndNot => self.bin_rev(SseOp::PANDN),
            V128Bitselect => {
                let c = self.pop_xmm();
                self.ops.take_xmm(c);
                let (v1, v2) = self.pop_xmm_pair();
                self.ops.free_xmm(c);
                self.a.sse_rr(SseOp::PAND, v1, c);
                self.a.sse_rr(SseOp::PANDN, c, v2);
                self.a.sse_rr(SseOp::POR, v1, c);
                self.push_xmm(V, v1);
            }
            V128AnyTrue => {
                let x = self.pop_xmm();
                self.a.sse_rr(SseOp::PTEST, x, x);
                self.push(ValType::I32, Loc::Flags(Cond::Ne));
            }
            I8x16AllTrue => self.all_true(B),
            I16x8AllTrue => self.all_true(W),
            I32x4AllTrue => self.all_true(D),
            I64x2AllTrue => self.all_true(Q),
            I8x16Bitmask => self.bitmask(B),
            I16x8Bitmask => self.bitmask(W),
            I32x4Bitmask => self.bitmask(D),
            I64x2Bitmask => self.bitmask(Q),

            // Integer arithmetic.
            I8x16Abs => self.un(SseOp::PABSB),
            I16x8Abs => self.un(SseOp::PABSW),
            I32x4Abs => self.un(SseOp::PABSD),
            I64x2Abs => {
                let x = self.pop_xmm();
                self.a.sse_rri(SseOp::PSHUFD, S, x, 0xF5);
                self.a.xmm_shift_ri(XmmShift::Psrad, S, 31);
                self.a.sse_rr(SseOp::PXOR, x, S);
                self.a.sse_rr(SseOp::PSUBQ, x, S);
                self.push_xmm(V, x);
            }
            I8x16Neg => self.neg(B),
            I16x8Neg => self.neg(W),
            I32x4Neg => self.neg(D),
            I64x2Neg => self.neg(Q),
            I8x16Popcnt => self.popcnt(),
            I8x16Add => self.bin(B.add()),
            I16x8Add => self.bin(W.add()),
            I32x4Add => self.bin(D.add()),
            I64x2Add => self.bin(Q.add()),
            I8x16Sub => self.bin(B.sub()),
            I16x8Sub => self.bin(W.sub()),
            I32x4Sub => self.bin(D.sub()),
            I64x2Sub => self.bin(Q.sub()),
            I16x8Mul => self.bin(SseOp::PMULLW),
            I32x4Mul => self.bin(SseOp::PMULLD),
            I64x2Mul => self.i64x2_mul(),
            I8x16AddSatS => self.bin(SseOp::PADDSB),
            I8x16AddSatU => self.bin(SseOp::PADDUSB),
            I8x16SubSatS => self.bin(SseOp::PSUBSB),
            I8x16SubSatU => self.bin(SseOp::PSUBUSB),
            I16x8AddSatS => self.bin(SseOp::PADDSW),
            I16x8AddSatU => self.bin(SseOp::PADDUSW),
            I16x8SubSatS => self.bin(SseOp::PSUBSW),
            I16x8SubSatU => self.bin(SseOp::PSUBUSW),
            I8x16MinS => self.bin(SseOp::PMINSB),
            I8x16MinU => self.bin(SseOp::PMINUB),
            I8x16MaxS => self.bin(SseOp::PMAXSB),
            I8x16MaxU => self.bin(SseOp::PMAXUB),
            I16x8MinS => self.bin(SseOp::PMINSW),
            I16x8MinU => self.bin(SseOp::PMINUW),
            I16x8MaxS => self.bin(SseOp::PMAXSW),
            I16x8MaxU => self.bin(SseOp::PMAXUW),
            I32x4MinS => self.bin(SseOp::PMINSD),
            I32x4MinU => self.bin(SseOp::PMINUD),
            I32x4MaxS => self.bin(SseOp::PMAXSD),
            I32x4MaxU => self.bin(SseOp::PMAXUD),
            I8x16AvgrU => self.bin(SseOp::PAVGB),
            I16x8AvgrU => self.bin(SseOp::PAVGW),
            I32x4DotI16x8S => self.bin(SseOp::PMADDWD),
            I16x8Q15MulrSatS => {
                // Only 0x8000 * 0x8000 overflows, to 0x8000: flip it.
                let (a, b) = self.pop_xmm_pair();
                self.a.sse_rr(SseOp::PMULHRSW, a, b);
                self.load_v128(S, splat16(0x8000));
                self.a.sse_rr(SseOp::PCMPEQW, S, a);
                self.a.sse_rr(SseOp::PXOR, a, S);
                self.push_xmm(V, a);
            }

            // Shifts.
            I8x16Shl => self.shift(B, Shift::Shl),
            I8x16ShrS => self.shift(B, Shift::ShrS),
            I8x16ShrU => self.shift(B, Shift::ShrU),
            I16x8Shl => self.shift(W, Shift::Shl),
            I16x8ShrS => self.shift(W, Shift::ShrS),
            I16x8ShrU => self.shift(W, Shift::ShrU),
            I32x4Shl => self.shift(D, Shift::Shl),
            I32x4ShrS => self.shift(D, Shift::ShrS),
            I32x4ShrU => self.shift(D, Shift::ShrU),
            I64x2Shl => self.shift(Q, Shift::Shl),
            I64x2ShrS => self.shift(Q, Shift::ShrS),
            I64x2ShrU => self.shift(Q, Shift::ShrU),

            // Narrowing, widening.
            I8x16NarrowI16x8S => self.bin(SseOp::PACKSSWB),
            I8x16NarrowI16x8U => self.bin(SseOp::PACKUSWB),
            I16x8NarrowI32x4S => self.bin(SseOp::PACKSSDW),
            I16x8NarrowI32x4U => self.bin(SseOp::PACKUSDW),
            I16x8ExtendLowI8x16S => self.extend(SseOp::PMOVSXBW, false),
            I16x8ExtendHighI8x16S => self.extend(SseOp::PMOVSXBW, true),
            I16x8ExtendLowI8x16U => self.extend(SseOp::PMOVZXBW, false),
            I16x8ExtendHighI8x16U => self.extend(SseOp::PMOVZXBW, true),
            I32x4ExtendLowI16x8S => self.extend(SseOp::PMOVSXWD, false),
            I32x4ExtendHighI16x8S => self.extend(SseOp::PMOVSXWD, true),
            I32x4ExtendLowI16x8U => self.extend(SseOp::PMOVZXWD, false),
            I32x4ExtendHighI16x8U => self.extend(SseOp::PMOVZXWD, true),
            I64x2ExtendLowI32x4S => self.extend(SseOp::PMOVSXDQ, false),
            I64x2ExtendHighI32x4S => self.extend(SseOp::PMOVSXDQ, true),
            I64x2ExtendLowI32x4U => self.extend(SseOp::PMOVZXDQ, false),
            I64x2ExtendHighI32x4U => self.extend(SseOp::PMOVZXDQ, true),
            I16x8ExtaddPairwiseI8x16S => {
                let x = self.pop_xmm();
                self.load_v128(S, [1; 16]);
                self.a.sse_rr(SseOp::PMADDUBSW, S, x);
                self.a.sse_rr(SseOp::MOVDQA, x, S);
                self.push_xmm(V, x);
            }
            I16x8ExtaddPairwiseI8x16U => {
                let x = self.pop_xmm();
                self.load_v128(S, [1; 16]);
                self.a.sse_rr(SseOp::PMADDUBSW, x, S);
                self.push_xmm(V, x);
            }
            I32x4ExtaddPairwiseI16x8S => {
                let x = self.pop_xmm();
                self.load_v128(S, splat16(1));
                self.a.sse_rr(SseOp::PMADDWD, x, S);
                self.push_xmm(V, x);
            }
            I32x4ExtaddPairwiseI16x8U => {
                // Bias to signed, add pairs, remove the bias (2 * 0x8000).
                let x = self.pop_xmm();
                self.load_v128(S, splat16(0x8000));
                self.a.sse_rr(SseOp::PXOR, x, S);
                self.load_v128(S, splat16(1));
                self.a.sse_rr(SseOp::PMADDWD, x, S);
                self.load_v128(S, splat32(0x1_0000));
                self.a.sse_rr(SseOp::PADDD, x, S);
                self.push_xmm(V, x);
            }
            I16x8ExtmulLowI8x16S => self.extmul(SseOp::PMOVSXBW, SseOp::PMULLW, false),
            I16x8ExtmulHighI8x16S => self.extmul(SseOp::PMOVSXBW, SseOp::PMULLW, true),
            I16x8ExtmulLowI8x16U => self.extmul(SseOp::PMOVZXBW, SseOp::PMULLW, false),
            I16x8ExtmulHighI8x16U => self.extmul(SseOp::PMOVZXBW, SseOp::PMULLW, true),
            I32x4ExtmulLowI16x8S => self.extmul(SseOp::PMOVSXWD, SseOp::PMULLD, false),
            I32x4ExtmulHighI16x8S => self.extmul(SseOp::PMOVSXWD, SseOp::PMULLD, true),
            I32x4ExtmulLowI16x8U => self.extmul(SseOp::PMOVZXWD, SseOp::PMULLD, false),
            I32x4ExtmulHighI16x8U => self.extmul(SseOp::PMOVZXWD, SseOp::PMULLD, true),
            I64x2ExtmulLowI32x4S => self.extmul64(SseOp::PMULDQ, false),
            I64x2ExtmulHighI32x4S => self.extmul64(SseOp::PMULDQ, true),
            I64x2ExtmulLowI32x4U => self.extmul64(SseOp::PMULUDQ, false),
            I64x2ExtmulHighI32x4U => self.extmul64(SseOp::PMULUDQ, true),

            // Float arithmetic.
            F32x4Add => self.bin(SseOp::ADDPS),
            F32x4Sub => self.bin(SseOp::SUBPS),
            F32x4Mul => self.bin(SseOp::MULPS),
            F32x4Div => self.bin(SseOp::DIVPS),
            F32x4Sqrt => self.un(SseOp::SQRTPS),
            F64x2Add => self.bin(SseOp::ADDPD),
            F64x2Sub => self.bin(SseOp::SUBPD),
            F64x2Mul => self.bin(SseOp::MULPD),
            F64x2Div => self.bin(SseOp::DIVPD),
            F64x2Sqrt => self.un(SseOp::SQRTPD),
            F32x4Abs => self.sign_op(XmmShift::Psrld, 1, SseOp::ANDPS),
            F64x2Abs => self.sign_op(XmmShift::Psrlq, 1, SseOp::ANDPD),
            F32x4Neg => self.sign_op(XmmShift::Pslld, 31, SseOp::XORPS),
            F64x2Neg => self.sign_op(XmmShift::Psllq, 63, SseOp::XORPD),
            F32x4Ceil => self.round(SseOp::ROUNDPS, RoundMode::Ceil),
            F32x4Floor => self.round(SseOp::ROUNDPS, RoundMode::Floor),
            F32x4Trunc => self.round(SseOp::ROUNDPS, RoundMode::Trunc),
            F32x4Nearest => self.round(SseOp::ROUNDPS, RoundMode::Nearest),
            F64x2Ceil => self.round(SseOp::ROUNDPD, RoundMode::Ceil),
            F64x2Floor => self.round(SseOp::ROUNDPD, RoundMode::Floor),
            F64x2Trunc => self.round(SseOp::ROUNDPD, RoundMode::Trunc),
            F64x2Nearest => self.round(SseOp::ROUNDPD, RoundMode::Nearest),
            F32x4Min => self.float_min(&PS),
            F64x2Min => self.float_min(&PD),
            F32x4Max => self.float_max(&PS),
            F64x2Max => self.float_max(&PD),
            // pmin(a, b) = b < a ? b : a, which is `minps b, a`.
            F32x4PMin => self.bin_rev(SseOp::MINPS),
            F64x2PMin => self.bin_rev(SseOp::MINPD),
            F32x4PMax => self.bin_rev(SseOp::MAXPS),
            F64x2PMax => self.bin_rev(SseOp::MAXPD),

            // Conversions.
            F32x4DemoteF64x2Zero => self.un(SseOp::CVTPD2PS),
            F64x2PromoteLowF32x4 => self.un(SseOp::CVTPS2PD),
            F32x4ConvertI32x4S => self.un(SseOp::CVTDQ2PS),
            F64x2ConvertLowI32x4S => self.un(SseOp::CVTDQ2PD),
            F32x4ConvertI32x4U => self.f32x4_convert_u(),
            F64x2ConvertLowI32x4U => {
                // Build 2^52 + x as doubles, subtract 2^52.
                let x = self.pop_xmm();
                self.load_v128(S, splat32(0x4330_0000));
                self.a.sse_rr(SseOp::UNPCKLPS, x, S);
                self.load_v128(S, splat64(0x4330_0000_0000_0000));
                self.a.sse_rr(SseOp::SUBPD, x, S);
                self.push_xmm(V, x);
            }
            I32x4TruncSatF32x4S => self.i32x4_trunc_sat_s(),
            I32x4TruncSatF32x4U => self.i32x4_trunc_sat_u(),
            I32x4TruncSatF64x2SZero => {
                // Clamp above (NaN lanes to 0) and convert; below, the
                // conversion's 0x80000000 is already the saturated value.
                let x = self.pop_xmm();
                let t = self.tmp_xmm(&[x]);
                self.a.sse_rr(SseOp::MOVAPD, S, x);
                self.a.sse_rri(SseOp::CMPPD, S, x, CMP_EQ);
                self.load_v128(t, splat64(2_147_483_647f64.to_bits()));
                self.a.sse_rr(SseOp::ANDPD, S, t);
                self.a.sse_rr(SseOp::MINPD, x, S);
                self.a.sse_rr(SseOp::CVTTPD2DQ, x, x);
                self.push_xmm(V, x);
            }
            I32x4TruncSatF64x2UZero => self.i32x4_trunc_sat_f64x2_u_zero(),
            // Exception handling (`exceptions`).
            Throw { tag_index } => self.op_throw(tag_index),
            ThrowRef => self.op_throw_ref(),
            TryTable { table } => self.op_try_table(&table),
            Unreachable
            | Nop
            | Block { .. }
            | Loop { .. }
            | If { .. }
            | Else
            | End
            | Br { .. }
            | BrIf { .. }
            | BrTable { .. }
            | Return
            | Call { .. }
            | CallIndirect { .. }
            | Drop
            | Select
            | LocalGet { .. }
            | LocalSet { .. }
            | LocalTee { .. }
            | GlobalGet { .. }
            | GlobalSet { .. }
            | I32Const { .. }
            | I64Const { .. }
            | F32Const { .. }
            | F64Const { .. }
            | RefNull { .. }
            | RefIsNull
            | RefFunc { .. }
            | CallRef { .. }
            | RefAsNonNull
            | BrOnNull { .. }
            | BrOnNonNull { .. }
            | TypedSelect { .. } => {
                return Err(Error::internal(
                    "a control or variable operator reached the family lowering",
                ));
            }
            I64Add128 => self.wide_add_sub(false),
            I64Sub128 => self.wide_add_sub(true),
            I64MulWideS => self.wide_mul(true),
            I64MulWideU => self.wide_mul(false),
            // Relaxed SIMD (`x64::relaxed_simd` documents the choices).
            I8x16RelaxedSwizzle => self.relaxed_swizzle(),
            I32x4RelaxedTruncF32x4S => self.relaxed_trunc_s(SseOp::CVTTPS2DQ),
            I32x4RelaxedTruncF32x4U => self.i32x4_trunc_sat_u(),
            I32x4RelaxedTruncF64x2SZero => self.relaxed_trunc_s(SseOp::CVTTPD2DQ),
            I32x4RelaxedTruncF64x2UZero => self.i32x4_trunc_sat_f64x2_u_zero(),
            F32x4RelaxedMadd => self.relaxed_madd(&MADD_PS, false),
            F32x4RelaxedNmadd => self.relaxed_madd(&MADD_PS, true),
            F64x2RelaxedMadd => self.relaxed_madd(&MADD_PD, false),
            F64x2RelaxedNmadd => self.relaxed_madd(&MADD_PD, true),
            I8x16RelaxedLaneselect
            | I16x8RelaxedLaneselect
            | I32x4RelaxedLaneselect
            | I64x2RelaxedLaneselect => self.relaxed_laneselect(),
            F32x4RelaxedMin => self.relaxed_min_max(SseOp::MINPS),
            F32x4RelaxedMax => self.relaxed_min_max(SseOp::MAXPS),
            F64x2RelaxedMin => self.relaxed_min_max(SseOp::MINPD),
            F64x2RelaxedMax => self.relaxed_min_max(SseOp::MAXPD),
            I16x8RelaxedQ15mulrS => self.relaxed_q15mulr(),
            I16x8RelaxedDotI8x16I7x16S => self.relaxed_dot(),
            I32x4RelaxedDotI8x16I7x16AddS => self.relaxed_dot_add(),
            // Tail calls (`tail`, and `refs` for `return_call_ref`).
            ReturnCall { function_index } => self.op_return_call(function_index),
            ReturnCallIndirect {
                type_index,
                table_index,
            } => self.op_return_call_indirect(type_index, table_index),
            ReturnCallRef { type_index } => self.op_return_call_ref(type_index),
        }
        Ok(())
    }
}
