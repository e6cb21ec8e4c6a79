//! Differential testing against wasmi, with V8 as the referee: thousands of
//! wasm-smith modules from fixed seeds run on both engines, and everything
//! observable must agree (results, traps, host calls, exported memories,
//! globals and tables; the rules are in `differential/oracle.rs`, shared
//! with the `differential` fuzz target). wasmkern runs a deterministic half
//! of the modules with `Config::guard_regions` (unchecked accesses that
//! fault), the rest with explicit bounds checks.
//!
//! When the two disagree, V8 decides (`differential/v8.rs`, through
//! `node`): if V8 does what wasmkern did, it is a wasmi bug, printed and
//! counted, not a failure; if V8 does what wasmi did, or neither, or `node`
//! cannot run, the test fails. With `CI=true` a missing `node` fails the
//! test even without a disagreement.
//!
//! The run prints its counts and asserts floors on them (modules and calls
//! compared, non-trivial calls, host calls, non-null references), and
//! bounds every skip where only one engine gave up (stack exhausted or out
//! of fuel on one side only), so that it cannot pass by comparing little.
//!
//! Everything is deterministic: the input bytes of case `seed` come from
//! SplitMix64, seeds from `SIMD_SEEDS` (2^32) on make SIMD modules, and
//! seeds from `PROPOSAL_SEEDS` (2^33) on modules that may also use
//! extended constant expressions, wide arithmetic and tail calls.
//! `DIFF_SEED_START=<seed> DIFF_COUNT=<n>` runs the `n` cases from `seed`
//! instead of the default ones (and does not check the floors); with
//! `DIFF_COUNT=1` the module is printed as WAT. A failure names the seed
//! and dumps the module as WAT.
//!
//! Run with `cargo test --release --test differential -- --nocapture`.

#[path = "differential/oracle.rs"]
mod oracle;
#[path = "differential/v8.rs"]
mod v8;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use oracle::{Rng, Stats};

/// Cases checked by default, without and with SIMD (about 20 s in release
/// mode on two cores; the debug profile checks fewer).
const DEFAULT_MODULES: u64 = if cfg!(debug_assertions) {
    1_000
} else {
    10_000
};
const DEFAULT_SIMD_MODULES: u64 = if cfg!(debug_assertions) { 300 } else { 4_000 };
/// The first seed of a SIMD case: seeds below make modules without SIMD.
const SIMD_SEEDS: u64 = 1 << 32;
/// Cases checked by default with the features beyond 2.0 that both
/// engines run ([`oracle::Flavor::Proposals`]), from this seed on.
const PROPOSAL_SEEDS: u64 = 1 << 33;
const DEFAULT_PROPOSAL_MODULES: u64 = if cfg!(debug_assertions) { 100 } else { 1_000 };
/// Of the default proposal cases, at least this many modules use each of
/// the features of [`proposal_uses`] (release and debug runs; 68, 534,
/// 226, 333, 332 and 6, 51, 18, 28, 26 do).
const FLOOR_PROPOSAL_MODULES: [[u64; 5]; 2] = [[60, 480, 200, 300, 300], [5, 45, 16, 25, 23]];
/// Worker threads (the test machines have two cores).
const THREADS: u64 = 2;
/// Disagreements reported in detail (all are listed by seed).
const MAX_REPORTED: usize = 5;

/// Floors of the default run, release profile: 95% of the counts of the
/// run (modules compared, calls compared, non-trivial calls, host calls,
/// non-null references), so that a change of the fuel model that skips a
/// few more calls still passes but a run that stopped comparing does not.
const FLOORS_RELEASE: [u64; 5] = [12_370, 112_500, 108_300, 156_000, 10_890];
/// The same for the debug profile's smaller run.
const FLOORS_DEBUG: [u64; 5] = [1_150, 10_590, 10_220, 14_980, 975];
/// Each one-sided skip may be at most this fraction of the calls compared
/// (per mille; the default run has about 1).
const ONE_SIDED_PER_MILLE: u64 = 3;

