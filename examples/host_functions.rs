//! Host functions with wasmkern: one reads guest memory through `Caller`,
//! one returns several values, one fails (its error ends the wasm call), and
//! one calls back into wasm (host → wasm → host → wasm).
//!
//! Run: `cargo run --release --example host_functions`.

use wasmkern::{Caller, Engine, Error, Func, Linker, Module, Store};

const GUEST: &str = r#"(module
  (import "host" "print" (func $print (param i32 i32)))
  (import "host" "divmod" (func $divmod (param i32 i32) (result i32 i32)))
  (import "host" "check" (func $check (param i32)))
  (import "host" "twice" (func $twice (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello from the guest")
  (func (export "greet") (call $print (i32.const 16) (i32.const 20)))
  (func (export "digits") (param $x i32) (result i32)
    ;; quotient * 10 + remainder, computed by the host
    (call $divmod (local.get $x) (i32.const 10))
    (local.set $x)
    (i32.mul (i32.const 10))
    (i32.add (local.get $x)))
  (func (export "validate") (param i32) (result i32)
    (call $check (local.get 0))
    (i32.const 1))
  (func $square (export "square") (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))
  (func (export "square_twice") (param i32) (result i32) (call $twice (local.get 0))))"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let engine = Engine::default();
    let module = Module::new(&engine, wat::parse_str(GUEST)?)?;
    let mut store = Store::new(&engine, Vec::<String>::new());
    let mut linker = Linker::new(&engine);

    // Reads the guest's memory through the calling instance's export.
    linker.func_wrap(
        "host",
        "print",
        |mut caller: Caller<'_, Vec<String>>, ptr: i32, len: i32| -> Result<(), Error> {
            let memory = caller
                .get_export("memory")
                .and_then(|e| e.into_memory())
                .ok_or_else(|| Error::msg("the guest exports no memory"))?;
            let mut bytes = vec![0; len as usize];
            memory.read(&caller, ptr as usize, &mut bytes)?;
            let text = String::from_utf8(bytes).map_err(|_| Error::msg("not UTF-8"))?;
            caller.data_mut().push(text);
            Ok(())
        },
    )?;
    // Several results.
    linker.func_wrap("host", "divmod", |a: i32, b: i32| (a / b, a % b))?;
    // An error from the host ends the wasm call with that error.
    linker.func_wrap("host", "check", |x: i32| -> Result<(), Error> {
        if x < 0 {
            Err(Error::msg(format!("negative input {x}")))
        } else {
            Ok(())
        }
    })?;
    // Calls back into the guest: host → wasm → host → wasm.
    linker.func_wrap(
        "host",
        "twice",
        |mut caller: Caller<'_, Vec<String>>, x: i32| -> Result<i32, Error> {
            let square = caller
                .get_export("square")
                .and_then(|e| e.into_func())
                .ok_or_else(|| Error::msg("no square"))?;
            let square = square.typed::<i32, i32>(&caller)?;
            let once = square.call(&mut caller, x)?;
            square.call(&mut caller, once)
        },
    )?;

    let instance = linker.instantiate(&mut store, &module)?;
    instance
        .get_typed_func::<(), ()>(&mut store, "greet")?
        .call(&mut store, ())?;
    println!("the guest said: {:?}", store.data());

    let digits = instance.get_typed_func::<i32, i32>(&mut store, "digits")?;
    println!("digits(1234) = {}", digits.call(&mut store, 1234)?);

    let validate = instance.get_typed_func::<i32, i32>(&mut store, "validate")?;
    println!("validate(5) = {}", validate.call(&mut store, 5)?);
    match validate.call(&mut store, -5) {
        Ok(v) => println!("validate(-5) unexpectedly returned {v}"),
        Err(e) => println!("validate(-5) failed: {e}"),
    }

    let square_twice = instance.get_typed_func::<i32, i32>(&mut store, "square_twice")?;
    println!("square_twice(3) = {}", square_twice.call(&mut store, 3)?);
    // The store stays usable after the host error.
    println!("digits(56) = {}", digits.call(&mut store, 56)?);
    let _ = Func::wrap(&mut store, || {});
    Ok(())
}
