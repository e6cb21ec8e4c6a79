//! Links the kernel with `linker.ld` at a fixed address (1 MiB), as a
//! static, non-PIE ELF: the boot code is 32-bit and uses absolute addresses.
//!
//! And compiles the guests (`wasm/guest.wasm`, `wasm/wasi_hello.wasm`) on
//! the host with wasmkern, serialized into `$OUT_DIR/*.cwasm`, which the
//! kernel embeds and loads without a compiler (`Module::deserialize_checked`).
//! The engine's settings are the kernel's (`Config::new()`: no fuel, no
//! interruption, explicit bounds checks), and the code uses only what
//! every x86-64 processor has (`CpuFeatures::baseline()`), so it loads on
//! every CPU model the kernel boots on (`-cpu qemu64` lacks SSE4.1).

use wasmkern::{Config, CpuFeatures, Engine, Module};

fn precompile(dir: &str, out: &str, name: &str) {
    let wasm = std::fs::read(format!("{dir}/wasm/{name}.wasm"))
        .unwrap_or_else(|e| panic!("reading wasm/{name}.wasm: {e}"));
    let engine = Engine::new(Config::new().cpu_features(CpuFeatures::baseline()))
        .expect("an engine on the host");
    let module =
        Module::new(&engine, wasm).unwrap_or_else(|e| panic!("compiling wasm/{name}.wasm: {e}"));
    let bytes = module.serialize().expect("serializing");
    std::fs::write(format!("{out}/{name}.cwasm"), bytes).expect("writing the .cwasm");
}

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    precompile(&dir, &out, "guest");
    precompile(&dir, &out, "wasi_hello");
    println!("cargo:rerun-if-changed=linker.ld");
    println!("cargo:rerun-if-changed=wasm/guest.wasm");
    println!("cargo:rerun-if-changed=wasm/wasi_hello.wasm");
    println!("cargo:rustc-link-arg-bins=-T{dir}/linker.ld");
    // x86_64-unknown-none links static-pie by default; the last of
    // `-pie`/`--no-pie` wins, so this makes a plain static executable.
    println!("cargo:rustc-link-arg-bins=--no-pie");
    println!("cargo:rustc-link-arg-bins=-zmax-page-size=4096");
}
