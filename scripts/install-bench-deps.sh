#!/usr/bin/env bash
# Installs the Python packages `make bench` needs (scripts/requirements-bench.txt), wheels only,
# so a fresh machine compiles nothing but llama.cpp itself. Instant when they are there.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
"$python" -m pip install --quiet --disable-pip-version-check --only-binary :all: \
  -r scripts/requirements-bench.txt
