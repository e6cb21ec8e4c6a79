//! The runtime through its public API only.

use wasmkern::{
    Caller, Engine, Error, ErrorKind, Extern, ExternType, Func, FuncType, Global, GlobalType,
    Instance, Limits, Linker, Memory, MemoryType, Module, RefType, Store, Table, TableType, Trap,
    Val, ValType,
};

mod common;
use common::module;

#[test]
fn data_segments_globals_and_tables() {
    let engine = Engine::default();
    let m = module(
        &engine,
        r#"(module
            (memory (export "mem") 1 3)
            (data (i32.const 8) "hello")
            (data (i32.const 65530) "edge!!")
            (global (export "g") i32 (i32.const 42))
            (global (export "h") (mut i64) (i64.const -7))
            (global (export "f") f64 (f64.const 1.5))
            (table (export "t") 4 funcref))"#,
    );
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &m, &[]).unwrap();
    let mem = instance.get_memory(&store, "mem").unwrap();
    assert_eq!(mem.size(&store), 1);
    assert_eq!(&mem.data(&store)[8..13], b"hello");
    assert_eq!(&mem.data(&store)[65530..], b"edge!!");
    let mut buf = [0u8; 5];
    mem.read(&store, 8, &mut buf).unwrap();
    assert_eq!(&buf, b"hello");
    assert!(mem.read(&store, 65535, &mut buf).is_err());

    let g = instance.get_global(&store, "g").unwrap();
    assert_eq!(g.get(&store), Val::I32(42));
    assert!(g.set(&mut store, Val::I32(1)).is_err(), "immutable");
    let h = instance.get_global(&mut store, "h").unwrap();
    assert_eq!(h.get(&store).i64(), Some(-7));
    h.set(&mut store, Val::I64(9)).unwrap();
    assert_eq!(h.get(&store), Val::I64(9));
    assert!(h.set(&mut store, Val::I32(9)).is_err(), "wrong type");
    assert_eq!(
        instance.get_global(&store, "f").unwrap().get(&store).f64(),
        Some(1.5)
    );

    let t = instance.get_table(&store, "t").unwrap();
    assert_eq!(t.size(&store), 4);
    assert_eq!(t.get(&store, 0), Some(Val::FuncRef(None)));
    assert_eq!(t.get(&store, 4), None);
    assert!(instance.get_export(&store, "nope").is_none());
}

#[test]
fn imports_are_checked() {
    let engine = Engine::default();
    let m = module(
        &engine,
        r#"(module
            (import "env" "f" (func (param i32) (result i32)))
            (import "env" "mem" (memory 1 2))
            (import "env" "g" (global (mut i32)))
            (import "env" "t" (table 2 funcref)))"#,
    );
    let imports: Vec<_> = m
        .imports()
        .map(|i| (i.module().to_string(), i.name().to_string(), i.ty()))
        .collect();
    assert_eq!(imports.len(), 4);
    assert_eq!(
        imports[0].2,
        ExternType::Func(FuncType::new(&[ValType::I32], &[ValType::I32]))
    );
    assert!(matches!(imports[1].2, ExternType::Memory(_)));

    let mut store = Store::new(&engine, ());
    let f = Func::wrap(&mut store, |x: i32| x + 1);
    let wrong_f = Func::wrap(&mut store, |x: i64| x);
    let mem = Memory::new(&mut store, MemoryType::new(1, Some(2))).unwrap();
    let big_mem = Memory::new(&mut store, MemoryType::new(1, None)).unwrap();
    let g = Global::new(
        &mut store,
        GlobalType {
            content: ValType::I32,
            mutable: true,
        },
        Val::I32(3),
    )
    .unwrap();
    let const_g = Global::new(
        &mut store,
        GlobalType {
            content: ValType::I32,
            mutable: false,
        },
        Val::I32(3),
    )
    .unwrap();
    let t = Table::new(
        &mut store,
        TableType {
            elem: RefType::FuncRef,
            limits: Limits { min: 3, max: None },
            table64: false,
        },
        Val::FuncRef(None),
    )
    .unwrap();

    let good = [f.into(), mem.into(), g.into(), t.into()];
    Instance::new(&mut store, &m, &good).unwrap();

    let incompatible = |imports: &[Extern], store: &mut Store<()>| {
        let err = Instance::new(store, &m, imports).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Link, "{err}");
        assert!(
            err.to_string().contains("incompatible import type"),
            "{err}"
        );
    };
    incompatible(
        &[wrong_f.into(), mem.into(), g.into(), t.into()],
        &mut store,
    );
    incompatible(&[f.into(), big_mem.into(), g.into(), t.into()], &mut store);
    incompatible(
        &[f.into(), mem.into(), const_g.into(), t.into()],
        &mut store,
    );
    incompatible(&[f.into(), mem.into(), g.into(), mem.into()], &mut store);
    assert!(Instance::new(&mut store, &m, &good[..2]).is_err());

    // Through a linker: a missing import names itself.
    let mut linker = Linker::new(&engine);
    linker.func_wrap("env", "f", |x: i32| x * 2).unwrap();
    linker.define(&store, "env", "mem", mem).unwrap();
    let err = linker.instantiate(&mut store, &m).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Link);
    assert!(err.to_string().contains("unknown import"), "{err}");
    assert!(err.to_string().contains("env::g"), "{err}");
    linker
        .define(&store, "env", "g", g)
        .unwrap()
        .define(&store, "env", "t", t)
        .unwrap();
    linker.instantiate(&mut store, &m).unwrap();
    assert!(
        linker.define(&store, "env", "g", g).is_err(),
        "defined twice"
    );

    // Items of another store are refused.
    let mut other = Store::new(&engine, ());
    assert!(Instance::new(&mut other, &m, &good).is_err());
}

