//! The fuzz targets of `fuzz/` for a bounded time, without libFuzzer (the
//! pinned stable toolchain cannot build libFuzzer's instrumentation), so
//! that CI keeps their claims fresh.
//!
//! Each target's body (`fuzz/targets.rs`, the same code the libFuzzer
//! binaries run) gets first every file of its corpus, `fuzz/corpus/<target>/`,
//! then deterministic inputs until its time is up: seeded random bytes, and
//! corpus entries with seeded byte mutations (overwrites, insertions,
//! deletions, truncations). A panic is a finding: the test fails with the
//! target, the input's seed and the panic message (the targets put the
//! module as WAT into it), and writes the input to
//! `$CARGO_TARGET_TMPDIR/fuzz-smoke-<target>-<seed>.bin`; replay it with
//! `FUZZ_SEED=<seed> cargo test --release --test fuzz_smoke -- <target>`.
//!
//! `FUZZ_SECONDS` sets each target's time (default 5 s; CI runs 60 s per
//! target, `.ci/run`). Each target must run at least its corpus and
//! [`MIN_RANDOM`] generated inputs whatever the time, so a slow machine
//! checks less but never nothing; the counts are printed.

#[path = "../fuzz/common.rs"]
mod common;
#[path = "differential/oracle.rs"]
mod oracle;
#[path = "../fuzz/targets.rs"]
mod targets;
#[path = "differential/v8.rs"]
mod v8;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use oracle::Rng;

/// Default seconds per target.
const DEFAULT_SECONDS: u64 = 5;
/// Generated inputs each target runs at least.
const MIN_RANDOM: u64 = 20;
/// The largest generated input.
const MAX_LEN: usize = 16 * 1024;
/// Generated inputs skipped because the oracle itself crashes on them,
/// taking the test process down before any verdict, `(target, seed)`:
/// wasmi 2.0 dies of a segmentation fault (in its executor's
/// `u64_copy_s8r`, running the start function while instantiating) on
/// the module the differential target builds from this input. A faster
/// machine reaches further in the same time, so without the entry a run
/// would end there.
const ORACLE_CRASH_SEEDS: [(&str, u64); 1] = [("differential", 17_303_392_718_310_958_981)];

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the corpus {} is missing: {e}", dir.display()))
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, bytes)
        })
        .collect()
}

/// The generated input of `seed`: random bytes, or a mutated corpus entry.
fn input(seed: u64, corpus: &[(PathBuf, Vec<u8>)]) -> Vec<u8> {
    let mut rng = Rng(seed);
    if corpus.is_empty() || rng.below(2) == 0 {
        let len = 1 + rng.below(MAX_LEN);
        return rng.bytes(len);
    }
    let mut bytes = corpus[rng.below(corpus.len())].1.clone();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(bytes.len().max(1));
        match rng.below(4) {
            0 if !bytes.is_empty() => bytes[at] = rng.next() as u8,
            1 => bytes.insert(at.min(bytes.len()), rng.next() as u8),
            2 if !bytes.is_empty() => {
                bytes.remove(at);
            }
            _ => bytes.truncate(at.max(1)),
        }
    }
    bytes
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Runs `body` over the corpus of `target` and generated inputs.
fn smoke(target: &str, body: fn(&[u8])) {
    let seconds = std::env::var("FUZZ_SECONDS")
        .ok()
        .map(|v| v.parse().expect("FUZZ_SECONDS must be a number"))
        .unwrap_or(DEFAULT_SECONDS);
    let corpus = corpus(target);
    assert!(!corpus.is_empty(), "fuzz/corpus/{target} is empty");
    let run = |bytes: &[u8], what: &str| {
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| body(bytes))) {
            let path = format!(
                "{}/fuzz-smoke-{target}-{}.bin",
                env!("CARGO_TARGET_TMPDIR"),
                what.replace([' ', '/'], "_")
            );
            let written = std::fs::write(&path, bytes)
                .map_or_else(|e| format!("not written: {e}"), |()| path);
            panic!(
                "fuzz target {target} failed on {what} (input: {written}):\n{}",
                panic_message(&*p)
            );
        }
    };
    if let Some(seed) = std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok()) {
        run(&input(seed, &corpus), &format!("seed {seed}"));
        return;
    }
    let started = Instant::now();
    for (path, bytes) in &corpus {
        run(bytes, &format!("corpus file {}", path.display()));
    }
    let budget = Duration::from_secs(seconds);
    let base = 0xf022_0000_0000_0000u64 ^ target.len() as u64;
    let mut n = 0u64;
    let mut skipped = 0;
    while n < MIN_RANDOM || started.elapsed() < budget {
        let seed = base + n;
        n += 1;
        if ORACLE_CRASH_SEEDS.contains(&(target, seed)) {
            skipped += 1;
            continue;
        }
        run(&input(seed, &corpus), &format!("seed {seed}"));
    }
    println!(
        "fuzz smoke {target}: {} corpus files and {n} generated inputs (seeds {base} to {}, \
         {skipped} skipped) in {:.1?}",
        corpus.len(),
        base + n - 1,
        started.elapsed()
    );
}

#[test]
fn validate() {
    smoke("validate", targets::validate);
}

#[test]
fn compile() {
    smoke("compile", targets::compile);
    println!(
        "fuzz smoke compile: {} valid modules, {} compiled",
        targets::COMPILE_RUNS.load(std::sync::atomic::Ordering::Relaxed),
        targets::COMPILED.load(std::sync::atomic::Ordering::Relaxed)
    );
}

#[test]
fn load() {
    smoke("load", targets::load);
    let runs = targets::LOAD_RUNS.load(std::sync::atomic::Ordering::Relaxed);
    let loaded = targets::LOADED.load(std::sync::atomic::Ordering::Relaxed);
    println!("fuzz smoke load: {runs} edited serialized modules, {loaded} accepted");
    assert!(runs >= 20, "only {runs} edited modules");
}

/// wasmi is a weak oracle (`tests/differential.rs`): a disagreement in
/// which V8 does what wasmkern did is counted as a wasmi bug, and at most
/// one module in [`MAX_WASMI_BUGS_PER`] may be one.
#[test]
fn differential() {
    const MAX_WASMI_BUGS_PER: u64 = 1000;
    let _ = targets::REFEREE
        .set(|bytes, disagreement| matches!(v8::decide(bytes, disagreement), v8::Verdict::Kern));
    smoke("differential", targets::differential);
    let bugs = targets::WASMI_BUGS.load(std::sync::atomic::Ordering::Relaxed);
    if let Some((runs, stats)) = &*targets::DIFFERENTIAL
        .lock()
        .unwrap_or_else(|p| p.into_inner())
    {
        println!(
            "fuzz smoke differential: {runs} modules: {stats}; {bugs} wasmi bugs decided by V8"
        );
        assert!(
            bugs * MAX_WASMI_BUGS_PER <= *runs,
            "{bugs} wasmi bugs in {runs} modules: more than one in {MAX_WASMI_BUGS_PER}"
        );
    }
}
