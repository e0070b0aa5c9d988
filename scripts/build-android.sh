#!/usr/bin/env bash
# Builds libgemkit_ffi.so for Android phones (arm64-v8a) and the x86_64 emulator into
# android/gemkit/src/main/jniLibs/<abi>, where Gradle packs it into the AAR. Needs the Android
# NDK (ANDROID_NDK_HOME) and cargo-ndk (`cargo install cargo-ndk`); this machine has no NDK.
# The Kotlin comes from scripts/gen-bindings.sh: the same file serves every platform.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add aarch64-linux-android x86_64-linux-android
cargo ndk -t arm64-v8a -t x86_64 -o android/gemkit/src/main/jniLibs build --release -p gemkit-ffi
