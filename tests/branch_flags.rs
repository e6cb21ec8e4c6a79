//! A comparison that a conditional branch tested stays in the flags on
//! the fall-through path: a second comparison of the same operands right
//! after the branch (`if (x != y) return x < y ? -1 : 1;`, the shape of
//! sorting comparators) reuses them instead of comparing again. Every
//! pair of integer comparisons, with and without code between the branch
//! and the second comparison that changes an operand, and with branches
//! from elsewhere landing between them, must agree with Rust's own
//! comparisons; the comparator compiles to one `cmp`.

use iced_x86::Mnemonic;
use wasmkern::compile::CompileOptions;
use wasmkern::{Engine, Val};

mod common;
use common::comparisons::int_compare;
use common::{function_code, instantiate};

const INTS: [i64; 7] = [0, 1, -1, 5, i32::MIN as i64, i32::MAX as i64, 0x1_0000_0005];

const CMPS: [&str; 10] = [
    "eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u",
];

/// The forms over `$x $y` of type `t`: `first` decides the branch out
/// (result 100), `second` then selects between 1 and 2, returned.
fn forms(t: &str, first: &str, second: &str) -> Vec<(&'static str, String)> {
    let branch = format!("(br_if $out ({t}.{first} (local.get $x) (local.get $y)))");
    let select = format!(
        "(return (select (i32.const 1) (i32.const 2) ({t}.{second} (local.get $x) (local.get $y))))"
    );
    vec![
        // The second comparison right after the branch.
        ("plain", format!("{branch} {select}")),
        // An operand changes between them.
        (
            "changed",
            format!("{branch} (local.set $x ({t}.add (local.get $x) ({t}.const 1))) {select}"),
        ),
        // A block ends between them, which another comparison's branch
        // reaches.
        (
            "landing",
            format!(
                "(block $b {branch} (br_if $b ({t}.{first} (local.get $y) ({t}.const 5)))) {select}"
            ),
        ),
    ]
}

fn module_text(t: &str) -> String {
    let mut funcs = String::new();
    for first in CMPS {
        for second in CMPS {
            for (name, body) in forms(t, first, second) {
                funcs += &format!(
                    "(func (export \"{first}_{second}_{name}\") (param $x {t}) (param $y {t}) (result i32)
                        (block $out {body}) (i32.const 100))\n"
                );
            }
        }
    }
    format!("(module {funcs})")
}

fn val(t: &str, v: i64) -> Val {
    if t == "i32" {
        Val::I32(v as i32)
    } else {
        Val::I64(v)
    }
}

fn add_one(t: &str, v: i64) -> i64 {
    if t == "i32" {
        i64::from((v as i32).wrapping_add(1))
    } else {
        v.wrapping_add(1)
    }
}

fn check(t: &str) {
    let (mut store, instance) = instantiate(&Engine::default(), &module_text(t));
    for first in CMPS {
        for second in CMPS {
            for (name, _) in forms(t, first, second) {
                let f = instance
                    .get_func(&mut store, &format!("{first}_{second}_{name}"))
                    .unwrap();
                for x in INTS {
                    for y in INTS {
                        let want = if int_compare(t, first, x, y) {
                            100
                        } else {
                            let x2 = if name == "changed" { add_one(t, x) } else { x };
                            if int_compare(t, second, x2, y) { 1 } else { 2 }
                        };
                        let mut out = [Val::I32(0)];
                        f.call(&mut store, &[val(t, x), val(t, y)], &mut out)
                            .unwrap();
                        assert_eq!(
                            out[0].unwrap_i32(),
                            want,
                            "{first}_{second}_{name} {t} x={x} y={y}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn i32_comparisons_after_a_branch() {
    check("i32");
}

#[test]
fn i64_comparisons_after_a_branch() {
    check("i64");
}

/// The second half of a comparator on the low halves of two words, as
/// clang compiles `if (xl != yl) return xl < yl ? -1 : 1;`.
const COMPARATOR: &str = r#"(module
    (func (export "cmp") (param i32 i32) (result i32)
        (local i32 i32)
        block
          local.get 0
          i32.const 65535
          i32.and
          local.tee 2
          local.get 1
          i32.const 65535
          i32.and
          local.tee 3
          i32.eq
          br_if 0
          i32.const -1
          i32.const 1
          local.get 2
          local.get 3
          i32.lt_u
          select
          return
        end
        i32.const 0))"#;

#[test]
fn a_comparator_compares_once() {
    for guard_region in [false, true] {
        let options = CompileOptions {
            guard_region,
            ..Default::default()
        };
        let code: Vec<Mnemonic> = function_code(COMPARATOR, 0, &options)
            .iter()
            .map(|i| i.mnemonic())
            .take_while(|&m| m != Mnemonic::Ret)
            .collect();
        let cmps = code.iter().filter(|&&m| m == Mnemonic::Cmp).count();
        assert_eq!(cmps, 1, "{code:?}");
    }
    let (mut store, instance) = instantiate(&Engine::default(), COMPARATOR);
    let f = instance.get_func(&mut store, "cmp").unwrap();
    for (x, y, want) in [
        (1, 2, -1),
        (2, 1, 1),
        (0x1_0003, 0x2_0003, 0),
        (0xffff, 0x1_0000, 1),
        (0x5_0000, 0x0_ffff, -1),
    ] {
        let mut out = [Val::I32(0)];
        f.call(&mut store, &[Val::I32(x), Val::I32(y)], &mut out)
            .unwrap();
        assert_eq!(out[0].unwrap_i32(), want, "cmp({x:#x}, {y:#x})");
    }
}
