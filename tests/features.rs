//! The `Config::wasm_*` switches of the features beyond WebAssembly 2.0:
//! their defaults, the validator's rejection of a disabled feature (naming
//! the feature and the switch), that every enabled feature compiles, and
//! the runtime side that needs no compiler
//! (extended constants, several memories, 64-bit and 1-byte-page memory
//! types).

use wasmkern::{
    Config, Engine, ErrorKind, Feature, Features, Instance, Linker, Memory, MemoryType, Module,
    Store,
};

fn wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).expect("test module parses")
}

/// An engine with exactly WebAssembly 2.0 (every feature beyond it off).
fn wasm2_engine() -> Engine {
    let mut config = Config::new();
    for f in Feature::ALL {
        config.wasm_feature(f, false);
    }
    Engine::new(&config).expect("engine")
}

fn engine(features: &[Feature]) -> Engine {
    let mut config = Config::new();
    for &f in features {
        config.wasm_feature(f, true);
    }
    Engine::new(&config).expect("engine")
}

/// One module per feature that uses it (and nothing else beyond 2.0).
fn module_using(feature: Feature) -> Vec<u8> {
    wat(match feature {
        Feature::TailCall => {
            r#"(module (func $f (result i32) (i32.const 1))
                 (func (export "g") (result i32) (return_call $f)))"#
        }
        Feature::Memory64 => {
            r#"(module (memory i64 1)
                 (func (export "load") (param i64) (result i32) (i32.load (local.get 0))))"#
        }
        Feature::MultiMemory => {
            r#"(module (memory 1) (memory $m1 1)
                 (func (export "load") (param i32) (result i32) (i32.load $m1 (local.get 0))))"#
        }
        Feature::ExtendedConst => {
            r#"(module (global (export "g") i32 (i32.mul (i32.const 6) (i32.const 7))))"#
        }
        Feature::RelaxedSimd => {
            r#"(module (func (export "f") (param v128 v128) (result v128)
                 (i8x16.relaxed_swizzle (local.get 0) (local.get 1))))"#
        }
        Feature::CustomPageSizes => {
            r#"(module (memory 1 (pagesize 1))
                 (func (export "size") (result i32) (memory.size)))"#
        }
        Feature::WideArithmetic => {
            r#"(module (func (export "f") (param i64 i64) (result i64 i64)
                 (i64.mul_wide_u (local.get 0) (local.get 1))))"#
        }
        Feature::FunctionReferences => {
            r#"(module (type $t (func (result i32)))
                 (func (export "f") (param (ref null $t)) (result i32)
                   (call_ref $t (local.get 0))))"#
        }
        // No tag section (which 2.0 makes malformed): a `throw_ref`.
        Feature::Exceptions => {
            r#"(module (func (export "f") (param exnref) (throw_ref (local.get 0))))"#
        }
    })
}

#[test]
fn defaults_are_the_standardized_features() {
    let features = Config::new().wasm_features();
    assert_eq!(features, Features::DEFAULT);
    for f in Feature::ALL {
        assert_eq!(
            features.enabled(f),
            !matches!(f, Feature::CustomPageSizes | Feature::WideArithmetic),
            "{f}"
        );
    }
    // The default engine runs an extended constant expression.
    let engine = Engine::default();
    let module = Module::new(&engine, module_using(Feature::ExtendedConst)).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let g = instance.get_global(&store, "g").unwrap();
    assert_eq!(g.get(&store), wasmkern::Val::I32(42));
    // And a tail call.
    let module = Module::new(&engine, module_using(Feature::TailCall)).unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let g = instance.get_typed_func::<(), i32>(&store, "g").unwrap();
    assert_eq!(g.call(&mut store, ()).unwrap(), 1);
}

