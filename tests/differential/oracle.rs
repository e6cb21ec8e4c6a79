//! The differential oracle: runs one module on wasmkern and on wasmi and
//! reports the first disagreement. Shared by `tests/differential.rs` and the
//! `differential` fuzz target (which includes this file with `#[path]`).
//!
//! # Comparison rules
//! - **Modules** come from wasm-smith ([`smith_config`]): WebAssembly 2.0
//!   (SIMD only when asked), no imports, every item exported, NaNs
//!   canonicalized by wasm-smith, memories and tables with a small declared
//!   maximum (so `memory.grow` stays cheap on both engines). Half of the
//!   modules also get wasm-smith's `ensure_termination` fuel counter (a trap
//!   after a fixed number of loop iterations and calls), so looping code is
//!   still compared instead of skipped.
//! - **Compilation.** wasmkern must accept every module wasmparser (2.0 +
//!   SIMD) accepts; "not supported by the compiler" errors are counted as
//!   skipped (none since SIMD compiles), any other error is a finding.
//! - **Instantiation** (segments and the start function): both succeed, or
//!   both fail; when both fail with a trap the trap kinds must match.
//! - **Calls.** Every exported function is called [`CALLS_PER_EXPORT`] times,
//!   in export order, with the same arguments on both engines (derived from
//!   the seed: boundary values and random bits). wasmi runs first with
//!   [`FUEL`] units of fuel; if it runs out, wasmkern (which has no fuel) is
//!   not run and the rest of the module is skipped (the states diverged).
//!   Results must agree: integers and `v128` bitwise, floats bitwise except
//!   that any NaN equals any NaN, references by null-ness. Traps must agree
//!   by kind ([`TrapKind`]: wasmkern's "undefined element" is wasmi's "table
//!   out of bounds", "uninitialized element" is "indirect call to null").
//! - **Stack exhaustion.** wasmkern runs with the smallest wasm stack
//!   (64 KiB), wasmi with its default limits; their depths differ, so when
//!   either engine reports stack exhaustion the call is not compared (both
//!   exhausted, or only one, are counted separately) and the rest of the
//!   module is skipped.
//! - **State.** After instantiation and after every compared call (trap or
//!   not), every exported memory must have the same size and bytes, every
//!   exported global the same value (rules as for results), every exported
//!   table the same size and the same null-ness per element.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use arbitrary::Unstructured;

/// wasmi fuel for instantiation and for each call.
pub const FUEL: u64 = 100_000;
/// Calls of each exported function.
pub const CALLS_PER_EXPORT: usize = 2;
/// wasm-smith's `ensure_termination` budget (loop iterations plus calls).
pub const TERMINATION_FUEL: u32 = 2_000;

/// SplitMix64: a tiny, well-mixed, deterministic generator.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// wasm-smith's configuration for differential runs.
pub fn smith_config(simd: bool) -> wasm_smith::Config {
    wasm_smith::Config {
        multi_value_enabled: true,
        reference_types_enabled: true,
        bulk_memory_enabled: true,
        sign_extension_ops_enabled: true,
        saturating_float_to_int_enabled: true,
        simd_enabled: simd,
        max_tables: 4,
        max_memories: 1,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        tail_call_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        memory64_enabled: false,
        relaxed_simd_enabled: false,
        custom_page_sizes_enabled: false,
        wide_arithmetic_enabled: false,
        extended_const_enabled: false,
        compact_imports_enabled: false,
        custom_descriptors_enabled: false,
        allow_invalid_funcs: false,
        // What makes runs comparable and cheap.
        export_everything: true,
        canonicalize_nans: true,
        min_types: 1,
        min_funcs: 1,
        max_funcs: 20,
        max_imports: 0,
        min_imports: 0,
        memory_max_size_required: true,
        max_memory32_bytes: 4 << 16,
        table_max_size_required: true,
        max_table_elements: 200,
        ..wasm_smith::Config::default()
    }
}

/// A wasm-smith module from `u`; with `terminate`, loops and calls are
/// bounded by `ensure_termination`.
pub fn generate(u: &mut Unstructured<'_>, simd: bool, terminate: bool) -> Option<Vec<u8>> {
    let mut module = wasm_smith::Module::new(smith_config(simd), u).ok()?;
    if terminate {
        module.ensure_termination(TERMINATION_FUEL).ok()?;
    }
    Some(module.to_bytes())
}

