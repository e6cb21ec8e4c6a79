//! Failed instantiations leave nothing behind that counts against the
//! store's limits, while anything another instance can still reach stays
//! valid and counted; and a memory's initial size is not committed when it is created
//! (explicit-check mode as well as guard regions).

use std::sync::Mutex;
use std::time::{Duration, Instant};
use wasmkern::{
    Config, Engine, Extern, Instance, Limits, RefType, Store, StoreLimits, StoreLimitsBuilder,
    Table, TableType, Trap, Val,
};

mod common;
use common::module;

/// Tests that measure the process's resident memory run alone.
static RSS_LOCK: Mutex<()> = Mutex::new(());

struct Data {
    limits: StoreLimits,
}

fn store_with(engine: &Engine, limits: StoreLimits) -> Store<Data> {
    let mut store = Store::new(engine, Data { limits });
    store.limiter(|d| &mut d.limits);
    store
}

/// A 2-page memory whose data segment is out of bounds.
const BAD_DATA: &str = r#"(module (memory 2) (data (i32.const 131070) "abc"))"#;
/// A start function that traps.
const BAD_START: &str = r#"(module (memory 2) (func $s unreachable) (start $s))"#;
const GOOD: &str = r#"(module (memory 2)
    (func (export "f") (result i32) (i32.const 42)))"#;

#[test]
fn failed_instantiations_do_not_count_against_the_instance_limit() {
    let _one = RSS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    for guard in [false, true] {
        let engine = Engine::new(Config::new().guard_regions(guard)).unwrap();
        for bad in [BAD_DATA, BAD_START] {
            let bad = module(&engine, bad);
            let good = module(&engine, GOOD);
            // Two instances and 4 pages in all: each failure created a
            // memory of 2 pages, which must be given back.
            let limits = StoreLimitsBuilder::new()
                .instances(2)
                .total_memory_pages(4)
                .build();
            let mut store = store_with(&engine, limits);
            for _ in 0..2 {
                let err = Instance::new(&mut store, &bad, &[]).unwrap_err();
                assert!(
                    matches!(
                        err.trap(),
                        Some(Trap::MemoryOutOfBounds | Trap::Unreachable)
                    ),
                    "{err}"
                );
            }
            for _ in 0..2 {
                let i = Instance::new(&mut store, &good, &[]).unwrap();
                let f = i.get_typed_func::<(), i32>(&store, "f").unwrap();
                assert_eq!(f.call(&mut store, ()).unwrap(), 42);
            }
            // The limit still holds for good instances.
            let err = Instance::new(&mut store, &good, &[]).unwrap_err();
            assert!(err.to_string().contains("too many instances"), "{err}");
        }
    }
}

/// An instance whose element segment wrote its function into an imported
/// table before its data segment failed: the function stays callable
/// through the table, from another instance, and the instance that stays
/// counts against the instance limit, so failing instantiations cannot
/// fill the store without bound.
#[test]
fn a_function_left_in_an_imported_table_stays_valid_and_counts() {
    let _one = RSS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let engine = Engine::default();
    let limits = StoreLimitsBuilder::new().instances(3).build();
    let mut store = store_with(&engine, limits);
    let table = Table::new(
        &mut store,
        TableType {
            elem: RefType::FuncRef,
            limits: Limits { min: 1, max: None },
            table64: false,
        },
        Val::FuncRef(None),
    )
    .unwrap();
    let writer = module(
        &engine,
        r#"(module
            (import "env" "t" (table 1 funcref))
            (memory 1)
            (func $seven (result i32) (i32.const 7))
            (elem (i32.const 0) $seven)
            (data (i32.const 65535) "xy"))"#,
    );
    // A start function that traps after its module could hand things out
    // through its imports: that instance stays too.
    let trapping_start = module(
        &engine,
        r#"(module
            (import "env" "t" (table 1 funcref))
            (func $s unreachable) (start $s))"#,
    );
    let err = Instance::new(&mut store, &writer, &[Extern::Table(table)]).unwrap_err();
    assert_eq!(err.trap(), Some(Trap::MemoryOutOfBounds), "{err}");
    let err = Instance::new(&mut store, &trapping_start, &[Extern::Table(table)]).unwrap_err();
    assert_eq!(err.trap(), Some(Trap::Unreachable), "{err}");
    let caller = module(
        &engine,
        r#"(module
            (import "env" "t" (table 1 funcref))
            (type $r (func (result i32)))
            (func (export "call") (result i32) (call_indirect (type $r) (i32.const 0))))"#,
    );
    let i = Instance::new(&mut store, &caller, &[Extern::Table(table)]).unwrap();
    let call = i.get_typed_func::<(), i32>(&store, "call").unwrap();
    assert_eq!(call.call(&mut store, ()).unwrap(), 7);
    // Three instances stay: the limit is reached, for failing and
    // succeeding instantiations alike.
    for m in [&writer, &caller] {
        let err = Instance::new(&mut store, m, &[Extern::Table(table)]).unwrap_err();
        assert!(err.to_string().contains("too many instances"), "{err}");
    }
    assert_eq!(call.call(&mut store, ()).unwrap(), 7);
}

/// Resident memory of this process in bytes (Linux).
fn rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[test]
fn a_4_gib_memory_is_not_committed_at_instantiation() {
    let _one = RSS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    for guard in [false, true] {
        let engine = Engine::new(Config::new().guard_regions(guard)).unwrap();
        let m = module(
            &engine,
            r#"(module (memory (export "m") 65536)
                (func (export "poke") (param i32) (i32.store8 (local.get 0) (i32.const 1)))
                (func (export "peek") (param i32) (result i32) (i32.load8_u (local.get 0))))"#,
        );
        let mut store = Store::new(&engine, ());
        let before = rss();
        let start = Instant::now();
        let i = Instance::new(&mut store, &m, &[]).unwrap();
        let took = start.elapsed();
        let after = rss();
        assert!(
            took < Duration::from_millis(100),
            "guard {guard}: instantiating a 4 GiB memory took {took:?}"
        );
        match (before, after) {
            (Some(before), Some(after)) => assert!(
                after.saturating_sub(before) < 64 << 20,
                "guard {guard}: resident memory grew by {} MiB",
                (after - before) >> 20
            ),
            #[cfg(target_os = "linux")]
            _ => panic!("cannot read /proc/self/statm"),
            #[cfg(not(target_os = "linux"))]
            _ => println!("resident memory not checked: no /proc/self/statm"),
        }
        // The memory is all there: its last byte reads zero and takes a
        // write.
        let poke = i.get_typed_func::<i32, ()>(&store, "poke").unwrap();
        let peek = i.get_typed_func::<i32, i32>(&store, "peek").unwrap();
        assert_eq!(peek.call(&mut store, -1).unwrap(), 0);
        poke.call(&mut store, -1).unwrap();
        assert_eq!(peek.call(&mut store, -1).unwrap(), 1);
        assert_eq!(
            i.get_memory(&store, "m").unwrap().data_size(&store),
            1 << 32
        );
    }
}
