//! Compilation of one function. [`FuncCompiler`] holds the function's
//! state; each concern is an `impl` block in its own file:
//!
//! - `frame`: frame layout, pinned locals, prologue, fuel checkpoints and
//!   the function's end (frame size, trap exits, constants);
//! - `operands`: the operand stack and register allocation;
//! - `control`: control frames, merges, branches, `br_table`, returns;
//! - `calls`: calls, tables and exits to the host;
//! - `tail`: tail calls (`return_call`, `return_call_indirect`);
//! - `variables`: locals and globals;
//! - `lower`: the per-operator entry point.
//!
//! Numeric, memory, bulk and vector operators are lowered in the sibling
//! modules of the same names as further `impl` blocks; the machine's
//! instruction idioms, trap exits, code sites and peephole belong to the
//! macro assembler (`super::x64::masm`), which this module drives.
//!
//! Frame layout (`rbp`-relative, growing down):
//! ```text
//! [rbp + 16 ..]         the caller's argument/result area (parameters)
//! [rbp + 8]             return address
//! [rbp]                 caller's rbp
//! [rbp - 8]             this function's r15 (VmContext), restored after
//!                       calls that switch instances
//! [rbp - 16 ..]         the caller's values of the pin registers this
//!                       function uses (callee-saved, see [`PIN_GPRS`])
//! [.. - locals]         declared locals (8 bytes each, 16 for v128)
//! home slots            16 bytes per operand stack position
//! save slots            copies of `if` parameters for the `else` branch
//! [rsp ..]              outgoing argument/result area of calls
//! ```
//! Merge convention: at every label (block ends, loop headers, `else`) all
//! operands below the frame are in their home slots (spilled when the
//! frame began). The values a branch carries go to the home slots of the
//! target's positions, except the single result of a block or `if` without
//! parameters: it meets in a register ([`MERGE_GPR`] or [`MERGE_XMM`],
//! see [`FuncCompiler::merge_reg`]), and the code after the `end` takes it
//! from there, as Liftoff keeps merged values in registers where the merge
//! allows.
//!
//! Operands do not otherwise stay in registers across a block's start:
//! what lives across blocks in compiled programs is locals, pinned in
//! registers for the whole function; values on the operand stack when a
//! block begins are rare in compiled code (see `benches/results.md`).
//!
//! Writes to a pinned local need no copy when the value's last instruction
//! was a load or `lea` into a fresh register: `local.set` has the macro
//! assembler make the local's register that instruction's destination
//! (`MacroAssembler::redefine_last_gpr`), and a sum's `add` becomes a `lea`
//! into it, so `x = y + z` and `x = x + 8` are one instruction.

use super::Env;
use super::dispatch::{Dispatch, TableJump, Watch};
use super::stack::{ALLOCATABLE_GPRS, Loc, RegSet, Val, is_float};
use super::x64::masm::MacroAssembler;
use crate::abi::{ExitCode, VmContext, slot_offsets};
use crate::asm::x64::{Assembler, Gpr, Label, Mem, SseOp};
use crate::decode::{BlockType, FuncType, FunctionBody, Operator, ValType, read_operator_inline};
use crate::error::{Error, Result};
use crate::validate::{FuncInfo, LocalUse};
use alloc::vec::Vec;
use core::mem::offset_of;
use hashbrown::HashMap;

mod calls;
mod control;
mod frame;
mod lower;
mod operands;
mod tail;
mod variables;

use calls::*;
use control::*;
pub(crate) use frame::*;
use operands::*;

/// The buffers of a [`FuncCompiler`], kept by a compiling thread from one
/// function to the next, so a module's thousands of functions do not each
/// allocate them anew (a kernel's simple allocator pays more per
/// allocation than a libc one).
///
/// The assembler and the site lists are not emptied between functions:
/// each function's code follows the previous one's in the same buffer, so
/// the thread's output is one piece of code ([`Scratch::finish`]), with
/// no per-function copies.
#[derive(Default)]
pub(crate) struct Scratch {
    a: MacroAssembler,
    stack: Vec<Val>,
    frames: Vec<Frame>,
    locals: Vec<Local>,
    offsets: Vec<u32>,
    order: Vec<LocalUse>,
    jump_tables: Vec<(Label, Vec<Label>)>,
    slow_exits: Vec<(Label, ExitCode, Label)>,
    v128_consts: super::x64::simd::V128Pool,
}

