//! Integer locals pinned in the caller-saved registers `r8` and `r9`
//! beyond leaves with shallow stacks: a leaf whose operand stack grows
//! deep only outside its loop, and a function whose calls lie outside its
//! loop, both with seven locals used in the loop (more than the five
//! callee-saved pin registers hold). Each must compute what the same
//! arithmetic in Rust does, in both memory modes, although calls (of a
//! wasm function whose value stack writes `r8` and `r9`, and of a host
//! function) and exits (`memory.grow`) come between the writes of the
//! pinned locals and their reads; and its loop must keep every local in
//! a register, `r8` and `r9` among them, with no access to the stack.

use iced_x86::{Instruction, OpKind, Register};
use wasmkern::compile::CompileOptions;
use wasmkern::{Config, Engine, Instance, Linker, Store};

mod common;
use common::{both_modes, function_code, listing, module, typed};

/// The loop both tested functions run: seven locals, all used in it.
macro_rules! step_loop {
    () => {
        r#"    (loop $step
      (local.set $a (i32.add (local.get $a) (local.get $b)))
      (local.set $b (i32.xor (local.get $b) (local.get $c)))
      (local.set $c (i32.rotl (local.get $c) (local.get $d)))
      (local.set $d (i32.add (local.get $d) (i32.mul (local.get $e) (i32.const 3))))
      (local.set $e (i32.sub (local.get $e) (local.get $f)))
      (local.set $f (i32.xor (local.get $f) (i32.add (local.get $a) (local.get $i))))
      (br_if $step (local.tee $i (i32.sub (local.get $i) (i32.const 1)))))
"#
    };
}

/// The module under test. Defined functions: 0 `$clobber`, 1
/// `$deep_leaf`, 2 `$with_calls`. `$scramble` is a host import.
const WAT: &str = concat!(
    r#"(module
  (import "host" "scramble" (func $scramble (param i32) (result i32)))
  (memory 1)
  ;; Five products live at once inside a loop: no caller-saved pins here,
  ;; and the value stack takes r8 and r9 for them.
  (func $clobber (param $x i32) (result i32)
    (local $k i32) (local $acc i32)
    (local.set $k (i32.const 2))
    (loop $again
      (local.set $acc
        (i32.add (local.get $acc)
          (i32.add (i32.mul (local.get $x) (i32.const 3))
            (i32.add (i32.mul (local.get $x) (i32.const 5))
              (i32.add (i32.mul (local.get $x) (i32.const 7))
                (i32.xor (i32.mul (local.get $x) (i32.const 11))
                  (i32.mul (local.get $x) (i32.const 13))))))))
      (local.set $x (i32.add (local.get $x) (local.get $acc)))
      (br_if $again (local.tee $k (i32.sub (local.get $k) (i32.const 1)))))
    (local.get $acc))
  ;; No calls; five values on the stack at once before and after the
  ;; loop, at most three in it; memory.grow before and after it.
  (func $deep_leaf (export "deep_leaf") (param $n i32) (param $seed i32) (result i32)
    (local $i i32) (local $a i32) (local $b i32) (local $c i32)
    (local $d i32) (local $e i32) (local $f i32)
    (local.set $a (i32.xor (local.get $seed) (i32.const 0x01234567)))
    (local.set $b (i32.add (local.get $seed) (i32.const 0x9e3779b9)))
    (local.set $c
      (i32.add (i32.mul (local.get $a) (local.get $b))
        (i32.add (i32.mul (local.get $b) (i32.const 7))
          (i32.add (i32.mul (local.get $a) (i32.const 13))
            (i32.xor (local.get $seed) (local.get $b))))))
    (local.set $d (i32.rotl (local.get $c) (i32.const 9)))
    (local.set $e (i32.sub (local.get $d) (local.get $a)))
    (local.set $f (i32.xor (local.get $e) (local.get $b)))
    (local.set $i (local.get $n))
    (i32.store (i32.const 32) (memory.grow (i32.const 1)))
"#,
    step_loop!(),
    r#"    (i32.store (i32.const 16) (i32.add (local.get $f) (memory.grow (i32.const 1))))
    (i32.add (i32.mul (local.get $a) (local.get $b))
      (i32.add (i32.mul (local.get $c) (local.get $d))
        (i32.add (i32.mul (local.get $e) (local.get $f))
          (i32.xor (i32.load (i32.const 16)) (i32.load (i32.const 32)))))))
  ;; Calls (of $clobber and the host) and memory.grow outside the loop,
  ;; between writes and reads of the locals the loop uses.
  (func $with_calls (export "with_calls") (param $n i32) (param $seed i32) (result i32)
    (local $i i32) (local $a i32) (local $b i32) (local $c i32)
    (local $d i32) (local $e i32) (local $f i32)
    (local.set $a (call $scramble (local.get $seed)))
    (local.set $b (call $clobber (local.get $a)))
    (local.set $c (i32.add (local.get $a) (local.get $b)))
    (local.set $d (call $scramble (local.get $c)))
    (local.set $e (i32.xor (local.get $d) (local.get $a)))
    (local.set $f (i32.sub (local.get $e) (call $clobber (local.get $b))))
    (local.set $i (local.get $n))
"#,
    step_loop!(),
    r#"    (local.set $c (i32.add (local.get $c) (call $clobber (local.get $f))))
    (local.set $e (i32.xor (local.get $e) (memory.grow (i32.const 1))))
    (local.set $a (i32.sub (local.get $a) (call $scramble (local.get $d))))
    (i32.add (i32.mul (local.get $a) (local.get $b))
      (i32.add (i32.mul (local.get $c) (local.get $d))
        (i32.add (i32.mul (local.get $e) (local.get $f))
          (i32.xor (local.get $i) (local.get $seed))))))
)"#
);

