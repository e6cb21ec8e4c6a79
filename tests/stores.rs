//! Stores of constants, which the compiler emits as `mov [mem], imm`: each
//! width writes exactly its bytes, 64-bit constants with and without a
//! sign-extended 32-bit form, and a store out of bounds traps without
//! writing, with explicit checks and with guard regions.

use wasmkern::{Config, Engine, Instance, Module, Store, Trap};

const WAT: &str = r#"(module
    (memory (export "memory") 1)
    (func (export "fill") (param $p i32)
      (i64.store (local.get $p) (i64.const -1))
      (i64.store offset=8 (local.get $p) (i64.const -1)))
    (func (export "store8") (param $p i32) (i32.store8 (local.get $p) (i32.const 0x1a2)))
    (func (export "store16") (param $p i32) (i32.store16 (local.get $p) (i32.const 0x12345)))
    (func (export "store32") (param $p i32) (i32.store (local.get $p) (i32.const -2)))
    (func (export "store64_small") (param $p i32) (i64.store (local.get $p) (i64.const -3)))
    (func (export "store64_wide") (param $p i32)
      (i64.store (local.get $p) (i64.const 0x1122334455667788)))
    (func (export "store64_u32") (param $p i32) (i64.store (local.get $p) (i64.const 0x80000000)))
    (func (export "store64_as32") (param $p i32)
      (i64.store32 (local.get $p) (i64.const 0x1122334455667788))))"#;

#[test]
fn constant_stores_write_exactly_their_bytes() {
    let expected: [(&str, &[u8]); 7] = [
        ("store8", &[0xa2]),
        ("store16", &[0x45, 0x23]),
        ("store32", &(-2i32).to_le_bytes()),
        ("store64_small", &(-3i64).to_le_bytes()),
        ("store64_wide", &0x1122334455667788u64.to_le_bytes()),
        ("store64_u32", &0x80000000u64.to_le_bytes()),
        ("store64_as32", &0x55667788u32.to_le_bytes()),
    ];
    for guard in [false, true] {
        let engine = Engine::new(Config::new().guard_regions(guard)).unwrap();
        let module = Module::new(&engine, wat::parse_str(WAT).unwrap()).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let memory = instance.get_memory(&store, "memory").unwrap();
        let fill = instance.get_typed_func::<i32, ()>(&store, "fill").unwrap();
        for (name, bytes) in expected {
            let f = instance.get_typed_func::<i32, ()>(&store, name).unwrap();
            // In bounds, one byte into a filled area: only `bytes` change.
            fill.call(&mut store, 100).unwrap();
            f.call(&mut store, 101).unwrap();
            let mut want = [0xff; 16];
            want[1..1 + bytes.len()].copy_from_slice(bytes);
            assert_eq!(memory.data(&store)[100..116], want, "{name} guard {guard}");
            // Ending at the last byte, then one past it: a trap that
            // writes nothing.
            let last = 65_536 - bytes.len() as i32;
            fill.call(&mut store, 65_520).unwrap();
            f.call(&mut store, last).unwrap();
            assert_eq!(memory.data(&store)[last as usize..], *bytes, "{name}");
            fill.call(&mut store, 65_520).unwrap();
            let err = f.call(&mut store, last + 1).unwrap_err();
            assert_eq!(
                err.trap(),
                Some(Trap::MemoryOutOfBounds),
                "{name} guard {guard}"
            );
            assert_eq!(
                memory.data(&store)[65_520..],
                [0xff; 16],
                "{name} guard {guard}"
            );
        }
    }
}
