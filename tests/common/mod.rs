//! Helpers the API tests share: a module or an instance from WAT, a test
//! run in both memory modes, the out-of-bounds trap assertion, and typed
//! exports by name. Each test file is its own crate and uses a part of
//! this module, hence `dead_code` is allowed here.
#![allow(dead_code)]

use wasmkern::{Engine, Instance, Module, Store, TypedFunc, WasmParams, WasmResults};

/// `wat` compiled by `engine`; panics (failing the test) when it is not
/// valid text or wasmkern rejects it.
pub fn module(engine: &Engine, wat: &str) -> Module {
    let bytes = wat::parse_str(wat).expect("test module parses");
    Module::new(engine, bytes).unwrap_or_else(|e| panic!("test module compiles: {e}"))
}

/// `wat` instantiated without imports in a fresh store of `engine`.
pub fn instantiate(engine: &Engine, wat: &str) -> (Store<()>, Instance) {
    let module = module(engine, wat);
    let mut store = Store::new(engine, ());
    let instance = Instance::new(&mut store, &module, &[])
        .unwrap_or_else(|e| panic!("test module instantiates: {e}"));
    (store, instance)
}

/// Runs `test` with explicit bounds checks (`false`) and with guard
/// regions (`true`).
pub fn both_modes(test: impl Fn(bool)) {
    test(false);
    test(true);
}

/// Asserts that `result` is the out-of-bounds memory access trap.
pub fn assert_oob<T: std::fmt::Debug>(result: wasmkern::Result<T>, what: &str) {
    let err = result.expect_err(what);
    assert!(
        err.to_string().contains("out of bounds memory access"),
        "{what}: {err}"
    );
}

/// Export `name` of `instance` as a typed function.
pub fn typed<T: 'static, P: WasmParams, R: WasmResults>(
    store: &mut Store<T>,
    instance: &Instance,
    name: &str,
) -> TypedFunc<P, R> {
    instance
        .get_typed_func(store, name)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}
