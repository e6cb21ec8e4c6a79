//! Fuel and interruption: calls stop, report the right error or pause, and
//! resume exactly where they stopped.

mod common;

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};
use wasmkern::{
    CallOutcome, Caller, Config, Engine, ErrorKind, Func, Instance, Linker, Module, PauseReason,
    Store, Val,
};

const LOOPS: &str = r#"(module
    (func (export "spin") (loop $l (br $l)))
    ;; sum of 1..=n, with a wrapping i64 accumulator
    (func (export "sum") (param $n i64) (result i64) (local $acc i64)
        (block $done
            (loop $l
                (br_if $done (i64.eqz (local.get $n)))
                (local.set $acc (i64.add (local.get $acc) (local.get $n)))
                (local.set $n (i64.sub (local.get $n) (i64.const 1)))
                (br $l)))
        (local.get $acc))
    ;; recursion without loops: fuel is checked at function entries
    (func $count (export "count") (param $n i32) (result i32)
        (if (result i32) (i32.eqz (local.get $n))
            (then (i32.const 0))
            (else (i32.add (i32.const 1)
                (call $count (i32.sub (local.get $n) (i32.const 1)))))))
    (func (export "add") (param i32 i32) (result i32)
        (i32.add (local.get 0) (local.get 1))))"#;

fn engine(fuel: bool, interruptible: bool) -> Engine {
    let mut config = Config::new();
    config.consume_fuel(fuel).interruptible(interruptible);
    Engine::new(&config).unwrap()
}

fn setup(engine: &Engine) -> (Store<()>, Instance) {
    let module = Module::new(engine, wat::parse_str(LOOPS).unwrap()).unwrap();
    let mut store = Store::new(engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    (store, instance)
}

fn sum_to(n: i64) -> i64 {
    n * (n + 1) / 2
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    let engine = engine(true, false);
    let (mut store, instance) = setup(&engine);
    store.set_fuel(10_000).unwrap();
    let spin = instance.get_func(&store, "spin").unwrap();
    let err = spin.call(&mut store, &[], &mut []).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfFuel);
    assert_eq!(err.trap(), None);
    assert_eq!(store.get_fuel().unwrap(), 0);
    // The store is usable afterwards.
    store.set_fuel(100).unwrap();
    let add = instance
        .get_typed_func::<(i32, i32), i32>(&store, "add")
        .unwrap();
    assert_eq!(add.call(&mut store, (2, 3)).unwrap(), 5);
    assert!(store.get_fuel().unwrap() < 100);
}

/// Fuel used by calls, computed by hand from the cost model documented on
/// `CompileOptions`: every operator costs one unit, and each straight-line
/// segment (from a function entry, loop header, label, `br_if`
/// fall-through or call return up to the next such point) is charged in
/// full when it starts, including operators after an unconditional branch
/// up to the next label.
///
/// - `add`: `local.get`, `local.get`, `i32.add`, `end` = 4.
/// - `sum(n)`: the entry segment `block`, `loop` (2), then per visit of the
///   loop header `local.get`, `i64.eqz`, `br_if` (3); when the branch is not
///   taken, its fall-through segment `local.get`, `local.get`, `i64.add`,
///   `local.set`, `local.get`, `i64.const`, `i64.sub`, `local.set`, `br`,
///   and the two `end`s before the block's label (11); the label's segment
///   `local.get`, `end` (2). So `sum(n)` = 2 + 3 + 2 + 14 n = 7 + 14 n.
#[test]
fn fuel_is_charged_per_operator() {
    let engine = engine(true, false);
    let (mut store, instance) = setup(&engine);
    let sum = instance.get_typed_func::<i64, i64>(&store, "sum").unwrap();
    let add = instance
        .get_typed_func::<(i32, i32), i32>(&store, "add")
        .unwrap();
    let used = |store: &mut Store<()>, call: &dyn Fn(&mut Store<()>)| {
        store.set_fuel(1_000_000).unwrap();
        call(store);
        1_000_000 - store.get_fuel().unwrap()
    };
    assert_eq!(
        used(&mut store, &|s| assert_eq!(add.call(s, (1, 2)).unwrap(), 3)),
        4
    );
    for n in [0, 1, 10, 1000] {
        let fuel = used(&mut store, &|s| {
            assert_eq!(sum.call(s, n).unwrap(), sum_to(n));
        });
        assert_eq!(fuel, 7 + 14 * n as u64, "sum({n})");
    }
    // No fuel at all: stops at the first function entry.
    store.set_fuel(0).unwrap();
    let err = sum.call(&mut store, 1).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfFuel);
}

