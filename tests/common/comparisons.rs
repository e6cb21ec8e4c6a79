//! Rust's answers to wasm's comparisons, the reference of the tests that
//! compile comparisons into flags (`select_flags`, `carry_flags`,
//! `branch_flags`), and the values they compare.

use wasmkern::Val;

/// The comparisons of a type, by their text-format name.
pub fn comparisons(ty: &str) -> &'static [&'static str] {
    if ty.starts_with('i') {
        &[
            "eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u",
        ]
    } else {
        &["eq", "ne", "lt", "gt", "le", "ge"]
    }
}

/// A value of one of the four number types.
#[derive(Clone, Copy, Debug)]
pub enum Num {
    I(i64),
    F(f64),
}

/// `n` as a value of type `ty` (an `i32` or `f32` takes `n`'s low half
/// or its rounding).
pub fn to_val(ty: &str, n: Num) -> Val {
    match (ty, n) {
        ("i32", Num::I(v)) => Val::I32(v as i32),
        ("i64", Num::I(v)) => Val::I64(v),
        ("f32", Num::F(v)) => Val::F32((v as f32).to_bits()),
        ("f64", Num::F(v)) => Val::F64(v.to_bits()),
        _ => unreachable!("{ty} {n:?}"),
    }
}

/// `x op y` for integers of type `ty` (`i32` compares the low halves).
pub fn int_compare(ty: &str, op: &str, x: i64, y: i64) -> bool {
    let (s, t, u, v) = if ty == "i32" {
        let (x, y) = (x as i32, y as i32);
        (i64::from(x), i64::from(y), x as u32 as u64, y as u32 as u64)
    } else {
        (x, y, x as u64, y as u64)
    };
    match op {
        "eq" => s == t,
        "ne" => s != t,
        "lt_s" => s < t,
        "lt_u" => u < v,
        "gt_s" => s > t,
        "gt_u" => u > v,
        "le_s" => s <= t,
        "le_u" => u <= v,
        "ge_s" => s >= t,
        "ge_u" => u >= v,
        _ => unreachable!("{op}"),
    }
}

/// `x op y` in type `ty`, by Rust's comparisons.
pub fn compare(ty: &str, op: &str, x: Num, y: Num) -> bool {
    match (x, y) {
        (Num::I(x), Num::I(y)) => int_compare(ty, op, x, y),
        (Num::F(x), Num::F(y)) => {
            let (x, y) = if ty == "f32" {
                (f64::from(x as f32), f64::from(y as f32))
            } else {
                (x, y)
            };
            match op {
                "eq" => x == y,
                "ne" => x != y,
                "lt" => x < y,
                "gt" => x > y,
                "le" => x <= y,
                "ge" => x >= y,
                _ => unreachable!("{op}"),
            }
        }
        _ => unreachable!(),
    }
}
