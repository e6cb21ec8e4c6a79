//! Float locals pinned in XMM registers: a loop that reads nine float
//! locals keeps all of them in registers (seven pins any local may take,
//! two more for locals used in loops, which the value stack gives up), and
//! with those registers gone the value stack still computes deep
//! expressions (spilling what does not fit), and calls still save and
//! reload every pin. Each kernel runs in both memory modes, with the
//! machine's CPU features and with the SSE4.1 baseline (no AVX), and must
//! agree bit for bit with the same arithmetic done by Rust's `f64`/`f32`.

use iced_x86::{Instruction, OpKind, Register};
use wasmkern::compile::CompileOptions;
use wasmkern::{Engine, Instance, Memory, Store};

mod common;
use common::function_code;

/// A gravity step in a loop over nine locals of type `t`: position
/// `x y z`, velocity `vx vy vz`, the squared distance `d2`, the
/// velocity change `mag` and the time step `dt`, all read and written in
/// the loop. The start state is read from memory at `p` (six values),
/// the end state stored back there, and `run` returns `x + y + z`.
/// `$busy` takes a value and uses eight float temporaries at once (so a
/// call to it clobbers the value stack's registers): `run` calls it in the
/// loop when `call` is true. With `deep`, the time step grows by a sum of
/// eight products of the locals, each still in a register when the next
/// is made: more than the value stack's registers hold.
fn kernel(t: &str, call: bool, deep: bool) -> String {
    let call_busy = if call {
        "(local.set $d2 (call $busy (local.get $d2)))".to_string()
    } else {
        String::new()
    };
    let products = |vars: &[&str]| {
        let mut s = String::new();
        for (i, pair) in vars.chunks(2).enumerate() {
            let product = format!(
                "({t}.mul (local.get ${}) (local.get ${}))",
                pair[0], pair[1]
            );
            if i + 1 == vars.len() / 2 {
                s.push_str(&product);
            } else {
                s.push_str(&format!("({t}.add {product} "));
            }
        }
        s.push_str(&")".repeat(vars.len() / 2 - 1));
        s
    };
    let grow_dt = if deep {
        let sum = products(&[
            "x", "vx", "y", "vy", "z", "vz", "d2", "mag", "dt", "x", "y", "vz", "z", "vx", "vy",
            "dt",
        ]);
        format!("(local.set $dt ({t}.add (local.get $dt) ({t}.mul {sum} ({t}.const 1e-12))))")
    } else {
        String::new()
    };
    let busy = {
        let mut s = String::new();
        for k in 1..=8 {
            let product = format!("({t}.mul (local.get 0) ({t}.const {k}.5))");
            if k == 8 {
                s.push_str(&product);
            } else {
                s.push_str(&format!("({t}.add {product} "));
            }
        }
        s.push_str(&")".repeat(7));
        s
    };
    let size = if t == "f64" { 8 } else { 4 };
    format!(
        r#"(module
    (memory (export "memory") 1)
    (func $busy (param {t}) (result {t})
        ({t}.mul ({t}.const 0.0078125) {busy}))
    (func (export "run") (param $n i32) (param $p i32) (result {t})
        (local $x {t}) (local $y {t}) (local $z {t})
        (local $vx {t}) (local $vy {t}) (local $vz {t})
        (local $d2 {t}) (local $mag {t}) (local $dt {t})
        (local.set $x ({t}.load offset={o0} (local.get $p)))
        (local.set $y ({t}.load offset={o1} (local.get $p)))
        (local.set $z ({t}.load offset={o2} (local.get $p)))
        (local.set $vx ({t}.load offset={o3} (local.get $p)))
        (local.set $vy ({t}.load offset={o4} (local.get $p)))
        (local.set $vz ({t}.load offset={o5} (local.get $p)))
        (local.set $dt ({t}.const 0.01))
        (block $done
            (loop $step
                (br_if $done (i32.eqz (local.get $n)))
                (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                (local.set $x ({t}.add (local.get $x) ({t}.mul (local.get $dt) (local.get $vx))))
                (local.set $y ({t}.add (local.get $y) ({t}.mul (local.get $dt) (local.get $vy))))
                (local.set $z ({t}.add (local.get $z) ({t}.mul (local.get $dt) (local.get $vz))))
                (local.set $d2 ({t}.add ({t}.add
                    ({t}.mul (local.get $x) (local.get $x))
                    ({t}.mul (local.get $y) (local.get $y)))
                    ({t}.mul (local.get $z) (local.get $z))))
                {call_busy}
                (local.set $mag ({t}.div (local.get $dt)
                    ({t}.mul (local.tee $d2 ({t}.add (local.get $d2) ({t}.const 0.25)))
                        ({t}.sqrt (local.get $d2)))))
                (local.set $vx ({t}.sub (local.get $vx) ({t}.mul (local.get $x) (local.get $mag))))
                (local.set $vy ({t}.sub (local.get $vy) ({t}.mul (local.get $y) (local.get $mag))))
                (local.set $vz ({t}.sub (local.get $vz) ({t}.mul (local.get $z) (local.get $mag))))
                {grow_dt}
                (br $step)))
        ({t}.store offset={o0} (local.get $p) (local.get $x))
        ({t}.store offset={o1} (local.get $p) (local.get $y))
        ({t}.store offset={o2} (local.get $p) (local.get $z))
        ({t}.store offset={o3} (local.get $p) (local.get $vx))
        ({t}.store offset={o4} (local.get $p) (local.get $vy))
        ({t}.store offset={o5} (local.get $p) (local.get $vz))
        ({t}.add ({t}.add (local.get $x) (local.get $y)) (local.get $z))))"#,
        o0 = 0,
        o1 = size,
        o2 = 2 * size,
        o3 = 3 * size,
        o4 = 4 * size,
        o5 = 5 * size,
    )
}

