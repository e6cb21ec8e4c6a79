//! The bodies of the fuzz targets, shared by the libFuzzer binaries in
//! `fuzz_targets/` and the bounded deterministic driver `tests/fuzz_smoke.rs`
//! (which CI runs). Each panics on a finding, with the module as WAT.
//!
//! The including crate declares `common` (`fuzz/common.rs`) and `oracle`
//! (`tests/differential/oracle.rs`) next to this module, and may set a
//! [`REFEREE`] for `differential`.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use super::{common, oracle};

/// `validate`: the input as a module, and a wasm-smith module built from
/// it (2.0 + SIMD + tail calls; arbitrary bytes as function bodies when the first byte
/// is odd): `wasmkern::validate` never panics and agrees with wasmparser.
pub fn validate(data: &[u8]) {
    common::check_verdict(data);
    let allow_invalid = data.first().is_some_and(|b| b & 1 == 1);
    let mut u = arbitrary::Unstructured::new(data);
    let Ok(module) = wasm_smith::Module::new(common::smith_config(allow_invalid), &mut u) else {
        return;
    };
    common::check_verdict(&module.to_bytes());
}

/// Valid modules `compile` saw, and how many compiled.
pub static COMPILE_RUNS: AtomicU64 = AtomicU64::new(0);
pub static COMPILED: AtomicU64 = AtomicU64::new(0);

fn compile_engine() -> &'static wasmkern::Engine {
    static ENGINE: std::sync::OnceLock<wasmkern::Engine> = std::sync::OnceLock::new();
    ENGINE.get_or_init(wasmkern::Engine::default)
}

/// `compile`: every valid wasm-smith module (2.0 + SIMD + tail calls) built from the
/// input compiles with `Module::new`, without a panic or an error (an
/// implementation limit is the only accepted error).
pub fn compile(data: &[u8]) {
    let mut u = arbitrary::Unstructured::new(data);
    let Ok(module) = wasm_smith::Module::new(common::smith_config(false), &mut u) else {
        return;
    };
    let bytes = module.to_bytes();
    if !common::wasmparser_accepts(&bytes) {
        return; // wasm-smith promised a valid module; `validate` covers this.
    }
    match wasmkern::Module::new(compile_engine(), &bytes) {
        Ok(_) => {
            COMPILED.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) if e.kind() == wasmkern::ErrorKind::Limit => {}
        Err(e) => panic!(
            "a valid module does not compile: {e}\n{}",
            wasmprinter::print_bytes(&bytes).unwrap_or_default()
        ),
    }
    let runs = COMPILE_RUNS.fetch_add(1, Ordering::Relaxed) + 1;
    if runs.is_power_of_two() {
        eprintln!(
            "compile: {runs} valid modules, {} compiled",
            COMPILED.load(Ordering::Relaxed)
        );
    }
}

/// The `differential` counts so far: inputs run, and the oracle's stats.
pub static DIFFERENTIAL: Mutex<Option<(u64, oracle::Stats)>> = Mutex::new(None);

/// A third engine that decides a disagreement: `true` when it did what
/// wasmkern did and not what wasmi did, so wasmi is the one wrong. Without
/// one (the libFuzzer binaries) every disagreement is a finding;
/// `tests/fuzz_smoke.rs` sets V8's (`tests/differential/v8.rs`).
pub static REFEREE: OnceLock<fn(&[u8], &oracle::Disagreement) -> bool> = OnceLock::new();

/// Disagreements [`REFEREE`] decided as wasmi bugs.
pub static WASMI_BUGS: AtomicU64 = AtomicU64::new(0);

/// `differential`: 8 bytes of argument seed, one byte of options (bit 0:
/// wasm-smith's `ensure_termination`; bits 1-2: 2.0 without SIMD, with
/// SIMD (two values), or with SIMD, extended constants and wide
/// arithmetic), then the bytes
/// wasm-smith builds the module from (with host imports). wasmkern and
/// wasmi must agree (`tests/differential/oracle.rs`).
pub fn differential(data: &[u8]) {
    let mut u = arbitrary::Unstructured::new(data);
    let Ok(arg_seed) = u.arbitrary::<u64>() else {
        return;
    };
    let Ok(options) = u.arbitrary::<u8>() else {
        return;
    };
    let flavor = match options >> 1 & 3 {
        0 => oracle::Flavor::Wasm2,
        1 | 2 => oracle::Flavor::Simd,
        _ => oracle::Flavor::Proposals,
    };
    let Some(bytes) = oracle::generate(&mut u, flavor, options & 1 != 0) else {
        return;
    };
    let mut stats = oracle::Stats::default();
    if let Err(e) = oracle::check(&bytes, arg_seed, &mut stats) {
        if REFEREE
            .get()
            .is_some_and(|wasmi_is_wrong| wasmi_is_wrong(&bytes, &e))
        {
            WASMI_BUGS.fetch_add(1, Ordering::Relaxed);
            eprintln!("differential: V8 sides with wasmkern, a wasmi bug: {e}");
            return;
        }
        panic!("wasmkern and wasmi disagree: {e}\n{}", oracle::wat(&bytes));
    }
    let mut total = DIFFERENTIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (runs, sum) = total.get_or_insert_with(Default::default);
    *runs += 1;
    sum.add(&stats);
    if runs.is_power_of_two() {
        eprintln!("differential: {sum}");
    }
}