/// Seeds where wasmi 2.0.0 disagreed with wasmkern and V8 agreed with
/// wasmkern (found in runs over seeds 5,000,000 to 17,100,000 and the SIMD
/// seeds above 2^32, with modules without imports). They run through the
/// same three-way check in [`known_wasmi_bugs_are_decided_by_v8`].
const WASMI_BUG_SEEDS: &[u64] = &[
    9_021_504,
    13_065_330,
    13_029_713,
    13_064_067,
    17_060_138,
    17_074_522,
    17_054_047,
    17_096_865,
    4_303_986_164,
    4_311_978_910,
    4_299_969_699,
    // wasmi's translator panics on these.
    7_022_887,
    9_091_759,
];

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, got {v:?}"))
    })
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The module of case `seed` and the seed of its arguments, or `None` when
/// wasm-smith cannot build one from the bytes. `imports` says whether the
/// module may import host functions (the seeds of [`WASMI_BUG_SEEDS`] were
/// found without).
fn case(seed: u64, imports: bool) -> Option<(Vec<u8>, u64)> {
    let mut rng = Rng(seed ^ 0xd1ff_e4e4_0000_0000);
    let len = 4 * 1024 + rng.below(28 * 1024);
    let input = rng.bytes(len);
    let mut u = arbitrary::Unstructured::new(&input);
    let flavor = if seed >= PROPOSAL_SEEDS {
        oracle::Flavor::Proposals
    } else if seed >= SIMD_SEEDS {
        oracle::Flavor::Simd
    } else {
        oracle::Flavor::Wasm2
    };
    let bytes = oracle::generate_with(&mut u, flavor, seed.is_multiple_of(2), imports)?;
    Some((bytes, rng.next()))
}

/// What became of one case.
enum Verdict {
    Agree,
    /// wasmkern and wasmi disagree and V8 does what wasmkern does.
    WasmiBug(String),
    /// A failure, described (the first line says what was compared).
    Fail(String),
}

/// Checks case `seed`, asking V8 when the engines disagree.
fn check(seed: u64, imports: bool, stats: &mut Stats) -> Verdict {
    let Some((bytes, arg_seed)) = case(seed, imports) else {
        *stats
            .skipped
            .entry("wasm-smith gave no module")
            .or_default() += 1;
        return Verdict::Agree;
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| oracle::check(&bytes, arg_seed, stats)));
    let disagreement = match outcome {
        Ok(Ok(())) => return Verdict::Agree,
        Ok(Err(d)) => d,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            return Verdict::Fail(format!(
                "seed {seed}: panic: {msg}\n{}",
                oracle::wat(&bytes)
            ));
        }
    };
    match v8::decide(&bytes, &disagreement) {
        v8::Verdict::Kern => Verdict::WasmiBug(format!("seed {seed}: {disagreement}")),
        verdict => Verdict::Fail(format!(
            "seed {seed}: {disagreement}\n  {verdict}\n  wasmkern observed {:?}\n  wasmi observed {:?}\n{}",
            disagreement.kern,
            disagreement.wasmi,
            oracle::wat(&bytes)
        )),
    }
}

/// Runs `seeds` on [`THREADS`] threads; the summed counts, the wasmi bugs
/// and the failures.
fn run(seeds: &[u64], imports: bool) -> (Stats, Vec<String>, Vec<String>) {
    // `DIFFERENTIAL_TRACE=1` names each seed before it runs (for crashes
    // that take the process down).
    let trace = std::env::var_os("DIFFERENTIAL_TRACE").is_some();
    let results: Vec<(Stats, Vec<String>, Vec<String>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                s.spawn(move || {
                    let mut stats = Stats::default();
                    let (mut bugs, mut failures) = (Vec::new(), Vec::new());
                    for &seed in seeds.iter().skip(t as usize).step_by(THREADS as usize) {
                        if trace {
                            eprintln!("seed {seed}");
                        }
                        match check(seed, imports, &mut stats) {
                            Verdict::Agree => {}
                            Verdict::WasmiBug(what) => bugs.push(what),
                            Verdict::Fail(what) => failures.push(what),
                        }
                    }
                    (stats, bugs, failures)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("worker panicked"))
            .collect()
    });
    let mut stats = Stats::default();
    let (mut bugs, mut failures) = (Vec::new(), Vec::new());
    for (s, b, f) in results {
        stats.add(&s);
        bugs.extend(b);
        failures.extend(f);
    }
    (stats, bugs, failures)
}

