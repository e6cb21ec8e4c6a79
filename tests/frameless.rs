//! Leaves without a frame.
//!
//! A leaf whose code never addresses the stack (its locals all in
//! caller-saved registers, no spill, no exit, at most one result) runs
//! without `push rbp; mov rbp, rsp`: `rbp` stays its caller's, and its
//! return address stays at `rsp`. These tests check that such leaves
//! leave their callers' frames and pinned locals intact, that a trap in
//! one still has its caller in the backtrace (found through the return
//! address, not `rbp`), that a tail call from one jumps with the caller's
//! return address in place, and that the code of every frameless leaf
//! really never addresses the stack. Expected values come from the same
//! arithmetic in Rust.

use iced_x86::{Instruction, Mnemonic, OpKind, Register};
use wasmkern::{Config, Engine};

mod common;
use common::{
    both_modes, compile_options, function_code, instantiate, listing, touches_frame, typed,
    without_fill,
};

fn engine(guard: bool) -> Engine {
    let mut config = Config::new();
    config.guard_regions(guard);
    Engine::new(&config).expect("engine")
}

/// Whether compiled code starting at a function's entry runs without a
/// frame: a function with one enters at `push rbp`.
fn is_frameless(code: &[Instruction]) -> bool {
    !(code[0].mnemonic() == Mnemonic::Push && code[0].op0_register() == Register::RBP)
}

/// The function's own code: its instructions without the `int3`s that
/// fill what no path reaches and pad it (these functions have no data
/// after their code).
fn own_code(code: &[Instruction]) -> Vec<Instruction> {
    without_fill(code).0
}

/// Checks that a leaf without a frame leaves by its tail call's jump
/// (through memory, a funcref's code, if `indirect`), standing where the
/// frame's exit (`mov rsp, rbp; pop rbp`) stood: no `ret`, and no no-op
/// run in the exit's place.
fn assert_leaves_by_its_jump(code: &[Instruction], indirect: bool, what: &str) {
    let own = own_code(code);
    let jumps = |i: &Instruction| {
        i.mnemonic() == Mnemonic::Jmp && (!indirect || i.op0_kind() == OpKind::Memory)
    };
    assert!(
        own.iter().any(jumps),
        "{what}: a jump to the callee:{}",
        listing(&own)
    );
    for (mnemonic, name) in [(Mnemonic::Ret, "a return"), (Mnemonic::Nop, "a no-op")] {
        assert!(
            !own.iter().any(|i| i.mnemonic() == mnemonic),
            "{what}: {name}:{}",
            listing(&own)
        );
    }
}

