//! The cost of crossing the host/wasm boundary: host->wasm through a
//! `TypedFunc`, wasm->host to `Func::wrap` closures of a few signatures,
//! with explicit bounds checks and with guard regions. Prints the best
//! ns per call of several batches.
//!
//! `cargo bench --bench host_calls`
//!
//! `cargo bench --bench host_calls -- count DIR MODE N` (DIR `h2w` or
//! `w2h`, MODE `explicit` or `guard`) only makes N calls of the harness's
//! shape (an empty wasm function from the host; an empty host function
//! from wasm), for instruction counts: run it under
//! `valgrind --tool=callgrind` with two values of N and divide the
//! difference of the totals by the difference of the N.

use std::time::Instant;
use wasmkern::{Config, Engine, Linker, Module, Store};

const WAT: &str = r#"(module
    (import "env" "nop" (func $nop))
    (import "env" "add" (func $add (param i32 i64) (result i64)))
    (import "env" "mix" (func $mix (param f64 i32 f32) (result f64 i32)))
    (func (export "empty"))
    (func (export "id") (param i64) (result i64) (local.get 0))
    (func (export "call_nop") (param $n i32)
        (loop $l
            (call $nop)
            (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
    (func (export "call_add") (param $n i32) (result i64) (local $acc i64)
        (loop $l
            (local.set $acc (call $add (local.get $n) (local.get $acc)))
            (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
        (local.get $acc))
    (func (export "call_mix") (param $n i32) (result f64) (local $acc f64)
        (loop $l
            (call $mix (local.get $acc) (local.get $n) (f32.const 1))
            (drop)
            (local.set $acc)
            (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
        (local.get $acc)))"#;

const BATCHES: usize = 7;

/// Calls per batch: `HOST_CALLS_N` or 2,000,000.
fn n() -> i32 {
    std::env::var("HOST_CALLS_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000)
}

fn best(mut f: impl FnMut()) -> f64 {
    let n = n();
    f();
    (0..BATCHES)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_nanos() as f64 / n as f64
        })
        .fold(f64::MAX, f64::min)
}

/// N calls of one direction, nothing else (see the module docs).
fn count(dir: &str, mode: &str, n: i32) {
    let mut config = Config::new();
    config.guard_regions(mode == "guard");
    let engine = Engine::new(&config).unwrap();
    let module = Module::new(&engine, wat::parse_str(WAT).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker.func_wrap("env", "nop", || {}).unwrap();
    linker.func_wrap("env", "add", |_: i32, b: i64| b).unwrap();
    linker
        .func_wrap("env", "mix", |a: f64, b: i32, _: f32| (a, b))
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let empty = instance.get_typed_func::<(), ()>(&store, "empty").unwrap();
    let call_nop = instance
        .get_typed_func::<i32, ()>(&store, "call_nop")
        .unwrap();
    // One call of each first, so that the wasm stack and the fault
    // landing's thread-locals are set up whatever N is.
    empty.call(&mut store, ()).unwrap();
    call_nop.call(&mut store, 1).unwrap();
    match dir {
        "h2w" => {
            for _ in 0..n {
                empty.call(&mut store, ()).unwrap();
            }
        }
        _ => {
            if n > 0 {
                call_nop.call(&mut store, n).unwrap();
            }
        }
    }
}

fn run(guard: bool) {
    let mut config = Config::new();
    config.guard_regions(guard);
    let engine = Engine::new(&config).unwrap();
    let module = Module::new(&engine, wat::parse_str(WAT).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker.func_wrap("env", "nop", || {}).unwrap();
    linker
        .func_wrap("env", "add", |a: i32, b: i64| b.wrapping_add(a as i64))
        .unwrap();
    linker
        .func_wrap("env", "mix", |a: f64, b: i32, c: f32| {
            (a + b as f64 + c as f64, b)
        })
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let empty = instance.get_typed_func::<(), ()>(&store, "empty").unwrap();
    let id = instance.get_typed_func::<i64, i64>(&store, "id").unwrap();
    let call_nop = instance
        .get_typed_func::<i32, ()>(&store, "call_nop")
        .unwrap();
    let call_add = instance
        .get_typed_func::<i32, i64>(&store, "call_add")
        .unwrap();
    let call_mix = instance
        .get_typed_func::<i32, f64>(&store, "call_mix")
        .unwrap();
    let mode = if guard { "guard" } else { "explicit" };
    let n = n();
    let h2w = best(|| {
        for _ in 0..n {
            empty.call(&mut store, ()).unwrap();
        }
    });
    let h2w_id = best(|| {
        for i in 0..n {
            assert_eq!(id.call(&mut store, i as i64).unwrap(), i as i64);
        }
    });
    let w2h = best(|| call_nop.call(&mut store, n).unwrap());
    let w2h_add = best(|| {
        call_add.call(&mut store, n).unwrap();
    });
    let w2h_mix = best(|| {
        call_mix.call(&mut store, n).unwrap();
    });
    println!(
        "{mode:9} host->wasm empty {h2w:6.2}  id(i64) {h2w_id:6.2} | wasm->host nop {w2h:6.2}  add(i32,i64)->i64 {w2h_add:6.2}  mix(f64,i32,f32)->(f64,i32) {w2h_mix:6.2}  ns/call"
    );
}

fn main() {
    // `cargo bench --bench host_calls -- explicit` (or `guard`) runs one mode.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if let [c, dir, mode, n] = args.as_slice()
        && c == "count"
    {
        count(dir, mode, n.parse().expect("N is a number"));
        return;
    }
    let only = args.first().cloned();
    for _ in 0..2 {
        for (name, guard) in [("explicit", false), ("guard", true)] {
            if only.as_deref().is_none_or(|o| o == name) {
                run(guard);
            }
        }
    }
}
