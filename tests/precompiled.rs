//! Serialized modules (`Module::serialize`, `Module::deserialize_checked`):
//! a loaded module behaves as the compiled one, and every damaged or
//! mismatched file is refused with its own error.
//!
//! The tests that edit headers follow the layout documented in
//! `src/runtime/serialize.rs` and recompute the SHA-256 with the crate's
//! own implementation (tested against the NIST vectors in `src/sha256.rs`).

use std::path::Path;
use wasmkern::sha256::Sha256;
use wasmkern::{Config, CpuFeatures, Engine, ErrorKind, Instance, Module, Store, Val};

const HASH_AT: usize = 20;
const VERSION_AT: usize = 52;

/// Recomputes the file's SHA-256 after an edit, as `serialize` does.
fn rehash(bytes: &mut [u8]) {
    let mut h = Sha256::new();
    h.update(&bytes[..HASH_AT]);
    h.update(&bytes[HASH_AT + 32..]);
    let digest = h.finish();
    bytes[HASH_AT..HASH_AT + 32].copy_from_slice(&digest);
}

/// Offset of the header's code options (after the crate version and the
/// ABI fingerprint); the features and CPU features follow, 4 bytes each.
fn options_at(bytes: &[u8]) -> usize {
    VERSION_AT + 1 + bytes[VERSION_AT] as usize + 8
}

