//! Compilation of one function: frame layout, the value stack and register
//! allocation, control flow, calls, variables. Numeric, memory and other
//! operator families are lowered in their own modules as further `impl`
//! blocks of [`FuncCompiler`].
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
//! what lives across blocks in the code we care about is locals, pinned in
//! registers for the whole function. In the 1 MB clang -O2 program of
//! `benches/large/` and in every workload of `benches/`, no value is on the
//! operand stack when a block, loop or `if` begins (0 of 23,984 in the
//! clang program), and only one loop (in `interp`) has a result.
//!
//! Writes to a pinned local need no copy when the value's last instruction
//! was a load or `lea` into a fresh register: `local.set` has the assembler
//! make the local's register that instruction's destination
//! ([`Assembler::redefine_last_gpr`]), and a sum's `add` becomes a `lea`
//! into it, so `x = y + z` and `x = x + 8` are one instruction.

use super::Env;
use super::dispatch::{Dispatch, TableJump, Watch};
use super::stack::{ALLOCATABLE_GPRS, Loc, RegSet, SCRATCH, SCRATCH_XMM, SCRATCH2, Val, is_float};
use super::stubs::SYM_EXIT;
use super::x64::masm::MacroAssembler;
use crate::abi::{ExecContext, ExitCode, TrapCode, VmContext, VmFuncRef, VmTable, slot_offsets};
use crate::abi::{REGISTER_ARGS, args_in_registers};
use crate::asm::x64::{AluOp, Assembler, Cond, Gpr, Label, Mem, Scale, Size, SseOp, Xmm};
use crate::decode::{BlockType, FuncType, FunctionBody, Operator, ValType, read_operator_inline};
use crate::error::{Error, Result};
use crate::validate::{FuncInfo, LocalUse};
use alloc::vec::Vec;
use core::mem::offset_of;
use hashbrown::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FrameKind {
    Block,
    Loop,
    If,
    Else,
    Function,
}

/// A control frame.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Frame {
    pub kind: FrameKind,
    pub block_type: BlockType,
    /// Stack height below the frame's parameters.
    pub height: usize,
    /// Branch target: the end (blocks, ifs) or the header (loops).
    pub label: Label,
    /// For `if`: where the `else` branch starts.
    pub else_label: Option<Label>,
    /// Whether any branch targets `label` (or, for `if`, the else path).
    pub label_used: bool,
    /// Whether the code before the frame was reachable.
    pub reachable: bool,
    /// For `if` with parameters: first save slot holding their copies.
    pub save_base: u32,
}

/// A local variable's home in the frame.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Local {
    pub ty: ValType,
    /// Offset from `rbp` of its memory slot.
    pub offset: i32,
    /// The register it lives in for the whole function, if pinned. A
    /// local pinned in an XMM register is stored to its slot before calls
    /// and exits (which clobber every XMM register) and reloaded after; GPR
    /// pins survive them ([`PIN_GPRS`]).
    pub pin: Option<Loc>,
}

/// Registers that hold pinned integer locals (none is needed by `div`,
/// shifts or the call sequence).
/// Six of the eleven allocatable registers; the value stack keeps rax, rcx,
/// rdx, r8 and r9. In functions that access memory the last one holds the
/// memory base instead ([`MEMORY_BASE`]).
///
/// They are callee-saved, so a caller's pinned locals stay in their
/// registers across calls: a function saves the ones it uses (its pins,
/// the memory base, and `rsi`/`rdi` if it runs string instructions) in its
/// prologue and restores them before it returns, and never uses the
/// others. The exit stub saves all six, so exits preserve them too. This
/// moves the cost of a call from every pinned local of the caller to the
/// registers the callee uses: a loop calling a small function no longer
/// stores and reloads its locals around each call.
pub(crate) const PIN_GPRS: [Gpr; 6] = [Gpr::Rbx, Gpr::R12, Gpr::R13, Gpr::Rsi, Gpr::Rdi, Gpr::R14];

/// Holds memory 0's base in functions that access memory; reloaded after
/// every call and exit (the memory may have grown and moved).
pub(crate) const MEMORY_BASE: Gpr = Gpr::R14;
/// With explicit bounds checks, may hold the bound of a function's most
/// used access size (`VmContext::memory_last[k]`), reloaded with the
/// memory base: a check is then `cmp addr, reg`, not a load from the
/// context each time, which in a loop of loads and stores competes with
/// them for the load ports. It takes the pin register of the least used
/// integer local that would otherwise have one, when the accesses weigh
/// more; never `rsi`/`rdi`, which the string instructions need.
pub(crate) const MEMORY_LAST: Gpr = Gpr::Rbx;
/// The least weight of accesses that pays for [`MEMORY_LAST`]: holding the
/// bound costs a save, a load and a restore of the register, so a few
/// accesses outside loops (a comparator's two loads) check from memory.
const MEMORY_LAST_MIN_WEIGHT: u32 = 4;
/// Registers that hold pinned float locals (the value stack keeps xmm0-7).
const PIN_XMMS: [Xmm; 7] = [
    Xmm::Xmm8,
    Xmm::Xmm9,
    Xmm::Xmm10,
    Xmm::Xmm11,
    Xmm::Xmm12,
    Xmm::Xmm13,
    Xmm::Xmm14,
];

const SAVED_VMCTX: i32 = -8;

/// How the value stack refers to a pinned local's register, `pin`.
fn pinned_read(pin: Loc) -> Loc {
    match pin {
        Loc::Gpr(p) => Loc::PinnedGpr(p),
        Loc::Xmm(p) => Loc::PinnedXmm(p),
        other => other,
    }
}

/// What a call may reach, for [`FuncCompiler::setup_call`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Callee {
    /// A function of this module, compiled wasm.
    Wasm,
    /// Possibly a host function (imports, `call_indirect`).
    Any,
}

/// Where a caller also passes the first arguments that are integers or
/// references ([`crate::abi`]), so the callee need not load them.
const ARG_GPRS: [Gpr; REGISTER_ARGS] = [Gpr::Rcx, Gpr::Rdx];
/// Where a caller also passes the first arguments that are `f32`/`f64`.
const ARG_XMMS: [Xmm; REGISTER_ARGS] = [Xmm::Xmm0, Xmm::Xmm1];

/// Where a function also returns its first result if it is an integer or
/// reference ([`crate::abi`]), so the caller need not reload it.
const RESULT_GPR: Gpr = Gpr::Rax;
/// Where a function also returns its first result if it is `f32`/`f64`.
const RESULT_XMM: Xmm = Xmm::Xmm0;

/// Where the single integer or reference result of a block or `if` meets
/// at its end, from every branch to it and its fall-through (see
/// [`FuncCompiler::merge_reg`]). Never a pin register.
const MERGE_GPR: Gpr = Gpr::Rax;
/// [`MERGE_GPR`] for an `f32`/`f64` result. Never a pin register.
const MERGE_XMM: Xmm = Xmm::Xmm0;

/// A function that calls nothing and whose frame is at most this big skips
/// the stack-limit check in its prologue: its caller's check left at least
/// the runtime's stack margin below, far more than this (the runtime
/// asserts it), and a leaf adds no further frames.
pub(crate) const LEAF_FRAME_MAX: u32 = 4096;

/// Above this many values, a branch or return moves its values with a loop
/// (see [`FuncCompiler::copy_homes`]) rather than one move per value.
const MOVE_LOOP_MIN: usize = 16;

/// The buffers of a [`FuncCompiler`], kept by a compiling thread from one
/// function to the next: allocating them anew for each of a module's
/// thousands of functions cost about 5% of compile time (and a kernel's
/// simple allocator pays more per allocation than a libc one).
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
    v128_consts: super::simd::V128Pool,
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
    /// site about every 35 bytes of wasm. On `std`, the code buffer's
    /// pages are mapped in at once ([`crate::host::prefault`]).
    pub(crate) fn reserve(&mut self, wasm_bytes: usize) {
        self.a.reserve(wasm_bytes.saturating_mul(3) + 4096);
        #[cfg(feature = "std")]
        crate::host::prefault::prefault(self.a.spare_capacity());
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
            .map_err(|e| Error::limit(0, "assembling a function failed").with_detail(e))?;
        Ok(super::Chunk {
            code,
            sites,
            fault_sites,
            funcs,
        })
    }
}

/// Takes a buffer out of the scratch, emptied.
/// Stack positions below which the operand stack is known to hold no
/// operand of a kind, so that finding one (an XMM register to spill, operands to
/// spill before a call, reads of a pinned local) does not walk the whole
/// stack each time: with a stack of `n` operands that would make a function
/// quadratic in its size. Each is a lower bound on where the first such
/// operand is: operands are pushed only on top (every push clamps the marks
/// to the push position), and the only operand changed in place into one of
/// these kinds is a pinned read turned into a register operand, which clamps
/// the marks at its position. The marks only move up by the stack positions
/// they pass, so each operand is passed once per push.
#[derive(Default, Clone, Copy)]
struct Watermarks {
    /// No operand below holds an XMM register (`Loc::Xmm`).
    xmm: usize,
    /// Every operand below is in its home slot.
    home: usize,
    /// Every operand below is in its home slot or reads a GPR-pinned local
    /// (what a call leaves below its arguments).
    call: usize,
    /// No operand below reads a pinned local.
    pinned: usize,
}

