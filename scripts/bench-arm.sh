#!/usr/bin/env bash
# `make bench-arm`: aarch64 instructions per prefill token and per decode token, GemKit against
# llama.cpp, counted under qemu-user with our own TCG plugin (scripts/arm/insncount.c), on the
# real Gemma 3 270M (scripts/fetch-model.sh), one thread, greedy. Prints a table per -cpu with
# ratios (scripts/arm/report.py) and writes it to $RESULTS/report.md.
#
#   scripts/bench-arm.sh [all|setup|build|measure|report]      (default: all)
#
# Method: three runs per program and CPU model (a 64-token prompt with 1 token generated, a
# 2-token prompt with 1 token, the 2-token prompt with 17 tokens); prefill/token is the first
# two runs' difference / 62 and decode/token the last two's / 16, so loading, tokenizer set-up
# and llama.cpp's weight repacking cancel out. An instruction count is not a time: qemu models
# no caches, no memory bandwidth and no pipelines; it tells how much work each program asks of
# the core, which on a phone's bandwidth-bound decode is an upper bound on what it can gain.
#
# GemKit is built once (it picks NEON, dotprod or i8mm at run time); llama.cpp (the sdist that
# llama-cpp-python vendors, as scripts/build-llama-cpp.sh uses) picks them at compile time, so
# it is cross-built once per CPU model: armv8.2-a+dotprod+i8mm for `max`, +dotprod for
# `cortex-a76`, plain armv8-a for `cortex-a53` (the build dir is reconfigured, only ggml-cpu
# rebuilds). llama.cpp's `llama-simple` is patched to one thread (it has no -t option).
#
# Environment: WORK (default ~/.cache/gemkit/arm), RESULTS ($WORK/results), CPUS (default
# "max cortex-a76 cortex-a53"), PROGRAMS ("gemkit llama"), JOBS (2), MODEL (the fetched 270M).
# A run whose result is newer than its program is not run again, so llama.cpp is counted once.
# Needs Debian 12 (qemu-user 7.2), apt and rustup.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

WORK="${WORK:-$HOME/.cache/gemkit/arm}"
CPUS="${CPUS:-max cortex-a76 cortex-a53}"
JOBS="${JOBS:-2}"
RESULTS="${RESULTS:-$WORK/results}"
PROGRAMS="${PROGRAMS:-gemkit llama}"
version=0.3.36
cache="${GEMKIT_CACHE:-$HOME/.cache/gemkit}"
sdist="$cache/pip/llama_cpp_python-$version.tar.gz"
target=aarch64-unknown-linux-gnu
qemu=(qemu-aarch64 -L /usr/aarch64-linux-gnu)
# Plain text (the same ids in both tokenizers), 64 tokens with BOS; the count comes from GemKit's.
PROMPT_LONG="The history of the city begins with a small settlement on the river, where farmers and traders met each season to exchange grain, wool and salt. Over the centuries the market grew into a town, and the town into a city with walls, a cathedral and a university that drew students from every corner of the known world"
PROMPT_SHORT="The"

log() { echo "[bench-arm] $*" >&2; }
sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# march per qemu CPU model, for llama.cpp's compile-time kernel choice.
march() {
  case "$1" in
    max) echo "armv8.2-a+dotprod+i8mm" ;;
    cortex-a76 | neoverse-n1) echo "armv8.2-a+dotprod" ;;
    *) echo "armv8-a" ;;
  esac
}

