//! Prologue, epilogue and pins on x86-64: the registers that hold pinned
//! locals and memory 0's base and bound, the prologue, the saving and
//! restoring of pins around calls and exits, fuel segments and
//! checkpoints, and the function's end, which patches the frame size in
//! ([`FrameLayout`]).
//!
//! # Frameless leaves
//!
//! A small leaf (a comparator, an accessor) often needs no frame at all:
//! its locals fit in caller-saved registers, its values never spill, it
//! exits nowhere and returns at most one value, in a register. Its
//! `push rbp; mov rbp, rsp` and `mov rsp, rbp; pop rbp` are then most of
//! its cost. Whether it is such a leaf is known only once its body is
//! compiled, so every function is compiled with the prologue and
//! epilogue, and every `rbp`-relative address goes through
//! [`FrameLayout::slot_at`] (or the home and save slots), which notes
//! that the frame is used. If nothing used it, nothing saved a register
//! and nothing runs below the function, `finish` drops the frame: the
//! entry moves past the whole prologue (whose remaining code, parameter
//! moves into their pins and the memory base's load, does not touch the
//! stack), and each `mov rsp, rbp; pop rbp` becomes the `ret` after it
//! or, before a tail call, that call's jump, moved up: an indirect one
//! (through a funcref) runs the same anywhere, and a direct one's
//! displacement is a relocation, which moves with it. While such a
//! function runs, `rbp` is its caller's and its return address is at
//! `rsp`; [`crate::abi::UNWIND_FRAMELESS`] tells a backtrace to take the
//! return address from there.
//!
//! A leaf that would be frameless but for the callee-saved registers its
//! pinned locals take (more locals than the caller-saved registers hold)
//! pushes them instead: its saves after `sub rsp` (four-byte moves to
//! `[rbp - k]`) are rewritten into `push`es that end where they did, the
//! entry moves to the first, and each run of restores with the `mov rsp,
//! rbp; pop rbp` after it becomes the `pop`s in reverse order, then the
//! `ret` or the tail call's jump as above. Its return address then lies
//! above the pushed registers, which a backtrace counts from the
//! function's unwind information. One rewrite ([`FuncCompiler::drop_frame`])
//! serves both kinds: a frameless leaf is one that pushes nothing.
//!
//! A leaf whose layout already promises no frame (no local in memory, no
//! callee-saved pin, no fuel or interruption exits) is compiled under the
//! frameless plan ([`FrameLayout::frameless_plan`]): its incoming area
//! (stack parameters, the homes of register parameters, results after
//! the first) is addressed from `rsp` rather than `rbp`, so that reading
//! stack parameters does not keep the frame, and its returns and tail
//! calls are emitted without the frame's exit, which leaves nothing for
//! the rewrite to do there. If its body needs the frame after all,
//! `finish` says so and the function is compiled again without the plan
//! (`compile_one`, [`super::masm::MacroAssembler::rewind`]).
//!
//! # Branch history marks
//!
//! An interpreter that dispatches with `call_indirect` in a loop runs one
//! indirect call site whose target changes from call to call, in a
//! pattern the processor's indirect-branch predictor learns from the
//! recent taken branches: the path that led to the call. When the
//! handlers take no branch of their own (straight-line code, their bounds
//! checked by guard regions), a round of the loop leaves only the call,
//! the handler's `ret` and the loop's back edge in that history, and
//! whether the predictor tells the rounds apart depends on where the
//! handlers happen to lie in memory, from one process to the next with
//! the same code. A taken jump inside each handler puts the handler's own
//! address in the history, which on the AMD Zen 4 it was measured on
//! told them apart wherever they lay (`benches/results.md`, stop 44).
//!
//! So a function that an indirect call may run (a reference may reach it:
//! `Env::declared_funcs`), whose body opens no block, loop or `if` and
//! calls nothing, ends its prologue with a `jmp` to the next instruction
//! ([`marks_branch_history`]). A function with branches of its own
//! leaves them in the history already, and one reached only by direct
//! calls is predicted at its call sites. The mark costs a taken branch
//! per call of such a function.

use super::calls::{ARG_GPRS, ARG_XMMS};
use super::regs::{SCRATCH, SCRATCH2};
use super::*;
use crate::abi::{
    ExecContext, ExitCode, LEAF_FRAME_MAX, REGISTER_ARGS, SHORT_CHECK_FRAME_MAX, TrapCode,
    VmContext, args_in_registers,
};
use crate::asm::x64::{AluOp, Assembler, Cond, Gpr, Mem, Size, SseOp, Xmm};
use crate::compile::Env;
use crate::compile::func::*;
use crate::compile::stack::Loc;
use crate::decode::ValType;
use crate::error::{Error, Result};
use crate::validate::FuncInfo;
use core::mem::offset_of;

