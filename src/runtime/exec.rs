//! The exit loop: entering wasm code, serving its exits (host calls,
//! `memory.grow`), and resuming it.
//!
//! # The call paths
//! Both directions of a call cross through the exit-code protocol (the
//! generated code never calls Rust), so what is left to make cheap is the
//! Rust around it. A host→wasm call ([`TypedFunc::call`](super::TypedFunc::call)
//! → `call_slots` → `invoke`, inlined into one function) checks that the
//! `TypedFunc`'s target (read when it was made) belongs to the store,
//! takes the precomputed entry point of an outermost call (one comparison
//! with the store's `entry_room`), deepens the nesting,
//! names the store for the guard-region fault handler (a store into the
//! store's own `running` cell: the handler finds the store by the stack
//! pointer, so no thread-local value is touched), runs the enter
//! trampoline, and when `exit_code` says the function returned, restores
//! the depth, the only state such a call changes: every other exit is
//! served out of line by `serve_exits`, under a level that restores the
//! saved `wasm_rsp` too.
//! The area size the trampoline needs is computed once, here, and passed
//! to it. A wasm→host call is one turn of `serve_exits`: one comparison
//! of the exit code, one lookup of the host function, one bounds check
//! covering its area and the exit frame below it, the slots copied to a
//! host-stack buffer and back (nothing for a function without slots), and
//! the resume trampoline. Nothing allocates and no signature is checked
//! per call (types were checked when the `TypedFunc` or the import was
//! made).
//!
//! # The wasm stack
//! Each store has one wasm stack (`Config::max_wasm_stack` bytes, allocated
//! by its first instantiation or call, which sets its limit,
//! `ExecContext::stack_limit`, once for every level to come; each
//! instance's `VmContext::stack_limit`, which prologues read, holds the
//! same). The limit is its bottom plus a 32 KiB margin, which leaves room
//! for the exit stub, the trampolines and the argument area of nested
//! entries (and, with guard regions, for the fault handler's signal frame
//! on a thread without an alternate signal stack). With guard regions the
//! stack is registered with the fault handler when it is allocated
//! (`platform::FaultStack`). The outermost call starts at the
//! top; a call made by a host function while wasm code is suspended starts
//! 256 bytes below the suspended `wasm_rsp` (aligned down to 16), so the
//! suspended frames stay intact, and `wasm_rsp` is restored when the nested
//! call ends, before the outer computation resumes. Host-to-wasm nesting is
//! limited to [`MAX_NESTING`] levels (each level also uses the host stack).
//!
//! After a trap, or when a host function fails, the suspended wasm frames
//! are simply abandoned: the next call starts from `entry_rsp` again.
//!
//! # Pausing and resuming
//! `OutOfFuel` and `Interrupted` exits are resumable. A plain call turns
//! them into [`ErrorKind::OutOfFuel`](crate::ErrorKind::OutOfFuel) /
//! [`ErrorKind::Interrupted`](crate::ErrorKind::Interrupted) errors; a
//! resumable call ([`Func::call_resumable`](super::Func::call_resumable))
//! leaves its level like a return (depth and the outer `wasm_rsp` restored),
//! records the paused `wasm_rsp` in `StoreInner::paused` under a fresh
//! token, and hands the token to a [`ResumableCall`]. Every entry into wasm
//! and every resume of another computation clears `paused`, because both
//! reuse the stack the paused frames live on; a [`ResumableCall`] whose token
//! is no longer there refuses to resume. Resuming restores the paused
//! `wasm_rsp` and runs the resume trampoline at the same depth the call was
//! made from. Dropping a [`ResumableCall`] needs no clean-up: nothing of the
//! store points into the abandoned frames. The interrupt flag is cleared
//! when an interruption is reported.

use super::func::{Func, SlotsFn};
use super::store::{Caller, FuncKind, Store, StoreInner};
use super::values::Val;
use crate::abi::{
    ExitCode, LEAF_FRAME_MAX, SHORT_CHECK_FRAME_MAX, TrapCode, VmFuncRef, slot_offsets,
};
use crate::decode::{FuncType, ValType};
use crate::error::{Error, Result};
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

/// Bytes between the top of the stack and its limit that are never used by
/// function bodies (but by trap and exit stubs, and by leaf functions,
/// which skip their check when their frame is small: see
/// [`LEAF_FRAME_MAX`]).
pub const STACK_MARGIN: usize = 32 << 10;
const _: () = assert!(STACK_MARGIN >= 4 * LEAF_FRAME_MAX as usize);
/// Gap left below a suspended computation's `wasm_rsp` for a nested entry.
const NESTED_GAP: usize = 256;
/// Deepest nesting of host → wasm calls.
pub const MAX_NESTING: u32 = 200;

/// Why a call paused ([`CallOutcome::Paused`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PauseReason {
    /// The store's fuel ran out: add some with
    /// [`Store::set_fuel`](super::Store::set_fuel) before resuming.
    OutOfFuel,
    /// An [`InterruptHandle`](super::InterruptHandle) interrupted the guest
    /// (the flag is already cleared).
    Interrupted,
}

/// How a resumable call ended: it finished (the results are written), or it
/// paused and can be continued.
#[derive(Debug)]
#[must_use = "a paused call does nothing until it is resumed"]
pub enum CallOutcome {
    /// The call returned; the results are written.
    Finished,
    /// The call paused; resume it, or drop it to abandon the call.
    Paused(ResumableCall),
}

impl CallOutcome {
    /// True when the call finished.
    pub fn is_finished(&self) -> bool {
        matches!(self, CallOutcome::Finished)
    }
}

/// A wasm call paused because its fuel ran out or it was interrupted.
///
/// [`resume`](Self::resume) continues it where it stopped. The store may be
/// used for other work meanwhile (reading memory, setting fuel, ...), but
/// running any other wasm code on the store abandons the paused call: its
/// frames live on the store's wasm stack, which the other code reuses, so
/// `resume` then fails. A call paused inside a host function (nested) can
/// only be resumed by that host function, before it returns. Dropping a
/// `ResumableCall` abandons the call; the store stays usable.
pub struct ResumableCall {
    store: u64,
    token: u64,
    reason: PauseReason,
    ty: alloc::sync::Arc<FuncType>,
    /// The argument/result area the enter trampoline writes the results to
    /// (its address is saved on the wasm stack, so it must not move).
    slots: Vec<u64>,
}

impl core::fmt::Debug for ResumableCall {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ResumableCall")
            .field("reason", &self.reason)
            .field("ty", &self.ty)
            .finish()
    }
}

impl ResumableCall {
    /// Why the call paused.
    pub fn reason(&self) -> PauseReason {
        self.reason
    }

    /// The type of the paused function.
    pub fn ty(&self) -> &FuncType {
        &self.ty
    }

