//! Handlers of a threaded interpreter, shaped like
//! `benches/workloads/tail_vm.wat`'s: each receives the state (`pc` and
//! `a` in registers, `b` and `c` on the stack) and ends by tail-calling
//! the next instruction's handler through the table. Their parameters are
//! used once, twice, shifted, divided by and passed on in another
//! position; random programs run in both memory modes against a model in
//! Rust. Then the code of the handler that uses its register parameter
//! `a` once: `a` stays in the register it arrives in (no store to its
//! slot; `x64::frame`, `LEAF_ARRIVAL_PINS`), and the handler, which has no
//! frame, executes no no-op before its jump.

mod common;
#[path = "common/rng.rs"]
mod rng;

use common::{function_code, listing, touches_frame};
use iced_x86::{Code, Mnemonic, OpKind, Register};
use rng::Rng;
use wasmkern::compile::CompileOptions;
use wasmkern::{Config, Engine, Instance, Store};

/// The handlers (`{sig}` is [`SIGNATURE`]); `{program}` is the data segment: sixteen `i32` opcodes,
/// the last `$dec`, which ends the run (by `$halt`) when `c` reaches 0.
/// Opcodes: 0 halt, 1 add, 2 shr, 3 div, 4 swap, 5 mul, 6 dec.
const HANDLERS: &str = r#"(module
  (type $h (func (param $pc i32) (param $a i64) (param $b i64) (param $c i64) (result i64)))
  (memory 1)
  (data (i32.const 0) "{program}")
  (table 7 funcref)
  (elem (i32.const 0) $halt $add $shr $div $swap $mul $dec)
  (func $halt (type $h) {sig}
    (i64.xor (local.get $a) (i64.xor (local.get $b) (i64.rotl (local.get $c) (i64.const 17)))))
  ;; `a` used once.
  (func $add (type $h) {sig}
    (return_call_indirect (type $h)
      (i32.add (local.get $pc) (i32.const 1))
      (i64.add (local.get $a) (local.get $b)) (local.get $b) (local.get $c)
      (i32.load (i32.shl (i32.and (i32.add (local.get $pc) (i32.const 1)) (i32.const 15)) (i32.const 2)))))
  ;; `a` used twice, shifted by `b`.
  (func $shr (type $h) {sig}
    (return_call_indirect (type $h)
      (i32.add (local.get $pc) (i32.const 1))
      (i64.xor (local.get $a) (i64.shr_u (local.get $a) (local.get $b))) (local.get $b) (local.get $c)
      (i32.load (i32.shl (i32.and (i32.add (local.get $pc) (i32.const 1)) (i32.const 15)) (i32.const 2)))))
  ;; `b` divided by `a`, which stays.
  (func $div (type $h) {sig}
    (return_call_indirect (type $h)
      (i32.add (local.get $pc) (i32.const 1))
      (local.get $a)
      (i64.add (i64.div_u (local.get $b) (i64.or (local.get $a) (i64.const 1))) (local.get $c))
      (local.get $c)
      (i32.load (i32.shl (i32.and (i32.add (local.get $pc) (i32.const 1)) (i32.const 15)) (i32.const 2)))))
  ;; `a` and `b` passed on in each other's position.
  (func $swap (type $h) {sig}
    (return_call_indirect (type $h)
      (i32.add (local.get $pc) (i32.const 1))
      (local.get $b) (local.get $a) (local.get $c)
      (i32.load (i32.shl (i32.and (i32.add (local.get $pc) (i32.const 1)) (i32.const 15)) (i32.const 2)))))
  ;; `a` used twice, `pc` shifted by a count in `cl`'s register.
  (func $mul (type $h) {sig}
    (return_call_indirect (type $h)
      (i32.add (local.get $pc) (i32.const 1))
      (i64.mul (local.get $a) (i64.const 0x9E3779B97F4A7C15))
      (i64.add (local.get $b) (i64.extend_i32_u (i32.shl (local.get $pc) (i32.wrap_i64 (local.get $a)))))
      (local.get $c)
      (i32.load (i32.shl (i32.and (i32.add (local.get $pc) (i32.const 1)) (i32.const 15)) (i32.const 2)))))
  ;; `c` counted down; 0 halts.
  (func $dec (type $h) {sig}
    (return_call_indirect (type $h)
      (i32.add (local.get $pc) (i32.const 1))
      (local.get $a) (local.get $b) (i64.sub (local.get $c) (i64.const 1))
      (select
        (i32.const 0)
        (i32.load (i32.shl (i32.and (i32.add (local.get $pc) (i32.const 1)) (i32.const 15)) (i32.const 2)))
        (i64.eqz (i64.sub (local.get $c) (i64.const 1))))))
  (func (export "run") (param $a i64) (param $b i64) (param $c i64) (result i64)
    (return_call_indirect (type $h) (i32.const 0) (local.get $a) (local.get $b) (local.get $c)
      (i32.load (i32.const 0)))))"#;