/// The callee-saved registers of generated code, which hold pinned
/// integer locals (none is needed by `div`, shifts or the call sequence),
/// then [`MEMORY_BASE`], which the exit stub saves with them.
/// The first five of the eleven allocatable registers; the value stack
/// keeps rax, rcx, rdx, r8 and r9.
///
/// They are callee-saved, so a caller's pinned locals stay in their
/// registers across calls: a function saves the ones it uses (its pins,
/// and `rsi`/`rdi` if it runs string instructions) in its prologue and
/// restores them before it returns, and never uses the others. The exit
/// stub saves all six, so exits preserve them too. This moves the cost of
/// a call from every pinned local of the caller to the registers the
/// callee uses: a loop calling a small function does not store and reload
/// its locals around each call.
pub(crate) const PIN_GPRS: [Gpr; 6] = [Gpr::Rbx, Gpr::R12, Gpr::R13, Gpr::Rsi, Gpr::Rdi, Gpr::R14];

/// Registers that hold the first pinned integer locals of a leaf function
/// (one that calls nothing, or nothing but tail calls, which leave this
/// frame before the callee runs): they are caller-saved, so the function
/// need not save them, which in a small function called often (a comparator)
/// is most of its cost. Like XMM pins, they are stored to their slots
/// before exits and reloaded after. A function with calls may pin the
/// locals after those in callee-saved registers here, stored and reloaded
/// around each call too, when they weigh more than the calls. The value
/// stack then keeps only rax, rcx and rdx, so only functions whose operand
/// stack stays within [`LEAF_PIN_MAX_STACK`] values inside loops use them.
pub(crate) const LEAF_PIN_GPRS: [Gpr; 2] = [Gpr::R8, Gpr::R9];

/// The leaf pins of the integer parameters passed in registers: the
/// registers they arrive in ([`ARG_GPRS`]). Such a parameter pinned in a
/// leaf takes its own in place of one of [`LEAF_PIN_GPRS`], which the value
/// stack keeps instead, so it needs no move in the prologue, and passed
/// on unchanged in the same position by a tail call, none there either:
/// the argument setup of a threaded interpreter's handler, which receives
/// and passes on the same state, shrinks to the values it changes.
///
/// Both are registers some instructions use implicitly (shift counts in
/// `cl`, division in `rdx:rax`): those store the local away for the
/// instruction and reload it after ([`FuncCompiler::unpin_gprs`]). A
/// leaf runs no string instructions or wide arithmetic, the others.
pub(crate) const LEAF_ARRIVAL_PINS: [Gpr; REGISTER_ARGS] = ARG_GPRS;

/// The most integer values on the operand stack at once inside loops
/// (`FuncInfo::max_loop_gpr_stack_height`) of a function that uses
/// [`LEAF_PIN_GPRS`] and makes calls other than tail calls, or none:
/// there a value that does not fit the value stack's three registers
/// spills and reloads in every iteration (reads of pinned locals and
/// constants take none). Outside loops the stack may grow deeper
/// (`compile::func::frame`).
pub(crate) const LEAF_PIN_MAX_STACK: u32 = 4;

/// How many of [`PIN_GPRS`] hold pinned locals: all but [`MEMORY_BASE`].
pub(crate) const LOCAL_PIN_GPRS: usize = 5;

