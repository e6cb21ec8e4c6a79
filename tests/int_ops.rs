//! Integer arithmetic the compiler strength-reduces: `x * 3`, `x * 5` and
//! `x * 9` become `lea`, other constant factors a three-operand `imul`
//! (neither copies a pinned `x` first), and `x << 1..3` a `lea`, folded
//! into the sum's when `x` was just computed as `y + c`. Each must equal the wrapping
//! product in both widths, for `x` a local kept in a register (which must
//! keep its value) and for `x` a computed value. An `i64` constant that
//! only `movabs` could load is read by the operation from the constant
//! pool instead.

use wasmkern::{Engine, Linker, Module, Store, Val};

mod common;
use common::instantiate;

/// `(x * k) ^ x`, with `x` read again after the product, and
/// `((x + 1) * k)`: a pinned local and a computed operand; the product
/// stored into another local (the `lea` or `imul` given its register)
/// and into `x` itself, twice.
fn wat(ty: &str, k: i64) -> String {
    format!(
        r#"(module
            (func (export "pinned") (param $x {ty}) (result {ty})
                ({ty}.xor ({ty}.mul (local.get $x) ({ty}.const {k})) (local.get $x)))
            (func (export "computed") (param $x {ty}) (result {ty})
                ({ty}.mul ({ty}.add (local.get $x) ({ty}.const 1)) ({ty}.const {k})))
            (func (export "into") (param $x {ty}) (result {ty}) (local $y {ty})
                (local.set $y ({ty}.mul (local.get $x) ({ty}.const {k})))
                ({ty}.xor (local.get $y) (local.get $x)))
            (func (export "itself") (param $x {ty}) (result {ty})
                (local.set $x ({ty}.mul (local.get $x) ({ty}.const {k})))
                (local.set $x ({ty}.mul (local.get $x) ({ty}.const {k})))
                (local.get $x)))"#
    )
}

/// `v` in the width `ty` names (an `i32` keeps the low 32 bits, which is
/// also where a wrapping 64-bit product's low half lies).
fn val(ty: &str, v: i64) -> Val {
    if ty == "i32" {
        Val::I32(v as i32)
    } else {
        Val::I64(v)
    }
}

#[test]
fn small_constant_products_wrap_like_multiplication() {
    let engine = Engine::default();
    let inputs: [i64; 7] = [0, 1, -1, 7, 0x3fff_ffff, i32::MAX as i64, i64::MAX / 3 + 11];
    for k in [3i64, 5, 7, 9, -56, 1_000_003] {
        for ty in ["i32", "i64"] {
            let module = Module::new(&engine, wat::parse_str(wat(ty, k)).unwrap()).unwrap();
            let mut store = Store::new(&engine, ());
            let instance = Linker::new(&engine)
                .instantiate(&mut store, &module)
                .unwrap();
            for &x in &inputs {
                let x = match val(ty, x) {
                    Val::I32(x) => i64::from(x),
                    _ => x,
                };
                for (name, expected) in [
                    ("pinned", x.wrapping_mul(k) ^ x),
                    ("computed", x.wrapping_add(1).wrapping_mul(k)),
                    ("into", x.wrapping_mul(k) ^ x),
                    ("itself", x.wrapping_mul(k).wrapping_mul(k)),
                ] {
                    let f = instance.get_func(&store, name).unwrap();
                    let mut out = [val(ty, 0)];
                    f.call(&mut store, &[val(ty, x)], &mut out).unwrap();
                    assert_eq!(out[0], val(ty, expected), "{ty} {name} {x} * {k}");
                }
            }
        }
    }
}

