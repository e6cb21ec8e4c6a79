//! Compilation of one function: the driver and the state it compiles
//! with; the code is the backend's (`super::isa`, today `x64`).
//!
//! [`FuncCompiler`] runs the single pass: it reads each operator and hands
//! it to the backend's dispatch (`isa::lower`, one exhaustive `match` that
//! names the lowering of every operator). Its state is split by owner, one
//! type per file, each the single owner of its invariant:
//!
//! - `operands`: [`Operands`], the operand stack and which register each
//!   operand holds;
//! - `frame`: [`FrameLayout`], where locals, pins and slots lie and the
//!   frame's size;
//! - `control`: [`Controls`], the control frames, reachability and save
//!   slots.
//!
//! The backend lowers operators as further `impl` blocks of
//! `FuncCompiler` (operand moves, frame code, control flow, calls,
//! variables, and the operator families), through its macro assembler,
//! which owns the instruction idioms, trap exits, code sites and the
//! peephole. This module and the state types name the machine only
//! through `isa`: its `Gpr`, `Xmm`, `Cond` and `Label`, its macro
//! assembler, and its pin registers; frame slots are offsets, which the
//! backend turns into addresses. The frame layout below is the x86-64
//! backend's; another backend keeps the same slots with its own frame
//! register.
//!
//! Frame layout (`rbp`-relative, growing down):
//! ```text
//! [rbp + 16 ..]         the caller's argument/result area (parameters)
//! [rbp + 8]             return address
//! [rbp]                 caller's rbp
//! [rbp - 8]             this function's r15 (VmContext), restored after
//!                       calls that switch instances
//! [rbp - 16 ..]         the caller's values of the pin registers this
//!                       function uses (callee-saved, see
//!                       `x64::frame::PIN_GPRS`)
//! [.. - locals]         declared locals (8 bytes each, 16 for v128)
//! home slots            16 bytes per operand stack position
//! save slots            copies of `if` parameters for the `else` branch
//! [rsp ..]              outgoing argument/result area of calls
//! ```
//! Merge convention: at every label (block ends, loop headers, `else`) all
//! operands below the frame are in their home slots (spilled when the
//! frame began). The values a branch carries go to the home slots of the
//! target's positions, except the single result of a block or `if` without
//! parameters: it meets in a register (`x64::control::MERGE_GPR` or
//! `MERGE_XMM`, see [`FuncCompiler::merge_reg`]), and the code after the `end` takes it
//! from there, as Liftoff keeps merged values in registers where the merge
//! allows.
//!
//! Operands do not otherwise stay in registers across a block's start:
//! what lives across blocks in compiled programs is locals, pinned in
//! registers for the whole function; values on the operand stack when a
//! block begins are rare in compiled code (see `benches/results.md`).
//!
//! Writes to a pinned local need no copy when the value's last instruction
//! was a load, a `lea` or a three-operand AVX operation into a fresh
//! register: `local.set` has the macro assembler make the local's register
//! that instruction's destination (`MacroAssembler::redefine_last_gpr`,
//! `redefine_last_xmm`), and a sum's `add` becomes a `lea` into it, so
//! `x = y + z`, `x = x + 8` and, with AVX, `d = x - y` on floats are one
//! instruction.

use super::Env;
use super::dispatch::DispatchState;
use super::isa::masm::MacroAssembler;
use super::isa::{Assembler, Label};
use crate::abi::ExitCode;
use crate::asm::x64::Reloc;
use crate::decode::{BlockType, FuncType, FunctionBody, Operator, VisitOperator, visit_operator};
use crate::error::{Error, Result};
use crate::validate::{FuncInfo, LocalUse};
use alloc::vec::Vec;

mod control;
mod frame;
mod operands;
mod prelude;

pub(crate) use control::*;
pub(crate) use frame::*;
pub(crate) use operands::*;

/// Fewest bytes of wasm per call or trap site that [`Scratch::reserve`]
/// makes room for: a little under the densest compiled C seen.
pub(crate) const SITE_BYTES_MIN: usize = 12;

