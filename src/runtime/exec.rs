//! The exit loop: entering wasm code, serving its exits (host calls,
//! `memory.grow`), and resuming it.
//!
//! # The wasm stack
//! Each store has one wasm stack (`Config::max_wasm_stack` bytes, allocated
//! on the first call). `ExecContext::stack_limit` is its bottom plus a
//! 32 KiB margin, which leaves room for the exit stub, the trampolines and
//! the argument area of nested entries. The outermost call starts at the
//! top; a call made by a host function while wasm code is suspended starts
//! 256 bytes below the suspended `wasm_rsp` (aligned down to 16), so the
//! suspended frames stay intact, and `wasm_rsp` is restored when the nested
//! call ends, before the outer computation resumes. Host-to-wasm nesting is
//! limited to [`MAX_NESTING`] levels (each level also uses the host stack).
//!
//! After a trap, or when a host function fails, the suspended wasm frames
//! are simply abandoned: the next call starts from `entry_rsp` again.

use super::func::Func;
use super::store::{Caller, FuncKind, Store, StoreInner};
use super::values::Val;
use crate::abi::{ExitCode, TrapCode, VmContext, VmFuncRef, slot_offsets};
use crate::decode::{FuncType, ValType};
use crate::error::{Error, Result};
use alloc::vec;
use alloc::vec::Vec;

/// Bytes between the top of the stack and its limit that are never used by
/// function bodies.
pub const STACK_MARGIN: usize = 32 << 10;
/// Gap left below a suspended computation's `wasm_rsp` for a nested entry.
const NESTED_GAP: usize = 256;
/// Deepest nesting of host → wasm calls.
pub const MAX_NESTING: u32 = 200;