/// `memory.fill` and `memory.copy` cost their operator plus one unit per
/// 64 bytes (rounded down; `Config::consume_fuel`), with fuel and
/// interruption checks on: `tests/fuel_bulk.rs` has the rest.
#[test]
fn bulk_memory_costs_one_unit_per_64_bytes() {
    let engine = engine(true, true);
    let module = Module::new(
        &engine,
        wat::parse_str(
            r#"(module (memory (export "mem") 1)
                (func (export "bulk") (param $len i32)
                    (memory.fill (i32.const 0) (i32.const 7) (local.get $len))
                    (memory.copy (i32.const 32768) (i32.const 0) (local.get $len))))"#,
        )
        .unwrap(),
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let bulk = instance.get_typed_func::<i32, ()>(&store, "bulk").unwrap();
    let mut used = Vec::new();
    for len in [0, 1, 32768] {
        store.set_fuel(10_000).unwrap();
        bulk.call(&mut store, len).unwrap();
        used.push(10_000 - store.get_fuel().unwrap());
    }
    assert_eq!(used[0], used[1]);
    // Two operations of 32,768 bytes: 2 × 512 units.
    assert_eq!(used[2], used[0] + 1024);
    let mem = instance.get_memory(&store, "mem").unwrap();
    assert!(mem.data(&store).iter().all(|&b| b == 7));
}

#[test]
fn fuel_api_needs_a_fuel_engine() {
    let engine = engine(false, false);
    let (mut store, instance) = setup(&engine);
    assert!(store.set_fuel(1).is_err());
    assert!(store.get_fuel().is_err());
    // Without fuel metering the loop runs to the end.
    let sum = instance.get_typed_func::<i64, i64>(&store, "sum").unwrap();
    assert_eq!(sum.call(&mut store, 100_000).unwrap(), sum_to(100_000));
}

/// Runs `sum(n)` with `chunk` fuel at a time; returns the result and the
/// number of pauses.
fn sum_in_chunks(store: &mut Store<()>, sum: Func, n: i64, chunk: u64) -> (i64, u32) {
    let mut results = [Val::I64(0)];
    let pauses = common::call_in_fuel_slices(store, sum, &[Val::I64(n)], &mut results, chunk);
    (results[0].unwrap_i64(), pauses)
}

#[test]
fn resume_after_adding_fuel_gives_the_exact_result() {
    let engine = engine(true, false);
    let (mut store, instance) = setup(&engine);
    let sum = instance.get_func(&store, "sum").unwrap();
    for (n, chunk) in [(1000, 500), (100_000, 10_007), (5, 1), (0, 1)] {
        let (r, pauses) = sum_in_chunks(&mut store, sum, n, chunk);
        assert_eq!(r, sum_to(n), "n = {n}, chunk = {chunk}");
        if n >= 1000 {
            assert!(pauses >= 2, "n = {n}: {pauses} pauses");
        }
    }
    // Recursion: fuel is checked at function entries, and the paused call
    // keeps all its frames.
    let count = instance.get_func(&store, "count").unwrap();
    let mut results = [Val::I32(0)];
    let pauses =
        common::call_in_fuel_slices(&mut store, count, &[Val::I32(2000)], &mut results, 50);
    assert!(pauses > 100);
    assert_eq!(results[0], Val::I32(2000));
}

#[test]
fn resuming_without_fuel_still_makes_progress() {
    let engine = engine(true, false);
    let (mut store, instance) = setup(&engine);
    let sum = instance.get_func(&store, "sum").unwrap();
    store.set_fuel(0).unwrap();
    let mut results = [Val::I64(0)];
    let mut outcome = sum
        .call_resumable(&mut store, &[Val::I64(50)], &mut results)
        .unwrap();
    let mut pauses = 0;
    while let CallOutcome::Paused(call) = outcome {
        pauses += 1;
        assert!(pauses < 10_000);
        outcome = call.resume(&mut store, &mut results).unwrap();
    }
    assert_eq!(results[0], Val::I64(sum_to(50)));
}

