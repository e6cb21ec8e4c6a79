//! The differential oracle: runs one module on wasmkern and on wasmi and
//! reports the first disagreement, with what a third engine needs to replay
//! it ([`Disagreement`]). Shared by `tests/differential.rs` and the
//! `differential` fuzz target (which includes this file with `#[path]`).
//!
//! # Comparison rules
//! - **Modules** come from wasm-smith ([`smith_config`]): WebAssembly 2.0
//!   (SIMD and the features of [`Flavor`] only when asked), every item exported, NaNs canonicalized by
//!   wasm-smith, memories and tables with a small declared maximum (so
//!   `memory.grow` stays cheap on both engines), and imports of host
//!   functions drawn from [`HOST_IMPORTS`]. Half of the modules also get
//!   wasm-smith's `ensure_termination` fuel counter (a trap after a fixed
//!   number of loop iterations and calls), so looping code is still
//!   compared instead of skipped.
//! - **Relaxed SIMD** ([`Flavor::Proposals`]): wasmkern runs the module as
//!   generated; wasmi (and V8 when it decides) run it with every relaxed
//!   operator rewritten into the standard SIMD sequence that computes
//!   wasmkern's documented choice exactly ([`relaxed`]), so the results
//!   compare bit for bit like any other.
//! - **Host functions.** Every imported function is a fresh host function
//!   on each engine that logs its name and arguments and returns values
//!   derived only from how many host calls the instance made
//!   ([`host_result`]); one call in about 29 fails with a host error
//!   instead. The logs must be equal after instantiation and after every
//!   call.
//! - **Compilation.** wasmkern must compile every module wasmparser (2.0 +
//!   SIMD) accepts; any error is a finding.
//! - **Instantiation** (segments and the start function): both succeed, or
//!   both fail; when both fail with a trap the trap kinds must match.
//! - **Calls.** Every exported function is called [`CALLS_PER_EXPORT`] times,
//!   in export order, with the same arguments on both engines (derived from
//!   the seed: boundary values, random bits, exported functions and host
//!   values as references; NaN arguments are the canonical NaN, so that a
//!   third engine reached through JavaScript gets the same bits).
//! - **Fuel.** Both engines meter: wasmi runs first with [`FUEL`]; if it
//!   runs out the call is not compared (wasmkern does not run it, the
//!   rest of the module is run on fresh instances). wasmkern runs with
//!   [`KERN_FUEL`], a hundred times more, so that it runs out only if it
//!   loops where wasmi did not: counted as a one-sided skip, which the test
//!   bounds. Nothing hangs.
//! - **Results** must agree: integers and `v128` bitwise, floats bitwise
//!   except that any NaN equals any NaN, references by identity (a funcref
//!   by the export name of its function, an externref by the host value it
//!   holds). Traps must agree by kind ([`TrapKind`]: wasmkern's "undefined
//!   element" is wasmi's "table out of bounds", "uninitialized element" is
//!   "indirect call to null").
//! - **Stack exhaustion.** wasmkern runs with the smallest wasm stack
//!   (64 KiB), wasmi with its default limits; their depths differ, so when
//!   either engine reports stack exhaustion the call is not compared (both
//!   exhausted, or only one, are counted separately: the test bounds the
//!   one-sided counts) and the rest of the module runs on fresh instances.
//! - **State.** After instantiation and after every compared call (trap or
//!   not), every exported memory must have the same size and bytes, every
//!   exported global the same value (rules as for results), every exported
//!   table the same size and the same reference per element.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex, OnceLock};

use arbitrary::Unstructured;

#[path = "../common/rng.rs"]
mod rng;
pub use rng::Rng;
#[path = "relaxed.rs"]
pub mod relaxed;

/// wasmi fuel for instantiation and for each call.
pub const FUEL: u64 = 100_000;
/// wasmkern fuel for instantiation and for each call: enough that only a
/// call looping where wasmi's ended runs out.
pub const KERN_FUEL: u64 = 100 * FUEL;
/// Calls of each exported function.
pub const CALLS_PER_EXPORT: usize = 2;
/// wasm-smith's `ensure_termination` budget (loop iterations plus calls).
pub const TERMINATION_FUEL: u32 = 2_000;
/// The message of the host functions' errors.
pub const HOST_ERROR: &str = "differential host error";

/// The scalar types host functions take and return (no `v128`, which
/// JavaScript cannot pass, and no references).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostType {
    I32,
    I64,
    F32,
    F64,
}

impl HostType {
    fn kern(self) -> wasmkern::ValType {
        match self {
            HostType::I32 => wasmkern::ValType::I32,
            HostType::I64 => wasmkern::ValType::I64,
            HostType::F32 => wasmkern::ValType::F32,
            HostType::F64 => wasmkern::ValType::F64,
        }
    }

    fn wasmi(self) -> wasmi::ValType {
        match self {
            HostType::I32 => wasmi::ValType::I32,
            HostType::I64 => wasmi::ValType::I64,
            HostType::F32 => wasmi::ValType::F32,
            HostType::F64 => wasmi::ValType::F64,
        }
    }

    /// The name the JavaScript driver uses.
    pub fn name(self) -> &'static str {
        match self {
            HostType::I32 => "i32",
            HostType::I64 => "i64",
            HostType::F32 => "f32",
            HostType::F64 => "f64",
        }
    }
}

/// The host functions modules may import from module `host`:
/// `(name, params, results)`.
pub const HOST_IMPORTS: &[(&str, &[HostType], &[HostType])] = {
    use HostType::*;
    &[
        ("f0", &[], &[]),
        ("f1", &[I32], &[I32]),
        ("f2", &[I64, F64], &[I64]),
        ("f3", &[F32, I32], &[F32]),
        ("f4", &[F64, F32, I64, I32], &[F64, I32]),
        ("f5", &[], &[I64, I32, F32]),
    ]
};

/// The signature of host import `name`.
pub fn host_import(name: &str) -> Option<(&'static [HostType], &'static [HostType])> {
    HOST_IMPORTS
        .iter()
        .find(|i| i.0 == name)
        .map(|&(_, p, r)| (p, r))
}