/// Calls `func` with `params`, writing `results`.
pub(crate) fn call<T>(
    store: &mut Store<T>,
    func: Func,
    params: &[Val],
    results: &mut [Val],
) -> Result<()> {
    let data = store.inner.func_data(func)?;
    let ty = data.ty.clone();
    check_args(&store.inner, &ty, params, results.len())?;
    match data.kind {
        FuncKind::Host { index, .. } => call_host(store, index, None, &ty, params, results),
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
            invoke(store, target, &mut slots)?;
            slot_offsets(ty.results(), &mut offsets);
            for ((r, &t), &off) in results.iter_mut().zip(ty.results()).zip(&offsets) {
                *r = store
                    .inner
                    .raw_to_val(t, read_slot(&slots, off as usize, t));
            }
            Ok(())
        }
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
fn slot_count(ty: &FuncType) -> usize {
    let mut offsets = Vec::new();
    let params = slot_offsets(ty.params(), &mut offsets);
    let results = slot_offsets(ty.results(), &mut offsets);
    params.max(results) as usize / 8
}

fn write_slot(slots: &mut [u64], offset: usize, ty: ValType, raw: u128) {
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

fn read_slot(slots: &[u64], offset: usize, ty: ValType) -> u128 {
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

/// Runs a host function with a [`Caller`] and checks its results.
fn call_host<T>(
    store: &mut Store<T>,
    index: u32,
    instance: Option<u32>,
    ty: &FuncType,
    params: &[Val],
    results: &mut [Val],
) -> Result<()> {
    let f = store
        .host_funcs
        .get(index as usize)
        .cloned()
        .ok_or_else(|| Error::runtime("unknown host function"))?;
    for (r, &t) in results.iter_mut().zip(ty.results()) {
        *r = Val::default_for(t);
    }
    f(Caller { store, instance }, params, results)?;
    for (r, &t) in results.iter().zip(ty.results()) {
        super::store::check_val(&store.inner, r, t)
            .map_err(|e| e.context("host function returned a wrong result"))?;
    }
    Ok(())
}

impl StoreInner {
    /// Allocates the wasm stack if needed; returns (bottom, top).
    fn stack_bounds(&mut self) -> Result<(usize, usize)> {
        if self.stack.is_none() {
            let words = self.engine.inner.max_wasm_stack / 16;
            let mut stack = Vec::new();
            stack
                .try_reserve_exact(words)
                .map_err(|_| Error::runtime("out of memory allocating the wasm stack"))?;
            stack.resize(words, 0u128);
            self.stack = Some(stack.into_boxed_slice());
        }
        let stack = self
            .stack
            .as_mut()
            .ok_or_else(|| Error::runtime("no wasm stack"))?;
        let bottom = stack.as_mut_ptr() as usize;
        Ok((bottom, bottom + stack.len() * 16))
    }

    /// Reads `n` slots of the wasm stack at `addr`, if they lie inside it.
    fn read_stack(&self, addr: usize, n: usize) -> Option<Vec<u64>> {
        let stack = self.stack.as_ref()?;
        let bottom = stack.as_ptr() as usize;
        let top = bottom + stack.len() * 16;
        if addr < bottom || !addr.is_multiple_of(8) || addr.checked_add(n * 8)? > top {
            return None;
        }
        let p = addr as *const u64;
        // SAFETY: `[addr, addr + 8n)` lies inside the stack allocation and is
        // 8-aligned; wasm code is suspended, so nothing writes it meanwhile.
        Some((0..n).map(|i| unsafe { p.add(i).read() }).collect())
    }

    /// Writes slots into the wasm stack at `addr`, if they lie inside it.
    fn write_stack(&mut self, addr: usize, slots: &[u64]) -> Option<()> {
        let stack = self.stack.as_mut()?;
        let bottom = stack.as_mut_ptr() as usize;
        let top = bottom + stack.len() * 16;
        if addr < bottom || !addr.is_multiple_of(8) || addr.checked_add(slots.len() * 8)? > top {
            return None;
        }
        let p = addr as *mut u64;
        for (i, &s) in slots.iter().enumerate() {
            // SAFETY: as in `read_stack`, and the stack is exclusively ours.
            unsafe { p.add(i).write(s) };
        }
        Some(())
    }

    /// The instance whose code exited (its `r15`, saved at `wasm_rsp`).
    fn exiting_instance(&self) -> Option<u32> {
        let vmctx = *self.read_stack(self.exec.wasm_rsp, 1)?.first()? as usize;
        if vmctx == &*self.host_vmctx as *const VmContext as usize {
            return None;
        }
        self.vmctx_map.get(&vmctx).copied()
    }
}

/// Enters the wasm function `target` with the argument `slots` (which
/// receive the results) and serves its exits until it returns or traps.
fn invoke<T>(store: &mut Store<T>, target: VmFuncRef, slots: &mut [u64]) -> Result<()> {
    if store.inner.depth >= MAX_NESTING {
        return Err(Error::from_trap(TrapCode::StackOverflow));
    }
    let (bottom, top) = store.inner.stack_bounds()?;
    let limit = bottom + STACK_MARGIN;
    let saved_wasm_rsp = store.inner.exec.wasm_rsp;
    let entry = if store.inner.depth == 0 {
        top & !15
    } else {
        saved_wasm_rsp.saturating_sub(NESTED_GAP) & !15
    };
    // The trampoline uses 16 bytes at the entry point, then the area.
    if entry.saturating_sub(16 + slots.len() * 8 + 64) < limit || entry > top {
        return Err(Error::from_trap(TrapCode::StackOverflow));
    }
    let engine = store.inner.engine.inner.clone();
    {
        let exec = &mut *store.inner.exec;
        exec.entry_rsp = entry;
        exec.stack_limit = limit;
        exec.exit_code = u32::MAX;
    }
    store.inner.depth += 1;
    let exec_ptr: *mut crate::abi::ExecContext = &mut *store.inner.exec;
    // SAFETY: the trampoline obeys `crate::abi`: `exec_ptr` and
    // `target.vmctx` are live contexts of this store, `target.code` is
    // published code of a module the store keeps alive, the slots are
    // `slots.len()` writable u64s, and `entry_rsp` lies in the store's wasm
    // stack with room for the area above `stack_limit`.
    unsafe {
        (engine.enter)(
            exec_ptr,
            target.vmctx,
            target.code,
            slots.as_mut_ptr(),
            slots.len(),
        )
    };
    let result = serve_exits(store, &engine);
    store.inner.depth -= 1;
    store.inner.exec.wasm_rsp = saved_wasm_rsp;
    result
}

fn serve_exits<T>(store: &mut Store<T>, engine: &super::engine::EngineInner) -> Result<()> {
    loop {
        let exec = &*store.inner.exec;
        match ExitCode::from_u32(exec.exit_code) {
            Some(ExitCode::Returned) => return Ok(()),
            Some(ExitCode::Trap) => {
                return Err(match TrapCode::from_u32(exec.trap_code) {
                    Some(trap) => Error::from_trap(trap),
                    None => Error::runtime("unknown trap code").with_index(exec.trap_code),
                });
            }
            Some(ExitCode::HostCall) => host_call(store)?,
            Some(ExitCode::MemoryGrow) => memory_grow(store)?,
            Some(ExitCode::Helper) => helper(store)?,
            Some(ExitCode::OutOfFuel) => return Err(Error::runtime("all fuel consumed")),
            Some(ExitCode::Interrupted) => return Err(Error::runtime("interrupted")),
            None => return Err(Error::runtime("unknown exit code").with_index(exec.exit_code)),
        }
        let exec_ptr: *mut crate::abi::ExecContext = &mut *store.inner.exec;
        // SAFETY: the computation suspended by the last exit is still intact
        // on the wasm stack (nested calls ran below it and restored
        // `wasm_rsp`), and it is resumed exactly once.
        unsafe { (engine.resume)(exec_ptr) };
    }
}

/// Serves `ExitCode::HostCall`: arguments and results travel through the
/// area at `call_args`.
fn host_call<T>(store: &mut Store<T>) -> Result<()> {
    let payload = store.inner.exec.payload as usize;
    let args_addr = store.inner.exec.call_args;
    let (index, ty) = match store
        .inner
        .func_from_raw(payload)
        .and_then(|f| store.inner.func_data(f).ok())
    {
        Some(data) => match data.kind {
            FuncKind::Host { index, .. } => (index, data.ty.clone()),
            FuncKind::Wasm => return Err(Error::runtime("host call of a wasm function")),
        },
        None => return Err(Error::runtime("host call of an unknown function")),
    };
    let instance = store.inner.exiting_instance();
    let nslots = slot_count(&ty);
    let mut slots = store
        .inner
        .read_stack(args_addr, nslots)
        .ok_or_else(|| Error::runtime("host call arguments outside the wasm stack"))?;
    let mut offsets = Vec::new();
    slot_offsets(ty.params(), &mut offsets);
    let params: Vec<Val> = ty
        .params()
        .iter()
        .zip(&offsets)
        .map(|(&t, &off)| {
            store
                .inner
                .raw_to_val(t, read_slot(&slots, off as usize, t))
        })
        .collect();
    let mut results = vec![Val::I32(0); ty.results().len()];
    call_host(store, index, instance, &ty, &params, &mut results)?;
    slot_offsets(ty.results(), &mut offsets);
    for ((r, &t), &off) in results.iter().zip(ty.results()).zip(&offsets) {
        let raw = store.inner.val_to_raw(r)?;
        write_slot(&mut slots, off as usize, t, raw);
    }
    store
        .inner
        .write_stack(args_addr, &slots)
        .ok_or_else(|| Error::runtime("host call results outside the wasm stack"))
}

/// Serves `ExitCode::Helper`: the area at `call_args` holds immediates
/// and operands, and receives the result in slot 0.
fn helper<T>(store: &mut Store<T>) -> Result<()> {
    let inner = &mut store.inner;
    let helper = inner.exec.payload as u32;
    let addr = inner.exec.call_args;
    let instance = inner
        .exiting_instance()
        .ok_or_else(|| Error::runtime("runtime helper from an unknown instance"))?;
    let n = crate::abi::Helper::from_u32(helper).map_or(2, super::helpers::slots_of);
    let mut area = inner
        .read_stack(addr, n)
        .ok_or_else(|| Error::runtime("runtime helper area outside the wasm stack"))?;
    inner.helper(instance, helper, &mut area)?;
    inner
        .write_stack(addr, &area[..1])
        .ok_or_else(|| Error::runtime("runtime helper area outside the wasm stack"))
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
    let id = store.inner.id;
    let result = match store.inner.grow_memory(id, memory, delta) {
        Ok(old) => old as u64,
        Err(_) => u32::MAX as u64,
    };
    store.inner.exec.payload = result;
    Ok(())
}

#[cfg(all(test, feature = "std"))]
mod tests {
    //! The exit loop through the real trampolines: a host function's
    //! `VmFuncRef` is entered like a wasm function (its code is the
    //! host-call stub), so every call below enters, exits with `HostCall`,
    //! is served and resumed, and returns.
    use super::*;
    use crate::asm::x64::{Assembler, Gpr, Mem};
    use crate::code_memory::{CodeMemory, PublishedCode};
    use crate::host::MmapCodeMemory;
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
        let memory: Arc<dyn CodeMemory> = Arc::new(MmapCodeMemory::new());
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
        let code = shim(funcref);
        let target = VmFuncRef {
            code: code.exec_ptr().as_ptr(),
            vmctx: &mut *store.inner.host_vmctx,
            type_id: 0,
            host_index: 0,
        };
        let mut slots = vec![0u64; nslots];
        slots[..args.len()].copy_from_slice(args);
        invoke(store, target, &mut slots)?;
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
