//! `call_indirect` through a table whose contents never change, with a
//! parameter no instruction writes as the index: a call that another such
//! call of the same type dominates loads its element with no bounds, null
//! or type check (the earlier call passed them for the same element).
//!
//! The tests call null, out-of-bounds and wrongly typed elements from
//! every shape where the earlier check does not dominate the later call
//! (`if` and `else` arms, blocks branched past, loops left early, another
//! type, another parameter, a parameter written, a table that may change),
//! which must trap as an unchecked call cannot; and from a loop followed
//! by the same call, which the check inside the loop covers: its code has
//! one bounds check, not two.

use iced_x86::{Mnemonic, OpKind, Register};
use wasmkern::compile::CompileOptions;
use wasmkern::{Config, Engine, Instance, Module, Store, Trap, Val};

mod common;
use common::{both_modes, function_code};

/// The table: element 0 null (as C compilers leave it), 1 and 2 of the
/// called type `$r`, 3 of another type; 4 elements.
const TABLE: &str = r#"
    (type $r (func (result i32)))
    (type $w (func (result i64)))
    (func $one (type $r) (i32.const 1))
    (func $two (type $r) (i32.const 2))
    (func $wide (type $w) (i64.const -1))
    (table $t 4 4 funcref)
    (elem (table $t) (i32.const 1) func $one $two $wide)"#;

/// The exports, each `(param $i i32) (param $c i32) (result i32)`: `$i`
/// the element, `$c` a condition or count.
const FUNCS: &str = r#"
    ;; The loop's call covers the one after the loop.
    (func (export "after_loop") (param $i i32) (param $c i32) (result i32)
      (local $sum i32)
      (loop $l
        (local.set $sum (i32.add (local.get $sum) (call_indirect $t (type $r) (local.get $i))))
        (br_if $l (i32.gt_s (local.tee $c (i32.sub (local.get $c) (i32.const 1))) (i32.const 0))))
      (i32.add (local.get $sum) (call_indirect $t (type $r) (local.get $i))))
    ;; A call in a loop covers the next one in the same body, and later loops.
    (func (export "two_loops") (param $i i32) (param $c i32) (result i32)
      (local $sum i32) (local $k i32)
      (local.set $k (local.get $c))
      (loop $l
        (local.set $sum (i32.add (local.get $sum) (call_indirect $t (type $r) (local.get $i))))
        (local.set $sum (i32.add (local.get $sum) (call_indirect $t (type $r) (local.get $i))))
        (br_if $l (i32.gt_s (local.tee $k (i32.sub (local.get $k) (i32.const 1))) (i32.const 0))))
      (loop $m
        (local.set $sum (i32.add (local.get $sum) (call_indirect $t (type $r) (local.get $i))))
        (br_if $m (i32.gt_s (local.tee $c (i32.sub (local.get $c) (i32.const 1))) (i32.const 0))))
      (local.get $sum))
    ;; The `then` arm's call does not cover the one after the `if`.
    (func (export "after_if") (param $i i32) (param $c i32) (result i32)
      (if (local.get $c) (then (drop (call_indirect $t (type $r) (local.get $i)))))
      (call_indirect $t (type $r) (local.get $i)))
    ;; Nor the `else` arm's.
    (func (export "in_else") (param $i i32) (param $c i32) (result i32)
      (if (result i32) (local.get $c)
        (then (call_indirect $t (type $r) (local.get $i)))
        (else (call_indirect $t (type $r) (local.get $i)))))
    ;; A block branched past.
    (func (export "after_block") (param $i i32) (param $c i32) (result i32)
      (block $b
        (br_if $b (local.get $c))
        (drop (call_indirect $t (type $r) (local.get $i))))
      (call_indirect $t (type $r) (local.get $i)))
    ;; A loop left before its call.
    (func (export "loop_left") (param $i i32) (param $c i32) (result i32)
      (block $out
        (loop $l
          (br_if $out (local.get $c))
          (drop (call_indirect $t (type $r) (local.get $i)))))
      (call_indirect $t (type $r) (local.get $i)))
    ;; Another type: element 1 passes `$r` and fails `$w`.
    (func (export "other_type") (param $i i32) (param $c i32) (result i32)
      (drop (call_indirect $t (type $r) (local.get $i)))
      (i32.wrap_i64 (call_indirect $t (type $w) (local.get $i))))
    ;; Another parameter.
    (func (export "other_param") (param $i i32) (param $c i32) (result i32)
      (drop (call_indirect $t (type $r) (local.get $i)))
      (call_indirect $t (type $r) (local.get $c)))
    ;; A parameter written after the first call.
    (func (export "written") (param $i i32) (param $c i32) (result i32)
      (drop (call_indirect $t (type $r) (local.get $i)))
      (local.set $i (local.get $c))
      (call_indirect $t (type $r) (local.get $i)))"#;

