//! The large module of the compile-throughput benchmark, generated
//! deterministically by wasm-smith: thousands of functions, at least 1 MiB,
//! WebAssembly 2.0 without SIMD and reference types (Wasmtime built without its
//! `gc` feature rejects `externref`). Same generator as the root crate's `benches/validate.rs`.

/// The module must be at least this large.
const MIN_SIZE: usize = 1 << 20;

/// SplitMix64, for wasm-smith's input bytes. (Not every seed works: with
/// some, wasm-smith's first choices leave no function types, and the module
/// is empty whatever the input's length.)
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

fn config() -> wasm_smith::Config {
    wasm_smith::Config {
        min_funcs: 2_000,
        max_funcs: 10_000,
        max_instructions: 2_000,
        max_imports: 0,
        max_tables: 1,
        reference_types_enabled: false,
        max_memories: 1,
        min_memories: 1,
        simd_enabled: false,
        relaxed_simd_enabled: false,
        threads_enabled: false,
        tail_call_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        memory64_enabled: false,
        custom_page_sizes_enabled: false,
        wide_arithmetic_enabled: false,
        extended_const_enabled: false,
        compact_imports_enabled: false,
        ..wasm_smith::Config::default()
    }
}

/// The module and its number of defined functions: from the first seed
/// that makes a large enough module (the same one every time).
pub fn large_module() -> Result<(Vec<u8>, usize), String> {
    let mut sizes = Vec::new();
    for seed in 0xbe4c_0001..0xbe4c_0020 {
        for input_len in [4 << 20, 16 << 20] {
            let input = random_bytes(seed, input_len);
            let mut u = arbitrary::Unstructured::new(&input);
            let module = wasm_smith::Module::new(config(), &mut u)
                .map_err(|e| format!("wasm-smith: {e}"))?
                .to_bytes();
            if module.len() >= MIN_SIZE {
                let mut features = wasmparser::WasmFeatures::WASM2;
                features.remove(wasmparser::WasmFeatures::SIMD);
                features.remove(wasmparser::WasmFeatures::REFERENCE_TYPES);
                wasmparser::Validator::new_with_features(features)
                    .validate_all(&module)
                    .map_err(|e| format!("wasm-smith made an invalid module: {e}"))?;
                let funcs = count_functions(&module);
                return Ok((module, funcs));
            }
            sizes.push(module.len());
        }
    }
    Err(format!(
        "wasm-smith made no module of {MIN_SIZE} bytes (sizes: {sizes:?})"
    ))
}

/// The number of function bodies in `module`.
pub fn count_functions(module: &[u8]) -> usize {
    wasmparser::Parser::new(0)
        .parse_all(module)
        .filter_map(Result::ok)
        .map(|payload| match payload {
            wasmparser::Payload::CodeSectionStart { count, .. } => count as usize,
            _ => 0,
        })
        .sum()
}