/// Loads `load` saw: edited files, and those accepted after the edit.
pub static LOAD_RUNS: AtomicU64 = AtomicU64::new(0);
pub static LOADED: AtomicU64 = AtomicU64::new(0);

/// The serialized modules `load` edits, made by this build (so a new
/// format or ABI never leaves the target fuzzing only the header check).
fn load_bases() -> &'static (wasmkern::Engine, Vec<Vec<u8>>) {
    static BASES: OnceLock<(wasmkern::Engine, Vec<Vec<u8>>)> = OnceLock::new();
    BASES.get_or_init(|| {
        let engine = wasmkern::Engine::default();
        let modules = [
            "(module)",
            r#"(module
                (import "env" "f" (func $f (param i32) (result i32)))
                (memory (export "m") 1 2)
                (data (i32.const 8) "data")
                (data "passive")
                (table 3 funcref)
                (elem (i32.const 0) $a $b $f)
                (global $g (mut i64) (i64.const 5))
                (global (export "g") i32 (i32.const 1))
                (func $a (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
                (func $b (param i32) (result i32)
                    (call_indirect (param i32) (result i32) (local.get 0) (local.get 0)))
                (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
                (func $trap (export "trap") (result i32) (i32.div_u (i32.const 1) (i32.const 0))))"#,
            r#"(module (func $fac (export "fac") (param i64) (result i64)
                local.get 0 i64.eqz
                if (result i64) i64.const 1
                else local.get 0 local.get 0 i64.const 1 i64.sub call $fac i64.mul end))"#,
        ];
        let bases = modules
            .iter()
            .map(|wat| {
                let wasm = wat::parse_str(wat).expect("a valid module");
                let module = wasmkern::Module::new(&engine, wasm).expect("it compiles");
                module.serialize().expect("it serializes")
            })
            .collect();
        (engine, bases)
    })
}

/// The SHA-256 and length fields of an edited serialized module, made
/// right again (the layout of `src/runtime/serialize.rs`).
fn reseal(bytes: &mut [u8]) {
    if bytes.len() < 52 {
        return;
    }
    let len = bytes.len() as u64;
    bytes[12..20].copy_from_slice(&len.to_le_bytes());
    let mut h = wasmkern::sha256::Sha256::new();
    h.update(&bytes[..20]);
    h.update(&bytes[52..]);
    let digest = h.finish();
    bytes[20..52].copy_from_slice(&digest);
}

/// `load`: `Module::deserialize_checked` never panics, on the input itself
/// and on a serialized module edited by the input (byte 0 picks the
/// module and, with its top bit clear, has the length and checksum
/// recomputed after the edits, so the loader's own checks meet them; each
/// further 4 bytes are an edit: kind, 16-bit position, value). Refusals
/// are `ErrorKind::Incompatible`; an accepted module serializes again to a
/// file that loads to the same bytes. Nothing loaded is run.
pub fn load(data: &[u8]) {
    let (engine, bases) = load_bases();
    let check = |bytes: &[u8]| match wasmkern::Module::deserialize_checked(engine, bytes) {
        Ok(module) => {
            let again = module.serialize().expect("a loaded module serializes");
            let reloaded = wasmkern::Module::deserialize_checked(engine, &again)
                .expect("a loaded module's serialization loads");
            assert_eq!(reloaded.serialize().expect("it serializes"), again);
            true
        }
        Err(e) => {
            assert_eq!(
                e.kind(),
                wasmkern::ErrorKind::Incompatible,
                "refused as {e}"
            );
            false
        }
    };
    check(data);
    let Some((&pick, edits)) = data.split_first() else {
        return;
    };
    let mut bytes = bases[(pick & 0x7f) as usize % bases.len()].clone();
    for edit in edits.chunks_exact(4) {
        let at = usize::from(u16::from_le_bytes([edit[1], edit[2]])) % (bytes.len() + 1);
        match edit[0] % 4 {
            0 if at < bytes.len() => bytes[at] = edit[3],
            1 if at < bytes.len() => bytes[at] ^= 1 << (edit[3] % 8),
            2 => bytes.insert(at, edit[3]),
            _ if edit[3] < 8 => bytes.truncate(at),
            _ => {}
        }
    }
    if pick & 0x80 == 0 {
        reseal(&mut bytes);
    }
    LOAD_RUNS.fetch_add(1, Ordering::Relaxed);
    if check(&bytes) {
        LOADED.fetch_add(1, Ordering::Relaxed);
    }
}
