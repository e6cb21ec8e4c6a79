//! The `wasmkern` command line: runs WASI programs and functions of modules.
//!
//! ```text
//! cargo run --release --example wasmkern -- [OPTIONS] FILE.wasm ARGS...
//! cargo run --release --example wasmkern -- --invoke NAME FILE.wasm|FILE.wat ARGS...
//! cargo run --release --example wasmkern -- --list FILE.wasm|FILE.wat
//! cargo run --release --example wasmkern -- compile [OPTIONS] FILE.wasm|FILE.wat -o FILE.cwasm
//! cargo run --release --example wasmkern            # a bundled demo
//! ```
//!
//! Options come before the file; everything after it belongs to the guest,
//! as with `wasmtime run`:
//!
//! | option | meaning |
//! | --- | --- |
//! | `--dir HOST[::GUEST]` | preopen the host directory `HOST` as `GUEST` (default: `HOST`) |
//! | `--env NAME=VALUE`, `--env NAME` | set a guest environment variable (the second takes the host's value) |
//! | `--max-memory BYTES` | limit each linear memory to `BYTES` (rounded down to 64 KiB pages) |
//! | `--max-wasm-stack BYTES` | the wasm stack's size (default 1 MiB, at least 64 KiB) |
//! | `--fuel N` | stop the guest after `N` units of fuel (about one per operator) |
//! | `--invoke NAME` | call the export `NAME` with the typed arguments after the file |
//! | `--list` | print the module's imports and exports |
//! | `-W FEATURE[=y\|n]`, `--wasm FEATURE[=y\|n]` | turn a WebAssembly feature beyond 2.0 on (`y`, the default) or off (`n`), as Wasmtime's `-W tail-call=y`: `tail-call`, `memory64`, `multi-memory`, `extended-const`, `relaxed-simd`, `custom-page-sizes`, `wide-arithmetic` (the `Config::wasm_*` switches; on by default: `extended-const`, `tail-call`) |
//!
//! **Precompiled modules.** `compile FILE -o OUT` compiles the module and
//! writes it serialized (`Module::serialize`; default `OUT`: `FILE` with
//! the extension `.cwasm`) for an engine of the options given (`-W`, and
//! `--fuel N`, whose presence turns fuel metering on). Any command then
//! takes a `.cwasm` where it takes a `.wasm` (told apart by its magic
//! bytes, not its name): it is loaded without compiling, with its checksum
//! verified (`Module::deserialize_checked`), and refused when it was
//! compiled for other options (give the same `-W` and `--fuel`), another
//! wasmkern or a processor with features this one lacks.
//!
//! **Programs.** A module that imports `wasi_snapshot_preview1` or exports
//! `_start` is a command: it gets WASI with the host's stdin, stdout and
//! stderr, the `--dir` preopens, only the `--env` variables, and as
//! arguments the file's base name (`argv[0]`, as Wasmtime gives) and the
//! words after the file; `_start` runs, and the process exits with the
//! status the guest gave `proc_exit`, or 0 when `_start` returns.
//!
//! **Functions.** With `--invoke` (or the older form `FILE --invoke NAME
//! ARGS...`, accepted for modules that are not commands) the arguments are
//! typed (`i32:5`, `f64:1.5`) or inferred from the parameter types, and the
//! results print with their types. Such modules may import `env.print_i32`
//! and `env.print_i64`. A module exporting `_initialize` (a WASI reactor)
//! has it called first, as Wasmtime does.
//!
//! **Exit status.** A trap — in the called function, in the start function,
//! or a data or element segment out of bounds while instantiating — exits 1
//! after the trap message and its wasm backtrace (innermost frame first; a
//! backtrace longer than [`BACKTRACE_HEAD`] + [`BACKTRACE_TAIL`] frames
//! shows its head and tail around a line counting the frames left out), as
//! does running out of fuel. A bad command line, an unreadable file or a
//! module that fails to load or link prints one line and exits 2.