    /// Continues the call where it stopped; on [`CallOutcome::Finished`]
    /// `results` (as many as the function returns) are written.
    pub fn resume(
        mut self,
        mut store: impl super::AsContextMut,
        results: &mut [Val],
    ) -> Result<CallOutcome> {
        let store = store.as_context_mut().0;
        store.inner.check(self.store)?;
        if results.len() != self.ty.results().len() {
            return Err(
                Error::runtime("wrong number of results").with_detail(format_args!(
                    "expected room for {}, got {} (function type {})",
                    self.ty.results().len(),
                    results.len(),
                    self.ty
                )),
            );
        }
        match resume_paused(store, self.token, &mut self.slots)? {
            Some((reason, token)) => {
                self.reason = reason;
                self.token = token;
                Ok(CallOutcome::Paused(self))
            }
            None => {
                write_results(&store.inner, &self.ty, &self.slots, results);
                Ok(CallOutcome::Finished)
            }
        }
    }
}

/// A paused call's place on the wasm stack (`StoreInner::paused`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Paused {
    token: u64,
    /// Its `wasm_rsp` when it exited.
    wasm_rsp: usize,
    /// `StoreInner::depth` outside the paused call.
    depth: u32,
    /// Address of the call's argument/result area.
    area: usize,
}

/// A call that paused: why, and the token naming it.
type Pause = Option<(PauseReason, u64)>;

/// Calls `func` with `params`, writing `results`.
pub(crate) fn call<T>(
    store: &mut Store<T>,
    func: Func,
    params: &[Val],
    results: &mut [Val],
) -> Result<()> {
    match start_call(store, func, params, results, false)? {
        CallOutcome::Finished => Ok(()),
        // Not resumable: `serve_exits` turned pauses into errors.
        CallOutcome::Paused(_) => Err(Error::runtime("a non-resumable call paused")),
    }
}

/// Calls `func` with its arguments already laid out in `slots` (8 bytes per
/// value, no `v128`), which receive the results: the path of
/// [`TypedFunc::call`](super::TypedFunc::call), whose types were checked
/// when it was made, so nothing is converted or allocated here. `target`
/// is the `VmFuncRef` of `func` (`None` for a host function), as read
/// from the function's store: it is valid once `store` is that store.
/// Inlined into `TypedFunc::call`, where the number of slots is a
/// constant.
#[inline(always)]
pub(crate) fn call_slots<T>(
    store: &mut Store<T>,
    func: Func,
    target: Option<VmFuncRef>,
    slots: &mut [u64],
) -> Result<()> {
    store.inner.check(func.store)?;
    let Some(target) = target else {
        return call_host_slots(store, func, slots);
    };
    match invoke(store, target, slots, false)? {
        None => Ok(()),
        Some(_) => Err(Error::runtime("a non-resumable call paused")),
    }
}

/// [`call_slots`] of a host function.
#[inline(never)]
fn call_host_slots<T>(store: &mut Store<T>, func: Func, slots: &mut [u64]) -> Result<()> {
    match store.inner.func_data(func)?.kind {
        FuncKind::Host { index, .. } => run_host(store, index as usize, 0, slots),
        FuncKind::Wasm => Err(Error::runtime(
            "a host function's handle names a wasm function",
        )),
    }
}

/// Calls `func`; fuel running out or an interrupt pauses the call.
pub(crate) fn call_resumable<T>(
    store: &mut Store<T>,
    func: Func,
    params: &[Val],
    results: &mut [Val],
) -> Result<CallOutcome> {
    start_call(store, func, params, results, true)
}

fn start_call<T>(
    store: &mut Store<T>,
    func: Func,
    params: &[Val],
    results: &mut [Val],
    resumable: bool,
) -> Result<CallOutcome> {
    let data = store.inner.func_data(func)?;
    let ty = data.ty.clone();
    check_args(&store.inner, &ty, params, results.len())?;
    match data.kind {
        FuncKind::Host { index, .. } => {
            call_host(store, index, params, results)?;
            Ok(CallOutcome::Finished)
        }
        FuncKind::Wasm => {
            let funcref = data.funcref;
            let mut slots = vec![0u64; slot_count(&ty)];
            let mut offsets = Vec::new();
            slot_offsets(ty.params(), &mut offsets);
            for ((p, &t), &off) in params.iter().zip(ty.params()).zip(&offsets) {
                let raw = super::store::check_val(&store.inner, p, t)?;
                write_slot(&mut slots, off as usize, t, raw);
            }
            // SAFETY: `funcref` belongs to a function of this store, so it
            // points at a live `VmFuncRef` the store owns.
            let target = unsafe { *funcref };
            match invoke(store, target, &mut slots, resumable)? {
                Some((reason, token)) => Ok(CallOutcome::Paused(ResumableCall {
                    store: store.inner.id,
                    token,
                    reason,
                    ty,
                    slots,
                })),
                None => {
                    write_results(&store.inner, &ty, &slots, results);
                    Ok(CallOutcome::Finished)
                }
            }
        }
    }
}

fn write_results(inner: &StoreInner, ty: &FuncType, slots: &[u64], results: &mut [Val]) {
    let mut offsets = Vec::new();
    slot_offsets(ty.results(), &mut offsets);
    for ((r, &t), &off) in results.iter_mut().zip(ty.results()).zip(&offsets) {
        *r = inner.raw_to_val(t, read_slot(slots, off as usize, t));
    }
}

fn check_args(inner: &StoreInner, ty: &FuncType, params: &[Val], nresults: usize) -> Result<()> {
    if params.len() != ty.params().len() {
        return Err(
            Error::runtime("wrong number of arguments").with_detail(format_args!(
                "expected {}, got {} (function type {ty})",
                ty.params().len(),
                params.len()
            )),
        );
    }
    if nresults != ty.results().len() {
        return Err(
            Error::runtime("wrong number of results").with_detail(format_args!(
                "expected room for {}, got {} (function type {ty})",
                ty.results().len(),
                nresults
            )),
        );
    }
    for (i, (p, &t)) in params.iter().zip(ty.params()).enumerate() {
        super::store::check_val(inner, p, t)
            .map_err(|e| e.context(format_args!("argument {i}")))?;
    }
    Ok(())
}

/// Number of 8-byte slots of a call's argument/result area.
pub(crate) fn slot_count(ty: &FuncType) -> usize {
    crate::abi::area_size(ty.params()).max(crate::abi::area_size(ty.results())) as usize / 8
}

/// Writes the raw value of type `ty` to the slot at byte `offset`
/// (ignored when outside `slots`).
pub(crate) fn write_slot(slots: &mut [u64], offset: usize, ty: ValType, raw: u128) {
    let i = offset / 8;
    if let Some(s) = slots.get_mut(i) {
        *s = raw as u64;
    }
    if ty == ValType::V128
        && let Some(s) = slots.get_mut(i + 1)
    {
        *s = (raw >> 64) as u64;
    }
}

/// Reads the raw value of type `ty` from the slot at byte `offset` (zero
/// when outside `slots`).
pub(crate) fn read_slot(slots: &[u64], offset: usize, ty: ValType) -> u128 {
    let i = offset / 8;
    let lo = slots.get(i).copied().unwrap_or(0) as u128;
    let raw = if ty == ValType::V128 {
        lo | (slots.get(i + 1).copied().unwrap_or(0) as u128) << 64
    } else {
        lo
    };
    match ty {
        ValType::I32 | ValType::F32 => raw as u32 as u128,
        _ => raw,
    }
}

