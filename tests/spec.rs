//! The WebAssembly spec testsuite, run through wasmkern's public API.
//!
//! One test per suite; each prints its score line
//! (`spec <suite> validation: N passed, M failed, K skipped`) and fails if
//! any check failed. `runner_self_check_*` run the same runner with
//! wasmparser as the validator, so the harness's expectations are checked
//! independently of the state of wasmkern's validator.
//!
//! Run with `cargo test --release --test spec -- --nocapture`.

#[path = "spec/mod.rs"]
mod harness;

use harness::runner::{Rejection, Runner, Validator, wasmkern_validator};
use harness::suite::Suite;

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