impl Watermarks {
    /// Lowers every mark to at most `at`.
    fn clamp(&mut self, at: usize) {
        for m in [
            &mut self.xmm,
            &mut self.home,
            &mut self.call,
            &mut self.pinned,
        ] {
            *m = (*m).min(at);
        }
    }

    /// Every operand below `at` is in its home slot.
    fn raise_all(&mut self, at: usize) {
        *self = Watermarks {
            xmm: at,
            home: at,
            call: at,
            pinned: at,
        };
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
    pub v128_consts: super::simd::V128Pool,
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
            v128_consts: super::simd::V128Pool::reuse(&mut scratch.v128_consts),
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

    fn prologue(&mut self) {
        self.a.push_r(Gpr::Rbp);
        self.a.mov_rr(Size::S64, Gpr::Rbp, Gpr::Rsp);
        // The frame is checked against the limit before `rsp` moves: the
        // new `rsp` is computed in a scratch register, and a frame that
        // would reach below the limit (or below address 0) traps with `rsp`
        // still inside the margin, where the trap path's own pushes land.
        // The frame size is patched in once known.
        let check_start = self.a.offset();
        self.a
            .mov_rm(Size::S64, SCRATCH, vmctx(offset_of!(VmContext, exec)));
        self.a.mov_rr(Size::S64, SCRATCH2, Gpr::Rsp);
        self.frame_size_patches[0] = self.a.alu_ri_imm32(AluOp::Sub, Size::S64, SCRATCH2, 0);
        let overflow = self.a.trap_label(TrapCode::StackOverflow);
        self.a.jcc(Cond::B, overflow);
        self.a.alu_rm(
            AluOp::Cmp,
            Size::S64,
            SCRATCH2,
            Mem::base(SCRATCH, offset_of!(ExecContext, stack_limit) as i32),
        );
        self.a.jcc(Cond::B, overflow);
        self.stack_check = (check_start, self.a.offset());
        self.frame_size_patches[1] = self.a.alu_ri_imm32(AluOp::Sub, Size::S64, Gpr::Rsp, 0);
        // Only calls switch `r15`, so only they need it saved.
        if self.has_calls {
            self.a
                .mov_mr(Size::S64, Mem::base(Gpr::Rbp, SAVED_VMCTX), Gpr::R15);
        }
        for (at, r) in self.saved_gpr_slots() {
            self.a.mov_mr(Size::S64, at, r);
        }
        // Zero the declared locals (pinned ones in their registers).
        let first_declared = self.func_type.params().len();
        if self.locals.len() > first_declared {
            self.a.alu_rr(AluOp::Xor, Size::S32, SCRATCH, SCRATCH);
            for i in first_declared..self.locals.len() {
                let local = self.locals[i];
                match local.pin {
                    Some(Loc::Gpr(r)) => self.a.alu_rr(AluOp::Xor, Size::S32, r, r),
                    Some(Loc::Xmm(x)) => self.a.sse_rr(SseOp::XORPS, x, x),
                    _ => {
                        self.a
                            .mov_mr(Size::S64, Mem::base(Gpr::Rbp, local.offset), SCRATCH);
                        if local.ty == ValType::V128 {
                            self.a.mov_mr(
                                Size::S64,
                                Mem::base(Gpr::Rbp, local.offset + 8),
                                SCRATCH,
                            );
                        }
                    }
                }
            }
        }
        // Pinned parameters move into their registers, the first ones from
        // the registers they also came in.
        let in_registers = args_in_registers(self.func_type.params());
        for i in 0..first_declared {
            let local = self.locals[i];
            let slot = Mem::base(Gpr::Rbp, local.offset);
            match local.pin {
                Some(Loc::Gpr(r)) if i < in_registers => self.a.mov_rr(Size::S64, r, ARG_GPRS[i]),
                Some(Loc::Xmm(x)) if i < in_registers => {
                    self.a.sse_rr(SseOp::MOVAPS, x, ARG_XMMS[i])
                }
                Some(_) => self.load_pinned(i),
                // Direct callers pass these arguments only in their
                // registers; they get their slots here.
                None if i < in_registers => match local.ty {
                    ValType::F32 | ValType::F64 => {
                        self.a.sse_mr(SseOp::MOVSD_STORE, slot, ARG_XMMS[i])
                    }
                    _ => self.a.mov_mr(Size::S64, slot, ARG_GPRS[i]),
                },
                None => {}
            }
        }
        self.load_memory_base();
        self.fuel_segment();
        self.checkpoint();
    }

    /// Closes the current fuel segment (patching its cost) and opens a new
    /// one that charges as it starts.
    fn fuel_segment(&mut self) {
        if !self.env.options.fuel {
            return;
        }
        if let Some(at) = self.fuel_patch.take() {
            self.a.patch_i32(at, self.fuel_ops as i32);
        }
        self.fuel_ops = 0;
        self.a
            .mov_rm(Size::S64, SCRATCH, vmctx(offset_of!(VmContext, exec)));
        // A placeholder that needs the imm32 form; patched at segment end.
        self.a.alu_mi(
            AluOp::Sub,
            Size::S64,
            Mem::base(SCRATCH, offset_of!(ExecContext, fuel) as i32),
            i32::MAX,
        );
        self.fuel_patch = Some(self.a.offset() - 4);
    }

    /// At function entries and loop headers: leave if fuel ran out or the
    /// embedder interrupted (all operands are home here, so it is safe).
    fn checkpoint(&mut self) {
        if self.env.options.fuel {
            // The flags of the segment's `sub` say whether fuel went negative.
            let exit = self.a.new_label();
            let resume = self.a.new_label();
            self.a.jcc(Cond::S, exit);
            self.a.bind(resume);
            self.slow_exits.push((exit, ExitCode::OutOfFuel, resume));
        }
        if self.env.options.interruptible {
            let exit = self.a.new_label();
            let resume = self.a.new_label();
            self.a
                .mov_rm(Size::S64, SCRATCH, vmctx(offset_of!(VmContext, exec)));
            // The flag lives in shared atomic memory the context points to.
            self.a.mov_rm(
                Size::S64,
                SCRATCH,
                Mem::base(SCRATCH, offset_of!(ExecContext, interrupt) as i32),
            );
            self.a
                .alu_mi(AluOp::Cmp, Size::S32, Mem::base(SCRATCH, 0), 0);
            self.a.jcc(Cond::Ne, exit);
            self.a.bind(resume);
            self.slow_exits.push((exit, ExitCode::Interrupted, resume));
        }
    }

    /// Loads pinned local `i` from its memory slot into its register.
    fn load_pinned(&mut self, i: usize) {
        let local = self.locals[i];
        let at = Mem::base(Gpr::Rbp, local.offset);
        match local.pin {
            Some(Loc::Gpr(r)) => {
                let size = if local.ty == ValType::I32 {
                    Size::S32
                } else {
                    Size::S64
                };
                self.a.mov_rm(size, r, at);
            }
            Some(Loc::Xmm(x)) => self.a.sse_rm(load_op(local.ty), x, at),
            _ => {}
        }
    }

    /// The frame slots of the saved pin registers, with their registers.
    fn saved_gpr_slots(&self) -> impl Iterator<Item = (Mem, Gpr)> + use<> {
        let saved = self.saved_gprs;
        PIN_GPRS
            .into_iter()
            .filter(move |r| saved & (1 << r.enc()) != 0)
            .enumerate()
            .map(|(k, r)| (Mem::base(Gpr::Rbp, SAVED_VMCTX - 8 * (k as i32 + 1)), r))
    }

    /// Stores the locals pinned in XMM registers to their slots (before
    /// calls and exits, which clobber every XMM register; GPR pins are
    /// callee-saved).
    pub(crate) fn save_pinned(&mut self) {
        for k in 0..self.xmm_pins.1 {
            let local = self.locals[self.xmm_pins.0[k] as usize];
            if let Some(Loc::Xmm(x)) = local.pin {
                let at = Mem::base(Gpr::Rbp, local.offset);
                self.a.sse_mr(store_op(local.ty), at, x);
            }
        }
    }

    /// Reloads the locals pinned in XMM registers and the memory base,
    /// which a call or exit may have moved (after calls and exits).
    pub(crate) fn restore_pinned(&mut self) {
        for k in 0..self.xmm_pins.1 {
            self.load_pinned(self.xmm_pins.0[k] as usize);
        }
        self.load_memory_base();
    }

    /// Frees the registers `fixed` of pinned locals for an instruction
    /// that uses them implicitly (the string instructions): each pinned
    /// local living in one is stored to its slot and its register released.
    /// Returns, per register, the local to give it back to with
    /// [`Self::repin_gprs`]. Operands in `fixed` stay where they are (move
    /// them out with [`Self::pop_into_gpr`] or [`Self::evict_gpr`]).
    pub(crate) fn unpin_gprs<const N: usize>(&mut self, fixed: [Gpr; N]) -> [Option<usize>; N] {
        debug_assert!(self.memory_base.is_none_or(|b| !fixed.contains(&b)));
        debug_assert!(
            fixed
                .iter()
                .all(|r| !PIN_GPRS.contains(r) || self.saved_gprs & (1 << r.enc()) != 0),
            "a pin register this function does not save"
        );
        // Operands still reading a local in one of these registers take a
        // copy first: the register is about to hold something else.
        for r in fixed {
            self.detach_pinned(Loc::PinnedGpr(r));
        }
        fixed.map(|r| {
            let i = self.gpr_pins[r.enc() as usize & 15]? as usize;
            if self.locals[i].pin != Some(Loc::Gpr(r)) {
                return None;
            }
            self.a
                .mov_mr(Size::S64, Mem::base(Gpr::Rbp, self.locals[i].offset), r);
            self.regs.unpin_gpr(r);
            Some(i)
        })
    }

    /// Reloads the locals [`Self::unpin_gprs`] released into their
    /// registers (which must be free again).
    pub(crate) fn repin_gprs<const N: usize>(&mut self, unpinned: [Option<usize>; N]) {
        for i in unpinned.into_iter().flatten() {
            if let Some(Loc::Gpr(r)) = self.locals[i].pin {
                self.regs.pin_gpr(r);
                self.load_pinned(i);
            }
        }
    }

    /// Loads memory 0's base into its register, if this function has one.
    fn load_memory_base(&mut self) {
        if let Some(base) = self.memory_base {
            self.a
                .mov_rm(Size::S64, base, vmctx(offset_of!(VmContext, memory_base)));
        }
        if let Some((r, k)) = self.memory_last {
            self.a.mov_rm(Size::S64, r, memory_last_field(k));
        }
    }

    fn finish(mut self, scratch: &mut Scratch) -> Result<u32> {
        if let Some(at) = self.fuel_patch.take() {
            self.a.patch_i32(at, self.fuel_ops as i32);
        }
        if let Some(shared) = self.shared_return.take() {
            self.a.bind(shared);
            self.emit_return_sequence(0, true);
        }
        for (exit, code, resume) in core::mem::take(&mut self.slow_exits) {
            self.a.bind(exit);
            self.exit_to_host(code);
            self.a.jmp(resume);
        }
        self.a.emit_trap_exits();
        self.emit_jump_tables();
        self.emit_v128_consts();
        let frame = 8
            + (-i64::from(self.home_base) - 8 - 16) as u64
            + 16 * u64::from(self.max_stack)
            + 16 * u64::from(self.save_max)
            + u64::from(self.max_call_area);
        let frame = i32::try_from(frame.next_multiple_of(16))
            .map_err(|_| Error::limit(0, "function frame exceeds 2 GiB"))?;
        for at in self.frame_size_patches {
            self.a.patch_i32(at, frame);
        }
        if !self.has_calls && frame as u32 <= LEAF_FRAME_MAX {
            self.a.patch_skip(self.stack_check.0, self.stack_check.1);
        }
        self.a
            .seal()
            .map_err(|e| Error::limit(0, "assembling a function failed").with_detail(e))?;
        *scratch = Scratch {
            a: self.a,
            stack: self.stack,
            frames: self.frames,
            locals: self.locals,
            offsets: self.offsets,
            order: core::mem::take(&mut scratch.order),
            jump_tables: self.jump_tables,
            slow_exits: self.slow_exits,
            v128_consts: self.v128_consts,
        };
        Ok(self.code_start)
    }

    /// Emits the `br_table` jump tables: 32-bit offsets of the targets from
    /// the table's start.
    fn emit_jump_tables(&mut self) {
        for (table, entries) in core::mem::take(&mut self.jump_tables) {
            self.a.align(4);
            self.a.bind(table);
            let base = self.a.offset();
            for label in entries {
                self.a.emit_label_diff32(label, base);
            }
        }
    }

    // ---------------------------------------------------------------
    // Value stack and registers.

    /// The home slot of stack position `i`.
    pub(crate) fn home(&self, i: usize) -> Mem {
        Mem::base(Gpr::Rbp, self.home_base - 16 * i as i32)
    }

    fn save_slot(&self, i: u32) -> Mem {
        Mem::base(Gpr::Rbp, self.save_base - 16 * i as i32)
    }

    pub(crate) fn push(&mut self, ty: ValType, loc: Loc) {
        match loc {
            Loc::Gpr(r) => {
                self.regs.take_gpr(r);
                self.gpr_holders[r.enc() as usize & 15] = self.stack.len() as u32;
            }
            Loc::Xmm(x) => self.regs.take_xmm(x),
            _ => {}
        }
        self.below.clamp(self.stack.len());
        self.stack.push(Val { ty, loc });
    }

    pub(crate) fn push_gpr(&mut self, ty: ValType, r: Gpr) {
        self.push(ty, Loc::Gpr(r));
    }

    pub(crate) fn push_xmm(&mut self, ty: ValType, x: Xmm) {
        self.push(ty, Loc::Xmm(x));
    }

    /// Pops an operand, releasing its register (the caller owns it now).
    pub(crate) fn pop(&mut self) -> Val {
        let v = self.stack.pop().expect("the validator guarantees operands");
        self.release(v.loc);
        v
    }

    /// Frees the register an operand leaving `loc` held, and forgets what
    /// it was known to equal (`tee_alias`).
    fn release(&mut self, loc: Loc) {
        match loc {
            Loc::Gpr(r) => {
                self.regs.free_gpr(r);
                self.tee_alias[r.enc() as usize & 15] = None;
            }
            Loc::Xmm(x) => self.regs.free_xmm(x),
            _ => {}
        }
    }

    /// The top operand, without popping.
    pub(crate) fn peek(&self, depth: usize) -> Val {
        self.stack[self.stack.len() - 1 - depth]
    }

    /// Turns a comparison held in the flags into a 0/1 register value.
    pub(crate) fn materialize_flags(&mut self) {
        let Some(&Val {
            loc: Loc::Flags(cond),
            ty,
        }) = self.stack.last()
        else {
            return;
        };
        self.stack.pop();
        let r = self.alloc_gpr();
        self.a.setcc(cond, r);
        self.a.movzx_rr(Size::S32, Size::S8, r, r);
        self.push_gpr(ty, r);
    }

    /// Stores `v` (at stack position `i`) into its home slot.
    fn store_home(&mut self, i: usize, v: Val) {
        let home = self.home(i);
        self.store_val(home, v);
    }

    /// Stores the value `v` into memory at `dst` (8 bytes, 16 for v128).
    pub(crate) fn store_val(&mut self, dst: Mem, v: Val) {
        match v.loc {
            Loc::Gpr(r) | Loc::PinnedGpr(r) => self.a.mov_mr(Size::S64, dst, r),
            Loc::Xmm(x) | Loc::PinnedXmm(x) => {
                let op = if v.ty == ValType::V128 {
                    SseOp::MOVDQU_STORE
                } else {
                    SseOp::MOVSD_STORE
                };
                self.a.sse_mr(op, dst, x);
            }
            Loc::Const(bits) => {
                if let Ok(imm) = i32::try_from(bits as i64) {
                    self.a.mov_mi(Size::S64, dst, imm);
                } else {
                    self.a.mov_ri(Size::S64, SCRATCH, bits as i64);
                    self.a.mov_mr(Size::S64, dst, SCRATCH);
                }
            }
            Loc::Home | Loc::Flags(_) => unreachable!("store_val of a value in memory or flags"),
        }
    }

    /// Copies a value of type `ty` between two memory places (through the
    /// scratch registers): 16 bytes for `v128`, 8 otherwise.
    fn copy_mem(&mut self, dst: Mem, src: Mem, ty: ValType) {
        if ty == ValType::V128 {
            self.a.sse_rm(SseOp::MOVDQU, SCRATCH_XMM, src);
            self.a.sse_mr(SseOp::MOVDQU_STORE, dst, SCRATCH_XMM);
        } else {
            self.a.mov_rm(Size::S64, SCRATCH, src);
            self.a.mov_mr(Size::S64, dst, SCRATCH);
        }
    }

    /// Stores the operand at stack position `pos` to `dst`, wherever it is
    /// (register, constant or home slot); the operand stays on the stack.
    pub(crate) fn store_operand(&mut self, dst: Mem, pos: usize) {
        self.store_at(dst, self.stack[pos], pos);
    }

    /// Stores `v`, the operand of stack position `pos`, to `dst`.
    fn store_at(&mut self, dst: Mem, v: Val, pos: usize) {
        match v.loc {
            Loc::Home => {
                let src = self.home(pos);
                self.copy_mem(dst, src, v.ty);
            }
            _ => self.store_val(dst, v),
        }
    }

    /// Moves the operand at position `i` to its home slot.
    fn spill_at(&mut self, i: usize) {
        let v = self.stack[i];
        if v.loc == Loc::Home {
            return;
        }
        self.store_home(i, v);
        self.release(v.loc);
        self.stack[i].loc = Loc::Home;
    }

    /// Moves every operand to its home slot (the merge state).
    pub(crate) fn spill_all(&mut self) {
        let from = self.below.home.min(self.stack.len());
        for i in from..self.stack.len() {
            self.spill_at(i);
        }
        self.below.raise_all(self.stack.len());
    }

    /// The first stack position from `self.below.<field>` on whose operand
    /// satisfies `is`, moving that watermark up to it (every operand below
    /// fails `is`); the stack's height if none.
    fn first_from(
        &mut self,
        field: fn(&mut Watermarks) -> &mut usize,
        is: fn(Loc) -> bool,
    ) -> usize {
        let mut i = (*field(&mut self.below)).min(self.stack.len());
        while i < self.stack.len() && !is(self.stack[i].loc) {
            i += 1;
        }
        *field(&mut self.below) = i;
        i
    }

    /// A free GPR, spilling the deepest register operand if none is free.
    pub(crate) fn alloc_gpr(&mut self) -> Gpr {
        self.alloc_gpr_except(&[])
    }

    pub(crate) fn alloc_gpr_except(&mut self, avoid: &[Gpr]) -> Gpr {
        if let Some(r) = self.regs.free_gpr_except(avoid) {
            return r;
        }
        // The deepest operand in a register not in `avoid`.
        let (victim, r) = (0..16u8)
            .filter_map(|enc| self.gpr_holder_by_enc(enc))
            .filter(|(_, r)| !avoid.contains(r))
            .min_by_key(|&(i, _)| i)
            .expect("some operand holds a register when none is free");
        self.spill_at(victim);
        r
    }

    /// A free XMM register, spilling if needed.
    pub(crate) fn alloc_xmm(&mut self) -> Xmm {
        if let Some(x) = self.regs.any_free_xmm() {
            return x;
        }
        let victim = self.first_from(|w| &mut w.xmm, |l| matches!(l, Loc::Xmm(_)));
        assert!(
            victim < self.stack.len(),
            "some operand holds an XMM register when none is free"
        );
        let Loc::Xmm(x) = self.stack[victim].loc else {
            unreachable!()
        };
        self.spill_at(victim);
        x
    }

    /// Frees `r` if an operand holds it, by moving that operand elsewhere.
    pub(crate) fn evict_gpr(&mut self, r: Gpr, avoid: &[Gpr]) {
        if !self.regs.has_gpr(r) {
            return;
        }
        let (i, _) = self
            .gpr_holder_by_enc(r.enc())
            .expect("a taken register belongs to an operand");
        let mut avoid_all: [Gpr; 4] = [r; 4];
        for (k, &g) in avoid.iter().take(3).enumerate() {
            avoid_all[k + 1] = g;
        }
        if let Some(to) = self.regs.free_gpr_except(&avoid_all) {
            self.a.mov_rr(Size::S64, to, r);
            self.regs.free_gpr(r);
            self.regs.take_gpr(to);
            self.stack[i].loc = Loc::Gpr(to);
            self.gpr_holders[to.enc() as usize & 15] = i as u32;
            self.tee_alias[to.enc() as usize & 15] =
                core::mem::take(&mut self.tee_alias[r.enc() as usize & 15]);
        } else {
            self.spill_at(i);
        }
    }

    /// The stack position of the operand held in the GPR encoded `enc`,
    /// and that register, if an operand holds it.
    fn gpr_holder_by_enc(&self, enc: u8) -> Option<(usize, Gpr)> {
        let i = self.gpr_holders[enc as usize & 15] as usize;
        match self.stack.get(i)?.loc {
            Loc::Gpr(r) if r.enc() == enc => Some((i, r)),
            _ => None,
        }
    }

    /// Loads the value `v` (popped from position `pos`) into GPR `r`.
    fn load_gpr(&mut self, r: Gpr, v: Val, pos: usize) {
        match v.loc {
            Loc::Gpr(src) | Loc::PinnedGpr(src) => {
                if src != r {
                    self.a.mov_rr(Size::S64, r, src);
                }
            }
            Loc::Const(bits) => self.a.mov_ri(Size::S64, r, bits as i64),
            Loc::Home => {
                let size = if v.ty == ValType::I32 {
                    Size::S32
                } else {
                    Size::S64
                };
                let home = self.home(pos);
                self.a.mov_rm(size, r, home);
            }
            Loc::Xmm(_) | Loc::PinnedXmm(_) | Loc::Flags(_) => {
                unreachable!("integer operand in an XMM register or flags")
            }
        }
    }

    /// Pops an integer or reference operand into a register it owns.
    pub(crate) fn pop_gpr(&mut self) -> Gpr {
        let pos = self.stack.len() - 1;
        let v = self.pop();
        if let Loc::Gpr(r) = v.loc {
            return r;
        }
        let r = self.alloc_gpr();
        self.load_gpr(r, v, pos);
        r
    }

    /// Pops an integer or reference operand into a register the caller
    /// may only read: a pinned local's own register, or one it owns (as
    /// [`Self::pop_gpr`]). Holding it with `regs.take_gpr` and releasing it
    /// with `regs.free_gpr` is safe either way.
    pub(crate) fn pop_gpr_read(&mut self) -> Gpr {
        if let Loc::PinnedGpr(pin) = self.peek(0).loc {
            self.pop();
            return pin;
        }
        self.pop_gpr()
    }

    /// [`Self::pop_gpr_read`] for float and vector operands.
    pub(crate) fn pop_xmm_read(&mut self) -> Xmm {
        if let Loc::PinnedXmm(pin) = self.peek(0).loc {
            self.pop();
            return pin;
        }
        self.pop_xmm()
    }

    /// Moves every operand that reads the local pinned in `pin` off it,
    /// before the local changes.
    fn detach_pinned(&mut self, pin: Loc) {
        if let Loc::PinnedGpr(p) = pin {
            for alias in &mut self.tee_alias {
                if *alias == Some(p) {
                    *alias = None;
                }
            }
        }
        let from = self.first_from(
            |w| &mut w.pinned,
            |l| matches!(l, Loc::PinnedGpr(_) | Loc::PinnedXmm(_)),
        );
        for i in from..self.stack.len() {
            if self.stack[i].loc != pin {
                continue;
            }
            // A read of a pinned local becomes a register operand, which
            // the register and call watermarks may have passed.
            self.below.clamp(i);
            match pin {
                Loc::PinnedGpr(p) => match self.regs.free_gpr_except(&[]) {
                    Some(r) => {
                        self.a.mov_rr(Size::S64, r, p);
                        self.regs.take_gpr(r);
                        self.stack[i].loc = Loc::Gpr(r);
                        self.gpr_holders[r.enc() as usize & 15] = i as u32;
                    }
                    None => self.spill_at(i),
                },
                Loc::PinnedXmm(p) => match self.regs.any_free_xmm() {
                    Some(x) => {
                        self.a.sse_rr(SseOp::MOVAPS, x, p);
                        self.regs.take_xmm(x);
                        self.stack[i].loc = Loc::Xmm(x);
                    }
                    None => self.spill_at(i),
                },
                _ => {}
            }
        }
    }

    /// Pops into a specific GPR (evicting its current holder).
    pub(crate) fn pop_into_gpr(&mut self, r: Gpr, avoid: &[Gpr]) {
        let pos = self.stack.len() - 1;
        let v = self.pop();
        if v.loc == Loc::Gpr(r) {
            return;
        }
        // Hold the operand's own register while `r`'s occupant moves out,
        // or the eviction could move it there and overwrite the operand.
        if let Loc::Gpr(own) = v.loc {
            self.regs.take_gpr(own);
            self.evict_gpr(r, avoid);
            self.regs.free_gpr(own);
        } else {
            self.evict_gpr(r, avoid);
        }
        self.load_gpr(r, v, pos);
    }

    /// Loads the float or vector value `v` (at position `pos`, not
    /// popped) into `x`.
    fn load_xmm(&mut self, x: Xmm, v: Val, pos: usize) {
        match v.loc {
            Loc::Xmm(src) | Loc::PinnedXmm(src) => {
                if src != x {
                    self.a.sse_rr(SseOp::MOVAPS, x, src);
                }
            }
            Loc::Const(bits) => self.load_const_xmm(x, v.ty, bits),
            Loc::Home => {
                let home = self.home(pos);
                self.a.sse_rm(load_op(v.ty), x, home);
            }
            Loc::Gpr(_) | Loc::PinnedGpr(_) | Loc::Flags(_) => {
                unreachable!("float operand in a GPR or flags")
            }
        }
    }

    /// Pops a float or vector operand into an XMM register it owns.
    pub(crate) fn pop_xmm(&mut self) -> Xmm {
        let pos = self.stack.len() - 1;
        let v = self.pop();
        if let Loc::Xmm(x) = v.loc {
            return x;
        }
        let x = self.alloc_xmm();
        self.load_xmm(x, v, pos);
        x
    }

    /// Materializes a float constant in `x`.
    pub(crate) fn load_const_xmm(&mut self, x: Xmm, ty: ValType, bits: u64) {
        if bits == 0 {
            self.a.sse_rr(SseOp::XORPS, x, x);
        } else if ty == ValType::F32 {
            self.a.mov_ri(Size::S32, SCRATCH, bits as u32 as i64);
            self.a.movd_xr(x, SCRATCH);
        } else {
            self.a.mov_ri(Size::S64, SCRATCH, bits as i64);
            self.a.movq_xr(x, SCRATCH);
        }
    }

    /// Pops an operand that is a constant, if it is one.
    pub(crate) fn pop_const(&mut self) -> Option<u64> {
        match self.stack.last()?.loc {
            Loc::Const(bits) => {
                self.stack.pop();
                Some(bits)
            }
            _ => None,
        }
    }

    /// Pops an operand known to be an `i32` constant that fits an immediate.
    pub(crate) fn pop_imm32(&mut self, ty: ValType) -> Option<i32> {
        let Loc::Const(bits) = self.stack.last()?.loc else {
            return None;
        };
        let imm = if ty == ValType::I32 {
            bits as u32 as i32
        } else {
            i32::try_from(bits as i64).ok()?
        };
        self.stack.pop();
        Some(imm)
    }

    // ---------------------------------------------------------------
    // Control flow.

    fn block_params(&self, bt: BlockType) -> &'e [ValType] {
        self.env.module.block_params(bt)
    }

