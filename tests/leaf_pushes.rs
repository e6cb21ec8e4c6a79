//! Leaves that push the registers they save instead of building a frame.
//!
//! A leaf whose locals need callee-saved registers (more than the
//! caller-saved ones can hold) but whose code never addresses the stack
//! runs with `push`es of those registers at its entry and `pop`s before
//! its `ret` (or its tail call's jump), without `push rbp; mov rbp, rsp`.
//! These tests check that such leaves return the right values and leave
//! their callers' pinned locals intact (a loop keeps its state in
//! callee-saved registers across the calls, directly, through
//! `call_indirect` and through a tail call), that a trap in one has its
//! callers in the backtrace (its return address lies above the pushed
//! registers), and that their code pushes and pops in matching order and
//! never touches `rbp`. Expected values come from the same arithmetic in
//! Rust.

use iced_x86::{Instruction, Mnemonic, Register};
use wasmkern::{Config, Engine, Instance, Store};

mod common;
use common::{
    both_modes, compile_options, function_code, is_history_mark, listing, module, touches_frame,
    typed, without_fill,
};

/// The locals `$mix_tail` and `$mix_relay` compute from their arguments
/// (see `mix_tail_args`), five of them: more than the caller-saved
/// registers hold.
macro_rules! mix_tail_locals {
    () => {
        r#"
    (local $p i32) (local $q i32) (local $r i32) (local $s i32) (local $t i32)
    (local.set $p (i32.add (local.get 0) (local.get 1)))
    (local.set $q (i32.mul (local.get 1) (local.get $p)))
    (local.set $r (i32.xor (local.get $q) (local.get 0)))
    (local.set $s (i32.sub (local.get $r) (local.get $q)))
    (local.set $t (i32.add (local.get $s) (i32.rotr (local.get $p) (i32.const 5))))
"#
    };
}

