//! Exception handling (`throw`, `throw_ref`, `try_table`, tags) through
//! the public API: catching within a function and across 1,000 frames and
//! instances, rethrowing, host functions that throw into wasm, uncaught
//! exceptions reaching the host with their tag and payload, traps that no
//! handler catches, fuel, guard regions, serialized modules, and the
//! bound on live exception objects. Expected values are computed here.

use wasmkern::{
    Config, Engine, ErrorKind, ExnRef, Extern, FuncType, Instance, Linker, MAX_LIVE_EXCEPTIONS,
    Module, Store, Tag, TagType, Trap, Val, ValType,
};

mod common;
use common::instantiate;

fn engine_with(config: &mut Config) -> Engine {
    config.wasm_exceptions(true);
    Engine::new(config).unwrap()
}

fn engine() -> Engine {
    engine_with(&mut Config::new())
}

/// Catches within a function, from a callee, and `n` frames down, with
/// locals live across the try (pinned in registers or not).
const BASIC: &str = r#"(module
    (tag $e (param i32))
    (tag $f (param i64 f64))
    (func $thrower (param i32) (throw $e (local.get 0)))
    (func (export "local") (param i32) (result i32)
        (block $h (result i32)
            (try_table (catch $e $h) (throw $e (local.get 0)))
            (i32.const -1))
        (i32.const 100) (i32.add))
    (func (export "callee") (param i32) (result i32)
        (local $keep i32) (local $x f64)
        (local.set $keep (i32.mul (local.get 0) (i32.const 3)))
        (local.set $x (f64.const 2.5))
        (block $h (result i32)
            (try_table (catch $e $h) (call $thrower (local.get 0)))
            (i32.const -1))
        ;; The locals survive the landing.
        (i32.add (local.get $keep))
        (i32.add (i32.trunc_f64_s (local.get $x))))
    (func $deep (param $n i32) (param $v i32) (result i32)
        (local $a i32) (local $b i32) (local $c i32)
        (local.set $a (local.get $n))
        (local.set $b (i32.mul (local.get $n) (i32.const 7)))
        (local.set $c (i32.add (local.get $n) (i32.const 11)))
        (if (i32.eqz (local.get $n)) (then (throw $e (local.get $v))))
        (drop (call $deep (i32.sub (local.get $n) (i32.const 1)) (local.get $v)))
        (i32.add (local.get $a) (i32.add (local.get $b) (local.get $c))))
    (func (export "deep") (param $n i32) (param $v i32) (result i32)
        (local $keep i32) (local $k2 i32)
        (local.set $keep (i32.const 4242))
        (local.set $k2 (i32.const 17))
        (block $h (result i32)
            (try_table (catch $e $h) (drop (call $deep (local.get $n) (local.get $v))))
            (i32.const -1))
        (i32.add (local.get $keep))
        (i32.add (local.get $k2)))
    (func (export "two") (result i64 f64)
        (block $h (result i64 f64)
            (try_table (catch $f $h) (throw $f (i64.const -5) (f64.const 0.25)))
            (unreachable)))
    (func (export "catch_all") (param i32) (result i32)
        (block $h
            (try_table (catch_all $h) (call $thrower (local.get 0)))
            (return (i32.const -1)))
        (i32.const 77))
    (func (export "wrong_tag") (param i32) (result i32)
        (block $h (result i64 f64)
            (try_table (catch $f $h) (call $thrower (local.get 0)))
            (return (i32.const -1)))
        (drop) (drop) (i32.const 1))
    (func (export "trap") (result i32)
        (block $h
            (try_table (catch_all $h) (unreachable)))
        (i32.const 1))
)"#;

#[test]
fn catches_within_a_function_and_from_callees() {
    let engine = engine();
    let (mut store, instance) = instantiate(&engine, BASIC);
    let local = instance
        .get_typed_func::<i32, i32>(&store, "local")
        .unwrap();
    assert_eq!(local.call(&mut store, 5).unwrap(), 105);
    let callee = instance
        .get_typed_func::<i32, i32>(&store, "callee")
        .unwrap();
    // 9 caught, + 3 * 9 kept in a local, + 2 from the float local.
    assert_eq!(callee.call(&mut store, 9).unwrap(), 9 + 27 + 2);
    let two = instance.get_func(&store, "two").unwrap();
    let mut results = [Val::I32(0), Val::I32(0)];
    two.call(&mut store, &[], &mut results).unwrap();
    assert_eq!(results[0], Val::I64(-5));
    assert_eq!(results[1], Val::F64(0.25f64.to_bits()));
    let all = instance
        .get_typed_func::<i32, i32>(&store, "catch_all")
        .unwrap();
    assert_eq!(all.call(&mut store, 3).unwrap(), 77);
}

