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

/// Host functions run on the call's raw slots: closures over `Val`s
/// (`Func::new`) are converted and checked, typed closures (`Func::wrap`)
/// are not; both work from wasm and from the host, with every value type.
#[test]
fn host_functions_over_values_and_slots() {
    use wasmkern::{ExternRef, FuncType, ValType};
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        wat::parse_str(
            r#"(module
        (import "host" "mix" (func $mix (param i32 v128 externref funcref f64)
                                       (result funcref f64 v128 externref i32)))
        (import "host" "liar" (func $liar (result i64)))
        (import "host" "add3" (func $add3 (param i32 i64 f32) (result f64)))
        (func $seven (export "seven") (result i32) i32.const 7)
        (elem declare func $seven)
        (func (export "mix") (param externref) (result funcref f64 v128 externref i32)
          (call $mix (i32.const 5) (v128.const i64x2 1 -2) (local.get 0)
                     (ref.func $seven) (f64.const 2.5)))
        (func (export "lie") (result i64) call $liar)
        (func (export "add3") (param i32 i64 f32) (result f64)
          (call $add3 (local.get 0) (local.get 1) (local.get 2))))"#,
        )
        .unwrap(),
    )
    .unwrap();
    let mut store = Store::new(&engine, 0u32);
    let ty = FuncType::new(
        &[
            ValType::I32,
            ValType::V128,
            ValType::ExternRef,
            ValType::FuncRef,
            ValType::F64,
        ],
        &[
            ValType::FuncRef,
            ValType::F64,
            ValType::V128,
            ValType::ExternRef,
            ValType::I32,
        ],
    );
    let mix = Func::new(&mut store, ty, |mut caller, params, results| {
        let [i, v, e, f, d] = params else {
            return Err(Error::msg("wrong arity"));
        };
        let e = e.externref().flatten().ok_or_else(|| Error::msg("null"))?;
        let tag = *e.data(&caller).unwrap().downcast_ref::<u32>().unwrap();
        *caller.data_mut() = tag;
        // Back into wasm through the funcref argument.
        let f = f
            .funcref()
            .flatten()
            .ok_or_else(|| Error::msg("null func"))?;
        let mut seven = [Val::I32(0)];
        f.call(&mut caller, &[], &mut seven)?;
        results[0] = Val::FuncRef(Some(f));
        results[1] = Val::F64((d.unwrap_f64() * 2.0).to_bits());
        results[2] = Val::V128(v.v128().unwrap().wrapping_add(1u128 << 64));
        results[3] = Val::ExternRef(Some(e));
        results[4] = Val::I32(i.unwrap_i32() + seven[0].unwrap_i32());
        Ok(())
    });
    let liar = Func::new(
        &mut store,
        FuncType::new(&[], &[ValType::I64]),
        |_, _, results| {
            results[0] = Val::F32(0);
            Ok(())
        },
    );
    let add3 = Func::wrap(&mut store, |a: i32, b: i64, c: f32| {
        f64::from(a) + b as f64 + f64::from(c)
    });
    let instance =
        Instance::new(&mut store, &module, &[mix.into(), liar.into(), add3.into()]).unwrap();

    // Every value type through a host function over values, from wasm.
    let tag = ExternRef::new(&mut store, 99u32).unwrap();
    let mut out = [
        Val::I32(0),
        Val::I32(0),
        Val::I32(0),
        Val::I32(0),
        Val::I32(0),
    ];
    instance
        .get_func(&mut store, "mix")
        .unwrap()
        .call(&mut store, &[Val::ExternRef(Some(tag))], &mut out)
        .unwrap();
    let seven = instance.get_func(&mut store, "seven").unwrap();
    assert_eq!(out[0].funcref(), Some(Some(seven)));
    assert_eq!(out[1].unwrap_f64(), 5.0);
    // v128.const i64x2 1 -2, plus one in the high lane.
    assert_eq!(out[2].v128(), Some((u64::MAX as u128) << 64 | 1));
    assert_eq!(out[3].externref(), Some(Some(tag)));
    assert_eq!(out[4].unwrap_i32(), 12);
    assert_eq!(*store.data(), 99);

    // A host function over values that returns the wrong type is an error
    // from wasm too, and the store stays usable.
    let lie = instance
        .get_typed_func::<(), i64>(&mut store, "lie")
        .unwrap();
    let err = lie.call(&mut store, ()).unwrap_err();
    assert!(err.to_string().contains("wrong result"), "{err}");

    // A typed host function from wasm, and directly from the host, typed
    // and untyped.
    let add3_wasm = instance
        .get_typed_func::<(i32, i64, f32), f64>(&mut store, "add3")
        .unwrap();
    assert_eq!(
        add3_wasm.call(&mut store, (-1, 1 << 40, 0.5)).unwrap(),
        (1u64 << 40) as f64 - 0.5
    );
    let typed = add3.typed::<(i32, i64, f32), f64>(&store).unwrap();
    assert_eq!(typed.call(&mut store, (2, 3, 0.25)).unwrap(), 5.25);
    let mut out = [Val::F64(0)];
    let args = [Val::I32(2), Val::I64(3), Val::F32(0.25f32.to_bits())];
    add3.call(&mut store, &args, &mut out).unwrap();
    assert_eq!(out[0].unwrap_f64(), 5.25);
}

