#!/usr/bin/env bash
# Builds the llama.cpp that the llama-cpp-python source distribution on PyPI vendors
# (vendor/llama.cpp), for producing reference data and for benchmarks.
#
#   scripts/build-llama-cpp.sh            # build (or reuse) and print the build dir
#
# Layout (GEMKIT_CACHE defaults to ~/.cache/gemkit):
#   $GEMKIT_CACHE/pip/llama_cpp_python-<version>.tar.gz   the sdist (downloaded if missing)
#   $GEMKIT_CACHE/llama.cpp/src-<version>/                  unpacked sdist
#   $GEMKIT_CACHE/llama.cpp/build-<version>[-noamx]/        CMake build (Release, GGML_NATIVE=ON,
#                                                           BUILD_SHARED_LIBS=ON); binaries in bin/,
#                                                           the sources' path in .gemkit-src
#
# A second run with everything built is instant: a stamp file records the targets built.
#
# Environment:
#   LLAMA_CPP_PYTHON_VERSION  sdist version (default: 0.3.36, the one the fixtures were made with)
#   LLAMA_TARGETS             space-separated CMake targets (default below), or "all"
#   JOBS                      parallel compile jobs (default 2)
#
# The Python side (scripts/llama-reference.py, scripts/make-tiny-models.py) drives this build
# through the `llama_cpp` package from the SAME sdist, imported straight from src-<version>
# (no pip install, no second compile) with LLAMA_CPP_LIB_PATH=<build>/bin pointing it at the
# libllama.so built here.
set -euo pipefail

version="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
cache="${GEMKIT_CACHE:-$HOME/.cache/gemkit}"
jobs="${JOBS:-2}"
targets="${LLAMA_TARGETS:-llama ggml llama-bench llama-quantize llama-tokenize llama-completion llama-perplexity llama-batched-bench llama-gguf-split}"

sdist="$cache/pip/llama_cpp_python-$version.tar.gz"
root="$cache/llama.cpp"
src="$root/src-$version"
build="$root/build-$version"
# Some VMs advertise AMX (amx_tile in /proc/cpuinfo) without letting a process use it: the
# -march=native build then dies with SIGILL on its first tile instruction. GemKit uses no AMX
# and phones have none, so llama.cpp is built without it wherever the CPU advertises it.
extra_flags=()
if [ "$(uname -m)" = x86_64 ] && grep -qw amx_tile /proc/cpuinfo 2>/dev/null; then
  no_amx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
  extra_flags=(-DCMAKE_C_FLAGS="$no_amx" -DCMAKE_CXX_FLAGS="$no_amx")
  build="$build-noamx"
fi
stamp="$build/.gemkit-built"
# Where the build's sources are, for the Python side (so no other file knows this naming).
mkdir -p "$build"
echo "$src" > "$build/.gemkit-src"

log() { echo "[build-llama-cpp] $*" >&2; }

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$targets" ] \
   && [ -f "$build/bin/libllama.so" ] && [ -x "$build/bin/llama-bench" ] && [ -x "$build/bin/llama-quantize" ]; then
  log "already built: $build"
  echo "$build"
  exit 0
fi

if [ ! -f "$sdist" ]; then
  mkdir -p "$cache/pip"
  log "downloading llama-cpp-python==$version sdist"
  # Only this package as source, without build isolation: its build backend comes installed
  # as a wheel (scripts/install-bench-deps.sh). With isolation and --no-binary :all:, pip would
  # build the backend's own requirements, cmake among them, from source (20+ minutes).
  "${PYTHON:-python3}" -m pip download --quiet --no-deps --no-binary llama-cpp-python \
    --no-build-isolation "llama-cpp-python==$version" -d "$cache/pip" >&2
fi

if [ ! -f "$src/vendor/llama.cpp/CMakeLists.txt" ]; then
  log "unpacking $sdist -> $src"
  rm -rf "$src.tmp"
  mkdir -p "$src.tmp"
  tar -xzf "$sdist" -C "$src.tmp" --strip-components=1
  rm -rf "$src"
  mv "$src.tmp" "$src"
fi

if ! command -v cmake >/dev/null 2>&1; then
  log "cmake not found; installing it from apt (or pip as a fallback)"
  if command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && apt-get install -y -qq cmake) >&2 || python3 -m pip install --quiet cmake >&2
  else
    python3 -m pip install --quiet cmake >&2
  fi
fi

generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi

if [ ! -f "$build/CMakeCache.txt" ]; then
  log "configuring in $build"
  # The sdist has no .git, so build-info would say "unknown": pass the upstream commit that
  # llama-cpp-python's CHANGELOG names for this version instead (informational only).
  commit=$(awk -v v="## [$version]" '$0==v{f=1;next} f&&/^## \[/{exit} f&&match($0,/llama\.cpp@[0-9a-f]+/){print substr($0,RSTART+10,RLENGTH-10);exit}' "$src/CHANGELOG.md" || true)
  log "llama.cpp commit per CHANGELOG: ${commit:-unknown}"
  cmake -S "$src/vendor/llama.cpp" -B "$build" "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=Release \
    -DGGML_NATIVE=ON \
    -DBUILD_SHARED_LIBS=ON \
    -DLLAMA_BUILD_TOOLS=ON \
    -DLLAMA_BUILD_COMMON=ON \
    -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=OFF \
    -DLLAMA_BUILD_APP=OFF \
    -DLLAMA_BUILD_UI=OFF \
    -DLLAMA_OPENSSL=OFF \
    -DCMAKE_BUILD_RPATH_USE_ORIGIN=ON "${extra_flags[@]}" >&2
  if [ -n "${commit:-}" ]; then echo "$commit" > "$build/.gemkit-llama-commit"; fi
fi

log "building targets: $targets (-j$jobs)"
if [ "$targets" = "all" ]; then
  cmake --build "$build" --config Release -j "$jobs" >&2
else
  # shellcheck disable=SC2086
  cmake --build "$build" --config Release -j "$jobs" --target $targets >&2
fi

for f in bin/libllama.so bin/llama-bench bin/llama-quantize; do
  [ -e "$build/$f" ] || { log "missing $build/$f after build"; exit 1; }
done
echo "$targets" > "$stamp"
log "done"
echo "$build"