fn wat(table: &str) -> String {
    format!("(module {table} {FUNCS})")
}

struct Vm {
    store: Store<()>,
    instance: Instance,
}

impl Vm {
    fn new(guard: bool, table: &str) -> Vm {
        let engine = Engine::new(Config::new().guard_regions(guard)).unwrap();
        let module = Module::new(&engine, wat::parse_str(wat(table)).unwrap()).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        Vm { store, instance }
    }

    fn run(&mut self, export: &str, i: i32, c: i32) -> Result<i32, Option<Trap>> {
        let f = self.instance.get_func(&self.store, export).unwrap();
        let mut out = [Val::I32(0)];
        match f.call(&mut self.store, &[Val::I32(i), Val::I32(c)], &mut out) {
            Ok(()) => Ok(out[0].unwrap_i32()),
            Err(e) => Err(e.trap()),
        }
    }
}

/// What calling element `i` of type `$r` gives.
fn element(i: i32) -> Result<i32, Option<Trap>> {
    match i {
        0 => Err(Some(Trap::UninitializedElement)),
        1 => Ok(1),
        2 => Ok(2),
        3 => Err(Some(Trap::IndirectCallTypeMismatch)),
        _ => Err(Some(Trap::UndefinedElement)),
    }
}

const INDICES: [i32; 7] = [0, 1, 2, 3, 4, -1, i32::MIN];

fn check_all(table: &str) {
    both_modes(|guard| {
        let mut vm = Vm::new(guard, table);
        for i in INDICES {
            let one = element(i);
            for c in [1, 3] {
                let sum = one.map(|v| v * (c + 1));
                assert_eq!(vm.run("after_loop", i, c), sum, "after_loop({i}, {c})");
                let sum = one.map(|v| v * 3 * c);
                assert_eq!(vm.run("two_loops", i, c), sum, "two_loops({i}, {c})");
            }
            for c in [0, 1] {
                for export in ["after_if", "in_else", "after_block", "loop_left"] {
                    assert_eq!(vm.run(export, i, c), one, "{export}({i}, {c})");
                }
            }
            // Element 1 has type `$r`, not `$w`; elements 0 and 3 fail the
            // first call already.
            let other = one.and(Err(Some(Trap::IndirectCallTypeMismatch)));
            assert_eq!(vm.run("other_type", i, 0), other, "other_type({i})");
            for j in INDICES {
                let want = one.and(element(j));
                assert_eq!(vm.run("other_param", i, j), want, "other_param({i}, {j})");
                assert_eq!(vm.run("written", i, j), want, "written({i}, {j})");
            }
        }
    });
}

#[test]
fn calls_through_a_fixed_table_check_where_no_call_did() {
    check_all(TABLE);
}

#[test]
fn calls_through_a_table_that_may_change_check_every_time() {
    check_all(&TABLE.replace(
        "(table $t 4 4 funcref)",
        "(table $t (export \"t\") 4 4 funcref)",
    ));
}

/// How many times `export`'s code compares `r10` (the index) with the
/// table's size, 4: its bounds checks.
fn bounds_checks(export: usize, options: &CompileOptions) -> usize {
    // The three callees come first.
    function_code(&wat(TABLE), 3 + export, options)
        .iter()
        .filter(|i| {
            i.mnemonic() == Mnemonic::Cmp
                && i.op0_kind() == OpKind::Register
                && i.op0_register() == Register::R10
                && i.op1_kind() == OpKind::Immediate8to64
                && i.immediate(1) == 4
        })
        .count()
}

#[test]
fn a_call_after_a_loop_that_made_it_is_not_checked_again() {
    for guard_region in [false, true] {
        let options = CompileOptions {
            guard_region,
            ..Default::default()
        };
        // `after_loop`: the loop's call only.
        assert_eq!(bounds_checks(0, &options), 1);
        // `two_loops`: the first call of the first loop only.
        assert_eq!(bounds_checks(1, &options), 1);
        // `after_if`, `in_else`, `after_block`, `loop_left`: both calls.
        for export in 2..6 {
            assert_eq!(bounds_checks(export, &options), 2, "export {export}");
        }
    }
}
