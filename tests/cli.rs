//! The `wasmkern` command line (`examples/wasmkern.rs`) as a user runs it:
//! exit statuses (0 on return, the guest's `proc_exit` status, 1 on a trap
//! — in a call, in the start function or in a data segment while
//! instantiating — 2 on bad input), the words after the file given to the
//! guest with the file's base name as `argv[0]`, `--env`, `--dir`, the
//! limits, `--invoke` and `--list`, and the elided backtrace of a deep
//! recursion.
//!
//! The binary is built in this test's profile with `cargo build --example
//! wasmkern` and found next to the test executable.

mod cli_binary;

use cli_binary::cli;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// A fresh directory under the system's temporary directory, removed on
/// drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "wasmkern-cli-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    /// Writes `wat` as `name` in this directory and returns its path.
    fn module(&self, name: &str, wat: &str) -> PathBuf {
        let p = self.0.join(name);
        fs::write(&p, wat).unwrap();
        p
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

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// WASI imports and a `$print` helper writing `len` bytes at `ptr` to
/// stdout through an iovec at address 0.
const WASI_PRELUDE: &str = r#"
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func $print (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $strlen (param $p i32) (result i32) (local $n i32)
    (block $end (loop $scan
      (br_if $end (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $scan)))
    (local.get $n))
  ;; Prints each of `count` NUL-terminated strings whose pointers are at
  ;; `ptrs`, each followed by a newline.
  (func $print_list (param $ptrs i32) (param $count i32) (local $i i32) (local $s i32) (local $n i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
      (local.set $s (i32.load (i32.add (local.get $ptrs) (i32.shl (local.get $i) (i32.const 2)))))
      (local.set $n (call $strlen (local.get $s)))
      (i32.store8 (i32.add (local.get $s) (local.get $n)) (i32.const 10))
      (call $print (local.get $s) (i32.add (local.get $n) (i32.const 1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))
"#;

/// Prints its arguments, then `--`, then its environment, one per line,
/// and exits with the status in its first argument after argv[0] if that
/// is a digit, else returns.
fn echo_module(dir: &TempDir) -> PathBuf {
    dir.module(
        "echo.wat",
        &format!(
            r#"(module {WASI_PRELUDE}
  (data (i32.const 64) "--\n")
  (func (export "_start") (local $argc i32) (local $envc i32) (local $digit i32)
    (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
    (local.set $argc (i32.load (i32.const 16)))
    (drop (call $args_get (i32.const 1024) (i32.const 4096)))
    (drop (call $environ_sizes_get (i32.const 24) (i32.const 28)))
    (local.set $envc (i32.load (i32.const 24)))
    (drop (call $environ_get (i32.const 2048) (i32.const 16384)))
    ;; The exit digit, read before the strings get their newlines.
    (local.set $digit (i32.const -1))
    (if (i32.ge_u (local.get $argc) (i32.const 2))
      (then (local.set $digit (i32.sub (i32.load8_u (i32.load (i32.const 1028))) (i32.const 48)))))
    (call $print_list (i32.const 1024) (local.get $argc))
    (call $print (i32.const 64) (i32.const 3))
    (call $print_list (i32.const 2048) (local.get $envc))
    (if (i32.lt_u (local.get $digit) (i32.const 10))
      (then (call $proc_exit (local.get $digit))))))"#
        ),
    )
}

#[test]
fn a_command_gets_the_words_after_the_file_and_its_base_name() {
    let d = TempDir::new("args");
    let echo = echo_module(&d);
    // Options after the file belong to the guest.
    let o = run(&[&echo, &"first", &"--env", &"x y", &"--dir"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "echo.wat\nfirst\n--env\nx y\n--dir\n--\n");
    // No host environment leaks in; --env sets exactly what it names.
    let o = Command::new(cli())
        .args(["--env", "A=1", "--env", "B=two=2", "--env", "HOST_ONLY"])
        .arg(&echo)
        .env("HOST_ONLY", "from host")
        .env("LEAK", "no")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "echo.wat\n--\nA=1\nB=two=2\nHOST_ONLY=from host\n"
    );
}

#[test]
fn the_exit_status_is_the_guests() {
    let d = TempDir::new("exit");
    let echo = echo_module(&d);
    for status in [0, 1, 3, 7, 9] {
        let o = run(&[&echo, &status.to_string()]);
        assert_eq!(o.status.code(), Some(status), "{}", stderr(&o));
        assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    }
    // proc_exit from a function called by `_start`, with more frames live.
    let nested = d.module(
        "nested.wat",
        &format!(
            r#"(module {WASI_PRELUDE}
  (func $deep (param i32) (if (i32.eqz (local.get 0)) (then (call $proc_exit (i32.const 42))))
    (call $deep (i32.sub (local.get 0) (i32.const 1))))
  (func (export "_start") (call $deep (i32.const 100)) unreachable))"#
        ),
    );
    assert_eq!(run(&[&nested]).status.code(), Some(42));
}

#[test]
fn dir_preopens_a_host_directory() {
    let d = TempDir::new("dir");
    let data = TempDir::new("dir-data");
    fs::write(data.0.join("greeting.txt"), "hello from the host\n").unwrap();
    // Opens greeting.txt in the first preopen (fd 3) and prints it.
    let cat = d.module(
        "cat.wat",
        &format!(
            r#"(module {WASI_PRELUDE}
  (data (i32.const 64) "greeting.txt")
  (func (export "_start") (local $fd i32)
    (if (call $path_open (i32.const 3) (i32.const 1) (i32.const 64) (i32.const 12)
          (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 32))
      (then (call $proc_exit (i32.const 10))))
    (local.set $fd (i32.load (i32.const 32)))
    (i32.store (i32.const 8) (i32.const 4096))
    (i32.store (i32.const 12) (i32.const 1000))
    (if (call $fd_read (local.get $fd) (i32.const 8) (i32.const 1) (i32.const 36))
      (then (call $proc_exit (i32.const 11))))
    (call $print (i32.const 4096) (i32.load (i32.const 36)))))"#
        ),
    );
    let host = data.0.display().to_string();
    for spelling in [
        vec!["--dir".to_string(), format!("{host}::/data")],
        vec![format!("--dir={host}::/")],
        vec!["--dir".to_string(), host.clone()],
    ] {
        let mut cmd = Command::new(cli());
        let o = cmd.args(&spelling).arg(&cat).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{spelling:?}: {}", stderr(&o));
        assert_eq!(stdout(&o), "hello from the host\n");
    }
    // Without a preopen there is no descriptor 3.
    assert_eq!(run(&[&cat]).status.code(), Some(10));
    // A missing host directory is bad input.
    let o = run(&[&"--dir", &"/nonexistent/wasmkern-test::/", &cat]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
}

#[test]
fn traps_exit_1_with_a_backtrace() {
    let d = TempDir::new("trap");
    let m = d.module(
        "trap.wat",
        r#"(module
  (func $inner (export "inner") (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
  (func $outer (export "outer") (param i32) (result i32) (call $inner (local.get 0))))"#,
    );
    let o = run(&[&"--invoke", &"outer", &m, &"0"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("integer divide by zero"), "{err}");
    assert!(err.contains("#0 inner (func 0)"), "{err}");
    assert!(err.contains("#1 outer (func 1)"), "{err}");
    // The older form, FILE --invoke NAME ARGS, still works.
    let o = run(&[&m, &"--invoke", &"outer", &"4"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "i32:0\n");
    let o = run(&[&"--invoke", &"outer", &m, &"i32:1"]);
    assert_eq!(stdout(&o), "i32:1\n");
    // A reactor's _initialize runs before the invoked export.
    let reactor = d.module(
        "reactor.wat",
        r#"(module (global $g (mut i32) (i32.const 1))
  (func (export "_initialize") (global.set $g (i32.const 41)))
  (func (export "get") (result i32) (i32.add (global.get $g) (i32.const 1))))"#,
    );
    let o = run(&[&"--invoke", &"get", &reactor]);
    assert_eq!(stdout(&o), "i32:42\n", "{}", stderr(&o));
    // A WASI command that traps.
    let o = run(&[&d.module(
        "cmd.wat",
        r#"(module (func $boom unreachable) (func (export "_start") (call $boom)))"#,
    )]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("unreachable"), "{}", stderr(&o));
    assert!(stderr(&o).contains("#0 boom (func 0)"), "{}", stderr(&o));
}

#[test]
fn traps_while_instantiating_exit_1() {
    let d = TempDir::new("inst");
    // A trap in the start function, with its backtrace.
    let start = d.module(
        "start.wat",
        r#"(module
  (func $helper (drop (i32.load (i32.const 70000))))
  (func $init (call $helper))
  (memory 1)
  (start $init)
  (func (export "f")))"#,
    );
    let o = run(&[&"--invoke", &"f", &start]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("out of bounds memory access"), "{err}");
    assert!(err.contains("#0 helper (func 0)"), "{err}");
    assert!(err.contains("#1 init (func 1)"), "{err}");
    // The same module run as a command (it has no _start: bad input).
    let o = run(&[&start]);
    assert_eq!(o.status.code(), Some(2));
    // A data segment out of bounds.
    let data = d.module(
        "data.wat",
        r#"(module (memory 1) (data (i32.const 65535) "ab") (func (export "_start")))"#,
    );
    let o = run(&[&data]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("out of bounds memory access"),
        "{}",
        stderr(&o)
    );
    // An element segment out of bounds.
    let elem = d.module(
        "elem.wat",
        r#"(module (table 1 funcref) (func $f) (elem (i32.const 1) $f) (func (export "_start")))"#,
    );
    let o = run(&[&elem]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("out of bounds table access"),
        "{}",
        stderr(&o)
    );
    // A link error is not a trap: bad input.
    let link = d.module(
        "link.wat",
        r#"(module (import "nowhere" "f" (func)) (func (export "_start")))"#,
    );
    let o = run(&[&link]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
}

#[test]
fn a_deep_backtrace_elides_its_middle() {
    let d = TempDir::new("deep");
    let m = d.module(
        "deep.wat",
        r#"(module (func $down (export "down") (param i32) (result i32)
  (i32.add (call $down (i32.add (local.get 0) (i32.const 1))) (i32.const 1))))"#,
    );
    let o = run(&[&"--invoke", &"down", &m, &"0"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("call stack exhausted"), "{err}");
    let frames: Vec<usize> = err
        .lines()
        .filter_map(|l| l.trim().strip_prefix('#'))
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    let elided: Vec<usize> = err
        .lines()
        .filter_map(|l| l.trim().strip_prefix("... "))
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(frames.len(), 30, "{err}");
    assert_eq!(elided.len(), 1, "{err}");
    // The first 20 frames, the count left out, then the last 10.
    assert_eq!(frames[..20], (0..20).collect::<Vec<_>>());
    assert_eq!(frames[20], 20 + elided[0]);
    assert!(
        frames[20..].windows(2).all(|w| w[1] == w[0] + 1),
        "{frames:?}"
    );
    assert!(elided[0] > 100, "{err}");
    assert!(err.lines().count() < 40, "{err}");
    // A short backtrace is printed whole.
    let short = d.module(
        "short.wat",
        r#"(module (func $down (export "down") (param i32) (result i32)
  (if (result i32) (local.get 0)
    (then (i32.add (call $down (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))
    (else unreachable))))"#,
    );
    let o = run(&[&"--invoke", &"down", &short, &"29"]);
    let err = stderr(&o);
    assert_eq!(
        err.lines().filter(|l| l.trim().starts_with('#')).count(),
        30,
        "{err}"
    );
    assert!(!err.contains("elided"), "{err}");
    let o = run(&[&"--invoke", &"down", &short, &"30"]);
    assert!(
        stderr(&o).contains("... 1 frames elided ..."),
        "{}",
        stderr(&o)
    );
}

#[test]
fn limits_from_the_command_line() {
    let d = TempDir::new("limits");
    let spin = d.module(
        "spin.wat",
        r#"(module (func (export "_start") (loop $l (br $l))))"#,
    );
    let o = run(&[&"--fuel", &"10000", &spin]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("fuel"), "{}", stderr(&o));
    // memory.grow beyond --max-memory returns -1 to the guest.
    let grow = d.module(
        "grow.wat",
        r#"(module (memory 1)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#,
    );
    let o = run(&[
        &"--max-memory",
        &"196608",
        &"--invoke",
        &"grow",
        &grow,
        &"2",
    ]);
    assert_eq!(stdout(&o), "i32:1\n", "{}", stderr(&o));
    let o = run(&[
        &"--max-memory",
        &"196608",
        &"--invoke",
        &"grow",
        &grow,
        &"3",
    ]);
    assert_eq!(stdout(&o), "i32:-1\n", "{}", stderr(&o));
    // A smaller wasm stack holds fewer frames.
    let deep = d.module(
        "deep.wat",
        r#"(module (func $down (export "down") (param i32) (result i32)
  (if (result i32) (local.get 0)
    (then (i32.add (call $down (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))
    (else (i32.const 0)))))"#,
    );
    let o = run(&[&"--invoke", &"down", &deep, &"5000"]);
    assert_eq!(stdout(&o), "i32:5000\n", "{}", stderr(&o));
    let o = run(&[
        &"--max-wasm-stack",
        &"65536",
        &"--invoke",
        &"down",
        &deep,
        &"5000",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("call stack exhausted"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn wasm_features_switch_on_and_off() {
    let d = TempDir::new("features");
    // A memory of 1-byte pages (custom-page-sizes, off by default).
    let small = d.module(
        "small.wat",
        r#"(module (memory 3 (pagesize 1))
  (func (export "f") (result i32)
    (i32.store8 (i32.const 2) (i32.const 7)) (i32.load8_u (i32.const 2))))"#,
    );
    let o = run(&[&"--invoke", &"f", &small]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("Config::wasm_custom_page_sizes"),
        "{}",
        stderr(&o)
    );
    for on in ["custom-page-sizes", "custom-page-sizes=y"] {
        let o = run(&[&"-W", &on, &"--invoke", &"f", &small]);
        assert_eq!(stdout(&o), "i32:7\n", "{}", stderr(&o));
    }
    let o = run(&[&"--wasm=custom-page-sizes=y", &"--invoke", &"f", &small]);
    assert_eq!(stdout(&o), "i32:7\n", "{}", stderr(&o));
    // Off again after on: the last word wins.
    let o = run(&[
        &"-W",
        &"custom-page-sizes",
        &"-W",
        &"custom-page-sizes=n",
        &"--invoke",
        &"f",
        &small,
    ]);
    assert_eq!(o.status.code(), Some(2));
    // extended-const is on by default, and can be turned off.
    let konst = d.module(
        "konst.wat",
        r#"(module (global $g i32 (i32.add (i32.const 40) (i32.const 2)))
  (func (export "g") (result i32) (global.get $g)))"#,
    );
    let o = run(&[&"--invoke", &"g", &konst]);
    assert_eq!(stdout(&o), "i32:42\n", "{}", stderr(&o));
    let o = run(&[&"-W", &"extended-const=n", &"--invoke", &"g", &konst]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("constant expression required"),
        "{}",
        stderr(&o)
    );
    // tail-call is on by default, and can be turned off.
    let tail = d.module(
        "tail.wat",
        r#"(module (func $f (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func (export "t") (result i32) (return_call $f (i32.const 41))))"#,
    );
    let o = run(&[&"--invoke", &"t", &tail]);
    assert_eq!(stdout(&o), "i32:42\n", "{}", stderr(&o));
    let o = run(&[&"-W", &"tail-call=n", &"--invoke", &"t", &tail]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("Config::wasm_tail_call"),
        "{}",
        stderr(&o)
    );
    // Unknown features and values are bad input; --help lists the features.
    for bad in ["gc", "tail-call=maybe"] {
        let o = run(&[&"-W", &bad, &"--invoke", &"g", &konst]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        assert!(stderr(&o).contains(bad), "{}", stderr(&o));
    }
    let o = run(&[&"--help"]);
    for name in ["tail-call", "memory64", "wide-arithmetic", "-W, --wasm"] {
        assert!(stderr(&o).contains(name), "{}", stderr(&o));
    }
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let d = TempDir::new("bad");
    let f = d.module(
        "f.wat",
        r#"(module (func (export "f") (param i32) (result i32) (local.get 0)))"#,
    );
    let garbage = d.0.join("garbage.wasm");
    fs::write(&garbage, b"\0asm\x01\0\0\0\x01").unwrap();
    let cases: Vec<Vec<&dyn AsRef<std::ffi::OsStr>>> = vec![
        vec![&"/nonexistent/file.wasm"],
        vec![&garbage],
        vec![&"--no-such-option", &f],
        vec![&"--fuel", &"lots", &f],
        vec![&"--max-wasm-stack", &"4096", &"--invoke", &"f", &f, &"1"],
        vec![&"--dir"],
        vec![&"--invoke", &"missing", &f],
        vec![&"--invoke", &"f", &f],
        vec![&"--invoke", &"f", &f, &"x"],
        vec![&"--invoke", &"f", &f, &"1", &"2"],
        vec![&f],
        vec![&"--invoke", &"f"],
    ];
    for args in cases {
        let o = run(&args);
        let shown: Vec<_> = args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        assert_eq!(o.status.code(), Some(2), "{shown:?}: {}", stderr(&o));
        assert_eq!(stderr(&o).lines().count(), 1, "{shown:?}: {}", stderr(&o));
        assert!(stdout(&o).is_empty(), "{shown:?}");
    }
    // --list prints imports and exports.
    let o = run(&[&"--list", &f]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), "export f: func [i32] -> [i32]\n");
}
