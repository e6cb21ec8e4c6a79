//! `differential`: wasm-smith modules run on wasmkern and on wasmi must
//! behave alike.
//!
//! The input gives: 8 bytes of argument seed, one byte of options (bit 0:
//! apply wasm-smith's `ensure_termination`; bit 1: enable SIMD), then the
//! bytes wasm-smith builds the module from. The module (2.0, no imports,
//! everything exported, NaNs canonicalized, small memories and tables) is
//! instantiated on both engines and each exported function is called twice
//! with arguments derived from the seed.
//!
//! Comparison rules (`tests/differential/oracle.rs`, shared with
//! `tests/differential.rs`):
//! - wasmkern must compile every module wasmparser accepts; "not supported
//!   by the compiler" is skipped (SIMD modules, while SIMD lands).
//! - Instantiation: both succeed or both fail (same trap kind when both
//!   trap).
//! - Each call runs on wasmi first with fuel; when wasmi runs out, wasmkern
//!   does not run it and both instances are made afresh. Otherwise results
//!   must agree (floats bitwise, any NaN equal to any NaN, references by
//!   null-ness), or both trap with the same kind (wasmkern's "undefined
//!   element" = wasmi's "table out of bounds", "uninitialized element" =
//!   "indirect call to null").
//! - Stack exhaustion (wasmkern: 64 KiB stack; wasmi: its default limits)
//!   on either engine is one outcome, "exhausted": the call is not compared
//!   and both instances are made afresh.
//! - After instantiation and each compared call, exported memories (size
//!   and bytes), globals (value) and tables (size, null-ness per element)
//!   must agree.
#![no_main]

use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/differential/oracle.rs"]
mod oracle;

static STATS: Mutex<Option<(u64, oracle::Stats)>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let mut u = arbitrary::Unstructured::new(data);
    let Ok(arg_seed) = u.arbitrary::<u64>() else {
        return;
    };
    let Ok(options) = u.arbitrary::<u8>() else {
        return;
    };
    let Some(bytes) = oracle::generate(&mut u, options & 2 != 0, options & 1 != 0) else {
        return;
    };
    let mut stats = oracle::Stats::default();
    if let Err(e) = oracle::check(&bytes, arg_seed, &mut stats) {
        panic!("wasmkern and wasmi disagree: {e}\n{}", oracle::wat(&bytes));
    }
    let mut total = STATS.lock().unwrap_or_else(|p| p.into_inner());
    let (runs, sum) = total.get_or_insert_with(Default::default);
    *runs += 1;
    sum.add(&stats);
    if runs.is_power_of_two() {
        eprintln!("differential: {sum}");
    }
});
