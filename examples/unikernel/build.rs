//! Links the kernel with `linker.ld` at a fixed address (1 MiB), as a
//! static, non-PIE ELF: the boot code is 32-bit and uses absolute addresses.

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rerun-if-changed=linker.ld");
    println!("cargo:rerun-if-changed=wasm/guest.wasm");
    println!("cargo:rustc-link-arg-bins=-T{dir}/linker.ld");
    // x86_64-unknown-none links static-pie by default; the last of
    // `-pie`/`--no-pie` wins, so this makes a plain static executable.
    println!("cargo:rustc-link-arg-bins=--no-pie");
    println!("cargo:rustc-link-arg-bins=-zmax-page-size=4096");
}