/// Leaves of several shapes, and callers that keep values in callee-saved
/// pins and in frame slots across the calls.
const LEAVES: &str = r#"(module
  (type $bin (func (param i32 i32) (result i32)))
  (memory (export "mem") 1)
  (table 4 funcref)
  (elem (i32.const 0) $cmp $mix $sum_to $pick)
  ;; 0: a comparator over memory.
  (func $cmp (type $bin)
    (local.set 0 (i32.load (local.get 0)))
    (local.set 1 (i32.load (local.get 1)))
    (i32.sub (i32.gt_u (local.get 0) (local.get 1))
             (i32.lt_u (local.get 0) (local.get 1))))
  ;; 1: arithmetic with a store.
  (func $mix (type $bin)
    (i32.store offset=64 (local.get 1) (i32.mul (local.get 0) (i32.const 3)))
    (i32.xor (i32.rotl (local.get 0) (i32.const 7)) (i32.add (local.get 1) (i32.const 99))))
  ;; 2: a loop.
  (func $sum_to (type $bin)
    (loop $l
      (local.set 1 (i32.add (local.get 1) (local.get 0)))
      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
      (br_if $l (i32.gt_s (local.get 0) (i32.const 0))))
    (local.get 1))
  ;; 3: branches and select.
  (func $pick (type $bin)
    (if (result i32) (i32.lt_s (local.get 0) (local.get 1))
      (then (select (local.get 0) (i32.const -5) (i32.and (local.get 1) (i32.const 1))))
      (else (i32.sub (local.get 0) (local.get 1)))))
  ;; 4: a float leaf.
  (func $hyp (param f64 f64) (result f64)
    (f64.sqrt (f64.add (f64.mul (local.get 0) (local.get 0)) (f64.mul (local.get 1) (local.get 1)))))
  ;; 5: an i64 leaf with a tail call to another leaf.
  (func $twice (param i64) (result i64)
    (return_call $plus_one (i64.shl (local.get 0) (i64.const 1))))
  ;; 6
  (func $plus_one (param i64) (result i64)
    (i64.add (local.get 0) (i64.const 1)))
  ;; 7: reads parameters passed on the stack (from `rsp`).
  (func $six (param i32 i32 i32 i32 i32 i32) (result i32)
    (i32.add (i32.mul (local.get 5) (i32.const 7))
      (i32.sub (local.get 4) (i32.add (local.get 0) (local.get 3)))))
  ;; 8: two results, the second returned in the incoming area.
  (func $pair (param i32) (result i32 i32)
    (i32.add (local.get 0) (i32.const 1)) (i32.mul (local.get 0) (local.get 0)))
  ;; 9: calls every leaf in a loop, directly and through the table, with
  ;; more locals than registers, all alive across the calls.
  (func (export "run") (param $n i32) (result i64)
    (local $i i32) (local $a i32) (local $b i32) (local $c i32) (local $d i32)
    (local $e i32) (local $f i32) (local $g i32) (local $h i32) (local $acc i64)
    (local $x f64)
    (local.set $a (i32.const 11)) (local.set $b (i32.const 22)) (local.set $c (i32.const 33))
    (local.set $d (i32.const 44)) (local.set $e (i32.const 55)) (local.set $f (i32.const 66))
    (local.set $g (i32.const 77)) (local.set $h (i32.const 88))
    (i32.store (i32.const 0) (i32.const 5))
    (i32.store (i32.const 4) (i32.const 9))
    (loop $l
      (local.set $a (i32.add (local.get $a) (call $cmp (i32.const 0) (i32.const 4))))
      (local.set $b (i32.add (local.get $b)
        (call_indirect (type $bin) (local.get $i) (i32.const 8) (i32.rem_u (local.get $i) (i32.const 4)))))
      (local.set $c (i32.xor (local.get $c) (call $mix (local.get $i) (i32.const 8))))
      (local.set $d (i32.add (local.get $d) (call $sum_to (i32.and (local.get $i) (i32.const 15)) (i32.const 1))))
      (local.set $e (i32.add (local.get $e) (call $pick (local.get $i) (i32.const 10))))
      (local.set $x (f64.add (local.get $x)
        (call $hyp (f64.convert_i32_u (local.get $i)) (f64.const 3))))
      (local.set $acc (i64.add (local.get $acc) (call $twice (i64.extend_i32_u (local.get $i)))))
      (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u
        (call $six (local.get $i) (i32.const 2) (i32.const 3) (local.get $a) (local.get $c) (local.get $i)))))
      (call $pair (local.get $i))
      (i32.sub) (i64.extend_i32_u) (local.get $acc) (i64.add) (local.set $acc)
      (local.set $f (i32.add (local.get $f) (local.get $a)))
      (local.set $g (i32.add (local.get $g) (local.get $c)))
      (local.set $h (i32.add (local.get $h) (i32.load offset=64 (i32.const 8))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (i64.add
      (i64.add (local.get $acc) (i64.trunc_f64_s (local.get $x)))
      (i64.extend_i32_u
        (i32.add (i32.add (i32.add (local.get $a) (local.get $b)) (i32.add (local.get $c) (local.get $d)))
          (i32.add (i32.add (local.get $e) (local.get $f)) (i32.add (local.get $g) (local.get $h))))))))"#;

