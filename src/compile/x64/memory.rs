//! Lowering of loads, stores, `memory.size` and `memory.grow`.
//!
//! By default every access is bounds-checked explicitly: the effective
//! address (`zero-extended i32 address + offset`, computed in 64 bits, so it
//! never wraps) plus the access size is compared against the memory's
//! current length in the `VmContext`, and the access traps with "out of
//! bounds memory access" when it would end beyond it. Two checks are
//! skipped because they cannot fail: a constant address below the declared
//! minimum size, and an access through a register-pinned local whose
//! current value already passed a check reaching at least as far
//! (`FuncCompiler::checked_ends`; memories never shrink). A function whose
//! accesses of one size outweigh its least used register-pinned integer
//! local keeps that size's bound in a register instead
//! ([`super::frame::MEMORY_LAST`]), reloaded with the memory base after
//! every call and exit; its checks then load nothing, where a load from
//! the context would compete with the accesses for the load ports. The
//! accesses of other sizes compare with that register too, their address
//! moved by the difference of sizes, or, for a smaller access without
//! offset, as it is, with an exact check out of line for the last bytes
//! (`FuncCompiler::check_against_last`).
//!
//! In guard-region mode ([`super::super::CompileOptions::guard_region`]) there is
//! no check: the effective address is at most 2^33 + 16 bytes past the
//! memory base, everything past the memory's length up to
//! [`crate::abi::GUARD_REGION_BYTES`] is inaccessible, and the runtime turns the
//! fault into the same trap. A module whose memory 0 has 1-byte pages is
//! never compiled in that mode (guard pages cover whole host pages, its
//! length need not fill one), so its accesses keep explicit checks.
//!
//! `memory.size` shifts the length in bytes by memory 0's page size's log2
//! (`Env::memory_page_log2`); `memory.grow` passes its delta in the
//! memory's own pages, which the runtime counts in.
//!
//! All of this is memory 0's fast path, for a 32-bit memory 0: the other
//! memories and 64-bit ones go to `memories` ([`FuncCompiler::checked_address`]),
//! which always checks explicitly.

use super::super::func::FuncCompiler;
use super::super::stack::Loc;
use super::regs::{SCRATCH, SCRATCH2};
use super::{memory_last_field, vmctx};
use crate::abi::{ExecContext, ExitCode, GROW_OUT_OF_FUEL, TrapCode, VmContext};
use crate::asm::x64::{AluOp, Assembler, Cond, Gpr, Label, Mem, Scale, Size, SseOp, Xmm};
use crate::decode::{MemArg, ValType};
use core::mem::offset_of;

/// How a load widens its value.
#[derive(Clone, Copy)]
pub(in crate::compile) enum Load {
    /// Plain move of 4 or 8 bytes.
    Int(Size),
    Zx(Size, Size),
    Sx(Size, Size),
    /// Sign-extend 32 to 64.
    Sx32,
    Float(SseOp),
}

