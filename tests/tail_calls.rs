//! Tail calls (`return_call`, `return_call_indirect`): loops of ten
//! million tail calls on the default wasm stack (1 MiB, where ten million
//! frames cannot fit, as the `call` variant shows), between functions of
//! different arities, through tables, across instances and into host
//! functions; the traps of `return_call_indirect`; fuel and interruption.
//! Expected values are closed forms computed here, not by wasmkern.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;
use wasmkern::{
    CallOutcome, Config, Engine, ErrorKind, Instance, Linker, Module, PauseReason, Store, Trap, Val,
};

mod common;
use common::instantiate;

/// Ten million: the loops below make at least this many tail calls.
const TEN_MILLION: i64 = 10_000_000;

fn engine_with(config: &mut Config) -> Engine {
    config.wasm_tail_call(true);
    Engine::new(config).unwrap()
}

fn engine() -> Engine {
    engine_with(&mut Config::new())
}

const SUM: &str = r#"(module
    (func $sum (export "sum") (param $n i64) (param $acc i64) (result i64)
        (if (result i64) (i64.eqz (local.get $n))
            (then (local.get $acc))
            (else (return_call $sum (i64.sub (local.get $n) (i64.const 1))
                                    (i64.add (local.get $acc) (local.get $n))))))
    ;; The same with a plain call: ten million frames.
    (func $sum_call (export "sum_call") (param $n i64) (param $acc i64) (result i64)
        (if (result i64) (i64.eqz (local.get $n))
            (then (local.get $acc))
            (else (call $sum_call (i64.sub (local.get $n) (i64.const 1))
                                  (i64.add (local.get $acc) (local.get $n))))))
    (func $spin (export "spin") (param i32) (result i32)
        (return_call $spin (i32.add (local.get 0) (i32.const 1)))))"#;

#[test]
fn ten_million_self_tail_calls_run_in_constant_stack() {
    // The default wasm stack (`wasmkern::DEFAULT_MAX_WASM_STACK`).
    let engine = engine();
    let (mut store, instance) = instantiate(&engine, SUM);
    let sum = instance
        .get_typed_func::<(i64, i64), i64>(&store, "sum")
        .unwrap();
    let n = TEN_MILLION;
    assert_eq!(sum.call(&mut store, (n, 0)).unwrap(), n * (n + 1) / 2);
    // Ten million real frames do not fit in the stack.
    let sum_call = instance
        .get_typed_func::<(i64, i64), i64>(&store, "sum_call")
        .unwrap();
    assert_eq!(
        sum_call.call(&mut store, (n, 0)).unwrap_err().trap(),
        Some(Trap::StackOverflow)
    );
    // The store is usable after the overflow, and tail calls still are.
    assert_eq!(sum.call(&mut store, (100, 7)).unwrap(), 5050 + 7);
}

/// `a` (2 parameters) -> `b` (5, with `f64`, `i32` and `v128` among them)
/// -> `c` (6, a `v128` first, so none in registers) -> `a`: each tail call
/// passes more or fewer arguments than the caller received, up to
/// `TAIL_CALL_AREA` (64 bytes).
const ARITIES: &str = r#"(module
    (func $a (export "a") (param $n i64) (param $acc i64) (result i64)
        (if (result i64) (i64.eqz (local.get $n))
            (then (local.get $acc))
            (else (return_call $b (local.get $n)
                                  (i64.add (local.get $acc) (local.get $n))
                                  (f64.const 5.75)
                                  (i32.const 3)
                                  (v128.const i64x2 1 2)))))
    (func $b (param $n i64) (param $acc i64) (param $z f64) (param $y i32)
             (param $v v128) (result i64)
        (return_call $c (local.get $v)
                        (local.get $n)
                        (i64.add (i64.add (local.get $acc)
                                          (i64.mul (local.get $n) (i64.extend_i32_u (local.get $y))))
                                 (i64.trunc_f64_s (local.get $z)))
                        (i64.const 1) (i64.const 2) (i64.const 3)))
    (func $c (param $v v128) (param $n i64) (param $acc i64)
             (param $p1 i64) (param $p2 i64) (param $p3 i64) (result i64)
        (return_call $a
            (i64.sub (local.get $n) (i64.const 1))
            (i64.add (local.get $acc)
                (i64.add
                    (i64.add (i64x2.extract_lane 0 (local.get $v)) (i64x2.extract_lane 1 (local.get $v)))
                    (i64.add (i64.add (local.get $p1) (local.get $p2)) (local.get $p3)))))))"#;

#[test]
fn mutual_recursion_between_different_arities() {
    let engine = engine();
    let (mut store, instance) = instantiate(&engine, ARITIES);
    let a = instance
        .get_typed_func::<(i64, i64), i64>(&store, "a")
        .unwrap();
    // Per round from `n`: `a` adds n, `b` adds 3n + 5, `c` adds 1 + 2 and
    // 1 + 2 + 3: 4n + 14. Three tail calls per round.
    let expected = |n: i64| 2 * n * (n + 1) + 14 * n;
    for n in [0, 1, 2, 17] {
        assert_eq!(a.call(&mut store, (n, 0)).unwrap(), expected(n), "n = {n}");
    }
    let n = TEN_MILLION / 3 + 1;
    assert_eq!(a.call(&mut store, (n, 0)).unwrap(), expected(n));
}

/// `even` and `odd` (2 parameters) and `step` (4, with an `f32`), reached
/// only through `return_call_indirect`; `step` picks the next one by the
/// parity of `n`.
const INDIRECT: &str = r#"(module
    (type $t2 (func (param i64 i64) (result i64)))
    (type $t4 (func (param i64 i64 i32 f32) (result i64)))
    (table 3 funcref)
    (elem (i32.const 0) $even $odd $step)
    (func $even (type $t2) (param $n i64) (param $acc i64) (result i64)
        (if (result i64) (i64.eqz (local.get $n))
            (then (local.get $acc))
            (else (return_call_indirect (type $t4)
                (i64.sub (local.get $n) (i64.const 1))
                (i64.add (local.get $acc) (i64.const 1))
                (i32.const 7) (f32.const 2.5)
                (i32.const 2)))))
    (func $odd (type $t2) (param $n i64) (param $acc i64) (result i64)
        (return_call_indirect (type $t4)
            (i64.sub (local.get $n) (i64.const 1))
            (i64.add (local.get $acc) (i64.const 2))
            (i32.const 7) (f32.const 2.5)
            (i32.const 2)))
    (func $step (type $t4) (param $n i64) (param $acc i64) (param $k i32) (param $f f32) (result i64)
        (return_call_indirect (type $t2)
            (local.get $n)
            (i64.add (i64.add (local.get $acc) (i64.extend_i32_s (local.get $k)))
                     (i64.trunc_f32_s (local.get $f)))
            (i32.wrap_i64 (i64.and (local.get $n) (i64.const 1)))))
    (func (export "run") (param $n i64) (result i64)
        (return_call_indirect (type $t2) (local.get $n) (i64.const 0)
            (i32.wrap_i64 (i64.and (local.get $n) (i64.const 1))))))"#;

#[test]
fn return_call_indirect_loops_in_constant_stack() {
    let engine = engine();
    let (mut store, instance) = instantiate(&engine, INDIRECT);
    let run = instance.get_typed_func::<i64, i64>(&store, "run").unwrap();
    // Each `n` from N down to 1 adds 1 (even) or 2 (odd), then 7 + 2.
    let expected = |n: i64| 10 * n + (n + 1) / 2;
    for n in [0, 1, 2, 3, 10] {
        assert_eq!(run.call(&mut store, n).unwrap(), expected(n), "n = {n}");
    }
    let n = TEN_MILLION / 2 + 1;
    assert_eq!(run.call(&mut store, n).unwrap(), expected(n));
}

