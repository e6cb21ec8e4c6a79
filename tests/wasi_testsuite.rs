//! The WebAssembly community group's WASI preview1 test suite
//! (`tests/wasi-testsuite/`, 72 programs in C, Rust and AssemblyScript;
//! provenance and license in its README and LICENSE), run through the
//! `wasmkern` command-line example as a user would run it.
//!
//! The runner follows the suite's `specification.md` and its `run.py`:
//! - first a control program (it prints `ran:` and each argument followed by
//!   `:`, then exits with 40 + argc) must print `ran:alpha:beta:` and exit
//!   43, so that a runtime that runs nothing cannot pass the tests that only
//!   check an exit status;
//! - each test gets its `args`, exactly its `env` (`--env K=V`), and, when
//!   its spec names a `root`, a fresh copy of that folder preopened as `/`
//!   (`--dir COPY::/`), with the copy's parent as working directory; it
//!   passes when the exit status matches `exit_code` (default 0) and, where
//!   the spec gives `stdout`, stdout matches exactly; 30 s at most each;
//! - it fails when the control fails, when any test fails, or when fewer
//!   than [`EXPECTED_TESTS`] ran (a floor, so a missing folder cannot pass),
//!   and prints `wasi-testsuite: N passed, M failed`.
//!
//! The CLI binary is built first with `cargo build --example wasmkern` in
//! the profile of this test (so the test never runs a stale binary), and
//! found next to the test executable (`target/<profile>/examples/`).
//! `WASI_TESTSUITE_FILTER=name` runs only tests whose name contains `name`
//! (the floor is then not checked).

mod cli_binary;

use cli_binary::cli;
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How many test programs the suite holds.
const EXPECTED_TESTS: usize = 72;

/// How long one program may run.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The control module of the suite's `run.py`, byte for byte (base64 as
/// there): it writes `ran:`, then each argument after `argv[0]` followed by
/// `:`, to stdout, and exits with 40 + argc.
const CONTROL_BASE64: &str = "AGFzbQEAAAABFgRgBH9/f38Bf2ABfwBgAn9/AX9gAAACkAEEFndhc2lfc25hcHNob3RfcHJldmlldzEIZmRfd3JpdGUAABZ3YXNpX3NuYXBzaG90X3ByZXZpZXcxCXByb2NfZXhpdAABFndhc2lfc25hcHNob3RfcHJldmlldzEOYXJnc19zaXplc19nZXQAAhZ3YXNpX3NuYXBzaG90X3ByZXZpZXcxCGFyZ3NfZ2V0AAIDAgEDBQMBAAEHEwIGbWVtb3J5AgAGX3N0YXJ0AAQKqgEBpwEBBX9BAEEQNgIAQQRBBDYCAEEBQQBBAUEIEAAaQSBBJBACGkEgKAIAIQBBgAhBgCAQAxpBASECAkADQCACIABPDQFBgAggAkECdGooAgAhA0EAIQQCQANAIAMgBGotAABFDQEgBEEBaiEEDAALCyADIARqQTo6AABBACADNgIAQQQgBEEBajYCAEEBQQBBAUEIEAAaIAJBAWohAgwACwtBKCAAahABCwsKAQBBEAsEcmFuOg==";

