//! `wasmkern compile FILE -o FILE.cwasm` and running the `.cwasm`
//! (`examples/wasmkern.rs`), as a user does: the precompiled module gives
//! the same output and status as its source, is refused with options it
//! was not compiled for, and a damaged one is refused with status 2.

mod cli_binary;

use cli_binary::cli;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A fresh directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p =
            std::env::temp_dir().join(format!("wasmkern-cli-cwasm-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn run(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(cli())
        .args(args.iter().map(|a| a.as_ref()))
        .stdin(Stdio::null())
        .output()
        .expect("running the CLI")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A WASI command printing its arguments' count and exiting with 3.
const COMMAND: &str = r#"(module
    (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "args_sizes_get" (func $sizes (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
    (memory (export "memory") 1)
    (data (i32.const 16) "argc=?\n")
    (func (export "_start")
        (drop (call $sizes (i32.const 100) (i32.const 104)))
        (i32.store8 (i32.const 21) (i32.add (i32.const 48) (i32.load (i32.const 100))))
        (i32.store (i32.const 0) (i32.const 16))
        (i32.store (i32.const 4) (i32.const 7))
        (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (call $exit (i32.const 3))))"#;

const FUNCS: &str = r#"(module
    (func $fac (export "fac") (param i64) (result i64)
        local.get 0 i64.eqz
        if (result i64) i64.const 1
        else local.get 0 local.get 0 i64.const 1 i64.sub call $fac i64.mul end)
    (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1))))"#;

fn compile(dir: &Path, name: &str, wat: &str, options: &[&str]) -> PathBuf {
    let src = dir.join(format!("{name}.wat"));
    fs::write(&src, wat).unwrap();
    let out = dir.join(format!("{name}.cwasm"));
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"compile"];
    for o in options {
        args.push(o);
    }
    args.push(&src);
    args.push(&"-o");
    args.push(&out);
    let o = run(&args);
    assert!(o.status.success(), "compile failed: {}", text(&o.stderr));
    assert!(fs::read(&out).unwrap().starts_with(b"\0wkcwasm"));
    out
}

#[test]
fn a_precompiled_command_runs_as_its_source() {
    let dir = TempDir::new("command");
    let cwasm = compile(&dir.0, "cmd", COMMAND, &[]);
    let src = dir.0.join("cmd.wat");
    let from_source = run(&[&src, &"a", &"b"]);
    let precompiled = run(&[&cwasm, &"a", &"b"]);
    assert_eq!(text(&from_source.stdout), "argc=3\n");
    assert_eq!(from_source.status.code(), Some(3));
    assert_eq!(text(&precompiled.stdout), text(&from_source.stdout));
    assert_eq!(
        precompiled.status.code(),
        Some(3),
        "{}",
        text(&precompiled.stderr)
    );
}

#[test]
fn precompiled_functions_invoke_and_trap_as_their_source() {
    let dir = TempDir::new("funcs");
    let cwasm = compile(&dir.0, "funcs", FUNCS, &[]);
    let o = run(&[&"--invoke", &"fac", &cwasm, &"20"]);
    assert_eq!(
        text(&o.stdout),
        "i64:2432902008176640000\n",
        "{}",
        text(&o.stderr)
    );
    let o = run(&[&"--invoke", &"div", &cwasm, &"1", &"0"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("integer divide by zero"),
        "{}",
        text(&o.stderr)
    );
    let o = run(&[&"--list", &cwasm]);
    assert!(o.status.success());
    assert!(text(&o.stdout).contains("fac"), "{}", text(&o.stdout));
    // The default output name: FILE with the extension .cwasm.
    let src = dir.0.join("funcs.wat");
    fs::remove_file(&cwasm).unwrap();
    let o = run(&[&"compile", &src]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(cwasm.is_file());
}

#[test]
fn a_mismatched_or_damaged_cwasm_is_refused() {
    let dir = TempDir::new("refused");
    let plain = compile(&dir.0, "plain", FUNCS, &[]);
    let fueled = compile(&dir.0, "fueled", FUNCS, &["--fuel", "1"]);
    // Fuel code needs a fuel engine, and the other way round.
    let o = run(&[&"--fuel", &"1000", &"--invoke", &"fac", &plain, &"5"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("compiled with other code options"),
        "{}",
        text(&o.stderr)
    );
    let o = run(&[&"--invoke", &"fac", &fueled, &"5"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&[&"--fuel", &"1000", &"--invoke", &"fac", &fueled, &"5"]);
    assert_eq!(text(&o.stdout), "i64:120\n", "{}", text(&o.stderr));
    // One bit flipped.
    let mut bytes = fs::read(&plain).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 4;
    fs::write(&plain, &bytes).unwrap();
    let o = run(&[&"--invoke", &"fac", &plain, &"5"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("serialized module corrupted"),
        "{}",
        text(&o.stderr)
    );
}
