//! Calls through function references between instances of one module.
//!
//! A module that can see no function reference but its own instance's
//! (no imports, no exported table, global or tag, no export with a
//! reference parameter) calls through its tables without switching the
//! instance context: its callees are its own. These tests take modules
//! one step away from that (a table, a funcref global or a reference
//! parameter exported, a function imported), put a function of ANOTHER
//! instance of the same module into the caller's table and check which
//! instance's memory and global the callee saw, and that the caller sees
//! its own again afterwards: both wrong whenever such a module is taken
//! for one that sees only its own references. The own-references module
//! itself is checked with two live instances called in turn.
//!
//! Every instance `k` holds `k` in its memory's first word and `k + 1` in
//! a global; the callee `get(a, b)` returns
//! `memory[0] * 1_000_000 + global * 1_000 + a * 10 + b` of the instance it
//! ran in ([`expected`]), so the value names that instance.

use wasmkern::{Config, Engine, Extern, Func, Instance, Module, Store, Val};

mod common;
use common::{both_modes, module, typed};

/// What `get(7, 3)` returns when it runs in instance `k`.
fn expected(k: i32) -> i32 {
    k * 1_000_000 + (k + 1) * 1_000 + 7 * 10 + 3
}

/// The module, with `imports` and `extra` fields (an exported global or
/// function, an element segment) spliced in; `table` is the table's
/// declaration: of typed references ([`TABLE`]), which `call_ref` takes,
/// or of `funcref`s, which the host can write.
fn wat(imports: &str, table: &str, extra: &str) -> String {
    let typed = !table.contains("funcref");
    let (elem, call_ref) = if typed {
        ("(ref null $bin) (ref.func $get)", CALL_REF)
    } else {
        ("func $get", "")
    };
    format!(
        r#"(module
          {imports}
          (type $bin (func (param i32 i32) (result i32)))
          (memory (export "mem") 1)
          (global $g (mut i32) (i32.const 0))
          {table}
          (elem (table $t) (i32.const 0) {elem})
          (func (export "init") (param $k i32)
            (i32.store (i32.const 0) (local.get $k))
            (global.set $g (i32.add (local.get $k) (i32.const 1))))
          (func $get (export "get") (type $bin)
            (i32.add
              (i32.add
                (i32.mul (i32.load (i32.const 0)) (i32.const 1000000))
                (i32.mul (global.get $g) (i32.const 1000)))
              (i32.add (i32.mul (local.get 0) (i32.const 10)) (local.get 1))))
          ;; The callee's value, then this instance's memory word and
          ;; global read after the call.
          (func (export "call") (param $i i32) (result i32 i32 i32)
            (call_indirect $t (type $bin) (i32.const 7) (i32.const 3) (local.get $i))
            (i32.load (i32.const 0))
            (global.get $g))
          {call_ref}
          ;; A direct call of a function that tail-calls through the table:
          ;; it may come back with another instance's context.
          (func $tail (param $i i32) (result i32)
            (return_call_indirect $t (type $bin) (i32.const 7) (i32.const 3) (local.get $i)))
          (func (export "via_tail") (param $i i32) (result i32 i32 i32)
            (call $tail (local.get $i))
            (i32.load (i32.const 0))
            (global.get $g))
          {extra})"#
    )
}

/// `call_ref` of a typed table's element.
const CALL_REF: &str = r#"
          (func (export "call_ref") (param $i i32) (result i32 i32 i32)
            (call_ref $bin (i32.const 7) (i32.const 3) (table.get $t (local.get $i)))
            (i32.load (i32.const 0))
            (global.get $g))"#;

/// A table of typed references, so `call_ref` can take its elements.
const TABLE: &str = "(table $t 2 (ref null $bin))";
/// Tables the host writes `Func`s into.
const FUNCREF_TABLE: &str = "(table $t 2 funcref)";
const EXPORTED_TABLE: &str = r#"(table $t (export "t") 2 funcref)"#;

fn engine(guard: bool) -> Engine {
    let mut config = Config::new();
    config
        .guard_regions(guard)
        .wasm_tail_call(true)
        .wasm_function_references(true);
    Engine::new(&config).expect("engine")
}

/// Instance `k` of `m` with `imports`, initialized.
fn instance(store: &mut Store<()>, m: &Module, imports: &[Extern], k: i32) -> Instance {
    let inst = Instance::new(&mut *store, m, imports).expect("instantiates");
    typed::<(), i32, ()>(store, &inst, "init")
        .call(&mut *store, k)
        .expect("init");
    inst
}

/// Calls element `i` of `caller`'s table through `call_indirect`,
/// `call_ref` and a tail call, and checks that the callee ran in instance
/// `callee` and the caller (instance `own`) saw its own state afterwards.
fn check_calls(store: &mut Store<()>, caller: &Instance, i: i32, callee: i32, own: i32) {
    for name in ["call", "call_ref", "via_tail"] {
        if caller.get_func(&mut *store, name).is_none() {
            continue;
        }
        let f = typed::<(), i32, (i32, i32, i32)>(store, caller, name);
        assert_eq!(
            f.call(&mut *store, i).expect(name),
            (expected(callee), own, own + 1),
            "{name} of element {i}: callee should run in instance {callee}, caller is {own}"
        );
    }
}

