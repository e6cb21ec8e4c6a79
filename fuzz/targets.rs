//! The bodies of the fuzz targets, shared by the libFuzzer binaries in
//! `fuzz_targets/` and the bounded deterministic driver `tests/fuzz_smoke.rs`
//! (which CI runs). Each panics on a finding, with the module as WAT.
//!
//! The including crate declares `common` (`fuzz/common.rs`) and `oracle`
//! (`tests/differential/oracle.rs`) next to this module, and may set a
//! [`REFEREE`] for `differential`.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use super::{common, oracle};

/// `validate`: the input as a module, and a wasm-smith module built from
/// it (2.0 + SIMD + tail calls; arbitrary bytes as function bodies when the first byte
/// is odd): `wasmkern::validate` never panics and agrees with wasmparser.
pub fn validate(data: &[u8]) {
    common::check_verdict(data);
    let allow_invalid = data.first().is_some_and(|b| b & 1 == 1);
    let mut u = arbitrary::Unstructured::new(data);
    let Ok(module) = wasm_smith::Module::new(common::smith_config(allow_invalid), &mut u) else {
        return;
    };
    common::check_verdict(&module.to_bytes());
}

/// Valid modules `compile` saw, and how many compiled.
pub static COMPILE_RUNS: AtomicU64 = AtomicU64::new(0);
pub static COMPILED: AtomicU64 = AtomicU64::new(0);

fn compile_engine() -> &'static wasmkern::Engine {
    static ENGINE: std::sync::OnceLock<wasmkern::Engine> = std::sync::OnceLock::new();
    ENGINE.get_or_init(wasmkern::Engine::default)
}

/// `compile`: every valid wasm-smith module (2.0 + SIMD + tail calls) built from the
/// input compiles with `Module::new`, without a panic or an error (an
/// implementation limit is the only accepted error).
pub fn compile(data: &[u8]) {
    let mut u = arbitrary::Unstructured::new(data);
    let Ok(module) = wasm_smith::Module::new(common::smith_config(false), &mut u) else {
        return;
    };
    let bytes = module.to_bytes();
    if !common::wasmparser_accepts(&bytes) {
        return; // wasm-smith promised a valid module; `validate` covers this.
    }
    match wasmkern::Module::new(compile_engine(), &bytes) {
        Ok(_) => {
            COMPILED.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) if e.kind() == wasmkern::ErrorKind::Limit => {}
        Err(e) => panic!(
            "a valid module does not compile: {e}\n{}",
            wasmprinter::print_bytes(&bytes).unwrap_or_default()
        ),
    }
    let runs = COMPILE_RUNS.fetch_add(1, Ordering::Relaxed) + 1;
    if runs.is_power_of_two() {
        eprintln!(
            "compile: {runs} valid modules, {} compiled",
            COMPILED.load(Ordering::Relaxed)
        );
    }
}

/// The `differential` counts so far: inputs run, and the oracle's stats.
pub static DIFFERENTIAL: Mutex<Option<(u64, oracle::Stats)>> = Mutex::new(None);

/// A third engine that decides a disagreement: `true` when it did what
/// wasmkern did and not what wasmi did, so wasmi is the one wrong. Without
/// one (the libFuzzer binaries) every disagreement is a finding;
/// `tests/fuzz_smoke.rs` sets V8's (`tests/differential/v8.rs`).
pub static REFEREE: OnceLock<fn(&[u8], &oracle::Disagreement) -> bool> = OnceLock::new();

/// Disagreements [`REFEREE`] decided as wasmi bugs.
pub static WASMI_BUGS: AtomicU64 = AtomicU64::new(0);

/// `differential`: 8 bytes of argument seed, one byte of options (bit 0:
/// wasm-smith's `ensure_termination`; bits 1-2: 2.0 without SIMD, with
/// SIMD (two values), or with SIMD, extended constants and wide
/// arithmetic), then the bytes
/// wasm-smith builds the module from (with host imports). wasmkern and
/// wasmi must agree (`tests/differential/oracle.rs`).
pub fn differential(data: &[u8]) {
    let mut u = arbitrary::Unstructured::new(data);
    let Ok(arg_seed) = u.arbitrary::<u64>() else {
        return;
    };
    let Ok(options) = u.arbitrary::<u8>() else {
        return;
    };
    let flavor = match options >> 1 & 3 {
        0 => oracle::Flavor::Wasm2,
        1 | 2 => oracle::Flavor::Simd,
        _ => oracle::Flavor::Proposals,
    };
    let Some(bytes) = oracle::generate(&mut u, flavor, options & 1 != 0) else {
        return;
    };
    let mut stats = oracle::Stats::default();
    if let Err(e) = oracle::check(&bytes, arg_seed, &mut stats) {
        if REFEREE
            .get()
            .is_some_and(|wasmi_is_wrong| wasmi_is_wrong(&bytes, &e))
        {
            WASMI_BUGS.fetch_add(1, Ordering::Relaxed);
            eprintln!("differential: V8 sides with wasmkern, a wasmi bug: {e}");
            return;
        }
        panic!("wasmkern and wasmi disagree: {e}\n{}", oracle::wat(&bytes));
    }
    let mut total = DIFFERENTIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (runs, sum) = total.get_or_insert_with(Default::default);
    *runs += 1;
    sum.add(&stats);
    if runs.is_power_of_two() {
        eprintln!("differential: {sum}");
    }
}
