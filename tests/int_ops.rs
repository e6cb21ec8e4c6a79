//! Integer arithmetic the compiler strength-reduces: `x * 3`, `x * 5` and
//! `x * 9` become `lea`. Each must equal the wrapping product in both
//! widths, for `x` a local kept in a register (which must keep its value)
//! and for `x` a computed value, next to a factor that stays an `imul`.

use wasmkern::{Engine, Linker, Module, Store, Val};

/// `(x * k) ^ x`, with `x` read again after the product, and
/// `((x + 1) * k)`: a pinned local and a computed operand.
fn wat(ty: &str, k: i64) -> String {
    format!(
        r#"(module
            (func (export "pinned") (param $x {ty}) (result {ty})
                ({ty}.xor ({ty}.mul (local.get $x) ({ty}.const {k})) (local.get $x)))
            (func (export "computed") (param $x {ty}) (result {ty})
                ({ty}.mul ({ty}.add (local.get $x) ({ty}.const 1)) ({ty}.const {k}))))"#
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
    for k in [3i64, 5, 7, 9] {
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