/// `run(n)` of [`LEAVES`] in Rust.
fn run_in_rust(n: u32) -> i64 {
    // The memory words `run` and its leaves touch: 5 at 0, 9 at 4, and
    // the word `$mix` stores at 72.
    let mut stored = 0i32;
    let load = |at: i32, stored: i32| {
        let mut memory = [0u8; 128];
        memory[0..4].copy_from_slice(&5u32.to_le_bytes());
        memory[4..8].copy_from_slice(&9u32.to_le_bytes());
        memory[72..76].copy_from_slice(&stored.to_le_bytes());
        let at = at as usize;
        u32::from_le_bytes(memory[at..at + 4].try_into().unwrap())
    };
    let cmp = |x: u32, y: u32| (x > y) as i32 - ((x < y) as i32);
    // Returns the result and the word stored at 72.
    let mix = |p: i32, q: i32| (p.rotate_left(7) ^ q.wrapping_add(99), p.wrapping_mul(3));
    let sum_to = |mut p: i32, mut q: i32| loop {
        q = q.wrapping_add(p);
        p = p.wrapping_sub(1);
        if p <= 0 {
            break q;
        }
    };
    let pick = |p: i32, q: i32| {
        if p < q {
            if q & 1 != 0 { p } else { -5 }
        } else {
            p.wrapping_sub(q)
        }
    };
    let (mut a, mut b, mut c, mut d) = (11i32, 22i32, 33i32, 44i32);
    let (mut e, mut f, mut g, mut h) = (55i32, 66i32, 77i32, 88i32);
    let (mut acc, mut x) = (0i64, 0f64);
    for i in 0..n.max(1) as i32 {
        a = a.wrapping_add(cmp(load(0, stored), load(4, stored)));
        let through_table = match i % 4 {
            0 => cmp(load(i, stored), load(8, stored)),
            // Its store is written again by the direct call below.
            1 => mix(i, 8).0,
            2 => sum_to(i, 8),
            _ => pick(i, 8),
        };
        b = b.wrapping_add(through_table);
        let (r, s) = mix(i, 8);
        stored = s;
        c ^= r;
        d = d.wrapping_add(sum_to(i & 15, 1));
        e = e.wrapping_add(pick(i, 10));
        let fi = i as u32 as f64;
        x += (fi * fi + 3.0 * 3.0).sqrt();
        acc = acc.wrapping_add(((i as u32 as i64) << 1) + 1);
        let six = i
            .wrapping_mul(7)
            .wrapping_add(c.wrapping_sub(i.wrapping_add(a)));
        acc = acc.wrapping_add(six as u32 as i64);
        let pair = (i + 1).wrapping_sub(i.wrapping_mul(i));
        acc = acc.wrapping_add(pair as u32 as i64);
        f = f.wrapping_add(a);
        g = g.wrapping_add(c);
        h = h.wrapping_add(load(72, stored) as i32);
    }
    let words = [a, b, c, d, e, f, g, h]
        .into_iter()
        .fold(0i32, |s, w| s.wrapping_add(w));
    acc.wrapping_add(x as i64).wrapping_add(words as u32 as i64)
}

#[test]
fn the_leaves_here_run_without_a_frame() {
    both_modes(|guard| {
        for index in 0..9 {
            let code = function_code(LEAVES, index, &compile_options(guard));
            assert!(
                is_frameless(&code),
                "function {index} (guard {guard}):{}",
                listing(&own_code(&code))
            );
        }
        let caller = function_code(LEAVES, 9, &compile_options(guard));
        assert!(!is_frameless(&caller), "the caller keeps its frame");
    });
}

#[test]
fn frameless_leaves_keep_their_callers_state() {
    both_modes(|guard| {
        let (mut store, instance) = instantiate(&engine(guard), LEAVES);
        let run = typed::<(), u32, i64>(&mut store, &instance, "run");
        // `i` stays below 72 - 4, so the comparator's loads at `i` read
        // the first words and zeros.
        for n in [1, 2, 7, 40, 60] {
            assert_eq!(run.call(&mut store, n).unwrap(), run_in_rust(n), "n = {n}");
        }
    });
}

#[test]
fn frameless_code_never_addresses_its_own_frame() {
    both_modes(|guard| {
        for index in 0..9 {
            let code = function_code(LEAVES, index, &compile_options(guard));
            for i in &own_code(&code) {
                assert!(
                    !touches_frame(i, 8),
                    "function {index} (guard {guard}): {i} in{}",
                    listing(&own_code(&code))
                );
            }
        }
    });
}

#[test]
fn a_tail_call_from_a_frameless_leaf_keeps_the_return_address() {
    both_modes(|guard| {
        let code = function_code(LEAVES, 5, &compile_options(guard));
        assert_leaves_by_its_jump(&code, false, "$twice");
        let (mut store, instance) = instantiate(
            &engine(guard),
            &LEAVES.replace("(func $twice", "(func $twice (export \"twice\")"),
        );
        let twice = typed::<(), i64, i64>(&mut store, &instance, "twice");
        for x in [0i64, 1, -7, i64::MAX, 1 << 40] {
            assert_eq!(
                twice.call(&mut store, x).unwrap(),
                x.wrapping_shl(1).wrapping_add(1)
            );
        }
    });
}

/// A trap in a frameless leaf: out of bounds (a fault with guard regions,
/// a trap stub's call with explicit checks), `unreachable` and a division
/// by zero, each two calls deep.
const TRAPS: &str = r#"(module
  (memory 1)
  (func $load (param i32) (result i32)
    (i32.load (local.get 0)))
  (func $stop (param i32) (result i32)
    (if (i32.eqz (local.get 0)) (then unreachable))
    (local.get 0))
  (func $divide (param i32 i32) (result i32)
    (i32.div_u (local.get 0) (local.get 1)))
  (func $middle (param i32 i32) (result i32)
    (local $keep i32)
    (local.set $keep (i32.mul (local.get 1) (i32.const 3)))
    (i32.add (local.get $keep)
      (if (result i32) (i32.eq (local.get 1) (i32.const 0))
        (then (call $load (local.get 0)))
        (else (if (result i32) (i32.eq (local.get 1) (i32.const 1))
          (then (call $stop (local.get 0)))
          (else (call $divide (i32.const 100) (local.get 0))))))))
  (func (export "outer") (param i32 i32) (result i32)
    (i32.add (call $middle (local.get 0) (local.get 1)) (i32.const 1)))
  (func (export "load") (param i32) (result i32)
    (return_call $load (local.get 0))))"#;

