//! Exception objects, [`ExnRef`], [`ThrownException`], and the unwinder
//! that carries a thrown exception to its handler (the convention:
//! `abi`, "Exceptions").
//!
//! # Exception objects and their memory
//! The store owns every exception object: its tag (the store's tag
//! index) and its payload (raw values, as global cells hold them). An
//! `exnref` is a handle, never a pointer: bits 0..32 are the object's slot
//! plus one (so null is 0), bits 32..64 the slot's generation, which changes
//! whenever the slot is reused. Every use looks the handle up and checks
//! the generation, so a handle to a reclaimed object is an error, never a
//! use of freed or reused memory, wherever it was kept (locals, globals,
//! tables, the host).
//!
//! Objects are reclaimed where they are provably dead:
//! - an exception a `catch` or `catch_all` handles (no `_ref`) whose
//!   object never became an `exnref` (it was thrown by `throw`, not
//!   `throw_ref`, and never caught by a `_ref` clause or seen by the
//!   host) is freed at once: nothing can refer to it;
//! - when a call from the host into wasm begins at the outermost level
//!   (no wasm frame is live anywhere), every object no global, no table
//!   and no host value refers to is freed. Objects the host has seen
//!   (an [`ExnRef`] it read from a result, a global, a table, or an
//!   uncaught exception's [`ThrownException`]) are pinned: the host may
//!   hold them, so they stay until the store is dropped, except an
//!   exception a host function throws, which belongs to wasm again.
//!
//! - when a throw (or [`ExnRef::new`]) finds [`MAX_LIVE_EXCEPTIONS`]
//!   objects alive, the store collects as at the outermost call, with
//!   the live wasm stack as roots too, scanned conservatively (see
//!   `StoreInner::collect_exceptions`). An exception caught by a `_ref`
//!   clause and dropped (what every cleanup frame of C++ or Rust does)
//!   is thus reclaimed within one long call as well.
//!
//! Reachability follows payloads: an object a kept object's payload names
//! is kept. Only when [`MAX_LIVE_EXCEPTIONS`] objects are still reachable
//! after a collection does a throw fail the call with "too many live
//! exceptions", which no `try_table` catches (it is not a wasm
//! exception).

use super::exec::read_slot;
use super::store::{AsContext, AsContextMut, Store, StoreInner};
use super::tag::Tag;
use super::values::Val;
use crate::abi::{
    CATCH_ALL, EXIT_RETURN_WORD, EXIT_SAVED_GPRS, HandlerSite, PIN_GPR_ENCODINGS,
    SAVED_VMCTX_OFFSET, TrapCode, UNWIND_SAVES_VMCTX, slot_offsets,
};
use crate::error::{Error, Result};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

/// How many exception objects a store keeps alive at once.
pub const MAX_LIVE_EXCEPTIONS: usize = 1 << 16;

/// A reference to an exception object of a store (`exnref`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExnRef {
    pub(crate) store: u64,
    pub(crate) raw: u64,
}

/// An exception that left WebAssembly uncaught: the error of the call
/// ([`Error::thrown`](crate::Error::thrown)) carries it. A host function
/// throws one into wasm by returning [`Store::throw`]'s or
/// [`Caller::throw`](super::Caller::throw)'s error.
#[derive(Clone, Debug)]
pub struct ThrownException {
    exn: ExnRef,
    tag: Tag,
    fields: Vec<Val>,
}

impl ThrownException {
    /// The exception object (pinned: it stays valid while the store
    /// lives).
    pub fn exn(&self) -> ExnRef {
        self.exn
    }

    /// Its tag.
    pub fn tag(&self) -> Tag {
        self.tag
    }

    /// Its payload.
    pub fn fields(&self) -> &[Val] {
        &self.fields
    }
}

impl PartialEq for ThrownException {
    fn eq(&self, other: &Self) -> bool {
        self.exn == other.exn
    }
}

impl Eq for ThrownException {}

