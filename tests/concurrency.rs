//! One engine and one module shared by many threads, each with its own
//! store: thousands of calls in parallel give identical results.

use std::sync::{Arc, Barrier};
use std::thread;
use wasmkern::{Caller, Config, Engine, Instance, Linker, Module, Store};

const WAT: &str = r#"(module
    (import "host" "mix" (func $mix (param i64) (result i64)))
    (memory 1)
    (global $calls (mut i32) (i32.const 0))
    (func $fib (param i32) (result i64)
        (if (result i64) (i32.lt_u (local.get 0) (i32.const 2))
            (then (i64.extend_i32_u (local.get 0)))
            (else (i64.add
                (call $fib (i32.sub (local.get 0) (i32.const 1)))
                (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
    ;; hash of i, through memory, recursion, a loop and a host call
    (func (export "work") (param $i i32) (result i64) (local $k i32) (local $h i64)
        (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
        (i64.store (i32.const 8) (i64.extend_i32_u (local.get $i)))
        (local.set $h (call $fib (i32.rem_u (local.get $i) (i32.const 15))))
        (loop $l
            (local.set $h (i64.add
                (i64.mul (local.get $h) (i64.const 1099511628211))
                (i64.load (i32.const 8))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br_if $l (i32.lt_u (local.get $k) (i32.const 32))))
        (call $mix (local.get $h)))
    (func (export "calls") (result i32) (global.get $calls)))"#;

fn mix(h: i64) -> i64 {
    h ^ (h >> 29)
}

fn expected(i: i32) -> i64 {
    fn fib(n: u32) -> i64 {
        if n < 2 {
            n as i64
        } else {
            fib(n - 1) + fib(n - 2)
        }
    }
    let mut h = fib(i as u32 % 15);
    for _ in 0..32 {
        h = h.wrapping_mul(1099511628211).wrapping_add(i as u32 as i64);
    }
    mix(h)
}

fn run_threads(engine: &Engine, threads: usize, calls: i32) {
    let module = Module::new(engine, wat::parse_str(WAT).unwrap()).unwrap();
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let engine = engine.clone();
            let module = module.clone();
            let barrier = barrier.clone();
            thread::spawn(move || {
                let mut store = Store::new(&engine, 0u64);
                if engine_has_fuel(&engine) {
                    store.set_fuel(u64::MAX).unwrap();
                }
                let mut linker = Linker::new(&engine);
                linker
                    .func_wrap("host", "mix", |mut c: Caller<'_, u64>, h: i64| {
                        *c.data_mut() += 1;
                        mix(h)
                    })
                    .unwrap();
                let instance: Instance = linker.instantiate(&mut store, &module).unwrap();
                let work = instance.get_typed_func::<i32, i64>(&store, "work").unwrap();
                barrier.wait();
                let mut results = Vec::with_capacity(calls as usize);
                for i in 0..calls {
                    results.push(work.call(&mut store, i + t as i32).unwrap());
                }
                let count = instance.get_typed_func::<(), i32>(&store, "calls").unwrap();
                assert_eq!(count.call(&mut store, ()).unwrap(), calls);
                assert_eq!(*store.data(), calls as u64);
                (t, results)
            })
        })
        .collect();
    for h in handles {
        let (t, results) = h.join().unwrap();
        for (i, r) in results.into_iter().enumerate() {
            assert_eq!(r, expected(i as i32 + t as i32), "thread {t}, call {i}");
        }
    }
}

fn engine_has_fuel(engine: &Engine) -> bool {
    Store::new(engine, ()).get_fuel().is_ok()
}

#[test]
fn shared_engine_and_module_many_stores() {
    run_threads(&Engine::default(), 8, 3000);
}

#[test]
fn shared_engine_with_fuel_and_interruption() {
    let mut config = Config::new();
    config.consume_fuel(true).interruptible(true);
    run_threads(&Engine::new(&config).unwrap(), 8, 2000);
}

#[test]
fn stores_move_between_threads() {
    let engine = Engine::default();
    let module = Module::new(&engine, wat::parse_str(WAT).unwrap()).unwrap();
    let mut store = Store::new(&engine, 0u64);
    let mut linker = Linker::new(&engine);
    linker.func_wrap("host", "mix", mix).unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let work = instance.get_typed_func::<i32, i64>(&store, "work").unwrap();
    for i in 0..4 {
        store = thread::spawn(move || {
            assert_eq!(work.call(&mut store, i).unwrap(), expected(i));
            store
        })
        .join()
        .unwrap();
    }
}
