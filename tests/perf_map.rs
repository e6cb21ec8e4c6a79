//! `Config::profiler(ProfilingStrategy::PerfMap)`: the lines appended to
//! `/tmp/perf-PID.map` name each function of a module (from its `name`
//! section, else by index) and give the range its code occupies: the bytes
//! there are that function's code as the compiler produced it.

use std::collections::HashMap;
use wasmkern::asm::x64::CpuFeatures;
use wasmkern::compile::{CompileOptions, compile_module_with};
use wasmkern::decode::Module as Decoded;
use wasmkern::validate::validate_module;
use wasmkern::{Config, Engine, Module, ProfilingStrategy};

/// One line of a perf map.
#[derive(Debug, Clone)]
struct Entry {
    start: usize,
    size: usize,
    name: String,
}

fn map_path() -> String {
    format!("/tmp/perf-{}.map", std::process::id())
}

/// The map's lines after its first `from` bytes (a process before this
/// one with the same id may have left lines).
fn read_map(from: usize) -> Vec<Entry> {
    let path = map_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text[from..]
        .lines()
        .map(|line| {
            let mut parts = line.splitn(3, ' ');
            let mut field = || {
                parts
                    .next()
                    .unwrap_or_else(|| panic!("short line {line:?}"))
            };
            let start =
                usize::from_str_radix(field(), 16).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            let size =
                usize::from_str_radix(field(), 16).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            Entry {
                start,
                size,
                name: field().to_string(),
            }
        })
        .collect()
}

/// The map's length now (0 if there is none yet).
fn map_len() -> usize {
    std::fs::metadata(map_path()).map_or(0, |m| m.len() as usize)
}

/// Whether `[start, start + len)` lies in one readable mapping of this
/// process (so that the test reads it without faulting even when the map
/// is wrong).
fn readable(start: usize, len: usize) -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps");
    maps.lines().any(|line| {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            return false;
        };
        let Some((lo, hi)) = range.split_once('-') else {
            return false;
        };
        let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
        else {
            return false;
        };
        perms.starts_with('r') && lo <= start && start + len <= hi
    })
}

/// An import (so function indices start at 1), three named functions that
/// call each other, and an unnamed one; bodies differ, so that a range
/// holding another function's code does not compare equal.
const WAT: &str = r#"
(module $profiled
  (import "env" "host" (func $host (param i32)))
  (func $perf_map_add (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1)))
  (func $perf_map_mul3 (param i32) (result i32)
    (i32.mul (local.get 0) (i32.const 3)))
  (func $perf_map_both (param i32) (result i32)
    (call $host (local.get 0))
    (call $perf_map_mul3 (call $perf_map_add (local.get 0) (i32.const 1))))
  (func (param i64) (result i64)
    (i64.rotl (local.get 0) (i64.const 7))))
"#;

#[test]
fn the_map_names_each_function_and_its_code() {
    let wasm = wat::parse_str(WAT).expect("valid text");
    let from = map_len();
    let engine = Engine::new(
        Config::new()
            .profiler(ProfilingStrategy::PerfMap)
            .guard_regions(false),
    )
    .expect("engine");
    let module = Module::new(&engine, &wasm).expect("compiles");

    // This module's lines: the block that names `perf_map_add`.
    let map = read_map(from);
    let add = map
        .iter()
        .rposition(|e| e.name.ends_with("::perf_map_add"))
        .expect("a line for perf_map_add");
    let prefix = map[add].name.trim_end_matches("perf_map_add").to_string();
    assert!(
        prefix.starts_with("wasm[") && prefix.ends_with("]::"),
        "{prefix}"
    );
    let lines: HashMap<String, Entry> = map
        .iter()
        .filter(|e| e.name.starts_with(&prefix))
        .map(|e| (e.name[prefix.len()..].to_string(), e.clone()))
        .collect();
    let mut names: Vec<&str> = lines.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "function[4]",
            "perf_map_add",
            "perf_map_both",
            "perf_map_mul3"
        ]
    );

    // The code the compiler produces for the module, on its own.
    let decoded = Decoded::decode(&wasm).expect("decodes");
    let info = validate_module(&decoded).expect("validates");
    let compiled = compile_module_with(
        &decoded,
        &info,
        &CpuFeatures::detect(),
        &CompileOptions::default(),
    )
    .expect("compiles");
    let mut starts: Vec<u32> = compiled.func_offsets.clone();
    starts.sort_unstable();
    for (defined, name) in [
        "perf_map_add",
        "perf_map_mul3",
        "perf_map_both",
        "function[4]",
    ]
    .iter()
    .enumerate()
    {
        let entry = &lines[*name];
        let start = compiled.func_offsets[defined] as usize;
        let end = starts
            .iter()
            .map(|&s| s as usize)
            .find(|&s| s > start)
            .unwrap_or(compiled.code.len());
        assert_eq!(entry.size, end - start, "{name}: size");
        assert!(
            readable(entry.start, entry.size),
            "{name}: {entry:?} unmapped"
        );
        // SAFETY: checked just above to lie in a readable mapping; the
        // module (whose code it is) is alive.
        let published = unsafe { std::slice::from_raw_parts(entry.start as *const u8, entry.size) };
        assert_eq!(published, &compiled.code[start..end], "{name}: code");
    }
    // Consecutive functions, in index order: each ends where the next
    // starts.
    let add = &lines["perf_map_add"];
    assert_eq!(add.start + add.size, lines["perf_map_mul3"].start);
    drop(module);
}

#[test]
fn modules_compiled_at_once_append_whole_lines() {
    // Eight threads compile modules of 40 functions each; every line of
    // the map must parse, and each module's 40 names must be there.
    let mut wat = String::from("(module");
    for i in 0..40 {
        wat.push_str(&format!(
            "(func $concurrent_{i} (result i32) (i32.const {i}))"
        ));
    }
    wat.push(')');
    let wasm = wat::parse_str(&wat).expect("valid text");
    let engine = Engine::new(Config::new().profiler(ProfilingStrategy::PerfMap)).expect("engine");
    let from = map_len();
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..3 {
                    Module::new(&engine, &wasm).expect("compiles");
                }
            });
        }
    });
    let map = read_map(from);
    let mut per_module: HashMap<String, usize> = HashMap::new();
    for e in &map {
        if let Some((module, name)) = e.name.split_once("::concurrent_") {
            assert!(name.parse::<u32>().is_ok_and(|i| i < 40), "{e:?}");
            *per_module.entry(module.to_string()).or_default() += 1;
        }
    }
    assert_eq!(per_module.len(), 24, "{per_module:?}");
    assert!(per_module.values().all(|&n| n == 40), "{per_module:?}");
}