/// [`kernel`] in Rust, for one float type: the same operations in the
/// same order. Returns the end state and `x + y + z`.
macro_rules! model {
    ($name:ident, $t:ty) => {
        fn $name(n: u32, start: [$t; 6], call: bool, deep: bool) -> ([$t; 6], $t) {
            let [mut x, mut y, mut z, mut vx, mut vy, mut vz] = start;
            let mut dt: $t = 0.01;
            let busy = |v: $t| {
                let mut s = v * 8.5;
                for k in (1..=7).rev() {
                    s += v * (k as $t + 0.5);
                }
                0.0078125 * s
            };
            for _ in 0..n {
                x += dt * vx;
                y += dt * vy;
                z += dt * vz;
                let mut d2 = x * x + y * y + z * z;
                if call {
                    d2 = busy(d2);
                }
                d2 += 0.25;
                let mag = dt / (d2 * d2.sqrt());
                vx -= x * mag;
                vy -= y * mag;
                vz -= z * mag;
                if deep {
                    let sum = x * vx
                        + (y * vy
                            + (z * vz + (d2 * mag + (dt * x + (y * vz + (z * vx + vy * dt))))));
                    dt += sum * 1e-12;
                }
            }
            ([x, y, z, vx, vy, vz], x + y + z)
        }
    };
}
model!(model_f64, f64);
model!(model_f32, f32);

const START: [f64; 6] = [1.5, -0.75, 0.25, 0.125, 0.5, -0.375];

fn instance(engine: &Engine, wat: &str) -> (Store<()>, Instance, Memory) {
    let (mut store, instance) = common::instantiate(engine, wat);
    let memory = instance
        .get_memory(&mut store, "memory")
        .expect("exported memory");
    (store, instance, memory)
}