use std::process::ExitCode;
use wasmkern::{
    Config, Engine, Error, ErrorKind, ExternType, Feature, Linker, Module, Store, StoreLimits,
    StoreLimitsBuilder, Val, ValType,
};

const DEMO: &str = r#"(module
    (import "env" "print_i64" (func $print (param i64)))
    (func $fac (export "fac") (param i64) (result i64)
        local.get 0 i64.eqz
        if (result i64) i64.const 1
        else local.get 0 local.get 0 i64.const 1 i64.sub call $fac i64.mul end)
    (func (export "main")
        (local $i i64)
        loop $l
            local.get $i call $fac call $print
            local.get $i i64.const 1 i64.add local.tee $i
            i64.const 10 i64.le_u br_if $l
        end))"#;

const USAGE: &str = "usage: wasmkern [--dir HOST[::GUEST]]... [--env NAME[=VALUE]]... \
[--max-memory BYTES] [--max-wasm-stack BYTES] [--fuel N] [-W FEATURE[=y|n]]... \
[--invoke NAME | --list] FILE ARGS...";

/// What `--help` prints after [`USAGE`]: the features `-W` switches.
const FEATURES_HELP: &str = "  -W, --wasm FEATURE[=y|n]  turn a WebAssembly feature beyond 2.0 on (y, \
the default) or off (n); FEATURE is one of tail-call, memory64, multi-memory, \
extended-const, relaxed-simd, custom-page-sizes, wide-arithmetic \
(on by default: extended-const, tail-call)";

/// Frames printed from the innermost end of a long backtrace.
const BACKTRACE_HEAD: usize = 20;
/// Frames printed from the outermost end of a long backtrace.
const BACKTRACE_TAIL: usize = 10;

/// How a run ended, other than by returning normally.
enum Failure {
    /// The guest asked for this exit status (`proc_exit`).
    Exit(i32),
    /// A trap or another runtime error: status 1.
    Trap(String),
    /// A bad command line, file or module: status 2.
    BadInput(String),
}

impl From<String> for Failure {
    fn from(s: String) -> Failure {
        Failure::BadInput(s)
    }
}

/// The command line, parsed.
#[derive(Default)]
struct Options {
    /// `(host, guest)` directory pairs.
    dirs: Vec<(String, String)>,
    /// `(name, value)` environment variables.
    envs: Vec<(String, String)>,
    max_memory: Option<u64>,
    max_wasm_stack: Option<usize>,
    fuel: Option<u64>,
    invoke: Option<String>,
    list: bool,
    /// `-W FEATURE=y|n`, in order.
    features: Vec<(Feature, bool)>,
    /// The module, and the words after it.
    file: Option<String>,
    rest: Vec<String>,
}

fn parse_number<T: std::str::FromStr>(option: &str, value: &str) -> Result<T, String> {
    value
        .replace('_', "")
        .parse()
        .map_err(|_| format!("{option}: `{value}` is not a number"))
}

