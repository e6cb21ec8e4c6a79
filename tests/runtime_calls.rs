//! Calling compiled wasm code through the public API.

use wasmkern::{Caller, Engine, Error, Func, Instance, Linker, Module, Store, Trap, Val};

fn instantiate<T: 'static>(
    wat: &str,
    data: T,
    linker: impl FnOnce(&mut Linker<T>),
) -> (Store<T>, Instance) {
    let engine = Engine::default();
    let module = Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
    let mut store = Store::new(&engine, data);
    let mut l = Linker::new(&engine);
    linker(&mut l);
    let instance = l.instantiate(&mut store, &module).unwrap();
    (store, instance)
}

const MATH: &str = r#"(module
    (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
    (func $fac (export "fac") (param i64) (result i64)
        local.get 0 i64.eqz
        if (result i64) i64.const 1
        else local.get 0 local.get 0 i64.const 1 i64.sub call $fac i64.mul end)
    (func $deep (export "deep") (param i32) (result i32)
        local.get 0 i32.const 1 i32.add call $deep)
    (func (export "div") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)
    (func (export "swap") (param f32 f64) (result f64 f32) local.get 1 local.get 0))"#;

#[test]
fn exported_functions() {
    let (mut store, instance) = instantiate(MATH, (), |_| {});
    let add = instance
        .get_typed_func::<(i32, i32), i32>(&mut store, "add")
        .unwrap();
    assert_eq!(add.call(&mut store, (40, 2)).unwrap(), 42);
    assert_eq!(add.call(&mut store, (i32::MAX, 1)).unwrap(), i32::MIN);
    let fac = instance
        .get_typed_func::<i64, i64>(&mut store, "fac")
        .unwrap();
    assert_eq!(fac.call(&mut store, 20).unwrap(), 2_432_902_008_176_640_000);

    let swap = instance.get_func(&mut store, "swap").unwrap();
    let mut out = [Val::I32(0), Val::I32(0)];
    swap.call(
        &mut store,
        &[Val::from(1.5f32), Val::from(2.5f64)],
        &mut out,
    )
    .unwrap();
    assert_eq!(out, [Val::from(2.5f64), Val::from(1.5f32)]);
    assert!(
        swap.call(&mut store, &[Val::from(1.5f32)], &mut out)
            .is_err()
    );
    assert!(
        instance
            .get_typed_func::<i32, i32>(&mut store, "add")
            .is_err()
    );
}

#[test]
fn traps_leave_the_store_usable() {
    let (mut store, instance) = instantiate(MATH, (), |_| {});
    let deep = instance
        .get_typed_func::<i32, i32>(&mut store, "deep")
        .unwrap();
    let err = deep.call(&mut store, 0).unwrap_err();
    assert_eq!(err.trap(), Some(Trap::StackOverflow));
    assert_eq!(err.to_string(), "call stack exhausted");
    let div = instance
        .get_typed_func::<(i32, i32), i32>(&mut store, "div")
        .unwrap();
    assert_eq!(
        div.call(&mut store, (1, 0)).unwrap_err().trap(),
        Some(Trap::IntegerDivideByZero)
    );
    assert_eq!(
        div.call(&mut store, (i32::MIN, -1)).unwrap_err().trap(),
        Some(Trap::IntegerOverflow)
    );
    assert_eq!(div.call(&mut store, (7, 2)).unwrap(), 3);
    // Again after a stack overflow: the stack starts afresh.
    assert_eq!(
        deep.call(&mut store, 0).unwrap_err().trap(),
        Some(Trap::StackOverflow)
    );
    let fac = instance
        .get_typed_func::<i64, i64>(&mut store, "fac")
        .unwrap();
    assert_eq!(fac.call(&mut store, 5).unwrap(), 120);
}