/// The host import `$scramble`.
fn scramble(x: u32) -> u32 {
    x.wrapping_mul(0x2545_f491).rotate_left(11) ^ 0x5bd1_e995
}

/// `$clobber`.
fn clobber(mut x: u32) -> u32 {
    let (mut k, mut acc) = (2u32, 0u32);
    loop {
        let m = |c: u32| x.wrapping_mul(c);
        acc = acc
            .wrapping_add(m(3).wrapping_add(m(5).wrapping_add(m(7).wrapping_add(m(11) ^ m(13)))));
        x = x.wrapping_add(acc);
        k -= 1;
        if k == 0 {
            return acc;
        }
    }
}

/// The loop both functions share, over `[i, a, b, c, d, e, f]`, run
/// until `i` is 0 (at least once).
fn step_loop(v: &mut [u32; 7]) {
    let [i, a, b, c, d, e, f] = v;
    loop {
        *a = a.wrapping_add(*b);
        *b ^= *c;
        *c = c.rotate_left(*d % 32);
        *d = d.wrapping_add(e.wrapping_mul(3));
        *e = e.wrapping_sub(*f);
        *f ^= a.wrapping_add(*i);
        *i = i.wrapping_sub(1);
        if *i == 0 {
            return;
        }
    }
}

/// `$deep_leaf` on a memory of `pages` pages (which its two
/// `memory.grow`s report).
fn deep_leaf(n: u32, seed: u32, pages: u32) -> u32 {
    let a = seed ^ 0x0123_4567;
    let b = seed.wrapping_add(0x9e37_79b9);
    let c = a.wrapping_mul(b).wrapping_add(
        b.wrapping_mul(7)
            .wrapping_add(a.wrapping_mul(13).wrapping_add(seed ^ b)),
    );
    let d = c.rotate_left(9);
    let e = d.wrapping_sub(a);
    let f = e ^ b;
    let mut v = [n, a, b, c, d, e, f];
    step_loop(&mut v);
    let [_, a, b, c, d, e, f] = v;
    let stored = f.wrapping_add(pages + 1);
    a.wrapping_mul(b).wrapping_add(
        c.wrapping_mul(d)
            .wrapping_add(e.wrapping_mul(f).wrapping_add(stored ^ pages)),
    )
}

