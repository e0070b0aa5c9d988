#!/usr/bin/env bash
# Installs what the Kotlin and Swift binding tests need, each only when missing, and prints
# nothing when all is there: Maven (Debian; it fetches Kotlin, JNA, JUnit and Robolectric from
# Maven Central itself on the first run), and Swift: the host's `swift` if any, else Debian
# trixie's swiftlang in a chroot under ~/.cache/gemkit (about a minute and 2.6 GB the first
# time, as root: debootstrap, chroot and mounts). The Kotlin tests also need a JDK 21 or later.
set -euo pipefail
source "$(dirname "$0")/bindings-env.sh"

say() { echo "install-binding-deps: $*" >&2; }

jdk_home 21 >/dev/null
apt_missing=()
command -v mvn >/dev/null || apt_missing+=(maven)
command -v swift >/dev/null || command -v debootstrap >/dev/null || apt_missing+=(debootstrap)
if [ ${#apt_missing[@]} -gt 0 ]; then
  say "apt-get install ${apt_missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" >/dev/null
fi

# The chroot counts as made only once its stamp is written, so an interrupted run starts over.
# debootstrap mounts /proc and /sys inside the root: a private mount namespace drops them.
if ! command -v swift >/dev/null && [ ! -f "$swift_root/.gemkit-ready" ]; then
  say "creating the Swift chroot in $swift_root"
  log="$cache/swift-trixie.log"
  logged() { "$@" >>"$log" 2>&1 || { tail -20 "$log" >&2; exit 1; }; }
  rm -rf "$swift_root"
  mkdir -p "$cache"
  : >"$log"
  logged unshare --mount --propagation private -- debootstrap --variant=minbase trixie "$swift_root"
  swift_mounts=()
  logged in_swift_root / sh -c 'apt-get update && apt-get install -y --no-install-recommends \
    swiftlang libc6-dev libstdc++-14-dev && apt-get clean'
  touch "$swift_root/.gemkit-ready"
fi
