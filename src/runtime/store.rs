//! [`Store`]: everything instances own at run time, and [`Caller`], the
//! store as a host function sees it.
//!
//! The store keeps every object in a vector and hands out small `Copy`
//! handles (store id + index); nothing is freed before the store, so a
//! handle stays valid as long as its store lives. Objects that generated
//! code reaches through pointers (the execution context, each instance's
//! `VmContext`, its `VmFuncRef` array, global cells, `VmTable`s,
//! `VmMemory`s) are boxed,
//! so their addresses stay stable while the vectors grow.

use super::engine::Engine;
use super::externals::Extern;
use super::func::{Func, HostEntry};
use super::limits::ResourceLimiter;
use super::module::Module;
use super::values::{ExternRef, Val};
use crate::abi::{ExecContext, VmContext, VmFuncRef, VmMemory, VmTable};
use crate::decode::{FuncType, GlobalType, MemoryType, TableType};
use crate::error::{Error, Result};
use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::cell::{Cell, UnsafeCell};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use hashbrown::HashMap;

/// What a function of the store is.
pub(crate) enum FuncKind {
    /// A host function: index into `Store::host_funcs`. The box holds its
    /// `VmFuncRef` (code = the engine's host-call stub).
    Host {
        index: u32,
        _funcref: Box<VmFuncRef>,
    },
    /// A function defined by an instance (its `VmFuncRef` lives in the
    /// instance's array).
    Wasm,
}

pub(crate) struct FuncData {
    pub ty: alloc::sync::Arc<FuncType>,
    /// The function's canonical `VmFuncRef`: what a `funcref` to it is.
    pub funcref: *const VmFuncRef,
    pub kind: FuncKind,
}

pub(crate) struct MemoryData {
    pub ty: MemoryType,
    pub bytes: super::memory::LinearBytes,
    /// The memory's base and length as generated code reads them through
    /// `VmContext::memories`, rewritten whenever it grows.
    pub vm: Box<VmMemory>,
    /// Instances whose memory 0 this is (their `VmContext`s are updated when
    /// it grows).
    pub users: Vec<u32>,
}

pub(crate) struct TableData {
    pub ty: TableType,
    pub elements: Vec<usize>,
    pub vm: Box<VmTable>,
    /// Instances whose table 0 this is (their `VmContext::table0` copies
    /// are updated when it grows).
    pub users: Vec<u32>,
}

pub(crate) struct GlobalData {
    pub ty: GlobalType,
    pub cell: Box<UnsafeCell<u128>>,
}

pub(crate) struct InstanceData {
    /// Keeps the code and the type ids the context points to alive.
    pub _module: Module,
    pub vmctx: Box<VmContext>,
    pub funcrefs: Box<[VmFuncRef]>,
    /// What `vmctx.globals` points to.
    pub _global_ptrs: Box<[*mut u128]>,
    /// What `vmctx.tables` points to.
    pub _table_ptrs: Box<[*mut VmTable]>,
    /// What `vmctx.memories` points to.
    pub _memory_ptrs: Box<[*mut VmMemory]>,
    pub memories: Vec<u32>,
    pub tables: Vec<u32>,
    pub globals: Vec<u32>,
    /// The store's index of each of the instance's tags, imports first.
    pub tags: Vec<u32>,
    pub exports: Vec<(String, Extern)>,
    pub dropped_elems: Vec<bool>,
    pub dropped_data: Vec<bool>,
}

impl InstanceData {
    /// The export called `name`, found through the module's name index
    /// (the instance's exports are the module's, in the same order).
    pub(crate) fn export(&self, name: &str) -> Option<Extern> {
        let &i = self._module.inner.export_index.get(name)?;
        self.exports
            .get(i as usize)
            .filter(|(n, _)| n == name)
            .map(|(_, e)| *e)
    }
}