#[test]
fn dropping_or_superseding_a_paused_call() {
    let engine = engine(true, false);
    let (mut store, instance) = setup(&engine);
    let sum = instance.get_func(&store, "sum").unwrap();
    let add = instance
        .get_typed_func::<(i32, i32), i32>(&store, "add")
        .unwrap();
    // Dropped: the store stays usable.
    store.set_fuel(100).unwrap();
    let mut results = [Val::I64(0)];
    let outcome = sum
        .call_resumable(&mut store, &[Val::I64(1_000_000)], &mut results)
        .unwrap();
    assert!(matches!(outcome, CallOutcome::Paused(_)));
    drop(outcome);
    store.set_fuel(1000).unwrap();
    assert_eq!(add.call(&mut store, (1, 2)).unwrap(), 3);
    assert_eq!(sum_in_chunks(&mut store, sum, 300, 100).0, sum_to(300));

    // Another call in between: resuming the first one is refused.
    store.set_fuel(100).unwrap();
    let CallOutcome::Paused(first) = sum
        .call_resumable(&mut store, &[Val::I64(1_000_000)], &mut results)
        .unwrap()
    else {
        panic!("should pause")
    };
    store.set_fuel(1000).unwrap();
    assert_eq!(add.call(&mut store, (1, 2)).unwrap(), 3);
    let err = first.resume(&mut store, &mut results).unwrap_err();
    assert!(err.to_string().contains("cannot resume"), "{err}");
    assert_eq!(add.call(&mut store, (4, 5)).unwrap(), 9);

    // A paused call of another store is refused too.
    let (mut other, other_instance) = setup(&engine);
    other.set_fuel(10).unwrap();
    let other_sum = other_instance.get_func(&other, "sum").unwrap();
    let CallOutcome::Paused(foreign) = other_sum
        .call_resumable(&mut other, &[Val::I64(1_000_000)], &mut results)
        .unwrap()
    else {
        panic!("should pause")
    };
    assert!(foreign.resume(&mut store, &mut results).is_err());
}

#[test]
fn paused_call_may_use_host_functions_and_nested_calls() {
    // A host function that calls back into wasm; the outer call pauses and
    // resumes around host calls.
    let engine = engine(true, false);
    let module = Module::new(
        &engine,
        wat::parse_str(
            r#"(module
                (import "host" "twice" (func $twice (param i32) (result i32)))
                (func (export "double") (param i32) (result i32)
                    (i32.add (local.get 0) (local.get 0)))
                (func (export "run") (param $n i32) (result i32) (local $acc i32)
                    (loop $l
                        (local.set $acc (i32.add (local.get $acc)
                            (call $twice (local.get $n))))
                        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                        (br_if $l (local.get $n)))
                    (local.get $acc)))"#,
        )
        .unwrap(),
    )
    .unwrap();
    let mut store = Store::new(&engine, None::<Func>);
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap(
            "host",
            "twice",
            |mut caller: Caller<'_, Option<Func>>, x: i32| -> Result<i32, wasmkern::Error> {
                let double = caller.data().expect("set");
                let mut r = [Val::I32(0)];
                // Nested calls are plain calls: give them their own fuel
                // and leave the outer call's balance as it was.
                let fuel = caller.get_fuel()?;
                caller.set_fuel(1000)?;
                double.call(&mut caller, &[Val::I32(x)], &mut r)?;
                caller.set_fuel(fuel)?;
                Ok(r[0].unwrap_i32())
            },
        )
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let double = instance.get_func(&store, "double").unwrap();
    *store.data_mut() = Some(double);
    let run = instance.get_func(&store, "run").unwrap();
    let mut results = [Val::I32(0)];
    let pauses = common::call_in_fuel_slices(&mut store, run, &[Val::I32(100)], &mut results, 30);
    assert!(pauses > 5, "{pauses}");
    assert_eq!(results[0], Val::I32(100 * 101));
}

#[test]
fn interrupt_from_another_thread_stops_an_infinite_loop() {
    let engine = engine(false, true);
    let (mut store, instance) = setup(&engine);
    let spin = instance.get_func(&store, "spin").unwrap();
    let handle = store.interrupt_handle();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let interrupter = thread::spawn(move || {
        started_rx.recv().unwrap();
        thread::sleep(Duration::from_millis(50));
        let at = Instant::now();
        handle.interrupt();
        at
    });
    started_tx.send(()).unwrap();
    let err = spin.call(&mut store, &[], &mut []).unwrap_err();
    let stopped = Instant::now();
    let interrupted_at = interrupter.join().unwrap();
    assert_eq!(err.kind(), ErrorKind::Interrupted);
    assert!(
        stopped.duration_since(interrupted_at) < Duration::from_secs(2),
        "took {:?}",
        stopped.duration_since(interrupted_at)
    );
    // The flag was cleared when reported: the store runs normally again.
    assert!(!store.interrupt_handle().is_pending());
    let add = instance
        .get_typed_func::<(i32, i32), i32>(&store, "add")
        .unwrap();
    assert_eq!(add.call(&mut store, (1, 1)).unwrap(), 2);
}