impl FuncCompiler<'_, '_, '_> {
    /// Pops the address, checks `[addr + offset, + size)` against the
    /// memory length, and returns the operand to access. The returned
    /// operand uses `SCRATCH` (and `SCRATCH2` for offsets beyond 2^31).
    pub(crate) fn address(&mut self, memarg: MemArg, size: u32) -> Mem {
        if !self.fast_memory(memarg.memory) {
            return self.checked_address(memarg, size);
        }
        if self.env.options.guard_region {
            return self.guarded_address(memarg);
        }
        let base = vmctx(offset_of!(VmContext, memory_base));
        let (addr, offset) = self.pop_address(memarg);
        let end = offset + u64::from(size);
        match addr {
            Some((addr, pinned)) if end <= i32::MAX as u64 => {
                // A local's value already checked this far needs no check.
                let checked = &mut self.checked_ends[addr.enc() as usize & 15];
                if !pinned || end > *checked {
                    if pinned {
                        *checked = end;
                    }
                    match self.frame.memory_last {
                        Some((last, lk)) => self.check_against_last(addr, offset, size, last, lk),
                        None => self.check_against_context(addr, offset, size),
                    }
                }
                let b = self.base_register(base);
                Mem::indexed(b, addr, Scale::X1, offset as i32)
            }
            Some((addr, _)) => {
                self.a.mov_ri(Size::S64, SCRATCH2, offset as i64);
                self.a.alu_rr(AluOp::Add, Size::S64, SCRATCH2, addr);
                self.a
                    .lea(Size::S64, SCRATCH, Mem::base(SCRATCH2, size as i32));
                self.trap_if_scratch_beyond_memory();
                match self.frame.memory_base {
                    Some(b) => self.a.alu_rr(AluOp::Add, Size::S64, SCRATCH2, b),
                    None => self.a.alu_rm(AluOp::Add, Size::S64, SCRATCH2, base),
                }
                Mem::base(SCRATCH2, 0)
            }
            None => {
                // Memories never shrink: a constant access within the
                // declared minimum size is always in bounds.
                if end > self.env.min_memory_bytes {
                    self.a.mov_ri(Size::S64, SCRATCH, end as i64);
                    self.trap_if_scratch_beyond_memory();
                }
                let b = self.base_register(base);
                if offset <= i32::MAX as u64 {
                    Mem::base(b, offset as i32)
                } else {
                    self.a.mov_ri(Size::S64, SCRATCH2, offset as i64);
                    Mem::indexed(b, SCRATCH2, Scale::X1, 0)
                }
            }
        }
    }

    /// Checks `[addr + offset, + size)` (`offset + size` below 2^31)
    /// against the bound register `last`, which holds
    /// `VmContext::memory_last[lk]`: the access is in bounds when
    /// `addr + offset + size - 2^lk <= last` (signed; `addr` is
    /// zero-extended, so nothing wraps). An access of the bound's size
    /// compares its first address; another one compares its address moved
    /// by the difference, except two kinds that keep a single instruction:
    /// a larger access without offset compares with its own bound in the
    /// context, and a smaller one without offset compares its address with
    /// `last` as it is. That comparison is stricter than the access needs
    /// (it rejects the last `2^lk - size` addresses that fit), so it jumps
    /// out of line to the exact check against the access's own bound,
    /// which traps or comes back ([`BoundRecheck`]).
    ///
    /// Most accesses take the one comparison at the end; the two kinds
    /// without offset are out of line
    /// ([`Self::check_other_size_against_last`]).
    #[inline(never)]
    fn check_against_last(&mut self, addr: Gpr, offset: u64, size: u32, last: Gpr, lk: u32) {
        let unit = 1u64 << lk;
        if offset == 0 && size <= 16 && size.is_power_of_two() && u64::from(size) != unit {
            return self.check_other_size_against_last(addr, size, last, unit);
        }
        // `offset + size` is below 2^31 and `unit` at most 16. The `lea`
        // is the plain assembler's: the comparison after it leaves the
        // peephole nothing to rewrite.
        let shift = (offset + u64::from(size)) as i64 - unit as i64;
        let first = if shift == 0 {
            addr
        } else {
            let plain: &mut Assembler = &mut self.a;
            plain.lea(Size::S64, SCRATCH, Mem::base(addr, shift as i32));
            SCRATCH
        };
        self.a.alu_rr(AluOp::Cmp, Size::S64, first, last);
        self.a.trap_if(Cond::G, TrapCode::MemoryOutOfBounds);
    }

    /// [`Self::check_against_last`] of an access without offset whose size
    /// (a power of two up to 16) is not the bound's `unit`: a larger one
    /// compares with its own bound in the context, a smaller one with
    /// `last` and, out of line, exactly ([`BoundRecheck`]).
    #[inline(never)]
    fn check_other_size_against_last(&mut self, addr: Gpr, size: u32, last: Gpr, unit: u64) {
        if u64::from(size) > unit {
            return self.check_against_own_last(addr, size);
        }
        let slow = self.a.new_label();
        let back = self.a.new_label();
        let trap = self.a.trap_label(TrapCode::MemoryOutOfBounds);
        self.a.alu_rr(AluOp::Cmp, Size::S64, addr, last);
        self.a.jcc(Cond::G, slow);
        self.a.bind(back);
        self.bound_rechecks.push(BoundRecheck {
            slow,
            back,
            addr,
            k: size.trailing_zeros(),
            trap,
        });
    }

    /// Checks `[addr + offset, + size)` (`offset + size` below 2^31)
    /// against the bounds in the context, for a function without a bound
    /// register. The access is in bounds when `addr + offset + size` is at
    /// most the length: when that sum's constant part is a power of two
    /// up to 16 (an access without offset, or one such as `i32.load
    /// offset=4` or `i64.load offset=8`), `addr` alone is compared with
    /// the context's last address for that many bytes, one instruction
    /// less than adding first.
    fn check_against_context(&mut self, addr: Gpr, offset: u64, size: u32) {
        let end = offset + u64::from(size);
        if end.is_power_of_two() && end <= 16 {
            self.check_against_own_last(addr, end as u32);
        } else {
            self.a.lea(Size::S64, SCRATCH, Mem::base(addr, end as i32));
            self.trap_if_scratch_beyond_memory();
        }
    }

    /// Traps unless `addr` is at most the last address where an access of
    /// `size` bytes (a power of two up to 16) fits, read from the context:
    /// no addition first.
    fn check_against_own_last(&mut self, addr: Gpr, size: u32) {
        self.a.alu_rm(
            AluOp::Cmp,
            Size::S64,
            addr,
            memory_last_field(size.trailing_zeros()),
        );
        self.a.trap_if(Cond::G, TrapCode::MemoryOutOfBounds);
    }

    /// Emits the out-of-line exact checks of [`Self::check_against_last`],
    /// after the function's body.
    pub(crate) fn emit_bound_rechecks(&mut self) {
        for r in core::mem::take(&mut self.bound_rechecks) {
            self.a.bind(r.slow);
            self.a
                .alu_rm(AluOp::Cmp, Size::S64, r.addr, memory_last_field(r.k));
            self.a.jcc(Cond::G, r.trap);
            self.a.jmp(r.back);
        }
    }

    /// Pops a load's or store's address operand. A constant folds into the
    /// offset (`None`); otherwise its register, only to be read, and
    /// whether it is a pinned local's.
    pub(in crate::compile) fn pop_address(&mut self, memarg: MemArg) -> (Option<(Gpr, bool)>, u64) {
        match self.peek(0).loc {
            Loc::Const(c) => {
                self.pop();
                (None, (c as u32) as u64 + memarg.offset)
            }
            // The result of a `local.tee` of a pinned local: access through
            // the local's register, which holds the same value.
            Loc::Gpr(r) if self.ops.tee_alias[r.enc() as usize & 15].is_some() => {
                let pin = self.ops.tee_alias[r.enc() as usize & 15];
                self.pop();
                (pin.map(|p| (p, true)), memarg.offset)
            }
            loc => {
                let pinned = matches!(loc, Loc::PinnedGpr(_));
                (Some((self.pop_gpr_read(), pinned)), memarg.offset)
            }
        }
    }

    /// Traps with "out of bounds memory access" when the access end in
    /// `SCRATCH` lies beyond the memory's current length.
    pub(in crate::compile) fn trap_if_scratch_beyond_memory(&mut self) {
        self.compare_scratch_with_memory_len();
        self.a.trap_if(Cond::A, TrapCode::MemoryOutOfBounds);
    }

    /// Jumps to `oob` when the access end in `SCRATCH` lies beyond the
    /// memory's current length.
    pub(crate) fn jump_if_scratch_beyond_memory(&mut self, oob: Label) {
        self.compare_scratch_with_memory_len();
        self.a.jcc(Cond::A, oob);
    }

    /// Compares the access end in `SCRATCH` with the memory's current
    /// length: above (`Cond::A`) means out of bounds.
    fn compare_scratch_with_memory_len(&mut self) {
        self.a.alu_rm(
            AluOp::Cmp,
            Size::S64,
            SCRATCH,
            vmctx(offset_of!(VmContext, memory_len)),
        );
    }

    /// [`Self::address`] in guard-region mode: no check; the code from here
    /// to the end of the operator is a fault site, so a fault in it traps
    /// as out of bounds.
    pub(in crate::compile) fn guarded_address(&mut self, memarg: MemArg) -> Mem {
        let base = vmctx(offset_of!(VmContext, memory_base));
        let (addr, offset) = self.pop_address(memarg);
        let b = self.base_register(base);
        let at = match addr {
            Some((addr, _)) if offset <= i32::MAX as u64 => {
                Mem::indexed(b, addr, Scale::X1, offset as i32)
            }
            None if offset <= i32::MAX as u64 => Mem::base(b, offset as i32),
            _ => {
                self.a.mov_ri(Size::S64, SCRATCH2, offset as i64);
                if let Some((addr, _)) = addr {
                    self.a.alu_rr(AluOp::Add, Size::S64, SCRATCH2, addr);
                }
                Mem::indexed(b, SCRATCH2, Scale::X1, 0)
            }
        };
        self.a.open_fault_site();
        at
    }

    /// The register holding the memory base: the function's dedicated one,
    /// or `SCRATCH` loaded from the context.
    pub(in crate::compile) fn base_register(&mut self, base: Mem) -> Gpr {
        match self.frame.memory_base {
            Some(b) => b,
            None => {
                self.a.mov_rm(Size::S64, SCRATCH, base);
                SCRATCH
            }
        }
    }

    pub(in crate::compile) fn load(&mut self, memarg: MemArg, size: u32, ty: ValType, kind: Load) {
        // The address register is popped inside `address` and can hold the
        // result afterwards; allocate the destination after it.
        let at = self.address(memarg, size);
        match kind {
            Load::Float(op) => {
                let x: Xmm = self.alloc_xmm();
                self.a.sse_rm(op, x, at);
                self.push_xmm(ty, x);
            }
            _ => {
                let r = self.alloc_gpr_except(&[SCRATCH, SCRATCH2]);
                match kind {
                    Load::Int(s) => self.a.mov_rm(s, r, at),
                    Load::Zx(to, from) => self.a.movzx_rm(to, from, r, at),
                    Load::Sx(to, from) => self.a.movsx_rm(to, from, r, at),
                    Load::Sx32 => self.a.movsxd_rm(r, at),
                    Load::Float(_) => unreachable!(),
                }
                self.push_gpr(ty, r);
            }
        }
    }

    pub(in crate::compile) fn store(&mut self, memarg: MemArg, size: Size) {
        let v = self.peek(0);
        match v.ty {
            ValType::F32 | ValType::F64 => {
                let x = self.pop_xmm_read();
                self.ops.take_xmm(x);
                let at = self.address(memarg, size.bytes());
                self.ops.free_xmm(x);
                let op = if v.ty == ValType::F32 {
                    SseOp::MOVSS_STORE
                } else {
                    SseOp::MOVSD_STORE
                };
                self.a.sse_mr(op, at, x);
            }
            _ => {
                // A constant goes in as an immediate, not through a
                // register (a 64-bit one if it fits sign-extended in 32).
                if let Loc::Const(bits) = v.loc
                    && let Some(imm) = store_immediate(size, bits)
                {
                    self.pop();
                    let at = self.address(memarg, size.bytes());
                    self.a.mov_mi(size, at, imm);
                    return;
                }
                let r = self.pop_gpr_read();
                self.ops.take_gpr(r);
                let at = self.address(memarg, size.bytes());
                self.ops.free_gpr(r);
                self.a.mov_mr(size, at, r);
            }
        }
    }

    /// `memory.grow` leaves to the host. With fuel, the host may answer
    /// [`GROW_OUT_OF_FUEL`] (the growth's fuel exceeds the fuel left): the
    /// code then pauses with `OutOfFuel` and asks again when resumed, so
    /// `delta` waits in the call area meanwhile. Other memories than a
    /// 32-bit memory 0 take [`Self::memory_grow_other`].
    pub(in crate::compile) fn memory_grow(&mut self, mem: u32) {
        if !self.fast_memory(mem) {
            return self.memory_grow_other(mem);
        }
        let delta = self.pop_gpr();
        self.spill_all();
        let fuel = self.env.options.fuel;
        // payload = memory index (0) << 32 | delta
        self.a.mov_rr(Size::S32, delta, delta);
        let again = self.a.new_label();
        if fuel {
            self.reserve_call_area(16);
            self.a.mov_mr(Size::S64, Mem::base(Gpr::Rsp, 0), delta);
            self.a.bind(again);
            self.a.mov_rm(Size::S64, delta, Mem::base(Gpr::Rsp, 0));
        }
        self.a
            .mov_rm(Size::S64, SCRATCH, vmctx(offset_of!(VmContext, exec)));
        self.a.mov_mr(
            Size::S64,
            Mem::base(SCRATCH, offset_of!(ExecContext, payload) as i32),
            delta,
        );
        self.exit_to_host(ExitCode::MemoryGrow);
        if fuel {
            const _: () = assert!(GROW_OUT_OF_FUEL == u64::MAX);
            self.a
                .mov_rm(Size::S64, SCRATCH, vmctx(offset_of!(VmContext, exec)));
            self.a.alu_mi(
                AluOp::Cmp,
                Size::S64,
                Mem::base(SCRATCH, offset_of!(ExecContext, payload) as i32),
                -1,
            );
            let out_of_fuel = self.a.new_label();
            self.a.jcc(Cond::E, out_of_fuel);
            self.slow_exits
                .push((out_of_fuel, ExitCode::OutOfFuel, again));
        }
        let r = self.alloc_gpr();
        self.a
            .mov_rm(Size::S64, SCRATCH, vmctx(offset_of!(VmContext, exec)));
        self.a.mov_rm(
            Size::S32,
            r,
            Mem::base(SCRATCH, offset_of!(ExecContext, payload) as i32),
        );
        self.push_gpr(ValType::I32, r);
    }
}

/// An access smaller than the bound register's size whose address failed
/// the comparison with that register: the exact check, out of line.
pub(crate) struct BoundRecheck {
    /// Where the failed comparison jumps.
    slow: Label,
    /// Where the access continues when it is in bounds after all.
    back: Label,
    /// The address register, unchanged since the comparison.
    addr: Gpr,
    /// The access is `2^k` bytes without offset.
    k: u32,
    /// The access's trap exit.
    trap: Label,
}

/// The `mov [mem], imm` immediate storing `bits` at `size`, if there is one
/// (narrower stores keep the low bits).
pub(in crate::compile) fn store_immediate(size: Size, bits: u64) -> Option<i32> {
    match size {
        Size::S64 => i32::try_from(bits as i64).ok(),
        _ => Some(bits as i32),
    }
}
