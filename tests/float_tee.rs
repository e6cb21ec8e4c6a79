//! Float arithmetic stored into a local held in an XMM register: with
//! AVX, the operation writes the local's register itself (no copy from the
//! value stack's register after it), including `x = x op y` into `x`'s own
//! register, a `local.tee` whose value is read again, an operand folded
//! from memory, and a square root. Each kernel runs in both memory modes,
//! with the machine's CPU features and with the SSE4.1 baseline, and must
//! agree bit for bit with the same arithmetic done by Rust.

use iced_x86::{Instruction, Mnemonic, OpKind, Register};
use wasmkern::CpuFeatures;
use wasmkern::compile::CompileOptions;

mod common;
use common::function_code;

/// A loop over six locals of type `t`, each written by `local.set` or
/// `local.tee` right after an arithmetic operator. Starts from `x = a`,
/// `y = b`, reads two values of type `t` at `p` and stores the six locals
/// after them (`x y z w s v`), in that order.
fn kernel(t: &str) -> String {
    let size = if t == "f64" { 8 } else { 4 };
    let o = |k: u32| k * size;
    format!(
        r#"(module
    (memory (export "memory") 1)
    (func (export "run") (param $n i32) (param $p i32) (param $a {t}) (param $b {t})
        (local $x {t}) (local $y {t}) (local $z {t}) (local $w {t}) (local $s {t})
        (local $v {t})
        (local.set $x (local.get $a))
        (local.set $y (local.get $b))
        (block $done
            (loop $step
                (br_if $done (i32.eqz (local.get $n)))
                (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                (local.set $x ({t}.sub (local.get $x) (local.get $y)))
                (local.set $y ({t}.add (local.get $y) ({t}.mul (local.get $x) ({t}.const 0.5))))
                (local.set $y ({t}.max (local.get $y) ({t}.const 0.125)))
                (local.set $z ({t}.mul (local.tee $w ({t}.div (local.get $x) (local.get $y)))
                    (local.get $w)))
                (local.set $s ({t}.sqrt (local.get $z)))
                (local.set $x ({t}.min (local.get $x) (local.get $s)))
                (local.set $z ({t}.sub (local.get $z) ({t}.load (local.get $p))))
                (local.set $w ({t}.add ({t}.mul (local.get $x) (local.get $y))
                    ({t}.load offset={o1} (local.get $p))))
                (local.set $y ({t}.mul (local.tee $x ({t}.add (local.get $x) (local.get $w)))
                    (local.get $x)))
                (local.set $v ({t}.div (local.tee $v ({t}.add (local.get $v) (local.get $s)))
                    ({t}.add (local.get $v) ({t}.const 3))))
                (local.set $v ({t}.sub (local.get $v) (local.get $v)))
                (local.set $x ({t}.div (local.get $x) ({t}.add ({t}.abs (local.get $x)) ({t}.const 1))))
                (local.set $y ({t}.div (local.get $y) ({t}.add ({t}.abs (local.get $y)) ({t}.const 1))))
                (local.set $z ({t}.div (local.get $z) ({t}.add ({t}.abs (local.get $z)) ({t}.const 1))))
                (br $step)))
        ({t}.store offset={o2} (local.get $p) (local.get $x))
        ({t}.store offset={o3} (local.get $p) (local.get $y))
        ({t}.store offset={o4} (local.get $p) (local.get $z))
        ({t}.store offset={o5} (local.get $p) (local.get $w))
        ({t}.store offset={o6} (local.get $p) (local.get $s))
        ({t}.store offset={o7} (local.get $p) (local.get $v))))"#,
        o1 = o(1),
        o2 = o(2),
        o3 = o(3),
        o4 = o(4),
        o5 = o(5),
        o6 = o(6),
        o7 = o(7),
    )
}

/// [`kernel`] in Rust, for one float type: the same operations in the
/// same order, with WebAssembly's `min` and `max` (no NaN reaches them).
macro_rules! model {
    ($name:ident, $t:ty) => {
        fn $name(n: u32, a: $t, b: $t, mem: [$t; 2]) -> [$t; 6] {
            let min = |a: $t, b: $t| {
                if a < b || (a == b && a.is_sign_negative()) {
                    a
                } else {
                    b
                }
            };
            let max = |a: $t, b: $t| {
                if a > b || (a == b && a.is_sign_positive()) {
                    a
                } else {
                    b
                }
            };
            let (mut x, mut y) = (a, b);
            let (mut z, mut w, mut s, mut v): ($t, $t, $t, $t) = (0.0, 0.0, 0.0, 0.0);
            for _ in 0..n {
                x -= y;
                y += x * 0.5;
                y = max(y, 0.125);
                w = x / y;
                z = w * w;
                s = z.sqrt();
                x = min(x, s);
                z -= mem[0];
                w = x * y + mem[1];
                x += w;
                y = x * x;
                v += s;
                v /= v + 3.0;
                v -= v;
                x /= x.abs() + 1.0;
                y /= y.abs() + 1.0;
                z /= z.abs() + 1.0;
            }
            [x, y, z, w, s, v]
        }
    };
}
model!(model_f64, f64);
model!(model_f32, f32);

const STARTS: [(f64, f64, [f64; 2]); 4] = [
    (1.5, -0.75, [0.25, 0.125]),
    (-3.25, 2.5, [-1.0, 0.375]),
    (0.0, 0.0, [0.0, -0.0]),
    (7.0e3, 1.0e-3, [2.0, -5.5]),
];

