//! The runtime API the execution runner is written against.
//!
//! Until wasmkern's runtime lands, this module is a stand-in with the
//! public API's shape (Wasmtime's): every type and signature the runner
//! uses, and bodies that refuse to compile modules, so the runner builds,
//! runs and reports "runtime not available" for every execution check.
//! When the runtime lands this file becomes `pub use wasmkern::{...}` plus
//! the few adapters below ([`extern_ref`], [`extern_ref_id`]) that paper
//! over the API's details; nothing else in the runner should change.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;

/// Why a runtime call failed.
#[derive(Debug)]
pub struct Error {
    message: String,
    trap: Option<Trap>,
}

impl Error {
    fn missing() -> Self {
        Error {
            message: "the wasmkern runtime API has not landed yet".into(),
            trap: None,
        }
    }

    /// The trap, if execution trapped.
    pub fn trap(&self) -> Option<Trap> {
        self.trap.clone()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A trap; its `Display` is the specification's message.
#[derive(Clone, Debug)]
pub struct Trap(String);

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Default)]
pub struct Engine(());

pub struct Module;

impl Module {
    pub fn new(_engine: &Engine, _bytes: impl AsRef<[u8]>) -> Result<Module, Error> {
        Err(Error::missing())
    }
}

pub struct Store<T> {
    _data: T,
    externs: Vec<Box<dyn Any + Send + Sync>>,
}

impl<T> Store<T> {
    pub fn new(_engine: &Engine, data: T) -> Self {
        Store {
            _data: data,
            externs: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValType {
    I32,
    I64,
    F32,
    F64,
    V128,
    FuncRef,
    ExternRef,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefType {
    FuncRef,
    ExternRef,
}

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub min: u32,
    pub max: Option<u32>,
}

#[derive(Clone, Copy, Debug)]
pub struct GlobalType {
    pub content: ValType,
    pub mutable: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct MemoryType {
    pub limits: Limits,
}

#[derive(Clone, Copy, Debug)]
pub struct TableType {
    pub elem: RefType,
    pub limits: Limits,
}

#[derive(Clone, Debug)]
pub struct FuncType {
    params: Vec<ValType>,
    results: Vec<ValType>,
}

impl FuncType {
    pub fn params(&self) -> &[ValType] {
        &self.params
    }
    pub fn results(&self) -> &[ValType] {
        &self.results
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Func(());

impl Func {
    pub fn call<T>(
        &self,
        _store: &mut Store<T>,
        _params: &[Val],
        _results: &mut [Val],
    ) -> Result<(), Error> {
        Err(Error::missing())
    }

    pub fn ty<T>(&self, _store: &Store<T>) -> FuncType {
        FuncType {
            params: Vec::new(),
            results: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Global(());

impl Global {
    pub fn new<T>(_store: &mut Store<T>, _ty: GlobalType, _val: Val) -> Result<Global, Error> {
        Ok(Global(()))
    }

    pub fn get<T>(&self, _store: &Store<T>) -> Val {
        Val::I32(0)
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Memory(());

impl Memory {
    pub fn new<T>(_store: &mut Store<T>, _ty: MemoryType) -> Result<Memory, Error> {
        Ok(Memory(()))
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Table(());

impl Table {
    pub fn new<T>(_store: &mut Store<T>, _ty: TableType, _init: Val) -> Result<Table, Error> {
        Ok(Table(()))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExternRef(usize);

impl ExternRef {
    pub fn new<T>(store: &mut Store<T>, value: impl Any + Send + Sync) -> Result<ExternRef, Error> {
        store.externs.push(Box::new(value));
        Ok(ExternRef(store.externs.len() - 1))
    }

    pub fn data<'a, T>(&self, store: &'a Store<T>) -> Option<&'a (dyn Any + Send + Sync)> {
        store.externs.get(self.0).map(|b| &**b)
    }
}

#[derive(Clone, Debug)]
pub enum Val {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    V128(u128),
    FuncRef(Option<Func>),
    ExternRef(Option<ExternRef>),
}

#[derive(Clone, Debug)]
pub enum Extern {
    Func(Func),
    Global(Global),
    Table(Table),
    Memory(Memory),
}

impl From<Func> for Extern {
    fn from(f: Func) -> Self {
        Extern::Func(f)
    }
}
impl From<Global> for Extern {
    fn from(g: Global) -> Self {
        Extern::Global(g)
    }
}
impl From<Table> for Extern {
    fn from(t: Table) -> Self {
        Extern::Table(t)
    }
}
impl From<Memory> for Extern {
    fn from(m: Memory) -> Self {
        Extern::Memory(m)
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Instance(());

impl Instance {
    pub fn get_func<T>(&self, _store: &mut Store<T>, _name: &str) -> Option<Func> {
        None
    }
    pub fn get_global<T>(&self, _store: &mut Store<T>, _name: &str) -> Option<Global> {
        None
    }
}

/// Host functions `Linker::func_wrap` accepts (a few arities suffice here).
pub trait IntoFunc<Params> {}
impl<F: Fn()> IntoFunc<()> for F {}
impl<F: Fn(A), A> IntoFunc<(A,)> for F {}
impl<F: Fn(A, B), A, B> IntoFunc<(A, B)> for F {}

pub struct Linker<T> {
    _store: PhantomData<T>,
}

impl<T> Linker<T> {
    pub fn new(_engine: &Engine) -> Self {
        Linker {
            _store: PhantomData,
        }
    }

    pub fn define(
        &mut self,
        _store: &Store<T>,
        _module: &str,
        _name: &str,
        _item: impl Into<Extern>,
    ) -> Result<&mut Self, Error> {
        Ok(self)
    }

    pub fn func_wrap<P>(
        &mut self,
        _module: &str,
        _name: &str,
        _func: impl IntoFunc<P>,
    ) -> Result<&mut Self, Error> {
        Ok(self)
    }

    pub fn instance(
        &mut self,
        _store: &mut Store<T>,
        _name: &str,
        _instance: Instance,
    ) -> Result<&mut Self, Error> {
        Ok(self)
    }

    pub fn instantiate(&self, _store: &mut Store<T>, _module: &Module) -> Result<Instance, Error> {
        Err(Error::missing())
    }
}

/// A new externref holding `n` (`ref.extern n` in the testsuite).
pub fn extern_ref(store: &mut Store<()>, n: u32) -> Result<ExternRef, String> {
    ExternRef::new(store, n).map_err(|e| e.to_string())
}

/// The number an externref made by [`extern_ref`] holds.
pub fn extern_ref_id(store: &Store<()>, r: &ExternRef) -> Option<u32> {
    r.data(store)?.downcast_ref::<u32>().copied()
}