/// The part of a store that does not depend on the embedder's data type.
pub(crate) struct StoreInner {
    pub id: u64,
    pub engine: Engine,
    pub exec: Box<ExecContext>,
    /// The wasm stack, allocated by the first instantiation or call into
    /// wasm.
    pub stack: Option<Box<[u128]>>,
    /// Where outermost calls start: the top of `stack`, 16-byte aligned
    /// (0 until it is allocated).
    pub stack_top: usize,
    /// Bytes between `stack_top` and the stack limit (0 until the stack is
    /// allocated): the room an outermost call has.
    pub entry_room: usize,
    /// The engine's enter trampoline (the engine, which the store keeps,
    /// owns its code).
    pub enter: super::engine::EnterFn,
    /// The bottom of `stack` and its size in bytes (both 0 until it is
    /// allocated): the range a host call's exit frame and area are checked
    /// against.
    pub stack_base: usize,
    pub stack_size: usize,
    /// The store while its generated code runs, null otherwise: what the
    /// guard-region fault handler reads (see `exec::run_code`). Boxed, so
    /// that its address stays put when the store moves.
    pub running: Box<Cell<*const ()>>,
    /// The registration of `stack` with the guard-region fault handler
    /// (engines with guard regions only).
    pub fault_stack: Option<crate::platform::FaultStack>,
    /// The context of host functions' `VmFuncRef`s (only its `exec` is
    /// read, by the host-call stub).
    pub host_vmctx: Box<VmContext>,
    pub instances: Vec<InstanceData>,
    pub funcs: Vec<FuncData>,
    pub memories: Vec<MemoryData>,
    pub tables: Vec<TableData>,
    pub globals: Vec<GlobalData>,
    /// Every tag (exception handling).
    pub tags: Vec<super::tag::TagData>,
    /// The exception objects (see `exception`).
    pub exceptions: super::exception::Exceptions,
    pub externs: Vec<Box<dyn Any + Send + Sync>>,
    /// Address of every `VmFuncRef` of the store -> its function.
    pub funcref_map: HashMap<usize, u32>,
    /// Address of every instance's `VmContext` -> the instance.
    pub vmctx_map: HashMap<usize, u32>,
    /// How many calls into wasm are active (nested through host calls).
    pub depth: u32,
    /// The interrupt flag `exec.interrupt` points to, shared with the
    /// store's [`InterruptHandle`]s.
    pub interrupt: Arc<AtomicU32>,
    /// The call paused by running out of fuel or by an interrupt, if it can
    /// still be resumed (see [`super::exec`]).
    pub paused: Option<super::exec::Paused>,
    /// Source of the tokens that name paused calls.
    pub next_pause: u64,
    /// The engine type id of each host function, registered with the
    /// engine while the store lives (see `TypeRegistry`).
    pub host_types: Vec<u32>,
}

impl Drop for StoreInner {
    fn drop(&mut self) {
        // Unregistered before the stack and the `running` cell go.
        self.fault_stack = None;
        self.engine.release_types(&self.host_types);
    }
}

// SAFETY: the raw pointers in a store (contexts, function references, cells,
// tables, the stack) all point into memory the store itself owns, and are
// only used through `&mut Store`; moving the store to another thread moves
// that memory's ownership with it. Host functions and extern data are
// `Send + Sync`.
unsafe impl Send for StoreInner {}

pub(crate) fn new_vmctx(exec: *mut ExecContext) -> Box<VmContext> {
    Box::new(VmContext::empty(exec))
}

