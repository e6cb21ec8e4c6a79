//! [`Func`]: wasm and host functions; [`TypedFunc`] and the traits that map
//! Rust types to wasm types ([`WasmTy`], [`WasmParams`], [`WasmResults`],
//! [`WasmRet`], [`IntoFunc`]).

use super::exec::{self, CallOutcome};
use super::store::{AsContext, AsContextMut, Caller, FuncData, FuncKind, StoreInner};
use super::values::Val;
use crate::abi::VmFuncRef;
use crate::decode::{FuncType, ValType};
use crate::error::{Error, Result};
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::marker::PhantomData;

/// A host function's code, as [`IntoFunc`] makes it and a store keeps it.
///
/// It receives the call's argument/result area as raw 8-byte slots (laid
/// out as for calls between wasm functions) and leaves the results there. Closures of
/// [`Func::wrap`] read their typed arguments from the slots and write their
/// typed results back, so a call from wasm converts and checks nothing;
/// closures over [`Val`]s ([`Func::new`]) are wrapped to convert, and their
/// results are checked against the function type.
pub struct HostFunc<T>(pub(crate) Arc<SlotsFn<T>>);

/// The code of every host function: a closure over the call slots.
pub(crate) type SlotsFn<T> = dyn Fn(Caller<'_, T>, &mut [u64]) -> Result<()> + Send + Sync;

/// A host function over values, as [`Func::new`] takes it.
type ValsFn<T> = dyn Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()>;

impl<T> Clone for HostFunc<T> {
    fn clone(&self) -> Self {
        HostFunc(self.0.clone())
    }
}

impl<T> core::fmt::Debug for HostFunc<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("HostFunc")
    }
}

impl<T: 'static> HostFunc<T> {
    /// A host function of type `ty` over values ([`Func::new`]).
    pub(crate) fn from_vals(
        ty: FuncType,
        f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    ) -> HostFunc<T> {
        HostFunc(Arc::new(move |caller: Caller<'_, T>, slots: &mut [u64]| {
            call_with_vals(&ty, &f, caller, slots)
        }))
    }
}

/// Runs a host function over values: reads its arguments from `slots`,
/// runs it, checks its results against `ty` and writes them to `slots`.
fn call_with_vals<T>(
    ty: &FuncType,
    f: &ValsFn<T>,
    caller: Caller<'_, T>,
    slots: &mut [u64],
) -> Result<()> {
    // Small calls (the common case) use buffers on the host stack.
    const SMALL: usize = 8;
    let (np, nr) = (ty.params().len(), ty.results().len());
    let mut param_buf = [Val::I32(0); SMALL];
    let mut result_buf = [Val::I32(0); SMALL];
    let mut param_vec = Vec::new();
    let mut result_vec = Vec::new();
    let params: &mut [Val] = if np <= SMALL {
        &mut param_buf[..np]
    } else {
        param_vec.resize(np, Val::I32(0));
        &mut param_vec
    };
    let results: &mut [Val] = if nr <= SMALL {
        &mut result_buf[..nr]
    } else {
        result_vec.resize(nr, Val::I32(0));
        &mut result_vec
    };
    let store = caller.store;
    let mut off = 0usize;
    for (p, &t) in params.iter_mut().zip(ty.params()) {
        *p = store.inner.raw_to_val(t, exec::read_slot(slots, off, t));
        off += crate::abi::slot_size(t) as usize;
    }
    for (r, &t) in results.iter_mut().zip(ty.results()) {
        *r = Val::default_for(t);
    }
    f(
        Caller {
            store: &mut *store,
            vmctx: caller.vmctx,
        },
        params,
        results,
    )?;
    let mut off = 0usize;
    for (r, &t) in results.iter().zip(ty.results()) {
        let raw = super::store::check_val(&store.inner, r, t)
            .map_err(|e| e.context("host function returned a wrong result"))?;
        exec::write_slot(slots, off, t, raw);
        off += crate::abi::slot_size(t) as usize;
    }
    Ok(())
}

/// A host function of a store (`Store::host_funcs`, indexed by
/// `VmFuncRef::host_index`) with what serving a call to it needs, computed
/// once when it is created so that the exit loop derives nothing per call.
pub(crate) struct HostEntry<T> {
    /// Owns the closure `code` points to (never read: it keeps it alive).
    _func: HostFunc<T>,
    /// The closure inside `func`'s `Arc`, as a plain wide pointer: calling
    /// through it finds the closure without working out where an `Arc`
    /// places a value of the closure's alignment.
    code: *const SlotsFn<T>,
    pub ty: Arc<FuncType>,
    /// 8-byte slots of its argument/result area (see [`crate::abi`]).
    pub nslots: usize,
    /// Bytes from `wasm_rsp` to the end of the area when wasm calls it
    /// (the host-call stub's exit frame and the area).
    pub exit_bytes: usize,
}

