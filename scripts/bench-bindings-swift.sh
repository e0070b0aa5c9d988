#!/usr/bin/env bash
# What a Swift TokenListener costs in decode speed: GemKitBench (ios/Benchmarks) runs one greedy
# completion through its own listener and the Rust CLI runs the same, alternately, and prints the
# medians of three. Run scripts/install-binding-deps.sh and scripts/gen-bindings.sh first.
set -euo pipefail
source "$(dirname "$0")/bindings-env.sh"

model="$(realpath "${GEMKIT_MODEL:-$("$repo/scripts/fetch-model.sh")}")"
prepare_swift_package
swift_mounts+=("$model")

reference_env "$model"
run_env=(GEMKIT_MODEL="$model" GEMKIT_CLI="$GEMKIT_CLI" LD_LIBRARY_PATH="$target/release")
for name in "${!GEMKIT_BENCH_@}"; do run_env+=("$name=${!name}"); done

swift_run "$swift_package" swift build --quiet -c release --scratch-path "$swift_build" \
  --product GemKitBench -Xlinker -L"$target/release"
swift_run "$swift_package" env "${run_env[@]}" "$swift_build/release/GemKitBench"
