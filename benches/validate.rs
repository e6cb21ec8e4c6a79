//! Decode + validate throughput of `wasmkern::validate` against wasmparser
//! (`Validator::validate_all`, WebAssembly 2.0 + SIMD) on one large module.
//!
//! The module is generated deterministically by wasm-smith: thousands of
//! valid functions, over 1 MB in total. The summary line also measures the
//! compile benchmark's clang -O2 program (`benches/large/large.wasm`), the
//! realistic case.
//!
//! Run with `cargo bench --bench validate`; after Criterion's report a
//! summary line gives MB/s of each and the ratio.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};

/// The module must be at least this large.
const MIN_SIZE: usize = 1 << 20;

/// SplitMix64, for wasm-smith's input bytes.
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn smith_config() -> wasm_smith::Config {
    wasm_smith::Config {
        min_funcs: 2_000,
        max_funcs: 10_000,
        max_instructions: 2_000,
        max_imports: 0,
        max_tables: 2,
        max_memories: 1,
        min_memories: 1,
        threads_enabled: false,
        tail_call_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        memory64_enabled: false,
        relaxed_simd_enabled: false,
        custom_page_sizes_enabled: false,
        wide_arithmetic_enabled: false,
        extended_const_enabled: false,
        compact_imports_enabled: false,
        ..wasm_smith::Config::default()
    }
}

/// A valid WebAssembly 2.0 + SIMD module of at least [`MIN_SIZE`] bytes.
fn large_module() -> Vec<u8> {
    let mut input_len = 4 << 20;
    loop {
        let input = random_bytes(0xbe4c_0001, input_len);
        let mut u = arbitrary::Unstructured::new(&input);
        let module = wasm_smith::Module::new(smith_config(), &mut u)
            .expect("wasm-smith failed")
            .to_bytes();
        if module.len() >= MIN_SIZE {
            wasmparser_validate(&module).expect("wasm-smith made an invalid module");
            return module;
        }
        input_len *= 2;
    }
}

fn wasmparser_validate(bytes: &[u8]) -> Result<(), wasmparser::BinaryReaderError> {
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::WASM2)
        .validate_all(bytes)
        .map(drop)
}

/// MB/s of `f` over `bytes`, the best of a few runs of about 1 s in all.
fn mb_per_s(bytes: &[u8], f: impl Fn(&[u8])) -> f64 {
    let mut best = Duration::MAX;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(1) {
        let t = Instant::now();
        f(black_box(bytes));
        best = best.min(t.elapsed());
    }
    bytes.len() as f64 / 1e6 / best.as_secs_f64()
}

fn main() {
    let module = large_module();
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("validate");
    group.throughput(Throughput::Bytes(module.len() as u64));
    group.bench_function("wasmkern", |b| {
        b.iter(|| wasmkern::validate(black_box(&module)))
    });
    group.bench_function("wasmparser", |b| {
        b.iter(|| wasmparser_validate(black_box(&module)))
    });
    group.finish();
    c.final_summary();

    // `cargo test --benches` runs this without `--bench`: skip the summary.
    if std::env::args().any(|a| a == "--bench") {
        // The compile benchmark's clang -O2 program as well (committed).
        let large = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/large/large.wasm"
        ))
        .expect("benches/large/large.wasm");
        for (name, module) in [
            ("wasm-smith module", &module),
            ("clang -O2 program", &large),
        ] {
            let ours = mb_per_s(module, |m| {
                let _ = wasmkern::validate(m);
            });
            let theirs = mb_per_s(module, |m| {
                let _ = wasmparser_validate(m);
            });
            let verdict = if wasmkern::validate(module).is_ok() {
                "accepted"
            } else {
                "REJECTED"
            };
            println!(
                "{name}: {:.2} MB, wasmkern {verdict} it; wasmkern {ours:.1} MB/s, wasmparser {theirs:.1} MB/s, ratio {:.2}",
                module.len() as f64 / 1e6,
                ours / theirs
            );
        }
    }
}