fn field(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// `err` is a refusal whose message starts with `headline` (a detail may
/// follow).
#[track_caller]
fn assert_refused(err: &wasmkern::Error, headline: &str) {
    assert_eq!(err.kind(), ErrorKind::Incompatible, "{err}");
    let message = err.message();
    assert!(
        message == headline || message.starts_with(&format!("{headline}: ")),
        "expected {headline:?}, got {message:?}"
    );
}

fn set_field(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
    rehash(bytes);
}

/// A module with a bit of everything the runtime keeps: memory and data,
/// a table with elements, globals, names, imports and exports, traps.
const RICH: &str = r#"(module
    (import "env" "twice" (func $twice (param i32) (result i32)))
    (type $unary (func (param i32) (result i32)))
    (type $binary (func (param i32 i32) (result i32)))
    (memory (export "mem") 1 2)
    (data (i32.const 16) "hello, world")
    (data $later "passive bytes")
    (table 4 funcref)
    (elem (i32.const 0) $inc $dec $twice)
    (global $g (mut i32) (i32.const 40))
    (global (export "answer") i32 (i32.const 42))
    (func $inc (type $unary) (i32.add (local.get 0) (i32.const 1)))
    (func $dec (type $unary) (i32.sub (local.get 0) (i32.const 1)))
    (func $add (type $binary) (i32.add (local.get 0) (local.get 1)))
    (func (export "dispatch") (param i32 i32) (result i32)
        (call_indirect (type $unary) (local.get 1) (local.get 0)))
    (func (export "wrong_type") (result i32)
        (call_indirect (type $binary) (i32.const 1) (i32.const 2) (i32.const 0)))
    (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
    (func (export "init") (memory.init $later (i32.const 100) (i32.const 0) (i32.const 13)))
    (func (export "bump") (result i32)
        (global.set $g (i32.add (global.get $g) (i32.const 1))) (global.get $g))
    (func $deep (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
    (func (export "trap") (param i32) (result i32) (call $deep (local.get 0))))"#;

fn rich_wasm() -> Vec<u8> {
    wat::parse_str(RICH).unwrap()
}

/// Runs every export of the rich module; the results, as text.
fn exercise_rich(engine: &Engine, module: &Module) -> Vec<String> {
    let mut store = Store::new(engine, ());
    let twice = wasmkern::Func::wrap(&mut store, |x: i32| x * 2);
    let instance = Instance::new(&mut store, module, &[twice.into()]).unwrap();
    let mut out = Vec::new();
    let dispatch = instance
        .get_typed_func::<(i32, i32), i32>(&mut store, "dispatch")
        .unwrap();
    for (f, x) in [(0, 10), (1, 10), (2, 10)] {
        out.push(format!(
            "dispatch {f} {x} = {:?}",
            dispatch.call(&mut store, (f, x))
        ));
    }
    let err = dispatch.call(&mut store, (3, 1)).unwrap_err();
    out.push(format!("dispatch 3: {:?}", err.trap()));
    let wrong = instance
        .get_typed_func::<(), i32>(&mut store, "wrong_type")
        .unwrap();
    out.push(format!(
        "wrong_type: {:?}",
        wrong.call(&mut store, ()).unwrap_err().trap()
    ));
    let load = instance
        .get_typed_func::<i32, i32>(&mut store, "load")
        .unwrap();
    let init = instance
        .get_typed_func::<(), ()>(&mut store, "init")
        .unwrap();
    init.call(&mut store, ()).unwrap();
    let text: Vec<u8> = (16..28)
        .chain(100..113)
        .map(|i| load.call(&mut store, i).unwrap() as u8)
        .collect();
    out.push(String::from_utf8_lossy(&text).into_owned());
    let bump = instance
        .get_typed_func::<(), i32>(&mut store, "bump")
        .unwrap();
    out.push(format!(
        "bump {:?} {:?}",
        bump.call(&mut store, ()),
        bump.call(&mut store, ())
    ));
    let answer = instance.get_global(&mut store, "answer").unwrap();
    out.push(format!("answer {:?}", answer.get(&mut store)));
    let trap = instance
        .get_typed_func::<i32, i32>(&mut store, "trap")
        .unwrap();
    let err = trap.call(&mut store, 0).unwrap_err();
    out.push(format!("trap {:?} {:?}", err.trap(), err.backtrace()));
    out
}

#[test]
fn a_loaded_module_behaves_as_the_compiled_one() {
    let engine = Engine::default();
    let compiled = Module::new(&engine, rich_wasm()).unwrap();
    let bytes = compiled.serialize().unwrap();
    let loaded = Module::deserialize_checked(&engine, &bytes).unwrap();
    let expected = exercise_rich(&engine, &compiled);
    // Sanity of the reference run itself.
    assert_eq!(expected[0], "dispatch 0 10 = Ok(11)");
    assert_eq!(expected[2], "dispatch 2 10 = Ok(20)");
    assert_eq!(expected[5], "hello, worldpassive bytes");
    assert!(expected[8].contains("\"deep\""), "{}", expected[8]);
    assert_eq!(exercise_rich(&engine, &loaded), expected);
    // Imports and exports are the same, in order.
    let imports = |m: &Module| {
        m.imports()
            .map(|i| format!("{}.{} {:?}", i.module(), i.name(), i.ty()))
            .collect::<Vec<_>>()
    };
    let exports = |m: &Module| {
        m.exports()
            .map(|e| format!("{} {:?}", e.name(), e.ty()))
            .collect::<Vec<_>>()
    };
    assert_eq!(imports(&loaded), imports(&compiled));
    assert_eq!(exports(&loaded), exports(&compiled));
    // Serializing the loaded module gives the same bytes.
    assert_eq!(loaded.serialize().unwrap(), bytes);
}

#[test]
fn code_loads_into_an_engine_whose_type_ids_differ() {
    // Engine `a` has other types registered first, so the rich module's
    // types get other engine-wide ids there than in the fresh engine `b`:
    // `call_indirect` must compare against the loading engine's ids.
    let a = Engine::default();
    let other = wat::parse_str(
        "(module (func (param f64) (result f64) local.get 0) (func (param i64 f32)))",
    )
    .unwrap();
    let _keep = Module::new(&a, other).unwrap();
    let bytes = Module::new(&a, rich_wasm()).unwrap().serialize().unwrap();
    let b = Engine::default();
    let loaded = Module::deserialize_checked(&b, &bytes).unwrap();
    let results = exercise_rich(&b, &loaded);
    assert_eq!(results[0], "dispatch 0 10 = Ok(11)");
    assert_eq!(results[1], "dispatch 1 10 = Ok(9)");
    assert_eq!(results[2], "dispatch 2 10 = Ok(20)");
    assert_eq!(results[4], "wrong_type: Some(IndirectCallTypeMismatch)");
}

fn workloads() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/workloads");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "benchmark programs missing in {dir:?}");
    files
}

/// `run()` of a benchmark program: its checksum, as text.
fn run(engine: &Engine, module: &Module) -> String {
    let mut store = Store::new(engine, ());
    let instance = Instance::new(&mut store, module, &[]).unwrap();
    let run = instance.get_func(&store, "run").unwrap();
    let mut results = [Val::I32(0)];
    run.call(&mut store, &[], &mut results).unwrap();
    format!("{:?}", results[0])
}

#[test]
fn benchmark_programs_round_trip() {
    let engine = Engine::default();
    let mut ran = 0;
    for path in workloads() {
        let wasm = std::fs::read(&path).unwrap();
        let compiled = Module::new(&engine, &wasm).unwrap();
        let bytes = compiled.serialize().unwrap();
        let loaded = Module::deserialize_checked(&engine, &bytes).unwrap();
        assert_eq!(loaded.serialize().unwrap(), bytes, "{path:?}");
        let runnable = compiled.imports().len() == 0
            && compiled
                .get_export("run")
                .and_then(|t| t.func().cloned())
                .is_some_and(|t| t.params().is_empty() && t.results().len() == 1);
        if runnable {
            let expected = run(&engine, &compiled);
            assert_eq!(run(&engine, &loaded), expected, "{path:?}");
            ran += 1;
        }
    }
    assert!(ran >= 7, "only {ran} programs ran");
}

fn small_serialized(engine: &Engine) -> Vec<u8> {
    Module::new(engine, rich_wasm())
        .unwrap()
        .serialize()
        .unwrap()
}

#[test]
fn every_flipped_byte_is_refused() {
    let engine = Engine::default();
    let bytes = small_serialized(&engine);
    for at in 0..bytes.len() {
        for bit in [0x01, 0x80] {
            let mut bad = bytes.clone();
            bad[at] ^= bit;
            let err = Module::deserialize_checked(&engine, &bad)
                .expect_err(&format!("byte {at} flipped with {bit:#x} was accepted"));
            assert_eq!(err.kind(), ErrorKind::Incompatible, "byte {at}: {err}");
        }
    }
    // In the checksum's range, the checksum is what refuses it.
    let mut bad = bytes.clone();
    *bad.last_mut().unwrap() ^= 1;
    let err = Module::deserialize_checked(&engine, &bad).unwrap_err();
    assert_refused(&err, "serialized module corrupted");
}

#[test]
fn every_truncation_is_refused() {
    let engine = Engine::default();
    let bytes = small_serialized(&engine);
    for len in 0..bytes.len() {
        let err = Module::deserialize_checked(&engine, &bytes[..len])
            .expect_err(&format!("{len} bytes accepted"));
        let expected = if len < 8 {
            "not a serialized wasmkern module"
        } else {
            "serialized module truncated"
        };
        assert_refused(&err, expected);
        // Without the checksum too: the lengths are checked.
        // SAFETY: refused before any code is published.
        let err = unsafe { Module::deserialize(&engine, &bytes[..len]) }.unwrap_err();
        assert_refused(&err, expected);
    }
    let mut longer = bytes.clone();
    longer.push(0);
    let err = Module::deserialize_checked(&engine, &longer).unwrap_err();
    assert_refused(&err, "serialized module has trailing bytes");
}

#[test]
fn other_formats_and_versions_are_refused() {
    let engine = Engine::default();
    let bytes = small_serialized(&engine);
    let err = Module::deserialize_checked(&engine, rich_wasm()).unwrap_err();
    assert_refused(&err, "not a serialized wasmkern module");

    let mut v2 = bytes.clone();
    set_field(&mut v2, 8, 99);
    let err = Module::deserialize_checked(&engine, &v2).unwrap_err();
    assert_refused(&err, "unsupported serialized module format");

    // Another crate version of the same length: its last digit changed.
    let mut other = bytes.clone();
    let n = other[VERSION_AT] as usize;
    assert_eq!(
        &other[VERSION_AT + 1..VERSION_AT + 1 + n],
        env!("CARGO_PKG_VERSION").as_bytes()
    );
    other[VERSION_AT + n] = if other[VERSION_AT + n] == b'9' {
        b'8'
    } else {
        b'9'
    };
    rehash(&mut other);
    let err = Module::deserialize_checked(&engine, &other).unwrap_err();
    assert_refused(&err, "serialized module from another wasmkern version");

    let mut abi = bytes.clone();
    abi[VERSION_AT + 1 + n] ^= 1;
    rehash(&mut abi);
    let err = Module::deserialize_checked(&engine, &abi).unwrap_err();
    assert_refused(&err, "serialized module for another runtime ABI");
}

#[test]
fn other_code_options_are_refused() {
    let plain = Engine::default();
    let fuel = Engine::new(Config::new().consume_fuel(true)).unwrap();
    let interruptible = Engine::new(Config::new().interruptible(true)).unwrap();
    let guard = Engine::new(Config::new().guard_regions(true)).unwrap();
    let engines = [&plain, &fuel, &interruptible, &guard];
    for (i, from) in engines.iter().enumerate() {
        let bytes = small_serialized(from);
        for (j, to) in engines.iter().enumerate() {
            let result = Module::deserialize_checked(to, &bytes);
            if i == j {
                let module = result.unwrap();
                if i == 1 {
                    // Fuel metering still works after loading.
                    let mut store = Store::new(to, ());
                    store.set_fuel(1_000).unwrap();
                    let twice = wasmkern::Func::wrap(&mut store, |x: i32| x * 2);
                    let inst = Instance::new(&mut store, &module, &[twice.into()]).unwrap();
                    let bump = inst.get_typed_func::<(), i32>(&mut store, "bump").unwrap();
                    assert_eq!(bump.call(&mut store, ()).unwrap(), 41);
                    assert!(store.get_fuel().unwrap() < 1_000);
                }
            } else {
                let err = result.unwrap_err();
                assert_refused(&err, "serialized module compiled with other code options");
                assert_eq!(err.kind(), ErrorKind::Incompatible);
            }
        }
    }
    let err = Module::deserialize_checked(&plain, small_serialized(&fuel)).unwrap_err();
    assert!(
        err.to_string()
            .contains("fuel metering (Config::consume_fuel): on in the module, off in the engine"),
        "{err}"
    );
}

#[test]
fn missing_cpu_features_are_refused() {
    let engine = Engine::default();
    let bytes = small_serialized(&engine);
    let cpu_at = options_at(&bytes) + 8;
    // The module records what the engine's code uses.
    assert_eq!(field(&bytes, cpu_at) & 0b111, {
        let c = engine.cpu_features();
        u32::from(c.sse3) | u32::from(c.ssse3) << 1 | u32::from(c.sse41) << 2
    });
    // A feature no processor reports to this build.
    let mut future = bytes.clone();
    set_field(&mut future, cpu_at, field(&bytes, cpu_at) | 1 << 15);
    let err = Module::deserialize_checked(&engine, &future).unwrap_err();
    assert_refused(&err, "the processor lacks CPU features the code uses");
    assert!(err.to_string().contains("unknown feature bit 15"), "{err}");
    // Each known feature the host lacks, if any.
    let host = CpuFeatures::detect();
    let known = [
        host.sse3,
        host.ssse3,
        host.sse41,
        host.sse42,
        host.popcnt,
        host.lzcnt,
        host.bmi1,
        host.bmi2,
        host.avx,
        host.avx2,
        host.fma,
    ];
    for (bit, _) in known.iter().enumerate().filter(|(_, has)| !**has) {
        let mut lacking = bytes.clone();
        set_field(&mut lacking, cpu_at, field(&bytes, cpu_at) | 1 << bit);
        let err = Module::deserialize_checked(&engine, &lacking).unwrap_err();
        assert_refused(&err, "the processor lacks CPU features the code uses");
    }
    // An engine that allows fewer features than the code uses.
    if engine.cpu_features() != CpuFeatures::baseline() {
        let baseline = Engine::new(Config::new().cpu_features(CpuFeatures::baseline())).unwrap();
        let err = Module::deserialize_checked(&baseline, &bytes).unwrap_err();
        assert_refused(
            &err,
            "the code uses CPU features the engine's Config::cpu_features excludes",
        );
        // The other way round is fine: baseline code runs anywhere.
        let code = Module::new(&baseline, rich_wasm())
            .unwrap()
            .serialize()
            .unwrap();
        let loaded = Module::deserialize_checked(&engine, code).unwrap();
        assert_eq!(exercise_rich(&engine, &loaded)[0], "dispatch 0 10 = Ok(11)");
    }
}

#[test]
fn missing_wasm_features_are_refused() {
    let wide = Engine::new(Config::new().wasm_wide_arithmetic(true)).unwrap();
    let bytes = small_serialized(&wide);
    let err = Module::deserialize_checked(&Engine::default(), &bytes).unwrap_err();
    assert_refused(
        &err,
        "serialized module needs WebAssembly features the engine lacks",
    );
    assert!(
        err.to_string().contains("Config::wasm_wide_arithmetic"),
        "{err}"
    );
    // A module for fewer features loads into an engine with more.
    let plain = small_serialized(&Engine::default());
    Module::deserialize_checked(&wide, &plain).unwrap();
}

#[test]
fn inconsistent_tables_are_refused_even_with_a_valid_checksum() {
    let engine = Engine::default();
    let bytes = small_serialized(&engine);
    // The first function entry: after the header, the retained sections
    // and the code (each a u64 length and its bytes) and the entry count.
    let mut at = options_at(&bytes) + 12;
    for _ in 0..2 {
        let len = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        at += 8 + len as usize;
    }
    assert!(field(&bytes, at) > 0, "the module has functions");
    let mut outside = bytes.clone();
    set_field(&mut outside, at + 4, u32::MAX - 16);
    let err = Module::deserialize_checked(&engine, &outside).unwrap_err();
    assert_refused(&err, "inconsistent module code tables");
    assert_eq!(err.kind(), ErrorKind::Incompatible);
    let mut fewer = bytes.clone();
    set_field(&mut fewer, at, field(&bytes, at) - 1);
    let err = Module::deserialize_checked(&engine, &fewer).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Incompatible, "{err}");
}

#[test]
fn backtrace_sites_beyond_the_code_are_refused() {
    let engine = Engine::default();
    let bytes = small_serialized(&engine);
    // After the code: the function entries, the function layout, then
    // the backtrace sites (a count and (code offset, module offset)
    // pairs, ascending).
    let mut at = options_at(&bytes) + 12;
    let retained = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    at += 8 + retained as usize;
    let code_len = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as u32;
    at += 8 + code_len as usize;
    at += 4 + 4 * field(&bytes, at) as usize;
    at += 4 + 8 * field(&bytes, at) as usize;
    let sites = field(&bytes, at) as usize;
    assert!(sites >= 2, "the module has calls");
    let last = at + 4 + 8 * (sites - 1);
    // The last site at the code's end is in range; one byte beyond is not.
    let mut at_end = bytes.clone();
    set_field(&mut at_end, last, code_len);
    Module::deserialize_checked(&engine, &at_end).unwrap();
    let mut beyond = bytes.clone();
    set_field(&mut beyond, last, code_len + 1);
    let err = Module::deserialize_checked(&engine, &beyond).unwrap_err();
    assert_refused(&err, "inconsistent module code tables");
    // An earlier one beyond it breaks the order.
    let mut earlier = bytes.clone();
    set_field(&mut earlier, last - 8, code_len + 1);
    let err = Module::deserialize_checked(&engine, &earlier).unwrap_err();
    assert_refused(&err, "inconsistent module code tables");
}

#[test]
fn type_id_sites_hold_the_placeholder_and_are_checked() {
    // One `call_indirect`, so one type-id site; no name section, so the
    // file ends with that site table, an empty table of exception
    // handlers, the unwind information of the one function and an empty
    // name table.
    let wasm = wat::parse_str(
        r#"(module
            (type $t (func (result i32)))
            (table 1 funcref)
            (func (export "call") (result i32) (call_indirect (type $t) (i32.const 0))))"#,
    )
    .unwrap();
    let engine = Engine::default();
    let bytes = Module::new(&engine, wasm).unwrap().serialize().unwrap();
    let end = bytes.len();
    assert_eq!(field(&bytes, end - 4), 0, "no names");
    assert_eq!(
        field(&bytes, end - 12),
        1,
        "one function's unwind information"
    );
    assert_eq!(field(&bytes, end - 16), 0, "no exception handlers");
    let sites_at = end - 16 - 12;
    assert_eq!(field(&bytes, sites_at), 1, "one type-id site");
    let (site, type_index) = (field(&bytes, sites_at + 4), field(&bytes, sites_at + 8));
    assert_eq!(type_index, 0);
    // The serialized code holds the placeholder there, whatever the ids
    // of the engine that wrote it.
    let mut at = options_at(&bytes) + 12;
    let retained = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    at += 8 + retained as usize + 8;
    assert_eq!(field(&bytes, at + site as usize), i32::MAX as u32);

    let mut outside = bytes.clone();
    let code_len = u64::from_le_bytes(bytes[at - 8..at].try_into().unwrap()) as u32;
    set_field(&mut outside, sites_at + 4, code_len - 2);
    let err = Module::deserialize_checked(&engine, &outside).unwrap_err();
    assert_refused(&err, "inconsistent module code tables");
    let mut unknown_type = bytes.clone();
    set_field(&mut unknown_type, sites_at + 8, 1);
    let err = Module::deserialize_checked(&engine, &unknown_type).unwrap_err();
    assert_refused(&err, "inconsistent module code tables");
}