/// A caller's locals live in registers across every kind of call and exit:
/// a callee that uses every register locals can live in (many locals,
/// memory, `memory.fill`/`memory.copy`), a host function that calls back
/// into wasm, `call_indirect`, and `memory.grow` (an exit to the host).
/// Integer locals stay in callee-saved registers, float locals are saved
/// around each call; both must come back unchanged.
#[test]
fn locals_survive_calls_and_exits() {
    let wat = r#"(module
        (import "host" "reenter" (func $reenter (param i32) (result i32)))
        (type $t (func (param i32) (result i32)))
        (memory (export "memory") 1)
        (table 1 funcref)
        (elem (i32.const 0) $clobber)
        (func $clobber (export "clobber") (type $t)
            (local $a i32) (local $b i32) (local $c i32) (local $d i32)
            (local $e i32) (local $f i32) (local $x f64) (local $y f64)
            (local.set $a (i32.const 7))
            (loop $l
                (local.set $b (i32.add (local.get $a) (local.get 0)))
                (local.set $c (i32.mul (local.get $b) (i32.const 3)))
                (local.set $d (i32.xor (local.get $c) (local.get $a)))
                (local.set $e (i32.sub (local.get $d) (local.get $b)))
                (local.set $f (i32.add (local.get $e) (local.get $c)))
                (local.set $x (f64.add (local.get $x) (f64.const 1.5)))
                (local.set $y (f64.mul (local.get $x) (local.get $x)))
                (memory.fill (i32.const 0) (local.get $f) (i32.const 64))
                (memory.copy (i32.const 128) (i32.const 0) (i32.const 64))
                (local.set $a (i32.add (local.get $a) (i32.const 1)))
                (br_if $l (i32.lt_u (local.get $a) (i32.const 12))))
            (i32.add (i32.load (i32.const 130)) (i32.trunc_f64_s (local.get $y))))
        (func (export "run") (result i64)
            (local $a i32) (local $b i32) (local $c i32) (local $d i32)
            (local $e i32) (local $f i32) (local $x f64) (local $y f64)
            (local $i i32) (local $sum i32)
            (local.set $a (i32.const 1)) (local.set $b (i32.const 2))
            (local.set $c (i32.const 3)) (local.set $d (i32.const 4))
            (local.set $e (i32.const 5)) (local.set $f (i32.const 6))
            (local.set $x (f64.const 0.5)) (local.set $y (f64.const 0.25))
            (loop $l
                (local.set $sum (i32.add (local.get $sum) (call $clobber (local.get $i))))
                (local.set $sum (i32.add (local.get $sum) (call $reenter (local.get $i))))
                (local.set $sum (i32.add (local.get $sum)
                    (call_indirect (type $t) (local.get $i) (i32.const 0))))
                (local.set $sum (i32.add (local.get $sum) (memory.grow (i32.const 1))))
                (local.set $a (i32.add (local.get $a) (i32.const 1)))
                (local.set $b (i32.add (local.get $b) (i32.const 2)))
                (local.set $c (i32.add (local.get $c) (i32.const 3)))
                (local.set $d (i32.add (local.get $d) (i32.const 4)))
                (local.set $e (i32.add (local.get $e) (i32.const 5)))
                (local.set $f (i32.add (local.get $f) (i32.const 6)))
                (local.set $x (f64.add (local.get $x) (f64.const 1)))
                (local.set $y (f64.add (local.get $y) (f64.const 2)))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if $l (i32.lt_u (local.get $i) (i32.const 3))))
            ;; Every local in its own decimal digits, the calls' sum above.
            (i64.add
                (i64.mul (i64.extend_i32_u (local.get $sum)) (i64.const 10000000000000000))
                (i64.add
                    (i64.add
                        (i64.add (i64.extend_i32_u (local.get $a))
                                 (i64.mul (i64.extend_i32_u (local.get $b)) (i64.const 100)))
                        (i64.add (i64.mul (i64.extend_i32_u (local.get $c)) (i64.const 10000))
                                 (i64.mul (i64.extend_i32_u (local.get $d)) (i64.const 1000000))))
                    (i64.add
                        (i64.add (i64.mul (i64.extend_i32_u (local.get $e)) (i64.const 100000000))
                                 (i64.mul (i64.extend_i32_u (local.get $f)) (i64.const 10000000000)))
                        (i64.add
                            (i64.mul (i64.trunc_f64_u (f64.mul (local.get $x) (f64.const 2)))
                                     (i64.const 1000000000000))
                            (i64.mul (i64.trunc_f64_u (f64.mul (local.get $y) (f64.const 4)))
                                     (i64.const 100000000000000))))))))"#;
    let (mut store, instance) = instantiate(wat, (), |l| {
        l.func_wrap(
            "host",
            "reenter",
            |mut caller: Caller<'_, ()>, i: i32| -> Result<i32, Error> {
                let clobber = caller
                    .get_export("clobber")
                    .and_then(|e| e.into_func())
                    .ok_or_else(|| Error::msg("no clobber"))?;
                clobber.typed::<i32, i32>(&caller)?.call(&mut caller, i)
            },
        )
        .unwrap();
    });
    // What `$clobber` returns for `i`, computed the same way in Rust.
    let clobber = |i: i32| -> i32 {
        let (mut a, mut f, mut x, mut y) = (7i32, 0i32, 0f64, 0f64);
        while a < 12 {
            let b = a.wrapping_add(i);
            let c = b.wrapping_mul(3);
            let d = c ^ a;
            let e = d.wrapping_sub(b);
            f = e.wrapping_add(c);
            x += 1.5;
            y = x * x;
            a += 1;
        }
        // Bytes 130..134 of the copy are the fill byte, `f`'s low 8 bits.
        let byte = (f & 0xff) as u32;
        (byte * 0x0101_0101) as i32 + y as i32
    };
    let clobber_export = instance
        .get_typed_func::<i32, i32>(&mut store, "clobber")
        .unwrap();
    for i in 0..3 {
        assert_eq!(clobber_export.call(&mut store, i).unwrap(), clobber(i));
    }
    let mut sum = 0i32;
    for (i, pages) in (0..3).zip(1..) {
        sum = sum.wrapping_add(3i32.wrapping_mul(clobber(i))) + pages;
    }
    let expected = (sum as u32 as u64).wrapping_mul(10_000_000_000_000_000)
        + 4
        + 8 * 100
        + 12 * 10_000
        + 16 * 1_000_000
        + 20 * 100_000_000
        + 24 * 10_000_000_000
        + 7 * 1_000_000_000_000 // x = 3.5
        + 25 * 100_000_000_000_000; // y = 6.25
    let run = instance
        .get_typed_func::<(), i64>(&mut store, "run")
        .unwrap();
    assert_eq!(run.call(&mut store, ()).unwrap() as u64, expected);
}

