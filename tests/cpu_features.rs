//! `Config::cpu_features` limits the optional CPU features the compiler
//! may use, so the code for older processors runs on any machine: the
//! `lzcnt`, `tzcnt` and `popcnt` fallbacks and the SSE2 sequence for
//! `pcmpgtq`, the shifts by a count in `cl` where BMI2 has `shlx`,
//! `shrx` and `sarx`. Each operator runs with and without its feature on edge
//! cases and is checked against Rust's own `leading_zeros`,
//! `trailing_zeros`, `count_ones` and a model of the lane comparisons;
//! the switch never enables a feature CPUID does not report; and the
//! generated code is decoded to show which instructions each set gets.

use iced_x86::{Decoder, DecoderOptions, Mnemonic};
use wasmkern::compile::{CompileOptions, compile_module_with};
use wasmkern::{Config, CpuFeatures, Engine, Instance, Module, Store, Val};

const SCALAR: &str = r#"(module
    (func (export "i32.clz") (param i32) (result i32) (i32.clz (local.get 0)))
    (func (export "i32.ctz") (param i32) (result i32) (i32.ctz (local.get 0)))
    (func (export "i32.popcnt") (param i32) (result i32) (i32.popcnt (local.get 0)))
    (func (export "i64.clz") (param i64) (result i64) (i64.clz (local.get 0)))
    (func (export "i64.ctz") (param i64) (result i64) (i64.ctz (local.get 0)))
    (func (export "i64.popcnt") (param i64) (result i64) (i64.popcnt (local.get 0))))"#;

/// `OP(a, b)` on `i64x2` lanes `(a0, a1)` and `(b0, b1)`, returning the
/// result lanes.
fn simd_module() -> String {
    let mut funcs = String::new();
    for op in ["gt_s", "lt_s", "ge_s", "le_s"] {
        funcs.push_str(&format!(
            r#"
    (func (export "i64x2.{op}") (param i64 i64 i64 i64) (result i64 i64)
        (local $r v128)
        (local.set $r (i64x2.{op}
            (i64x2.replace_lane 1 (i64x2.splat (local.get 0)) (local.get 1))
            (i64x2.replace_lane 1 (i64x2.splat (local.get 2)) (local.get 3))))
        (i64x2.extract_lane 0 (local.get $r))
        (i64x2.extract_lane 1 (local.get $r)))"#
        ));
    }
    format!("(module {funcs})")
}

/// The sets to run under: the machine's own, the x86-64 baseline (scalar
/// operators only), the least SIMD needs, and the machine's without each
/// optional feature in turn.
fn feature_sets(simd: bool) -> Vec<(&'static str, CpuFeatures)> {
    let all = CpuFeatures::all();
    let mut sets = vec![
        ("detected", all),
        ("sse41 baseline", CpuFeatures::sse41_baseline()),
        (
            "no lzcnt",
            CpuFeatures {
                lzcnt: false,
                ..all
            },
        ),
        ("no bmi1", CpuFeatures { bmi1: false, ..all }),
        ("no bmi2", CpuFeatures { bmi2: false, ..all }),
        (
            "no popcnt",
            CpuFeatures {
                popcnt: false,
                ..all
            },
        ),
        (
            "no sse4.2",
            CpuFeatures {
                sse42: false,
                ..all
            },
        ),
    ];
    if !simd {
        sets.push(("baseline", CpuFeatures::baseline()));
    }
    sets
}

fn instance(wat: &str, features: CpuFeatures) -> (Store<()>, Instance, CpuFeatures) {
    let mut config = Config::new();
    config.cpu_features(features);
    let engine = Engine::new(&config).unwrap();
    let used = engine.cpu_features();
    let module = Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    (store, instance, used)
}

/// 0, 1, all ones, every power of two and its neighbours, the extremes,
/// and some scattered bit patterns.
fn edge_cases() -> Vec<u64> {
    let mut v = vec![0, 1, u64::MAX, i64::MAX as u64, i64::MIN as u64];
    for k in 0..64 {
        let p = 1u64 << k;
        v.extend([p, p - 1, p + 1, !p, p | (p >> 1)]);
    }
    for k in 0..32 {
        v.push(0xFFFF_FFFFu64 << k);
    }
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..200 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        v.push(x);
        v.push(x >> (x % 64));
    }
    v
}

