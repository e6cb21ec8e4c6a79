//! A call through a table into another instance's function runs with that
//! instance's context (its globals and memory), and the caller finds its
//! own again when the call returns: the switch of the context register
//! around `call_indirect` and `call_ref`, in both memory modes.

use wasmkern::{Config, Engine, Extern, Instance, Store};

mod common;
use common::module;

/// Reads its own global and memory: 7 + 42 in its own instance, anything
/// else with another instance's context.
const CALLEE: &str = r#"(module
    (global $g (mut i32) (i32.const 7))
    (memory 1)
    (data (i32.const 16) "\2a")
    (func (export "own") (result i32)
      (i32.add (global.get $g) (i32.load8_u (i32.const 16)))))"#;

/// Calls the imported function through its table and by reference, then
/// reads its own global and memory (1000 + 300).
const CALLER: &str = r#"(module
    (type $t (func (result i32)))
    (import "callee" "own" (func $own (result i32)))
    (table 1 funcref)
    (elem (i32.const 0) $own)
    (elem declare func $own)
    (global $g (mut i32) (i32.const 1000))
    (memory 1)
    (data (i32.const 16) "\2c\01")
    (func (export "indirect") (param i32) (result i32)
      (i32.add
        (call_indirect (type $t) (local.get 0))
        (i32.add (global.get $g) (i32.load16_u (i32.const 16)))))
    (func (export "by_ref") (result i32)
      (i32.add
        (call_ref $t (ref.func $own))
        (i32.add (global.get $g) (i32.load16_u (i32.const 16))))))"#;

#[test]
fn calls_into_another_instance_switch_contexts_and_back() {
    for guard in [false, true] {
        let engine = Engine::new(Config::new().guard_regions(guard)).unwrap();
        let mut store = Store::new(&engine, ());
        let callee = module(&engine, CALLEE);
        let callee = Instance::new(&mut store, &callee, &[]).unwrap();
        let own = callee.get_func(&mut store, "own").unwrap();
        let caller = module(&engine, CALLER);
        let caller = Instance::new(&mut store, &caller, &[Extern::Func(own)]).unwrap();
        let indirect = caller
            .get_typed_func::<i32, i32>(&mut store, "indirect")
            .unwrap();
        let by_ref = caller
            .get_typed_func::<(), i32>(&mut store, "by_ref")
            .unwrap();
        // 49 from the callee's instance, 1300 from the caller's.
        for _ in 0..2 {
            assert_eq!(indirect.call(&mut store, 0).unwrap(), 1349, "guard {guard}");
            assert_eq!(by_ref.call(&mut store, ()).unwrap(), 1349, "guard {guard}");
        }
    }
}