impl StoreInner {
    fn new(engine: &Engine) -> StoreInner {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let mut exec = Box::new(ExecContext {
            host_rsp: 0,
            wasm_rsp: 0,
            entry_rsp: 0,
            stack_limit: 0,
            exit_code: 0,
            trap_code: 0,
            payload: 0,
            call_args: 0,
            fuel: 0,
            interrupt: core::ptr::null(),
            tail_return: engine.inner.tail_return as usize,
        });
        let interrupt = Arc::new(AtomicU32::new(0));
        exec.interrupt = Arc::as_ptr(&interrupt);
        let exec_ptr: *mut ExecContext = &mut *exec;
        StoreInner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            engine: engine.clone(),
            exec,
            stack: None,
            stack_top: 0,
            entry_room: 0,
            enter: engine.inner.enter,
            stack_base: 0,
            stack_size: 0,
            running: Box::new(Cell::new(core::ptr::null())),
            fault_stack: None,
            host_vmctx: new_vmctx(exec_ptr),
            instances: Vec::new(),
            funcs: Vec::new(),
            memories: Vec::new(),
            tables: Vec::new(),
            globals: Vec::new(),
            tags: Vec::new(),
            exceptions: Default::default(),
            externs: Vec::new(),
            funcref_map: HashMap::new(),
            vmctx_map: HashMap::new(),
            depth: 0,
            interrupt,
            paused: None,
            next_pause: 0,
            host_types: Vec::new(),
        }
    }

    fn wrong_store() -> Error {
        Error::runtime("object used with a store it does not belong to")
    }

    #[inline]
    pub(crate) fn check(&self, store: u64) -> Result<()> {
        if store == self.id {
            Ok(())
        } else {
            Err(Self::wrong_store())
        }
    }

    #[inline]
    pub(crate) fn func_data(&self, f: Func) -> Result<&FuncData> {
        self.check(f.store)?;
        self.funcs
            .get(f.index as usize)
            .ok_or_else(Self::wrong_store)
    }

    pub(crate) fn memory_data(&self, store: u64, index: u32) -> Result<&MemoryData> {
        self.check(store)?;
        self.memories
            .get(index as usize)
            .ok_or_else(Self::wrong_store)
    }

    pub(crate) fn memory_data_mut(&mut self, store: u64, index: u32) -> Result<&mut MemoryData> {
        self.check(store)?;
        self.memories
            .get_mut(index as usize)
            .ok_or_else(Self::wrong_store)
    }

    pub(crate) fn table_data(&self, store: u64, index: u32) -> Result<&TableData> {
        self.check(store)?;
        self.tables
            .get(index as usize)
            .ok_or_else(Self::wrong_store)
    }

    pub(crate) fn table_data_mut(&mut self, store: u64, index: u32) -> Result<&mut TableData> {
        self.check(store)?;
        self.tables
            .get_mut(index as usize)
            .ok_or_else(Self::wrong_store)
    }

    pub(crate) fn global_data(&self, store: u64, index: u32) -> Result<&GlobalData> {
        self.check(store)?;
        self.globals
            .get(index as usize)
            .ok_or_else(Self::wrong_store)
    }

    pub(crate) fn instance_data(&self, store: u64, index: u32) -> Result<&InstanceData> {
        self.check(store)?;
        self.instances
            .get(index as usize)
            .ok_or_else(Self::wrong_store)
    }

    /// The function whose `VmFuncRef` is at `addr` (0 = null).
    pub(crate) fn func_from_raw(&self, addr: usize) -> Option<Func> {
        self.funcref_map.get(&addr).map(|&index| Func {
            store: self.id,
            index,
        })
    }

    /// Adds a function and returns its handle.
    pub(crate) fn push_func(&mut self, data: FuncData) -> Result<Func> {
        let index = u32::try_from(self.funcs.len())
            .map_err(|_| Error::runtime("too many functions in the store"))?;
        self.funcref_map.insert(data.funcref as usize, index);
        self.funcs.push(data);
        Ok(Func {
            store: self.id,
            index,
        })
    }
}

/// All run-time state: instances and the objects they use, the wasm stack,
/// host functions, and the embedder's data `T`.
pub struct Store<T> {
    pub(crate) inner: StoreInner,
    /// Host functions by `VmFuncRef::host_index`; only ever appended to.
    pub(crate) host_funcs: Vec<HostEntry<T>>,
    limiter: Option<LimiterFn<T>>,
    pub(crate) data: T,
}

