//! WebAssembly 2.0 through the public API: multi-value host functions,
//! externref round trips through wasm and tables, and a table of `Func`s
//! (host and wasm) called indirectly from wasm.

use wasmkern::{
    Engine, Extern, ExternRef, Func, FuncType, Instance, Limits, Linker, RefType, Store, Table,
    TableType, Val, ValType,
};

mod common;
use common::module;

#[test]
fn multi_value_host_functions() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    // A host function with three results of different types, via Func::new.
    let ty = FuncType::new(&[ValType::I32], &[ValType::I32, ValType::I64, ValType::F64]);
    let split = Func::new(&mut store, ty, |_caller, params, results| {
        let x = params[0].unwrap_i32();
        results[0] = Val::I32(x + 1);
        results[1] = Val::I64(i64::from(x) * 1_000_000_000_000);
        results[2] = Val::F64((f64::from(x) / 4.0).to_bits());
        Ok(())
    });
    linker.define(&store, "host", "split", split).unwrap();
    // And a wrapped closure returning a tuple.
    linker
        .func_wrap("host", "swap", |a: i32, b: i64| (b, a))
        .unwrap();
    let m = module(
        &engine,
        r#"(module
            (import "host" "split" (func $split (param i32) (result i32 i64 f64)))
            (import "host" "swap" (func $swap (param i32 i64) (result i64 i32)))
            (func (export "combine") (param i32) (result i64)
              (local $d f64)
              (call $split (local.get 0))
              (local.set $d)
              (call $swap)          ;; (i32, i64) -> (i64, i32)
              (i64.extend_i32_s)
              (i64.add)
              (i64.trunc_f64_s (local.get $d))
              (i64.add))
            (func (export "pair") (param i32) (result i32 i64 f64)
              (call $split (local.get 0))))"#,
    );
    let instance = linker.instantiate(&mut store, &m).unwrap();
    let combine = instance
        .get_typed_func::<i32, i64>(&mut store, "combine")
        .unwrap();
    // split(8) = (9, 8e12, 2.0); swap -> (8e12, 9); 8e12 + 9 + 2
    assert_eq!(
        combine.call(&mut store, 8).unwrap(),
        8_000_000_000_000 + 9 + 2
    );
    // Several results back to the host, typed and untyped.
    let pair = instance
        .get_typed_func::<i32, (i32, i64, f64)>(&mut store, "pair")
        .unwrap();
    assert_eq!(
        pair.call(&mut store, -4).unwrap(),
        (-3, -4_000_000_000_000, -1.0)
    );
    let untyped = instance.get_func(&mut store, "pair").unwrap();
    let mut results = [Val::I32(0), Val::I32(0), Val::I32(0)];
    untyped
        .call(&mut store, &[Val::I32(2)], &mut results)
        .unwrap();
    assert_eq!(results[0].unwrap_i32(), 3);
    assert_eq!(results[1].unwrap_i64(), 2_000_000_000_000);
    assert_eq!(results[2].unwrap_f64(), 0.5);
}

#[test]
fn externref_round_trips_through_wasm_and_tables() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let m = module(
        &engine,
        r#"(module
            (table $t (export "t") 4 externref)
            (func (export "id") (param externref) (result externref) (local.get 0))
            (func (export "put") (param i32 externref) (table.set $t (local.get 0) (local.get 1)))
            (func (export "get") (param i32) (result externref) (table.get $t (local.get 0)))
            (func (export "is_null") (param externref) (result i32) (ref.is_null (local.get 0))))"#,
    );
    let instance = Instance::new(&mut store, &m, &[]).unwrap();
    let hello = ExternRef::new(&mut store, String::from("hello")).unwrap();
    let answer = ExternRef::new(&mut store, 42u64).unwrap();

    let id = instance.get_func(&mut store, "id").unwrap();
    let mut out = [Val::ExternRef(None)];
    id.call(&mut store, &[Val::ExternRef(Some(hello))], &mut out)
        .unwrap();
    let back = out[0].externref().flatten().expect("a non-null externref");
    let text = back
        .data(&store)
        .and_then(|d| d.downcast_ref::<String>())
        .expect("the same String");
    assert_eq!(text, "hello");

    let put = instance.get_func(&mut store, "put").unwrap();
    put.call(
        &mut store,
        &[Val::I32(2), Val::ExternRef(Some(answer))],
        &mut [],
    )
    .unwrap();
    let get = instance.get_func(&mut store, "get").unwrap();
    get.call(&mut store, &[Val::I32(2)], &mut out).unwrap();
    let value = out[0]
        .externref()
        .flatten()
        .and_then(|r| r.data(&store))
        .and_then(|d| d.downcast_ref::<u64>());
    assert_eq!(value, Some(&42));
    // The host sees the same entry through the exported table.
    let table = instance.get_table(&mut store, "t").unwrap();
    let from_table = table
        .get(&store, 2)
        .and_then(|v| v.externref())
        .flatten()
        .expect("set by wasm");
    assert_eq!(
        from_table
            .data(&store)
            .and_then(|d| d.downcast_ref::<u64>()),
        Some(&42)
    );
    // Untouched entries are null, and wasm sees nulls as null.
    get.call(&mut store, &[Val::I32(0)], &mut out).unwrap();
    assert!(out[0].is_null());
    let is_null = instance.get_func(&mut store, "is_null").unwrap();
    let mut flag = [Val::I32(-1)];
    is_null
        .call(&mut store, &[Val::ExternRef(None)], &mut flag)
        .unwrap();
    assert_eq!(flag[0].unwrap_i32(), 1);
    is_null
        .call(&mut store, &[Val::ExternRef(Some(hello))], &mut flag)
        .unwrap();
    assert_eq!(flag[0].unwrap_i32(), 0);
    // Out of bounds through wasm is a trap, through the host an error or None.
    let err = get.call(&mut store, &[Val::I32(4)], &mut out).unwrap_err();
    assert_eq!(
        err.trap().map(|t| t.to_string()),
        Some("out of bounds table access".to_string())
    );
    assert!(table.get(&store, 4).is_none());
}

