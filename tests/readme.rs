//! The library example of the README, kept compiling and passing.

#[test]
fn readme_library_example() -> Result<(), Box<dyn std::error::Error>> {
    use wasmkern::{Engine, Linker, Module, Store};

    let engine = Engine::default();
    let wasm = wat::parse_str(
        r#"(module
    (import "host" "log" (func $log (param i32)))
    (func (export "run") (param i32) (result i32)
        (call $log (local.get 0))
        (i32.mul (local.get 0) (i32.const 2))))"#,
    )?;
    let module = Module::new(&engine, wasm)?;
    let mut store = Store::new(&engine, Vec::new());
    let mut linker = Linker::new(&engine);
    linker.func_wrap(
        "host",
        "log",
        |mut caller: wasmkern::Caller<'_, Vec<i32>>, x: i32| caller.data_mut().push(x),
    )?;
    let instance = linker.instantiate(&mut store, &module)?;
    let run = instance.get_typed_func::<i32, i32>(&mut store, "run")?;
    assert_eq!(run.call(&mut store, 21)?, 42);
    assert_eq!(store.data(), &[21]);
    Ok(())
}
