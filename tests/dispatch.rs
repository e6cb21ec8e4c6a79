//! Interpreter loops (`loop` + blocks + `br_table`, handlers branching back)
//! whose dispatch the compiler repeats at every branch back
//! (`src/compile/dispatch.rs`): results, traps inside a repeated header,
//! and that the repetition happens exactly where it may.

use iced_x86::{Code, Decoder, DecoderOptions};
use wasmkern::abi::TrapCode;
use wasmkern::asm::x64::CpuFeatures;
use wasmkern::compile::{CompileOptions, compile_module_with};
use wasmkern::{Config, Engine, Instance, Module, Store, Val};

/// A bytecode VM: `pc` walks a program in memory; opcodes 0 halt (return
/// the accumulator), 1 add the next word, 2 multiply by the next word, 3
/// jump back to word 0 while `--count` is non-zero, 4 xor with `pc`;
/// anything else takes the default path, which halts with -1. The header
/// increments `pc` before the blocks and loads the opcode after them; the
/// handlers return to the loop from different depths.
const VM: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "run") (param $count i32) (result i32)
    (local $pc i32) (local $acc i32) (local $op i32)
    (loop $next (result i32)
      (local.set $op (i32.load (local.get $pc)))
      (local.set $pc (i32.add (local.get $pc) (i32.const 4)))
      (block $default
        (block $xor
          (block $loop
            (block $mul
              (block $add
                (block $halt
                  (br_table $halt $add $mul $loop $xor $default (local.get $op)))
                (return (local.get $acc)))
              (local.set $acc (i32.add (local.get $acc) (i32.load (local.get $pc))))
              (local.set $pc (i32.add (local.get $pc) (i32.const 4)))
              (br $next))
            (local.set $acc (i32.mul (local.get $acc) (i32.load (local.get $pc))))
            (local.set $pc (i32.add (local.get $pc) (i32.const 4)))
            (br $next))
          (local.set $count (i32.sub (local.get $count) (i32.const 1)))
          (br_if $default (i32.eqz (local.get $count)))
          (local.set $pc (i32.const 0))
          (br $next))
        (local.set $acc (i32.xor (local.get $acc) (local.get $pc)))
        ;; Values left on the stack are dead when the branch leaves.
        (i32.const 7)
        (i32.const 8)
        (br $next))
      (i32.const -1))))"#;

/// Words: add 3, mul 5, xor, loop (with `count`), halt at word 6.
const PROGRAM: [u32; 7] = [1, 3, 2, 5, 4, 3, 0];

/// The VM in Rust: the result of `run(count)` over [`PROGRAM`].
fn expected(mut count: i32, program: &[u32]) -> i32 {
    let (mut pc, mut acc) = (0usize, 0i32);
    loop {
        let op = program.get(pc / 4).copied().unwrap_or(0);
        pc += 4;
        let arg = || program.get(pc / 4).copied().unwrap_or(0) as i32;
        match op {
            0 => return acc,
            1 => {
                acc = acc.wrapping_add(arg());
                pc += 4;
            }
            2 => {
                acc = acc.wrapping_mul(arg());
                pc += 4;
            }
            3 => {
                count -= 1;
                if count == 0 {
                    return -1;
                }
                pc = 0;
            }
            4 => acc ^= pc as i32,
            _ => return -1,
        }
    }
}

/// An engine configuration: explicit checks, guard regions, fuel, or
/// interruption checks.
fn config(mode: &str) -> Config {
    let mut config = Config::new();
    match mode {
        "guard" => config.guard_regions(true),
        "fuel" => config.consume_fuel(true),
        "interruptible" => config.interruptible(true),
        _ => &mut config,
    };
    config
}

