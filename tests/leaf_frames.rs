//! Leaf functions (which call nothing) and their frames.
//!
//! A leaf that stores nothing below its frame pointer allocates no frame
//! at all. These tests check leaves on both sides of that line: small
//! ones (the frame left out) called in loops through `call_indirect` and
//! directly, and leaves whose frame holds spilled temporaries while they
//! leave to the host (`memory.grow`, fuel checkpoints), whose pushes land
//! below the stack pointer: a frame left out there loses the
//! temporaries. Parameters are read again after many temporaries.
//! Functions whose only calls are tail calls are leaves too: small ones
//! looping through `return_call`, and ones whose argument setup spills
//! (eight arguments, some in the incoming area), with and without a
//! `memory.grow` exit while the first arguments wait in home slots. Every
//! expected value comes from the same arithmetic in Rust.

use wasmkern::{Config, Engine, Instance, Store, Val};

mod common;
use common::{both_modes, module, typed};

fn engine(guard: bool, fuel: bool) -> Engine {
    let mut config = Config::new();
    config.guard_regions(guard).consume_fuel(fuel);
    Engine::new(&config).expect("engine")
}

/// A comparator-like leaf (two loads, no spill: no frame) called through
/// `call_indirect` and directly from loops over memory.
const SMALL_LEAVES: &str = r#"(module
  (type $cmp (func (param i32 i32) (result i32)))
  (memory (export "mem") 1)
  (table 2 funcref)
  (elem (i32.const 0) $cmp_u32 $diff)
  (func $cmp_u32 (type $cmp)
    (local $x i32) (local $y i32)
    (local.set $x (i32.load (local.get 0)))
    (local.set $y (i32.load (local.get 1)))
    (i32.sub (i32.gt_u (local.get $x) (local.get $y)) (i32.lt_u (local.get $x) (local.get $y))))
  (func $diff (type $cmp)
    (i32.sub (i32.load (local.get 0)) (i32.load (local.get 1))))
  ;; Fills words 0..n with a sequence, then sums f(&w[i], &w[i+1]) * (i+1)
  ;; for i in 0..n-1 through table element $f.
  (func (export "run") (param $n i32) (param $f i32) (result i32)
    (local $i i32) (local $x i32) (local $sum i32)
    (local.set $x (i32.const 12345))
    (loop $fill
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 1103515245)) (i32.const 12345)))
      (i32.store (i32.shl (local.get $i) (i32.const 2)) (i32.shr_u (local.get $x) (i32.const 8)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $fill (i32.lt_u (local.get $i) (local.get $n))))
    (local.set $i (i32.const 0))
    (loop $sum
      (local.set $sum
        (i32.add (local.get $sum)
          (i32.mul
            (call_indirect (type $cmp)
              (i32.shl (local.get $i) (i32.const 2))
              (i32.shl (i32.add (local.get $i) (i32.const 1)) (i32.const 2))
              (local.get $f))
            (i32.add (local.get $i) (i32.const 1)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $sum (i32.lt_u (local.get $i) (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $sum))
  (func (export "direct") (param $a i32) (param $b i32) (result i32)
    (i32.store (i32.const 0) (local.get $a))
    (i32.store (i32.const 4) (local.get $b))
    (i32.add (i32.mul (call $cmp_u32 (i32.const 0) (i32.const 4)) (i32.const 1000))
             (call $diff (i32.const 0) (i32.const 4)))))"#;

/// The reference of `run`.
fn run_expected(n: u32, f: u32) -> i32 {
    let mut x: u32 = 12345;
    let mut w = Vec::new();
    for _ in 0..n {
        x = x.wrapping_mul(1103515245).wrapping_add(12345);
        w.push(x >> 8);
    }
    let mut sum: i32 = 0;
    for i in 0..(n - 1) as usize {
        let (a, b) = (w[i], w[i + 1]);
        let r = if f == 0 {
            i32::from(a > b) - i32::from(a < b)
        } else {
            (a as i32).wrapping_sub(b as i32)
        };
        sum = sum.wrapping_add(r.wrapping_mul(i as i32 + 1));
    }
    sum
}

#[test]
fn small_leaves_called_in_loops() {
    both_modes(|guard| {
        let engine = engine(guard, false);
        let m = module(&engine, SMALL_LEAVES);
        let mut store = Store::new(&engine, ());
        let inst = Instance::new(&mut store, &m, &[]).unwrap();
        let run = typed::<(), (i32, i32), i32>(&mut store, &inst, "run");
        for (n, f) in [(2, 0), (100, 0), (1000, 1), (5000, 0), (777, 1)] {
            assert_eq!(
                run.call(&mut store, (n as i32, f as i32)).unwrap(),
                run_expected(n, f),
                "run({n}, {f})"
            );
        }
        let direct = typed::<(), (i32, i32), i32>(&mut store, &inst, "direct");
        for (a, b) in [(1u32, 2u32), (5, 5), (u32::MAX, 0), (0, u32::MAX), (100, 7)] {
            let cmp = i32::from(a > b) - i32::from(a < b);
            let expected = cmp * 1000 + (a as i32).wrapping_sub(b as i32);
            assert_eq!(
                direct.call(&mut store, (a as i32, b as i32)).unwrap(),
                expected
            );
        }
    });
}

/// A leaf holding twelve temporaries (spilled: the operand stack outgrows
/// the registers) while `memory.grow` leaves to the host, then folding
/// them with its parameters; and a leaf looping with temporaries across
/// fuel checkpoints (exits when fuel runs out in slices).
const SPILLING_LEAVES: &str = r#"(module
  (memory 1)
  (func (export "across_grow") (param $a i32) (param $b i32) (result i32)
    (i32.add (local.get $a) (i32.const 1))
    (i32.mul (local.get $b) (i32.const 3))
    (i32.xor (local.get $a) (local.get $b))
    (i32.sub (local.get $a) (i32.const 7))
    (i32.add (local.get $b) (i32.const 11))
    (i32.mul (local.get $a) (local.get $b))
    (i32.or (local.get $a) (i32.const 256))
    (i32.and (local.get $b) (i32.const 255))
    (i32.add (local.get $a) (local.get $b))
    (i32.shl (local.get $a) (i32.const 3))
    (i32.shr_u (local.get $b) (i32.const 2))
    (i32.rotl (local.get $a) (i32.const 5))
    (memory.grow (i32.const 1))
    ;; Fold the thirteen values from the top: r = below + r * 31.
    i32.const 31 i32.mul i32.add  i32.const 31 i32.mul i32.add
    i32.const 31 i32.mul i32.add  i32.const 31 i32.mul i32.add
    i32.const 31 i32.mul i32.add  i32.const 31 i32.mul i32.add
    i32.const 31 i32.mul i32.add  i32.const 31 i32.mul i32.add
    i32.const 31 i32.mul i32.add  i32.const 31 i32.mul i32.add
    i32.const 31 i32.mul i32.add  i32.const 31 i32.mul i32.add
    ;; The parameters once more, after all that.
    (i32.add (i32.mul (local.get $a) (i32.const 1000003)) (local.get $b))
    (i32.add))
  (func (export "loop_sum") (param $n i32) (param $k i32) (result i32)
    (local $i i32) (local $s i32)
    (loop $l
      (local.set $s
        (i32.add (local.get $s)
          (i32.add
            (i32.mul (i32.add (local.get $i) (local.get $k))
                     (i32.add (i32.mul (local.get $i) (i32.const 3))
                              (i32.xor (local.get $k) (i32.add (local.get $i) (i32.const 9)))))
            (i32.sub (i32.shl (local.get $i) (i32.const 2))
                     (i32.mul (local.get $k) (i32.add (local.get $i) (i32.const 1)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (i32.add (local.get $s) (i32.mul (local.get $k) (local.get $n)))))"#;

fn across_grow_expected(a: i32, b: i32, grown: i32) -> i32 {
    let values = [
        a.wrapping_add(1),
        b.wrapping_mul(3),
        a ^ b,
        a.wrapping_sub(7),
        b.wrapping_add(11),
        a.wrapping_mul(b),
        a | 256,
        b & 255,
        a.wrapping_add(b),
        a.wrapping_shl(3),
        ((b as u32) >> 2) as i32,
        a.rotate_left(5),
        grown,
    ];
    // The fold in the module, from the top of the stack down.
    let mut v = values[12];
    for &below in values[..12].iter().rev() {
        v = below.wrapping_add(v.wrapping_mul(31));
    }
    v.wrapping_add(a.wrapping_mul(1000003).wrapping_add(b))
}

fn loop_sum_expected(n: u32, k: i32) -> i32 {
    let mut s: i32 = 0;
    let mut i: i32 = 0;
    loop {
        let t = i
            .wrapping_add(k)
            .wrapping_mul(i.wrapping_mul(3).wrapping_add(k ^ i.wrapping_add(9)));
        let u = i
            .wrapping_shl(2)
            .wrapping_sub(k.wrapping_mul(i.wrapping_add(1)));
        s = s.wrapping_add(t.wrapping_add(u));
        i = i.wrapping_add(1);
        if (i as u32) >= n {
            break;
        }
    }
    s.wrapping_add(k.wrapping_mul(n as i32))
}

#[test]
fn spilled_temporaries_survive_exits_of_a_leaf() {
    both_modes(|guard| {
        let engine = engine(guard, false);
        let m = module(&engine, SPILLING_LEAVES);
        let mut store = Store::new(&engine, ());
        let inst = Instance::new(&mut store, &m, &[]).unwrap();
        let f = typed::<(), (i32, i32), i32>(&mut store, &inst, "across_grow");
        // The memory has 1 page, then 2, ...: grow returns the old size.
        for (k, (a, b)) in [(3, 5), (-1, 77), (123456, -98765), (0, 0)]
            .into_iter()
            .enumerate()
        {
            assert_eq!(
                f.call(&mut store, (a, b)).unwrap(),
                across_grow_expected(a, b, k as i32 + 1),
                "across_grow({a}, {b})"
            );
        }
        let g = typed::<(), (i32, i32), i32>(&mut store, &inst, "loop_sum");
        for (n, k) in [(1, 5), (10, -3), (1000, 12345)] {
            assert_eq!(
                g.call(&mut store, (n as i32, k)).unwrap(),
                loop_sum_expected(n, k)
            );
        }
    });
}

/// With fuel, every loop header may exit to the host (when fuel runs
/// out): run the leaves in small slices of fuel so they exit many times.
#[test]
fn leaf_loop_exits_for_fuel_many_times() {
    both_modes(|guard| {
        let engine = engine(guard, true);
        let m = module(&engine, SPILLING_LEAVES);
        let mut store = Store::new(&engine, ());
        store.set_fuel(1_000_000).unwrap();
        let inst = Instance::new(&mut store, &m, &[]).unwrap();
        let g = inst.get_func(&mut store, "loop_sum").unwrap();
        for (n, k) in [(3000u32, 777i32), (500, -5)] {
            let mut results = [Val::I32(0)];
            let pauses = common::call_in_fuel_slices(
                &mut store,
                g,
                &[Val::I32(n as i32), Val::I32(k)],
                &mut results,
                50,
            );
            assert!(pauses > 10, "only {pauses} pauses");
            assert!(
                matches!(results[0], Val::I32(v) if v == loop_sum_expected(n, k)),
                "loop_sum({n}, {k}) = {:?}",
                results[0]
            );
        }
        store.set_fuel(1_000_000).unwrap();
        let f = typed::<(), (i32, i32), i32>(&mut store, &inst, "across_grow");
        assert_eq!(
            f.call(&mut store, (9, 4)).unwrap(),
            across_grow_expected(9, 4, 1)
        );
    });
}

/// Tail-only functions: `$step` (no spill) and `$mix`/`$mix_grow` (eight
/// arguments, which spill; `$mix_grow` exits for `memory.grow 0` while
/// six of them are on the operand stack), each called once from an
/// export and then only tail-calling itself.
fn tail_only_module() -> String {
    // `$mix` adds the constant 1 where `$mix_grow` adds `memory.grow 0`'s
    // result, the memory's size: 1 page.
    let mix = |name: &str, one: &str| {
        format!(
            r#"
  (func ${name} (param $n i32) (param $a i64) (param $b i64) (param $c i64) (param $d i64)
    (param $e i64) (param $f i64) (param $g i64) (result i64)
    (if (result i64) (i32.eqz (local.get $n))
      (then (i64.add (i64.add (i64.add (local.get $a) (i64.mul (local.get $b) (i64.const 2)))
          (i64.add (i64.mul (local.get $c) (i64.const 3)) (i64.mul (local.get $d) (i64.const 4))))
        (i64.add (i64.add (i64.mul (local.get $e) (i64.const 5)) (i64.mul (local.get $f) (i64.const 6)))
          (i64.mul (local.get $g) (i64.const 7)))))
      (else (return_call ${name} (i32.sub (local.get $n) (i32.const 1))
        (i64.add (local.get $a) (i64.mul (local.get $b) (local.get $c)))
        (i64.xor (local.get $b) (local.get $c))
        (i64.add (local.get $c) (i64.mul (local.get $d) (i64.const 3)))
        (i64.sub (local.get $d) (local.get $e))
        (i64.add (local.get $e) (local.get $f))
        (i64.add (i64.mul (local.get $f) (local.get $g)) {one})
        (i64.add (local.get $g) (local.get $a))))))
  (func (export "{name}") (param $n i32) (param $s i64) (result i64)
    (call ${name} (local.get $n) (local.get $s) (i64.add (local.get $s) (i64.const 1))
      (i64.mul (local.get $s) (i64.const 3)) (i64.const -5) (i64.xor (local.get $s) (i64.const 255))
      (i64.const 77) (i64.sub (i64.const 0) (local.get $s))))"#
        )
    };
    format!(
        r#"(module
  (memory 1)
  (func $step (param $n i32) (param $acc i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (local.get $acc))
      (else (return_call $step (i32.sub (local.get $n) (i32.const 1))
        (i32.add (i32.mul (local.get $acc) (i32.const 31)) (local.get $n))))))
  (func (export "step") (param $n i32) (param $acc i32) (result i32)
    (call $step (local.get $n) (local.get $acc))){}{})"#,
        mix("mix", "(i64.const 1)"),
        mix("mix_grow", "(i64.extend_i32_u (memory.grow (i32.const 0)))")
    )
}

fn step_expected(mut n: i32, mut acc: i32) -> i32 {
    while n != 0 {
        acc = acc.wrapping_mul(31).wrapping_add(n);
        n -= 1;
    }
    acc
}

/// `$mix`'s result (`$mix_grow`'s: the memory keeps its 1 page, so
/// `memory.grow 0` adds 1 where `$mix` adds the constant 1).
fn mix_expected(n: i32, s: i64) -> i64 {
    let mut v = [
        s,
        s.wrapping_add(1),
        s.wrapping_mul(3),
        -5,
        s ^ 255,
        77,
        s.wrapping_neg(),
    ];
    for _ in 0..n {
        let [a, b, c, d, e, f, g] = v;
        v = [
            a.wrapping_add(b.wrapping_mul(c)),
            b ^ c,
            c.wrapping_add(d.wrapping_mul(3)),
            d.wrapping_sub(e),
            e.wrapping_add(f),
            f.wrapping_mul(g).wrapping_add(1),
            g.wrapping_add(a),
        ];
    }
    v.iter()
        .zip(1i64..)
        .fold(0i64, |sum, (x, w)| sum.wrapping_add(x.wrapping_mul(w)))
}

#[test]
fn tail_only_leaves() {
    for fuel in [false, true] {
        both_modes(|guard| {
            let engine = engine(guard, fuel);
            let m = module(&engine, &tail_only_module());
            let mut store = Store::new(&engine, ());
            if fuel {
                store.set_fuel(u64::MAX / 2).unwrap();
            }
            let inst = Instance::new(&mut store, &m, &[]).unwrap();
            let step = typed::<(), (i32, i32), i32>(&mut store, &inst, "step");
            for (n, acc) in [(0, 5), (1, -7), (100_000, 12345)] {
                assert_eq!(
                    step.call(&mut store, (n, acc)).unwrap(),
                    step_expected(n, acc),
                    "step({n}, {acc})"
                );
            }
            for name in ["mix", "mix_grow"] {
                let mix = typed::<(), (i32, i64), i64>(&mut store, &inst, name);
                for (n, s) in [(0, 9), (1, -3), (1000, 0x1234_5678_9abc)] {
                    assert_eq!(
                        mix.call(&mut store, (n, s)).unwrap(),
                        mix_expected(n, s),
                        "{name}({n}, {s}), fuel {fuel}, guard {guard}"
                    );
                }
            }
        });
    }
}

/// A float-heavy leaf: its operand stack holds six floats at once but at
/// most four integers, so its integer locals take the caller-saved leaf
/// pin registers. They must keep their values through a `select` of four
/// integer operands (its condition a float comparison), float-to-integer
/// conversions, a `memory.grow` exit in the loop and, with fuel, exits at
/// every loop header.
const FLOAT_LEAF: &str = r#"(module
  (memory (export "mem") 1 8)
  ;; Counts the iterations: a lost loop counter traps instead of looping on.
  (global $fuse (mut i32) (i32.const 0))
  (func (export "poly") (param $n i32) (param $grow i32) (result f64)
    (local $i i32) (local $p i32) (local $acc f64) (local $x f64)
    (global.set $fuse (i32.const 0))
    (loop $l
      (global.set $fuse (i32.add (global.get $fuse) (i32.const 1)))
      (if (i32.gt_u (global.get $fuse) (local.get $n)) (then unreachable))
      (local.set $x (f64.mul (f64.convert_i32_u (local.get $i)) (f64.const 0.5)))
      (local.set $acc (f64.add (local.get $acc)
        (f64.mul
          (f64.add (f64.mul (f64.add (local.get $x) (f64.const 1)) (f64.add (local.get $x) (f64.const 2)))
                   (f64.mul (f64.add (local.get $x) (f64.const 3)) (f64.add (local.get $x) (f64.const 4))))
          (f64.sub (f64.add (local.get $x) (f64.const 5))
                   (f64.mul (f64.add (local.get $x) (f64.const 6)) (f64.add (local.get $x) (f64.const 7)))))))
      (i32.store (local.get $p)
        (select (local.get $i) (i32.trunc_f64_s (f64.mul (local.get $acc) (f64.const 1e-6)))
          (f64.lt (local.get $x) (f64.const 3))))
      (if (i32.eq (local.get $i) (local.get $grow))
        (then (drop (memory.grow (i32.const 1)))))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (f64.add (local.get $acc)
      (f64.convert_i32_s (i32.add (local.get $p) (i32.load offset=8 (i32.const 0))))))
)"#;

fn poly_expected(n: i32) -> f64 {
    let (mut acc, mut p, mut word2) = (0f64, 0i32, 0i32);
    for i in 0..n {
        let x = f64::from(i) * 0.5;
        acc +=
            ((x + 1.0) * (x + 2.0) + (x + 3.0) * (x + 4.0)) * ((x + 5.0) - (x + 6.0) * (x + 7.0));
        let v = if x < 3.0 { i } else { (acc * 1e-6) as i32 };
        if p == 8 {
            word2 = v;
        }
        p += 4;
    }
    acc + f64::from(p.wrapping_add(word2))
}

#[test]
fn float_heavy_leaf_keeps_integer_locals() {
    for fuel in [false, true] {
        both_modes(|guard| {
            let engine = engine(guard, fuel);
            let m = module(&engine, FLOAT_LEAF);
            let mut store = Store::new(&engine, ());
            if fuel {
                store.set_fuel(10_000_000).unwrap();
            }
            let inst = Instance::new(&mut store, &m, &[]).unwrap();
            let f = typed::<(), (i32, i32), f64>(&mut store, &inst, "poly");
            for (n, grow) in [(1, 0), (5, 2), (40, 7), (200, -1)] {
                assert_eq!(
                    f.call(&mut store, (n, grow)).unwrap(),
                    poly_expected(n),
                    "poly({n}, {grow}) fuel {fuel}"
                );
            }
            if fuel {
                let g = inst.get_func(&mut store, "poly").unwrap();
                let mut results = [Val::F64(0)];
                store.set_fuel(10_000_000).unwrap();
                let pauses = common::call_in_fuel_slices(
                    &mut store,
                    g,
                    &[Val::I32(300), Val::I32(-1)],
                    &mut results,
                    50,
                );
                assert!(pauses > 10, "only {pauses} pauses");
                assert!(
                    matches!(results[0], Val::F64(v) if f64::from_bits(v) == poly_expected(300)),
                    "poly(300) = {:?}",
                    results[0]
                );
            }
        });
    }
}
