//! Branch history marks (`x64::frame`, "Branch history marks"): a
//! function that an indirect call may run, whose body opens no block,
//! loop or `if` and calls nothing, ends its prologue with a `jmp` to the
//! next instruction; no other function has one. Then a call-threaded
//! interpreter whose handlers are all marked computes what a model in
//! Rust does, in both memory modes.

mod common;

use common::{both_modes, compile_options, function_code, is_history_mark, listing, typed};
use wasmkern::{Config, Engine};

/// Functions 0-6: straight-line leaves reached in different ways (or
/// not), and functions a reference reaches that branch or call.
const MODULE: &str = r#"(module
  (type $bin (func (param i32 i32) (result i32)))
  (memory 1)
  (table 2 funcref)
  (elem (i32.const 0) $in_table $with_if)
  (elem declare func $declared)
  ;; 0: an element of the table.
  (func $in_table (type $bin) (i32.add (local.get 0) (i32.load (local.get 1))))
  ;; 1: exported.
  (func $exported (export "exported") (type $bin) (i32.sub (local.get 0) (local.get 1)))
  ;; 2: named by `ref.func` (in a declarative segment).
  (func $declared (type $bin) (i32.mul (local.get 0) (local.get 1)))
  ;; 3: called directly only.
  (func $direct (type $bin) (i32.xor (local.get 0) (local.get 1)))
  ;; 4: an element with an `if`.
  (func $with_if (type $bin)
    (if (result i32) (local.get 0) (then (local.get 1)) (else (i32.const 7))))
  ;; 5: exported, and calls.
  (func $calls (export "calls") (type $bin) (call $direct (local.get 0) (local.get 1)))
  ;; 6: takes the reference of 2 and calls 3.
  (func (export "refs") (result funcref)
    (drop (call $direct (i32.const 1) (i32.const 2)))
    (ref.func $declared)))"#;

#[test]
fn marked_functions_are_straight_line_leaves_a_reference_reaches() {
    for guard_region in [false, true] {
        let options = compile_options(guard_region);
        for (index, marked) in [
            (0, true),
            (1, true),
            (2, true),
            (3, false),
            (4, false),
            (5, false),
            (6, false),
        ] {
            let code = function_code(MODULE, index, &options);
            let marks = code.iter().filter(|i| is_history_mark(i)).count();
            assert_eq!(
                marks,
                usize::from(marked),
                "function {index}, guard regions {guard_region}:{}",
                listing(&code)
            );
        }
    }
}

/// A frameless leaf's mark is its first instruction, so the jump is taken
/// on the way into the handler, before its `ret`.
#[test]
fn a_frameless_marked_leaf_starts_with_its_mark() {
    let code = function_code(MODULE, 2, &compile_options(true));
    assert!(is_history_mark(&code[0]), "{}", listing(&code));
}

/// The VM of `benches/workloads/call_vm.wat`, with a program of nine
/// opcodes (`{program}`, one byte each): eight ending in `$dec_c` (5),
/// which goes back to pc 0 until it has counted `c` down to 0, then to
/// pc 8, whose 0 runs `$halt`. `{p}` is [`PARAMS`].
const VM: &str = r#"(module
  (type $h (func (param $pc i32) (param $a i64) (param $b i64) (param $c i64) (result i32 i64 i64 i64)))
  (memory 1)
  (data (i32.const 0) "{program}")
  (table 6 funcref)
  (elem (i32.const 0) $halt $add $mul $xshr $swap $dec_c)
  (func $halt (type $h) {p} (i32.const -1) (local.get $a) (local.get $b) (local.get $c))
  (func $add (type $h) {p}
    (i32.add (local.get $pc) (i32.const 1)) (i64.add (local.get $a) (local.get $b)) (local.get $b) (local.get $c))
  (func $mul (type $h) {p}
    (i32.add (local.get $pc) (i32.const 1)) (local.get $a)
    (i64.mul (local.get $b) (i64.const 0x9E3779B1)) (local.get $c))
  (func $xshr (type $h) {p}
    (i32.add (local.get $pc) (i32.const 1))
    (i64.xor (local.get $a) (i64.shr_u (local.get $a) (i64.const 7))) (local.get $b) (local.get $c))
  (func $swap (type $h) {p} (i32.add (local.get $pc) (i32.const 1)) (local.get $b) (local.get $a) (local.get $c))
  ;; The next pc is 0 until `c` counts down to 0, then 8 (the halt).
  (func $dec_c (type $h) {p}
    (select (i32.const 0) (i32.const 8) (i64.ne (local.get $c) (i64.const 1)))
    (local.get $a) (local.get $b) (i64.sub (local.get $c) (i64.const 1)))
  (func (export "run") (param $n i64) (result i64)
    (local $pc i32) (local $a i64) (local $b i64) (local $c i64)
    (local.set $b (i64.const 1))
    (local.set $c (local.get $n))
    (loop $next
      (call_indirect (type $h) (local.get $pc) (local.get $a) (local.get $b) (local.get $c)
        (i32.load8_u (local.get $pc)))
      (local.set $c) (local.set $b) (local.set $a) (local.set $pc)
      (br_if $next (i32.ge_s (local.get $pc) (i32.const 0))))
    (local.get $a)))"#;

/// The handlers' parameters, by name.
const PARAMS: &str =
    "(param $pc i32) (param $a i64) (param $b i64) (param $c i64) (result i32 i64 i64 i64)";

/// What [`VM`] computes for `program` and `n` rounds.
fn model(program: &[u8; 9], n: u64) -> u64 {
    let (mut pc, mut a, mut b, mut c) = (0usize, 0u64, 1u64, n);
    loop {
        match program[pc] {
            0 => return a,
            1 => a = a.wrapping_add(b),
            2 => b = b.wrapping_mul(0x9E37_79B1),
            3 => a ^= a >> 7,
            4 => (a, b) = (b, a),
            5 => {
                pc = if c != 1 { 0 } else { 8 };
                c = c.wrapping_sub(1);
                continue;
            }
            op => unreachable!("opcode {op}"),
        }
        pc += 1;
    }
}

#[test]
fn a_vm_of_marked_handlers_runs_its_programs() {
    let programs: [[u8; 9]; 3] = [
        [1, 3, 2, 1, 4, 3, 1, 5, 0],
        [2, 2, 1, 4, 1, 3, 3, 5, 0],
        [4, 1, 1, 3, 2, 4, 2, 5, 0],
    ];
    both_modes(|guard_regions| {
        let engine = Engine::new(Config::new().guard_regions(guard_regions)).unwrap();
        for program in &programs {
            let data: String = program.iter().map(|op| format!("\\{op:02x}")).collect();
            let wat = VM.replace("{program}", &data).replace("{p}", PARAMS);
            let options = compile_options(guard_regions);
            for handler in 0..6 {
                let code = function_code(&wat, handler, &options);
                assert!(
                    code.iter().any(is_history_mark),
                    "handler {handler} unmarked:{}",
                    listing(&code)
                );
            }
            let (mut store, instance) = common::instantiate(&engine, &wat);
            let run = typed::<(), i64, i64>(&mut store, &instance, "run");
            for n in [1u64, 2, 3, 1000] {
                assert_eq!(
                    run.call(&mut store, n as i64).unwrap() as u64,
                    model(program, n),
                    "program {program:?}, {n} rounds, guard regions {guard_regions}"
                );
            }
        }
    });
}
