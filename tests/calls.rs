//! Calls with three to five arguments of mixed types, the first of which
//! travel in registers (`abi`, "Calls between wasm functions"):
//! direct calls, `call_indirect` (to wasm and to host functions), calls
//! of host imports, entries from the host, and tail calls, with the
//! arguments permuted between caller and callee so that the argument
//! registers' moves form chains and cycles. Every callee folds its
//! arguments, in order and bit for bit, into one `i64`
//! ([`fold`]), which this file computes independently.

use wasmkern::{Config, Engine, Instance, Linker, Module, Store, Val};

mod common;
use common::{both_modes, module, typed};

/// One step of the fold every callee computes: order-sensitive, and
/// every bit of every argument counts.
fn step(h: i64, x: i64) -> i64 {
    h.wrapping_mul(1_000_003).wrapping_add(x)
}

/// What the WAT's callees compute from their arguments' bits (an `i32`
/// zero-extended, an `f32`'s bits zero-extended, an `f64`'s bits, a
/// `v128` as its low then its high half).
fn fold(args: &[i64]) -> i64 {
    args.iter().fold(7, |h, &x| step(h, x))
}

fn u32_bits(x: i32) -> i64 {
    x as u32 as i64
}

fn f32_bits(x: f32) -> i64 {
    x.to_bits() as i64
}

fn f64_bits(x: f64) -> i64 {
    x.to_bits() as i64
}

fn engine(guard: bool) -> Engine {
    Engine::new(Config::new().guard_regions(guard).wasm_tail_call(true)).unwrap()
}

/// The fold as WAT: `(call $step (local.get $h) X)` for each argument.
const FOLD_HELPERS: &str = r#"
    (func $step (param $h i64) (param $x i64) (result i64)
        (i64.add (i64.mul (local.get $h) (i64.const 1000003)) (local.get $x)))
    (func $u32 (param i32) (result i64) (i64.extend_i32_u (local.get 0)))
    (func $f32 (param f32) (result i64) (i64.extend_i32_u (i32.reinterpret_f32 (local.get 0))))
    (func $f64 (param f64) (result i64) (i64.reinterpret_f64 (local.get 0)))
"#;