#[test]
fn a_disabled_feature_is_rejected_naming_it_and_its_switch() {
    for feature in Feature::ALL {
        let mut config = Config::new();
        for f in Feature::ALL {
            config.wasm_feature(f, f != feature);
        }
        let engine = Engine::new(&config).unwrap();
        let err = Module::new(&engine, module_using(feature)).unwrap_err();
        let text = err.to_string();
        match feature {
            // Arithmetic in a constant expression keeps 2.0's error.
            Feature::ExtendedConst => {
                assert!(text.contains("constant expression required"), "{text}")
            }
            // A page size in the memory's flags keeps 2.0's malformed error.
            Feature::CustomPageSizes => {
                assert!(text.contains("malformed limits flags"), "{text}")
            }
            // A second memory keeps 2.0's error.
            Feature::MultiMemory => assert!(text.contains("multiple memories"), "{text}"),
            _ => assert!(
                text.contains(&format!("{} support is not enabled", feature.name())),
                "{feature}: {text}"
            ),
        }
        assert!(text.contains(feature.switch()), "{feature}: {text}");
        assert!(
            matches!(err.kind(), ErrorKind::Invalid | ErrorKind::Malformed),
            "{feature}: {err:?}"
        );
    }
}

#[test]
fn every_enabled_feature_compiles() {
    // The compiler lowers every feature the validator knows (the check
    // that refuses one it did not, `compile::features`, has nothing left
    // to refuse): each module compiles and instantiates with its feature
    // on; the features' own tests (tests/tail_calls.rs, tests/memory64.rs,
    // tests/multi_memory.rs, tests/custom_page_sizes.rs, ...) run them.
    for feature in Feature::ALL {
        let engine = engine(&[feature]);
        let module = Module::new(&engine, module_using(feature))
            .unwrap_or_else(|e| panic!("{feature}: {e}"));
        let mut store = Store::new(&engine, ());
        Instance::new(&mut store, &module, &[]).unwrap_or_else(|e| panic!("{feature}: {e}"));
    }
}

#[test]
fn memory_indices_without_multi_memory_keep_the_2_0_errors() {
    let default = wasm2_engine();
    // `i32.load` with flags 0x42 (alignment 2, memory index 0 follows).
    let body = [0x41, 0x00, 0x28, 0x42, 0x00, 0x00, 0x1a, 0x0b];
    let err = Module::new(&default, module_with_body(&body)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Malformed, "{err}");
    assert!(err.to_string().contains("malformed memop flags"), "{err}");
    assert!(
        err.to_string().contains("Config::wasm_multi_memory"),
        "{err}"
    );
    // `memory.size` with a two-byte zero index.
    let body = [0x3f, 0x80, 0x00, 0x1a, 0x0b];
    let err = Module::new(&default, module_with_body(&body)).unwrap_err();
    assert!(err.to_string().contains("zero byte expected"), "{err}");
    // Both are valid with multi-memory.
    let multi = engine(&[Feature::MultiMemory]);
    for body in [
        &[0x41, 0x00, 0x28, 0x42, 0x00, 0x00, 0x1a, 0x0b][..],
        &[0x3f, 0x80, 0x00, 0x1a, 0x0b],
    ] {
        Module::new(&multi, module_with_body(body)).unwrap();
    }
}

/// A module with one memory and one function `[] -> []` of `body` (its
/// instructions and `end`, no locals).
fn module_with_body(body: &[u8]) -> Vec<u8> {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.extend_from_slice(&[0x01, 0x04, 0x01, 0x60, 0x00, 0x00]); // type [] -> []
    m.extend_from_slice(&[0x03, 0x02, 0x01, 0x00]); // one function
    m.extend_from_slice(&[0x05, 0x03, 0x01, 0x00, 0x01]); // memory 1
    let code_len = body.len() + 1;
    m.extend_from_slice(&[0x0a, (code_len + 2) as u8, 0x01, code_len as u8, 0x00]);
    m.extend_from_slice(body);
    m
}

#[test]
fn tail_call_results_must_match_the_callers() {
    let engine = engine(&[Feature::TailCall]);
    let bytes = wat(r#"(module (func $f (result i64) (i64.const 1))
        (func (result i32) (return_call $f)))"#);
    let err = Module::new(&engine, bytes).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(err.to_string().contains("type mismatch"), "{err}");
    let bytes = wat(r#"(module (type $t (func (result i64))) (table 1 funcref)
        (func (result i32) (return_call_indirect (type $t) (i32.const 0))))"#);
    let err = Module::new(&engine, bytes).unwrap_err();
    assert!(err.to_string().contains("type mismatch"), "{err}");
}

