//! `differential`: wasm-smith modules (with host imports) run on wasmkern
//! and on wasmi must behave alike; the input layout is in
//! `fuzz/targets.rs`, the comparison rules in `tests/differential/oracle.rs`
//! (shared with `tests/differential.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;
#[path = "../../tests/differential/oracle.rs"]
mod oracle;
#[path = "../targets.rs"]
mod targets;

fuzz_target!(|data: &[u8]| targets::differential(data));
