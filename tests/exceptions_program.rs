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

use std::path::{Path, PathBuf};

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