/// Holds memory 0's base in functions that access memory, and nothing
/// else in any function: it is caller-saved, so a function loads it
/// without saving it, and reloads it after every call and exit (which
/// also covers a memory that grew and moved). A callee-saved base would
/// cost every call of a function with memory a save and a restore, for
/// nothing: the caller reloads it anyway. The enter trampoline loads it
/// too, so a function that only its own module's code can enter may find
/// it current (`Env::base_current_at_entry`, the exceptions to both
/// reloads: `abi`, "Registers").
pub(crate) const MEMORY_BASE: Gpr = Gpr::R14;
const _: () = assert!(PIN_GPRS[LOCAL_PIN_GPRS].enc() == MEMORY_BASE.enc());
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
pub(crate) const MEMORY_LAST_MIN_WEIGHT: u32 = 4;
/// Registers that hold pinned float locals: the first
/// [`SHARED_PIN_XMMS`] for the most used ones, then two more for locals
/// used inside loops. The value stack takes the XMM registers no local
/// is pinned in: at least xmm0-5.
///
/// The inner loop of a float kernel compiled from C often reads more than
/// seven locals (a physics step's: positions, velocity deltas, the
/// distance and its inverse): an unpinned one costs a load from its slot
/// at every read, a store at every write, and a store-to-load round trip
/// on the dependency chain between them. The value stack rarely holds
/// more than a few floats in registers at once (reads of pinned locals
/// take none), so six registers serve it.
pub(crate) const PIN_XMMS: [Xmm; 9] = [
    Xmm::Xmm8,
    Xmm::Xmm9,
    Xmm::Xmm10,
    Xmm::Xmm11,
    Xmm::Xmm12,
    Xmm::Xmm13,
    Xmm::Xmm14,
    Xmm::Xmm7,
    Xmm::Xmm6,
];
/// How many of [`PIN_XMMS`] any float local may take; the others go only
/// to locals used inside a loop (weight at least [`LOOP_PIN_MIN_WEIGHT`]).
pub(crate) const SHARED_PIN_XMMS: usize = 7;
/// The least weight (`validate::LocalUse`: 8 for one use in a loop) of a
/// local pinned in one of the value stack's registers ([`PIN_XMMS`]
/// beyond [`SHARED_PIN_XMMS`]).
pub(crate) const LOOP_PIN_MIN_WEIGHT: u32 = 8;

pub(crate) const SAVED_VMCTX: i32 = crate::abi::SAVED_VMCTX_OFFSET;

/// The length of the `mov rsp, rbp; pop rbp` a function leaves its frame
/// with (3 bytes and 1), which `finish` rewrites in a leaf that drops it.
const LEAVE_LEN: usize = 4;
/// The opcode of `ret`, which `finish` looks for after a `LEAVE_LEN`.
const RET: u8 = 0xC3;

/// The displacement the prologue's `lea r10, [rsp - frame]` is emitted
/// with before the frame size is patched in: any that takes four bytes.
const FRAME_DISPLACEMENT: i32 = i32::MIN;
/// The length of that `lea` (REX, opcode, ModRM, SIB, disp32).
const FRAME_LEA_LEN: usize = 8;

// The unwinder finds the saved pin registers by `abi::PIN_GPR_ENCODINGS`.
const _: () = {
    let mut i = 0;
    while i < PIN_GPRS.len() {
        assert!(PIN_GPRS[i].enc() == crate::abi::PIN_GPR_ENCODINGS[i]);
        i += 1;
    }
};

impl FrameLayout {
    /// `rbp`-relative slot `offset` of the frame, noting that the code
    /// addresses the frame (so the function keeps it).
    ///
    /// Under [`Self::frameless_plan`], a slot of the incoming area
    /// (`rbp + 16` and up) is addressed from `rsp` instead, which in a
    /// function without a frame stays where `rbp + 8` would be.
    pub(crate) fn slot_at(&self, offset: i32) -> Mem {
        if self.frameless_plan && offset >= 16 {
            return Mem::base(Gpr::Rsp, offset - 8);
        }
        self.use_frame();
        Mem::base(Gpr::Rbp, offset)
    }
}

/// Whether function `func_index` ends its prologue with a jump to the
/// next instruction (see "Branch history marks" in the module doc): an
/// indirect call may run it, and its body (`info`) opens no block, loop
/// or `if` and calls nothing.
pub(crate) fn marks_branch_history(env: &Env<'_, '_>, func_index: u32, info: &FuncInfo) -> bool {
    info.max_control_depth <= 1
        && !info.has_calls
        && env
            .declared_funcs
            .get(func_index as usize)
            .is_some_and(|&declared| declared)
}

