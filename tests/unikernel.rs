//! The bare-metal proof: builds `examples/unikernel` for
//! `x86_64-unknown-none`, boots it under QEMU (TCG, no KVM needed) and checks
//! what it prints on the serial port and how it exits.
//!
//! The kernel is built for `x86_64-unknown-none`: when the active toolchain
//! lacks that target (rustup adds a `rust-toolchain.toml` target only when
//! it installs the toolchain, not to one already there), the test adds it
//! with `rustup target add x86_64-unknown-none` before building.
//!
//! Booting needs `qemu-system-x86_64` (`WASMKERN_QEMU` names another
//! binary). Without it a user's run builds the kernel, prints that the boot
//! test did not run and how to install QEMU:
//!
//! ```text
//! apt-get update && apt-get install -y qemu-system-x86
//! ```
//!
//! and passes; under CI (`CI=true`, which `.ci/run` and CI services set)
//! a missing QEMU fails the test, so CI cannot pass without booting.
//!
//! The expected values below are computed independently of wasmkern (by
//! hand, or with Python's IEEE doubles for the float sum), never read back
//! from a run.
//!
//! `wasi_hello_wasm_matches_c` rebuilds the kernel's C WASI program with
//! clang and wasi-libc (Debian: clang lld wasi-libc
//! libclang-rt-14-dev-wasm32) and compares it with the committed binary;
//! the kernel's own build never needs clang.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long QEMU may run. TCG on a busy 2-core machine is slow; the kernel
/// itself needs a few seconds.
const QEMU_TIMEOUT: Duration = Duration::from_secs(120);

/// QEMU's exit status when the kernel wrote 0x10 to `isa-debug-exit`
/// (`(0x10 << 1) | 1`): every check passed. See
/// `examples/unikernel/src/exit.rs` for the other codes.
const EXIT_ALL_PASSED: i32 = 33;

/// The lines the kernel must print, in this order (other lines may come
/// between them). A line ending in `…` is matched as a prefix.
const EXPECTED_LINES: &[&str] = &[
    "wasmkern unikernel: booted in long mode",
    "heap: 16 MiB",
    // Compiled on the host by build.rs; the kernel has no compiler.
    "module loaded, precompiled on the host",
    "fib(20) = 6765 ok",
    "sum_squares(100) = 328350 ok",
    // sum(sqrt(i) for i in 1..=100), in order, with IEEE doubles.
    "sum_sqrt(100) = 671.4629471031477 ok",
    // 0.25 * (0² + 1² + … + 15²) = 0.25 * 1240.
    "dot_f32(16) = 310 ok",
    "hypot(3, 4) = 5 ok",
    "guest: hello from wasm, through a host call",
    "greet() = 36 ok",
    "printed by the host = hello from wasm, through a host call ok",
    "out_of_bounds() trapped: …",
    "fib(10) after the trap = 55 ok",
    // The C program (wasm/wasi_hello.c) over WASI; its input is
    // wasm/message.txt: 3 lines of 44, 48 and 52 bytes (counted by hand,
    // newlines included), whose numbers 17 + 20 + 5 make its exit status.
    "wasi program loaded, precompiled on the host",
    "hello from C, through WASI fd_write",
    "read 144 bytes, 3 lines from /data/message.txt:",
    "> wasmkern runs this C program on bare metal.",
    "> It read this file from an in-memory filesystem.",
    "> The numbers 17, 20 and 5 add up to its exit status.",
    "stderr: clock_gettime ok, getentropy ok",
    "exiting with the sum of its numbers: 42",
    "wasi program exit status = 42 ok",
    "checks: 10 right, 0 wrong",
    "ALL CHECKS PASSED",
];

/// Writes `line` to the process's stderr directly: the test harness
/// captures `eprintln!` of passing tests, and these lines must be seen.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn unikernel_dir() -> PathBuf {
    root().join("examples/unikernel")
}

/// `$CARGO_TARGET_DIR/unikernel`, or `target/unikernel`: apart from the
/// host build, so the nested cargo never waits for the outer one's lock.
fn target_dir() -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    base.join("unikernel")
}

/// The bare-metal target the kernel is built for.
const TARGET: &str = "x86_64-unknown-none";

/// True when the toolchain that builds the kernel (the one selected in
/// `examples/unikernel`, i.e. this repository's pinned one) has the
/// standard library of [`TARGET`]: `core`'s rlib in its target libdir.
fn target_installed() -> bool {
    let Ok(out) = Command::new("rustc")
        .current_dir(unikernel_dir())
        .args(["--print", "target-libdir", "--target", TARGET])
        .output()
    else {
        return false;
    };
    let libdir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    out.status.success()
        && std::fs::read_dir(&libdir).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.starts_with("libcore-") && name.ends_with(".rlib")
            })
        })
}

