//! Typed function references end to end, through the public API:
//! `call_ref` of a host function and of another instance's function, the
//! null traps, `br_on_null`/`br_on_non_null` carrying values, non-nullable
//! locals (valid and invalid uses) and tables with initializers. Every
//! expected value is worked out by hand in the comments.

use wasmkern::{Config, Engine, ErrorKind, Linker, Module, Store, Val};

mod common;
use common::module;

fn engine() -> Engine {
    let mut config = Config::new();
    config.wasm_function_references(true);
    Engine::new(&config).expect("engine")
}

fn invalid(engine: &Engine, wat: &str) -> wasmkern::Error {
    Module::new(engine, wat::parse_str(wat).expect("valid WAT")).expect_err("module is invalid")
}

#[test]
fn call_ref_reaches_a_host_function() {
    let engine = engine();
    let mut store = Store::new(&engine, Vec::<i32>::new());
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap(
            "host",
            "triple",
            |mut caller: wasmkern::Caller<'_, Vec<i32>>, x: i32| {
                caller.data_mut().push(x);
                x * 3
            },
        )
        .unwrap();
    let m = module(
        &engine,
        r#"(module
            (type $t (func (param i32) (result i32)))
            (import "host" "triple" (func $triple (type $t)))
            (elem declare func $triple)
            (func (export "run") (param i32) (result i32)
              (call_ref $t (local.get 0) (ref.func $triple))))"#,
    );
    let instance = linker.instantiate(&mut store, &m).unwrap();
    let run = instance
        .get_typed_func::<i32, i32>(&mut store, "run")
        .unwrap();
    // triple(14) = 42, and the host saw 14.
    assert_eq!(run.call(&mut store, 14).unwrap(), 42);
    assert_eq!(run.call(&mut store, -5).unwrap(), -15);
    assert_eq!(store.data(), &[14, -5]);
}

#[test]
fn call_ref_reaches_another_instances_function_through_a_typed_table() {
    let engine = engine();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    // Instance A: a function that reads A's own global (100), in a table
    // of non-null references to its type, exported.
    let a = module(
        &engine,
        r#"(module
            (type $t (func (param i32 i32) (result i32)))
            (global $base i32 (i32.const 100))
            (func $f (type $t) (i32.add (global.get $base) (i32.mul (local.get 0) (local.get 1))))
            (table (export "tab") 2 (ref $t) (ref.func $f)))"#,
    );
    let a = linker.instantiate(&mut store, &a).unwrap();
    linker.instance(&mut store, "a", a).unwrap();
    // Instance B declares the same type under another index and imports
    // the table with it: equivalent types match across modules.
    let b = module(
        &engine,
        r#"(module
            (type $other (func))
            (type $u (func (param i32 i32) (result i32)))
            (import "a" "tab" (table $tab 2 (ref $u)))
            (global $base i32 (i32.const 5))
            (func (export "run") (param i32 i32 i32) (result i32)
              (call_ref $u (local.get 0) (local.get 1) (table.get $tab (local.get 2)))))"#,
    );
    let b = linker.instantiate(&mut store, &b).unwrap();
    let run = b
        .get_typed_func::<(i32, i32, i32), i32>(&mut store, "run")
        .unwrap();
    // A's f: 100 + 6 * 7 = 142 (A's global, not B's 5), from either slot
    // of the initialized table.
    assert_eq!(run.call(&mut store, (6, 7, 0)).unwrap(), 142);
    assert_eq!(run.call(&mut store, (-3, 3, 1)).unwrap(), 91);
    // Out of the table's bounds: table.get traps.
    let err = run.call(&mut store, (1, 1, 2)).unwrap_err();
    assert!(
        err.to_string().contains("out of bounds table access"),
        "{err}"
    );
}

#[test]
fn a_table_import_of_another_type_does_not_link() {
    let engine = engine();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    let a = module(
        &engine,
        r#"(module
            (type $t (func (param i32) (result i32)))
            (func $f (type $t) (local.get 0))
            (table (export "tab") 1 (ref $t) (ref.func $f)))"#,
    );
    let a = linker.instantiate(&mut store, &a).unwrap();
    linker.instance(&mut store, "a", a).unwrap();
    // Same shape but i64: a different type.
    let b = module(
        &engine,
        r#"(module
            (type $u (func (param i64) (result i64)))
            (import "a" "tab" (table 1 (ref $u))))"#,
    );
    let err = linker.instantiate(&mut store, &b).unwrap_err();
    assert!(
        err.to_string().contains("incompatible import type"),
        "{err}"
    );
}

