#!/usr/bin/env bash
# Regenerates benches/sqlite/sqlite.wasm, the compile-throughput benchmark's
# real program: the SQLite amalgamation that the `libsqlite3-sys` crate
# bundles (its `sqlite3/` directory) with the small program main.c, compiled
# by clang -O2 to wasm32-wasi (about 1.1 MB). Cargo fetches the crate's
# source into its registry (a throw-away crate depending on it, so nothing
# is added to the project's dependencies); the defines are those
# libsqlite3-sys's build script uses for wasm32-wasi, without threads and
# loadable extensions. Needs cargo, clang, wasm-ld and wasi-libc
# (`apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32`). The
# committed sqlite.wasm was built with Debian clang 14.0.6 from
# libsqlite3-sys 0.35.0 (SQLite 3.50.2). Usage:
#     benches/sqlite/build.sh
set -euo pipefail
cd "$(dirname "$0")"
version=0.35.0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/fetch/src"
touch "$tmp/fetch/src/lib.rs"
cat > "$tmp/fetch/Cargo.toml" <<TOML
[package]
name = "fetch-sqlite"
version = "0.0.0"
edition = "2021"
[dependencies]
libsqlite3-sys = { version = "=$version", default-features = false }
[workspace]
TOML
(cd "$tmp/fetch" && cargo fetch --quiet)
manifest=$(cd "$tmp/fetch" && cargo metadata --format-version 1 --quiet |
    python3 -c 'import json, sys
print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "libsqlite3-sys"))')
src=$(dirname "$manifest")/sqlite3
"${CLANG:-clang}" --target=wasm32-wasi --sysroot="${WASI_SYSROOT:-/usr}" -O2 -I"$src" \
    -DSQLITE_THREADSAFE=0 -DSQLITE_OMIT_LOAD_EXTENSION -DLONGDOUBLE_TYPE=double \
    -D_WASI_EMULATED_MMAN -D_WASI_EMULATED_GETPID -D_WASI_EMULATED_SIGNAL \
    -D_WASI_EMULATED_PROCESS_CLOCKS \
    -lwasi-emulated-mman -lwasi-emulated-getpid -lwasi-emulated-signal \
    -lwasi-emulated-process-clocks -Wl,--strip-all \
    -o sqlite.wasm main.c "$src/sqlite3.c"
printf 'sqlite.wasm %d bytes\n' "$(stat -c %s sqlite.wasm)"