/// `ping` in instance A tail-calls `pong` in instance B through A's table;
/// `pong` tail-calls `ping`, its import. Each counts its calls in its own
/// global and touches its own memory, which goes wrong if `r15` (the
/// instance context) is not switched; B's counter starts at 10^9, so one
/// read for the other shows. The chain ends in B: `run`, a direct caller in
/// A, then reads A's counter and memory.
const PING: &str = r#"(module
    (type $t3 (func (param i64 i64 i64) (result i64)))
    (table (export "tab") 1 funcref)
    (global $count (export "count") (mut i64) (i64.const 0))
    (memory 1)
    (func $ping (export "ping") (param $n i64) (param $acc i64) (result i64)
        (global.set $count (i64.add (global.get $count) (i64.const 1)))
        (i64.store (i32.const 8) (i64.add (i64.load (i32.const 8)) (i64.const 2)))
        (return_call_indirect (type $t3)
            (i64.sub (local.get $n) (i64.const 1))
            (i64.add (local.get $acc) (local.get $n))
            (i64.const 7)
            (i32.const 0)))
    (func (export "run") (param $n i64) (result i64 i64 i64)
        (call $ping (local.get $n) (i64.const 0))
        (global.get $count)
        (i64.load (i32.const 8))))"#;

const PONG: &str = r#"(module
    (type $t3 (func (param i64 i64 i64) (result i64)))
    (import "a" "ping" (func $ping (param i64 i64) (result i64)))
    (import "a" "tab" (table 1 funcref))
    (global $count (export "count") (mut i64) (i64.const 1000000000))
    (memory 1)
    (elem (table 0) (i32.const 0) func $pong)
    (func $pong (type $t3) (param $n i64) (param $acc i64) (param $k i64) (result i64)
        (global.set $count (i64.add (global.get $count) (i64.const 1)))
        (i64.store (i32.const 8) (i64.add (i64.load (i32.const 8)) (i64.const 3)))
        (if (result i64) (i64.eqz (local.get $n))
            (then (i64.add (local.get $acc) (local.get $k)))
            (else (return_call $ping (local.get $n)
                                     (i64.add (local.get $acc) (local.get $k)))))))"#;

#[test]
fn tail_calls_across_instances_switch_the_context() {
    let engine = engine();
    let mut store = Store::new(&engine, ());
    let a = Module::new(&engine, wat::parse_str(PING).unwrap()).unwrap();
    let b = Module::new(&engine, wat::parse_str(PONG).unwrap()).unwrap();
    let mut linker = Linker::new(&engine);
    let ia = linker.instantiate(&mut store, &a).unwrap();
    linker.instance(&mut store, "a", ia).unwrap();
    let ib = linker.instantiate(&mut store, &b).unwrap();
    let run = ia.get_func(&store, "run").unwrap();
    let count_b = ib.get_global(&store, "count").unwrap();
    let mut out = [Val::I64(0), Val::I64(0), Val::I64(0)];
    let mut total = 0;
    // `ping` runs for n = N..1 and adds n; `pong` adds 7 each time.
    for n in [1i64, 2, 5, TEN_MILLION / 2] {
        run.call(&mut store, &[Val::I64(n)], &mut out).unwrap();
        total += n;
        assert_eq!(out[0], Val::I64(n * (n + 1) / 2 + 7 * n), "n = {n}");
        assert_eq!(out[1], Val::I64(total), "A's counter, n = {n}");
        assert_eq!(out[2], Val::I64(2 * total), "A's memory, n = {n}");
        assert_eq!(count_b.get(&mut store), Val::I64(1_000_000_000 + total));
    }
    // Entered from the host at `ping`, ending in B.
    let ping = ia
        .get_typed_func::<(i64, i64), i64>(&store, "ping")
        .unwrap();
    assert_eq!(ping.call(&mut store, (3, 100)).unwrap(), 100 + 6 + 21);
}

/// Host functions reached by `return_call` (an import) and by
/// `return_call_indirect`, with more arguments than travel in registers.
const HOST: &str = r#"(module
    (type $m (func (param i64 i32 f64 i64 f32) (result i64)))
    (import "host" "mix" (func $mix (type $m)))
    (table 1 funcref)
    (elem (i32.const 0) $mix)
    (func $direct (export "direct") (param $x i64) (result i64)
        (return_call $mix (local.get $x) (i32.const 2) (f64.const 0.5)
                          (i64.const 100) (f32.const 4)))
    (func (export "indirect") (param $x i64) (result i64)
        (return_call_indirect (type $m) (local.get $x) (i32.const 3) (f64.const 0.25)
                              (i64.const 1000) (f32.const 8) (i32.const 0)))
    ;; Calls `direct` in a loop, keeping its locals in registers across.
    (func (export "loop") (param $n i64) (result i64)
        (local $acc i64)
        (loop $l
            (local.set $acc (i64.add (local.get $acc) (call $direct (local.get $n))))
            (local.set $n (i64.sub (local.get $n) (i64.const 1)))
            (br_if $l (i64.ne (local.get $n) (i64.const 0))))
        (local.get $acc)))"#;

#[test]
fn host_functions_reached_by_tail_calls() {
    let engine = engine();
    let module = Module::new(&engine, wat::parse_str(HOST).unwrap()).unwrap();
    let mut store = Store::new(&engine, 0u32);
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap(
            "host",
            "mix",
            |mut caller: wasmkern::Caller<'_, u32>, a: i64, b: i32, c: f64, d: i64, e: f32| {
                *caller.data_mut() += 1;
                a * i64::from(b) + (c * 1000.0) as i64 + d + e as i64
            },
        )
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let direct = instance
        .get_typed_func::<i64, i64>(&store, "direct")
        .unwrap();
    assert_eq!(direct.call(&mut store, 21).unwrap(), 42 + 500 + 100 + 4);
    let indirect = instance
        .get_typed_func::<i64, i64>(&store, "indirect")
        .unwrap();
    assert_eq!(indirect.call(&mut store, 5).unwrap(), 15 + 250 + 1000 + 8);
    let looped = instance.get_typed_func::<i64, i64>(&store, "loop").unwrap();
    let n = 10_000i64;
    // Sum over x = 1..n of 2x + 604.
    assert_eq!(looped.call(&mut store, n).unwrap(), n * (n + 1) + 604 * n);
    assert_eq!(*store.data(), 2 + n as u32);
}

const TRAPS: &str = r#"(module
    (type $t (func (param i64) (result i64)))
    (type $u (func (param i32) (result i64)))
    (table 3 funcref)
    (elem (i32.const 0) $f)
    (elem (i32.const 2) $g)
    (func $f (type $t) (i64.add (local.get 0) (i64.const 1)))
    (func $g (type $u) (i64.const 0))
    (func (export "tail") (param $i i32) (param $x i64) (result i64)
        (return_call_indirect (type $t) (local.get $x) (local.get $i)))
    (func (export "call") (param $i i32) (param $x i64) (result i64)
        (call_indirect (type $t) (local.get $x) (local.get $i))))"#;

#[test]
fn return_call_indirect_traps_as_call_indirect_does() {
    let engine = engine();
    let (mut store, instance) = instantiate(&engine, TRAPS);
    let tail = instance
        .get_typed_func::<(i32, i64), i64>(&store, "tail")
        .unwrap();
    let call = instance
        .get_typed_func::<(i32, i64), i64>(&store, "call")
        .unwrap();
    assert_eq!(tail.call(&mut store, (0, 41)).unwrap(), 42);
    for (index, trap) in [
        (1, Trap::UninitializedElement),
        (2, Trap::IndirectCallTypeMismatch),
        (3, Trap::UndefinedElement),
        (-1, Trap::UndefinedElement),
    ] {
        let err = tail.call(&mut store, (index, 0)).unwrap_err();
        assert_eq!(err.trap(), Some(trap), "index {index}");
        let expected = call.call(&mut store, (index, 0)).unwrap_err();
        assert_eq!(err.to_string(), expected.to_string(), "index {index}");
        // The trapping function (2, "tail") is still there for the
        // backtrace.
        let frames = err.backtrace();
        assert_eq!(
            frames.first().map(|f| f.func_index),
            Some(2),
            "index {index}: {frames:?}"
        );
    }
    assert_eq!(tail.call(&mut store, (0, 1)).unwrap(), 2);
}

