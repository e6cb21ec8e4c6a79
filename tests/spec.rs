//! The WebAssembly spec testsuite, run through wasmkern's public API.
//!
//! `spec_<suite>` runs every directive of a suite (modules, registration,
//! invocations and all assertions) and prints
//! `spec <suite>: N passed, M failed, K skipped`, then the first failures
//! by file and a failure count per file. It fails on any failure or skip
//! when the suite's `ENFORCE_*` constant is set. `spec_<suite>_validation`
//! checks validation only and always fails on a failure.
//! `runner_self_check_*` run the validation runner with wasmparser as the
//! validator, so the harness's expectations are checked independently of
//! the state of wasmkern's validator.
//!
//! Run with `cargo test --release --test spec -- --nocapture`.
//! `SPEC_FILTER=<part of a file name>` runs only the matching files, and
//! `SPEC_TRACE=1` prints each directive before it runs (to find a crash).

#[path = "spec/mod.rs"]
mod harness;

use harness::exec;
use harness::runner::{Rejection, Runner, Validator, wasmkern_validator};
use harness::suite::Suite;

/// Whether `spec_wasm_v1` fails on a failure or skip.
const ENFORCE_WASM_V1: bool = true;
/// Whether `spec_wasm_v2` fails on a failure or skip (not yet: later work).
const ENFORCE_WASM_V2: bool = false;
/// Whether `spec_simd` fails on a failure or skip (not yet: later work).
const ENFORCE_SIMD: bool = false;

fn execute(suite: Suite, enforce: bool) {
    let score = exec::Runner::new(suite).run_suite();
    let report = score.report(suite);
    println!("{report}");
    let summary = report.lines().next().unwrap_or_default();
    if enforce {
        assert!(
            score.failed == 0 && score.skipped == 0,
            "{summary} (details above)"
        );
    }
}

#[test]
fn spec_wasm_v1() {
    execute(Suite::WasmV1, ENFORCE_WASM_V1);
}

#[test]
fn spec_wasm_v2() {
    execute(Suite::WasmV2, ENFORCE_WASM_V2);
}

#[test]
fn spec_simd() {
    execute(Suite::Simd, ENFORCE_SIMD);
}

fn run(suite: Suite, validate: Validator) {
    let score = Runner::new(suite, validate).run_suite();
    let report = score.report(suite);
    println!("{report}");
    let summary = report.lines().next().unwrap_or_default();
    assert_eq!(score.failed, 0, "{summary} (details above)");
}

#[test]
fn spec_wasm_v1_validation() {
    run(Suite::WasmV1, wasmkern_validator);
}

#[test]
fn spec_wasm_v2_validation() {
    run(Suite::WasmV2, wasmkern_validator);
}

#[test]
fn spec_simd_validation() {
    run(Suite::Simd, wasmkern_validator);
}

/// wasmparser configured for exactly WebAssembly 2.0 with SIMD.
fn wasmparser_validator(bytes: &[u8]) -> Result<(), Rejection> {
    use wasmparser::{Validator as Reference, WasmFeatures};
    let features = WasmFeatures::WASM2;
    Reference::new_with_features(features)
        .validate_all(bytes)
        .map(drop)
        .map_err(|e| Rejection {
            message: e.message().to_string(),
            kind: None,
        })
}

#[test]
fn runner_self_check_with_wasmparser() {
    for suite in Suite::ALL {
        run(suite, wasmparser_validator);
    }
}