/// Counts of a differential run.
#[derive(Default, Debug)]
pub struct Stats {
    /// Modules given to [`check`].
    pub modules: u64,
    /// Modules instantiated on both engines and compared.
    pub compared: u64,
    /// Calls compared.
    pub calls: u64,
    /// Calls that trapped (on both engines, with the same kind).
    pub traps: u64,
    /// Why modules (or their remaining calls) were skipped.
    pub skipped: BTreeMap<&'static str, u64>,
}

impl Stats {
    fn skip(&mut self, reason: &'static str) {
        *self.skipped.entry(reason).or_default() += 1;
    }

    /// Adds `other` to `self`.
    pub fn add(&mut self, other: &Stats) {
        self.modules += other.modules;
        self.compared += other.compared;
        self.calls += other.calls;
        self.traps += other.traps;
        for (k, v) in &other.skipped {
            *self.skipped.entry(k).or_default() += v;
        }
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} modules, {} compared, {} calls ({} trapped alike)",
            self.modules, self.compared, self.calls, self.traps
        )?;
        for (reason, n) in &self.skipped {
            write!(f, "; {reason}: {n}")?;
        }
        Ok(())
    }
}

/// A trap, in words both engines can be mapped to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrapKind {
    Unreachable,
    MemoryOutOfBounds,
    DivideByZero,
    IntegerOverflow,
    BadConversion,
    TableOutOfBounds,
    IndirectCallToNull,
    SignatureMismatch,
    StackOverflow,
    OutOfFuel,
    /// Anything else (a non-trap error): its message.
    Other(String),
}

fn kern_trap(e: &wasmkern::Error) -> TrapKind {
    use wasmkern::Trap;
    match e.trap() {
        Some(Trap::Unreachable) => TrapKind::Unreachable,
        Some(Trap::MemoryOutOfBounds) => TrapKind::MemoryOutOfBounds,
        Some(Trap::IntegerDivideByZero) => TrapKind::DivideByZero,
        Some(Trap::IntegerOverflow) => TrapKind::IntegerOverflow,
        Some(Trap::InvalidConversionToInteger) => TrapKind::BadConversion,
        Some(Trap::UndefinedElement | Trap::TableOutOfBounds) => TrapKind::TableOutOfBounds,
        Some(Trap::UninitializedElement | Trap::NullReference) => TrapKind::IndirectCallToNull,
        Some(Trap::IndirectCallTypeMismatch) => TrapKind::SignatureMismatch,
        Some(Trap::StackOverflow) => TrapKind::StackOverflow,
        None => TrapKind::Other(format!("{:?}: {e}", e.kind())),
    }
}

fn wasmi_trap(e: &wasmi::Error) -> TrapKind {
    use wasmi::TrapCode as T;
    match e.as_trap_code() {
        Some(T::UnreachableCodeReached) => TrapKind::Unreachable,
        Some(T::MemoryOutOfBounds) => TrapKind::MemoryOutOfBounds,
        Some(T::IntegerDivisionByZero) => TrapKind::DivideByZero,
        Some(T::IntegerOverflow) => TrapKind::IntegerOverflow,
        Some(T::BadConversionToInteger) => TrapKind::BadConversion,
        Some(T::TableOutOfBounds) => TrapKind::TableOutOfBounds,
        Some(T::IndirectCallToNull) => TrapKind::IndirectCallToNull,
        Some(T::BadSignature) => TrapKind::SignatureMismatch,
        Some(T::StackOverflow) => TrapKind::StackOverflow,
        Some(T::OutOfFuel) => TrapKind::OutOfFuel,
        _ => TrapKind::Other(e.to_string()),
    }
}

