//! `validate`: `wasmkern::validate` never panics, and agrees with wasmparser.
//!
//! 1. The input bytes, as a module: `wasmkern::validate` returns `Ok` or
//!    `Err`, never panics (its verdict is compared with wasmparser's too).
//! 2. A wasm-smith module built from the same input (WebAssembly 2.0 +
//!    SIMD, nothing newer; with arbitrary bytes as function bodies when the
//!    first input byte is odd, so invalid bodies are covered): wasmkern's
//!    verdict equals wasmparser's with `WasmFeatures::WASM2`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::check_verdict(data);
    let allow_invalid = data.first().is_some_and(|b| b & 1 == 1);
    let mut u = arbitrary::Unstructured::new(data);
    let Ok(module) = wasm_smith::Module::new(common::smith_config(allow_invalid), &mut u) else {
        return;
    };
    common::check_verdict(&module.to_bytes());
});
