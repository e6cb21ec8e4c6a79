//! Accesses to the memories other than a 32-bit memory 0 (multi-memory
//! and memory64): loads, stores, `memory.size` and `memory.grow`.
//!
//! Memory 0, when its addresses are 32-bit, keeps the fast path of
//! `memory`: its base (and maybe a bound) in registers, guard regions when
//! configured. Every other memory is reached through the context: memory
//! `N`'s [`VmMemory`] record is at `VmContext::memories[N]`, two loads
//! away, and holds its base and length, which the runtime rewrites when it
//! grows. A 64-bit memory 0 keeps its register-held base but not the
//! bound register nor the guard region.
//!
//! Their accesses always check their bounds explicitly, in both memory
//! modes: a guard region covers a 32-bit index plus a 32-bit offset, not a
//! 64-bit address space, and the memories other than 0 are not placed in
//! one. The check computes the access's end `address + offset + size`
//! without wrapping: a 32-bit address and offset cannot reach 2^64, and for
//! a 64-bit address the addition's carry traps; an offset whose sum with
//! the size exceeds 2^64 - 1 makes the access trap unconditionally. The end
//! is then compared (unsigned) with the memory's length. A constant
//! address whose end lies within the memory's declared minimum needs no
//! check, as for memory 0 (memories only grow, and an imported memory is
//! at least as large as its import declares).
//!
//! `memory.grow` leaves with the memory's index in the payload's upper
//! half (see [`ExitCode::MemoryGrow`]); a 64-bit memory's delta beyond
//! `u32::MAX` pages is refused in the code itself, since the runtime never
//! grows a memory past 4 GiB, and the host answers it with a 64-bit
//! payload in which a refusal is [`GROW_REFUSED_64`], since with 1-byte
//! pages any 32-bit old size may occur.

use super::super::func::FuncCompiler;
use super::super::stack::Loc;
use super::regs::{SCRATCH, SCRATCH2};
use super::vmctx;
use crate::abi::{
    ExecContext, ExitCode, GROW_OUT_OF_FUEL, GROW_REFUSED_64, TrapCode, VmContext, VmMemory,
};
use crate::asm::x64::{AluOp, Cond, Gpr, Mem, Scale, ShiftOp, Size};
use crate::decode::{MemArg, ValType};
use core::mem::offset_of;

