#!/usr/bin/env bash
# Builds libgemkit_ffi.so for Android phones (arm64-v8a, armeabi-v7a) and the x86_64 emulator
# into OUT_DIR/<abi> (default target/android/jniLibs). android/gemkit's Gradle build runs it with
# its own OUT_DIR and GEMKIT_ANDROID_API (its minSdk; 26 by default here). Needs the Android NDK
# (ANDROID_NDK_HOME) and cargo-ndk (`cargo install cargo-ndk`); this machine has no NDK.
# The Kotlin comes from the same library (scripts/gen-bindings.sh): one file serves every platform.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-target/android/jniLibs}"

rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
cargo ndk --platform "${GEMKIT_ANDROID_API:-26}" -t arm64-v8a -t armeabi-v7a -t x86_64 -o "$out" \
  build --release -p gemkit-ffi