// SAFETY: `code` points into the `Arc` that `func` owns (so it is valid as
// long as the entry), and the closure is `Send + Sync`; the entry holds
// nothing else that is tied to a thread.
unsafe impl<T> Send for HostEntry<T> {}
// SAFETY: as for `Send`: shared entries only ever read the closure (`Fn`).
unsafe impl<T> Sync for HostEntry<T> {}

impl<T> HostEntry<T> {
    /// An entry for `func` of type `ty`.
    pub(crate) fn new(func: HostFunc<T>, ty: Arc<FuncType>) -> HostEntry<T> {
        let code = Arc::as_ptr(&func.0);
        let nslots = exec::slot_count(&ty);
        HostEntry {
            nslots,
            exit_bytes: nslots
                .saturating_mul(8)
                .saturating_add(crate::abi::HOST_CALL_AREA),
            _func: func,
            code,
            ty,
        }
    }

    /// The closure, valid as long as the entry (it lives in the entry's
    /// `Arc`, which `Store::host_funcs` never drops or replaces while the
    /// store lives: it is only ever appended to).
    #[inline]
    pub(crate) fn code(&self) -> *const SlotsFn<T> {
        self.code
    }
}

/// A function of a store (defined by an instance or by the host).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Func {
    pub(crate) store: u64,
    pub(crate) index: u32,
}