impl<'e, 'm, 'a> FuncCompiler<'e, 'm, 'a> {
    pub(crate) fn prologue(&mut self) {
        self.a.push_r(Gpr::Rbp);
        self.a.mov_rr(Size::S64, Gpr::Rbp, Gpr::Rsp);
        // The frame is checked against the limit before `rsp` moves: the
        // new `rsp` is computed in a scratch register, and a frame that
        // would reach below the limit traps with `rsp` still inside the
        // margin, where the trap path's own pushes land. The frame size is
        // patched in once known. `rsp` minus a frame of at most
        // `SHORT_CHECK_FRAME_MAX` bytes cannot wrap below address 0 (see
        // there); for a bigger one, `finish` turns the `lea` into a jump to
        // a check that it does not.
        let check_start = self.a.offset();
        self.a
            .lea(Size::S64, SCRATCH2, Mem::base(Gpr::Rsp, FRAME_DISPLACEMENT));
        self.frame.frame_size_patches[0] = self.a.offset() - 4;
        let overflow = self.a.trap_label(TrapCode::StackOverflow);
        self.frame.stack_overflow = Some(overflow);
        let after_lea = self.a.new_label();
        self.a.bind(after_lea);
        self.frame.after_frame_lea = Some(after_lea);
        self.a.alu_rm(
            AluOp::Cmp,
            Size::S64,
            SCRATCH2,
            vmctx(offset_of!(VmContext, stack_limit)),
        );
        self.a.jcc(Cond::B, overflow);
        self.frame.stack_check = (check_start, self.a.offset());
        self.frame.frame_size_patches[1] = self.a.alu_ri_imm32(AluOp::Sub, Size::S64, Gpr::Rsp, 0);
        // Saved for the calls that may switch `r15` and for the handlers
        // (`FrameLayout::saves_vmctx`): after a tail call nothing comes
        // back to this frame.
        if self.frame.saves_vmctx {
            self.a
                .mov_mr(Size::S64, self.frame.slot_at(SAVED_VMCTX), Gpr::R15);
        }
        for (at, r) in self.saved_gpr_slots() {
            self.a.mov_mr(Size::S64, at, r);
        }
        // Zero the declared locals (pinned ones in their registers), but
        // for the numeric ones written before any read.
        let first_declared = self.func_type.params().len();
        if self.frame.locals.len() > first_declared {
            // A zero to store, made once, if some local lives in memory.
            let mut zero = false;
            for i in first_declared..self.frame.locals.len() {
                let local = self.frame.locals[i];
                if self.frame.is_defined_before_read(i)
                    && matches!(
                        local.ty,
                        ValType::I32 | ValType::I64 | ValType::F32 | ValType::F64
                    )
                {
                    continue;
                }
                match local.pin {
                    Some(Loc::Gpr(r)) => self.a.alu_rr(AluOp::Xor, Size::S32, r, r),
                    Some(Loc::Xmm(x)) => self.a.sse_rr(SseOp::XORPS, x, x),
                    _ => {
                        if !zero {
                            self.a.alu_rr(AluOp::Xor, Size::S32, SCRATCH, SCRATCH);
                            zero = true;
                        }
                        self.a
                            .mov_mr(Size::S64, self.frame.slot_at(local.offset), SCRATCH);
                        if local.ty == ValType::V128 {
                            self.a
                                .mov_mr(Size::S64, self.frame.slot_at(local.offset + 8), SCRATCH);
                        }
                    }
                }
            }
        }
        // Pinned parameters move into their registers, the first ones from
        // the registers they also came in (unless pinned there).
        let in_registers = args_in_registers(self.func_type.params());
        for i in 0..first_declared {
            let local = self.frame.locals[i];
            match local.pin {
                // Pinned where it arrived (`LEAF_ARRIVAL_PINS`).
                Some(Loc::Gpr(r)) if i < in_registers && r == ARG_GPRS[i] => {}
                Some(Loc::Gpr(r)) if i < in_registers => self.a.mov_rr(Size::S64, r, ARG_GPRS[i]),
                Some(Loc::Xmm(x)) if i < in_registers => {
                    self.a.sse_rr(SseOp::MOVAPS, x, ARG_XMMS[i])
                }
                Some(_) => self.load_pinned(i),
                // Direct callers pass these arguments only in their
                // registers; they get their slots here.
                None if i < in_registers => {
                    let slot = self.frame.slot_at(local.offset);
                    match local.ty {
                        ValType::F32 | ValType::F64 => {
                            self.a.sse_mr(SseOp::MOVSD_STORE, slot, ARG_XMMS[i])
                        }
                        _ => self.a.mov_mr(Size::S64, slot, ARG_GPRS[i]),
                    }
                }
                None => {}
            }
        }
        self.load_memory_registers(!self.frame.base_current_at_entry, true);
        self.fuel_segment();
        self.checkpoint();
        if self.frame.marks_branch_history {
            self.a.jmp_next();
        }
    }