#[test]
fn f64_locals_set_after_arithmetic_match_rust() {
    let wat = kernel("f64");
    for (name, engine) in common::engines_by_mode_and_cpu() {
        let (mut store, instance) = common::instantiate(&engine, &wat);
        let memory = instance.get_memory(&mut store, "memory").expect("memory");
        let run = common::typed::<(), (i32, i32, f64, f64), ()>(&mut store, &instance, "run");
        for (a, b, mem) in STARTS {
            for n in [0u32, 1, 2, 7, 100] {
                let p = 64;
                for (k, v) in mem.iter().enumerate() {
                    memory
                        .write(&mut store, p + 8 * k, &v.to_le_bytes())
                        .unwrap();
                }
                run.call(&mut store, (n as i32, p as i32, a, b)).unwrap();
                let mut got = [0u64; 6];
                for (k, g) in got.iter_mut().enumerate() {
                    let mut bytes = [0; 8];
                    memory.read(&store, p + 16 + 8 * k, &mut bytes).unwrap();
                    *g = u64::from_le_bytes(bytes);
                }
                let want = model_f64(n, a, b, mem);
                assert!(want.iter().all(|v| v.is_finite()), "{want:?}");
                let want = want.map(f64::to_bits);
                assert_eq!(got, want, "{name} n={n} a={a} b={b} mem={mem:?}");
            }
        }
    }
}

#[test]
fn f32_locals_set_after_arithmetic_match_rust() {
    let wat = kernel("f32");
    for (name, engine) in common::engines_by_mode_and_cpu() {
        let (mut store, instance) = common::instantiate(&engine, &wat);
        let memory = instance.get_memory(&mut store, "memory").expect("memory");
        let run = common::typed::<(), (i32, i32, f32, f32), ()>(&mut store, &instance, "run");
        for (a, b, mem) in STARTS {
            let (a, b, mem) = (a as f32, b as f32, mem.map(|m| m as f32));
            for n in [0u32, 1, 2, 7, 100] {
                let p = 64;
                for (k, v) in mem.iter().enumerate() {
                    memory
                        .write(&mut store, p + 4 * k, &v.to_le_bytes())
                        .unwrap();
                }
                run.call(&mut store, (n as i32, p as i32, a, b)).unwrap();
                let mut got = [0u32; 6];
                for (k, g) in got.iter_mut().enumerate() {
                    let mut bytes = [0; 4];
                    memory.read(&store, p + 8 + 4 * k, &mut bytes).unwrap();
                    *g = u32::from_le_bytes(bytes);
                }
                let want = model_f32(n, a, b, mem);
                assert!(want.iter().all(|v| v.is_finite()), "{want:?}");
                let want = want.map(f32::to_bits);
                assert_eq!(got, want, "{name} n={n} a={a} b={b} mem={mem:?}");
            }
        }
    }
}

/// An XMM-to-XMM copy: a register-to-register `movaps`/`movapd`/`movsd`/
/// `movss` or their AVX forms.
fn xmm_copy(i: &Instruction) -> bool {
    let xmm = |r: Register| (Register::XMM0..=Register::XMM15).contains(&r);
    matches!(
        i.mnemonic(),
        Mnemonic::Movaps
            | Mnemonic::Movapd
            | Mnemonic::Movsd
            | Mnemonic::Movss
            | Mnemonic::Vmovaps
            | Mnemonic::Vmovapd
            | Mnemonic::Vmovsd
            | Mnemonic::Vmovss
    ) && (0..i.op_count()).all(|k| i.op_kind(k) == OpKind::Register && xmm(i.op_register(k)))
}

/// With AVX, `x = x - y` and `x = y * (tee x (x + y))` into pinned locals
/// are each one instruction into the local's register: the loop copies no
/// XMM register, and the subtraction writes its first source.
#[test]
fn avx_arithmetic_writes_the_locals_register() {
    if !CpuFeatures::detect().avx {
        eprintln!("no AVX on this machine: nothing to check");
        return;
    }
    for t in ["f64", "f32"] {
        let wat = format!(
            r#"(module
    (func (export "run") (param $n i32) (param $a {t}) (param $b {t}) (result {t})
        (local $x {t}) (local $y {t})
        (local.set $x (local.get $a))
        (local.set $y (local.get $b))
        (loop $step
            (local.set $x ({t}.sub (local.get $x) (local.get $y)))
            (local.set $y ({t}.mul (local.get $y)
                (local.tee $x ({t}.add (local.get $x) (local.get $y)))))
            (local.set $y ({t}.sqrt (local.get $y)))
            (br_if $step (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
        ({t}.add (local.get $x) (local.get $y))))"#
        );
        let sub = if t == "f64" {
            Mnemonic::Vsubsd
        } else {
            Mnemonic::Vsubss
        };
        for guard_region in [false, true] {
            let options = CompileOptions {
                guard_region,
                ..CompileOptions::default()
            };
            let code = function_code(&wat, 0, &options);
            let listing: Vec<String> = code.iter().map(|i| format!("{i}")).collect();
            // The loop runs from the subtraction to the backward branch.
            let start = code
                .iter()
                .position(|i| i.mnemonic() == sub)
                .unwrap_or_else(|| panic!("{t}: no {sub:?} in {listing:#?}"));
            let end = start
                + code[start..]
                    .iter()
                    .position(|i| i.mnemonic() == Mnemonic::Jne)
                    .expect("the loop's branch");
            let copies: Vec<String> = code[start..end]
                .iter()
                .filter(|i| xmm_copy(i))
                .map(|i| format!("{i}"))
                .collect();
            assert!(
                copies.is_empty(),
                "{t} guard={guard_region}: copies {copies:?} in {listing:#?}"
            );
            let s = &code[start];
            assert_eq!(
                s.op0_register(),
                s.op1_register(),
                "{t}: {s} writes x's register"
            );
        }
    }
}