#[test]
fn catches_across_a_thousand_frames() {
    let engine = engine();
    let (mut store, instance) = instantiate(&engine, BASIC);
    let deep = instance
        .get_typed_func::<(i32, i32), i32>(&store, "deep")
        .unwrap();
    for n in [0, 1, 10, 1000] {
        assert_eq!(
            deep.call(&mut store, (n, 31)).unwrap(),
            31 + 4242 + 17,
            "n = {n}"
        );
    }
    // Calls after the unwinding still work (the stack and registers are
    // as they were).
    let callee = instance
        .get_typed_func::<i32, i32>(&store, "callee")
        .unwrap();
    assert_eq!(callee.call(&mut store, 1).unwrap(), 1 + 3 + 2);
}

#[test]
fn an_uncaught_exception_reaches_the_host_with_its_tag_and_payload() {
    let engine = engine();
    let (mut store, instance) = instantiate(&engine, BASIC);
    let wrong = instance
        .get_typed_func::<i32, i32>(&store, "wrong_tag")
        .unwrap();
    let err = wrong.call(&mut store, 1234).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Exception);
    let thrown = err.thrown().expect("the exception");
    assert_eq!(thrown.fields(), &[Val::I32(1234)]);
    let ty = thrown.tag().ty(&store);
    assert_eq!(ty.ty().params(), &[ValType::I32]);
    // The exception object stays readable through its reference.
    assert_eq!(thrown.exn().fields(&store).unwrap(), vec![Val::I32(1234)]);
    assert_eq!(thrown.exn().tag(&store).unwrap(), thrown.tag());
}

#[test]
fn traps_are_not_caught() {
    let engine = engine();
    let (mut store, instance) = instantiate(&engine, BASIC);
    let trap = instance.get_typed_func::<(), i32>(&store, "trap").unwrap();
    let err = trap.call(&mut store, ()).unwrap_err();
    assert_eq!(err.trap(), Some(Trap::Unreachable));
}

const RETHROW: &str = r#"(module
    (tag $e (param i32))
    (func $thrower (param i32) (throw $e (local.get 0)))
    ;; Catches with the reference, then rethrows it to an outer handler.
    (func (export "rethrow") (param i32) (result i32) (local $x exnref)
        (block $outer (result i32)
            (try_table (catch $e $outer)
                (block $h (result i32 exnref)
                    (try_table (catch_ref $e $h) (call $thrower (local.get 0)))
                    (unreachable))
                (local.set $x)
                (drop)
                (throw_ref (local.get $x)))
            (unreachable))
        (i32.const 1000) (i32.add))
    (func (export "null") (throw_ref (ref.null exn)))
)"#;

#[test]
fn catch_ref_and_throw_ref_rethrow_the_same_exception() {
    let engine = engine();
    let (mut store, instance) = instantiate(&engine, RETHROW);
    let f = instance
        .get_typed_func::<i32, i32>(&store, "rethrow")
        .unwrap();
    assert_eq!(f.call(&mut store, 23).unwrap(), 1023);
    let null = instance.get_typed_func::<(), ()>(&store, "null").unwrap();
    assert_eq!(
        null.call(&mut store, ()).unwrap_err().trap(),
        Some(Trap::NullReference)
    );
}