/// A 2-parameter function tail-calls one with 20 (160 bytes of arguments,
/// more than the area a caller is known to have: compiled as a call and a
/// return), which tail-calls back in place.
const WIDE: &str = r#"(module
    (func $one (export "one") (param $n i64) (param $acc i64) (result i64)
        (if (result i64) (i64.eqz (local.get $n))
            (then (local.get $acc))
            (else (return_call $twenty
                (i64.sub (local.get $n) (i64.const 1)) (local.get $acc)
                (i64.const 1) (i64.const 2) (i64.const 3) (i64.const 4) (i64.const 5) (i64.const 6)
                (i64.const 7) (i64.const 8) (i64.const 9) (i64.const 10) (i64.const 11) (i64.const 12)
                (i64.const 13) (i64.const 14) (i64.const 15) (i64.const 16) (i64.const 17) (i64.const 18)))))
    (func $twenty (param $n i64) (param $acc i64)
        (param i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
        (result i64)
        (return_call $one (local.get $n)
            (i64.add (local.get $acc)
                (i64.add (i64.add (i64.add (i64.add (local.get 2) (local.get 3)) (i64.add (local.get 4) (local.get 5)))
                                  (i64.add (i64.add (local.get 6) (local.get 7)) (i64.add (local.get 8) (local.get 9))))
                         (i64.add (i64.add (i64.add (local.get 10) (local.get 11)) (i64.add (local.get 12) (local.get 13)))
                                  (i64.add (i64.add (i64.add (local.get 14) (local.get 15)) (i64.add (local.get 16) (local.get 17)))
                                           (i64.add (local.get 18) (local.get 19)))))))))"#;

#[test]
fn tail_calls_to_wider_functions_are_correct() {
    let engine = engine();
    let (mut store, instance) = instantiate(&engine, WIDE);
    let one = instance
        .get_typed_func::<(i64, i64), i64>(&store, "one")
        .unwrap();
    for n in [0i64, 1, 2, 1000] {
        assert_eq!(
            one.call(&mut store, (n, 5)).unwrap(),
            5 + 171 * n,
            "n = {n}"
        );
    }
}

/// Results of every kind come back through a tail call: several, floats
/// and a vector, the first of which travels in registers.
const RESULTS: &str = r#"(module
    (func $swap (param f64 i64) (result i64 f64) (local.get 1) (local.get 0))
    (func (export "swap") (param i64) (result i64 f64)
        (return_call $swap (f64.const 2.5) (local.get 0)))
    (func $splat (param f32) (result v128) (f32x4.splat (local.get 0)))
    (func (export "splat") (result v128) (return_call $splat (f32.const 1.5)))
    (func $half (param f64) (result f64) (f64.mul (local.get 0) (f64.const 0.5)))
    (func (export "half") (param f64) (result f64) (return_call $half (local.get 0))))"#;

#[test]
fn results_of_every_kind() {
    let engine = engine();
    let (mut store, instance) = instantiate(&engine, RESULTS);
    let swap = instance
        .get_typed_func::<i64, (i64, f64)>(&store, "swap")
        .unwrap();
    assert_eq!(swap.call(&mut store, -9).unwrap(), (-9, 2.5));
    let half = instance.get_typed_func::<f64, f64>(&store, "half").unwrap();
    assert_eq!(half.call(&mut store, 7.0).unwrap(), 3.5);
    let splat = instance.get_func(&store, "splat").unwrap();
    let mut out = [Val::I32(0)];
    splat.call(&mut store, &[], &mut out).unwrap();
    let lane = u128::from(1.5f32.to_bits());
    assert_eq!(
        out[0],
        Val::V128(lane | lane << 32 | lane << 64 | lane << 96)
    );
}

#[test]
fn fuel_runs_out_in_a_tail_call_loop_and_resumes() {
    let engine = engine_with(Config::new().consume_fuel(true));
    let (mut store, instance) = instantiate(&engine, SUM);
    let sum = instance.get_func(&store, "sum").unwrap();
    store.set_fuel(1_000).unwrap();
    let mut out = [Val::I64(0)];
    let err = sum
        .call(&mut store, &[Val::I64(1_000_000), Val::I64(0)], &mut out)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfFuel);
    // In chunks, pausing many times, the result is exact.
    let n = 100_000i64;
    store.set_fuel(10_007).unwrap();
    let mut outcome = sum
        .call_resumable(&mut store, &[Val::I64(n), Val::I64(0)], &mut out)
        .unwrap();
    let mut pauses = 0;
    while let CallOutcome::Paused(call) = outcome {
        assert_eq!(call.reason(), PauseReason::OutOfFuel);
        pauses += 1;
        assert!(pauses < 1_000_000, "no progress");
        store.set_fuel(10_007).unwrap();
        outcome = call.resume(&mut store, &mut out).unwrap();
    }
    assert!(pauses >= 10, "{pauses} pauses");
    assert_eq!(out[0], Val::I64(n * (n + 1) / 2));
}

#[test]
fn an_endless_tail_call_loop_can_be_interrupted() {
    let engine = engine_with(Config::new().interruptible(true));
    let (mut store, instance) = instantiate(&engine, SUM);
    let spin = instance.get_typed_func::<i32, i32>(&store, "spin").unwrap();
    let handle = store.interrupt_handle();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let interrupter = thread::spawn(move || {
        started_rx.recv().unwrap();
        thread::sleep(Duration::from_millis(50));
        handle.interrupt();
    });
    started_tx.send(()).unwrap();
    let err = spin.call(&mut store, 0).unwrap_err();
    interrupter.join().unwrap();
    assert_eq!(err.kind(), ErrorKind::Interrupted);
}

/// What the benchmark VMs' program computes for `rounds` rounds
/// (`benches/workloads/tail_vm.wat`).
fn vm_reference(rounds: i64) -> i64 {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..rounds {
        b = b.wrapping_add(3);
        a = a.wrapping_add(b);
        a ^= a >> 7;
        b = b.wrapping_mul(0x9E37_79B1);
    }
    a as i64
}

#[test]
fn the_benchmark_vms_compute_their_program() {
    let engine = engine();
    for wat in [
        include_str!("../benches/workloads/tail_vm.wat"),
        include_str!("../benches/workloads/call_vm.wat"),
    ] {
        let (mut store, instance) = instantiate(&engine, wat);
        let run = instance
            .get_typed_func::<i64, i64>(&store, "run_n")
            .unwrap();
        for n in [1, 2, 3, 1000] {
            assert_eq!(run.call(&mut store, n).unwrap(), vm_reference(n), "n = {n}");
        }
        // Six instructions per round: 12 million handlers.
        let n = 2_000_000;
        assert_eq!(run.call(&mut store, n).unwrap(), vm_reference(n));
    }
}

/// A function mixing parameters used often (kept in callee-saved
/// registers) with parameters used once (left in their slots, among them
/// a register argument and a stack argument passed through unchanged),
/// which makes a plain call and then a tail call, called by a function
/// whose own often-used local must survive the chain.
const MIXED_WEIGHTS: &str = r#"(module
    (type $t (func (param i64 i64 i64 i64 i64) (result i64)))
    (memory 1)
    (table 2 funcref)
    (elem (i32.const 0) $step $finish)
    ;; Writes every callee-saved pin register with its own values.
    (func $clobber (param $s i64) (result i64)
        (local $a i64) (local $b i64) (local $c i64) (local $d i64) (local $e i64) (local $i i32)
        (loop $l
            (local.set $a (i64.add (local.get $s) (i64.const 1)))
            (local.set $b (i64.mul (local.get $a) (i64.const 3)))
            (local.set $c (i64.xor (local.get $b) (local.get $a)))
            (local.set $d (i64.sub (local.get $c) (local.get $b)))
            (local.set $e (i64.add (local.get $d) (local.get $c)))
            (local.set $s (i64.add (local.get $e) (local.get $s)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $l (i32.lt_u (local.get $i) (i32.const 3))))
        (i64.store (i32.const 8) (local.get $s))
        (local.get $s))
    ;; $n is used three times and $acc twice; $x, $y and $z once each.
    (func $step (type $t) (param $n i64) (param $x i64) (param $acc i64) (param $y i64) (param $z i64) (result i64)
        (return_call_indirect (type $t)
            (i64.sub (local.get $n) (i64.const 1))
            (i64.add (local.get $x) (i64.const 1))
            (i64.add (local.get $acc) (call $clobber (i64.add (local.get $n) (local.get $acc))))
            (local.get $y)
            (i64.mul (local.get $z) (i64.const 3))
            (select (i32.const 1) (i32.const 0) (i64.eqz (local.get $n)))))
    (func $finish (type $t) (param $n i64) (param $x i64) (param $acc i64) (param $y i64) (param $z i64) (result i64)
        (i64.add (i64.add (i64.add (local.get $acc) (i64.mul (local.get $x) (i64.const 7)))
                          (i64.add (i64.mul (local.get $y) (i64.const 11)) (i64.mul (local.get $z) (i64.const 13))))
                 (i64.add (local.get $n) (i64.load (i32.const 8)))))
    (func (export "run") (param $n i64) (result i64)
        (local $k i64)
        (local.set $k (i64.add (i64.mul (local.get $n) (i64.const 5)) (i64.const 1)))
        (i64.add (call $step (local.get $n) (i64.const 2) (i64.const 3) (i64.const 4) (i64.const 5))
                 (i64.mul (local.get $k) (local.get $k)))))"#;

