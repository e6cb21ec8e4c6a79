//! A real program that throws and catches across many frames, run through
//! the `wasmkern` CLI: `tests/programs/exceptions/src/main.rs`, a Rust
//! program built with `-C panic=unwind` on WebAssembly exception handling
//! (its panics are `throw`s, its `catch_unwind`s and destructors
//! `try_table`s). Its standard output must be the same as the native build
//! of the same source.
//!
//! The wasm build is checked in (`exceptions.wasm`): it needs a nightly
//! toolchain with `rust-src` (`-Zbuild-std`, to rebuild std with
//! `panic=unwind`), which not every machine can install. Its
//! `build.sh` rebuilds it, reproducibly, from the pinned nightly; a source
//! changed without a rebuild shows here as a difference from the native
//! output. The native build uses the toolchain running this test.

mod cli_binary;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn program_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/exceptions")
}

fn checked_in_wasm() -> Vec<u8> {
    let path = program_dir().join("exceptions.wasm");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The checked-in module uses the standard exception-handling encoding
/// (`try_table`, `throw`, `throw_ref`) and none of the legacy one
/// (`try`/`catch`/`delegate`/`rethrow`), which wasmkern does not accept.
#[test]
fn the_program_uses_standard_exception_handling() {
    use wasmparser::{Operator, Parser, Payload};
    let wasm = checked_in_wasm();
    let (mut try_tables, mut throws, mut throw_refs, mut legacy, mut tags) = (0, 0, 0, 0, 0);
    for payload in Parser::new(0).parse_all(&wasm) {
        match payload.expect("the checked-in module parses") {
            Payload::TagSection(s) => tags += s.count(),
            Payload::ImportSection(s) => {
                for import in s.into_imports() {
                    let import = import.unwrap();
                    if matches!(import.ty, wasmparser::TypeRef::Tag(_)) {
                        tags += 1;
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let mut ops = body.get_operators_reader().unwrap();
                while !ops.eof() {
                    match ops.read().unwrap() {
                        Operator::TryTable { .. } => try_tables += 1,
                        Operator::Throw { .. } => throws += 1,
                        Operator::ThrowRef => throw_refs += 1,
                        Operator::Try { .. }
                        | Operator::Catch { .. }
                        | Operator::CatchAll
                        | Operator::Delegate { .. }
                        | Operator::Rethrow { .. } => legacy += 1,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    assert_eq!(legacy, 0, "legacy exception-handling operators");
    assert!(tags >= 1, "no tag");
    assert!(try_tables >= 10, "{try_tables} try_table");
    assert!(throws >= 1, "{throws} throw");
    assert!(throw_refs >= 1, "{throw_refs} throw_ref");
}

/// Builds the program natively with `rustc` (the toolchain of this
/// checkout) and returns what it prints.
fn native_output() -> Option<String> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("exceptions-program");
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("exceptions-native");
    let built = Command::new("rustc")
        .args(["--edition", "2021", "-O", "--crate-name", "exceptions"])
        .arg(program_dir().join("src/main.rs"))
        .arg("-o")
        .arg(&exe)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("RUSTFLAGS")
        .output();
    let built = match built {
        Ok(b) => b,
        Err(e) => {
            let msg = format!("rustc could not run ({e}): this test did not run");
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
            eprintln!("{msg}");
            return None;
        }
    };
    assert!(
        built.status.success(),
        "rustc failed on the program:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let run = Command::new(&exe).stdin(Stdio::null()).output().unwrap();
    assert!(run.status.success(), "the native program failed: {run:?}");
    Some(String::from_utf8(run.stdout).expect("UTF-8 output"))
}

#[test]
fn the_program_prints_what_its_native_build_prints() {
    let Some(native) = native_output() else {
        return;
    };
    // The native output says what the source promises, so that an empty or
    // broken native run cannot make the comparison vacuous.
    assert!(native.starts_with("== unwinding through n frames\n"));
    assert!(native.contains(
        "depth 10000: caught u64 10397063766279878031; 10001 guards dropped, deepest first: true\n"
    ));
    assert!(
        native.contains("try(1 / 0, 42) + 1: = 43 (1 panics, try caught 1, unwound 1 frames)\n")
    );
    assert!(native.ends_with("done\n"));

    let wasm = program_dir().join("exceptions.wasm");
    // 8 MiB of wasm stack, as the native build's main thread has: 10,000
    // frames of the program's deepest recursion do not fit the default
    // 1 MiB (wasmkern gives each of them about 256 bytes).
    let out = Command::new(cli_binary::cli())
        .args(["--max-wasm-stack", "8388608"])
        .arg(&wasm)
        .stdin(Stdio::null())
        .output()
        .expect("running the CLI");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stdout != native {
        let line = stdout
            .lines()
            .zip(native.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| stdout.lines().count().min(native.lines().count()));
        panic!(
            "wasmkern's output differs from the native build's from line {}:\n\
             wasmkern: {:?}\nnative:   {:?}\nstatus {:?}, stderr:\n{stderr}",
            line + 1,
            stdout.lines().nth(line),
            native.lines().nth(line),
            out.status
        );
    }
    assert!(
        out.status.success(),
        "status {:?}, stderr:\n{stderr}",
        out.status
    );
    assert_eq!(stderr, "");
}