/// Decodes standard base64 (with `=` padding).
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {:?}", c as char),
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|&c| c != b'=') {
        acc = (acc << 6) | u32::from(value(c));
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// A fresh directory under the system's temporary directory, removed on
/// drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "wasmkern-wasi-testsuite-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap_or_else(|e| panic!("creating {}: {e}", p.display()));
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Exit status (None on a timeout or a signal), stdout and stderr.
struct Outcome {
    status: Option<i32>,
    timed_out: bool,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

fn run(cmd: &mut Command) -> Outcome {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning the CLI");
    let reader = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    };
    let out = reader(Box::new(child.stdout.take().expect("stdout pipe")));
    let err = reader(Box::new(child.stderr.take().expect("stderr pipe")));
    let start = Instant::now();
    let (status, timed_out) = loop {
        if let Some(s) = child.try_wait().expect("waiting for the CLI") {
            break (s.code(), false);
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Outcome {
        status,
        timed_out,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// Copies the fixture folder `from` to `to` (links as links), writable.
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap_or_else(|e| panic!("creating {}: {e}", to.display()));
    for entry in fs::read_dir(from).unwrap_or_else(|e| panic!("reading {}: {e}", from.display())) {
        let entry = entry.expect("directory entry");
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let ty = entry.file_type().expect("file type");
        if ty.is_dir() {
            copy_tree(&src, &dst);
        } else if ty.is_symlink() {
            let target = fs::read_link(&src).expect("reading a link");
            std::os::unix::fs::symlink(target, &dst).expect("copying a link");
        } else {
            fs::copy(&src, &dst).unwrap_or_else(|e| panic!("copying {}: {e}", src.display()));
            let mut perms = fs::metadata(&dst).expect("metadata").permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            fs::set_permissions(&dst, perms).expect("making the copy writable");
        }
    }
}

/// One test's specification (legacy format: args, env, root, exit_code,
/// stdout).
struct Spec {
    args: Vec<String>,
    env: BTreeMap<String, String>,
    root: Option<String>,
    exit_code: i32,
    stdout: Option<String>,
}

fn spec(json: Option<&str>, name: &str) -> Spec {
    let v: serde_json::Value = match json {
        Some(text) => serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}.json: {e}")),
        None => serde_json::Value::Object(Default::default()),
    };
    let strings = |key: &str| -> Vec<String> {
        v.get(key)
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .map(|s| s.as_str().expect("string argument").to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(
        v.get("operations").is_none(),
        "{name}.json uses the operation-based format, which no preview1 test of this suite uses"
    );
    Spec {
        args: strings("args"),
        env: v
            .get("env")
            .and_then(|e| e.as_object())
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().expect("string value").to_string()))
                    .collect()
            })
            .unwrap_or_default(),
        root: v.get("root").and_then(|r| r.as_str()).map(String::from),
        exit_code: v
            .get("exit_code")
            .and_then(|c| c.as_i64())
            .map(|c| c as i32)
            .unwrap_or(0),
        stdout: v.get("stdout").and_then(|s| s.as_str()).map(String::from),
    }
}

/// Every test program, sorted by path.
fn tests(suite: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    for lang in ["assemblyscript", "c", "rust"] {
        let dir = suite.join(lang).join("testsuite").join("wasm32-wasip1");
        let entries =
            fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
        for e in entries {
            let p = e.expect("directory entry").path();
            if p.extension().is_some_and(|x| x == "wasm") {
                all.push(p);
            }
        }
    }
    all.sort();
    all
}

/// Prints a line on the process's stdout, past the test harness's
/// capture, so that the count shows in every `cargo test` run.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn wasi_testsuite() {
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wasi-testsuite");
    let cli = cli();

    // The control.
    let tmp = TempDir::new("control");
    let control = tmp.0.join("control.wasm");
    let bytes = base64(CONTROL_BASE64);
    assert_eq!(&bytes[..4], b"\0asm", "the control module decodes to wasm");
    fs::write(&control, bytes).expect("writing the control module");
    let got = run(Command::new(cli)
        .arg(&control)
        .args(["alpha", "beta"])
        .current_dir(&tmp.0));
    assert!(
        got.status == Some(43) && got.stdout == b"ran:alpha:beta:",
        "CONTROL FAILED: exit {:?}, stdout {:?} (want exit 43, stdout \"ran:alpha:beta:\"), \
         stderr {:?}: the CLI does not run WASI programs, so the suite proves nothing",
        got.status,
        text(&got.stdout),
        text(&got.stderr)
    );
    drop(tmp);

    let filter = std::env::var("WASI_TESTSUITE_FILTER").ok();
    let mut passed = 0;
    let mut failed = Vec::new();
    for wasm in tests(&suite) {
        let name = wasm
            .file_stem()
            .and_then(|n| n.to_str())
            .expect("test name")
            .to_string();
        let lang = wasm
            .parent()
            .and_then(Path::parent)
            .and_then(Path::parent)
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .expect("language folder")
            .to_string();
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let json = fs::read_to_string(wasm.with_extension("json")).ok();
        let spec = spec(json.as_deref(), &name);
        let tmp = TempDir::new(&name);
        let mut cmd = Command::new(cli);
        cmd.current_dir(&tmp.0).env_clear();
        if let Some(root) = &spec.root {
            let copy = tmp.0.join("root");
            copy_tree(&wasm.parent().expect("test folder").join(root), &copy);
            cmd.arg("--dir").arg(format!("{}::/", copy.display()));
        }
        for (k, v) in &spec.env {
            cmd.arg("--env").arg(format!("{k}={v}"));
        }
        cmd.arg(&wasm).args(&spec.args);
        let got = run(&mut cmd);
        let stdout_ok = spec
            .stdout
            .as_ref()
            .is_none_or(|want| got.stdout == want.as_bytes());
        if got.status == Some(spec.exit_code) && stdout_ok {
            passed += 1;
        } else {
            let mut line = format!(
                "FAIL {lang}/{name}: exit {} (want {})",
                match (got.timed_out, got.status) {
                    (true, _) => "timeout".to_string(),
                    (false, Some(code)) => code.to_string(),
                    (false, None) => "by a signal".to_string(),
                },
                spec.exit_code
            );
            if !stdout_ok {
                line += &format!(
                    ", stdout {:?} (want {:?})",
                    text(&got.stdout),
                    spec.stdout.as_deref().unwrap_or_default()
                );
            }
            let stderr = text(&got.stderr);
            let stderr: String = stderr.trim().chars().take(1500).collect();
            if !stderr.is_empty() {
                line += &format!("\n    stderr: {}", stderr.replace('\n', "\n            "));
            }
            say(&line);
            failed.push(format!("{lang}/{name}"));
        }
    }
    say(&format!(
        "wasi-testsuite: {passed} passed, {} failed",
        failed.len()
    ));
    assert!(failed.is_empty(), "failed: {}", failed.join(", "));
    if filter.is_none() {
        assert!(
            passed >= EXPECTED_TESTS,
            "only {passed} tests ran, the suite has {EXPECTED_TESTS}"
        );
    }
}
