//! `validate`: `wasmkern::validate` never panics and agrees with wasmparser,
//! on the raw input and on a wasm-smith module built from it (see
//! `fuzz/targets.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;
#[path = "../../tests/differential/oracle.rs"]
mod oracle;
#[path = "../targets.rs"]
mod targets;

fuzz_target!(|data: &[u8]| targets::validate(data));
