#!/usr/bin/env bash
# Rebuilds exceptions.wasm from src/main.rs: Rust's std for
# wasm32-unknown-unknown rebuilt with -C panic=unwind, on WebAssembly
# exception handling (LLVM emits the standard form: try_table, throw,
# throw_ref, exnref). Needs the nightly toolchain below with its rust-src
# component; it is not on every machine, which is why the result is checked
# in. The build is reproducible: the same toolchain gives the same bytes.
#
#   tests/programs/exceptions/build.sh            # rebuild exceptions.wasm
#   tests/programs/exceptions/build.sh --check    # compare, change nothing
#
# EXC_TOOLCHAIN names the toolchain for rustup (default nightly-2026-05-20,
# rustc 1.97.0-nightly e50aa6fba 2026-05-19); another one is refused unless
# it is that same rustc.
set -euo pipefail
cd "$(dirname "$0")"
toolchain="${EXC_TOOLCHAIN:-nightly-2026-05-20}"
want_commit=e50aa6fba4e63ab34c72bf9acfd2c307c1155d1a

if ! version=$(rustc "+$toolchain" -vV 2>/dev/null); then
    echo "toolchain $toolchain is missing:" >&2
    echo "  rustup toolchain install $toolchain --profile minimal --component rust-src" >&2
    exit 1
fi
if ! grep -q "commit-hash: $want_commit" <<<"$version"; then
    echo "toolchain $toolchain is not rustc $want_commit:" >&2
    echo "$version" >&2
    exit 1
fi
sysroot=$(rustc "+$toolchain" --print sysroot)
if [ ! -d "$sysroot/lib/rustlib/src/rust/library" ]; then
    echo "rust-src is missing: rustup component add rust-src --toolchain $toolchain" >&2
    exit 1
fi

target_dir=$(mktemp -d)
trap 'rm -rf "$target_dir"' EXIT
# Paths of the sources in panic messages, made independent of the machine.
export RUSTFLAGS="-C panic=unwind -C target-feature=+exception-handling \
--remap-path-prefix=$sysroot=/rustc --remap-path-prefix=$PWD=/exceptions"
export CARGO_TARGET_DIR="$target_dir"
cargo "+$toolchain" build --quiet --release --offline --locked \
    -Zbuild-std=std,panic_unwind --target wasm32-unknown-unknown
built="$target_dir/wasm32-unknown-unknown/release/exceptions.wasm"

if [ "${1:-}" = "--check" ]; then
    if cmp -s "$built" exceptions.wasm; then
        echo "exceptions.wasm is what src/main.rs builds to"
    else
        echo "exceptions.wasm differs from what src/main.rs builds to" >&2
        exit 1
    fi
else
    cp "$built" exceptions.wasm
    sha256sum exceptions.wasm
fi