#[test]
fn deserialize_of_an_unaltered_file() {
    let engine = Engine::default();
    let bytes = small_serialized(&engine);
    // SAFETY: written by `serialize` just above.
    let module = unsafe { Module::deserialize(&engine, &bytes) }.unwrap();
    assert_eq!(exercise_rich(&engine, &module)[1], "dispatch 1 10 = Ok(9)");
    let mut store = Store::new(&engine, ());
    let twice = wasmkern::Func::wrap(&mut store, |x: i32| x * 2);
    let inst = Instance::new(&mut store, &module, &[twice.into()]).unwrap();
    let answer = inst.get_global(&mut store, "answer").unwrap();
    assert!(matches!(answer.get(&mut store), Val::I32(42)));
}

/// A fresh directory for one cache test.
fn cache_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("wasmkern-cache-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn files_in(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn the_cache_keeps_and_reuses_compiled_modules() {
    let dir = cache_dir("reuse");
    let engine = Engine::new(Config::new().cache_dir(&dir)).unwrap();
    let wasm = rich_wasm();
    let first = Module::new(&engine, &wasm).unwrap();
    let files = files_in(&dir);
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].extension().is_some_and(|e| e == "cwasm"));
    assert_eq!(
        std::fs::read(&files[0]).unwrap(),
        first.serialize().unwrap()
    );

    // The next compilation of the same bytes loads the file: put another
    // module's (valid) serialization there and it is what comes back.
    let other = wat::parse_str(r#"(module (func (export "other")))"#).unwrap();
    let other_bytes = Module::new(&Engine::default(), other)
        .unwrap()
        .serialize()
        .unwrap();
    std::fs::write(&files[0], &other_bytes).unwrap();
    let engine2 = Engine::new(Config::new().cache_dir(&dir)).unwrap();
    let cached = Module::new(&engine2, &wasm).unwrap();
    assert!(
        cached.get_export("other").is_some(),
        "the cache was not read"
    );

    // A damaged file is compiled again and replaced.
    let mut damaged = std::fs::read(&files[0]).unwrap();
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0x40;
    std::fs::write(&files[0], &damaged).unwrap();
    let again = Module::new(&engine2, &wasm).unwrap();
    assert!(again.get_export("dispatch").is_some());
    assert_eq!(
        exercise_rich(&engine2, &again),
        exercise_rich(&engine, &first)
    );
    assert_eq!(
        std::fs::read(&files[0]).unwrap(),
        first.serialize().unwrap()
    );

    // Other settings, other file; other bytes, other file.
    let fuel = Engine::new(Config::new().cache_dir(&dir).consume_fuel(true)).unwrap();
    Module::new(&fuel, &wasm).unwrap();
    assert_eq!(files_in(&dir).len(), 2);
    Module::new(&engine, wat::parse_str("(module)").unwrap()).unwrap();
    assert_eq!(files_in(&dir).len(), 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn concurrent_processes_share_the_cache() {
    // Threads with engines of their own stand in for processes: the writes
    // race, each rename is atomic, no reader sees a partial file.
    let dir = cache_dir("concurrent");
    let wasm =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/workloads/sort.wasm"))
            .unwrap();
    let reference = Engine::default();
    let expected = run(&reference, &Module::new(&reference, &wasm).unwrap());
    std::thread::scope(|s| {
        for _ in 0..6 {
            s.spawn(|| {
                for _ in 0..3 {
                    let engine = Engine::new(Config::new().cache_dir(&dir)).unwrap();
                    let module = Module::new(&engine, &wasm).unwrap();
                    assert!(module.get_export("run").is_some());
                }
            });
        }
    });
    let files = files_in(&dir);
    assert_eq!(files.len(), 1, "temporary files left: {files:?}");
    let engine = Engine::default();
    let bytes = std::fs::read(&files[0]).unwrap();
    let loaded = Module::deserialize_checked(&engine, bytes).unwrap();
    assert_eq!(run(&engine, &loaded), expected);
    std::fs::remove_dir_all(&dir).unwrap();
}
