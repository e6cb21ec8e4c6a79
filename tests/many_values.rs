//! Branches and returns that carry many values (more than the compiler
//! moves one by one: it copies them with a loop, and functions with many
//! results share one return sequence). Each function carries 24 values of
//! every type, with other values below them on the stack so that they move
//! to a different height, and the test checks every value that arrives.

use wasmkern::{Engine, Instance, Module, Store, Val};

/// How many values each branch carries.
const N: usize = 24;

/// The type of carried value `k`: the types cycle so that each kind of
/// slot is moved.
fn ty(k: usize) -> &'static str {
    ["i32", "i64", "f32", "f64", "v128"][k % 5]
}

/// The value the code pushes as carried value `k`, shifted by `salt`.
fn val(k: usize, salt: u64) -> Val {
    let x = (k as u64 + 1) * 1_000 + salt;
    match k % 5 {
        0 => Val::I32(x as i32),
        1 => Val::I64(-(x as i64) << 20),
        2 => Val::F32((x as f32 + 0.25).to_bits()),
        3 => Val::F64((x as f64 * 1.5).to_bits()),
        _ => Val::V128(u128::from(x) << 64 | u128::from(!x)),
    }
}

/// The instruction that pushes `v`.
fn push(v: &Val) -> String {
    match v {
        Val::I32(x) => format!("(i32.const {x})"),
        Val::I64(x) => format!("(i64.const {x})"),
        Val::F32(b) => format!("(f32.const {})", f32::from_bits(*b)),
        Val::F64(b) => format!("(f64.const {})", f64::from_bits(*b)),
        Val::V128(x) => format!(
            "(v128.const i64x2 {} {})",
            *x as u64 as i64,
            (*x >> 64) as u64 as i64
        ),
        _ => unreachable!(),
    }
}

fn pushes(salt: u64) -> String {
    (0..N)
        .map(|k| push(&val(k, salt)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn types() -> String {
    (0..N).map(ty).collect::<Vec<_>>().join(" ")
}

fn drops(n: usize) -> String {
    "(drop) ".repeat(n)
}

fn wat() -> String {
    let t = types();
    format!(
        r#"(module
    (type $many (func (result {t})))
    ;; A conditional return with three values below the carried ones;
    ;; when not taken, other values are returned.
    (func (export "return_if") (param $c i32) (result {t})
      (i32.const 7) (i64.const 8) (f64.const 9)
      {p1}
      (br_if 0 (local.get $c))
      {d}
      (drop) (drop) (drop)
      {p2})
    ;; `return` from inside two blocks, with values below.
    (func (export "return_nested") (result {t})
      (i32.const 1)
      (block (result i32)
        (i64.const 2)
        (block
          {p1}
          (return))
        (drop)
        (i32.const 3))
      (drop) (drop)
      {p2})
    ;; br_table to blocks at three heights (one, two and three values
    ;; below each), each arm adding nothing: the values arrive unchanged.
    (func (export "table") (param $i i32) (result {t})
      (i32.const 100)
      (block $a (type $many)
        (i32.const 101)
        (block $b (type $many)
          (i32.const 102)
          (block $c (type $many)
            {p1}
            (br_table $c $b $a (local.get $i)))
          (return))
        (return))
      (return))
    ;; br_if to a block from a loop that is taken the third time round.
    (func (export "loop_out") (result {t}) (local $n i32)
      (i64.const 5)
      (block $out (type $many)
        (loop $again
          (f32.const 6)
          {p1}
          (local.set $n (i32.add (local.get $n) (i32.const 1)))
          (br_if $out (i32.eq (local.get $n) (i32.const 3)))
          {d}
          (drop)
          (br $again))
        (unreachable))
      (return)))"#,
        p1 = pushes(0),
        p2 = pushes(1),
        d = drops(N),
    )
}

fn call(store: &mut Store<()>, instance: &Instance, name: &str, args: &[Val]) -> Vec<Val> {
    let f = instance.get_func(&mut *store, name).unwrap();
    let mut results = vec![Val::I32(0); N];
    f.call(&mut *store, args, &mut results)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    results
}

fn expect(results: &[Val], salt: u64, what: &str) {
    for (k, r) in results.iter().enumerate() {
        let want = val(k, salt);
        assert!(
            format!("{r:?}") == format!("{want:?}"),
            "{what}: value {k} is {r:?}, expected {want:?}"
        );
    }
}

#[test]
fn many_values_arrive_through_every_branch() {
    for guard in [false, true] {
        let engine = Engine::new(wasmkern::Config::new().guard_regions(guard)).unwrap();
        let module = Module::new(&engine, wat::parse_str(wat()).unwrap()).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let r = call(&mut store, &instance, "return_if", &[Val::I32(1)]);
        expect(&r, 0, "return_if taken");
        let r = call(&mut store, &instance, "return_if", &[Val::I32(0)]);
        expect(&r, 1, "return_if not taken");
        let r = call(&mut store, &instance, "return_nested", &[]);
        expect(&r, 0, "return_nested");
        for i in 0..4 {
            let r = call(&mut store, &instance, "table", &[Val::I32(i)]);
            expect(&r, 0, &format!("table {i}"));
        }
        let r = call(&mut store, &instance, "loop_out", &[]);
        expect(&r, 0, "loop_out");
    }
}