/// A value, in words both engines can be mapped to.
#[derive(Clone, Copy, Debug)]
pub enum Value {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    V128(u128),
    /// A reference: only null-ness is compared.
    Ref {
        null: bool,
    },
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        use Value::*;
        match (*self, *other) {
            (I32(a), I32(b)) => a == b,
            (I64(a), I64(b)) => a == b,
            (F32(a), F32(b)) => {
                a == b || (f32::from_bits(a).is_nan() && f32::from_bits(b).is_nan())
            }
            (F64(a), F64(b)) => {
                a == b || (f64::from_bits(a).is_nan() && f64::from_bits(b).is_nan())
            }
            (V128(a), V128(b)) => a == b,
            (Ref { null: a }, Ref { null: b }) => a == b,
            _ => false,
        }
    }
}

fn from_kern(v: &wasmkern::Val) -> Value {
    use wasmkern::Val as K;
    match *v {
        K::I32(x) => Value::I32(x),
        K::I64(x) => Value::I64(x),
        K::F32(x) => Value::F32(x),
        K::F64(x) => Value::F64(x),
        K::V128(x) => Value::V128(x),
        K::FuncRef(r) => Value::Ref { null: r.is_none() },
        K::ExternRef(r) => Value::Ref { null: r.is_none() },
    }
}

fn from_wasmi(v: &wasmi::Val) -> Value {
    use wasmi::Val as W;
    match v {
        W::I32(x) => Value::I32(*x),
        W::I64(x) => Value::I64(*x),
        W::F32(x) => Value::F32(x.to_bits()),
        W::F64(x) => Value::F64(x.to_bits()),
        W::V128(x) => Value::V128(x.as_u128()),
        W::FuncRef(r) => Value::Ref { null: r.is_null() },
        W::ExternRef(r) => Value::Ref { null: r.is_null() },
    }
}

fn to_wasmi(v: &wasmkern::Val) -> wasmi::Val {
    use wasmkern::Val as K;
    match *v {
        K::I32(x) => wasmi::Val::I32(x),
        K::I64(x) => wasmi::Val::I64(x),
        K::F32(x) => wasmi::Val::F32(wasmi::F32::from_bits(x)),
        K::F64(x) => wasmi::Val::F64(wasmi::F64::from_bits(x)),
        K::V128(x) => wasmi::Val::V128(wasmi::V128::from(x)),
        // Only null references are passed as arguments.
        K::FuncRef(_) => wasmi::Val::FuncRef(wasmi::Nullable::Null),
        K::ExternRef(_) => wasmi::Val::ExternRef(wasmi::Nullable::Null),
    }
}

/// An argument of type `ty`: a boundary value or random bits.
fn arg(rng: &mut Rng, ty: wasmkern::ValType) -> wasmkern::Val {
    use wasmkern::{Val, ValType};
    const INTS: [i64; 14] = [
        0,
        1,
        -1,
        2,
        7,
        0x7f,
        0x80,
        0xffff,
        0x1_0000,
        i32::MIN as i64,
        i32::MAX as i64,
        u32::MAX as i64,
        i64::MIN,
        i64::MAX,
    ];
    const F64S: [f64; 14] = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -1.5,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MAX,
        f64::MIN_POSITIVE,
        2147483648.0,
        -2147483649.0,
        18446744073709551616.0,
    ];
    let boundary = rng.below(2) == 0;
    let bits = rng.next();
    let pick = rng.below(INTS.len());
    match ty {
        ValType::I32 => Val::I32(if boundary {
            INTS[pick] as i32
        } else {
            bits as i32
        }),
        ValType::I64 => Val::I64(if boundary { INTS[pick] } else { bits as i64 }),
        ValType::F32 => Val::F32(if boundary {
            (F64S[pick] as f32).to_bits()
        } else {
            bits as u32
        }),
        ValType::F64 => Val::F64(if boundary { F64S[pick].to_bits() } else { bits }),
        ValType::V128 => Val::V128(u128::from(bits) << 64 | u128::from(rng.next())),
        ValType::FuncRef => Val::FuncRef(None),
        ValType::ExternRef => Val::ExternRef(None),
    }
}

/// Either results or a trap.
#[derive(Debug, PartialEq)]
enum Outcome {
    Values(Vec<Value>),
    Trap(TrapKind),
}

