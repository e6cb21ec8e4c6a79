//! Naming generated code for profilers (feature `std`): with
//! [`ProfilingStrategy::PerfMap`] every module's functions are appended to
//! the process's perf map, `/tmp/perf-PID.map`, when the module's code is
//! published (compiled by [`Module::new`](super::Module::new) or loaded by
//! [`Module::deserialize`](super::Module::deserialize)), so that `perf
//! report` names the wasm functions its samples fall in:
//!
//! ```text
//! perf record -g my-embedder ...     # an engine with Config::profiler(ProfilingStrategy::PerfMap)
//! perf report                        # reads /tmp/perf-PID.map by itself
//! ```
//!
//! The format is Linux perf's: one line per function, `START SIZE NAME`,
//! start and size in hexadecimal without `0x`. A function's range runs from
//! its entry to the next function's (the padding between them included);
//! the module's stubs (trampolines, trap exits) are not named. Names are
//! `wasm[K]::NAME` with `NAME` from the module's `name` section, else
//! `wasm[K]::function[N]` with `N` the function's index (imports counted);
//! `K` numbers the modules this process published with the map on, from 0,
//! so that functions of two unnamed modules are told apart.
//!
//! Decisions: a module's lines are formatted first and written with one
//! `write` to the file opened for appending, under a process-wide lock, so
//! that modules published at once on several threads never interleave
//! lines (appending writes of other processes land whole as well, the
//! kernel placing each at the end). The file is never truncated or
//! removed: perf reads it after the process ended, and a code range freed
//! with its module and reused by a later one is named again by the later
//! lines, which perf takes over the earlier. Failing to write the map does
//! not fail the module: profiling is best-effort, like the cache.

use alloc::string::String;
use core::fmt::Write as _;
use core::sync::atomic::{AtomicU64, Ordering};
use std::io::Write as _;

/// How the engine tells profilers about the code it generates
/// ([`Config::profiler`](super::Config::profiler)); the names follow
/// Wasmtime's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProfilingStrategy {
    /// Nothing is written (the default).
    #[default]
    None,
    /// Each module's functions are appended to `/tmp/perf-PID.map`, which
    /// Linux `perf report` reads to name samples in generated code.
    PerfMap,
}

/// Number of the next module written to the map.
static NEXT_MODULE: AtomicU64 = AtomicU64::new(0);
/// Held while appending, so that one process's modules never interleave.
static FILE_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The perf map's path for this process.
pub(crate) fn perf_map_path() -> std::path::PathBuf {
    std::path::PathBuf::from(alloc::format!("/tmp/perf-{}.map", std::process::id()))
}

/// Appends the functions of a module whose code lies at `base`, `code_len`
/// bytes long: `layout` is its (code offset, defined function index) table
/// in ascending offsets, `names` its (function index, name) pairs sorted by
/// index, `num_imported_funcs` the count that function indices start
/// after. Errors are ignored (see the module docs).
pub(crate) fn append_perf_map(
    base: usize,
    code_len: usize,
    layout: &[(u32, u32)],
    names: &[(u32, String)],
    num_imported_funcs: u32,
) {
    let module = NEXT_MODULE.fetch_add(1, Ordering::Relaxed);
    let mut text = String::with_capacity(layout.len() * 48);
    for (k, &(start, defined)) in layout.iter().enumerate() {
        let end = layout
            .get(k + 1)
            .map_or(code_len, |&(next, _)| next as usize);
        let size = end.saturating_sub(start as usize);
        let index = num_imported_funcs + defined;
        let _ = write!(
            text,
            "{:x} {size:x} wasm[{module}]::",
            base + start as usize
        );
        match names.binary_search_by_key(&index, |(i, _)| *i) {
            // perf splits a line at the first two spaces only, but a line
            // break would start a new entry.
            Ok(i) => text.extend(names[i].1.chars().map(|c| match c {
                '\n' | '\r' => ' ',
                c => c,
            })),
            Err(_) => {
                let _ = write!(text, "function[{index}]");
            }
        }
        text.push('\n');
    }
    let _guard = FILE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(perf_map_path());
    if let Ok(mut file) = file {
        let _ = file.write_all(text.as_bytes());
    }
}