impl Func {
    /// A host function of type `ty` that runs `f`.
    ///
    /// `f` receives the arguments and writes the results; the runtime checks
    /// the results' types.
    pub fn new<T: 'static>(
        mut store: impl AsContextMut<Data = T>,
        ty: FuncType,
        f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    ) -> Func {
        store
            .as_context_mut()
            .0
            .push_host_func(ty.clone(), HostFunc::from_vals(ty, f))
    }

    /// A host function from a Rust closure whose parameters and results are
    /// wasm scalars (`i32`, `u32`, `i64`, `u64`, `f32`, `f64`), optionally
    /// taking a [`Caller`] first, and returning `()`, a value, a tuple, or a
    /// `Result` of those.
    ///
    /// ```
    /// use wasmkern::{Engine, Func, Store};
    ///
    /// let engine = Engine::default();
    /// let mut store = Store::new(&engine, ());
    /// let divmod = Func::wrap(&mut store, |a: i32, b: i32| (a / b, a % b));
    /// let typed = divmod.typed::<(i32, i32), (i32, i32)>(&store)?;
    /// assert_eq!(typed.call(&mut store, (17, 5))?, (3, 2));
    /// # Ok::<(), wasmkern::Error>(())
    /// ```
    pub fn wrap<T: 'static, Params, Results>(
        mut store: impl AsContextMut<Data = T>,
        f: impl IntoFunc<T, Params, Results>,
    ) -> Func {
        let (ty, f) = f.into_host_func();
        store.as_context_mut().0.push_host_func(ty, f)
    }

    /// The function's type (`[] -> []` for another store's function).
    pub fn ty(&self, store: impl AsContext) -> FuncType {
        match store.as_context().inner.func_data(*self) {
            Ok(f) => (*f.ty).clone(),
            Err(_) => FuncType::new(&[], &[]),
        }
    }

    /// Calls the function: checks the arguments against its type, runs it
    /// and writes `results` (whose length must be the number of results).
    pub fn call(
        &self,
        mut store: impl AsContextMut,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<()> {
        exec::call(store.as_context_mut().0, *self, params, results)
    }

    /// Calls the function like [`Func::call`], but when the store's fuel
    /// runs out or the guest is interrupted the call pauses instead of
    /// failing: the outcome is then [`CallOutcome::Paused`] with a
    /// [`ResumableCall`](super::ResumableCall) that continues it.
    ///
    /// ```
    /// use wasmkern::{CallOutcome, Config, Engine, Instance, Module, Store, Val};
    ///
    /// let mut config = Config::new();
    /// config.consume_fuel(true);
    /// let engine = Engine::new(&config)?;
    /// // Sums 1..=n in a loop.
    /// let wasm = wat::parse_str(r#"(module (func (export "sum") (param $n i64) (result i64)
    ///     (local $s i64)
    ///     (loop $l
    ///       (local.set $s (i64.add (local.get $s) (local.get $n)))
    ///       (br_if $l (i64.ne (local.tee $n (i64.sub (local.get $n) (i64.const 1))) (i64.const 0))))
    ///     (local.get $s)))"#).unwrap();
    /// let module = Module::new(&engine, wasm)?;
    /// let mut store = Store::new(&engine, ());
    /// let sum = Instance::new(&mut store, &module, &[])?.get_func(&mut store, "sum").unwrap();
    /// store.set_fuel(1_000)?;
    /// let mut results = [Val::I64(0)];
    /// let mut outcome = sum.call_resumable(&mut store, &[Val::I64(10_000)], &mut results)?;
    /// let mut pauses = 0;
    /// while let CallOutcome::Paused(call) = outcome {
    ///     pauses += 1;
    ///     store.set_fuel(1_000)?; // top up and continue where it stopped
    ///     outcome = call.resume(&mut store, &mut results)?;
    /// }
    /// assert!(pauses > 10);
    /// assert_eq!(results[0].unwrap_i64(), 50_005_000);
    /// # Ok::<(), wasmkern::Error>(())
    /// ```
    pub fn call_resumable(
        &self,
        mut store: impl AsContextMut,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<CallOutcome> {
        exec::call_resumable(store.as_context_mut().0, *self, params, results)
    }

    /// A typed view of the function; fails when the types differ.
    pub fn typed<Params: WasmParams, Results: WasmResults>(
        &self,
        store: impl AsContext,
    ) -> Result<TypedFunc<Params, Results>> {
        let data = store.as_context().inner.func_data(*self)?;
        let ty = data.ty.clone();
        let target = match data.kind {
            // SAFETY: `funcref` belongs to a function of this store, so it
            // points at a live `VmFuncRef` the store owns.
            FuncKind::Wasm => Some(unsafe { *data.funcref }),
            FuncKind::Host { .. } => None,
        };
        let expected = FuncType::new(&Params::types(), &Results::types());
        if *ty != expected {
            return Err(Error::runtime("type mismatch").with_detail(format_args!(
                "expected function of type {expected}, found {ty}"
            )));
        }
        Ok(TypedFunc {
            func: *self,
            target,
            _marker: PhantomData,
        })
    }
}

impl<T> super::store::Store<T> {
    pub(crate) fn push_host_func(&mut self, ty: FuncType, f: HostFunc<T>) -> Func {
        let inner = &mut self.inner;
        let type_id = inner.engine.register_type(&ty);
        inner.host_types.push(type_id);
        let host_index = self.host_funcs.len() as u32;
        let funcref = Box::new(VmFuncRef {
            code: inner.engine.inner.host_call,
            vmctx: &mut *inner.host_vmctx,
            type_id,
            host_index,
        });
        let ptr: *const VmFuncRef = &*funcref;
        let ty = Arc::new(ty);
        self.host_funcs.push(HostEntry::new(f, ty.clone()));
        push_func_infallible(
            inner,
            FuncData {
                ty,
                funcref: ptr,
                kind: FuncKind::Host {
                    index: host_index,
                    _funcref: funcref,
                },
            },
        )
    }
}

fn push_func_infallible(inner: &mut StoreInner, data: FuncData) -> Func {
    // More than 2^32 functions cannot be allocated; index wraps harmlessly
    // into an invalid handle if it ever did.
    let index = inner.funcs.len() as u32;
    inner.funcref_map.insert(data.funcref as usize, index);
    inner.funcs.push(data);
    Func {
        store: inner.id,
        index,
    }
}

/// A function with statically known parameter and result types.
pub struct TypedFunc<Params, Results> {
    func: Func,
    /// A wasm function's `VmFuncRef` (`None` for a host function), read
    /// once: a call checks only that it is given the function's store,
    /// whose functions never change or go while it lives.
    target: Option<VmFuncRef>,
    _marker: PhantomData<fn(Params) -> Results>,
}

// SAFETY: the only non-`Send`/`Sync` part is `target`, plain addresses of
// code and a context that only the enter trampoline uses, and only once a
// call has checked that it was given the store owning them (through which
// alone they are reached, under `&mut Store`).
unsafe impl<P, R> Send for TypedFunc<P, R> {}
// SAFETY: as for `Send`: a shared `TypedFunc` is only read.
unsafe impl<P, R> Sync for TypedFunc<P, R> {}

impl<P, R> Clone for TypedFunc<P, R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<P, R> Copy for TypedFunc<P, R> {}
impl<P, R> core::fmt::Debug for TypedFunc<P, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("TypedFunc").field(&self.func).finish()
    }
}