/// The module that tells wasm-smith which imports exist.
fn available_imports() -> Vec<u8> {
    let mut wat = String::from("(module");
    for (name, params, results) in HOST_IMPORTS {
        let _ = write!(wat, " (import \"host\" \"{name}\" (func");
        for p in *params {
            let _ = write!(wat, " (param {})", p.name());
        }
        for r in *results {
            let _ = write!(wat, " (result {})", r.name());
        }
        wat.push_str("))");
    }
    wat.push(')');
    wat::parse_str(&wat).expect("the host imports' module")
}

/// What the generated modules may use beyond WebAssembly 2.0.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Flavor {
    /// WebAssembly 2.0 without SIMD.
    Wasm2,
    /// WebAssembly 2.0 with SIMD.
    Simd,
    /// SIMD and the features beyond 2.0 that both engines run: extended
    /// constant expressions, wide arithmetic, tail calls, multiple
    /// memories and 64-bit memories and tables; and relaxed SIMD, which
    /// the oracles run rewritten into standard SIMD ([`relaxed`]).
    Proposals,
}

/// wasm-smith's configuration for differential runs; `imports` lets
/// modules import the host functions of [`HOST_IMPORTS`].
pub fn smith_config(flavor: Flavor, imports: bool) -> wasm_smith::Config {
    let simd = flavor != Flavor::Wasm2;
    let proposals = flavor == Flavor::Proposals;
    wasm_smith::Config {
        multi_value_enabled: true,
        reference_types_enabled: true,
        bulk_memory_enabled: true,
        sign_extension_ops_enabled: true,
        saturating_float_to_int_enabled: true,
        simd_enabled: simd,
        max_tables: 4,
        max_memories: if proposals { 3 } else { 1 },
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        tail_call_enabled: proposals,
        exceptions_enabled: false,
        gc_enabled: false,
        memory64_enabled: proposals,
        relaxed_simd_enabled: proposals,
        custom_page_sizes_enabled: false,
        wide_arithmetic_enabled: proposals,
        extended_const_enabled: proposals,
        compact_imports_enabled: false,
        custom_descriptors_enabled: false,
        allow_invalid_funcs: false,
        // What makes runs comparable and cheap.
        export_everything: true,
        canonicalize_nans: true,
        min_types: 1,
        min_funcs: 1,
        max_funcs: 20,
        available_imports: imports.then(available_imports),
        max_imports: if imports { 6 } else { 0 },
        memory_max_size_required: true,
        max_memory32_bytes: 4 << 16,
        max_memory64_bytes: 4 << 16,
        table_max_size_required: true,
        max_table_elements: 200,
        ..wasm_smith::Config::default()
    }
}

/// A wasm-smith module from `u` that may import host functions; with
/// `terminate`, loops and calls are bounded by `ensure_termination`.
pub fn generate(u: &mut Unstructured<'_>, flavor: Flavor, terminate: bool) -> Option<Vec<u8>> {
    generate_with(u, flavor, terminate, true)
}

/// [`generate`], with or without imports.
pub fn generate_with(
    u: &mut Unstructured<'_>,
    flavor: Flavor,
    terminate: bool,
    imports: bool,
) -> Option<Vec<u8>> {
    let mut module = wasm_smith::Module::new(smith_config(flavor, imports), u).ok()?;
    if terminate {
        module.ensure_termination(TERMINATION_FUEL).ok()?;
    }
    relaxed::canonicalize_madd(&module.to_bytes())
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
    /// Compared calls that returned a value, trapped or called the host.
    pub nontrivial: u64,
    /// Calls that trapped (on both engines, with the same kind).
    pub traps: u64,
    /// Host calls compared (entries of the call logs).
    pub host_calls: u64,
    /// Non-null references compared (results, globals, table elements).
    pub refs: u64,
    /// Why modules (or their remaining calls) were skipped.
    pub skipped: BTreeMap<&'static str, u64>,
}

/// The skip reasons where only one engine gave up: the test bounds them.
pub const ONE_SIDED: &[&str] = &[
    SKIP_STACK_KERN,
    SKIP_STACK_WASMI,
    SKIP_FUEL_KERN,
    "start function: stack exhausted on wasmkern only",
];
const SKIP_STACK_KERN: &str = "calls skipped: stack exhausted on wasmkern only";
const SKIP_STACK_WASMI: &str = "calls skipped: stack exhausted on wasmi only";
const SKIP_FUEL_KERN: &str = "calls skipped: wasmkern out of fuel, wasmi not";

impl Stats {
    fn skip(&mut self, reason: &'static str) {
        *self.skipped.entry(reason).or_default() += 1;
    }

    /// How often `reason` was counted.
    pub fn skips(&self, reason: &str) -> u64 {
        self.skipped.get(reason).copied().unwrap_or(0)
    }

    /// Adds `other` to `self`.
    pub fn add(&mut self, other: &Stats) {
        self.modules += other.modules;
        self.compared += other.compared;
        self.calls += other.calls;
        self.nontrivial += other.nontrivial;
        self.traps += other.traps;
        self.host_calls += other.host_calls;
        self.refs += other.refs;
        for (k, v) in &other.skipped {
            *self.skipped.entry(k).or_default() += v;
        }
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} modules, {} compared, {} calls ({} non-trivial, {} trapped alike), \
             {} host calls, {} non-null references",
            self.modules,
            self.compared,
            self.calls,
            self.nontrivial,
            self.traps,
            self.host_calls,
            self.refs
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
    /// A host function's error ([`HOST_ERROR`]).
    Host,
    /// Anything else (a non-trap error): its message.
    Other(String),
}

