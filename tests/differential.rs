//! Differential testing against wasmi: thousands of wasm-smith modules from
//! fixed seeds run on both engines, and everything observable must agree
//! (results, traps, exported memories, globals and tables; the rules are in
//! `differential/oracle.rs`, shared with the `differential` fuzz target).
//! wasmkern runs a deterministic half of the modules with
//! `Config::guard_regions` (unchecked accesses that fault), the rest with
//! explicit bounds checks.
//!
//! Everything is deterministic: the input bytes of case `seed` come from
//! SplitMix64. `DIFFERENTIAL_SEED=<seed>` replays one case and prints its
//! WAT; `DIFFERENTIAL_MODULES=<n>` and `DIFFERENTIAL_SIMD_MODULES=<n>`
//! change the number of cases without and with SIMD (seeds from
//! `SIMD_SEEDS` on). A failure names the seed and dumps the module as WAT.
//!
//! Run with `cargo test --release --test differential -- --nocapture`.
//!
//! Known wasmi 2.0.0 bugs beyond the default seeds (wasmkern agrees with
//! V8 on each, checked with node): seeds 30104 and 67876, a global ends up
//! with a wrong value in wasmi; seed 68152, a `br_table` that returns two
//! values from the function gives a wrong first value; seed 52169, wasmi
//! traps with "divide by zero" on an `i64.rem_s` whose divisor comes from a
//! `select` on `ref.is_null`, where the correct result is an endless loop,
//! so wasmkern (and this test) never finish that call. Extended runs
//! (`DIFFERENTIAL_MODULES`) meet them; wasmkern has no fuel here, so the
//! last one hangs the run (seeds 14,000 to 110,000 and 20,000 more SIMD
//! modules were run past it with no other disagreement).

#[path = "differential/oracle.rs"]
mod oracle;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use oracle::{Rng, Stats};

/// Cases checked by default (about 15 s in release mode on two cores; the
/// debug profile checks fewer).
const DEFAULT_MODULES: u64 = if cfg!(debug_assertions) {
    1_000
} else {
    10_000
};
/// Disagreements reported in detail (all are listed by seed).
const MAX_REPORTED: usize = 5;

/// Seeds that fail because of a bug with a regression test in
/// `tests/regressions.rs` (the test's name, shown in the skip counts): still
/// run, but their disagreement is expected. A seed that passes is reported,
/// so the list shrinks as the bugs are fixed.
const KNOWN_FAILURES: &[(u64, &str)] = &[];
/// SIMD cases checked by default, seeds from [`SIMD_SEEDS`] on.
const DEFAULT_SIMD_MODULES: u64 = if cfg!(debug_assertions) { 300 } else { 4_000 };
/// The first seed of a SIMD case: seeds below make modules without SIMD.
const SIMD_SEEDS: u64 = 1 << 32;
/// Worker threads (the test machines have two cores).
const THREADS: u64 = 2;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, got {v:?}"))
    })
}

/// The module of case `seed` and the seed of its arguments, or `None` when
/// wasm-smith cannot build one from the bytes.
fn case(seed: u64) -> Option<(Vec<u8>, u64)> {
    let mut rng = Rng(seed ^ 0xd1ff_e4e4_0000_0000);
    let len = 4 * 1024 + rng.below(28 * 1024);
    let input = rng.bytes(len);
    let mut u = arbitrary::Unstructured::new(&input);
    let bytes = oracle::generate(&mut u, seed >= SIMD_SEEDS, seed.is_multiple_of(2))?;
    Some((bytes, rng.next()))
}

/// Checks case `seed`; a disagreement or a panic is described.
fn check(seed: u64, stats: &mut Stats) -> Result<(), String> {
    let Some((bytes, arg_seed)) = case(seed) else {
        *stats
            .skipped
            .entry("wasm-smith gave no module")
            .or_default() += 1;
        return Ok(());
    };
    let verdict = catch_unwind(AssertUnwindSafe(|| oracle::check(&bytes, arg_seed, stats)))
        .unwrap_or_else(|p| {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(format!("panic: {msg}"))
        });
    verdict.map_err(|e| format!("seed {seed}: {e}\n{}", oracle::wat(&bytes)))
}

#[test]
fn wasmkern_agrees_with_wasmi() {
    let started = Instant::now();
    let (stats, failures) = match env_u64("DIFFERENTIAL_SEED") {
        Some(seed) => {
            let mut stats = Stats::default();
            if let Some((bytes, _)) = case(seed) {
                println!("{}", oracle::wat(&bytes));
            }
            let failures: Vec<String> = check(seed, &mut stats).err().into_iter().collect();
            (stats, failures)
        }
        None => {
            let n = env_u64("DIFFERENTIAL_MODULES").unwrap_or(DEFAULT_MODULES);
            let n_simd = env_u64("DIFFERENTIAL_SIMD_MODULES").unwrap_or(DEFAULT_SIMD_MODULES);
            let seeds: Vec<u64> = (0..n).chain(SIMD_SEEDS..SIMD_SEEDS + n_simd).collect();
            let seeds = &seeds;
            // `DIFFERENTIAL_TRACE=1` names each seed before it runs (for
            // crashes that take the process down).
            let trace = std::env::var_os("DIFFERENTIAL_TRACE").is_some();
            let results: Vec<(Stats, Vec<String>)> = std::thread::scope(|s| {
                let workers: Vec<_> = (0..THREADS)
                    .map(|t| {
                        s.spawn(move || {
                            let mut stats = Stats::default();
                            let mut failures = Vec::new();
                            for &seed in seeds.iter().skip(t as usize).step_by(THREADS as usize) {
                                if trace {
                                    eprintln!("seed {seed}");
                                }
                                let known = KNOWN_FAILURES.iter().find(|k| k.0 == seed);
                                match (check(seed, &mut stats), known) {
                                    (Err(e), None) => failures.push(e),
                                    (Err(_), Some(&(_, test))) => {
                                        *stats.skipped.entry(test).or_default() += 1;
                                    }
                                    (Ok(()), Some(_)) => println!(
                                        "seed {seed} passes now: remove it from KNOWN_FAILURES"
                                    ),
                                    (Ok(()), None) => {}
                                }
                            }
                            (stats, failures)
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .map(|w| w.join().expect("worker panicked"))
                    .collect()
            });
            let mut stats = Stats::default();
            let mut failures = Vec::new();
            for (s, f) in results {
                stats.add(&s);
                failures.extend(f);
            }
            (stats, failures)
        }
    };
    println!(
        "differential: {stats} in {:.2?}, {} disagreements",
        started.elapsed(),
        failures.len()
    );
    let seeds: Vec<&str> = failures
        .iter()
        .filter_map(|f| f.strip_prefix("seed ")?.split(':').next())
        .collect();
    assert!(
        failures.is_empty(),
        "wasmkern and wasmi disagree on seeds {seeds:?} (replay with DIFFERENTIAL_SEED=<seed>):\n\n{}",
        failures
            .iter()
            .take(MAX_REPORTED)
            .map(|f| truncate(f, 20_000))
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}\n... ({} bytes)", &s[..i], s.len()),
        None => s.to_string(),
    }
}
