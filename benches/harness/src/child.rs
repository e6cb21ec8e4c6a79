//! What runs in a child process: one engine on one workload (or on the large
//! module, the call-overhead module, the WASI host-call command or the
//! exceptions module). The parent (`main.rs`) spawns
//! one child per measurement, so a crash, a hang or a leak of one engine
//! cannot take the others down, and every measurement starts from a fresh
//! process. The child prints one line `HARNESS-RESULT <json>` on stdout.

use std::hint::black_box;
use std::time::Instant;

use serde_json::{Value, json};

use crate::engines::{self, Result};
use crate::workloads;

pub const RESULT_PREFIX: &str = "HARNESS-RESULT ";

/// `harness child <mode> ...`; returns the JSON to print.
pub fn main(args: &[String]) -> Value {
    let result = match args {
        [mode, engine, workload, compiles, runs] if mode == "run" => compiles
            .parse()
            .map_err(|e| format!("bad compile count: {e}"))
            .and_then(|compiles| {
                runs.parse()
                    .map_err(|e| format!("bad run count: {e}"))
                    .and_then(|runs| run(engine, workload, compiles, runs))
            }),
        [mode, engine, path, repeats, parallel] if mode == "compile" => repeats
            .parse()
            .map_err(|e| format!("bad repeat count: {e}"))
            .and_then(|repeats| compile(engine, path, repeats, parallel == "1")),
        [mode, engine, n] if mode == "calls" => n
            .parse()
            .map_err(|e| format!("bad call count: {e}"))
            .and_then(|n| calls(engine, n)),
        [mode, engine, n, runs] if mode == "wasi" => n
            .parse()
            .map_err(|e| format!("bad call count: {e}"))
            .and_then(|n| {
                runs.parse()
                    .map_err(|e| format!("bad run count: {e}"))
                    .and_then(|runs| wasi(engine, n, runs))
            }),
        [mode, engine, runs, cases @ ..] if mode == "exceptions" => runs
            .parse()
            .map_err(|e| format!("bad run count: {e}"))
            .map(|runs| exceptions(engine, runs, cases)),
        _ => Err(format!("bad child arguments: {args:?}")),
    };
    result.unwrap_or_else(|e| json!({ "error": e }))
}

fn secs(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

/// Compiles `compiles` times (at least once; each a new module, the last
/// one kept), then instantiates once, calls `run` once to warm up, and
/// times `runs` calls of `run` on that same instance. Every call's
/// checksum must be the same.
fn run(engine: &str, workload: &str, compiles: usize, runs: usize) -> Result<Value> {
    let w = workloads::find(workload).ok_or_else(|| format!("unknown workload `{workload}`"))?;
    if engine == "native" {
        let warm = w.native.run();
        let mut run_s = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = Instant::now();
            let c = black_box(w.native.run());
            run_s.push(secs(start));
            if c != warm {
                return Err(format!("checksum changed between runs: {warm} then {c}"));
            }
        }
        return Ok(json!({ "run_s": run_s, "checksum": warm.to_string() }));
    }
    let path = workloads::wasm_path(workload);
    let wasm = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let engine = engines::create(engine, true)?;
    let mut compile_s = Vec::with_capacity(compiles);
    let mut module = None;
    for _ in 0..compiles.max(1) {
        let start = Instant::now();
        let m = engine.compile(&wasm)?;
        compile_s.push(secs(start));
        module = Some(m);
    }
    let module = module.expect("compiled at least once");
    let start = Instant::now();
    let mut instance = module.instantiate(w.ret)?;
    let instantiate_s = secs(start);
    let warm = instance.run()?;
    let mut run_s = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let c = black_box(instance.run()?);
        run_s.push(secs(start));
        if c != warm {
            return Err(format!(
                "run: checksum changed between runs: {warm} then {c}"
            ));
        }
    }
    Ok(json!({
        "compile_s": compile_s,
        "instantiate_s": instantiate_s,
        "run_s": run_s,
        "checksum": warm.to_string(),
    }))
}

/// Compiles the module at `path` `repeats` times.
fn compile(engine: &str, path: &str, repeats: usize, parallel: bool) -> Result<Value> {
    let wasm = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let engine = engines::create(engine, parallel)?;
    let mut compile_s = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let start = Instant::now();
        let module = engine.compile(&wasm)?;
        compile_s.push(secs(start));
        drop(black_box(module));
    }
    Ok(json!({ "compile_s": compile_s, "bytes": wasm.len() }))
}

/// Per-call times in ns (median of 5 batches of `n` calls, after one
/// warm-up batch) of the three directions.
fn calls(engine: &str, n: u32) -> Result<Value> {
    let path = workloads::wasm_path("calls");
    let wasm = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let engine = engines::create(engine, true)?;
    let mut calls = engine.compile(&wasm)?.instantiate_calls()?;
    let per_call = |f: &mut dyn FnMut(u32) -> Result<std::time::Duration>| -> Result<f64> {
        f(n / 10)?;
        let mut ns = (0..5)
            .map(|_| f(n).map(|d| d.as_nanos() as f64 / f64::from(n)))
            .collect::<Result<Vec<_>>>()?;
        Ok(crate::median(&mut ns))
    };
    let host_to_wasm = per_call(&mut |n| calls.host_to_wasm(n))?;
    let wasm_to_host = per_call(&mut |n| calls.wasm_to_host(n))?;
    let wasm_to_wasm = per_call(&mut |n| calls.wasm_to_wasm(n))?;
    Ok(json!({
        "host_to_wasm_ns": host_to_wasm,
        "wasm_to_host_ns": wasm_to_host,
        "wasm_to_wasm_ns": wasm_to_wasm,
    }))
}

