//! The third engine: V8, through `node`, decides a disagreement between
//! wasmkern and wasmi.
//!
//! [`decide`] writes the module and a plan (the host imports, the export
//! types, the calls to replay) to a temporary directory and runs a small
//! JavaScript driver ([`DRIVER`]) that instantiates the module with the
//! same host functions as the oracle (same log, same results from the same
//! call count), replays the calls, and prints after instantiation and after
//! each call what it observed, in the oracle's canonical form (outcome,
//! host calls, exported state; `v128` globals are invisible to JavaScript
//! and print as `v128:?` on every side). The last block is compared with
//! what wasmkern and wasmi did. JavaScript cannot pass or receive `v128`
//! values, so a function with `v128` in its type is called through a
//! small wasm wrapper ([`wrapper`]) that takes and returns each `v128` as
//! two `i64` halves.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::oracle::{self, Disagreement, HOST_IMPORTS, json_string};

/// How long the driver may run.
const TIMEOUT: Duration = Duration::from_secs(30);

/// What V8 did, compared with the two engines.
#[derive(Debug)]
pub enum Verdict {
    /// V8 did what wasmkern did (and not what wasmi did): a wasmi bug.
    Kern,
    /// V8 did what wasmi did: a wasmkern bug.
    Wasmi,
    /// V8 did neither, or could not replay the calls: what it did.
    Neither(String),
    /// `node` could not be run.
    Unavailable(String),
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Kern => f.write_str("V8 agrees with wasmkern"),
            Verdict::Wasmi => f.write_str("V8 agrees with wasmi"),
            Verdict::Neither(what) => write!(f, "V8 agrees with neither: {what}"),
            Verdict::Unavailable(why) => write!(f, "V8 could not run: {why}"),
        }
    }
}