    fn block_results(&self, bt: BlockType) -> &'e [ValType] {
        self.env.module.block_results(bt)
    }

    fn label_arity(&self, frame: &Frame) -> &'e [ValType] {
        if frame.kind == FrameKind::Loop {
            self.block_params(frame.block_type)
        } else {
            self.block_results(frame.block_type)
        }
    }

    /// Moves the top `arity` operands (all in home slots) to the home slots
    /// of positions `height..height + arity`.
    fn move_to(&mut self, frame: &Frame, types: &[ValType]) {
        if let Some(merge) = self.merge_reg(frame, types) {
            self.load_merge(merge);
            return;
        }
        let height = frame.height;
        let arity = types.len();
        let from = self.stack.len() - arity;
        if from == height {
            return;
        }
        if arity > MOVE_LOOP_MIN {
            self.copy_homes(from, height, arity);
            return;
        }
        for (k, &ty) in types.iter().enumerate() {
            let src = self.home(from + k);
            let dst = self.home(height + k);
            self.copy_mem(dst, src, ty);
        }
    }

    /// Copies the `n` home slots from stack position `from` on to the `n`
    /// from position `to` on (`to < from`), with a loop of constant size:
    /// a branch carrying many values costs no more code than one carrying
    /// a few, so `br_if`s repeated over a stack of a thousand values stay
    /// linear in the module's size. Slot `k` of both runs is copied in
    /// increasing `k`, which reads each source slot before it is
    /// overwritten (`to + k` can only be a source `from + j` with `j < k`).
    fn copy_homes(&mut self, from: usize, to: usize, n: usize) {
        debug_assert!(to < from && n > 0);
        // SCRATCH runs from 0 down by 16 per slot; the two displacements
        // are the first slots of each run.
        let src = self.home_base - 16 * from as i32;
        let dst = self.home_base - 16 * to as i32;
        let end = -16 * n as i32;
        let top = self.a.new_label();
        self.a.alu_rr(AluOp::Xor, Size::S32, SCRATCH, SCRATCH);
        self.a.bind(top);
        self.a.sse_rm(
            SseOp::MOVDQU,
            SCRATCH_XMM,
            Mem::indexed(Gpr::Rbp, SCRATCH, Scale::X1, src),
        );
        self.a.sse_mr(
            SseOp::MOVDQU_STORE,
            Mem::indexed(Gpr::Rbp, SCRATCH, Scale::X1, dst),
            SCRATCH_XMM,
        );
        self.a.alu_ri(AluOp::Sub, Size::S64, SCRATCH, 16);
        self.a.alu_ri(AluOp::Cmp, Size::S64, SCRATCH, end);
        self.a.jcc(Cond::Ne, top);
    }

    /// The register the single result of `frame` meets in at its end, for
    /// a block or `if` without parameters and with one integer, reference
    /// or `f32`/`f64` result; `None` for every other frame, whose carried
    /// values meet in their home slots. `carried` is the frame's label
    /// arity (for these frames, its results), which the callers have at
    /// hand: it is checked first, so the common branch that carries
    /// nothing needs no block-type lookup. Whatever else is on the stack
    /// at such a merge is below the frame, spilled when it began, so the
    /// register is free there.
    fn merge_reg(&self, frame: &Frame, carried: &[ValType]) -> Option<Loc> {
        let merge = match carried {
            [ValType::F32 | ValType::F64] => Loc::Xmm(MERGE_XMM),
            [ValType::I32 | ValType::I64 | ValType::FuncRef | ValType::ExternRef] => {
                Loc::Gpr(MERGE_GPR)
            }
            _ => return None,
        };
        (matches!(
            frame.kind,
            FrameKind::Block | FrameKind::If | FrameKind::Else
        ) && self.block_params(frame.block_type).is_empty())
        .then_some(merge)
    }

    /// Copies the top operand into `merge` (a [`Self::merge_reg`]), leaving
    /// the stack and the register bookkeeping as they are: the code that
    /// follows either jumps to the merge or ends the frame.
    fn load_merge(&mut self, merge: Loc) {
        let pos = self.stack.len() - 1;
        let v = self.stack[pos];
        match merge {
            Loc::Gpr(r) => self.load_gpr(r, v, pos),
            Loc::Xmm(x) => self.load_xmm(x, v, pos),
            _ => unreachable!("merges are in registers"),
        }
    }

    /// Emits a branch to the frame at `depth` (all operands already home).
    fn branch_to(&mut self, depth: u32) {
        let index = self.frames.len() - 1 - depth as usize;
        let frame = self.frames[index];
        if frame.kind == FrameKind::Function {
            self.emit_return();
            return;
        }
        let types = self.label_arity(&frame);
        self.move_to(&frame, types);
        self.frames[index].label_used = true;
        self.a.jmp(frame.label);
    }

    fn emit_return(&mut self) {
        let results = self.func_type.results();
        let base = self.stack.len() - results.len();
        if results.len() > MOVE_LOOP_MIN {
            // Many results: moved as a block to the bottom home slots,
            // from where one shared return sequence hands them over.
            self.spill_all();
            if base != 0 {
                self.copy_homes(base, 0, results.len());
            }
            let shared = *self.shared_return.get_or_insert_with(|| self.a.new_label());
            self.a.jmp(shared);
            return;
        }
        self.emit_return_sequence(base, false);
    }

    /// Hands the results over to the caller and returns: the results are
    /// the operands from stack position `base` up, or with `in_homes` (the
    /// shared return of [`Self::emit_return`], emitted after the body),
    /// the home slots from `base` up, whatever the stack holds.
    fn emit_return_sequence(&mut self, base: usize, in_homes: bool) {
        let results = self.func_type.results();
        slot_offsets(results, &mut self.offsets);
        let result = |this: &Self, k: usize| {
            if in_homes {
                Val {
                    ty: results[k],
                    loc: Loc::Home,
                }
            } else {
                this.stack[base + k]
            }
        };
        for k in (1..results.len()).rev() {
            let dst = Mem::base(Gpr::Rbp, 16 + self.offsets[k] as i32);
            let v = result(self, k);
            self.store_at(dst, v, base + k);
        }
        // The first result goes back in registers instead (see `abi`),
        // loaded last so that no other result is in its way.
        if !results.is_empty() {
            let v = result(self, 0);
            let dst = Mem::base(Gpr::Rbp, 16 + self.offsets[0] as i32);
            match v.ty {
                ValType::V128 => {
                    self.store_at(dst, v, base);
                    self.a.mov_rm(Size::S64, RESULT_GPR, dst);
                }
                ValType::F32 | ValType::F64 => {
                    self.load_xmm(RESULT_XMM, v, base);
                    self.a.movq_rx(RESULT_GPR, RESULT_XMM);
                }
                _ => self.load_gpr(RESULT_GPR, v, base),
            }
        }
        for (at, r) in self.saved_gpr_slots() {
            self.a.mov_rm(Size::S64, r, at);
        }
        self.a.mov_rr(Size::S64, Gpr::Rsp, Gpr::Rbp);
        self.a.pop_r(Gpr::Rbp);
        self.a.ret();
    }

    /// Drops everything above `height` and marks the rest of the frame dead.
    pub(crate) fn set_unreachable(&mut self) {
        let height = self.frames.last().map_or(0, |f| f.height);
        while self.stack.len() > height {
            self.pop();
        }
        self.unreachable = true;
    }

    fn push_frame(&mut self, kind: FrameKind, block_type: BlockType) {
        let nparams = self.block_params(block_type).len();
        self.spill_all();
        let label = self.a.new_label();
        let height = self.stack.len() - nparams;
        self.frames.push(Frame {
            kind,
            block_type,
            height,
            label,
            else_label: None,
            label_used: false,
            reachable: true,
            save_base: 0,
        });
        if kind == FrameKind::Loop {
            self.checked_ends = [0; 16];
            // Loop headers start a 32-byte block (the instruction fetch
            // window): a small loop then spans as few as its size allows
            // (NOP padding, run once per entry). 32 rather than 16 or 64:
            // the measurements behind the choice are in the commit that
            // made it (87f8989) and `benches/results.md`.
            self.a.align(32);
            self.a.bind(label);
            self.fuel_segment();
            self.checkpoint();
        }
    }

    /// Handles control operators in dead code: only nesting matters.
    fn dead_operator(&mut self, op: &Operator<'_>) -> Result<bool> {
        match op {
            Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                self.dead_depth += 1;
                Ok(true)
            }
            Operator::Else if self.dead_depth == 0 => Ok(false),
            Operator::End if self.dead_depth == 0 => Ok(false),
            Operator::End => {
                self.dead_depth -= 1;
                Ok(true)
            }
            _ => Ok(true),
        }
    }

    fn end_frame(&mut self) {
        self.checked_ends = [0; 16];
        let frame = *self.frames.last().expect("end closes a frame");
        let results = self.block_results(frame.block_type);
        let fallthrough = !self.unreachable;
        if frame.kind == FrameKind::Function {
            // Results go straight from wherever they are to the caller.
            if fallthrough {
                self.emit_return();
            }
            if frame.label_used {
                self.a.bind(frame.label);
            }
            self.frames.pop();
            return;
        }
        let merge = self.merge_reg(&frame, results);
        if fallthrough {
            // Results to where branches to the end leave them: their home
            // slots, or the merge register. (Below the frame everything is
            // home since it began.)
            if merge.is_none() {
                self.spill_all();
            }
            self.move_to(&frame, results);
        }
        if let Some(else_label) = frame.else_label {
            // An `if` without `else`: the false path carries the params
            // (equal to the results) straight to the end.
            let params = self.block_params(frame.block_type);
            if params.is_empty() {
                self.a.bind(else_label);
            } else {
                if fallthrough {
                    self.frames.last_mut().expect("frame").label_used = true;
                    self.a.jmp(frame.label);
                }
                self.a.bind(else_label);
                self.restore_if_params(&frame, params);
            }
        }
        if frame.kind != FrameKind::Loop {
            self.a.bind(frame.label);
            self.fuel_segment();
        }
        if frame.kind == FrameKind::If || frame.kind == FrameKind::Else {
            self.save_used = frame.save_base;
        }
        self.frames.pop();
        // Reset the stack to the frame's results, in the merge register or
        // their homes.
        while self.stack.len() > frame.height {
            self.pop();
        }
        match (merge, results) {
            (Some(merge), &[t]) => self.push(t, merge),
            _ => {
                for &t in results {
                    self.push(t, Loc::Home);
                }
            }
        }
        // A branch to a loop goes to its header, not its end.
        let branched_to_end = frame.label_used && frame.kind != FrameKind::Loop;
        let else_path = frame.kind == FrameKind::If && frame.reachable;
        self.unreachable = !(fallthrough || branched_to_end || else_path);
    }

    fn restore_if_params(&mut self, frame: &Frame, params: &[ValType]) {
        for (k, &t) in params.iter().enumerate() {
            let src = self.save_slot(frame.save_base + k as u32);
            let dst = self.home(frame.height + k);
            self.copy_mem(dst, src, t);
        }
    }

    /// Pops the condition of `if`/`br_if` and spills every operand (the
    /// merge state); returns the flags condition that means "true". A
    /// comparison still in the flags is used as is (spilling only moves,
    /// which keep the flags); any other value is tested after the spill.
    fn pop_branch_condition(&mut self) -> Cond {
        if let Some(&Val {
            loc: Loc::Flags(cond),
            ..
        }) = self.stack.last()
        {
            self.stack.pop();
            self.spill_all();
            return cond;
        }
        // Spilling only stores, so the popped register stays intact.
        let r = self.pop_gpr_read();
        self.spill_all();
        self.a.test_rr(Size::S32, r, r);
        Cond::Ne
    }

    fn op_if(&mut self, blockty: BlockType) {
        let cond = self.pop_branch_condition();
        let params = self.block_params(blockty);
        let save_base = self.save_used;
        if !params.is_empty() {
            let height = self.stack.len() - params.len();
            for (k, &t) in params.iter().enumerate() {
                let src = self.home(height + k);
                let dst = self.save_slot(save_base + k as u32);
                self.copy_mem(dst, src, t);
            }
            self.save_used += params.len() as u32;
            self.save_max = self.save_max.max(self.save_used);
        }
        let else_label = self.a.new_label();
        self.a.jcc(cond.invert(), else_label);
        self.push_frame(FrameKind::If, blockty);
        let frame = self.frames.last_mut().expect("just pushed");
        frame.else_label = Some(else_label);
        frame.save_base = save_base;
    }

    fn op_else(&mut self) {
        self.checked_ends = [0; 16];
        let frame = *self.frames.last().expect("else inside if");
        let results = self.block_results(frame.block_type);
        if !self.unreachable {
            if self.merge_reg(&frame, results).is_none() {
                self.spill_all();
            }
            self.move_to(&frame, results);
            self.frames.last_mut().expect("frame").label_used = true;
            self.a.jmp(frame.label);
        }
        let else_label = frame.else_label.expect("if frames have an else label");
        self.a.bind(else_label);
        self.fuel_segment();
        while self.stack.len() > frame.height {
            self.pop();
        }
        let params = self.block_params(frame.block_type);
        if !params.is_empty() {
            self.restore_if_params(&frame, params);
        }
        for &t in params {
            self.push(t, Loc::Home);
        }
        let f = self.frames.last_mut().expect("frame");
        f.kind = FrameKind::Else;
        f.else_label = None;
        self.unreachable = !frame.reachable;
    }

    fn op_br_if(&mut self, depth: u32) {
        let cond = self.pop_branch_condition();
        // A branch that carries nothing (or finds its values in place) is
        // one conditional jump.
        let index = self.frames.len() - 1 - depth as usize;
        let frame = self.frames[index];
        let carried = self.label_arity(&frame);
        if frame.kind != FrameKind::Function
            && self.stack.len() - carried.len() == frame.height
            && self.merge_reg(&frame, carried).is_none()
        {
            self.frames[index].label_used = true;
            self.a.jcc(cond, frame.label);
        } else {
            let skip = self.a.new_label();
            self.a.jcc(cond.invert(), skip);
            self.branch_to(depth);
            self.a.bind(skip);
        }
        self.fuel_segment();
    }

    fn op_br_table(&mut self, targets: &crate::decode::BrTable<'_>) {
        let index = self.pop_gpr();
        self.spill_all();
        let n = targets.len();
        // A target that needs no values moved is jumped to directly; the
        // others go through a stub that moves them first.
        let default_label = match self.direct_target(targets.default()) {
            Some(label) => label,
            None => self.a.new_label(),
        };
        let default_direct = self.direct_target(targets.default()).is_some();
        let table = self.a.new_label();
        self.emit_table_jump(index, n, default_label, table);
        let mut direct = default_direct;
        let mut entries = Vec::with_capacity(n as usize);
        // The stubs by target depth, in first-use order; `stub_of` finds
        // one by depth (a table may have millions of targets at thousands
        // of depths).
        let mut stubs: Vec<(u32, Label)> = Vec::new();
        let mut stub_of: HashMap<u32, Label> = HashMap::new();
        for depth in targets.targets() {
            let label = match self.direct_target(depth) {
                Some(l) => l,
                None => {
                    direct = false;
                    *stub_of.entry(depth).or_insert_with(|| {
                        let l = self.a.new_label();
                        stubs.push((depth, l));
                        l
                    })
                }
            };
            entries.push(label);
        }
        // The table itself goes after the function's code: data next to
        // hot code shares its cache lines, which costs the CPU dearly.
        self.jump_tables.push((table, entries));
        self.last_table_jump = Some(TableJump {
            table,
            default: default_label,
            len: n,
            direct,
        });
        for (depth, label) in stubs {
            self.a.bind(label);
            self.branch_to(depth);
        }
        if !default_direct {
            self.a.bind(default_label);
            self.branch_to(targets.default());
        }
    }

    /// Jumps to entry `index` (a register) of the jump table of `len`
    /// entries at `table` (32-bit offsets from the table's start), or to
    /// `default` when `index` is not below `len`.
    pub(crate) fn emit_table_jump(&mut self, index: Gpr, len: u32, default: Label, table: Label) {
        self.a.alu_ri(AluOp::Cmp, Size::S32, index, len as i32);
        self.a.jcc(Cond::Ae, default);
        self.a.lea(Size::S64, SCRATCH, Mem::rip(table));
        self.a
            .movsxd_rm(index, Mem::indexed(SCRATCH, index, Scale::X4, 0));
        self.a.alu_rr(AluOp::Add, Size::S64, index, SCRATCH);
        self.a.jmp_r(index);
    }

    /// The label a branch to `depth` can jump to without moving values
    /// (everything is home and the carried values already sit at the
    /// target's height), marking it used; `None` otherwise.
    fn direct_target(&mut self, depth: u32) -> Option<Label> {
        let index = self.frames.len() - 1 - depth as usize;
        let frame = self.frames[index];
        let carried = self.label_arity(&frame);
        if frame.kind == FrameKind::Function
            || self.stack.len() - carried.len() != frame.height
            || self.merge_reg(&frame, carried).is_some()
        {
            return None;
        }
        self.frames[index].label_used = true;
        Some(frame.label)
    }

    // ---------------------------------------------------------------
    // Calls.

    /// Pops the arguments of `ty`, spills everything else, stores the
    /// arguments into the outgoing area, also loads the first ones into
    /// their argument registers (`abi::args_in_registers`), and returns the
    /// area's size. It writes no other register than `SCRATCH`,
    /// `SCRATCH_XMM` and [`ARG_GPRS`]/[`ARG_XMMS`].
    ///
    /// For a `callee` known to be compiled wasm, those arguments go only in
    /// their registers, which such a callee reads (see `abi`); a host
    /// function, which `call_indirect` and imports may reach, reads the
    /// area.
    fn setup_call(&mut self, ty: &FuncType, callee: Callee) -> u32 {
        let params = ty.params();
        let area_params = slot_offsets(params, &mut self.offsets);
        let area = area_params.max(crate::abi::area_size(ty.results()));
        self.max_call_area = self.max_call_area.max(area);
        let base = self.stack.len() - params.len();
        // Spill what stays below the arguments, except reads of GPR-pinned
        // locals: the callee preserves those registers and cannot change
        // the locals.
        for i in self.below.call.min(base)..base {
            if !matches!(self.stack[i].loc, Loc::PinnedGpr(_)) {
                self.spill_at(i);
            }
        }
        self.below.call = self.below.call.max(base);
        let in_registers = args_in_registers(params);
        let area_from = if callee == Callee::Wasm {
            in_registers
        } else {
            0
        };
        for k in area_from..params.len() {
            let dst = Mem::base(Gpr::Rsp, self.offsets[k] as i32);
            self.store_operand(dst, base + k);
        }
        self.load_register_args(base, in_registers);
        for _ in 0..params.len() {
            self.pop();
        }
        area
    }

    /// Loads the `n` arguments from stack position `base` on into their
    /// argument registers. A second argument that sits in the first one's
    /// register is parked in a scratch register first (the first may sit
    /// in the second one's).
    fn load_register_args(&mut self, base: usize, n: usize) {
        let load = |this: &mut Self, k: usize| {
            let v = this.stack[base + k];
            if is_float(v.ty) {
                this.load_xmm(ARG_XMMS[k], v, base + k);
            } else {
                this.load_gpr(ARG_GPRS[k], v, base + k);
            }
        };
        let second = (n == 2).then(|| self.stack[base + 1].loc);
        if second == Some(Loc::Gpr(ARG_GPRS[0])) {
            self.a.mov_rr(Size::S64, SCRATCH, ARG_GPRS[0]);
            load(self, 0);
            self.a.mov_rr(Size::S64, ARG_GPRS[1], SCRATCH);
        } else if second == Some(Loc::Xmm(ARG_XMMS[0])) {
            self.a.sse_rr(SseOp::MOVAPS, SCRATCH_XMM, ARG_XMMS[0]);
            load(self, 0);
            self.a.sse_rr(SseOp::MOVAPS, ARG_XMMS[1], SCRATCH_XMM);
        } else {
            for k in 0..n {
                load(self, k);
            }
        }
    }

    /// Makes the outgoing area at least `bytes` large.
    pub(crate) fn reserve_call_area(&mut self, bytes: u32) {
        self.max_call_area = self.max_call_area.max(bytes);
    }

    /// After a call: pushes the results, the first from its register (see
    /// `abi`), the others read from the outgoing area.
    fn finish_call(&mut self, ty: &FuncType) {
        self.fuel_segment();
        let results = ty.results();
        slot_offsets(results, &mut self.offsets);
        for (k, &t) in results.iter().enumerate() {
            let src = Mem::base(Gpr::Rsp, self.offsets[k] as i32);
            if k == 0 && matches!(t, ValType::F32 | ValType::F64) {
                self.push_xmm(t, RESULT_XMM);
            } else if k == 0 && !is_float(t) {
                self.push_gpr(t, RESULT_GPR);
            } else if is_float(t) {
                let x = self.alloc_xmm();
                self.a.sse_rm(load_op(t), x, src);
                self.push_xmm(t, x);
            } else {
                let r = self.alloc_gpr();
                let size = if t == ValType::I32 {
                    Size::S32
                } else {
                    Size::S64
                };
                self.a.mov_rm(size, r, src);
                self.push_gpr(t, r);
            }
        }
    }

    fn op_call(&mut self, function_index: u32) {
        let ty = &self.env.module.types[self.env.func_types[function_index as usize] as usize];
        let imported = function_index < self.env.num_imported_funcs;
        self.setup_call(ty, if imported { Callee::Any } else { Callee::Wasm });
        self.save_pinned();
        if imported {
            self.a
                .mov_rm(Size::S64, Gpr::Rax, vmctx(offset_of!(VmContext, funcs)));
            let at = function_index as i64 * core::mem::size_of::<VmFuncRef>() as i64;
            self.add_imm64(Gpr::Rax, at);
            self.call_funcref_in_rax();
        } else {
            self.a
                .call_reloc(function_index - self.env.num_imported_funcs);
            self.a.call_site();
        }
        self.restore_pinned();
        self.finish_call(ty);
    }

    /// `rax` = VmFuncRef: switch to its instance, call, switch back.
    ///
    /// A callee of this instance, the usual target of `call_indirect`,
    /// keeps `r15` as it is, loaded or restored by no instruction: behind
    /// the predicted branches, the callee's loads of context fields (the
    /// memory base, the memory length) need not wait for the loads of the
    /// table element and its `vmctx`, and the caller's after the call not
    /// for the restore. Those chains of loads lie on the critical path of
    /// every call through a table (sort through a comparator: -12% with
    /// explicit checks, -12% with guard regions).
    fn call_funcref_in_rax(&mut self) {
        self.set_r15_unless_equal(Mem::base(Gpr::Rax, offset_of!(VmFuncRef, vmctx) as i32));
        self.a
            .call_m(Mem::base(Gpr::Rax, offset_of!(VmFuncRef, code) as i32));
        self.a.call_site();
        self.set_r15_unless_equal(Mem::base(Gpr::Rbp, SAVED_VMCTX));
    }

    /// Loads `r15` from `context` only when it holds another value.
    fn set_r15_unless_equal(&mut self, context: Mem) {
        let same = self.a.new_label();
        self.a.alu_rm(AluOp::Cmp, Size::S64, Gpr::R15, context);
        self.a.jcc(Cond::E, same);
        self.a.mov_rm(Size::S64, Gpr::R15, context);
        self.a.bind(same);
    }

    pub(crate) fn add_imm64(&mut self, r: Gpr, imm: i64) {
        if imm == 0 {
            return;
        }
        if let Ok(i) = i32::try_from(imm) {
            self.a.alu_ri(AluOp::Add, Size::S64, r, i);
        } else {
            self.a.mov_ri(Size::S64, SCRATCH, imm);
            self.a.alu_rr(AluOp::Add, Size::S64, r, SCRATCH);
        }
    }

    fn op_call_indirect(&mut self, type_index: u32, table_index: u32) {
        let ty = &self.env.module.types[type_index as usize];
        // The element index: keep it in a register the argument setup
        // leaves alone.
        let index = SCRATCH2;
        let pos = self.stack.len() - 1;
        let v = self.pop();
        self.load_gpr(index, v, pos);
        self.setup_call(ty, Callee::Any);
        self.save_pinned();
        let at = self.table_element(table_index, index, TrapCode::UndefinedElement);
        self.a.mov_rm(Size::S64, Gpr::Rax, at);
        self.a.test_rr(Size::S64, Gpr::Rax, Gpr::Rax);
        let uninit = self.a.trap_label(TrapCode::UninitializedElement);
        self.a.jcc(Cond::E, uninit);
        let id = self.env.type_ids[type_index as usize];
        self.a.alu_mi(
            AluOp::Cmp,
            Size::S32,
            Mem::base(Gpr::Rax, offset_of!(VmFuncRef, type_id) as i32),
            id as i32,
        );
        let mismatch = self.a.trap_label(TrapCode::IndirectCallTypeMismatch);
        self.a.jcc(Cond::Ne, mismatch);
        self.call_funcref_in_rax();
        self.restore_pinned();
        self.finish_call(ty);
    }

    /// Where table `index`'s `VmTable` is: table 0's copy in the context,
    /// or the table itself through its pointer, loaded into `SCRATCH`.
    /// Returns the base register and the `VmTable`'s displacement.
    pub(crate) fn table_view(&mut self, index: u32) -> (Gpr, i32) {
        if index == 0 {
            return (Gpr::R15, offset_of!(VmContext, table0) as i32);
        }
        self.a
            .mov_rm(Size::S64, SCRATCH, vmctx(offset_of!(VmContext, tables)));
        self.a
            .mov_rm(Size::S64, SCRATCH, Mem::base(SCRATCH, 8 * index as i32));
        (SCRATCH, 0)
    }

    /// Checks `index < len` of table `table` (else traps with `trap`) and
    /// returns the element's address operand, based on `SCRATCH`. `index`
    /// is an `i32` operand's register, so its upper half is zero.
    pub(crate) fn table_element(&mut self, table: u32, index: Gpr, trap: TrapCode) -> Mem {
        let (base, at) = self.table_view(table);
        self.a.alu_rm(
            AluOp::Cmp,
            Size::S64,
            index,
            Mem::base(base, at + offset_of!(VmTable, len) as i32),
        );
        let out_of_bounds = self.a.trap_label(trap);
        self.a.jcc(Cond::Ae, out_of_bounds);
        self.a.mov_rm(
            Size::S64,
            SCRATCH,
            Mem::base(base, at + offset_of!(VmTable, elements) as i32),
        );
        Mem::indexed(SCRATCH, index, Scale::X8, 0)
    }

    /// Leaves to the host with `code` (everything must be spilled).
    pub(crate) fn exit_to_host(&mut self, code: ExitCode) {
        self.a
            .mov_rm(Size::S64, SCRATCH, vmctx(offset_of!(VmContext, exec)));
        self.a.mov_mi(
            Size::S32,
            Mem::base(SCRATCH, offset_of!(ExecContext, exit_code) as i32),
            code as i32,
        );
        self.save_pinned();
        self.a.call_reloc(SYM_EXIT);
        self.restore_pinned();
    }

    // ---------------------------------------------------------------
    // Variables.

    fn op_local_get(&mut self, index: u32) {
        let local = self.locals[index as usize];
        let at = Mem::base(Gpr::Rbp, local.offset);
        match local.pin {
            Some(Loc::Gpr(pin)) => self.push(local.ty, Loc::PinnedGpr(pin)),
            Some(Loc::Xmm(pin)) => self.push(local.ty, Loc::PinnedXmm(pin)),
            _ if is_float(local.ty) => {
                let x = self.alloc_xmm();
                self.a.sse_rm(load_op(local.ty), x, at);
                self.push_xmm(local.ty, x);
            }
            _ => {
                let r = self.alloc_gpr();
                let size = if local.ty == ValType::I32 {
                    Size::S32
                } else {
                    Size::S64
                };
                self.a.mov_rm(size, r, at);
                self.push_gpr(local.ty, r);
            }
        }
    }

    fn op_local_set(&mut self, index: u32, tee: bool) {
        let local = self.locals[index as usize];
        if let Some(pin) = local.pin {
            let pos = self.stack.len() - 1;
            let v = self.pop();
            // Operands still reading the old value move off the register
            // (not into the register of the value being stored).
            match v.loc {
                Loc::Gpr(r) => self.regs.take_gpr(r),
                Loc::Xmm(x) => self.regs.take_xmm(x),
                _ => {}
            }
            self.detach_pinned(pinned_read(pin));
            match v.loc {
                Loc::Gpr(r) => self.regs.free_gpr(r),
                Loc::Xmm(x) => self.regs.free_xmm(x),
                _ => {}
            }
            if let Loc::Gpr(p) = pin {
                self.checked_ends[p.enc() as usize & 15] = 0;
            }
            // A value the last instruction loaded, computed by `lea` or
            // summed is loaded or computed into the local's register
            // instead, saving a `mov` (the assembler refuses when anything
            // came between, such as a copy `detach_pinned` made of the old
            // value, or a label other code jumps to). A `local.tee` then
            // leaves a read of the local on the stack.
            let redefined = match (pin, v.loc) {
                (Loc::Gpr(p), Loc::Gpr(r)) => self.a.redefine_last_gpr(r, p),
                (Loc::Xmm(p), Loc::Xmm(x)) => self.a.redefine_last_xmm(x, p),
                _ => false,
            };
            if redefined {
                if tee {
                    self.push(v.ty, pinned_read(pin));
                }
                return;
            }
            match (pin, v.loc) {
                (Loc::Gpr(p), Loc::Gpr(r) | Loc::PinnedGpr(r)) => {
                    if p != r {
                        self.a.mov_rr(Size::S64, p, r)
                    }
                }
                (Loc::Gpr(p), Loc::Const(bits)) => self.a.mov_ri(Size::S64, p, bits as i64),
                (Loc::Gpr(p), Loc::Home) => {
                    let size = if local.ty == ValType::I32 {
                        Size::S32
                    } else {
                        Size::S64
                    };
                    let home = self.home(pos);
                    self.a.mov_rm(size, p, home);
                }
                (Loc::Xmm(p), Loc::Xmm(x) | Loc::PinnedXmm(x)) => {
                    if p != x {
                        self.a.sse_rr(SseOp::MOVAPS, p, x)
                    }
                }
                (Loc::Xmm(p), Loc::Const(bits)) => self.load_const_xmm(p, local.ty, bits),
                (Loc::Xmm(p), Loc::Home) => {
                    let home = self.home(pos);
                    self.a.sse_rm(load_op(local.ty), p, home);
                }
                _ => unreachable!("a pinned local and its value agree on the register class"),
            }
            if tee {
                self.push(v.ty, v.loc);
                if let (Loc::Gpr(p), Loc::Gpr(r)) = (pin, v.loc) {
                    self.tee_alias[r.enc() as usize & 15] = Some(p);
                }
            }
            return;
        }
        let at = Mem::base(Gpr::Rbp, local.offset);
        let v = self.peek(0);
        match v.loc {
            Loc::Home => {
                if is_float(v.ty) {
                    let x = self.pop_xmm();
                    self.a.sse_mr(store_op(v.ty), at, x);
                    if tee {
                        self.push_xmm(v.ty, x);
                    }
                } else {
                    let r = self.pop_gpr();
                    self.a.mov_mr(Size::S64, at, r);
                    if tee {
                        self.push_gpr(v.ty, r);
                    }
                }
                return;
            }
            Loc::Xmm(x) | Loc::PinnedXmm(x) => self.a.sse_mr(store_op(v.ty), at, x),
            Loc::Gpr(_) | Loc::PinnedGpr(_) | Loc::Const(_) | Loc::Flags(_) => {
                self.store_val(at, v)
            }
        }
        if !tee {
            self.pop();
        }
    }

    /// Loads the address of global `index`'s cell into `dst`.
    pub(crate) fn global_cell(&mut self, dst: Gpr, index: u32) {
        self.a
            .mov_rm(Size::S64, dst, vmctx(offset_of!(VmContext, globals)));
        self.a
            .mov_rm(Size::S64, dst, Mem::base(dst, 8 * index as i32));
    }

    fn op_global_get(&mut self, index: u32) {
        let ty = self.env.global_types[index as usize].content;
        self.global_cell(SCRATCH, index);
        let at = Mem::base(SCRATCH, 0);
        if is_float(ty) {
            let x = self.alloc_xmm();
            self.a.sse_rm(load_op(ty), x, at);
            self.push_xmm(ty, x);
        } else {
            let r = self.alloc_gpr();
            let size = if ty == ValType::I32 {
                Size::S32
            } else {
                Size::S64
            };
            self.a.mov_rm(size, r, at);
            self.push_gpr(ty, r);
        }
    }

    fn op_global_set(&mut self, index: u32) {
        let ty = self.env.global_types[index as usize].content;
        if is_float(ty) {
            let x = self.pop_xmm();
            self.global_cell(SCRATCH, index);
            self.a.sse_mr(store_op(ty), Mem::base(SCRATCH, 0), x);
        } else {
            let r = self.pop_gpr();
            self.global_cell(SCRATCH, index);
            self.a.mov_mr(Size::S64, Mem::base(SCRATCH, 0), r);
        }
    }

    // ---------------------------------------------------------------
    // Dispatch.

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

    fn op_select(&mut self) {
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

#[allow(dead_code)]
fn _assert_allocatable_excludes_fixed() {
    debug_assert!(!ALLOCATABLE_GPRS.contains(&Gpr::R15));
}
