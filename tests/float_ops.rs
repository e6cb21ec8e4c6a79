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