/// `i32.wrap_i64` must clear the upper half of its register unless the
/// instruction just before left it zero (a 32-bit load, which
/// `i64.extend_i32_u` passes through without code). Each function wraps
/// a 64-bit value from a different source and zero-extends it again
/// (`i64.extend_i32_u` of an `i32` in a register emits nothing, so a
/// missing clear shows in the result).
#[test]
fn wrap_clears_the_upper_half_unless_already_zero() {
    let wat = r#"(module
        (memory 1)
        (data (i32.const 8) "\78\56\34\12\ef\cd\ab\90")
        (func (export "load64") (param $p i32) (result i64)
            (i64.extend_i32_u (i32.wrap_i64 (i64.load (local.get $p)))))
        (func (export "load32_s") (param $p i32) (result i64)
            (i64.extend_i32_u (i32.wrap_i64 (i64.load32_s offset=4 (local.get $p)))))
        (func (export "load32_u") (param $p i32) (result i64)
            (i64.extend_i32_u (i32.wrap_i64 (i64.extend_i32_u (i32.load offset=4 (local.get $p))))))
        (func (export "sum") (param $p i32) (result i64)
            (i64.extend_i32_u (i32.wrap_i64 (i64.add (i64.load (local.get $p)) (i64.const 0x100000000)))))
        (func (export "shifted") (param $p i32) (result i64)
            (i64.extend_i32_u (i32.wrap_i64 (i64.shl (i64.extend_i32_u (i32.load (local.get $p))) (i64.const 4)))))
        (func (export "home") (param $p i32) (result i64) (local $v i32)
            (local.set $v (i32.load offset=4 (local.get $p)))
            (i64.add (i64.extend_i32_u (local.get $v)) (i64.extend_i32_u (i32.add (local.get $v) (i32.const 1))))))"#;
    let engine = Engine::default();
    let module = Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let lo = 0x1234_5678u64;
    let hi = 0x90ab_cdefu64;
    for (name, expected) in [
        ("load64", lo),
        ("load32_s", hi),
        ("load32_u", hi),
        ("sum", lo),
        ("shifted", (lo << 4) & 0xffff_ffff),
        ("home", hi + hi + 1),
    ] {
        let f = instance.get_func(&store, name).unwrap();
        let mut out = [Val::I64(0)];
        f.call(&mut store, &[Val::I32(8)], &mut out).unwrap();
        assert_eq!(out[0], Val::I64(expected as i64), "{name}");
    }
}