/// The own-references module: two instances, each calling its own
/// functions through its table, in turn.
#[test]
fn instances_of_an_own_references_module_keep_their_state() {
    both_modes(|guard| {
        let engine = engine(guard);
        let m = module(&engine, &wat("", TABLE, ""));
        let mut store = Store::new(&engine, ());
        let a = instance(&mut store, &m, &[], 1);
        let b = instance(&mut store, &m, &[], 2);
        for _ in 0..3 {
            check_calls(&mut store, &a, 0, 1, 1);
            check_calls(&mut store, &b, 0, 2, 2);
        }
    });
}

/// An exported table: the host puts B's `get` into A's table.
#[test]
fn exported_table_holds_another_instances_function() {
    both_modes(|guard| {
        let engine = engine(guard);
        let m = module(&engine, &wat("", EXPORTED_TABLE, ""));
        let mut store = Store::new(&engine, ());
        let a = instance(&mut store, &m, &[], 1);
        let b = instance(&mut store, &m, &[], 2);
        let b_get = b.get_func(&mut store, "get").expect("get");
        let table = a.get_table(&mut store, "t").expect("t");
        table.set(&mut store, 1, Val::FuncRef(Some(b_get))).unwrap();
        check_calls(&mut store, &a, 1, 2, 1);
        check_calls(&mut store, &a, 0, 1, 1);
        check_calls(&mut store, &b, 0, 2, 2);
    });
}

/// An exported mutable funcref global, copied into the table by wasm.
#[test]
fn exported_global_brings_another_instances_function() {
    both_modes(|guard| {
        let engine = engine(guard);
        let extra = r#"
          (global $r (export "r") (mut funcref) (ref.null func))
          (func (export "take") (table.set $t (i32.const 1) (global.get $r)))"#;
        let m = module(&engine, &wat("", FUNCREF_TABLE, extra));
        let mut store = Store::new(&engine, ());
        let a = instance(&mut store, &m, &[], 1);
        let b = instance(&mut store, &m, &[], 2);
        let b_get = b.get_func(&mut store, "get").expect("get");
        let global = a.get_global(&mut store, "r").expect("r");
        global.set(&mut store, Val::FuncRef(Some(b_get))).unwrap();
        typed::<(), (), ()>(&mut store, &a, "take")
            .call(&mut store, ())
            .unwrap();
        check_calls(&mut store, &a, 1, 2, 1);
        check_calls(&mut store, &a, 0, 1, 1);
    });
}

/// An export with a reference parameter, which stores it in the table.
#[test]
fn reference_parameter_brings_another_instances_function() {
    both_modes(|guard| {
        let engine = engine(guard);
        let extra = r#"
          (func (export "put") (param funcref) (table.set $t (i32.const 1) (local.get 0)))"#;
        let m = module(&engine, &wat("", FUNCREF_TABLE, extra));
        let mut store = Store::new(&engine, ());
        let a = instance(&mut store, &m, &[], 1);
        let b = instance(&mut store, &m, &[], 2);
        let b_get = b.get_func(&mut store, "get").expect("get");
        let put = a.get_func(&mut store, "put").expect("put");
        put.call(&mut store, &[Val::FuncRef(Some(b_get))], &mut [])
            .unwrap();
        check_calls(&mut store, &a, 1, 2, 1);
        check_calls(&mut store, &b, 0, 2, 2);
    });
}

/// An imported function, placed in the table by an element segment: A
/// imports B's `get` (and B a host function that names no instance).
#[test]
fn imported_function_of_another_instance_in_the_table() {
    both_modes(|guard| {
        let engine = engine(guard);
        let imports = r#"(import "env" "f" (func $f (param i32 i32) (result i32)))"#;
        let extra = "(elem (table $t) (i32.const 1) (ref null $bin) (ref.func $f))";
        let m = module(&engine, &wat(imports, TABLE, extra));
        let mut store = Store::new(&engine, ());
        let host = Func::wrap(&mut store, |a: i32, b: i32| a * 10 + b - 1);
        let b = instance(&mut store, &m, &[Extern::Func(host)], 2);
        let b_get = b.get_func(&mut store, "get").expect("get");
        let a = instance(&mut store, &m, &[Extern::Func(b_get)], 1);
        check_calls(&mut store, &a, 1, 2, 1);
        check_calls(&mut store, &a, 0, 1, 1);
        // B's element 1 is the host function: 7 * 10 + 3 - 1.
        let call = typed::<(), i32, (i32, i32, i32)>(&mut store, &b, "call");
        assert_eq!(call.call(&mut store, 1).unwrap(), (72, 2, 3));
    });
}