    /// Closes the current fuel segment (patching its cost) and opens a new
    /// one that charges as it starts.
    pub(crate) fn fuel_segment(&mut self) {
        if !self.env.options.fuel {
            return;
        }
        if let Some(at) = self.fuel.patch.take() {
            self.a.patch_i32(at, self.fuel.ops as i32);
        }
        self.fuel.ops = 0;
        self.a
            .mov_rm(Size::S64, SCRATCH, vmctx(offset_of!(VmContext, exec)));
        // A placeholder that needs the imm32 form; patched at segment end.
        self.a.alu_mi(
            AluOp::Sub,
            Size::S64,
            Mem::base(SCRATCH, offset_of!(ExecContext, fuel) as i32),
            i32::MAX,
        );
        self.fuel.patch = Some(self.a.offset() - 4);
    }

    /// At function entries and loop headers: leave if fuel ran out or the
    /// embedder interrupted (all operands are home here, so it is safe).
    pub(crate) fn checkpoint(&mut self) {
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

    /// Starts the function with its prelude (`func::prelude`) instead of
    /// the prologue: until [`Self::end_prelude`], the integer parameters
    /// passed in registers are read in those registers, which the operand
    /// stack leaves alone, and a return has no frame to leave.
    pub(crate) fn enter_prelude(&mut self) {
        let mut pins = [None; REGISTER_ARGS];
        let in_registers = args_in_registers(self.func_type.params());
        for (i, pin) in pins.iter_mut().enumerate().take(in_registers) {
            let local = &mut self.frame.locals[i];
            if matches!(local.ty, ValType::I32 | ValType::I64) {
                *pin = local.pin;
                local.pin = Some(Loc::Gpr(ARG_GPRS[i]));
                self.ops.pin_gpr(ARG_GPRS[i]);
            }
        }
        self.frame.prelude_pins = Some(pins);
    }

    /// Ends the prelude with the prologue, which finds the parameters in
    /// their registers still, and gives them their pins back.
    pub(crate) fn end_prelude(&mut self) {
        let pins = self.frame.prelude_pins.take().unwrap_or_default();
        let in_registers = args_in_registers(self.func_type.params());
        for (i, &pin) in pins.iter().enumerate().take(in_registers) {
            if let Some(Loc::Gpr(r)) = self.frame.locals[i].pin
                && r == ARG_GPRS[i]
            {
                self.frame.locals[i].pin = pin;
                self.ops.unpin_gpr(r);
            }
        }
        self.prologue();
    }

    /// Loads pinned local `i` from its memory slot into its register.
    ///
    /// A GPR load is the plain assembler's, which the peephole does not
    /// see: it would only ever rewrite a load into a register that an
    /// operand owns, which a pin register never is.
    pub(crate) fn load_pinned(&mut self, i: usize) {
        let local = self.frame.locals[i];
        let at = self.frame.slot_at(local.offset);
        match local.pin {
            Some(Loc::Gpr(r)) => {
                let size = if local.ty == ValType::I32 {
                    Size::S32
                } else {
                    Size::S64
                };
                let plain: &mut Assembler = &mut self.a;
                plain.mov_rm(size, r, at);
            }
            Some(Loc::Xmm(x)) => self.a.sse_rm(load_op(local.ty), x, at),
            _ => {}
        }
    }

    /// Reloads the pin registers the prologue saved, from their slots.
    pub(crate) fn restore_saved_gprs(&mut self) {
        for (at, r) in self.saved_gpr_slots() {
            self.a.mov_rm(Size::S64, r, at);
        }
    }

    /// The epilogue without its `ret`: restores the saved pin registers,
    /// `rsp` and the caller's `rbp`, so the return address is on top.
    pub(crate) fn leave_frame(&mut self) {
        // The prelude runs before the frame exists. Under the frameless
        // plan no frame will exist either (`finish` has the function
        // compiled again without the plan otherwise), and no register is
        // saved: a tail call's jump or the `ret` follows directly.
        if self.frame.prelude_pins.is_some() || self.frame.frameless_plan {
            return;
        }
        self.restore_saved_gprs();
        self.frame.frame_exits.push(self.a.offset() as u32);
        self.a.mov_rr(Size::S64, Gpr::Rsp, Gpr::Rbp);
        self.a.pop_r(Gpr::Rbp);
    }

    /// The frame slots of the saved pin registers, with their registers.
    pub(crate) fn saved_gpr_slots(&self) -> impl Iterator<Item = (Mem, Gpr)> + use<> {
        let saved = self.frame.saved_gprs;
        PIN_GPRS
            .into_iter()
            .filter(move |r| saved & (1 << r.enc()) != 0)
            .enumerate()
            .map(|(k, r)| (Mem::base(Gpr::Rbp, SAVED_VMCTX - 8 * (k as i32 + 1)), r))
    }

    /// Stores the locals pinned in caller-saved registers (XMM registers
    /// and [`LEAF_PIN_GPRS`]) to their slots, before calls and exits,
    /// which clobber those registers; the other GPR pins are callee-saved.
    pub(crate) fn save_pinned(&mut self) {
        for k in 0..self.frame.volatile_pins.1 {
            let local = self.frame.locals[self.frame.volatile_pins.0[k] as usize];
            let at = self.frame.slot_at(local.offset);
            match local.pin {
                Some(Loc::Xmm(x)) => self.a.sse_mr(store_op(local.ty), at, x),
                Some(Loc::Gpr(r)) => self.a.mov_mr(Size::S64, at, r),
                _ => {}
            }
        }
    }

    /// Reloads the locals pinned in caller-saved registers and the memory
    /// base, which a call or exit may have moved (after calls and exits).
    pub(crate) fn restore_pinned(&mut self) {
        self.reload_pins(true, true);
    }

    /// Reloads the locals pinned in caller-saved registers, then memory
    /// 0's base if `base` and its bound register if `bound` (a caller that
    /// knows its callee left one current skips it).
    pub(crate) fn reload_pins(&mut self, base: bool, bound: bool) {
        for k in 0..self.frame.volatile_pins.1 {
            self.load_pinned(self.frame.volatile_pins.0[k] as usize);
        }
        self.load_memory_registers(base, bound);
    }

    /// Frees the registers `fixed` of pinned locals for an instruction
    /// that uses them implicitly (the string instructions): each pinned
    /// local living in one is stored to its slot and its register released.
    /// Returns, per register, the local to give it back to with
    /// [`Self::repin_gprs`]. Operands in `fixed` stay where they are (move
    /// them out with [`Self::pop_into_gpr`] or [`Self::evict_gpr`]).
    pub(crate) fn unpin_gprs<const N: usize>(&mut self, fixed: [Gpr; N]) -> [Option<usize>; N] {
        debug_assert!(self.frame.memory_base.is_none_or(|b| !fixed.contains(&b)));
        debug_assert!(
            fixed
                .iter()
                .all(|r| !PIN_GPRS.contains(r) || self.frame.saved_gprs & (1 << r.enc()) != 0),
            "a pin register this function does not save"
        );
        // Operands still reading a local in one of these registers take a
        // copy first: the register is about to hold something else.
        for r in fixed {
            self.detach_pinned(Loc::PinnedGpr(r));
        }
        fixed.map(|r| {
            let i = self.frame.gpr_pins[r.enc() as usize & 15]? as usize;
            if self.frame.locals[i].pin != Some(Loc::Gpr(r)) {
                return None;
            }
            self.a.mov_mr(
                Size::S64,
                self.frame.slot_at(self.frame.locals[i].offset),
                r,
            );
            self.ops.unpin_gpr(r);
            Some(i)
        })
    }

    /// [`Self::unpin_gprs`] when some local is pinned in one of `fixed`,
    /// else nothing (and no scan of the operand stack).
    pub(crate) fn unpin_gprs_if_pinned<const N: usize>(
        &mut self,
        fixed: [Gpr; N],
    ) -> [Option<usize>; N] {
        if fixed
            .iter()
            .any(|r| self.frame.gpr_pins[r.enc() as usize & 15].is_some())
        {
            self.unpin_gprs(fixed)
        } else {
            [None; N]
        }
    }

    /// Reloads the locals [`Self::unpin_gprs`] released into their
    /// registers (which must be free again).
    pub(crate) fn repin_gprs<const N: usize>(&mut self, unpinned: [Option<usize>; N]) {
        for i in unpinned.into_iter().flatten() {
            if let Some(Loc::Gpr(r)) = self.frame.locals[i].pin {
                self.ops.pin_gpr(r);
                self.load_pinned(i);
            }
        }
    }

    /// Loads memory 0's base (if `base`) and the bound register (if
    /// `bound`), those of them this function has. The loads are the plain
    /// assembler's, as [`Self::load_pinned`]'s: no operand owns these
    /// registers either.
    fn load_memory_registers(&mut self, base: bool, bound: bool) {
        let plain: &mut Assembler = &mut self.a;
        if let Some(r) = self.frame.memory_base.filter(|_| base) {
            plain.mov_rm(Size::S64, r, vmctx(offset_of!(VmContext, memory_base)));
        }
        if let Some((r, k)) = self.frame.memory_last.filter(|_| bound) {
            plain.mov_rm(Size::S64, r, memory_last_field(k));
        }
    }

    /// For a frame too big for the prologue's one-`lea` check (more than
    /// [`SHORT_CHECK_FRAME_MAX`]): replaces the `lea` with a jump to code
    /// that computes `rsp - frame` with a `sub` and traps if it wrapped
    /// below address 0, then goes on with the limit check.
    fn check_frame_wrap(&mut self, frame: i32) {
        let (check_start, _) = self.frame.stack_check;
        let (Some(overflow), Some(back)) = (self.frame.stack_overflow, self.frame.after_frame_lea)
        else {
            return;
        };
        let wrap_check = self.a.offset();
        self.a.mov_rr(Size::S64, SCRATCH2, Gpr::Rsp);
        self.a.alu_ri(AluOp::Sub, Size::S64, SCRATCH2, frame);
        self.a.jcc(Cond::B, overflow);
        self.a.jmp(back);
        self.a.patch_jmp(check_start, FRAME_LEA_LEN, wrap_check);
    }

    /// Whether this leaf can run without a frame (see the module doc,
    /// "Frameless leaves"): nothing in its code addressed the frame
    /// through `rbp`, it saved no register, and nothing runs below it.
    fn frameless(&self) -> bool {
        self.frameless_but_for_saves() && self.saved_gpr_slots().next().is_none()
    }

    /// Whether this leaf could run without a frame if it saved no
    /// register: see [`Self::frameless`].
    fn frameless_but_for_saves(&self) -> bool {
        !self.frame.frame_used()
            && !self.frame.has_calls
            && !self.frame.grows_area
            && !self.frame.saves_vmctx
            && self.frame.max_call_area == 0
    }

    /// The registers this function saves, in the order it saves them
    /// ([`Self::saved_gpr_slots`]), and how many there are.
    fn saved_gprs(&self) -> ([Gpr; PIN_GPRS.len()], usize) {
        let mut regs = [Gpr::Rax; PIN_GPRS.len()];
        let mut n = 0;
        for (_, r) in self.saved_gpr_slots() {
            regs[n] = r;
            n += 1;
        }
        (regs, n)
    }

    /// Whether the `n` instructions from `at` are four-byte moves between
    /// a register and `[rbp + disp8]` with `opcode` (`0x89` stores,
    /// `0x8B` loads): what the prologue's saves and the epilogue's
    /// restores are, which [`Self::drop_frame`] rewrites in place.
    fn rbp_moves_at(&self, at: usize, n: usize, opcode: u8) -> bool {
        (0..n).all(|k| {
            let at = at + 4 * k;
            let rex = self.a.byte_at(at).unwrap_or(0);
            let modrm = self.a.byte_at(at + 2).unwrap_or(0);
            rex & 0xF8 == 0x48 && self.a.byte_at(at + 1) == Some(opcode) && modrm & 0xC7 == 0x45
        })
    }

    /// Whether this leaf can run with its saved registers pushed instead
    /// of a frame (see the module doc, "Frameless leaves"): it could run
    /// without a frame but for them, was not planned without a frame
    /// (whose `rsp`-relative slots the pushes would move), and its saves
    /// and restores have the shape [`Self::drop_frame`] rewrites.
    fn frameless_with_pushes(&self) -> bool {
        if self.frame.frameless_plan || !self.frameless_but_for_saves() {
            return false;
        }
        let (_, n) = self.saved_gprs();
        let saves = self.frame.frame_size_patches[1] + 4;
        n > 0
            && self.rbp_moves_at(saves, n, 0x89)
            && (0..self.frame.frame_exits.len()).all(|k| {
                let exit = self.frame.frame_exits[k] as usize;
                exit >= 4 * n && self.rbp_moves_at(exit - 4 * n, n, 0x8B)
            })
    }

    /// Drops a leaf's frame (see the module doc, "Frameless leaves"):
    /// the saves after `sub rsp` of the registers it saves, if any, become
    /// `push`es that end where the saves did, and the code before them is
    /// skipped. Each restore run with the `mov rsp, rbp; pop rbp` after it
    /// becomes the `pop`s in reverse, then the `ret` that followed; or,
    /// before a tail call, the jump itself if it may move
    /// ([`crate::asm::x64::Assembler::movable_jump_len`]), else no-ops up
    /// to it. Returns the new entry.
    fn drop_frame(&mut self, start: usize) -> usize {
        let (mut regs, n) = self.saved_gprs();
        let regs = &mut regs[..n];
        let len: usize = regs.iter().map(|r| 1 + usize::from(r.enc() >= 8)).sum();
        let saves_end = self.frame.frame_size_patches[1] + 4 + 4 * n;
        let entry = self.a.skip_from_entry(start, start, saves_end - len);
        self.a.patch_push_pop(entry, regs, false);
        regs.reverse();
        for k in 0..self.frame.frame_exits.len() {
            let exit = self.frame.frame_exits[k] as usize;
            let end = exit + LEAVE_LEN;
            let after = self.a.patch_push_pop(exit - 4 * n, regs, true);
            if self.a.byte_at(end) == Some(RET) {
                self.a.patch_ret_to(after, end);
            } else if let Some(jump) = self.a.movable_jump_len(end) {
                self.a.patch_move_up(after, end, jump);
            } else {
                self.a.patch_nops(after, end);
            }
        }
        entry
    }

    /// Ends the function: its out-of-line code, its frame size and its
    /// entry (see [`FuncCompiler::compile`]); `None` if it was planned
    /// without a frame and needs one.
    pub(crate) fn finish(mut self, scratch: &mut Scratch) -> Result<Option<u32>> {
        if let Some(at) = self.fuel.patch.take() {
            self.a.patch_i32(at, self.fuel.ops as i32);
        }
        if let Some(shared) = self.ctrl.shared_return.take() {
            self.a.bind(shared);
            self.emit_return_sequence(0, true);
        }
        for (exit, code, resume) in core::mem::take(&mut self.slow_exits) {
            self.a.bind(exit);
            self.exit_to_host(code);
            self.a.jmp(resume);
        }
        self.emit_bound_rechecks();
        let frame = self.frame.size(self.ctrl.save_max)?;
        self.emit_landing_pads(frame);
        self.a.emit_trap_exits();
        self.emit_jump_tables();
        self.emit_v128_consts();
        let saves_vmctx = if self.frame.saves_vmctx {
            crate::abi::UNWIND_SAVES_VMCTX
        } else {
            0
        };
        let frameless = self.frameless();
        if self.frame.frameless_plan && !frameless {
            self.give_back(scratch);
            return Ok(None);
        }
        let pushes = !frameless && self.frameless_with_pushes();
        let frameless_bit = if frameless || pushes {
            crate::abi::UNWIND_FRAMELESS
        } else {
            0
        };
        self.a
            .unwind_info(u32::from(self.frame.saved_gprs) | saves_vmctx | frameless_bit);
        self.a.patch_i32(self.frame.frame_size_patches[0], -frame);
        self.a.patch_i32(self.frame.frame_size_patches[1], frame);
        if frame as u32 > SHORT_CHECK_FRAME_MAX {
            self.check_frame_wrap(frame);
        }
        // A leaf with a small frame needs no stack-limit check: its entry
        // moves past it, behind `push rbp; mov rbp, rsp` moved up to it.
        // Tail calls in place run their callee where this frame was, so
        // they leave it a leaf; one that grows the area does not.
        // A leaf that stores nothing below `rbp` (no spill, no local or
        // saved register in memory, no exit, no outgoing area: a small
        // function whose values all fit in registers) skips the `sub rsp`
        // after the check too: its frame is empty, whatever its computed
        // size.
        // A frameless leaf also skips `push rbp; mov rbp, rsp`; one that
        // saves registers pushes them instead.
        let mut entry = self.code_start;
        if frameless || pushes {
            let (_, end) = self.frame.stack_check;
            debug_assert_eq!(self.frame.frame_size_patches[1], end + 3);
            entry = self.drop_frame(entry as usize) as u32;
        } else if !self.frame.has_calls && !self.frame.grows_area && frame as u32 <= LEAF_FRAME_MAX
        {
            let (check, mut end) = self.frame.stack_check;
            if !self.frame.slots_used() && self.frame.max_call_area == 0 {
                // `sub rsp, imm32` follows the check; its immediate ends it.
                debug_assert_eq!(self.frame.frame_size_patches[1], end + 3);
                end = self.frame.frame_size_patches[1] + 4;
            }
            entry = self.a.skip_from_entry(entry as usize, check, end) as u32;
        }
        self.a
            .seal()
            .map_err(|e| Error::internal("assembling a function failed").with_detail(e))?;
        self.give_back(scratch);
        Ok(Some(entry))
    }
}
