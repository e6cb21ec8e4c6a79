//! Rules WebAssembly 3.0 changed for modules that use no new instruction,
//! which the wasm-v3 spec suite checks (`tests/spec.rs`, `spec_wasm_v3`)
//! and the 2.0 suites check the other way: with `Config`'s defaults the
//! 3.0 rule holds, with every feature beyond 2.0 off the 2.0 rule.
//!
//! - A `memarg`'s flags below 2^7 are an alignment below 2^64 and the
//!   memory bit, so an alignment of 2^32 or more is invalid (larger than
//!   natural), not malformed (multi-memory's encoding).
//! - Table limits are `u64`s in the binary format, so a 32-bit table's
//!   limit beyond 2^32 - 1 is invalid ("table size"), not malformed
//!   (memory64's encoding of limits).
//! - A constant expression may read the immutable globals the module
//!   defines before it (a segment's: all of them), not only imported ones
//!   (accepted with typed function references).

use wasmkern::{Config, Engine, ErrorKind, Feature, Instance, Module, Store, Val};

/// An engine with exactly WebAssembly 2.0.
fn wasm2_engine() -> Engine {
    let mut config = Config::new();
    for f in Feature::ALL {
        config.wasm_feature(f, false);
    }
    Engine::new(&config).expect("engine")
}

/// A module of one function `[] -> []` with `body` (its locals' count
/// included) and one memory.
fn module_with_body(body: &[u8]) -> Vec<u8> {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.extend_from_slice(&[0x01, 0x04, 0x01, 0x60, 0x00, 0x00]); // type [] -> []
    m.extend_from_slice(&[0x03, 0x02, 0x01, 0x00]); // one function
    m.extend_from_slice(&[0x05, 0x03, 0x01, 0x00, 0x01]); // memory 1
    let code_len = body.len();
    m.extend_from_slice(&[0x0a, (code_len + 2) as u8, 0x01, code_len as u8]);
    m.extend_from_slice(body);
    m
}

/// `Module::validate` and `Module::new` agree; the error of both.
fn rejection(engine: &Engine, bytes: &[u8]) -> wasmkern::Error {
    let validated = Module::validate(engine, bytes).expect_err("validate rejects");
    let compiled = Module::new(engine, bytes).expect_err("Module::new rejects");
    assert_eq!(validated.to_string(), compiled.to_string());
    compiled
}

#[test]
fn an_alignment_of_2_pow_32_or_more_is_invalid_in_3_0() {
    // `i32.const 0; i32.load align=2^n offset=0; drop`.
    for flags in [0x20u8, 0x21, 0x3f] {
        let body = [0x00, 0x41, 0x00, 0x28, flags, 0x00, 0x1a, 0x0b];
        let bytes = module_with_body(&body);
        let err = rejection(&Engine::default(), &bytes);
        assert_eq!(err.kind(), ErrorKind::Invalid, "flags {flags:#x}: {err}");
        assert!(
            err.to_string()
                .contains("alignment must not be larger than natural"),
            "flags {flags:#x}: {err}"
        );
        let err = rejection(&wasm2_engine(), &bytes);
        assert_eq!(err.kind(), ErrorKind::Malformed, "flags {flags:#x}: {err}");
        assert!(
            err.to_string().contains("malformed memop flags"),
            "flags {flags:#x}: {err}"
        );
    }
    // 2^31 is too large in both; flags of 2^7 and more are malformed in
    // both.
    let body = [0x00, 0x41, 0x00, 0x28, 0x1f, 0x00, 0x1a, 0x0b];
    for engine in [Engine::default(), wasm2_engine()] {
        let err = rejection(&engine, &module_with_body(&body));
        assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    }
    let body = [0x00, 0x41, 0x00, 0x28, 0x80, 0x01, 0x00, 0x1a, 0x0b];
    for engine in [Engine::default(), wasm2_engine()] {
        let err = rejection(&engine, &module_with_body(&body));
        assert_eq!(err.kind(), ErrorKind::Malformed, "{err}");
        assert!(err.to_string().contains("malformed memop flags"), "{err}");
    }
}

