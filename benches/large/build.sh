#!/usr/bin/env bash
# Regenerates benches/large/large.wasm, the compile-throughput benchmark's
# "large clang -O2 program": gen.py writes about 3 MB of ordinary C (4400
# functions), clang compiles it to about 1 MB of wasm. Needs python3, clang
# and wasm-ld (`apt-get install -y clang lld`). The committed large.wasm was
# built with Debian clang 14.0.6; the generated C is not committed (it is
# large and gen.py reproduces it exactly). Usage:
#     benches/large/build.sh
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 gen.py 4400 > "$tmp/large.c"
"${CLANG:-clang}" --target=wasm32 -O2 -nostdlib -ffreestanding -fno-math-errno \
    -Wl,--no-entry -Wl,--export=run -Wl,--strip-all -o large.wasm "$tmp/large.c"
printf 'large.wasm %d bytes\n' "$(stat -c %s large.wasm)"
