//! wasmi, the register-machine interpreter (eager translation to its
//! bytecode; default configuration otherwise). WASI: `wasmi_wasi` (over
//! `wasi-common`), stdout a `WritePipe` over `std::io::sink()`.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use wasmi::{CompilationMode, Config, Linker, Module, Store, TypedFunc};

use wasmi_wasi::wasi_common::pipe::{ReadPipe, WritePipe};
use wasmi_wasi::{WasiCtx, WasiCtxBuilder};

use super::{Calls, Compiled, Engine, Funcs, Instance, Result, Ret, WasiCommand, wasi_failure};

fn err(stage: &str) -> impl Fn(wasmi::Error) -> String + '_ {
    move |e| format!("{stage}: {e:#}")
}

struct WiEngine(wasmi::Engine);

pub fn create() -> Result<Box<dyn Engine>> {
    let mut config = Config::default();
    // Translate every function at compile time, like the other engines (the
    // default translates lazily on first call).
    config.compilation_mode(CompilationMode::Eager);
    // The tail_vm workload.
    config.wasm_tail_call(true);
    Ok(Box::new(WiEngine(wasmi::Engine::new(&config))))
}

impl Engine for WiEngine {
    fn compile(&self, wasm: &[u8]) -> Result<Box<dyn Compiled>> {
        let module = Module::new(&self.0, wasm).map_err(err("compile"))?;
        Ok(Box::new(WiModule(module)))
    }
}

struct WiModule(Module);

impl Compiled for WiModule {
    fn instantiate(&self, ret: Ret) -> Result<Box<dyn Instance>> {
        let mut store = Store::new(self.0.engine(), ());
        let instance =
            wasmi::Instance::new(&mut store, &self.0, &[]).map_err(err("instantiate"))?;
        Ok(match ret {
            Ret::I32 => Box::new(WiInstance {
                run: instance
                    .get_typed_func::<(), i32>(&mut store, "run")
                    .map_err(err("export `run`"))?,
                store,
            }),
            Ret::I64 => Box::new(WiInstance {
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
            .map_err(|e| format!("define env.nop: {e}"))?;
        let instance = linker
            .instantiate_and_start(&mut store, &self.0)
            .map_err(err("instantiate"))?;
        Ok(Box::new(WiCalls {
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
        let stderr = Arc::new(RwLock::new(Vec::new()));
        let ctx = WasiCtxBuilder::new()
            .args(args)
            .map_err(|e| format!("WASI arguments: {e}"))?
            .stdin(Box::new(ReadPipe::from(Vec::<u8>::new())))
            .stdout(Box::new(WritePipe::new(std::io::sink())))
            .stderr(Box::new(WritePipe::from_shared(stderr.clone())))
            .build();
        let mut store = Store::new(self.0.engine(), ctx);
        let mut linker: Linker<WasiCtx> = Linker::new(self.0.engine());
        wasmi_wasi::add_to_linker(&mut linker, |ctx| ctx)
            .map_err(|e| format!("define WASI: {e}"))?;
        let instance = linker
            .instantiate_and_start(&mut store, &self.0)
            .map_err(err("instantiate"))?;
        Ok(Box::new(WiWasi {
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
            wasmi::Instance::new(&mut store, &self.0, &[]).map_err(err("instantiate"))?;
        let funcs = names
            .iter()
            .map(|name| {
                instance
                    .get_typed_func::<(i32, i32), i32>(&mut store, name)
                    .map_err(|e| format!("export `{name}`: {e}"))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Box::new(WiFuncs { store, funcs }))
    }
}

struct WiFuncs {
    store: Store<()>,
    funcs: Vec<TypedFunc<(i32, i32), i32>>,
}

impl Funcs for WiFuncs {
    fn call(&mut self, index: usize, a: i32, b: i32) -> Result<i32> {
        let f = self.funcs.get(index).ok_or("no such function")?;
        f.call(&mut self.store, (a, b)).map_err(err("call"))
    }
}

struct WiWasi {
    store: Store<WasiCtx>,
    start: TypedFunc<(), ()>,
    stderr: Arc<RwLock<Vec<u8>>>,
}

impl WasiCommand for WiWasi {
    fn start(&mut self) -> Result<()> {
        let how = match self.start.call(&mut self.store, ()) {
            Ok(()) => return Ok(()),
            Err(e) => match e.i32_exit_status() {
                Some(0) => return Ok(()),
                Some(n) => format!("exited with status {n}"),
                None => format!("trapped: {e:#}"),
            },
        };
        let stderr = self.stderr.read().map(|s| s.clone()).unwrap_or_default();
        Err(wasi_failure(how, &stderr))
    }
}

struct WiInstance<R> {
    store: Store<()>,
    run: TypedFunc<(), R>,
}

impl<R: wasmi::WasmResults + Into<i64>> Instance for WiInstance<R> {
    fn run(&mut self) -> Result<i64> {
        self.run
            .call(&mut self.store, ())
            .map(Into::into)
            .map_err(err("run"))
    }
}

struct WiCalls {
    store: Store<()>,
    empty: TypedFunc<(), ()>,
    call_host: TypedFunc<(i32,), ()>,
    call_wasm: TypedFunc<(i32,), ()>,
}

impl Calls for WiCalls {
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