#[test]
fn a_32_bit_table_limit_beyond_u32_is_invalid_in_3_0() {
    // A table section with one funcref table: flags, then limits as
    // LEB128 (2^32 is `80 80 80 80 10`).
    let table = |limits: &[u8]| {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        m.extend_from_slice(&[0x04, (limits.len() + 2) as u8, 0x01, 0x70]);
        m.extend_from_slice(limits);
        m
    };
    let too_large = [
        &[0x00, 0x80, 0x80, 0x80, 0x80, 0x10][..],
        &[0x01, 0x00, 0x80, 0x80, 0x80, 0x80, 0x10],
    ];
    for limits in too_large {
        let bytes = table(limits);
        let err = rejection(&Engine::default(), &bytes);
        assert_eq!(err.kind(), ErrorKind::Invalid, "{limits:x?}: {err}");
        assert!(err.to_string().contains("table size"), "{limits:x?}: {err}");
        let err = rejection(&wasm2_engine(), &bytes);
        assert_eq!(err.kind(), ErrorKind::Malformed, "{limits:x?}: {err}");
        assert!(
            err.to_string().contains("integer too large"),
            "{limits:x?}: {err}"
        );
    }
    // 2^32 - 1 is a valid size in both.
    let bytes = table(&[0x00, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    for engine in [Engine::default(), wasm2_engine()] {
        Module::validate(&engine, &bytes).unwrap();
    }
}

#[test]
fn constant_expressions_read_the_globals_defined_before_them() {
    let bytes = wat::parse_str(
        r#"(module
            (memory (export "mem") 1)
            (table (export "tab") 4 funcref)
            (global $a i32 (i32.const 3))
            (global $b (export "b") i32 (i32.add (global.get $a) (i32.const 4)))
            (global $f funcref (ref.func $g))
            (func $g (export "g") (result i32) (i32.const 9))
            (elem (global.get $a) funcref (global.get $f))
            (data (global.get $b) "x"))"#,
    )
    .unwrap();
    let engine = Engine::default();
    let module = Module::new(&engine, &bytes).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let b = instance.get_global(&store, "b").unwrap().get(&store);
    assert!(matches!(b, Val::I32(7)), "{b:?}");
    let memory = instance.get_memory(&store, "mem").unwrap();
    assert_eq!(memory.data(&store)[7], b'x');
    let table = instance.get_table(&store, "tab").unwrap();
    let g = instance.get_func(&store, "g").unwrap();
    match table.get(&store, 3) {
        Some(Val::FuncRef(Some(f))) => assert!(f == g, "table[3] is not g"),
        other => panic!("table[3]: {other:?}"),
    }

    // 2.0 sees the imported globals only.
    let err = rejection(&wasm2_engine(), &bytes);
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(err.to_string().contains("unknown global"), "{err}");
    // Never a global defined later, a mutable one, nor a defined one in a
    // table's initializer (the tables come before the globals).
    for text in [
        "(module (global i32 (global.get 1)) (global i32 (i32.const 0)))",
        "(module (global i32 (global.get 0)))",
        "(module (global i32 (i32.const 0)) (table 1 funcref) (elem (global.get 1)))",
        "(module (global $g funcref (ref.null func)) (table 1 funcref (global.get $g)))",
    ] {
        let err = rejection(&Engine::default(), &wat::parse_str(text).unwrap());
        assert!(err.to_string().contains("unknown global"), "{text}: {err}");
    }
    let text = "(module (global (mut i32) (i32.const 0)) (global i32 (global.get 0)))";
    let err = rejection(&Engine::default(), &wat::parse_str(text).unwrap());
    assert!(
        err.to_string().contains("constant expression required"),
        "{text}: {err}"
    );
}