impl<Params: WasmParams, Results: WasmResults> TypedFunc<Params, Results> {
    /// Calls the function.
    pub fn call(&self, mut store: impl AsContextMut, params: Params) -> Result<Results> {
        let store = store.as_context_mut().0;
        // Fast path: scalars straight into call slots on the stack, no
        // conversion and no allocation (the types were checked when this
        // `TypedFunc` was made); wasm and host functions both run on slots.
        // (`n` is a constant: one branch remains, zeroing a small buffer.)
        let n = Params::COUNT.max(Results::COUNT);
        if n == 0 {
            exec::call_slots(store, self.func, self.target, &mut [])?;
            return Ok(Results::read_slots(&[]));
        }
        if n <= 4 {
            let mut slots = [0u64; 4];
            params.write_slots(&mut slots);
            exec::call_slots(store, self.func, self.target, &mut slots[..n])?;
            return Ok(Results::read_slots(&slots));
        }
        if n <= 16 {
            let mut slots = [0u64; 16];
            params.write_slots(&mut slots);
            exec::call_slots(store, self.func, self.target, &mut slots[..n])?;
            return Ok(Results::read_slots(&slots));
        }
        let mut results = vec![Val::I32(0); Results::COUNT];
        exec::call(store, self.func, &params.into_vals(), &mut results)?;
        Results::from_vals(&results)
            .ok_or_else(|| Error::runtime("function returned values of the wrong type"))
    }

    /// The untyped function.
    pub fn func(&self) -> &Func {
        &self.func
    }
}

/// The value of scalar type `ty` held in a call slot.
fn slot_val(ty: ValType, slot: u64) -> Val {
    match ty {
        ValType::I32 => Val::I32(slot as u32 as i32),
        ValType::I64 => Val::I64(slot as i64),
        ValType::F32 => Val::F32(slot as u32),
        _ => Val::F64(slot),
    }
}

/// A Rust type that is a wasm value type.
pub trait WasmTy: Copy + Send + Sync + 'static {
    /// Its wasm type.
    fn valtype() -> ValType;
    /// Its bits in an 8-byte call slot.
    fn to_slot(self) -> u64 {
        val_slot(self.into_val()).unwrap_or(0)
    }
    /// From its bits in an 8-byte call slot.
    fn from_slot(slot: u64) -> Self {
        // `valtype` and `from_val` agree for every implementation here.
        Self::from_val(slot_val(Self::valtype(), slot)).expect("a WasmTy reads back its own type")
    }
    /// Into a [`Val`].
    fn into_val(self) -> Val;
    /// From a [`Val`] of the right type.
    fn from_val(val: Val) -> Option<Self>;
}

/// The bits of a scalar value in an 8-byte call slot (`None` for `v128`
/// and references, which scalar slots cannot hold).
fn val_slot(val: Val) -> Option<u64> {
    match val {
        Val::I32(x) => Some(u64::from(x as u32)),
        Val::I64(x) => Some(x as u64),
        Val::F32(b) => Some(u64::from(b)),
        Val::F64(b) => Some(b),
        _ => None,
    }
}

macro_rules! wasm_ty {
    ($($t:ty => $v:ident, $into:expr, $from:expr, $to_slot:expr, $from_slot:expr;)*) => {$(
        impl WasmTy for $t {
            fn valtype() -> ValType {
                ValType::$v
            }
            fn to_slot(self) -> u64 {
                let f: fn($t) -> u64 = $to_slot;
                f(self)
            }
            fn from_slot(slot: u64) -> Self {
                let f: fn(u64) -> $t = $from_slot;
                f(slot)
            }
            fn into_val(self) -> Val {
                let f: fn($t) -> Val = $into;
                f(self)
            }
            fn from_val(val: Val) -> Option<Self> {
                match val {
                    Val::$v(x) => {
                        let f: fn(_) -> $t = $from;
                        Some(f(x))
                    }
                    _ => None,
                }
            }
        }
    )*};
}