/// The buffers of a [`FuncCompiler`], kept by a compiling thread from one
/// function to the next, so a module's thousands of functions do not each
/// allocate them anew (a kernel's simple allocator pays more per
/// allocation than a libc one). Each owner type comes back whole when a
/// function is done and is reset when the next one starts.
///
/// The assembler and the site lists are not emptied between functions:
/// each function's code follows the previous one's in the same buffer, so
/// the thread's output is one piece of code ([`Scratch::finish`]), with
/// no per-function copies.
#[derive(Default)]
pub(crate) struct Scratch {
    a: MacroAssembler,
    ops: Operands,
    ctrl: Controls,
    frame: FrameBuffers,
    pub(crate) offsets: Vec<u32>,
    slow_exits: Vec<(Label, ExitCode, Label)>,
    bound_rechecks: Vec<super::isa::memory::BoundRecheck>,
    v128_consts: super::isa::simd::V128Pool,
    exn: super::isa::exceptions::ExceptionState,
}

impl Scratch {
    /// Where the code compiled so far ends, between functions
    /// ([`MacroAssembler::mark`]).
    pub(crate) fn mark(&self) -> super::isa::masm::MasmMark {
        self.a.mark()
    }

    /// Drops the function compiled since `mark`
    /// ([`MacroAssembler::rewind`]).
    pub(crate) fn rewind(&mut self, mark: super::isa::masm::MasmMark) {
        self.a.rewind(mark);
    }

    /// Starts a job's code in `code` (emptied first), its relocations in
    /// `relocs` and its backtrace sites in `sites` (both emptied first).
    /// The other buffers stay: each function resets what it takes,
    /// whether a previous function of this job or of an earlier
    /// compilation left it.
    pub(crate) fn start(&mut self, code: Vec<u8>, relocs: Vec<Reloc>, sites: Vec<(u32, u32)>) {
        self.a = MacroAssembler::with_buffer(code);
        self.a.reuse_relocs(relocs);
        self.a.reuse_sites(sites);
    }

    /// Makes room for the code of functions with `wasm_bytes` of bodies,
    /// and for their calls' relocations and backtrace sites: each of these
    /// buffers lives through the whole module, and growing one by doubling
    /// copies it each time and touches twice its memory (a fresh page
    /// fault per page). Machine code runs about 2.5 times the size of the
    /// wasm; compiled C has a call or trap site every 15 to 35 bytes of
    /// wasm (SQLite: 16), each a backtrace site and a relocation. Room
    /// that is never written costs no memory.
    pub(crate) fn reserve(&mut self, wasm_bytes: usize) {
        self.a.reserve(wasm_bytes.saturating_mul(3) + 4096);
        self.a.reserve_relocs(wasm_bytes / SITE_BYTES_MIN);
        self.a.reserve_sites(wasm_bytes / SITE_BYTES_MIN);
    }

    /// The assembler, to emit code ahead of the functions (the stubs).
    pub(crate) fn assembler(&mut self) -> &mut Assembler {
        &mut self.a
    }