impl ExnRef {
    /// A new exception object of `tag` with payload `fields`, for a host
    /// function to throw ([`Store::throw`]).
    pub fn new(mut store: impl AsContextMut, tag: &Tag, fields: &[Val]) -> Result<ExnRef> {
        let inner = &mut store.as_context_mut().0.inner;
        let ty = inner.tag_data(*tag)?.ty.clone();
        if fields.len() != ty.params().len() {
            return Err(Error::runtime("wrong number of exception fields")
                .with_detail(format_args!("the tag's type is {ty}")));
        }
        let mut raw = Vec::with_capacity(fields.len());
        for (v, &t) in fields.iter().zip(ty.params()) {
            raw.push(super::store::check_val(inner, v, t)?);
        }
        inner.make_room_for_exception();
        let handle = inner.exceptions.alloc(tag.index, raw.into_boxed_slice())?;
        inner.exceptions.pin(handle);
        Ok(ExnRef {
            store: inner.id,
            raw: handle,
        })
    }

    /// The exception's tag.
    pub fn tag(&self, store: impl AsContext) -> Result<Tag> {
        let inner = &store.as_context().inner;
        let obj = inner.exn_object(*self)?;
        Ok(Tag {
            store: inner.id,
            index: obj.tag,
        })
    }

    /// The exception's payload.
    pub fn fields(&self, store: impl AsContext) -> Result<Vec<Val>> {
        let inner = &store.as_context().inner;
        inner.exn_fields(self.raw)
    }
}

impl Error {
    /// The exception, when a WebAssembly exception left the call uncaught
    /// ([`ErrorKind::Exception`](crate::ErrorKind::Exception)), or a host
    /// function throws one ([`Store::throw`]): its tag and payload.
    pub fn thrown(&self) -> Option<&ThrownException> {
        self.payload()?.downcast_ref()
    }
}

impl<T> Store<T> {
    /// The error a host function returns to throw `exn` as a WebAssembly
    /// exception: the wasm code that called it (or the code around) may
    /// catch it; uncaught, it ends the call from the host with this error.
    pub fn throw(&mut self, exn: ExnRef) -> Error {
        thrown_error(&self.inner, exn.raw)
    }
}

impl<T> super::Caller<'_, T> {
    /// [`Store::throw`] from a host function.
    pub fn throw(&mut self, exn: ExnRef) -> Error {
        self.store.throw(exn)
    }
}

/// One exception object.
pub(crate) struct Object {
    /// The store's tag index.
    pub tag: u32,
    pub fields: Box<[u128]>,
    /// Whether it became an `exnref` somewhere.
    materialized: bool,
    /// Whether the host may hold it.
    pinned: AtomicBool,
}

struct Slot {
    generation: u32,
    object: Option<Object>,
}

/// The store's exception objects (see the module docs).
#[derive(Default)]
pub(crate) struct Exceptions {
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
}

