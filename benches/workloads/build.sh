#!/usr/bin/env bash
# Regenerates the committed benches/workloads/*.wasm from the C sources.
#
# Needs clang and wasm-ld (LLVM's lld); wabt's wasm-objdump is used for the
# summary when present. On Debian/Ubuntu (as the CI script does):
#
#     apt-get update && apt-get install -y clang lld wabt wasi-libc libclang-rt-14-dev-wasm32
#
# Flags: freestanding C, no libc, every workload exports `run`:
#     clang --target=wasm32 -O2 -nostdlib -Wl,--no-entry -Wl,--export=run
# bulk.c adds -mbulk-memory so memcpy/memset become memory.copy/memory.fill.
#
# The native baseline is not built here: benches/harness/build.rs compiles
# the same C files with `clang -O2` (through the `cc` crate) and links them
# into the harness, each `run` renamed to `wk_run_<name>`.
#
# wasi_calls.c is a WASI command (the WASI host-call benchmark), built
# against wasi-libc (Debian packages wasi-libc and libclang-rt-14-dev-wasm32):
#     clang --target=wasm32-wasi --sysroot=/usr -O2 -Wl,--strip-all
#
# The committed .wasm were built with Debian clang 14.0.6; other clang
# versions give different (equally valid) bytes. Usage:
#     benches/workloads/build.sh          # from anywhere
set -euo pipefail
cd "$(dirname "$0")"

CLANG=${CLANG:-clang}
COMMON=(--target=wasm32 -O2 -nostdlib -ffreestanding -Wall -Wextra -fno-math-errno
    -Wl,--no-entry -Wl,--export=run -Wl,--strip-all)

# name -> extra flags
declare -A EXTRA=(
    [fib]=""
    [sieve]=""
    [matmul]=""
    [nbody]=""
    [hash]=""
    [interp]=""
    [sort]=""
    [bulk]="-mbulk-memory"
)

for name in fib sieve matmul nbody hash interp sort bulk; do
    # shellcheck disable=SC2086
    "$CLANG" "${COMMON[@]}" ${EXTRA[$name]} -o "$name.wasm" "$name.c"
    printf '%-8s %8d bytes\n' "$name" "$(stat -c %s "$name.wasm")"
done

# The WASI host-call benchmark, a command linked with wasi-libc.
WASI_SYSROOT=${WASI_SYSROOT:-/usr}
"$CLANG" --target=wasm32-wasi --sysroot="$WASI_SYSROOT" -O2 -Wall -Wextra -Wl,--strip-all \
    -o wasi_calls.wasm wasi_calls.c
printf '%-8s %8d bytes\n' wasi_calls "$(stat -c %s wasi_calls.wasm)"

# The call-overhead module and the two VMs are written in the text format
# (tail_vm.c and call_vm.c are only their native baselines).
if command -v wat2wasm >/dev/null; then
    wat2wasm calls.wat -o calls.wasm
    wat2wasm --enable-tail-call tail_vm.wat -o tail_vm.wasm
    wat2wasm call_vm.wat -o call_vm.wasm
    for name in calls tail_vm call_vm; do
        printf '%-8s %8d bytes\n' "$name" "$(stat -c %s "$name.wasm")"
    done
fi