#[test]
fn host_functions_with_caller_and_nesting() {
    let wat = r#"(module
        (import "host" "log" (func $log (param i32 i32)))
        (import "host" "twice" (func $twice (param i32) (result i32)))
        (memory (export "memory") 1)
        (data (i32.const 16) "hello, host")
        (func (export "greet") i32.const 16 i32.const 11 call $log)
        (func (export "inc") (param i32) (result i32) local.get 0 i32.const 1 i32.add)
        (func (export "via_host") (param i32) (result i32) local.get 0 call $twice i32.const 100 i32.add)
        (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
        (func (export "size") (result i32) memory.size)
        (func (export "load") (param i32) (result i32) local.get 0 i32.load))"#;
    let (mut store, instance) = instantiate(wat, Vec::<String>::new(), |l| {
        l.func_wrap(
            "host",
            "log",
            |mut caller: Caller<'_, Vec<String>>, ptr: i32, len: i32| -> Result<(), Error> {
                let memory = caller
                    .get_export("memory")
                    .and_then(|e| e.into_memory())
                    .ok_or_else(|| Error::msg("no memory"))?;
                let mut buf = vec![0; len as usize];
                memory.read(&caller, ptr as usize, &mut buf)?;
                let text = String::from_utf8(buf).map_err(Error::new)?;
                caller.data_mut().push(text);
                Ok(())
            },
        )
        .unwrap();
        // host -> wasm -> host -> wasm: `twice` calls the guest's `inc`.
        l.func_wrap(
            "host",
            "twice",
            |mut caller: Caller<'_, Vec<String>>, x: i32| -> Result<i32, Error> {
                if x < 0 {
                    return Err(Error::msg("negative input"));
                }
                let inc = caller
                    .get_export("inc")
                    .and_then(|e| e.into_func())
                    .ok_or_else(|| Error::msg("no inc"))?;
                let inc = inc.typed::<i32, i32>(&caller)?;
                let once = inc.call(&mut caller, x)?;
                Ok(inc.call(&mut caller, once)? * 2)
            },
        )
        .unwrap();
    });
    let greet = instance
        .get_typed_func::<(), ()>(&mut store, "greet")
        .unwrap();
    greet.call(&mut store, ()).unwrap();
    assert_eq!(store.data(), &["hello, host"]);

    let via_host = instance
        .get_typed_func::<i32, i32>(&mut store, "via_host")
        .unwrap();
    assert_eq!(via_host.call(&mut store, 5).unwrap(), (5 + 2) * 2 + 100);
    let err = via_host.call(&mut store, -1).unwrap_err();
    assert_eq!(err.to_string(), "negative input");
    assert_eq!(err.trap(), None);
    assert_eq!(via_host.call(&mut store, 1).unwrap(), 106);

    // memory.grow from wasm, seen by the host and by the guest.
    let grow = instance
        .get_typed_func::<i32, i32>(&mut store, "grow")
        .unwrap();
    let size = instance
        .get_typed_func::<(), i32>(&mut store, "size")
        .unwrap();
    let load = instance
        .get_typed_func::<i32, i32>(&mut store, "load")
        .unwrap();
    assert_eq!(grow.call(&mut store, 2).unwrap(), 1);
    assert_eq!(size.call(&mut store, ()).unwrap(), 3);
    let memory = instance.get_memory(&store, "memory").unwrap();
    assert_eq!(memory.size(&store), 3);
    memory
        .write(&mut store, 3 * 65536 - 4, &7i32.to_le_bytes())
        .unwrap();
    assert_eq!(load.call(&mut store, 3 * 65536 - 4).unwrap(), 7);
    assert_eq!(
        load.call(&mut store, 3 * 65536 - 3).unwrap_err().trap(),
        Some(Trap::MemoryOutOfBounds)
    );
    assert_eq!(grow.call(&mut store, 65536).unwrap(), -1);
    // Growth by the host is seen by the guest.
    memory.grow(&mut store, 1).unwrap();
    assert_eq!(size.call(&mut store, ()).unwrap(), 4);
    assert_eq!(load.call(&mut store, 3 * 65536 - 4).unwrap(), 7);
}

#[test]
fn tables_start_and_cross_instance_calls() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, 0i32);
    let mut linker = Linker::new(&engine);
    let lib = Module::new(
        &engine,
        wat::parse_str(
            r#"(module
                (global $g (export "counter") (mut i32) (i32.const 0))
                (func (export "bump") (result i32) global.get $g i32.const 1 i32.add global.set $g global.get $g)
                (table (export "tab") 2 funcref)
                (elem (i32.const 0) func 0))"#,
        )
        .unwrap(),
    )
    .unwrap();
    linker.module(&mut store, "lib", &lib).unwrap();
    let app = Module::new(
        &engine,
        wat::parse_str(
            r#"(module
                (import "lib" "bump" (func $bump (result i32)))
                (import "lib" "tab" (table 2 funcref))
                (type $t (func (result i32)))
                (func $start call $bump drop)
                (start $start)
                (func (export "indirect") (param i32) (result i32) local.get 0 call_indirect (type $t))
                (func (export "bulk") (result i32)
                    (table.copy (i32.const 1) (i32.const 0) (i32.const 1))
                    (i32.const 1) call_indirect (type $t)))"#,
        )
        .unwrap(),
    )
    .unwrap();
    let app = linker.instantiate(&mut store, &app).unwrap();
    let counter = linker
        .get(&mut store, "lib", "counter")
        .unwrap()
        .into_global()
        .unwrap();
    assert_eq!(counter.get(&store), Val::I32(1), "the start function ran");
    let indirect = app
        .get_typed_func::<i32, i32>(&mut store, "indirect")
        .unwrap();
    assert_eq!(indirect.call(&mut store, 0).unwrap(), 2);
    assert_eq!(
        indirect.call(&mut store, 1).unwrap_err().trap(),
        Some(Trap::UninitializedElement)
    );
    assert_eq!(
        indirect.call(&mut store, 2).unwrap_err().trap(),
        Some(Trap::UndefinedElement)
    );
    let bulk = app.get_typed_func::<(), i32>(&mut store, "bulk").unwrap();
    assert_eq!(bulk.call(&mut store, ()).unwrap(), 3);

    // A host function in a table, called indirectly by wasm.
    let host = Func::wrap(&mut store, |mut c: Caller<'_, i32>| {
        *c.data_mut() += 1;
        1000
    });
    let tab = linker
        .get(&mut store, "lib", "tab")
        .unwrap()
        .into_table()
        .unwrap();
    tab.set(&mut store, 1, Val::FuncRef(Some(host))).unwrap();
    assert_eq!(indirect.call(&mut store, 1).unwrap(), 1000);
    assert_eq!(*store.data(), 1);
    assert_eq!(tab.get(&store, 1), Some(Val::FuncRef(Some(host))));
}