/// Prints the wasmi bugs and fails on any failure.
fn report(what: &str, bugs: &[String], failures: &[String]) {
    for bug in bugs {
        println!("{what}: wasmi bug (V8 agrees with wasmkern): {bug}");
    }
    let seeds: Vec<&str> = failures
        .iter()
        .filter_map(|f| f.strip_prefix("seed ")?.split(':').next())
        .collect();
    assert!(
        failures.is_empty(),
        "{what}: wasmkern and wasmi disagree and V8 does not side with wasmkern on seeds \
         {seeds:?} (replay with DIFF_SEED_START=<seed> DIFF_COUNT=1):\n\n{}",
        failures
            .iter()
            .take(MAX_REPORTED)
            .map(|f| truncate(f, 20_000))
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}

/// Fails in CI when `node` is missing; elsewhere says that disagreements
/// cannot be decided.
fn require_node(what: &str) {
    match v8::node_version() {
        Ok(version) => println!("{what}: V8 referee: node {version}"),
        Err(e) if in_ci() => panic!("{what}: CI=true and node is missing ({e}): install nodejs"),
        Err(e) => println!(
            "{what}: NOTE: node is not available ({e}): any disagreement fails \
             without V8's verdict (install nodejs to let V8 decide)"
        ),
    }
}

#[test]
fn wasmkern_agrees_with_wasmi() {
    require_node("differential");
    let started = Instant::now();
    let start = env_u64("DIFF_SEED_START");
    let count = env_u64("DIFF_COUNT");
    let custom = start.is_some() || count.is_some();
    let seeds: Vec<u64> = if custom {
        let start = start.unwrap_or(0);
        let count = count.unwrap_or(1);
        if count == 1
            && let Some((bytes, _)) = case(start, true)
        {
            println!("{}", oracle::wat(&bytes));
        }
        (start..start.saturating_add(count)).collect()
    } else {
        (0..DEFAULT_MODULES)
            .chain(SIMD_SEEDS..SIMD_SEEDS + DEFAULT_SIMD_MODULES)
            .chain(PROPOSAL_SEEDS..PROPOSAL_SEEDS + DEFAULT_PROPOSAL_MODULES)
            .collect()
    };
    let (stats, bugs, failures) = run(&seeds, true);
    println!(
        "differential: {stats} in {:.2?}; {} wasmi bugs decided by V8, {} failures",
        started.elapsed(),
        bugs.len(),
        failures.len()
    );
    for reason in oracle::ONE_SIDED {
        let n = stats.skips(reason);
        let bound = stats.calls * ONE_SIDED_PER_MILLE / 1000;
        println!("differential: one-sided skip \"{reason}\": {n} (bound {bound})");
        assert!(
            n <= bound,
            "differential: \"{reason}\" happened {n} times, more than {ONE_SIDED_PER_MILLE}‰ \
             of the {} calls compared",
            stats.calls
        );
    }
    // Skips where wasmi gave up and wasmkern was not run, or a module was
    // not run at all: bounded too (the default run: wasmi out of fuel in
    // 76 per mille of the calls, mostly loops in the half of the modules
    // without wasm-smith's termination counter; start functions out of
    // fuel or stack in 19 and 8 per mille of the modules).
    for (reason, per_mille, of_calls) in [
        ("calls skipped: wasmi out of fuel", 100, true),
        ("start function: wasmi out of fuel", 30, false),
        ("start function: stack exhausted", 30, false),
        ("wasmi panicked compiling (a wasmi bug)", 5, false),
        ("rejected by wasmi", 5, false),
        ("invalid per wasmparser", 5, false),
    ] {
        let n = stats.skips(reason);
        let (base, what) = if of_calls {
            (stats.calls, "calls compared")
        } else {
            (stats.modules, "modules")
        };
        let bound = base * per_mille / 1000;
        println!("differential: skip \"{reason}\": {n} (bound {bound})");
        assert!(
            n <= bound,
            "differential: \"{reason}\" happened {n} times, more than {per_mille}‰ of the \
             {base} {what}"
        );
    }
    report("differential", &bugs, &failures);
    if custom {
        println!("differential: DIFF_SEED_START/DIFF_COUNT set: the floors are NOT checked");
        return;
    }
    // The proposal cases really use the proposals' features.
    let mut used = [0u64; 5];
    for seed in PROPOSAL_SEEDS..PROPOSAL_SEEDS + DEFAULT_PROPOSAL_MODULES {
        if let Some((bytes, _)) = case(seed, true) {
            for (n, u) in used.iter_mut().zip(proposal_uses(&bytes)) {
                *n += u64::from(u);
            }
        }
    }
    let floors = FLOOR_PROPOSAL_MODULES[usize::from(cfg!(debug_assertions))];
    let names = [
        "wide arithmetic",
        "tail calls",
        "a memory other than memory 0",
        "a 64-bit memory",
        "a 64-bit table",
    ];
    for ((what, n), floor) in names.into_iter().zip(used).zip(floors) {
        println!("differential: modules using {what}: {n}, floor {floor}");
        assert!(
            n >= floor,
            "differential: {n} modules use {what}, below the floor {floor}"
        );
    }
    let floors = if cfg!(debug_assertions) {
        FLOORS_DEBUG
    } else {
        FLOORS_RELEASE
    };
    let counts = [
        ("modules compared", stats.compared),
        ("calls compared", stats.calls),
        ("non-trivial calls", stats.nontrivial),
        ("host calls compared", stats.host_calls),
        ("non-null references compared", stats.refs),
    ];
    for ((what, got), floor) in counts.into_iter().zip(floors) {
        println!("differential: {what}: {got}, floor {floor}");
        assert!(
            got >= floor,
            "differential: {what}: {got}, below the floor {floor}"
        );
    }
}

/// Which of the proposals' features a module uses: `[wide arithmetic,
/// tail calls, a memory other than memory 0, a 64-bit memory, a 64-bit
/// table]`.
fn proposal_uses(bytes: &[u8]) -> [bool; 5] {
    use wasmparser::{Operator, Parser, Payload, TypeRef};
    let mut uses = [false; 5];
    let mut memories = 0;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(Payload::ImportSection(reader)) => {
                for import in reader.into_imports().flatten() {
                    match import.ty {
                        TypeRef::Memory(m) => {
                            memories += 1;
                            uses[3] |= m.memory64;
                        }
                        TypeRef::Table(t) => uses[4] |= t.table64,
                        _ => {}
                    }
                }
            }
            Ok(Payload::TableSection(reader)) => {
                for t in reader.into_iter().flatten() {
                    uses[4] |= t.ty.table64;
                }
            }
            Ok(Payload::MemorySection(reader)) => {
                for m in reader.into_iter().flatten() {
                    memories += 1;
                    uses[3] |= m.memory64;
                }
            }
            Ok(Payload::CodeSectionEntry(body)) => {
                let Ok(mut ops) = body.get_operators_reader() else {
                    continue;
                };
                while !ops.eof() {
                    match ops.read() {
                        Ok(
                            Operator::I64Add128
                            | Operator::I64Sub128
                            | Operator::I64MulWideS
                            | Operator::I64MulWideU,
                        ) => uses[0] = true,
                        Ok(Operator::ReturnCall { .. } | Operator::ReturnCallIndirect { .. }) => {
                            uses[1] = true
                        }
                        Ok(op) => uses[2] |= memories > 1 && touches_other_memory(&op),
                        Err(_) => break,
                    }
                }
            }
            _ => {}
        }
    }
    uses
}

