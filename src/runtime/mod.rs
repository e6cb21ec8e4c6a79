//! The runtime: [`Engine`], [`Module`], [`Store`], [`Linker`], [`Instance`],
//! [`Func`], [`Memory`], [`Table`], [`Global`], and the exit loop that runs
//! compiled code. The API has Wasmtime's shape.
//!
//! # Decisions
//! - **Handles.** Stores own every object; [`Func`], [`Memory`], [`Table`],
//!   [`Global`], [`Instance`] and [`ExternRef`] are `Copy` handles (store id +
//!   index). Using a handle with another store is an error (or, for
//!   accessors without a `Result`, an empty/zero answer), never a panic.
//! - **Stable addresses.** What generated code reaches through pointers is
//!   boxed: the `ExecContext`, each instance's `VmContext`, its `VmFuncRef`
//!   array (imports first), global cells (16 bytes, see [`Val`] for the
//!   layout), `VmTable`s, `VmMemory`s.
//! - **Memories** are `Vec<u8>`s of exactly their size (at most 65536 pages);
//!   growth may move them, and every `VmContext` using the memory is then
//!   updated. **Tables** hold at most [`MAX_TABLE_ELEMENTS`] elements.
//! - **Calls** go through the enter trampoline on the store's own wasm
//!   stack; see [`exec`] for the stack layout of nested host → wasm calls
//!   and the exit loop. Traps are errors whose [`Error::trap`] is set; a
//!   host function's error becomes the error of the wasm call.
//! - `ExitCode::Helper` exits (bulk memory and table operations) are served
//!   by the runtime (`helpers`).
//! - **Exceptions** ([`Tag`], [`ExnRef`], [`ThrownException`]): `throw`
//!   exits are served by `exception`, which owns the exception objects
//!   (handles checked on every use, reclaimed when provably dead, bounded)
//!   and unwinds the wasm stack to the handler the compiler's tables name.
//! - **Untrusted guests.** [`limits`] bounds memories, tables and instances
//!   ([`ResourceLimiter`], [`StoreLimits`]); [`Config::max_wasm_stack`]
//!   bounds recursion (trap "call stack exhausted");
//!   [`Config::max_module_code_size`] bounds compiled code. Fuel
//!   ([`Config::consume_fuel`], [`Store::set_fuel`]) and interruption
//!   ([`Config::interruptible`], [`Store::interrupt_handle`]) stop a running
//!   guest at its next function entry or loop header: [`Func::call`] then
//!   fails with [`ErrorKind::OutOfFuel`] / [`ErrorKind::Interrupted`], while
//!   [`Func::call_resumable`] pauses and returns a [`ResumableCall`] that
//!   continues the same call (see [`exec`]).
//!
//! [`ErrorKind::OutOfFuel`]: crate::ErrorKind::OutOfFuel
//! [`ErrorKind::Interrupted`]: crate::ErrorKind::Interrupted
//!
//! [`Error::trap`]: crate::Error::trap

#[cfg(all(feature = "std", feature = "compiler"))]
mod cache;
mod engine;
mod engine_stubs;
mod exception;
pub mod exec;
mod externals;
mod func;
mod global;
mod helpers;
mod instance;
pub mod limits;
mod linker;
mod memory;
mod module;
#[cfg(feature = "std")]
mod profiling;
pub mod serialize;
pub(crate) mod store;
mod table;
mod tag;
mod values;

pub use crate::abi::TrapCode as Trap;
pub use crate::decode::{
    FuncType, GlobalType, HeapType, Limits, MemoryType, RefType, TableType, ValType,
};
pub use engine::{
    Config, DEFAULT_MAX_MODULE_CODE_SIZE, DEFAULT_MAX_WASM_STACK, Engine, MIN_MAX_WASM_STACK,
};
pub use exception::{ExnRef, MAX_LIVE_EXCEPTIONS, ThrownException};
pub use exec::{CallOutcome, PauseReason, ResumableCall};
pub use externals::Extern;
pub use func::{Func, HostFunc, IntoFunc, TypedFunc, WasmParams, WasmResults, WasmRet, WasmTy};
pub use global::Global;
pub use instance::Instance;
pub use limits::{
    DEFAULT_INSTANCE_LIMIT, DEFAULT_MEMORY_LIMIT, DEFAULT_TABLE_LIMIT, ResourceLimiter,
    StoreLimits, StoreLimitsBuilder,
};
pub use linker::Linker;
pub use memory::{Memory, PAGE_SIZE};
pub use module::{ExportType, ExternType, ImportType, Module};
#[cfg(feature = "std")]
pub use profiling::ProfilingStrategy;
pub use store::{AsContext, AsContextMut, Caller, InterruptHandle, Store, StoreContextMut};
pub use table::{MAX_TABLE_ELEMENTS, Table};
pub use tag::{Tag, TagType};
pub use values::{ExternRef, Val};