#[test]
fn shared_memory_and_segment_traps() {
    let engine = Engine::default();
    let exporter = module(
        &engine,
        r#"(module (memory (export "m") 1) (table (export "t") 2 funcref))"#,
    );
    let mut store = Store::new(&engine, ());
    let exp = Instance::new(&mut store, &exporter, &[]).unwrap();
    let mut linker = Linker::new(&engine);
    linker.instance(&mut store, "lib", exp).unwrap();

    // The first segment is written, the second is out of bounds.
    let bad = module(
        &engine,
        r#"(module (import "lib" "m" (memory 1))
            (data (i32.const 0) "ab")
            (data (i32.const 65535) "cd"))"#,
    );
    let err = linker.instantiate(&mut store, &bad).unwrap_err();
    assert_eq!(err.trap(), Some(Trap::MemoryOutOfBounds));
    assert_eq!(err.to_string(), "out of bounds memory access");
    let mem = exp.get_memory(&store, "m").unwrap();
    assert_eq!(&mem.data(&store)[..2], b"ab");

    let bad = module(
        &engine,
        r#"(module (import "lib" "t" (table 1 funcref)) (elem (i32.const 3) func))"#,
    );
    let err = linker.instantiate(&mut store, &bad).unwrap_err();
    assert_eq!(err.trap(), Some(Trap::TableOutOfBounds));
    assert_eq!(err.to_string(), "out of bounds table access");

    // Growth is visible through every instance.
    assert_eq!(mem.grow(&mut store, 2).unwrap(), 1);
    assert_eq!(mem.size(&store), 3);
    assert_eq!(mem.data(&store).len(), 3 * 65536);
}

#[test]
fn memory_limits() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let mem = Memory::new(&mut store, MemoryType::new(0, Some(2))).unwrap();
    assert_eq!(mem.grow(&mut store, 1).unwrap(), 0);
    assert_eq!(mem.grow(&mut store, 1).unwrap(), 1);
    assert!(mem.grow(&mut store, 1).is_err());
    assert!(mem.grow(&mut store, u64::from(u32::MAX)).is_err());
    assert!(mem.grow(&mut store, u64::MAX).is_err());
    mem.write(&mut store, 65536 * 2 - 1, b"z").unwrap();
    assert!(mem.write(&mut store, 65536 * 2, b"z").is_err());
    assert!(Memory::new(&mut store, MemoryType::new(65537, None)).is_err());
    assert!(Memory::new(&mut store, MemoryType::new(2, Some(1))).is_err());

    let t = Table::new(
        &mut store,
        TableType {
            elem: RefType::FuncRef,
            limits: Limits {
                min: 0,
                max: Some(3),
            },
            table64: false,
        },
        Val::FuncRef(None),
    )
    .unwrap();
    let f = Func::wrap(&mut store, || {});
    assert_eq!(t.grow(&mut store, 2, Val::FuncRef(Some(f))).unwrap(), 0);
    assert_eq!(t.get(&store, 1), Some(Val::FuncRef(Some(f))));
    assert!(t.grow(&mut store, 2, Val::FuncRef(None)).is_err());
    assert!(t.set(&mut store, 0, Val::I32(1)).is_err());
    assert!(t.set(&mut store, 5, Val::FuncRef(None)).is_err());
    assert!(
        Table::new(
            &mut store,
            TableType {
                elem: RefType::FuncRef,
                limits: Limits {
                    min: u64::from(u32::MAX),
                    max: None
                },
                table64: false,
            },
            Val::FuncRef(None)
        )
        .is_err()
    );
}