/// The first argument and result of a call also travel in registers (see
/// `wasmkern::abi`): for each type, a callee that keeps its first
/// parameter in a register (it is used in a loop) gets the right value
/// from a direct call, from `call_indirect` whose table index was computed
/// last, and from the host; and its caller uses the first result directly.
#[test]
fn first_argument_and_result_in_registers() {
    let wat = r#"(module
        (type $i32 (func (param i32 i32) (result i32)))
        (type $i64 (func (param i64) (result i64)))
        (type $f32 (func (param f32) (result f32)))
        (type $f64 (func (param f64 f64) (result f64)))
        (table 4 funcref)
        (elem (i32.const 0) $sub32 $dbl64 $half32 $sub64)
        ;; x - y, by counting down (x is read in the loop).
        (func $sub32 (export "sub32") (type $i32) (local $n i32)
            (loop $l
                (local.set $n (i32.add (local.get $n) (i32.const 1)))
                (br_if $l (i32.lt_u (local.get $n) (local.get 1))))
            (i32.sub (local.get 0) (local.get $n)))
        (func $dbl64 (export "dbl64") (type $i64) (local $k i32)
            (loop $l
                (local.set 0 (i64.add (local.get 0) (local.get 0)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br_if $l (i32.lt_u (local.get $k) (i32.const 1))))
            (local.get 0))
        (func $half32 (export "half32") (type $f32) (local $k i32)
            (loop $l
                (local.set 0 (f32.mul (local.get 0) (f32.const 0.5)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br_if $l (i32.lt_u (local.get $k) (i32.const 1))))
            (local.get 0))
        (func $sub64 (export "sub64") (type $f64) (local $k i32)
            (loop $l
                (local.set 0 (f64.sub (local.get 0) (local.get 1)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br_if $l (i32.lt_u (local.get $k) (i32.const 1))))
            (local.get 0))
        (func (export "direct") (param $x i32) (result f64)
            (f64.add
                (f64.convert_i32_s
                    (i32.add (call $sub32 (i32.const -5) (local.get $x))
                             (i32.wrap_i64 (call $dbl64 (i64.const -21)))))
                (f64.add (f64.promote_f32 (call $half32 (f32.const 3)))
                         (call $sub64 (f64.const 0.25) (f64.const 2)))))
        ;; The second argument is computed last, into the register the
        ;; first one travels in.
        (func (export "second_in_first_register") (param $x i32) (result i32)
            (i32.add
                (call $sub32 (i32.add (local.get $x) (i32.const -8))
                             (i32.mul (local.get $x) (local.get $x)))
                (call_indirect (type $i32)
                    (i32.add (local.get $x) (i32.const -8))
                    (i32.mul (local.get $x) (local.get $x))
                    (i32.const 0))))
        (func (export "indirect") (param $x i32) (result f64)
            (f64.add
                (f64.convert_i32_s
                    (i32.add
                        (call_indirect (type $i32) (i32.const -5) (local.get $x)
                            (i32.and (local.get $x) (i32.const 0)))
                        (i32.wrap_i64
                            (call_indirect (type $i64) (i64.const -21)
                                (i32.add (local.get $x) (i32.const -2))))))
                (f64.add
                    (f64.promote_f32 (call_indirect (type $f32) (f32.const 3)
                        (i32.sub (local.get $x) (i32.const 1))))
                    (call_indirect (type $f64) (f64.const 0.25) (f64.const 2)
                        (local.get $x))))))"#;
    let (mut store, instance) = instantiate(wat, (), |_| {});
    let sub32 = instance
        .get_typed_func::<(i32, i32), i32>(&mut store, "sub32")
        .unwrap();
    assert_eq!(sub32.call(&mut store, (-5, 3)).unwrap(), -8);
    let dbl64 = instance
        .get_typed_func::<i64, i64>(&mut store, "dbl64")
        .unwrap();
    assert_eq!(dbl64.call(&mut store, -21).unwrap(), -42);
    assert_eq!(dbl64.call(&mut store, 1 << 40).unwrap(), 1 << 41);
    let half32 = instance
        .get_typed_func::<f32, f32>(&mut store, "half32")
        .unwrap();
    assert_eq!(half32.call(&mut store, 3.0).unwrap(), 1.5);
    let sub64 = instance
        .get_typed_func::<(f64, f64), f64>(&mut store, "sub64")
        .unwrap();
    assert_eq!(sub64.call(&mut store, (0.25, 2.0)).unwrap(), -1.75);
    // (3 - 8) - 3 * 3, twice.
    let second = instance
        .get_typed_func::<i32, i32>(&mut store, "second_in_first_register")
        .unwrap();
    assert_eq!(second.call(&mut store, 3).unwrap(), -28);
    // -8 + -42 + 1.5 - 1.75 for x = 3 (the table index of $sub64).
    for name in ["direct", "indirect"] {
        let f = instance
            .get_typed_func::<i32, f64>(&mut store, name)
            .unwrap();
        assert_eq!(f.call(&mut store, 3).unwrap(), -50.25, "{name}");
    }
}

/// Generated code reaches table 0 through a copy of its view in the
/// instance's context; growing the table, from wasm or from the host,
/// must refresh the copy of every instance whose table 0 it is, imports
/// included, while other tables go through their pointer.
#[test]
fn table_zero_follows_growth() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    let lib = Module::new(
        &engine,
        wat::parse_str(
            r#"(module
                (type $t (func (result i32)))
                (table $tab (export "tab") 1 funcref)
                (func $one (result i32) i32.const 1)
                (func $two (result i32) i32.const 2)
                (elem (table $tab) (i32.const 0) func $one)
                (elem declare func $two)
                (func (export "grow") (param i32) (result i32)
                    (table.grow $tab (ref.func $two) (local.get 0)))
                (func (export "indirect") (param i32) (result i32)
                    local.get 0 call_indirect (type $t)))"#,
        )
        .unwrap(),
    )
    .unwrap();
    let lib = linker.instantiate(&mut store, &lib).unwrap();
    linker.instance(&mut store, "lib", lib).unwrap();
    let app = Module::new(
        &engine,
        wat::parse_str(
            r#"(module
                (type $t (func (result i32)))
                (import "lib" "tab" (table 1 funcref))
                (table $own 1 funcref)
                (func $three (result i32) i32.const 3)
                (elem (table $own) (i32.const 0) func $three)
                (func (export "indirect") (param i32) (result i32)
                    local.get 0 call_indirect (type $t))
                (func (export "own") (param i32) (result i32)
                    local.get 0 call_indirect $own (type $t))
                (func (export "size") (result i32) table.size 0)
                (func (export "get_is_null") (param i32) (result i32)
                    local.get 0 table.get 0 ref.is_null))"#,
        )
        .unwrap(),
    )
    .unwrap();
    let app = linker.instantiate(&mut store, &app).unwrap();
    let typed = |store: &mut Store<()>, instance: Instance, name: &str| {
        instance
            .get_typed_func::<i32, i32>(&mut *store, name)
            .unwrap()
    };
    let (app_indirect, lib_indirect) = (
        typed(&mut store, app, "indirect"),
        typed(&mut store, lib, "indirect"),
    );
    let (own, grow) = (
        typed(&mut store, app, "own"),
        typed(&mut store, lib, "grow"),
    );
    let size = app.get_typed_func::<(), i32>(&mut store, "size").unwrap();
    let get_is_null = typed(&mut store, app, "get_is_null");
    assert_eq!(app_indirect.call(&mut store, 0).unwrap(), 1);
    assert_eq!(
        app_indirect.call(&mut store, 1).unwrap_err().trap(),
        Some(Trap::UndefinedElement)
    );
    // Grown from wasm in steps, so the elements move at least once.
    let mut len = 1;
    for delta in [1, 100, 1000, 10_000] {
        assert_eq!(grow.call(&mut store, delta).unwrap(), len);
        len += delta;
        assert_eq!(size.call(&mut store, ()).unwrap(), len);
        assert_eq!(app_indirect.call(&mut store, len - 1).unwrap(), 2);
        assert_eq!(lib_indirect.call(&mut store, len - 1).unwrap(), 2);
        assert_eq!(get_is_null.call(&mut store, len - 1).unwrap(), 0);
        assert_eq!(
            app_indirect.call(&mut store, len).unwrap_err().trap(),
            Some(Trap::UndefinedElement)
        );
    }
    // Grown from the host, with null elements.
    let tab = linker
        .get(&mut store, "lib", "tab")
        .unwrap()
        .into_table()
        .unwrap();
    assert_eq!(
        tab.grow(&mut store, 50_000, Val::FuncRef(None)).unwrap(),
        len as u64
    );
    len += 50_000;
    assert_eq!(size.call(&mut store, ()).unwrap(), len);
    assert_eq!(get_is_null.call(&mut store, len - 1).unwrap(), 1);
    assert_eq!(
        app_indirect.call(&mut store, len - 1).unwrap_err().trap(),
        Some(Trap::UninitializedElement)
    );
    assert_eq!(app_indirect.call(&mut store, 1).unwrap(), 2);
    // The instance's own second table is unaffected.
    assert_eq!(own.call(&mut store, 0).unwrap(), 3);
    assert_eq!(
        own.call(&mut store, 1).unwrap_err().trap(),
        Some(Trap::UndefinedElement)
    );
}