#[test]
fn interrupted_call_resumes() {
    let engine = engine(false, true);
    let (mut store, instance) = setup(&engine);
    let sum = instance.get_func(&store, "sum").unwrap();
    let handle = store.interrupt_handle();
    // An interrupt raised before the call stops it at its first check.
    handle.interrupt();
    let mut results = [Val::I64(0)];
    let n = 20_000_000i64;
    let outcome = sum
        .call_resumable(&mut store, &[Val::I64(n)], &mut results)
        .unwrap();
    let CallOutcome::Paused(call) = outcome else {
        panic!("should be interrupted")
    };
    assert_eq!(call.reason(), PauseReason::Interrupted);
    assert!(!handle.is_pending(), "cleared when reported");
    // Interrupt it again and again from another thread while it runs, and
    // resume it each time until it finishes: the interrupts land (the call
    // pauses for them) and the result is exact.
    let h = handle.clone();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let finished = done.clone();
    let interrupter = thread::spawn(move || {
        let mut sent = 0u64;
        while !finished.load(std::sync::atomic::Ordering::Relaxed) {
            h.interrupt();
            sent += 1;
            thread::sleep(Duration::from_micros(200));
        }
        sent
    });
    let mut outcome = call.resume(&mut store, &mut results).unwrap();
    let mut pauses = 0;
    while let CallOutcome::Paused(call) = outcome {
        assert_eq!(call.reason(), PauseReason::Interrupted);
        pauses += 1;
        outcome = call.resume(&mut store, &mut results).unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = interrupter.join().unwrap();
    assert!(
        pauses >= 1,
        "{sent} interrupts from another thread, none landed in the running call"
    );
    assert_eq!(results[0], Val::I64(sum_to(n)));
}

#[test]
fn fuel_and_interruption_together() {
    let engine = engine(true, true);
    let (mut store, instance) = setup(&engine);
    let spin = instance.get_func(&store, "spin").unwrap();
    store.set_fuel(u64::MAX).unwrap();
    let handle = store.interrupt_handle();
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        handle.interrupt();
    });
    let outcome = spin.call_resumable(&mut store, &[], &mut []).unwrap();
    t.join().unwrap();
    let CallOutcome::Paused(call) = outcome else {
        panic!("should be interrupted")
    };
    assert_eq!(call.reason(), PauseReason::Interrupted);
    store.set_fuel(1000).unwrap();
    let CallOutcome::Paused(call) = call.resume(&mut store, &mut []).unwrap() else {
        panic!("should run out of fuel")
    };
    assert_eq!(call.reason(), PauseReason::OutOfFuel);
}

#[test]
fn a_host_function_may_pause_and_resume_a_nested_call() {
    // The host function runs `sum` resumably with little fuel, resumes it
    // until it finishes, and returns the result to the outer wasm call. A
    // nested paused call kept past the host function's return is refused.
    let engine = engine(true, false);
    let module = Module::new(
        &engine,
        wat::parse_str(
            r#"(module
                (import "host" "sum" (func $sum (param i64) (result i64)))
                (import "host" "keep" (func $keep))
                (func (export "sum") (param $n i64) (result i64) (local $acc i64)
                    (block $done
                        (loop $l
                            (br_if $done (i64.eqz (local.get $n)))
                            (local.set $acc (i64.add (local.get $acc) (local.get $n)))
                            (local.set $n (i64.sub (local.get $n) (i64.const 1)))
                            (br $l)))
                    (local.get $acc))
                (func (export "outer") (param i64) (result i64)
                    (i64.add (call $sum (local.get 0)) (i64.const 1)))
                (func (export "keeper") (result i32)
                    (call $keep)
                    (i32.const 7)))"#,
        )
        .unwrap(),
    )
    .unwrap();
    #[derive(Default)]
    struct Data {
        sum: Option<Func>,
        kept: Option<wasmkern::ResumableCall>,
        pauses: u32,
    }
    let mut store = Store::new(&engine, Data::default());
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap(
            "host",
            "sum",
            |mut caller: Caller<'_, Data>, n: i64| -> Result<i64, wasmkern::Error> {
                let sum = caller.data().sum.expect("set");
                let saved = caller.get_fuel()?;
                caller.set_fuel(40)?;
                let mut r = [Val::I64(0)];
                let mut outcome = sum.call_resumable(&mut caller, &[Val::I64(n)], &mut r)?;
                while let CallOutcome::Paused(call) = outcome {
                    caller.data_mut().pauses += 1;
                    caller.set_fuel(40)?;
                    outcome = call.resume(&mut caller, &mut r)?;
                }
                caller.set_fuel(saved)?;
                Ok(r[0].unwrap_i64())
            },
        )
        .unwrap();
    linker
        .func_wrap(
            "host",
            "keep",
            |mut caller: Caller<'_, Data>| -> Result<(), wasmkern::Error> {
                let sum = caller.data().sum.expect("set");
                let saved = caller.get_fuel()?;
                caller.set_fuel(10)?;
                let mut r = [Val::I64(0)];
                if let CallOutcome::Paused(call) =
                    sum.call_resumable(&mut caller, &[Val::I64(1000)], &mut r)?
                {
                    caller.data_mut().kept = Some(call);
                }
                caller.set_fuel(saved)
            },
        )
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    store.data_mut().sum = Some(instance.get_func(&store, "sum").unwrap());
    store.set_fuel(1_000_000).unwrap();
    let outer = instance
        .get_typed_func::<i64, i64>(&store, "outer")
        .unwrap();
    assert_eq!(outer.call(&mut store, 500).unwrap(), sum_to(500) + 1);
    assert!(store.data().pauses > 10);

    let keeper = instance
        .get_typed_func::<(), i32>(&store, "keeper")
        .unwrap();
    assert_eq!(keeper.call(&mut store, ()).unwrap(), 7);
    let kept = store.data_mut().kept.take().expect("paused");
    let mut r = [Val::I64(0)];
    let err = kept.resume(&mut store, &mut r).unwrap_err();
    assert!(err.to_string().contains("cannot resume"), "{err}");
    assert_eq!(outer.call(&mut store, 10).unwrap(), 56);
}