/// What `MIXED_WEIGHTS`'s `run` computes, in wrapping `u64` arithmetic.
fn mixed_weights_reference(n: u64) -> u64 {
    let clobber = |mut s: u64| {
        for _ in 0..3 {
            let a = s.wrapping_add(1);
            let b = a.wrapping_mul(3);
            let c = b ^ a;
            let d = c.wrapping_sub(b);
            let e = d.wrapping_add(c);
            s = e.wrapping_add(s);
        }
        s
    };
    let (mut m, mut x, mut acc, y, mut z) = (n, 2u64, 3u64, 4u64, 5u64);
    // The last `clobber` result, which it also stores to memory.
    let stored = loop {
        let last = m == 0;
        let s = clobber(m.wrapping_add(acc));
        (m, x, acc, z) = (
            m.wrapping_sub(1),
            x + 1,
            acc.wrapping_add(s),
            z.wrapping_mul(3),
        );
        if last {
            break s;
        }
    };
    let result = acc
        .wrapping_add(x.wrapping_mul(7))
        .wrapping_add(y.wrapping_mul(11).wrapping_add(z.wrapping_mul(13)))
        .wrapping_add(m.wrapping_add(stored));
    let k = n.wrapping_mul(5).wrapping_add(1);
    result.wrapping_add(k.wrapping_mul(k))
}

#[test]
fn lightly_used_parameters_survive_calls_and_tail_calls() {
    common::both_modes(|guard| {
        let engine = engine_with(Config::new().guard_regions(guard));
        let (mut store, instance) = instantiate(&engine, MIXED_WEIGHTS);
        let run = instance.get_typed_func::<i64, i64>(&store, "run").unwrap();
        for n in [0u64, 1, 2, 5, 1000] {
            assert_eq!(
                run.call(&mut store, n as i64).unwrap() as u64,
                mixed_weights_reference(n),
                "n = {n}, guard regions: {guard}"
            );
        }
    });
}

#[test]
fn a_precompiled_module_keeps_its_tail_calls() {
    let engine = engine();
    let module = Module::new(&engine, wat::parse_str(INDIRECT).unwrap()).unwrap();
    let bytes = module.serialize().unwrap();
    let loaded = Module::deserialize_checked(&engine, &bytes).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &loaded, &[]).unwrap();
    let run = instance.get_typed_func::<i64, i64>(&store, "run").unwrap();
    let n = TEN_MILLION / 2 + 1;
    assert_eq!(run.call(&mut store, n).unwrap(), 10 * n + (n + 1) / 2);
    let module = Module::new(&engine, wat::parse_str(SUM).unwrap()).unwrap();
    let loaded = Module::deserialize_checked(&engine, module.serialize().unwrap()).unwrap();
    let instance = Instance::new(&mut store, &loaded, &[]).unwrap();
    let sum = instance
        .get_typed_func::<(i64, i64), i64>(&store, "sum")
        .unwrap();
    assert_eq!(
        sum.call(&mut store, (TEN_MILLION, 0)).unwrap(),
        TEN_MILLION * (TEN_MILLION + 1) / 2
    );
}

/// Three arities in a loop, each wider than the last function's incoming
/// area: `$a` (2 arguments) tail-calls `$w` (12), which tail-calls `$x`
/// (24), which tail-calls `$a` again. The first two calls grow the area;
/// after them every call fits in what was grown.
const GROWING: &str = r#"(module
    (func $a (export "a") (param $n i64) (param $acc i64) (result i64)
        (if (result i64) (i64.eqz (local.get $n))
            (then (local.get $acc))
            (else (return_call $w (local.get $n) (local.get $acc)
                (i64.add (local.get $n) (i64.const 1)) (i64.add (local.get $n) (i64.const 2))
                (i64.add (local.get $n) (i64.const 3)) (i64.add (local.get $n) (i64.const 4))
                (i64.add (local.get $n) (i64.const 5)) (i64.add (local.get $n) (i64.const 6))
                (i64.add (local.get $n) (i64.const 7)) (i64.add (local.get $n) (i64.const 8))
                (i64.add (local.get $n) (i64.const 9)) (i64.add (local.get $n) (i64.const 10))))))
    (func $w (param $n i64) (param $acc i64)
        (param i64 i64 i64 i64 i64 i64 i64 i64 i64 i64) (result i64)
        (local $sum i64)
        (local.set $sum
            (i64.add (i64.add (i64.add (i64.add (local.get 2) (local.get 3)) (i64.add (local.get 4) (local.get 5)))
                              (i64.add (i64.add (local.get 6) (local.get 7)) (i64.add (local.get 8) (local.get 9))))
                     (i64.add (local.get 10) (local.get 11))))
        (return_call $x (local.get $n) (i64.add (local.get $acc) (local.get $sum))
            (i64.mul (local.get $n) (i64.const 1)) (i64.mul (local.get $n) (i64.const 2))
            (i64.mul (local.get $n) (i64.const 3)) (i64.mul (local.get $n) (i64.const 4))
            (i64.mul (local.get $n) (i64.const 5)) (i64.mul (local.get $n) (i64.const 6))
            (i64.mul (local.get $n) (i64.const 7)) (i64.mul (local.get $n) (i64.const 8))
            (i64.mul (local.get $n) (i64.const 9)) (i64.mul (local.get $n) (i64.const 10))
            (i64.mul (local.get $n) (i64.const 11)) (i64.mul (local.get $n) (i64.const 12))
            (i64.mul (local.get $n) (i64.const 13)) (i64.mul (local.get $n) (i64.const 14))
            (i64.mul (local.get $n) (i64.const 15)) (i64.mul (local.get $n) (i64.const 16))
            (i64.mul (local.get $n) (i64.const 17)) (i64.mul (local.get $n) (i64.const 18))
            (i64.mul (local.get $n) (i64.const 19)) (i64.mul (local.get $n) (i64.const 20))
            (i64.mul (local.get $n) (i64.const 21)) (i64.mul (local.get $n) (i64.const 22))))
    (func $x (param $n i64) (param $acc i64)
        (param i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
        (param i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64) (result i64)
        (local $sum i64)
        ;; Parameters 2..12, then 13..23.
        (local.set $sum (i64.add
            (i64.add (i64.add (i64.add (local.get 2) (local.get 3)) (i64.add (local.get 4) (local.get 5)))
                     (i64.add (i64.add (local.get 6) (local.get 7)) (i64.add (local.get 8) (local.get 9))))
            (i64.add (i64.add (local.get 10) (local.get 11)) (local.get 12))))
        (local.set $sum (i64.add (local.get $sum)
            (i64.add (i64.add (i64.add (local.get 13) (local.get 14)) (i64.add (local.get 15) (local.get 16)))
                     (i64.add (i64.add (local.get 17) (local.get 18))
                              (i64.add (i64.add (local.get 19) (local.get 20))
                                       (i64.add (local.get 21) (i64.add (local.get 22) (local.get 23))))))))
        (return_call $a (i64.sub (local.get $n) (i64.const 1))
            (i64.add (local.get $acc) (local.get $sum))))
    ;; The same loop entered by a call from wasm, whose frame and locals
    ;; must be intact when the grown calls return.
    (func (export "framed") (param $n i64) (result i64)
        (local $before i64)
        (local.set $before (i64.mul (local.get $n) (i64.const 3)))
        (i64.sub (call $a (local.get $n) (i64.const 0)) (local.get $before))))"#;

/// What `GROWING`'s loop returns: each round adds `10n + 55` in `$w` and
/// `253n` in `$x`, for n from `rounds` down to 1.
fn growing_reference(rounds: i64) -> i64 {
    (1..=rounds).map(|n| 263 * n + 55).sum()
}