/// The handlers' parameters, named.
const SIGNATURE: &str = "(param $pc i32) (param $a i64) (param $b i64) (param $c i64) (result i64)";

/// `HANDLERS` with `program` in its data segment.
fn handlers(program: &[u32; 16]) -> String {
    let data: String = program
        .iter()
        .flat_map(|op| op.to_le_bytes())
        .map(|b| format!("\\{b:02x}"))
        .collect();
    HANDLERS
        .replace("{program}", &data)
        .replace("{sig}", SIGNATURE)
}

/// `HANDLERS`' `run` in Rust.
fn run(program: &[u32; 16], mut a: u64, mut b: u64, mut c: u64) -> u64 {
    let mut pc: u32 = 0;
    let mut op = program[0];
    loop {
        let next = pc.wrapping_add(1);
        let mut following = program[(next & 15) as usize];
        match op {
            0 => return a ^ b ^ c.rotate_left(17),
            1 => a = a.wrapping_add(b),
            2 => a ^= a >> (b & 63),
            3 => b = (b / (a | 1)).wrapping_add(c),
            4 => (a, b) = (b, a),
            5 => {
                b = b.wrapping_add(u64::from(pc << (a & 31)));
                a = a.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            }
            6 => {
                c = c.wrapping_sub(1);
                if c == 0 {
                    following = 0;
                }
            }
            _ => unreachable!("opcode {op}"),
        }
        pc = next;
        op = following;
    }
}

#[test]
fn handlers_compute_as_in_rust() {
    let mut rng = Rng::new(0x7a11_5eed);
    for guard in [false, true] {
        let engine = Engine::new(Config::new().guard_regions(guard)).expect("engine");
        for _ in 0..12 {
            let mut program = [0u32; 16];
            for op in &mut program[..15] {
                *op = 1 + rng.below(5) as u32;
            }
            program[15] = 6;
            let wat = handlers(&program);
            let module = common::module(&engine, &wat);
            let mut store = Store::new(&engine, ());
            let instance = Instance::new(&mut store, &module, &[]).expect("instance");
            let f = common::typed::<(), (i64, i64, i64), i64>(&mut store, &instance, "run");
            for _ in 0..20 {
                let (a, b) = (rng.next(), rng.next());
                let c = 1 + rng.below(50) as u64;
                assert_eq!(
                    f.call(&mut store, (a as i64, b as i64, c as i64)).unwrap() as u64,
                    run(&program, a, b, c),
                    "guard={guard} program {program:?} run({a:#x}, {b:#x}, {c})"
                );
            }
        }
    }
}

/// The code of `$add` (defined function 1), which reads `a` (arriving in
/// `rdx`) once: no store of `rdx` to memory, no frame (`b`, read twice
/// from its stack slot, takes no callee-saved register), `a + b` added
/// from `b`'s slot rather than after a load of it, and no no-op anywhere
/// before its indirect jump.
#[test]
fn add_handler_keeps_a_in_rdx_and_runs_no_nop() {
    let wat = handlers(&[1; 16]);
    for guard in [false, true] {
        let options = CompileOptions {
            guard_region: guard,
            ..CompileOptions::default()
        };
        let code = function_code(&wat, 1, &options);
        let jump = code
            .iter()
            .position(|i| i.code() == Code::Jmp_rm64)
            .unwrap_or_else(|| panic!("guard={guard}: no indirect jump in{}", listing(&code)));
        let stores_rdx = code[..jump].iter().any(|i| {
            i.mnemonic() == Mnemonic::Mov
                && i.op0_kind() == OpKind::Memory
                && i.op1_kind() == OpKind::Register
                && i.op1_register() == Register::RDX
        });
        assert!(!stores_rdx, "guard={guard}: `a` stored{}", listing(&code));
        let nop = code[..jump].iter().any(|i| i.mnemonic() == Mnemonic::Nop);
        assert!(
            !nop,
            "guard={guard}: a no-op before the jump{}",
            listing(&code)
        );
        let loads_b = code[..jump].iter().any(|i| {
            i.mnemonic() == Mnemonic::Mov
                && i.op1_kind() == OpKind::Memory
                && i.memory_base() == Register::RSP
        });
        assert!(!loads_b, "guard={guard}: `b` loaded{}", listing(&code));
        let frame = code[..jump].iter().any(|i| touches_frame(i, 8));
        assert!(!frame, "guard={guard}: a frame{}", listing(&code));
    }
}