/// wasmkern's engine: explicit bounds checks, or guard regions (half of
/// the modules run with each, chosen by [`guard_regions_for`]).
fn kern_engine(guard_regions: bool) -> &'static wasmkern::Engine {
    static ENGINES: OnceLock<[wasmkern::Engine; 2]> = OnceLock::new();
    let engines = ENGINES.get_or_init(|| {
        [false, true].map(|guard| {
            let mut config = wasmkern::Config::new();
            config
                .max_wasm_stack(wasmkern::runtime::MIN_MAX_WASM_STACK)
                .guard_regions(guard);
            if std::env::var("WASMKERN_CPU_BASELINE").is_ok_and(|v| v == "1") {
                config.cpu_features(wasmkern::CpuFeatures::sse41_baseline()); // every fallback
            }
            wasmkern::Engine::new(&config).expect("wasmkern engine")
        })
    });
    &engines[usize::from(guard_regions)]
}

/// Whether the module `bytes` runs with guard regions: a deterministic
/// half of all modules.
fn guard_regions_for(bytes: &[u8]) -> bool {
    bytes.iter().fold(0u8, |acc, b| acc ^ b) & 1 == 1
}

fn wasmi_engine() -> &'static wasmi::Engine {
    static ENGINE: OnceLock<wasmi::Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = wasmi::Config::default();
        config
            .consume_fuel(true)
            .compilation_mode(wasmi::CompilationMode::Eager)
            .wasm_tail_call(false)
            .wasm_extended_const(false)
            .wasm_multi_memory(false)
            .wasm_memory64(false)
            .wasm_relaxed_simd(false);
        wasmi::Engine::new(&config)
    })
}

/// True for wasmkern's "not supported by the compiler" errors.
pub fn unsupported(e: &wasmkern::Error) -> bool {
    e.kind() == wasmkern::ErrorKind::Limit && e.message().contains("not supported by the compiler")
}

/// Both engines' live instance of one module.
struct Pair {
    kern: wasmkern::Store<()>,
    kern_instance: wasmkern::Instance,
    wasmi: wasmi::Store<()>,
    wasmi_instance: wasmi::Instance,
}

impl Pair {
    /// The first difference of the exported state, if any.
    fn state_difference(&self) -> Option<String> {
        for (name, ext) in self.kern_instance.exports(&self.kern) {
            let theirs = self.wasmi_instance.get_export(&self.wasmi, &name);
            match (ext, theirs) {
                (wasmkern::Extern::Func(_), Some(wasmi::Extern::Func(_))) => {}
                (wasmkern::Extern::Memory(m), Some(wasmi::Extern::Memory(w))) => {
                    let (a, b) = (m.data(&self.kern), w.data(&self.wasmi));
                    if a.len() != b.len() {
                        return Some(format!(
                            "memory `{name}`: {} bytes on wasmkern, {} on wasmi",
                            a.len(),
                            b.len()
                        ));
                    }
                    if let Some(i) = a.iter().zip(b).position(|(x, y)| x != y) {
                        let end = (i + 16).min(a.len());
                        return Some(format!(
                            "memory `{name}` differs at {i:#x}: wasmkern {:02x?}, wasmi {:02x?}",
                            &a[i..end],
                            &b[i..end]
                        ));
                    }
                }
                (wasmkern::Extern::Global(g), Some(wasmi::Extern::Global(w))) => {
                    let (a, b) = (
                        from_kern(&g.get(&self.kern)),
                        from_wasmi(&w.get(&self.wasmi)),
                    );
                    if a != b {
                        return Some(format!("global `{name}`: wasmkern {a:?}, wasmi {b:?}"));
                    }
                }
                (wasmkern::Extern::Table(t), Some(wasmi::Extern::Table(w))) => {
                    let (n, m) = (t.size(&self.kern), w.size(&self.wasmi));
                    if u64::from(n) != m {
                        return Some(format!(
                            "table `{name}`: {n} elements on wasmkern, {m} on wasmi"
                        ));
                    }
                    for i in 0..n {
                        let a = t.get(&self.kern, i).map(|v| v.is_null());
                        let b = w.get(&self.wasmi, u64::from(i)).map(|r| r.is_null());
                        if a != b {
                            return Some(format!(
                                "table `{name}`[{i}]: null on wasmkern {a:?}, on wasmi {b:?}"
                            ));
                        }
                    }
                }
                (ours, theirs) => {
                    return Some(format!(
                        "export `{name}`: wasmkern has {ours:?}, wasmi {theirs:?}"
                    ));
                }
            }
        }
        None
    }
}

