//! Helpers the API tests share: a module or an instance from WAT, a test
//! run in both memory modes, engines for both memory modes and CPU
//! feature sets, the out-of-bounds trap assertion, typed
//! exports by name, a resumable call fed with fuel in slices, the compile
//! options of a memory mode, a function's compiled code, its live part and
//! checks of its operands and branch history marks, and
//! (`comparisons`) Rust's answers to wasm's
//! comparisons. Each test file is its own crate and uses a part of this
//! module, hence `dead_code` is allowed here.
#![allow(dead_code)]

pub mod comparisons;

use iced_x86::{Decoder, DecoderOptions, Instruction, OpKind, Register};
use wasmkern::compile::{CompileOptions, compile_module_with};
use wasmkern::{
    CallOutcome, Config, CpuFeatures, Engine, Func, Instance, Module, PauseReason, Store,
    TypedFunc, Val, WasmParams, WasmResults,
};

/// `wat` compiled by `engine`; panics (failing the test) when it is not
/// valid text or wasmkern rejects it.
pub fn module(engine: &Engine, wat: &str) -> Module {
    let bytes = wat::parse_str(wat).expect("test module parses");
    Module::new(engine, bytes).unwrap_or_else(|e| panic!("test module compiles: {e}"))
}

/// `wat` instantiated without imports in a fresh store of `engine`.
pub fn instantiate(engine: &Engine, wat: &str) -> (Store<()>, Instance) {
    let module = module(engine, wat);
    let mut store = Store::new(engine, ());
    let instance = Instance::new(&mut store, &module, &[])
        .unwrap_or_else(|e| panic!("test module instantiates: {e}"));
    (store, instance)
}

/// Runs `test` with explicit bounds checks (`false`) and with guard
/// regions (`true`).
pub fn both_modes(test: impl Fn(bool)) {
    test(false);
    test(true);
}

/// Engines for both memory modes, each with the machine's CPU features and
/// with the SSE4.1 baseline, named for failure messages.
pub fn engines_by_mode_and_cpu() -> Vec<(String, Engine)> {
    let mut engines = Vec::new();
    for guard in [false, true] {
        for (cpu_name, cpu) in [
            ("detected", CpuFeatures::all()),
            ("sse41", CpuFeatures::sse41_baseline()),
        ] {
            let mut config = Config::new();
            config.guard_regions(guard).cpu_features(cpu);
            let engine = Engine::new(&config).expect("engine");
            engines.push((format!("guard={guard} cpu={cpu_name}"), engine));
        }
    }
    engines
}

/// Asserts that `result` is the out-of-bounds memory access trap.
pub fn assert_oob<T: std::fmt::Debug>(result: wasmkern::Result<T>, what: &str) {
    let err = result.expect_err(what);
    assert!(
        err.to_string().contains("out of bounds memory access"),
        "{what}: {err}"
    );
}

/// Export `name` of `instance` as a typed function.
pub fn typed<T: 'static, P: WasmParams, R: WasmResults>(
    store: &mut Store<T>,
    instance: &Instance,
    name: &str,
) -> TypedFunc<P, R> {
    instance
        .get_typed_func(store, name)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Calls `func` resumably with `slice` units of fuel, refilling the same
/// amount at every pause until the call ends; returns the number of
/// pauses. Every pause must be for fuel, and a call that pauses a million
/// times is taken to make no progress.
pub fn call_in_fuel_slices<T: 'static>(
    store: &mut Store<T>,
    func: Func,
    params: &[Val],
    results: &mut [Val],
    slice: u64,
) -> u32 {
    store.set_fuel(slice).expect("a fuel-metering engine");
    let mut outcome = func
        .call_resumable(&mut *store, params, results)
        .unwrap_or_else(|e| panic!("resumable call: {e}"));
    let mut pauses = 0;
    while let CallOutcome::Paused(call) = outcome {
        assert_eq!(call.reason(), PauseReason::OutOfFuel);
        pauses += 1;
        assert!(pauses < 1_000_000, "no progress");
        store.set_fuel(slice).expect("a fuel-metering engine");
        outcome = call
            .resume(&mut *store, results)
            .unwrap_or_else(|e| panic!("resumed call: {e}"));
    }
    pauses
}

