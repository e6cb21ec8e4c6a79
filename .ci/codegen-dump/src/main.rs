//! Dumps the machine code wasmkern generates for a set of modules, in each
//! compiler configuration `.ci/codegen-identical` compares, and compares two
//! such dumps function by function.
//!
//! ```text
//! codegen-dump dump OUT_DIR MODULE.wasm...   # writes OUT_DIR/NAME.CONFIG.{code,meta}
//! codegen-dump compare DIR_A DIR_B           # OK/DIFFERENT per dump; exit 1 on any difference
//! codegen-dump compile MODULE.wasm           # one sequential compile (for callgrind)
//! ```
//!
//! Functions are compiled on one thread, so they lie in index order and the
//! code does not depend on the number of cores. Type ids are the module's
//! type indices (the engine assigns its own at run time; they only appear as
//! immediates of `call_indirect`'s signature check).
//!
//! The dump uses the crate's internal compiler entry point
//! (`wasmkern::compile`); when that changes, this file changes with it, and
//! the script uses each revision's own copy when it has one.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use wasmkern::CpuFeatures;
use wasmkern::compile::{CompileOptions, CompiledModule, compile_module_with};

/// The configurations every module is compiled in: both memory modes, with
/// the host's CPU features and with the SSE4.1 baseline, and fuel metering
/// with interruption checks (which add code at every function entry and
/// loop header).
fn configs() -> Vec<(&'static str, CompileOptions, CpuFeatures)> {
    let bounds = CompileOptions {
        sequential: true,
        ..CompileOptions::default()
    };
    let guard = CompileOptions {
        guard_region: true,
        ..bounds
    };
    let fuel = CompileOptions {
        fuel: true,
        interruptible: true,
        ..bounds
    };
    let host = CpuFeatures::detect();
    let sse41 = CpuFeatures::sse41_baseline();
    vec![
        ("bounds-host", bounds, host),
        ("guard-host", guard, host),
        ("bounds-sse41", bounds, sse41),
        ("guard-sse41", guard, sse41),
        ("fuel-host", fuel, host),
    ]
}

fn compile(
    bytes: &[u8],
    options: &CompileOptions,
    cpu: &CpuFeatures,
) -> Result<CompiledModule, String> {
    let module = wasmkern::decode::Module::decode(bytes).map_err(|e| e.to_string())?;
    let info = wasmkern::validate::validate_module(&module).map_err(|e| e.to_string())?;
    compile_validated(&module, &info, options, cpu)
}

/// The compiler alone: `.ci/codegen-identical --speed` counts the
/// instructions executed in here (callgrind's `--toggle-collect`).
#[inline(never)]
fn compile_validated(
    module: &wasmkern::decode::Module<'_>,
    info: &wasmkern::validate::ModuleInfo,
    options: &CompileOptions,
    cpu: &CpuFeatures,
) -> Result<CompiledModule, String> {
    compile_module_with(module, info, cpu, options).map_err(|e| e.to_string())
}

/// Everything but the code bytes, one fact a line.
fn meta(c: &CompiledModule) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "out_of_bounds_stub {}", c.out_of_bounds_stub);
    for (i, o) in c.func_offsets.iter().enumerate() {
        let _ = writeln!(s, "func {i} {o}");
    }
    for (native, wasm) in &c.sites {
        let _ = writeln!(s, "site {native} {wasm}");
    }
    for f in &c.fault_sites {
        let _ = writeln!(s, "fault {} {} {}", f.start, f.end, f.wasm_offset);
    }
    s
}

fn dump(out: &Path, modules: &[PathBuf]) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    for path in modules {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| format!("{}: no file name", path.display()))?;
        for (config, options, cpu) in configs() {
            let c = compile(&bytes, &options, &cpu).map_err(|e| format!("{name} {config}: {e}"))?;
            let base = out.join(format!("{name}.{config}"));
            std::fs::write(base.with_added_extension("code"), &c.code)
                .and_then(|()| std::fs::write(base.with_added_extension("meta"), meta(&c)))
                .map_err(|e| format!("{}: {e}", base.display()))?;
        }
    }
    Ok(())
}

/// Function start offsets read back from a `.meta` file.
fn func_offsets(meta: &str) -> Vec<(usize, usize)> {
    let mut v: Vec<(usize, usize)> = meta
        .lines()
        .filter_map(|l| {
            let mut w = l.strip_prefix("func ")?.split(' ');
            Some((w.next()?.parse().ok()?, w.next()?.parse().ok()?))
        })
        .map(|(i, o)| (o, i))
        .collect();
    v.sort_unstable();
    v
}

/// Describes where two code dumps first differ: which function and where.
fn first_difference(a: &[u8], b: &[u8], meta_a: &str) -> String {
    let at = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let funcs = func_offsets(meta_a);
    match funcs.iter().rev().find(|&&(o, _)| o <= at) {
        Some(&(start, i)) => format!(
            "first at code offset {at:#x}: function {i} + {:#x}",
            at - start
        ),
        None => format!("first at code offset {at:#x}: the module's stubs"),
    }
}

fn compare(a: &Path, b: &Path) -> Result<bool, String> {
    let read_dir = |d: &Path| -> Result<Vec<String>, String> {
        let mut names: Vec<String> = std::fs::read_dir(d)
            .map_err(|e| format!("{}: {e}", d.display()))?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|n| n.strip_suffix(".code").map(str::to_owned))
            .collect();
        names.sort();
        Ok(names)
    };
    let (names_a, names_b) = (read_dir(a)?, read_dir(b)?);
    if names_a != names_b || names_a.is_empty() {
        return Err(format!(
            "the dumps hold different sets of modules: {names_a:?} vs {names_b:?}"
        ));
    }
    let mut same = true;
    for name in &names_a {
        let read = |d: &Path, ext: &str| {
            std::fs::read(d.join(format!("{name}.{ext}"))).map_err(|e| format!("{name}.{ext}: {e}"))
        };
        let (code_a, code_b) = (read(a, "code")?, read(b, "code")?);
        let (meta_a, meta_b) = (read(a, "meta")?, read(b, "meta")?);
        let meta_a = String::from_utf8_lossy(&meta_a);
        if code_a == code_b && *meta_a.as_bytes() == *meta_b {
            println!("OK         {name:<24} {:>9} bytes", code_a.len());
        } else if code_a != code_b {
            same = false;
            println!(
                "DIFFERENT  {name:<24} {} vs {} bytes, {}",
                code_a.len(),
                code_b.len(),
                first_difference(&code_a, &code_b, &meta_a)
            );
        } else {
            same = false;
            println!("DIFFERENT  {name:<24} same code, different function offsets or sites");
        }
    }
    Ok(same)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["dump", out, modules @ ..] if !modules.is_empty() => {
            let modules: Vec<PathBuf> = modules.iter().map(PathBuf::from).collect();
            dump(Path::new(out), &modules).map(|()| true)
        }
        ["compare", a, b] => compare(Path::new(a), Path::new(b)),
        ["compile", module] => std::fs::read(module)
            .map_err(|e| format!("{module}: {e}"))
            .and_then(|bytes| {
                let options = CompileOptions {
                    sequential: true,
                    ..CompileOptions::default()
                };
                compile(&bytes, &options, &CpuFeatures::detect()).map(|_| true)
            }),
        _ => Err("usage: codegen-dump dump OUT_DIR MODULE.wasm... | compare DIR_A DIR_B | compile MODULE.wasm".into()),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("codegen-dump: {e}");
            ExitCode::from(2)
        }
    }
}