impl Scratch {
    /// A scratch whose code goes into `buf` (emptied first).
    pub(crate) fn with_code_buffer(buf: Vec<u8>) -> Scratch {
        Scratch {
            a: MacroAssembler::with_buffer(buf),
            ..Scratch::default()
        }
    }

    /// Makes room for the code of functions with `wasm_bytes` of bodies,
    /// and for their calls' relocations and backtrace sites: each of these
    /// buffers lives through the whole module, and growing one by doubling
    /// copies it each time and touches twice its memory. Machine code runs
    /// about 2.5 times the size of the wasm; compiled C has a call or trap
    /// site about every 35 bytes of wasm.
    pub(crate) fn reserve(&mut self, wasm_bytes: usize) {
        self.a.reserve(wasm_bytes.saturating_mul(3) + 4096);
        self.a.reserve_relocs(wasm_bytes / 32);
        self.a.reserve_sites(wasm_bytes / 32);
    }

    /// The assembler, to emit code ahead of the functions (the stubs).
    pub(crate) fn assembler(&mut self) -> &mut Assembler {
        &mut self.a
    }

    /// The code of every function compiled with this scratch, one after
    /// another, with its backtrace sites and fault sites (offsets in that
    /// code, ascending); `funcs` says where each function starts.
    pub(crate) fn finish(self, funcs: Vec<(usize, u32)>) -> Result<super::Chunk> {
        let (a, sites, fault_sites) = self.a.into_parts();
        let code = a
            .finish()
            .map_err(|e| Error::internal("assembling a function failed").with_detail(e))?;
        Ok(super::Chunk {
            code,
            sites,
            fault_sites,
            funcs,
        })
    }
}

fn reuse<T>(v: &mut Vec<T>) -> Vec<T> {
    let mut v = core::mem::take(v);
    v.clear();
    v
}

