//! One small adapter per engine behind the same three traits, so the
//! measuring code (`measure.rs`) is written once.
//!
//! Every adapter instantiates modules without imports except the
//! call-overhead module, which imports `env.nop: [] -> []`, and the WASI
//! command of the host-call benchmark, which imports
//! `wasi_snapshot_preview1` from the engine's own WASI implementation.
//! The exceptions module (`benches/workloads/throw.wat`) has no imports
//! either; its exports are all `(i32, i32) -> i32`.

use std::time::Duration;

mod wasmi;
#[cfg(all(feature = "wasmkern", wasmkern_api))]
mod wasmkern;
mod wasmtime;

pub type Result<T> = std::result::Result<T, String>;

/// The result type of a workload's `run` export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ret {
    I32,
    I64,
}

/// An engine: compiles modules.
pub trait Engine {
    /// Decodes, validates and compiles `wasm` (everything before
    /// instantiation).
    fn compile(&self, wasm: &[u8]) -> Result<Box<dyn Compiled>>;
}

/// A compiled module.
pub trait Compiled {
    /// A new store and an instance of the module (no imports), with its
    /// `run` export looked up as returning `ret`.
    fn instantiate(&self, ret: Ret) -> Result<Box<dyn Instance>>;

    /// A new store and an instance of the call-overhead module
    /// (`benches/workloads/calls.wat`), with `env.nop` defined as an empty
    /// host function.
    fn instantiate_calls(&self) -> Result<Box<dyn Calls>>;

    /// A new store and an instance of a WASI command, linked with the
    /// engine's own `wasi_snapshot_preview1`: `args` as its arguments (the
    /// first being the program's name), stdout a sink that discards what is
    /// written, stderr captured for [`WasiCommand::start`]'s errors, stdin
    /// empty, no environment and no preopened directory.
    fn instantiate_wasi(&self, args: &[String]) -> Result<Box<dyn WasiCommand>>;

    /// A new store and an instance of a module without imports, with its
    /// exports `names` looked up as functions `(i32, i32) -> i32`.
    fn instantiate_funcs(&self, names: &[&str]) -> Result<Box<dyn Funcs>>;
}

/// An instance with functions `(i32, i32) -> i32`, in the order of
/// [`Compiled::instantiate_funcs`]'s names.
pub trait Funcs {
    /// Calls function `index` with `a` and `b`.
    fn call(&mut self, index: usize, a: i32, b: i32) -> Result<i32>;
}

/// An instance of a workload.
pub trait Instance {
    /// Calls `run` once and returns its checksum (an i32 sign-extended).
    fn run(&mut self) -> Result<i64>;
}

/// An instance of the call-overhead module.
pub trait Calls {
    /// Calls the empty export `empty` `n` times from the host.
    fn host_to_wasm(&mut self, n: u32) -> Result<Duration>;
    /// Calls `call_host(n)`: `n` calls from wasm to the empty host function.
    fn wasm_to_host(&mut self, n: u32) -> Result<Duration>;
    /// Calls `call_wasm(n)`: `n` calls from wasm to an empty wasm function.
    fn wasm_to_wasm(&mut self, n: u32) -> Result<Duration>;
}

/// An instance of a WASI command.
pub trait WasiCommand {
    /// Calls `_start` once. `Ok` when it returns or exits with status 0;
    /// any other status, or a trap, is an error carrying what the program
    /// wrote to stderr.
    fn start(&mut self) -> Result<()>;
}

/// The error of a WASI command that ended as `how` says ("exited with
/// status 1", "trapped: ..."), followed by what it wrote to stderr.
pub fn wasi_failure(how: String, stderr: &[u8]) -> String {
    let stderr = String::from_utf8_lossy(stderr);
    match stderr.trim() {
        "" => how,
        text => format!("{how}; stderr: {text}"),
    }
}

/// Creates the engine called `name`. `parallel` allows the engine to
/// compile functions on several threads, if it can.
pub fn create(name: &str, parallel: bool) -> Result<Box<dyn Engine>> {
    match name {
        #[cfg(all(feature = "wasmkern", wasmkern_api))]
        "wasmkern" => wasmkern::create(parallel, false),
        #[cfg(all(feature = "wasmkern", wasmkern_api))]
        "wasmkern-guard" => wasmkern::create(parallel, true),
        #[cfg(all(feature = "wasmkern", not(wasmkern_api)))]
        "wasmkern" | "wasmkern-guard" => {
            let _ = parallel;
            Err("wasmkern's public API (src/runtime/) is not on this branch yet".into())
        }
        #[cfg(not(feature = "wasmkern"))]
        "wasmkern" | "wasmkern-guard" => {
            Err("the harness was built without its `wasmkern` feature".into())
        }
        "cranelift" => wasmtime::create(::wasmtime::Strategy::Cranelift, parallel),
        "winch" => wasmtime::create(::wasmtime::Strategy::Winch, parallel),
        "wasmi" => wasmi::create(),
        _ => Err(format!("unknown engine `{name}`")),
    }
}