/// Runs host function `index` for the host: converts `params` (already
/// checked against its type) to slots, runs it, and reads `results` back.
fn call_host<T>(
    store: &mut Store<T>,
    index: u32,
    params: &[Val],
    results: &mut [Val],
) -> Result<()> {
    let entry = store
        .host_funcs
        .get(index as usize)
        .ok_or_else(|| Error::runtime("unknown host function"))?;
    let (ty, nslots) = (entry.ty.clone(), entry.nslots);
    let mut slots = vec![0u64; nslots];
    let mut offsets = Vec::new();
    slot_offsets(ty.params(), &mut offsets);
    for ((p, &t), &off) in params.iter().zip(ty.params()).zip(&offsets) {
        write_slot(&mut slots, off as usize, t, store.inner.val_to_raw(p)?);
    }
    run_host(store, index as usize, 0, &mut slots)?;
    write_results(&store.inner, &ty, &slots, results);
    Ok(())
}

/// Runs host function `index` on the argument/result `slots` with a
/// [`Caller`] whose calling context is `vmctx` (0 for the host).
fn run_host<T>(store: &mut Store<T>, index: usize, vmctx: usize, slots: &mut [u64]) -> Result<()> {
    let Some(entry) = store.host_funcs.get(index) else {
        return Err(Error::runtime("host call of an unknown function").with_index(index as u32));
    };
    let f = entry.code();
    // SAFETY: `f` is the closure of `host_funcs[index]`.
    unsafe { run_closure(f, store, vmctx, slots) }
}

impl StoreInner {
    /// The lowest address `rsp` may reach in a function body
    /// (`VmContext::stack_limit`), allocating the stack if needed.
    pub(crate) fn stack_limit(&mut self) -> Result<usize> {
        self.stack_bounds()?;
        Ok(self.exec.stack_limit)
    }

    /// The wasm stack's (bottom, top), allocating it if needed.
    #[inline]
    fn stack_bounds(&mut self) -> Result<(usize, usize)> {
        if let Some(stack) = self.stack.as_mut() {
            let bottom = stack.as_mut_ptr() as usize;
            return Ok((bottom, bottom + stack.len() * 16));
        }
        self.allocate_stack()
    }

    /// Allocates the wasm stack (on the first call); returns (bottom, top).
    #[cold]
    fn allocate_stack(&mut self) -> Result<(usize, usize)> {
        let words = self.engine.inner.max_wasm_stack / 16;
        let mut stack = Vec::new();
        stack
            .try_reserve_exact(words)
            .map_err(|_| Error::runtime("out of memory allocating the wasm stack"))?;
        stack.resize(words, 0u128);
        let stack = self.stack.insert(stack.into_boxed_slice());
        let bottom = stack.as_mut_ptr() as usize;
        let top = bottom + stack.len() * 16;
        // Every level shares the limit; outermost calls start at the top.
        // A stack allocated near address 0 starts its limit higher, so that
        // prologues may subtract small frames from `rsp` unchecked for
        // wrapping (`abi::SHORT_CHECK_FRAME_MAX`).
        self.exec.stack_limit = bottom.max(SHORT_CHECK_FRAME_MAX as usize) + STACK_MARGIN;
        self.stack_top = top & !15;
        self.entry_room = self.stack_top.saturating_sub(self.exec.stack_limit);
        self.stack_base = bottom;
        self.stack_size = top - bottom;
        if let Some(os) = self.engine.inner.guard_regions {
            os.prepare_thread();
            let running = core::ptr::NonNull::from(&*self.running);
            // SAFETY: the `running` cell is boxed and the stack allocated
            // for the store's life, and `StoreInner::drop` drops the
            // registration first; the cell names the store only while its
            // code runs (`run_code`), for `store_fault_landing`.
            self.fault_stack = Some(unsafe {
                crate::platform::FaultStack::register(bottom, top, running, store_fault_landing)
            });
        }
        Ok((bottom, top))
    }

    /// The wasm frames of the code that just trapped, innermost first.
    ///
    /// The exit stub left `[r15, rbp, saved registers, return into the
    /// trap stub, return into the trap site]` at `wasm_rsp`; from there the
    /// frame-pointer chain (`[rbp]` the caller's `rbp`, `[rbp + 8]` the
    /// return address) leads out, over the records of tail calls that grew
    /// their area, until an address lies in no module (the trampoline).
    pub(crate) fn backtrace(&self) -> Vec<crate::error::FrameInfo> {
        const MAX_FRAMES: usize = 1000;
        let mut frames = Vec::new();
        let mut top = [0u64; crate::abi::EXIT_RETURN_WORD + 2];
        if !self.read_stack_into(self.exec.wasm_rsp, &mut top) {
            return frames;
        }
        let (mut rbp, mut pc) = (
            top[1] as usize,
            top[crate::abi::EXIT_RETURN_WORD + 1] as usize,
        );
        // A trap site's address is that of a faulting load or store (guard
        // regions) or the return address of a call to a trap stub.
        let fault = self
            .instances
            .iter()
            .find_map(|i| i._module.inner.fault_frame_at(pc));
        // A trap in a function without a frame: `rbp` is still its
        // caller's, and its return address is the word its trap site's
        // return address was pushed on, or above the registers it pushed.
        let in_trapping_function = if fault.is_some() {
            pc
        } else {
            pc.wrapping_sub(1)
        };
        let frameless = self
            .instances
            .iter()
            .find_map(|i| i._module.inner.frameless_at(in_trapping_function));
        if let Some(pushed) = frameless {
            let trap = fault.or_else(|| {
                self.instances
                    .iter()
                    .find_map(|i| i._module.inner.frame_at(pc))
            });
            let Some(frame) = trap else {
                return frames;
            };
            frames.push(frame);
            let mut ret = [0u64; 1];
            let at = self.exec.wasm_rsp + 8 * (crate::abi::EXIT_RETURN_WORD + 2 + pushed);
            if !self.read_stack_into(at, &mut ret) {
                return frames;
            }
            pc = ret[0] as usize;
        } else if let Some(frame) = fault {
            frames.push(frame);
            let mut link = [0u64; 2];
            if !self.read_stack_into(rbp, &mut link) {
                return frames;
            }
            (rbp, pc) = (link[0] as usize, link[1] as usize);
        }
        // Records are skipped without a frame; the steps bound the walk
        // all the same.
        let mut steps = 0;
        while frames.len() < MAX_FRAMES && steps < 2 * MAX_FRAMES {
            steps += 1;
            // A tail call's record (`abi`, "Tail calls") is no frame: its
            // link leads to the caller's caller.
            if pc == self.exec.tail_return {
                let mut link = [0u64; 2];
                if !self.read_stack_into(rbp, &mut link) {
                    break;
                }
                (rbp, pc) = (link[0] as usize, link[1] as usize);
                continue;
            }
            let Some(frame) = self
                .instances
                .iter()
                .find_map(|i| i._module.inner.frame_at(pc))
            else {
                break;
            };
            frames.push(frame);
            let mut link = [0u64; 2];
            if !self.read_stack_into(rbp, &mut link) {
                break;
            }
            (rbp, pc) = (link[0] as usize, link[1] as usize);
        }
        frames
    }

