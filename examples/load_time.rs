//! Loading a serialized module against compiling it: the time of
//! `Module::new` and of `Module::deserialize_checked` (and of the unchecked
//! `Module::deserialize`) on one module, best of several runs each, in the
//! same process.
//!
//! ```text
//! cargo run --release --example load_time -- [FILE.wasm] [RUNS]
//! ```
//!
//! The default file is the 1 MB clang program `benches/large/large.wasm`.

#[path = "common/timing.rs"]
mod timing;

use std::time::Duration;
use timing::best;
use wasmkern::{Engine, Module};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let file = args
        .next()
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/benches/large/large.wasm").into());
    let runs: usize = args.next().map_or(Ok(10), |r| r.parse())?;
    let wasm = std::fs::read(&file)?;
    let engine = Engine::default();
    let module = Module::new(&engine, &wasm)?;
    let serialized = module.serialize()?;
    let compile = best(runs, || {
        Module::new(&engine, &wasm).expect("compiles");
    });
    let checked = best(runs, || {
        Module::deserialize_checked(&engine, &serialized).expect("loads");
    });
    let unchecked = best(runs, || {
        // SAFETY: written by `serialize` above, in this process.
        unsafe { Module::deserialize(&engine, &serialized) }.expect("loads");
    });
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{file}: {} bytes of wasm, {} bytes serialized",
        wasm.len(),
        serialized.len()
    );
    println!(
        "compile (Module::new):                {:8.2} ms",
        ms(compile)
    );
    println!(
        "load (Module::deserialize_checked):   {:8.2} ms  ({:.0}x faster)",
        ms(checked),
        compile.as_secs_f64() / checked.as_secs_f64()
    );
    println!(
        "load (Module::deserialize, no hash):  {:8.2} ms  ({:.0}x faster)",
        ms(unchecked),
        compile.as_secs_f64() / unchecked.as_secs_f64()
    );
    Ok(())
}
