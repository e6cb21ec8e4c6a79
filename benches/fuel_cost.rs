//! The cost of fuel metering and interruption checks: a loop-heavy and a
//! call-heavy function, run with the checks off and on; prints the time of
//! each and its ratio to the unchecked run.
//!
//! `cargo bench --bench fuel_cost`

use std::time::{Duration, Instant};
use wasmkern::{Config, Engine, Instance, Module, Store};

const WAT: &str = r#"(module
    ;; loop-heavy: a tight loop of simple arithmetic
    (func (export "loop") (param $n i32) (result i32) (local $acc i32)
        (loop $l
            (local.set $acc (i32.add (i32.mul (local.get $acc) (i32.const 31)) (local.get $n)))
            (local.set $n (i32.sub (local.get $n) (i32.const 1)))
            (br_if $l (local.get $n)))
        (local.get $acc))
    ;; call-heavy: naive recursive fibonacci
    (func $fib (export "fib") (param i32) (result i32)
        (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
            (then (local.get 0))
            (else (i32.add
                (call $fib (i32.sub (local.get 0) (i32.const 1)))
                (call $fib (i32.sub (local.get 0) (i32.const 2))))))))"#;

fn measure(fuel: bool, interrupt: bool, name: &str, arg: i32) -> (Duration, i32) {
    let mut config = Config::new();
    config.consume_fuel(fuel).interruptible(interrupt);
    let engine = Engine::new(&config).unwrap();
    let module = Module::new(&engine, wat::parse_str(WAT).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    if fuel {
        store.set_fuel(u64::MAX).unwrap();
    }
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let f = instance.get_typed_func::<i32, i32>(&store, name).unwrap();
    f.call(&mut store, arg).unwrap(); // warm up
    let mut best = Duration::MAX;
    let mut result = 0;
    for _ in 0..7 {
        let start = Instant::now();
        result = f.call(&mut store, arg).unwrap();
        best = best.min(start.elapsed());
    }
    (best, result)
}

fn main() {
    let configs = [
        ("off", false, false),
        ("fuel", true, false),
        ("interrupt", false, true),
        ("fuel+interrupt", true, true),
    ];
    for (name, arg) in [("loop", 100_000_000), ("fib", 30)] {
        // Interleave the configurations and keep each one's best time, so
        // that frequency changes hit them all alike.
        let mut best = [Duration::MAX; 4];
        let mut expected = None;
        for _ in 0..5 {
            for (i, (_, fuel, interrupt)) in configs.iter().enumerate() {
                let (t, r) = measure(*fuel, *interrupt, name, arg);
                assert_eq!(*expected.get_or_insert(r), r);
                best[i] = best[i].min(t);
            }
        }
        for (i, (label, _, _)) in configs.iter().enumerate() {
            println!(
                "{name:5} {label:15} {:>9.2} ms  x{:.2}",
                best[i].as_secs_f64() * 1e3,
                best[i].as_secs_f64() / best[0].as_secs_f64()
            );
        }
    }
}