/// What [`Store::limiter`] keeps: finds the limiter in the store's data.
type LimiterFn<T> = Box<dyn FnMut(&mut T) -> &mut (dyn ResourceLimiter) + Send + Sync>;

/// Stops a store's running wasm code from any thread (see
/// [`Store::interrupt_handle`]).
///
/// The flag it sets is shared atomic memory that generated code reads at
/// function entries and loop headers (modules of engines with
/// [`Config::interruptible`](super::Config::interruptible)). An interrupt
/// raised while no wasm runs stops the next call at its first check. The
/// runtime clears the flag when it reports the interruption.
#[derive(Clone, Debug)]
pub struct InterruptHandle {
    flag: Arc<AtomicU32>,
}

impl InterruptHandle {
    /// Asks the store's wasm code to stop at its next check.
    pub fn interrupt(&self) {
        self.flag.store(1, Ordering::Release);
    }

    /// Withdraws a pending interrupt that was not yet reported.
    pub fn clear(&self) {
        self.flag.store(0, Ordering::Release);
    }

    /// True when an interrupt is pending.
    pub fn is_pending(&self) -> bool {
        self.flag.load(Ordering::Acquire) != 0
    }
}

impl<T> core::fmt::Debug for Store<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Store")
            .field("id", &self.inner.id)
            .field("instances", &self.inner.instances.len())
            .finish()
    }
}

impl<T: 'static> Store<T> {
    /// A new, empty store of `engine` holding `data`. The wasm stack is
    /// allocated by the first instantiation (or call into wasm).
    pub fn new(engine: &Engine, data: T) -> Store<T> {
        Store {
            inner: StoreInner::new(engine),
            host_funcs: Vec::new(),
            limiter: None,
            data,
        }
    }
}

impl<T> Store<T> {
    /// The embedder's data.
    pub fn data(&self) -> &T {
        &self.data
    }

    /// The embedder's data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.data
    }

    /// Consumes the store and returns the embedder's data.
    pub fn into_data(self) -> T {
        self.data
    }

    /// The store's engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Limits the store's resources with the [`ResourceLimiter`] that
    /// `limiter` finds in the store's data (for example
    /// `store.limiter(|data| &mut data.limits)` with a
    /// [`StoreLimits`](super::StoreLimits) field). Applies to memories,
    /// tables and instances created and grown from now on.
    pub fn limiter(
        &mut self,
        limiter: impl FnMut(&mut T) -> &mut (dyn ResourceLimiter) + Send + Sync + 'static,
    ) {
        self.limiter = Some(Box::new(limiter));
    }

    /// The store's internals and its limiter, borrowed at once.
    pub(crate) fn inner_and_limiter(
        &mut self,
    ) -> (&mut StoreInner, Option<&mut dyn ResourceLimiter>) {
        let limiter = match &mut self.limiter {
            Some(f) => Some(f(&mut self.data)),
            None => None,
        };
        (&mut self.inner, limiter)
    }

    /// Sets the fuel the store's wasm code may consume (one unit per
    /// operator; see [`Config::consume_fuel`](super::Config::consume_fuel)).
    /// Values above `i64::MAX` are clamped to it. Fails when the engine does
    /// not meter fuel.
    pub fn set_fuel(&mut self, fuel: u64) -> Result<()> {
        self.fuel_enabled()?;
        self.inner.exec.fuel = i64::try_from(fuel).unwrap_or(i64::MAX);
        Ok(())
    }

    /// The fuel left (0 once it ran out). Fails when the engine does not
    /// meter fuel.
    pub fn get_fuel(&self) -> Result<u64> {
        self.fuel_enabled()?;
        Ok(u64::try_from(self.inner.exec.fuel).unwrap_or(0))
    }

    fn fuel_enabled(&self) -> Result<()> {
        if self.inner.engine.inner.options.fuel {
            Ok(())
        } else {
            Err(Error::runtime(
                "fuel is not enabled: use Config::consume_fuel(true)",
            ))
        }
    }

    /// A handle that interrupts this store's wasm code from any thread
    /// (effective for engines with
    /// [`Config::interruptible`](super::Config::interruptible)).
    ///
    /// ```
    /// use wasmkern::{Config, Engine, ErrorKind, Instance, Module, Store};
    ///
    /// let mut config = Config::new();
    /// config.interruptible(true);
    /// let engine = Engine::new(&config)?;
    /// let wasm = wat::parse_str(r#"(module (func (export "spin") (loop $l (br $l))))"#).unwrap();
    /// let module = Module::new(&engine, wasm)?;
    /// let mut store = Store::new(&engine, ());
    /// let spin = Instance::new(&mut store, &module, &[])?.get_typed_func::<(), ()>(&mut store, "spin")?;
    /// let handle = store.interrupt_handle();
    /// std::thread::spawn(move || {
    ///     std::thread::sleep(std::time::Duration::from_millis(20));
    ///     handle.interrupt();
    /// });
    /// let err = spin.call(&mut store, ()).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Interrupted);
    /// # Ok::<(), wasmkern::Error>(())
    /// ```
    pub fn interrupt_handle(&self) -> InterruptHandle {
        InterruptHandle {
            flag: self.inner.interrupt.clone(),
        }
    }
}

