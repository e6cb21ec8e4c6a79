//! wasmkern: a WebAssembly runtime that compiles wasm to x86-64 machine code
//! in a single pass, as a `no_std` + `alloc` crate.
//!
//! The pipeline (see `DESIGN.md` of the project):
//!
//! ```text
//! bytes --decode--> module IR --validate--> validated module --compile--> machine code
//! ```
//!
//! Each stage is one module: [`decode`] owns the binary format, [`validate`]
//! the type checker, [`asm`] the x86-64 assembler, [`code_memory`] the
//! executable-memory abstraction.
#![no_std]
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

pub use error::{Error, ErrorKind};
pub use runtime::{
    AsContext, AsContextMut, Caller, Config, Engine, ExportType, Extern, ExternRef, ExternType,
    Func, FuncType, Global, GlobalType, ImportType, Instance, IntoFunc, Limits, Linker, Memory,
    MemoryType, Module, RefType, Store, Table, TableType, Trap, TypedFunc, Val, ValType,
    WasmParams, WasmResults, WasmRet, WasmTy,
};

/// Decodes and validates a WebAssembly binary module.
///
/// Returns `Ok(())` when `bytes` is a valid WebAssembly 2.0 module (SIMD
/// included), and otherwise an [`Error`] that carries the byte offset and
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