#[test]
fn the_switch_never_enables_what_the_cpu_lacks() {
    let detected = CpuFeatures::detect();
    let engine = |f: CpuFeatures| {
        let mut config = Config::new();
        config.cpu_features(f);
        Engine::new(&config).unwrap().cpu_features()
    };
    assert_eq!(Engine::default().cpu_features(), detected);
    assert_eq!(engine(CpuFeatures::all()), detected);
    assert_eq!(engine(CpuFeatures::baseline()), CpuFeatures::baseline());
    let sse41 = engine(CpuFeatures::sse41_baseline());
    assert_eq!(sse41, CpuFeatures::sse41_baseline().intersection(detected));
    assert!(!sse41.popcnt && !sse41.lzcnt && !sse41.bmi1 && !sse41.sse42);
    assert_eq!(sse41.sse41, detected.sse41);
}

#[test]
fn bit_counts_match_rust_with_and_without_their_features() {
    for (name, features) in feature_sets(false) {
        let (mut store, instance, used) = instance(SCALAR, features);
        assert_eq!(used, features.intersection(CpuFeatures::detect()), "{name}");
        let mut call = |op: &str, arg: Val| {
            let f = instance.get_func(&store, op).unwrap();
            let mut out = [Val::I32(0)];
            f.call(&mut store, &[arg], &mut out).unwrap();
            out[0]
        };
        for x in edge_cases() {
            let (w, n) = (x as u32, x as i64);
            let arg = Val::I32(w as i32);
            let what = |op| format!("{op}({x:#x}) with {name}");
            assert_eq!(
                call("i32.clz", arg),
                Val::I32(w.leading_zeros() as i32),
                "{}",
                what("i32.clz")
            );
            assert_eq!(
                call("i32.ctz", arg),
                Val::I32(w.trailing_zeros() as i32),
                "{}",
                what("i32.ctz")
            );
            assert_eq!(
                call("i32.popcnt", arg),
                Val::I32(w.count_ones() as i32),
                "{}",
                what("i32.popcnt")
            );
            assert_eq!(
                call("i64.clz", Val::I64(n)),
                Val::I64(n.leading_zeros() as i64),
                "{}",
                what("i64.clz")
            );
            assert_eq!(
                call("i64.ctz", Val::I64(n)),
                Val::I64(n.trailing_zeros() as i64),
                "{}",
                what("i64.ctz")
            );
            assert_eq!(
                call("i64.popcnt", Val::I64(n)),
                Val::I64(n.count_ones() as i64),
                "{}",
                what("i64.popcnt")
            );
        }
    }
}

/// Each shift and rotate of `T` (`i32` or `i64`) on pinned locals, both
/// ways round (the first parameter arrives in `rcx`, which the legacy
/// shifts need for the count), on temporaries, with one local as both
/// operands and on a constant: `T.OP(a, b)` returns those results, then
/// `a` and `b` (an operation must not write a pinned operand).
fn shift_module(t: &str) -> String {
    let mut funcs = String::new();
    for op in ["shl", "shr_s", "shr_u", "rotl", "rotr"] {
        funcs.push_str(&format!(
            r#"
    (func (export "{t}.{op}") (param $a {t}) (param $b {t}) (result {t} {t} {t} {t} {t} {t} {t})
        ({t}.{op} (local.get $a) (local.get $b))
        ({t}.{op} (local.get $b) (local.get $a))
        ({t}.{op} ({t}.add (local.get $a) ({t}.const 1)) ({t}.xor (local.get $b) ({t}.const 3)))
        ({t}.{op} (local.get $a) (local.get $a))
        ({t}.{op} ({t}.const -0x1234567) (local.get $b))
        (local.get $a) (local.get $b))"#
        ));
    }
    format!("(module {funcs})")
}

