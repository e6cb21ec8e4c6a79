//! Locals kept in registers, written without a copy: when the value a
//! `local.set` or `local.tee` stores was just loaded, computed by a `lea`
//! or summed, the compiler makes the local's register that instruction's
//! destination (a sum's `add` becoming a `lea`). Each test pins down a case
//! where doing so carelessly would give a wrong value or lose a trap, in
//! both memory modes. Also parameters read lazily from their slots, which
//! results and tail-call arguments overwrite.

use wasmkern::{Config, Engine, Instance, Module, Store, Trap};

const WAT: &str = r#"(module
    (memory 1)
    (data (i32.const 0) "\2a\00\00\00")
    (data (i32.const 4) "\f0\ff\ff\ff")
    (data (i32.const 8) "\00\00\00\00\00\00\f8\3f")
    (data (i32.const 16) "\07\00\00\00\09\00\00\00")

    ;; The local's old value is still on the stack below the tee: it must
    ;; be read before the load overwrites the register. old - loaded.
    (func (export "tee_under_old") (param $p i32) (param $x i32) (result i32)
      (i32.sub (local.get $x) (local.tee $x (i32.load (local.get $p)))))

    ;; The tee's value stays on the stack while the local is set again:
    ;; it must keep the loaded value. loaded + 1.
    (func (export "tee_then_set") (param $p i32) (result i32) (local $x i32)
      (i32.add
        (local.tee $x (i32.load (local.get $p)))
        (block (result i32) (local.set $x (i32.const 100)) (i32.const 1))))

    ;; x = x + 8 in a loop (a lea reading the register it writes), the
    ;; tee's value compared after it.
    (func (export "count_up") (param $n i32) (result i32) (local $x i32) (local $k i32)
      (loop $l
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br_if $l (i32.lt_u (local.tee $x (i32.add (local.get $x) (i32.const 8)))
                            (local.get $n))))
      (i32.add (i32.mul (local.get $k) (i32.const 1000)) (local.get $x)))

    ;; One arm of an `if` ends with a load, then come the merge point and
    ;; the set: the value must reach the local from either arm. (A label
    ;; bound after a load stops the rewrite: tests/asm_x64.rs.)
    (func (export "pick_else_loads") (param $c i32) (result i32) (local $x i32)
      (local.set $x
        (if (result i32) (local.get $c)
          (then (i32.const 7))
          (else (i32.load (i32.const 0)))))
      (local.get $x))
    (func (export "pick_then_loads") (param $c i32) (result i32) (local $x i32)
      (local.set $x
        (if (result i32) (local.get $c)
          (then (i32.load (i32.const 0)))
          (else (i32.const 7))))
      (local.get $x))

    ;; A load into the local's register still traps out of bounds (with
    ;; guard regions, the fault must lie in the load's fault site).
    (func (export "load_into") (param $p i32) (result i32) (local $x i32)
      (local.set $x (i32.const 5))
      (local.set $x (i32.load (local.get $p)))
      (local.get $x))

    ;; Sums (`lea`s) of a computed value into a local, widened after: an
    ;; i32 sum must wrap and leave the upper half zero.
    (func (export "sum32") (param $a i32) (param $b i32) (result i64) (local $x i32)
      (local.set $x (i32.add (i32.mul (local.get $a) (i32.const 7)) (local.get $b)))
      (local.set $x (i32.add (local.get $x) (i32.const 0x7fffffff)))
      (i64.extend_i32_u (i32.add (i32.xor (local.get $a) (local.get $b)) (i32.const -0x80000000)))
      (i64.shl (i64.const 32))
      (i64.xor (i64.const 32))
      (i64.xor (i64.extend_i32_u (local.get $x))))
    (func (export "sum64") (param $a i64) (param $b i64) (result i64) (local $x i64)
      (local.set $x (i64.add (i64.mul (local.get $a) (i64.const 7)) (local.get $b)))
      (local.set $x (i64.add (local.get $x) (i64.const -0x80000000)))
      (local.get $x))

    ;; 0xfffffff0 + 0x20 and + $k wrap to small addresses: an i32 sum
    ;; computed in 64 bits would be out of bounds.
    (func (export "wrapped_address") (param $k i32) (result i32) (local $x i32) (local $y i32)
      (local.set $x (i32.add (i32.load (i32.const 4)) (i32.const 0x20)))
      (local.set $y (i32.add (i32.load (i32.const 4)) (local.get $k)))
      (i32.add (i32.load (local.get $x)) (i32.load (local.get $y))))

    ;; Floats: old - loaded, and a load into the local.
    (func (export "f64_tee_under_old") (param $p i32) (param $f f64) (result f64)
      (f64.sub (local.get $f) (local.tee $f (f64.load (local.get $p)))))
    (func (export "f64_load_into") (param $p i32) (result f64) (local $f f64)
      (local.set $f (f64.load (local.get $p)))
      (f64.add (local.get $f) (local.get $f))))"#;