/// `x & 0xff` and `x & 0xffff` (a `movzx`) in both widths: of a pinned
/// local, which must keep its value, of a computed value, stored into a
/// pinned local (the `movzx` given the local's register), and masking a
/// local into itself in a loop; next to masks that are not zero-extensions
/// (`0x1ff`, and in 64 bits `0x1_0000_00ff`, whose low bits match).
#[test]
fn byte_and_halfword_masks_zero_extend() {
    let masks: [(&str, u64); 4] = [
        ("ff", 0xff),
        ("ffff", 0xffff),
        ("1ff", 0x1ff),
        ("wide", 0x1_0000_00ff),
    ];
    let mut wat = String::from("(module\n");
    for ty in ["i32", "i64"] {
        for (name, m) in masks {
            let m = if ty == "i32" { m as u32 as u64 } else { m };
            wat.push_str(&format!(
                r#"(func (export "{ty}_{name}_pinned") (param $x {ty}) (result {ty} {ty})
                    ({ty}.and (local.get $x) ({ty}.const {m})) (local.get $x))
                (func (export "{ty}_{name}_computed") (param $x {ty}) (result {ty})
                    ({ty}.and ({ty}.xor (local.get $x) ({ty}.const 1)) ({ty}.const {m})))
                (func (export "{ty}_{name}_into") (param $x {ty}) (result {ty} {ty}) (local $y {ty})
                    (local.set $y ({ty}.and (local.get $x) ({ty}.const {m})))
                    (local.get $y) (local.get $x))
                (func (export "{ty}_{name}_tee") (param $x {ty}) (result {ty} {ty})
                    (local $y {ty}) (local $k i32)
                    (loop $l
                        (local.set $x ({ty}.add ({ty}.and (local.tee $y (local.get $x)) ({ty}.const {m}))
                                                ({ty}.shl (local.get $x) ({ty}.const 9))))
                        (local.set $k (i32.add (local.get $k) (i32.const 1)))
                        (br_if $l (i32.lt_u (local.get $k) (i32.const 3))))
                    (local.get $x) (local.get $y))
"#
            ));
        }
    }
    wat.push(')');
    let inputs: [u64; 5] = [
        0,
        0x80,
        0xffff_ffff_ffff_ff81,
        0x1234_5678_9abc_def0,
        0x8000_0001_8001_00ff,
    ];
    for guard in [false, true] {
        let engine = Engine::new(wasmkern::Config::new().guard_regions(guard)).unwrap();
        let module = Module::new(&engine, wat::parse_str(&wat).unwrap()).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Linker::new(&engine)
            .instantiate(&mut store, &module)
            .unwrap();
        for (name, mask) in masks {
            for x in inputs {
                let tee = |width_mask: u64| {
                    let mut x = x & width_mask;
                    let mut y = 0;
                    for _ in 0..3 {
                        y = x;
                        x = (x & mask).wrapping_add(x << 9) & width_mask;
                    }
                    (x, y)
                };
                let f = instance
                    .get_typed_func::<i64, (i64, i64)>(&mut store, &format!("i64_{name}_pinned"))
                    .unwrap();
                assert_eq!(
                    f.call(&mut store, x as i64).unwrap(),
                    ((x & mask) as i64, x as i64)
                );
                let f = instance
                    .get_typed_func::<i64, i64>(&mut store, &format!("i64_{name}_computed"))
                    .unwrap();
                assert_eq!(
                    f.call(&mut store, x as i64).unwrap(),
                    ((x ^ 1) & mask) as i64
                );
                let f = instance
                    .get_typed_func::<i64, (i64, i64)>(&mut store, &format!("i64_{name}_into"))
                    .unwrap();
                assert_eq!(
                    f.call(&mut store, x as i64).unwrap(),
                    ((x & mask) as i64, x as i64)
                );
                let f = instance
                    .get_typed_func::<i64, (i64, i64)>(&mut store, &format!("i64_{name}_tee"))
                    .unwrap();
                let (tx, ty) = tee(u64::MAX);
                assert_eq!(
                    f.call(&mut store, x as i64).unwrap(),
                    (tx as i64, ty as i64),
                    "i64 {name} tee {x:#x}"
                );

                let (x32, m32) = (x as u32, mask as u32);
                let f = instance
                    .get_typed_func::<i32, (i32, i32)>(&mut store, &format!("i32_{name}_pinned"))
                    .unwrap();
                assert_eq!(
                    f.call(&mut store, x32 as i32).unwrap(),
                    ((x32 & m32) as i32, x32 as i32)
                );
                let f = instance
                    .get_typed_func::<i32, i32>(&mut store, &format!("i32_{name}_computed"))
                    .unwrap();
                assert_eq!(
                    f.call(&mut store, x32 as i32).unwrap(),
                    ((x32 ^ 1) & m32) as i32
                );
                let f = instance
                    .get_typed_func::<i32, (i32, i32)>(&mut store, &format!("i32_{name}_into"))
                    .unwrap();
                assert_eq!(
                    f.call(&mut store, x32 as i32).unwrap(),
                    ((x32 & m32) as i32, x32 as i32)
                );
                let f = instance
                    .get_typed_func::<i32, (i32, i32)>(&mut store, &format!("i32_{name}_tee"))
                    .unwrap();
                let mut tx = x32;
                let mut ty = 0;
                for _ in 0..3 {
                    ty = tx;
                    tx = (tx & m32).wrapping_add(tx << 9);
                }
                assert_eq!(
                    f.call(&mut store, x32 as i32).unwrap(),
                    (tx as i32, ty as i32),
                    "i32 {name} tee {x32:#x}"
                );
            }
        }
    }
}

/// `v` wrapped to the width `ty` names and sign-extended back.
fn norm(ty: &str, v: i64) -> i64 {
    if ty == "i32" { i64::from(v as i32) } else { v }
}