const LEAVES: &str = concat!(
    r#"(module
  (memory 1)
  (data (i32.const 0) "\01\02\03\04\05\06\07\08\09\0a\0b\0c")
  (type $bin (func (param i32 i32) (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $mix $mix_tail)
  (func $mix (type $bin)
    (local $x i32) (local $y i32) (local $z i32) (local $w i32)
    (local.set $x (i32.add (i32.mul (local.get 0) (i32.const 3)) (local.get 1)))
    (local.set $y (i32.xor (local.get 0) (i32.shr_u (local.get 1) (i32.const 3))))
    (local.set $z (i32.add (local.get $x) (i32.mul (local.get $y) (i32.const 5))))
    (local.set $w (i32.xor (i32.rotl (local.get $z) (i32.const 7)) (local.get $x)))
    (i32.add
      (i32.sub (i32.add (local.get $x) (local.get $w)) (local.get $y))
      (i32.mul (i32.add (local.get $y) (local.get $z)) (i32.or (local.get $z) (local.get $w)))))
  (func $mix_tail (type $bin)
"#,
    mix_tail_locals!(),
    r#"    (return_call $mix
      (i32.xor (local.get $r) (local.get $t))
      (i32.add (i32.add (local.get $p) (local.get $q)) (i32.add (local.get $s) (local.get $t)))))
  (func $load_mix (param $at i32) (param $k i32) (result i32)
    (local $x i32) (local $y i32) (local $z i32)
    (local.set $x (i32.load (i32.shl (local.get $at) (i32.const 2))))
    (local.set $y (i32.load offset=4 (i32.shl (local.get $at) (i32.const 2))))
    (local.set $z (i32.xor (local.get $x) (i32.mul (local.get $y) (local.get $k))))
    (i32.add (i32.add (local.get $x) (local.get $y))
      (i32.add (i32.mul (local.get $z) (local.get $k)) (i32.xor (local.get $z) (local.get $y)))))
  (func (export "drive") (param $n i32) (result i64)
    (local $i i32) (local $s1 i32) (local $s2 i32) (local $s3 i32) (local $acc i64)
    (local.set $s1 (i32.const 1))
    (local.set $s2 (i32.const 2))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $s1 (call $mix (local.get $i) (local.get $s1)))
        (local.set $s2 (call_indirect (type $bin) (local.get $s2) (local.get $i) (i32.const 1)))
        (local.set $s3 (i32.add (local.get $s3)
          (call $load_mix (i32.and (local.get $i) (i32.const 1)) (local.get $s1))))
        (local.set $acc (i64.add
          (i64.mul (local.get $acc) (i64.const 31))
          (i64.extend_i32_u (i32.xor (i32.xor (local.get $s1) (local.get $s2)) (local.get $s3)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i64.add (local.get $acc)
      (i64.extend_i32_u (i32.add (local.get $i) (i32.mul (local.get $s3) (i32.const 7))))))
  (func (export "load_mix") (param i32 i32) (result i32)
    (i32.add (call $load_mix (local.get 0) (local.get 1)) (i32.const 1)))
  (func (export "mix_tail") (param i32 i32) (result i32)
    (return_call $mix_tail (local.get 0) (local.get 1)))
  ;; 6: $mix_tail's arithmetic, passed on to $mix or $mix_tail through the
  ;; table.
  (func $mix_relay (type $bin)
"#,
    mix_tail_locals!(),
    r#"    (return_call_indirect (type $bin)
      (i32.xor (local.get $r) (local.get $t))
      (i32.add (i32.add (local.get $p) (local.get $q)) (i32.add (local.get $s) (local.get $t)))
      (i32.and (local.get $t) (i32.const 1))))
  (func (export "mix_relay") (param i32 i32) (result i32)
    (call $mix_relay (local.get 0) (local.get 1))))"#
);

fn mix(a: u32, b: u32) -> u32 {
    let x = a.wrapping_mul(3).wrapping_add(b);
    let y = a ^ (b >> 3);
    let z = x.wrapping_add(y.wrapping_mul(5));
    let w = z.rotate_left(7) ^ x;
    x.wrapping_add(w)
        .wrapping_sub(y)
        .wrapping_add(y.wrapping_add(z).wrapping_mul(z | w))
}

/// `$mix_tail`'s arithmetic: the arguments it passes on, and the low bit
/// `$mix_relay` picks its callee with.
fn mix_tail_args(a: u32, b: u32) -> (u32, u32, u32) {
    let p = a.wrapping_add(b);
    let q = b.wrapping_mul(p);
    let r = q ^ a;
    let s = r.wrapping_sub(q);
    let t = s.wrapping_add(p.rotate_right(5));
    (
        r ^ t,
        p.wrapping_add(q).wrapping_add(s.wrapping_add(t)),
        t & 1,
    )
}

fn mix_tail(a: u32, b: u32) -> u32 {
    let (x, y, _) = mix_tail_args(a, b);
    mix(x, y)
}

fn mix_relay(a: u32, b: u32) -> u32 {
    match mix_tail_args(a, b) {
        (x, y, 0) => mix(x, y),
        (x, y, _) => mix_tail(x, y),
    }
}

const DATA: [u8; 12] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

fn word(at: u32) -> u32 {
    let at = at as usize;
    let mut bytes = [0u8; 4];
    for (k, b) in bytes.iter_mut().enumerate() {
        *b = DATA.get(at + k).copied().unwrap_or(0);
    }
    u32::from_le_bytes(bytes)
}

fn load_mix(at: u32, k: u32) -> u32 {
    let x = word(at << 2);
    let y = word((at << 2) + 4);
    let z = x ^ y.wrapping_mul(k);
    x.wrapping_add(y)
        .wrapping_add(z.wrapping_mul(k).wrapping_add(z ^ y))
}

fn drive(n: u32) -> u64 {
    let (mut s1, mut s2, mut s3, mut acc) = (1u32, 2u32, 0u32, 0u64);
    for i in 0..n {
        s1 = mix(i, s1);
        s2 = mix_tail(s2, i);
        s3 = s3.wrapping_add(load_mix(i & 1, s1));
        acc = acc.wrapping_mul(31).wrapping_add(u64::from(s1 ^ s2 ^ s3));
    }
    acc.wrapping_add(u64::from(n.wrapping_add(s3.wrapping_mul(7))))
}

fn instantiate(guard: bool) -> (Store<()>, Instance) {
    let engine = Engine::new(Config::new().guard_regions(guard)).expect("engine");
    let module = module(&engine, LEAVES);
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).expect("instance");
    (store, instance)
}

/// The leaves' instructions from their entry, and whether each follows
/// an `int3` (these leaves have no data after their code).
fn leaf_code(index: usize, guard: bool) -> (Vec<Instruction>, Vec<bool>) {
    without_fill(&function_code(LEAVES, index, &compile_options(guard)))
}