/// `$with_calls` on a memory of `pages` pages (which its `memory.grow`
/// reports).
fn with_calls(n: u32, seed: u32, pages: u32) -> u32 {
    let a = scramble(seed);
    let b = clobber(a);
    let c = a.wrapping_add(b);
    let d = scramble(c);
    let e = d ^ a;
    let f = e.wrapping_sub(clobber(b));
    let mut v = [n, a, b, c, d, e, f];
    step_loop(&mut v);
    let [i, mut a, b, mut c, d, mut e, f] = v;
    c = c.wrapping_add(clobber(f));
    e ^= pages;
    a = a.wrapping_sub(scramble(d));
    a.wrapping_mul(b).wrapping_add(
        c.wrapping_mul(d)
            .wrapping_add(e.wrapping_mul(f).wrapping_add(i ^ seed)),
    )
}

fn instance(guard: bool) -> (Store<()>, Instance) {
    let mut config = Config::new();
    config.guard_regions(guard);
    let engine = Engine::new(&config).expect("engine");
    let module = module(&engine, WAT);
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap("host", "scramble", |x: i32| scramble(x as u32) as i32)
        .unwrap();
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &module).unwrap();
    (store, instance)
}

const CASES: [(u32, u32); 6] = [
    (1, 0),
    (2, 1),
    (7, 0xdead_beef),
    (100, 0x8000_0000),
    (1000, 12345),
    (33, u32::MAX),
];

/// A leaf with a deep stack outside its loop computes what Rust does,
/// across the `memory.grow` exits around its loop.
#[test]
fn deep_leaf_matches_rust() {
    both_modes(|guard| {
        let (mut store, instance) = instance(guard);
        let run = typed::<(), (i32, i32), i32>(&mut store, &instance, "deep_leaf");
        // Each call grows the memory by two pages.
        let mut pages = 1;
        for (n, seed) in CASES {
            let got = run.call(&mut store, (n as i32, seed as i32)).unwrap() as u32;
            let want = deep_leaf(n, seed, pages);
            assert_eq!(got, want, "guard={guard} n={n} seed={seed:#x}");
            pages += 2;
        }
    });
}

/// A function with calls outside its loop computes what Rust does, across
/// calls of a wasm function that writes `r8` and `r9`, of the host, and
/// `memory.grow`.
#[test]
fn calls_outside_the_loop_match_rust() {
    both_modes(|guard| {
        let (mut store, instance) = instance(guard);
        let run = typed::<(), (i32, i32), i32>(&mut store, &instance, "with_calls");
        // Each call grows the memory by one page.
        for (pages, (n, seed)) in (1..).zip(CASES) {
            let got = run.call(&mut store, (n as i32, seed as i32)).unwrap() as u32;
            let want = with_calls(n, seed, pages);
            assert_eq!(got, want, "guard={guard} n={n} seed={seed:#x}");
        }
    });
}

/// `r8` and `r9`, each at every width.
const VOLATILE_PINS: [[Register; 4]; 2] = [
    [Register::R8, Register::R8D, Register::R8W, Register::R8L],
    [Register::R9, Register::R9D, Register::R9W, Register::R9L],
];

/// The registers `i` names as operands (not inside memory operands).
fn registers(i: &Instruction) -> impl Iterator<Item = Register> + '_ {
    (0..i.op_count())
        .filter(|&k| i.op_kind(k) == OpKind::Register)
        .map(|k| i.op_register(k))
}

