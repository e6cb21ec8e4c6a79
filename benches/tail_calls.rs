//! A tail-recursive interpreter loop: the threaded-code VM of
//! `benches/workloads/tail_vm.wat` (each handler ends with
//! `return_call_indirect` to the next instruction's handler) against the
//! same VM with call threading (`call_vm.wat`: a dispatch loop and
//! `call_indirect`), on wasmkern and on wasmi in the same run; prints the
//! best time of each and its nanoseconds per VM instruction. Every result
//! is checked against the VM's program computed in Rust.
//!
//! `cargo bench --bench tail_calls` (`benches/harness` runs the same two
//! programs on Wasmtime and V8 as the `tail_vm` and `call_vm` workloads).

use std::time::{Duration, Instant};

const TAIL_VM: &str = include_str!("workloads/tail_vm.wat");
const CALL_VM: &str = include_str!("workloads/call_vm.wat");

/// Rounds of the program's loop per run (6 instructions each).
const ROUNDS: i64 = 10_000_000;
const RUNS: usize = 7;

/// What the VM's program computes for `rounds` rounds.
fn reference(rounds: i64) -> i64 {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..rounds {
        b = b.wrapping_add(3);
        a = a.wrapping_add(b);
        a ^= a >> 7;
        b = b.wrapping_mul(0x9E37_79B1);
    }
    a as i64
}

/// Runs `f` once to warm up and then [`RUNS`] times; the best time.
fn best(mut f: impl FnMut() -> i64, expected: i64) -> Duration {
    assert_eq!(f(), expected);
    (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            assert_eq!(f(), expected);
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn wasmkern(wat: &str) -> Duration {
    use wasmkern::{Config, Engine, Instance, Module, Store};
    let engine = Engine::new(Config::new().wasm_tail_call(true)).unwrap();
    let module = Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let run = instance
        .get_typed_func::<i64, i64>(&store, "run_n")
        .unwrap();
    best(|| run.call(&mut store, ROUNDS).unwrap(), reference(ROUNDS))
}

fn wasmi(wat: &str) -> Duration {
    use wasmi::{CompilationMode, Config, Engine, Instance, Module, Store};
    let mut config = Config::default();
    config
        .wasm_tail_call(true)
        .compilation_mode(CompilationMode::Eager);
    let engine = Engine::new(&config);
    let wasm = wat::parse_str(wat).unwrap();
    let module = Module::new(&engine, &wasm[..]).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let run = instance
        .get_typed_func::<i64, i64>(&store, "run_n")
        .unwrap();
    best(|| run.call(&mut store, ROUNDS).unwrap(), reference(ROUNDS))
}

fn main() {
    let instructions = (6 * ROUNDS + 1) as f64;
    println!(
        "threaded-code VM, {ROUNDS} rounds ({} instructions), best of {RUNS}:",
        6 * ROUNDS + 1
    );
    for (engine, run) in [
        ("wasmkern", wasmkern as fn(&str) -> Duration),
        ("wasmi", wasmi),
    ] {
        let tail = run(TAIL_VM);
        let call = run(CALL_VM);
        println!(
            "  {engine:<9} return_call_indirect {:>7.1} ms ({:.2} ns/instr)   \
             call_indirect loop {:>7.1} ms ({:.2} ns/instr)   call/tail {:.2}",
            tail.as_secs_f64() * 1e3,
            tail.as_secs_f64() * 1e9 / instructions,
            call.as_secs_f64() * 1e3,
            call.as_secs_f64() * 1e9 / instructions,
            call.as_secs_f64() / tail.as_secs_f64(),
        );
    }
}
