//! The frame layout of one function.
//!
//! [`FrameLayout`] owns the layout: where locals, saved registers, home
//! slots and save slots lie, which locals are pinned in registers (decided
//! once, before the body compiles, among the backend's pin registers) and
//! what the frame's size comes to. The backend (`x64::frame`) emits the
//! prologue and epilogue from it.
//!
//! A function whose only calls are tail calls is laid out as a leaf
//! ([`FrameLayout::has_calls`] is false): its frame is gone before any
//! callee runs and nothing returns into it, so it may pin in caller-saved
//! registers, saves no `r15`, and keeps no stack-limit check for a small
//! frame unless a tail call grows the argument area below it.

use super::super::isa::Gpr;
use super::super::isa::frame::{
    LEAF_ARRIVAL_PINS, LEAF_PIN_GPRS, LEAF_PIN_MAX_STACK, LOCAL_PIN_GPRS, LOOP_PIN_MIN_WEIGHT,
    MEMORY_BASE, MEMORY_LAST, MEMORY_LAST_MIN_WEIGHT, PIN_GPRS, PIN_XMMS, SHARED_PIN_XMMS,
};
use super::super::stack::{Loc, is_float};
use super::*;
use crate::abi::{REGISTER_ARGS, args_in_registers, slot_offsets};
use crate::decode::ValType;
use crate::error::{Error, ErrorKind, Result};
use crate::validate::Feature;
use core::cell::Cell;

/// A local variable's home in the frame.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Local {
    pub ty: ValType,
    /// Offset from `rbp` of its memory slot.
    pub offset: i32,
    /// The register it lives in for the whole function, if pinned. A
    /// local pinned in a caller-saved register (an XMM register, one of
    /// [`LEAF_PIN_GPRS`] or [`LEAF_ARRIVAL_PINS`]) is stored to its slot
    /// before calls and exits (which clobber those registers) and reloaded
    /// after; the other GPR pins survive them ([`PIN_GPRS`]).
    pub pin: Option<Loc>,
}

