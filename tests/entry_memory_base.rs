//! Memory 0's base in its register when a function is entered.
//!
//! In a module that reaches only its own functions and never pauses, a
//! function that neither the host nor another instance can enter finds the
//! base already loaded (by the enter trampoline, or kept current by the
//! module's code) and does not load it itself (`abi`, "Registers"). These
//! tests enter functions every other way and check that each reads its
//! own instance's memory: an exported function called by another instance
//! that imported it (that instance's base is in the register then), a
//! function whose reference left through an export's result or an
//! uncaught exception, the host's calls after it grew (and moved) the
//! memory, and a call paused for fuel while the host grew it. The
//! function that reads memory is always one that does not use memory
//! before it, so a base it did not load itself would be whatever its
//! caller left.

use iced_x86::{Instruction, Mnemonic, OpKind, Register};
use wasmkern::compile::CompileOptions;
use wasmkern::{CallOutcome, Config, Engine, Extern, Func, Instance, Store, Val};

mod common;
use common::{both_modes, function_code, instantiate, module, typed};

/// What the owner's memory holds at byte 64, and the other instance's.
const OWN: i32 = 42;
const OTHER: i32 = 7;

/// Pages the host adds: enough that an explicitly checked memory (a
/// `Vec`) moves.
const GROW: u64 = 64;
/// An address past the first page.
const HIGH: u32 = 40 * 65536;

fn engine(guard: bool, fuel: bool) -> Engine {
    let mut config = Config::new();
    config.guard_regions(guard).consume_fuel(fuel);
    Engine::new(&config).expect("engine")
}

/// An instance with its own memory (`OTHER` at 64) that loads from it and
/// then calls its import `f`, returning what `f` returns: the register
/// holds this instance's base when `f` is entered.
fn call_from_other_instance(engine: &Engine, store: &mut Store<()>, f: Func) -> i32 {
    let other = module(
        engine,
        &format!(
            r#"(module
              (import "owner" "f" (func $f (result i32)))
              (memory 1)
              (data (i32.const 64) "\{OTHER:02x}\00\00\00")
              (func (export "call") (result i32)
                (drop (i32.load (i32.const 64)))
                (call $f)))"#
        ),
    );
    let inst = Instance::new(&mut *store, &other, &[Extern::Func(f)]).expect("instantiates");
    typed::<(), (), i32>(store, &inst, "call")
        .call(&mut *store, ())
        .expect("call")
}

/// The owner: `imports`, `OWN` at 64, `$peek` (function 0 of those it
/// defines) reading it, and `extra` (exports and more) after them.
fn owner_wat(imports: &str, extra: &str) -> String {
    format!(
        r#"(module {imports}
          (memory (export "mem") 1)
          (data (i32.const 64) "\{OWN:02x}\00\00\00")
          (func $peek (result i32) (i32.load (i32.const 64)))
          {extra})"#
    )
}

/// The owner with `extra`, instantiated in a new store of an engine with
/// guard regions or not, and its export `name`.
fn owner_export(guard: bool, extra: &str, name: &str) -> (Engine, Store<()>, Func) {
    let engine = engine(guard, false);
    let (mut store, inst) = instantiate(&engine, &owner_wat("", extra));
    let f = inst.get_func(&mut store, name).unwrap();
    (engine, store, f)
}

#[test]
fn an_exported_function_called_by_another_instance_reads_its_own_memory() {
    both_modes(|guard| {
        let extra = r#"(func (export "peek") (result i32) (i32.load (i32.const 64)))"#;
        let (engine, mut store, peek) = owner_export(guard, extra, "peek");
        assert_eq!(call_from_other_instance(&engine, &mut store, peek), OWN);
    });
}

#[test]
fn a_function_returned_by_an_export_reads_its_own_memory() {
    both_modes(|guard| {
        let extra = r#"(elem declare func $peek)
            (func (export "get") (result funcref) (ref.func $peek))"#;
        let (engine, mut store, get) = owner_export(guard, extra, "get");
        let mut out = [Val::FuncRef(None)];
        get.call(&mut store, &[], &mut out).unwrap();
        let Val::FuncRef(Some(peek)) = out[0] else {
            panic!("result {:?}", out[0]);
        };
        assert_eq!(call_from_other_instance(&engine, &mut store, peek), OWN);
    });
}

#[test]
fn a_function_thrown_to_the_host_reads_its_own_memory() {
    both_modes(|guard| {
        let extra = r#"(tag $t (param funcref))
            (elem declare func $peek)
            (func (export "boom") (throw $t (ref.func $peek)))"#;
        let (engine, mut store, boom) = owner_export(guard, extra, "boom");
        let err = boom.call(&mut store, &[], &mut []).expect_err("throws");
        let thrown = err.thrown().expect("the exception");
        let Val::FuncRef(Some(peek)) = thrown.fields()[0] else {
            panic!("payload {:?}", thrown.fields());
        };
        assert_eq!(call_from_other_instance(&engine, &mut store, peek), OWN);
    });
}