/// The programs of the WASI host-call benchmark: `wasi_calls.wasm`'s mode
/// argument and the key of its times in the result.
pub const WASI_MODES: [(&str, &str); 2] = [("write", "write_s"), ("clock", "clock_s")];

/// Runs `wasi_calls MODE n` (`benches/workloads/wasi_calls.c`) for each of
/// [`WASI_MODES`]: one warm-up run, then `runs` timed runs, each `_start` on
/// a new instance (instantiation and linking are not timed). The module is
/// compiled once.
fn wasi(engine: &str, n: u32, runs: usize) -> Result<Value> {
    let path = workloads::wasm_path("wasi_calls");
    let wasm = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let engine = engines::create(engine, true)?;
    let module = engine.compile(&wasm)?;
    let mut result = json!({ "n": n });
    for (mode, key) in WASI_MODES {
        let args = ["wasi_calls".to_string(), mode.to_string(), n.to_string()];
        let run_once = || -> Result<f64> {
            let mut command = module.instantiate_wasi(&args)?;
            let start = Instant::now();
            command
                .start()
                .map_err(|e| format!("wasi_calls {mode}: {e}"))?;
            Ok(secs(start))
        };
        run_once()?;
        let times = (0..runs).map(|_| run_once()).collect::<Result<Vec<_>>>()?;
        result[key] = json!(times);
    }
    Ok(result)
}

/// The exceptions module, `benches/workloads/throw.wat`, compiled.
pub fn throw_wasm() -> Result<Vec<u8>> {
    let path = workloads::wasm_path("throw").with_extension("wat");
    wat::parse_file(&path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The CPU time this thread has used, in seconds: the clock of the
/// exceptions benchmark, which time-sharing with other processes does not
/// advance (as it does wall time).
pub fn thread_cpu_secs() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec for the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    if rc != 0 {
        return f64::NAN;
    }
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// Calls `time(iters)` with an iteration count that doubles from 1 until
/// one call takes 20 ms (which also warms the code up), then scales it to
/// take about 100 ms, and times `runs` calls with that count. Returns the
/// count and the ns per iteration of each call. `benches/harness/exceptions.js`
/// does the same for V8.
pub fn calibrated(
    runs: usize,
    mut time: impl FnMut(i32) -> Result<f64>,
) -> Result<(i32, Vec<f64>)> {
    let mut iters = 1_i32;
    let mut t = time(iters)?;
    while t < 0.02 {
        iters = iters
            .checked_mul(2)
            .ok_or("an iteration takes no time: 2^31 of them take under 20 ms")?;
        t = time(iters)?;
    }
    let iters = ((f64::from(iters) * 0.1 / t).ceil() as i32).max(1);
    let ns = (0..runs)
        .map(|_| time(iters).map(|s| s * 1e9 / f64::from(iters)))
        .collect::<Result<Vec<_>>>()?;
    Ok((iters, ns))
}

/// An engine's instance of the throw module, and each case's export
/// index and depth.
type Prepared = (Box<dyn engines::Funcs>, Vec<(usize, i32)>);

/// Times each case `EXPORT:DEPTH` of the exceptions module (see
/// [`calibrated`]) in this thread's CPU time: a result per case, with its iteration count, ns per
/// iteration and checksum (the same for every call, checked here), or its
/// error. An error before the cases (compiling, instantiating) is every
/// case's.
fn exceptions(engine: &str, runs: usize, cases: &[String]) -> Value {
    let setup = || -> Result<Prepared> {
        let wasm = throw_wasm()?;
        let engine = engines::create(engine, true)?;
        let parsed = cases
            .iter()
            .map(|c| {
                let (name, depth) = c.split_once(':').ok_or(format!("bad case `{c}`"))?;
                let depth = depth.parse().map_err(|e| format!("bad case `{c}`: {e}"))?;
                Ok((name, depth))
            })
            .collect::<Result<Vec<(&str, i32)>>>()?;
        let names: Vec<&str> = parsed.iter().map(|(n, _)| *n).collect();
        let funcs = engine.compile(&wasm)?.instantiate_funcs(&names)?;
        Ok((
            funcs,
            parsed
                .iter()
                .enumerate()
                .map(|(i, (_, d))| (i, *d))
                .collect(),
        ))
    };
    let (mut funcs, parsed) = match setup() {
        Ok(s) => s,
        Err(e) => return json!({ "error": e }),
    };
    let results: Vec<Value> = parsed
        .iter()
        .zip(cases)
        .map(|(&(index, depth), case)| {
            let mut checksum = None;
            let measured = calibrated(runs, |iters| {
                let start = thread_cpu_secs();
                let c = black_box(funcs.call(index, depth, iters)?);
                let s = thread_cpu_secs() - start;
                match checksum {
                    Some((n, old)) if n == iters && old != c => {
                        Err(format!("checksum changed between runs: {old} then {c}"))
                    }
                    _ => {
                        checksum = Some((iters, c));
                        Ok(s)
                    }
                }
            });
            match measured {
                Ok((iters, ns)) => json!({
                    "case": case,
                    "iters": iters,
                    "ns": ns,
                    "checksum": checksum.map(|(_, c)| c.to_string()),
                }),
                Err(e) => json!({ "case": case, "error": e }),
            }
        })
        .collect();
    json!({ "cases": results })
}
