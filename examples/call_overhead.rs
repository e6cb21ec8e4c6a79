//! The cost of a call from the host into wasm and back, as the benchmark
//! harness measures it (`benches/workloads/calls.wat`, `WkCalls` in
//! `benches/harness/src/engines/wasmkern.rs`): `TypedFunc<(), ()>::call` of
//! the empty export `empty`, in both memory modes, and for scale a wasm →
//! host call (`call_host`).
//!
//! Run: `cargo run --release --example call_overhead` prints ns per call
//! (median of 7 batches of 1,000,000 after a warm-up batch) for explicit
//! bounds checks and for guard regions.
//!
//! Instructions per call: `call_overhead count MODE N` makes N host → wasm
//! calls (MODE `bounds` or `guard`; `count MODE N host` makes N wasm → host
//! calls instead) and nothing else; under `valgrind --tool=callgrind`,
//! (I(2N) - I(N)) / N is the count per call.

use std::hint::black_box;
use std::time::Instant;

use wasmkern::{Config, Engine, Linker, Module, Store, TypedFunc};

const CALLS_WAT: &str = include_str!("../benches/workloads/calls.wat");

struct Calls {
    store: Store<()>,
    empty: TypedFunc<(), ()>,
    call_host: TypedFunc<(i32,), ()>,
}

fn instantiate(guard_regions: bool) -> Result<Calls, Box<dyn std::error::Error>> {
    let engine = Engine::new(
        Config::new()
            .parallel_compilation(true)
            .guard_regions(guard_regions)
            .wasm_tail_call(true),
    )?;
    let module = Module::new(&engine, wat::parse_str(CALLS_WAT)?)?;
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker.func_wrap("env", "nop", || {})?;
    let instance = linker.instantiate(&mut store, &module)?;
    Ok(Calls {
        empty: instance.get_typed_func(&mut store, "empty")?,
        call_host: instance.get_typed_func(&mut store, "call_host")?,
        store,
    })
}

/// `n` host → wasm calls, as the harness makes them. Out of line, so that
/// it is one function to read in a profile.
#[inline(never)]
fn host_to_wasm(calls: &mut Calls, n: u32) -> Result<(), String> {
    for _ in 0..n {
        calls
            .empty
            .call(&mut calls.store, ())
            .map_err(|e| format!("empty: {e}"))?;
    }
    Ok(())
}

#[inline(never)]
fn wasm_to_host(calls: &mut Calls, n: u32) -> Result<(), String> {
    calls
        .call_host
        .call(&mut calls.store, (n as i32,))
        .map_err(|e| format!("call_host: {e}"))
}

/// Median ns per call of 7 batches of `n` calls, after a warm-up batch.
fn per_call(
    calls: &mut Calls,
    n: u32,
    f: fn(&mut Calls, u32) -> Result<(), String>,
) -> Result<f64, String> {
    f(calls, n / 10)?;
    let mut ns = Vec::new();
    for _ in 0..7 {
        let start = Instant::now();
        f(calls, black_box(n))?;
        ns.push(start.elapsed().as_nanos() as f64 / f64::from(n));
    }
    ns.sort_by(f64::total_cmp);
    Ok(ns[ns.len() / 2])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("count") {
        let guard = match args.get(2).map(String::as_str) {
            Some("bounds") => false,
            Some("guard") => true,
            _ => return Err("usage: call_overhead count bounds|guard N [host]".into()),
        };
        let n: u32 = args.get(3).ok_or("missing N")?.parse()?;
        let mut calls = instantiate(guard)?;
        if args.get(4).map(String::as_str) == Some("host") {
            wasm_to_host(&mut calls, black_box(n))?;
        } else {
            host_to_wasm(&mut calls, black_box(n))?;
        }
        return Ok(());
    }
    const N: u32 = 1_000_000;
    for (name, guard) in [("bounds", false), ("guard", true)] {
        let mut calls = instantiate(guard)?;
        let h2w = per_call(&mut calls, N, host_to_wasm)?;
        let w2h = per_call(&mut calls, N, wasm_to_host)?;
        println!("{name:6}  host->wasm {h2w:6.2} ns  wasm->host {w2h:6.2} ns");
    }
    Ok(())
}
