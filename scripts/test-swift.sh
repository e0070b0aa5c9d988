#!/usr/bin/env bash
# Builds the SwiftPM package in bindings/tests/swift with the generated Swift, header and
# module.modulemap (plus ios/Sources/GemKit) against the host-built library, and runs it. The
# package is assembled in $CARGO_TARGET_DIR/swift-tests, where SwiftPM keeps its build between
# runs. Run scripts/install-binding-deps.sh and scripts/gen-bindings.sh first.
set -euo pipefail
source "$(dirname "$0")/bindings-env.sh"

model="$(realpath "${GEMKIT_MODEL:-$("$repo/scripts/fetch-model.sh")}")"
pkg="$target/swift-tests"
rm -rf "$pkg/Sources"
mkdir -p "$pkg/Sources/GemKit" "$pkg/Sources/GemKitFFI"
cp -r "$repo/bindings/tests/swift/." "$pkg/"
cp "$bindings_out/swift/GemKit.swift" "$repo"/ios/Sources/GemKit/*.swift "$pkg/Sources/GemKit/"
cp "$bindings_out/swift/GemKitFFI.h" "$bindings_out/swift/module.modulemap" "$pkg/Sources/GemKitFFI/"

swift_mounts+=("$model")
swift_run "$pkg" swift build --quiet -Xlinker -L"$target/release"
swift_run "$pkg" env GEMKIT_MODEL="$model" LD_LIBRARY_PATH="$target/release" .build/debug/BindingTests