impl TrapKind {
    /// The word the JavaScript driver prints for this trap (V8 reports
    /// a null entry and a signature mismatch in `call_indirect` alike).
    pub fn canonical(&self) -> String {
        match self {
            TrapKind::Unreachable => "trap unreachable".into(),
            TrapKind::MemoryOutOfBounds => "trap memory".into(),
            TrapKind::DivideByZero => "trap div0".into(),
            TrapKind::IntegerOverflow => "trap overflow".into(),
            TrapKind::BadConversion => "trap conversion".into(),
            TrapKind::TableOutOfBounds => "trap table".into(),
            TrapKind::IndirectCallToNull | TrapKind::SignatureMismatch => "trap indirect".into(),
            TrapKind::StackOverflow => "trap stack".into(),
            TrapKind::OutOfFuel => "trap fuel".into(),
            TrapKind::Host => "host error".into(),
            TrapKind::Other(m) => format!("error {m}"),
        }
    }
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
        Some(trap) => TrapKind::Other(format!("{trap:?}: {e}")),
        None if e.kind() == wasmkern::ErrorKind::OutOfFuel => TrapKind::OutOfFuel,
        None if e.kind() == wasmkern::ErrorKind::Host && e.to_string().contains(HOST_ERROR) => {
            TrapKind::Host
        }
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
        _ if e.to_string().contains(HOST_ERROR) => TrapKind::Host,
        _ => TrapKind::Other(e.to_string()),
    }
}

/// A value, in words both engines can be mapped to.
#[derive(Clone, Debug)]
pub enum Value {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    V128(u128),
    /// A funcref: null, or the export names of its function (sorted).
    Func(Option<String>),
    /// An externref: null, or the number its host value holds.
    Extern(Option<u32>),
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (I32(a), I32(b)) => a == b,
            (I64(a), I64(b)) => a == b,
            (F32(a), F32(b)) => {
                a == b || (f32::from_bits(*a).is_nan() && f32::from_bits(*b).is_nan())
            }
            (F64(a), F64(b)) => {
                a == b || (f64::from_bits(*a).is_nan() && f64::from_bits(*b).is_nan())
            }
            (V128(a), V128(b)) => a == b,
            (Func(a), Func(b)) => a == b,
            (Extern(a), Extern(b)) => a == b,
            _ => false,
        }
    }
}

impl Value {
    /// The value as the JavaScript driver prints it.
    pub fn canonical(&self) -> String {
        match self {
            Value::I32(x) => format!("i32:{x}"),
            Value::I64(x) => format!("i64:{x}"),
            Value::F32(x) if f32::from_bits(*x).is_nan() => "f32:nan".into(),
            Value::F32(x) => format!("f32:{x:#x}"),
            Value::F64(x) if f64::from_bits(*x).is_nan() => "f64:nan".into(),
            Value::F64(x) => format!("f64:{x:#x}"),
            Value::V128(x) => format!("v128:{x:#x}"),
            Value::Func(None) | Value::Extern(None) => "null".into(),
            Value::Func(Some(names)) => format!("func:{names}"),
            Value::Extern(Some(n)) => format!("extern:{n}"),
        }
    }

    /// [`Value::canonical`] for a global's value: JavaScript cannot read a
    /// `v128` global, so its value prints as `v128:?` on every side.
    fn global_canonical(&self) -> String {
        match self {
            Value::V128(_) => "v128:?".into(),
            v => v.canonical(),
        }
    }

    fn is_nonnull_ref(&self) -> bool {
        matches!(self, Value::Func(Some(_)) | Value::Extern(Some(_)))
    }
}

/// A call's argument, for both engines and the JavaScript driver.
#[derive(Clone, Debug)]
pub enum Arg {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    V128(u128),
    /// A funcref: null, or the function exported under this name.
    Func(Option<String>),
    /// An externref: null, or a host value holding this number.
    Extern(Option<u32>),
}

impl Arg {
    /// The argument as JSON for the JavaScript driver.
    pub fn json(&self) -> String {
        match self {
            Arg::I32(x) => format!("{{\"t\":\"i32\",\"v\":\"{x}\"}}"),
            Arg::I64(x) => format!("{{\"t\":\"i64\",\"v\":\"{x}\"}}"),
            Arg::F32(x) => format!("{{\"t\":\"f32\",\"v\":\"{x}\"}}"),
            Arg::F64(x) => format!("{{\"t\":\"f64\",\"v\":\"{x}\"}}"),
            Arg::V128(x) => format!("{{\"t\":\"v128\",\"v\":\"{x}\"}}"),
            Arg::Func(None) => "{\"t\":\"funcref\",\"v\":null}".into(),
            Arg::Func(Some(name)) => format!("{{\"t\":\"funcref\",\"v\":{}}}", json_string(name)),
            Arg::Extern(None) => "{\"t\":\"externref\",\"v\":null}".into(),
            Arg::Extern(Some(n)) => format!("{{\"t\":\"externref\",\"v\":{n}}}"),
        }
    }
}

/// `s` as a JSON string.
pub fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The canonical quiet NaNs: JavaScript numbers carry no other NaN.
const F32_NAN: u32 = 0x7fc0_0000;
const F64_NAN: u64 = 0x7ff8_0000_0000_0000;

fn canonical_f32(bits: u32) -> u32 {
    if f32::from_bits(bits).is_nan() {
        F32_NAN
    } else {
        bits
    }
}

fn canonical_f64(bits: u64) -> u64 {
    if f64::from_bits(bits).is_nan() {
        F64_NAN
    } else {
        bits
    }
}

/// An argument of type `ty`: a boundary value or random bits; references
/// are null, an exported function (`funcs`) or a host value.
fn arg(rng: &mut Rng, ty: wasmkern::ValType, funcs: &[String]) -> Arg {
    use wasmkern::ValType;
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
        ValType::I32 => Arg::I32(if boundary {
            INTS[pick] as i32
        } else {
            bits as i32
        }),
        ValType::I64 => Arg::I64(if boundary { INTS[pick] } else { bits as i64 }),
        ValType::F32 => Arg::F32(canonical_f32(if boundary {
            (F64S[pick] as f32).to_bits()
        } else {
            bits as u32
        })),
        ValType::F64 => Arg::F64(canonical_f64(if boundary {
            F64S[pick].to_bits()
        } else {
            bits
        })),
        ValType::V128 => Arg::V128(u128::from(bits) << 64 | u128::from(rng.next())),
        ValType::FuncRef if boundary || funcs.is_empty() => Arg::Func(None),
        ValType::FuncRef => Arg::Func(Some(funcs[bits as usize % funcs.len()].clone())),
        ValType::ExternRef if boundary => Arg::Extern(None),
        ValType::ExternRef => Arg::Extern(Some((bits % 1000) as u32)),
        other => panic!("no arguments of type {other:?} in the differential test"),
    }
}