/// Instantiates both modules. `Ok(None)` when the comparison must be
/// skipped (counted in `stats`).
fn instantiate(
    kern_module: &wasmkern::Module,
    wasmi_module: &wasmi::Module,
    stats: &mut Stats,
) -> Result<Option<Pair>, String> {
    let mut wstore = wasmi::Store::new(wasmi_engine(), ());
    wstore.set_fuel(FUEL).expect("fuel is enabled");
    let wasmi_instance = wasmi::Instance::new(&mut wstore, wasmi_module, &[]);
    if let Err(e) = &wasmi_instance {
        match wasmi_trap(e) {
            TrapKind::OutOfFuel => {
                stats.skip("start function: wasmi out of fuel");
                return Ok(None);
            }
            TrapKind::StackOverflow => {
                stats.skip("start function: stack exhausted");
                return Ok(None);
            }
            _ => {}
        }
    }
    let mut kstore = wasmkern::Store::new(kern_module.engine(), ());
    let kern_instance = wasmkern::Instance::new(&mut kstore, kern_module, &[]);
    let (kern_instance, wasmi_instance) = match (kern_instance, wasmi_instance) {
        (Ok(k), Ok(w)) => (k, w),
        (Err(k), Err(w)) => {
            let (k, w) = (kern_trap(&k), wasmi_trap(&w));
            return match (&k, &w) {
                (TrapKind::StackOverflow, _) => {
                    stats.skip("start function: stack exhausted");
                    Ok(None)
                }
                (TrapKind::Other(_), _) | (_, TrapKind::Other(_)) => {
                    stats.skip("instantiation failed on both");
                    Ok(None)
                }
                _ if k == w => {
                    stats.skip("instantiation trapped alike on both");
                    Ok(None)
                }
                _ => Err(format!("instantiation: wasmkern {k:?}, wasmi {w:?}")),
            };
        }
        (Ok(_), Err(w)) => {
            return Err(format!(
                "instantiation: wasmkern succeeds, wasmi fails with {w}"
            ));
        }
        (Err(k), Ok(_)) => {
            if kern_trap(&k) == TrapKind::StackOverflow {
                stats.skip("start function: stack exhausted");
                return Ok(None);
            }
            return Err(format!(
                "instantiation: wasmkern fails with {k} ({:?}), wasmi succeeds",
                kern_trap(&k)
            ));
        }
    };
    let pair = Pair {
        kern: kstore,
        kern_instance,
        wasmi: wstore,
        wasmi_instance,
    };
    if let Some(d) = pair.state_difference() {
        return Err(format!("after instantiation: {d}"));
    }
    Ok(Some(pair))
}

