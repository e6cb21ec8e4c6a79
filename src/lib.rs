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
//! # The API
//!
//! Everything public is the runtime's: an [`Engine`] (with its [`Config`])
//! compiles [`Module`]s; a [`Store`] owns instances and their objects, to
//! which [`Instance`], [`Func`], [`Memory`], [`Table`], [`Global`] and
//! [`ExternRef`] are `Copy` handles; a [`Linker`] resolves imports; host
//! functions see their caller as a [`Caller`]; every failure is an
//! [`Error`]. Embedders that bring their own executable memory implement
//! [`code_memory::CodeMemory`]; [`wasi`] is WASI preview1 over traits the
//! embedder implements; with the `std` feature, `host` is the Linux
//! adapter (`mmap` code memory, WASI over the real filesystem).
//!
//! # Precompiled modules and the runtime-only build
//!
//! [`Module::serialize`] writes a compiled module as bytes that
//! [`Module::deserialize_checked`] (or the `unsafe`
//! [`Module::deserialize`]) loads without compiling. The `compiler` feature
//! (default) brings the validator, the assembler and the compiler, hence
//! `Module::new`; without it the crate is a runtime that only loads
//! precompiled modules, for a kernel that carries no compiler. The engine's
//! stubs, which the assembler emits, are then kept as bytes
//! (`runtime/engine_stubs.rs`). The decoder stays: instantiation reads the
//! module's sections, and constant expressions, again.
//!
//! The compiler's stages are internal. The `unstable-internals` feature
//! makes them public for wasmkern's own tests, benchmarks and fuzzers, with
//! no stability promise of any kind.
//!
//! # Architecture
//!
//! ```text
//! bytes --decode--> module IR --validate--> validated module --compile--> machine code
//!                                                                    |
//!        host <--exit code-- generated code <--enter/resume-- runtime (store, instances)
//! ```
//!
//! Generated code never calls Rust: it leaves with an exit code (host call,
//! memory growth, trap, ...) and the runtime's loop resumes it on the
//! store's own wasm stack, so the same code runs on bare metal.
//!
//! # Layers
//!
//! Each stage is one top-level module, and the modules form layers: a
//! module imports only from the layers below its own (`tests/layers.rs`
//! checks every `crate::` path against this list). The crate root
//! (`lib.rs`) sits above them all: it re-exports the API and hands the
//! `std` adapter's implementations to the core.
//!
//! ```text
//! 8  host          the std Linux adapter: implements the core's traits
//! 7  wasi          WASI preview1 over the embedder's traits
//! 6  runtime       engine, modules, stores, instances, the exit loop
//! 5  compile       the single-pass compiler
//! 4  validate      the type checker (in parallel through `platform`)
//! 3  platform      the OS services the core needs, as traits it owns
//! 2  abi           the contract between generated code and the runtime
//! 1  decode        the binary format, and the types every stage shares
//! 0  error         the error type and the trap codes
//! 0  asm           the x86-64 assembler
//! 0  code_memory   executable memory, as a trait with a region allocator
//! 0  sha256        SHA-256, for serialized modules and the compilation cache
//! ```
//!
//! So the core (layers 0 to 7) never names `host`: it reaches the
//! operating system through the `platform::Platform` trait, and the crate
//! root supplies `host`'s implementation under `std`, one without services
//! otherwise.

#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_op_in_unsafe_fn)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