fn instance(guard: bool) -> (Store<()>, Instance) {
    let engine = Engine::new(Config::new().guard_regions(guard)).unwrap();
    let module = Module::new(&engine, wat::parse_str(WAT).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    (store, instance)
}

#[test]
fn integer_locals_written_in_place() {
    for guard in [false, true] {
        let (mut store, i) = instance(guard);
        let tee_under_old = i.get_typed_func::<(i32, i32), i32>(&store, "tee_under_old");
        assert_eq!(tee_under_old.unwrap().call(&mut store, (0, 50)).unwrap(), 8);
        let tee_then_set = i
            .get_typed_func::<i32, i32>(&store, "tee_then_set")
            .unwrap();
        assert_eq!(tee_then_set.call(&mut store, 0).unwrap(), 43);
        let count_up = i.get_typed_func::<i32, i32>(&store, "count_up").unwrap();
        assert_eq!(count_up.call(&mut store, 80).unwrap(), 10_080);
        assert_eq!(count_up.call(&mut store, 1).unwrap(), 1_008);
        for (name, when_set, when_clear) in [("pick_else_loads", 7, 42), ("pick_then_loads", 42, 7)]
        {
            let pick = i.get_typed_func::<i32, i32>(&store, name).unwrap();
            assert_eq!(pick.call(&mut store, 1).unwrap(), when_set, "{name}");
            assert_eq!(pick.call(&mut store, 0).unwrap(), when_clear, "{name}");
        }
    }
}

#[test]
fn sums_into_locals_wrap() {
    let cases: [(i32, i32); 4] = [(0, 0), (1, -8), (i32::MAX, i32::MAX), (i32::MIN, 3)];
    for guard in [false, true] {
        let (mut store, i) = instance(guard);
        let sum32 = i
            .get_typed_func::<(i32, i32), i64>(&store, "sum32")
            .unwrap();
        let sum64 = i
            .get_typed_func::<(i64, i64), i64>(&store, "sum64")
            .unwrap();
        for (a, b) in cases {
            let x = a.wrapping_mul(7).wrapping_add(b).wrapping_add(i32::MAX) as u32;
            let y = ((a ^ b) as u32).wrapping_add(0x8000_0000);
            let want = (u64::from(y) << 32 ^ 32) ^ u64::from(x);
            assert_eq!(sum32.call(&mut store, (a, b)).unwrap() as u64, want);
            let (a, b) = (i64::from(a) << 20, i64::from(b) * 0x1_0000_0001);
            let want = a.wrapping_mul(7).wrapping_add(b).wrapping_sub(0x8000_0000);
            assert_eq!(sum64.call(&mut store, (a, b)).unwrap(), want);
        }
        let wrapped = i
            .get_typed_func::<i32, i32>(&store, "wrapped_address")
            .unwrap();
        assert_eq!(wrapped.call(&mut store, 0x24).unwrap(), 16, "guard {guard}");
    }
}

#[test]
fn loads_into_locals_trap_out_of_bounds() {
    for guard in [false, true] {
        let (mut store, i) = instance(guard);
        let load_into = i.get_typed_func::<i32, i32>(&store, "load_into").unwrap();
        assert_eq!(load_into.call(&mut store, 0).unwrap(), 42);
        assert_eq!(load_into.call(&mut store, 65_532).unwrap(), 0);
        for p in [65_533, -4] {
            let err = load_into.call(&mut store, p).unwrap_err();
            assert_eq!(err.trap(), Some(Trap::MemoryOutOfBounds), "guard {guard}");
        }
        let f64_load_into = i
            .get_typed_func::<i32, f64>(&store, "f64_load_into")
            .unwrap();
        assert_eq!(f64_load_into.call(&mut store, 8).unwrap(), 3.0);
        let err = f64_load_into.call(&mut store, 65_529).unwrap_err();
        assert_eq!(err.trap(), Some(Trap::MemoryOutOfBounds), "guard {guard}");
    }
}

#[test]
fn float_locals_written_in_place() {
    for guard in [false, true] {
        let (mut store, i) = instance(guard);
        let tee = i.get_typed_func::<(i32, f64), f64>(&store, "f64_tee_under_old");
        assert_eq!(tee.unwrap().call(&mut store, (8, 10.0)).unwrap(), 8.5);
    }
}

/// Parameters no instruction writes are read lazily from their slots in
/// the incoming area, which the results and a tail call's arguments
/// overwrite: each function stores values over the slot of a parameter
/// it reads after, in the order those stores go (results from the last
/// down, tail-call arguments from the first up, the first two arguments
/// loaded into registers last). The first two parameters of each take
/// the caller-saved pins; the others are read from their slots.
const PARAMS: &str = r#"(module
    (import "host" "mix" (func $mix (param i64 i64 i64 i64 i64 i64) (result i64)))
    (func $rev (export "rev") (param i64 f64 i64 f64 i64 f64) (result f64 i64 f64 i64 f64 i64)
      (local.get 5) (local.get 4) (local.get 3) (local.get 2) (local.get 1) (local.get 0))
    ;; The same, called directly (its first arguments only in registers).
    (func (export "rev_sum") (param i64 f64 i64 f64 i64 f64) (result f64)
      (local $a f64) (local $b i64) (local $c f64) (local $d i64) (local $e f64) (local $f i64)
      (call $rev (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4) (local.get 5))
      (local.set $f) (local.set $e) (local.set $d) (local.set $c) (local.set $b) (local.set $a)
      (f64.add (f64.add (f64.add (local.get $a) (f64.mul (f64.convert_i64_s (local.get $b)) (f64.const 10)))
                        (f64.add (f64.mul (local.get $c) (f64.const 100))
                                 (f64.mul (f64.convert_i64_s (local.get $d)) (f64.const 1000))))
               (f64.add (f64.mul (local.get $e) (f64.const 10000))
                        (f64.mul (f64.convert_i64_s (local.get $f)) (f64.const 100000)))))
    ;; Tail calls of a host function, which reads every argument from the
    ;; area: rotated down (the register arguments read overwritten slots)
    ;; and up (later stores read slots earlier ones overwrote).
    (func (export "rotate_down") (param i64 i64 i64 i64 i64 i64) (result i64)
      (return_call $mix (local.get 2) (local.get 3) (local.get 4) (local.get 5) (local.get 0) (local.get 1)))
    (func (export "rotate_up") (param i64 i64 i64 i64 i64 i64) (result i64)
      (return_call $mix (local.get 4) (local.get 5) (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
    ;; The same mix in wasm, which reads its first two arguments from
    ;; their registers: loaded after the stores.
    (func $mix_wasm (param i64 i64 i64 i64 i64 i64) (result i64)
      (local.get 0)
      (i64.add (i64.mul (i64.const 1000003)) (local.get 1))
      (i64.add (i64.mul (i64.const 1000003)) (local.get 2))
      (i64.add (i64.mul (i64.const 1000003)) (local.get 3))
      (i64.add (i64.mul (i64.const 1000003)) (local.get 4))
      (i64.add (i64.mul (i64.const 1000003)) (local.get 5)))
    (func (export "rotate_down_wasm") (param i64 i64 i64 i64 i64 i64) (result i64)
      (return_call $mix_wasm (local.get 2) (local.get 3) (local.get 4) (local.get 5) (local.get 0) (local.get 1)))
    ;; Reads left on the stack across a call and a merge, and stored into
    ;; a pinned and an unpinned local.
    (func $twice (param i64) (result i64) (i64.add (local.get 0) (local.get 0)))
    (func (export "across") (param i64 i64 i64 i64 i64 i64 f64) (result i64)
      (local $x i64) (local $y i64) (local $z f64)
      (local.get 3)
      (call $twice (local.get 1))
      (block (result i64)
        (drop (br_if 0 (local.get 2) (i64.eqz (local.get 0))))
        (i64.const 7))
      (local.set $y (local.get 4))
      (local.set $x (local.get 5))
      (local.set $z (local.get 6))
      (loop $l
        (local.set $x (i64.add (local.get $x) (i64.const 1)))
        (br_if $l (i64.lt_u (local.get $x) (i64.const 1000))))
      (i64.add (i64.mul (local.get $y) (i64.const 11)) (local.get $x))
      (i64.add (i64.trunc_f64_s (local.get $z)))
      (i64.add) (i64.add) (i64.xor))
    ;; Vectors (never pinned) swapped in the results. b - a.
    (func $swap_v (param v128 v128) (result v128 v128) (local.get 1) (local.get 0))
    (func (export "swap_v") (param i64 i64) (result i64) (local $t i64)
      (call $swap_v (i64x2.splat (local.get 0)) (i64x2.splat (local.get 1)))
      (local.set $t (i64x2.extract_lane 1))
      (i64x2.extract_lane 0)
      (i64.sub (local.get $t)))
    ;; A parameter written after a read of it: the read keeps the old
    ;; value. a - k.
    (func $old_v (param $v v128) (param $k i64) (result i64)
      (local.get $v)
      (local.set $v (i64x2.splat (local.get $k)))
      (i64x2.extract_lane 1)
      (i64.sub (i64x2.extract_lane 0 (local.get $v))))
    (func (export "written") (param $a i64) (param $k i64) (result i64)
      (call $old_v (i64x2.splat (local.get $a)) (local.get $k)))
    ;; Arithmetic with a parameter read from its slot (each read once, in
    ;; a function with a call: none is pinned), on either side of a value
    ;; in a register, and times a constant. Both widths; the i32 result
    ;; widened without a `mov` (its upper half must be zero).
    (func (export "alu64") (param i64 i64 i64 i64 i64 i64 i64 i64 i64 i64) (result i64)
      (i64.sub (local.get 9)
        (i64.add (i64.mul (local.get 8) (i64.const 7))
          (i64.mul (local.get 7)
            (i64.mul
              (i64.xor (local.get 4)
                (i64.or
                  (i64.and (local.get 2)
                    (i64.add (local.get 1)
                      (i64.sub (call $twice (i64.const 500)) (local.get 0))))
                  (local.get 3)))
              (local.get 5))))))
    (func $twice32 (param i32) (result i32) (i32.add (local.get 0) (local.get 0)))
    (func (export "alu32") (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i64)
      (i64.extend_i32_u
        (i32.sub (local.get 9)
          (i32.add (i32.mul (local.get 8) (i32.const 7))
            (i32.mul (local.get 7)
              (i32.mul
                (i32.xor (local.get 4)
                  (i32.or
                    (i32.and (local.get 2)
                      (i32.add (local.get 1)
                        (i32.sub (call $twice32 (i32.const 500)) (local.get 0))))
                    (local.get 3)))
                (local.get 5))))))))"#;

/// `mix` of the `PARAMS` module's host: every argument in its own place.
fn mix(args: [i64; 6]) -> i64 {
    args.iter()
        .fold(0i64, |acc, &x| acc.wrapping_mul(1_000_003).wrapping_add(x))
}

#[test]
fn lazy_parameter_reads_survive_stores_over_their_slots() {
    for guard in [false, true] {
        let engine = Engine::new(Config::new().guard_regions(guard).wasm_tail_call(true)).unwrap();
        let module = Module::new(&engine, wat::parse_str(PARAMS).unwrap()).unwrap();
        let mut store = Store::new(&engine, ());
        let mut linker = wasmkern::Linker::new(&engine);
        linker
            .func_wrap(
                "host",
                "mix",
                |a: i64, b: i64, c: i64, d: i64, e: i64, f: i64| mix([a, b, c, d, e, f]),
            )
            .unwrap();
        let i = linker.instantiate(&mut store, &module).unwrap();
        let rev = i
            .get_typed_func::<(i64, f64, i64, f64, i64, f64), (f64, i64, f64, i64, f64, i64)>(
                &store, "rev",
            )
            .unwrap();
        assert_eq!(
            rev.call(&mut store, (1, 2.5, 3, 4.5, 5, 6.5)).unwrap(),
            (6.5, 5, 4.5, 3, 2.5, 1),
            "guard {guard}"
        );
        let rev_sum = i
            .get_typed_func::<(i64, f64, i64, f64, i64, f64), f64>(&store, "rev_sum")
            .unwrap();
        let got = rev_sum.call(&mut store, (1, 2.0, 3, 4.0, 5, 8.0)).unwrap();
        assert_eq!(
            got,
            8.0 + 50.0 + 400.0 + 3000.0 + 20_000.0 + 100_000.0,
            "guard {guard}"
        );
        let args = [11i64, -22, 1 << 40, 44, i64::MIN, 66];
        let [a, b, c, d, e, f] = args;
        let rotate_down = i
            .get_typed_func::<(i64, i64, i64, i64, i64, i64), i64>(&store, "rotate_down")
            .unwrap();
        assert_eq!(
            rotate_down.call(&mut store, (a, b, c, d, e, f)).unwrap(),
            mix([c, d, e, f, a, b]),
            "guard {guard}"
        );
        let rotate_down_wasm = i
            .get_typed_func::<(i64, i64, i64, i64, i64, i64), i64>(&store, "rotate_down_wasm")
            .unwrap();
        assert_eq!(
            rotate_down_wasm
                .call(&mut store, (a, b, c, d, e, f))
                .unwrap(),
            mix([c, d, e, f, a, b]),
            "guard {guard}"
        );
        let rotate_up = i
            .get_typed_func::<(i64, i64, i64, i64, i64, i64), i64>(&store, "rotate_up")
            .unwrap();
        assert_eq!(
            rotate_up.call(&mut store, (a, b, c, d, e, f)).unwrap(),
            mix([e, f, a, b, c, d]),
            "guard {guard}"
        );
        let across = i
            .get_typed_func::<(i64, i64, i64, i64, i64, i64, f64), i64>(&store, "across")
            .unwrap();
        for (p0, p1, p2, p3, p4, p5) in [
            (0i64, 3i64, 20i64, 9i64, 4i64, 10i64),
            (1, 3, 20, 9, 4, 2000),
            (5, -1, -7, 1 << 50, -3, -1),
        ] {
            let merged = if p0 == 0 { p2 } else { 7 };
            let x = if (p5.wrapping_add(1) as u64) < 1000 {
                1000
            } else {
                p5.wrapping_add(1)
            };
            let top = p4.wrapping_mul(11).wrapping_add(x).wrapping_add(-2);
            let want = p3 ^ p1.wrapping_mul(2).wrapping_add(merged.wrapping_add(top));
            assert_eq!(
                across
                    .call(&mut store, (p0, p1, p2, p3, p4, p5, -2.5))
                    .unwrap(),
                want,
                "across({p0}, {p1}, {p2}, {p3}, {p4}, {p5}), guard {guard}"
            );
        }
        let swap_v = i
            .get_typed_func::<(i64, i64), i64>(&store, "swap_v")
            .unwrap();
        assert_eq!(
            swap_v.call(&mut store, (8, 50)).unwrap(),
            42,
            "guard {guard}"
        );
        let written = i
            .get_typed_func::<(i64, i64), i64>(&store, "written")
            .unwrap();
        assert_eq!(
            written.call(&mut store, (50, 8)).unwrap(),
            42,
            "guard {guard}"
        );
        type Ten<T> = (T, T, T, T, T, T, T, T, T, T);
        let alu64 = i.get_typed_func::<Ten<i64>, i64>(&store, "alu64").unwrap();
        let alu32 = i.get_typed_func::<Ten<i32>, i64>(&store, "alu32").unwrap();
        for p in [
            [3u64, 5, !0xf0, 0x100, 0x5555, 7, 9, 11, 13, 17],
            [
                u64::MAX,
                1 << 63,
                !0,
                1 << 40,
                0xdead_beef_0000,
                0x1_0000_0001,
                3,
                u64::MAX,
                1 << 62,
                0,
            ],
        ] {
            let v = 1000u64.wrapping_sub(p[0]).wrapping_add(p[1]) & p[2] | p[3];
            let v = (p[4] ^ v).wrapping_mul(p[5]).wrapping_mul(p[7]);
            let want = p[9].wrapping_sub(p[8].wrapping_mul(7).wrapping_add(v));
            let a = p.map(|x| x as i64);
            let got = alu64
                .call(
                    &mut store,
                    (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9]),
                )
                .unwrap();
            assert_eq!(got as u64, want, "alu64 {p:?}, guard {guard}");
            let q = p.map(|x| (x ^ x >> 32) as u32);
            let v = 1000u32.wrapping_sub(q[0]).wrapping_add(q[1]) & q[2] | q[3];
            let v = (q[4] ^ v).wrapping_mul(q[5]).wrapping_mul(q[7]);
            let want = q[9].wrapping_sub(q[8].wrapping_mul(7).wrapping_add(v));
            let a = q.map(|x| x as i32);
            let got = alu32
                .call(
                    &mut store,
                    (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9]),
                )
                .unwrap();
            assert_eq!(got as u64, u64::from(want), "alu32 {q:?}, guard {guard}");
        }
    }
}

/// The prologue zeroes only the declared locals a read may see before a
/// write: a local whose first use is a write that no jump comes before
/// keeps whatever its register or slot held. Each case writes its local
/// 5 unless `$skip` makes a jump pass the write (`br_if`, `if`,
/// `br_table`, a `try_table` catching a throw); then the local must read
/// 0, though its register holds the caller's pinned value (integer pins
/// are callee-saved, float pins are left as they were) and its slot the
/// 5 of the call before. Each case runs with the local pinned in a
/// register and in memory (behind eight more used locals).
#[test]
fn locals_skipped_by_a_jump_read_zero() {
    let cases: [(&str, &str, &str); 11] = [
        (
            "br_if",
            "i32",
            "(block (br_if 0 (local.get $skip)) (local.set $l (i32.const 5)))",
        ),
        (
            "if",
            "i32",
            "(if (i32.eqz (local.get $skip)) (then (local.set $l (i32.const 5))))",
        ),
        (
            "br_table",
            "i32",
            "(block (block (br_table 0 1 (local.get $skip))) (local.set $l (i32.const 5)))",
        ),
        (
            "catch",
            "i32",
            "(block $h (try_table (catch_all $h) (call $throw_if (local.get $skip)) \
             (local.set $l (i32.const 5))))",
        ),
        (
            "f64_br_if",
            "f64",
            "(block (br_if 0 (local.get $skip)) (local.set $l (f64.const 5)))",
        ),
        (
            "f32_if",
            "f32",
            "(if (i32.eqz (local.get $skip)) (then (local.set $l (f32.const 5))))",
        ),
        (
            "i64_br_if",
            "i64",
            "(block (br_if 0 (local.get $skip)) (local.set $l (i64.const 5)))",
        ),
        // The inner block has closed, the outer one, a target, has not.
        (
            "br_if_outer",
            "i32",
            "(block (block (br_if 1 (local.get $skip))) (local.set $l (i32.const 5)))",
        ),
        (
            "else",
            "i32",
            "(if (local.get $skip) (then (nop)) (else (local.set $l (i32.const 5))))",
        ),
        // A branch out of a loop, before the write inside it.
        (
            "loop_exit",
            "i32",
            "(block (loop (br_if 1 (local.get $skip)) (local.set $l (i32.const 5))))",
        ),
        // The write follows a closed block that was a target, inside an
        // open one that is too.
        (
            "after_closed_block",
            "i32",
            "(block (block (br_if 0 (i32.const 0))) (br_if 0 (local.get $skip)) \
             (block (br_if 0 (i32.const 1))) (local.set $l (i32.const 5)))",
        ),
    ];
    let mut wat = String::from(
        r#"(module
        (tag $t)
        (func $throw_if (param i32) (if (local.get 0) (then (throw $t))))
"#,
    );
    for (name, ty, body) in cases {
        for spilled in [false, true] {
            // Eight locals used three times each outweigh `$l` (used
            // twice) for the pin registers.
            let (others, uses) = if spilled {
                let decls = "(local $o0 i32) (local $o1 i32) (local $o2 i32) (local $o3 i32) \
                             (local $o4 i32) (local $o5 i32) (local $o6 i32) (local $o7 i32) \
                             (local $p0 f64) (local $p1 f64) (local $p2 f64) (local $p3 f64) \
                             (local $p4 f64) (local $p5 f64) (local $p6 f64) (local $p7 f64)";
                let mut uses = String::new();
                for k in 0..8 {
                    uses.push_str(&format!(
                        "(local.set $o{k} (i32.add (local.get $skip) (i32.const {k}))) \
                         (drop (i32.add (local.get $o{k}) (local.get $o{k}))) \
                         (local.set $p{k} (f64.convert_i32_u (local.get $skip))) \
                         (drop (f64.add (local.get $p{k}) (local.get $p{k}))) "
                    ));
                }
                (decls, uses)
            } else {
                ("", String::new())
            };
            let suffix = if spilled { "_slot" } else { "" };
            wat.push_str(&format!(
                r#"(func $case_{name}{suffix} (param $skip i32) (result {ty}) (local $l {ty}) {others}
                    {body} {uses} (local.get $l))
                (func (export "{name}{suffix}") (param $skip i32) (result {ty})
                    (local $a i32) (local $b i32) (local $c i32) (local $d i32) (local $e i32)
                    (local $x f64) (local $y f32) (local $r {ty})
                    (local.set $a (i32.const 0x11)) (local.set $b (i32.const 0x22))
                    (local.set $c (i32.const 0x33)) (local.set $d (i32.const 0x44))
                    (local.set $e (i32.const 0x55)) (local.set $x (f64.const 1.5))
                    (local.set $y (f32.const 2.5))
                    (local.set $r (call $case_{name}{suffix} (local.get $skip)))
                    (drop (i32.add (i32.add (local.get $a) (local.get $b))
                                   (i32.add (local.get $c) (i32.add (local.get $d) (local.get $e)))))
                    (drop (f64.add (local.get $x) (local.get $x)))
                    (drop (f32.add (local.get $y) (local.get $y)))
                    (local.get $r))
"#
            ));
        }
    }
    wat.push(')');
    for guard in [false, true] {
        let engine = Engine::new(Config::new().guard_regions(guard)).unwrap();
        let module = Module::new(&engine, wat::parse_str(&wat).unwrap()).unwrap();
        let mut store = Store::new(&engine, ());
        let i = Instance::new(&mut store, &module, &[]).unwrap();
        for (name, ty, _) in cases {
            for suffix in ["", "_slot"] {
                let name = format!("{name}{suffix}");
                for (skip, want) in [(0, 5), (1, 0), (0, 5), (1, 0)] {
                    let got = match ty {
                        "i32" => i64::from(
                            i.get_typed_func::<i32, i32>(&store, &name)
                                .unwrap()
                                .call(&mut store, skip)
                                .unwrap(),
                        ),
                        "i64" => i
                            .get_typed_func::<i32, i64>(&store, &name)
                            .unwrap()
                            .call(&mut store, skip)
                            .unwrap(),
                        "f32" => i
                            .get_typed_func::<i32, f32>(&store, &name)
                            .unwrap()
                            .call(&mut store, skip)
                            .unwrap() as i64,
                        _ => i
                            .get_typed_func::<i32, f64>(&store, &name)
                            .unwrap()
                            .call(&mut store, skip)
                            .unwrap() as i64,
                    };
                    assert_eq!(got, want, "{name} skip {skip} (guard {guard})");
                }
            }
        }
    }
}