/// `run` (exported, no memory access) calls `$peek` and `$high`, which
/// only the module's code can enter (functions 0 `$peek`, 1 `$high`, 2
/// `run` of the owner with it); the host grows the memory between calls
/// and writes above the old size.
const INNER: &str = r#"(func $high (param $at i32) (result i32) (i32.load (local.get $at)))
  (func (export "run") (param $at i32) (result i32)
    (i32.add (call $peek) (call $high (local.get $at))))"#;

#[test]
fn host_calls_find_the_base_of_a_grown_memory() {
    both_modes(|guard| {
        let (mut store, inst) = instantiate(&engine(guard, false), &owner_wat("", INNER));
        let run = typed::<(), i32, i32>(&mut store, &inst, "run");
        let mem = inst.get_memory(&store, "mem").unwrap();
        assert_eq!(run.call(&mut store, 68).unwrap(), OWN);
        for (k, v) in [1000i32, 2000, 3000].into_iter().enumerate() {
            mem.grow(&mut store, GROW).unwrap();
            let at = (HIGH + 4 * k as u32) as i32;
            mem.write(&mut store, at as usize, &v.to_le_bytes())
                .unwrap();
            assert_eq!(run.call(&mut store, at).unwrap(), OWN + v);
        }
    });
}

/// A call paused for fuel (in a loop of `run`'s, before its calls) while
/// the host grows the memory: the module meters fuel, so `$peek` and
/// `$high` load the base themselves.
#[test]
fn a_call_paused_while_the_host_grows_finds_the_new_base() {
    both_modes(|guard| {
        let wat = owner_wat(
            "",
            r#"(func $high (param $at i32) (result i32) (i32.load (local.get $at)))
               (func (export "run") (param $at i32) (param $n i32) (result i32)
                 (local $i i32)
                 (loop $spin
                   (local.set $i (i32.add (local.get $i) (i32.const 1)))
                   (br_if $spin (i32.lt_u (local.get $i) (local.get $n))))
                 (i32.add (call $peek) (call $high (local.get $at))))"#,
        );
        let (mut store, inst) = instantiate(&engine(guard, true), &wat);
        let mem = inst.get_memory(&store, "mem").unwrap();
        let run = inst.get_func(&mut store, "run").unwrap();
        let mut results = [Val::I32(0)];
        store.set_fuel(100).unwrap();
        let args = [Val::I32(HIGH as i32), Val::I32(2000)];
        let mut outcome = run.call_resumable(&mut store, &args, &mut results).unwrap();
        let mut pauses = 0;
        while let CallOutcome::Paused(call) = outcome {
            pauses += 1;
            assert!(pauses < 100_000, "no progress");
            if pauses == 3 {
                mem.grow(&mut store, GROW).unwrap();
                mem.write(&mut store, HIGH as usize, &5i32.to_le_bytes())
                    .unwrap();
            }
            store.set_fuel(100).unwrap();
            outcome = call.resume(&mut store, &mut results).unwrap();
        }
        assert!(pauses > 3, "only {pauses} pauses");
        assert_eq!(results[0], Val::I32(OWN + 5));
    });
}

/// Whether `code` loads memory 0's base: a `mov` into `r14` from a field
/// of the context in `r15`.
fn loads_base(code: &[Instruction]) -> bool {
    code.iter().any(|i| {
        i.mnemonic() == Mnemonic::Mov
            && i.op0_register() == Register::R14
            && i.op1_kind() == OpKind::Memory
            && i.memory_base() == Register::R15
    })
}

#[test]
fn only_functions_the_module_alone_enters_skip_the_load() {
    let plain = CompileOptions::default();
    let wat = owner_wat("", INNER);
    assert!(!loads_base(&function_code(&wat, 0, &plain)), "$peek");
    assert!(!loads_base(&function_code(&wat, 1, &plain)), "$high");
    // Exported: another instance may call it.
    let exported = owner_wat("", &format!(r#"{INNER} (export "peek" (func $peek))"#));
    assert!(loads_base(&function_code(&exported, 0, &plain)), "exported");
    assert!(!loads_base(&function_code(&exported, 1, &plain)), "$high");
    // Fuel: the host may grow the memory while a call is paused.
    let fuel = CompileOptions {
        fuel: true,
        ..CompileOptions::default()
    };
    assert!(loads_base(&function_code(&wat, 0, &fuel)), "fuel");
    // An import: host code runs during calls.
    let imported = owner_wat(r#"(import "h" "f" (func))"#, INNER);
    assert!(loads_base(&function_code(&imported, 1, &plain)), "import");
    // A reference may leave through a result.
    let leaves = owner_wat(
        "",
        &format!(
            r#"{INNER} (elem declare func $peek)
               (func (export "get") (result funcref) (ref.func $peek))"#
        ),
    );
    assert!(loads_base(&function_code(&leaves, 0, &plain)), "result");
}