fn instantiate(config: &Config, program: &[u32]) -> (Store<()>, Instance) {
    let engine = Engine::new(config).unwrap();
    let module = Module::new(&engine, wat::parse_str(VM).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let memory = instance.get_memory(&mut store, "memory").unwrap();
    let bytes: Vec<u8> = program.iter().flat_map(|w| w.to_le_bytes()).collect();
    memory.write(&mut store, 0, &bytes).unwrap();
    (store, instance)
}

fn run(store: &mut Store<()>, instance: Instance, count: i32) -> Result<i32, wasmkern::Error> {
    let run = instance
        .get_typed_func::<i32, i32>(&mut *store, "run")
        .unwrap();
    run.call(&mut *store, count)
}

#[test]
fn interpreter_loop_results_match_in_every_mode() {
    for mode in ["checks", "guard", "fuel", "interruptible"] {
        let (mut store, instance) = instantiate(&config(mode), &PROGRAM);
        if mode == "fuel" {
            store.set_fuel(u64::MAX / 2).unwrap();
        }
        for count in [1, 2, 3, 100] {
            assert_eq!(
                run(&mut store, instance, count).unwrap(),
                expected(count, &PROGRAM),
                "count {count}"
            );
        }
        // An opcode outside the table takes the default path.
        let memory = instance.get_memory(&mut store, "memory").unwrap();
        memory.write(&mut store, 0, &9u32.to_le_bytes()).unwrap();
        assert_eq!(run(&mut store, instance, 5).unwrap(), -1);
    }
}

/// The header's load traps when `pc` runs off the memory: the trap comes
/// from the header compiled again at a branch back, and must be the same
/// "out of bounds" trap at the header's load.
#[test]
fn a_trap_in_a_repeated_header_is_reported_at_the_header() {
    for mode in ["checks", "guard"] {
        // xor forever: pc walks to the end of the 64 KiB memory.
        let (mut store, instance) = instantiate(&config(mode), &[4; 16384]);
        let err = run(&mut store, instance, 1).unwrap_err();
        assert_eq!(err.trap(), Some(TrapCode::MemoryOutOfBounds), "{err}");
        let frames = err.backtrace();
        // The header's `i32.load` (the first load in `run`).
        let wasm = wat::parse_str(VM).unwrap();
        let load = first_load_offset(&wasm);
        assert_eq!(frames[0].module_offset as usize, load, "{err}");
    }
}

/// Module offset of the first `i32.load` (opcode 0x28 after `local.get`)
/// in the module's only function body.
fn first_load_offset(wasm: &[u8]) -> usize {
    let mut offset = 0;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::CodeSectionEntry(body) = payload.unwrap() {
            let mut ops = body.get_operators_reader().unwrap();
            while !ops.eof() {
                let (op, at) = ops.read_with_offset().unwrap();
                if let wasmparser::Operator::I32Load { .. } = op {
                    offset = at as usize;
                    break;
                }
            }
        }
    }
    offset
}

/// Number of indirect jumps (`jmp reg`) in `VM`'s compiled code.
fn indirect_jumps(options: &CompileOptions) -> usize {
    let wasm = wat::parse_str(VM).unwrap();
    let module = wasmkern::decode::Module::decode(&wasm).unwrap();
    let info = wasmkern::validate::validate_module(&module).unwrap();
    let compiled = compile_module_with(&module, &info, &CpuFeatures::detect(), options).unwrap();
    let start = compiled.func_offsets[0] as usize;
    let code = &compiled.code[start..];
    Decoder::with_ip(64, code, 0, DecoderOptions::NONE)
        .into_iter()
        .filter(|i| i.code() == Code::Jmp_rm64 && i.op0_kind() == iced_x86::OpKind::Register)
        .count()
}

#[test]
fn the_dispatch_is_repeated_at_each_branch_back_unless_metered() {
    // The header's own jump, plus one per `br $next` (add, mul, loop, xor).
    assert_eq!(indirect_jumps(&CompileOptions::default()), 5);
    let guard = CompileOptions {
        guard_region: true,
        ..Default::default()
    };
    assert_eq!(indirect_jumps(&guard), 5);
    // Fuel and interruption checks live at the loop header: every branch
    // back must go through it.
    let fuel = CompileOptions {
        fuel: true,
        ..Default::default()
    };
    assert_eq!(indirect_jumps(&fuel), 1);
    let interruptible = CompileOptions {
        interruptible: true,
        ..Default::default()
    };
    assert_eq!(indirect_jumps(&interruptible), 1);
}

/// A header that does more than dispatch (here a call) is not repeated.
#[test]
fn a_header_with_a_call_is_not_repeated() {
    let wat = VM
        .replace(
            "(local.set $op (i32.load (local.get $pc)))",
            "(local.set $op (call $id (i32.load (local.get $pc))))",
        )
        .replace(
            "(memory (export \"memory\") 1)",
            "(memory (export \"memory\") 1) (func $id (param i32) (result i32) local.get 0)",
        );
    let engine = Engine::default();
    let module = Module::new(&engine, wat::parse_str(&wat).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let memory = instance.get_memory(&mut store, "memory").unwrap();
    let bytes: Vec<u8> = PROGRAM.iter().flat_map(|w| w.to_le_bytes()).collect();
    memory.write(&mut store, 0, &bytes).unwrap();
    let mut out = [Val::I32(0)];
    let f = instance.get_func(&mut store, "run").unwrap();
    f.call(&mut store, &[Val::I32(3)], &mut out).unwrap();
    assert_eq!(out[0], Val::I32(expected(3, &PROGRAM)));
}