/// Where one function's locals, saved registers and slots lie.
pub(crate) struct FrameLayout {
    /// Every local, parameters first.
    pub(crate) locals: Vec<Local>,
    /// `rbp`-relative offset of home slot 0.
    home_base: i32,
    /// `rbp`-relative offset of save slot 0.
    save_base: i32,
    /// Home slots: the operand stack's greatest height, plus one.
    max_stack: u32,
    /// The largest outgoing argument/result area of the calls so far.
    pub(crate) max_call_area: u32,
    /// Offsets of the prologue's two frame-size immediates: the limit
    /// check's (the `lea`'s displacement, the size negated) and the `sub
    /// rsp`'s.
    pub(crate) frame_size_patches: [usize; 2],
    /// Code range of the prologue's stack-limit check.
    pub(crate) stack_check: (usize, usize),
    /// The prologue's stack-overflow trap, and the label right after its
    /// `lea` of the new `rsp` (for the wrap check of a big frame).
    pub(crate) stack_overflow: Option<Label>,
    pub(crate) after_frame_lea: Option<Label>,
    /// Whether the function has calls that return into it. A function
    /// whose only calls are tail calls is a leaf for its frame: no callee
    /// runs below it, and none comes back to it.
    pub(crate) has_calls: bool,
    /// Whether the prologue saves `r15` at `[rbp - 8]`: a function with
    /// calls that return to it restores `r15` from there after a call
    /// that may have switched instances, and an unwinder landing in one
    /// of its handlers reads it. In a module whose code reaches no
    /// function reference but its own (`Env::own_funcrefs_only`), no call
    /// switches instances, so only functions that catch save it.
    pub(crate) saves_vmctx: bool,
    /// Whether memory 0's base is current in its register on entry
    /// (`Env::base_current_at_entry`): the prologue then does not load it.
    pub(crate) base_current_at_entry: bool,
    /// Whether the prologue ends with a jump to the next instruction
    /// (`x64::frame`, "Branch history marks").
    pub(crate) marks_branch_history: bool,
    /// Whether a tail call may grow the argument area below this frame
    /// (`abi`, "Tail calls"): the area and its callee's frame then lie
    /// below it, so the stack-limit check stays even in a leaf.
    pub(crate) grows_area: bool,
    /// Bit `i`: parameter `i` (for `i < 64`) is never written, so its
    /// incoming area slot holds its value for the whole function if the
    /// caller wrote it there.
    pub(crate) unwritten_params: u64,
    /// Bit `i`: declared local `i` (for `i < 64`) is written before any
    /// read ([`FuncInfo::defined_before_read`]), so the prologue need not
    /// zero it.
    pub(crate) defined_before_read: u64,
    /// The pin registers ([`PIN_GPRS`]) this function saves in its
    /// prologue and restores on return, by encoding bit.
    pub(crate) saved_gprs: u16,
    /// The locals pinned in caller-saved registers (XMM registers and
    /// [`LEAF_PIN_GPRS`]), in local order: what calls and exits save and
    /// reload; and the local pinned in each GPR (by encoding): both found
    /// once, so neither walks all the locals.
    pub(crate) volatile_pins: ([u32; VOLATILE_PINS], usize),
    pub(crate) gpr_pins: [Option<u32>; 16],
    /// The register holding memory 0's base, if this function uses memory.
    pub(crate) memory_base: Option<Gpr>,
    /// With explicit bounds checks: a register holding
    /// `VmContext::memory_last[k]`, the bound of the function's most used
    /// access size `2^k`, and `k` (see [`MEMORY_LAST`]).
    pub(crate) memory_last: Option<(Gpr, u32)>,
    /// Whether code may store below `rbp`: set from the start for a
    /// function with calls that return into it (not tail calls) or with
    /// saved registers or declared locals in memory, and by every
    /// use of a home or save slot ([`Self::home`], [`Self::home_base`],
    /// [`Self::save_slot`]) and by [`Self::use_slots`]. A leaf whose frame
    /// stays unused allocates none (`x64::frame`).
    slots_used: Cell<bool>,
    /// Whether code may address the frame through `rbp` at all, above it
    /// (parameters' incoming area slots, results' slots) or below it
    /// (every slot use sets it too): set by [`Self::use_frame`]. A leaf
    /// that never does runs without a frame (`x64::frame`, "Frameless
    /// leaves").
    frame_used: Cell<bool>,
    /// Whether the function is compiled to run without a frame, as its
    /// layout promises: a leaf with no local in memory, no callee-saved
    /// pin and no exit for fuel or interruption. The incoming area's slots
    /// are then addressed from `rsp`, which stays at the return address
    /// (`x64::frame`, "Frameless leaves"). A body that needs the frame
    /// after all is compiled again without the plan.
    pub(crate) frameless_plan: bool,
    /// Where each `leave_frame` sequence (`mov rsp, rbp; pop rbp`) starts:
    /// a function finished without a frame turns them into a `ret` or a
    /// no-op.
    pub(crate) frame_exits: Vec<u32>,
    /// While the prelude compiles ([`super::prelude`]): the pins of the
    /// parameters passed in registers, which until the prologue are read
    /// in the registers they arrived in.
    pub(crate) prelude_pins: Option<[Option<Loc>; REGISTER_ARGS]>,
}

/// How many locals may be pinned in caller-saved registers.
const VOLATILE_PINS: usize = PIN_XMMS.len() + LEAF_PIN_GPRS.len();

/// Whether a function may pin locals in [`LEAF_PIN_GPRS`]. Those are
/// caller-saved: a leaf, or a function whose only calls are tail calls
/// (whose argument setup leaves them alone), keeps them for free, and a
/// function with calls stores and reloads them around each call, which
/// [`FrameLayout::new`] weighs per local. Either way the three GPRs the
/// value stack keeps must do for its operators: no string instructions
/// (which need `rsi`, `rdi` and `rcx` besides the operands), no wide
/// arithmetic (whose operators take four integer operands), and few
/// integer values on the stack at once (floats take XMM registers):
/// what does not fit spills, a store and a load each time the stack grows
/// that deep. Inside loops that happens many times, so a deep stack there
/// ([`LEAF_PIN_MAX_STACK`]) keeps the value stack its five registers;
/// outside loops it happens once per call, no more than the save and
/// restore of a callee-saved pin, up to [`VOLATILE_PIN_MAX_STACK`].
fn volatile_gpr_pins_fit(info: &FuncInfo) -> bool {
    let tail_calls_only = info.has_calls && !info.has_plain_calls;
    !info.uses_bulk_memory
        && !info.features.contains(Feature::WideArithmetic)
        && info.max_gpr_stack_height <= VOLATILE_PIN_MAX_STACK
        && info.max_loop_gpr_stack_height
            <= if tail_calls_only {
                VOLATILE_PIN_MAX_STACK
            } else {
                LEAF_PIN_MAX_STACK
            }
}

