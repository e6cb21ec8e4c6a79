//! wasmkern: a WebAssembly runtime that compiles wasm to x86-64 machine code
//! in a single pass, as a `no_std` + `alloc` crate.
//!
//! The API has Wasmtime's shape:
//!
//! ```
//! use wasmkern::{Engine, Instance, Module, Store};
//!
//! let engine = Engine::default();
//! let wasm = wat::parse_str(r#"(module
//!     (func (export "add") (param i32 i32) (result i32)
//!         (i32.add (local.get 0) (local.get 1))))"#).unwrap();
//! let module = Module::new(&engine, wasm)?;
//! let mut store = Store::new(&engine, ());
//! let instance = Instance::new(&mut store, &module, &[])?;
//! let add = instance.get_typed_func::<(i32, i32), i32>(&mut store, "add")?;
//! assert_eq!(add.call(&mut store, (40, 2))?, 42);
//! # Ok::<(), wasmkern::Error>(())
//! ```
//!
//! The pipeline:
//!
//! ```text
//! bytes --decode--> module IR --validate--> validated module --compile--> machine code
//!                                                                    |
//!        host <--exit code-- generated code <--enter/resume-- runtime (store, instances)
//! ```
//!
//! Each stage is one module: [`decode`] owns the binary format,
//! [`validate`](mod@validate) the type checker, [`asm`] the x86-64
//! assembler, [`compile`] the single-pass compiler, [`abi`] the contract
//! between generated code and the runtime, [`runtime`] the engine, stores and
//! instances, [`code_memory`] the executable-memory abstraction, [`wasi`]
//! WASI preview1 over traits the embedder implements, and (with the `std`
//! feature) `host` the Linux adapter, the real filesystem for WASI among
//! it.
//!
//! Generated code never calls Rust: it leaves with an exit code (host call,
//! memory growth, trap, ...) and the runtime's loop resumes it on the
//! store's own wasm stack, so the same code runs on bare metal.
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_op_in_unsafe_fn)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod abi;
pub mod asm;
pub mod code_memory;
pub mod compile;
pub mod decode;
mod error;
#[cfg(feature = "std")]
pub mod host;
pub mod runtime;
pub mod validate;
pub mod wasi;

pub use asm::x64::CpuFeatures;
pub use error::{Error, ErrorKind, FrameInfo, Result};
pub use runtime::{
    AsContext, AsContextMut, CallOutcome, Caller, Config, Engine, ExportType, Extern, ExternRef,
    ExternType, Func, FuncType, Global, GlobalType, ImportType, Instance, InterruptHandle,
    IntoFunc, Limits, Linker, Memory, MemoryType, Module, PauseReason, RefType, ResourceLimiter,
    ResumableCall, Store, StoreContextMut, StoreLimits, StoreLimitsBuilder, Table, TableType, Trap,
    TypedFunc, Val, ValType, WasmParams, WasmResults, WasmRet, WasmTy,
};
pub use validate::{Feature, Features};

/// Decodes and validates a WebAssembly binary module.
///
/// Returns `Ok(())` when `bytes` is a valid module with the default features
/// of [`Config`] (WebAssembly 2.0, SIMD included, and extended constant
/// expressions; [`Module::validate`] takes an engine's features), and
/// otherwise an [`Error`] that carries the byte offset and
/// the specification's wording for the failure.
///
/// ```
/// // An empty module: magic and version.
/// assert!(wasmkern::validate(b"\0asm\x01\0\0\0").is_ok());
/// assert!(wasmkern::validate(b"\0asm\x02\0\0\0").is_err());
/// ```
pub fn validate(bytes: &[u8]) -> Result<(), Error> {
    let module = decode::Module::decode(bytes)?;
    validate::validate_module(&module)?;
    Ok(())
}