impl Exceptions {
    /// How many objects are alive.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    fn alloc(&mut self, tag: u32, fields: Box<[u128]>) -> Result<u64> {
        if self.live >= MAX_LIVE_EXCEPTIONS {
            return Err(
                Error::runtime("too many live exceptions").with_detail(format_args!(
                    "the store's limit is {MAX_LIVE_EXCEPTIONS} exception objects"
                )),
            );
        }
        let object = Object {
            tag,
            fields,
            materialized: false,
            pinned: AtomicBool::new(false),
        };
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    object: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.object = Some(object);
        self.live += 1;
        Ok(u64::from(slot.generation) << 32 | u64::from(index + 1))
    }

    fn slot_of(raw: u64) -> Option<(usize, u32)> {
        let index = (raw as u32).checked_sub(1)?;
        Some((index as usize, (raw >> 32) as u32))
    }

    pub(crate) fn get(&self, raw: u64) -> Option<&Object> {
        let (i, generation) = Self::slot_of(raw)?;
        let slot = self.slots.get(i)?;
        (slot.generation == generation)
            .then_some(slot.object.as_ref())
            .flatten()
    }

    fn get_mut(&mut self, raw: u64) -> Option<&mut Object> {
        let (i, generation) = Self::slot_of(raw)?;
        let slot = self.slots.get_mut(i)?;
        if slot.generation != generation {
            return None;
        }
        slot.object.as_mut()
    }

    fn free_slot(&mut self, i: usize) {
        if let Some(slot) = self.slots.get_mut(i)
            && slot.object.take().is_some()
        {
            slot.generation = slot.generation.wrapping_add(1);
            self.free.push(i as u32);
            self.live -= 1;
        }
    }

    fn free(&mut self, raw: u64) {
        if let Some((i, generation)) = Self::slot_of(raw)
            && self
                .slots
                .get(i)
                .is_some_and(|s| s.generation == generation)
        {
            self.free_slot(i);
        }
    }

    /// Marks the object as possibly held by the host.
    pub(crate) fn pin(&self, raw: u64) {
        if let Some(o) = self.get(raw) {
            o.pinned.store(true, Ordering::Relaxed);
        }
    }

    fn unpin(&mut self, raw: u64) {
        if let Some(o) = self.get_mut(raw) {
            *o.pinned.get_mut() = false;
        }
    }

    /// The slot `raw` names if it is a live object's handle.
    fn live_slot(&self, raw: u64) -> Option<usize> {
        let (i, generation) = Self::slot_of(raw)?;
        let slot = self.slots.get(i)?;
        (slot.generation == generation && slot.object.is_some()).then_some(i)
    }

    /// Frees every object that no root reaches: `roots`, the pinned
    /// objects, and, transitively, every object a kept object's payload
    /// names. Payload cells are read as possible handles whatever their
    /// type (an `i64` that equals a live handle keeps that object), so
    /// nothing reachable is ever freed.
    fn sweep(&mut self, roots: &[u64]) {
        let mut keep = alloc::vec![false; self.slots.len()];
        let mut work = Vec::new();
        let pinned = self.slots.iter().enumerate().filter_map(|(i, s)| {
            s.object
                .as_ref()
                .is_some_and(|o| o.pinned.load(Ordering::Relaxed))
                .then_some(i)
        });
        let roots = roots.iter().filter_map(|&raw| self.live_slot(raw));
        for i in pinned.chain(roots) {
            if !keep[i] {
                keep[i] = true;
                work.push(i);
            }
        }
        while let Some(i) = work.pop() {
            let Some(object) = self.slots[i].object.as_ref() else {
                continue;
            };
            for &cell in object.fields.iter() {
                if let Some(j) = self.live_slot(cell as u64)
                    && !keep[j]
                {
                    keep[j] = true;
                    work.push(j);
                }
            }
        }
        for (i, &kept) in keep.iter().enumerate() {
            if !kept {
                self.free_slot(i);
            }
        }
    }
}

/// The error of an exception leaving to the host (pins its object).
fn thrown_error(inner: &StoreInner, raw: u64) -> Error {
    inner.exceptions.pin(raw);
    let Some(obj) = inner.exceptions.get(raw) else {
        return Error::runtime("exception reference to a reclaimed exception");
    };
    let tag = Tag {
        store: inner.id,
        index: obj.tag,
    };
    let fields = inner.exn_fields(raw).unwrap_or_default();
    Error::with_payload(
        crate::error::ErrorKind::Exception,
        "uncaught WebAssembly exception",
        alloc::sync::Arc::new(ThrownException {
            exn: ExnRef {
                store: inner.id,
                raw,
            },
            tag,
            fields,
        }),
    )
}

impl StoreInner {
    fn exn_object(&self, exn: ExnRef) -> Result<&Object> {
        if exn.store != self.id {
            return Err(Error::runtime("exnref used with the wrong store"));
        }
        self.exceptions
            .get(exn.raw)
            .ok_or_else(|| Error::runtime("exception reference to a reclaimed exception"))
    }

    fn exn_fields(&self, raw: u64) -> Result<Vec<Val>> {
        let obj = self
            .exceptions
            .get(raw)
            .ok_or_else(|| Error::runtime("exception reference to a reclaimed exception"))?;
        let ty = &self
            .tags
            .get(obj.tag as usize)
            .ok_or_else(|| Error::runtime("unknown tag"))?
            .ty;
        Ok(ty
            .params()
            .iter()
            .zip(obj.fields.iter())
            .map(|(&t, &raw)| self.raw_to_val(t, raw))
            .collect())
    }

    /// Checks that `raw` names a live exception object (0 is null).
    pub(crate) fn check_exn_raw(&self, exn: ExnRef) -> Result<u64> {
        self.exn_object(exn).map(|_| exn.raw)
    }