/// Compiles one function body.
pub(crate) struct FuncCompiler<'e, 'm, 'a> {
    pub a: MacroAssembler,
    pub env: &'e Env<'m, 'a>,
    pub stack: Vec<Val>,
    pub regs: RegSet,
    pub frames: Vec<Frame>,
    pub locals: Vec<Local>,
    pub func_type: &'e FuncType,
    /// `rbp`-relative offset of home slot 0.
    home_base: i32,
    /// `rbp`-relative offset of save slot 0.
    save_base: i32,
    save_used: u32,
    save_max: u32,
    max_stack: u32,
    max_call_area: u32,
    /// Offsets of the prologue's two frame-size immediates: the limit
    /// check's and the `sub rsp`'s.
    frame_size_patches: [usize; 2],
    /// Code range of the prologue's stack-limit check.
    stack_check: (usize, usize),
    /// Whether the function calls anything (else it is a leaf).
    has_calls: bool,
    /// `br_table` jump tables (label, targets), emitted after the code.
    jump_tables: Vec<(Label, Vec<Label>)>,
    /// Per pinned register (by encoding): the largest `offset + size` of a
    /// memory access through its local's current value that passed its
    /// bounds check on the way here. Memories never shrink, so an access
    /// ending no further needs no check; forgotten when the local changes
    /// and at merge points (loop headers, `else`, `end`).
    pub checked_ends: [u64; 16],
    /// Per GPR (by encoding): the register of the pinned local the operand
    /// in this register equals, if any. Set by
    /// `local.tee` of a pinned local (its result keeps its own register,
    /// which the next operator may overwrite, but a memory access through
    /// it is one through the local: same `checked_ends`); cleared when the
    /// operand leaves the register or the local changes.
    pub tee_alias: [Option<Gpr>; 16],
    /// Per GPR (by encoding): the stack position of the operand last put
    /// in it. An entry is current only while that position still holds
    /// the register ([`Self::gpr_holder`] checks), so pops need not clear
    /// it; finding a register's operand then costs the same however many
    /// constants and home operands lie between register operands.
    gpr_holders: [u32; 16],
    /// The return sequence shared by the returns of a function with more
    /// than [`MOVE_LOOP_MIN`] results, emitted after its body.
    shared_return: Option<Label>,
    /// Where in the assembler's buffer this function's code starts.
    code_start: u32,
    /// Set after an unconditional transfer: the following code is dead.
    pub unreachable: bool,
    /// Nesting depth of blocks opened in dead code.
    dead_depth: u32,
    offsets: Vec<u32>,
    /// Where the current fuel segment's cost is patched, and its count.
    fuel_patch: Option<usize>,
    fuel_ops: u32,
    /// The register holding memory 0's base, if this function uses memory.
    pub(crate) memory_base: Option<Gpr>,
    /// With explicit bounds checks: a register holding
    /// `VmContext::memory_last[k]`, the bound of the function's most used
    /// access size `2^k`, and `k` (see [`MEMORY_LAST`]).
    pub(crate) memory_last: Option<(Gpr, u32)>,
    /// The pin registers ([`PIN_GPRS`]) this function saves in its
    /// prologue and restores on return, by encoding bit.
    saved_gprs: u16,
    /// Out-of-line exits for fuel and interruption: (exit, code, resume).
    pub(crate) slow_exits: Vec<(Label, ExitCode, Label)>,
    /// The 16-byte constants of SIMD code, emitted after the body.
    pub v128_consts: super::x64::simd::V128Pool,
    /// How far up the operand stack each kind of operand is known to be
    /// absent ([`Watermarks`]).
    below: Watermarks,
    /// The locals pinned in XMM registers, in local order (what calls and
    /// exits save and reload), and the local pinned in each GPR (by
    /// encoding): both found once, so neither walks all the locals.
    xmm_pins: ([u32; PIN_XMMS.len()], usize),
    gpr_pins: [Option<u32>; 16],
    /// The loop header being watched for a dispatch ([`super::dispatch`]).
    pub(crate) dispatch_watch: Option<Watch>,
    /// Loops with a dispatch header, which branches back compile again.
    pub(crate) dispatches: HashMap<Label, Dispatch>,
    /// The jump of the last `br_table` compiled.
    pub(crate) last_table_jump: Option<TableJump>,
}

