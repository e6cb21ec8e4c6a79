//! What runs in a child process: one engine on one workload (or on the large
//! module, the call-overhead module or the WASI host-call command). The parent (`main.rs`) spawns
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
        [mode, engine, workload, runs] if mode == "run" => runs
            .parse()
            .map_err(|e| format!("bad run count: {e}"))
            .and_then(|runs| run(engine, workload, runs)),
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
        _ => Err(format!("bad child arguments: {args:?}")),
    };
    result.unwrap_or_else(|e| json!({ "error": e }))
}

fn secs(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

/// Compiles `runs` times (each a new module; the last one is kept), then
/// instantiates once, calls `run` once to warm up, and times `runs` calls of
/// `run` on that same instance. Every call's checksum must be the same.
fn run(engine: &str, workload: &str, runs: usize) -> Result<Value> {
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
    let mut compile_s = Vec::with_capacity(runs);
    let mut module = None;
    for _ in 0..runs.max(1) {
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