/// Something that gives access to a [`Store`]: the store itself, a
/// reference to it, or a [`Caller`].
pub trait AsContext {
    /// The embedder's data type.
    type Data: 'static;
    /// The store.
    fn as_context(&self) -> &Store<Self::Data>;
}

/// Something that gives mutable access to a [`Store`].
pub trait AsContextMut: AsContext {
    /// The store, mutably.
    fn as_context_mut(&mut self) -> StoreContextMut<'_, Self::Data>;
}

/// Mutable access to a store, as the API's functions take it.
///
/// Deliberately not a `&mut Store`: a host function gets one from its
/// [`Caller`] while its caller's wasm frames live on the store's wasm
/// stack, and with a `&mut Store` it could `mem::swap` or replace the
/// whole store (freeing that stack under the suspended frames). This
/// wrapper gives no way to reach the `Store` value itself:
///
/// ```compile_fail
/// use wasmkern::{AsContextMut, Caller, Store};
/// fn host(mut caller: Caller<'_, ()>, other: &mut Store<()>) {
///     // error: a `StoreContextMut` is not a `&mut Store`.
///     std::mem::swap(caller.as_context_mut(), other);
/// }
/// ```
pub struct StoreContextMut<'a, T>(pub(crate) &'a mut Store<T>);

impl<T> StoreContextMut<'_, T> {
    /// The embedder's data.
    pub fn data(&self) -> &T {
        self.0.data()
    }

    /// The embedder's data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        self.0.data_mut()
    }

    /// The store's engine.
    pub fn engine(&self) -> &Engine {
        self.0.engine()
    }
}

impl<'a, T> From<&'a mut Store<T>> for StoreContextMut<'a, T> {
    fn from(store: &'a mut Store<T>) -> Self {
        StoreContextMut(store)
    }
}

impl<'a, T> From<&'a mut Caller<'_, T>> for StoreContextMut<'a, T> {
    fn from(caller: &'a mut Caller<'_, T>) -> Self {
        StoreContextMut(caller.store)
    }
}

impl<'a, 'b, T> From<&'a mut StoreContextMut<'b, T>> for StoreContextMut<'a, T> {
    fn from(store: &'a mut StoreContextMut<'b, T>) -> Self {
        StoreContextMut(store.0)
    }
}

impl<T: 'static> AsContext for StoreContextMut<'_, T> {
    type Data = T;
    fn as_context(&self) -> &Store<T> {
        self.0
    }
}
impl<T: 'static> AsContextMut for StoreContextMut<'_, T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut(self.0)
    }
}

