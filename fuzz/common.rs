//! What the fuzz targets share: wasm-smith's configuration and the
//! validation verdict check.
#![allow(dead_code)]

/// wasm-smith's configuration: WebAssembly 2.0 with SIMD and the 3.0
/// features on in `Config`'s defaults (which the `compile` target's engine
/// uses) that wasm-smith generates: tail calls, several memories, 64-bit
/// memories and tables, relaxed SIMD, exception handling (`try_table`,
/// `throw`, `throw_ref`; not the legacy `try`).
pub fn smith_config(allow_invalid_funcs: bool) -> wasm_smith::Config {
    wasm_smith::Config {
        multi_value_enabled: true,
        reference_types_enabled: true,
        bulk_memory_enabled: true,
        sign_extension_ops_enabled: true,
        saturating_float_to_int_enabled: true,
        simd_enabled: true,
        max_tables: 4,
        max_memories: 3,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        tail_call_enabled: true,
        exceptions_enabled: true,
        gc_enabled: false,
        memory64_enabled: true,
        relaxed_simd_enabled: true,
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
/// (`Config`'s defaults): WebAssembly 2.0 with SIMD and the standardized
/// 3.0 features but GC.
pub fn wasmparser_accepts(bytes: &[u8]) -> bool {
    let mut features = wasmparser::WasmFeatures::WASM2;
    for f in [
        wasmparser::WasmFeatures::EXTENDED_CONST,
        wasmparser::WasmFeatures::TAIL_CALL,
        wasmparser::WasmFeatures::MEMORY64,
        wasmparser::WasmFeatures::MULTI_MEMORY,
        wasmparser::WasmFeatures::RELAXED_SIMD,
        wasmparser::WasmFeatures::FUNCTION_REFERENCES,
        wasmparser::WasmFeatures::EXCEPTIONS,
    ] {
        features.insert(f);
    }
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
