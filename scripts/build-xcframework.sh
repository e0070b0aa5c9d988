#!/usr/bin/env bash
# Builds ios/GemKitFFI.xcframework (static libraries for iOS devices and for the simulator on
# Apple silicon and Intel Macs, with GemKitFFI.h and module.modulemap) and copies the generated
# Swift to ios/Sources/GemKit/Generated. Needs macOS with Xcode; this machine has neither.
set -euo pipefail
source "$(dirname "$0")/bindings-env.sh"
cd "$repo"

for t in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios; do
  rustup target add "$t"
  cargo build --release -p gemkit-ffi --target "$t"
done
scripts/gen-bindings.sh

# One library per platform: the two simulator architectures are merged into one fat file.
# The header and modulemap sit in a GemKitFFI/ folder, so that two xcframeworks in one app do
# not both put a module.modulemap at the top of the include path.
work="$target/xcframework"
rm -rf "$work" ios/GemKitFFI.xcframework
mkdir -p "$work/include/GemKitFFI"
cp "$bindings_out/swift/GemKitFFI.h" "$bindings_out/swift/module.modulemap" "$work/include/GemKitFFI/"
lipo -create "$target"/{aarch64,x86_64}-apple-ios-sim/release/libgemkit_ffi.a -output "$work/libgemkit_ffi.a"
xcodebuild -create-xcframework \
  -library "$target/aarch64-apple-ios/release/libgemkit_ffi.a" -headers "$work/include" \
  -library "$work/libgemkit_ffi.a" -headers "$work/include" \
  -output ios/GemKitFFI.xcframework
mkdir -p ios/Sources/GemKit/Generated
cp "$bindings_out/swift/GemKit.swift" ios/Sources/GemKit/Generated/