#[test]
fn table_of_funcs_called_indirectly() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let ty = TableType {
        elem: RefType::FuncRef,
        limits: Limits {
            min: 3,
            max: Some(10),
        },
        table64: false,
    };
    let table = Table::new(&mut store, ty, Val::FuncRef(None)).unwrap();
    let double = Func::wrap(&mut store, |x: i32| x * 2);
    let negate = Func::wrap(&mut store, |x: i32| -x);
    table
        .set(&mut store, 0, Val::FuncRef(Some(double)))
        .unwrap();
    table
        .set(&mut store, 1, Val::FuncRef(Some(negate)))
        .unwrap();
    // A wasm function of another instance goes into slot 2.
    let other = module(
        &engine,
        r#"(module (func (export "square") (param i32) (result i32) (i32.mul (local.get 0) (local.get 0))))"#,
    );
    let other = Instance::new(&mut store, &other, &[]).unwrap();
    let square = other.get_func(&mut store, "square").unwrap();
    table
        .set(&mut store, 2, Val::FuncRef(Some(square)))
        .unwrap();

    let m = module(
        &engine,
        r#"(module
            (import "env" "table" (table 3 funcref))
            (type $unop (func (param i32) (result i32)))
            (type $other (func (param i64) (result i64)))
            (func (export "apply") (param $i i32) (param $x i32) (result i32)
              (call_indirect (type $unop) (local.get $x) (local.get $i)))
            (func (export "wrong_type") (param $i i32) (result i64)
              (call_indirect (type $other) (i64.const 1) (local.get $i)))
            (func (export "grow") (result i32) (table.grow (ref.null func) (i32.const 2))))"#,
    );
    let instance = Instance::new(&mut store, &m, &[Extern::Table(table)]).unwrap();
    let apply = instance
        .get_typed_func::<(i32, i32), i32>(&mut store, "apply")
        .unwrap();
    assert_eq!(apply.call(&mut store, (0, 21)).unwrap(), 42);
    assert_eq!(apply.call(&mut store, (1, 5)).unwrap(), -5);
    assert_eq!(apply.call(&mut store, (2, 9)).unwrap(), 81);
    let trap = |r: Result<i32, wasmkern::Error>| r.unwrap_err().trap().map(|t| t.to_string());
    assert_eq!(
        trap(apply.call(&mut store, (3, 0))),
        Some("undefined element".into())
    );
    let wrong = instance
        .get_typed_func::<i32, i64>(&mut store, "wrong_type")
        .unwrap();
    let err = wrong.call(&mut store, 0).unwrap_err();
    assert_eq!(
        err.trap().map(|t| t.to_string()),
        Some("indirect call type mismatch".into())
    );
    // Growing from wasm is visible to the host, with null entries.
    let grow = instance
        .get_typed_func::<(), i32>(&mut store, "grow")
        .unwrap();
    assert_eq!(grow.call(&mut store, ()).unwrap(), 3);
    assert_eq!(table.size(&store), 5);
    assert!(table.get(&store, 4).unwrap().is_null());
    assert_eq!(
        trap(apply.call(&mut store, (4, 0))),
        Some("uninitialized element".into())
    );
}

/// A module without imports still meets host functions in its table when
/// it exports the table or takes a function reference through an export:
/// its `call_indirect` must then pass their arguments as a host function
/// reads them (in the area, not only in registers).
#[test]
fn host_functions_reach_a_table_without_imports() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let sub = Func::wrap(&mut store, |a: i32, b: i32| a - b);
    let apply = r#"
        (type $bin (func (param i32 i32) (result i32)))
        (func (export "apply") (param i32 i32) (result i32)
          (call_indirect (type $bin) (local.get 0) (local.get 1) (i32.const 0)))"#;

    // Through the exported table.
    let m = module(
        &engine,
        &format!(r#"(module (table (export "t") 1 funcref) {apply})"#),
    );
    let instance = Instance::new(&mut store, &m, &[]).unwrap();
    let table = instance.get_table(&mut store, "t").unwrap();
    table.set(&mut store, 0, Val::FuncRef(Some(sub))).unwrap();
    let f = instance
        .get_typed_func::<(i32, i32), i32>(&mut store, "apply")
        .unwrap();
    assert_eq!(f.call(&mut store, (10, 3)).unwrap(), 7);
    assert_eq!(f.call(&mut store, (-5, 20)).unwrap(), -25);

    // Through a function reference parameter of an export.
    let m = module(
        &engine,
        &format!(
            r#"(module (table 1 funcref)
                 (func (export "put") (param funcref) (table.set (i32.const 0) (local.get 0)))
                 {apply})"#
        ),
    );
    let instance = Instance::new(&mut store, &m, &[]).unwrap();
    let put = instance.get_func(&mut store, "put").unwrap();
    put.call(&mut store, &[Val::FuncRef(Some(sub))], &mut [])
        .unwrap();
    let f = instance
        .get_typed_func::<(i32, i32), i32>(&mut store, "apply")
        .unwrap();
    assert_eq!(f.call(&mut store, (10, 3)).unwrap(), 7);
    assert_eq!(f.call(&mut store, (100, 1)).unwrap(), 99);
}