/// The instructions of the loop of `code`: from the target of its one
/// backward branch to that branch.
fn loop_body(code: &[Instruction]) -> &[Instruction] {
    let backward: Vec<usize> = (0..code.len())
        .filter(|&k| {
            code[k].op0_kind() == OpKind::NearBranch64
                && code[k].near_branch_target() < code[k].ip()
        })
        .collect();
    assert_eq!(backward.len(), 1, "one backward branch:{}", listing(code));
    let end = backward[0];
    let target = code[end].near_branch_target();
    let start = code
        .iter()
        .position(|i| i.ip() == target)
        .expect("the loop starts at an instruction");
    &code[start..=end]
}

/// In both functions, the loop keeps all seven locals in registers, `r8`
/// and `r9` among them, and never touches the stack; and `$clobber`, which
/// they call, writes `r8` and `r9` (so that the other tests see a missing
/// save or reload).
#[test]
fn the_loops_keep_their_locals_in_r8_and_r9() {
    for guard_region in [false, true] {
        let options = CompileOptions {
            guard_region,
            ..CompileOptions::default()
        };
        let clobber = function_code(WAT, 0, &options);
        for r in VOLATILE_PINS {
            assert!(
                clobber
                    .iter()
                    .any(|i| i.op0_kind() == OpKind::Register && r.contains(&i.op0_register())),
                "guard={guard_region}: $clobber does not write {:?}:{}",
                r[0],
                listing(&clobber)
            );
        }
        for (index, name) in [(1, "$deep_leaf"), (2, "$with_calls")] {
            let code = function_code(WAT, index, &options);
            let body = loop_body(&code);
            let stack: Vec<String> = body
                .iter()
                .filter(|i| {
                    (0..i.op_count()).any(|k| i.op_kind(k) == OpKind::Memory)
                        && matches!(i.memory_base(), Register::RBP | Register::RSP)
                })
                .map(|i| format!("{i}"))
                .collect();
            assert!(
                stack.is_empty(),
                "guard={guard_region}: {name}'s loop reaches the stack: {stack:?}{}",
                listing(body)
            );
            for r in VOLATILE_PINS {
                assert!(
                    body.iter().any(|i| registers(i).any(|x| r.contains(&x))),
                    "guard={guard_region}: {name}'s loop does not use {:?}:{}",
                    r[0],
                    listing(body)
                );
            }
        }
    }
}

/// The validator's figures the choice rests on: the deepest integer stack
/// inside loops apart from the whole function's, and the calls' weight
/// (8 for each loop around a call).
#[test]
fn validator_weighs_loop_stacks_and_calls() {
    let wasm = wat::parse_str(WAT).unwrap();
    let module = wasmkern::decode::Module::decode(&wasm).unwrap();
    let info = wasmkern::validate::validate_module(&module).unwrap();
    let [clobber, deep_leaf, with_calls] = [info.funcs[0], info.funcs[1], info.funcs[2]];
    assert_eq!(clobber.max_loop_gpr_stack_height, 7);
    assert_eq!(clobber.max_gpr_stack_height, 7);
    assert_eq!(clobber.call_weight, 0);
    assert_eq!(deep_leaf.max_gpr_stack_height, 5);
    assert_eq!(deep_leaf.max_loop_gpr_stack_height, 3);
    assert!(!deep_leaf.has_plain_calls);
    assert_eq!(with_calls.max_loop_gpr_stack_height, 3);
    assert!(with_calls.has_plain_calls);
    // Six calls outside loops.
    assert_eq!(with_calls.call_weight, 6);

    let nested = wat::parse_str(
        r#"(module
          (func $f)
          (func (param i32)
            call $f
            (loop
              call $f
              (loop call $f call $f (br_if 0 (local.get 0)))
              (br_if 0 (local.get 0)))))"#,
    )
    .unwrap();
    let module = wasmkern::decode::Module::decode(&nested).unwrap();
    let info = wasmkern::validate::validate_module(&module).unwrap();
    assert_eq!(info.funcs[1].call_weight, 1 + 8 + 2 * 64);
    assert_eq!(info.funcs[1].max_loop_gpr_stack_height, 1);
    assert_eq!(info.funcs[0].call_weight, 0);
}