#[test]
fn wide_tail_calls_grow_the_area_and_run_in_constant_stack() {
    let engine = engine();
    let (mut store, instance) = instantiate(&engine, GROWING);
    let a = instance
        .get_typed_func::<(i64, i64), i64>(&store, "a")
        .unwrap();
    for n in [0i64, 1, 2, 3, 10] {
        assert_eq!(
            a.call(&mut store, (n, 7)).unwrap(),
            7 + growing_reference(n)
        );
    }
    // Three tail calls a round: ten million on the default 1 MiB stack,
    // where a frame kept per call (or a record per growth) overflows.
    let rounds = TEN_MILLION / 3 + 1;
    assert_eq!(
        a.call(&mut store, (rounds, 0)).unwrap(),
        growing_reference(rounds)
    );
    let framed = instance
        .get_typed_func::<i64, i64>(&store, "framed")
        .unwrap();
    for n in [1i64, 1000] {
        assert_eq!(
            framed.call(&mut store, n).unwrap(),
            growing_reference(n) - 3 * n
        );
    }
}

/// A tail call that grows the area returns results of every kind through
/// the engine's return stub, to a wasm caller and to the host.
const GROWING_RESULTS: &str = r#"(module
    (type $wide (func (param i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
                      (result i64 f64 v128 i32 i64 i64)))
    (table funcref (elem $wide))
    (func $wide (type $wide)
        (local.get 0) (f64.convert_i64_s (local.get 1)) (i64x2.splat (local.get 2))
        (i32.wrap_i64 (local.get 10)) (local.get 11)
        (i64.add (local.get 3) (local.get 9)))
    (func $direct (export "direct") (param i64) (result i64 f64 v128 i32 i64 i64)
        (return_call $wide (local.get 0) (i64.const 2) (i64.const 3) (i64.const 4)
            (i64.const 5) (i64.const 6) (i64.const 7) (i64.const 8) (i64.const 9)
            (i64.const 10) (i64.const 11) (i64.const 12)))
    (func $indirect (export "indirect") (param i64) (result i64 f64 v128 i32 i64 i64)
        (return_call_indirect (type $wide) (local.get 0) (i64.const 2) (i64.const 3)
            (i64.const 4) (i64.const 5) (i64.const 6) (i64.const 7) (i64.const 8)
            (i64.const 9) (i64.const 10) (i64.const 11) (i64.const 12) (i32.const 0)))
    (func $by_ref (export "by_ref") (param i64) (result i64 f64 v128 i32 i64 i64)
        (return_call_ref $wide (local.get 0) (i64.const 2) (i64.const 3)
            (i64.const 4) (i64.const 5) (i64.const 6) (i64.const 7) (i64.const 8)
            (i64.const 9) (i64.const 10) (i64.const 11) (i64.const 12) (ref.func $wide)))
    (elem declare func $wide)
    ;; Calls each and folds the results; its locals live across the calls.
    (func (export "fold") (param $x i64) (result i64)
        (local $keep i64) (local $f f64) (local $v v128) (local $i i32) (local $j i64) (local $k i64)
        (local.set $keep (i64.const 1000000))
        (call $direct (local.get $x))
        (local.set $k) (local.set $j) (local.set $i) (local.set $v) (local.set $f)
        (i64.add (local.get $keep))
        (i64.add (i64.trunc_f64_s (local.get $f)))
        (i64.add (i64x2.extract_lane 1 (local.get $v)))
        (i64.add (i64.extend_i32_s (local.get $i)))
        (i64.add (local.get $j))
        (i64.add (local.get $k))
        (call $indirect (i64.const 100))
        (drop) (drop) (drop) (drop) (drop)
        (i64.add)
        (call $by_ref (i64.const 10000))
        (drop) (drop) (drop) (drop) (drop)
        (i64.add)))"#;

#[test]
fn results_come_back_through_a_grown_area() {
    let engine = engine();
    let (mut store, instance) = instantiate(&engine, GROWING_RESULTS);
    let splat3 = u128::from(3u64) | u128::from(3u64) << 64;
    let expected = |x: i64| {
        [
            Val::I64(x),
            Val::F64(2.0f64.to_bits()),
            Val::V128(splat3),
            Val::I32(11),
            Val::I64(12),
            Val::I64(4 + 10),
        ]
    };
    for name in ["direct", "indirect", "by_ref"] {
        let f = instance.get_func(&store, name).unwrap();
        let mut out = [Val::I32(0); 6];
        f.call(&mut store, &[Val::I64(-5)], &mut out).unwrap();
        assert_eq!(out, expected(-5), "{name}");
    }
    let fold = instance.get_typed_func::<i64, i64>(&store, "fold").unwrap();
    // 1000000 + x + 2 + 3 + 11 + 12 + 14, then + 100 and + 10000.
    let x = 77;
    assert_eq!(
        fold.call(&mut store, x).unwrap(),
        1_000_000 + x + 2 + 3 + 11 + 12 + 14 + 100 + 10_000
    );
}

/// Host functions and functions of another instance reached by tail calls
/// that grow the area; a trap in the callee names no frame of the record.
const GROWING_IMPORTS: &str = r#"(module
    (import "host" "wide" (func $host (param i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
                                      (result i64)))
    (import "other" "wide" (func $other (param i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
                                        (result i64)))
    (func (export "to_host") (param i64) (result i64)
        (return_call $host (local.get 0) (i64.const 2) (i64.const 3) (i64.const 4)
            (i64.const 5) (i64.const 6) (i64.const 7) (i64.const 8) (i64.const 9)
            (i64.const 10) (i64.const 11) (i64.const 12)))
    (func $loop (export "loop") (param $n i64) (param $acc i64) (result i64)
        (if (result i64) (i64.eqz (local.get $n))
            (then (local.get $acc))
            (else (return_call $other (local.get $n) (local.get $acc) (i64.const 3)
                (i64.const 4) (i64.const 5) (i64.const 6) (i64.const 7) (i64.const 8)
                (i64.const 9) (i64.const 10) (i64.const 11) (i64.const 12)))))
    (func (export "back") (param $n i64) (param $acc i64) (result i64)
        (return_call $loop (local.get $n) (local.get $acc)))
    (func $caller (export "trap_below") (param i64) (result i64)
        (i64.add (i64.const 1) (call $to_trap (local.get 0))))
    (func $to_trap (param i64) (result i64)
        (return_call $other (local.get 0) (i64.const -1) (i64.const 3) (i64.const 4)
            (i64.const 5) (i64.const 6) (i64.const 7) (i64.const 8) (i64.const 9)
            (i64.const 10) (i64.const 11) (i64.const 12))))"#;

/// The other instance's wide function: it adds its arguments 3..12 (75)
/// to the accumulator and tail-calls `main.back` (slot 0 of the shared
/// table, set once `main` exists) with one round less, or traps (divides
/// by zero) when the accumulator is negative.
const OTHER: &str = r#"(module
    (import "env" "table" (table 1 funcref))
    (type $back (func (param i64 i64) (result i64)))
    (func $wide (export "wide") (param $n i64) (param $acc i64)
        (param i64 i64 i64 i64 i64 i64 i64 i64 i64 i64) (result i64)
        (if (i64.lt_s (local.get $acc) (i64.const 0))
            (then (drop (i64.div_s (local.get $n) (i64.const 0)))))
        (return_call_indirect (type $back) (i64.sub (local.get $n) (i64.const 1))
            (i64.add (local.get $acc)
                (i64.add (i64.add (i64.add (i64.add (local.get 2) (local.get 3)) (i64.add (local.get 4) (local.get 5)))
                                  (i64.add (i64.add (local.get 6) (local.get 7)) (i64.add (local.get 8) (local.get 9))))
                         (i64.add (local.get 10) (local.get 11))))
            (i32.const 0))))"#;