/// What a host function returns at the instance's `call`-th host call
/// (from 0): `Err` for a host error, else a value of each type. Only the
/// call count decides, so every engine computes the same.
pub fn host_result(call: u64, results: &[HostType]) -> Result<Vec<Arg>, ()> {
    if Rng(call * 8 + 7).next().is_multiple_of(29) {
        return Err(());
    }
    Ok(results
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let h = Rng(call * 8 + i as u64).next();
            match t {
                HostType::I32 => Arg::I32(h as i32),
                HostType::I64 => Arg::I64(h as i64),
                HostType::F32 => Arg::F32(canonical_f32(h as u32)),
                HostType::F64 => Arg::F64(canonical_f64(h)),
            }
        })
        .collect())
}

/// The host functions' shared record: how many calls, and their log.
#[derive(Default)]
pub struct HostLog {
    pub calls: u64,
    pub entries: Vec<String>,
}

/// One log entry: `name(arg, ...)`, values canonical.
fn log_entry(name: &str, args: &[Value]) -> String {
    let args: Vec<String> = args.iter().map(Value::canonical).collect();
    format!("{name}({})", args.join(", "))
}

/// Either results or a trap.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Values(Vec<Value>),
    Trap(TrapKind),
}

impl Outcome {
    /// The outcome as the JavaScript driver prints it.
    pub fn canonical(&self) -> String {
        match self {
            Outcome::Values(vals) => {
                let vals: Vec<String> = vals.iter().map(Value::canonical).collect();
                format!("ok [{}]", vals.join(", "))
            }
            Outcome::Trap(t) => t.canonical(),
        }
    }
}