// Slots hold 32-bit values in their low half; the high half is ignored on
// reading and zero on writing.
wasm_ty! {
    i32 => I32, Val::I32, |x: i32| x, |x| u64::from(x as u32), |s| s as u32 as i32;
    u32 => I32, |x| Val::I32(x as i32), |x: i32| x as u32, u64::from, |s| s as u32;
    i64 => I64, Val::I64, |x: i64| x, |x| x as u64, |s| s as i64;
    u64 => I64, |x| Val::I64(x as i64), |x: i64| x as u64, |x| x, |s| s;
    f32 => F32, |x| Val::F32(x.to_bits()), f32::from_bits,
        |x| u64::from(x.to_bits()), |s| f32::from_bits(s as u32);
    f64 => F64, |x| Val::F64(x.to_bits()), f64::from_bits, f64::to_bits, f64::from_bits;
}

/// The parameters of a [`TypedFunc`]: a [`WasmTy`] or a tuple of them.
pub trait WasmParams: Sized {
    /// How many values.
    const COUNT: usize;
    /// The wasm types.
    fn types() -> Vec<ValType>;
    /// The values.
    fn into_vals(self) -> Vec<Val>;
    /// Writes the values into consecutive 8-byte call slots.
    fn write_slots(self, slots: &mut [u64]);
}

/// The results of a [`TypedFunc`] or a host function: `()`, a [`WasmTy`] or
/// a tuple of them.
pub trait WasmResults: Sized {
    /// How many values.
    const COUNT: usize;
    /// Reads the values from consecutive 8-byte call slots.
    fn read_slots(slots: &[u64]) -> Self;
    /// The wasm types.
    fn types() -> Vec<ValType>;
    /// Reads the values (`None` on a type mismatch).
    fn from_vals(vals: &[Val]) -> Option<Self>;
    /// Writes the values into `out` (of the length `types()` gives).
    fn write(self, out: &mut [Val]) -> Result<()>;
    /// Writes the values into consecutive 8-byte call slots (how host
    /// functions return them); fails when `slots` is too short.
    fn write_slots(self, slots: &mut [u64]) -> Result<()> {
        let mut vals = vec![Val::I32(0); Self::COUNT];
        self.write(&mut vals)?;
        if vals.len() > slots.len() {
            return Err(wrong_result_count());
        }
        for (s, &v) in slots.iter_mut().zip(&vals) {
            *s = val_slot(v).ok_or_else(|| Error::runtime("a result is not a scalar"))?;
        }
        Ok(())
    }
}

/// What a host closure may return: [`WasmResults`] or a `Result` of them.
pub trait WasmRet {
    /// The results.
    type Results: WasmResults;
    /// The results or the host's error.
    fn into_results(self) -> Result<Self::Results>;
}

impl<A: WasmTy> WasmParams for A {
    const COUNT: usize = 1;
    fn write_slots(self, slots: &mut [u64]) {
        slots[0] = self.to_slot();
    }
    fn types() -> Vec<ValType> {
        vec![A::valtype()]
    }
    fn into_vals(self) -> Vec<Val> {
        vec![self.into_val()]
    }
}

impl<A: WasmTy> WasmResults for A {
    const COUNT: usize = 1;
    fn read_slots(slots: &[u64]) -> Self {
        A::from_slot(slots[0])
    }
    fn types() -> Vec<ValType> {
        vec![A::valtype()]
    }
    fn from_vals(vals: &[Val]) -> Option<Self> {
        match vals {
            [v] => A::from_val(*v),
            _ => None,
        }
    }
    fn write(self, out: &mut [Val]) -> Result<()> {
        match out {
            [v] => {
                *v = self.into_val();
                Ok(())
            }
            _ => Err(wrong_result_count()),
        }
    }
    fn write_slots(self, slots: &mut [u64]) -> Result<()> {
        let s = slots.first_mut().ok_or_else(wrong_result_count)?;
        *s = self.to_slot();
        Ok(())
    }
}

impl<A: WasmTy> WasmRet for A {
    type Results = A;
    fn into_results(self) -> Result<A> {
        Ok(self)
    }
}

impl<R: WasmResults> WasmRet for Result<R> {
    type Results = R;
    fn into_results(self) -> Result<R> {
        self
    }
}

fn wrong_result_count() -> Error {
    Error::runtime("wrong number of results")
}