/// `FEATURE`, `FEATURE=y` or `FEATURE=n` (also `yes`/`no`, `true`/`false`).
fn parse_feature(value: &str) -> Result<(Feature, bool), String> {
    let (name, on) = match value.split_once('=') {
        Some((name, v)) => {
            let on = match v {
                "y" | "yes" | "true" => true,
                "n" | "no" | "false" => false,
                _ => return Err(format!("-W {value}: expected {name}=y or {name}=n")),
            };
            (name, on)
        }
        None => (value, true),
    };
    let feature = Feature::from_name(name).ok_or_else(|| {
        let known: Vec<&str> = Feature::ALL.iter().map(|f| f.name()).collect();
        format!(
            "-W {value}: unknown feature `{name}` (known: {})",
            known.join(", ")
        )
    })?;
    Ok((feature, on))
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            i -= 1;
            break;
        }
        // `--name value` or `--name=value`.
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let takes_value = matches!(
            name,
            "--dir"
                | "--env"
                | "--max-memory"
                | "--max-wasm-stack"
                | "--fuel"
                | "--invoke"
                | "-W"
                | "--wasm"
        );
        let value = if takes_value {
            match inline {
                Some(v) => v,
                None => {
                    let v = args
                        .get(i)
                        .ok_or_else(|| format!("{name} needs a value"))?
                        .clone();
                    i += 1;
                    v
                }
            }
        } else if inline.is_some() {
            return Err(format!("{name} takes no value"));
        } else {
            String::new()
        };
        match name {
            "--dir" => {
                let (host, guest) = match value.split_once("::") {
                    Some((h, g)) => (h.to_string(), g.to_string()),
                    None => (value.clone(), value.clone()),
                };
                if host.is_empty() || guest.is_empty() {
                    return Err(format!("--dir `{value}`: expected HOST or HOST::GUEST"));
                }
                o.dirs.push((host, guest));
            }
            "--env" => {
                let (k, v) = match value.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => {
                        let v = std::env::var(&value).map_err(|_| {
                            format!("--env {value}: not set in the host environment")
                        })?;
                        (value.clone(), v)
                    }
                };
                if k.is_empty() {
                    return Err(format!("--env `{value}`: empty name"));
                }
                o.envs.push((k, v));
            }
            "--max-memory" => o.max_memory = Some(parse_number(name, &value)?),
            "--max-wasm-stack" => o.max_wasm_stack = Some(parse_number(name, &value)?),
            "--fuel" => o.fuel = Some(parse_number(name, &value)?),
            "--invoke" => o.invoke = Some(value),
            "--list" => o.list = true,
            "-W" | "--wasm" => o.features.push(parse_feature(&value)?),
            "-h" | "--help" => return Err(format!("{USAGE}\n{FEATURES_HELP}")),
            _ => return Err(format!("unknown option `{arg}`; {USAGE}")),
        }
    }
    if let Some(file) = args.get(i) {
        o.file = Some(file.clone());
        o.rest = args[i + 1..].to_vec();
    }
    if o.list && o.invoke.is_some() {
        return Err("--list and --invoke exclude each other".into());
    }
    Ok(o)
}

fn parse_arg(ty: ValType, s: &str) -> Result<Val, String> {
    // An explicit type prefix must agree with the parameter's type.
    let s = match s.split_once(':') {
        Some((prefix, value)) => {
            if prefix != ty.to_string() {
                return Err(format!("argument `{s}` is {prefix}, the parameter is {ty}"));
            }
            value
        }
        None => s,
    };
    let bad = || format!("cannot parse `{s}` as {ty}");
    Ok(match ty {
        ValType::I32 => Val::I32(
            s.parse::<i64>()
                .map_err(|_| bad())?
                .try_into()
                .map_err(|_| format!("`{s}` does not fit in i32"))?,
        ),
        ValType::I64 => Val::I64(s.parse().map_err(|_| bad())?),
        ValType::F32 => Val::from(s.parse::<f32>().map_err(|_| bad())?),
        ValType::F64 => Val::from(s.parse::<f64>().map_err(|_| bad())?),
        _ => return Err(format!("cannot pass {ty} arguments from the command line")),
    })
}

fn show(v: &Val) -> String {
    format!("{}:{}", v.ty(), show_value(v))
}

fn show_value(v: &Val) -> String {
    match v {
        Val::I32(x) => x.to_string(),
        Val::I64(x) => x.to_string(),
        Val::F32(b) => f32::from_bits(*b).to_string(),
        Val::F64(b) => f64::from_bits(*b).to_string(),
        Val::V128(x) => format!("{x:#034x}"),
        Val::FuncRef(f) => if f.is_some() {
            "funcref"
        } else {
            "null funcref"
        }
        .into(),
        Val::ExternRef(r) => if r.is_some() {
            "externref"
        } else {
            "null externref"
        }
        .into(),
        other => format!("{other:?}"),
    }
}