/// `op` on 64-bit `a` and `b` as WebAssembly defines it for `bits`-wide
/// integers (the count taken modulo `bits`), the result sign-extended
/// for `i32` as the test compares it.
fn shift_model(bits: u32, op: &str, a: i64, b: i64) -> i64 {
    let n = (b as u32) % bits;
    if bits == 32 {
        let a = a as i32;
        (match op {
            "shl" => a << n,
            "shr_s" => a >> n,
            "shr_u" => ((a as u32) >> n) as i32,
            "rotl" => a.rotate_left(n),
            _ => a.rotate_right(n),
        }) as i64
    } else {
        match op {
            "shl" => a << n,
            "shr_s" => a >> n,
            "shr_u" => ((a as u64) >> n) as i64,
            "rotl" => a.rotate_left(n),
            _ => a.rotate_right(n),
        }
    }
}

#[test]
fn shifts_match_the_model_with_and_without_bmi2() {
    let counts: Vec<u64> = vec![0, 1, 5, 31, 32, 33, 63, 64, 65, 127, 0x8000_0001, u64::MAX];
    for (t, bits) in [("i32", 32), ("i64", 64)] {
        let wat = shift_module(t);
        for (name, features) in feature_sets(false) {
            let (mut store, instance, _) = instance(&wat, features);
            let val = |x: i64| {
                if bits == 32 {
                    Val::I32(x as i32)
                } else {
                    Val::I64(x)
                }
            };
            for op in ["shl", "shr_s", "shr_u", "rotl", "rotr"] {
                let f = instance.get_func(&store, &format!("{t}.{op}")).unwrap();
                for a in edge_cases().into_iter().step_by(3) {
                    for &b in &counts {
                        let (a, b) = (a as i64, b as i64);
                        let mut out = [val(0); 7];
                        f.call(&mut store, &[val(a), val(b)], &mut out).unwrap();
                        let m = |x: i64, y: i64| val(shift_model(bits, op, x, y));
                        let expected = [
                            m(a, b),
                            m(b, a),
                            m(a.wrapping_add(1), b ^ 3),
                            m(a, a),
                            m(-0x1234567, b),
                            val(a),
                            val(b),
                        ];
                        assert_eq!(out, expected, "{t}.{op}({a:#x}, {b:#x}) with {name}");
                    }
                }
            }
        }
    }
}

#[test]
fn i64x2_comparisons_match_the_model_with_and_without_sse42() {
    if !CpuFeatures::detect().sse41 {
        // SIMD needs SSE4.1; every x86-64 machine that runs CI has it.
        assert!(std::env::var("CI").is_err(), "CI machine without SSE4.1");
        eprintln!("SKIPPED: this CPU lacks SSE4.1, which SIMD needs");
        return;
    }
    let values: Vec<i64> = [
        0,
        1,
        -1,
        2,
        -2,
        i64::MIN,
        i64::MAX,
        i64::MIN + 1,
        i64::MAX - 1,
        1 << 31,
        -(1 << 31),
        1 << 32,
        -(1 << 32),
        (1 << 32) - 1,
        0x7FFF_FFFF,
        0x8000_0000_0000_0001u64 as i64,
        0x0000_0001_FFFF_FFFF,
        0x1234_5678_9ABC_DEF0,
        -0x1234_5678_9ABC_DEF0,
    ]
    .to_vec();
    let model = |op: &str, a: i64, b: i64| -> i64 {
        let r = match op {
            "gt_s" => a > b,
            "lt_s" => a < b,
            "ge_s" => a >= b,
            _ => a <= b,
        };
        if r { -1 } else { 0 }
    };
    let wat = simd_module();
    for (name, features) in feature_sets(true) {
        let (mut store, instance, _) = instance(&wat, features);
        for op in ["gt_s", "lt_s", "ge_s", "le_s"] {
            let f = instance.get_func(&store, &format!("i64x2.{op}")).unwrap();
            for (i, &a0) in values.iter().enumerate() {
                for &b0 in &values {
                    // Lane 1 gets another pair, so the lanes differ.
                    let (a1, b1) = (values[(i + 3) % values.len()], a0);
                    let args = [Val::I64(a0), Val::I64(a1), Val::I64(b0), Val::I64(b1)];
                    let mut out = [Val::I64(7), Val::I64(7)];
                    f.call(&mut store, &args, &mut out).unwrap();
                    assert_eq!(
                        out,
                        [Val::I64(model(op, a0, b0)), Val::I64(model(op, a1, b1))],
                        "i64x2.{op}([{a0}, {a1}], [{b0}, {b1}]) with {name}"
                    );
                }
            }
        }
    }
}