#[test]
fn growing_tail_calls_reach_hosts_and_other_instances() {
    use wasmkern::{FuncType, Limits, RefType, Table, TableType, ValType};
    let engine = engine();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    // The host function adds its arguments, the first one times 1000.
    linker
        .func_new(
            "host",
            "wide",
            FuncType::new(&[ValType::I64; 12], &[ValType::I64]),
            |_, args, results| {
                let mut sum = 0;
                for (k, arg) in args.iter().enumerate() {
                    let Val::I64(v) = *arg else {
                        panic!("argument {k} is {arg:?}")
                    };
                    sum += if k == 0 { v * 1000 } else { v };
                }
                results[0] = Val::I64(sum);
                Ok(())
            },
        )
        .unwrap();
    let table = Table::new(
        &mut store,
        TableType {
            elem: RefType::FuncRef,
            limits: Limits { min: 1, max: None },
            table64: false,
        },
        Val::FuncRef(None),
    )
    .unwrap();
    linker.define(&store, "env", "table", table).unwrap();
    let other_module = Module::new(&engine, wat::parse_str(OTHER).unwrap()).unwrap();
    let other = linker.instantiate(&mut store, &other_module).unwrap();
    linker.instance(&mut store, "other", other).unwrap();
    let main_module = Module::new(&engine, wat::parse_str(GROWING_IMPORTS).unwrap()).unwrap();
    let main = linker.instantiate(&mut store, &main_module).unwrap();
    let back = main.get_func(&store, "back").unwrap();
    table.set(&mut store, 0, Val::FuncRef(Some(back))).unwrap();

    let to_host = main.get_typed_func::<i64, i64>(&store, "to_host").unwrap();
    assert_eq!(to_host.call(&mut store, 9).unwrap(), 9000 + 77);

    // main.loop -> other.wide (grows) -> main.back (table) -> main.loop ...
    let looped = main
        .get_typed_func::<(i64, i64), i64>(&store, "loop")
        .unwrap();
    let rounds = TEN_MILLION / 3 + 1;
    assert_eq!(
        looped.call(&mut store, (rounds, 5)).unwrap(),
        5 + 75 * rounds
    );

    // The trap in `other.wide` shows it, then `main.trap_below`, which
    // called `$to_trap`: the tail call replaced `$to_trap`'s frame.
    let trap_below = main
        .get_typed_func::<i64, i64>(&store, "trap_below")
        .unwrap();
    let err = trap_below.call(&mut store, 4).unwrap_err();
    assert_eq!(err.trap(), Some(Trap::IntegerDivideByZero), "{err}");
    let names: Vec<Option<String>> = err
        .backtrace()
        .iter()
        .map(|f| f.func_name.clone())
        .collect();
    assert_eq!(
        names,
        [Some("wide".to_string()), Some("caller".to_string())],
        "{err}"
    );
    // The store stays usable.
    assert_eq!(looped.call(&mut store, (3, 0)).unwrap(), 225);
}

/// The next handler's table index in `PASS_THROUGH` after instruction
/// `pc + 1` (on the stack as `$next`): one of the four handlers, cycling
/// through all of them, or `$halt` (0) once `$next` reaches the global
/// `$limit`.
const NEXT_HANDLER: &str = "(select
    (i32.add (i32.rem_u (i32.mul (local.get $next) (i32.const 7)) (i32.const 4)) (i32.const 1))
    (i32.const 0)
    (i32.lt_u (local.get $next) (global.get $limit)))";

/// A threaded VM whose handlers (tail calls only, through the table) take
/// three stack-passed parameters besides the two register ones, each
/// read at least twice (so kept in a register), and pass them on:
/// unchanged, swapped with each other, changed by an expression, and
/// changed by `local.set`, once in a loop after the tail call in code
/// order, so that only the write on an earlier iteration changes what
/// the tail call passes.
fn pass_through_wat() -> String {
    let jump = |args: &str| {
        format!(
            "(local.set $next (i32.add (local.get $pc) (i32.const 1)))
             (return_call_indirect (type $h) (local.get $next) {args} {NEXT_HANDLER})"
        )
    };
    format!(
        r#"(module
    (type $h (func (param $pc i32) (param $a i64) (param $b i64) (param $c i64) (param $d i64) (result i64)))
    (global $limit (mut i32) (i32.const 0))
    (table 5 funcref)
    (elem (i32.const 0) $halt $keep $swap $bump $scale)
    (func $halt (type $h) {params}
        (i64.xor (i64.xor (local.get $a) (i64.mul (local.get $b) (i64.const 3)))
                 (i64.xor (i64.mul (local.get $c) (i64.const 5)) (i64.mul (local.get $d) (i64.const 7)))))
    ;; $c and $d unchanged, $b changed by an expression.
    (func $keep (type $h) {params} (local $next i32)
        {keep})
    ;; $c and $d swapped, $b unchanged.
    (func $swap (type $h) {params} (local $next i32)
        {swap})
    ;; $c incremented by `local.set` until a multiple of 4, in a loop
    ;; whose tail call comes first.
    (func $bump (type $h) {params} (local $next i32)
        (loop $l
            (if (i64.eqz (i64.and (local.get $c) (i64.const 3)))
                (then {bump}))
            (local.set $c (i64.add (local.get $c) (i64.const 1)))
            (br $l))
        (unreachable))
    ;; $d changed by `local.set` before the tail call, $b and $c unchanged.
    (func $scale (type $h) {params} (local $next i32)
        (local.set $d (i64.add (i64.mul (local.get $d) (i64.const 3)) (local.get $c)))
        {scale})
    (func (export "run") (param $n i32) (param $a i64) (param $b i64) (param $c i64) (param $d i64) (result i64)
        (global.set $limit (local.get $n))
        (return_call $keep (i32.const 0) (local.get $a) (local.get $b) (local.get $c) (local.get $d))))"#,
        keep = jump(
            "(i64.add (i64.mul (local.get $a) (i64.const 31)) (i64.sub (i64.xor (local.get $b) (local.get $c)) (local.get $d)))
             (i64.add (local.get $b) (local.get $c)) (local.get $c) (local.get $d)"
        ),
        swap = jump(
            "(i64.sub (i64.add (i64.add (local.get $a) (local.get $b)) (i64.shl (local.get $c) (i64.const 1))) (local.get $d))
             (local.get $b) (local.get $d) (local.get $c)"
        ),
        bump = jump("(i64.add (local.get $a) (local.get $c)) (local.get $b) (local.get $c) (local.get $d)"),
        params = "(param $pc i32) (param $a i64) (param $b i64) (param $c i64) (param $d i64) (result i64)",
        scale = jump(
            "(i64.xor (local.get $a) (i64.add (local.get $d) (local.get $b))) (local.get $b) (local.get $c) (local.get $d)"
        ),
    )
}

/// What `pass_through_wat()`'s `run` computes, in wrapping arithmetic.
fn pass_through_reference(n: u32, mut a: u64, mut b: u64, mut c: u64, mut d: u64) -> u64 {
    let mut pc = 0u32;
    let mut handler = 1;
    loop {
        match handler {
            0 => {
                return a ^ b.wrapping_mul(3) ^ c.wrapping_mul(5) ^ d.wrapping_mul(7);
            }
            1 => {
                a = a.wrapping_mul(31).wrapping_add((b ^ c).wrapping_sub(d));
                b = b.wrapping_add(c);
            }
            2 => {
                a = a.wrapping_add(b).wrapping_add(c << 1).wrapping_sub(d);
                (c, d) = (d, c);
            }
            3 => {
                while c & 3 != 0 {
                    c = c.wrapping_add(1);
                }
                a = a.wrapping_add(c);
            }
            _ => {
                d = d.wrapping_mul(3).wrapping_add(c);
                a ^= d.wrapping_add(b);
            }
        }
        pc += 1;
        handler = if pc < n { (pc * 7 % 4) + 1 } else { 0 };
    }
}

#[test]
fn stack_parameters_pass_through_unchanged_swapped_and_changed() {
    let wat = pass_through_wat();
    common::both_modes(|guard| {
        let engine = engine_with(Config::new().guard_regions(guard));
        let (mut store, instance) = instantiate(&engine, &wat);
        let run = instance
            .get_typed_func::<(i32, i64, i64, i64, i64), i64>(&store, "run")
            .unwrap();
        for (n, a, b, c, d) in [
            (1u32, 1u64, 2u64, 3u64, 4u64),
            (2, 5, 6, 7, 8),
            (9, 0, 1, 2, 3),
            (1000, 11, 0x1234_5678_9abc, u64::MAX - 5, 1 << 40),
        ] {
            assert_eq!(
                run.call(
                    &mut store,
                    (n as i32, a as i64, b as i64, c as i64, d as i64)
                )
                .unwrap() as u64,
                pass_through_reference(n, a, b, c, d),
                "n = {n}, guard regions: {guard}"
            );
        }
    });
}

