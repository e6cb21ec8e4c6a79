//! Where the time of `Module::new` goes: decoding, validating, compiling
//! the functions on one thread, and the whole of `Module::new` on one
//! thread and on all cores, best of several runs each, in one process.
//! The rest of `Module::new` (linking the threads' code, publishing it,
//! building the module's tables) is the whole minus the stages.
//!
//! ```text
//! cargo run --release --example compile_phases -- [FILE.wasm] [RUNS]
//! ```
//!
//! The default file is the 1 MB clang program `benches/large/large.wasm`.
//! With a third argument, `one` or `all`, it only runs `Module::new` on one
//! thread or on all cores, `RUNS` times, and prints nothing: for a profiler
//! (`valgrind --tool=callgrind --separate-threads=yes` counts the
//! instructions of each thread, which on a busy machine tells more about
//! how the work divides than the time does).
//!
//! It also prints CPU times, which a busy machine inflates far less than
//! wall-clock times: the process's CPU time of `Module::new` on one thread,
//! and on all cores the calling thread's (the serial stages plus its share
//! of the functions) next to the process's (every thread's). One thread's
//! CPU time over the calling thread's is what two cores would gain with
//! the other thread's share running beside it, unhindered.

#[path = "common/timing.rs"]
mod timing;

use std::time::Duration;
use timing::best;
use wasmkern::asm::x64::CpuFeatures;
use wasmkern::compile::{CompileOptions, compile_module_with};
use wasmkern::decode::Module as Decoded;
use wasmkern::validate::validate_module;
use wasmkern::{Config, Engine, Module};

/// The smallest (calling thread, whole process) CPU times of `f` over
/// `runs` runs, each the minimum on its own.
fn best_cpu(runs: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut best = (Duration::MAX, Duration::MAX);
    for _ in 0..runs {
        let (t0, p0) = (
            timing::cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID),
            timing::cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID),
        );
        f();
        let (t1, p1) = (
            timing::cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID),
            timing::cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID),
        );
        best = (best.0.min(t1 - t0), best.1.min(p1 - p0));
    }
    best
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let file = args
        .next()
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/benches/large/large.wasm").into());
    let runs: usize = args.next().map_or(Ok(10), |r| r.parse())?;
    let wasm = std::fs::read(&file)?;
    if let Some(mode) = args.next() {
        let engine = Engine::new(Config::new().parallel_compilation(mode == "all"))?;
        for _ in 0..runs {
            Module::new(&engine, &wasm)?;
        }
        return Ok(());
    }
    let cpu = CpuFeatures::detect();
    let decoded = Decoded::decode(&wasm)?;
    let info = validate_module(&decoded)?;
    let options = CompileOptions {
        sequential: true,
        ..CompileOptions::default()
    };

    let decode = best(runs, || {
        Decoded::decode(&wasm).expect("decodes");
    });
    let validate = best(runs, || {
        validate_module(&decoded).expect("validates");
    });
    let compile = best(runs, || {
        compile_module_with(&decoded, &info, &cpu, &options).expect("compiles");
    });
    let one = Engine::new(Config::new().parallel_compilation(false))?;
    let all = Engine::new(Config::new().parallel_compilation(true))?;
    let whole_one = best(runs, || {
        Module::new(&one, &wasm).expect("compiles");
    });
    let whole_all = best(runs, || {
        Module::new(&all, &wasm).expect("compiles");
    });

    let cpu_one = best_cpu(runs, || {
        Module::new(&one, &wasm).expect("compiles");
    });
    let cpu_all = best_cpu(runs, || {
        Module::new(&all, &wasm).expect("compiles");
    });

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mbs = |d: Duration| wasm.len() as f64 / d.as_secs_f64() / 1e6;
    let rest = whole_one.saturating_sub(decode + validate + compile);
    println!(
        "{file}: {} bytes, {} functions, best of {runs}",
        wasm.len(),
        decoded.code.len()
    );
    for (what, d) in [
        ("decode", decode),
        ("validate", validate),
        ("compile (one thread)", compile),
        ("rest (link, publish, tables)", rest),
    ] {
        println!(
            "  {what:30} {:7.2} ms  {:5.1}%",
            ms(d),
            d.as_secs_f64() * 100.0 / whole_one.as_secs_f64()
        );
    }
    println!(
        "Module::new, one thread        {:7.2} ms  {:6.1} MB/s",
        ms(whole_one),
        mbs(whole_one)
    );
    println!(
        "Module::new, all cores         {:7.2} ms  {:6.1} MB/s  ({:.2}x)",
        ms(whole_all),
        mbs(whole_all),
        whole_one.as_secs_f64() / whole_all.as_secs_f64()
    );
    println!(
        "CPU time, one thread           {:7.2} ms (process)",
        ms(cpu_one.1)
    );
    println!(
        "CPU time, all cores            {:7.2} ms (calling thread), {:.2} ms (process): {:.2}x",
        ms(cpu_all.0),
        ms(cpu_all.1),
        cpu_one.1.as_secs_f64() / cpu_all.0.as_secs_f64()
    );
    Ok(())
}
