//! The compilation cache of `Config::cache_dir` (`std` only): serialized
//! modules in a directory, one file per wasm module and engine settings.
//!
//! A file's name is the hex SHA-256 of the engine's settings that change
//! code (the serialized header's fields) followed by the wasm bytes, plus
//! `.cwasm`. Writers write a file of a unique temporary name in the same
//! directory and rename it into place: a rename within a directory is
//! atomic, so a reader sees no file or a whole one, and concurrent writers
//! of one module each put a whole, equivalent file there. Readers load
//! with the checksum verified, so a file damaged after the fact is
//! compiled again and replaced, never run.

use super::engine::Engine;
use super::module::Module;
use super::serialize::{
    ABI_FINGERPRINT, FORMAT_VERSION, MAGIC, cpu_bits, feature_bits, option_bits,
};
use crate::sha256::Sha256;
use alloc::string::String;
use core::sync::atomic::{AtomicU64, Ordering};
use std::path::{Path, PathBuf};

/// The cache file of `wasm` compiled by `engine`, in `dir`.
pub(crate) fn path(dir: &Path, engine: &Engine, wasm: &[u8]) -> PathBuf {
    let e = &engine.inner;
    let mut h = Sha256::new();
    h.update(&MAGIC);
    h.update(&FORMAT_VERSION.to_le_bytes());
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(&ABI_FINGERPRINT.to_le_bytes());
    h.update(&option_bits(&e.options).to_le_bytes());
    h.update(&feature_bits(e.features).to_le_bytes());
    h.update(&cpu_bits(e.cpu).to_le_bytes());
    h.update(wasm);
    let mut name = String::with_capacity(70);
    for b in h.finish() {
        name.push_str(&alloc::format!("{b:02x}"));
    }
    name.push_str(".cwasm");
    dir.join(name)
}

/// The module cached at `path`, if there is one that loads.
pub(crate) fn load(engine: &Engine, path: &Path) -> Option<Module> {
    let bytes = std::fs::read(path).ok()?;
    Module::deserialize_checked(engine, bytes).ok()
}

/// Writes `module` to `path` atomically; errors are the caller's to
/// ignore (the cache is best-effort).
pub(crate) fn store(module: &Module, path: &Path) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let bytes = module.serialize().map_err(std::io::Error::other)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = std::ffi::OsString::from(path.as_os_str());
    tmp.push(alloc::format!(
        ".tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = PathBuf::from(tmp);
    let written = std::fs::write(&tmp, &bytes).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}
