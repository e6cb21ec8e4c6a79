//! Lowering of table operators and bulk memory: `table.get/set/size` are
//! inline (with a bounds check against the table's length); the operators
//! that grow, fill, copy or initialize leave to the host through
//! [`ExitCode::Helper`](crate::abi::ExitCode) (see [`Helper`] for the area
//! layout), which keeps generated code small and the checks in one place.

use super::func::{FuncCompiler, vmctx};
use super::stack::{SCRATCH, SCRATCH2};
use crate::abi::{ExecContext, ExitCode, Helper, TrapCode, VmContext, VmTable};
use crate::asm::x64::{AluOp, Cond, Gpr, Mem, Scale, Size};
use crate::decode::{Operator, ValType};
use crate::error::Result;
use core::mem::offset_of;

impl FuncCompiler<'_, '_, '_> {
    /// Lowers `op` if it is a table or bulk-memory operator.
    pub(crate) fn bulk_op(&mut self, op: &Operator<'_>) -> Result<bool> {
        use Operator::*;
        match *op {
            TableGet { table } => self.table_get(table),
            TableSet { table } => self.table_set(table),
            TableSize { table } => {
                let r = self.alloc_gpr();
                self.load_table(SCRATCH, table);
                self.a.mov_rm(
                    Size::S32,
                    r,
                    Mem::base(SCRATCH, offset_of!(VmTable, len) as i32),
                );
                self.push_gpr(ValType::I32, r);
            }
            TableGrow { table } => self.helper(Helper::TableGrow, [table, 0], 2, true),
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
                self.helper(Helper::MemoryInit, [mem.0, data_index], 3, false)
            }
            DataDrop { data_index } => self.helper(Helper::DataDrop, [data_index, 0], 0, false),
            MemoryCopy { dst_mem, src_mem } => {
                self.helper(Helper::MemoryCopy, [dst_mem.0, src_mem.0], 3, false)
            }
            MemoryFill { mem } => self.helper(Helper::MemoryFill, [mem.0, 0], 3, false),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Checks `index < len` of table `table` and leaves the element's
    /// address operand (using the scratch registers).
    fn table_element(&mut self, table: u32, index: Gpr) -> Mem {
        self.load_table(SCRATCH, table);
        self.a.mov_rr(Size::S32, index, index);
        self.a.alu_rm(
            AluOp::Cmp,
            Size::S64,
            index,
            Mem::base(SCRATCH, offset_of!(VmTable, len) as i32),
        );
        let oob = self.trap_label(TrapCode::TableOutOfBounds);
        self.a.jcc(Cond::Ae, oob);
        self.a.mov_rm(
            Size::S64,
            SCRATCH,
            Mem::base(SCRATCH, offset_of!(VmTable, elements) as i32),
        );
        Mem::indexed(SCRATCH, index, Scale::X8, 0)
    }

    fn table_get(&mut self, table: u32) {
        let ty = self.env.table_types[table as usize].elem.into();
        let index = self.pop_gpr();
        let at = self.table_element(table, index);
        self.a.mov_rm(Size::S64, index, at);
        self.push_gpr(ty, index);
    }

    fn table_set(&mut self, table: u32) {
        let value = self.pop_gpr();
        self.regs.take_gpr(value);
        let index = self.pop_gpr();
        self.regs.free_gpr(value);
        let at = self.table_element(table, index);
        self.a.mov_mr(Size::S64, at, value);
    }

    /// Leaves to the host for `helper` with two immediates and the top
    /// `operands` values; pushes the `i32` result if `result`.
    fn helper(&mut self, helper: Helper, imms: [u32; 2], operands: usize, result: bool) {
        let area = (8 * (2 + operands) as u32).next_multiple_of(16);
        self.reserve_call_area(area);
        let base = self.stack.len() - operands;
        for k in 0..operands {
            self.store_operand(Mem::base(Gpr::Rsp, 16 + 8 * k as i32), base + k);
        }
        for _ in 0..operands {
            self.pop();
        }
        self.spill_all();
        self.a
            .mov_mi(Size::S64, Mem::base(Gpr::Rsp, 0), imms[0] as i32);
        self.a
            .mov_mi(Size::S64, Mem::base(Gpr::Rsp, 8), imms[1] as i32);
        self.a
            .mov_rm(Size::S64, SCRATCH, vmctx(offset_of!(VmContext, exec)));
        self.a.mov_mi(
            Size::S64,
            Mem::base(SCRATCH, offset_of!(ExecContext, payload) as i32),
            helper as i32,
        );
        self.a.mov_rr(Size::S64, SCRATCH2, Gpr::Rsp);
        self.a.mov_mr(
            Size::S64,
            Mem::base(SCRATCH, offset_of!(ExecContext, call_args) as i32),
            SCRATCH2,
        );
        self.exit_to_host(ExitCode::Helper);
        if result {
            let r = self.alloc_gpr();
            self.a.mov_rm(Size::S32, r, Mem::base(Gpr::Rsp, 0));
            self.push_gpr(ValType::I32, r);
        }
    }
}