fn describe(ty: &ExternType) -> String {
    let limits = |l: &wasmkern::Limits| match l.max {
        Some(max) => format!("{}..{max}", l.min),
        None => format!("{}..", l.min),
    };
    match ty {
        ExternType::Func(f) => format!("func {f}"),
        ExternType::Global(g) => format!(
            "global {}{}",
            if g.mutable { "mut " } else { "" },
            g.content
        ),
        ExternType::Table(t) => format!("table {} {:?}", limits(&t.limits), t.elem),
        ExternType::Memory(m) => format!("memory {} pages", limits(&m.limits)),
        other => format!("{other:?}"),
    }
}

fn list(module: &Module) {
    for import in module.imports() {
        println!(
            "import {}::{}: {}",
            import.module(),
            import.name(),
            describe(&import.ty())
        );
    }
    for export in module.exports() {
        println!("export {}: {}", export.name(), describe(&export.ty()));
    }
}

/// The trap message and its wasm backtrace, innermost frame first, with the
/// middle of a long one elided.
fn trap_text(context: &str, e: &Error) -> String {
    let mut text = format!("{context}: {e}");
    let frames = e.backtrace();
    let line = |text: &mut String, i: usize| text.push_str(&format!("\n  #{i} {}", frames[i]));
    if frames.len() > BACKTRACE_HEAD + BACKTRACE_TAIL {
        (0..BACKTRACE_HEAD).for_each(|i| line(&mut text, i));
        let elided = frames.len() - BACKTRACE_HEAD - BACKTRACE_TAIL;
        text.push_str(&format!("\n  ... {elided} frames elided ..."));
        (frames.len() - BACKTRACE_TAIL..frames.len()).for_each(|i| line(&mut text, i));
    } else {
        (0..frames.len()).for_each(|i| line(&mut text, i));
    }
    text
}

/// Classifies an error of a call or of instantiation: a WASI exit, a trap
/// or another runtime error (status 1).
fn call_failure(context: &str, e: Error) -> Failure {
    if let Some(status) = wasi::exit_status(&e) {
        return Failure::Exit(status);
    }
    if e.trap().is_some() {
        Failure::Trap(trap_text(&format!("{context}trap"), &e))
    } else {
        Failure::Trap(format!("{context}error: {e}"))
    }
}

/// The first bytes of a serialized module (`wasmkern compile`'s output).
const CWASM_MAGIC: &[u8] = b"\0wkcwasm";

fn read_module(file: &str) -> Result<Vec<u8>, String> {
    if let Ok(bytes) = std::fs::read(file)
        && bytes.starts_with(CWASM_MAGIC)
    {
        return Ok(bytes);
    }
    wat::parse_file(file).map_err(|e| {
        format!(
            "{file}: {}",
            e.to_string().lines().next().unwrap_or_default()
        )
    })
}

/// What the store holds: the WASI context (for commands) and the limits.
struct Host {
    wasi: wasi::Ctx,
    limits: StoreLimits,
}

fn new_store(engine: &Engine, o: &Options, wasi: wasi::Ctx) -> Result<Store<Host>, String> {
    let mut limits = StoreLimitsBuilder::new();
    if let Some(bytes) = o.max_memory {
        let pages = u32::try_from(bytes / 65536).unwrap_or(u32::MAX);
        limits = limits.memory_pages(pages);
    }
    let mut store = Store::new(
        engine,
        Host {
            wasi,
            limits: limits.build(),
        },
    );
    store.limiter(|h| &mut h.limits);
    if let Some(fuel) = o.fuel {
        store.set_fuel(fuel).map_err(|e| e.to_string())?;
    }
    Ok(store)
}

/// Whether the module is a WASI command (imports WASI or exports `_start`).
fn is_command(module: &Module) -> bool {
    module.imports().any(|i| i.module() == wasi::MODULE_NAME)
        || module.exports().any(|e| e.name() == "_start")
}

/// The engine configuration the options ask for.
fn config_of(o: &Options) -> Config {
    let mut config = Config::new();
    for &(feature, on) in &o.features {
        config.wasm_feature(feature, on);
    }
    if let Some(bytes) = o.max_wasm_stack {
        config.max_wasm_stack(bytes);
    }
    if o.fuel.is_some() {
        config.consume_fuel(true);
    }
    config
}