/// Callees of three to five mixed arguments, a `v128` first or in the
/// middle, and exported callers passing them on, permuted.
fn calls_wat() -> String {
    format!(
        r#"(module
    (import "host" "mix4" (func $host_mix4 (param i32 i64 f32 f64) (result i64)))
    (type $t4 (func (param i32 i64 f32 f64) (result i64)))
    (table $t (export "table") 2 funcref)
    (elem (table $t) (i32.const 0) func $mix4 $host_mix4)
    {FOLD_HELPERS}
    (func $mix3 (export "mix3") (param i32 f64 i64) (result i64)
        (call $step (call $step (call $step (i64.const 7)
            (call $u32 (local.get 0))) (call $f64 (local.get 1))) (local.get 2)))
    (func $mix4 (export "mix4") (type $t4)
        (call $step (call $step (call $step (call $step (i64.const 7)
            (call $u32 (local.get 0))) (local.get 1)) (call $f32 (local.get 2)))
            (call $f64 (local.get 3))))
    (func $mix5 (export "mix5") (param i64 i32 f32 f64 i64) (result i64)
        (call $step (call $step (call $step (call $step (call $step (i64.const 7)
            (local.get 0)) (call $u32 (local.get 1))) (call $f32 (local.get 2)))
            (call $f64 (local.get 3))) (local.get 4)))
    (func $v_first (export "v_first") (param v128 i64 f64 i32) (result i64)
        (call $step (call $step (call $step (call $step (call $step (i64.const 7)
            (i64x2.extract_lane 0 (local.get 0))) (i64x2.extract_lane 1 (local.get 0)))
            (local.get 1)) (call $f64 (local.get 2))) (call $u32 (local.get 3))))
    (func $v_mid (export "v_mid") (param i64 f64 v128 i32 i64) (result i64)
        (call $step (call $step (call $step (call $step (call $step (call $step (i64.const 7)
            (local.get 0)) (call $f64 (local.get 1)))
            (i64x2.extract_lane 0 (local.get 2))) (i64x2.extract_lane 1 (local.get 2)))
            (call $u32 (local.get 3))) (local.get 4)))
    (func $i4 (export "i4") (param i64 i64 i64 i64) (result i64)
        (call $step (call $step (call $step (call $step (i64.const 7)
            (local.get 0)) (local.get 1)) (local.get 2)) (local.get 3)))
    (func $f4 (export "f4") (param f64 f64 f64 f64) (result i64)
        (call $step (call $step (call $step (call $step (i64.const 7)
            (call $f64 (local.get 0))) (call $f64 (local.get 1)))
            (call $f64 (local.get 2))) (call $f64 (local.get 3))))

    ;; Callers. Their parameters, passed on permuted, and values computed
    ;; just before the call.
    (func (export "call_mix3") (param $a i64) (param $b i32) (param $c f64) (result i64)
        (call $mix3 (local.get $b) (local.get $c) (local.get $a)))
    (func (export "call_mix5") (param $a f64) (param $b i64) (param $c f32) (param $d i32) (param $e i64) (result i64)
        (call $mix5 (local.get $e) (local.get $d) (local.get $c) (local.get $a) (local.get $b)))
    (func (export "call_v_first") (param $a i32) (param $b v128) (param $c f64) (param $d i64) (result i64)
        (call $v_first (local.get $b) (local.get $d) (local.get $c) (local.get $a)))
    (func (export "call_v_mid") (param $a v128) (param $b i64) (param $c i32) (param $d f64) (param $e i64) (result i64)
        (call $v_mid (local.get $e) (local.get $d) (local.get $a) (local.get $c) (local.get $b)))
    ;; Four integers reversed, rotated and swapped in pairs, from
    ;; parameters and from values computed into the allocator's registers.
    (func (export "perm_i4") (param $x i64) (param $y i64) (param $z i64) (param $w i64) (result i64)
        (call $step (call $step (call $step (call $step
            (call $i4 (local.get $w) (local.get $z) (local.get $y) (local.get $x))
            (call $i4 (local.get $y) (local.get $z) (local.get $w) (local.get $x)))
            (call $i4 (local.get $y) (local.get $x) (local.get $w) (local.get $z)))
            (call $i4 (i64.add (local.get $w) (i64.const 1)) (i64.add (local.get $z) (i64.const 2))
                      (i64.add (local.get $y) (i64.const 3)) (i64.add (local.get $x) (i64.const 4))))
            (call $i4 (local.get $x) (local.get $x) (i64.mul (local.get $w) (local.get $z)) (local.get $x))))
    (func (export "perm_f4") (param $x f64) (param $y f64) (param $z f64) (param $w f64) (result i64)
        (call $step (call $step (call $step
            (call $f4 (local.get $w) (local.get $z) (local.get $y) (local.get $x))
            (call $f4 (local.get $z) (local.get $w) (local.get $x) (local.get $y)))
            (call $f4 (f64.add (local.get $w) (f64.const 1)) (f64.add (local.get $z) (f64.const 2))
                      (f64.add (local.get $y) (f64.const 3)) (f64.add (local.get $x) (f64.const 4))))
            (call $f4 (local.get $y) (local.get $x) (local.get $w) (f64.const 0.5))))
    ;; The host import, directly and through the table, and the wasm
    ;; function of the same type through the table.
    (func (export "call_host4") (param $a f64) (param $b f32) (param $c i64) (param $d i32) (result i64)
        (call $host_mix4 (local.get $d) (local.get $c) (local.get $b) (local.get $a)))
    (func (export "indirect4") (param $i i32) (param $a f64) (param $b f32) (param $c i64) (param $d i32) (result i64)
        (call_indirect (type $t4) (local.get $d) (local.get $c) (local.get $b) (local.get $a) (local.get $i)))
)"#
    )
}

fn instance_with_host(engine: &Engine, wat: &str) -> (Store<()>, Instance) {
    let module: Module = module(engine, wat);
    let mut store = Store::new(engine, ());
    let mut linker = Linker::new(engine);
    linker
        .func_wrap("host", "mix4", |a: i32, b: i64, c: f32, d: f64| -> i64 {
            fold(&[u32_bits(a), b, f32_bits(c), f64_bits(d)])
        })
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    (store, instance)
}