    /// The code of every function compiled with this scratch, one after
    /// another, with its backtrace, fault and type-id sites (offsets in
    /// that code, ascending); `funcs` says where each function starts.
    /// The other buffers stay, for another job.
    pub(crate) fn finish(&mut self, funcs: Vec<(usize, u32)>) -> Result<super::Chunk> {
        let parts = core::mem::take(&mut self.a).into_parts();
        let code = parts
            .asm
            .finish()
            .map_err(|e| Error::internal("assembling a function failed").with_detail(e))?;
        Ok(super::Chunk {
            code,
            sites: parts.sites,
            fault_sites: parts.fault_sites,
            type_id_sites: parts.type_id_sites,
            handlers: parts.handlers,
            unwind: parts.unwind,
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
///
/// The state is split by owner: [`Operands`] (the operand stack and the
/// registers its operands hold), [`FrameLayout`] (where locals, pins and
/// slots lie, and the frame's size), [`Controls`] (control frames,
/// reachability, save slots, jump tables) and [`DispatchState`] (threaded
/// dispatch of interpreter loops). What remains here is the code being
/// written (`a`), the module's environment, the facts about memory
/// accesses that bounds checks use, and out-of-line code emitted after
/// the body.
pub(crate) struct FuncCompiler<'e, 'm, 'a> {
    pub a: MacroAssembler,
    pub env: &'e Env<'m, 'a>,
    pub func_type: &'e FuncType,
    pub(crate) ops: Operands,
    pub(crate) frame: FrameLayout,
    pub(crate) ctrl: Controls,
    pub(crate) dispatch: DispatchState,
    /// Per pinned register (by encoding): the largest `offset + size` of a
    /// memory access through its local's current value that passed its
    /// bounds check on the way here. Memories never shrink, so an access
    /// ending no further needs no check; forgotten when the local changes
    /// and at merge points (loop headers, `else`, `end`).
    pub checked_ends: [u64; 16],
    /// Where in the assembler's buffer this function's code starts.
    pub(crate) code_start: u32,
    /// A buffer for argument and result slot offsets of calls.
    pub(crate) offsets: Vec<u32>,
    /// The current fuel segment.
    pub(crate) fuel: FuelSegment,
    /// Out-of-line exits for fuel and interruption: (exit, code, resume).
    pub(crate) slow_exits: Vec<(Label, ExitCode, Label)>,
    /// Out-of-line exact bounds checks, emitted after the body.
    pub(crate) bound_rechecks: Vec<super::isa::memory::BoundRecheck>,
    /// The 16-byte constants of SIMD code, emitted after the body.
    pub v128_consts: super::isa::simd::V128Pool,
    /// Open `try_table`s and catch clauses awaiting their landing pads.
    pub(crate) exn: super::isa::exceptions::ExceptionState,
    /// The function's prelude, if it has one ([`prelude`]).
    prelude: Option<prelude::Prelude>,
    /// While the prelude compiles, whether a branch to the outermost
    /// block is a return ([`prelude::Prelude::block_returns`]).
    block_returns_now: bool,
}

impl<'e, 'm, 'a> FuncCompiler<'e, 'm, 'a> {
    pub(crate) fn new(
        env: &'e Env<'m, 'a>,
        func_index: u32,
        body: &FunctionBody<'_>,
        info: &FuncInfo,
        local_uses: &[LocalUse],
        scratch: &mut Scratch,
        plan_frameless: bool,
    ) -> Self {
        let func_type = &env.module.types[env.func_types[func_index as usize] as usize];
        let mut ops = core::mem::take(&mut scratch.ops);
        ops.reset();
        let mut ctrl = core::mem::take(&mut scratch.ctrl);
        ctrl.reset(info.small_loops);
        let mut frame = FrameLayout::new(
            env,
            func_type,
            body,
            info,
            local_uses,
            &mut scratch.frame,
            &mut ops,
        );
        frame.frameless_plan &= plan_frameless;
        frame.base_current_at_entry = env
            .base_current_at_entry
            .get((func_index - env.num_imported_funcs) as usize)
            .is_some_and(|&current| current);
        frame.marks_branch_history = super::isa::frame::marks_branch_history(env, func_index, info);
        let prelude = prelude::prelude(&env.options, func_type, body, info);
        let mut a = core::mem::take(&mut scratch.a);
        a.pad_to(16);
        let code_start = a.offset() as u32;
        a.reserve(body.code.len() * 8 + 64);
        FuncCompiler {
            a,
            env,
            func_type,
            ops,
            frame,
            ctrl,
            dispatch: DispatchState::default(),
            checked_ends: [0; 16],
            code_start,
            offsets: reuse(&mut scratch.offsets),
            fuel: FuelSegment::default(),
            slow_exits: reuse(&mut scratch.slow_exits),
            bound_rechecks: reuse(&mut scratch.bound_rechecks),
            v128_consts: super::isa::simd::V128Pool::reuse(&mut scratch.v128_consts),
            exn: {
                let mut exn = core::mem::take(&mut scratch.exn);
                exn.reset();
                exn
            },
            prelude,
            block_returns_now: false,
        }
    }

    /// Compiles the whole body after the code already in `scratch`'s
    /// assembler, adds its backtrace sites (native return-address offset →
    /// wasm offset, ascending) and fault sites to `scratch`'s, gives the
    /// buffers back to `scratch`, and returns its entry point: where its
    /// code starts, or for a leaf that skips its stack-limit check, past
    /// the `int3` that check left (`FuncCompiler::finish`). Returns `None`
    /// for a function compiled under the frameless plan
    /// ([`FrameLayout::frameless_plan`]) that turned out to need its
    /// frame: the caller drops its code and compiles it again with
    /// `plan_frameless` off.
    pub(crate) fn compile(
        mut self,
        body: &FunctionBody<'_>,
        func_index: u32,
        scratch: &mut Scratch,
    ) -> Result<Option<u32>> {
        self.a.set_op_offset(body.code_offset as u32);
        let prelude = self.prelude.map(|p| p.end);
        if prelude.is_some() {
            self.enter_prelude();
        } else {
            self.prologue();
        }
        let end = self.a.new_label();
        self.ctrl.frames.push(Frame {
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
        if let Some(prelude_end) = prelude {
            let mut prelude = r.sub_reader(prelude_end - r.offset())?;
            self.block_returns_now = self.prelude.is_some_and(|p| p.block_returns);
            self.compile_operators(&mut prelude, body, func_index)?;
            self.block_returns_now = false;
            self.a.set_op_offset(body.code_offset as u32);
            self.end_prelude();
        }
        self.compile_operators(&mut r, body, func_index)?;
        self.finish(scratch)
    }

    /// Compiles the operators `r` holds: the prelude's, then the rest of
    /// the body, whose last byte is the function's `end` (the validator
    /// checked that nothing follows it). Out of line, and the only copy
    /// of the operator dispatch, whose frame in an unoptimized build is
    /// large: `compile` calls it for the prelude and again for the rest,
    /// one after the other, so the two never take stack at once.
    #[inline(never)]
    fn compile_operators(
        &mut self,
        r: &mut crate::decode::Reader<'_>,
        body: &FunctionBody<'_>,
        func_index: u32,
    ) -> Result<()> {
        while !r.is_empty() {
            let offset = r.offset();
            self.a.set_op_offset(offset as u32);
            let mut step = Step {
                c: self,
                body,
                offset: offset as u32,
            };
            visit_operator(r, &mut step)?.map_err(|e| {
                e.in_func(func_index)
                    .with_detail(format_args!("at {offset:#x}"))
            })?;
            self.a.close_fault_site(offset as u32);
        }
        Ok(())
    }

    /// Gives the buffers back to `scratch` for the next function.
    pub(crate) fn give_back(self, scratch: &mut Scratch) {
        scratch.a = self.a;
        scratch.ops = self.ops;
        scratch.ctrl = self.ctrl;
        self.frame.give_back(&mut scratch.frame);
        scratch.offsets = self.offsets;
        scratch.slow_exits = self.slow_exits;
        scratch.bound_rechecks = self.bound_rechecks;
        scratch.v128_consts = self.v128_consts;
        scratch.exn = self.exn;
    }
}

/// One instruction of [`FuncCompiler::compile`], compiled from the
/// decoder's arm of its opcode ([`visit_operator`]).
struct Step<'c, 'e, 'm, 'a, 'b> {
    c: &'c mut FuncCompiler<'e, 'm, 'a>,
    body: &'c FunctionBody<'b>,
    /// The instruction's module offset.
    offset: u32,
}

impl<'o> VisitOperator<'o> for Step<'_, '_, '_, '_, '_> {
    type Output = Result<()>;

    /// Compiles `op` (a `br` to a loop with a dispatch replays its
    /// header) and follows loop headers.
    #[inline(always)]
    fn visit(&mut self, op: Operator<'o>, next: usize) -> Result<()> {
        let c = &mut *self.c;
        let replay = match op {
            Operator::Br { relative_depth } if !c.ctrl.unreachable => {
                c.dispatch_for(relative_depth)
            }
            _ => None,
        };
        match replay {
            Some(d) => c.replay_dispatch(d, self.body)?,
            None => c.operator(&op)?,
        }
        c.watch_dispatch(&op, self.offset, next as u32);
        Ok(())
    }
}