impl<T: 'static> AsContext for Store<T> {
    type Data = T;
    fn as_context(&self) -> &Store<T> {
        self
    }
}
impl<T: 'static> AsContextMut for Store<T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut(self)
    }
}
impl<S: AsContext + ?Sized> AsContext for &S {
    type Data = S::Data;
    fn as_context(&self) -> &Store<S::Data> {
        (**self).as_context()
    }
}
impl<S: AsContext + ?Sized> AsContext for &mut S {
    type Data = S::Data;
    fn as_context(&self) -> &Store<S::Data> {
        (**self).as_context()
    }
}
impl<S: AsContextMut + ?Sized> AsContextMut for &mut S {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, S::Data> {
        (**self).as_context_mut()
    }
}

/// The store as seen by a host function, with the instance that called it.
pub struct Caller<'a, T> {
    pub(crate) store: &'a mut Store<T>,
    /// Address of the calling code's `VmContext` (0 when the host called).
    /// It is only a key: [`Caller::instance`] resolves it when asked, so a
    /// host call that never needs its instance does not pay for the lookup.
    pub(crate) vmctx: usize,
}

impl<T> core::fmt::Debug for Caller<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Caller")
            .field("instance", &self.instance())
            .finish()
    }
}

impl<T> Caller<'_, T> {
    /// The calling instance (`None` when called from the host). The host
    /// context of host functions called directly is in no map, so it is
    /// `None` too.
    fn instance(&self) -> Option<u32> {
        self.store.inner.vmctx_map.get(&self.vmctx).copied()
    }

    /// The embedder's data.
    pub fn data(&self) -> &T {
        self.store.data()
    }

    /// The embedder's data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        self.store.data_mut()
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        self.store.engine()
    }

    /// The store's remaining fuel ([`Store::get_fuel`]).
    pub fn get_fuel(&self) -> Result<u64> {
        self.store.get_fuel()
    }

    /// Sets the store's fuel ([`Store::set_fuel`]).
    pub fn set_fuel(&mut self, fuel: u64) -> Result<()> {
        self.store.set_fuel(fuel)
    }

    /// An export of the calling instance (`None` when called from the host
    /// or when there is no such export).
    pub fn get_export(&mut self, name: &str) -> Option<Extern> {
        let instance = self.store.inner.instances.get(self.instance()? as usize)?;
        instance.export(name)
    }
}

impl<T: 'static> AsContext for Caller<'_, T> {
    type Data = T;
    fn as_context(&self) -> &Store<T> {
        self.store
    }
}
impl<T: 'static> AsContextMut for Caller<'_, T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut(self.store)
    }
}

impl ExternRef {
    /// Keeps `value` in the store and returns a reference to it.
    pub fn new(mut store: impl AsContextMut, value: impl Any + Send + Sync) -> Result<ExternRef> {
        let inner = &mut store.as_context_mut().0.inner;
        let index = u32::try_from(inner.externs.len())
            .ok()
            .filter(|&i| i < u32::MAX)
            .ok_or_else(|| Error::runtime("too many externrefs in the store"))?;
        inner.externs.push(Box::new(value));
        Ok(ExternRef {
            store: inner.id,
            index,
        })
    }

    /// The value this reference names (`None` for another store's
    /// reference).
    pub fn data<'a, S: AsContext>(&self, store: &'a S) -> Option<&'a (dyn Any + Send + Sync)> {
        let inner = &store.as_context().inner;
        if inner.id != self.store {
            return None;
        }
        inner.externs.get(self.index as usize).map(|b| &**b)
    }
}

/// Reads a value of type `ty` from a `Val`, checking type and store.
pub(crate) fn check_val(inner: &StoreInner, val: &Val, ty: crate::decode::ValType) -> Result<u128> {
    if !val.matches(ty) {
        return Err(Error::runtime("type mismatch")
            .with_detail(format_args!("expected {ty}, found {}", val.ty())));
    }
    inner.val_to_raw(val)
}
