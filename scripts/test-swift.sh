#!/usr/bin/env bash
# Builds the SwiftPM package in bindings/tests/swift with the generated Swift, header and
# module.modulemap (plus ios/Sources/GemKit) against the host-built library, and runs it. The
# package is assembled in $CARGO_TARGET_DIR/swift-tests, where SwiftPM keeps its build between
# runs. The Rust CLI's results for the same requests go in the environment. Run
# scripts/install-binding-deps.sh and scripts/gen-bindings.sh first.
set -euo pipefail
source "$(dirname "$0")/bindings-env.sh"

model="$(realpath "${GEMKIT_MODEL:-$("$repo/scripts/fetch-model.sh")}")"
pkg="$target/swift-tests"
rm -rf "$pkg/Sources"
mkdir -p "$pkg/Sources/GemKit" "$pkg/Sources/GemKitFFI"
cp -r "$repo/bindings/tests/swift/." "$pkg/"
cp "$bindings_out/swift/GemKit.swift" "$repo"/ios/Sources/GemKit/*.swift "$pkg/Sources/GemKit/"
cp "$bindings_out/swift/GemKitFFI.h" "$bindings_out/swift/module.modulemap" "$pkg/Sources/GemKitFFI/"

# The chroot starts with an empty environment: pass the model and the Rust CLI's results.
reference_env "$model"
run_env=(GEMKIT_MODEL="$model" LD_LIBRARY_PATH="$target/release")
for name in GEMKIT_CLI "${!GEMKIT_SEEDED_@}" "${!GEMKIT_BENCH_@}"; do run_env+=("$name=${!name}"); done

swift_mounts+=("$model")
swift_run "$pkg" swift build --quiet -Xlinker -L"$target/release"
swift_run "$pkg" env "${run_env[@]}" .build/debug/BindingTests
