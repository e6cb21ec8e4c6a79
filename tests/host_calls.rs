//! Calls across the host/wasm boundary through the exit-code protocol: every
//! value type and several signature shapes from wasm to host functions
//! (`Func::wrap`'s typed closures and `Func::new`'s closures over values),
//! host errors, reentrancy, host calls mixed with the other exits (memory
//! growth, fuel pauses), and traps after host calls with their backtraces.
//! Each expected value is computed here in Rust, independently of wasmkern.

mod common;

use wasmkern::{
    Caller, Config, Engine, Error, ExternRef, Func, FuncType, Instance, Linker, Module, Store,
    Trap, Val, ValType,
};

fn instantiate<T: 'static>(
    engine: &Engine,
    wat: &str,
    data: T,
    define: impl FnOnce(&mut Linker<T>),
) -> (Store<T>, Instance) {
    let module = Module::new(engine, wat::parse_str(wat).unwrap()).unwrap();
    let mut store = Store::new(engine, data);
    let mut linker = Linker::new(engine);
    define(&mut linker);
    let instance = linker.instantiate(&mut store, &module).unwrap();
    (store, instance)
}

/// Scalars of every type, more arguments than registers, several results,
/// and a host function with no arguments or results that uses its caller.
#[test]
fn scalar_signatures_from_wasm() {
    let wat = r#"(module
        (import "h" "neg" (func $neg (param i32) (result i32)))
        (import "h" "mul" (func $mul (param i64 i64) (result i64)))
        (import "h" "half" (func $half (param f32) (result f32)))
        (import "h" "hyp" (func $hyp (param f64 f64) (result f64)))
        (import "h" "rev" (func $rev (param i32 i64 f32 f64) (result f64 f32 i64 i32)))
        (import "h" "sum10" (func $sum10
            (param i32 i64 i32 i64 i32 i64 i32 i64 f64 i32) (result i64)))
        (import "h" "tick" (func $tick))
        (func (export "neg") (param i32) (result i32) (call $neg (local.get 0)))
        (func (export "mul") (param i64 i64) (result i64)
            (call $mul (local.get 0) (local.get 1)))
        (func (export "half") (param f32) (result f32) (call $half (local.get 0)))
        (func (export "hyp") (param f64 f64) (result f64)
            (call $hyp (local.get 0) (local.get 1)))
        (func (export "rev") (param i32 i64 f32 f64) (result f64 f32 i64 i32)
            (call $rev (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
        (func (export "sum10") (result i64)
            (call $sum10 (i32.const 1) (i64.const 2) (i32.const 3) (i64.const 4)
                (i32.const 5) (i64.const 6) (i32.const 7) (i64.const 8)
                (f64.const 9.75) (i32.const -10)))
        (func (export "ticks") (param $n i32)
            (loop $l
                (call $tick)
                (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))"#;
    let (mut store, instance) = instantiate(&Engine::default(), wat, 0u64, |l| {
        l.func_wrap("h", "neg", |x: i32| x.wrapping_neg()).unwrap();
        l.func_wrap("h", "mul", |a: i64, b: i64| a.wrapping_mul(b))
            .unwrap();
        l.func_wrap("h", "half", |x: f32| x / 2.0).unwrap();
        l.func_wrap("h", "hyp", |a: f64, b: f64| (a * a + b * b).sqrt())
            .unwrap();
        l.func_wrap("h", "rev", |a: i32, b: i64, c: f32, d: f64| (d, c, b, a))
            .unwrap();
        l.func_wrap(
            "h",
            "sum10",
            |a: i32, b: i64, c: i32, d: i64, e: i32, f: i64, g: i32, h: i64, i: f64, j: i32| {
                a as i64 + b + c as i64 + d + e as i64 + f + g as i64 + h + i as i64 + j as i64
            },
        )
        .unwrap();
        l.func_wrap("h", "tick", |mut caller: Caller<'_, u64>| {
            *caller.data_mut() += 1;
        })
        .unwrap();
    });
    let neg = instance.get_typed_func::<i32, i32>(&store, "neg").unwrap();
    for x in [0, 1, -7, i32::MIN, i32::MAX] {
        assert_eq!(neg.call(&mut store, x).unwrap(), x.wrapping_neg());
    }
    let mul = instance
        .get_typed_func::<(i64, i64), i64>(&store, "mul")
        .unwrap();
    assert_eq!(
        mul.call(&mut store, (i64::MAX, 3)).unwrap(),
        i64::MAX.wrapping_mul(3)
    );
    assert_eq!(mul.call(&mut store, (-4, 1 << 40)).unwrap(), -(1 << 42));
    let half = instance.get_typed_func::<f32, f32>(&store, "half").unwrap();
    assert_eq!(half.call(&mut store, 3.0).unwrap(), 1.5);
    assert!(half.call(&mut store, f32::NAN).unwrap().is_nan());
    let hyp = instance
        .get_typed_func::<(f64, f64), f64>(&store, "hyp")
        .unwrap();
    assert_eq!(hyp.call(&mut store, (3.0, 4.0)).unwrap(), 5.0);
    let rev = instance
        .get_typed_func::<(i32, i64, f32, f64), (f64, f32, i64, i32)>(&store, "rev")
        .unwrap();
    assert_eq!(
        rev.call(&mut store, (-1, i64::MIN, 0.25, -2.5)).unwrap(),
        (-2.5, 0.25, i64::MIN, -1)
    );
    let sum10 = instance.get_typed_func::<(), i64>(&store, "sum10").unwrap();
    assert_eq!(
        sum10.call(&mut store, ()).unwrap(),
        1 + 2 + 3 + 4 + 5 + 6 + 7 + 8 + 9 - 10
    );
    let ticks = instance.get_typed_func::<i32, ()>(&store, "ticks").unwrap();
    ticks.call(&mut store, 10_000).unwrap();
    assert_eq!(*store.data(), 10_000);
}

/// `v128` and references travel through a host function over values, in
/// both directions, with results in another order than the arguments.
#[test]
fn vectors_and_references_from_wasm() {
    let wat = r#"(module
        (import "h" "swap" (func $swap (param v128 externref funcref) (result funcref externref v128)))
        (func $me (export "me"))
        (elem declare func $me)
        (func (export "run") (param v128 externref) (result funcref externref v128)
            (call $swap (local.get 0) (local.get 1) (ref.func $me))))"#;
    let ty = FuncType::new(
        &[ValType::V128, ValType::ExternRef, ValType::FuncRef],
        &[ValType::FuncRef, ValType::ExternRef, ValType::V128],
    );
    let (mut store, instance) = instantiate(&Engine::default(), wat, (), |l| {
        l.func_new("h", "swap", ty, |_caller, args, results| {
            let Val::V128(v) = args[0] else {
                return Err(Error::msg("not a v128"));
            };
            results[0] = args[2];
            results[1] = args[1];
            results[2] = Val::V128(v.rotate_left(32));
            Ok(())
        })
        .unwrap();
    });
    let me = instance.get_func(&store, "me").unwrap();
    let run = instance.get_func(&store, "run").unwrap();
    let v = 0x0011_2233_4455_6677_8899_aabb_ccdd_eeffu128;
    let ext = ExternRef::new(&mut store, 42u32).unwrap();
    let mut out = [Val::I32(0), Val::I32(0), Val::I32(0)];
    run.call(
        &mut store,
        &[Val::V128(v), Val::ExternRef(Some(ext))],
        &mut out,
    )
    .unwrap();
    assert_eq!(out[0], Val::FuncRef(Some(me)));
    let Val::ExternRef(Some(back)) = out[1] else {
        panic!("expected an externref, got {:?}", out[1]);
    };
    assert_eq!(back.data(&store).unwrap().downcast_ref::<u32>(), Some(&42));
    assert_eq!(out[2], Val::V128(v.rotate_left(32)));
    run.call(&mut store, &[Val::V128(0), Val::ExternRef(None)], &mut out)
        .unwrap();
    assert_eq!(out[1], Val::ExternRef(None));
    assert_eq!(out[2], Val::V128(0));
}

/// A host error ends the wasm call with that error; the store and the host
/// function work again afterwards, for typed and untyped host functions.
#[test]
fn host_errors_end_the_call() {
    let wat = r#"(module
        (import "h" "check" (func $check (param i32) (result i32)))
        (import "h" "check_vals" (func $check_vals (param i32) (result i32)))
        (func (export "sum") (param $n i32) (result i32) (local $acc i32)
            (loop $l
                (local.set $acc (i32.add (local.get $acc) (call $check (local.get $n))))
                (local.set $acc (i32.add (local.get $acc) (call $check_vals (local.get $n))))
                (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
            (local.get $acc)))"#;
    let ty = FuncType::new(&[ValType::I32], &[ValType::I32]);
    let (mut store, instance) = instantiate(&Engine::default(), wat, (), |l| {
        l.func_wrap("h", "check", |x: i32| -> Result<i32, Error> {
            if x == 13 {
                Err(Error::msg("thirteen"))
            } else {
                Ok(x)
            }
        })
        .unwrap();
        l.func_new("h", "check_vals", ty, |_caller, args, results| {
            if args[0] == Val::I32(17) {
                return Err(Error::msg("seventeen"));
            }
            results[0] = args[0];
            Ok(())
        })
        .unwrap();
    });
    let sum = instance.get_typed_func::<i32, i32>(&store, "sum").unwrap();
    assert_eq!(sum.call(&mut store, 12).unwrap(), 2 * (12 * 13 / 2));
    assert_eq!(
        sum.call(&mut store, 15).unwrap_err().to_string(),
        "thirteen"
    );
    assert_eq!(
        sum.call(&mut store, 20).unwrap_err().to_string(),
        "seventeen"
    );
    assert_eq!(sum.call(&mut store, 10).unwrap(), 2 * (10 * 11 / 2));
}

/// Host calls wasm calls host ... to some depth; each level adds to the
/// result, and an error at the innermost level unwinds them all.
#[test]
fn reentrant_host_and_wasm_calls() {
    let wat = r#"(module
        (import "h" "down" (func $down (param i32) (result i64)))
        (func (export "level") (param $n i32) (result i64)
            (if (result i64) (i32.eqz (local.get $n))
                (then (i64.const 1000))
                (else (i64.add (i64.extend_i32_u (local.get $n))
                    (call $down (i32.sub (local.get $n) (i32.const 1))))))))"#;
    let (mut store, instance) = instantiate(&Engine::default(), wat, None::<Func>, |l| {
        l.func_wrap(
            "h",
            "down",
            |mut caller: Caller<'_, Option<Func>>, n: i32| -> Result<i64, Error> {
                if n == 99 {
                    return Err(Error::msg("bottom"));
                }
                let level = caller.data().unwrap().typed::<i32, i64>(&caller)?;
                Ok(10 * level.call(&mut caller, n)?)
            },
        )
        .unwrap();
    });
    let level = instance.get_func(&store, "level").unwrap();
    *store.data_mut() = Some(level);
    let level = level.typed::<i32, i64>(&store).unwrap();
    // level(n) = n + 10 * level(n - 1), level(0) = 1000.
    let expected = (1..=6).fold(1000i64, |inner, n| n + 10 * inner);
    assert_eq!(level.call(&mut store, 6).unwrap(), expected);
    let err = level.call(&mut store, 105).unwrap_err();
    assert_eq!(err.to_string(), "bottom");
    assert_eq!(level.call(&mut store, 1).unwrap(), 1 + 10 * 1000);
}

/// Host calls alternate with `memory.grow` exits in one loop: both kinds
/// of exit resume where they left.
#[test]
fn host_calls_among_other_exits() {
    let wat = r#"(module
        (import "h" "add" (func $add (param i64 i32) (result i64)))
        (memory 1 100)
        (func (export "run") (param $n i32) (result i64) (local $acc i64)
            (loop $l
                (local.set $acc (call $add (local.get $acc) (memory.grow (i32.const 1))))
                (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
            (i64.add (local.get $acc) (i64.extend_i32_u (memory.size)))))"#;
    let (mut store, instance) = instantiate(&Engine::default(), wat, (), |l| {
        l.func_wrap("h", "add", |acc: i64, old: i32| acc * 3 + old as i64)
            .unwrap();
    });
    let run = instance.get_typed_func::<i32, i64>(&store, "run").unwrap();
    // memory.grow returns the old size: 1, 2, ..., 30; the final size is 31.
    let expected = (1..=30).fold(0i64, |acc, old| acc * 3 + old) + 31;
    assert_eq!(run.call(&mut store, 30).unwrap(), expected);
}

/// Fuel runs out between host calls; the paused call resumes and finishes
/// with the same result as an unpaused one.
#[test]
fn host_calls_across_fuel_pauses() {
    let wat = r#"(module
        (import "h" "step" (func $step (param i64) (result i64)))
        (func (export "run") (param $n i32) (result i64) (local $acc i64)
            (loop $l
                (local.set $acc (call $step (local.get $acc)))
                (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
            (local.get $acc)))"#;
    let mut config = Config::new();
    config.consume_fuel(true);
    let engine = Engine::new(&config).unwrap();
    let (mut store, instance) = instantiate(&engine, wat, 0u32, |l| {
        l.func_wrap("h", "step", |mut caller: Caller<'_, u32>, acc: i64| {
            *caller.data_mut() += 1;
            acc.wrapping_mul(31).wrapping_add(7)
        })
        .unwrap();
    });
    let run = instance.get_func(&store, "run").unwrap();
    let mut results = [Val::I64(0)];
    let pauses = common::call_in_fuel_slices(&mut store, run, &[Val::I32(2_000)], &mut results, 50);
    assert!(pauses > 10, "{pauses} pauses");
    let expected = (0..2_000).fold(0i64, |acc, _| acc.wrapping_mul(31).wrapping_add(7));
    assert_eq!(results[0], Val::I64(expected));
    assert_eq!(*store.data(), 2_000);
}

/// Code that traps after host calls reports the trap with the frames of
/// the resumed code.
#[test]
fn a_trap_after_host_calls_has_its_backtrace() {
    let wat = r#"(module
        (import "h" "nop" (func $nop))
        (func $inner (param i32) (result i32)
            (call $nop)
            (i32.div_u (i32.const 1) (local.get 0)))
        (func (export "outer") (param i32) (result i32)
            (call $nop)
            (call $inner (local.get 0))))"#;
    let (mut store, instance) = instantiate(&Engine::default(), wat, (), |l| {
        l.func_wrap("h", "nop", || {}).unwrap();
    });
    let outer = instance
        .get_typed_func::<i32, i32>(&store, "outer")
        .unwrap();
    assert_eq!(outer.call(&mut store, 1).unwrap(), 1);
    let err = outer.call(&mut store, 0).unwrap_err();
    assert_eq!(err.trap(), Some(Trap::IntegerDivideByZero));
    let frames: Vec<u32> = err.backtrace().iter().map(|f| f.func_index).collect();
    // Function 0 is the import: `inner` is 1, `outer` 2.
    assert_eq!(frames, [1, 2]);
    assert_eq!(outer.call(&mut store, 2).unwrap(), 0);
}

/// Engines with explicit bounds checks and with guard regions (where the
/// platform has them), named for assertion messages.
fn both_modes() -> Vec<(&'static str, Engine)> {
    let mut engines = vec![("explicit", Engine::default())];
    match Engine::new(Config::new().guard_regions(true)) {
        Ok(engine) => engines.push(("guard", engine)),
        Err(e) => eprintln!("guard regions unavailable here, only explicit checks tested: {e}"),
    }
    engines
}

const SHAPES: &str = r#"(module
    (memory 1)
    (func (export "i32") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
    (func (export "i64") (param i64) (result i64) (i64.mul (local.get 0) (i64.const 3)))
    (func (export "f32") (param f32) (result f32) (f32.neg (local.get 0)))
    (func (export "f64") (param f64) (result f64) (f64.mul (local.get 0) (f64.const 0.5)))
    (func (export "v128") (param v128) (result v128)
        (i32x4.add (local.get 0) (v128.const i32x4 1 2 3 4)))
    (func (export "none"))
    (func (export "mixed") (param i32 f64 i64 f32) (result f64 i32 f32 i64)
        (local.get 1) (local.get 0) (local.get 3) (local.get 2))
    ;; Ten arguments of alternating types: 10 slots.
    (func (export "wide") (param i32 i64 i32 i64 i32 i64 i32 i64 f64 i32) (result i64)
        (i64.add (i64.add (i64.add (i64.extend_i32_s (local.get 0))
                                   (i64.mul (local.get 1) (i64.const 10)))
                          (i64.add (i64.extend_i32_s (i32.mul (local.get 2) (i32.const 100)))
                                   (i64.mul (local.get 3) (i64.const 1000))))
                 (i64.add (i64.add (i64.extend_i32_s (i32.mul (local.get 4) (i32.const 10000)))
                                   (i64.mul (local.get 5) (i64.const 100000)))
                          (i64.add (i64.add (i64.extend_i32_s (i32.mul (local.get 6) (i32.const 1000000)))
                                            (i64.mul (local.get 7) (i64.const 10000000)))
                                   (i64.add (i64.trunc_f64_s (local.get 8))
                                            (i64.extend_i32_s (local.get 9)))))))
    ;; Ten results: the first in a register, the others in the area.
    (func (export "ten") (param i32) (result i32 i64 f32 f64 i32 i64 f32 f64 i32 i64)
        (local.get 0) (i64.const -2) (f32.const 3.5) (f64.const -4.25)
        (i32.add (local.get 0) (i32.const 5)) (i64.const 6) (f32.const 7) (f64.const 8)
        (i32.const 9) (i64.extend_i32_s (local.get 0)))
    (func (export "div") (param i32) (result i32) (i32.div_s (i32.const 100) (local.get 0)))
    (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
    (func (export "unreachable") (result f64) unreachable)
    (func $deep (export "deep") (param i32) (result i32)
        (i32.add (i32.const 1) (call $deep (local.get 0))))
    ;; Twenty i32 arguments: more slots than `TypedFunc`'s buffers.
    (func (export "twenty")
        (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)
        (result i32)
        (local $i i32) (local $acc i32)
        (i32.add (i32.mul (local.get 0) (i32.const 1)) (i32.mul (local.get 19) (i32.const 20)))
        (i32.add (i32.mul (local.get 9) (i32.const 10)))
        (i32.add (i32.mul (local.get 15) (i32.const 16)))))"#;

/// Host→wasm calls return every value shape, in both memory modes: each
/// scalar type as the single result (which comes back in a register),
/// `v128`, mixed and many arguments and results (through `TypedFunc`'s
/// small and large slot buffers and through `Func::call`).
#[test]
fn host_to_wasm_every_shape() {
    for (mode, engine) in both_modes() {
        let (mut store, instance) = instantiate(&engine, SHAPES, (), |_| {});
        let i32f = instance.get_typed_func::<i32, i32>(&store, "i32").unwrap();
        let i64f = instance.get_typed_func::<i64, i64>(&store, "i64").unwrap();
        let f32f = instance.get_typed_func::<f32, f32>(&store, "f32").unwrap();
        let f64f = instance.get_typed_func::<f64, f64>(&store, "f64").unwrap();
        let none = instance.get_typed_func::<(), ()>(&store, "none").unwrap();
        for x in [0, -1, i32::MAX, i32::MIN, 12345] {
            assert_eq!(
                i32f.call(&mut store, x).unwrap(),
                x.wrapping_add(1),
                "{mode}"
            );
        }
        for x in [0i64, -7, 1 << 40, i64::MIN] {
            assert_eq!(
                i64f.call(&mut store, x).unwrap(),
                x.wrapping_mul(3),
                "{mode}"
            );
        }
        for x in [0.0f32, 1.5, -3.25, f32::INFINITY] {
            assert_eq!(f32f.call(&mut store, x).unwrap(), -x, "{mode}");
        }
        for x in [0.0f64, 3.0, -1e300, 12345.678] {
            assert_eq!(f64f.call(&mut store, x).unwrap(), x * 0.5, "{mode}");
        }
        none.call(&mut store, ()).unwrap();

        let v128 = instance.get_func(&store, "v128").unwrap();
        let lanes = |l: [u32; 4]| {
            l.iter()
                .enumerate()
                .fold(0u128, |acc, (i, &x)| acc | (x as u128) << (32 * i))
        };
        let mut out = [Val::V128(0)];
        v128.call(
            &mut store,
            &[Val::V128(lanes([10, 20, u32::MAX, 40]))],
            &mut out,
        )
        .unwrap();
        assert_eq!(out[0], Val::V128(lanes([11, 22, 2, 44])), "{mode}");

        let mixed = instance
            .get_typed_func::<(i32, f64, i64, f32), (f64, i32, f32, i64)>(&store, "mixed")
            .unwrap();
        assert_eq!(
            mixed.call(&mut store, (-9, 2.5, i64::MAX, -0.5)).unwrap(),
            (2.5, -9, -0.5, i64::MAX),
            "{mode}"
        );
        let wide = instance
            .get_typed_func::<(i32, i64, i32, i64, i32, i64, i32, i64, f64, i32), i64>(
                &store, "wide",
            )
            .unwrap();
        let expected = 1 + 2 * 10 + 3 * 100 + 4 * 1000 + 5 * 10000 + 6 * 100000;
        let expected = expected + 7 * 1_000_000 + 8 * 10_000_000 + 9 - 10;
        assert_eq!(
            wide.call(&mut store, (1, 2, 3, 4, 5, 6, 7, 8, 9.75, -10))
                .unwrap(),
            expected,
            "{mode}"
        );
        let ten = instance
            .get_typed_func::<i32, (i32, i64, f32, f64, i32, i64, f32, f64, i32, i64)>(
                &store, "ten",
            )
            .unwrap();
        assert_eq!(
            ten.call(&mut store, -100).unwrap(),
            (-100, -2, 3.5, -4.25, -95, 6, 7.0, 8.0, 9, -100),
            "{mode}"
        );
        let twenty = instance.get_func(&store, "twenty").unwrap();
        let args: Vec<Val> = (1..=20).map(|i| Val::I32(i * 3)).collect();
        let mut out = [Val::I32(0)];
        twenty.call(&mut store, &args, &mut out).unwrap();
        assert_eq!(out[0], Val::I32(3 + 20 * 60 + 10 * 30 + 16 * 48), "{mode}");
    }
}

/// Traps of code called from the host are reported by the call that made
/// it, in both memory modes (with guard regions the out-of-bounds load is
/// a fault), and each leaves the store ready for the next call.
#[test]
fn host_to_wasm_traps() {
    for (mode, engine) in both_modes() {
        let (mut store, instance) = instantiate(&engine, SHAPES, (), |_| {});
        let div = instance.get_typed_func::<i32, i32>(&store, "div").unwrap();
        let load = instance.get_typed_func::<i32, i32>(&store, "load").unwrap();
        let unreachable = instance
            .get_typed_func::<(), f64>(&store, "unreachable")
            .unwrap();
        let deep = instance.get_typed_func::<i32, i32>(&store, "deep").unwrap();
        for round in 0..3 {
            let err = div.call(&mut store, 0).unwrap_err();
            assert_eq!(err.trap(), Some(Trap::IntegerDivideByZero), "{mode}");
            assert_eq!(div.call(&mut store, 7).unwrap(), 14, "{mode}");
            let err = load.call(&mut store, 65_533).unwrap_err();
            assert_eq!(err.trap(), Some(Trap::MemoryOutOfBounds), "{mode}");
            assert_eq!(load.call(&mut store, 65_532).unwrap(), 0, "{mode}");
            let err = unreachable.call(&mut store, ()).unwrap_err();
            assert_eq!(err.trap(), Some(Trap::Unreachable), "{mode}");
            let err = deep.call(&mut store, round).unwrap_err();
            assert_eq!(err.trap(), Some(Trap::StackOverflow), "{mode}");
            assert_eq!(div.call(&mut store, -3).unwrap(), -33, "{mode}");
        }
    }
}

/// Host → wasm → host → wasm, in both memory modes: the innermost wasm
/// call traps (a fault, with guard regions) and the host function between
/// sees the trap and goes on; the outer wasm code then finishes, and a
/// host error at the inner level ends the outer call.
#[test]
fn nested_calls_with_traps_inside() {
    let wat = r#"(module
        (import "h" "probe" (func $probe (param i32) (result i32)))
        (memory 1)
        (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
        (func (export "outer") (param $n i32) (result i32) (local $acc i32)
            (loop $l
                (local.set $acc (i32.add (local.get $acc) (call $probe (local.get $n))))
                (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
            (local.get $acc)))"#;
    for (mode, engine) in both_modes() {
        let (mut store, instance) = instantiate(&engine, wat, None::<Func>, |l| {
            // Loads at an address past the memory when `n` is odd: the
            // trap counts 1000, a successful load 1 (memory is zero).
            l.func_wrap(
                "h",
                "probe",
                |mut caller: Caller<'_, Option<Func>>, n: i32| -> Result<i32, Error> {
                    if n == 50 {
                        return Err(Error::msg("fifty"));
                    }
                    let load = caller.data().unwrap().typed::<i32, i32>(&caller)?;
                    let addr = if n % 2 == 1 { 70_000 } else { 4 * n };
                    match load.call(&mut caller, addr) {
                        Ok(v) => Ok(v + 1),
                        Err(e) if e.trap() == Some(Trap::MemoryOutOfBounds) => Ok(1000),
                        Err(e) => Err(e),
                    }
                },
            )
            .unwrap();
        });
        *store.data_mut() = Some(instance.get_func(&store, "load").unwrap());
        let outer = instance
            .get_typed_func::<i32, i32>(&store, "outer")
            .unwrap();
        // n = 10..1: five odd (1000 each), five even (1 each).
        assert_eq!(outer.call(&mut store, 10).unwrap(), 5 * 1000 + 5, "{mode}");
        let err = outer.call(&mut store, 60).unwrap_err();
        assert_eq!(err.to_string(), "fifty", "{mode}");
        assert_eq!(outer.call(&mut store, 3).unwrap(), 2 * 1000 + 1, "{mode}");
    }
}

/// A function entered from the host tail-calls one with more arguments
/// than the entry's area holds (the area grows below the trampoline's
/// frame), and host calls with more slots than the exit loop's buffer,
/// in both memory modes.
#[test]
fn large_areas_in_both_directions() {
    let wat = r#"(module
        (import "h" "sum12" (func $sum12
            (param i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64) (result i64)))
        (func $twelve (param i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64) (result i64)
            (call $sum12 (local.get 0) (local.get 1) (local.get 2) (local.get 3)
                (local.get 4) (local.get 5) (local.get 6) (local.get 7)
                (local.get 8) (local.get 9) (local.get 10) (local.get 11)))
        (func (export "start") (param $x i64) (result i64)
            (return_call $twelve (local.get $x) (i64.const 2) (i64.const 3) (i64.const 4)
                (i64.const 5) (i64.const 6) (i64.const 7) (i64.const 8)
                (i64.const 9) (i64.const 10) (i64.const 11) (i64.const 12))))"#;
    let ty = FuncType::new(&[ValType::I64; 12], &[ValType::I64]);
    for (mode, engine) in both_modes() {
        let (mut store, instance) = instantiate(&engine, wat, (), |l| {
            l.func_new("h", "sum12", ty.clone(), |_caller, args, results| {
                // Weighted, so that a slot copied to the wrong place shows.
                let mut acc = 0i64;
                for (i, a) in args.iter().enumerate() {
                    acc += a.unwrap_i64() * (i as i64 + 1);
                }
                results[0] = Val::I64(acc);
                Ok(())
            })
            .unwrap();
        });
        let start = instance
            .get_typed_func::<i64, i64>(&store, "start")
            .unwrap();
        let expected = |x: i64| x + (2..=12).map(|i| i * i).sum::<i64>();
        for x in [1, -5, 1 << 33] {
            assert_eq!(start.call(&mut store, x).unwrap(), expected(x), "{mode}");
        }
    }
}

const NO_SLOTS: &str = r#"(module
    (import "env" "tick" (func $tick))
    (global $count (export "count") (mut i64) (i64.const 0))
    (global $sum (export "sum") (mut i64) (i64.const 0))
    (func $eight (param i64 i64 i64 i64 i64 i64 i64 i64)
        (global.set $sum (i64.add (global.get $sum)
            (i64.add (i64.add (i64.add (local.get 0) (local.get 1))
                              (i64.add (local.get 2) (local.get 3)))
                     (i64.add (i64.add (local.get 4) (local.get 5))
                              (i64.add (local.get 6) (local.get 7)))))))
    ;; No arguments or results: reads and writes its instance's globals
    ;; (through its context), calls the host, and tail-calls a function
    ;; with eight arguments (in the area every entry provides).
    (func (export "bump")
        (global.set $count (i64.add (global.get $count) (i64.const 1)))
        (call $tick)
        (return_call $eight (i64.const 1) (i64.const 2) (i64.const 3) (i64.const 4)
            (i64.const 5) (i64.const 6) (i64.const 7) (global.get $count))))"#;

/// Typed calls of a function without arguments or results (the enter
/// trampoline's path without slots): the callee finds its context, calls
/// the host, and tail-calls through the minimum area; and a `TypedFunc`
/// called with a store that does not own it is refused without running
/// anything, in both memory modes.
#[test]
fn typed_calls_without_slots_and_from_another_store() {
    for (mode, engine) in both_modes() {
        let engine = Engine::new(
            Config::new()
                .wasm_tail_call(true)
                .guard_regions(mode == "guard"),
        )
        .unwrap_or(engine);
        let define = |l: &mut Linker<u32>| {
            l.func_wrap("env", "tick", |mut c: Caller<'_, u32>| *c.data_mut() += 1)
                .unwrap();
        };
        let (mut store, instance) = instantiate(&engine, NO_SLOTS, 0u32, define);
        let (mut other, other_instance) = instantiate(&engine, NO_SLOTS, 0u32, define);
        let bump = instance.get_typed_func::<(), ()>(&store, "bump").unwrap();
        let global = |store: &mut Store<u32>, instance: Instance, name: &str| {
            instance
                .get_global(&mut *store, name)
                .unwrap()
                .get(&mut *store)
                .unwrap_i64()
        };
        for n in 1..=3i64 {
            bump.call(&mut store, ()).unwrap();
            assert_eq!(global(&mut store, instance, "count"), n, "{mode}");
            assert_eq!(*store.data(), n as u32, "{mode}");
        }
        // The same through `Func::call`.
        let untyped = instance.get_func(&store, "bump").unwrap();
        untyped.call(&mut store, &[], &mut []).unwrap();
        assert_eq!(global(&mut store, instance, "count"), 4, "{mode}");
        // 1 + ... + 7 per call, plus the count.
        assert_eq!(global(&mut store, instance, "sum"), 4 * 28 + 10, "{mode}");
        // The handle of another store's function is refused.
        let err = bump.call(&mut other, ()).unwrap_err();
        assert!(err.to_string().contains("store"), "{mode}: {err}");
        assert_eq!(global(&mut other, other_instance, "count"), 0, "{mode}");
        assert_eq!(*other.data(), 0, "{mode}");
        // Both stores still work.
        bump.call(&mut store, ()).unwrap();
        let other_bump = other_instance
            .get_typed_func::<(), ()>(&other, "bump")
            .unwrap();
        other_bump.call(&mut other, ()).unwrap();
        assert_eq!(global(&mut store, instance, "count"), 5, "{mode}");
        assert_eq!(global(&mut other, other_instance, "count"), 1, "{mode}");
    }
}

/// A host function without arguments or results (served without copying
/// slots) that fails ends the call with its error, and the store goes on.
#[test]
fn a_failing_host_function_without_slots() {
    const WAT: &str = r#"(module
        (import "env" "maybe" (func $maybe))
        (global $after (export "after") (mut i32) (i32.const 0))
        (func (export "run")
            (call $maybe)
            (global.set $after (i32.add (global.get $after) (i32.const 1)))))"#;
    for (mode, engine) in both_modes() {
        let (mut store, instance) = instantiate(&engine, WAT, 0u32, |l| {
            l.func_wrap(
                "env",
                "maybe",
                |mut c: Caller<'_, u32>| -> Result<(), Error> {
                    *c.data_mut() += 1;
                    if *c.data() == 2 {
                        Err(Error::msg("second call fails"))
                    } else {
                        Ok(())
                    }
                },
            )
            .unwrap();
        });
        let run = instance.get_typed_func::<(), ()>(&store, "run").unwrap();
        run.call(&mut store, ()).unwrap();
        let err = run.call(&mut store, ()).unwrap_err();
        assert_eq!(err.to_string(), "second call fails", "{mode}");
        run.call(&mut store, ()).unwrap();
        let after = instance.get_global(&mut store, "after").unwrap();
        assert_eq!(after.get(&mut store).unwrap_i32(), 2, "{mode}");
        assert_eq!(*store.data(), 3, "{mode}");
    }
}