/// Whether `node` runs here (its version), or why not.
pub fn node_version() -> Result<String, String> {
    let out = Command::new("node")
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run `node`: {e}"))?;
    if !out.status.success() {
        return Err(format!("`node --version` failed: {}", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The JSON name of a wasmkern value type, as the driver knows it.
fn type_name(t: wasmkern::ValType) -> &'static str {
    use wasmkern::ValType::*;
    match t {
        I32 => "i32",
        I64 => "i64",
        F32 => "f32",
        F64 => "f64",
        V128 => "v128",
        wasmkern::ValType::FuncRef => "funcref",
        wasmkern::ValType::ExternRef => "externref",
        other => panic!("no JSON name for {other:?}"),
    }
}

fn json_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.into_iter().map(json_string).collect();
    format!("[{}]", items.join(","))
}

/// A module importing `m`.`f` of type `params -> results` and exporting
/// `call`, which takes and returns each `v128` as two `i64`s (low half
/// first) and everything else as is.
fn wrapper(params: &[wasmkern::ValType], results: &[wasmkern::ValType]) -> Result<Vec<u8>, String> {
    use wasmkern::ValType::V128;
    let list = |kind: &str, types: &[wasmkern::ValType], flatten: bool| -> String {
        types
            .iter()
            .map(|&t| match t {
                V128 if flatten => format!("({kind} i64 i64)"),
                t => format!("({kind} {})", type_name(t)),
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut body = String::new();
    let mut local = 0;
    for &t in params {
        if t == V128 {
            body.push_str(&format!(
                "(i64x2.replace_lane 1 (i64x2.splat (local.get {local})) (local.get {}))",
                local + 1
            ));
            local += 2;
        } else {
            body.push_str(&format!("(local.get {local})"));
            local += 1;
        }
    }
    body.push_str("(call $f)");
    let first_result = local;
    for i in (0..results.len()).rev() {
        body.push_str(&format!("(local.set {})", first_result + i));
    }
    for (i, &t) in results.iter().enumerate() {
        let r = first_result + i;
        if t == V128 {
            body.push_str(&format!(
                "(i64x2.extract_lane 0 (local.get {r}))(i64x2.extract_lane 1 (local.get {r}))"
            ));
        } else {
            body.push_str(&format!("(local.get {r})"));
        }
    }
    let wat = format!(
        "(module (import \"m\" \"f\" (func $f {} {})) (func (export \"call\") {} {} {} {body}))",
        list("param", params, false),
        list("result", results, false),
        list("param", params, true),
        list("result", results, true),
        list("local", results, false),
    );
    wat::parse_str(&wat).map_err(|e| format!("the v128 wrapper: {e}"))
}

/// The plan the driver follows: host imports, export types, calls. The
/// wrappers of functions with `v128` in their type are written to `dir`.
fn plan(bytes: &[u8], d: &Disagreement, dir: &std::path::Path) -> Result<String, String> {
    let engine = wasmkern::Engine::default();
    let module = wasmkern::Module::new(&engine, bytes).map_err(|e| e.to_string())?;
    let imports: Vec<String> = HOST_IMPORTS
        .iter()
        .map(|(name, params, results)| {
            format!(
                "{}:{{\"params\":{},\"results\":{}}}",
                json_string(name),
                json_list(params.iter().map(|t| t.name())),
                json_list(results.iter().map(|t| t.name()))
            )
        })
        .collect();
    let mut exports = Vec::new();
    for export in module.exports() {
        let ty = match export.ty() {
            wasmkern::ExternType::Func(f) => {
                let v128 = wasmkern::ValType::V128;
                let wrapper = if f.params().contains(&v128) || f.results().contains(&v128) {
                    let path = dir.join(format!("wrapper-{}.wasm", exports.len()));
                    std::fs::write(&path, wrapper(f.params(), f.results())?)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    json_string(&path.to_string_lossy())
                } else {
                    "null".to_string()
                };
                format!(
                    "{{\"kind\":\"func\",\"params\":{},\"results\":{},\"wrapper\":{wrapper}}}",
                    json_list(f.params().iter().map(|&t| type_name(t))),
                    json_list(f.results().iter().map(|&t| type_name(t)))
                )
            }
            wasmkern::ExternType::Global(g) => {
                format!(
                    "{{\"kind\":\"global\",\"type\":\"{}\"}}",
                    type_name(g.content)
                )
            }
            wasmkern::ExternType::Table(t) => format!(
                "{{\"kind\":\"table\",\"type\":\"{}\"}}",
                type_name(t.elem.into())
            ),
            wasmkern::ExternType::Memory(_) => "{\"kind\":\"memory\"}".to_string(),
            other => return Err(format!("export of unknown kind {other:?}")),
        };
        exports.push(format!("{}:{ty}", json_string(export.name())));
    }
    let calls: Vec<String> = d
        .calls
        .iter()
        .map(|(name, args)| {
            let args: Vec<String> = args.iter().map(oracle::Arg::json).collect();
            format!(
                "{{\"name\":{},\"args\":[{}]}}",
                json_string(name),
                args.join(",")
            )
        })
        .collect();
    Ok(format!(
        "{{\"imports\":{{{}}},\"exports\":{{{}}},\"calls\":[{}]}}",
        imports.join(","),
        exports.join(","),
        calls.join(",")
    ))
}

/// A unique temporary directory for one replay.
fn temp_dir() -> Result<PathBuf, String> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "wasmkern-differential-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

/// Runs the module of `d` in V8 and says whose outcome it shares. V8
/// runs what wasmi ran: the module with its relaxed SIMD operators
/// rewritten to compute wasmkern's choices (`oracle::relaxed`).
pub fn decide(bytes: &[u8], d: &Disagreement) -> Verdict {
    if d.kern.is_empty() || d.wasmi.is_empty() {
        return Verdict::Neither(format!("not observable in V8: {}", d.what));
    }
    let Some(reference) = oracle::relaxed::standardize(bytes) else {
        return Verdict::Neither("the relaxed SIMD rewrite cannot parse the module".into());
    };
    let bytes = &reference[..];
    if let Err(e) = node_version() {
        return Verdict::Unavailable(e);
    }
    let dir = match temp_dir() {
        Ok(dir) => dir,
        Err(e) => return Verdict::Neither(e),
    };
    let result = replay(&dir, bytes, d);
    let _ = std::fs::remove_dir_all(&dir);
    let blocks = match result {
        Ok(blocks) => blocks,
        Err(e) => return Verdict::Neither(e),
    };
    let Some(last) = blocks.last() else {
        return Verdict::Neither("the driver printed nothing".into());
    };
    if blocks.len() != d.calls.len() + 1 {
        return Verdict::Neither(format!(
            "the driver stopped after {} of {} steps: {last:?}",
            blocks.len(),
            d.calls.len() + 1
        ));
    }
    let same = |obs: &[String]| last.len() >= obs.len() && last[..obs.len()] == *obs;
    match (same(&d.kern), same(&d.wasmi)) {
        (true, false) => Verdict::Kern,
        (false, true) => Verdict::Wasmi,
        _ => Verdict::Neither(format!("V8 observed {last:?}")),
    }
}

/// Writes the files, runs the driver, and parses its blocks.
fn replay(
    dir: &std::path::Path,
    bytes: &[u8],
    d: &Disagreement,
) -> Result<Vec<Vec<String>>, String> {
    let (wasm, plan_path, driver) = (
        dir.join("module.wasm"),
        dir.join("plan.json"),
        dir.join("driver.cjs"),
    );
    let write = |path: &PathBuf, data: &[u8]| {
        std::fs::write(path, data).map_err(|e| format!("{}: {e}", path.display()))
    };
    write(&wasm, bytes)?;
    write(&plan_path, plan(bytes, d, dir)?.as_bytes())?;
    write(&driver, DRIVER.as_bytes())?;
    let mut child = Command::new("node")
        .arg(&driver)
        .arg(&wasm)
        .arg(&plan_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `node`: {e}"))?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() > TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("the driver ran longer than {TIMEOUT:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for `node`: {e}")),
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("reading `node`'s output: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{}", String::from_utf8_lossy(&out.stderr));
        return Err(format!("the driver failed: {}", out.status));
    }
    stdout
        .lines()
        .filter(|l| l.starts_with('['))
        .map(parse_strings)
        .collect()
}

/// Parses a JSON array of strings (what the driver prints per block).
fn parse_strings(line: &str) -> Result<Vec<String>, String> {
    let bad = || format!("unexpected driver output: {line}");
    let mut chars = line.trim().chars().peekable();
    let mut out = Vec::new();
    if chars.next() != Some('[') {
        return Err(bad());
    }
    loop {
        match chars.next() {
            Some(']') => return Ok(out),
            Some(',') => continue,
            Some('"') => {
                let mut s = String::new();
                let mut pending_high: Option<u32> = None;
                loop {
                    match chars.next().ok_or_else(bad)? {
                        '"' => break,
                        '\\' => match chars.next().ok_or_else(bad)? {
                            'n' => s.push('\n'),
                            't' => s.push('\t'),
                            'r' => s.push('\r'),
                            'b' => s.push('\u{8}'),
                            'f' => s.push('\u{c}'),
                            'u' => {
                                let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                                let unit = u32::from_str_radix(&hex, 16).map_err(|_| bad())?;
                                if (0xd800..0xdc00).contains(&unit) {
                                    pending_high = Some(unit);
                                    continue;
                                }
                                let c = match pending_high.take() {
                                    Some(high) if (0xdc00..0xe000).contains(&unit) => {
                                        0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00)
                                    }
                                    _ => unit,
                                };
                                s.push(char::from_u32(c).unwrap_or('\u{fffd}'));
                            }
                            c => s.push(c),
                        },
                        c => s.push(c),
                    }
                }
                out.push(s);
            }
            _ => return Err(bad()),
        }
    }
}

/// The JavaScript driver: `node driver.cjs module.wasm plan.json`. Prints
/// one JSON array of strings per step (instantiation, then each call):
/// the outcome, `host name(args)` per host call, then the exported state,
/// in the oracle's canonical form (`oracle::Value::canonical`,
/// `oracle::TrapKind::canonical`, `oracle::fnv`, `oracle::host_result`).
pub const DRIVER: &str = r#"'use strict';
const fs = require('fs');
const [wasmPath, planPath] = process.argv.slice(2);
const plan = JSON.parse(fs.readFileSync(planPath, 'utf8'));
const M = (1n << 64n) - 1n;
function mix(x) {
  let z = (x + 0x9e3779b97f4a7c15n) & M;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M;
  return z ^ (z >> 31n);
}
const dv = new DataView(new ArrayBuffer(8));
class HostError extends Error {}
let instance = null;
let log = [];
let calls = 0n;
function funcName(f) {
  const names = [];
  for (const [name, v] of Object.entries(instance ? instance.exports : {})) {
    if (v === f) names.push(name);
  }
  names.sort();
  return names.length ? names.join(',') : '?';
}
function canon(t, v) {
  switch (t) {
    case 'i32': return 'i32:' + (v | 0);
    case 'i64': return 'i64:' + BigInt.asIntN(64, BigInt(v));
    case 'f32':
      if (Number.isNaN(v)) return 'f32:nan';
      dv.setFloat32(0, v); return 'f32:0x' + dv.getUint32(0).toString(16);
    case 'f64':
      if (Number.isNaN(v)) return 'f64:nan';
      dv.setFloat64(0, v); return 'f64:0x' + dv.getBigUint64(0).toString(16);
    case 'v128': return 'v128:0x' + BigInt.asUintN(128, v).toString(16);
    case 'funcref': return v === null ? 'null' : 'func:' + funcName(v);
    case 'externref': return v === null ? 'null' : 'extern:' + v;
  }
  throw new Error('unknown type ' + t);
}
function fromBits(t, h) {
  switch (t) {
    case 'i32': return Number(BigInt.asIntN(32, h));
    case 'i64': return BigInt.asIntN(64, h);
    case 'f32': { dv.setUint32(0, Number(h & 0xffffffffn)); const v = dv.getFloat32(0); return Number.isNaN(v) ? NaN : v; }
    case 'f64': { dv.setBigUint64(0, h); const v = dv.getFloat64(0); return Number.isNaN(v) ? NaN : v; }
  }
  throw new Error('unknown type ' + t);
}
function arg(a) {
  switch (a.t) {
    case 'i32': return Number(a.v);
    case 'i64': return BigInt(a.v);
    case 'f32': dv.setUint32(0, Number(a.v)); return dv.getFloat32(0);
    case 'f64': dv.setBigUint64(0, BigInt(a.v)); return dv.getFloat64(0);
    case 'funcref': return a.v === null ? null : instance.exports[a.v];
    case 'externref': return a.v;
    case 'v128': return BigInt(a.v);
  }
  throw new TypeError('cannot pass a ' + a.t + ' from JavaScript');
}
// A function with v128 in its type, called through its wrapper module:
// each v128 crosses as two i64 halves, low first.
const wrappers = {};
function callWrapped(name, ty, args) {
  if (!wrappers[name]) {
    const m = new WebAssembly.Module(fs.readFileSync(ty.wrapper));
    wrappers[name] = new WebAssembly.Instance(m, { m: { f: instance.exports[name] } }).exports.call;
  }
  const flat = [];
  ty.params.forEach((t, i) => {
    if (t === 'v128') flat.push(BigInt.asIntN(64, args[i]), BigInt.asIntN(64, args[i] >> 64n));
    else flat.push(args[i]);
  });
  let r = wrappers[name](...flat);
  const n = ty.results.reduce((n, t) => n + (t === 'v128' ? 2 : 1), 0);
  r = n === 0 ? [] : n === 1 ? [r] : r;
  const out = [];
  let k = 0;
  for (const t of ty.results) {
    if (t === 'v128') { out.push(BigInt.asUintN(64, r[k]) | (BigInt.asUintN(64, r[k + 1]) << 64n)); k += 2; }
    else out.push(r[k++]);
  }
  return out;
}
const host = {};
for (const [name, sig] of Object.entries(plan.imports)) {
  host[name] = (...args) => {
    log.push('host ' + name + '(' + args.map((a, i) => canon(sig.params[i], a)).join(', ') + ')');
    const c = calls++;
    if (mix(c * 8n + 7n) % 29n === 0n) throw new HostError('differential host error');
    const r = sig.results.map((t, i) => fromBits(t, mix(c * 8n + BigInt(i))));
    return r.length === 0 ? undefined : r.length === 1 ? r[0] : r;
  };
}
function trapOf(e) {
  if (e instanceof HostError) return 'host error';
  const m = String(e && e.message);
  if (e instanceof RangeError && /call stack/.test(m)) return 'trap stack';
  if (e instanceof WebAssembly.RuntimeError) {
    if (/unreachable/.test(m)) return 'trap unreachable';
    if (/memory access out of bounds|data segment/.test(m)) return 'trap memory';
    if (/divide by zero|remainder by zero/.test(m)) return 'trap div0';
    if (/divide result unrepresentable/.test(m)) return 'trap overflow';
    if (/float unrepresentable/.test(m)) return 'trap conversion';
    if (/null function|signature mismatch/.test(m)) return 'trap indirect';
    if (/table|element segment/.test(m)) return 'trap table';
  }
  return 'error ' + (e && e.name) + ': ' + m;
}
function fnv(bytes) {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}
function state() {
  const out = [];
  for (const [name, ty] of Object.entries(plan.exports)) {
    const v = instance.exports[name];
    if (ty.kind === 'memory') {
      const bytes = new Uint8Array(v.buffer);
      out.push('memory ' + name + ': ' + (bytes.length >> 16) + ' pages, fnv ' + fnv(bytes));
    } else if (ty.kind === 'global') {
      out.push('global ' + name + ': ' + (ty.type === 'v128' ? 'v128:?' : canon(ty.type, v.value)));
    } else if (ty.kind === 'table') {
      const elems = [];
      for (let i = 0; i < v.length; i++) elems.push(canon(ty.type, v.get(i)));
      out.push('table ' + name + ': [' + elems.join(', ') + ']');
    }
  }
  // Sorted by UTF-8 bytes, as the oracle sorts its lines.
  out.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return out;
}
function step(run) {
  log = [];
  let head;
  try {
    head = run();
  } catch (e) {
    head = trapOf(e);
  }
  const lines = [head, ...log];
  if (instance) lines.push(...state());
  console.log(JSON.stringify(lines));
}
const wasmModule = new WebAssembly.Module(fs.readFileSync(wasmPath));
step(() => {
  instance = new WebAssembly.Instance(wasmModule, { host });
  return 'ok []';
});
if (instance) {
  for (const call of plan.calls) {
    step(() => {
      const ty = plan.exports[call.name];
      let results;
      if (ty.wrapper) {
        results = callWrapped(call.name, ty, call.args.map(arg));
      } else {
        const r = instance.exports[call.name](...call.args.map(arg));
        results = ty.results.length === 0 ? [] : ty.results.length === 1 ? [r] : r;
      }
      return 'ok [' + results.map((v, i) => canon(ty.results[i], v)).join(', ') + ']';
    });
  }
}
"#;