setup() {
  local need=()
  for p in qemu-user gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libglib2.0-dev pkg-config \
    cmake ninja-build; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
  done
  if [ ${#need[@]} -gt 0 ]; then
    sudo_ apt-get update -o DPkg::Lock::Timeout=900
    sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -o DPkg::Lock::Timeout=900 "${need[@]}"
  fi
  rustup target list --installed | grep -qx "$target" || rustup target add "$target"
  # Debian ships qemu-user with plugin support but without qemu-plugin.h: take it from the
  # source package of the installed version (binNMU suffix dropped).
  local header="$WORK/qemu/qemu-plugin.h"
  if [ ! -f "$header" ]; then
    if [ ! -f /etc/apt/sources.list.d/gemkit-src.sources ]; then
      # deb822, like debian.sources (a one-line deb-src .list for the same mirror conflicts
      # with its Signed-By).
      sudo_ tee /etc/apt/sources.list.d/gemkit-src.sources >/dev/null <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
      sudo_ apt-get update -o DPkg::Lock::Timeout=900
    fi
    local v
    v=$(dpkg-query -W -f '${Version}' qemu-user | sed 's/+b[0-9]*$//')
    mkdir -p "$WORK/qemu"
    (cd "$WORK/qemu" && apt-get source --download-only "qemu=$v")
    local orig
    orig=$(ls "$WORK"/qemu/qemu_*.orig.tar.*)
    tar -xf "$orig" -C "$WORK/qemu" --wildcards --strip-components=3 '*/include/qemu/qemu-plugin.h'
  fi
  mkdir -p "$WORK/bin"
  # shellcheck disable=SC2046
  gcc -O2 -shared -fPIC -Wall -I"$WORK/qemu" $(pkg-config --cflags glib-2.0) \
    -o "$WORK/bin/libinsncount.so" scripts/arm/insncount.c
}

build_gemkit() {
  log "cross-building gemkit-cli (working tree)"
  CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    nice -n 10 cargo build --release -j"$JOBS" --target "$target" -p gemkit-cli
  cp "target/$target/release/gemkit" "$WORK/bin/gemkit"
}

build_llama() {
  local src="$WORK/llama-src" build="$WORK/llama-build"
  if [ ! -f "$sdist" ]; then
    mkdir -p "$(dirname "$sdist")"
    python3 -m pip download -q --no-deps --no-binary :all: --no-build-isolation \
      "llama-cpp-python==$version" -d "$(dirname "$sdist")"
  fi
  if [ ! -d "$src" ]; then
    mkdir -p "$src"
    tar -xzf "$sdist" -C "$src" --strip-components=1
    # llama-simple has no thread option and uses 4: pin it to one, as GemKit runs.
    python3 - "$src/vendor/llama.cpp/examples/simple/simple.cpp" <<'EOF'
import sys
p = sys.argv[1]
s = open(p).read()
anchor = "llama_context_params ctx_params = llama_context_default_params();"
assert anchor in s, "llama-simple changed"
s = s.replace(anchor, anchor + "\n    ctx_params.n_threads = 1;\n    ctx_params.n_threads_batch = 1;", 1)
open(p, "w").write(s)
EOF
  fi
  for cpu in $CPUS; do
    local arch bin
    arch=$(march "$cpu")
    bin="$WORK/bin/llama-simple-$arch"
    [ -x "$bin" ] && continue
    log "cross-building llama-simple for $arch"
    cmake -S "$src/vendor/llama.cpp" -B "$build" -G Ninja \
      -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64 \
      -DCMAKE_C_COMPILER=aarch64-linux-gnu-gcc -DCMAKE_CXX_COMPILER=aarch64-linux-gnu-g++ \
      -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DGGML_CPU_ARM_ARCH="$arch" \
      -DBUILD_SHARED_LIBS=OFF -DGGML_OPENMP=OFF -DLLAMA_BUILD_TESTS=OFF \
      -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF >/dev/null
    nice -n 10 cmake --build "$build" -j"$JOBS" --target llama-simple
    cp "$build/bin/llama-simple" "$bin"
  done
}

# One counted run: `run CPU NAME PROGRAM ARGS...` writes $RESULTS/CPU/NAME.{txt,log}.
run() {
  local cpu=$1 name=$2
  shift 2
  local dir="$RESULTS/$cpu"
  mkdir -p "$dir"
  [ "$dir/$name.txt" -nt "$1" ] && return
  # -d plugin makes qemu-user load the binary's symbols, which the per-function counts need.
  nice -n 10 "${qemu[@]}" -cpu "$cpu" -d plugin -D /dev/null \
    -plugin "$WORK/bin/libinsncount.so,out=$dir/$name.txt" "$@" >"$dir/$name.log" 2>&1 \
    || { log "run $cpu $name failed:"; tail -5 "$dir/$name.log" >&2; exit 1; }
}

measure() {
  local model="${MODEL:-$(scripts/fetch-model.sh)}"
  for text in "$PROMPT_LONG" "$PROMPT_SHORT"; do
    "${qemu[@]}" "$WORK/bin/gemkit" tokenize --model "$model" --text "$text" --json \
      | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["ids"]))'
  done >"$WORK/prompt-tokens"
  for cpu in $CPUS; do
    log "measuring on -cpu $cpu"
    local g=("$WORK/bin/gemkit" generate --model "$model" --temperature 0 --threads 1 --ctx 128 --json)
    local l=("$WORK/bin/llama-simple-$(march "$cpu")" -m "$model")
    for prog in $PROGRAMS; do
      if [ "$prog" = gemkit ]; then
        run "$cpu" gemkit-long-1 "${g[@]}" --prompt "$PROMPT_LONG" --max-tokens 1
        run "$cpu" gemkit-short-1 "${g[@]}" --prompt "$PROMPT_SHORT" --max-tokens 1
        run "$cpu" gemkit-short-17 "${g[@]}" --prompt "$PROMPT_SHORT" --max-tokens 17
      else
        run "$cpu" llama-long-1 "${l[@]}" -n 1 "$PROMPT_LONG"
        run "$cpu" llama-short-1 "${l[@]}" -n 1 "$PROMPT_SHORT"
        run "$cpu" llama-short-17 "${l[@]}" -n 17 "$PROMPT_SHORT"
      fi
    done
  done
}

report() {
  python3 scripts/arm/report.py "$RESULTS" --cpus $CPUS --tokens $(cat "$WORK/prompt-tokens") \
    --commit "$(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet HEAD -- core || echo +dirty)" \
    | tee "$RESULTS/report.md"
}

stage="${1:-all}"
mkdir -p "$WORK"
case "$stage" in
  setup) setup ;;
  build) build_gemkit; build_llama ;;
  build-gemkit) build_gemkit ;;
  build-llama) build_llama ;;
  measure) measure ;;
  report) report ;;
  all) setup; build_gemkit; build_llama; measure; report ;;
  *) echo "usage: $0 [all|setup|build|build-gemkit|build-llama|measure|report]" >&2; exit 2 ;;
esac
