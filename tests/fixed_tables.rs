//! `call_indirect` through tables whose contents the compiler knows.
//!
//! A table the module defines, does not export and never writes holds
//! what its segments put there, so the compiler leaves out the null check
//! when every element is a function, the type check when every function
//! has the called type, and compares indices with the constant size. These
//! tests call every kind of element of such tables (and of tables one
//! step away: written by an instruction, grown, exported and written by
//! the host) with `call_indirect` and `return_call_indirect`, and check
//! the result or the trap: a check left out where it was needed calls a
//! null or a function of another type (a crash or a wrong value), and a
//! wrong constant size gives the wrong trap or none.

use wasmkern::{Config, Engine, Instance, Module, Store, Trap, Val};

mod common;
use common::both_modes;

/// The callees: `$one`, `$two`, `$three` of the called type `$r` return
/// their number; `$wide` has another type.
const FUNCS: &str = r#"
    (type $r (func (result i32)))
    (type $r2 (func (result i32)))
    (func $one (type $r) (i32.const 1))
    (func $two (type $r2) (i32.const 2))
    (func $three (result i32) (i32.const 3))
    (func $wide (result i64) (i64.const -1))"#;

/// A module with `tables` (table `$t` among them) and two exports that
/// call element `i` of `$t`: `call` with `call_indirect`, `tail` with
/// `return_call_indirect`; `index` is the index type.
fn wat_with(tables: &str, index: &str) -> String {
    format!(
        r#"(module {FUNCS} {tables}
            (func (export "call") (param $i {index}) (result i32)
              (call_indirect $t (type $r) (local.get $i)))
            (func (export "tail") (param $i {index}) (result i32)
              (return_call_indirect $t (type $r) (local.get $i))))"#
    )
}

fn wat(tables: &str) -> String {
    wat_with(tables, "i32")
}

struct Vm {
    store: Store<()>,
    instance: Instance,
}

impl Vm {
    fn new(guard: bool, wat: &str) -> Vm {
        let engine = Engine::new(Config::new().guard_regions(guard)).unwrap();
        let module = Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        Vm { store, instance }
    }

    /// `export(arg)`: its `i32` result or its trap.
    fn run(&mut self, export: &str, arg: Val) -> Result<i32, Option<Trap>> {
        let f = self.instance.get_func(&self.store, export).unwrap();
        let mut results = [Val::I32(0)];
        let n = f.ty(&self.store).results().len();
        match f.call(&mut self.store, &[arg], &mut results[..n]) {
            Ok(()) => Ok(match results[0] {
                Val::I32(v) => v,
                _ => unreachable!(),
            }),
            Err(e) => Err(e.trap()),
        }
    }

    /// Calls element `i` both ways; both must give `expected`.
    fn check(&mut self, i: i32, expected: Result<i32, Trap>) {
        for export in ["call", "tail"] {
            assert_eq!(
                self.run(export, Val::I32(i)),
                expected.map_err(Some),
                "{export}({i})"
            );
        }
    }
}

#[test]
fn a_full_table_of_one_type_calls_and_bounds_checks() {
    both_modes(|guard| {
        let mut vm = Vm::new(
            guard,
            &wat("(table $t 3 funcref) (elem (table $t) (i32.const 0) func $one $two $three)"),
        );
        vm.check(0, Ok(1));
        vm.check(1, Ok(2));
        vm.check(2, Ok(3));
        vm.check(3, Err(Trap::UndefinedElement));
        vm.check(-1, Err(Trap::UndefinedElement));
        vm.check(i32::MIN, Err(Trap::UndefinedElement));
    });
}

#[test]
fn a_null_element_still_traps() {
    both_modes(|guard| {
        // Element 0 left null, as C compilers lay out their tables.
        let mut vm = Vm::new(
            guard,
            &wat("(table $t 3 3 funcref) (elem (table $t) (i32.const 1) func $one $two)"),
        );
        vm.check(0, Err(Trap::UninitializedElement));
        vm.check(1, Ok(1));
        vm.check(2, Ok(2));
        vm.check(3, Err(Trap::UndefinedElement));
        // A later segment writes a null over a function.
        let mut vm = Vm::new(
            guard,
            &wat(
                "(table $t 2 funcref) (elem (table $t) (i32.const 0) func $one $two) \
                  (elem (table $t) (i32.const 1) funcref (ref.null func))",
            ),
        );
        vm.check(0, Ok(1));
        vm.check(1, Err(Trap::UninitializedElement));
        // Segments that cover all but the last element, overlapping.
        let mut vm = Vm::new(
            guard,
            &wat(
                "(table $t 4 funcref) (elem (table $t) (i32.const 1) func $two $three) \
                  (elem (table $t) (i32.const 0) func $one $one)",
            ),
        );
        vm.check(1, Ok(1));
        vm.check(2, Ok(3));
        vm.check(3, Err(Trap::UninitializedElement));
    });
}

