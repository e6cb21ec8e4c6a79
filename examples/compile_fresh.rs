//! What a fresh process's compilations cost, one by one: the benchmark
//! harness measures compile speed in a new process per measurement (one
//! engine, the module compiled a few times, the median taken), where the
//! first compilations pay for what later ones find ready (mapped pages,
//! started threads, warm caches).
//!
//! ```text
//! cargo run --release --example compile_fresh -- FILE.wasm [RUNS] [one|all]
//! ```
//!
//! For each of `RUNS` compilations (default 3) on an engine compiling on
//! one thread or all cores (default all), it prints the wall-clock time,
//! the calling thread's CPU time, the other threads' CPU time (the
//! process's minus the calling thread's) and the process's minor page
//! faults. On a busy machine the CPU times tell more than the wall-clock
//! time: with two cores, one thread's CPU time over the larger of the two
//! threads' shares is what running them side by side, unhindered, gains.

use std::time::{Duration, Instant};
use wasmkern::{Config, Engine, Module};

#[path = "common/timing.rs"]
mod timing;
use timing::cpu_clock;

fn minor_faults() -> i64 {
    // SAFETY: an all-zero `rusage` is valid, and `getrusage` writes it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid `rusage` to write.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    usage.ru_minflt
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let file = args
        .next()
        .ok_or("usage: compile_fresh FILE.wasm [RUNS] [one|all]")?;
    let runs: usize = args.next().map_or(Ok(3), |r| r.parse())?;
    let all = args.next().is_none_or(|m| m == "all");
    let wasm = std::fs::read(&file)?;
    let engine = Engine::new(Config::new().parallel_compilation(all))?;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for _ in 0..runs {
        let (t0, p0, f0) = (
            cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID),
            cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID),
            minor_faults(),
        );
        let start = Instant::now();
        let module = Module::new(&engine, &wasm)?;
        let wall = start.elapsed();
        let (t1, p1, f1) = (
            cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID),
            cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID),
            minor_faults(),
        );
        drop(std::hint::black_box(module));
        let (main, total) = (t1 - t0, p1 - p0);
        println!(
            "wall {:6.2} ms  calling thread {:6.2} ms  others {:6.2} ms  faults {}",
            ms(wall),
            ms(main),
            ms(total.saturating_sub(main)),
            f1 - f0
        );
    }
    Ok(())
}