    /// True when `n` 8-byte slots at `addr` lie inside the wasm stack and
    /// `addr` is 8-aligned.
    #[inline]
    fn in_stack(&self, addr: usize, n: usize) -> bool {
        let Some(stack) = self.stack.as_ref() else {
            return false;
        };
        let bottom = stack.as_ptr() as usize;
        let top = bottom + stack.len() * 16;
        let end = n.checked_mul(8).and_then(|bytes| addr.checked_add(bytes));
        addr >= bottom && addr.is_multiple_of(8) && end.is_some_and(|end| end <= top)
    }

    /// Reads `out.len()` slots from the wasm stack at `addr` into `out`, if
    /// they lie inside it.
    #[inline]
    pub(crate) fn read_stack_into(&self, addr: usize, out: &mut [u64]) -> bool {
        if !self.in_stack(addr, out.len()) {
            return false;
        }
        let p = addr as *const u64;
        for (i, slot) in out.iter_mut().enumerate() {
            // SAFETY: `in_stack` checked that `[addr, addr + 8 * len)` lies
            // inside the stack allocation and is 8-aligned; wasm code is
            // suspended, so nothing writes it meanwhile.
            *slot = unsafe { p.add(i).read() };
        }
        true
    }

    /// Writes slots into the wasm stack at `addr`, if they lie inside it.
    #[inline]
    pub(crate) fn write_stack(&mut self, addr: usize, slots: &[u64]) -> Option<()> {
        if !self.in_stack(addr, slots.len()) {
            return None;
        }
        let p = addr as *mut u64;
        for (i, &s) in slots.iter().enumerate() {
            // SAFETY: as in `read_stack_into`; the store owns the stack
            // exclusively (`&mut self`).
            unsafe { p.add(i).write(s) };
        }
        Some(())
    }

    /// The address of the context of the code that exited (its `r15`,
    /// saved at `wasm_rsp`), or 0. Only a key for `vmctx_map`: never
    /// dereferenced.
    #[inline]
    fn exiting_vmctx(&self) -> usize {
        let mut top = [0u64; 1];
        if !self.read_stack_into(self.exec.wasm_rsp, &mut top) {
            return 0;
        }
        top[0] as usize
    }

    /// The instance whose code exited. The host context of host functions
    /// is in no map, so it is `None`.
    pub(crate) fn exiting_instance(&self) -> Option<u32> {
        self.vmctx_map.get(&self.exiting_vmctx()).copied()
    }
}

/// Copies `n` 8-byte words from `src` to `dst`. The few words of most host
/// calls are copied with moves: a loop of unknown count becomes a call of
/// `memcpy`, which costs more than the copy.
///
/// # Safety
/// `src` must be valid for reading and `dst` for writing `n` aligned words,
/// and the two must not overlap.
#[inline]
unsafe fn copy_words(dst: *mut u64, src: *const u64, n: usize) {
    // SAFETY: the caller's contract, for each count.
    unsafe {
        match n {
            0 => {}
            1 => core::ptr::copy_nonoverlapping(src, dst, 1),
            2 => core::ptr::copy_nonoverlapping(src, dst, 2),
            3 => core::ptr::copy_nonoverlapping(src, dst, 3),
            4 => core::ptr::copy_nonoverlapping(src, dst, 4),
            _ => core::ptr::copy_nonoverlapping(src, dst, n),
        }
    }
}

/// Bytes below the entry point that a call needs besides its area: the
/// trampoline's 16 bytes at the entry point and room for a frame.
const ENTRY_FRAME: usize = 16 + 64;

/// Enters the wasm function `target` with the argument `slots` (which
/// receive the results) and serves its exits until it returns, traps, or
/// (when `resumable`) pauses.
///
/// This is the whole of a host→wasm call, so it does only what every call
/// needs: the entry point, the depth, and the trampoline. An outermost call
/// whose stack is allocated starts at the top (`StoreInner::stack_top`);
/// a nested or first call finds its entry point out of line
/// ([`entry_point`]). A call that returns without exiting changed nothing
/// but the depth (only exits write `wasm_rsp`, and `stack_limit` is the
/// store's constant), so that is all it restores after checking one word
/// (`exit_code`); exits are served out of line ([`serve_level`]), under a
/// [`Level`] that restores the rest on every path out. Inlined into its
/// callers, so that the typed path ([`call_slots`]) is one function.
#[inline(always)]
fn invoke<T>(
    store: &mut Store<T>,
    target: VmFuncRef,
    slots: &mut [u64],
    resumable: bool,
) -> Result<Pause> {
    let inner = &mut store.inner;
    // The trampoline uses 16 bytes at the entry point, then the area (at
    // least `TAIL_CALL_AREA` bytes, rounded up to 16).
    let area = ((slots.len() * 8 + 15) & !15).max(crate::abi::TAIL_CALL_AREA as usize);
    let depth = inner.depth;
    // Before the stack exists `entry_room` is 0, so the first call takes
    // the out-of-line path, which allocates it.
    let entry = if depth == 0 && inner.entry_room >= area + ENTRY_FRAME {
        inner.stack_top
    } else {
        entry_point(inner, area)?
    };
    // The new call reuses the stack a paused call may occupy.
    inner.paused = None;
    // No wasm frame is live: unreachable exception objects go.
    if depth == 0 && inner.exceptions.live() != 0 {
        inner.collect_exceptions(false);
    }
    let enter = inner.enter;
    inner.depth = depth + 1;
    let exec_ptr: *mut crate::abi::ExecContext = &mut *inner.exec;
    let saved_wasm_rsp;
    // SAFETY: `exec_ptr` points at the store's context, which nothing else
    // refers to meanwhile (the store is borrowed mutably).
    unsafe {
        saved_wasm_rsp = (*exec_ptr).wasm_rsp;
        (*exec_ptr).entry_rsp = entry;
        (*exec_ptr).exit_code = u32::MAX;
    }
    // SAFETY: the trampoline obeys `crate::abi`: `exec_ptr` and
    // `target.vmctx` are live contexts of this store, `target.code` is
    // published code of a module the store keeps alive, the slots are
    // `slots.len()` writable u64s (kept alive and unmoved until the call
    // returns: a paused call keeps them in its `ResumableCall`), and
    // `entry_rsp` lies in the store's wasm stack with room for the area
    // (`area` bytes) above `stack_limit` (checked above or by
    // `entry_point`).
    run_code(&store.inner, || unsafe {
        enter(
            exec_ptr,
            target.vmctx,
            target.code,
            slots.as_mut_ptr(),
            slots.len(),
            area,
        )
    });
    // SAFETY: as above.
    if unsafe { (*exec_ptr).exit_code } == ExitCode::Returned as u32 {
        // The code never exited (the trampoline runs no Rust, so nothing
        // unwound through here either): only the depth is the level's.
        store.inner.depth = depth;
        return Ok(None);
    }
    serve_level(store, saved_wasm_rsp, slots.as_ptr() as usize, resumable)
}

