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
//! extended constant expressions, wide arithmetic, tail calls, several
//! memories, 64-bit memories and tables, and relaxed SIMD. The relaxed
//! operators' results are partly open and wasmkern documents one choice
//! per operator: wasmi and V8 run the module with each rewritten into the
//! standard sequence that computes that choice (`differential/relaxed.rs`,
//! checked by `relaxed_rewrites_agree_with_wasmkern`).
//! `DIFF_SEED_START=<seed> DIFF_COUNT=<n>` runs the `n` cases from `seed`
//! instead of the default ones (and does not check the floors); with
//! `DIFF_COUNT=1` the module is printed as WAT. A failure names the seed
//! and dumps the module as WAT.
//!
//! Run with `cargo test --release --test differential -- --nocapture`.
//!
//! Typed function references and exception handling are not generated
//! here: wasmi runs neither, and node 20's V8 reads their pre-standard
//! encodings. Wasmtime is the oracle for those, in the workspace member
//! `tests/differential/wasmtime` (`cargo test --release -p
//! differential-wasmtime`).

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
/// the features of [`proposal_uses`] (release and debug runs; 69, 510,
/// 225, 333, 332, 627 and 5, 44, 19, 28, 26, 58 do).
const FLOOR_PROPOSAL_MODULES: [[u64; 6]; 2] =
    [[60, 460, 200, 300, 300, 560], [4, 40, 16, 25, 23, 52]];
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
    report("differential", &bugs, &failures);
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
    // The proposal cases really use the proposals' features.
    let mut used = [0u64; 6];
    for &seed in seeds.iter().filter(|&&s| s >= PROPOSAL_SEEDS) {
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
        "relaxed SIMD",
    ];
    for ((what, n), floor) in names.into_iter().zip(used).zip(floors) {
        if custom {
            println!("differential: modules using {what}: {n}");
        } else {
            println!("differential: modules using {what}: {n}, floor {floor}");
            assert!(
                n >= floor,
                "differential: {n} modules use {what}, below the floor {floor}"
            );
        }
    }
    if custom {
        println!("differential: DIFF_SEED_START/DIFF_COUNT set: the floors are NOT checked");
        return;
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
/// table, relaxed SIMD]`.
fn proposal_uses(bytes: &[u8]) -> [bool; 6] {
    use wasmparser::{Operator, Parser, Payload, TypeRef};
    let mut uses = [false; 6];
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
                        Ok(op) if oracle::relaxed::is_relaxed(&op) => uses[5] = true,
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

/// The relaxed SIMD operators and their arities, as `(export, operator,
/// operands)`.
const RELAXED_OPS: &[(&str, &str, usize)] = &[
    ("swizzle", "i8x16.relaxed_swizzle", 2),
    ("trunc_f32_s", "i32x4.relaxed_trunc_f32x4_s", 1),
    ("trunc_f32_u", "i32x4.relaxed_trunc_f32x4_u", 1),
    ("trunc_f64_s", "i32x4.relaxed_trunc_f64x2_s_zero", 1),
    ("trunc_f64_u", "i32x4.relaxed_trunc_f64x2_u_zero", 1),
    ("madd32", "f32x4.relaxed_madd", 3),
    ("nmadd32", "f32x4.relaxed_nmadd", 3),
    ("madd64", "f64x2.relaxed_madd", 3),
    ("nmadd64", "f64x2.relaxed_nmadd", 3),
    ("select8", "i8x16.relaxed_laneselect", 3),
    ("select16", "i16x8.relaxed_laneselect", 3),
    ("select32", "i32x4.relaxed_laneselect", 3),
    ("select64", "i64x2.relaxed_laneselect", 3),
    ("min32", "f32x4.relaxed_min", 2),
    ("max32", "f32x4.relaxed_max", 2),
    ("min64", "f64x2.relaxed_min", 2),
    ("max64", "f64x2.relaxed_max", 2),
    ("q15mulr", "i16x8.relaxed_q15mulr_s", 2),
    ("dot", "i16x8.relaxed_dot_i8x16_i7x16_s", 2),
    ("dot_add", "i32x4.relaxed_dot_i8x16_i7x16_add_s", 3),
];

/// `lanes` (little-endian, each `bits` wide) as a `v128`.
fn v128_of(lanes: &[u64], bits: u32) -> u128 {
    let mask = if bits == 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    };
    lanes.iter().enumerate().fold(0u128, |v, (i, &l)| {
        v | u128::from(l & mask) << (bits * i as u32)
    })
}

/// Edge-case vectors for every reading of the lanes, and random ones.
fn relaxed_inputs() -> Vec<u128> {
    let f32s: Vec<u64> = [
        0x7fc0_0000,
        0xffc0_0000,
        0x7f80_0001,
        0x7fa0_1234,
        0,
        0x8000_0000,
        0x7f80_0000,
        0xff80_0000,
        1f32.to_bits(),
        (-1.5f32).to_bits(),
        0.5f32.to_bits(),
        2_147_483_648f32.to_bits(),
        (-2_147_483_648f32).to_bits(),
        0x4eff_ffff,
        0xcf00_0001,
        4.3e9f32.to_bits(),
        (-4.3e9f32).to_bits(),
        1,
        f32::MAX.to_bits(),
        0x3f80_0001,
        0x3f7f_ffff,
    ]
    .map(u64::from)
    .to_vec();
    let f64s: Vec<u64> = [
        f64::NAN.to_bits(),
        0xfff8_0000_0000_0000,
        0x7ff0_0000_0000_0001,
        0,
        0x8000_0000_0000_0000,
        f64::INFINITY.to_bits(),
        f64::NEG_INFINITY.to_bits(),
        2_147_483_647.9f64.to_bits(),
        (-2_147_483_648.9f64).to_bits(),
        (-2_147_483_649f64).to_bits(),
        2_147_483_648f64.to_bits(),
        (-2_147_483_648f64).to_bits(),
        4_294_967_296f64.to_bits(),
        1.5f64.to_bits(),
        (-0.5f64).to_bits(),
        1,
        f64::MAX.to_bits(),
    ]
    .to_vec();
    let i16s: Vec<u64> = [
        0x8000, 0x7fff, 0xffff, 0, 1, 0x4000, 0xc000, 0x8001, 0x00ff, 0x7f80, 0x8080,
    ]
    .to_vec();
    let i8s: Vec<u64> = [
        0x80, 0xff, 0x7f, 0, 1, 15, 16, 17, 31, 127, 128, 200, 0x8f, 0x90, 0x70,
    ]
    .to_vec();
    let mut out = Vec::new();
    for (values, bits) in [(&f32s, 32), (&f64s, 64), (&i16s, 16), (&i8s, 8)] {
        let lanes = 128 / bits as usize;
        for r in 0..values.len() {
            let lane: Vec<u64> = (0..lanes)
                .map(|i| values[(r + i * 3) % values.len()])
                .collect();
            out.push(v128_of(&lane, bits));
        }
    }
    let mut rng = Rng(0x5eed_4e1a_0000_0001);
    out.extend((0..24).map(|_| u128::from(rng.next()) << 64 | u128::from(rng.next())));
    out
}

/// The relaxed SIMD rewrite the oracles run (`differential/relaxed.rs`)
/// computes what wasmkern computes, on edge cases of every lane reading,
/// and both give the documented choices on hand-computed cases.
#[test]
fn relaxed_rewrites_agree_with_wasmkern() {
    let mut wat = String::from("(module");
    for (name, op, arity) in RELAXED_OPS {
        let params = " v128".repeat(*arity);
        let gets: String = (0..*arity).map(|i| format!(" (local.get {i})")).collect();
        wat.push_str(&format!(
            " (func (export \"{name}\") (param{params}) (result v128) ({op}{gets}))"
        ));
    }
    wat.push(')');
    // What every engine runs: NaNs of `relaxed_madd` canonical.
    let bytes = oracle::relaxed::canonicalize_madd(&wat::parse_str(&wat).unwrap()).unwrap();
    let reference = oracle::relaxed::standardize(&bytes).unwrap();
    assert!(oracle::relaxed::uses_relaxed(&bytes));
    assert!(!oracle::relaxed::uses_relaxed(&reference));

    let kern_engine = wasmkern::Engine::default();
    let kern_module = wasmkern::Module::new(&kern_engine, &bytes).unwrap();
    let mut kern_store = wasmkern::Store::new(&kern_engine, ());
    let kern = wasmkern::Instance::new(&mut kern_store, &kern_module, &[]).unwrap();
    let wasmi_engine = wasmi::Engine::default();
    let wasmi_module = wasmi::Module::new(&wasmi_engine, &reference[..]).unwrap();
    let mut wasmi_store = wasmi::Store::new(&wasmi_engine, ());
    let wasmi = wasmi::Instance::new(&mut wasmi_store, &wasmi_module, &[]).unwrap();
    let mut call = |name: &str, args: &[u128]| -> (u128, u128) {
        let f = kern.get_func(&kern_store, name).unwrap();
        let kargs: Vec<wasmkern::Val> = args.iter().map(|&a| wasmkern::Val::V128(a)).collect();
        let mut out = [wasmkern::Val::V128(0)];
        f.call(&mut kern_store, &kargs, &mut out).unwrap();
        let wasmkern::Val::V128(k) = out[0] else {
            panic!("{name}: not a v128")
        };
        let f = wasmi.get_func(&wasmi_store, name).unwrap();
        let wargs: Vec<wasmi::Val> = args
            .iter()
            .map(|&a| wasmi::Val::V128(wasmi::V128::from(a)))
            .collect();
        let mut out = [wasmi::Val::V128(wasmi::V128::from(0u128))];
        f.call(&mut wasmi_store, &wargs, &mut out).unwrap();
        let wasmi::Val::V128(w) = out[0] else {
            panic!("{name}: not a v128")
        };
        (k, w.as_u128())
    };

    // Hand-computed results of the documented choices
    // (`src/compile/x64/relaxed_simd.rs`).
    let min32 = i32::MIN as u32 as u64;
    let f32v = |l: [f32; 4]| v128_of(&l.map(|x| u64::from(x.to_bits())), 32);
    let f64v = |l: [f64; 2]| v128_of(&l.map(f64::to_bits), 64);
    let cases: Vec<(&str, Vec<u128>, u128)> = vec![
        (
            "swizzle",
            vec![
                v128_of(&(0..16).map(|i| 0x10 + i).collect::<Vec<_>>(), 8),
                v128_of(&[200, 17, 15, 0x80, 0x8f, 16, 31, 127], 8),
            ],
            v128_of(
                &[
                    0, 0x11, 0x1f, 0, 0, 0x10, 0x1f, 0x1f, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
                    0x10, 0x10,
                ],
                8,
            ),
        ),
        (
            "trunc_f32_s",
            vec![f32v([f32::NAN, 3e9, -3e9, -1.5])],
            v128_of(&[min32, min32, min32, u64::MAX], 32),
        ),
        (
            "trunc_f32_u",
            vec![f32v([f32::NAN, 3e9, -3e9, 5e9])],
            v128_of(&[0, 3_000_000_000, 0, u64::from(u32::MAX)], 32),
        ),
        (
            "trunc_f64_s",
            vec![f64v([f64::NAN, -2_147_483_648.9])],
            v128_of(&[min32, min32, 0, 0], 32),
        ),
        (
            "trunc_f64_s",
            vec![f64v([2_147_483_648.0, 2_147_483_647.9])],
            v128_of(&[min32, 0x7fff_ffff, 0, 0], 32),
        ),
        (
            "min32",
            vec![
                f32v([f32::NAN, 0.0, -0.0, 1.0]),
                v128_of(&[2f32.to_bits().into(), 0x8000_0000, 0, 0x7fc0_0001], 32),
            ],
            v128_of(&[2f32.to_bits().into(), 0x8000_0000, 0, 0x7fc0_0001], 32),
        ),
        (
            "max32",
            vec![
                f32v([1.0, 5.0, -3.0, f32::INFINITY]),
                f32v([2.0, 4.0, -4.0, 0.0]),
            ],
            f32v([2.0, 5.0, -3.0, f32::INFINITY]),
        ),
        (
            "min64",
            vec![f64v([-0.0, 1.0]), f64v([0.0, f64::NAN])],
            f64v([0.0, f64::NAN]),
        ),
        (
            "q15mulr",
            vec![
                v128_of(&[0x8000, 0x8000, 0x4000, 0x8000], 16),
                v128_of(&[0x8000, 0x8001, 0x4000, 0x7fff], 16),
            ],
            v128_of(&[0x8000, 0x7fff, 0x2000, 0x8001], 16),
        ),
        (
            "dot",
            vec![
                v128_of(&[0x80, 0x80, 0x7f, 0x7f, 1, 0xff], 8),
                v128_of(&[0xff, 0xff, 0xff, 0xff, 200, 3], 8),
            ],
            v128_of(&[0x8000, 0x7fff, 197], 16),
        ),
        (
            "dot_add",
            vec![
                v128_of(&[0x80; 16], 8),
                v128_of(&[0xff; 16], 8),
                v128_of(&[5; 4], 32),
            ],
            v128_of(&[(-65531i64) as u64; 4], 32),
        ),
        // Unfused: (1 + 2^-23) * (1 - 2^-24) rounds to 1 before the add.
        (
            "madd32",
            vec![
                v128_of(&[0x3f80_0001, 2f32.to_bits().into()], 32),
                v128_of(&[0x3f7f_ffff, 3f32.to_bits().into()], 32),
                f32v([-1.0, 1.0, 0.0, 0.0]),
            ],
            f32v([0.0, 7.0, 0.0, 0.0]),
        ),
        (
            "nmadd32",
            vec![f32v([2.0; 4]), f32v([3.0; 4]), f32v([1.0; 4])],
            f32v([-5.0; 4]),
        ),
        (
            "select32",
            vec![
                v128_of(&[0xaa; 16], 8),
                v128_of(&[0x55; 16], 8),
                v128_of(&[0x0f; 16], 8),
            ],
            v128_of(&[0x5a; 16], 8),
        ),
    ];
    for (name, args, want) in &cases {
        let (k, w) = call(name, args);
        assert_eq!(k, *want, "wasmkern {name}{args:x?}: {k:#x}, want {want:#x}");
        assert_eq!(w, *want, "rewrite {name}{args:x?}: {w:#x}, want {want:#x}");
    }

    // Edge cases: every input for unary operators, every pair for binary
    // ones, a sample of triples for the others.
    let inputs = relaxed_inputs();
    let mut rng = Rng(0x4e1a_0000_0000_0007);
    let mut compared = 0u64;
    for (name, _, arity) in RELAXED_OPS {
        let argss: Vec<Vec<u128>> = match arity {
            1 => inputs.iter().map(|&a| vec![a]).collect(),
            2 => inputs
                .iter()
                .flat_map(|&a| inputs.iter().map(move |&b| vec![a, b]))
                .collect(),
            _ => (0..4_000)
                .map(|_| (0..3).map(|_| inputs[rng.below(inputs.len())]).collect())
                .collect(),
        };
        for args in argss {
            let (k, w) = call(name, &args);
            assert_eq!(
                k, w,
                "{name}{args:x?}: wasmkern {k:#x}, the rewrite on wasmi {w:#x}"
            );
            compared += 1;
        }
    }
    println!(
        "relaxed rewrites: {compared} calls agree, {} hand-computed",
        cases.len()
    );
}