/// A local written first, before any jump, is not zeroed: its value is
/// the one written, on every path, also in a loop that reads it back.
#[test]
fn locals_written_first_keep_their_value() {
    let wat = r#"(module
        (func (export "first") (param $skip i32) (result i32) (local $l i32) (local $k i32)
            (local.set $l (i32.const 5))
            (block (br_if 0 (local.get $skip)) (local.set $l (i32.const 7)))
            (loop $again
                (local.set $l (i32.add (local.get $l) (i32.const 1)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br_if $again (i32.lt_u (local.get $k) (i32.const 3))))
            (i32.add (local.get $l) (i32.mul (local.get $k) (i32.const 100)))))"#;
    for guard in [false, true] {
        let engine = Engine::new(Config::new().guard_regions(guard)).unwrap();
        let module = Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
        let mut store = Store::new(&engine, ());
        let i = Instance::new(&mut store, &module, &[]).unwrap();
        let f = i.get_typed_func::<i32, i32>(&store, "first").unwrap();
        assert_eq!(f.call(&mut store, 0).unwrap(), 310);
        assert_eq!(f.call(&mut store, 1).unwrap(), 308);
    }
}

/// A branch or `eqz` on a value just summed reads the `add`'s flags, with
/// no `test`: a `local.tee` of `k - 1` into `k`'s own register becomes
/// `add k, -1`. Loops counting down to zero (with values carried to the
/// branch's label and spilled under the condition), `if` and `eqz` of
/// sums that wrap to zero in 32 bits, and an `i64.eqz` of a sum that is
/// zero only in its low 32 bits.
#[test]
fn branches_on_sums_read_the_flags() {
    let wat = r#"(module
        (func (export "countdown") (param $n i32) (result i32) (local $k i32) (local $s i32)
            (local.set $k (local.get $n))
            (loop $l
                (local.set $s (i32.add (local.get $s) (local.get $k)))
                (br_if $l (local.tee $k (i32.add (local.get $k) (i32.const -1)))))
            (i32.add (i32.mul (local.get $s) (i32.const 1000)) (local.get $k)))
        (func (export "carry") (param $n i32) (result i32) (local $k i32)
            (local.set $k (local.get $n))
            (i32.add (i32.const 7)
                (block $out (result i32)
                    (loop $l
                        (drop (br_if $out (i32.mul (local.get $k) (i32.const 3))
                            (i32.eqz (local.tee $k (i32.add (local.get $k) (i32.const -1))))))
                        (br $l))
                    (i32.const -1))))
        (func (export "if_sum") (param $a i32) (param $b i32) (result i32)
            (if (result i32) (i32.add (local.get $a) (local.get $b))
                (then (i32.const 1)) (else (i32.const 0))))
        (func (export "eqz_sum") (param $a i32) (result i32)
            (i32.eqz (i32.add (local.get $a) (i32.const 1))))
        (func (export "eqz64_sum") (param $a i64) (result i32)
            (i64.eqz (i64.add (local.get $a) (i64.const 1))))
        (func (export "unpinned") (param $n i32) (result i32)
            (local $k i32) (local $a i32) (local $b i32) (local $c i32) (local $d i32)
            (local $e i32) (local $f i32) (local $g i32) (local $s i32)
            (local.set $k (local.get $n))
            (loop $l
                (local.set $a (i32.add (local.get $a) (i32.const 1)))
                (local.set $b (i32.add (local.get $a) (local.get $b)))
                (local.set $c (i32.add (local.get $b) (local.get $c)))
                (local.set $d (i32.add (local.get $c) (local.get $d)))
                (local.set $e (i32.add (local.get $d) (local.get $e)))
                (local.set $f (i32.add (local.get $e) (local.get $f)))
                (local.set $g (i32.add (local.get $f) (local.get $g)))
                (local.set $s (i32.add (local.get $g) (local.get $s)))
                (br_if $l (local.tee $k (i32.add (local.get $k) (i32.const -1)))))
            (i32.add (local.get $s) (local.get $k))))"#;
    for guard in [false, true] {
        let engine = Engine::new(Config::new().guard_regions(guard)).unwrap();
        let module = Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
        let mut store = Store::new(&engine, ());
        let i = Instance::new(&mut store, &module, &[]).unwrap();
        let countdown = i.get_typed_func::<i32, i32>(&store, "countdown").unwrap();
        for n in [1, 2, 10, 1000] {
            assert_eq!(
                countdown.call(&mut store, n).unwrap(),
                n * (n + 1) / 2 * 1000
            );
        }
        let carry = i.get_typed_func::<i32, i32>(&store, "carry").unwrap();
        for n in [1, 5, 100] {
            // Out with 3 * 1, read before the last decrement.
            assert_eq!(carry.call(&mut store, n).unwrap(), 10);
        }
        let if_sum = i
            .get_typed_func::<(i32, i32), i32>(&store, "if_sum")
            .unwrap();
        for (a, b, want) in [
            (1, -1, 0),
            (-1, 2, 1),
            (i32::MIN, i32::MIN, 0),
            (0, 0, 0),
            (5, 0, 1),
        ] {
            assert_eq!(if_sum.call(&mut store, (a, b)).unwrap(), want, "{a} + {b}");
        }
        let eqz_sum = i.get_typed_func::<i32, i32>(&store, "eqz_sum").unwrap();
        for (a, want) in [(-1, 1), (0, 0), (i32::MAX, 0)] {
            assert_eq!(eqz_sum.call(&mut store, a).unwrap(), want, "{a} + 1 == 0");
        }
        let eqz64 = i.get_typed_func::<i64, i32>(&store, "eqz64_sum").unwrap();
        for (a, want) in [(-1, 1), (0xffff_ffff, 0), (0, 0), (-0x1_0000_0001, 0)] {
            assert_eq!(eqz64.call(&mut store, a).unwrap(), want, "{a:#x} + 1 == 0");
        }
        let unpinned = i.get_typed_func::<i32, i32>(&store, "unpinned").unwrap();
        for n in [1, 3, 50] {
            let (mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut s) =
                (0i32, 0i32, 0i32, 0i32, 0i32, 0i32, 0i32, 0i32);
            for _ in 0..n {
                a = a.wrapping_add(1);
                b = a.wrapping_add(b);
                c = b.wrapping_add(c);
                d = c.wrapping_add(d);
                e = d.wrapping_add(e);
                f = e.wrapping_add(f);
                g = f.wrapping_add(g);
                s = g.wrapping_add(s);
            }
            assert_eq!(unpinned.call(&mut store, n).unwrap(), s, "unpinned {n}");
        }
    }
}