#[test]
fn host_functions_called_directly() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, 10i32);
    let add = Func::wrap(&mut store, |a: i32, b: i32| a.wrapping_add(b));
    let mut out = [Val::I32(0)];
    add.call(&mut store, &[Val::I32(40), Val::I32(2)], &mut out)
        .unwrap();
    assert_eq!(out[0], Val::I32(42));
    assert_eq!(
        add.ty(&store),
        FuncType::new(&[ValType::I32, ValType::I32], &[ValType::I32])
    );

    // Arity and type errors, not panics.
    assert!(add.call(&mut store, &[Val::I32(1)], &mut out).is_err());
    assert!(
        add.call(&mut store, &[Val::I32(1), Val::I64(2)], &mut out)
            .is_err()
    );
    assert!(
        add.call(&mut store, &[Val::I32(1), Val::I32(2)], &mut [])
            .is_err()
    );

    let typed = add.typed::<(i32, i32), i32>(&store).unwrap();
    assert_eq!(typed.call(&mut store, (1, 2)).unwrap(), 3);
    assert!(add.typed::<i32, i32>(&store).is_err());

    // Caller gives the store's data; errors of the host are the call's.
    let bump = Func::wrap(
        &mut store,
        |mut caller: Caller<'_, i32>, by: i32| -> Result<i32, Error> {
            if by < 0 {
                return Err(Error::msg("negative step"));
            }
            *caller.data_mut() += by;
            Ok(*caller.data())
        },
    );
    assert_eq!(
        bump.typed::<i32, i32>(&store)
            .unwrap()
            .call(&mut store, 5)
            .unwrap(),
        15
    );
    let err = bump
        .typed::<i32, i32>(&store)
        .unwrap()
        .call(&mut store, -1)
        .unwrap_err();
    assert_eq!(err.to_string(), "negative step");
    assert_eq!(err.trap(), None);
    assert_eq!(*store.data(), 15);

    // Tuples, floats and u32/u64.
    let multi = Func::wrap(&mut store, |a: f32, b: f64, c: u64| (b, a, c as u32));
    let r = multi
        .typed::<(f32, f64, u64), (f64, f32, u32)>(&store)
        .unwrap()
        .call(&mut store, (1.5, 2.5, 7))
        .unwrap();
    assert_eq!(r, (2.5, 1.5, 7));

    // Func::new with a dynamic type, checking its results.
    let ty = FuncType::new(&[], &[ValType::I64]);
    let liar = Func::new(&mut store, ty, |_, _, results| {
        results[0] = Val::I32(1);
        Ok(())
    });
    let mut out = [Val::I64(0)];
    assert!(liar.call(&mut store, &[], &mut out).is_err());

    // Handles of another store are refused.
    let mut other = Store::new(&engine, 0);
    assert!(
        add.call(&mut other, &[Val::I32(1), Val::I32(2)], &mut [Val::I32(0)])
            .is_err()
    );
}

#[test]
fn linker_get_and_exports() {
    let engine = Engine::default();
    let m = module(
        &engine,
        r#"(module (memory (export "mem") 1) (global (export "g") i32 (i32.const 1)))"#,
    );
    let names: Vec<_> = m.exports().map(|e| e.name().to_string()).collect();
    assert_eq!(names, ["mem", "g"]);
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker.module(&mut store, "m", &m).unwrap();
    linker.func_wrap("host", "f", || 7i32).unwrap();
    assert!(
        linker
            .get(&mut store, "m", "mem")
            .unwrap()
            .into_memory()
            .is_some()
    );
    let f = linker
        .get(&mut store, "host", "f")
        .unwrap()
        .into_func()
        .unwrap();
    assert_eq!(
        f.typed::<(), i32>(&store)
            .unwrap()
            .call(&mut store, ())
            .unwrap(),
        7
    );
    assert!(linker.get(&mut store, "m", "nope").is_none());
}