impl<'e, 'm, 'a> FuncCompiler<'e, 'm, 'a> {
    pub(crate) fn new(
        env: &'e Env<'m, 'a>,
        func_index: u32,
        body: &FunctionBody<'_>,
        info: &FuncInfo,
        local_uses: &[LocalUse],
        scratch: &mut Scratch,
    ) -> Self {
        let func_type = &env.module.types[env.func_types[func_index as usize] as usize];
        let mut locals = reuse(&mut scratch.locals);
        let mut offsets = reuse(&mut scratch.offsets);
        slot_offsets(func_type.params(), &mut offsets);
        for (i, &ty) in func_type.params().iter().enumerate() {
            locals.push(Local {
                ty,
                offset: 16 + offsets[i] as i32,
                pin: None,
            });
        }
        let mut at = 8i32;
        for &(n, ty) in body.locals.iter() {
            for _ in 0..n {
                at += if ty == ValType::V128 { 16 } else { 8 };
                locals.push(Local {
                    ty,
                    offset: -at,
                    pin: None,
                });
            }
        }
        // Pin the most used locals in registers: uses inside loops weigh
        // more (the validator counted them; ties go to earlier locals).
        let mut order = reuse(&mut scratch.order);
        order.extend_from_slice(local_uses);
        order.sort_unstable_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
        let mut regs = RegSet::default();
        let memory_base =
            (info.uses_memory && env.module.num_memories() > 0).then_some(MEMORY_BASE);
        let pin_gprs = if memory_base.is_some() {
            &PIN_GPRS[..5]
        } else {
            &PIN_GPRS[..]
        };
        if let Some(base) = memory_base {
            regs.pin_gpr(base);
        }
        // The bound of the most used access size may take a pin register
        // when its accesses weigh more than the integer local it displaces.
        let memory_last = memory_base
            .filter(|_| !env.options.guard_region)
            .and_then(|_| {
                let (k, &weight) = (0u32..)
                    .zip(&info.memory_weights)
                    .max_by_key(|&(k, &w)| (w, core::cmp::Reverse(k)))?;
                let displaced = order
                    .iter()
                    .filter(|&&(i, _)| locals.get(i as usize).is_some_and(|l| !is_float(l.ty)))
                    .nth(pin_gprs.len() - 1)
                    .map_or(0, |&(_, w)| w);
                (weight > displaced && weight >= MEMORY_LAST_MIN_WEIGHT).then_some((MEMORY_LAST, k))
            });
        let pin_gprs = if memory_last.is_some() {
            &pin_gprs[1..]
        } else {
            pin_gprs
        };
        if memory_last.is_some() {
            regs.pin_gpr(MEMORY_LAST);
        }
        let (mut gprs, mut xmms) = (pin_gprs.iter(), PIN_XMMS.iter());
        for &(i, _) in &order {
            let Some(local) = locals.get_mut(i as usize) else {
                continue;
            };
            local.pin = match local.ty {
                ValType::F32 | ValType::F64 => xmms.next().map(|&x| {
                    regs.pin_xmm(x);
                    Loc::Xmm(x)
                }),
                ValType::V128 => None,
                _ => gprs.next().map(|&r| {
                    regs.pin_gpr(r);
                    Loc::Gpr(r)
                }),
            };
        }
        // The pin registers this function uses are saved below the saved
        // `r15`, ahead of the declared locals; the others are reserved.
        let mut saved_gprs = 0u16;
        for local in &locals {
            if let Some(Loc::Gpr(r)) = local.pin {
                saved_gprs |= 1 << r.enc();
            }
        }
        if let Some(base) = memory_base {
            saved_gprs |= 1 << base.enc();
        }
        if memory_last.is_some() {
            saved_gprs |= 1 << MEMORY_LAST.enc();
        }
        // `memory.copy` and `memory.fill` run the string instructions,
        // which clobber `rsi` and `rdi`: callee-saved pin registers.
        if info.uses_bulk_memory {
            saved_gprs |= (1 << Gpr::Rsi.enc()) | (1 << Gpr::Rdi.enc());
        }
        for r in PIN_GPRS {
            if saved_gprs & (1 << r.enc()) == 0 {
                regs.pin_gpr(r);
            }
        }
        let mut xmm_pins = ([0u32; PIN_XMMS.len()], 0);
        let mut gpr_pins = [None; 16];
        for (i, local) in locals.iter().enumerate() {
            match local.pin {
                Some(Loc::Xmm(_)) if xmm_pins.1 < PIN_XMMS.len() => {
                    xmm_pins.0[xmm_pins.1] = i as u32;
                    xmm_pins.1 += 1;
                }
                Some(Loc::Gpr(r)) => gpr_pins[r.enc() as usize & 15] = Some(i as u32),
                _ => {}
            }
        }
        let saved_bytes = 8 * saved_gprs.count_ones() as i32;
        for local in &mut locals[func_type.params().len()..] {
            local.offset -= saved_bytes;
        }
        let locals_end = (at + saved_bytes + 15) & !15;
        let max_stack = info.max_stack_height + 1;
        let home_base = -(locals_end + 16);
        let save_base = home_base - 16 * max_stack as i32;
        scratch.order = order;
        let mut a = core::mem::take(&mut scratch.a);
        a.pad_to(16);
        let code_start = a.offset() as u32;
        a.reserve(body.code.len() * 8 + 64);
        FuncCompiler {
            a,
            env,
            stack: reuse(&mut scratch.stack),
            regs,
            frames: reuse(&mut scratch.frames),
            locals,
            func_type,
            home_base,
            save_base,
            save_used: 0,
            save_max: 0,
            max_stack,
            max_call_area: 0,
            frame_size_patches: [0; 2],
            stack_check: (0, 0),
            has_calls: info.has_calls,
            jump_tables: reuse(&mut scratch.jump_tables),
            checked_ends: [0; 16],
            tee_alias: [None; 16],
            gpr_holders: [u32::MAX; 16],
            shared_return: None,
            code_start,
            unreachable: false,
            dead_depth: 0,
            offsets,
            fuel_patch: None,
            memory_base,
            memory_last,
            saved_gprs,
            fuel_ops: 0,
            slow_exits: reuse(&mut scratch.slow_exits),
            v128_consts: super::x64::simd::V128Pool::reuse(&mut scratch.v128_consts),
            below: Watermarks::default(),
            xmm_pins,
            gpr_pins,
            dispatch_watch: None,
            dispatches: HashMap::new(),
            last_table_jump: None,
        }
    }

