//! Runs a function of a WebAssembly module.
//!
//! ```text
//! cargo run --release --example wasmkern -- FILE.wasm|FILE.wat --invoke NAME ARGS...
//! cargo run --release --example wasmkern -- FILE.wasm|FILE.wat --list
//! cargo run --release --example wasmkern            # a bundled demo
//! ```
//!
//! Arguments are typed (`i32:5`, `f64:1.5`) or inferred from the function's
//! parameter types (`5`, `1.5`). Results print with their types. The module
//! may import `env.print_i32` and `env.print_i64`. Every failure prints one
//! line; the exit status is 0 on success, 1 on a trap, 2 on bad input.

use std::process::ExitCode;
use wasmkern::{Engine, Error, ExternType, Linker, Module, Store, Val, ValType};

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

/// How a run failed: a trap (status 1) or bad input (status 2).
enum Failure {
    Trap(String),
    BadInput(String),
}

impl From<String> for Failure {
    fn from(s: String) -> Failure {
        Failure::BadInput(s)
    }
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

fn run(args: &[String]) -> Result<(), Failure> {
    if let [file, flag] = args
        && flag == "--list"
    {
        let bytes = wat::parse_file(file).map_err(|e| {
            format!(
                "{file}: {}",
                e.to_string().lines().next().unwrap_or_default()
            )
        })?;
        let engine = Engine::default();
        let module =
            Module::new(&engine, &bytes).map_err(|e| format!("cannot load module: {e}"))?;
        list(&module);
        return Ok(());
    }
    let (bytes, name, call_args): (Vec<u8>, String, &[String]) = match args {
        [] => (
            wat::parse_str(DEMO).map_err(|e| e.to_string())?,
            "main".into(),
            &[],
        ),
        [file, flag, name, rest @ ..] if flag == "--invoke" => {
            let bytes = wat::parse_file(file).map_err(|e| {
                format!(
                    "{file}: {}",
                    e.to_string().lines().next().unwrap_or_default()
                )
            })?;
            (bytes, name.clone(), rest)
        }
        _ => {
            return Err(Failure::BadInput(
                "usage: wasmkern [FILE --invoke NAME ARGS... | FILE --list]".into(),
            ));
        }
    };
    let engine = Engine::new(&wasmkern::Config::new()).map_err(|e| e.to_string())?;
    let module = Module::new(&engine, &bytes).map_err(|e| format!("cannot load module: {e}"))?;
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    let define = |l: &mut Linker<()>| -> Result<(), Error> {
        l.func_wrap("env", "print_i32", |x: i32| println!("{x}"))?;
        l.func_wrap("env", "print_i64", |x: i64| println!("{x}"))?;
        Ok(())
    };
    define(&mut linker).map_err(|e| e.to_string())?;
    let instance = linker
        .instantiate(&mut store, &module)
        .map_err(|e| format!("cannot instantiate: {e}"))?;
    let func = instance
        .get_func(&mut store, &name)
        .ok_or_else(|| format!("no exported function `{name}`"))?;
    let ty = func.ty(&store);
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
        .map_err(|e| match e.trap() {
            Some(_) => {
                // The trap message, then the wasm frames, innermost first.
                let mut text = format!("trap: {e}");
                for (i, frame) in e.backtrace().iter().enumerate() {
                    text.push_str(&format!("\n  #{i} {frame}"));
                }
                Failure::Trap(text)
            }
            None => Failure::Trap(format!("error: {e}")),
        })?;
    for r in &results {
        println!("{}", show(r));
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
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