/// Pausing at every possible point gives the same results as running
/// without fuel: floats, pinned locals, loop parameters, calls, memory.
#[test]
fn pausing_everywhere_changes_nothing() {
    const WAT: &str = r#"(module
        (memory 1)
        (func $poly (param $x f64) (param $k i32) (result f64) (local $acc f64)
            (loop $l
                (local.set $acc (f64.add (f64.mul (local.get $acc) (local.get $x))
                    (f64.convert_i32_s (local.get $k))))
                (local.set $k (i32.sub (local.get $k) (i32.const 1)))
                (br_if $l (i32.gt_s (local.get $k) (i32.const 0))))
            (local.get $acc))
        (func (export "mix") (param $n i32) (param $y f32) (result f64 i64)
            (local $i i32) (local $z i64) (local $f f64)
            (local.set $f (f64.promote_f32 (local.get $y)))
            (loop $outer
                ;; a loop with parameters: operands live across the header
                (i64.const 3) (i32.const 4)
                (loop $inner (param i64 i32) (result i64)
                    (local.set $i (i32.sub (i32.const 0) (i32.const 0)))
                    (i32.store (i32.const 16) (i32.add (i32.load (i32.const 16)) (i32.const 1)))
                    (if (param i64 i32) (result i64) (i32.eqz (i32.and (local.get $n) (i32.const 1)))
                        (then (drop) (i64.add (i64.const 5)))
                        (else (i64.extend_i32_u) (i64.mul))))
                (local.set $z (i64.add (local.get $z)))
                (local.set $f (f64.add (local.get $f)
                    (call $poly (f64.const 0.5) (i32.and (local.get $n) (i32.const 7)))))
                (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                (br_if $outer (i32.gt_s (local.get $n) (i32.const 0))))
            (local.get $f)
            (i64.add (local.get $z) (i64.extend_i32_u (i32.load (i32.const 16))))))"#;
    let args = [Val::I32(37), Val::F32(1.25f32.to_bits())];
    let reference = {
        let engine = Engine::default();
        let module = Module::new(&engine, wat::parse_str(WAT).unwrap()).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let mix = instance.get_func(&store, "mix").unwrap();
        let mut r = [Val::I32(0), Val::I32(0)];
        mix.call(&mut store, &args, &mut r).unwrap();
        r
    };
    let engine = engine(true, true);
    let module = Module::new(&engine, wat::parse_str(WAT).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let mix = instance.get_func(&store, "mix").unwrap();
    let handle = store.interrupt_handle();
    let mut r = [Val::I32(0), Val::I32(0)];
    store.set_fuel(1).unwrap();
    let mut outcome = mix.call_resumable(&mut store, &args, &mut r).unwrap();
    let mut pauses = 0u32;
    while let CallOutcome::Paused(call) = outcome {
        pauses += 1;
        // Alternate the reasons: fuel for a step, or an interrupt.
        if pauses.is_multiple_of(3) {
            store.set_fuel(1_000_000).unwrap();
            handle.interrupt();
        } else {
            store.set_fuel(1).unwrap();
        }
        outcome = call.resume(&mut store, &mut r).unwrap();
    }
    assert!(pauses > 100, "{pauses}");
    assert_eq!(r, reference);
}