#[test]
fn leaves_push_their_saved_registers_and_pop_them_in_reverse() {
    both_modes(|guard| {
        for index in [0, 1, 2, 6] {
            let (code, dead) = leaf_code(index, guard);
            let text = listing(&code);
            let pushed: Vec<Register> = code
                .iter()
                .take_while(|i| i.mnemonic() == Mnemonic::Push)
                .map(|i| i.op0_register())
                .collect();
            assert!(!pushed.is_empty(), "function {index}: {text}");
            assert!(!pushed.contains(&Register::RBP), "function {index}: {text}");
            assert!(
                !code.iter().any(|i| touches_frame(i, i64::MAX)),
                "function {index} addresses rbp or the stack: {text}"
            );
            // Right before every `ret` a path reaches, and every tail
            // call's jump (these leaves jump nowhere else but to the next
            // instruction, a branch history mark), the pops in reverse
            // order.
            let mut popped: Vec<Register> = pushed.clone();
            popped.reverse();
            let exits: Vec<usize> = (0..code.len())
                .filter(|&k| {
                    matches!(code[k].mnemonic(), Mnemonic::Ret | Mnemonic::Jmp)
                        && !dead[k]
                        && !is_history_mark(&code[k])
                })
                .collect();
            assert!(!exits.is_empty(), "function {index}: {text}");
            for k in exits {
                assert!(k >= popped.len(), "function {index}: {text}");
                let pops: Vec<Register> = code[k - popped.len()..k]
                    .iter()
                    .map(|i| {
                        assert_eq!(i.mnemonic(), Mnemonic::Pop, "function {index}: {text}");
                        i.op0_register()
                    })
                    .collect();
                assert_eq!(pops, popped, "function {index}: {text}");
            }
            let pops = code.iter().filter(|i| i.mnemonic() == Mnemonic::Pop);
            assert!(pops.count() >= pushed.len(), "function {index}: {text}");
        }
    });
}

#[test]
fn pushing_leaves_keep_their_callers_state() {
    both_modes(|guard| {
        let (mut store, instance) = instantiate(guard);
        let drive_wasm = typed::<(), i32, i64>(&mut store, &instance, "drive");
        for n in [0u32, 1, 2, 7, 1000, 100_000] {
            assert_eq!(
                drive_wasm.call(&mut store, n as i32).unwrap() as u64,
                drive(n),
                "drive({n}), guard {guard}"
            );
        }
        let tail = typed::<(), (i32, i32), i32>(&mut store, &instance, "mix_tail");
        let relay = typed::<(), (i32, i32), i32>(&mut store, &instance, "mix_relay");
        let mut callees = [0; 2];
        for a in [0u32, 1, 2, 0xFFFF_FFFF, 12345] {
            for b in [0u32, 2, 7, 0x8000_0000, 99] {
                let args = (a as i32, b as i32);
                let got = tail.call(&mut store, args).unwrap() as u32;
                assert_eq!(got, mix_tail(a, b), "mix_tail({a}, {b})");
                let got = relay.call(&mut store, args).unwrap() as u32;
                assert_eq!(got, mix_relay(a, b), "mix_relay({a}, {b})");
                callees[mix_tail_args(a, b).2 as usize] += 1;
            }
        }
        assert!(
            callees.iter().all(|&n| n > 0),
            "both callees run: {callees:?}"
        );
    });
}

#[test]
fn a_trap_in_a_pushing_leaf_has_its_callers_in_the_backtrace() {
    both_modes(|guard| {
        let (mut store, instance) = instantiate(guard);
        let load = typed::<(), (i32, i32), i32>(&mut store, &instance, "load_mix");
        for (at, k) in [(0u32, 5u32), (1, 9), (2, 0xFFFF_FFFF), (100, 3)] {
            assert_eq!(
                load.call(&mut store, (at as i32, k as i32)).unwrap() as u32,
                load_mix(at, k).wrapping_add(1),
                "load_mix({at}, {k})"
            );
        }
        // The second load of the last word reads past the end.
        for at in [16_383, 20_000] {
            let err = load.call(&mut store, (at, 1)).unwrap_err();
            assert_eq!(
                err.trap().map(|t| t.to_string()),
                Some("out of bounds memory access".to_string()),
                "{err}"
            );
            let frames: Vec<u32> = err.backtrace().iter().map(|f| f.func_index).collect();
            assert_eq!(frames, [2, 4], "at {at}, guard {guard}: {err}");
        }
        // The store is still usable.
        assert_eq!(
            load.call(&mut store, (1, 2)).unwrap() as u32,
            load_mix(1, 2).wrapping_add(1)
        );
    });
}
