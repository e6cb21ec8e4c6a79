//! `compile`: `wasmkern::Module::new` compiles every valid wasm-smith
//! module (WebAssembly 2.0 + SIMD) without panicking; an error other than
//! an implementation limit is a finding (see `fuzz/targets.rs`). The counts
//! are printed to stderr every power-of-two executions.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;
#[path = "../../tests/differential/oracle.rs"]
mod oracle;
#[path = "../targets.rs"]
mod targets;

fuzz_target!(|data: &[u8]| targets::compile(data));
