# Sourced by the binding scripts: where the tools and the generated code live, and how to run
# Swift (the host's `swift` when there is one, else a Debian trixie chroot with Debian's swiftlang).
# shellcheck shell=bash

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${GEMKIT_CACHE:-$HOME/.cache/gemkit}"
target="${CARGO_TARGET_DIR:-$repo/target}"
case "$target" in /*) ;; *) target="$repo/$target" ;; esac
bindings_out="$target/bindings"

swift_root="$cache/swift-trixie"

# in_swift_root DIR CMD...: runs CMD in DIR inside the chroot, with /proc, /dev and /sys and
# each path of swift_mounts (the target dir, and whatever a script adds) at its own path, in a
# private mount namespace that ends with CMD.
swift_mounts=("$target")
in_swift_root() {
  local path
  for path in "${swift_mounts[@]}"; do
    if [ -d "$path" ]; then mkdir -p "$swift_root$path"; else
      mkdir -p "$(dirname "$swift_root$path")" && touch "$swift_root$path"
    fi
  done
  unshare --mount --propagation private -- bash -euc '
    root=$1 dir=$2 n=$3
    shift 3
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount --rbind /sys "$root/sys"
    for path in "${@:1:n}"; do mount --bind "$path" "$root$path"; done
    shift "$n"
    exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
      PATH=/usr/libexec/swift/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      bash -euc "cd \"\$0\" && exec \"\$@\"" "$dir" "$@"
  ' _ "$swift_root" "$1" "${#swift_mounts[@]}" "${swift_mounts[@]}" "${@:2}"
}

# swift_run DIR CMD...: runs CMD in DIR with Swift on PATH (the host's, else the chroot's).
swift_run() {
  if command -v swift >/dev/null; then
    (cd "$1" && "${@:2}")
  else
    in_swift_root "$@"
  fi
}

# reference_env MODEL: builds the CLI and exports the requests the Kotlin and Swift tests repeat
# with the CLI's answers (GEMKIT_CLI, GEMKIT_SEEDED_*, GEMKIT_BENCH_*; scripts/rust-reference.py).
reference_env() {
  (cd "$repo" && cargo build --quiet --release -p gemkit-cli)
  eval "$(python3 "$repo/scripts/rust-reference.py" "$target/release/gemkit" "$1")"
}

# The Swift package in ios/ builds in $swift_build, against the host-built library.
swift_package="$repo/ios"
swift_build="$target/swift"

# prepare_swift_package: puts the generated Swift beside the hand-written
# (ios/Sources/GemKit/Generated) and the generated header and module map where the Linux
# manifest looks for them (ios/Sources/GemKitFFI), both gitignored, and mounts the package
# into the chroot. Run scripts/gen-bindings.sh first.
prepare_swift_package() {
  rm -rf "$swift_package/Sources/GemKit/Generated" "$swift_package/Sources/GemKitFFI"
  mkdir -p "$swift_package/Sources/GemKit/Generated" "$swift_package/Sources/GemKitFFI"
  cp "$bindings_out/swift/GemKit.swift" "$swift_package/Sources/GemKit/Generated/"
  cp "$bindings_out/swift/GemKitFFI.h" "$bindings_out/swift/module.modulemap" "$swift_package/Sources/GemKitFFI/"
  swift_mounts+=("$swift_package")
}

# jdk_home N: prints the home of a JDK of version N or later (JAVA_HOME's, else one under
# /usr/lib/jvm), or fails saying so. Robolectric's Android 16 needs Java 21.
jdk_home() {
  local home version
  for home in "${JAVA_HOME:-}" /usr/lib/jvm/*; do
    [ -x "$home/bin/javac" ] && [ -f "$home/release" ] || continue
    version=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$home/release")
    if [ "${version:-0}" -ge "$1" ]; then echo "$home"; return; fi
  done
  echo "no JDK $1 or later in JAVA_HOME or /usr/lib/jvm" >&2
  return 1
}

# start_fault_server NAME=PATH...: starts scripts/fault-server.py with those files, exports its
# URL as GEMKIT_FAULT_SERVER and kills it when the calling script exits.
start_fault_server() {
  local out="$target/fault-server.url" args=() spec
  for spec in "$@"; do args+=(--file "$spec"); done
  mkdir -p "$target"
  : >"$out"
  python3 "$repo/scripts/fault-server.py" --port 0 "${args[@]}" >"$out" &
  fault_server_pid=$!
  trap 'kill "$fault_server_pid" 2>/dev/null || true' EXIT
  for _ in $(seq 100); do
    GEMKIT_FAULT_SERVER=$(head -1 "$out")
    if [ -n "$GEMKIT_FAULT_SERVER" ]; then export GEMKIT_FAULT_SERVER; return; fi
    kill -0 "$fault_server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "the fault server did not start" >&2
  return 1
}