#[test]
fn exceptions_cross_instances_by_tag_identity() {
    let engine = engine();
    let thrower = Module::new(
        &engine,
        wat::parse_str(
            r#"(module
                (tag $e (export "e") (param i32))
                (func (export "throw") (param i32) (throw $e (local.get 0))))"#,
        )
        .unwrap(),
    )
    .unwrap();
    let catcher = Module::new(
        &engine,
        wat::parse_str(
            r#"(module
                (import "a" "e" (tag $e (param i32)))
                (tag $other (param i32))
                (import "a" "throw" (func $throw (param i32)))
                (func (export "catch") (param i32) (result i32)
                    (block $h (result i32)
                        (try_table (catch $other $h) (catch $e $h) (call $throw (local.get 0)))
                        (i32.const -1))
                    (i32.const 1) (i32.add)))"#,
        )
        .unwrap(),
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let a = Instance::new(&mut store, &thrower, &[]).unwrap();
    let mut linker = Linker::new(&engine);
    linker.instance(&mut store, "a", a).unwrap();
    let b = linker.instantiate(&mut store, &catcher).unwrap();
    let f = b.get_typed_func::<i32, i32>(&store, "catch").unwrap();
    assert_eq!(f.call(&mut store, 41).unwrap(), 42);
    // A second instance of the thrower has another tag: not caught.
    let a2 = Instance::new(&mut store, &thrower, &[]).unwrap();
    let throw2 = a2.get_func(&store, "throw").unwrap();
    let e2 = a2.get_export(&store, "e").unwrap();
    let mut linker = Linker::new(&engine);
    let e = a.get_export(&store, "e").unwrap();
    linker.define(&store, "a", "e", e).unwrap();
    linker.define(&store, "a", "throw", throw2).unwrap();
    let c = linker.instantiate(&mut store, &catcher).unwrap();
    let f = c.get_typed_func::<i32, i32>(&store, "catch").unwrap();
    let err = f.call(&mut store, 5).unwrap_err();
    let thrown = err.thrown().expect("uncaught");
    assert_eq!(Some(Extern::Tag(thrown.tag())), Some(e2));
}

#[test]
fn a_host_function_throws_into_wasm() {
    let engine = engine();
    let module = Module::new(
        &engine,
        wat::parse_str(
            r#"(module
                (import "host" "tag" (tag $e (param i32 i64)))
                (import "host" "fail" (func $fail (param i32)))
                (func (export "run") (param i32) (result i64) (local $y i64)
                    (block $h (result i32 i64)
                        (try_table (catch $e $h) (call $fail (local.get 0)))
                        (return (i64.const -1)))
                    (local.set $y)
                    (i64.add (i64.extend_i32_u) (local.get $y)))
                (func (export "through") (param i32) (call $fail (local.get 0))))"#,
        )
        .unwrap(),
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let tag = Tag::new(
        &mut store,
        &TagType::new(FuncType::new(&[ValType::I32, ValType::I64], &[])),
    )
    .unwrap();
    let mut linker = Linker::new(&engine);
    linker.define(&store, "host", "tag", tag).unwrap();
    linker
        .func_wrap(
            "host",
            "fail",
            move |mut caller: wasmkern::Caller<'_, ()>, x: i32| -> wasmkern::Result<()> {
                let exn = ExnRef::new(&mut caller, &tag, &[Val::I32(x), Val::I64(1 << 40)])?;
                Err(caller.throw(exn))
            },
        )
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let run = instance.get_typed_func::<i32, i64>(&store, "run").unwrap();
    assert_eq!(run.call(&mut store, 7).unwrap(), 7 + (1 << 40));
    // Uncaught, it reaches the host with the host's tag.
    let through = instance
        .get_typed_func::<i32, ()>(&store, "through")
        .unwrap();
    let err = through.call(&mut store, 3).unwrap_err();
    let thrown = err.thrown().expect("uncaught");
    assert_eq!(thrown.tag(), tag);
    assert_eq!(thrown.fields(), &[Val::I32(3), Val::I64(1 << 40)]);
}

const LOOP: &str = r#"(module
    (tag $e (param i32))
    (func $thrower (param i32) (throw $e (local.get 0)))
    (func (export "loop") (param $n i32) (result i32)
        (local $sum i32)
        (loop $top
            (block $h (result i32)
                (try_table (catch $e $h) (call $thrower (local.get $n)))
                (unreachable))
            (local.set $sum (i32.add (local.get $sum)))
            (local.tee $n (i32.sub (local.get $n) (i32.const 1)))
            (br_if $top))
        (local.get $sum))
    (global $g (mut exnref) (ref.null exn))
    ;; Keeps every exception alive in a table of references.
    (table $t 0 exnref)
    (func (export "keep") (param $n i32)
        (loop $top
            (block $h (result exnref)
                (try_table (catch_all_ref $h) (call $thrower (local.get $n)))
                (unreachable))
            (drop (table.grow $t (i32.const 1)))
            (local.tee $n (i32.sub (local.get $n) (i32.const 1)))
            (br_if $top)))
)"#;