#[test]
fn nine_f64_locals_in_a_loop_match_rust() {
    for (call, deep) in [(false, false), (false, true), (true, false), (true, true)] {
        let wat = kernel("f64", call, deep);
        for (name, engine) in common::engines_by_mode_and_cpu() {
            let (mut store, instance, memory) = instance(&engine, &wat);
            let run = common::typed::<(), (i32, i32), f64>(&mut store, &instance, "run");
            for (n, p) in [(0u32, 64u32), (1, 64), (37, 1000), (500, 8)] {
                for (i, v) in START.iter().enumerate() {
                    memory
                        .write(&mut store, p as usize + 8 * i, &v.to_le_bytes())
                        .expect("write start");
                }
                let got = run.call(&mut store, (n as i32, p as i32)).expect("run");
                let (state, sum) = model_f64(n, START, call, deep);
                assert_eq!(
                    got.to_bits(),
                    sum.to_bits(),
                    "{name} call={call} deep={deep} n={n}"
                );
                for (i, want) in state.iter().enumerate() {
                    let mut bytes = [0; 8];
                    memory
                        .read(&store, p as usize + 8 * i, &mut bytes)
                        .expect("read state");
                    let got = f64::from_le_bytes(bytes);
                    assert_eq!(
                        got.to_bits(),
                        want.to_bits(),
                        "{name} call={call} deep={deep} n={n} [{i}]"
                    );
                }
            }
        }
    }
}

#[test]
fn nine_f32_locals_in_a_loop_match_rust() {
    let start = START.map(|v| v as f32);
    for (call, deep) in [(false, false), (false, true), (true, false), (true, true)] {
        let wat = kernel("f32", call, deep);
        for (name, engine) in common::engines_by_mode_and_cpu() {
            let (mut store, instance, memory) = instance(&engine, &wat);
            let run = common::typed::<(), (i32, i32), f32>(&mut store, &instance, "run");
            for (n, p) in [(0u32, 64u32), (1, 64), (37, 1000), (500, 4)] {
                for (i, v) in start.iter().enumerate() {
                    memory
                        .write(&mut store, p as usize + 4 * i, &v.to_le_bytes())
                        .expect("write start");
                }
                let got = run.call(&mut store, (n as i32, p as i32)).expect("run");
                let (state, sum) = model_f32(n, start, call, deep);
                assert_eq!(
                    got.to_bits(),
                    sum.to_bits(),
                    "{name} call={call} deep={deep} n={n}"
                );
                for (i, want) in state.iter().enumerate() {
                    let mut bytes = [0; 4];
                    memory
                        .read(&store, p as usize + 4 * i, &mut bytes)
                        .expect("read state");
                    let got = f32::from_le_bytes(bytes);
                    assert_eq!(
                        got.to_bits(),
                        want.to_bits(),
                        "{name} call={call} deep={deep} n={n} [{i}]"
                    );
                }
            }
        }
    }
}

/// Whether `ins` reads or writes an XMM register and a frame slot
/// (`[rbp + disp]`): a float local or operand kept in memory.
fn float_frame_access(ins: &Instruction) -> bool {
    let xmm = (0..ins.op_count()).any(|k| {
        let r = ins.op_register(k) as u32;
        ins.op_kind(k) == OpKind::Register
            && (Register::XMM0 as u32..=Register::XMM15 as u32).contains(&r)
    });
    let frame = (0..ins.op_count()).any(|k| ins.op_kind(k) == OpKind::Memory)
        && ins.memory_base() == Register::RBP;
    xmm && frame
}

/// All nine locals of the loop (with no call, which stores the pins, and
/// no deep sum, which spills) live in registers: no float value goes
/// through the frame, in either memory mode.
#[test]
fn nine_float_locals_in_a_loop_stay_in_registers() {
    for t in ["f64", "f32"] {
        let wat = kernel(t, false, false);
        for guard_region in [false, true] {
            let options = CompileOptions {
                guard_region,
                ..CompileOptions::default()
            };
            // Function 1 is `run` (function 0 is `$busy`).
            let code = function_code(&wat, 1, &options);
            let slots: Vec<String> = code
                .iter()
                .filter(|i| float_frame_access(i))
                .map(|i| format!("{i}"))
                .collect();
            assert!(
                slots.is_empty(),
                "{t} guard={guard_region}: float values in frame slots: {slots:?}"
            );
        }
    }
}
