//! Compiles the workloads' C sources natively (the baseline), with the same
//! optimization level as the wasm build (`-O2`), preferring clang as
//! `benches/workloads/build.sh` does. Each file's `run` is renamed to
//! `wk_run_<name>` so all of them link into the harness.
//!
//! Every native function and loop starts at a multiple of 64 bytes
//! (`-falign-functions=64 -falign-loops=64`; the loops' padding runs once
//! per entry). Where the linker puts the workloads in the harness depends
//! on the size of everything else it links, so with clang's default
//! alignment (16) a hot loop's place within the CPU's 64-byte blocks of
//! code, which a loop crossing one runs markedly slower, changed with
//! every change to wasmkern, and the baseline's times with it (native
//! sieve 216 ms in one build, 261 in the next, nbody 174 and 205).
//! Aligned, every build measures the same code in the same place, the
//! placement that favours the baseline; wasmkern aligns its own small
//! loops the same way.
//!
//! It also sets `cfg(wasmkern_api)` when the root crate has its public
//! runtime API (`src/runtime/`), which the wasmkern adapter needs: until
//! that lands, the harness builds and reports wasmkern as unavailable.

use std::path::PathBuf;
use std::process::Command;

const WORKLOADS: &[&str] = &[
    "fib", "sieve", "matmul", "nbody", "hash", "interp", "sort", "bulk", "tail_vm", "call_vm",
];

fn main() {
    detect_wasmkern_api();
    let dir = manifest_dir().join("../workloads");
    println!("cargo::rerun-if-changed={}", dir.join("wk.h").display());
    println!("cargo::rerun-if-env-changed=CC");
    let clang = std::env::var_os("CC").is_none()
        && Command::new("clang")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    for name in WORKLOADS {
        let src = dir.join(format!("{name}.c"));
        println!("cargo::rerun-if-changed={}", src.display());
        let mut build = cc::Build::new();
        if clang {
            build.compiler("clang");
        }
        build
            .file(&src)
            .opt_level(2)
            .debug(false)
            .flag("-fno-math-errno")
            .flag("-falign-functions=64")
            .flag("-falign-loops=64")
            .flag_if_supported("-Wno-unused-parameter")
            .define("run", format!("wk_run_{name}").as_str())
            .compile(&format!("wk_{name}"));
    }
    let compiler = cc::Build::new().get_compiler();
    let version = Command::new(if clang {
        "clang".as_ref()
    } else {
        compiler.path()
    })
    .arg("--version")
    .output()
    .ok()
    .and_then(|o| String::from_utf8(o.stdout).ok())
    .and_then(|s| s.lines().next().map(str::to_owned))
    .unwrap_or_else(|| "unknown".into());
    println!("cargo::rustc-env=HARNESS_NATIVE_CC={version}");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let rustc = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "rustc (unknown version)".into());
    println!("cargo::rustc-env=HARNESS_RUSTC={rustc}");
}

/// The harness's folder, read when the script runs: worktrees sharing one
/// target directory share one compiled build script, so a path fixed when
/// it was compiled could name another checkout.
fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
}

fn detect_wasmkern_api() {
    let root = manifest_dir().join("../..");
    println!("cargo::rustc-check-cfg=cfg(wasmkern_api)");
    println!(
        "cargo::rerun-if-changed={}",
        root.join("src/lib.rs").display()
    );
    println!(
        "cargo::rerun-if-changed={}",
        root.join("src/runtime").display()
    );
    if root.join("src/runtime/mod.rs").exists() {
        println!("cargo::rustc-cfg=wasmkern_api");
    }
}