    /// Frees the exception objects nothing can reach. Called when a call
    /// from the host begins at the outermost level (no wasm frame is live:
    /// `scan_stack` false), and when a throw or [`ExnRef::new`] finds the
    /// store at [`MAX_LIVE_EXCEPTIONS`] while wasm frames may be live
    /// (`scan_stack` true). The roots are the globals and tables of type
    /// `exnref` and, when `scan_stack`, the exit's payload and every word
    /// of the wasm stack above the last exit (`wasm_rsp`), which holds
    /// all live frames of every activation and the registers the exit
    /// saved: generated code keeps no value elsewhere across an exit. The
    /// scan is conservative (any word that equals a live handle keeps its
    /// object), so it may keep garbage but never frees a reachable object.
    pub(crate) fn collect_exceptions(&mut self, scan_stack: bool) {
        if self.exceptions.live() == 0 {
            return;
        }
        let mut roots = Vec::new();
        for g in &self.globals {
            if g.ty.content.ref_type().is_some_and(|r| r.is_exn()) {
                roots.push(g.get() as u64);
            }
        }
        for t in &self.tables {
            if t.ty.elem.is_exn() {
                roots.extend(t.elements.iter().map(|&e| e as u64));
            }
        }
        if scan_stack {
            roots.push(self.exec.payload);
            if let Some(stack) = self.stack.as_ref() {
                let top = stack.as_ptr() as usize + stack.len() * 16;
                let from = self.exec.wasm_rsp;
                if let Some(words) = top.checked_sub(from).map(|bytes| bytes / 8) {
                    let at = roots.len();
                    roots.resize(at + words, 0);
                    if !self.read_stack_into(from, &mut roots[at..]) {
                        // An exit always leaves `wasm_rsp` inside the
                        // stack; if it is not, nothing may be freed.
                        return;
                    }
                }
            }
        }
        self.exceptions.sweep(&roots);
    }

    /// Makes room for one more exception object if the store is at
    /// [`MAX_LIVE_EXCEPTIONS`], by collecting with the wasm stack as roots.
    fn make_room_for_exception(&mut self) {
        if self.exceptions.live() >= MAX_LIVE_EXCEPTIONS {
            self.collect_exceptions(true);
        }
    }

    /// Where code address `pc` lies: the module's instance index (any
    /// instance of it), the code's base address, the defined function, and
    /// the range of its code (offsets).
    fn locate(&self, pc: usize) -> Option<(usize, usize, usize, u32, u32)> {
        self.instances.iter().enumerate().find_map(|(k, i)| {
            let m = &i._module.inner;
            let code = m.code.as_ref()?;
            let base = code.exec_ptr().as_ptr() as usize;
            let offset = u32::try_from(pc.checked_sub(base)?).ok()?;
            if offset as usize > code.len() {
                return None;
            }
            let f = m.func_layout.partition_point(|&(o, _)| o < offset);
            let (start, func) = *m.func_layout.get(f.checked_sub(1)?)?;
            let end = m.func_layout.get(f).map_or(code.len() as u32, |&(o, _)| o);
            Some((k, base, func as usize, start, end))
        })
    }