/// Shifts left by a constant: a pinned local's read shifted by 1 to 3 is
/// one `lea` into another register, and `(x + c) << k` folds the shift
/// into the sum's `lea` (`[x * 2^k + c * 2^k]`) or `add`. Each function
/// must equal the wrapping shift in both widths, for counts the
/// instruction takes (0 to 3, larger ones, counts past the width that wrap
/// into 1 to 3), sums whose constant scaled no longer fits 32 bits, a
/// 32-bit sum shifted at 64 bits (which must keep the sum's 32-bit
/// wrap-around), and results stored into locals, the shifted one too.
#[test]
fn constant_left_shifts_match_the_wrapping_shift() {
    let engine = Engine::default();
    let inputs: [i64; 8] = [
        0,
        1,
        -1,
        7,
        0x3fff_ffff,
        i32::MAX as i64,
        i32::MIN as i64,
        i64::MAX / 3 + 11,
    ];
    let consts: [i64; 6] = [1, -1, 8, 0x1000_0000, -0x7000_0000, 0x7fff_ffff];
    for ty in ["i32", "i64"] {
        let bits = if ty == "i32" { 32 } else { 64 };
        for k in [0u32, 1, 2, 3, 4, bits - 1, bits + 1, bits + 3] {
            for c in consts {
                let wat = format!(
                    r#"(module
                    (func (export "pinned") (param $x {ty}) (result {ty})
                        ({ty}.xor ({ty}.shl (local.get $x) ({ty}.const {k})) (local.get $x)))
                    (func (export "sum") (param $x {ty}) (result {ty})
                        ({ty}.shl ({ty}.add (local.get $x) ({ty}.const {c})) ({ty}.const {k})))
                    (func (export "computed_sum") (param $x {ty}) (result {ty})
                        ({ty}.shl ({ty}.add ({ty}.xor (local.get $x) ({ty}.const 5)) ({ty}.const {c}))
                            ({ty}.const {k})))
                    (func (export "into") (param $x {ty}) (result {ty}) (local $y {ty})
                        (local.set $y ({ty}.shl ({ty}.add (local.get $x) ({ty}.const {c})) ({ty}.const {k})))
                        ({ty}.xor (local.get $y) (local.get $x)))
                    (func (export "itself") (param $x {ty}) (result {ty})
                        (local.set $x ({ty}.shl (local.get $x) ({ty}.const {k})))
                        (local.set $x ({ty}.shl ({ty}.add (local.get $x) ({ty}.const {c})) ({ty}.const {k})))
                        (local.get $x))
                    (func (export "widened") (param $x i32) (result i64)
                        (i64.shl (i64.extend_i32_u (i32.add (local.get $x) (i32.const {c32})))
                            (i64.const {k})))
                    )"#,
                    c32 = c as i32
                );
                let (mut store, instance) = instantiate(&engine, &wat);
                // The model: wrapping arithmetic at the width, the count
                // taken modulo the width.
                let norm = |v: i64| norm(ty, v);
                let shl = |v: i64, n: u32| norm(v.wrapping_shl(n % bits));
                for &x in &inputs {
                    let x = norm(x);
                    let c = norm(c);
                    for (name, expected) in [
                        ("pinned", shl(x, k) ^ x),
                        ("sum", shl(x.wrapping_add(c), k)),
                        ("computed_sum", shl((x ^ 5).wrapping_add(c), k)),
                        ("into", shl(x.wrapping_add(c), k) ^ x),
                        ("itself", shl(shl(x, k).wrapping_add(c), k)),
                    ] {
                        let f = instance.get_func(&store, name).unwrap();
                        let mut out = [val(ty, 0)];
                        f.call(&mut store, &[val(ty, x)], &mut out).unwrap();
                        assert_eq!(out[0], val(ty, expected), "{ty} {name} ({x} + {c}) << {k}");
                    }
                    // A 32-bit sum, zero-extended, shifted at 64 bits.
                    let sum32 = u64::from((x as i32).wrapping_add(c as i32) as u32);
                    let widened = (sum32 << (k % 64)) as i64;
                    let f = instance.get_func(&store, "widened").unwrap();
                    let mut out = [Val::I64(0)];
                    f.call(&mut store, &[Val::I32(x as i32)], &mut out).unwrap();
                    assert_eq!(out[0], Val::I64(widened), "widened ({x} + {c}) << {k}");
                }
            }
        }
    }
}

