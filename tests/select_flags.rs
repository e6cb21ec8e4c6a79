//! `select` on a comparison: the compiler keeps an integer comparison's
//! result in the CPU flags and the `select` tests them directly (a cmov for
//! integers, a branch for floats), so nothing between the comparison and
//! the cmov may disturb the flags. Every comparison kind of every type
//! (floats with NaN, zeros and infinities), chosen between operands that
//! are locals, constants (zero above all) and computed values, for each
//! result type, must agree with Rust's own comparisons.

use wasmkern::Engine;

mod common;
use common::comparisons::{Num, compare, comparisons, to_val};
use common::instantiate;

const INTS: [i64; 8] = [
    0,
    1,
    -1,
    5,
    i32::MIN as i64,
    i32::MAX as i64,
    0x1_0000_0005,
    i64::MIN,
];
const FLOATS: [f64; 7] = [0.0, -0.0, 1.5, -2.0, f64::NAN, f64::INFINITY, 5.0];

/// The `select` forms: (name, first operand, second operand, condition
/// operands), in the text format, over params `$x $y` (compared) and
/// `$a $b` (chosen between).
fn forms(r: &str, c: &str) -> Vec<(&'static str, String, String, String)> {
    let k = match r {
        "i32" => "-5".to_string(),
        "i64" => "0x123456789".to_string(),
        _ => "2.5".to_string(),
    };
    let la = "(local.get $a)".to_string();
    let lb = "(local.get $b)".to_string();
    let xy = "(local.get $x) (local.get $y)".to_string();
    vec![
        ("locals", la.clone(), lb.clone(), xy.clone()),
        (
            "zero_first",
            format!("({r}.const 0)"),
            lb.clone(),
            xy.clone(),
        ),
        (
            "zero_second",
            la.clone(),
            format!("({r}.const 0)"),
            xy.clone(),
        ),
        (
            "consts",
            format!("({r}.const 0)"),
            format!("({r}.const {k})"),
            xy.clone(),
        ),
        (
            "computed",
            format!("({r}.add (local.get $a) (local.get $b))"),
            format!("({r}.add (local.get $b) (local.get $b))"),
            xy.clone(),
        ),
        (
            "cmp_zero_right",
            la.clone(),
            lb.clone(),
            format!("(local.get $x) ({c}.const 0)"),
        ),
        (
            "cmp_zero_left",
            la.clone(),
            lb.clone(),
            format!("({c}.const 0) (local.get $y)"),
        ),
        (
            "cmp_computed",
            la,
            lb,
            format!("({c}.add (local.get $x) (local.get $y)) (local.get $y)"),
        ),
    ]
}

fn module_text(c: &str, r: &str) -> String {
    let mut funcs = String::new();
    for op in comparisons(c) {
        for (name, first, second, cond) in forms(r, c) {
            funcs += &format!(
                "(func (export \"{op}_{name}\") (param $x {c}) (param $y {c}) (param $a {r}) (param $b {r}) (result {r})
                    (select {first} {second} ({c}.{op} {cond})))
                 (func (export \"{op}_{name}_typed\") (param $x {c}) (param $y {c}) (param $a {r}) (param $b {r}) (result {r})
                    (select (result {r}) {first} {second} ({c}.{op} {cond})))\n"
            );
        }
    }
    format!("(module {funcs})")
}

/// `a + b` in type `ty`.
fn add(ty: &str, a: Num, b: Num) -> Num {
    match (ty, a, b) {
        ("i32", Num::I(a), Num::I(b)) => Num::I((a as i32).wrapping_add(b as i32).into()),
        ("i64", Num::I(a), Num::I(b)) => Num::I(a.wrapping_add(b)),
        ("f32", Num::F(a), Num::F(b)) => Num::F(f64::from(a as f32 + b as f32)),
        ("f64", Num::F(a), Num::F(b)) => Num::F(a + b),
        _ => unreachable!(),
    }
}

fn zero(ty: &str) -> Num {
    if ty.starts_with('i') {
        Num::I(0)
    } else {
        Num::F(0.0)
    }
}

fn inputs(ty: &str) -> Vec<Num> {
    if ty.starts_with('i') {
        INTS.iter().map(|&v| Num::I(v)).collect()
    } else {
        FLOATS.iter().map(|&v| Num::F(v)).collect()
    }
}

fn check(c: &str, r: &str) {
    let (mut store, instance) = instantiate(&Engine::default(), &module_text(c, r));
    let (a, b) = if r.starts_with('i') {
        (Num::I(0x7654_3210_0123), Num::I(-3))
    } else {
        (Num::F(1.25), Num::F(-7.5))
    };
    let k = match r {
        "i32" => Num::I(-5),
        "i64" => Num::I(0x1_2345_6789),
        _ => Num::F(2.5),
    };
    for op in comparisons(c) {
        for x in inputs(c) {
            for y in inputs(c) {
                let expect = |first: Num, second: Num, cx: Num, cy: Num| {
                    to_val(
                        r,
                        if compare(c, op, cx, cy) {
                            first
                        } else {
                            second
                        },
                    )
                };
                let cases = [
                    ("locals", expect(a, b, x, y)),
                    ("zero_first", expect(zero(r), b, x, y)),
                    ("zero_second", expect(a, zero(r), x, y)),
                    ("consts", expect(zero(r), k, x, y)),
                    ("computed", expect(add(r, a, b), add(r, b, b), x, y)),
                    ("cmp_zero_right", expect(a, b, x, zero(c))),
                    ("cmp_zero_left", expect(a, b, zero(c), y)),
                    ("cmp_computed", expect(a, b, add(c, x, y), y)),
                ];
                for (form, want) in cases {
                    for suffix in ["", "_typed"] {
                        let name = format!("{op}_{form}{suffix}");
                        let f = instance.get_func(&store, &name).unwrap();
                        let mut out = [to_val(r, zero(r))];
                        let args = [to_val(c, x), to_val(c, y), to_val(r, a), to_val(r, b)];
                        f.call(&mut store, &args, &mut out).unwrap();
                        assert_eq!(out[0], want, "{c}.{op} {name}: x={x:?} y={y:?} -> {r}");
                    }
                }
            }
        }
    }
}

macro_rules! select_tests {
    ($($name:ident: $c:literal, $r:literal;)*) => {$(
        #[test]
        fn $name() {
            check($c, $r);
        }
    )*};
}

select_tests! {
    select_i32_by_i32_comparison: "i32", "i32";
    select_i64_by_i32_comparison: "i32", "i64";
    select_f32_by_i32_comparison: "i32", "f32";
    select_f64_by_i32_comparison: "i32", "f64";
    select_i32_by_i64_comparison: "i64", "i32";
    select_i64_by_i64_comparison: "i64", "i64";
    select_f32_by_i64_comparison: "i64", "f32";
    select_f64_by_i64_comparison: "i64", "f64";
    select_i32_by_f32_comparison: "f32", "i32";
    select_i64_by_f32_comparison: "f32", "i64";
    select_f32_by_f32_comparison: "f32", "f32";
    select_f64_by_f32_comparison: "f32", "f64";
    select_i32_by_f64_comparison: "f64", "i32";
    select_i64_by_f64_comparison: "f64", "i64";
    select_f32_by_f64_comparison: "f64", "f32";
    select_f64_by_f64_comparison: "f64", "f64";
}