    /// Unwinds to the handler of exception `raw`, thrown by the exit at
    /// `wasm_rsp` (see `abi`, "Exceptions"): `Ok(true)` when the code is
    /// to resume at its landing pad, `Ok(false)` when no frame of this
    /// activation handles it.
    fn unwind(&mut self, raw: u64) -> Result<bool> {
        let tag = self
            .exceptions
            .get(raw)
            .ok_or_else(|| Error::runtime("exception reference to a reclaimed exception"))?
            .tag;
        let wasm_rsp = self.exec.wasm_rsp;
        let mut top = [0u64; EXIT_RETURN_WORD + 2];
        if !self.read_stack_into(wasm_rsp, &mut top) {
            return Err(Error::runtime("exception thrown outside the wasm stack"));
        }
        // The pin registers by their position in `PIN_GPR_ENCODINGS`; the
        // exit pushed the first one first.
        let mut regs = [0u64; EXIT_SAVED_GPRS];
        for (j, r) in regs.iter_mut().enumerate() {
            *r = top[1 + EXIT_SAVED_GPRS - j];
        }
        let exit_r15 = top[0];
        let mut rbp = top[1] as usize;
        // A throw's exit returns into its function; a host function's
        // exit returns into the host-call stub, whose caller follows.
        let mut pc = top[EXIT_RETURN_WORD] as usize;
        if self.locate(pc).is_none() {
            pc = top[EXIT_RETURN_WORD + 1] as usize;
        }
        let mut innermost = true;
        loop {
            // A tail call's record (`abi`, "Tail calls") is no frame and
            // saved no registers: its link leads to the caller's caller.
            if pc == self.exec.tail_return && pc != 0 {
                let mut link = [0u64; 2];
                if !self.read_stack_into(rbp, &mut link) {
                    break;
                }
                (rbp, pc) = (link[0] as usize, link[1] as usize);
                innermost = false;
                continue;
            }
            let Some((k, base, func, func_start, func_end)) = self.locate(pc) else {
                break;
            };
            let m = &*self.instances[k]._module.inner;
            let offset = (pc - base) as u32;
            let info = m.unwind.get(func).copied().unwrap_or(0);
            let vmctx = if info & UNWIND_SAVES_VMCTX != 0 {
                let mut w = [0u64; 1];
                let at = rbp.wrapping_add_signed(SAVED_VMCTX_OFFSET as isize);
                if !self.read_stack_into(at, &mut w) {
                    return Err(Error::runtime("corrupt wasm frame while unwinding"));
                }
                w[0]
            } else if innermost {
                exit_r15
            } else {
                0
            };
            let instance = self.vmctx_map.get(&(vmctx as usize)).copied();
            // The handler sites are grouped by function in code order (a
            // function's lie in its code): this function's follow the
            // first whose range starts in it.
            let first = m.handlers.partition_point(|h| h.start < func_start);
            let handler = m.handlers[first..]
                .iter()
                .take_while(|h| h.start < func_end)
                .find(|h| {
                    h.start < offset
                        && offset <= h.end
                        && (h.tag == CATCH_ALL
                            || instance
                                .and_then(|i| self.instances[i as usize].tags.get(h.tag as usize))
                                == Some(&tag))
                })
                .copied();
            if let Some(h) = handler {
                self.land(raw, &h, base, rbp, vmctx, &regs)?;
                return Ok(true);
            }
            // Leaving the frame restores what its prologue saved.
            let mut k = 0;
            for (j, &enc) in PIN_GPR_ENCODINGS.iter().enumerate() {
                if info & (1 << enc) != 0 {
                    k += 1;
                    let at = rbp.wrapping_add_signed((SAVED_VMCTX_OFFSET - 8 * k) as isize);
                    let mut w = [0u64; 1];
                    if !self.read_stack_into(at, &mut w) {
                        return Err(Error::runtime("corrupt wasm frame while unwinding"));
                    }
                    regs[j] = w[0];
                }
            }
            let mut link = [0u64; 2];
            if !self.read_stack_into(rbp, &mut link) {
                break;
            }
            (rbp, pc) = (link[0] as usize, link[1] as usize);
            innermost = false;
        }
        Ok(false)
    }

