#!/usr/bin/env bash
# Builds the unikernel and boots it under QEMU (TCG, no KVM needed).
#
#   examples/unikernel/run.sh            build (release) and boot
#   examples/unikernel/run.sh --build    only build; prints the kernel's path
#
# Needs qemu-system-x86_64:  apt-get update && apt-get install -y qemu-system-x86
# UNIKERNEL_CPU picks QEMU's CPU model (default max; qemu64 has no SSE4.1,
# POPCNT, LZCNT or BMI, so the compiler's fallbacks run).
# Exit status: QEMU's, i.e. 33 when every check passed (see src/exit.rs).
set -euo pipefail
cd "$(dirname "$0")"

target_dir="${CARGO_TARGET_DIR:-../../target}/unikernel"
cargo build --release --target x86_64-unknown-none --target-dir "$target_dir" >&2
kernel="$target_dir/x86_64-unknown-none/release/wasmkern-unikernel"
if [[ "${1:-}" == "--build" ]]; then
    echo "$kernel"
    exit 0
fi

if ! command -v qemu-system-x86_64 >/dev/null; then
    echo "qemu-system-x86_64 not found: apt-get update && apt-get install -y qemu-system-x86" >&2
    exit 2
fi

status=0
timeout --kill-after=10 "${UNIKERNEL_TIMEOUT:-120}" \
    qemu-system-x86_64 -kernel "$kernel" -m 128M -cpu "${UNIKERNEL_CPU:-max}" \
    -nographic -serial stdio -display none -monitor none -no-reboot \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 || status=$?
echo "qemu exit status: $status (33 = all checks passed)" >&2
exit "$status"