/// Adds [`TARGET`] to the active toolchain with rustup when it is missing.
fn ensure_target() {
    if target_installed() {
        return;
    }
    say(&format!(
        "unikernel test: target {TARGET} is not installed; running `rustup target add {TARGET}`"
    ));
    let status = Command::new("rustup")
        .current_dir(unikernel_dir())
        .args(["target", "add", TARGET])
        .status();
    match status {
        Ok(s) if s.success() && target_installed() => {}
        Ok(s) => panic!(
            "`rustup target add {TARGET}` did not install the target ({s}); \
             install it by hand and run the test again"
        ),
        Err(e) => panic!(
            "target {TARGET} is not installed and rustup could not be run ({e}); \
             install the target for this toolchain (e.g. `rustup target add {TARGET}`)"
        ),
    }
}

fn build_kernel() -> PathBuf {
    ensure_target();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = target_dir();
    // Run inside the crate so its `.cargo/config.toml` applies as well.
    let status = Command::new(cargo)
        .current_dir(unikernel_dir())
        .args(["build", "--release", "--target", TARGET])
        .arg("--manifest-path")
        .arg(unikernel_dir().join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .status()
        .expect("running cargo to build the unikernel");
    assert!(
        status.success(),
        "building examples/unikernel for {TARGET} failed ({status})"
    );
    target_dir.join(TARGET).join("release/wasmkern-unikernel")
}

/// The QEMU binary: `WASMKERN_QEMU`, or `qemu-system-x86_64` on the path.
fn qemu() -> std::ffi::OsString {
    std::env::var_os("WASMKERN_QEMU").unwrap_or_else(|| "qemu-system-x86_64".into())
}

/// True under CI (`CI=true`), where every tool a test needs is installed
/// and a missing one is a failure, not a skipped test.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn qemu_available() -> bool {
    Command::new(qemu())
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// QEMU's CPU models to boot on: `max` offers TCG's every feature (SSE4.1,
/// POPCNT, LZCNT, BMI1/2; no AVX, which the kernel leaves off), `qemu64`
/// only the x86-64 baseline with SSE3, so the compiler's fallbacks run.
const CPU_MODELS: &[&str] = &["max", "qemu64"];

/// Boots `kernel` on CPU model `cpu`; returns QEMU's exit status (`None`
/// if it was killed on timeout) and everything it printed on the serial
/// port.
fn boot(kernel: &Path, cpu: &str) -> (Option<i32>, String) {
    let mut child = Command::new(qemu())
        .arg("-kernel")
        .arg(kernel)
        .args(["-m", "128M", "-cpu", cpu, "-smp", "1"])
        .args(["-nographic", "-serial", "stdio", "-display", "none"])
        .args(["-monitor", "none", "-no-reboot"])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting QEMU");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });

    let start = Instant::now();
    let status = loop {
        match child.try_wait().expect("waiting for qemu") {
            Some(status) => break status.code(),
            None if start.elapsed() > QEMU_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    let output = reader.join().expect("reading qemu's output");
    (status, String::from_utf8_lossy(&output).replace('\r', ""))
}

/// Checks that `expected` appear in `output`'s lines in order; returns the
/// first one missing.
fn first_missing<'a>(output: &str, expected: &[&'a str]) -> Option<&'a str> {
    let mut lines = output.lines().map(str::trim_end);
    for &want in expected {
        let found = match want.strip_suffix('…') {
            Some(prefix) => lines.any(|line| line.starts_with(prefix)),
            None => lines.any(|line| line == want),
        };
        if !found {
            return Some(want);
        }
    }
    None
}

#[test]
fn unikernel_boots_and_runs_wasm() {
    let kernel = build_kernel();
    if !qemu_available() {
        let what = format!(
            "{} is not installed, so the unikernel was built but NOT booted. \
             Install QEMU with: apt-get update && apt-get install -y qemu-system-x86",
            qemu().to_string_lossy()
        );
        assert!(!in_ci(), "CI=true and {what}");
        say(&format!(
            "\nSKIPPED: the unikernel boot test did not run: {what}\n"
        ));
        return;
    }
    for cpu in CPU_MODELS {
        let (status, output) = boot(&kernel, cpu);
        println!("----- serial output, -cpu {cpu} -----\n{output}\n-----");

        let status = status.unwrap_or_else(|| {
            panic!("-cpu {cpu}: QEMU did not finish within {QEMU_TIMEOUT:?} and was killed")
        });
        if let Some(missing) = first_missing(&output, EXPECTED_LINES) {
            panic!(
                "-cpu {cpu}: the unikernel did not print {missing:?} (in order); \
                 QEMU exited with {status}"
            );
        }
        assert_eq!(
            status, EXIT_ALL_PASSED,
            "-cpu {cpu}: QEMU's exit status: 33 = all passed, 35 = a check failed, \
             37 = panic, 39 = CPU exception, 0 = triple fault (reset)"
        );
    }
}

