//! Timing shared by the measuring examples (`compile_phases`,
//! `load_time`), which include this file with `#[path]`.

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
