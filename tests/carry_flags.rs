//! A comparison added to or subtracted from an `i32`: when the comparison
//! is still in the flags and the other operand in a register of its own,
//! the compiler adds or subtracts the carry flag (`adc`/`sbb`) instead of
//! turning the comparison into a 0/1 value first. That holds for the
//! unsigned `<` and `>=` of integers; every other comparison (float ones
//! included), and every other operand form, takes the ordinary path. Every comparison of every type, in each
//! operand form, must agree with Rust's own arithmetic, and the three-way
//! comparison `(x > y) - (x < y)` of sorting comparators must compile to
//! one `sbb`, with no second `setcc`.

use iced_x86::Mnemonic;
use wasmkern::compile::CompileOptions;
use wasmkern::{Engine, Val};

mod common;
use common::comparisons::{Num, compare, comparisons, to_val};
use common::{function_code, instantiate};

const INTS: [i64; 7] = [0, 1, -1, 5, i32::MIN as i64, i32::MAX as i64, 0x1_0000_0005];
const FLOATS: [f64; 6] = [0.0, -0.0, 1.5, -2.0, f64::NAN, f64::INFINITY];

/// The left operand forms over `$a` (an `i32` parameter): in a register
/// of its own (computed), a pinned local, a constant, and a comparison
/// turned into a value (the three-way comparison's first half).
fn lefts(c: &str) -> Vec<(&'static str, String)> {
    vec![
        ("computed", "(i32.mul (local.get $a) (i32.const 3))".into()),
        ("local", "(local.get $a)".into()),
        ("const", "(i32.const 7)".into()),
        (
            "cmp",
            format!("({c}.gt{} (local.get $x) (local.get $y))", unsigned(c)),
        ),
    ]
}

fn unsigned(c: &str) -> &'static str {
    if c.starts_with('i') { "_u" } else { "" }
}

fn module_text(c: &str) -> String {
    let mut funcs = String::new();
    for op in comparisons(c) {
        for (name, left) in lefts(c) {
            for arith in ["add", "sub"] {
                funcs += &format!(
                    "(func (export \"{arith}_{op}_{name}\") (param $x {c}) (param $y {c}) (param $a i32) (result i32)
                        (i32.{arith} {left} ({c}.{op} (local.get $x) (local.get $y))))\n"
                );
            }
        }
    }
    format!("(module {funcs})")
}

fn inputs(ty: &str) -> Vec<Num> {
    if ty.starts_with('i') {
        INTS.iter().map(|&v| Num::I(v)).collect()
    } else {
        FLOATS.iter().map(|&v| Num::F(v)).collect()
    }
}

fn check(c: &str) {
    let (mut store, instance) = instantiate(&Engine::default(), &module_text(c));
    let gt = if c.starts_with('i') { "gt_u" } else { "gt" };
    for op in comparisons(c) {
        for (name, _) in lefts(c) {
            for arith in ["add", "sub"] {
                let f = instance
                    .get_func(&mut store, &format!("{arith}_{op}_{name}"))
                    .unwrap();
                for &x in &inputs(c) {
                    for &y in &inputs(c) {
                        for a in [0i32, 1, -1, 0x4000_0000, i32::MAX, i32::MIN] {
                            let left = match name {
                                "computed" => a.wrapping_mul(3),
                                "local" => a,
                                "const" => 7,
                                _ => i32::from(compare(c, gt, x, y)),
                            };
                            let right = i32::from(compare(c, op, x, y));
                            let want = if arith == "add" {
                                left.wrapping_add(right)
                            } else {
                                left.wrapping_sub(right)
                            };
                            let mut out = [Val::I32(0)];
                            f.call(
                                &mut store,
                                &[to_val(c, x), to_val(c, y), Val::I32(a)],
                                &mut out,
                            )
                            .unwrap();
                            assert_eq!(
                                out[0].unwrap_i32(),
                                want,
                                "{arith}_{op}_{name} {c} x={x:?} y={y:?} a={a}"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn i32_comparisons_added_and_subtracted() {
    check("i32");
}

#[test]
fn i64_comparisons_added_and_subtracted() {
    check("i64");
}

#[test]
fn f32_comparisons_added_and_subtracted() {
    check("f32");
}

#[test]
fn f64_comparisons_added_and_subtracted() {
    check("f64");
}

/// A sorting comparator on two `u32` in memory, as clang compiles
/// `(x > y) - (x < y)`.
const COMPARATOR: &str = r#"(module
    (memory 1)
    (func (export "cmp") (param i32 i32) (result i32)
        local.get 0
        i32.load
        local.tee 0
        local.get 1
        i32.load
        local.tee 1
        i32.gt_u
        local.get 0
        local.get 1
        i32.lt_u
        i32.sub))"#;

/// The mnemonics of the comparator's compiled code, up to its `ret`.
fn comparator_code(options: &CompileOptions) -> Vec<Mnemonic> {
    function_code(COMPARATOR, 0, options)
        .iter()
        .map(|i| i.mnemonic())
        .take_while(|&m| m != Mnemonic::Ret)
        .collect()
}

#[test]
fn a_three_way_comparison_subtracts_the_carry() {
    for guard_region in [false, true] {
        let options = CompileOptions {
            guard_region,
            ..Default::default()
        };
        let code = comparator_code(&options);
        let count = |m: Mnemonic| code.iter().filter(|&&c| c == m).count();
        // A `seta` for `x > y`; `x < y` is the carry that `sbb` subtracts.
        assert_eq!(count(Mnemonic::Seta), 1, "{code:?}");
        assert_eq!(count(Mnemonic::Setb), 0, "{code:?}");
        assert_eq!(count(Mnemonic::Sbb), 1, "{code:?}");
        assert_eq!(count(Mnemonic::Sub), 0, "{code:?}");
    }
}

#[test]
fn a_three_way_comparison_of_memory_words() {
    let wat = COMPARATOR.replace("(memory 1)", "(memory (export \"memory\") 1)");
    for guard in [false, true] {
        let mut config = wasmkern::Config::new();
        config.guard_regions(guard);
        let (mut store, instance) = instantiate(&Engine::new(&config).unwrap(), &wat);
        let words = [0u32, 1, 2, 0x7fff_ffff, 0x8000_0000, u32::MAX];
        let memory = instance.get_memory(&mut store, "memory").unwrap();
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        memory.write(&mut store, 0, &bytes).unwrap();
        let f = instance.get_func(&mut store, "cmp").unwrap();
        for (i, x) in words.iter().enumerate() {
            for (j, y) in words.iter().enumerate() {
                let mut out = [Val::I32(0)];
                f.call(
                    &mut store,
                    &[Val::I32(4 * i as i32), Val::I32(4 * j as i32)],
                    &mut out,
                )
                .unwrap();
                assert_eq!(
                    out[0].unwrap_i32(),
                    x.cmp(y) as i32,
                    "{x} {y} guard={guard}"
                );
            }
        }
        // The last word of the memory still reads; one byte on, it traps.
        let last = 65536 - 4;
        let mut out = [Val::I32(0)];
        f.call(&mut store, &[Val::I32(last), Val::I32(0)], &mut out)
            .unwrap();
        let err = f
            .call(&mut store, &[Val::I32(0), Val::I32(last + 1)], &mut out)
            .unwrap_err();
        assert!(err.to_string().contains("out of bounds"), "{err}");
    }
}