#[test]
fn a_trap_in_a_frameless_leaf_has_its_callers_in_the_backtrace() {
    both_modes(|guard| {
        for index in 0..3 {
            let code = function_code(TRAPS, index, &compile_options(guard));
            assert!(is_frameless(&code), "function {index} (guard {guard})");
        }
        let (mut store, instance) = instantiate(&engine(guard), TRAPS);
        let outer = typed::<(), (i32, i32), i32>(&mut store, &instance, "outer");
        // Each leaf works, then traps.
        assert_eq!(outer.call(&mut store, (0, 0)).unwrap(), 1);
        assert_eq!(outer.call(&mut store, (7, 1)).unwrap(), 7 + 3 + 1);
        assert_eq!(outer.call(&mut store, (7, 2)).unwrap(), 100 / 7 + 6 + 1);
        for (arg, leaf, trap) in [
            (65536, 0, "out of bounds memory access"),
            (0, 1, "unreachable"),
            (0, 2, "integer divide by zero"),
        ] {
            let err = outer.call(&mut store, (arg, leaf)).unwrap_err();
            assert_eq!(err.trap().map(|t| t.to_string()), Some(trap.to_string()));
            let frames: Vec<u32> = err.backtrace().iter().map(|f| f.func_index).collect();
            assert_eq!(frames, [leaf as u32, 3, 4], "{trap} (guard {guard})");
        }
        // Called from the host (through a tail call), the leaf's return
        // address leads out of the module: one frame.
        let load = typed::<(), i32, i32>(&mut store, &instance, "load");
        let err = load.call(&mut store, -4).unwrap_err();
        let frames: Vec<u32> = err.backtrace().iter().map(|f| f.func_index).collect();
        assert_eq!(frames, [0], "guard {guard}");
        // The store is still usable.
        assert_eq!(outer.call(&mut store, (9, 1)).unwrap(), 9 + 3 + 1);
    });
}

/// Leaves planned without a frame that need one after all, so that they
/// are compiled again: an exit (`memory.grow`) and a tail call that grows
/// the argument area. Both read parameters passed on the stack, which the
/// first compiling addressed from `rsp`.
const RETRIES: &str = r#"(module
  (memory 1)
  ;; 0
  (func $grows (param i32 i32 i32) (result i32)
    (i32.add (i32.add (local.get 2) (memory.grow (local.get 0)))
      (i32.load (local.get 1))))
  ;; 1
  (func $wider (param i32 i32 i32) (result i32)
    (return_call $wide
      (local.get 0) (local.get 1) (local.get 2) (i32.const 4) (i32.const 5) (i32.const 6)
      (i32.const 7) (i32.const 8) (i32.const 9) (i32.const 10) (i32.const 11) (i32.const 12)
      (i32.const 13) (i32.const 14) (local.get 2) (local.get 1)))
  ;; 2: p_0 + 2 * p_13 + 3 * p_2 + 16 * p_15.
  (func $wide (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (i32.add (i32.add (local.get 0) (i32.mul (local.get 13) (i32.const 2)))
      (i32.add (i32.mul (local.get 15) (i32.const 16)) (i32.mul (local.get 2) (i32.const 3)))))
  ;; 3
  (func (export "grows") (param i32 i32 i32) (result i32)
    (i32.add (call $grows (local.get 0) (local.get 1) (local.get 2)) (i32.const 1000)))
  ;; 4
  (func (export "wider") (param i32 i32 i32) (result i32)
    (call $wider (local.get 0) (local.get 1) (local.get 2))))"#;