/// The entry point of a call at the store's current depth with an area of
/// `area` bytes, when [`invoke`]'s fast path does not apply: the first call
/// on the store (which allocates the stack), a call nested in a host
/// function (which starts [`NESTED_GAP`] below the suspended `wasm_rsp`),
/// and the failures (nesting too deep, no room left).
#[cold]
#[inline(never)]
fn entry_point(inner: &mut StoreInner, area: usize) -> Result<usize> {
    let (_, top) = inner.stack_bounds()?;
    let limit = inner.exec.stack_limit;
    let entry = if inner.depth == 0 {
        top & !15
    } else {
        inner.exec.wasm_rsp.saturating_sub(NESTED_GAP) & !15
    };
    if inner.depth >= MAX_NESTING || entry.saturating_sub(area + ENTRY_FRAME) < limit || entry > top
    {
        return Err(stack_overflow());
    }
    Ok(entry)
}

/// Serves the exits of a call that [`invoke`] entered at depth
/// `store.inner.depth - 1` and that did not return straight away, under a
/// [`Level`] from here on; `area` is the call's argument/result area.
#[inline(never)]
fn serve_level<T>(
    store: &mut Store<T>,
    saved_wasm_rsp: usize,
    area: usize,
    resumable: bool,
) -> Result<Pause> {
    let level = Level::started(store, saved_wasm_rsp, area);
    let store = &mut *level.store;
    let resume = store.inner.engine.inner.resume;
    let result = serve_exits(store, resume, resumable);
    level.leave(result)
}

#[cold]
fn stack_overflow() -> Error {
    Error::from_trap(TrapCode::StackOverflow)
}

/// One level of wasm execution on a store (an entry or a resume), from its
/// first exit to its end: ending it restores what the level changed for
/// the level outside it, on every path out, including a host function's
/// panic unwinding through it.
///
/// A level changes the nesting depth and the saved `wasm_rsp` of the
/// suspended outer level (the exit stub overwrites it); the stack limit is
/// the same for every level (set when the stack is allocated).
/// [`Level::leave`] restores them and records a pause; dropping the level
/// without `leave` (the unwinding path) restores them and forgets any pause,
/// since the level's frames are abandoned as after a trap: everything of
/// the store outside the wasm stack below the outer level's `wasm_rsp` is
/// as the outer level left it, so the store stays sound and usable. The
/// guard-region fault handler needs nothing here: the store is named for
/// it only while generated code runs (see [`run_code`]), never while a
/// host function runs.
struct Level<'s, T> {
    store: &'s mut Store<T>,
    /// The outer level's `wasm_rsp`.
    saved_wasm_rsp: usize,
    /// The argument/result area of this level's call.
    area: usize,
    /// What `leave` found: the pause to record when the level is dropped.
    pause: Option<Paused>,
}

impl<'s, T> Level<'s, T> {
    /// Takes charge of a level whose start already made the store's depth
    /// one deeper.
    fn started(store: &'s mut Store<T>, saved_wasm_rsp: usize, area: usize) -> Level<'s, T> {
        Level {
            store,
            saved_wasm_rsp,
            area,
            pause: None,
        }
    }

    /// Ends the level: when the call paused, records where it stopped.
    fn leave(mut self, result: Result<Option<PauseReason>>) -> Result<Pause> {
        let inner = &mut self.store.inner;
        match result? {
            None => Ok(None),
            Some(reason) => {
                inner.next_pause += 1;
                let token = inner.next_pause;
                self.pause = Some(Paused {
                    token,
                    wasm_rsp: inner.exec.wasm_rsp,
                    depth: inner.depth - 1,
                    area: self.area,
                });
                Ok(Some((reason, token)))
            }
        }
    }
}

impl<T> Drop for Level<'_, T> {
    #[inline]
    fn drop(&mut self) {
        let inner = &mut self.store.inner;
        inner.depth = inner.depth.saturating_sub(1);
        inner.exec.wasm_rsp = self.saved_wasm_rsp;
        inner.paused = self.pause.take();
    }
}

/// Continues the paused call `token`, whose area is `slots`.
fn resume_paused<T>(store: &mut Store<T>, token: u64, slots: &mut [u64]) -> Result<Pause> {
    let inner = &mut store.inner;
    let paused = match inner.paused {
        // The trampoline writes the results through the area address it
        // saved when the call was entered: `slots` must be that area.
        Some(p)
            if p.token == token && p.depth == inner.depth && p.area == slots.as_ptr() as usize =>
        {
            p
        }
        _ => {
            return Err(Error::runtime(
                "cannot resume: the store ran other WebAssembly code since the call paused",
            ));
        }
    };
    inner.paused = None;
    let saved_wasm_rsp = inner.exec.wasm_rsp;
    inner.depth += 1;
    let level = Level::started(store, saved_wasm_rsp, paused.area);
    let store = &mut *level.store;
    let inner = &mut store.inner;
    inner.exec.wasm_rsp = paused.wasm_rsp;
    inner.exec.exit_code = u32::MAX;
    let resume = inner.engine.inner.resume;
    let exec_ptr: *mut crate::abi::ExecContext = &mut *inner.exec;
    // SAFETY: the token matched, so no wasm code ran on this store since the
    // call paused (every entry and resume clears `paused`): its frames are
    // intact below the current level and it is resumed exactly once; its
    // area lives in the `ResumableCall` that owns `slots`.
    run_code(&store.inner, || unsafe { resume(exec_ptr) });
    let result = serve_exits(store, resume, true);
    level.leave(result)
}

/// Serves the exits of the current level, resuming it after each one that
/// it survives, until it returns, traps or pauses.
///
/// Host calls, the exit a loop of calls to the host makes every time, are
/// told apart with one comparison and served inline; every other exit
/// goes through [`serve_exit`].
#[inline(never)]
fn serve_exits<T>(
    store: &mut Store<T>,
    resume: super::engine::ResumeFn,
    resumable: bool,
) -> Result<Option<PauseReason>> {
    loop {
        if store.inner.exec.exit_code == ExitCode::HostCall as u32 {
            host_call(store)?;
        } else if let Served::End(end) = serve_exit(store, resumable)? {
            return Ok(end);
        }
        // Resuming this level reuses the stack below it.
        store.inner.paused = None;
        let exec_ptr: *mut crate::abi::ExecContext = &mut *store.inner.exec;
        // SAFETY: the computation suspended by the last exit is still intact
        // on the wasm stack (nested calls ran below it and restored
        // `wasm_rsp`), and it is resumed exactly once.
        run_code(&store.inner, || unsafe { resume(exec_ptr) });
    }
}

/// What serving an exit leaves to do.
enum Served {
    /// Resume the code that exited.
    Resume,
    /// The level ended: it returned, or (`Some`) paused.
    End(Option<PauseReason>),
}