/// The mnemonics in the code compiled for `wat` with `features`.
fn mnemonics(wat: &str, features: CpuFeatures) -> Vec<Mnemonic> {
    let wasm = wat::parse_str(wat).unwrap();
    let module = wasmkern::decode::Module::decode(&wasm).unwrap();
    let info = wasmkern::validate::validate_module(&module).unwrap();
    let compiled =
        compile_module_with(&module, &info, &features, &CompileOptions::default()).unwrap();
    let start = compiled.func_offsets[0] as usize;
    Decoder::with_ip(64, &compiled.code[start..], 0, DecoderOptions::NONE)
        .into_iter()
        .map(|i| i.mnemonic())
        .collect()
}

#[test]
fn each_set_gets_its_instructions() {
    let optional = [
        Mnemonic::Lzcnt,
        Mnemonic::Tzcnt,
        Mnemonic::Popcnt,
        Mnemonic::Pcmpgtq,
    ];
    let both = format!("{}{}", &SCALAR[..SCALAR.len() - 1], &simd_module()[7..]);
    let all = mnemonics(&both, CpuFeatures::all());
    for m in optional {
        assert!(all.contains(&m), "{m:?} missing with every feature");
    }
    let fallback = mnemonics(&both, CpuFeatures::sse41_baseline());
    for m in optional {
        assert!(!fallback.contains(&m), "{m:?} emitted without its feature");
    }
    assert!(fallback.contains(&Mnemonic::Bsr) && fallback.contains(&Mnemonic::Bsf));
    let (i32s, i64s) = (shift_module("i32"), shift_module("i64"));
    let shifts = format!("{}{}", &i32s[..i32s.len() - 1], &i64s[7..]);
    let bmi2 = [Mnemonic::Shlx, Mnemonic::Shrx, Mnemonic::Sarx];
    let legacy = [Mnemonic::Shl, Mnemonic::Shr, Mnemonic::Sar];
    let with = mnemonics(&shifts, CpuFeatures::all());
    for m in bmi2 {
        assert!(with.contains(&m), "{m:?} missing with BMI2");
    }
    let without = mnemonics(&shifts, CpuFeatures::sse41_baseline());
    for (m, l) in bmi2.into_iter().zip(legacy) {
        assert!(!without.contains(&m), "{m:?} emitted without BMI2");
        assert!(without.contains(&l), "{l:?} missing without BMI2");
    }
    let baseline = mnemonics(SCALAR, CpuFeatures::baseline());
    for m in optional {
        assert!(!baseline.contains(&m), "{m:?} emitted on the baseline");
    }
}

#[test]
fn simd_without_sse41_is_a_clear_error() {
    let mut config = Config::new();
    config.cpu_features(CpuFeatures::baseline());
    let engine = Engine::new(&config).unwrap();
    let err = Module::new(&engine, wat::parse_str(simd_module()).unwrap()).unwrap_err();
    assert!(err.to_string().contains("SSE4.1"), "{err}");
}