#[test]
fn a_leaf_that_needs_its_frame_after_all_is_compiled_again() {
    both_modes(|guard| {
        for (index, frameless) in [(0, false), (1, false)] {
            let code = function_code(RETRIES, index, &compile_options(guard));
            assert_eq!(
                is_frameless(&code),
                frameless,
                "function {index} (guard {guard})"
            );
        }
        let (mut store, instance) = instantiate(&engine(guard), RETRIES);
        let grows = typed::<(), (i32, i32, i32), i32>(&mut store, &instance, "grows");
        // One page, grown by 0 then 2: the old sizes come back.
        assert_eq!(grows.call(&mut store, (0, 8, 7)).unwrap(), 7 + 1 + 1000);
        assert_eq!(grows.call(&mut store, (2, 65536, 7)).unwrap(), 7 + 1 + 1000);
        assert_eq!(
            grows.call(&mut store, (0, 3 * 65536 - 4, 9)).unwrap(),
            9 + 3 + 1000
        );
        let err = grows.call(&mut store, (0, 3 * 65536 - 3, 9)).unwrap_err();
        assert_eq!(
            err.trap().map(|t| t.to_string()),
            Some("out of bounds memory access".to_string())
        );
        let frames: Vec<u32> = err.backtrace().iter().map(|f| f.func_index).collect();
        assert_eq!(frames, [0, 3], "guard {guard}");
        let wider = typed::<(), (i32, i32, i32), i32>(&mut store, &instance, "wider");
        for (a, b, c) in [(0i32, 0i32, 0i32), (1, 2, 3), (-5, 77, 1 << 20)] {
            // p_0 = a, p_2 = c, p_13 = 14, p_15 = b.
            let expected = a + 2 * 14 + b.wrapping_mul(16) + c.wrapping_mul(3);
            assert_eq!(
                wider.call(&mut store, (a, b, c)).unwrap(),
                expected,
                "{a} {b} {c}"
            );
        }
    });
}

/// Handlers that end in `return_call_indirect`, as a threaded
/// interpreter's do: their frame's exit becomes the jump itself.
const RELAYS: &str = r#"(module
  (type $bin (func (param i32 i32) (result i32)))
  (table 3 funcref)
  (elem (i32.const 0) $add $sub $relay)
  ;; 0
  (func $add (type $bin) (i32.add (local.get 0) (local.get 1)))
  ;; 1
  (func $sub (type $bin) (i32.sub (local.get 0) (local.get 1)))
  ;; 2: passes (3a, b) on to $add or $sub, as b's low bit says.
  (func $relay (type $bin)
    (return_call_indirect (type $bin)
      (i32.mul (local.get 0) (i32.const 3)) (local.get 1)
      (i32.and (local.get 1) (i32.const 1))))
  ;; 3: passes (b, a) on to element a, which may not exist.
  (func $jump (type $bin)
    (return_call_indirect (type $bin) (local.get 1) (local.get 0) (local.get 0)))
  ;; 4
  (func (export "relay") (param i32 i32) (result i32)
    (i32.add (call $relay (local.get 0) (local.get 1)) (i32.const 1)))
  ;; 5
  (func (export "jump") (param i32 i32) (result i32)
    (i32.add (call $jump (local.get 0) (local.get 1)) (i32.const 1))))"#;

fn relay(a: i32, b: i32) -> i32 {
    let a = a.wrapping_mul(3);
    if b & 1 == 0 {
        a.wrapping_add(b)
    } else {
        a.wrapping_sub(b)
    }
}

#[test]
fn an_indirect_tail_call_from_a_frameless_leaf_is_its_exit() {
    both_modes(|guard| {
        for index in [2, 3] {
            let code = function_code(RELAYS, index, &compile_options(guard));
            assert!(
                is_frameless(&code),
                "function {index}:{}",
                listing(&own_code(&code))
            );
            assert_leaves_by_its_jump(&code, true, &format!("function {index}"));
        }
        let (mut store, instance) = instantiate(&engine(guard), RELAYS);
        let relay_wasm = typed::<(), (i32, i32), i32>(&mut store, &instance, "relay");
        for (a, b) in [(0, 0), (5, 2), (5, 3), (-7, 1 << 30), (i32::MAX, -1)] {
            let got = relay_wasm.call(&mut store, (a, b)).unwrap();
            assert_eq!(got, relay(a, b).wrapping_add(1), "relay({a}, {b})");
        }
        let jump = typed::<(), (i32, i32), i32>(&mut store, &instance, "jump");
        for (a, b, expected) in [(0, 9, 9), (1, 9, 8), (2, 9, relay(9, 2))] {
            assert_eq!(
                jump.call(&mut store, (a, b)).unwrap(),
                expected + 1,
                "jump({a}, {b})"
            );
        }
        let err = jump.call(&mut store, (3, 9)).unwrap_err();
        assert_eq!(
            err.trap().map(|t| t.to_string()),
            Some("undefined element".to_string())
        );
        let frames: Vec<u32> = err.backtrace().iter().map(|f| f.func_index).collect();
        assert_eq!(frames, [3, 5], "guard {guard}");
    });
}
