//! Helpers shared by the WASI tests: running a command module over a
//! `WasiCtx`, and a small JSON reader for the wasi-testsuite's specs.

#![allow(dead_code)]

use wasmkern::wasi::{self, Dir, DirPerms, OutputPipe, WasiCtx, WasiCtxBuilder};
use wasmkern::{Config, Engine, Linker, Module, Store};

/// What a program did.
pub struct Output {
    /// Its exit status, or the error that ended it otherwise.
    pub status: Result<i32, String>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Runs the command `wasm` (`_start`) with `args`, `env` and `root`
/// preopened as `/`; a watchdog interrupts it after 60 seconds.
pub fn run_program(
    wasm: &[u8],
    args: &[String],
    env: &[(String, String)],
    root: Option<Box<dyn Dir>>,
) -> Output {
    let mut builder = WasiCtxBuilder::new();
    builder.args(args).envs(env.iter().map(|(k, v)| (k, v)));
    if let Some(root) = root {
        builder.preopened_dir(root, "/", DirPerms::ReadWrite);
    }
    run_with(wasm, builder)
}

/// Runs `_start` of `wasm` with the context `builder` makes, its stdout and
/// stderr captured.
pub fn run_with(wasm: &[u8], mut builder: WasiCtxBuilder) -> Output {
    let stdout = OutputPipe::new(16 << 20);
    let stderr = OutputPipe::new(16 << 20);
    builder.stdout(stdout.clone()).stderr(stderr.clone());
    let mut config = Config::new();
    config.interruptible(true);
    let engine = Engine::new(&config).unwrap();
    let mut linker: Linker<WasiCtx> = Linker::new(&engine);
    wasi::add_to_linker(&mut linker, |ctx| ctx).unwrap();
    let mut store = Store::new(&engine, builder.build());
    let handle = store.interrupt_handle();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let done = done.clone();
        std::thread::spawn(move || {
            for _ in 0..600 {
                if done.load(std::sync::atomic::Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            handle.interrupt();
        })
    };
    let status = (|| {
        let module = Module::new(&engine, wasm).map_err(|e| e.to_string())?;
        let instance = linker
            .instantiate(&mut store, &module)
            .map_err(|e| e.to_string())?;
        let start = instance
            .get_typed_func::<(), ()>(&mut store, "_start")
            .map_err(|e| e.to_string())?;
        match start.call(&mut store, ()) {
            Ok(()) => Ok(0),
            Err(e) => e.exit_status().ok_or_else(|| e.to_string()),
        }
    })();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    watchdog.join().unwrap();
    Output {
        status,
        stdout: stdout.contents(),
        stderr: stderr.contents(),
    }
}

/// Runs `_start` of `wasm` with the given stdout and stderr; returns the
/// exit status.
pub fn run_with_stdio(
    wasm: &[u8],
    mut builder: WasiCtxBuilder,
    stdout: Box<dyn wasmkern::wasi::File>,
    stderr: OutputPipe,
) -> Result<i32, String> {
    struct Boxed(Box<dyn wasmkern::wasi::File>);
    impl wasmkern::wasi::File for Boxed {
        fn filetype(&self) -> wasmkern::wasi::FileType {
            self.0.filetype()
        }
        fn read(&mut self, b: &mut [u8]) -> wasmkern::wasi::FsResult<usize> {
            self.0.read(b)
        }
        fn write(&mut self, b: &[u8]) -> wasmkern::wasi::FsResult<usize> {
            self.0.write(b)
        }
        fn stat(&self) -> wasmkern::wasi::FsResult<wasmkern::wasi::Filestat> {
            self.0.stat()
        }
        fn is_tty(&self) -> bool {
            self.0.is_tty()
        }
    }
    builder.stdout(Boxed(stdout)).stderr(stderr);
    let engine = Engine::default();
    let mut linker: Linker<WasiCtx> = Linker::new(&engine);
    wasi::add_to_linker(&mut linker, |ctx| ctx).unwrap();
    let mut store = Store::new(&engine, builder.build());
    let module = Module::new(&engine, wasm).map_err(|e| e.to_string())?;
    let instance = linker
        .instantiate(&mut store, &module)
        .map_err(|e| e.to_string())?;
    let start = instance
        .get_typed_func::<(), ()>(&mut store, "_start")
        .map_err(|e| e.to_string())?;
    match start.call(&mut store, ()) {
        Ok(()) => Ok(0),
        Err(e) => e.exit_status().ok_or_else(|| e.to_string()),
    }
}

/// A JSON value (enough for the suite's spec files).
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    pub fn parse(text: &str) -> Json {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value();
        p.ws();
        assert_eq!(p.i, p.s.len(), "trailing characters in JSON");
        v
    }

    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Json::Number(n) => Some(*n as i64),
            _ => None,
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) {
        self.ws();
        assert_eq!(self.s.get(self.i), Some(&c), "JSON: expected {}", c as char);
        self.i += 1;
    }

    fn value(&mut self) -> Json {
        self.ws();
        match self.s[self.i] {
            b'{' => {
                self.i += 1;
                let mut fields = Vec::new();
                self.ws();
                if self.s[self.i] == b'}' {
                    self.i += 1;
                    return Json::Object(fields);
                }
                loop {
                    self.ws();
                    let Json::String(k) = self.value() else {
                        panic!("JSON: object key")
                    };
                    self.eat(b':');
                    fields.push((k, self.value()));
                    self.ws();
                    self.i += 1;
                    if self.s[self.i - 1] == b'}' {
                        return Json::Object(fields);
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s[self.i] == b']' {
                    self.i += 1;
                    return Json::Array(items);
                }
                loop {
                    items.push(self.value());
                    self.ws();
                    self.i += 1;
                    if self.s[self.i - 1] == b']' {
                        return Json::Array(items);
                    }
                }
            }
            b'"' => {
                self.i += 1;
                let mut out = String::new();
                loop {
                    let c = self.s[self.i];
                    self.i += 1;
                    match c {
                        b'"' => return Json::String(out),
                        b'\\' => {
                            let e = self.s[self.i];
                            self.i += 1;
                            out.push(match e {
                                b'n' => '\n',
                                b't' => '\t',
                                b'r' => '\r',
                                b'u' => {
                                    let hex =
                                        std::str::from_utf8(&self.s[self.i..self.i + 4]).unwrap();
                                    self.i += 4;
                                    char::from_u32(u32::from_str_radix(hex, 16).unwrap()).unwrap()
                                }
                                other => other as char,
                            });
                        }
                        _ => {
                            // Copy a whole UTF-8 sequence.
                            let start = self.i - 1;
                            let mut end = self.i;
                            while end < self.s.len() && (self.s[end] & 0xc0) == 0x80 {
                                end += 1;
                            }
                            out.push_str(std::str::from_utf8(&self.s[start..end]).unwrap());
                            self.i = end;
                        }
                    }
                }
            }
            b't' => {
                self.i += 4;
                Json::Bool(true)
            }
            b'f' => {
                self.i += 5;
                Json::Bool(false)
            }
            b'n' => {
                self.i += 4;
                Json::Null
            }
            _ => {
                let start = self.i;
                while self.i < self.s.len() && b"+-.eE0123456789".contains(&self.s[self.i]) {
                    self.i += 1;
                }
                Json::Number(
                    std::str::from_utf8(&self.s[start..self.i])
                        .unwrap()
                        .parse()
                        .unwrap(),
                )
            }
        }
    }
}