/// Serves an exit other than a host call (which [`serve_exits`] serves
/// itself; one arrives here only from a caller that skipped that test).
fn serve_exit<T>(store: &mut Store<T>, resumable: bool) -> Result<Served> {
    let exec = &*store.inner.exec;
    match ExitCode::from_u32(exec.exit_code) {
        Some(ExitCode::Returned) => return Ok(Served::End(None)),
        Some(ExitCode::Trap) => {
            return Err(match TrapCode::from_u32(exec.trap_code) {
                Some(trap) => Error::from_trap(trap).with_backtrace(store.inner.backtrace()),
                None => Error::runtime("unknown trap code").with_index(exec.trap_code),
            });
        }
        Some(ExitCode::HostCall) => host_call(store)?,
        Some(ExitCode::Throw) => super::exception::serve_throw(store, false)?,
        Some(ExitCode::ThrowRef) => super::exception::serve_throw(store, true)?,
        Some(ExitCode::MemoryGrow) => memory_grow(store)?,
        Some(ExitCode::Helper) => helper(store)?,
        Some(ExitCode::OutOfFuel) => {
            return if resumable {
                Ok(Served::End(Some(PauseReason::OutOfFuel)))
            } else {
                Err(Error::out_of_fuel())
            };
        }
        Some(ExitCode::Interrupted) => {
            store.inner.interrupt.store(0, Ordering::Release);
            return if resumable {
                Ok(Served::End(Some(PauseReason::Interrupted)))
            } else {
                Err(Error::interrupted())
            };
        }
        None => return Err(Error::runtime("unknown exit code").with_index(exec.exit_code)),
    }
    Ok(Served::Resume)
}

/// Runs generated code of `inner` (`run`: the entry or a resume), with the
/// store named in its `running` cell for the guard-region fault handler.
///
/// The handler finds the store by the faulting stack pointer (the store's
/// wasm stack is registered with it, `platform::FaultStack`), then calls
/// [`store_fault_landing`] with what the cell holds. The cell is set for
/// each run and cleared when the code exits, so between runs (while a host
/// function runs, which may instantiate, or make nested calls that run
/// code of their own) the landing never looks at a store Rust code is
/// using, and a fault outside generated code is not taken for a wasm trap.
/// No thread-local value is involved: the stack pointer tells the thread's
/// running code apart.
#[inline(always)]
fn run_code(inner: &StoreInner, run: impl FnOnce()) {
    inner.running.set(inner as *const StoreInner as *const ());
    run();
    inner.running.set(core::ptr::null());
}

/// Where a fault at `pc` in code of the store `inner` (from its `running`
/// cell) continues: the trap stub of the instruction that faulted, if any.
fn store_fault_landing(inner: *const (), pc: usize) -> Option<usize> {
    // SAFETY: the cell holds the store only while generated code of this
    // store runs (`run_code`, which borrows the store for that time), and
    // the fault handler calls this on the thread running that code (its
    // stack pointer lies in the store's wasm stack), so no Rust code uses
    // the store meanwhile.
    let inner = unsafe { &*(inner as *const StoreInner) };
    inner
        .instances
        .iter()
        .find_map(|i| i._module.inner.fault_landing(pc))
}

/// Serves `ExitCode::HostCall`: `payload` is the function's index in
/// `Store::host_funcs`; arguments and results travel through the area the
/// host-call stub left [`HOST_CALL_AREA`](crate::abi::HOST_CALL_AREA)
/// bytes above `wasm_rsp`, copied to and from a buffer on the host stack
/// (the wasm stack is the store's, which the host function may use
/// meanwhile, and which a nested call's exception collection reads).
///
/// This runs on every call from wasm to the host: one bounds-checked
/// lookup of the function, one range check covering the exit frame at
/// `wasm_rsp` (whose first word is the caller's context) and the area
/// above it, the copies, and the closure.
#[inline(always)]
fn host_call<T>(store: &mut Store<T>) -> Result<()> {
    /// Areas up to this many slots use a buffer on the host stack.
    const SMALL: usize = 8;
    const FRAME: usize = crate::abi::HOST_CALL_AREA;
    let exec = &*store.inner.exec;
    let (payload, wasm_rsp) = (exec.payload, exec.wasm_rsp);
    let Some(entry) = usize::try_from(payload)
        .ok()
        .and_then(|i| store.host_funcs.get(i))
    else {
        return Err(unknown_host_function(payload));
    };
    let (f, nslots, exit_bytes) = (entry.code(), entry.nslots, entry.exit_bytes);
    // The frame and the area (`entry.exit_bytes` from `wasm_rsp`) lie in
    // the stack, 8-aligned: `off` is their offset in it (huge when
    // `wasm_rsp` is below the base; the base is 16-aligned; the size is 0
    // before the stack is allocated, when nothing fits).
    let off = wasm_rsp.wrapping_sub(store.inner.stack_base);
    let fits = off
        .checked_add(exit_bytes)
        .is_some_and(|end| end <= store.inner.stack_size)
        && off.is_multiple_of(8);
    if !fits {
        return Err(host_area_outside());
    }
    let args_addr = wasm_rsp + FRAME;
    // SAFETY: the word at `wasm_rsp` (where the stub saved the caller's
    // `r15`) lies in the wasm stack, aligned (checked above).
    let vmctx = unsafe { (wasm_rsp as *const usize).read() };
    // A function without arguments or results has nothing to copy. This
    // is told from the frame size rather than from `nslots`, so that the
    // test is not merged into the copies' dispatch on the count (one
    // branch, not a jump table, for such functions).
    if exit_bytes == FRAME {
        // SAFETY: see `run_closure`; `f` is the closure of
        // `host_funcs[payload]`.
        return unsafe { run_host_closure(f, store, vmctx, &mut []) };
    }
    if nslots > SMALL {
        return host_call_large(store, f, vmctx, args_addr, nslots);
    }
    let area = args_addr as *mut u64;
    let mut buf = core::mem::MaybeUninit::<[u64; SMALL]>::uninit();
    let buf = buf.as_mut_ptr() as *mut u64;
    // SAFETY: the `nslots` words at `area` lie in the wasm stack, aligned
    // (checked above), and `buf` has room for them (`nslots <= SMALL`);
    // the suspended code does not run meanwhile, nested calls leave the
    // area (above its `wasm_rsp`) alone, and the stack lives as long as
    // the store, which this call borrows.
    unsafe { copy_words(buf, area, nslots) };
    // SAFETY: the first `nslots` words of `buf` were just written.
    let slots = unsafe { core::slice::from_raw_parts_mut(buf, nslots) };
    // SAFETY: as for the call above.
    unsafe { run_host_closure(f, store, vmctx, slots) }?;
    // SAFETY: as for the first copy.
    unsafe { copy_words(area, buf, nslots) };
    Ok(())
}

/// Runs the host function `f` for a call from wasm code of `vmctx`; when
/// it throws, the exception continues in the wasm code around, if any
/// catches it.
///
/// # Safety
/// As for [`run_closure`].
#[inline(always)]
unsafe fn run_host_closure<T>(
    f: *const SlotsFn<T>,
    store: &mut Store<T>,
    vmctx: usize,
    slots: &mut [u64],
) -> Result<()> {
    // SAFETY: the caller's contract.
    match unsafe { run_closure(f, store, vmctx, slots) } {
        Ok(()) => Ok(()),
        Err(e) => super::exception::from_host(&mut store.inner, e),
    }
}