/// wasmkern's engine: explicit bounds checks, or guard regions (half of
/// the modules run with each, chosen by [`guard_regions_for`]); fuel on.
fn kern_engine(guard_regions: bool) -> &'static wasmkern::Engine {
    static ENGINES: OnceLock<[wasmkern::Engine; 2]> = OnceLock::new();
    let engines = ENGINES.get_or_init(|| {
        [false, true].map(|guard| {
            let mut config = wasmkern::Config::new();
            config
                .max_wasm_stack(wasmkern::MIN_MAX_WASM_STACK)
                .guard_regions(guard)
                .consume_fuel(true)
                .wasm_wide_arithmetic(true)
                .wasm_tail_call(true)
                .wasm_multi_memory(true)
                .wasm_memory64(true);
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
            .wasm_tail_call(true)
            .wasm_extended_const(true)
            .wasm_wide_arithmetic(true)
            .wasm_multi_memory(true)
            .wasm_memory64(true)
            .wasm_relaxed_simd(false);
        wasmi::Engine::new(&config)
    })
}

type Log = Arc<Mutex<HostLog>>;

/// Both engines' live instance of one module.
struct Pair {
    kern: wasmkern::Store<Log>,
    kern_instance: wasmkern::Instance,
    wasmi: wasmi::Store<Log>,
    wasmi_instance: wasmi::Instance,
    /// Exported functions by name, in export order: wasmkern's, and the
    /// `Debug` form of wasmi's handle (wasmi's `Func` has no `PartialEq`).
    kern_funcs: Vec<(String, wasmkern::Func)>,
    wasmi_funcs: Vec<(String, String)>,
    /// Log entries already compared.
    logged: usize,
}

fn names_of(names: Vec<&String>) -> Option<String> {
    if names.is_empty() {
        None
    } else {
        let mut names: Vec<&str> = names.into_iter().map(String::as_str).collect();
        names.sort_unstable();
        Some(names.join(","))
    }
}

impl Pair {
    fn kern_value(&self, v: &wasmkern::Val) -> Value {
        use wasmkern::Val as K;
        match v {
            K::I32(x) => Value::I32(*x),
            K::I64(x) => Value::I64(*x),
            K::F32(x) => Value::F32(*x),
            K::F64(x) => Value::F64(*x),
            K::V128(x) => Value::V128(*x),
            K::FuncRef(None) => Value::Func(None),
            K::FuncRef(Some(f)) => Value::Func(Some(
                names_of(
                    self.kern_funcs
                        .iter()
                        .filter(|(_, g)| g == f)
                        .map(|(n, _)| n)
                        .collect(),
                )
                .unwrap_or_else(|| "?".into()),
            )),
            K::ExternRef(None) => Value::Extern(None),
            K::ExternRef(Some(r)) => Value::Extern(Some(
                r.data(&self.kern)
                    .and_then(|d| d.downcast_ref::<u32>().copied())
                    .unwrap_or(u32::MAX),
            )),
            other => panic!("no value like {other:?} in the differential test"),
        }
    }

    fn wasmi_value(&self, v: &wasmi::Val) -> Value {
        use wasmi::Val as W;
        match v {
            W::I32(x) => Value::I32(*x),
            W::I64(x) => Value::I64(*x),
            W::F32(x) => Value::F32(x.to_bits()),
            W::F64(x) => Value::F64(x.to_bits()),
            W::V128(x) => Value::V128(x.as_u128()),
            W::FuncRef(wasmi::Nullable::Null) => Value::Func(None),
            W::FuncRef(wasmi::Nullable::Val(f)) => {
                let key = format!("{f:?}");
                Value::Func(Some(
                    names_of(
                        self.wasmi_funcs
                            .iter()
                            .filter(|(_, g)| *g == key)
                            .map(|(n, _)| n)
                            .collect(),
                    )
                    .unwrap_or_else(|| "?".into()),
                ))
            }
            W::ExternRef(wasmi::Nullable::Null) => Value::Extern(None),
            W::ExternRef(wasmi::Nullable::Val(r)) => Value::Extern(Some(
                r.data(&self.wasmi)
                    .downcast_ref::<u32>()
                    .copied()
                    .unwrap_or(u32::MAX),
            )),
        }
    }

    fn kern_arg(&mut self, a: &Arg) -> wasmkern::Val {
        use wasmkern::Val as K;
        match a {
            Arg::I32(x) => K::I32(*x),
            Arg::I64(x) => K::I64(*x),
            Arg::F32(x) => K::F32(*x),
            Arg::F64(x) => K::F64(*x),
            Arg::V128(x) => K::V128(*x),
            Arg::Func(None) => K::FuncRef(None),
            Arg::Func(Some(name)) => K::FuncRef(
                self.kern_funcs
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, f)| *f),
            ),
            Arg::Extern(None) => K::ExternRef(None),
            Arg::Extern(Some(n)) => K::ExternRef(wasmkern::ExternRef::new(&mut self.kern, *n).ok()),
        }
    }

    fn wasmi_arg(&mut self, a: &Arg) -> wasmi::Val {
        use wasmi::Val as W;
        match a {
            Arg::I32(x) => W::I32(*x),
            Arg::I64(x) => W::I64(*x),
            Arg::F32(x) => W::F32(wasmi::F32::from_bits(*x)),
            Arg::F64(x) => W::F64(wasmi::F64::from_bits(*x)),
            Arg::V128(x) => W::V128(wasmi::V128::from(*x)),
            Arg::Func(None) => W::FuncRef(wasmi::Nullable::Null),
            Arg::Func(Some(name)) => match self.wasmi_instance.get_func(&self.wasmi, name) {
                Some(f) => W::FuncRef(wasmi::Nullable::Val(f)),
                None => W::FuncRef(wasmi::Nullable::Null),
            },
            Arg::Extern(None) => W::ExternRef(wasmi::Nullable::Null),
            Arg::Extern(Some(n)) => W::ExternRef(wasmi::Nullable::Val(wasmi::ExternRef::new(
                &mut self.wasmi,
                *n,
            ))),
        }
    }

    /// The first difference after a step: of the host logs since the last
    /// step, then of the exported state. On a difference the step's host
    /// calls stay unlogged, so [`Self::observations`] lists them (as the
    /// third engine's replay does).
    fn difference(&mut self, stats: &mut Stats) -> Option<String> {
        let step_start = self.logged;
        let difference = self
            .log_difference(stats)
            .or_else(|| self.state_difference(stats));
        if difference.is_some() {
            self.logged = step_start;
        }
        difference
    }

    /// The first difference of the host logs since the last comparison.
    fn log_difference(&mut self, stats: &mut Stats) -> Option<String> {
        let kern = self.kern.data().lock().unwrap_or_else(|e| e.into_inner());
        let wasmi = self.wasmi.data().lock().unwrap_or_else(|e| e.into_inner());
        let (a, b) = (&kern.entries[self.logged..], &wasmi.entries[self.logged..]);
        if a != b {
            return Some(format!("host calls: wasmkern made {a:?}, wasmi made {b:?}"));
        }
        stats.host_calls += a.len() as u64;
        let n = a.len();
        drop((kern, wasmi));
        self.logged += n;
        None
    }

    /// The first difference of the exported state, if any.
    fn state_difference(&self, stats: &mut Stats) -> Option<String> {
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
                        self.kern_value(&g.get(&self.kern)),
                        self.wasmi_value(&w.get(&self.wasmi)),
                    );
                    if a != b {
                        return Some(format!("global `{name}`: wasmkern {a:?}, wasmi {b:?}"));
                    }
                    stats.refs += u64::from(a.is_nonnull_ref());
                }
                (wasmkern::Extern::Table(t), Some(wasmi::Extern::Table(w))) => {
                    let (n, m) = (t.size(&self.kern), w.size(&self.wasmi));
                    if n != m {
                        return Some(format!(
                            "table `{name}`: {n} elements on wasmkern, {m} on wasmi"
                        ));
                    }
                    for i in 0..n {
                        let a = t.get(&self.kern, i).map(|v| self.kern_value(&v));
                        let b = w.get(&self.wasmi, i).map(|v| {
                            self.wasmi_value(&match v {
                                wasmi::Ref::Func(f) => wasmi::Val::FuncRef(f),
                                wasmi::Ref::Extern(e) => wasmi::Val::ExternRef(e),
                            })
                        });
                        if a != b {
                            return Some(format!(
                                "table `{name}`[{i}]: wasmkern {a:?}, wasmi {b:?}"
                            ));
                        }
                        stats.refs += u64::from(a.is_some_and(|a| a.is_nonnull_ref()));
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

    /// The exported state as the JavaScript driver prints it: one line per
    /// memory, global and table, sorted by export name.
    fn kern_state(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, ext) in self.kern_instance.exports(&self.kern) {
            match ext {
                wasmkern::Extern::Memory(m) => {
                    let data = m.data(&self.kern);
                    out.push(format!(
                        "memory {name}: {} pages, fnv {:08x}",
                        data.len() >> 16,
                        fnv(data)
                    ));
                }
                wasmkern::Extern::Global(g) => out.push(format!(
                    "global {name}: {}",
                    self.kern_value(&g.get(&self.kern)).global_canonical()
                )),
                wasmkern::Extern::Table(t) => {
                    let elems: Vec<String> = (0..t.size(&self.kern))
                        .map(|i| {
                            t.get(&self.kern, i)
                                .map(|v| self.kern_value(&v).canonical())
                                .unwrap_or_default()
                        })
                        .collect();
                    out.push(format!("table {name}: [{}]", elems.join(", ")));
                }
                _ => {}
            }
        }
        out.sort();
        out
    }

    /// [`Pair::kern_state`] for wasmi.
    fn wasmi_state(&self) -> Vec<String> {
        let mut out = Vec::new();
        for export in self.wasmi_instance.exports(&self.wasmi) {
            let name = export.name().to_string();
            match export.into_extern() {
                wasmi::Extern::Memory(m) => {
                    let data = m.data(&self.wasmi);
                    out.push(format!(
                        "memory {name}: {} pages, fnv {:08x}",
                        data.len() >> 16,
                        fnv(data)
                    ));
                }
                wasmi::Extern::Global(g) => out.push(format!(
                    "global {name}: {}",
                    self.wasmi_value(&g.get(&self.wasmi)).global_canonical()
                )),
                wasmi::Extern::Table(t) => {
                    let elems: Vec<String> = (0..t.size(&self.wasmi))
                        .map(|i| {
                            t.get(&self.wasmi, i)
                                .map(|v| {
                                    self.wasmi_value(&match v {
                                        wasmi::Ref::Func(f) => wasmi::Val::FuncRef(f),
                                        wasmi::Ref::Extern(e) => wasmi::Val::ExternRef(e),
                                    })
                                    .canonical()
                                })
                                .unwrap_or_default()
                        })
                        .collect();
                    out.push(format!("table {name}: [{}]", elems.join(", ")));
                }
                wasmi::Extern::Func(_) => {}
            }
        }
        out.sort();
        out
    }

    /// What each engine did last: its outcome, its host calls since the
    /// last comparison, and the exported state, as the JavaScript driver
    /// prints them.
    fn observations(&self, kern: &Outcome, wasmi: &Outcome) -> (Vec<String>, Vec<String>) {
        let kern_log = self.kern.data().lock().unwrap_or_else(|e| e.into_inner());
        let wasmi_log = self.wasmi.data().lock().unwrap_or_else(|e| e.into_inner());
        let mut k = vec![kern.canonical()];
        k.extend(
            kern_log.entries[self.logged..]
                .iter()
                .map(|e| format!("host {e}")),
        );
        k.extend(self.kern_state());
        let mut w = vec![wasmi.canonical()];
        w.extend(
            wasmi_log.entries[self.logged..]
                .iter()
                .map(|e| format!("host {e}")),
        );
        w.extend(self.wasmi_state());
        (k, w)
    }
}