#[test]
fn caught_exceptions_do_not_grow_memory_and_the_bound_is_clear() {
    let engine = engine();
    let (mut store, instance) = instantiate(&engine, LOOP);
    let f = instance.get_typed_func::<i32, i32>(&store, "loop").unwrap();
    // Far more throws than objects may live at once: each one is freed
    // when its `catch` handles it.
    let n = 3 * MAX_LIVE_EXCEPTIONS as i32;
    let expected = (n as i64 * (n as i64 + 1) / 2) as i32;
    assert_eq!(f.call(&mut store, n).unwrap(), expected);
    // References kept in a table stay alive: beyond the bound, a clear
    // error (and never a wrong object).
    let keep = instance.get_typed_func::<i32, ()>(&store, "keep").unwrap();
    let err = keep
        .call(&mut store, MAX_LIVE_EXCEPTIONS as i32 + 10)
        .unwrap_err();
    assert!(
        err.to_string().contains("too many live exceptions"),
        "{err}"
    );
}

#[test]
fn exceptions_with_fuel_and_guard_regions() {
    for guard in [false, true] {
        let mut config = Config::new();
        config.consume_fuel(true);
        #[cfg(feature = "std")]
        config.guard_regions(guard);
        let engine = engine_with(&mut config);
        let (mut store, instance) = instantiate(&engine, BASIC);
        store.set_fuel(1_000_000).unwrap();
        let deep = instance
            .get_typed_func::<(i32, i32), i32>(&store, "deep")
            .unwrap();
        assert_eq!(deep.call(&mut store, (100, 5)).unwrap(), 5 + 4242 + 17);
        // Fuel still runs out in a loop of throws.
        let (mut store, instance) = instantiate(&engine, LOOP);
        store.set_fuel(10_000).unwrap();
        let f = instance.get_typed_func::<i32, i32>(&store, "loop").unwrap();
        assert_eq!(
            f.call(&mut store, 1_000_000).unwrap_err().kind(),
            ErrorKind::OutOfFuel,
            "guard regions: {guard}"
        );
    }
}

#[test]
fn serialized_modules_keep_their_handlers() {
    let engine = engine();
    let module = Module::new(&engine, wat::parse_str(BASIC).unwrap()).unwrap();
    let bytes = module.serialize().unwrap();
    let loaded = Module::deserialize_checked(&engine, &bytes).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &loaded, &[]).unwrap();
    let deep = instance
        .get_typed_func::<(i32, i32), i32>(&store, "deep")
        .unwrap();
    assert_eq!(deep.call(&mut store, (50, 8)).unwrap(), 8 + 4242 + 17);
}

#[test]
fn exceptions_can_be_turned_off() {
    let mut config = Config::new();
    config.wasm_exceptions(false);
    let engine = Engine::new(&config).unwrap();
    // A tag section is a malformed section in WebAssembly 2.0; the error
    // names the switch.
    let err = Module::new(&engine, wat::parse_str(BASIC).unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Malformed, "{err}");
    assert!(err.to_string().contains("Config::wasm_exceptions"), "{err}");
    // Without tags, the instructions and types are invalid.
    let wat = r#"(module (func (param exnref) (throw_ref (local.get 0))))"#;
    let err = Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(
        err.to_string()
            .contains("exceptions support is not enabled"),
        "{err}"
    );
}

#[test]
fn tags_link_by_type_and_recursion_group() {
    let engine = engine();
    let exporter = Module::new(
        &engine,
        wat::parse_str(
            r#"(module
                (rec (type $a (func (param i32))) (type $b (func)))
                (tag (export "t") (type $a)))"#,
        )
        .unwrap(),
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let m = Instance::new(&mut store, &exporter, &[]).unwrap();
    let mut linker = Linker::new(&engine);
    linker.instance(&mut store, "m", m).unwrap();
    let link = |store: &mut Store<()>, wat: &str| {
        let module = Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
        linker.instantiate(store, &module).map(drop)
    };
    // The same group, the same place: the same type.
    link(
        &mut store,
        r#"(module (rec (type $a (func (param i32))) (type $b (func)))
                   (tag (import "m" "t") (type $a)))"#,
    )
    .unwrap();
    // The same function type outside a group, or another place in it, or
    // other parameters: another type.
    for wat in [
        r#"(module (tag (import "m" "t") (param i32)))"#,
        r#"(module (rec (type $a (func (param i32))) (type $b (func)))
                   (tag (import "m" "t") (type $b)))"#,
        r#"(module (tag (import "m" "t") (param i64)))"#,
    ] {
        let err = link(&mut store, wat).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Link, "{err}");
        assert!(
            err.to_string().contains("incompatible import type"),
            "{err}"
        );
    }
}