impl FuncCompiler<'_, '_, '_> {
    /// True when memory `mem` takes memory 0's fast path: it is memory 0
    /// and its addresses are 32-bit.
    pub(in crate::compile) fn fast_memory(&self, mem: u32) -> bool {
        mem == 0 && !self.memory64(0)
    }

    /// True when memory `mem` has 64-bit addresses.
    pub(in crate::compile) fn memory64(&self, mem: u32) -> bool {
        self.env
            .memories
            .get(mem as usize)
            .is_some_and(|m| m.memory64)
    }

    /// The type of memory `mem`'s addresses and sizes.
    pub(in crate::compile) fn memory_index_type(&self, mem: u32) -> ValType {
        if self.memory64(mem) {
            ValType::I64
        } else {
            ValType::I32
        }
    }

    /// Loads the address of memory `mem`'s [`VmMemory`] into `into`.
    pub(in crate::compile) fn load_memory_record(&mut self, mem: u32, into: Gpr) {
        self.a
            .mov_rm(Size::S64, into, vmctx(offset_of!(VmContext, memories)));
        // Validated: `mem` is below the module's count of memories.
        self.a
            .mov_rm(Size::S64, into, Mem::base(into, 8 * mem as i32));
    }

    /// Makes memory `mem`'s length readable and returns its operand: for
    /// memory 0 the context's field, otherwise its record's, whose address
    /// this loads into `SCRATCH` (which [`Self::memory_base_into_scratch`]
    /// then needs).
    fn memory_len_operand(&mut self, mem: u32) -> Mem {
        if mem == 0 {
            vmctx(offset_of!(VmContext, memory_len))
        } else {
            self.load_memory_record(mem, SCRATCH);
            Mem::base(SCRATCH, offset_of!(VmMemory, len) as i32)
        }
    }

    /// The register holding memory `mem`'s base after
    /// [`Self::memory_len_operand`]: memory 0's dedicated one, or `SCRATCH`
    /// loaded from the context or the record `SCRATCH` points to.
    fn memory_base_into_scratch(&mut self, mem: u32) -> Gpr {
        if mem == 0 {
            return self.base_register(vmctx(offset_of!(VmContext, memory_base)));
        }
        self.a.mov_rm(
            Size::S64,
            SCRATCH,
            Mem::base(SCRATCH, offset_of!(VmMemory, base) as i32),
        );
        SCRATCH
    }

    /// [`Self::address`] for a memory other than a 32-bit memory 0: pops
    /// the address, checks `[addr + offset, + size)` against the memory's
    /// current length without wrapping (see the module docs), and returns
    /// the operand to access, which uses `SCRATCH` and `SCRATCH2`.
    pub(in crate::compile) fn checked_address(&mut self, memarg: MemArg, size: u32) -> Mem {
        let mem = memarg.memory;
        let wide = self.memory64(mem);
        let oob = self.a.trap_label(TrapCode::MemoryOutOfBounds);
        let addr = match self.peek(0).loc {
            Loc::Const(c) => {
                self.pop();
                Err(if wide { c } else { u64::from(c as u32) })
            }
            _ => Ok(self.pop_gpr_read()),
        };
        match addr {
            Ok(addr) => {
                let end = u128::from(memarg.offset) + u128::from(size);
                let len = self.memory_len_operand(mem);
                // SCRATCH2 = addr + offset + size, trapping on a carry.
                match u64::try_from(end) {
                    Ok(end) if end <= i32::MAX as u64 && !wide => {
                        self.a.lea(Size::S64, SCRATCH2, Mem::base(addr, end as i32));
                    }
                    Ok(end) => {
                        self.a.mov_ri(Size::S64, SCRATCH2, end as i64);
                        self.a.alu_rr(AluOp::Add, Size::S64, SCRATCH2, addr);
                        if wide {
                            self.a.jcc(Cond::B, oob);
                        }
                    }
                    Err(_) => self.a.jmp(oob),
                }
                self.a.alu_rm(AluOp::Cmp, Size::S64, SCRATCH2, len);
                self.a.jcc(Cond::A, oob);
                let base = self.memory_base_into_scratch(mem);
                match i32::try_from(memarg.offset) {
                    Ok(offset) => Mem::indexed(base, addr, Scale::X1, offset),
                    Err(_) => {
                        // In bounds, so `addr + offset` did not wrap.
                        self.a
                            .lea(Size::S64, SCRATCH2, Mem::base(SCRATCH2, -(size as i32)));
                        Mem::indexed(base, SCRATCH2, Scale::X1, 0)
                    }
                }
            }
            Err(addr) => {
                let at = u128::from(addr) + u128::from(memarg.offset);
                let end = at + u128::from(size);
                let min = self
                    .env
                    .memories
                    .get(mem as usize)
                    .map_or(0, |m| m.limits.min.saturating_mul(m.page_size()));
                let len = self.memory_len_operand(mem);
                if end > u128::from(min) {
                    match u64::try_from(end) {
                        Ok(end) => {
                            self.a.mov_ri(Size::S64, SCRATCH2, end as i64);
                            self.a.alu_rm(AluOp::Cmp, Size::S64, SCRATCH2, len);
                            self.a.jcc(Cond::A, oob);
                        }
                        Err(_) => self.a.jmp(oob),
                    }
                }
                let base = self.memory_base_into_scratch(mem);
                match i32::try_from(at) {
                    Ok(at) => Mem::base(base, at),
                    Err(_) => {
                        // Reached only when in bounds, so below 2^64.
                        self.a.mov_ri(Size::S64, SCRATCH2, at as u64 as i64);
                        Mem::indexed(base, SCRATCH2, Scale::X1, 0)
                    }
                }
            }
        }
    }

    /// `memory.size` of memory `mem`: its length in bytes counted in its
    /// own pages, as its index type.
    pub(in crate::compile) fn memory_size(&mut self, mem: u32) {
        let r = self.alloc_gpr();
        if mem == 0 {
            self.a
                .mov_rm(Size::S64, r, vmctx(offset_of!(VmContext, memory_len)));
        } else {
            self.load_memory_record(mem, r);
            self.a
                .mov_rm(Size::S64, r, Mem::base(r, offset_of!(VmMemory, len) as i32));
        }
        let log2 = self
            .env
            .memories
            .get(mem as usize)
            .map_or(0, |m| m.page_size_log2().min(63));
        if log2 != 0 {
            self.a.shift_ri(ShiftOp::Shr, Size::S64, r, log2 as u8);
        }
        let ty = self.memory_index_type(mem);
        self.push_gpr(ty, r);
    }

    /// `memory.grow` of a memory other than a 32-bit memory 0: as
    /// [`Self::memory_grow`], with the memory's index in the payload, and
    /// for a 64-bit memory the delta's upper half checked first and the
    /// result widened.
    pub(in crate::compile) fn memory_grow_other(&mut self, mem: u32) {
        let wide = self.memory64(mem);
        let delta = self.pop_gpr();
        self.spill_all();
        let fuel = self.env.options.fuel;
        let refused = wide.then(|| self.a.new_label());
        if let Some(refused) = refused {
            self.a.mov_rr(Size::S64, SCRATCH, delta);
            self.a.shift_ri(ShiftOp::Shr, Size::S64, SCRATCH, 32);
            self.a.jcc(Cond::Ne, refused);
        }
        // payload = memory index << 32 | delta
        self.a.mov_rr(Size::S32, delta, delta);
        if mem != 0 {
            self.a
                .mov_ri(Size::S64, SCRATCH, (u64::from(mem) << 32) as i64);
            self.a.alu_rr(AluOp::Or, Size::S64, delta, SCRATCH);
        }
        let again = self.a.new_label();
        if fuel {
            self.reserve_call_area(16);
            self.a.mov_mr(Size::S64, Mem::base(Gpr::Rsp, 0), delta);
            self.a.bind(again);
            self.a.mov_rm(Size::S64, delta, Mem::base(Gpr::Rsp, 0));
        }
        self.a
            .mov_rm(Size::S64, SCRATCH, vmctx(offset_of!(VmContext, exec)));
        let payload = Mem::base(SCRATCH, offset_of!(ExecContext, payload) as i32);
        self.a.mov_mr(Size::S64, payload, delta);
        self.exit_to_host(ExitCode::MemoryGrow);
        if fuel {
            const _: () = assert!(GROW_OUT_OF_FUEL == u64::MAX);
            self.a
                .mov_rm(Size::S64, SCRATCH, vmctx(offset_of!(VmContext, exec)));
            self.a.alu_mi(AluOp::Cmp, Size::S64, payload, -1);
            let out_of_fuel = self.a.new_label();
            self.a.jcc(Cond::E, out_of_fuel);
            self.slow_exits
                .push((out_of_fuel, ExitCode::OutOfFuel, again));
        }
        let r = self.alloc_gpr();
        self.a
            .mov_rm(Size::S64, SCRATCH, vmctx(offset_of!(VmContext, exec)));
        if let Some(refused) = refused {
            // The whole payload: the old size or `GROW_REFUSED_64`.
            const _: () = assert!(GROW_REFUSED_64 as i64 == -2);
            self.a.mov_rm(Size::S64, r, payload);
            let done = self.a.new_label();
            self.a.alu_ri(AluOp::Cmp, Size::S64, r, -2);
            self.a.jcc(Cond::Ne, done);
            self.a.bind(refused);
            self.a.mov_ri(Size::S64, r, -1);
            self.a.bind(done);
        } else {
            self.a.mov_rm(Size::S32, r, payload);
        }
        let ty = self.memory_index_type(mem);
        self.push_gpr(ty, r);
    }
}