/// Whether `op` names a memory other than memory 0.
fn touches_other_memory(op: &wasmparser::Operator<'_>) -> bool {
    use wasmparser::Operator as O;
    match op {
        O::MemorySize { mem } | O::MemoryGrow { mem } | O::MemoryFill { mem } => *mem != 0,
        O::MemoryCopy { dst_mem, src_mem } => *dst_mem != 0 || *src_mem != 0,
        O::MemoryInit { mem, .. } => *mem != 0,
        O::I32Load { memarg }
        | O::I64Load { memarg }
        | O::F32Load { memarg }
        | O::F64Load { memarg }
        | O::I32Store { memarg }
        | O::I64Store { memarg }
        | O::F32Store { memarg }
        | O::F64Store { memarg }
        | O::I32Load8U { memarg }
        | O::I64Load32U { memarg }
        | O::V128Load { memarg }
        | O::V128Store { memarg } => memarg.target != wasmparser::MemArgTarget::Memory(0),
        _ => false,
    }
}

/// The seeds where wasmi was found wrong: each either agrees now or is
/// decided by V8 in wasmkern's favour.
#[test]
fn known_wasmi_bugs_are_decided_by_v8() {
    require_node("wasmi bug seeds");
    let (stats, bugs, failures) = run(WASMI_BUG_SEEDS, false);
    println!(
        "wasmi bug seeds: {stats}; {} decided by V8 as wasmi bugs, {} failures",
        bugs.len(),
        failures.len()
    );
    report("wasmi bug seeds", &bugs, &failures);
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}\n... ({} bytes)", &s[..i], s.len()),
        None => s.to_string(),
    }
}