/// Lanes of a `v128` as `Val::V128` and the two halves the fold sees.
fn v128(lo: i64, hi: i64) -> (Val, [i64; 2]) {
    let bits = (lo as u64 as u128) | ((hi as u64 as u128) << 64);
    (Val::V128(bits), [lo, hi])
}

fn call_i64(store: &mut Store<()>, instance: &Instance, name: &str, args: &[Val]) -> i64 {
    let f = instance.get_func(&*store, name).unwrap();
    let mut out = [Val::I64(0)];
    f.call(&mut *store, args, &mut out)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    match out[0] {
        Val::I64(v) => v,
        ref v => panic!("{name} returned {v:?}"),
    }
}

#[test]
fn mixed_arguments_of_three_to_five() {
    both_modes(|guard| {
        let engine = engine(guard);
        let (mut s, inst) = instance_with_host(&engine, &calls_wat());
        let s = &mut s;
        let (a, b, c, d, e) = (-5i64, 0x8000_0001u32 as i32, -2.5f64, 1.25f32, 1i64 << 40);
        // Entered from the host (the enter trampoline's registers).
        let mix3 = typed::<(), (i32, f64, i64), i64>(s, &inst, "mix3");
        assert_eq!(
            mix3.call(&mut *s, (b, c, a)).unwrap(),
            fold(&[u32_bits(b), f64_bits(c), a])
        );
        let mix5 = typed::<(), (i64, i32, f32, f64, i64), i64>(s, &inst, "mix5");
        let want5 = fold(&[e, u32_bits(b), f32_bits(d), f64_bits(c), a]);
        assert_eq!(mix5.call(&mut *s, (e, b, d, c, a)).unwrap(), want5);
        // Passed on, permuted, by wasm callers.
        let call_mix3 = typed::<(), (i64, i32, f64), i64>(s, &inst, "call_mix3");
        assert_eq!(
            call_mix3.call(&mut *s, (a, b, c)).unwrap(),
            fold(&[u32_bits(b), f64_bits(c), a])
        );
        let call_mix5 = typed::<(), (f64, i64, f32, i32, i64), i64>(s, &inst, "call_mix5");
        assert_eq!(call_mix5.call(&mut *s, (c, a, d, b, e)).unwrap(), want5);
        // A `v128` first: nothing in registers; in the middle: the two
        // before it.
        let (v, halves) = v128(0x1122_3344_5566_7788, -3);
        let want = fold(&[halves[0], halves[1], e, f64_bits(c), u32_bits(b)]);
        let args = [v, Val::I64(e), Val::F64(c.to_bits()), Val::I32(b)];
        assert_eq!(call_i64(s, &inst, "v_first", &args), want);
        let args = [Val::I32(b), v, Val::F64(c.to_bits()), Val::I64(e)];
        assert_eq!(call_i64(s, &inst, "call_v_first", &args), want);
        let want = fold(&[a, f64_bits(c), halves[0], halves[1], u32_bits(b), e]);
        let args = [
            Val::I64(a),
            Val::F64(c.to_bits()),
            v,
            Val::I32(b),
            Val::I64(e),
        ];
        assert_eq!(call_i64(s, &inst, "v_mid", &args), want);
        let args = [
            v,
            Val::I64(e),
            Val::I32(b),
            Val::F64(c.to_bits()),
            Val::I64(a),
        ];
        assert_eq!(call_i64(s, &inst, "call_v_mid", &args), want);
    });
}