#[test]
fn null_references_trap() {
    let engine = engine();
    let mut store = Store::new(&engine, ());
    let m = module(
        &engine,
        r#"(module
            (type $t (func (result i32)))
            (func $seven (type $t) (i32.const 7))
            (elem declare func $seven)
            (func $pick (param i32) (result (ref null $t))
              (select (result (ref null $t)) (ref.func $seven) (ref.null $t) (local.get 0)))
            (func (export "call") (param i32) (result i32)
              (call_ref $t (call $pick (local.get 0))))
            (func (export "as_non_null") (param i32) (result i32)
              (call_ref $t (ref.as_non_null (call $pick (local.get 0))))))"#,
    );
    let instance = wasmkern::Instance::new(&mut store, &m, &[]).unwrap();
    for name in ["call", "as_non_null"] {
        let f = instance
            .get_typed_func::<i32, i32>(&mut store, name)
            .unwrap();
        assert_eq!(f.call(&mut store, 1).unwrap(), 7, "{name}");
        let err = f.call(&mut store, 0).unwrap_err();
        let expected = if name == "call" {
            "null function reference"
        } else {
            "null reference"
        };
        assert!(err.to_string().starts_with(expected), "{name}: {err}");
    }
}

#[test]
fn br_on_null_and_br_on_non_null_carry_their_values() {
    let engine = engine();
    let mut store = Store::new(&engine, ());
    let m = module(
        &engine,
        r#"(module
            (type $t (func (param i32) (result i32)))
            (func $inc (type $t) (i32.add (local.get 0) (i32.const 1)))
            (elem declare func $inc)
            (func $pick (param i32) (result (ref null $t))
              (select (result (ref null $t)) (ref.func $inc) (ref.null $t) (local.get 0)))
            ;; null: the block yields the carried 100; else inc(100).
            (func (export "on_null") (param i32) (result i32)
              (block $null (result i32)
                (i32.const 100)
                (br_on_null $null (call $pick (local.get 0)))
                (call_ref $t)))
            ;; non-null: the branch carries 7 and the reference to a call,
            ;; inc(7); null: -1.
            (func (export "on_non_null") (param i32) (result i32)
              (call_ref $t
                (block $some (result i32 (ref $t))
                  (i32.const 7)
                  (br_on_non_null $some (call $pick (local.get 0)))
                  (drop)
                  (return (i32.const -1)))))
            ;; Many values live across the branch, in registers before it.
            (func (export "many") (param i32) (result i32)
              (local $a i32)
              (local.set $a (i32.mul (local.get 0) (i32.const 3)))
              (i32.add
                (i32.add (local.get $a) (i32.const 1000))
                (block $null (result i32)
                  (i32.add (local.get $a) (i32.const 10))
                  (br_on_null $null (call $pick (local.get 0)))
                  (call_ref $t)))))"#,
    );
    let instance = wasmkern::Instance::new(&mut store, &m, &[]).unwrap();
    let on_null = instance
        .get_typed_func::<i32, i32>(&mut store, "on_null")
        .unwrap();
    assert_eq!(on_null.call(&mut store, 1).unwrap(), 101);
    assert_eq!(on_null.call(&mut store, 0).unwrap(), 100);
    let on_non_null = instance
        .get_typed_func::<i32, i32>(&mut store, "on_non_null")
        .unwrap();
    assert_eq!(on_non_null.call(&mut store, 1).unwrap(), 8);
    assert_eq!(on_non_null.call(&mut store, 0).unwrap(), -1);
    let many = instance
        .get_typed_func::<i32, i32>(&mut store, "many")
        .unwrap();
    // x = 5: a = 15; non-null: (15 + 1000) + inc(15 + 10) = 1015 + 26.
    assert_eq!(many.call(&mut store, 5).unwrap(), 1041);
    // x = 0: a = 0; null: (0 + 1000) + (0 + 10).
    assert_eq!(many.call(&mut store, 0).unwrap(), 1010);
}

