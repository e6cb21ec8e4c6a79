//! `compile`: `wasmkern::Module::new` compiles every valid wasm-smith
//! module (WebAssembly 2.0 + SIMD) without panicking.
//!
//! An error is a finding, except "not supported by the compiler" (counted,
//! while SIMD compilation lands); the counts are printed to stderr every
//! power-of-two executions.
#![no_main]

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

static RUNS: AtomicU64 = AtomicU64::new(0);
static COMPILED: AtomicU64 = AtomicU64::new(0);
static UNSUPPORTED: AtomicU64 = AtomicU64::new(0);

fn engine() -> &'static wasmkern::Engine {
    static ENGINE: OnceLock<wasmkern::Engine> = OnceLock::new();
    ENGINE.get_or_init(wasmkern::Engine::default)
}

fuzz_target!(|data: &[u8]| {
    let mut u = arbitrary::Unstructured::new(data);
    let Ok(module) = wasm_smith::Module::new(common::smith_config(false), &mut u) else {
        return;
    };
    let bytes = module.to_bytes();
    if !common::wasmparser_accepts(&bytes) {
        return; // wasm-smith promised a valid module; `validate` covers this.
    }
    match wasmkern::Module::new(engine(), &bytes) {
        Ok(_) => {
            COMPILED.fetch_add(1, Ordering::Relaxed);
        }
        Err(e)
            if e.kind() == wasmkern::ErrorKind::Limit
                && e.message().contains("not supported by the compiler") =>
        {
            UNSUPPORTED.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => panic!(
            "a valid module does not compile: {e}\n{}",
            wasmprinter::print_bytes(&bytes).unwrap_or_default()
        ),
    }
    let runs = RUNS.fetch_add(1, Ordering::Relaxed) + 1;
    if runs.is_power_of_two() {
        eprintln!(
            "compile: {runs} valid modules, {} compiled, {} not supported by the compiler",
            COMPILED.load(Ordering::Relaxed),
            UNSUPPORTED.load(Ordering::Relaxed)
        );
    }
});