/// Float arithmetic on pinned locals, temporaries, constants and just
/// loaded values, in each pairing: `run(a, b)` returns the results of
/// [`float_expected`]'s operations in order, then `a` and `b` as they are
/// after them (an operation must not write a pinned operand).
const FLOATS: &str = r#"(module
    (memory 1)
    (func (export "run") (param $a f64) (param $b f64) (param $x f32) (param $y f32)
        (result f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 f32 f32 f32 f32 f32 f64 f64 f32 f32)
        (f64.store (i32.const 8) (local.get $b))
        (f32.store (i32.const 16) (local.get $y))
        (f64.sub (local.get $a) (local.get $b))
        (f64.div (local.get $a) (f64.mul (local.get $b) (local.get $b)))
        (f64.sub (f64.add (local.get $a) (local.get $b)) (local.get $a))
        (f64.div (local.get $a) (f64.const 3))
        (f64.mul (f64.const 3) (local.get $b))
        (f64.sub (local.get $a) (f64.load (i32.const 8)))
        (f64.sqrt (local.get $a))
        (f64.add (local.get $b) (local.get $b))
        (f64.mul (f64.load (i32.const 8)) (local.get $a))
        (f64.add (local.get $a) (f64.load (i32.const 8)))
        (f64.div (f64.load (i32.const 8)) (local.get $a))
        (f32.div (local.get $x) (local.get $y))
        (f32.sub (local.get $x) (f32.load (i32.const 16)))
        (f32.sqrt (local.get $y))
        (f32.mul (local.get $x) (f32.const 0.5))
        (f32.add (f32.load (i32.const 16)) (local.get $x))
        (local.get $a) (local.get $b) (local.get $x) (local.get $y)))"#;

/// What `run` returns, computed by Rust.
fn float_expected(a: f64, b: f64, x: f32, y: f32) -> Vec<u64> {
    let f64s = [
        a - b,
        a / (b * b),
        (a + b) - a,
        a / 3.0,
        3.0 * b,
        a - b,
        a.sqrt(),
        b + b,
        b * a,
        a + b,
        b / a,
    ];
    let f32s = [x / y, x - y, y.sqrt(), x * 0.5, y + x];
    let mut v: Vec<u64> = f64s.iter().map(|r| r.to_bits()).collect();
    v.extend(f32s.iter().map(|r| u64::from(r.to_bits())));
    v.extend([a.to_bits(), b.to_bits()]);
    v.extend([u64::from(x.to_bits()), u64::from(y.to_bits())]);
    v
}

/// With AVX the compiler reads pinned float locals in place with the
/// three-operand forms; without it, it copies them first. Both give
/// Rust's results and leave the locals as they were.
#[test]
fn float_arithmetic_with_and_without_avx() {
    let no_avx = CpuFeatures {
        avx: false,
        avx2: false,
        fma: false,
        ..CpuFeatures::all()
    };
    let sets = [
        ("detected", CpuFeatures::all()),
        ("no avx", no_avx),
        ("baseline", CpuFeatures::baseline()),
    ];
    let inputs = [
        (2.0f64, 0.5f64, 1.5f32, 4.0f32),
        (-7.25, 3.0, -0.0, 9.0),
        (1e300, 1e-300, 3.4e38, 1e-30),
        (0.1, 0.2, 0.3, 0.7),
    ];
    for (name, features) in sets {
        let (mut store, instance, _) = instance(FLOATS, features);
        let run = instance.get_func(&store, "run").unwrap();
        for (a, b, x, y) in inputs {
            let mut results = vec![Val::I32(0); 20];
            run.call(
                &mut store,
                &[
                    Val::F64(a.to_bits()),
                    Val::F64(b.to_bits()),
                    Val::F32(x.to_bits()),
                    Val::F32(y.to_bits()),
                ],
                &mut results,
            )
            .unwrap();
            let got: Vec<u64> = results
                .iter()
                .map(|v| match *v {
                    Val::F64(bits) => bits,
                    Val::F32(bits) => u64::from(bits),
                    ref other => panic!("{other:?}"),
                })
                .collect();
            assert_eq!(
                got,
                float_expected(a, b, x, y),
                "{name}: run({a}, {b}, {x}, {y})"
            );
        }
    }
    // The AVX forms are what the detected set gets, whatever this machine
    // has (compiling only).
    let with = mnemonics(FLOATS, CpuFeatures::all());
    for m in [
        Mnemonic::Vsubsd,
        Mnemonic::Vdivsd,
        Mnemonic::Vsqrtsd,
        Mnemonic::Vdivss,
    ] {
        assert!(with.contains(&m), "{m:?} missing with AVX");
    }
    let without = mnemonics(FLOATS, no_avx);
    assert!(
        !without.iter().any(|m| format!("{m:?}").starts_with('V')),
        "a VEX instruction without AVX"
    );
}