/// A direct call passes the first two arguments only in their registers;
/// a callee that keeps those parameters in their frame slots (it has more
/// hot locals than registers) stores them there itself. Checked for `i32`
/// and `f64` parameters through direct calls, `call_indirect` and the
/// host, and for `v128`, which always travels in the area, as argument and
/// as first result.
#[test]
fn first_arguments_kept_in_the_frame() {
    let wat = r#"(module
        (type $ints (func (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
        (type $floats (func (param f64 f64 f64 f64 f64 f64 f64 f64) (result f64)))
        (table 2 funcref)
        (elem (i32.const 0) $ints $floats)
        ;; a * 1000 + b * 100 + 3 * (c + d + e + f + g + h): the six later
        ;; parameters, the sum and the counter are used in a loop, more
        ;; than there are pin registers; the first two only once.
        (func $ints (export "ints") (type $ints) (local $k i32) (local $s i32)
            (loop $l
                (local.set $s (i32.add (local.get $s)
                    (i32.add (i32.add (local.get 2) (local.get 3))
                        (i32.add (i32.add (local.get 4) (local.get 5))
                            (i32.add (local.get 6) (local.get 7))))))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br_if $l (i32.lt_u (local.get $k) (i32.const 3))))
            (i32.add (i32.mul (local.get 0) (i32.const 1000))
                (i32.add (i32.mul (local.get 1) (i32.const 100)) (local.get $s))))
        ;; a * 1000 + b * 100 + 2 * (c + d + e + f + g + h)
        (func $floats (export "floats") (type $floats) (local $k i32) (local $s f64)
            (loop $l
                (local.set $s (f64.add (local.get $s)
                    (f64.add (f64.add (local.get 2) (local.get 3))
                        (f64.add (f64.add (local.get 4) (local.get 5))
                            (f64.add (local.get 6) (local.get 7))))))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br_if $l (i32.lt_u (local.get $k) (i32.const 2))))
            (f64.add (f64.mul (local.get 0) (f64.const 1000))
                (f64.add (f64.mul (local.get 1) (f64.const 100)) (local.get $s))))
        (func $swap (export "swap") (param v128 i32) (result v128 i32)
            (i32x4.add (local.get 0) (i32x4.splat (local.get 1)))
            (local.get 1))
        (func (export "direct") (param $x i32) (result i32)
            (call $ints (local.get $x) (i32.const 2) (i32.const 1) (i32.const 2)
                (i32.const 3) (i32.const 4) (i32.const 5) (i32.const 6)))
        (func (export "direct_f") (param $x f64) (result f64)
            (call $floats (local.get $x) (f64.const 2) (f64.const 1) (f64.const 2)
                (f64.const 3) (f64.const 4) (f64.const 5) (f64.const 6)))
        (func (export "indirect") (param $x i32) (result i32)
            (call_indirect (type $ints) (local.get $x) (i32.const 2) (i32.const 1)
                (i32.const 2) (i32.const 3) (i32.const 4) (i32.const 5) (i32.const 6)
                (i32.const 0)))
        (func (export "indirect_f") (param $x f64) (result f64)
            (call_indirect (type $floats) (local.get $x) (f64.const 2) (f64.const 1)
                (f64.const 2) (f64.const 3) (f64.const 4) (f64.const 5) (f64.const 6)
                (i32.const 1)))
        (func (export "v128") (param $x i32) (result i32)
            (local $v v128)
            (call $swap (v128.const i32x4 10 20 30 40) (local.get $x))
            drop
            local.set $v
            (i32.add (i32x4.extract_lane 0 (local.get $v))
                     (i32x4.extract_lane 3 (local.get $v)))))"#;
    let (mut store, instance) = instantiate(wat, (), |_| {});
    let ints = instance
        .get_typed_func::<(i32, i32, i32, i32, i32, i32, i32, i32), i32>(&mut store, "ints")
        .unwrap();
    assert_eq!(
        ints.call(&mut store, (7, 2, 1, 2, 3, 4, 5, 6)).unwrap(),
        7263
    );
    let floats = instance
        .get_typed_func::<(f64, f64, f64, f64, f64, f64, f64, f64), f64>(&mut store, "floats")
        .unwrap();
    assert_eq!(
        floats
            .call(&mut store, (0.5, 2.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0))
            .unwrap(),
        742.0
    );
    for name in ["direct", "indirect"] {
        let f = instance
            .get_typed_func::<i32, i32>(&mut store, name)
            .unwrap();
        assert_eq!(f.call(&mut store, -9).unwrap(), -8737, "{name}");
    }
    for name in ["direct_f", "indirect_f"] {
        let f = instance
            .get_typed_func::<f64, f64>(&mut store, name)
            .unwrap();
        assert_eq!(f.call(&mut store, 0.25).unwrap(), 492.0, "{name}");
    }
    let v128 = instance
        .get_typed_func::<i32, i32>(&mut store, "v128")
        .unwrap();
    assert_eq!(v128.call(&mut store, 5).unwrap(), 60);
    let swap = instance.get_func(&store, "swap").unwrap();
    let mut out = [Val::I32(0), Val::I32(0)];
    swap.call(&mut store, &[Val::V128(1 << 64 | 2), Val::I32(3)], &mut out)
        .unwrap();
    assert_eq!(out[0], Val::V128((4 << 64) | 5 | (3 << 32) | (3 << 96)));
    assert_eq!(out[1], Val::I32(3));
}

