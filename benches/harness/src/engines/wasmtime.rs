//! Wasmtime with Cranelift (optimizing) or Winch (single-pass baseline).
//! Default configuration otherwise: virtual-memory bounds checks with guard
//! pages and signal handlers. WASI: `wasmtime-wasi`'s preview1
//! (`p1::add_to_linker_sync`, preview1 over its preview2 implementation),
//! stdout its `SinkOutputStream`.

use std::time::{Duration, Instant};

use wasmtime::{Config, Linker, Module, Store, Strategy, TypedFunc};

use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe, SinkOutputStream};

use super::{Calls, Compiled, Engine, Funcs, Instance, Result, Ret, WasiCommand, wasi_failure};

fn err(stage: &str) -> impl Fn(wasmtime::Error) -> String + '_ {
    move |e| format!("{stage}: {e:#}")
}

struct WtEngine(wasmtime::Engine);

pub fn create(strategy: Strategy, parallel: bool) -> Result<Box<dyn Engine>> {
    let mut config = Config::new();
    config.strategy(strategy).parallel_compilation(parallel);
    let engine = wasmtime::Engine::new(&config).map_err(err("engine"))?;
    Ok(Box::new(WtEngine(engine)))
}

impl Engine for WtEngine {
    fn compile(&self, wasm: &[u8]) -> Result<Box<dyn Compiled>> {
        let module = Module::new(&self.0, wasm).map_err(err("compile"))?;
        Ok(Box::new(WtModule(module)))
    }
}

struct WtModule(Module);

impl Compiled for WtModule {
    fn instantiate(&self, ret: Ret) -> Result<Box<dyn Instance>> {
        let mut store = Store::new(self.0.engine(), ());
        let instance =
            wasmtime::Instance::new(&mut store, &self.0, &[]).map_err(err("instantiate"))?;
        Ok(match ret {
            Ret::I32 => Box::new(WtInstance {
                run: instance
                    .get_typed_func::<(), i32>(&mut store, "run")
                    .map_err(err("export `run`"))?,
                store,
            }),
            Ret::I64 => Box::new(WtInstance {
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
        Ok(Box::new(WtCalls {
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
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let ctx = wasmtime_wasi::WasiCtxBuilder::new()
            .args(args)
            .stdin(MemoryInputPipe::new(Vec::<u8>::new()))
            .stdout(SinkOutputStream)
            .stderr(stderr.clone())
            .build_p1();
        let mut store = Store::new(self.0.engine(), ctx);
        let mut linker: Linker<WasiP1Ctx> = Linker::new(self.0.engine());
        p1::add_to_linker_sync(&mut linker, |ctx| ctx).map_err(err("define WASI"))?;
        let instance = linker
            .instantiate(&mut store, &self.0)
            .map_err(err("instantiate"))?;
        Ok(Box::new(WtWasi {
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
            wasmtime::Instance::new(&mut store, &self.0, &[]).map_err(err("instantiate"))?;
        let funcs = names
            .iter()
            .map(|name| {
                instance
                    .get_typed_func::<(i32, i32), i32>(&mut store, name)
                    .map_err(|e| format!("export `{name}`: {e}"))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Box::new(WtFuncs { store, funcs }))
    }
}

struct WtFuncs {
    store: Store<()>,
    funcs: Vec<TypedFunc<(i32, i32), i32>>,
}

impl Funcs for WtFuncs {
    fn call(&mut self, index: usize, a: i32, b: i32) -> Result<i32> {
        let f = self.funcs.get(index).ok_or("no such function")?;
        f.call(&mut self.store, (a, b)).map_err(err("call"))
    }
}

/// Bytes of a WASI command's stderr kept for its error message.
const STDERR_CAPACITY: usize = 64 * 1024;

struct WtWasi {
    store: Store<WasiP1Ctx>,
    start: TypedFunc<(), ()>,
    stderr: MemoryOutputPipe,
}

impl WasiCommand for WtWasi {
    fn start(&mut self) -> Result<()> {
        let how = match self.start.call(&mut self.store, ()) {
            Ok(()) => return Ok(()),
            Err(e) => match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
                Some(wasmtime_wasi::I32Exit(0)) => return Ok(()),
                Some(wasmtime_wasi::I32Exit(n)) => format!("exited with status {n}"),
                None => format!("trapped: {e:#}"),
            },
        };
        Err(wasi_failure(how, &self.stderr.contents()))
    }
}

struct WtInstance<R> {
    store: Store<()>,
    run: TypedFunc<(), R>,
}

impl<R: wasmtime::WasmResults + Into<i64>> Instance for WtInstance<R> {
    fn run(&mut self) -> Result<i64> {
        self.run
            .call(&mut self.store, ())
            .map(Into::into)
            .map_err(err("run"))
    }
}

struct WtCalls {
    store: Store<()>,
    empty: TypedFunc<(), ()>,
    call_host: TypedFunc<(i32,), ()>,
    call_wasm: TypedFunc<(i32,), ()>,
}

impl Calls for WtCalls {
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
