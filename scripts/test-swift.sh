#!/usr/bin/env bash
# Runs `swift test` on the Swift package in ios/ against the host-built library and the real
# model: the tests of the generated bindings and of the hand-written Swift beside them. The Rust
# CLI's results for the same requests go in the environment, and so does the URL of
# scripts/fault-server.py, started here on the host (serving the model as gemma.gguf) for the
# downloader's tests. Fails if any test fails, and if any is skipped: here everything can run.
# Run scripts/install-binding-deps.sh and scripts/gen-bindings.sh first.
set -euo pipefail
source "$(dirname "$0")/bindings-env.sh"

model="$(realpath "${GEMKIT_MODEL:-$("$repo/scripts/fetch-model.sh")}")"
prepare_swift_package
swift_mounts+=("$model" "$repo/README.md")  # the README: QuickstartTests compares its iOS quickstart

# The chroot shares the host's network, so the server is on the host's loopback.
start_fault_server "gemma.gguf=$model"

# The chroot starts with an empty environment: pass the model, the Rust CLI's results, the server.
reference_env "$model"
run_env=(GEMKIT_MODEL="$model" GEMKIT_FAULT_SERVER="$GEMKIT_FAULT_SERVER" LD_LIBRARY_PATH="$target/release")
for name in "${!GEMKIT_SEEDED_@}"; do run_env+=("$name=${!name}"); done

mkdir -p "$swift_build"
log="$swift_build/test.log"
swift_run "$swift_package" env "${run_env[@]}" \
  swift test --scratch-path "$swift_build" -Xlinker -L"$target/release" 2>&1 | tee "$log"
if grep -q "^[[:space:]]*Executed .* skipped" "$log"; then
  echo "test-swift: tests were skipped (SKIPPED above), though this script sets up all they need" >&2
  exit 1
fi
