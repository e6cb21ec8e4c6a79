//! A block's or `if`'s single result meets in a register at its end (from
//! the fall-through, `br`, `br_if`, `br_table` and `else`), not in its
//! stack slot. Each function here reaches such a merge in a way that would
//! give a wrong value if a path left the result elsewhere or the register
//! were taken at the merge: values below the block, branches out of loops
//! with calls in them (which clobber the register), division right after
//! the merge (which needs `rax`), floats and references.

use wasmkern::{Engine, Instance, Module, Store};

const WAT: &str = r#"(module
    (func $id (param i32) (result i32) (local.get 0))
    (func $f)
    (elem declare func $f)

    ;; A value below the block, a br_if carrying a sum out of it.
    (func (export "br_if_value") (param $a i32) (param $b i32) (result i32)
      (i32.add
        (i32.mul (local.get $a) (i32.const 10))
        (block (result i32)
          (drop (br_if 0 (i32.add (local.get $a) (local.get $b))
                         (i32.gt_s (local.get $a) (i32.const 0))))
          (i32.sub (local.get $b) (local.get $a)))))

    ;; br_table to three nested blocks, each adding to the result after it.
    (func (export "table") (param $i i32) (result i64)
      (i64.add (i64.const 1000)
        (block $c (result i64)
          (i64.add (i64.const 20)
            (block $b (result i64)
              (i64.add (i64.const 3)
                (block $a (result i64)
                  (br_table $a $b $c (i64.const 100) (local.get $i)))))))))

    ;; f64 results from both arms, used after the merge.
    (func (export "fsel") (param $c i32) (param $x f64) (result f64)
      (f64.mul (local.get $x)
        (if (result f64) (local.get $c)
          (then (f64.add (local.get $x) (f64.const 0.5)))
          (else (f64.sqrt (local.get $x))))))

    ;; A branch out of a loop that calls: the call clobbers the merge
    ;; register, the branch must fill it.
    (func (export "loop_exit") (param $n i32) (result i32) (local $k i32)
      (i32.add (i32.const 7)
        (block $out (result i32)
          (loop $l
            (local.set $k (call $id (i32.add (local.get $k) (i32.const 1))))
            (br_if $out (i32.mul (local.get $k) (i32.const 3))
                        (i32.ge_s (local.get $k) (local.get $n)))
            (br $l))
          (i32.const -1))))

    ;; Division right after the merge needs the merge register itself.
    (func (export "div_after") (param $a i32) (param $b i32) (result i32)
      (i32.div_s
        (block (result i32) (br_if 0 (local.get $a) (local.get $b)) (drop) (i32.const 100))
        (i32.const 3)))

    ;; A reference result.
    (func (export "ref_null") (param $c i32) (result i32)
      (ref.is_null
        (block (result funcref)
          (br_if 0 (ref.null func) (local.get $c))
          (drop)
          (ref.func $f))))

    ;; An end reached only by branches.
    (func (export "only_branches") (param $c i32) (result i32)
      (i32.add (i32.const 1)
        (block (result i32)
          (if (local.get $c) (then (br 1 (i32.const 10))))
          (br 0 (i32.const 20)))))

    ;; Two merges in a row, the first's result live across the second.
    (func (export "two_merges") (param $c i32) (result i32)
      (i32.sub
        (if (result i32) (local.get $c) (then (i32.const 50)) (else (i32.const 60)))
        (if (result i32) (local.get $c) (then (i32.const 1)) (else (i32.const 2))))))"#;

fn instance() -> (Store<()>, Instance) {
    let engine = Engine::default();
    let module = Module::new(&engine, wat::parse_str(WAT).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    (store, instance)
}

#[test]
fn integer_results_meet_from_every_branch() {
    let (mut store, i) = instance();
    let br_if_value = i
        .get_typed_func::<(i32, i32), i32>(&store, "br_if_value")
        .unwrap();
    assert_eq!(br_if_value.call(&mut store, (3, 4)).unwrap(), 30 + 7);
    assert_eq!(br_if_value.call(&mut store, (-2, 5)).unwrap(), -20 + 7);
    let table = i.get_typed_func::<i32, i64>(&store, "table").unwrap();
    for (index, expected) in [(0, 1123), (1, 1120), (2, 1100), (9, 1100)] {
        assert_eq!(table.call(&mut store, index).unwrap(), expected, "{index}");
    }
    let loop_exit = i.get_typed_func::<i32, i32>(&store, "loop_exit").unwrap();
    assert_eq!(loop_exit.call(&mut store, 5).unwrap(), 22);
    assert_eq!(loop_exit.call(&mut store, 0).unwrap(), 10);
    let div_after = i
        .get_typed_func::<(i32, i32), i32>(&store, "div_after")
        .unwrap();
    assert_eq!(div_after.call(&mut store, (-9, 1)).unwrap(), -3);
    assert_eq!(div_after.call(&mut store, (-9, 0)).unwrap(), 33);
    let only_branches = i
        .get_typed_func::<i32, i32>(&store, "only_branches")
        .unwrap();
    assert_eq!(only_branches.call(&mut store, 1).unwrap(), 11);
    assert_eq!(only_branches.call(&mut store, 0).unwrap(), 21);
    let two_merges = i.get_typed_func::<i32, i32>(&store, "two_merges").unwrap();
    assert_eq!(two_merges.call(&mut store, 1).unwrap(), 49);
    assert_eq!(two_merges.call(&mut store, 0).unwrap(), 58);
}

#[test]
fn float_and_reference_results_meet_too() {
    let (mut store, i) = instance();
    let fsel = i.get_typed_func::<(i32, f64), f64>(&store, "fsel").unwrap();
    assert_eq!(fsel.call(&mut store, (1, 3.0)).unwrap(), 10.5);
    assert_eq!(fsel.call(&mut store, (0, 4.0)).unwrap(), 8.0);
    let ref_null = i.get_typed_func::<i32, i32>(&store, "ref_null").unwrap();
    assert_eq!(ref_null.call(&mut store, 1).unwrap(), 1);
    assert_eq!(ref_null.call(&mut store, 0).unwrap(), 0);
}
