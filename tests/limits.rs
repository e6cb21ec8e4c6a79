//! Resource limits: growth beyond a limit is -1 for the guest, creation
//! beyond a limit fails instantiation with a clear message, an embedder's
//! limiter decides, the wasm stack and the code size are bounded.

use wasmkern::{
    Config, Engine, ErrorKind, Instance, Memory, MemoryType, Module, ResourceLimiter, Store,
    StoreLimits, StoreLimitsBuilder, Table, TableType, Trap, Val,
};

const GROW: &str = r#"(module
    (memory (export "mem") 1)
    (table (export "tab") 1 funcref)
    (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
    (func (export "size") (result i32) (memory.size))
    (func (export "tgrow") (param i32) (result i32)
        (table.grow (ref.null func) (local.get 0)))
    (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1))))"#;

struct Data {
    limits: StoreLimits,
}

fn store_with(engine: &Engine, limits: StoreLimits) -> Store<Data> {
    let mut store = Store::new(engine, Data { limits });
    store.limiter(|d| &mut d.limits);
    store
}

#[test]
fn memory_grow_beyond_the_limit_returns_minus_one() {
    let engine = Engine::default();
    let module = Module::new(&engine, wat::parse_str(GROW).unwrap()).unwrap();
    let mut store = store_with(&engine, StoreLimitsBuilder::new().memory_pages(4).build());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let grow = instance.get_typed_func::<i32, i32>(&store, "grow").unwrap();
    let size = instance.get_typed_func::<(), i32>(&store, "size").unwrap();
    assert_eq!(grow.call(&mut store, 2).unwrap(), 1);
    assert_eq!(grow.call(&mut store, 2).unwrap(), -1, "5 pages > 4");
    assert_eq!(size.call(&mut store, ()).unwrap(), 3);
    assert_eq!(grow.call(&mut store, 1).unwrap(), 3);
    assert_eq!(grow.call(&mut store, 1).unwrap(), -1);
    assert_eq!(
        grow.call(&mut store, 0).unwrap(),
        4,
        "growing by 0 always works"
    );
    // The host API refuses too, with an error.
    let mem = instance.get_memory(&store, "mem").unwrap();
    let err = mem.grow(&mut store, 1).unwrap_err();
    assert!(err.to_string().contains("resource limiter"), "{err}");
    assert_eq!(mem.size(&store), 4);
    // The guest still runs: the last page is usable.
    let st = instance
        .get_typed_func::<(i32, i32), ()>(&store, "store")
        .unwrap();
    st.call(&mut store, (4 * 65536 - 4, 7)).unwrap();
}

#[test]
fn total_memory_limit_spans_memories() {
    let engine = Engine::default();
    let module = Module::new(&engine, wat::parse_str(GROW).unwrap()).unwrap();
    let mut store = store_with(
        &engine,
        StoreLimitsBuilder::new().total_memory_pages(5).build(),
    );
    let a = Instance::new(&mut store, &module, &[]).unwrap();
    let b = Instance::new(&mut store, &module, &[]).unwrap();
    let grow_a = a.get_typed_func::<i32, i32>(&store, "grow").unwrap();
    let grow_b = b.get_typed_func::<i32, i32>(&store, "grow").unwrap();
    assert_eq!(grow_a.call(&mut store, 2).unwrap(), 1); // 3 + 1 pages
    assert_eq!(grow_b.call(&mut store, 2).unwrap(), -1); // would be 6
    assert_eq!(grow_b.call(&mut store, 1).unwrap(), 1); // 3 + 2 pages
    assert_eq!(grow_a.call(&mut store, 1).unwrap(), -1);
    // A third instance's one-page memory does not fit.
    let err = Instance::new(&mut store, &module, &[]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Instantiation);
    assert!(
        err.to_string().contains("resource limit exceeded: memory"),
        "{err}"
    );
    assert_eq!(store.data().limits.total_memory(), 5 * 65536);
}

#[test]
fn table_grow_beyond_the_limit_returns_minus_one() {
    let engine = Engine::default();
    let module = Module::new(&engine, wat::parse_str(GROW).unwrap()).unwrap();
    let mut store = store_with(
        &engine,
        StoreLimitsBuilder::new().table_elements(10).build(),
    );
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let tgrow = instance
        .get_typed_func::<i32, i32>(&store, "tgrow")
        .unwrap();
    assert_eq!(tgrow.call(&mut store, 9).unwrap(), 1);
    assert_eq!(tgrow.call(&mut store, 1).unwrap(), -1);
    let tab = instance.get_table(&store, "tab").unwrap();
    assert_eq!(tab.size(&store), 10);
    assert!(tab.grow(&mut store, 1, Val::FuncRef(None)).is_err());
    // Creating a bigger table fails.
    let err = Table::new(
        &mut store,
        TableType {
            elem: wasmkern::RefType::FuncRef,
            limits: wasmkern::Limits { min: 11, max: None },
            table64: false,
        },
        Val::FuncRef(None),
    )
    .unwrap_err();
    assert!(err.to_string().contains("table minimum size"), "{err}");
}