#[test]
fn permuted_arguments_reach_their_parameters() {
    both_modes(|guard| {
        let engine = engine(guard);
        let (mut s, inst) = instance_with_host(&engine, &calls_wat());
        let s = &mut s;
        let (x, y, z, w) = (11i64, -22i64, 1 << 35, i64::MIN + 3);
        let i4 = |a: i64, b: i64, c: i64, d: i64| fold(&[a, b, c, d]);
        let want = [
            i4(y, z, w, x),
            i4(y, x, w, z),
            i4(w.wrapping_add(1), z + 2, y + 3, x + 4),
            i4(x, x, w.wrapping_mul(z), x),
        ]
        .into_iter()
        .fold(i4(w, z, y, x), step);
        let perm_i4 = typed::<(), (i64, i64, i64, i64), i64>(s, &inst, "perm_i4");
        assert_eq!(perm_i4.call(&mut *s, (x, y, z, w)).unwrap(), want);

        let (x, y, z, w) = (1.5f64, -0.0f64, 1e300, f64::MIN_POSITIVE);
        let f4 = |a: f64, b: f64, c: f64, d: f64| {
            fold(&[f64_bits(a), f64_bits(b), f64_bits(c), f64_bits(d)])
        };
        let want = [
            f4(z, w, x, y),
            f4(w + 1.0, z + 2.0, y + 3.0, x + 4.0),
            f4(y, x, w, 0.5),
        ]
        .into_iter()
        .fold(f4(w, z, y, x), step);
        let perm_f4 = typed::<(), (f64, f64, f64, f64), i64>(s, &inst, "perm_f4");
        assert_eq!(perm_f4.call(&mut *s, (x, y, z, w)).unwrap(), want);
    });
}

#[test]
fn four_arguments_to_host_and_through_tables() {
    both_modes(|guard| {
        let engine = engine(guard);
        let (mut s, inst) = instance_with_host(&engine, &calls_wat());
        let s = &mut s;
        let (a, b, c, d) = (-1.0e-3f64, 3.5f32, -77i64, -1i32);
        let want = fold(&[u32_bits(d), c, f32_bits(b), f64_bits(a)]);
        let host = typed::<(), (f64, f32, i64, i32), i64>(s, &inst, "call_host4");
        assert_eq!(host.call(&mut *s, (a, b, c, d)).unwrap(), want);
        let indirect = typed::<(), (i32, f64, f32, i64, i32), i64>(s, &inst, "indirect4");
        // Element 0 is the wasm function, 1 the host import: same fold.
        assert_eq!(indirect.call(&mut *s, (0, a, b, c, d)).unwrap(), want);
        assert_eq!(indirect.call(&mut *s, (1, a, b, c, d)).unwrap(), want);
        let mix4 = typed::<(), (i32, i64, f32, f64), i64>(s, &inst, "mix4");
        assert_eq!(mix4.call(&mut *s, (d, c, b, a)).unwrap(), want);
    });
}

/// A module that sees no function reference but its own (no imports, no
/// exported table): its `call_indirect`s know their callee is its own
/// compiled wasm and pass the register arguments only in registers.
#[test]
fn four_arguments_through_a_private_table() {
    let wat = format!(
        r#"(module
    {FOLD_HELPERS}
    (type $t4 (func (param i64 f64 i32 f32) (result i64)))
    (table 2 funcref)
    (elem (i32.const 0) func $p $q)
    (func $p (type $t4)
        (call $step (call $step (call $step (call $step (i64.const 7)
            (local.get 0)) (call $f64 (local.get 1))) (call $u32 (local.get 2)))
            (call $f32 (local.get 3))))
    (func $q (type $t4)
        (call $step (call $p (local.get 0) (local.get 1) (local.get 2) (local.get 3)) (i64.const 1)))
    (func (export "run") (param $i i32) (param $a f32) (param $b i32) (param $c f64) (param $d i64) (result i64)
        (call_indirect (type $t4) (local.get $d) (local.get $c) (local.get $b) (local.get $a) (local.get $i)))
)"#
    );
    both_modes(|guard| {
        let engine = engine(guard);
        let (mut s, inst) = common::instantiate(&engine, &wat);
        let s = &mut s;
        let run = typed::<(), (i32, f32, i32, f64, i64), i64>(s, &inst, "run");
        let (a, b, c, d) = (-8.0f32, 123i32, 0.1f64, 9i64);
        let want = fold(&[d, f64_bits(c), u32_bits(b), f32_bits(a)]);
        assert_eq!(run.call(&mut *s, (0, a, b, c, d)).unwrap(), want);
        assert_eq!(run.call(&mut *s, (1, a, b, c, d)).unwrap(), step(want, 1));
    });
}