#[test]
fn non_nullable_locals_must_be_set_before_use() {
    let engine = engine();
    let mut store = Store::new(&engine, ());
    let m = module(
        &engine,
        r#"(module
            (type $t (func (result i32)))
            (func $nine (type $t) (i32.const 9))
            (elem declare func $nine)
            (func (export "run") (result i32)
              (local $r (ref $t))
              (local.set $r (ref.func $nine))
              (i32.add (call_ref $t (local.get $r)) (call_ref $t (local.get $r)))))"#,
    );
    let instance = wasmkern::Instance::new(&mut store, &m, &[]).unwrap();
    let run = instance
        .get_typed_func::<(), i32>(&mut store, "run")
        .unwrap();
    assert_eq!(run.call(&mut store, ()).unwrap(), 18);

    // Read before any set.
    let err = invalid(
        &engine,
        r#"(module (type $t (func))
            (func (local $r (ref $t)) (drop (local.get $r))))"#,
    );
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(err.to_string().contains("uninitialized local"), "{err}");
    // Set inside a block: unset again after its end.
    let err = invalid(
        &engine,
        r#"(module (type $t (func)) (func $f) (elem declare func $f)
            (func (local $r (ref $t))
              (block (local.set $r (ref.func $f)) (drop (local.get $r)))
              (drop (local.get $r))))"#,
    );
    assert!(err.to_string().contains("uninitialized local"), "{err}");
    // A nullable local has a default: null.
    module(
        &engine,
        r#"(module (type $t (func))
            (func (local $r (ref null $t)) (drop (local.get $r))))"#,
    );
}

#[test]
fn tables_start_with_their_initializer() {
    let engine = engine();
    let mut store = Store::new(&engine, ());
    let m = module(
        &engine,
        r#"(module
            (type $t (func (result i32)))
            (func $one (type $t) (i32.const 1))
            (func $two (type $t) (i32.const 2))
            (table $tab (export "tab") 4 (ref $t) (ref.func $one))
            (elem (table $tab) (i32.const 2) (ref $t) (ref.func $two))
            (func (export "sum") (result i32)
              (i32.add
                (i32.add (call_ref $t (table.get $tab (i32.const 0)))
                         (call_ref $t (table.get $tab (i32.const 1))))
                (i32.add (call_ref $t (table.get $tab (i32.const 2)))
                         (call_ref $t (table.get $tab (i32.const 3)))))))"#,
    );
    let instance = wasmkern::Instance::new(&mut store, &m, &[]).unwrap();
    let sum = instance
        .get_typed_func::<(), i32>(&mut store, "sum")
        .unwrap();
    // one, one, two (the segment at 2), one.
    assert_eq!(sum.call(&mut store, ()).unwrap(), 5);
    let table = instance.get_table(&store, "tab").unwrap();
    for i in 0..4 {
        assert!(matches!(table.get(&store, i), Some(Val::FuncRef(Some(_)))));
    }
    // A segment of function indices has type (ref func), not (ref $t).
    let err = invalid(
        &engine,
        r#"(module (type $t (func)) (func $f (type $t))
            (table 1 (ref $t) (ref.func $f)) (elem (i32.const 0) func $f))"#,
    );
    assert!(err.to_string().contains("type mismatch"), "{err}");
    // A table of a non-nullable type needs an initializer.
    let err = invalid(&engine, r#"(module (type $t (func)) (table 1 (ref $t)))"#);
    assert!(err.to_string().contains("type mismatch"), "{err}");
}

#[test]
fn the_host_cannot_store_a_null_into_a_non_nullable_table() {
    let engine = engine();
    let mut store = Store::new(&engine, ());
    let m = module(
        &engine,
        r#"(module (type $t (func)) (func $f (type $t))
            (table (export "tab") 1 (ref $t) (ref.func $f)))"#,
    );
    let instance = wasmkern::Instance::new(&mut store, &m, &[]).unwrap();
    let table = instance.get_table(&store, "tab").unwrap();
    assert!(table.set(&mut store, 0, Val::FuncRef(None)).is_err());
    assert!(matches!(table.get(&store, 0), Some(Val::FuncRef(Some(_)))));
}

