//! Lowering of table operators and bulk memory. `table.get/set/size` are
//! inline, with a bounds check against the table's length that compares
//! 64 bits, so a table64 table's `i64` index takes the same code as an
//! `i32` one (see `table_element` in `calls.rs`), and its `table.size`
//! pushes an `i64`. `memory.fill` and `memory.copy` on a 32-bit memory 0
//! are inline too (`rep stosb`/`rep movsb` after bounds checks against the
//! memory's length): programs call them for every `memset`/`memcpy`, where
//! a host exit would cost more than most copies. The operators that grow
//! or initialize, and the ones on other memories or a 64-bit memory 0,
//! leave to the host through [`ExitCode::Helper`](crate::abi::ExitCode)
//! (see [`Helper`] for the area layout), which checks `i64` operands of
//! 64-bit memories and table64 tables without overflow; that keeps
//! generated code small and the checks in one place. A table64 table's
//! `table.grow` reads its result from the helper's slot as an `i64`.
//!
//! With fuel or interruption checks, bulk work is bounded like any other
//! (the rates are in [`crate::abi`]: [`BYTES_PER_FUEL`] and its
//! neighbours). Inline `memory.fill`/`memory.copy` check their bounds,
//! then take `len / 64` fuel and go on inline when enough is left and
//! (with interruption checks) `len` is at most [`BULK_CHUNK`]; otherwise
//! the same operands go to the host helper, which takes the fuel or
//! reports that it is short, and splits the work into interruptible
//! chunks. After every helper exit such code reads the
//! [`HelperStatus`] the host left and pauses (`OutOfFuel` or
//! `Interrupted`), running the helper again when resumed. Everything on
//! the value stack is spilled first, since those exits clobber the
//! caller-saved registers; code without fuel or interruption checks is
//! unchanged.

use super::super::func::FuncCompiler;
use super::regs::{SCRATCH, SCRATCH_XMM, SCRATCH2};
use super::vmctx;
use crate::abi::{
    BULK_CHUNK, BYTES_PER_FUEL, ExecContext, ExitCode, Helper, HelperStatus, TrapCode, VmContext,
    VmTable,
};
use crate::asm::x64::{AluOp, Cond, Gpr, Label, Mem, Scale, ShiftOp, Size, SseOp};
use crate::decode::ValType;
use core::mem::offset_of;

/// The shortest distance between an overlapping copy's destination and
/// source for which the backward copy goes in blocks of `rep movsb`: each
/// `rep movsb` costs a few dozen cycles to start, which 1 KiB amortizes
/// (`benches/results.md` has the block sizes tried).
pub(in crate::compile) const MIN_BLOCK: i32 = 1024;