/// `call_indirect` keeps `r15` for a callee of the same instance and
/// switches it, then restores it, for another instance's: each callee reads
/// its own memory and each caller its own afterwards, both ways across a
/// shared table, with explicit checks and with guard regions.
#[test]
fn call_indirect_switches_instances_only_when_needed() {
    for guard in [false, true] {
        let engine = Engine::new(wasmkern::Config::new().guard_regions(guard)).unwrap();
        let mut store = Store::new(&engine, ());
        let mut linker = Linker::new(&engine);
        // callee's memory[0] * 100 + the caller's memory[0], read after the call.
        let indirect = r#"(func (export "indirect") (param i32) (result i32)
            (i32.add (i32.mul (call_indirect (type $t) (local.get 0)) (i32.const 100))
                (i32.load (i32.const 0))))"#;
        let lib = format!(
            r#"(module
                (type $t (func (result i32)))
                (memory 1)
                (data (i32.const 0) "\11")
                (table (export "tab") 2 funcref)
                (func $peek (result i32) (i32.load (i32.const 0)))
                (elem (i32.const 0) func $peek)
                {indirect})"#
        );
        let app = format!(
            r#"(module
                (type $t (func (result i32)))
                (import "lib" "tab" (table 2 funcref))
                (memory 1)
                (data (i32.const 0) "\2a")
                (func $peek (result i32) (i32.load (i32.const 0)))
                (elem (i32.const 1) func $peek)
                {indirect})"#
        );
        let lib = Module::new(&engine, wat::parse_str(&lib).unwrap()).unwrap();
        let lib = linker.instantiate(&mut store, &lib).unwrap();
        linker.instance(&mut store, "lib", lib).unwrap();
        let app = Module::new(&engine, wat::parse_str(&app).unwrap()).unwrap();
        let app = linker.instantiate(&mut store, &app).unwrap();
        for (instance, slot, expected) in [
            (lib, 0, 1717),
            (lib, 1, 4217),
            (app, 0, 1742),
            (app, 1, 4242),
        ] {
            let f = instance
                .get_typed_func::<i32, i32>(&mut store, "indirect")
                .unwrap();
            assert_eq!(
                f.call(&mut store, slot).unwrap(),
                expected,
                "slot {slot}, guard regions {guard}"
            );
        }
    }
}

