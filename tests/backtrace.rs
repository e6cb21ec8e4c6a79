//! Traps carry the wasm call stack, with names from the `name` section and
//! the module offsets of the trapping instruction and of each call.

use wasmkern::{Engine, Instance, Module, Store};

#[test]
fn trap_backtrace_names_frames_and_offsets() {
    let wat = r#"(module
        (func $inner (param i32) (result i32)
          (i32.div_u (i32.const 1) (local.get 0)))
        (func $middle (param i32) (result i32)
          (call $inner (local.get 0)))
        (func (export "outer") (param i32) (result i32)
          (i32.add (call $middle (local.get 0)) (i32.const 1))))"#;
    let bytes = wat::parse_str(wat).unwrap();
    let engine = Engine::default();
    let module = Module::new(&engine, &bytes).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let outer = instance
        .get_typed_func::<i32, i32>(&mut store, "outer")
        .unwrap();
    assert_eq!(outer.call(&mut store, 1).unwrap(), 2);
    let err = outer.call(&mut store, 0).unwrap_err();
    assert_eq!(
        err.trap().map(|t| t.to_string()),
        Some("integer divide by zero".into())
    );
    let frames = err.backtrace();
    let names: Vec<_> = frames
        .iter()
        .map(|f| (f.func_index, f.func_name.clone()))
        .collect();
    assert_eq!(
        names,
        [
            (0, Some("inner".to_string())),
            (1, Some("middle".to_string())),
            (2, None)
        ],
        "frames: {frames:?}"
    );
    // Offsets point at the instructions: i32.div_u (0x6e) and the calls (0x10).
    assert_eq!(bytes[frames[0].module_offset as usize], 0x6e);
    assert_eq!(bytes[frames[1].module_offset as usize], 0x10);
    assert_eq!(bytes[frames[2].module_offset as usize], 0x10);
    assert_eq!(
        frames[0].to_string(),
        format!("inner (func 0) at offset {:#x}", frames[0].module_offset)
    );
    // The store stays usable and a later trap has its own stack.
    assert_eq!(outer.call(&mut store, 2).unwrap(), 1);
}

#[test]
fn stack_overflow_has_a_backtrace() {
    let wat = r#"(module (func $down (export "down") (param i32) (result i32)
        (call $down (i32.add (local.get 0) (i32.const 1)))))"#;
    let engine = Engine::default();
    let module = Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let down = instance
        .get_typed_func::<i32, i32>(&mut store, "down")
        .unwrap();
    let err = down.call(&mut store, 0).unwrap_err();
    assert_eq!(
        err.trap().map(|t| t.to_string()),
        Some("call stack exhausted".into())
    );
    let frames = err.backtrace();
    assert!(frames.len() > 100, "a deep stack, got {}", frames.len());
    assert!(
        frames
            .iter()
            .all(|f| f.func_name.as_deref() == Some("down"))
    );
}

/// `memory.fill` and `memory.copy` run inline: their bounds traps point at
/// the operator (the 0xfc prefix of its encoding), in the right frame.
#[test]
fn bulk_memory_trap_points_at_the_operator() {
    let wat = r#"(module (memory 1)
        (func $fill (param i32)
          (memory.fill (local.get 0) (i32.const 0) (i32.const 1)))
        (func $copy (param i32)
          (memory.copy (i32.const 0) (local.get 0) (i32.const 1)))
        (func (export "fill") (param i32) (call $fill (local.get 0)))
        (func (export "copy") (param i32) (call $copy (local.get 0))))"#;
    let bytes = wat::parse_str(wat).unwrap();
    let engine = Engine::default();
    let module = Module::new(&engine, &bytes).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    for (name, index, sub) in [("fill", 0, 11), ("copy", 1, 10)] {
        let f = instance
            .get_typed_func::<i32, ()>(&mut store, name)
            .unwrap();
        f.call(&mut store, 65535).unwrap();
        let err = f.call(&mut store, 65536).unwrap_err();
        assert_eq!(
            err.trap().map(|t| t.to_string()),
            Some("out of bounds memory access".into())
        );
        let frames = err.backtrace();
        assert_eq!(frames.len(), 2, "{name}: {frames:?}");
        assert_eq!(frames[0].func_index, index);
        let at = frames[0].module_offset as usize;
        assert_eq!(bytes[at..at + 2], [0xfc, sub], "{name}");
    }
}
