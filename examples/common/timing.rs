//! Timing shared by the measuring examples (`compile_phases`,
//! `compile_fresh`, `load_time`), which include this file with `#[path]`;
//! not every example uses every function.
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// The shortest wall-clock time of `runs` runs of `f`: the run least
/// disturbed by whatever else the machine was doing.
pub fn best(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// A CPU-time clock of `libc` (`CLOCK_THREAD_CPUTIME_ID`: the calling
/// thread's; `CLOCK_PROCESS_CPUTIME_ID`: all the process's threads').
pub fn cpu_clock(clock: libc::clockid_t) -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec to write; the clocks exist on Linux.
    unsafe { libc::clock_gettime(clock, &mut t) };
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}