/// Runs `bytes` on both engines with arguments from `arg_seed`; `Err` is
/// a disagreement, described.
pub fn check(bytes: &[u8], arg_seed: u64, stats: &mut Stats) -> Result<(), String> {
    stats.modules += 1;
    let mut features = wasmparser::WasmFeatures::WASM2;
    features.insert(wasmparser::WasmFeatures::SIMD);
    if wasmparser::Validator::new_with_features(features)
        .validate_all(bytes)
        .is_err()
    {
        stats.skip("invalid per wasmparser");
        return Ok(());
    }
    let kern_module = match wasmkern::Module::new(kern_engine(guard_regions_for(bytes)), bytes) {
        Ok(m) => m,
        Err(e) if unsupported(&e) => {
            stats.skip("not supported by the compiler");
            return Ok(());
        }
        Err(e) => return Err(format!("wasmkern rejects a valid module: {e}")),
    };
    let wasmi_module = match wasmi::Module::new(wasmi_engine(), bytes) {
        Ok(m) => m,
        Err(_) => {
            stats.skip("rejected by wasmi");
            return Ok(());
        }
    };

    let Some(mut pair) = instantiate(&kern_module, &wasmi_module, stats)? else {
        return Ok(());
    };
    stats.compared += 1;

    let mut rng = Rng(arg_seed);
    let names: Vec<String> = pair
        .kern_instance
        .exports(&pair.kern)
        .into_iter()
        .filter(|(_, e)| e.into_func().is_some())
        .map(|(name, _)| name)
        .collect();
    for round in 0..CALLS_PER_EXPORT {
        for name in &names {
            let (Some(kfunc), Some(wfunc)) = (
                pair.kern_instance.get_func(&pair.kern, name),
                pair.wasmi_instance.get_func(&pair.wasmi, name),
            ) else {
                return Err(format!("export `{name}` is a function on one engine only"));
            };
            let ty = kfunc.ty(&pair.kern);
            let args: Vec<wasmkern::Val> = ty.params().iter().map(|&t| arg(&mut rng, t)).collect();
            let call = format!("call {round} of `{name}`{args:?}");
            match call_both(&mut pair, kfunc, wfunc, &args) {
                Ok(ours) => {
                    stats.calls += 1;
                    if matches!(ours, Outcome::Trap(_)) {
                        stats.traps += 1;
                    }
                    if let Some(d) = pair.state_difference() {
                        return Err(format!("after {call} ({ours:?}): {d}"));
                    }
                }
                Err(Skip::Diverged(reason)) => {
                    // The instances' states may differ now: start afresh.
                    stats.skip(reason);
                    match instantiate(&kern_module, &wasmi_module, stats)? {
                        Some(fresh) => pair = fresh,
                        None => return Ok(()),
                    }
                }
                Err(Skip::Disagree(ours, theirs)) => {
                    return Err(format!("{call}: wasmkern {ours:?}, wasmi {theirs:?}"));
                }
            }
        }
    }
    Ok(())
}

/// Why a call was not compared.
enum Skip {
    /// Not comparable, and the states may now differ (the reason).
    Diverged(&'static str),
    /// The outcomes differ (wasmkern's, wasmi's).
    Disagree(Outcome, Outcome),
}

/// Calls the function on both engines (wasmi first, with fuel); the common
/// outcome.
fn call_both(
    pair: &mut Pair,
    kfunc: wasmkern::Func,
    wfunc: wasmi::Func,
    args: &[wasmkern::Val],
) -> Result<Outcome, Skip> {
    let wargs: Vec<wasmi::Val> = args.iter().map(to_wasmi).collect();
    pair.wasmi.set_fuel(FUEL).expect("fuel is enabled");
    let mut wresults: Vec<wasmi::Val> = wfunc
        .ty(&pair.wasmi)
        .results()
        .iter()
        .map(|&t| wasmi::Val::default_for_ty(t))
        .collect();
    let theirs = match wfunc.call(&mut pair.wasmi, &wargs, &mut wresults) {
        Ok(()) => Outcome::Values(wresults.iter().map(from_wasmi).collect()),
        Err(e) => Outcome::Trap(wasmi_trap(&e)),
    };
    if theirs == Outcome::Trap(TrapKind::OutOfFuel) {
        return Err(Skip::Diverged("calls skipped: wasmi out of fuel"));
    }

    let mut kresults: Vec<wasmkern::Val> = kfunc
        .ty(&pair.kern)
        .results()
        .iter()
        .map(|&t| wasmkern::Val::default_for(t))
        .collect();
    let ours = match kfunc.call(&mut pair.kern, args, &mut kresults) {
        Ok(()) => Outcome::Values(kresults.iter().map(from_kern).collect()),
        Err(e) => Outcome::Trap(kern_trap(&e)),
    };

    let overflow = Outcome::Trap(TrapKind::StackOverflow);
    match (ours == overflow, theirs == overflow) {
        (true, true) => Err(Skip::Diverged("calls skipped: stack exhausted on both")),
        (true, false) => Err(Skip::Diverged(
            "calls skipped: stack exhausted on wasmkern only",
        )),
        (false, true) => Err(Skip::Diverged(
            "calls skipped: stack exhausted on wasmi only",
        )),
        (false, false) if ours == theirs => Ok(ours),
        (false, false) => Err(Skip::Disagree(ours, theirs)),
    }
}

/// The module as WAT, for reports.
pub fn wat(bytes: &[u8]) -> String {
    wasmprinter::print_bytes(bytes).unwrap_or_else(|e| format!("(wasmprinter failed: {e})"))
}