/// The most integer values on the operand stack at once
/// (`FuncInfo::max_gpr_stack_height`) of a function that uses
/// [`LEAF_PIN_GPRS`], and inside loops too for one whose only calls are
/// tail calls: that one's deepest stack is usually the last call's
/// arguments, among them reads of pinned locals, lazy reads of parameters
/// and constants, which take no register (a threaded interpreter's handler
/// computing its next handler's index under four such arguments reaches
/// eight operands with three in registers), and what spills there costs
/// one store and one load, against a save and a restore for each
/// callee-saved pin it would use instead.
const VOLATILE_PIN_MAX_STACK: u32 = LEAF_PIN_MAX_STACK + 4;

/// The least weight ([`LocalUse`]) of an integer local pinned in a
/// callee-saved register (one of [`PIN_GPRS`]); lighter ones stay in their
/// slots. Caller-saved pins ([`LEAF_PIN_GPRS`]) cost nothing to keep and
/// take any local.
const MIN_SAVED_PIN_WEIGHT: u32 = 2;

/// The buffers of [`FrameLayout`] kept between functions.
#[derive(Default)]
pub(crate) struct FrameBuffers {
    locals: Vec<Local>,
    offsets: Vec<u32>,
    order: Vec<LocalUse>,
    frame_exits: Vec<u32>,
}

/// The fuel segment being compiled: where its cost is patched in, and
/// the operators counted so far.
#[derive(Default)]
pub(crate) struct FuelSegment {
    pub(crate) patch: Option<usize>,
    pub(crate) ops: u32,
}