    /// Compiles the whole body after the code already in `scratch`'s
    /// assembler, adds its backtrace sites (native return-address offset →
    /// wasm offset, ascending) and fault sites to `scratch`'s, gives the
    /// buffers back to `scratch`, and returns where its code starts.
    pub(crate) fn compile(
        mut self,
        body: &FunctionBody<'_>,
        func_index: u32,
        scratch: &mut Scratch,
    ) -> Result<u32> {
        self.a.set_op_offset(body.code_offset as u32);
        self.prologue();
        let end = self.a.new_label();
        self.frames.push(Frame {
            kind: FrameKind::Function,
            block_type: BlockType::Func(self.env.func_types[func_index as usize]),
            height: 0,
            label: end,
            else_label: None,
            label_used: false,
            reachable: true,
            save_base: 0,
        });
        let mut r = body.reader();
        while !self.frames.is_empty() {
            let offset = r.offset();
            self.a.set_op_offset(offset as u32);
            let op = read_operator_inline(&mut r)?;
            let replay = match op {
                Operator::Br { relative_depth } if !self.unreachable => {
                    self.dispatch_for(relative_depth)
                }
                _ => None,
            };
            match replay {
                Some(d) => self.replay_dispatch(d, body),
                None => self.operator(&op),
            }
            .map_err(|e| {
                e.in_func(func_index)
                    .with_detail(format_args!("at {offset:#x}"))
            })?;
            self.a.close_fault_site(offset as u32);
            self.watch_dispatch(&op, offset as u32, r.offset() as u32);
        }
        self.finish(scratch)
    }
}

/// `Mem` for a field of the `VmContext` in `r15`.
pub(crate) fn vmctx(offset: usize) -> Mem {
    Mem::base(Gpr::R15, offset as i32)
}

/// `VmContext::memory_last[k]`: the last address where an access of `2^k`
/// bytes fits.
pub(crate) fn memory_last_field(k: u32) -> Mem {
    vmctx(offset_of!(VmContext, memory_last) + 8 * k as usize)
}

/// The SSE load for a float or vector type.
pub(crate) fn load_op(ty: ValType) -> SseOp {
    match ty {
        ValType::F32 => SseOp::MOVSS,
        ValType::F64 => SseOp::MOVSD,
        _ => SseOp::MOVDQU,
    }
}

/// The SSE store for a float or vector type.
pub(crate) fn store_op(ty: ValType) -> SseOp {
    match ty {
        ValType::F32 => SseOp::MOVSS_STORE,
        ValType::F64 => SseOp::MOVSD_STORE,
        _ => SseOp::MOVDQU_STORE,
    }
}

// `r15` holds the `VmContext` for the whole function: never allocatable.
const _: () = {
    let mut i = 0;
    while i < ALLOCATABLE_GPRS.len() {
        assert!(ALLOCATABLE_GPRS[i].enc() != Gpr::R15.enc());
        i += 1;
    }
};
