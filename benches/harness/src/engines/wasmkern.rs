//! wasmkern, through its Wasmtime-shaped public API (`Engine`, `Module`,
//! `Store`, `Linker`, `Instance`, `TypedFunc`), with the default `Config`
//! (the std code memory, mmap and W^X, and explicit bounds checks) or, as
//! `wasmkern-guard`, with `Config::guard_regions` (no bounds checks; faults
//! become traps). WASI: `wasmkern::wasi`, stdout a
//! [`NullFile`](wasmkern::wasi::NullFile).

use std::time::{Duration, Instant};

use wasmkern::wasi::{self, InputBytes, NullFile, OutputPipe, WasiCtx, WasiCtxBuilder};
use wasmkern::{Config, Linker, Module, Store, TypedFunc};

use super::{Calls, Compiled, Engine, Funcs, Instance, Result, Ret, WasiCommand, wasi_failure};

fn err(stage: &str) -> impl Fn(wasmkern::Error) -> String + '_ {
    move |e| format!("{stage}: {e}")
}

struct WkEngine(wasmkern::Engine);

/// `parallel`: `Config::parallel_compilation`; `guard_regions`:
/// `Config::guard_regions`.
pub fn create(parallel: bool, guard_regions: bool) -> Result<Box<dyn Engine>> {
    let engine = wasmkern::Engine::new(
        Config::new()
            .parallel_compilation(parallel)
            .guard_regions(guard_regions)
            // The tail_vm workload.
            .wasm_tail_call(true),
    )
    .map_err(err("engine"))?;
    Ok(Box::new(WkEngine(engine)))
}

impl Engine for WkEngine {
    fn compile(&self, wasm: &[u8]) -> Result<Box<dyn Compiled>> {
        let module = Module::new(&self.0, wasm).map_err(err("compile"))?;
        Ok(Box::new(WkModule(module)))
    }
}

struct WkModule(Module);

impl Compiled for WkModule {
    fn instantiate(&self, ret: Ret) -> Result<Box<dyn Instance>> {
        let mut store = Store::new(self.0.engine(), ());
        let instance =
            wasmkern::Instance::new(&mut store, &self.0, &[]).map_err(err("instantiate"))?;
        Ok(match ret {
            Ret::I32 => Box::new(WkInstance {
                run: instance
                    .get_typed_func::<(), i32>(&mut store, "run")
                    .map_err(err("export `run`"))?,
                store,
            }),
            Ret::I64 => Box::new(WkInstance {
                run: instance
                    .get_typed_func::<(), i64>(&mut store, "run")
                    .map_err(err("export `run`"))?,
                store,
            }),
        })
    }

    fn instantiate_calls(&self) -> Result<Box<dyn Calls>> {
        let mut store = Store::new(self.0.engine(), ());
        let mut linker = Linker::new(self.0.engine());
        linker
            .func_wrap("env", "nop", || {})
            .map_err(err("define env.nop"))?;
        let instance = linker
            .instantiate(&mut store, &self.0)
            .map_err(err("instantiate"))?;
        Ok(Box::new(WkCalls {
            empty: instance
                .get_typed_func(&mut store, "empty")
                .map_err(err("export `empty`"))?,
            call_host: instance
                .get_typed_func(&mut store, "call_host")
                .map_err(err("export `call_host`"))?,
            call_wasm: instance
                .get_typed_func(&mut store, "call_wasm")
                .map_err(err("export `call_wasm`"))?,
            store,
        }))
    }

    fn instantiate_wasi(&self, args: &[String]) -> Result<Box<dyn WasiCommand>> {
        let stderr = OutputPipe::new(STDERR_CAPACITY);
        let ctx = WasiCtxBuilder::new()
            .args(args)
            .stdin(InputBytes::new(Vec::<u8>::new()))
            .stdout(NullFile)
            .stderr(stderr.clone())
            .build();
        let mut store = Store::new(self.0.engine(), ctx);
        let mut linker: Linker<WasiCtx> = Linker::new(self.0.engine());
        wasi::add_to_linker(&mut linker, |ctx| ctx).map_err(err("define WASI"))?;
        let instance = linker
            .instantiate(&mut store, &self.0)
            .map_err(err("instantiate"))?;
        Ok(Box::new(WkWasi {
            start: instance
                .get_typed_func(&mut store, "_start")
                .map_err(err("export `_start`"))?,
            store,
            stderr,
        }))
    }

    fn instantiate_funcs(&self, names: &[&str]) -> Result<Box<dyn Funcs>> {
        let mut store = Store::new(self.0.engine(), ());
        let instance =
            wasmkern::Instance::new(&mut store, &self.0, &[]).map_err(err("instantiate"))?;
        let funcs = names
            .iter()
            .map(|name| {
                instance
                    .get_typed_func::<(i32, i32), i32>(&mut store, name)
                    .map_err(|e| format!("export `{name}`: {e}"))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Box::new(WkFuncs { store, funcs }))
    }
}

struct WkFuncs {
    store: Store<()>,
    funcs: Vec<TypedFunc<(i32, i32), i32>>,
}

impl Funcs for WkFuncs {
    fn call(&mut self, index: usize, a: i32, b: i32) -> Result<i32> {
        let f = self.funcs.get(index).ok_or("no such function")?;
        f.call(&mut self.store, (a, b)).map_err(err("call"))
    }
}

/// Bytes of a WASI command's stderr kept for its error message.
const STDERR_CAPACITY: usize = 64 * 1024;

struct WkWasi {
    store: Store<WasiCtx>,
    start: TypedFunc<(), ()>,
    stderr: OutputPipe,
}

impl WasiCommand for WkWasi {
    fn start(&mut self) -> Result<()> {
        let how = match self.start.call(&mut self.store, ()) {
            Ok(()) => return Ok(()),
            Err(e) => match e.exit_status() {
                Some(0) => return Ok(()),
                Some(n) => format!("exited with status {n}"),
                None => format!("trapped: {e}"),
            },
        };
        Err(wasi_failure(how, &self.stderr.contents()))
    }
}

struct WkInstance<R> {
    store: Store<()>,
    run: TypedFunc<(), R>,
}

impl<R: wasmkern::WasmResults + Into<i64>> Instance for WkInstance<R> {
    fn run(&mut self) -> Result<i64> {
        self.run
            .call(&mut self.store, ())
            .map(Into::into)
            .map_err(err("run"))
    }
}

struct WkCalls {
    store: Store<()>,
    empty: TypedFunc<(), ()>,
    call_host: TypedFunc<(i32,), ()>,
    call_wasm: TypedFunc<(i32,), ()>,
}

impl Calls for WkCalls {
    fn host_to_wasm(&mut self, n: u32) -> Result<Duration> {
        let start = Instant::now();
        for _ in 0..n {
            self.empty.call(&mut self.store, ()).map_err(err("empty"))?;
        }
        Ok(start.elapsed())
    }

    fn wasm_to_host(&mut self, n: u32) -> Result<Duration> {
        let start = Instant::now();
        self.call_host
            .call(&mut self.store, (n as i32,))
            .map_err(err("call_host"))?;
        Ok(start.elapsed())
    }

    fn wasm_to_wasm(&mut self, n: u32) -> Result<Duration> {
        let start = Instant::now();
        self.call_wasm
            .call(&mut self.store, (n as i32,))
            .map_err(err("call_wasm"))?;
        Ok(start.elapsed())
    }
}
