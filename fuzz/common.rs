//! What the fuzz targets share: wasm-smith's configuration and the
//! validation verdict check.
#![allow(dead_code)]

/// wasm-smith's configuration: WebAssembly 2.0 with SIMD, and tail calls
/// (on in `Config`'s defaults, which the `compile` target's engine uses).
pub fn smith_config(allow_invalid_funcs: bool) -> wasm_smith::Config {
    wasm_smith::Config {
        multi_value_enabled: true,
        reference_types_enabled: true,
        bulk_memory_enabled: true,
        sign_extension_ops_enabled: true,
        saturating_float_to_int_enabled: true,
        simd_enabled: true,
        max_tables: 4,
        max_memories: 1,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        tail_call_enabled: true,
        exceptions_enabled: false,
        gc_enabled: false,
        memory64_enabled: false,
        relaxed_simd_enabled: false,
        custom_page_sizes_enabled: false,
        wide_arithmetic_enabled: false,
        extended_const_enabled: false,
        compact_imports_enabled: false,
        custom_descriptors_enabled: false,
        allow_invalid_funcs,
        ..wasm_smith::Config::default()
    }
}

/// wasmparser's verdict with the features `wasmkern::validate` accepts
/// (`Config`'s defaults): WebAssembly 2.0 with SIMD, extended constant
/// expressions and tail calls.
pub fn wasmparser_accepts(bytes: &[u8]) -> bool {
    let mut features = wasmparser::WasmFeatures::WASM2;
    features.insert(wasmparser::WasmFeatures::EXTENDED_CONST);
    features.insert(wasmparser::WasmFeatures::TAIL_CALL);
    wasmparser::Validator::new_with_features(features)
        .validate_all(bytes)
        .is_ok()
}

/// `wasmkern::validate` (which must not panic) agrees with wasmparser.
pub fn check_verdict(bytes: &[u8]) {
    let ours = wasmkern::validate(bytes);
    let theirs = wasmparser_accepts(bytes);
    if ours.is_ok() != theirs {
        panic!(
            "verdicts differ: wasmkern {:?}, wasmparser {}\n{}",
            ours,
            if theirs { "accepts" } else { "rejects" },
            wasmprinter::print_bytes(bytes).unwrap_or_default()
        );
    }
}