/// The committed `guest.wasm` is `guest.wat` assembled. After editing the
/// text, regenerate the binary with
/// `WASMKERN_BLESS=1 cargo test --release --test unikernel guest_wasm`.
#[test]
fn guest_wasm_matches_wat() {
    let dir = unikernel_dir().join("wasm");
    let assembled = wat::parse_file(dir.join("guest.wat")).expect("guest.wat assembles");
    let wasm_path = dir.join("guest.wasm");
    if std::env::var_os("WASMKERN_BLESS").is_some() {
        std::fs::write(&wasm_path, &assembled).expect("writing guest.wasm");
    }
    let committed = std::fs::read(&wasm_path).expect("reading guest.wasm");
    assert!(
        committed == assembled,
        "examples/unikernel/wasm/guest.wasm is not guest.wat assembled; regenerate it with \
         WASMKERN_BLESS=1 cargo test --release --test unikernel guest_wasm"
    );
}

/// The clang major version the committed `wasi_hello.wasm` was built with;
/// another version compiles the same source to other bytes.
const WASI_HELLO_CLANG: &str = "clang version 14.";

/// The committed `wasi_hello.wasm` is `wasi_hello.c` built with the
/// command in its header comment (clang 14 and wasi-libc). Without clang
/// or the sysroot the test says it did not run (and fails under CI); with
/// another clang version it says it could not compare. After editing the
/// source, rebuild the binary with
/// `WASMKERN_BLESS=1 cargo test --release --test unikernel wasi_hello`.
#[test]
fn wasi_hello_wasm_matches_c() {
    let dir = unikernel_dir().join("wasm");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasi_hello.wasm");
    let built = Command::new("clang")
        .args([
            "--target=wasm32-wasi",
            "--sysroot=/usr",
            "-O2",
            "-Wl,--strip-all",
        ])
        .arg(dir.join("wasi_hello.c"))
        .arg("-o")
        .arg(&out)
        .output();
    let not_run = |what: &str| {
        let msg = format!("wasi_hello_wasm_matches_c did NOT run: {what}");
        assert!(!in_ci(), "CI=true and {msg}");
        say(&msg);
    };
    match built {
        Err(e) => return not_run(&format!("clang could not be run ({e})")),
        Ok(o) if !o.status.success() => {
            let err = String::from_utf8_lossy(&o.stderr);
            if err.contains("stdio.h") || err.contains("unable to find library") {
                return not_run(
                    "the wasi-libc sysroot is missing \
                     (Debian: clang lld wasi-libc libclang-rt-14-dev-wasm32)",
                );
            }
            panic!("clang failed on wasi_hello.c:\n{err}");
        }
        Ok(_) => {}
    }
    let wasm_path = dir.join("wasi_hello.wasm");
    let built = std::fs::read(&out).expect("reading the built wasi_hello.wasm");
    if std::env::var_os("WASMKERN_BLESS").is_some() {
        std::fs::write(&wasm_path, &built).expect("writing wasi_hello.wasm");
    }
    let committed = std::fs::read(&wasm_path).expect("reading wasi_hello.wasm");
    if committed == built {
        return;
    }
    let version = Command::new("clang")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if !version.contains(WASI_HELLO_CLANG) {
        return not_run(&format!(
            "this clang is not the one the binary was built with ({WASI_HELLO_CLANG}x); \
             it builds other bytes"
        ));
    }
    panic!(
        "examples/unikernel/wasm/wasi_hello.wasm is not wasi_hello.c built; rebuild it with \
         WASMKERN_BLESS=1 cargo test --release --test unikernel wasi_hello"
    );
}

#[test]
fn expected_lines_are_matched_in_order() {
    let output = "noise\na\nb x\nc\n";
    assert_eq!(first_missing(output, &["a", "b …", "c"]), None);
    assert_eq!(first_missing(output, &["c", "a"]), Some("a"));
    assert_eq!(first_missing(output, &["a", "b"]), Some("b"));
}
