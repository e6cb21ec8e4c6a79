//! The `wasmkern` command line (`examples/wasmkern.rs`) for tests that run
//! it as a user does: built once per test binary in that test's profile
//! (`cargo build --example wasmkern`, so a test run alone never uses a
//! stale binary) and found next to the test executable.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Builds the CLI once in this test's profile and returns its path.
pub fn cli() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        // target/<profile>/deps/<test> -> target/<profile>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test executable in target/<profile>/deps")
            .to_path_buf();
        let profile = profile_dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("debug")
            .to_string();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "--example", "wasmkern"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        match profile.as_str() {
            "debug" => {}
            "release" => {
                cmd.arg("--release");
            }
            other => {
                cmd.args(["--profile", other]);
            }
        }
        let status = cmd.status().expect("running cargo to build the CLI");
        assert!(status.success(), "cargo build --example wasmkern failed");
        let bin = profile_dir.join("examples").join("wasmkern");
        assert!(bin.is_file(), "{} not built", bin.display());
        bin
    })
}