macro_rules! tuples {
    ($($a:ident)*) => {
        #[allow(non_snake_case)]
        impl<$($a: WasmTy),*> WasmParams for ($($a,)*) {
            const COUNT: usize = 0 $(+ { let _ = stringify!($a); 1 })*;
            #[allow(unused_variables, unused_mut, unused_assignments)]
            fn write_slots(self, slots: &mut [u64]) {
                let ($($a,)*) = self;
                let mut i = 0;
                $(slots[i] = $a.to_slot(); i += 1;)*
            }
            fn types() -> Vec<ValType> {
                vec![$($a::valtype()),*]
            }
            fn into_vals(self) -> Vec<Val> {
                let ($($a,)*) = self;
                vec![$($a.into_val()),*]
            }
        }

        #[allow(non_snake_case)]
        impl<$($a: WasmTy),*> WasmResults for ($($a,)*) {
            const COUNT: usize = 0 $(+ { let _ = stringify!($a); 1 })*;
            #[allow(unused_variables, unused_mut, unused_assignments, clippy::unused_unit)]
            fn read_slots(slots: &[u64]) -> Self {
                let mut i = 0;
                ($({ let v = $a::from_slot(slots[i]); i += 1; v },)*)
            }
            fn types() -> Vec<ValType> {
                vec![$($a::valtype()),*]
            }
            fn from_vals(vals: &[Val]) -> Option<Self> {
                let mut it = vals.iter().copied();
                let r = ($($a::from_val(it.next()?)?,)*);
                if it.next().is_some() {
                    return None;
                }
                Some(r)
            }
            fn write(self, out: &mut [Val]) -> Result<()> {
                let ($($a,)*) = self;
                let vals: &[Val] = &[$($a.into_val()),*];
                if vals.len() != out.len() {
                    return Err(wrong_result_count());
                }
                out.copy_from_slice(vals);
                Ok(())
            }
            #[allow(unused_variables, unused_mut)]
            fn write_slots(self, slots: &mut [u64]) -> Result<()> {
                let ($($a,)*) = self;
                let mut it = slots.iter_mut();
                $(*it.next().ok_or_else(wrong_result_count)? = $a.to_slot();)*
                Ok(())
            }
        }

        impl<$($a: WasmTy),*> WasmRet for ($($a,)*) {
            type Results = Self;
            fn into_results(self) -> Result<Self> {
                Ok(self)
            }
        }

        #[allow(non_snake_case)]
        impl<T: 'static, F, $($a: WasmTy,)* R: WasmRet> IntoFunc<T, ($($a,)*), R> for F
        where
            F: Fn($($a),*) -> R + Send + Sync + 'static,
        {
            fn into_host_func(self) -> (FuncType, HostFunc<T>) {
                let ty = FuncType::new(&[$($a::valtype()),*], &R::Results::types());
                let f = move |_caller: Caller<'_, T>, slots: &mut [u64]| -> Result<()> {
                    let mut _it = slots.iter().copied();
                    $(let $a = $a::from_slot(_it.next().ok_or_else(bad_arg)?);)*
                    (self)($($a),*).into_results()?.write_slots(slots)
                };
                (ty, HostFunc(Arc::new(f)))
            }
        }

        #[allow(non_snake_case)]
        impl<T: 'static, F, $($a: WasmTy,)* R: WasmRet> IntoFunc<T, (Caller<'static, T>, $($a,)*), R> for F
        where
            F: Fn(Caller<'_, T>, $($a),*) -> R + Send + Sync + 'static,
        {
            fn into_host_func(self) -> (FuncType, HostFunc<T>) {
                let ty = FuncType::new(&[$($a::valtype()),*], &R::Results::types());
                let f = move |caller: Caller<'_, T>, slots: &mut [u64]| -> Result<()> {
                    let mut _it = slots.iter().copied();
                    $(let $a = $a::from_slot(_it.next().ok_or_else(bad_arg)?);)*
                    (self)(caller, $($a),*).into_results()?.write_slots(slots)
                };
                (ty, HostFunc(Arc::new(f)))
            }
        }
    };
}

fn bad_arg() -> Error {
    Error::runtime("host function called with too few argument slots")
}

/// A Rust closure that can become a host function (see [`Func::wrap`]).
pub trait IntoFunc<T, Params, Results>: Send + Sync + 'static {
    /// The function type and the uniform host function.
    fn into_host_func(self) -> (FuncType, HostFunc<T>);
}

tuples!();
tuples!(A1);
tuples!(A1 A2);
tuples!(A1 A2 A3);
tuples!(A1 A2 A3 A4);
tuples!(A1 A2 A3 A4 A5);
tuples!(A1 A2 A3 A4 A5 A6);
tuples!(A1 A2 A3 A4 A5 A6 A7);
tuples!(A1 A2 A3 A4 A5 A6 A7 A8);
tuples!(A1 A2 A3 A4 A5 A6 A7 A8 A9);
tuples!(A1 A2 A3 A4 A5 A6 A7 A8 A9 A10);
