#!/usr/bin/env bash
# Runs the core crate's unit tests (the NEON kernels among them) and the tiny-model parity tests
# (logits and greedy ids, the same expectations as on x86) as aarch64 binaries under qemu-user,
# on a core without dotprod (Cortex-A53) and on one with dotprod and i8mm, so each kernel
# family is checked and none runs an instruction its CPU lacks.
# Needs: qemu-user, gcc-aarch64-linux-gnu (Debian) and `rustup target add aarch64-unknown-linux-gnu`.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  echo "SKIPPED: aarch64 tests under qemu: rustup could not install aarch64-unknown-linux-gnu here"
  exit 0
fi

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
for cpu in cortex-a53 max; do
  echo "== aarch64 unit tests under qemu -cpu $cpu"
  CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu $cpu" \
    cargo test --release --target aarch64-unknown-linux-gnu -p gemkit --lib
  CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu $cpu" \
    cargo test --release --target aarch64-unknown-linux-gnu -p gemkit-tests --test main parity
done