#[cold]
fn host_area_outside() -> Error {
    Error::runtime("host call area outside the wasm stack")
}

/// [`host_call`] for areas too large for its buffer.
#[cold]
#[inline(never)]
fn host_call_large<T>(
    store: &mut Store<T>,
    f: *const SlotsFn<T>,
    vmctx: usize,
    args_addr: usize,
    nslots: usize,
) -> Result<()> {
    let mut slots = vec![0u64; nslots];
    if !store.inner.read_stack_into(args_addr, &mut slots) {
        return Err(Error::runtime("host call area outside the wasm stack"));
    }
    // SAFETY: see `run_closure`.
    if let Err(e) = unsafe { run_closure(f, store, vmctx, &mut slots) } {
        return super::exception::from_host(&mut store.inner, e);
    }
    store
        .inner
        .write_stack(args_addr, &slots)
        .ok_or_else(|| Error::runtime("host call area outside the wasm stack"))
}

/// Runs the host function `f` of `store` on `slots`, for code of `vmctx`.
///
/// # Safety
/// `f` must point to the closure of an entry of `store.host_funcs`.
#[inline]
unsafe fn run_closure<T>(
    f: *const SlotsFn<T>,
    store: &mut Store<T>,
    vmctx: usize,
    slots: &mut [u64],
) -> Result<()> {
    // SAFETY: the closure lives in the `Arc` of its `host_funcs` entry,
    // which lives as long as the store: `host_funcs` is only ever appended
    // to (growing it moves the `Arc`, not the closure), and the store
    // outlives this call, which borrows it mutably; the closure cannot
    // replace or drop the store through its `Caller`, which never hands out
    // a `&mut Store`. The closure is only read (it is `Fn`).
    unsafe { (*f)(Caller { store, vmctx }, slots) }
}

#[cold]
fn unknown_host_function(payload: u64) -> Error {
    Error::runtime("host call of an unknown function").with_index(payload as u32)
}

/// Serves `ExitCode::Helper`: the area at `call_args` holds immediates
/// and operands, and receives the result in slot 0.
fn helper<T>(store: &mut Store<T>) -> Result<()> {
    let (inner, limiter) = store.inner_and_limiter();
    let helper = inner.exec.payload as u32;
    let addr = inner.exec.call_args;
    let instance = inner
        .exiting_instance()
        .ok_or_else(|| Error::runtime("runtime helper from an unknown instance"))?;
    let n = crate::abi::Helper::from_u32(helper).map_or(2, super::helpers::slots_of);
    let mut area = alloc::vec![0u64; n];
    if !inner.read_stack_into(addr, &mut area) {
        return Err(Error::runtime("runtime helper area outside the wasm stack"));
    }
    let status = inner.helper(instance, helper, &mut area, limiter)?;
    // The result, and the rest of an interrupted operation.
    inner
        .write_stack(addr, &area)
        .ok_or_else(|| Error::runtime("runtime helper area outside the wasm stack"))?;
    inner.exec.payload = status as u64;
    Ok(())
}

/// Serves `ExitCode::MemoryGrow`.
fn memory_grow<T>(store: &mut Store<T>) -> Result<()> {
    let payload = store.inner.exec.payload;
    let (mem, delta) = ((payload >> 32) as usize, payload as u32);
    let instance = store
        .inner
        .exiting_instance()
        .ok_or_else(|| Error::runtime("memory.grow from an unknown instance"))?;
    let memory = store
        .inner
        .instances
        .get(instance as usize)
        .and_then(|i| i.memories.get(mem))
        .copied()
        .ok_or_else(|| Error::runtime("memory.grow of an unknown memory"))?;
    let (inner, limiter) = store.inner_and_limiter();
    let id = inner.id;
    // Fuel first (see `helpers`): short of it, nothing grows yet.
    let charged = inner.take_growth_fuel(memory, delta);
    if charged == Some(false) {
        inner.exec.payload = crate::abi::GROW_OUT_OF_FUEL;
        return Ok(());
    }
    // A refused growth is -1 for the guest (`GROW_REFUSED_64` for a
    // 64-bit memory); the limiter's error ends the call.
    let wide = inner
        .memories
        .get(memory as usize)
        .is_some_and(|m| m.ty.memory64);
    let result = match inner.grow_memory(id, memory, delta, limiter)? {
        Ok(old) => old as u64,
        Err(_) => {
            if charged == Some(true) {
                inner.give_growth_fuel(memory, delta);
            }
            if wide {
                crate::abi::GROW_REFUSED_64
            } else {
                u32::MAX as u64
            }
        }
    };
    store.inner.exec.payload = result;
    Ok(())
}

#[cfg(all(test, feature = "std", feature = "compiler"))]
mod tests {
    //! The exit loop through the real trampolines: a host function's
    //! `VmFuncRef` is entered like a wasm function (its code is the
    //! host-call stub), so every call below enters, exits with `HostCall`,
    //! is served and resumed, and returns.
    use super::*;
    use crate::asm::x64::{Assembler, Gpr, Mem};
    use crate::code_memory::{CodeMemory, PublishedCode};
    use crate::runtime::{Engine, Store};
    use alloc::string::ToString;
    use alloc::sync::Arc;

    /// Code that stands in for wasm calling the host function `funcref`
    /// through its `VmFuncRef`: `mov rax, funcref; jmp [rax + code]` (a
    /// tail call, so the argument area stays above the return address).
    fn shim(funcref: *const VmFuncRef) -> PublishedCode {
        let mut a = Assembler::new();
        a.movabs_ri(Gpr::Rax, funcref as u64);
        a.jmp_m(Mem::base(
            Gpr::Rax,
            core::mem::offset_of!(VmFuncRef, code) as i32,
        ));
        let bytes = a.finish().unwrap().bytes;
        let memory: Arc<dyn CodeMemory> = crate::default_platform()
            .default_code_memory()
            .expect("the test platform has code memory");
        let mut block = memory.allocate(bytes.len()).unwrap();
        block.write(0, &bytes).unwrap();
        PublishedCode::publish(memory, block).unwrap()
    }

    fn enter_host<T>(
        store: &mut Store<T>,
        f: Func,
        args: &[u64],
        nslots: usize,
    ) -> Result<Vec<u64>> {
        let funcref = store.inner.func_data(f)?.funcref;
        enter_funcref(store, funcref, args, nslots)
    }

    /// Enters the shim that calls through `funcref`.
    fn enter_funcref<T>(
        store: &mut Store<T>,
        funcref: *const VmFuncRef,
        args: &[u64],
        nslots: usize,
    ) -> Result<Vec<u64>> {
        let code = shim(funcref);
        let target = VmFuncRef {
            code: code.exec_ptr().as_ptr(),
            vmctx: &mut *store.inner.host_vmctx,
            type_id: 0,
            host_index: 0,
        };
        let mut slots = vec![0u64; nslots];
        slots[..args.len()].copy_from_slice(args);
        invoke(store, target, &mut slots, false)?;
        Ok(slots)
    }