/// Tail-call-only functions small enough for the caller-saved pins: a
/// stack parameter passed on unchanged, and one written before it is
/// passed on. Also the host boundary: a function called directly (its
/// register parameters not in their slots) tail-calls an import with its
/// own parameters, which the host reads from the area.
const SMALL_TAIL_ONLY: &str = r#"(module
    (import "host" "mix" (func $mix (param i64 i64 i64) (result i64)))
    (func $keep (param $n i64) (param $acc i64) (param $k i64) (result i64)
        (if (result i64) (i64.eqz (local.get $n))
            (then (i64.add (local.get $acc) (local.get $k)))
            (else (return_call $keep (i64.sub (local.get $n) (i64.const 1))
                                     (i64.add (local.get $acc) (i64.mul (local.get $k) (i64.const 3)))
                                     (local.get $k)))))
    (func $change (param $n i64) (param $acc i64) (param $k i64) (result i64)
        (local.set $k (i64.xor (local.get $k) (local.get $n)))
        (if (result i64) (i64.eqz (local.get $n))
            (then (i64.add (local.get $acc) (local.get $k)))
            (else (return_call $change (i64.sub (local.get $n) (i64.const 1))
                                       (i64.add (local.get $acc) (local.get $k))
                                       (local.get $k)))))
    (func $to_host (param $a i64) (param $b i64) (param $c i64) (result i64)
        (if (i64.eq (local.get $a) (local.get $b)) (then (unreachable)))
        (return_call $mix (local.get $a) (local.get $b) (i64.add (local.get $c) (local.get $a))))
    (func (export "keep") (param i64 i64 i64) (result i64)
        (call $keep (local.get 0) (local.get 1) (local.get 2)))
    (func (export "change") (param i64 i64 i64) (result i64)
        (call $change (local.get 0) (local.get 1) (local.get 2)))
    (func (export "to_host") (param i64 i64 i64) (result i64)
        (call $to_host (local.get 0) (local.get 1) (local.get 2))))"#;

#[test]
fn small_tail_only_functions_pass_their_parameters() {
    common::both_modes(|guard| {
        let engine = engine_with(Config::new().guard_regions(guard));
        let module = Module::new(&engine, wat::parse_str(SMALL_TAIL_ONLY).unwrap()).unwrap();
        let mut store = Store::new(&engine, ());
        let mut linker = Linker::new(&engine);
        linker
            .func_wrap("host", "mix", |a: i64, b: i64, c: i64| {
                a.wrapping_mul(1_000_003)
                    .wrapping_add(b.wrapping_mul(1_009))
                    .wrapping_add(c)
            })
            .unwrap();
        let instance = linker.instantiate(&mut store, &module).unwrap();
        let keep = instance
            .get_typed_func::<(i64, i64, i64), i64>(&store, "keep")
            .unwrap();
        let change = instance
            .get_typed_func::<(i64, i64, i64), i64>(&store, "change")
            .unwrap();
        let to_host = instance
            .get_typed_func::<(i64, i64, i64), i64>(&store, "to_host")
            .unwrap();
        for (n, acc, k) in [(0i64, 5i64, 7i64), (1, 2, 3), (1000, -4, 0x5555_5555_5555)] {
            assert_eq!(
                keep.call(&mut store, (n, acc, k)).unwrap(),
                acc.wrapping_add(k.wrapping_mul(3).wrapping_mul(n))
                    .wrapping_add(k),
                "keep({n}, {acc}, {k})"
            );
            let (mut m, mut sum, mut kk) = (n, acc, k);
            let expected = loop {
                kk ^= m;
                if m == 0 {
                    break sum.wrapping_add(kk);
                }
                sum = sum.wrapping_add(kk);
                m -= 1;
            };
            assert_eq!(
                change.call(&mut store, (n, acc, k)).unwrap(),
                expected,
                "change({n}, {acc}, {k})"
            );
        }
        for (a, b, c) in [(1i64, 2i64, 3i64), (-7, 1 << 40, 99)] {
            assert_eq!(
                to_host.call(&mut store, (a, b, c)).unwrap(),
                a.wrapping_mul(1_000_003)
                    .wrapping_add(b.wrapping_mul(1_009))
                    .wrapping_add(c.wrapping_add(a)),
                "to_host({a}, {b}, {c}), guard regions: {guard}"
            );
        }
    });
}

/// Functions whose only calls are tail calls, which compile as leaves
/// (no saved `r15`, no stack-limit check for a small frame): one traps,
/// one throws to its caller's handler, one catches its own throw before
/// it tail-calls, and one sits in a recursion of plain calls without end.
const TAIL_ONLY_EXITS: &str = r#"(module
    (tag $e (param i64))
    (func $finish (param i64 i64) (result i64) (i64.add (local.get 0) (local.get 1)))
    (func $div (param $x i64) (param $y i64) (result i64)
        (return_call $finish (i64.div_s (local.get $x) (local.get $y)) (local.get $y)))
    (func $thrower (param $x i64) (param $y i64) (result i64)
        (if (i64.eqz (local.get $y)) (then (throw $e (i64.mul (local.get $x) (i64.const 3)))))
        (return_call $finish (local.get $x) (local.get $y)))
    (func $self_catch (param $x i64) (param $y i64) (result i64)
        (block $h (result i64)
            (try_table (catch $e $h)
                (if (i64.eqz (local.get $y)) (then (throw $e (i64.add (local.get $x) (i64.const 1))))))
            (local.get $y))
        (return_call $finish (local.get $x)))
    (func $down (param i64) (result i64) (i64.add (call $hop (local.get 0)) (i64.const 1)))
    (func $hop (param i64) (result i64) (return_call $down (i64.add (local.get 0) (i64.const 1))))
    (func (export "div") (param i64 i64) (result i64)
        (i64.add (call $div (local.get 0) (local.get 1)) (i64.const 1)))
    (func (export "catch") (param i64 i64) (result i64)
        (block $h (result i64)
            (try_table (catch $e $h) (return (call $thrower (local.get 0) (local.get 1))))
            (unreachable)))
    (func (export "self_catch") (param i64 i64) (result i64)
        (call $self_catch (local.get 0) (local.get 1)))
    (func (export "down") (param i64) (result i64) (call $down (local.get 0))))"#;

#[test]
fn tail_only_functions_trap_throw_and_overflow_correctly() {
    let engine = engine_with(Config::new().wasm_exceptions(true));
    let (mut store, instance) = instantiate(&engine, TAIL_ONLY_EXITS);
    let div = instance
        .get_typed_func::<(i64, i64), i64>(&store, "div")
        .unwrap();
    assert_eq!(div.call(&mut store, (84, 2)).unwrap(), 42 + 2 + 1);
    let err = div.call(&mut store, (84, 0)).unwrap_err();
    assert_eq!(err.trap(), Some(Trap::IntegerDivideByZero));
    // The trap is in `$div`, called by the export (6).
    let frames: Vec<_> = err
        .backtrace()
        .iter()
        .map(|f| (f.func_index, f.func_name.clone()))
        .collect();
    assert_eq!(frames, [(1, Some("div".to_string())), (6, None)]);
    let catch = instance
        .get_typed_func::<(i64, i64), i64>(&store, "catch")
        .unwrap();
    assert_eq!(catch.call(&mut store, (5, 6)).unwrap(), 11);
    assert_eq!(catch.call(&mut store, (5, 0)).unwrap(), 15);
    let self_catch = instance
        .get_typed_func::<(i64, i64), i64>(&store, "self_catch")
        .unwrap();
    assert_eq!(self_catch.call(&mut store, (5, 7)).unwrap(), 12);
    assert_eq!(self_catch.call(&mut store, (5, 0)).unwrap(), 11);
    let down = instance.get_typed_func::<i64, i64>(&store, "down").unwrap();
    let err = down.call(&mut store, 0).unwrap_err();
    assert_eq!(err.trap(), Some(Trap::StackOverflow));
    // The store still runs code afterwards.
    assert_eq!(catch.call(&mut store, (1, 0)).unwrap(), 3);
}

