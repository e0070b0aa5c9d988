#!/usr/bin/env bash
# Builds ios/GemKitFFI.xcframework, the native half of the Swift package on Apple platforms:
# static libraries for iOS devices, for the iOS simulator (Apple silicon and Intel Macs, one fat
# file) and for macOS (both architectures, one fat file), each with GemKitFFI.h and
# module.modulemap; and copies the generated Swift to ios/Sources/GemKit/Generated. Needs macOS
# with Xcode; this machine has neither.
set -euo pipefail
source "$(dirname "$0")/bindings-env.sh"
cd "$repo"

# The oldest systems ios/Package.swift supports.
export IPHONEOS_DEPLOYMENT_TARGET=17.0 MACOSX_DEPLOYMENT_TARGET=14.0
for t in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios aarch64-apple-darwin x86_64-apple-darwin; do
  rustup target add "$t"
  cargo build --release -p gemkit-ffi --target "$t"
done
scripts/gen-bindings.sh

# One library per platform: two architectures of one platform are merged into one fat file.
# The header and modulemap sit in a GemKitFFI/ folder, so that two xcframeworks in one app do
# not both put a module.modulemap at the top of the include path.
lib() { echo "$target/$1/release/libgemkit_ffi.a"; }
work="$target/xcframework"
rm -rf "$work" ios/GemKitFFI.xcframework
mkdir -p "$work/include/GemKitFFI" "$work/ios-simulator" "$work/macos"
cp "$bindings_out/swift/GemKitFFI.h" "$bindings_out/swift/module.modulemap" "$work/include/GemKitFFI/"
lipo -create "$(lib aarch64-apple-ios-sim)" "$(lib x86_64-apple-ios)" -output "$work/ios-simulator/libgemkit_ffi.a"
lipo -create "$(lib aarch64-apple-darwin)" "$(lib x86_64-apple-darwin)" -output "$work/macos/libgemkit_ffi.a"
xcodebuild -create-xcframework \
  -library "$(lib aarch64-apple-ios)" -headers "$work/include" \
  -library "$work/ios-simulator/libgemkit_ffi.a" -headers "$work/include" \
  -library "$work/macos/libgemkit_ffi.a" -headers "$work/include" \
  -output ios/GemKitFFI.xcframework
mkdir -p ios/Sources/GemKit/Generated
cp "$bindings_out/swift/GemKit.swift" ios/Sources/GemKit/Generated/