#[test]
fn memory64_addresses_are_i64() {
    let engine = engine(&[Feature::Memory64]);
    let bytes = wat(r#"(module (memory i64 1)
        (func (param i32) (result i32) (i32.load (local.get 0))))"#);
    let err = Module::new(&engine, bytes).unwrap_err();
    assert!(err.to_string().contains("type mismatch"), "{err}");
    // memory.size of a 64-bit memory is an i64.
    let bytes = wat(r#"(module (memory i64 1) (func (result i32) (memory.size)))"#);
    let err = Module::new(&engine, bytes).unwrap_err();
    assert!(err.to_string().contains("type mismatch"), "{err}");
}

#[test]
fn extended_constants_compute_offsets_and_globals() {
    let engine = Engine::default();
    let bytes = wat(r#"(module
        (import "env" "base" (global $base i32))
        (import "env" "big" (global $big i64))
        (memory (export "mem") 1)
        (global (export "sum") i32 (i32.sub (i32.add (global.get $base) (i32.const 10)) (i32.const 3)))
        (global (export "wrap") i64 (i64.mul (global.get $big) (i64.const 4)))
        (data (offset (i32.mul (global.get $base) (i32.const 2))) "hi"))"#);
    let module = Module::new(&engine, bytes).unwrap();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    let base = wasmkern::Global::new(
        &mut store,
        wasmkern::GlobalType {
            content: wasmkern::ValType::I32,
            mutable: false,
        },
        wasmkern::Val::I32(100),
    )
    .unwrap();
    let big = wasmkern::Global::new(
        &mut store,
        wasmkern::GlobalType {
            content: wasmkern::ValType::I64,
            mutable: false,
        },
        wasmkern::Val::I64(1 << 62),
    )
    .unwrap();
    linker.define(&store, "env", "base", base).unwrap();
    linker.define(&store, "env", "big", big).unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let sum = instance.get_global(&store, "sum").unwrap().get(&store);
    assert_eq!(sum, wasmkern::Val::I32(107));
    // 2^62 * 4 wraps to 0.
    let wrap = instance.get_global(&store, "wrap").unwrap().get(&store);
    assert_eq!(wrap, wasmkern::Val::I64(0));
    let mem = instance.get_memory(&store, "mem").unwrap();
    assert_eq!(&mem.data(&store)[200..202], b"hi");
    assert_eq!(mem.data(&store)[199], 0);
}

#[test]
fn several_memories_are_defined_imported_exported_and_initialized() {
    let engine = engine(&[Feature::MultiMemory]);
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    let imported = Memory::new(&mut store, MemoryType::new(1, Some(3))).unwrap();
    linker.define(&store, "env", "mem", imported).unwrap();
    // Code accessing memory 0 compiles; segments go into any memory.
    let bytes = wat(r#"(module
        (import "env" "mem" (memory $a 1))
        (memory $b (export "b") 2)
        (memory $c (export "c") 1 1)
        (export "a" (memory $a))
        (data (memory $a) (i32.const 1) "A")
        (data (memory $b) (i32.const 65537) "B")
        (data (memory $c) (i32.const 3) "C")
        (func (export "load0") (param i32) (result i32) (i32.load8_u (local.get 0))))"#);
    let module = Module::new(&engine, bytes).unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let a = instance.get_memory(&store, "a").unwrap();
    let b = instance.get_memory(&store, "b").unwrap();
    let c = instance.get_memory(&store, "c").unwrap();
    assert_eq!(a, imported);
    assert_eq!(a.data(&store)[1], b'A');
    assert_eq!(b.data(&store)[65537], b'B');
    assert_eq!(c.data(&store)[3], b'C');
    assert_eq!((a.size(&store), b.size(&store), c.size(&store)), (1, 2, 1));
    let load0 = instance
        .get_typed_func::<i32, i32>(&mut store, "load0")
        .unwrap();
    assert_eq!(load0.call(&mut store, 1).unwrap(), i32::from(b'A'));
    // A segment out of bounds of memory $c fails instantiation.
    let bytes = wat(r#"(module (memory 1) (memory $c 1)
        (data (memory $c) (i32.const 65535) "CC"))"#);
    let module = Module::new(&engine, bytes).unwrap();
    let err = Instance::new(&mut store, &module, &[]).unwrap_err();
    assert!(
        err.to_string().contains("out of bounds memory access"),
        "{err}"
    );
}

#[test]
fn memory64_types_reach_the_api_and_must_match_on_import() {
    let engine = engine(&[Feature::Memory64]);
    let bytes = wat(r#"(module (memory (export "m") i64 2 5)
        (data (i64.const 0x10000) "x"))"#);
    let module = Module::new(&engine, bytes).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let m = instance.get_memory(&store, "m").unwrap();
    let ty = m.ty(&store);
    assert!(ty.memory64);
    assert_eq!((ty.limits.min, ty.limits.max), (2, Some(5)));
    assert_eq!(m.data(&store)[0x10000], b'x');
    // A 64-bit memory does not satisfy a 32-bit import, nor the reverse.
    let importer = Module::new(&engine, wat(r#"(module (import "e" "m" (memory 1)))"#)).unwrap();
    let err = Instance::new(&mut store, &importer, &[m.into()]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Link, "{err}");
    let importer =
        Module::new(&engine, wat(r#"(module (import "e" "m" (memory i64 1)))"#)).unwrap();
    Instance::new(&mut store, &importer, &[m.into()]).unwrap();
    // Limits beyond 2^48 pages are invalid.
    let err = Module::new(&engine, wat("(module (memory i64 0x1000000000001))")).unwrap_err();
    assert!(
        err.to_string().contains("memory size must be at most"),
        "{err}"
    );
}

#[test]
fn custom_page_sizes_count_pages_of_one_byte() {
    let engine = engine(&[Feature::CustomPageSizes]);
    let bytes = wat(r#"(module (memory (export "m") 3 10 (pagesize 1))
        (data (i32.const 2) "z"))"#);
    let module = Module::new(&engine, bytes).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let m = instance.get_memory(&store, "m").unwrap();
    assert_eq!(m.ty(&store).page_size(), 1);
    assert_eq!((m.size(&store), m.data_size(&store)), (3, 3));
    assert_eq!(m.data(&store)[2], b'z');
    assert_eq!(m.grow(&mut store, 4).unwrap(), 3);
    assert_eq!((m.size(&store), m.data_size(&store)), (7, 7));
    assert!(m.grow(&mut store, 4).is_err(), "beyond the maximum of 10");
    // Page sizes other than 1 and 65536 are invalid.
    let mut bad = MemoryType::new(1, None);
    bad.page_size_log2 = Some(2);
    assert!(Memory::new(&mut store, bad).is_err());
    let err = Module::new(&engine, wat("(module (memory 1 (pagesize 4)))")).unwrap_err();
    assert!(
        err.to_string().contains("invalid custom page size"),
        "{err}"
    );
    // A 1-byte-page memory does not satisfy a 64 KiB-page import.
    let importer = Module::new(&engine, wat(r#"(module (import "e" "m" (memory 1)))"#)).unwrap();
    let err = Instance::new(&mut store, &importer, &[m.into()]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Link, "{err}");
    // An explicit 64 KiB page size is the default one: memory.size compiles.
    let bytes = wat(r#"(module (memory 2 (pagesize 65536))
        (func (export "size") (result i32) (memory.size)))"#);
    let module = Module::new(&engine, bytes).unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let size = instance
        .get_typed_func::<(), i32>(&mut store, "size")
        .unwrap();
    assert_eq!(size.call(&mut store, ()).unwrap(), 2);
    // Loads and stores of memory 0 compile, checked against its length in
    // bytes.
    let bytes = wat(r#"(module (memory 2 (pagesize 1))
        (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0))))"#);
    let module = Module::new(&engine, bytes).unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let load = instance
        .get_typed_func::<i32, i32>(&mut store, "load")
        .unwrap();
    assert_eq!(load.call(&mut store, 1).unwrap(), 0);
    let err = load.call(&mut store, 2).unwrap_err();
    assert!(
        err.to_string().contains("out of bounds memory access"),
        "{err}"
    );
}

#[test]
fn memory_limits_are_u64s_with_memory64() {
    // Memory section: one 32-bit memory whose minimum is 2^32 pages (a
    // LEB128 too large for a u32).
    let mut bytes = b"\0asm\x01\0\0\0".to_vec();
    bytes.extend_from_slice(&[0x05, 0x07, 0x01, 0x00, 0x80, 0x80, 0x80, 0x80, 0x10]);
    let err = Module::new(&wasm2_engine(), &bytes).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Malformed, "{err}");
    assert!(err.to_string().contains("integer too large"), "{err}");
    let err = Module::new(&engine(&[Feature::Memory64]), &bytes).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(
        err.to_string()
            .contains("memory size must be at most 65536 pages (4GiB)"),
        "{err}"
    );
}

/// The wide-arithmetic operators against Rust's 128-bit integers, on
/// values at the carry and sign boundaries and pseudo-random ones, in both
/// memory modes (the operators touch no memory, but the modes allocate
/// registers differently).
#[test]
fn wide_arithmetic_matches_128_bit_integers() {
    let text = r#"(module
        (func (export "add") (param i64 i64 i64 i64) (result i64 i64)
            (i64.add128 (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
        (func (export "sub") (param i64 i64 i64 i64) (result i64 i64)
            (i64.sub128 (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
        (func (export "mul_s") (param i64 i64) (result i64 i64)
            (i64.mul_wide_s (local.get 0) (local.get 1)))
        (func (export "mul_u") (param i64 i64) (result i64 i64)
            (i64.mul_wide_u (local.get 0) (local.get 1)))
        ;; Constant operands, results kept under other values.
        (func (export "mixed") (param i64) (result i64 i64 i64)
            (i64.const 7)
            (i64.mul_wide_u (local.get 0) (i64.const -1))
            (i64.add128 (i64.const -1) (i64.const 0) (i64.const 1) (i64.const 0))
            (drop)
            (i64.add)))"#;
    let mut values: Vec<u64> = vec![0, 1, 2, u64::MAX, u64::MAX - 1, 1 << 63, (1 << 63) - 1];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..8 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        values.push(x);
    }
    let split = |v: u128| (v as u64 as i64, (v >> 64) as u64 as i64);
    for guard in [false, true] {
        let mut config = Config::new();
        config.wasm_wide_arithmetic(true).guard_regions(guard);
        let engine = Engine::new(&config).unwrap();
        let module = Module::new(&engine, wat(text)).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let add = instance
            .get_typed_func::<(i64, i64, i64, i64), (i64, i64)>(&store, "add")
            .unwrap();
        let sub = instance
            .get_typed_func::<(i64, i64, i64, i64), (i64, i64)>(&store, "sub")
            .unwrap();
        let mul_s = instance
            .get_typed_func::<(i64, i64), (i64, i64)>(&store, "mul_s")
            .unwrap();
        let mul_u = instance
            .get_typed_func::<(i64, i64), (i64, i64)>(&store, "mul_u")
            .unwrap();
        for &a in &values {
            for &b in &values {
                // a and b as the low halves, their rotations as the high.
                let wa = u128::from(a) | u128::from(b.rotate_left(17)) << 64;
                let wb = u128::from(b) | u128::from(a.rotate_left(5)) << 64;
                let (al, ah) = split(wa);
                let (bl, bh) = split(wb);
                assert_eq!(
                    add.call(&mut store, (al, ah, bl, bh)).unwrap(),
                    split(wa.wrapping_add(wb)),
                    "add128 {wa:#x} {wb:#x}"
                );
                assert_eq!(
                    sub.call(&mut store, (al, ah, bl, bh)).unwrap(),
                    split(wa.wrapping_sub(wb)),
                    "sub128 {wa:#x} {wb:#x}"
                );
                let signed = i128::from(a as i64) * i128::from(b as i64);
                assert_eq!(
                    mul_s.call(&mut store, (a as i64, b as i64)).unwrap(),
                    split(signed as u128),
                    "mul_wide_s {a:#x} {b:#x}"
                );
                assert_eq!(
                    mul_u.call(&mut store, (a as i64, b as i64)).unwrap(),
                    split(u128::from(a) * u128::from(b)),
                    "mul_wide_u {a:#x} {b:#x}"
                );
            }
        }
        let mixed = instance
            .get_typed_func::<i64, (i64, i64, i64)>(&store, "mixed")
            .unwrap();
        // The stack: 7, lo and hi of 5 * (2^64 - 1), then (2^64 - 1) + 1 =
        // 2^64 as (0, 1); the 1 dropped and the 0 added to hi.
        let p = u128::from(5u64) * u128::from(u64::MAX);
        assert_eq!(
            mixed.call(&mut store, 5).unwrap(),
            (7, p as u64 as i64, (p >> 64) as u64 as i64)
        );
    }
}

/// The relaxed SIMD operators give the results `compile::x64::relaxed_simd`
/// documents in the cases the proposal leaves open (each an allowed
/// result), with and without the SSE4.2 extras, and the same on a second
/// run.
#[test]
fn relaxed_simd_gives_the_documented_choices() {
    let text = r#"(module
        (func (export "swizzle") (param v128 v128) (result v128)
            (i8x16.relaxed_swizzle (local.get 0) (local.get 1)))
        (func (export "trunc_s") (param v128) (result v128)
            (i32x4.relaxed_trunc_f32x4_s (local.get 0)))
        (func (export "trunc_u") (param v128) (result v128)
            (i32x4.relaxed_trunc_f32x4_u (local.get 0)))
        (func (export "trunc_s_zero") (param v128) (result v128)
            (i32x4.relaxed_trunc_f64x2_s_zero (local.get 0)))
        (func (export "trunc_u_zero") (param v128) (result v128)
            (i32x4.relaxed_trunc_f64x2_u_zero (local.get 0)))
        (func (export "madd") (param v128 v128 v128) (result v128)
            (f32x4.relaxed_madd (local.get 0) (local.get 1) (local.get 2)))
        (func (export "nmadd") (param v128 v128 v128) (result v128)
            (f64x2.relaxed_nmadd (local.get 0) (local.get 1) (local.get 2)))
        (func (export "laneselect") (param v128 v128 v128) (result v128)
            (i16x8.relaxed_laneselect (local.get 0) (local.get 1) (local.get 2)))
        (func (export "min") (param v128 v128) (result v128)
            (f32x4.relaxed_min (local.get 0) (local.get 1)))
        (func (export "max") (param v128 v128) (result v128)
            (f64x2.relaxed_max (local.get 0) (local.get 1)))
        (func (export "q15") (param v128 v128) (result v128)
            (i16x8.relaxed_q15mulr_s (local.get 0) (local.get 1)))
        (func (export "dot") (param v128 v128) (result v128)
            (i16x8.relaxed_dot_i8x16_i7x16_s (local.get 0) (local.get 1)))
        (func (export "dot_add") (param v128 v128 v128) (result v128)
            (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get 0) (local.get 1) (local.get 2))))"#;
    fn bytes(b: [u8; 16]) -> u128 {
        u128::from_le_bytes(b)
    }
    fn f32s(v: [f32; 4]) -> u128 {
        v.iter()
            .rev()
            .fold(0, |acc, x| acc << 32 | u128::from(x.to_bits()))
    }
    fn f64s(v: [f64; 2]) -> u128 {
        u128::from(v[1].to_bits()) << 64 | u128::from(v[0].to_bits())
    }
    fn i32s(v: [i32; 4]) -> u128 {
        v.iter()
            .rev()
            .fold(0, |acc, &x| acc << 32 | u128::from(x as u32))
    }
    fn i16s(v: [i16; 8]) -> u128 {
        v.iter()
            .rev()
            .fold(0, |acc, &x| acc << 16 | u128::from(x as u16))
    }
    let nan = f32::from_bits(0x7fc0_0001);
    let dnan = f64::from_bits(0x7ff8_0000_0000_0001);
    let cases: Vec<(&str, Vec<u128>, u128)> = vec![
        // Indices 16..=127 wrap to lane `index % 16`; 128 and above give 0.
        (
            "swizzle",
            vec![
                bytes(core::array::from_fn(|i| 0xa0 + i as u8)),
                bytes([17, 0x80, 15, 0xff, 0x7f, 32, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
            ],
            bytes([
                0xa1, 0, 0xaf, 0, 0xaf, 0xa0, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8,
                0xa9,
            ]),
        ),
        // NaN and out of range: i32::MIN, for the signed conversions.
        (
            "trunc_s",
            vec![f32s([nan, 3e9, -3e9, -7.9])],
            i32s([i32::MIN, i32::MIN, i32::MIN, -7]),
        ),
        (
            "trunc_u",
            vec![f32s([nan, 5e9, -3.0, 3e9])],
            i32s([0, -1, 0, 3_000_000_000u32 as i32]),
        ),
        (
            "trunc_s_zero",
            vec![f64s([dnan, -2.5])],
            i32s([i32::MIN, -2, 0, 0]),
        ),
        ("trunc_u_zero", vec![f64s([dnan, 5e9])], i32s([0, -1, 0, 0])),
        // Unfused: 2 * f32::MAX overflows before the subtraction.
        (
            "madd",
            vec![
                f32s([f32::MAX, 1.5, 0.0, 1.0 + f32::EPSILON * 2.0]),
                f32s([2.0, 2.0, 0.0, 1.0 + f32::EPSILON * 64.0]),
                f32s([-f32::MAX, 1.0, -0.0, -(1.0 + f32::EPSILON * 66.0)]),
            ],
            f32s([f32::INFINITY, 4.0, 0.0, 0.0]),
        ),
        // c - a * b, rounded twice.
        (
            "nmadd",
            vec![
                f64s([f64::MAX, 3.0]),
                f64s([2.0, 2.0]),
                f64s([f64::MAX, 1.0]),
            ],
            f64s([f64::NEG_INFINITY, -5.0]),
        ),
        // Bitwise for every mask (a byte-wise blend would give 0x5678).
        (
            "laneselect",
            vec![
                i16s([0x1234, 1, 2, 3, 4, 5, 6, 7]),
                i16s([0x5678, 9, 10, 11, 12, 13, 14, 15]),
                i16s([0x0f0f, -1, 0, 0, 0, 0, 0, -1]),
            ],
            i16s([0x5274, 1, 10, 11, 12, 13, 14, 7]),
        ),
        // The second operand on NaN and on zeros of either sign.
        (
            "min",
            vec![f32s([nan, 1.0, 0.0, -0.0]), f32s([2.0, nan, -0.0, 0.0])],
            f32s([2.0, nan, -0.0, 0.0]),
        ),
        (
            "max",
            vec![f64s([dnan, 0.0]), f64s([-1.0, -0.0])],
            f64s([-1.0, -0.0]),
        ),
        // -32768 * -32768 wraps to -32768.
        (
            "q15",
            vec![
                i16s([-32768, 16384, -32768, 0, 0, 0, 0, 0]),
                i16s([-32768, 16384, 16384, 0, 0, 0, 0, 0]),
            ],
            i16s([-32768, 8192, -16384, 0, 0, 0, 0, 0]),
        ),
        // Second operand read unsigned; pair sums saturate.
        (
            "dot",
            vec![
                bytes([
                    0x80, 0x80, 3, 0xfd, 0x7f, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                ]),
                bytes([0x81, 0x81, 5, 7, 0x7f, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            ],
            i16s([-32768, 15 - 21, 32258, 0, 0, 0, 0, 0]),
        ),
        (
            "dot_add",
            vec![
                bytes([0x80, 0x80, 0x80, 0x80, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0]),
                bytes([0x81, 0x81, 0x81, 0x81, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0]),
                i32s([1, 2, 3, i32::MAX]),
            ],
            i32s([-65535, 5 + 12 + 21 + 32 + 2, 3, i32::MAX]),
        ),
    ];
    for cpu_baseline in [false, true] {
        let mut config = Config::new();
        config.wasm_relaxed_simd(true);
        if cpu_baseline {
            config.cpu_features(wasmkern::CpuFeatures::sse41_baseline());
        }
        let engine = Engine::new(&config).unwrap();
        let module = Module::new(&engine, wat(text)).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        for (name, params, expected) in &cases {
            let f = instance.get_func(&store, name).unwrap();
            let params: Vec<wasmkern::Val> =
                params.iter().map(|&v| wasmkern::Val::V128(v)).collect();
            for run in 0..2 {
                let mut results = [wasmkern::Val::I32(0)];
                f.call(&mut store, &params, &mut results).unwrap();
                let wasmkern::Val::V128(got) = results[0] else {
                    panic!("{name}: not a v128: {:?}", results[0]);
                };
                assert_eq!(
                    got, *expected,
                    "{name} run {run}: {got:#034x} != {expected:#034x}"
                );
            }
        }
    }
}