#[test]
fn instantiation_beyond_count_limits_fails_clearly() {
    let engine = Engine::default();
    let module = Module::new(&engine, wat::parse_str(GROW).unwrap()).unwrap();

    let mut store = store_with(&engine, StoreLimitsBuilder::new().instances(2).build());
    Instance::new(&mut store, &module, &[]).unwrap();
    Instance::new(&mut store, &module, &[]).unwrap();
    let err = Instance::new(&mut store, &module, &[]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Instantiation);
    assert_eq!(
        err.to_string(),
        "resource limit exceeded: too many instances in the store: the limit is 2"
    );

    let mut store = store_with(&engine, StoreLimitsBuilder::new().memories(1).build());
    Instance::new(&mut store, &module, &[]).unwrap();
    let err = Instance::new(&mut store, &module, &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "resource limit exceeded: too many memories in the store: the limit is 1"
    );
    let err = Memory::new(&mut store, MemoryType::new(0, None)).unwrap_err();
    assert!(err.to_string().contains("too many memories"), "{err}");

    let mut store = store_with(&engine, StoreLimitsBuilder::new().tables(0).build());
    let err = Instance::new(&mut store, &module, &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "resource limit exceeded: too many tables in the store: the limit is 0"
    );

    // A memory whose minimum is above the per-memory limit.
    let big = Module::new(&engine, wat::parse_str("(module (memory 10))").unwrap()).unwrap();
    let mut store = store_with(&engine, StoreLimitsBuilder::new().memory_pages(9).build());
    let err = Instance::new(&mut store, &big, &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "resource limit exceeded: memory minimum size refused by the store's limiter: 10 pages"
    );
}

/// A limiter that records what it was asked and allows growth in steps of
/// at most two pages, and fails outright past 100 table elements.
#[derive(Default)]
struct Stepper {
    asked: Vec<(usize, usize, Option<usize>)>,
}

impl ResourceLimiter for Stepper {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmkern::Result<bool> {
        self.asked.push((current, desired, maximum));
        Ok(desired - current <= 2 * 65536)
    }

    fn table_growing(
        &mut self,
        _current: u32,
        desired: u32,
        _maximum: Option<u32>,
    ) -> wasmkern::Result<bool> {
        if desired > 100 {
            return Err(wasmkern::Error::msg("table too big for this embedder"));
        }
        Ok(true)
    }
}

#[test]
fn an_embedder_limiter_decides_growth() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        wat::parse_str(GROW.replace(
            "(memory (export \"mem\") 1)",
            "(memory (export \"mem\") 1 8)",
        ))
        .unwrap(),
    )
    .unwrap();
    let mut store = Store::new(&engine, Stepper::default());
    store.limiter(|s| s);
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let grow = instance.get_typed_func::<i32, i32>(&store, "grow").unwrap();
    assert_eq!(grow.call(&mut store, 3).unwrap(), -1);
    assert_eq!(grow.call(&mut store, 2).unwrap(), 1);
    // Beyond the declared maximum: refused before the limiter is asked.
    assert_eq!(grow.call(&mut store, 100).unwrap(), -1);
    let p = 65536;
    assert_eq!(
        store.data().asked,
        [
            (0, p, Some(8 * p)),
            (p, 4 * p, Some(8 * p)),
            (p, 3 * p, Some(8 * p))
        ]
    );
    // A limiter error ends the call with that error.
    let tgrow = instance
        .get_typed_func::<i32, i32>(&store, "tgrow")
        .unwrap();
    assert_eq!(tgrow.call(&mut store, 50).unwrap(), 1);
    let err = tgrow.call(&mut store, 100).unwrap_err();
    assert_eq!(err.to_string(), "table too big for this embedder");
    assert_eq!(
        tgrow.call(&mut store, 1).unwrap(),
        51,
        "the store is usable"
    );
}

#[test]
fn without_a_limiter_only_declared_maxima_apply() {
    let engine = Engine::default();
    let module = Module::new(&engine, wat::parse_str(GROW).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let grow = instance.get_typed_func::<i32, i32>(&store, "grow").unwrap();
    assert_eq!(grow.call(&mut store, 100).unwrap(), 1);
    assert_eq!(grow.call(&mut store, 65536).unwrap(), -1);
}

const DEEP: &str = r#"(module
    (func $deep (export "deep") (param i32) (result i32)
        (if (result i32) (i32.eqz (local.get 0))
            (then (i32.const 0))
            (else (i32.add (i32.const 1)
                (call $deep (i32.sub (local.get 0) (i32.const 1))))))))"#;

