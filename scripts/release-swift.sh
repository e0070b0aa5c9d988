#!/usr/bin/env bash
# Publishes a release of the Swift package. SwiftPM takes a package from a git repository with
# Package.swift at its root, and cannot run uniffi-bindgen, so releases go to a repository of
# their own (as matrix-rust-sdk's go to matrix-rust-components-swift): this copies ios/ there
# with the generated Swift, points its manifest at the xcframework's zip on that repository's
# GitHub release, with the zip's checksum, then commits, tags, pushes and uploads the zip.
# Nothing generated is committed to this repository.
#
# Usage: GEMKIT_SWIFT_REPO=owner/name scripts/release-swift.sh VERSION CHECKOUT
#   VERSION   the release's tag, e.g. 0.1.0
#   CHECKOUT  a clone of GEMKIT_SWIFT_REPO, the release repository
# Needs macOS with Xcode (scripts/build-xcframework.sh), rsync, zip, and the GitHub CLI (gh)
# logged in to GEMKIT_SWIFT_REPO.
set -euo pipefail
source "$(dirname "$0")/bindings-env.sh"
version=${1:?usage: scripts/release-swift.sh VERSION CHECKOUT}
checkout=${2:?usage: scripts/release-swift.sh VERSION CHECKOUT}
release_repo=${GEMKIT_SWIFT_REPO:?set GEMKIT_SWIFT_REPO to the release repository, owner/name}

"$repo/scripts/build-xcframework.sh"
out="$target/release-swift"
rm -rf "$out"
mkdir -p "$out"
zip_file="$out/GemKitFFI.xcframework.zip"
(cd "$repo/ios" && zip -qry "$zip_file" GemKitFFI.xcframework)
checksum=$(cd "$repo/ios" && swift package compute-checksum "$zip_file")
url="https://github.com/$release_repo/releases/download/$version/GemKitFFI.xcframework.zip"

# The package as it is here, generated Swift included; not the local xcframework, nor the Linux
# test build's header.
rsync -a --delete --exclude .git --exclude .build --exclude /GemKitFFI.xcframework \
  --exclude /Sources/GemKitFFI "$repo/ios/" "$checkout/"
manifest="$checkout/Package.swift"
released="let releasedFFI: (url: String, checksum: String)? = (url: \"$url\", checksum: \"$checksum\")"
sed "s|^let releasedFFI: (url: String, checksum: String)? = nil\$|$released|" "$repo/ios/Package.swift" >"$manifest"
grep -qxF "$released" "$manifest" || { echo "release-swift: no releasedFFI line in ios/Package.swift" >&2; exit 1; }

git -C "$checkout" add -A
git -C "$checkout" commit -qm "GemKit $version"
git -C "$checkout" tag "$version"
git -C "$checkout" push -q origin HEAD "refs/tags/$version"
gh release create "$version" "$zip_file" --repo "$release_repo" --title "GemKit $version" \
  --notes "GemKitFFI.xcframework for GemKit $version (SwiftPM checksum $checksum)."