/// Sums that take in a scaled or offset operand: `(x << k) + c`, the sum
/// of `x << k` and a local in both orders, `a + (y + c)` and `a + (y <<
/// k)` with the right operand computed just before (one `lea` of both),
/// and the same with the right operand also stored into a local by
/// `local.tee` (whose assignment must stay), and a constant added to such
/// a `lea`. Each must equal wrapping arithmetic in both widths.
#[test]
fn sums_of_scaled_and_offset_operands_match_wrapping_arithmetic() {
    let engine = Engine::default();
    let inputs: [i64; 6] = [0, 1, -1, 0x3fff_ffff, i32::MIN as i64, i64::MAX / 3 + 11];
    for ty in ["i32", "i64"] {
        let bits = if ty == "i32" { 32 } else { 64 };
        for k in [0u32, 1, 2, 3, 4] {
            for c in [1i64, -8, 0x400, 0x7fff_ffff, -0x8000_0000] {
                let wat = format!(
                    r#"(module
                    (func (export "scaled_const") (param $x {ty}) (param $y {ty}) (result {ty})
                        ({ty}.add ({ty}.shl ({ty}.xor (local.get $x) (local.get $y)) ({ty}.const {k}))
                            ({ty}.const {c})))
                    (func (export "pinned_scaled_const") (param $x {ty}) (param $y {ty}) (result {ty})
                        ({ty}.add ({ty}.shl (local.get $x) ({ty}.const {k})) ({ty}.const {c})))
                    (func (export "scaled_local") (param $x {ty}) (param $y {ty}) (result {ty})
                        ({ty}.add ({ty}.shl ({ty}.xor (local.get $x) ({ty}.const 5)) ({ty}.const {k}))
                            (local.get $y)))
                    (func (export "local_scaled") (param $x {ty}) (param $y {ty}) (result {ty})
                        ({ty}.add (local.get $y)
                            ({ty}.shl ({ty}.xor (local.get $x) ({ty}.const 5)) ({ty}.const {k}))))
                    (func (export "plus_offset") (param $x {ty}) (param $y {ty}) (result {ty})
                        ({ty}.add ({ty}.xor (local.get $x) ({ty}.const 5))
                            ({ty}.add (local.get $y) ({ty}.const {c}))))
                    (func (export "plus_offset_const") (param $x {ty}) (param $y {ty}) (result {ty})
                        ({ty}.add
                            ({ty}.add ({ty}.xor (local.get $x) ({ty}.const 5))
                                ({ty}.add (local.get $y) ({ty}.const {c})))
                            ({ty}.const -4)))
                    (func (export "plus_scaled") (param $x {ty}) (param $y {ty}) (result {ty})
                        ({ty}.add ({ty}.xor (local.get $x) ({ty}.const 5))
                            ({ty}.shl (local.get $y) ({ty}.const {k}))))
                    (func (export "plus_teed") (param $x {ty}) (param $y {ty}) (result {ty}) (local $z {ty})
                        ({ty}.xor
                            ({ty}.add ({ty}.xor (local.get $x) ({ty}.const 5))
                                (local.tee $z ({ty}.add (local.get $y) ({ty}.const {c}))))
                            ({ty}.mul (local.get $z) ({ty}.const 3))))
                    (func (export "plus_teed_scaled") (param $x {ty}) (param $y {ty}) (result {ty}) (local $z {ty})
                        ({ty}.xor
                            ({ty}.add ({ty}.xor (local.get $x) ({ty}.const 5))
                                (local.tee $z ({ty}.shl (local.get $y) ({ty}.const {k}))))
                            ({ty}.mul (local.get $z) ({ty}.const 3))))
                    )"#
                );
                let (mut store, instance) = instantiate(&engine, &wat);
                let norm = |v: i64| norm(ty, v);
                let shl = |v: i64| norm(v.wrapping_shl(k % bits));
                let c = norm(c);
                for &x in &inputs {
                    for &y in &inputs {
                        let (x, y) = (norm(x), norm(y));
                        let add = |a: i64, b: i64| norm(a.wrapping_add(b));
                        let z = add(y, c);
                        let zs = shl(y);
                        for (name, expected) in [
                            ("scaled_const", add(shl(x ^ y), c)),
                            ("pinned_scaled_const", add(shl(x), c)),
                            ("scaled_local", add(shl(x ^ 5), y)),
                            ("local_scaled", add(y, shl(x ^ 5))),
                            ("plus_offset", add(x ^ 5, z)),
                            ("plus_offset_const", add(add(x ^ 5, z), -4)),
                            ("plus_scaled", add(x ^ 5, zs)),
                            ("plus_teed", add(x ^ 5, z) ^ norm(z.wrapping_mul(3))),
                            (
                                "plus_teed_scaled",
                                add(x ^ 5, zs) ^ norm(zs.wrapping_mul(3)),
                            ),
                        ] {
                            let f = instance.get_func(&store, name).unwrap();
                            let mut out = [val(ty, 0)];
                            f.call(&mut store, &[val(ty, x), val(ty, y)], &mut out)
                                .unwrap();
                            assert_eq!(
                                out[0],
                                val(ty, expected),
                                "{ty} {name} x={x} y={y} c={c} k={k}"
                            );
                        }
                    }
                }
            }
        }
    }
}