#[test]
fn a_small_wasm_stack_traps_deep_recursion() {
    let mut config = Config::new();
    config.max_wasm_stack(64 << 10);
    let engine = Engine::new(&config).unwrap();
    let module = Module::new(&engine, wat::parse_str(DEEP).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let deep = instance.get_typed_func::<i32, i32>(&store, "deep").unwrap();
    assert_eq!(deep.call(&mut store, 10).unwrap(), 10);
    let err = deep.call(&mut store, 100_000).unwrap_err();
    assert_eq!(err.trap(), Some(Trap::StackOverflow));
    assert_eq!(err.to_string(), "call stack exhausted");
    // The store is usable afterwards, and the same depth works with the
    // default 1 MiB stack.
    assert_eq!(deep.call(&mut store, 100).unwrap(), 100);
    let engine = Engine::default();
    let module = Module::new(&engine, wat::parse_str(DEEP).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let deep = instance.get_typed_func::<i32, i32>(&store, "deep").unwrap();
    assert_eq!(deep.call(&mut store, 5_000).unwrap(), 5_000);
    // Below the minimum stack size the engine is refused.
    let mut config = Config::new();
    config.max_wasm_stack(4096);
    assert!(Engine::new(&config).is_err());
}

/// Leaf functions with small frames skip the stack check (their callers'
/// checks leave a margin far larger); a leaf with a large frame still
/// checks. Recursing to exhaustion with both leaves called at every level
/// traps cleanly, with the store usable afterwards.
#[test]
fn leaves_near_the_stack_limit() {
    let wat = r#"(module
        (func $small (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
        (func $big (param i32) (result i32) (local LOCALS)
            (local.set 599 (i64.extend_i32_u (local.get 0)))
            (i32.wrap_i64 (local.get 599)))
        (func $down (export "down") (param i32) (result i32)
            (drop (call $small (local.get 0)))
            (drop (call $big (local.get 0)))
            (if (result i32) (i32.eqz (local.get 0))
              (then (i32.const 0))
              (else (i32.add (i32.const 1)
                (call $down (i32.sub (local.get 0) (i32.const 1))))))))"#
        .replace("LOCALS", &"i64 ".repeat(600));
    let mut config = Config::new();
    config.max_wasm_stack(64 << 10);
    let engine = Engine::new(&config).unwrap();
    let module = Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let down = instance.get_typed_func::<i32, i32>(&store, "down").unwrap();
    assert_eq!(down.call(&mut store, 50).unwrap(), 50);
    for depth in [1_000, 2_000, 100_000] {
        let err = down.call(&mut store, depth).unwrap_err();
        assert_eq!(err.trap(), Some(Trap::StackOverflow), "depth {depth}");
    }
    assert_eq!(down.call(&mut store, 50).unwrap(), 50);
}

/// A frame bigger than `abi::SHORT_CHECK_FRAME_MAX` (16 KiB) is checked
/// out of line (the prologue jumps to a check that `rsp - frame` did not
/// wrap, then back to the limit check). With frames of at least 40,000
/// bytes (5,000 `i64` locals, all written) on a 256 KiB stack, of which
/// the limit keeps the lowest 32 KiB, six activations cannot fit but five
/// can: the check must count the whole frame.
#[test]
fn big_frames_near_the_stack_limit() {
    let wat = r#"(module
        (func $deep (export "deep") (param i32) (result i32) (local LOCALS)
            SETS
            (if (result i32) (i32.eqz (local.get 0))
              (then (i32.const 0))
              (else (i32.add (i32.wrap_i64 (local.get 4999))
                (call $deep (i32.sub (local.get 0) (i32.const 1))))))))"#
        .replace("LOCALS", &"i64 ".repeat(5000))
        // Every local is written (and so has a slot).
        .replace(
            "SETS",
            &(1..=5000)
                .map(|i| format!("(local.set {i} (i64.extend_i32_u (local.get 0)))"))
                .collect::<String>(),
        );
    let mut config = Config::new();
    config.max_wasm_stack(256 << 10);
    let engine = Engine::new(&config).unwrap();
    let module = Module::new(&engine, wat::parse_str(&wat).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let deep = instance.get_typed_func::<i32, i32>(&store, "deep").unwrap();
    // 4 + 3 + 2 + 1, in five activations.
    assert_eq!(deep.call(&mut store, 4).unwrap(), 10);
    for depth in [5, 6, 10_000] {
        let err = deep.call(&mut store, depth).unwrap_err();
        assert_eq!(err.trap(), Some(Trap::StackOverflow), "depth {depth}");
    }
    assert_eq!(deep.call(&mut store, 4).unwrap(), 10);
}

#[test]
fn module_code_size_is_limited() {
    let mut config = Config::new();
    config.max_module_code_size(256);
    let engine = Engine::new(&config).unwrap();
    let err = Module::new(&engine, wat::parse_str(DEEP).unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limit);
    assert!(
        err.to_string().starts_with("module code too large"),
        "{err}"
    );
    config.max_module_code_size(1 << 20);
    let engine = Engine::new(&config).unwrap();
    Module::new(&engine, wat::parse_str(DEEP).unwrap()).unwrap();
}