/// A comparison stored into a pinned local is `setcc` then `movzx` into
/// the local's register (the `movzx` given that register): the local gets
/// exactly 0 or 1 (its upper bits clear), the compared locals keep their
/// values, and a `local.tee` leaves the same 0 or 1 for `eqz` and `br_if`.
#[test]
fn comparisons_stored_into_locals() {
    let wat = r#"(module
        (func (export "cmp") (param $x i32) (param $y i32) (result i64)
            (local $c i32) (local $d i32) (local $k i32)
            ;; The compared sums leave bits 8-15 set in their registers,
            ;; which the setcc writing a byte of one must not keep.
            (local.set $c (i32.lt_u (i32.add (local.get $x) (i32.const 0x3f00))
                                    (i32.add (local.get $y) (i32.const 0x3f00))))
            (loop $l
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br_if $l (i32.eqz (local.tee $d (i32.gt_s (local.get $k) (local.get $y))))))
            ;; c + 2 d + 4 k + 256 x + 65536 y, with c and d widened to 64
            ;; bits (garbage upper bits would show).
            (i64.add
                (i64.add (i64.extend_i32_u (local.get $c))
                         (i64.shl (i64.extend_i32_u (local.get $d)) (i64.const 1)))
                (i64.extend_i32_u
                    (i32.add (i32.shl (local.get $k) (i32.const 2))
                        (i32.add (i32.shl (local.get $x) (i32.const 8))
                                 (i32.shl (local.get $y) (i32.const 16))))))))"#;
    for guard in [false, true] {
        let engine = Engine::new(Config::new().guard_regions(guard)).unwrap();
        let module = Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
        let mut store = Store::new(&engine, ());
        let i = Instance::new(&mut store, &module, &[]).unwrap();
        let f = i.get_typed_func::<(i32, i32), i64>(&store, "cmp").unwrap();
        for (x, y) in [(1, 2), (2, 1), (0, 0), (3, 5), (7, -1)] {
            let c = u64::from((x as u32).wrapping_add(0x3f00) < (y as u32).wrapping_add(0x3f00));
            // k counts up until k > y (signed), at least once.
            let k = if y < 1 { 1 } else { y + 1 };
            let want = c
                + 2
                + u64::from(
                    ((k as u32) << 2)
                        .wrapping_add((x as u32) << 8)
                        .wrapping_add((y as u32) << 16),
                );
            assert_eq!(
                f.call(&mut store, (x, y)).unwrap() as u64,
                want,
                "cmp({x}, {y})"
            );
        }
    }
}