/// 32-bit FNV-1a, the memory digest the JavaScript driver computes too.
pub fn fnv(data: &[u8]) -> u32 {
    data.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// A disagreement between wasmkern and wasmi, with what a third engine
/// needs to replay it.
#[derive(Debug)]
pub struct Disagreement {
    /// What differs, in words.
    pub what: String,
    /// The calls since the instances were made, `(export, args)`; the last
    /// one is the call after which the engines disagree (none when they
    /// disagree on instantiation).
    pub calls: Vec<(String, Vec<Arg>)>,
    /// What each engine did in the step they disagree on, canonical (see
    /// [`Pair::observations`]); empty when not observable (a panic, a
    /// rejected module).
    pub kern: Vec<String>,
    pub wasmi: Vec<String>,
}

impl fmt::Display for Disagreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

impl Disagreement {
    fn plain(what: String) -> Disagreement {
        Disagreement {
            what,
            calls: Vec::new(),
            kern: Vec::new(),
            wasmi: Vec::new(),
        }
    }
}

/// Host functions for `module`'s imports on wasmkern, in import order.
fn kern_imports(
    store: &mut wasmkern::Store<Log>,
    module: &wasmkern::Module,
) -> Result<Vec<wasmkern::Extern>, String> {
    let mut out = Vec::new();
    for import in module.imports() {
        let name = import.name().to_string();
        let (params, results) = host_import(&name)
            .filter(|_| import.module() == "host")
            .ok_or_else(|| format!("unknown import {}::{name}", import.module()))?;
        let ty = wasmkern::FuncType::new(
            &params.iter().map(|t| t.kern()).collect::<Vec<_>>(),
            &results.iter().map(|t| t.kern()).collect::<Vec<_>>(),
        );
        let func = wasmkern::Func::new(&mut *store, ty, move |caller, args, out| {
            let vals: Vec<Value> = args
                .iter()
                .map(|a| match *a {
                    wasmkern::Val::I32(x) => Value::I32(x),
                    wasmkern::Val::I64(x) => Value::I64(x),
                    wasmkern::Val::F32(x) => Value::F32(x),
                    wasmkern::Val::F64(x) => Value::F64(x),
                    _ => Value::Func(None),
                })
                .collect();
            let mut log = caller.data().lock().unwrap_or_else(|e| e.into_inner());
            log.entries.push(log_entry(&name, &vals));
            let call = log.calls;
            log.calls += 1;
            drop(log);
            let values =
                host_result(call, results).map_err(|()| wasmkern::Error::msg(HOST_ERROR))?;
            for (slot, v) in out.iter_mut().zip(values) {
                *slot = match v {
                    Arg::I32(x) => wasmkern::Val::I32(x),
                    Arg::I64(x) => wasmkern::Val::I64(x),
                    Arg::F32(x) => wasmkern::Val::F32(x),
                    Arg::F64(x) => wasmkern::Val::F64(x),
                    _ => wasmkern::Val::I32(0),
                };
            }
            Ok(())
        });
        out.push(wasmkern::Extern::Func(func));
    }
    Ok(out)
}

/// Host functions for `module`'s imports on wasmi, in import order.
fn wasmi_imports(
    store: &mut wasmi::Store<Log>,
    module: &wasmi::Module,
) -> Result<Vec<wasmi::Extern>, String> {
    let mut out = Vec::new();
    for import in module.imports() {
        let name = import.name().to_string();
        let (params, results) = host_import(&name)
            .filter(|_| import.module() == "host")
            .ok_or_else(|| format!("unknown import {}::{name}", import.module()))?;
        let ty = wasmi::FuncType::new(
            params.iter().map(|t| t.wasmi()),
            results.iter().map(|t| t.wasmi()),
        );
        let func = wasmi::Func::new(&mut *store, ty, move |caller, args, out| {
            let vals: Vec<Value> = args
                .iter()
                .map(|a| match a {
                    wasmi::Val::I32(x) => Value::I32(*x),
                    wasmi::Val::I64(x) => Value::I64(*x),
                    wasmi::Val::F32(x) => Value::F32(x.to_bits()),
                    wasmi::Val::F64(x) => Value::F64(x.to_bits()),
                    _ => Value::Func(None),
                })
                .collect();
            let mut log = caller.data().lock().unwrap_or_else(|e| e.into_inner());
            log.entries.push(log_entry(&name, &vals));
            let call = log.calls;
            log.calls += 1;
            drop(log);
            let values = host_result(call, results).map_err(|()| wasmi::Error::new(HOST_ERROR))?;
            for (slot, v) in out.iter_mut().zip(values) {
                *slot = match v {
                    Arg::I32(x) => wasmi::Val::I32(x),
                    Arg::I64(x) => wasmi::Val::I64(x),
                    Arg::F32(x) => wasmi::Val::F32(wasmi::F32::from_bits(x)),
                    Arg::F64(x) => wasmi::Val::F64(wasmi::F64::from_bits(x)),
                    _ => wasmi::Val::I32(0),
                };
            }
            Ok(())
        });
        out.push(wasmi::Extern::Func(func));
    }
    Ok(out)
}

/// Instantiates both modules. `Ok(None)` when the comparison must be
/// skipped (counted in `stats`).
fn instantiate(
    kern_module: &wasmkern::Module,
    wasmi_module: &wasmi::Module,
    stats: &mut Stats,
) -> Result<Option<Pair>, Disagreement> {
    let mut wstore = wasmi::Store::new(wasmi_engine(), Log::default());
    wstore.set_fuel(FUEL).expect("fuel is enabled");
    let wimports = wasmi_imports(&mut wstore, wasmi_module).map_err(Disagreement::plain)?;
    let wasmi_instance = wasmi::Instance::new(&mut wstore, wasmi_module, &wimports);
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
    let mut kstore = wasmkern::Store::new(kern_module.engine(), Log::default());
    kstore.set_fuel(KERN_FUEL).expect("fuel is enabled");
    let kimports = kern_imports(&mut kstore, kern_module).map_err(Disagreement::plain)?;
    let kern_instance = wasmkern::Instance::new(&mut kstore, kern_module, &kimports);
    let (kern_instance, wasmi_instance) = match (kern_instance, wasmi_instance) {
        (Ok(k), Ok(w)) => (k, w),
        (Err(k), Err(w)) => {
            let (k, w) = (kern_trap(&k), wasmi_trap(&w));
            return match (&k, &w) {
                (TrapKind::StackOverflow, _) => {
                    stats.skip("start function: stack exhausted on wasmkern only");
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
                _ => Err(Disagreement::plain(format!(
                    "instantiation: wasmkern {k:?}, wasmi {w:?}"
                ))),
            };
        }
        (Ok(_), Err(w)) => {
            return Err(Disagreement::plain(format!(
                "instantiation: wasmkern succeeds, wasmi fails with {w}"
            )));
        }
        (Err(k), Ok(_)) => {
            match kern_trap(&k) {
                TrapKind::StackOverflow => {
                    stats.skip("start function: stack exhausted on wasmkern only");
                    return Ok(None);
                }
                TrapKind::OutOfFuel => {
                    stats.skip(SKIP_FUEL_KERN);
                    return Ok(None);
                }
                _ => {}
            }
            return Err(Disagreement::plain(format!(
                "instantiation: wasmkern fails with {k} ({:?}), wasmi succeeds",
                kern_trap(&k)
            )));
        }
    };
    let kern_funcs = kern_instance
        .exports(&kstore)
        .into_iter()
        .filter_map(|(name, e)| Some((name, e.into_func()?)))
        .collect();
    let wasmi_funcs = wasmi_instance
        .exports(&wstore)
        .filter_map(|e| {
            let name = e.name().to_string();
            Some((name, format!("{:?}", e.into_func()?)))
        })
        .collect();
    let mut pair = Pair {
        kern: kstore,
        kern_instance,
        wasmi: wstore,
        wasmi_instance,
        kern_funcs,
        wasmi_funcs,
        logged: 0,
    };
    if let Some(d) = pair.difference(stats) {
        let ok = Outcome::Values(Vec::new());
        let (kern, wasmi) = pair.observations(&ok, &ok);
        return Err(Disagreement {
            what: format!("after instantiation: {d}"),
            calls: Vec::new(),
            kern,
            wasmi,
        });
    }
    Ok(Some(pair))
}

/// Runs `bytes` on both engines with arguments from `arg_seed`; `Err` is
/// a disagreement.
pub fn check(bytes: &[u8], arg_seed: u64, stats: &mut Stats) -> Result<(), Disagreement> {
    stats.modules += 1;
    // What [`Flavor::Proposals`] may use, a superset of the others.
    let mut features = wasmparser::WasmFeatures::WASM2;
    features.insert(wasmparser::WasmFeatures::SIMD);
    features.insert(wasmparser::WasmFeatures::EXTENDED_CONST);
    features.insert(wasmparser::WasmFeatures::WIDE_ARITHMETIC);
    features.insert(wasmparser::WasmFeatures::TAIL_CALL);
    features.insert(wasmparser::WasmFeatures::MULTI_MEMORY);
    features.insert(wasmparser::WasmFeatures::MEMORY64);
    features.insert(wasmparser::WasmFeatures::RELAXED_SIMD);
    if wasmparser::Validator::new_with_features(features)
        .validate_all(bytes)
        .is_err()
    {
        stats.skip("invalid per wasmparser");
        return Ok(());
    }
    // wasmi runs the relaxed SIMD operators rewritten into the standard
    // sequences that compute wasmkern's choices (its engine rejects the
    // relaxed ones, so none can be left over).
    let Some(reference) = relaxed::standardize(bytes) else {
        return Err(Disagreement::plain(
            "the relaxed SIMD rewrite cannot parse the module".into(),
        ));
    };
    let kern_module = match wasmkern::Module::new(kern_engine(guard_regions_for(bytes)), bytes) {
        Ok(m) => m,
        Err(e) => {
            return Err(Disagreement::plain(format!(
                "wasmkern rejects a valid module: {e}"
            )));
        }
    };
    // wasmi's translator panics on a few valid modules (a wasmi bug):
    // counted apart, so a run shows how often.
    let wasmi_module =
        match std::panic::catch_unwind(|| wasmi::Module::new(wasmi_engine(), &reference[..])) {
            Ok(Ok(m)) => m,
            Ok(Err(_)) => {
                stats.skip("rejected by wasmi");
                return Ok(());
            }
            Err(_) => {
                stats.skip("wasmi panicked compiling (a wasmi bug)");
                return Ok(());
            }
        };

    let Some(mut pair) = instantiate(&kern_module, &wasmi_module, stats)? else {
        return Ok(());
    };
    stats.compared += 1;

    let mut rng = Rng(arg_seed);
    let names: Vec<String> = pair.kern_funcs.iter().map(|(n, _)| n.clone()).collect();
    let mut calls: Vec<(String, Vec<Arg>)> = Vec::new();
    for round in 0..CALLS_PER_EXPORT {
        for name in &names {
            let (Some(kfunc), Some(wfunc)) = (
                pair.kern_instance.get_func(&pair.kern, name),
                pair.wasmi_instance.get_func(&pair.wasmi, name),
            ) else {
                return Err(Disagreement::plain(format!(
                    "export `{name}` is a function on one engine only"
                )));
            };
            let ty = kfunc.ty(&pair.kern);
            let args: Vec<Arg> = ty
                .params()
                .iter()
                .map(|&t| arg(&mut rng, t, &names))
                .collect();
            let call = format!("call {round} of `{name}`{args:?}");
            calls.push((name.clone(), args.clone()));
            let before = stats.host_calls;
            match call_both(&mut pair, kfunc, wfunc, &args) {
                Ok(ours) => {
                    stats.calls += 1;
                    if let Some(d) = pair.difference(stats) {
                        let (kern, wasmi) = pair.observations(&ours, &ours);
                        return Err(Disagreement {
                            what: format!("after {call} ({ours:?}): {d}"),
                            calls,
                            kern,
                            wasmi,
                        });
                    }
                    match &ours {
                        Outcome::Trap(_) => {
                            stats.traps += 1;
                            stats.nontrivial += 1;
                        }
                        Outcome::Values(v) => {
                            stats.refs += v.iter().filter(|v| v.is_nonnull_ref()).count() as u64;
                            if !v.is_empty() || stats.host_calls > before {
                                stats.nontrivial += 1;
                            }
                        }
                    }
                }
                Err(Skip::Diverged(reason)) => {
                    // The instances' states may differ now: start afresh.
                    stats.skip(reason);
                    calls.clear();
                    match instantiate(&kern_module, &wasmi_module, stats)? {
                        Some(fresh) => pair = fresh,
                        None => return Ok(()),
                    }
                }
                Err(Skip::Disagree(ours, theirs)) => {
                    let (kern, wasmi) = pair.observations(&ours, &theirs);
                    return Err(Disagreement {
                        what: format!("{call}: wasmkern {ours:?}, wasmi {theirs:?}"),
                        calls,
                        kern,
                        wasmi,
                    });
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

/// Calls the function on both engines (wasmi first); the common outcome.
fn call_both(
    pair: &mut Pair,
    kfunc: wasmkern::Func,
    wfunc: wasmi::Func,
    args: &[Arg],
) -> Result<Outcome, Skip> {
    let wargs: Vec<wasmi::Val> = args.iter().map(|a| pair.wasmi_arg(a)).collect();
    pair.wasmi.set_fuel(FUEL).expect("fuel is enabled");
    let mut wresults: Vec<wasmi::Val> = wfunc
        .ty(&pair.wasmi)
        .results()
        .iter()
        .map(|&t| wasmi::Val::default_for_ty(t))
        .collect();
    let theirs = match wfunc.call(&mut pair.wasmi, &wargs, &mut wresults) {
        Ok(()) => Outcome::Values(wresults.iter().map(|v| pair.wasmi_value(v)).collect()),
        Err(e) => Outcome::Trap(wasmi_trap(&e)),
    };
    if theirs == Outcome::Trap(TrapKind::OutOfFuel) {
        return Err(Skip::Diverged("calls skipped: wasmi out of fuel"));
    }

    let kargs: Vec<wasmkern::Val> = args.iter().map(|a| pair.kern_arg(a)).collect();
    pair.kern.set_fuel(KERN_FUEL).expect("fuel is enabled");
    let mut kresults: Vec<wasmkern::Val> = kfunc
        .ty(&pair.kern)
        .results()
        .iter()
        .map(|&t| wasmkern::Val::default_for(t))
        .collect();
    let ours = match kfunc.call(&mut pair.kern, &kargs, &mut kresults) {
        Ok(()) => Outcome::Values(kresults.iter().map(|v| pair.kern_value(v)).collect()),
        Err(e) => Outcome::Trap(kern_trap(&e)),
    };
    if ours == Outcome::Trap(TrapKind::OutOfFuel) {
        return Err(Skip::Diverged(SKIP_FUEL_KERN));
    }

    let overflow = Outcome::Trap(TrapKind::StackOverflow);
    match (ours == overflow, theirs == overflow) {
        (true, true) => Err(Skip::Diverged("calls skipped: stack exhausted on both")),
        (true, false) => Err(Skip::Diverged(SKIP_STACK_KERN)),
        (false, true) => Err(Skip::Diverged(SKIP_STACK_WASMI)),
        (false, false) if ours == theirs => Ok(ours),
        (false, false) => Err(Skip::Disagree(ours, theirs)),
    }
}

/// The module as WAT, for reports.
pub fn wat(bytes: &[u8]) -> String {
    wasmprinter::print_bytes(bytes).unwrap_or_else(|e| format!("(wasmprinter failed: {e})"))
}
