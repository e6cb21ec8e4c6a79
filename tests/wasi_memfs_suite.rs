//! The wasi-testsuite's 72 programs run in process over the in-memory
//! filesystem: each test's `root` folder is copied into a fresh `MemFs`
//! preopened as `/`, so the core's preview1 implementation (path
//! resolution, rights, errnos) is checked without any real filesystem.
//!
//! The suite is looked for in `tests/wasi-testsuite` (the project's copy)
//! and in `../shared/wasi-testsuite`; when neither exists the test says so
//! and passes, except under `CI=true`, where it fails.

mod wasi_util;

use std::path::{Path, PathBuf};
use wasi_util::{Json, run_program};
use wasmkern::wasi::memfs::MemFs;
use wasmkern::wasi::system::SystemClock;

fn suite_dir() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        root.join("tests/wasi-testsuite"),
        root.join("../shared/wasi-testsuite"),
        root.join("../../shared/wasi-testsuite"),
    ]
    .into_iter()
    .find(|p| p.join("rust").is_dir())
}

/// Copies the host folder `from` into `fs` at `to`.
fn copy_into(fs: &MemFs, from: &Path, to: &str) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let guest = if to.is_empty() {
            name.clone()
        } else {
            format!("{to}/{name}")
        };
        let ty = entry.file_type().unwrap();
        if ty.is_dir() {
            fs.create_dir_all(&guest).unwrap();
            copy_into(fs, &entry.path(), &guest);
        } else if ty.is_symlink() {
            let target = std::fs::read_link(entry.path()).unwrap();
            fs.symlink(target.to_str().unwrap(), &guest).unwrap();
        } else if !name.ends_with(".cleanup") {
            fs.write_file(&guest, &std::fs::read(entry.path()).unwrap())
                .unwrap();
        }
    }
}

#[test]
fn wasi_testsuite_over_memfs() {
    let Some(dir) = suite_dir() else {
        let msg = "wasi-testsuite not found (tests/wasi-testsuite): the suite did not run";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
        eprintln!("{msg}");
        return;
    };
    let mut ran = 0;
    let mut failures = Vec::new();
    for lang in ["assemblyscript", "c", "rust"] {
        let tests = dir.join(lang).join("testsuite/wasm32-wasip1");
        let mut wasms: Vec<_> = std::fs::read_dir(&tests)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
            .collect();
        wasms.sort();
        for wasm in wasms {
            let name = wasm.file_stem().unwrap().to_str().unwrap().to_string();
            let spec = std::fs::read_to_string(wasm.with_extension("json"))
                .map(|s| Json::parse(&s))
                .unwrap_or(Json::Object(Vec::new()));
            let mut args = vec![name.clone()];
            if let Some(Json::Array(a)) = spec.get("args") {
                args.extend(a.iter().filter_map(Json::as_str).map(String::from));
            }
            let mut env = Vec::new();
            if let Some(Json::Object(vars)) = spec.get("env") {
                for (k, v) in vars {
                    env.push((k.clone(), v.as_str().unwrap_or_default().to_string()));
                }
            }
            let fs = MemFs::new().with_clock(SystemClock::new());
            let root = match spec.get("root").and_then(Json::as_str) {
                Some(r) => {
                    copy_into(&fs, &tests.join(r), "");
                    Some(fs.root())
                }
                None => None,
            };
            let bytes = std::fs::read(&wasm).unwrap();
            let out = run_program(&bytes, &args, &env, root);
            let want_code = spec.get("exit_code").and_then(Json::as_i64).unwrap_or(0) as i32;
            ran += 1;
            let mut problems = Vec::new();
            if out.status != Ok(want_code) {
                problems.push(format!(
                    "status {:?}, expected {want_code}; stderr: {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            if let Some(want) = spec.get("stdout").and_then(Json::as_str)
                && out.stdout != want.as_bytes()
            {
                problems.push(format!(
                    "stdout {:?}, expected {want:?}",
                    String::from_utf8_lossy(&out.stdout)
                ));
            }
            if !problems.is_empty() {
                failures.push(format!("{lang}/{name}: {}", problems.join("; ")));
            }
        }
    }
    assert_eq!(ran, 72, "expected the suite's 72 programs");
    assert!(
        failures.is_empty(),
        "{} of {ran} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