/// A leaf function (no calls) may keep its integer locals in caller-saved
/// registers (`r8`, `r9`); exits to the host (`memory.grow` here) run Rust
/// code that clobbers those, so the locals must come back from their slots.
#[test]
fn leaf_locals_survive_exits() {
    let wat = r#"(module
        (memory 1)
        (func (export "run") (param $a i32) (param $b i32) (result i32)
            (loop $l
                (local.set $a (i32.add (local.get $a) (i32.const 3)))
                (local.set $b (i32.add (local.get $b)
                    (i32.add (local.get $a) (memory.grow (i32.const 1)))))
                (br_if $l (i32.lt_u (local.get $a) (i32.const 30))))
            (i32.add (i32.mul (local.get $a) (i32.const 100000)) (local.get $b))))"#;
    let (mut store, instance) = instantiate(wat, (), |_| {});
    let run = instance
        .get_typed_func::<(i32, i32), i32>(&mut store, "run")
        .unwrap();
    // a: 3, 6, .., 30 (10 rounds); b: 5 + sum(a) + sum of the old sizes 1..10.
    let b = 5 + (3..=30).step_by(3).sum::<i32>() + (1..=10).sum::<i32>();
    assert_eq!(run.call(&mut store, (0, 5)).unwrap(), 30 * 100000 + b);
}
