//! Many threads compiling different modules on one engine, over and over:
//! the compiling jobs' buffers an engine keeps between compilations (its
//! scratch pool) must never carry one module's state into another's code.
//! Every module is different (its functions' count, constants, locals and
//! block nesting), and each compiled module must compute its own values.

use std::sync::{Arc, Barrier};
use std::thread;
use wasmkern::{Config, Engine, Instance, Module, Store};

const MODULES: u32 = 6;
const THREADS: u32 = 4;
const ROUNDS: u32 = 8;

/// From 40 to 340: the larger modules are divided into several jobs per
/// thread (at least 16 functions a job), the smaller into one.
fn num_funcs(m: u32) -> u32 {
    40 + 60 * m
}

/// Module `m`: function `i` returns `x * (100 m + i) + f_{i+1}(x + 1)`,
/// the last returns `x`; each body sits in `(i % 8) * m` nested blocks,
/// with `(m + i) % 5` extra locals, so the compiling state differs in
/// depth and size from module to module.
fn module_text(m: u32) -> String {
    let n = num_funcs(m);
    let mut wat = String::from("(module");
    for i in 0..n {
        let locals = (m + i) % 5;
        let depth = (i % 8) * m;
        wat.push_str("(func (param i32) (result i32)");
        for _ in 0..locals {
            wat.push_str(" (local i64)");
        }
        wat.push_str(" (local $t i32)");
        let mut body = if i + 1 < n {
            format!(
                "(i32.add (i32.mul (local.get 0) (i32.const {})) (call {} (i32.add (local.get 0) (i32.const 1))))",
                100 * m + i,
                i + 1
            )
        } else {
            "(local.get 0)".to_string()
        };
        for _ in 0..depth {
            body = format!("(block (result i32) {body})");
        }
        wat.push_str(&format!(" (local.set $t {body}) (local.get $t))"));
    }
    wat.push_str("(export \"f0\" (func 0)))");
    wat
}

/// What function 0 of module `m` returns for `x`, computed here.
fn expected(m: u32, x: i32) -> i32 {
    let n = num_funcs(m);
    let mut sum = x.wrapping_add(n as i32 - 1);
    for i in 0..n - 1 {
        let c = (100 * m + i) as i32;
        sum = sum.wrapping_add(x.wrapping_add(i as i32).wrapping_mul(c));
    }
    sum
}

fn compile_concurrently(engine: &Engine) {
    let wasm: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..MODULES)
            .map(|m| wat::parse_str(module_text(m)).expect("valid text"))
            .collect(),
    );
    let barrier = Arc::new(Barrier::new(THREADS as usize));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let engine = engine.clone();
            let wasm = wasm.clone();
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                for round in 0..ROUNDS {
                    let m = (t + round) % MODULES;
                    let module = Module::new(&engine, &wasm[m as usize]).expect("compiles");
                    let mut store = Store::new(&engine, ());
                    let instance = Instance::new(&mut store, &module, &[]).expect("instantiates");
                    let f0 = instance
                        .get_typed_func::<i32, i32>(&store, "f0")
                        .expect("exported");
                    for x in [0, 1, -7, 12345] {
                        let got = f0.call(&mut store, x).expect("runs");
                        assert_eq!(
                            got,
                            expected(m, x),
                            "thread {t}, round {round}, module {m}, x {x}"
                        );
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread finished");
    }
}

#[test]
fn concurrent_compilations_keep_their_modules_apart() {
    let engine = Engine::new(Config::new().parallel_compilation(true)).expect("engine");
    compile_concurrently(&engine);
}

#[test]
fn concurrent_sequential_compilations_keep_their_modules_apart() {
    let engine = Engine::new(Config::new().parallel_compilation(false)).expect("engine");
    compile_concurrently(&engine);
}

#[test]
fn the_expected_values_are_not_all_alike() {
    // The check above fails on a mix-up only if modules compute different
    // values: they do, for every input it uses.
    for x in [0, 1, -7, 12345] {
        let mut values: Vec<i32> = (0..MODULES).map(|m| expected(m, x)).collect();
        values.sort_unstable();
        values.dedup();
        assert_eq!(values.len(), MODULES as usize, "x {x}");
    }
}