    /// Hands exception `raw` to handler `h` of the frame at `rbp`: its
    /// values into the frame's home slots, and the words at `wasm_rsp`
    /// rewritten so that resuming enters the landing pad.
    fn land(
        &mut self,
        raw: u64,
        h: &HandlerSite,
        base: usize,
        rbp: usize,
        vmctx: u64,
        regs: &[u64; EXIT_SAVED_GPRS],
    ) -> Result<()> {
        let obj = self
            .exceptions
            .get(raw)
            .ok_or_else(|| Error::runtime("exception reference to a reclaimed exception"))?;
        let dead = !obj.materialized && !obj.pinned.load(Ordering::Relaxed);
        let mut values: Vec<u128> = if h.tag == CATCH_ALL {
            Vec::new()
        } else {
            obj.fields.to_vec()
        };
        if h.with_ref {
            values.push(u128::from(raw));
        }
        if values.len() != h.values as usize {
            return Err(Error::internal(
                "a catch clause's values do not match its tag",
            ));
        }
        for (k, v) in values.iter().enumerate() {
            let at = rbp.wrapping_add_signed((h.home - 16 * k as i32) as isize);
            self.write_stack(at, &[*v as u64, (*v >> 64) as u64])
                .ok_or_else(|| Error::runtime("corrupt wasm frame while unwinding"))?;
        }
        if h.with_ref {
            if let Some(o) = self.exceptions.get_mut(raw) {
                o.materialized = true;
            }
        } else if dead {
            self.exceptions.free(raw);
        }
        let mut words = [0u64; EXIT_RETURN_WORD + 1];
        words[0] = vmctx;
        words[1] = rbp as u64;
        for (j, &r) in regs.iter().enumerate() {
            words[1 + EXIT_SAVED_GPRS - j] = r;
        }
        words[EXIT_RETURN_WORD] = (base + h.pad as usize) as u64;
        let wasm_rsp = self.exec.wasm_rsp;
        self.write_stack(wasm_rsp, &words)
            .ok_or_else(|| Error::runtime("exception thrown outside the wasm stack"))
    }
}

/// Serves [`ExitCode::Throw`](crate::abi::ExitCode::Throw) and
/// [`ExitCode::ThrowRef`](crate::abi::ExitCode::ThrowRef): `Ok` to resume
/// at the landing pad, else the error that ends the call (the uncaught
/// exception, or the trap of `throw_ref` on null).
pub(crate) fn serve_throw<T>(store: &mut Store<T>, by_ref: bool) -> Result<()> {
    let inner = &mut store.inner;
    let raw = if by_ref {
        let raw = inner.exec.payload;
        if raw == 0 {
            return Err(Error::from_trap(TrapCode::NullReference).with_backtrace(inner.backtrace()));
        }
        if inner.exceptions.get(raw).is_none() {
            return Err(Error::runtime(
                "exception reference to a reclaimed exception",
            ));
        }
        raw
    } else {
        let local = inner.exec.payload as usize;
        let instance = inner
            .exiting_instance()
            .ok_or_else(|| Error::runtime("throw from an unknown instance"))?;
        let data = &inner.instances[instance as usize];
        let m = &data._module.inner;
        let tag = *data
            .tags
            .get(local)
            .ok_or_else(|| Error::runtime("throw of an unknown tag").with_index(local))?;
        let ty = m
            .tags
            .get(local)
            .and_then(|&t| m.types.get(t as usize))
            .ok_or_else(|| Error::runtime("throw of an unknown tag").with_index(local))?;
        let mut offsets = Vec::new();
        let size = slot_offsets(ty.params(), &mut offsets) as usize;
        let mut slots = alloc::vec![0u64; size / 8];
        if !inner.read_stack_into(inner.exec.call_args, &mut slots) {
            return Err(Error::runtime("exception payload outside the wasm stack"));
        }
        let fields: Box<[u128]> = ty
            .params()
            .iter()
            .zip(&offsets)
            .map(|(&t, &off)| read_slot(&slots, off as usize, t))
            .collect();
        inner.make_room_for_exception();
        inner.exceptions.alloc(tag, fields)?
    };
    throw_raw(inner, raw)
}

/// Throws exception `raw` from the current exit.
fn throw_raw(inner: &mut StoreInner, raw: u64) -> Result<()> {
    if inner.unwind(raw)? {
        Ok(())
    } else {
        Err(thrown_error(inner, raw))
    }
}

/// A host function called from wasm failed with `e`: when `e` is an
/// exception of this store, it is thrown from the host call's exit (to be
/// caught by the wasm around, or to leave with `e`); any other error ends
/// the call.
pub(crate) fn from_host(inner: &mut StoreInner, e: Error) -> Result<()> {
    match e.thrown() {
        Some(t) if t.exn.store == inner.id && inner.exceptions.get(t.exn.raw).is_some() => {
            let raw = t.exn.raw;
            inner.exceptions.unpin(raw);
            if inner.unwind(raw)? {
                Ok(())
            } else {
                inner.exceptions.pin(raw);
                Err(e)
            }
        }
        _ => Err(e),
    }
}