/// The compile options of a memory mode: guard regions or explicit
/// bounds checks, everything else the default.
pub fn compile_options(guard_region: bool) -> CompileOptions {
    CompileOptions {
        guard_region,
        ..CompileOptions::default()
    }
}

/// Whether `i` is a `jmp` to the instruction right after it: a branch
/// history mark (`x64::frame`, "Branch history marks").
pub fn is_history_mark(i: &Instruction) -> bool {
    i.mnemonic() == iced_x86::Mnemonic::Jmp && i.near_branch_target() == i.next_ip()
}

/// The instructions of defined function `index` of `wat`, compiled with
/// `options` for this machine's CPU features, at their offsets from the
/// function's entry.
pub fn function_code(wat: &str, index: usize, options: &CompileOptions) -> Vec<Instruction> {
    let (_, code) = compiled_function(wat, index, options);
    Decoder::with_ip(64, &code, 0, DecoderOptions::NONE)
        .into_iter()
        .collect()
}

/// [`function_code`] at the instructions' offsets in the module's code,
/// which the code memory places at a multiple of 64 bytes: for checks of
/// alignment.
pub fn placed_function_code(wat: &str, index: usize, options: &CompileOptions) -> Vec<Instruction> {
    let (start, code) = compiled_function(wat, index, options);
    Decoder::with_ip(64, &code, start as u64, DecoderOptions::NONE)
        .into_iter()
        .collect()
}

/// Where defined function `index` of `wat` starts in the module's code,
/// compiled with `options` for this machine's CPU features, and its code
/// up to the next function's.
fn compiled_function(wat: &str, index: usize, options: &CompileOptions) -> (usize, Vec<u8>) {
    let wasm = wat::parse_str(wat).expect("test module parses");
    let module = wasmkern::decode::Module::decode(&wasm).unwrap();
    let info = wasmkern::validate::validate_module(&module).unwrap();
    let compiled = compile_module_with(&module, &info, &CpuFeatures::detect(), options).unwrap();
    let start = compiled.func_offsets[index] as usize;
    let end = compiled
        .func_offsets
        .get(index + 1)
        .map_or(compiled.code.len(), |&e| e as usize);
    (start, compiled.code[start..end].to_vec())
}

/// `code` without the `int3`s that fill the bytes no path reaches (or
/// pad the function), and whether each instruction kept follows such a
/// fill, so that no path falls into it. For functions without data after
/// their code (jump tables, vector constants), which would not decode
/// as instructions.
pub fn without_fill(code: &[Instruction]) -> (Vec<Instruction>, Vec<bool>) {
    let mut kept = Vec::new();
    let mut after_fill = Vec::new();
    for (k, i) in code.iter().enumerate() {
        if i.mnemonic() != iced_x86::Mnemonic::Int3 {
            kept.push(*i);
            after_fill.push(k > 0 && code[k - 1].mnemonic() == iced_x86::Mnemonic::Int3);
        }
    }
    (kept, after_fill)
}

/// `code` as text, one instruction a line, for failure messages.
pub fn listing(code: &[Instruction]) -> String {
    code.iter().map(|i| format!("\n  {i}")).collect()
}

/// Whether `i` reads or writes `rbp`, or memory through it, or the stack
/// below `rsp + floor` (in a function without a frame, its return address
/// is at `[rsp]`, its incoming area from `[rsp + 8]` up).
pub fn touches_frame(i: &Instruction, floor: i64) -> bool {
    (0..i.op_count()).any(|k| match i.op_kind(k) {
        OpKind::Register => matches!(
            i.op_register(k),
            Register::RBP | Register::EBP | Register::BP | Register::BPL
        ),
        OpKind::Memory => {
            i.memory_base() == Register::RBP
                || (i.memory_base() == Register::RSP && (i.memory_displacement64() as i64) < floor)
        }
        _ => false,
    })
}
