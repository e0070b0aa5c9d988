#!/usr/bin/env bash
# Builds the host library (release) and generates its Kotlin and Swift bindings into
# $CARGO_TARGET_DIR/bindings/{kotlin,swift}, with the generator pinned to the library's UniFFI.
# The bindings describe the library's exported API, so the same files serve Android and iOS.
set -euo pipefail
source "$(dirname "$0")/bindings-env.sh"
cd "$repo"

# Two builds: in one, the generator's features ("cli") would be unified into the library's uniffi.
cargo build --quiet --release -p gemkit-ffi
cargo build --quiet --release -p uniffi-bindgen
host_dylib=$([ "$(uname)" = Darwin ] && echo dylib || echo so)
rm -rf "$bindings_out"
for lang in kotlin swift; do
  "$target/release/uniffi-bindgen" generate --no-format --language "$lang" \
    --out-dir "$bindings_out/$lang" "$target/release/libgemkit_ffi.$host_dylib"
done
mv "$bindings_out/swift/GemKitFFI.modulemap" "$bindings_out/swift/module.modulemap"
