//! The bare-metal proof: builds `examples/unikernel` for
//! `x86_64-unknown-none`, boots it under QEMU (TCG, no KVM needed) and checks
//! what it prints on the serial port and how it exits.
//!
//! Needs `qemu-system-x86_64`; without it the test fails and says so:
//!
//! ```text
//! apt-get update && apt-get install -y qemu-system-x86
//! ```
//!
//! The expected values below are computed independently of wasmkern (by
//! hand, or with Python's IEEE doubles for the float sum), never read back
//! from a run.

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
    "module compiled",
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
    "checks: 9 right, 0 wrong",
    "ALL CHECKS PASSED",
];

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

fn build_kernel() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = target_dir();
    // Run inside the crate so its `.cargo/config.toml` applies as well.
    let status = Command::new(cargo)
        .current_dir(unikernel_dir())
        .args(["build", "--release", "--target", "x86_64-unknown-none"])
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
        "building examples/unikernel failed ({status}); is the target installed? \
         rustup target add x86_64-unknown-none"
    );
    target_dir.join("x86_64-unknown-none/release/wasmkern-unikernel")
}

fn qemu_available() -> bool {
    Command::new("qemu-system-x86_64")
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
    let mut child = Command::new("qemu-system-x86_64")
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
        .expect("starting qemu-system-x86_64");
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
    assert!(
        qemu_available(),
        "qemu-system-x86_64 is not installed; this test boots the unikernel under QEMU. \
         Install it with: apt-get update && apt-get install -y qemu-system-x86"
    );
    let kernel = build_kernel();
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

#[test]
fn expected_lines_are_matched_in_order() {
    let output = "noise\na\nb x\nc\n";
    assert_eq!(first_missing(output, &["a", "b …", "c"]), None);
    assert_eq!(first_missing(output, &["c", "a"]), Some("a"));
    assert_eq!(first_missing(output, &["a", "b"]), Some("b"));
}