/// The module in `bytes`: loaded if serialized, else compiled.
fn load_module(engine: &Engine, bytes: &[u8]) -> Result<Module, String> {
    let module = if bytes.starts_with(CWASM_MAGIC) {
        Module::deserialize_checked(engine, bytes)
    } else {
        Module::new(engine, bytes)
    };
    module.map_err(|e| format!("cannot load module: {e}"))
}

/// `wasmkern compile [OPTIONS] FILE [-o OUT]`.
fn compile(args: &[String]) -> Result<(), Failure> {
    let mut args = args.to_vec();
    let mut out = None;
    if let Some(i) = args.iter().position(|a| a == "-o" || a == "--output") {
        if i + 1 >= args.len() {
            return Err(Failure::BadInput("-o needs a file name".into()));
        }
        out = Some(args.remove(i + 1));
        args.remove(i);
    }
    let o = parse_options(&args)?;
    let Some(file) = &o.file else {
        return Err(Failure::BadInput(
            "usage: wasmkern compile [-W FEATURE[=y|n]]... [--fuel N] FILE -o FILE.cwasm".into(),
        ));
    };
    if !o.rest.is_empty() || o.invoke.is_some() || o.list {
        return Err(Failure::BadInput(
            "compile takes one file, options and -o OUT".into(),
        ));
    }
    let out = out.unwrap_or_else(|| {
        std::path::Path::new(file)
            .with_extension("cwasm")
            .to_string_lossy()
            .into_owned()
    });
    let bytes = read_module(file)?;
    if bytes.starts_with(CWASM_MAGIC) {
        return Err(Failure::BadInput(format!("{file} is compiled already")));
    }
    let engine = Engine::new(&config_of(&o)).map_err(|e| format!("invalid configuration: {e}"))?;
    let module = Module::new(&engine, &bytes).map_err(|e| format!("cannot load module: {e}"))?;
    let serialized = module
        .serialize()
        .map_err(|e| format!("cannot serialize: {e}"))?;
    std::fs::write(&out, serialized).map_err(|e| format!("{out}: {e}"))?;
    Ok(())
}

