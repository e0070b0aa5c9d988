#!/usr/bin/env bash
# Installs what `make test` needs beyond Rust and Python, when it is missing: the aarch64
# cross linker and qemu-user (Debian packages) and Rust's aarch64 Linux target.
set -euo pipefail

missing=()
command -v qemu-aarch64 >/dev/null || missing+=(qemu-user)
command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "make test needs ${missing[*]} (Debian packages); install them and run again" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
rustup target list --installed | grep -qx aarch64-unknown-linux-gnu ||
  rustup target add aarch64-unknown-linux-gnu ||
  echo "rustup cannot add aarch64-unknown-linux-gnu: scripts/test-aarch64.sh will skip" >&2