// The pipeline's stages are internals: crate-private, or public with the
// `unstable-internals` feature for the crate's own tests, benchmarks and
// fuzzers, without any stability promise. What only those tests use (the
// assembler's whole instruction set, the compiler's entry points with
// explicit options, re-exports) is unused without the feature, as it was
// unchecked when these modules were public: hence the `allow`s.
#[cfg(feature = "unstable-internals")]
pub mod abi;
#[cfg(not(feature = "unstable-internals"))]
#[allow(dead_code, unused_imports)]
pub(crate) mod abi;
#[cfg(feature = "unstable-internals")]
pub mod asm;
#[cfg(not(feature = "unstable-internals"))]
#[allow(dead_code, unused_imports)]
pub(crate) mod asm;
pub mod code_memory;
#[cfg(all(feature = "compiler", feature = "unstable-internals"))]
pub mod compile;
#[cfg(all(feature = "compiler", not(feature = "unstable-internals")))]
#[allow(dead_code, unused_imports)]
pub(crate) mod compile;
#[cfg(feature = "unstable-internals")]
pub mod decode;
#[cfg(not(feature = "unstable-internals"))]
#[allow(dead_code, unused_imports)]
pub(crate) mod decode;
mod error;
#[cfg(feature = "std")]
pub mod host;
mod platform;
mod runtime;
#[cfg(feature = "unstable-internals")]
pub mod sha256;
#[cfg(not(feature = "unstable-internals"))]
#[allow(dead_code)]
pub(crate) mod sha256;
#[cfg(feature = "unstable-internals")]
// Without the compiler only the feature switches are used.
#[cfg_attr(not(feature = "compiler"), allow(dead_code))]
pub mod validate;
#[cfg(not(feature = "unstable-internals"))]
#[allow(dead_code, unused_imports)]
pub(crate) mod validate;
pub mod wasi;

pub use asm::x64::CpuFeatures;
pub use error::{Error, ErrorKind, FrameInfo, Result};
#[cfg(feature = "std")]
pub use runtime::ProfilingStrategy;
pub use runtime::{
    AsContext, AsContextMut, CallOutcome, Caller, Config, DEFAULT_INSTANCE_LIMIT,
    DEFAULT_MAX_MODULE_CODE_SIZE, DEFAULT_MAX_WASM_STACK, DEFAULT_MEMORY_LIMIT,
    DEFAULT_TABLE_LIMIT, Engine, ExnRef, ExportType, Extern, ExternRef, ExternType, Func, FuncType,
    Global, GlobalType, HeapType, HostFunc, ImportType, Instance, InterruptHandle, IntoFunc,
    Limits, Linker, MAX_LIVE_EXCEPTIONS, MAX_TABLE_ELEMENTS, MIN_MAX_WASM_STACK, Memory,
    MemoryType, Module, PAGE_SIZE, PauseReason, RefType, ResourceLimiter, ResumableCall, Store,
    StoreContextMut, StoreLimits, StoreLimitsBuilder, Table, TableType, Tag, TagType,
    ThrownException, Trap, TypedFunc, Val, ValType, WasmParams, WasmResults, WasmRet, WasmTy,
};
pub use validate::{Feature, Features};

/// The operating-system services the core uses (see [`platform`]): the
/// Linux adapter with `std`, none without. The core reaches the host only
/// through what this returns.
pub(crate) fn default_platform() -> &'static dyn platform::Platform {
    #[cfg(feature = "std")]
    return &host::Linux;
    #[cfg(not(feature = "std"))]
    return &platform::Bare;
}

/// The services of one engine's compilations: [`default_platform`]'s,
/// with `std` also the threads the engine keeps to compile on
/// (`host::pool`).
#[cfg(feature = "compiler")]
pub(crate) fn compile_platform() -> alloc::boxed::Box<dyn platform::Platform + Send> {
    #[cfg(feature = "std")]
    return alloc::boxed::Box::new(host::pool::PooledPlatform::new(&host::Linux));
    #[cfg(not(feature = "std"))]
    return alloc::boxed::Box::new(platform::Bare);
}

/// Decodes and validates a WebAssembly binary module.
///
/// Returns `Ok(())` when `bytes` is a valid module with the default features
/// of [`Config`] (WebAssembly 2.0, SIMD included, and the standardized
/// 3.0 features wasmkern runs; [`Module::validate`] takes an engine's
/// features), and
/// otherwise an [`Error`] that carries the byte offset and
/// the specification's wording for the failure.
///
/// ```
/// // An empty module: magic and version.
/// assert!(wasmkern::validate(b"\0asm\x01\0\0\0").is_ok());
/// assert!(wasmkern::validate(b"\0asm\x02\0\0\0").is_err());
/// ```
#[cfg(feature = "compiler")]
pub fn validate(bytes: &[u8]) -> Result<(), Error> {
    let features = Features::DEFAULT;
    let module = decode::Module::decode_with(bytes, features.encodings())?;
    validate::validate_module_with(&module, &features)?;
    Ok(())
}
