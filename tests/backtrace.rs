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

/// With parallel compilation each thread puts its functions in its own
/// buffer, and the module's code is those buffers one after another: calls
/// between functions of different threads, backtrace sites and (with guard
/// regions) fault sites must all land where the sequential compiler puts
/// them. 64 functions, each calling the previous one, so a module split
/// between threads (every other function) is crossed 63 times.
#[test]
fn functions_compiled_on_several_threads() {
    const N: u32 = 64;
    let mut wat = String::from(
        "(module (memory 1)\n(func $f0 (param i32) (result i32) (i32.div_u (i32.const 100) (local.get 0)))\n",
    );
    for k in 1..N {
        wat += &format!(
            "(func $f{k} (param i32) (result i32)
                (if (i32.eq (local.get 0) (i32.const {trap}))
                    (then (drop (i32.load (i32.const 0x7fff0000)))))
                (i32.add (call $f{prev} (local.get 0)) (i32.const {k})))\n",
            trap = 1000 + k,
            prev = k - 1
        );
    }
    wat += &format!("(export \"top\" (func $f{}))\n)", N - 1);
    let bytes = wat::parse_str(&wat).unwrap();
    let mut seen = Vec::new();
    for guard in [false, true] {
        for parallel in [false, true] {
            let engine = Engine::new(
                wasmkern::Config::new()
                    .parallel_compilation(parallel)
                    .guard_regions(guard),
            )
            .unwrap();
            let module = Module::new(&engine, &bytes).unwrap();
            let mut store = Store::new(&engine, ());
            let instance = Instance::new(&mut store, &module, &[]).unwrap();
            let top = instance
                .get_typed_func::<i32, i32>(&mut store, "top")
                .unwrap();
            let mode = format!("guard {guard}, parallel {parallel}");
            assert_eq!(top.call(&mut store, 1).unwrap(), 100 + 2016, "{mode}");
            // Division by zero in function 0, out of bounds in function 33.
            let mut traces = Vec::new();
            for (arg, trapping, opcode) in [(0, 0, 0x6e), (1033, 33, 0x28)] {
                let err = top.call(&mut store, arg).unwrap_err();
                let frames = err.backtrace();
                let funcs: Vec<u32> = frames.iter().map(|f| f.func_index).collect();
                let expected: Vec<u32> = (trapping..N).collect();
                assert_eq!(funcs, expected, "{mode}");
                assert_eq!(bytes[frames[0].module_offset as usize], opcode, "{mode}");
                for f in &frames[1..] {
                    assert_eq!(bytes[f.module_offset as usize], 0x10, "{mode}: {f}");
                }
                traces.push(frames.to_vec());
            }
            seen.push(traces);
        }
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]));
}