#[test]
fn an_element_of_another_type_still_traps() {
    both_modes(|guard| {
        let mut vm = Vm::new(
            guard,
            &wat("(table $t 2 funcref) (elem (table $t) (i32.const 0) func $one $wide)"),
        );
        vm.check(0, Ok(1));
        vm.check(1, Err(Trap::IndirectCallTypeMismatch));
    });
}

#[test]
fn a_typed_table_filled_by_its_initializer() {
    both_modes(|guard| {
        let mut vm = Vm::new(
            guard,
            &wat("(table $t 4 (ref null $r) (ref.func $one)) \
                  (elem (table $t) (i32.const 2) (ref null $r) (ref.func $two))"),
        );
        vm.check(0, Ok(1));
        vm.check(2, Ok(2));
        vm.check(3, Ok(1));
        vm.check(4, Err(Trap::UndefinedElement));
    });
}

#[test]
fn an_empty_table_and_a_table64() {
    both_modes(|guard| {
        let mut vm = Vm::new(guard, &wat("(table $t 0 funcref)"));
        vm.check(0, Err(Trap::UndefinedElement));
        // An `i64` index of 2^32 is out of bounds, not element 0.
        let mut vm = Vm::new(
            guard,
            &wat_with(
                "(table $t i64 2 funcref) (elem (table $t) (i64.const 0) func $one $two)",
                "i64",
            ),
        );
        for export in ["call", "tail"] {
            assert_eq!(vm.run(export, Val::I64(1)), Ok(2));
            for i in [2, 1 << 32, -1] {
                assert_eq!(
                    vm.run(export, Val::I64(i)),
                    Err(Some(Trap::UndefinedElement)),
                    "{export}({i})"
                );
            }
        }
    });
}

/// A full table of one type that a function of the module changes: each
/// module has one kind of write, so each must count as one.
#[test]
fn tables_the_module_writes_are_checked() {
    // The writer (`write`, taking an index) and what element 0 then gives;
    // the sources reach `$t` from another table and a passive segment.
    let writers = [
        (
            "(table.set $t (local.get $i) (ref.null func))",
            Trap::UninitializedElement,
        ),
        (
            "(table.copy $t $u (local.get $i) (i32.const 0) (i32.const 1))",
            Trap::IndirectCallTypeMismatch,
        ),
        (
            "(table.init $t $seg (local.get $i) (i32.const 0) (i32.const 1))",
            Trap::IndirectCallTypeMismatch,
        ),
        (
            "(table.fill $t (local.get $i) (ref.null func) (i32.const 1))",
            Trap::UninitializedElement,
        ),
    ];
    both_modes(|guard| {
        for (write, trap) in writers {
            let mut vm = Vm::new(
                guard,
                &wat(&format!(
                    r#"(table $t 2 funcref) (elem (table $t) (i32.const 0) func $one $two)
                    (table $u 1 funcref) (elem (table $u) (i32.const 0) func $wide)
                    (elem $seg func $wide)
                    (func (export "write") (param $i i32) {write})"#
                )),
            );
            vm.check(0, Ok(1));
            vm.run("write", Val::I32(0)).ok();
            vm.check(0, Err(trap));
            vm.check(1, Ok(2));
        }
        // Grown: the new element is in bounds, and null.
        let mut vm = Vm::new(
            guard,
            &wat(
                r#"(table $t 2 funcref) (elem (table $t) (i32.const 0) func $one $two)
                (func (export "grow") (param $n i32)
                  (drop (table.grow $t (ref.null func) (local.get $n))))"#,
            ),
        );
        vm.check(2, Err(Trap::UndefinedElement));
        vm.run("grow", Val::I32(1)).ok();
        vm.check(2, Err(Trap::UninitializedElement));
        vm.check(1, Ok(2));
    });
}

/// A full table of one type that the host can change through its export.
#[test]
fn exported_tables_are_checked() {
    both_modes(|guard| {
        let mut vm = Vm::new(
            guard,
            &wat(r#"(table $t (export "t") 2 funcref)
                (elem (table $t) (i32.const 0) func $one $two)
                (func (export "wide") (result i64) (i64.const 0))"#),
        );
        vm.check(1, Ok(2));
        let table = vm.instance.get_table(&vm.store, "t").unwrap();
        table.set(&mut vm.store, 1, Val::FuncRef(None)).unwrap();
        vm.check(1, Err(Trap::UninitializedElement));
        let wide = vm.instance.get_func(&vm.store, "wide").unwrap();
        table
            .set(&mut vm.store, 0, Val::FuncRef(Some(wide)))
            .unwrap();
        vm.check(0, Err(Trap::IndirectCallTypeMismatch));
        table.grow(&mut vm.store, 1, Val::FuncRef(None)).unwrap();
        vm.check(2, Err(Trap::UninitializedElement));
    });
}