#[test]
fn malformed_and_invalid_modules_are_errors() {
    let engine = Engine::default();
    assert_eq!(
        Module::new(&engine, b"\0asm\x02\0\0\0").unwrap_err().kind(),
        ErrorKind::Malformed
    );
    assert!(Module::validate(&engine, b"\0asm\x01\0\0\0").is_ok());
    let invalid = wat::parse_str(r#"(module (global i32 (i64.const 0)))"#).unwrap();
    assert_eq!(
        Module::new(&engine, invalid).unwrap_err().kind(),
        ErrorKind::Invalid
    );
}

/// `memory.init` and `table.init` find each segment among several (active
/// and passive, data with and without a memory index, elements as function
/// indices and as expressions) in a module whose first section is a custom
/// one, and see a dropped segment as empty.
#[test]
fn init_operators_find_their_segment() {
    let engine = Engine::default();
    let mut bytes = wat::parse_str(
        r#"(module
            (memory (export "mem") 1)
            (table (export "t") 8 funcref)
            (func $a (result i32) (i32.const 10))
            (func $b (result i32) (i32.const 20))
            (elem $fa func $b $a)
            (elem (i32.const 0) func $a)
            (elem $fe funcref (ref.func $a) (ref.null func) (ref.func $b))
            (data $d0 "abc")
            (data (i32.const 100) "active")
            (data $d2 "")
            (data $d3 (memory 0) (i32.const 200) "explicit")
            (data $d4 "defgh")
            (func (export "init") (param i32 i32 i32 i32)
                (block $b4 (block $b3 (block $b2 (block $b0
                    (br_table $b0 $b0 $b2 $b3 $b4 (local.get 0)))
                    (memory.init $d0 (local.get 1) (local.get 2) (local.get 3)) return)
                    (memory.init $d2 (local.get 1) (local.get 2) (local.get 3)) return)
                    (memory.init $d3 (local.get 1) (local.get 2) (local.get 3)) return)
                (memory.init $d4 (local.get 1) (local.get 2) (local.get 3)))
            (func (export "drop4") (data.drop $d4))
            (func (export "table_init") (param i32 i32 i32 i32)
                (if (local.get 0)
                    (then (table.init $fe (local.get 1) (local.get 2) (local.get 3)))
                    (else (table.init $fa (local.get 1) (local.get 2) (local.get 3)))))
            (func (export "call") (param i32) (result i32)
                (call_indirect (result i32) (local.get 0))))"#,
    )
    .unwrap();
    // A custom section first moves every segment (offsets are module
    // offsets, not section offsets).
    bytes.splice(8..8, [0, 4, 3, b'x', b'y', b'z']);
    let m = Module::new(&engine, &bytes).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &m, &[]).unwrap();
    let mem = instance.get_memory(&store, "mem").unwrap();
    let init = instance.get_func(&store, "init").unwrap();
    let call_init = |store: &mut Store<()>, args: [i32; 4]| {
        init.call(&mut *store, &args.map(Val::I32), &mut [])
    };
    call_init(&mut store, [0, 10, 1, 2]).unwrap();
    call_init(&mut store, [2, 20, 0, 0]).unwrap();
    // An active segment is dropped once instantiation applied it.
    call_init(&mut store, [3, 30, 0, 0]).unwrap();
    call_init(&mut store, [4, 40, 1, 4]).unwrap();
    let data = mem.data(&store);
    assert_eq!(&data[10..12], b"bc");
    assert_eq!(&data[200..208], b"explicit");
    assert_eq!(&data[40..44], b"efgh");
    assert_eq!(&data[100..106], b"active");
    let oob =
        |r: Result<(), Error>| assert_eq!(r.unwrap_err().trap(), Some(Trap::MemoryOutOfBounds));
    oob(call_init(&mut store, [0, 0, 2, 2]));
    oob(call_init(&mut store, [2, 0, 0, 1]));
    oob(call_init(&mut store, [3, 30, 0, 1]));
    oob(call_init(&mut store, [4, 65535, 0, 2]));
    instance
        .get_func(&store, "drop4")
        .unwrap()
        .call(&mut store, &[], &mut [])
        .unwrap();
    call_init(&mut store, [4, 50, 0, 0]).unwrap();
    oob(call_init(&mut store, [4, 50, 0, 1]));

    let table_init = instance.get_func(&store, "table_init").unwrap();
    let call = instance.get_typed_func::<i32, i32>(&store, "call").unwrap();
    table_init
        .call(&mut store, &[0, 2, 0, 2].map(Val::I32), &mut [])
        .unwrap();
    table_init
        .call(&mut store, &[1, 4, 0, 3].map(Val::I32), &mut [])
        .unwrap();
    let got: Vec<Option<i32>> = (0..7).map(|i| call.call(&mut store, i).ok()).collect();
    assert_eq!(
        got,
        [Some(10), None, Some(20), Some(10), Some(10), None, Some(20)]
    );
    let err = table_init
        .call(&mut store, &[1, 6, 1, 3].map(Val::I32), &mut [])
        .unwrap_err();
    assert_eq!(err.trap(), Some(Trap::TableOutOfBounds));
}