/// Comparing the same registers twice, with only the first result turned
/// into a value in between (`(x > y) - (x < y)`), compares once: the
/// second comparison reads the same flags. Each form must still agree with
/// Rust's comparisons, also when the first result is stored into one of
/// the compared locals (the flags then belong to the old value) or the
/// operands are a local and a constant.
#[test]
fn repeated_comparisons_of_the_same_locals() {
    let wat = r#"(module
        (func (export "order_u") (param $x i32) (param $y i32) (result i32)
            (i32.sub (i32.gt_u (local.get $x) (local.get $y))
                     (i32.lt_u (local.get $x) (local.get $y))))
        (func (export "order_s64") (param $x i64) (param $y i64) (result i32)
            (i32.sub (i64.gt_s (local.get $x) (local.get $y))
                     (i64.lt_s (local.get $x) (local.get $y))))
        (func (export "order_imm") (param $x i32) (param $y i32) (result i32)
            (i32.sub (i32.gt_s (local.get $x) (i32.const 5))
                     (i32.lt_s (local.get $x) (i32.const 5))))
        ;; Without the call, in a leaf, `$x` and `$y` are pinned in other
        ;; registers than with it.
        (func $id (param i32) (result i32) (local.get 0))
        (func (export "overwritten") (param $x i32) (param $y i32) (result i32)
            (local.set $x (i32.gt_u (local.get $x) (local.get $y)))
            (i32.add (i32.mul (i32.gt_u (local.get $x) (local.get $y)) (i32.const 10))
                     (local.get $x)))
        (func (export "overwritten_call") (param $x i32) (param $y i32) (result i32)
            (local.set $x (i32.gt_u (local.get $x) (local.get $y)))
            (i32.add (i32.mul (i32.gt_u (local.get $x) (local.get $y)) (i32.const 10))
                     (call $id (local.get $x)))))"#;
    for guard in [false, true] {
        let engine = Engine::new(Config::new().guard_regions(guard)).unwrap();
        let module = Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
        let mut store = Store::new(&engine, ());
        let i = Instance::new(&mut store, &module, &[]).unwrap();
        let order = |a: std::cmp::Ordering| a as i32;
        for (x, y) in [
            (1i32, 2i32),
            (2, 1),
            (0, 0),
            (5, 5),
            (-1, 7),
            (7, -1),
            (6, 0),
        ] {
            let f = i
                .get_typed_func::<(i32, i32), i32>(&store, "order_u")
                .unwrap();
            assert_eq!(
                f.call(&mut store, (x, y)).unwrap(),
                order((x as u32).cmp(&(y as u32)))
            );
            let f = i
                .get_typed_func::<(i64, i64), i32>(&store, "order_s64")
                .unwrap();
            let (x64, y64) = (i64::from(x) << 33, i64::from(y) << 33);
            assert_eq!(
                f.call(&mut store, (x64, y64)).unwrap(),
                order(x64.cmp(&y64))
            );
            let f = i
                .get_typed_func::<(i32, i32), i32>(&store, "order_imm")
                .unwrap();
            assert_eq!(f.call(&mut store, (x, y)).unwrap(), order(x.cmp(&5)));
            let first = u32::from(x as u32 > y as u32);
            let want = 10 * i32::from(first > y as u32) + first as i32;
            for name in ["overwritten", "overwritten_call"] {
                let f = i.get_typed_func::<(i32, i32), i32>(&store, name).unwrap();
                assert_eq!(f.call(&mut store, (x, y)).unwrap(), want, "{name} {x} {y}");
            }
        }
    }
}