/// Loops of tail calls whose four arguments change places each step:
/// swapped in pairs, reversed, rotated, through `return_call` and
/// `return_call_indirect`, mixed integers and floats, into a host import
/// at the end, and into a callee with more arguments than the area holds.
fn tail_wat() -> String {
    format!(
        r#"(module
    (import "host" "mix4" (func $host_mix4 (param i32 i64 f32 f64) (result i64)))
    {FOLD_HELPERS}
    (type $t (func (param i64 i64 i64 i64) (result i64)))
    (table $tab 3 funcref)
    (elem (table $tab) (i32.const 0) func $swap $rev $rot)
    (func $end (param i64 i64 i64 i64) (result i64)
        (call $step (call $step (call $step (call $step (i64.const 7)
            (local.get 0)) (local.get 1)) (local.get 2)) (local.get 3)))
    ;; n counts down in the first argument; the other three change places.
    (func $swap (export "swap") (type $t)
        (if (result i64) (i64.eqz (local.get 0))
            (then (return_call $end (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
            (else (return_call $swap (i64.sub (local.get 0) (i64.const 1))
                (local.get 1) (local.get 3) (local.get 2)))))
    (func $rev (export "rev") (type $t)
        (if (result i64) (i64.eqz (local.get 0))
            (then (return_call $end (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
            (else (return_call $rev (i64.sub (local.get 0) (i64.const 1))
                (local.get 3) (i64.add (local.get 2) (local.get 1)) (local.get 1)))))
    ;; Round robin through the table: the next function is n mod 3.
    (func $rot (export "rot") (type $t)
        (if (result i64) (i64.eqz (local.get 0))
            (then (return_call $end (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
            (else (return_call_indirect $tab (type $t) (i64.sub (local.get 0) (i64.const 1))
                (local.get 2) (local.get 3) (i64.xor (local.get 1) (local.get 0))
                (i32.wrap_i64 (i64.rem_u (local.get 0) (i64.const 3)))))))
    ;; Mixed types, the floats and integers each swapped, ending in the
    ;; host import.
    (func $mixed (export "mixed") (param $n i32) (param $a i64) (param $b f32) (param $c f64) (result i64)
        (if (result i64) (i32.eqz (local.get $n))
            (then (return_call $host_mix4 (local.get $n) (local.get $a) (local.get $b) (local.get $c)))
            (else (return_call $mixed (i32.sub (local.get $n) (i32.const 1))
                (i64.add (local.get $a) (i64.extend_i32_u (local.get $n)))
                (f32.demote_f64 (local.get $c)) (f64.promote_f32 (local.get $b))))))
    ;; Used the most, $d and then $c get the leaf pins: whatever registers
    ;; they arrive in, the prologue's moves and the tail call's, which pass
    ;; them on in their places, must not clobber one another.
    (func $pin_swap (export "pin_swap") (param $a i64) (param $b i64) (param $c i64) (param $d i64) (result i64)
        (i64.add
            (i64.add (i64.mul (i64.add (i64.mul (i64.add (i64.mul (i64.add
                (i64.mul (i64.const 7) (i64.const 1000003)) (local.get $a)) (i64.const 1000003))
                (local.get $b)) (i64.const 1000003)) (local.get $c)) (i64.const 1000003)) (local.get $d))
            (i64.mul (local.get $d) (i64.add (local.get $d) (local.get $c)))))
    (func $tail_swap (export "tail_swap") (param $n i64) (param $a i64) (param $c i64) (param $d i64) (result i64)
        (if (result i64) (i64.eqz (local.get $n))
            (then (return_call $end (local.get $n) (local.get $a) (local.get $c) (local.get $d)))
            (else (return_call $tail_swap (i64.sub (local.get $n) (i64.const 1))
                (i64.add (local.get $a) (i64.mul (i64.mul (local.get $d) (i64.mul (local.get $d) (local.get $d)))
                                                 (i64.mul (local.get $c) (local.get $c))))
                (local.get $c) (local.get $d)))))
    ;; Ten arguments, more than the area holds: the area grows, and the
    ;; first ones still travel in registers.
    (func $wide (param i64 i64 i64 i64 i64 i64 i64 i64 i64 i64) (result i64)
        (call $step (call $step (call $step (call $step (call $step (call $step
        (call $step (call $step (call $step (call $step (i64.const 7)
            (local.get 0)) (local.get 1)) (local.get 2)) (local.get 3)) (local.get 4))
            (local.get 5)) (local.get 6)) (local.get 7)) (local.get 8)) (local.get 9)))
    (func (export "grow") (type $t)
        (return_call $wide (local.get 3) (local.get 2) (local.get 1) (local.get 0)
            (i64.const 5) (i64.const 6) (i64.const 7) (i64.const 8) (i64.const 9)
            (i64.add (local.get 0) (local.get 3))))
)"#
    )
}

#[test]
fn tail_calls_with_four_permuted_arguments() {
    both_modes(|guard| {
        let engine = engine(guard);
        let (mut s, inst) = instance_with_host(&engine, &tail_wat());
        let s = &mut s;
        let n = 1001i64;
        // 1001 mod 3 = 2: `rot` runs twice, then leaves for `rev`.
        let (x, y, z) = (3i64, -4i64, 1 << 50);
        let end = |a: [i64; 4]| fold(&a);

        let mut st = [n, x, y, z];
        while st[0] != 0 {
            st = [st[0] - 1, st[1], st[3], st[2]];
        }
        let swap = typed::<(), (i64, i64, i64, i64), i64>(s, &inst, "swap");
        assert_eq!(swap.call(&mut *s, (n, x, y, z)).unwrap(), end(st));

        let mut st = [n, x, y, z];
        while st[0] != 0 {
            st = [st[0] - 1, st[3], st[2].wrapping_add(st[1]), st[1]];
        }
        let rev = typed::<(), (i64, i64, i64, i64), i64>(s, &inst, "rev");
        assert_eq!(rev.call(&mut *s, (n, x, y, z)).unwrap(), end(st));

        // `rot` goes on in the function of index n mod 3, which may be
        // `swap` or `rev`, which then run to the end.
        let (mut st, mut func) = ([n, x, y, z], 2);
        while st[0] != 0 {
            let [n, a, b, c] = st;
            st = match func {
                0 => [n - 1, a, c, b],
                1 => [n - 1, c, b.wrapping_add(a), a],
                _ => {
                    func = n % 3;
                    [n - 1, b, c, a ^ n]
                }
            };
        }
        let rot = typed::<(), (i64, i64, i64, i64), i64>(s, &inst, "rot");
        assert_eq!(rot.call(&mut *s, (n, x, y, z)).unwrap(), end(st));

        let (a, b, c, d) = (-9i64, 10i64, 1 << 33, 3i64);
        let pin_swap = typed::<(), (i64, i64, i64, i64), i64>(s, &inst, "pin_swap");
        let want = fold(&[a, b, c, d]).wrapping_add(d.wrapping_mul(d.wrapping_add(c)));
        assert_eq!(pin_swap.call(&mut *s, (a, b, c, d)).unwrap(), want);
        let mut st = [n, a, c, d];
        while st[0] != 0 {
            let [n, a, c, d] = st;
            let grow = d
                .wrapping_mul(d)
                .wrapping_mul(d)
                .wrapping_mul(c.wrapping_mul(c));
            st = [n - 1, a.wrapping_add(grow), c, d];
        }
        let tail_swap = typed::<(), (i64, i64, i64, i64), i64>(s, &inst, "tail_swap");
        assert_eq!(tail_swap.call(&mut *s, (n, a, c, d)).unwrap(), end(st));

        let (mut m, mut a, mut b, mut c) = (777i32, 5i64, 0.75f32, -3.0f64);
        while m != 0 {
            (m, a, b, c) = (m - 1, a + m as i64, c as f32, b as f64);
        }
        let want = fold(&[u32_bits(m), a, f32_bits(b), f64_bits(c)]);
        let mixed = typed::<(), (i32, i64, f32, f64), i64>(s, &inst, "mixed");
        assert_eq!(mixed.call(&mut *s, (777, 5, 0.75, -3.0)).unwrap(), want);

        let grow = typed::<(), (i64, i64, i64, i64), i64>(s, &inst, "grow");
        let want = fold(&[z, y, x, n, 5, 6, 7, 8, 9, n + z]);
        assert_eq!(grow.call(&mut *s, (n, x, y, z)).unwrap(), want);
    });
}