/// An `i64` operation's name and its wrapping model.
type WideOp = (&'static str, fn(i64, i64) -> i64);

/// An `i64` comparison's name and its model.
type WideComparison = (&'static str, fn(i64, i64) -> bool);

/// The `i64` comparisons.
const COMPARISONS: [WideComparison; 10] = [
    ("eq", |a, b| a == b),
    ("ne", |a, b| a != b),
    ("lt_s", |a, b| a < b),
    ("lt_u", |a, b| (a as u64) < b as u64),
    ("gt_s", |a, b| a > b),
    ("gt_u", |a, b| a as u64 > b as u64),
    ("le_s", |a, b| a <= b),
    ("le_u", |a, b| a as u64 <= b as u64),
    ("ge_s", |a, b| a >= b),
    ("ge_u", |a, b| a as u64 >= b as u64),
];

/// `x op c` for the `i64` operations that read a constant no immediate
/// holds from the constant pool (`add`, `sub`, `and`, `or`, `xor`,
/// `mul`, and the comparisons, as a value and as a branch's condition),
/// with constants that need the pool, ones a 32-bit immediate
/// holds (sign- or zero-extended) and one the pool already has (a float
/// constant with the same bits, which shares its slot): for `x` a pinned
/// local (which must keep its value), a computed value, and a chain of
/// such operations in a loop, as hash functions run them. Each must equal
/// wrapping arithmetic, in both memory modes; and a function of wide
/// constants must load none with `movabs`.
#[test]
fn wide_i64_constants_are_read_from_the_pool() {
    let consts: [i64; 6] = [
        0x9E37_79B1_85EB_CA87u64 as i64,
        0x1_0000_0000,
        i64::MIN,
        -0x8000_0001,
        0xffff_ffff,
        -5,
    ];
    let ops: [WideOp; 6] = [
        ("add", i64::wrapping_add),
        ("sub", i64::wrapping_sub),
        ("and", |a, b| a & b),
        ("or", |a, b| a | b),
        ("xor", |a, b| a ^ b),
        ("mul", i64::wrapping_mul),
    ];
    let mut wat = String::from("(module\n");
    for (name, _) in ops {
        for (k, c) in consts.iter().enumerate() {
            wat.push_str(&format!(
                r#"(func (export "{name}_{k}_pinned") (param $x i64) (result i64 i64)
                    (i64.{name} (local.get $x) (i64.const {c})) (local.get $x))
                (func (export "{name}_{k}_computed") (param $x i64) (result i64)
                    (i64.{name} (i64.rotl (local.get $x) (i64.const 7)) (i64.const {c})))
                (func (export "{name}_{k}_float") (param $x i64) (result i64 f64)
                    (i64.{name} (local.get $x) (i64.const {c}))
                    (f64.add (f64.reinterpret_i64 (local.get $x)) (f64.reinterpret_i64 (i64.const {c}))))
"#
            ));
        }
    }
    for (name, _) in COMPARISONS {
        for (k, c) in consts.iter().enumerate() {
            wat.push_str(&format!(
                r#"(func (export "{name}_{k}_value") (param $x i64) (result i32 i64)
                    (i64.{name} (local.get $x) (i64.const {c})) (local.get $x))
                (func (export "{name}_{k}_branch") (param $x i64) (result i64)
                    (if (result i64) (i64.{name} (i64.rotl (local.get $x) (i64.const 7)) (i64.const {c}))
                        (then (i64.const 1)) (else (i64.const 0))))
"#
            ));
        }
    }
    wat.push_str(
        r#"(func (export "rounds") (param $x i64) (param $n i32) (result i64)
            (loop $l
                (local.set $x (i64.mul
                    (i64.rotl (i64.add (local.get $x) (i64.const 0xC2B2AE3D27D4EB4F)) (i64.const 31))
                    (i64.const 0x9E3779B185EBCA87)))
                (local.set $x (i64.xor (local.get $x) (i64.const 0x165667B19E3779F9)))
                (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
            (local.get $x)))"#,
    );
    let inputs: [i64; 6] = [0, 1, -1, 0x1234_5678_9abc_def0, i64::MIN, i64::MAX / 3 + 11];
    common::both_modes(|guard| {
        let engine = Engine::new(wasmkern::Config::new().guard_regions(guard)).unwrap();
        let (mut store, instance) = instantiate(&engine, &wat);
        for (name, model) in ops {
            for (k, &c) in consts.iter().enumerate() {
                let pinned = instance
                    .get_typed_func::<i64, (i64, i64)>(&mut store, &format!("{name}_{k}_pinned"))
                    .unwrap();
                let computed = instance
                    .get_typed_func::<i64, i64>(&mut store, &format!("{name}_{k}_computed"))
                    .unwrap();
                let float = instance
                    .get_typed_func::<i64, (i64, f64)>(&mut store, &format!("{name}_{k}_float"))
                    .unwrap();
                for x in inputs {
                    assert_eq!(
                        pinned.call(&mut store, x).unwrap(),
                        (model(x, c), x),
                        "{name} {x} {c}"
                    );
                    assert_eq!(
                        computed.call(&mut store, x).unwrap(),
                        model(x.rotate_left(7), c),
                        "{name} computed {x} {c}"
                    );
                    let (r, sum) = float.call(&mut store, x).unwrap();
                    assert_eq!(r, model(x, c), "{name} beside a float {x} {c}");
                    let expected = f64::from_bits(x as u64) + f64::from_bits(c as u64);
                    assert!(
                        sum.to_bits() == expected.to_bits() || (sum.is_nan() && expected.is_nan()),
                        "{name} float {x} {c}: {sum} against {expected}"
                    );
                }
            }
        }
        for (name, model) in COMPARISONS {
            for (k, &c) in consts.iter().enumerate() {
                let value = instance
                    .get_typed_func::<i64, (i32, i64)>(&mut store, &format!("{name}_{k}_value"))
                    .unwrap();
                let branch = instance
                    .get_typed_func::<i64, i64>(&mut store, &format!("{name}_{k}_branch"))
                    .unwrap();
                for x in inputs
                    .into_iter()
                    .chain([c, c.wrapping_add(1), c.wrapping_sub(1)])
                {
                    assert_eq!(
                        value.call(&mut store, x).unwrap(),
                        (i32::from(model(x, c)), x),
                        "{name} {x} {c}"
                    );
                    assert_eq!(
                        branch.call(&mut store, x.rotate_right(7)).unwrap(),
                        i64::from(model(x, c)),
                        "{name} branch {x} {c}"
                    );
                }
            }
        }
        let rounds = instance
            .get_typed_func::<(i64, i32), i64>(&mut store, "rounds")
            .unwrap();
        for x in inputs {
            let mut h = x;
            for _ in 0..100 {
                h = h
                    .wrapping_add(0xC2B2_AE3D_27D4_EB4Fu64 as i64)
                    .rotate_left(31)
                    .wrapping_mul(0x9E37_79B1_85EB_CA87u64 as i64);
                h ^= 0x1656_67B1_9E37_79F9;
            }
            assert_eq!(
                rounds.call(&mut store, (x, 100)).unwrap(),
                h,
                "rounds from {x}"
            );
        }
    });
    // The functions in order: three per operation and constant, then two
    // per comparison and constant, then `rounds`.
    let first_comparison = ops.len() * 3 * consts.len();
    let rounds_index = first_comparison + COMPARISONS.len() * 2 * consts.len();
    let code = common::function_code(&wat, rounds_index, &common::compile_options(false));
    let movabs: Vec<_> = code
        .iter()
        .filter(|i| {
            i.mnemonic() == iced_x86::Mnemonic::Mov && i.op1_kind() == iced_x86::OpKind::Immediate64
        })
        .collect();
    assert!(movabs.is_empty(), "movabs in{}", common::listing(&code));
    let pooled = code
        .iter()
        .filter(|i| {
            i.is_ip_rel_memory_operand()
                && matches!(
                    i.mnemonic(),
                    iced_x86::Mnemonic::Imul | iced_x86::Mnemonic::Add | iced_x86::Mnemonic::Xor
                )
        })
        .count();
    assert_eq!(
        pooled,
        3,
        "operations reading the pool in{}",
        common::listing(&code)
    );
    // `eq_0_value`, the first comparison.
    let code = common::function_code(&wat, first_comparison, &common::compile_options(false));
    assert!(
        code.iter()
            .any(|i| i.mnemonic() == iced_x86::Mnemonic::Cmp && i.is_ip_rel_memory_operand())
            && !code
                .iter()
                .any(|i| i.op1_kind() == iced_x86::OpKind::Immediate64),
        "a comparison reading the pool in{}",
        common::listing(&code)
    );
}