impl FrameLayout {
    /// Lays out the frame of a function of type `func_type`, pinning its
    /// most used locals (and memory 0's base and bound) in registers,
    /// which it reserves in `ops`.
    pub(crate) fn new(
        env: &Env<'_, '_>,
        func_type: &FuncType,
        body: &FunctionBody<'_>,
        info: &FuncInfo,
        local_uses: &[LocalUse],
        buffers: &mut FrameBuffers,
        ops: &mut Operands,
    ) -> FrameLayout {
        let mut locals = reuse(&mut buffers.locals);
        let offsets = &mut buffers.offsets;
        slot_offsets(func_type.params(), offsets);
        for (i, &ty) in func_type.params().iter().enumerate() {
            locals.push(Local {
                ty,
                offset: 16 + offsets[i] as i32,
                pin: None,
            });
        }
        let mut at = 8i32;
        for &(n, ty) in env.module.locals(body) {
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
        let order = &mut buffers.order;
        order.clear();
        order.extend_from_slice(local_uses);
        let memory_base =
            (info.uses_memory && env.module.num_memories() > 0).then_some(MEMORY_BASE);
        let pin_gprs = &PIN_GPRS[..LOCAL_PIN_GPRS];
        if let Some(base) = memory_base {
            ops.pin_gpr(base);
        }
        // A leaf function pins its first integer locals in caller-saved
        // registers, which it need not save (see `LEAF_PIN_GPRS`); one
        // with calls may pin the next ones there.
        let leaf_pins = if volatile_gpr_pins_fit(info) {
            &LEAF_PIN_GPRS[..]
        } else {
            &[]
        };
        // A parameter passed in a register keeps it as its leaf pin
        // (`LEAF_ARRIVAL_PINS`): the value stack takes the leaf pin
        // register it leaves instead.
        let in_registers = args_in_registers(func_type.params());
        // In a leaf, an integer parameter passed in a register that gets
        // no pin is stored to its slot on entry and loaded at each use, one
        // more access than its weight counts: it ranks for the leaf pins
        // as if used once more (a threaded interpreter's handler keeps the
        // state it receives in registers there). A function with calls
        // pins none in its arrival register, which its calls' argument
        // setup writes before the pins are stored.
        let params = func_type.params();
        let leaf = !leaf_pins.is_empty() && !info.has_plain_calls;
        if leaf {
            let arrives_in_register = |i: u32| {
                params[..in_registers]
                    .get(i as usize)
                    .is_some_and(|&t| !is_float(t))
            };
            let mut left = (0..in_registers as u32)
                .filter(|&i| arrives_in_register(i))
                .count();
            for (i, weight) in order.iter_mut() {
                if left == 0 {
                    break;
                }
                if arrives_in_register(*i) {
                    *weight = weight.saturating_add(1);
                    left -= 1;
                }
            }
        }
        order.sort_unstable_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
        // In a function with calls, the caller-saved registers take the
        // integer locals after those in callee-saved ones, if they weigh
        // more than the calls (`FuncInfo::call_weight`), around each of
        // which they are stored and reloaded: a local that the calls'
        // loops do not reach, or that a loop without calls uses more.
        let leaf_pins = if info.has_plain_calls {
            let paying = order
                .iter()
                .filter(|&&(i, w)| {
                    w > info.call_weight && locals.get(i as usize).is_some_and(|l| !is_float(l.ty))
                })
                .count();
            &leaf_pins[..paying.saturating_sub(LOCAL_PIN_GPRS).min(leaf_pins.len())]
        } else {
            leaf_pins
        };
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
                    .nth(leaf_pins.len() + pin_gprs.len() - 1)
                    .map_or(0, |&(_, w)| w);
                (weight > displaced && weight >= MEMORY_LAST_MIN_WEIGHT).then_some((MEMORY_LAST, k))
            });
        let pin_gprs = if memory_last.is_some() {
            &pin_gprs[1..]
        } else {
            pin_gprs
        };
        if memory_last.is_some() {
            ops.pin_gpr(MEMORY_LAST);
        }
        let (mut gprs, mut xmms) = (leaf_pins.iter().peekable(), PIN_XMMS.iter());
        // The last `loop_pins` XMM pins go to locals used in loops only
        // (see `PIN_XMMS`).
        let loop_pins = PIN_XMMS.len() - SHARED_PIN_XMMS;
        let mut saved_pins = pin_gprs.iter();
        for &(i, weight) in order.iter() {
            let Some(local) = locals.get_mut(i as usize) else {
                continue;
            };
            local.pin = match local.ty {
                ValType::F32 | ValType::F64
                    if xmms.len() > loop_pins || weight >= LOOP_PIN_MIN_WEIGHT =>
                {
                    xmms.next().map(|&x| {
                        ops.pin_xmm(x);
                        Loc::Xmm(x)
                    })
                }
                ValType::F32 | ValType::F64 | ValType::V128 => None,
                // A callee-saved register costs a save and a restore, and
                // a parameter's move or load into it: more than the one
                // memory access a local reached once outside loops makes.
                // In a leaf, a parameter passed in a register ranks one
                // higher than its weight, and one passed on the stack costs
                // its load besides, while its reads from its slot need no
                // frame: either needs one more.
                _ if (gprs.peek().is_none() || info.has_plain_calls)
                    && weight
                        < MIN_SAVED_PIN_WEIGHT + u32::from(leaf && (i as usize) < params.len()) =>
                {
                    None
                }
                // With calls, the callee-saved registers go first, to the
                // most used locals.
                _ if info.has_plain_calls => saved_pins
                    .next()
                    .or_else(|| gprs.next().filter(|_| weight > info.call_weight))
                    .map(|&r| {
                        ops.pin_gpr(r);
                        Loc::Gpr(r)
                    }),
                _ if leaf && (i as usize) < in_registers && gprs.peek().is_some() => {
                    let r = LEAF_ARRIVAL_PINS[i as usize];
                    // The arrival pins come first in `order` among the
                    // leaf pins only by weight: the leaf register this
                    // one displaces is the last still free.
                    gprs.next_back();
                    ops.pin_gpr(r);
                    Some(Loc::Gpr(r))
                }
                _ => gprs.next().or_else(|| saved_pins.next()).map(|&r| {
                    ops.pin_gpr(r);
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
                ops.pin_gpr(r);
            }
        }
        let mut volatile_pins = ([0u32; VOLATILE_PINS], 0);
        let mut gpr_pins = [None; 16];
        for (i, local) in locals.iter().enumerate() {
            let volatile = match local.pin {
                Some(Loc::Xmm(_)) => true,
                Some(Loc::Gpr(r)) => {
                    gpr_pins[r.enc() as usize & 15] = Some(i as u32);
                    LEAF_PIN_GPRS.contains(&r) || LEAF_ARRIVAL_PINS.contains(&r)
                }
                _ => false,
            };
            if volatile && volatile_pins.1 < VOLATILE_PINS {
                volatile_pins.0[volatile_pins.1] = i as u32;
                volatile_pins.1 += 1;
            }
        }
        let saved_bytes = 8 * saved_gprs.count_ones() as i32;
        for local in &mut locals[func_type.params().len()..] {
            local.offset -= saved_bytes;
        }
        let saves = PIN_GPRS.iter().any(|r| saved_gprs & (1 << r.enc()) != 0);
        // Tail calls store their arguments in the incoming area above
        // `rbp`, and the operands they move out of the way go to home
        // slots (noted by `home`): only calls that return need the frame.
        let locals_in_memory = info.has_plain_calls
            || locals[func_type.params().len()..]
                .iter()
                .any(|l| l.pin.is_none());
        let slots_used = saves || locals_in_memory;
        let locals_end = (at + saved_bytes + 15) & !15;
        let max_stack = info.max_stack_height + 1;
        let home_base = -(locals_end + 16);
        let save_base = home_base - 16 * max_stack as i32;
        FrameLayout {
            locals,
            home_base,
            save_base,
            max_stack,
            max_call_area: 0,
            frame_size_patches: [0; 2],
            stack_check: (0, 0),
            stack_overflow: None,
            after_frame_lea: None,
            has_calls: info.has_plain_calls,
            saves_vmctx: info.has_plain_calls && (!env.own_funcrefs_only || info.catches),
            base_current_at_entry: false,
            marks_branch_history: false,
            grows_area: false,
            unwritten_params: !info.written_locals
                & 1u64
                    .checked_shl(func_type.params().len() as u32)
                    .map_or(u64::MAX, |b| b - 1),
            defined_before_read: info.defined_before_read,
            saved_gprs,
            volatile_pins,
            gpr_pins,
            memory_base,
            memory_last,
            slots_used: Cell::new(slots_used),
            // The saves alone may become pushes (`x64::frame`, "Frameless
            // leaves"): they do not count as a use of the frame.
            frame_used: Cell::new(locals_in_memory),
            frameless_plan: !slots_used
                && !info.has_plain_calls
                && !env.options.fuel
                && !env.options.interruptible,
            frame_exits: reuse(&mut buffers.frame_exits),
            prelude_pins: None,
        }
    }

    /// Whether local `index` is a parameter that no instruction writes
    /// (for `index < 64`), so its incoming area slot holds its value for
    /// the whole function: the caller wrote it there, or the prologue for
    /// an argument passed in a register.
    pub(crate) fn is_unwritten_param(&self, index: u32) -> bool {
        index < 64 && self.unwritten_params & (1 << index) != 0
    }

    /// Whether declared local `index` is written before any read (for
    /// `index < 64`), so the prologue need not zero it.
    pub(crate) fn is_defined_before_read(&self, index: usize) -> bool {
        index < 64 && self.defined_before_read & (1 << index) != 0
    }

    /// Notes that code stores below `rbp` (besides home and save slots).
    pub(crate) fn use_slots(&self) {
        self.slots_used.set(true);
        self.frame_used.set(true);
    }

    /// Notes that code addresses the frame through `rbp`.
    pub(crate) fn use_frame(&self) {
        self.frame_used.set(true);
    }

    /// Whether code may have addressed the frame through `rbp` (see
    /// `frame_used`).
    pub(crate) fn frame_used(&self) -> bool {
        self.frame_used.get()
    }

    /// Whether code may have stored below `rbp` (see `slots_used`).
    pub(crate) fn slots_used(&self) -> bool {
        self.slots_used.get()
    }

    /// Gives the buffers back for the next function.
    pub(crate) fn give_back(self, buffers: &mut FrameBuffers) {
        buffers.locals = self.locals;
        buffers.frame_exits = self.frame_exits;
    }

    /// The frame offset of the home slot of stack position `i`.
    pub(crate) fn home(&self, i: usize) -> i32 {
        self.use_slots();
        self.home_base - 16 * i as i32
    }

    /// `rbp`-relative offset of home slot 0 (home slot `i` is `16 * i`
    /// below it).
    pub(crate) fn home_base(&self) -> i32 {
        self.use_slots();
        self.home_base
    }

    /// The frame offset of save slot `i`.
    pub(crate) fn save_slot(&self, i: u32) -> i32 {
        self.use_slots();
        self.save_base - 16 * i as i32
    }

    /// The frame's size below the saved `rbp`, rounded to 16 bytes, with
    /// `save_slots` save slots in use at most.
    pub(crate) fn size(&self, save_slots: u32) -> Result<i32> {
        let frame = 8
            + (-i64::from(self.home_base) - 8 - 16) as u64
            + 16 * u64::from(self.max_stack)
            + 16 * u64::from(save_slots)
            + u64::from(self.max_call_area);
        i32::try_from(frame.next_multiple_of(16))
            .map_err(|_| Error::from_kind(ErrorKind::Limit, "function frame exceeds 2 GiB"))
    }
}