#[test]
fn a_precompiled_module_keeps_its_typed_references() {
    let wat = r#"(module
        (type $other (func (param f64)))
        (type $t (func (param i32) (result i32)))
        (func $sq (type $t) (i32.mul (local.get 0) (local.get 0)))
        (table $tab 1 (ref $t) (ref.func $sq))
        (func (export "run") (param i32) (result i32)
          (call_ref $t (local.get 0) (table.get $tab (i32.const 0)))))"#;
    let bytes = module(&engine(), wat).serialize().unwrap();
    // Another engine, whose type ids differ: it registered other types
    // first.
    let other = engine();
    let _first = module(
        &other,
        r#"(module (type (func (param i64 i64))) (type (func (result f32))))"#,
    );
    let loaded = Module::deserialize_checked(&other, &bytes).unwrap();
    let mut store = Store::new(&other, ());
    let instance = wasmkern::Instance::new(&mut store, &loaded, &[]).unwrap();
    let run = instance
        .get_typed_func::<i32, i32>(&mut store, "run")
        .unwrap();
    // 12 squared.
    assert_eq!(run.call(&mut store, 12).unwrap(), 144);
}

#[test]
fn return_call_ref_runs_in_constant_stack_and_reaches_the_host() {
    let mut config = Config::new();
    config.wasm_function_references(true).wasm_tail_call(true);
    let engine = Engine::new(&config).unwrap();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker.func_wrap("host", "done", |n: i64| n * 10).unwrap();
    let m = module(
        &engine,
        r#"(module
            (type $t (func (param i64) (result i64)))
            (import "host" "done" (func $done (type $t)))
            (elem declare func $count $done)
            ;; count(n): n > 0 -> count(n - 1), as a tail call through a
            ;; reference; n = 0 -> done(7), the host, also a tail call.
            (func $count (type $t)
              (if (result i64) (i64.eqz (local.get 0))
                (then (return_call_ref $t (i64.const 7) (ref.func $done)))
                (else (return_call_ref $t (i64.sub (local.get 0) (i64.const 1))
                                          (ref.func $count)))))
            (func (export "count") (param i64) (result i64)
              (call $count (local.get 0)))
            (func (export "null") (result i64)
              (return_call_ref $t (i64.const 1) (ref.null $t))))"#,
    );
    let instance = linker.instantiate(&mut store, &m).unwrap();
    let count = instance
        .get_typed_func::<i64, i64>(&mut store, "count")
        .unwrap();
    // Ten million frames would overflow the 1 MiB default stack if each
    // call kept its frame; the end is the host's 7 * 10.
    assert_eq!(count.call(&mut store, 10_000_000).unwrap(), 70);
    assert_eq!(count.call(&mut store, 0).unwrap(), 70);
    let null = instance
        .get_typed_func::<(), i64>(&mut store, "null")
        .unwrap();
    let err = null.call(&mut store, ()).unwrap_err();
    assert!(
        err.to_string().starts_with("null function reference"),
        "{err}"
    );
}

/// Two function types written apart but equal in structure are one type
/// (WebAssembly 3.0's type equivalence): a `(ref $b)` stands wherever a
/// `(ref $a)` is expected, in element segments, tables and `call_ref`.
#[test]
fn equal_function_types_are_one_type_everywhere() {
    let engine = engine();
    let m = module(
        &engine,
        r#"(module
            (type $a (func (result i32)))
            (type $b (func (result i32)))
            (func $f (type $b) (i32.const 7))
            (func $g (type $a) (i32.const 9))
            (table $t 2 (ref null $a))
            (elem (table $t) (i32.const 0) (ref null $b) (ref.func $f) (ref.null $b))
            (elem declare func $f $g)
            (func (export "direct") (result i32) (call_ref $a (ref.func $f)))
            (func (export "through_table") (param i32) (result i32)
                (call_ref $a (table.get $t (local.get 0))))
            (func (export "via_b") (result i32) (call_ref $b (ref.func $g))))"#,
    );
    let mut store = Store::new(&engine, ());
    let instance = wasmkern::Instance::new(&mut store, &m, &[]).expect("instantiates");
    let call = |store: &mut Store<()>, name: &str, args: &[Val]| {
        let f = instance.get_func(&mut *store, name).unwrap();
        let mut out = [Val::I32(0)];
        f.call(&mut *store, args, &mut out)
            .map(|()| out[0].unwrap_i32())
    };
    assert_eq!(call(&mut store, "direct", &[]).unwrap(), 7);
    assert_eq!(call(&mut store, "via_b", &[]).unwrap(), 9);
    assert_eq!(
        call(&mut store, "through_table", &[Val::I32(0)]).unwrap(),
        7
    );
    let null = call(&mut store, "through_table", &[Val::I32(1)]).unwrap_err();
    assert!(null.to_string().contains("null"), "{null}");
}