/// A tail-call-only function with more live values than the value stack
/// has registers beside its caller-saved pins, among them a rotate by a
/// variable count (which needs `rcx`, also the first argument register).
const CROWDED: &str = r#"(module
    (func $deep (param $n i64) (param $a i64) (param $b i64) (param $c i64) (result i64)
        (if (result i64) (i64.eqz (local.get $n))
            (then (i64.add (local.get $a) (i64.mul (local.get $b) (local.get $c))))
            (else (return_call $deep
                (i64.sub (local.get $n) (i64.const 1))
                (i64.add (local.get $a)
                         (i64.mul (i64.add (local.get $b) (i64.const 1))
                                  (i64.sub (local.get $c) (local.get $n))))
                (i64.xor (local.get $c) (local.get $a))
                (i64.add (local.get $b) (i64.rotl (local.get $n) (local.get $a)))))))
    (func (export "deep") (param i64 i64 i64 i64) (result i64)
        (call $deep (local.get 0) (local.get 1) (local.get 2) (local.get 3))))"#;

#[test]
fn crowded_tail_only_functions_compute_correctly() {
    let reference = |mut n: u64, mut a: u64, mut b: u64, mut c: u64| loop {
        if n == 0 {
            break a.wrapping_add(b.wrapping_mul(c));
        }
        (n, a, b, c) = (
            n - 1,
            a.wrapping_add(b.wrapping_add(1).wrapping_mul(c.wrapping_sub(n))),
            c ^ a,
            b.wrapping_add(n.rotate_left((a & 63) as u32)),
        );
    };
    check_four_i64(
        CROWDED,
        "deep",
        reference,
        &[(0, 1, 2, 3), (1, 4, 5, 6), (500, 7, 1 << 33, u64::MAX)],
    );
}

/// Handlers whose stack parameters are each read once (so left in their
/// slots, not pinned) and passed on unchanged, rotated, or changed in the
/// register they were loaded into.
const SINGLE_USE: &str = r#"(module
    (type $h (func (param i64 i64 i64 i64 i64) (result i64)))
    (table 4 funcref)
    (elem (i32.const 0) $halt $keep $rotate $change)
    (func $halt (type $h)
        (i64.add (i64.add (local.get 1) (i64.mul (local.get 2) (i64.const 3)))
                 (i64.add (i64.mul (local.get 3) (i64.const 5)) (i64.mul (local.get 4) (i64.const 7)))))
    (func $keep (type $h)
        (return_call_indirect (type $h)
            (i64.sub (local.get 0) (i64.const 1)) (i64.xor (local.get 1) (local.get 0))
            (local.get 2) (local.get 3) (local.get 4)
            (select (i32.add (i32.wrap_i64 (i64.rem_u (local.get 0) (i64.const 3))) (i32.const 1))
                    (i32.const 0) (i64.ne (local.get 0) (i64.const 1)))))
    (func $rotate (type $h)
        (return_call_indirect (type $h)
            (i64.sub (local.get 0) (i64.const 1)) (i64.add (local.get 1) (local.get 0))
            (local.get 3) (local.get 4) (local.get 2)
            (select (i32.add (i32.wrap_i64 (i64.rem_u (local.get 0) (i64.const 3))) (i32.const 1))
                    (i32.const 0) (i64.ne (local.get 0) (i64.const 1)))))
    (func $change (type $h)
        (return_call_indirect (type $h)
            (i64.sub (local.get 0) (i64.const 1)) (local.get 1)
            (i64.add (local.get 2) (i64.const 1)) (local.get 3) (i64.mul (local.get 4) (i64.const 3))
            (select (i32.add (i32.wrap_i64 (i64.rem_u (local.get 0) (i64.const 3))) (i32.const 1))
                    (i32.const 0) (i64.ne (local.get 0) (i64.const 1)))))
    (func (export "run") (param i64 i64 i64 i64) (result i64)
        (call $keep (local.get 0) (i64.const 0) (local.get 1) (local.get 2) (local.get 3))))"#;

#[test]
fn single_use_stack_parameters_pass_through() {
    // `n` counts down; the next handler is chosen from `n` before the
    // decrement: $halt after n = 1, else 1 + n % 3.
    let reference = |n: u64, mut x: u64, mut y: u64, mut z: u64| {
        let (mut n, mut acc, mut handler) = (n, 0u64, 1);
        loop {
            let next = if n != 1 { 1 + n % 3 } else { 0 };
            match handler {
                0 => {
                    return acc
                        .wrapping_add(x.wrapping_mul(3))
                        .wrapping_add(y.wrapping_mul(5).wrapping_add(z.wrapping_mul(7)));
                }
                1 => acc ^= n,
                2 => {
                    acc = acc.wrapping_add(n);
                    (x, y, z) = (y, z, x);
                }
                _ => (x, z) = (x.wrapping_add(1), z.wrapping_mul(3)),
            }
            n = n.wrapping_sub(1);
            handler = next;
        }
    };
    check_four_i64(
        SINGLE_USE,
        "run",
        reference,
        &[
            (1, 2, 3, 4),
            (2, 5, 6, 7),
            (3, 1, 2, 3),
            (1000, 9, 1 << 35, u64::MAX),
        ],
    );
}

/// Calls `export`, of type `(i64 i64 i64 i64) -> i64`, of module `wat`
/// with each of `cases` in both memory modes, and compares every result
/// with `reference`'s.
fn check_four_i64(
    wat: &str,
    export: &str,
    reference: impl Fn(u64, u64, u64, u64) -> u64,
    cases: &[(u64, u64, u64, u64)],
) {
    common::both_modes(|guard| {
        let engine = engine_with(Config::new().guard_regions(guard));
        let (mut store, instance) = instantiate(&engine, wat);
        let f = instance
            .get_typed_func::<(i64, i64, i64, i64), i64>(&store, export)
            .unwrap();
        for &(n, a, b, c) in cases {
            assert_eq!(
                f.call(&mut store, (n as i64, a as i64, b as i64, c as i64))
                    .unwrap() as u64,
                reference(n, a, b, c),
                "{export}({n}, {a}, {b}, {c}), guard regions: {guard}"
            );
        }
    });
}

/// A tail-call-only function whose deepest stack, eight operands, is a
/// tail call's arguments above the next one's pieces: it takes the
/// caller-saved pins and spills around a division (which needs `rax` and
/// `rdx`), a rotate (`rcx`) and a `memory.grow` exit, which saves and
/// reloads the pins (`$n` arrives in a register only and is read after).
const DEEP_TAIL_ONLY: &str = r#"(module
    (memory 1)
    (func $deep (param $n i64) (param $a i64) (param $b i64) (param $c i64) (result i64)
        (if (result i64) (i64.eqz (local.get $n))
            (then (i64.xor (local.get $a) (i64.add (local.get $b) (local.get $c))))
            (else (return_call $deep
                (i64.sub (local.get $n) (i64.const 1))
                (i64.add (local.get $a) (i64.mul (local.get $b) (i64.const 3)))
                (i64.rotl (local.get $b) (local.get $n))
                (i64.add (local.get $c)
                    (i64.add (i64.div_u (local.get $a) (i64.or (local.get $c) (i64.const 1)))
                        (i64.add (i64.extend_i32_u (memory.grow (i32.const 0)))
                                 (i64.rem_u (i64.xor (local.get $n) (local.get $b)) (i64.const 7)))))))))
    (func (export "deep") (param i64 i64 i64 i64) (result i64)
        (call $deep (local.get 0) (local.get 1) (local.get 2) (local.get 3))))"#;

#[test]
fn deep_tail_only_functions_compute_correctly() {
    let reference = |mut n: u64, mut a: u64, mut b: u64, mut c: u64| loop {
        if n == 0 {
            break a ^ b.wrapping_add(c);
        }
        (n, a, b, c) = (
            n - 1,
            a.wrapping_add(b.wrapping_mul(3)),
            b.rotate_left((n & 63) as u32),
            c.wrapping_add((a / (c | 1)).wrapping_add(1).wrapping_add((n ^ b) % 7)),
        );
    };
    check_four_i64(
        DEEP_TAIL_ONLY,
        "deep",
        reference,
        &[(0, 1, 2, 3), (1, 4, 5, 6), (300, 7, 1 << 33, u64::MAX)],
    );
}