    #[test]
    fn host_call_through_the_stubs() {
        let engine = Engine::default();
        let mut store = Store::new(&engine, 0u32);
        let add = Func::wrap(&mut store, |mut caller: Caller<'_, u32>, a: i32, b: i64| {
            *caller.data_mut() += 1;
            b + a as i64
        });
        let slots = enter_host(&mut store, add, &[(-5i32) as u32 as u64, 50], 2).unwrap();
        assert_eq!(slots[0] as i64, 45);
        assert_eq!(*store.data(), 1);
        // The store is reusable, and the stack is back where it started.
        let slots = enter_host(&mut store, add, &[1, 2], 2).unwrap();
        assert_eq!(slots[0], 3);
        assert_eq!(store.inner.depth, 0);
    }

    /// Serves a host-call exit of `f` whose `wasm_rsp` is `rsp`, with the
    /// area's slot 0 holding `arg` when it lies in the stack; returns slot 0
    /// afterwards.
    fn serve_host_exit(store: &mut Store<u32>, f: Func, rsp: usize, arg: u64) -> Result<u64> {
        let FuncKind::Host { index, .. } = store.inner.func_data(f)?.kind else {
            return Err(Error::msg("not a host function"));
        };
        let area = rsp.wrapping_add(crate::abi::HOST_CALL_AREA);
        let _ = store.inner.write_stack(area, &[arg]);
        store.inner.exec.payload = u64::from(index);
        store.inner.exec.wasm_rsp = rsp;
        host_call(store)?;
        let mut out = [0u64];
        if !store.inner.read_stack_into(area, &mut out) {
            return Err(Error::msg("area outside the stack"));
        }
        Ok(out[0])
    }

    /// The one range check of a host call: its exit frame and its area
    /// must lie in the wasm stack, 8-aligned, up to the last byte.
    #[test]
    fn host_call_frames_are_checked_against_the_stack() {
        let engine = Engine::default();
        let mut store = Store::new(&engine, 0u32);
        let inc = Func::wrap(&mut store, |mut caller: Caller<'_, u32>, x: i64| {
            *caller.data_mut() += 1;
            x + 1
        });
        let nop = Func::wrap(&mut store, |mut caller: Caller<'_, u32>| {
            *caller.data_mut() += 1;
        });
        // Before the stack exists nothing fits.
        let err = serve_host_exit(&mut store, nop, 4096, 0).unwrap_err();
        assert!(err.to_string().contains("outside the wasm stack"), "{err}");
        store.inner.stack_limit().unwrap();
        let (base, top) = (store.inner.stack_base, store.inner.stack_top);
        let frame = crate::abi::HOST_CALL_AREA;
        // `inc`'s area (rounded up to 16 bytes) and `nop`'s (none).
        assert_eq!(
            store
                .host_funcs
                .iter()
                .map(|e| e.nslots)
                .collect::<Vec<_>>(),
            [2, 0]
        );
        // The highest frames whose areas end at the top, and the lowest.
        assert_eq!(
            serve_host_exit(&mut store, inc, top - frame - 16, 41).unwrap(),
            42
        );
        assert_eq!(
            serve_host_exit(&mut store, nop, top - frame, 0).unwrap_or(7),
            7
        );
        assert_eq!(serve_host_exit(&mut store, inc, base, 1).unwrap(), 2);
        assert_eq!(*store.data(), 3);
        // One word too high, below the base, misaligned: refused, and the
        // function does not run.
        for (f, rsp) in [
            (inc, top - frame - 8),
            (nop, top - frame + 8),
            (inc, base - 8),
            (inc, base + 4),
            (nop, usize::MAX - 7),
        ] {
            let err = serve_host_exit(&mut store, f, rsp, 0).unwrap_err();
            assert!(err.to_string().contains("outside the wasm stack"), "{err}");
        }
        assert_eq!(*store.data(), 3);
    }

    #[test]
    fn a_host_index_outside_the_store_is_an_error() {
        let engine = Engine::default();
        let mut store = Store::new(&engine, ());
        let f = Func::wrap(&mut store, |x: i32| x);
        let mut forged = copy_funcref(store.inner.func_data(f).unwrap().funcref);
        forged.host_index = 1;
        let err = enter_funcref(&mut store, &forged, &[7], 2).unwrap_err();
        assert!(
            err.to_string().contains("host call of an unknown function"),
            "{err}"
        );
        assert_eq!(store.inner.depth, 0);
        // The real one still works.
        assert_eq!(enter_host(&mut store, f, &[7], 2).unwrap()[0], 7);
    }

    /// A copy of a store's `VmFuncRef`.
    fn copy_funcref(funcref: *const VmFuncRef) -> VmFuncRef {
        // SAFETY: the pointer comes from a live store's `FuncData`.
        unsafe { *funcref }
    }

    #[test]
    fn nested_entries_and_errors() {
        let engine = Engine::default();
        let mut store = Store::new(&engine, Vec::<usize>::new());
        let inner = Func::wrap(&mut store, |x: i32| -> Result<i32> {
            if x == 13 {
                Err(Error::msg("unlucky"))
            } else {
                Ok(x * 2)
            }
        });
        // A host function that enters "wasm" again (nested on the wasm
        // stack below the suspended call) and records the nesting depth.
        let outer = Func::wrap(
            &mut store,
            move |mut caller: Caller<'_, Vec<usize>>, x: i32| -> Result<i32> {
                let depth = caller.store.inner.depth as usize;
                caller.data_mut().push(depth);
                let r = enter_host(caller.store, inner, &[x as u32 as u64], 1)?;
                Ok(r[0] as i32 + 1)
            },
        );
        let r = enter_host(&mut store, outer, &[20], 1).unwrap();
        assert_eq!(r[0], 41);
        assert_eq!(store.data(), &[1]);
        let err = enter_host(&mut store, outer, &[13], 1).unwrap_err();
        assert_eq!(err.to_string(), "unlucky");
        assert_eq!(store.inner.depth, 0);
        let r = enter_host(&mut store, outer, &[1], 1).unwrap();
        assert_eq!(r[0], 3);
    }

    #[test]
    fn deep_nesting_is_a_stack_overflow_trap() {
        let engine = Engine::default();
        let mut store = Store::new(&engine, None::<Func>);
        let f = Func::wrap(
            &mut store,
            |caller: Caller<'_, Option<Func>>| -> Result<()> {
                let me = caller.data().ok_or_else(|| Error::msg("no self"))?;
                enter_host(caller.store, me, &[], 0).map(|_| ())
            },
        );
        *store.data_mut() = Some(f);
        let err = enter_host(&mut store, f, &[], 0).unwrap_err();
        assert_eq!(err.trap(), Some(TrapCode::StackOverflow));
        assert_eq!(err.to_string(), "call stack exhausted");
        assert_eq!(store.inner.depth, 0);
    }
}