impl FuncCompiler<'_, '_, '_> {
    /// Pops the three operands of `memory.fill` or `memory.copy` into the
    /// registers of the string instructions: the destination into `rdi`,
    /// the value or source into `second`, the length into `rcx` (each
    /// zero-extended to 64 bits, as every `i32` operand is). Pinned locals
    /// in those registers are stored away; the registers stay taken until
    /// [`Self::end_string_op`], which gets the returned locals back.
    pub(in crate::compile) fn pop_string_operands(&mut self, second: Gpr) -> [Option<usize>; 3] {
        let unpinned = self.unpin_gprs([Gpr::Rdi, second, Gpr::Rcx]);
        // Topmost first; each eviction keeps clear of the other two
        // registers, and a filled register is held so later pops leave it.
        for (r, others) in [
            (Gpr::Rcx, [Gpr::Rdi, second]),
            (second, [Gpr::Rdi, Gpr::Rcx]),
            (Gpr::Rdi, [second, Gpr::Rcx]),
        ] {
            self.pop_into_gpr(r, &others);
            self.ops.take_gpr(r);
        }
        unpinned
    }

    /// Releases the string instruction's registers and reloads the pinned
    /// locals [`Self::pop_string_operands`] stored away.
    pub(in crate::compile) fn end_string_op(&mut self, second: Gpr, unpinned: [Option<usize>; 3]) {
        for r in [Gpr::Rdi, second, Gpr::Rcx] {
            self.ops.free_gpr(r);
        }
        self.repin_gprs(unpinned);
    }

    /// Traps with "out of bounds memory access" unless `start + rcx` (both
    /// below 2^32, so the 64-bit sum cannot wrap) is at most the memory's
    /// length: a zero-length access at the very end is allowed, one byte
    /// further is not.
    pub(in crate::compile) fn check_memory_range(&mut self, start: Gpr, oob: Label) {
        self.a.lea(
            Size::S64,
            SCRATCH,
            Mem::indexed(start, Gpr::Rcx, Scale::X1, 0),
        );
        self.jump_if_scratch_beyond_memory(oob);
    }

    /// Turns the memory index in `r` into a host address.
    pub(in crate::compile) fn add_memory_base(&mut self, r: Gpr) {
        match self.frame.memory_base {
            Some(base) => self.a.alu_rr(AluOp::Add, Size::S64, r, base),
            None => self.a.alu_rm(
                AluOp::Add,
                Size::S64,
                r,
                vmctx(offset_of!(VmContext, memory_base)),
            ),
        }
    }

    /// True when bulk work must be metered or interruptible.
    pub(in crate::compile) fn bulk_bounded(&self) -> bool {
        self.env.options.fuel || self.env.options.interruptible
    }

    /// With fuel or interruption checks, after the bounds checks of a
    /// string operation over `rcx` bytes: jumps to the returned label (the
    /// host path, [`Self::bulk_in_host`]) when `rcx` exceeds
    /// [`BULK_CHUNK`] (interruption checks) or its fuel exceeds the fuel
    /// left, and otherwise takes the fuel and falls through to the inline
    /// operation.
    pub(in crate::compile) fn bulk_gate(&mut self) -> Label {
        let host = self.a.new_label();
        if self.env.options.interruptible {
            const _: () = assert!(BULK_CHUNK <= i32::MAX as u64);
            self.a
                .alu_ri(AluOp::Cmp, Size::S64, Gpr::Rcx, BULK_CHUNK as i32);
            self.a.jcc(Cond::A, host);
        }
        if self.env.options.fuel {
            let cost = SCRATCH2;
            self.a.mov_rr(Size::S64, cost, Gpr::Rcx);
            self.a.shift_ri(
                ShiftOp::Shr,
                Size::S64,
                cost,
                BYTES_PER_FUEL.trailing_zeros() as u8,
            );
            self.a
                .mov_rm(Size::S64, SCRATCH, vmctx(offset_of!(VmContext, exec)));
            let fuel = Mem::base(SCRATCH, offset_of!(ExecContext, fuel) as i32);
            self.a.alu_mr(AluOp::Cmp, Size::S64, fuel, cost);
            self.a.jcc(Cond::L, host);
            self.a.alu_mr(AluOp::Sub, Size::S64, fuel, cost);
        }
        host
    }

    /// Ends the inline string operation just emitted by jumping over the
    /// host path bound here at `host`: the operands `[rdi, second, rcx]`
    /// (memory indexes, not yet host addresses) go to `helper` on memory 0.
    pub(in crate::compile) fn bulk_in_host(&mut self, host: Label, helper: Helper, second: Gpr) {
        let done = self.a.new_label();
        self.a.jmp(done);
        self.a.bind(host);
        self.reserve_call_area(48);
        for (k, r) in [Gpr::Rdi, second, Gpr::Rcx].into_iter().enumerate() {
            self.a
                .mov_mr(Size::S64, Mem::base(Gpr::Rsp, 16 + 8 * k as i32), r);
        }
        self.call_helper(helper, [0, 0]);
        self.a.bind(done);
    }

    /// `memory.fill` of memory 0: checks the range, then `rep stosb`.
    pub(in crate::compile) fn memory_fill(&mut self) {
        let unpinned = self.pop_string_operands(Gpr::Rax);
        let bounded = self.bulk_bounded();
        if bounded {
            self.spill_all();
        }
        let oob = self.a.trap_label(TrapCode::MemoryOutOfBounds);
        self.check_memory_range(Gpr::Rdi, oob);
        let host = bounded.then(|| self.bulk_gate());
        self.add_memory_base(Gpr::Rdi);
        self.a.rep_stosb();
        if let Some(host) = host {
            self.bulk_in_host(host, Helper::MemoryFill, Gpr::Rax);
        }
        self.end_string_op(Gpr::Rax, unpinned);
    }

    /// `memory.copy` within memory 0: checks both ranges (before writing
    /// anything), then copies forwards with `rep movsb`, or backwards when
    /// the destination starts inside the source (`0 < dst - src < len`),
    /// so overlapping copies read every byte before overwriting it
    /// (`memmove`).
    pub(in crate::compile) fn memory_copy(&mut self) {
        let unpinned = self.pop_string_operands(Gpr::Rsi);
        let bounded = self.bulk_bounded();
        if bounded {
            self.spill_all();
        }
        let oob = self.a.trap_label(TrapCode::MemoryOutOfBounds);
        self.check_memory_range(Gpr::Rdi, oob);
        self.check_memory_range(Gpr::Rsi, oob);
        let host = bounded.then(|| self.bulk_gate());
        self.add_memory_base(Gpr::Rdi);
        self.add_memory_base(Gpr::Rsi);
        // Unsigned `dst - src - 1 < len` means `src < dst < src + len`
        // (equal addresses wrap to the largest value and go forwards).
        let backwards = self.a.new_label();
        let done = self.a.new_label();
        self.a.lea(Size::S64, SCRATCH, Mem::base(Gpr::Rdi, -1));
        self.a.alu_rr(AluOp::Sub, Size::S64, SCRATCH, Gpr::Rsi);
        self.a.alu_rr(AluOp::Cmp, Size::S64, SCRATCH, Gpr::Rcx);
        self.a.jcc(Cond::B, backwards);
        self.a.rep_movsb();
        self.a.jmp(done);
        self.a.bind(backwards);
        self.copy_backwards(done);
        self.a.bind(done);
        if let Some(host) = host {
            self.bulk_in_host(host, Helper::MemoryCopy, Gpr::Rsi);
        }
        self.end_string_op(Gpr::Rsi, unpinned);
    }

    /// Copies `rcx` bytes from `[rsi]` to `[rdi]`, where
    /// `0 < rdi - rsi < rcx`, without overwriting a source byte before it
    /// is read; ends at `done`, which the caller binds right after.
    /// (`std; rep movsb` would do it in two instructions, but backward
    /// string moves take a slow microcoded path: 2.5 GB/s for 64 KiB on
    /// the benchmark machine, an AMD EPYC, where the loops below reach 35
    /// GB/s or more.)
    pub(in crate::compile) fn copy_backwards(&mut self, done: Label) {
        let steps = self.a.new_label();
        self.a.mov_rr(Size::S64, SCRATCH, Gpr::Rdi);
        self.a.alu_rr(AluOp::Sub, Size::S64, SCRATCH, Gpr::Rsi);
        self.a.alu_ri(AluOp::Cmp, Size::S64, SCRATCH, MIN_BLOCK);
        self.a.jcc(Cond::B, steps);
        self.copy_back_in_blocks();
        self.a.jmp(done);
        self.a.bind(steps);
        self.copy_back_in_steps(done);
    }

    /// The backward copy when the distance `d = rdi - rsi` (in `SCRATCH`)
    /// is at least [`MIN_BLOCK`]: forward `rep movsb`s of `d` bytes from
    /// the end down, then the `rcx mod d` (or `d`) bytes at the front. A
    /// block's source and destination are `d` apart, so they do not
    /// overlap, and what earlier blocks wrote lies above every byte still
    /// to be read. Faster than the 16-byte loop from [`MIN_BLOCK`] on.
    pub(in crate::compile) fn copy_back_in_blocks(&mut self) {
        let (dst, src, len) = (Gpr::Rdi, Gpr::Rsi, Gpr::Rcx);
        let (dist, left) = (SCRATCH, SCRATCH2);
        self.a.mov_rr(Size::S64, left, len);
        self.a.alu_rr(AluOp::Add, Size::S64, dst, len);
        self.a.alu_rr(AluOp::Add, Size::S64, src, len);
        // Here `left > d`: move both ends down a block, copy it (which
        // moves them back up), move them down again.
        let block = self.a.new_label();
        self.a.bind(block);
        self.a.alu_rr(AluOp::Sub, Size::S64, dst, dist);
        self.a.alu_rr(AluOp::Sub, Size::S64, src, dist);
        self.a.mov_rr(Size::S64, len, dist);
        self.a.rep_movsb();
        self.a.alu_rr(AluOp::Sub, Size::S64, dst, dist);
        self.a.alu_rr(AluOp::Sub, Size::S64, src, dist);
        self.a.alu_rr(AluOp::Sub, Size::S64, left, dist);
        self.a.alu_rr(AluOp::Cmp, Size::S64, left, dist);
        self.a.jcc(Cond::A, block);
        // The front: `0 < left <= d` bytes.
        self.a.alu_rr(AluOp::Sub, Size::S64, dst, left);
        self.a.alu_rr(AluOp::Sub, Size::S64, src, left);
        self.a.mov_rr(Size::S64, len, left);
        self.a.rep_movsb();
    }

    /// The backward copy for short distances: 16 bytes per step from the
    /// end down, then the leftover bytes at the front one by one. Each
    /// step reads its whole piece before writing it, and everything
    /// written lies above what is still to be read.
    pub(in crate::compile) fn copy_back_in_steps(&mut self, done: Label) {
        let (dst, src, len) = (Gpr::Rdi, Gpr::Rsi, Gpr::Rcx);
        let at = |r| Mem::indexed(r, len, Scale::X1, 0);
        let bytes = self.a.new_label();
        let wide = self.a.new_label();
        self.a.alu_ri(AluOp::Cmp, Size::S64, len, 16);
        self.a.jcc(Cond::B, bytes);
        self.a.bind(wide);
        self.a.alu_ri(AluOp::Sub, Size::S64, len, 16);
        self.a.sse_rm(SseOp::MOVDQU, SCRATCH_XMM, at(src));
        self.a.sse_mr(SseOp::MOVDQU_STORE, at(dst), SCRATCH_XMM);
        self.a.alu_ri(AluOp::Cmp, Size::S64, len, 16);
        self.a.jcc(Cond::Ae, wide);
        self.a.bind(bytes);
        self.a.test_rr(Size::S64, len, len);
        self.a.jcc(Cond::E, done);
        let byte = self.a.new_label();
        self.a.bind(byte);
        self.a.alu_ri(AluOp::Sub, Size::S64, len, 1);
        self.a.movzx_rm(Size::S32, Size::S8, SCRATCH, at(src));
        self.a.mov_mr(Size::S8, at(dst), SCRATCH);
        self.a.jcc(Cond::Ne, byte);
    }

    pub(in crate::compile) fn table_get(&mut self, table: u32) {
        let ty = self.env.table_types[table as usize].elem.into();
        let index = self.pop_gpr();
        let at = self.table_element(table, index, TrapCode::TableOutOfBounds);
        self.a.mov_rm(Size::S64, index, at);
        self.push_gpr(ty, index);
    }

    pub(in crate::compile) fn table_set(&mut self, table: u32) {
        let value = self.pop_gpr();
        self.ops.take_gpr(value);
        let index = self.pop_gpr();
        self.ops.free_gpr(value);
        let at = self.table_element(table, index, TrapCode::TableOutOfBounds);
        self.a.mov_mr(Size::S64, at, value);
    }

    /// `table.size`: the length from the table's view, an `i32`, or an
    /// `i64` for a table64 table.
    pub(in crate::compile) fn table_size(&mut self, table: u32) {
        let ty = self.env.table_types[table as usize].index_type();
        let r = self.alloc_gpr();
        let (base, at) = self.table_view(table);
        let size = if ty == ValType::I64 {
            Size::S64
        } else {
            Size::S32
        };
        self.a.mov_rm(
            size,
            r,
            Mem::base(base, at + offset_of!(VmTable, len) as i32),
        );
        self.push_gpr(ty, r);
    }

    /// `table.grow` in the host: the old size or -1, an `i32`, or an `i64`
    /// for a table64 table (whose delta the host reads as a full slot).
    pub(in crate::compile) fn table_grow(&mut self, table: u32) {
        let ty = self.env.table_types[table as usize].index_type();
        self.helper_with_result(Helper::TableGrow, [table, 0], 2, Some(ty));
    }

    /// Leaves to the host for `helper` with two immediates and the top
    /// `operands` values; pushes the `i32` result if `result`.
    pub(in crate::compile) fn helper(
        &mut self,
        helper: Helper,
        imms: [u32; 2],
        operands: usize,
        result: bool,
    ) {
        self.helper_with_result(helper, imms, operands, result.then_some(ValType::I32));
    }

    /// [`Self::helper`] with a result of type `result` (`i32` or `i64`),
    /// read from slot 0.
    pub(in crate::compile) fn helper_with_result(
        &mut self,
        helper: Helper,
        imms: [u32; 2],
        operands: usize,
        result: Option<ValType>,
    ) {
        let area = (8 * (2 + operands) as u32).next_multiple_of(16);
        self.reserve_call_area(area);
        let base = self.ops.len() - operands;
        for k in 0..operands {
            self.store_operand(Mem::base(Gpr::Rsp, 16 + 8 * k as i32), base + k);
        }
        for _ in 0..operands {
            self.pop();
        }
        self.spill_all();
        self.call_helper(helper, imms);
        if let Some(ty) = result {
            let r = self.alloc_gpr();
            let size = if ty == ValType::I64 {
                Size::S64
            } else {
                Size::S32
            };
            self.a.mov_rm(size, r, Mem::base(Gpr::Rsp, 0));
            self.push_gpr(ty, r);
        }
    }

    /// Leaves for `helper` with the area at `rsp` (its operands already
    /// stored, everything else spilled), after storing its immediates.
    /// With fuel or interruption checks it then pauses while the host says
    /// so ([`HelperStatus`]), running the helper again after each resume.
    pub(in crate::compile) fn call_helper(&mut self, helper: Helper, imms: [u32; 2]) {
        self.a
            .mov_mi(Size::S64, Mem::base(Gpr::Rsp, 0), imms[0] as i32);
        self.a
            .mov_mi(Size::S64, Mem::base(Gpr::Rsp, 8), imms[1] as i32);
        let again = self.a.new_label();
        self.a.bind(again);
        self.exit_with_area(ExitCode::Helper, helper as i32);
        if self.bulk_bounded() {
            const _: () = assert!(
                HelperStatus::OutOfFuel as u64 == 1 && HelperStatus::Interrupted as u64 == 2
            );
            self.a
                .mov_rm(Size::S64, SCRATCH, vmctx(offset_of!(VmContext, exec)));
            self.a.alu_mi(
                AluOp::Cmp,
                Size::S64,
                Mem::base(SCRATCH, offset_of!(ExecContext, payload) as i32),
                1,
            );
            let out_of_fuel = self.a.new_label();
            let interrupted = self.a.new_label();
            self.a.jcc(Cond::E, out_of_fuel);
            self.a.jcc(Cond::A, interrupted);
            self.slow_exits
                .push((out_of_fuel, ExitCode::OutOfFuel, again));
            self.slow_exits
                .push((interrupted, ExitCode::Interrupted, again));
        }
    }
}
