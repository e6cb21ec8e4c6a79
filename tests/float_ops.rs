//! Float arithmetic the compiler reorders: `a + b` and `a * b` with `a` a
//! local kept in a register and `b` a computed value are computed into
//! `b`'s register. The local must keep its value, and the result must be
//! right in both types, in loops, and when the local changes while an
//! earlier read of it is still on the operand stack.

use wasmkern::{Engine, Instance, Module, Store};

const WAT: &str = r#"(module
    ;; acc += x * (y + 1) three times, then acc + x: x is read after the
    ;; products, so computing into x's register would show.
    (func (export "mul_add64") (param $x f64) (param $y f64) (result f64)
        (local $k i32) (local $acc f64)
        (loop $l
            (local.set $acc (f64.add (local.get $acc)
                (f64.mul (local.get $x) (f64.add (local.get $y) (f64.const 1)))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br_if $l (i32.lt_u (local.get $k) (i32.const 3))))
        (f64.add (local.get $acc) (local.get $x)))
    (func (export "mul_add32") (param $x f32) (param $y f32) (result f32)
        (local $k i32) (local $acc f32)
        (loop $l
            (local.set $acc (f32.add (local.get $acc)
                (f32.mul (local.get $x) (f32.add (local.get $y) (f32.const 1)))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br_if $l (i32.lt_u (local.get $k) (i32.const 3))))
        (f32.add (local.get $acc) (local.get $x)))
    ;; x's old value is on the stack when x changes: old_x * (new_x + 1)
    ;; + new_x.
    (func (export "pending") (param $x f64) (result f64)
        (local.get $x)
        (local.set $x (f64.const 10))
        (f64.mul (f64.add (local.get $x) (f64.const 1)))
        (f64.add (local.get $x))))"#;

#[test]
fn commuted_float_ops_keep_the_local() {
    for guard in [false, true] {
        let engine = Engine::new(wasmkern::Config::new().guard_regions(guard)).unwrap();
        let module = Module::new(&engine, wat::parse_str(WAT).unwrap()).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let f64s = instance
            .get_typed_func::<(f64, f64), f64>(&mut store, "mul_add64")
            .unwrap();
        // 3 * (2 * 4) + 2
        assert_eq!(f64s.call(&mut store, (2.0, 3.0)).unwrap(), 26.0);
        assert_eq!(f64s.call(&mut store, (-0.5, 1.0)).unwrap(), -3.5);
        let f32s = instance
            .get_typed_func::<(f32, f32), f32>(&mut store, "mul_add32")
            .unwrap();
        assert_eq!(f32s.call(&mut store, (2.0, 3.0)).unwrap(), 26.0);
        let pending = instance
            .get_typed_func::<f64, f64>(&mut store, "pending")
            .unwrap();
        // 3 * 11 + 10
        assert_eq!(pending.call(&mut store, 3.0).unwrap(), 43.0);
    }
}

/// The float binary operators with a constant operand on either side, in
/// both types: `x op c` and `c op x`, `x` a parameter (kept in a register)
/// and a computed value (`x + 0`, where `x` is not -0). A constant the
/// compiler reads from memory must be the right one of the right width,
/// on the right side of the operator.
#[test]
fn float_ops_with_constant_operands() {
    const OPS: [&str; 6] = ["add", "sub", "mul", "div", "min", "max"];
    const CONSTS: [&str; 5] = ["1.5", "-0", "0", "-3.25e-7", "inf"];
    let mut wat = String::from("(module\n");
    for ty in ["f32", "f64"] {
        for op in OPS {
            for (k, c) in CONSTS.iter().enumerate() {
                for (side, body) in [
                    ("xc", format!("({ty}.{op} (local.get 0) ({ty}.const {c}))")),
                    ("cx", format!("({ty}.{op} ({ty}.const {c}) (local.get 0))")),
                    (
                        "yc",
                        format!(
                            "({ty}.{op} ({ty}.add (local.get 0) ({ty}.const 0)) ({ty}.const {c}))"
                        ),
                    ),
                    (
                        "cy",
                        format!(
                            "({ty}.{op} ({ty}.const {c}) ({ty}.add (local.get 0) ({ty}.const 0)))"
                        ),
                    ),
                ] {
                    // The parameter is read again after the operation: it
                    // must not have changed.
                    wat.push_str(&format!(
                        "(func (export \"{ty}_{op}_{k}_{side}\") (param {ty}) (result {ty} {ty}) {body} (local.get 0))\n"
                    ));
                }
            }
        }
    }
    wat.push(')');
    fn apply(op: &str, a: f64, b: f64) -> f64 {
        match op {
            "add" => a + b,
            "sub" => a - b,
            "mul" => a * b,
            "div" => a / b,
            // WebAssembly's min and max: -0 < +0 (no NaN inputs here).
            "min" if a == b => f64::from_bits(a.to_bits() | b.to_bits()),
            "max" if a == b => f64::from_bits(a.to_bits() & b.to_bits()),
            "min" => a.min(b),
            _ => a.max(b),
        }
    }
    fn apply32(op: &str, a: f32, b: f32) -> f32 {
        match op {
            "add" => a + b,
            "sub" => a - b,
            "mul" => a * b,
            "div" => a / b,
            "min" if a == b => f32::from_bits(a.to_bits() | b.to_bits()),
            "max" if a == b => f32::from_bits(a.to_bits() & b.to_bits()),
            "min" => a.min(b),
            _ => a.max(b),
        }
    }
    let xs = [2.0f64, -0.75, 0.0, 1e300, -7.0e-5];
    for guard in [false, true] {
        let engine = Engine::new(wasmkern::Config::new().guard_regions(guard)).unwrap();
        let module = Module::new(&engine, wat::parse_str(&wat).unwrap()).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        for op in OPS {
            for (k, c) in CONSTS.iter().enumerate() {
                let c64: f64 = c.parse().unwrap();
                let c32: f32 = c.parse().unwrap();
                for side in ["xc", "cx", "yc", "cy"] {
                    let f = instance
                        .get_typed_func::<f64, (f64, f64)>(
                            &mut store,
                            &format!("f64_{op}_{k}_{side}"),
                        )
                        .unwrap();
                    let g = instance
                        .get_typed_func::<f32, (f32, f32)>(
                            &mut store,
                            &format!("f32_{op}_{k}_{side}"),
                        )
                        .unwrap();
                    for x in xs {
                        let want = if side.starts_with('c') {
                            apply(op, c64, x)
                        } else {
                            apply(op, x, c64)
                        };
                        let (got, kept) = f.call(&mut store, x).unwrap();
                        assert_eq!(
                            (got.to_bits(), kept.to_bits()),
                            (want.to_bits(), x.to_bits()),
                            "f64.{op} {side} x={x} c={c} (guard {guard}): {got}"
                        );
                        let x = x as f32;
                        let want = if side.starts_with('c') {
                            apply32(op, c32, x)
                        } else {
                            apply32(op, x, c32)
                        };
                        let (got, kept) = g.call(&mut store, x).unwrap();
                        assert_eq!(
                            (got.to_bits(), kept.to_bits()),
                            (want.to_bits(), x.to_bits()),
                            "f32.{op} {side} x={x} c={c} (guard {guard}): {got}"
                        );
                    }
                }
            }
        }
    }
}
