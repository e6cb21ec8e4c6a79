//! The compiler's side of the custom-page-sizes proposal: `memory.size`
//! and `memory.grow` of a memory with 1-byte pages count bytes, and its
//! loads and stores trap exactly at its length in bytes, with explicit
//! bounds checks and with `Config::guard_regions` (where such a memory
//! keeps explicit checks, since guard pages cover whole host pages).

use wasmkern::{Config, Engine, Instance, Module, Store, TypedFunc};

mod common;
use common::assert_oob;

const MODULE: &str = r#"(module
  (memory (export "m") 0 70000 (pagesize 1))
  (func (export "size") (result i32) (memory.size))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "load32") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "store8") (param i32 i32) (i32.store8 (local.get 0) (local.get 1))))"#;

struct Guest {
    store: Store<()>,
    size: TypedFunc<(), i32>,
    grow: TypedFunc<i32, i32>,
    load8: TypedFunc<i32, i32>,
    load32: TypedFunc<i32, i32>,
    store8: TypedFunc<(i32, i32), ()>,
}

fn guest(guard_regions: bool) -> Guest {
    let mut config = Config::new();
    config
        .wasm_custom_page_sizes(true)
        .guard_regions(guard_regions);
    let engine = Engine::new(&config).expect("engine");
    let bytes = wat::parse_str(MODULE).expect("test module parses");
    let module = Module::new(&engine, bytes).expect("module with 1-byte pages compiles");
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).expect("instance");
    Guest {
        size: instance.get_typed_func(&mut store, "size").unwrap(),
        grow: instance.get_typed_func(&mut store, "grow").unwrap(),
        load8: instance.get_typed_func(&mut store, "load8").unwrap(),
        load32: instance.get_typed_func(&mut store, "load32").unwrap(),
        store8: instance.get_typed_func(&mut store, "store8").unwrap(),
        store,
    }
}

fn grown_byte_by_byte(guard_regions: bool) {
    let mut g = guest(guard_regions);
    assert_eq!(g.size.call(&mut g.store, ()).unwrap(), 0);
    assert_oob(g.load8.call(&mut g.store, 0), "load8 of an empty memory");
    for n in 0..100 {
        // Each growth by one page adds exactly one byte.
        assert_eq!(g.grow.call(&mut g.store, 1).unwrap(), n, "grow at {n}");
        assert_eq!(g.size.call(&mut g.store, ()).unwrap(), n + 1);
        g.store8.call(&mut g.store, (n, n + 1)).unwrap();
        assert_eq!(g.load8.call(&mut g.store, n).unwrap(), n + 1);
        // The byte just past the length traps, load and store alike.
        assert_oob(g.load8.call(&mut g.store, n + 1), "load8 past the end");
        assert_oob(
            g.store8.call(&mut g.store, (n + 1, 0)),
            "store8 past the end",
        );
    }
    // A 4-byte load ending exactly at the length succeeds; one byte later
    // it traps.
    assert_eq!(
        g.load32.call(&mut g.store, 96).unwrap(),
        i32::from_le_bytes([97, 98, 99, 100])
    );
    assert_oob(g.load32.call(&mut g.store, 97), "load32 straddling the end");
    // Growing by more than a host page at once, then past the maximum.
    assert_eq!(g.grow.call(&mut g.store, 65436).unwrap(), 100);
    assert_eq!(g.size.call(&mut g.store, ()).unwrap(), 65536);
    assert_eq!(g.load8.call(&mut g.store, 65535).unwrap(), 0);
    assert_oob(g.load8.call(&mut g.store, 65536), "load8 at 64 KiB");
    assert_eq!(g.grow.call(&mut g.store, 4465).unwrap(), -1, "beyond 70000");
    assert_eq!(g.grow.call(&mut g.store, 4464).unwrap(), 65536);
    assert_eq!(g.size.call(&mut g.store, ()).unwrap(), 70000);
    assert_oob(g.load8.call(&mut g.store, 70000), "load8 at the maximum");
    assert_eq!(g.grow.call(&mut g.store, 0).unwrap(), 70000);
}

#[test]
fn one_byte_pages_with_explicit_checks() {
    grown_byte_by_byte(false);
}

#[test]
fn one_byte_pages_with_guard_regions() {
    grown_byte_by_byte(true);
}

/// With guard regions, memories of 64 KiB pages keep counting in 64 KiB
/// pages next to the 1-byte ones.
#[test]
fn default_pages_still_count_64_kib() {
    for guard_regions in [false, true] {
        let mut config = Config::new();
        config
            .wasm_custom_page_sizes(true)
            .guard_regions(guard_regions);
        let engine = Engine::new(&config).unwrap();
        let bytes = wat::parse_str(
            r#"(module (memory 1 3 (pagesize 65536))
              (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
              (func (export "size") (result i32) (memory.size))
              (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0))))"#,
        )
        .unwrap();
        let module = Module::new(&engine, bytes).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let grow = instance
            .get_typed_func::<i32, i32>(&mut store, "grow")
            .unwrap();
        let size = instance
            .get_typed_func::<(), i32>(&mut store, "size")
            .unwrap();
        let load8 = instance
            .get_typed_func::<i32, i32>(&mut store, "load8")
            .unwrap();
        assert_eq!(grow.call(&mut store, 1).unwrap(), 1);
        assert_eq!(size.call(&mut store, ()).unwrap(), 2);
        assert_eq!(load8.call(&mut store, 131071).unwrap(), 0);
        assert_oob(load8.call(&mut store, 131072), "load8 at 128 KiB");
        assert_eq!(grow.call(&mut store, 2).unwrap(), -1);
    }
}

/// With fuel, growing a memory of 1-byte pages costs one unit per 64 bytes
/// added, as growing one of 64 KiB pages does (1,024 per page).
#[test]
fn growth_fuel_counts_bytes() {
    let mut config = Config::new();
    config.wasm_custom_page_sizes(true).consume_fuel(true);
    let engine = Engine::new(&config).unwrap();
    for (page_size, delta, bytes) in [(1, 6400, 6400u64), (65536, 2, 131072)] {
        let text = format!(
            r#"(module (memory 0 (pagesize {page_size}))
              (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#
        );
        let module = Module::new(&engine, wat::parse_str(&text).unwrap()).unwrap();
        let mut store = Store::new(&engine, ());
        store.set_fuel(1_000_000).unwrap();
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let grow = instance
            .get_typed_func::<i32, i32>(&mut store, "grow")
            .unwrap();
        let mut spent = |delta| {
            let before = store.get_fuel().unwrap();
            grow.call(&mut store, delta).unwrap();
            before - store.get_fuel().unwrap()
        };
        let nothing = spent(0);
        let grown = spent(delta);
        assert_eq!(grown - nothing, bytes / 64, "page size {page_size}");
    }
}