#[test]
fn exceptions_leave_tail_calls_and_their_grown_areas() {
    // `$few` tail-calls `$many`, whose twelve arguments do not fit the
    // area `$few` was called with: the area grows (a record replaces
    // `$few`'s frame), and the throw unwinds over it to `run`'s handler.
    // A `return_call` inside a `try_table` leaves it: `$leave`'s handler
    // does not catch what its tail callee throws.
    let wat = r#"(module
        (tag $e (param i64))
        (func $many (param i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64) (result i64)
            (throw $e (i64.add (local.get 0) (local.get 11))))
        (func $few (param i64) (result i64)
            (return_call $many (local.get 0) (i64.const 1) (i64.const 2) (i64.const 3)
                (i64.const 4) (i64.const 5) (i64.const 6) (i64.const 7) (i64.const 8)
                (i64.const 9) (i64.const 10) (i64.const 11)))
        (func (export "run") (param i64) (result i64)
            (block $h (result i64)
                (try_table (result i64) (catch $e $h) (call $few (local.get 0)))))
        (func $leave (param i64) (result i64)
            (block $h (result i64)
                (try_table (result i64) (catch $e $h) (return_call $few (local.get 0))))
            (i64.const 1000) (i64.add))
        (func (export "outer") (param i64) (result i64)
            (block $h (result i64)
                (try_table (result i64) (catch $e $h) (call $leave (local.get 0))))
            (i64.const 2000) (i64.add)))"#;
    let engine = engine();
    let (mut store, instance) = instantiate(&engine, wat);
    let run = instance.get_typed_func::<i64, i64>(&store, "run").unwrap();
    assert_eq!(run.call(&mut store, 5).unwrap(), 5 + 11);
    let outer = instance
        .get_typed_func::<i64, i64>(&store, "outer")
        .unwrap();
    assert_eq!(outer.call(&mut store, 7).unwrap(), 7 + 11 + 2000);
}

/// Exceptions caught by a `_ref` clause and dropped, as every cleanup
/// frame of C++ or Rust does, within one long call; a reference kept in a
/// local and one kept inside another exception's payload (in a global)
/// through all of them.
const REF_LOOP: &str = r#"(module
    (tag $e (param i32))
    (tag $box (param exnref))
    (global $boxed (mut exnref) (ref.null exn))
    (func $catch_ref (param $v i32) (result exnref)
        (local $x exnref)
        (block $h (result i32 exnref)
            (try_table (catch_ref $e $h) (throw $e (local.get $v)))
            (unreachable))
        (local.set $x) (drop) (local.get $x))
    (func $payload (param $x exnref) (result i32)
        (block $h (result i32)
            (try_table (catch $e $h) (throw_ref (local.get $x)))
            (unreachable)))
    (func (export "run") (param $n i32) (result i32)
        (local $kept exnref) (local $x exnref) (local $sum i32)
        (local.set $kept (call $catch_ref (i32.const 1234)))
        ;; An exception that only another one's payload names.
        (block $h (result exnref)
            (try_table (catch $box $h) (throw $box (call $catch_ref (i32.const 99))))
            (unreachable))
        (drop)
        (global.set $boxed (block $h (result exnref)
            (try_table (catch_all_ref $h) (throw $box (call $catch_ref (i32.const 567))))
            (unreachable)))
        (loop $next
            (local.set $x (block $h (result exnref)
                (try_table (catch_all_ref $h) (throw $e (local.get $n)))
                (unreachable)))
            (local.set $sum (i32.add (local.get $sum) (call $payload (local.get $x))))
            (br_if $next (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
        ;; Both references still name their exceptions.
        (local.set $sum (i32.add (local.get $sum) (call $payload (local.get $kept))))
        (local.set $x (block $h (result exnref)
            (try_table (catch $box $h) (throw_ref (global.get $boxed)))
            (unreachable)))
        (i32.add (local.get $sum) (call $payload (local.get $x)))))"#;

#[test]
fn dropped_references_are_reclaimed_within_one_call() {
    let engine = engine();
    let (mut store, instance) = instantiate(&engine, REF_LOOP);
    let run = instance.get_typed_func::<i32, i32>(&store, "run").unwrap();
    // Three times as many exceptions as may live at once, each caught by
    // `catch_all_ref`, all in one call from the host.
    let n = 3 * MAX_LIVE_EXCEPTIONS as i64;
    let sum = n * (n + 1) / 2;
    let expected = sum.wrapping_add(1234 + 567) as i32;
    assert_eq!(run.call(&mut store, n as i32).unwrap(), expected);
    assert_eq!(run.call(&mut store, 5).unwrap(), 15 + 1234 + 567);
}