/// The referee can rule both ways: a disagreement where one side has the
/// right outcome (computed by hand) goes to that side, for a call through a
/// host import (the driver's host functions must return what the oracle's
/// do) and for a `v128` function (called through the wrapper).
#[test]
fn v8_referee_rules_for_the_right_side() {
    if let Err(e) = v8::node_version() {
        assert!(!in_ci(), "CI=true and node is missing ({e})");
        println!("v8 referee self-check: NOT RUN, node is missing ({e})");
        return;
    }
    let bytes = wat::parse_str(
        r#"(module
            (import "host" "f1" (func $h (param i32) (result i32)))
            (func (export "f") (param i32) (result i32)
                (i32.add (call $h (local.get 0)) (i32.const 1)))
            (func (export "g") (param v128 i64) (result v128 i64)
                (i32x4.add (local.get 0) (v128.const i32x4 1 2 3 4))
                (i64.mul (local.get 1) (i64.const 3))))"#,
    )
    .unwrap();
    // `f(5)`: the host function's result at the instance's first host call.
    let right_f = match oracle::host_result(0, &[oracle::HostType::I32]) {
        Ok(values) => match values[..] {
            [oracle::Arg::I32(v)] => format!("ok [i32:{}]", v.wrapping_add(1)),
            _ => unreachable!("one i32 result"),
        },
        Err(()) => "host error".to_string(),
    };
    let f = (
        vec![("f".to_string(), vec![oracle::Arg::I32(5)])],
        vec![right_f, "host f1(i32:5)".to_string()],
        vec!["ok [i32:12345]".to_string(), "host f1(i32:5)".to_string()],
    );
    // `g(v, 7)`: lanes plus 1, 2, 3, 4, and 21.
    let v: u128 = 0x0000_0010_0000_0020_0000_0030_0000_0040;
    let g = (
        vec![(
            "g".to_string(),
            vec![oracle::Arg::V128(v), oracle::Arg::I64(7)],
        )],
        vec!["ok [v128:0x14000000230000003200000041, i64:21]".to_string()],
        vec!["ok [v128:0x14000000230000003200000041, i64:22]".to_string()],
    );
    for (calls, right, wrong) in [f, g] {
        for kern_is_right in [true, false] {
            let (kern, wasmi) = if kern_is_right {
                (right.clone(), wrong.clone())
            } else {
                (wrong.clone(), right.clone())
            };
            let d = oracle::Disagreement {
                what: "self-check".into(),
                calls: calls.clone(),
                kern,
                wasmi,
            };
            let verdict = v8::decide(&bytes, &d);
            match (kern_is_right, &verdict) {
                (true, v8::Verdict::Kern) | (false, v8::Verdict::Wasmi) => {}
                _ => panic!("{calls:?}: kern right {kern_is_right}: {verdict}"),
            }
        }
    }
}
