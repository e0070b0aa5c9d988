#!/usr/bin/env bash
# Runs every fuzz target (fuzz/, cargo-fuzz + libFuzzer, AddressSanitizer, debug assertions
# and overflow checks on) for SECONDS each, from the committed seeds (fuzz/corpus/<target>)
# plus what earlier runs found (target/fuzz-corpus/<target>, not committed). Prints the
# executions of each target; fails on the first crash, whose input lands in
# target/fuzz-artifacts/<target>/ (turn it into a regression: fuzz/regressions/<target>/).
#
#     scripts/fuzz.sh [SECONDS] [TARGET...]      # default 45 s, all targets
#
# Installs what it needs when missing: a nightly toolchain (rustup) and cargo-fuzz (crates.io).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-45}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gguf tokenizer chat restore)

rustup run nightly rustc --version >/dev/null 2>&1 ||
  rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export GEMKIT_MODEL=${GEMKIT_MODEL:-$(scripts/fetch-model.sh)}

root=$PWD
start=$(date +%s)
cargo +nightly fuzz build -a
echo "fuzz targets built in $(( $(date +%s) - start )) s"
for t in "${targets[@]}"; do
  mkdir -p "target/fuzz-corpus/$t" "target/fuzz-artifacts/$t"
  log="target/fuzz-artifacts/$t.log"
  if ! cargo +nightly fuzz run -a "$t" "target/fuzz-corpus/$t" "fuzz/corpus/$t" -- \
      -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="$root/target/fuzz-artifacts/$t/" >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "fuzz: $t crashed; the input is in target/fuzz-artifacts/$t/ (log: $log)" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  echo "fuzz: $t: $runs executions in $seconds s ($rate/s), no crash"
done