fn run(args: &[String]) -> Result<(), Failure> {
    if args.first().is_some_and(|a| a == "compile") {
        return compile(&args[1..]);
    }
    let mut o = parse_options(args)?;
    let (bytes, file) = match &o.file {
        Some(file) => (read_module(file)?, file.clone()),
        None if o.invoke.is_none() && !o.list => {
            // The bundled demo.
            o.invoke = Some("main".into());
            (
                wat::parse_str(DEMO).map_err(|e| e.to_string())?,
                "demo".into(),
            )
        }
        None => return Err(Failure::BadInput(USAGE.into())),
    };
    let engine = Engine::new(&config_of(&o)).map_err(|e| format!("invalid configuration: {e}"))?;
    let module = load_module(&engine, &bytes)?;
    let command = is_command(&module);
    // The older form: FILE --list, FILE --invoke NAME ARGS..., for modules
    // that are not commands (a command's words all belong to it).
    if !command && o.invoke.is_none() && !o.list {
        match o.rest.first().map(String::as_str) {
            Some("--list") if o.rest.len() == 1 => o.list = true,
            Some("--invoke") if o.rest.len() >= 2 => {
                o.invoke = Some(o.rest[1].clone());
                o.rest.drain(..2);
            }
            _ => {
                return Err(Failure::BadInput(format!(
                    "{file} is not a WASI command (no `_start`, no WASI imports): \
                     give --invoke NAME or --list"
                )));
            }
        }
    }
    if o.list {
        if !o.rest.is_empty() {
            return Err(Failure::BadInput("--list takes no arguments".into()));
        }
        list(&module);
        return Ok(());
    }
    let ctx = if command {
        wasi::context(&o, &file)?
    } else {
        wasmkern::wasi::WasiCtxBuilder::new().build()
    };
    let mut store = new_store(&engine, &o, ctx)?;
    let mut linker = Linker::new(&engine);
    let define = |l: &mut Linker<Host>| -> Result<(), Error> {
        l.func_wrap("env", "print_i32", |x: i32| println!("{x}"))?;
        l.func_wrap("env", "print_i64", |x: i64| println!("{x}"))?;
        Ok(())
    };
    define(&mut linker).map_err(|e| e.to_string())?;
    if command {
        wasi::link(&mut linker).map_err(|e| format!("cannot define WASI: {e}"))?;
    }
    let instance = linker
        .instantiate(&mut store, &module)
        .map_err(|e| match e.kind() {
            // Linking and the store's limits: the module cannot run here.
            ErrorKind::Link | ErrorKind::Instantiation | ErrorKind::Limit => {
                Failure::BadInput(format!("cannot instantiate: {e}"))
            }
            // What ran: the start function, or the segments' copies.
            _ => call_failure("while instantiating: ", e),
        })?;
    let name = o.invoke.clone().unwrap_or_else(|| "_start".into());
    // A WASI reactor initialises itself before any other export is called.
    if name != "_initialize"
        && let Some(init) = instance.get_func(&mut store, "_initialize")
    {
        init.call(&mut store, &[], &mut [])
            .map_err(|e| call_failure("in _initialize: ", e))?;
    }
    let func = instance
        .get_func(&mut store, &name)
        .ok_or_else(|| format!("no exported function `{name}`"))?;
    let ty = func.ty(&store);
    let call_args: &[String] = if o.invoke.is_some() { &o.rest } else { &[] };
    if ty.params().len() != call_args.len() {
        return Err(Failure::BadInput(format!(
            "`{name}` takes {} argument(s) ({ty}), {} given",
            ty.params().len(),
            call_args.len()
        )));
    }
    let params = ty
        .params()
        .iter()
        .zip(call_args)
        .map(|(&t, s)| parse_arg(t, s))
        .collect::<Result<Vec<_>, _>>()?;
    let mut results = vec![Val::I32(0); ty.results().len()];
    func.call(&mut store, &params, &mut results)
        .map_err(|e| call_failure("", e))?;
    if o.invoke.is_some() {
        for r in &results {
            println!("{}", show(r));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Exit(status)) => {
            // As a POSIX process status: the low 8 bits, as `exit` gives them.
            std::process::exit(status)
        }
        Err(Failure::Trap(e)) => {
            eprintln!("wasmkern: {e}");
            ExitCode::from(1)
        }
        Err(Failure::BadInput(e)) => {
            eprintln!("wasmkern: {e}");
            ExitCode::from(2)
        }
    }
}

/// The WASI side of the CLI, over `wasmkern::wasi` and the host adapter.
mod wasi {
    use super::{Failure, Host, Options};
    use wasmkern::wasi::{DirPerms, WasiCtx, WasiCtxBuilder};
    use wasmkern::{Error, Linker};

    pub const MODULE_NAME: &str = "wasi_snapshot_preview1";

    pub type Ctx = WasiCtx;

    /// The status the guest gave `proc_exit`, if that is how it ended.
    pub fn exit_status(e: &Error) -> Option<i32> {
        e.exit_status()
    }

    /// The context of a command: inherited stdio, the preopens, the
    /// `--env` variables, and the file's base name and the words after it
    /// as arguments.
    pub fn context(o: &Options, file: &str) -> Result<Ctx, Failure> {
        let mut b = WasiCtxBuilder::new();
        b.inherit_stdio();
        let argv0 = std::path::Path::new(file)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| file.to_string());
        b.arg(argv0).args(&o.rest);
        b.envs(o.envs.iter().map(|(k, v)| (k, v)));
        for (host, guest) in &o.dirs {
            b.preopened_dir_path(host, guest, DirPerms::ReadWrite)
                .map_err(|e| Failure::BadInput(format!("--dir {host}: {e}")))?;
        }
        Ok(b.build())
    }

    pub fn link(l: &mut Linker<Host>) -> Result<(), Error> {
        wasmkern::wasi::add_to_linker(l, |h: &mut Host| &mut h.wasi)
    }
}
