//! Memory 0 grown (and, with explicit bounds checks, moved: its bytes are
//! a `Vec`) during a call, seen by the caller afterwards.
//!
//! A caller that uses memory keeps its base in a register across calls of
//! its own module's functions when no host code can run during the call.
//! These tests grow the memory by many pages below a caller, through a
//! callee that itself never touches memory, in each way the memory can
//! grow: the module's own `memory.grow` (no host code runs), a host
//! function (an import) and the host while the call is paused for fuel.
//! The caller then stores above the old size and below it; the host reads
//! both words back from the memory, so a store through a stale base (the
//! old buffer) fails the test.

use wasmkern::{Caller, Config, Engine, Extern, Instance, Linker, Store, Val};

mod common;
use common::{both_modes, module, typed};

/// Pages each growth adds: enough that the `Vec` moves.
const GROW: i32 = 64;
/// Where the caller stores after the call: past the first page.
const HIGH: usize = 40 * 65536 + 8;

/// `$grow_path` grows the memory (a body for the callee's callee `$h`);
/// `$g` calls it and never touches memory; `run` (which uses memory)
/// calls `$g` and then stores to the old and the new pages.
fn wat(imports: &str, grow: &str) -> String {
    format!(
        r#"(module
          {imports}
          (memory (export "mem") 1)
          (func $h (result i32) {grow})
          (func $g (param $n i32) (result i32)
            (local $i i32) (local $s i32)
            ;; A loop without memory accesses (fuel checkpoints), then $h.
            (loop $l
              (local.set $s (i32.add (local.get $s) (i32.mul (local.get $i) (local.get $i))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
            (i32.add (call $h) (i32.mul (local.get $s) (i32.const 0))))
          (func (export "run") (param $n i32) (param $v i32) (result i32)
            (i32.store (i32.const 16) (local.get $v))
            (drop (call $g (local.get $n)))
            (i32.store (i32.const {HIGH}) (i32.add (local.get $v) (i32.const 1)))
            (i32.store (i32.const 20) (i32.add (local.get $v) (i32.const 2)))
            (i32.add (i32.load (i32.const 16)) (i32.load (i32.const {HIGH})))))"#
    )
}

/// Checks, after `run(_, v)`, its result and the words it stored.
fn check(store: &mut Store<()>, instance: &Instance, result: i32, v: i32, pages: u64) {
    let mem = instance.get_memory(&*store, "mem").expect("mem");
    assert_eq!(mem.size(&*store), pages, "grown");
    let word = |at: usize| {
        let mut b = [0; 4];
        mem.read(&*store, at, &mut b).unwrap();
        i32::from_le_bytes(b)
    };
    assert_eq!(word(16), v);
    assert_eq!(word(HIGH), v + 1, "the store above the old size");
    assert_eq!(word(20), v + 2, "the store below it, after the call");
    assert_eq!(result, v + v + 1);
}

fn engine(guard: bool, fuel: bool) -> Engine {
    let mut config = Config::new();
    config.guard_regions(guard).consume_fuel(fuel);
    Engine::new(&config).expect("engine")
}

/// The module's own `memory.grow`, in a module that sees no function
/// reference but its own and never pauses.
#[test]
fn own_memory_grow_below_the_caller() {
    both_modes(|guard| {
        let engine = engine(guard, false);
        let grow = format!("(memory.grow (i32.const {GROW}))");
        let m = module(&engine, &wat("", &grow));
        let mut store = Store::new(&engine, ());
        let inst = Instance::new(&mut store, &m, &[]).unwrap();
        let run = typed::<(), (i32, i32), i32>(&mut store, &inst, "run");
        for (k, v) in [11, 222, 3333].into_iter().enumerate() {
            let r = run.call(&mut store, (100, v)).unwrap();
            check(&mut store, &inst, r, v, 1 + GROW as u64 * (k as u64 + 1));
        }
    });
}

/// A host function (an import) grows the memory.
#[test]
fn host_function_grows_below_the_caller() {
    both_modes(|guard| {
        let engine = engine(guard, false);
        let imports = r#"(import "host" "grow" (func $grow (param i32) (result i32)))"#;
        let grow = format!("(call $grow (i32.const {GROW}))");
        let m = module(&engine, &wat(imports, &grow));
        let mut store = Store::new(&engine, ());
        let mut linker = Linker::new(&engine);
        linker
            .func_wrap("host", "grow", |mut caller: Caller<'_, ()>, delta: i32| {
                let Some(Extern::Memory(mem)) = caller.get_export("mem") else {
                    return -1;
                };
                mem.grow(&mut caller, u64::from(delta as u32))
                    .map_or(-1, |old| old as i32)
            })
            .unwrap();
        let inst = linker.instantiate(&mut store, &m).unwrap();
        let run = typed::<(), (i32, i32), i32>(&mut store, &inst, "run");
        for (k, v) in [5, 66].into_iter().enumerate() {
            let r = run.call(&mut store, (100, v)).unwrap();
            check(&mut store, &inst, r, v, 1 + GROW as u64 * (k as u64 + 1));
        }
    });
}

/// The host grows the memory while the call is paused for fuel inside
/// the callee's loop (in a module with no import, whose callee never
/// touches memory).
#[test]
fn host_grows_while_the_callee_is_paused() {
    both_modes(|guard| {
        let engine = engine(guard, true);
        let m = module(&engine, &wat("", "(i32.const 0)"));
        let mut store = Store::new(&engine, ());
        store.set_fuel(1_000_000).unwrap();
        let inst = Instance::new(&mut store, &m, &[]).unwrap();
        let mem = inst.get_memory(&store, "mem").unwrap();
        let run = inst.get_func(&mut store, "run").unwrap();
        let v = 77;
        let mut results = [Val::I32(0)];
        store.set_fuel(100).unwrap();
        let mut outcome = run
            .call_resumable(&mut store, &[Val::I32(2000), Val::I32(v)], &mut results)
            .unwrap();
        let mut pauses = 0;
        while let wasmkern::CallOutcome::Paused(call) = outcome {
            pauses += 1;
            assert!(pauses < 100_000, "no progress");
            if pauses == 3 {
                mem.grow(&mut store, GROW as u64).unwrap();
            }
            store.set_fuel(100).unwrap();
            outcome = call.resume(&mut store, &mut results).unwrap();
        }
        assert!(pauses > 3, "only {pauses} pauses");
        let Val::I32(r) = results[0] else {
            panic!("result {:?}", results[0]);
        };
        check(&mut store, &inst, r, v, 1 + GROW as u64);
    });
}

/// A caller whose accesses are checked against a bound it keeps in a
/// register (`run` loads and stores in loops) calls `$grow`, which grows
/// the memory by `$delta` pages: its accesses after the call must be
/// checked against the new length, not the one from before the call.
const GROW_IN_CALLEE: &str = r#"(module
  (memory (export "mem") 1)
  (func $grow (param $delta i32) (result i32) (memory.grow (local.get $delta)))
  (func (export "run") (param $delta i32) (param $at i32) (result i32)
    (local $i i32) (local $s i32)
    (loop $before
      (local.set $s (i32.add (local.get $s) (i32.load (i32.shl (local.get $i) (i32.const 2)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $before (i32.lt_u (local.get $i) (i32.const 4))))
    (drop (call $grow (local.get $delta)))
    (local.set $i (i32.const 0))
    (loop $after
      (i32.store (i32.add (local.get $at) (i32.shl (local.get $i) (i32.const 2)))
        (i32.add (local.get $i) (i32.const 1)))
      (local.set $s (i32.add (local.get $s)
        (i32.load (i32.add (local.get $at) (i32.shl (local.get $i) (i32.const 2))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $after (i32.lt_u (local.get $i) (i32.const 4))))
    (local.get $s)))"#;

/// After a callee's `memory.grow`, the caller's accesses up to the new
/// length succeed (words at `at..at + 16`, 1 + 2 + 3 + 4 in the result)
/// and one past it traps, as the spec's bounds are the memory's current
/// length.
#[test]
fn callee_growth_moves_the_callers_bound() {
    both_modes(|guard| {
        let engine = engine(guard, false);
        let m = module(&engine, GROW_IN_CALLEE);
        for (delta, at, expect) in [
            (1, 2 * 65536 - 16, Some(10)),
            (1, 2 * 65536 - 12, None),
            (3, 4 * 65536 - 16, Some(10)),
            (3, 4 * 65536 - 15, None),
            (0, 65536 - 16, Some(10)),
            (0, 65536 - 4, None),
        ] {
            let mut store = Store::new(&engine, ());
            let inst = Instance::new(&mut store, &m, &[]).unwrap();
            let run = typed::<(), (i32, i32), i32>(&mut store, &inst, "run");
            let r = run.call(&mut store, (delta, at)).ok();
            assert_eq!(r, expect, "guard {guard}, grown by {delta}, at {at}");
            let mem = inst.get_memory(&store, "mem").unwrap();
            assert_eq!(mem.size(&store), 1 + delta as u64);
        }
    });
}

/// A module with no `memory.grow`, no import and nothing exported but
/// functions with numeric parameters and its memory, like a sort: `run`
/// calls its own functions (one with memory, one without) in a loop and
/// keeps checking its accesses against the bound from before the calls.
/// Between calls of `run` the host grows the memory: the next call sees
/// the new length.
const NO_GROWTH: &str = r#"(module
  (memory (export "mem") 1)
  (func $next (param $p i32) (result i32) (i32.add (local.get $p) (i32.const 4)))
  (func $get (param $p i32) (result i32) (i32.load (local.get $p)))
  (func (export "run") (param $at i32) (param $n i32) (result i32)
    (local $p i32) (local $s i32) (local $i i32)
    (local.set $p (local.get $at))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $s (i32.add (local.get $s) (call $get (local.get $p))))
        (i32.store (local.get $p) (local.get $s))
        (local.set $s (i32.xor (local.get $s) (i32.load (local.get $p))))
        (local.set $s (i32.add (local.get $s) (i32.load (local.get $p))))
        (local.set $p (call $next (local.get $p)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (local.get $s)))"#;

/// What `run(at, n)` of [`NO_GROWTH`] returns and leaves in `mem`, or
/// `None` if it traps (an access past `mem`'s end).
fn no_growth_reference(mem: &mut [u8], at: usize, n: usize) -> Option<i32> {
    let mut s: i32 = 0;
    for i in 0..n {
        let p = at + 4 * i;
        let word = mem.get_mut(p..p + 4)?;
        s = s.wrapping_add(i32::from_le_bytes(word.try_into().unwrap()));
        word.copy_from_slice(&s.to_le_bytes());
        let stored = i32::from_le_bytes(word.try_into().unwrap());
        s = (s ^ stored).wrapping_add(stored);
    }
    Some(s)
}

#[test]
fn calls_without_growth_keep_the_bound() {
    both_modes(|guard| {
        let engine = engine(guard, false);
        let m = module(&engine, NO_GROWTH);
        let mut store = Store::new(&engine, ());
        let inst = Instance::new(&mut store, &m, &[]).unwrap();
        let mem = inst.get_memory(&store, "mem").unwrap();
        let init: Vec<u8> = (0..65536u32).map(|i| (i * 7 + 3) as u8).collect();
        mem.write(&mut store, 0, &init).unwrap();
        let mut shadow = init.clone();
        let run = typed::<(), (i32, i32), i32>(&mut store, &inst, "run");
        let page = 65536;
        for (grow, at, n) in [
            (0, 0, 1000),
            (0, page - 400, 100),
            (0, page - 400, 101),
            (1, page - 400, 101),
            (0, 2 * page - 4000, 1000),
            (0, 2 * page - 4000, 1001),
            (2, 2 * page - 4000, 1001),
            (0, 4 * page - 40, 11),
        ] {
            if grow > 0 {
                mem.grow(&mut store, grow).unwrap();
                shadow.resize(shadow.len() + grow as usize * page, 0);
            }
            // A trapping call has stored up to the faulting access.
            let expect = no_growth_reference(&mut shadow, at, n);
            let r = run.call(&mut store, (at as i32, n as i32)).ok();
            assert_eq!(r, expect, "guard {guard}, at {at}, {n} words");
            let mut now = vec![0; shadow.len()];
            mem.read(&store, 0, &mut now).unwrap();
            assert!(now == shadow, "memory after run({at}, {n})");
        }
    });
}
