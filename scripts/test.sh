#!/usr/bin/env bash
# The test suite: the Rust workspace (CLI and tracking core), then the Python package installed by
# `pip install "./python[ray]"` into a fresh virtual environment and tested against the CLI (the ray extra brings
# Ray for the batch tests; one test checks that the plain install needs no Ray).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --workspace
python_env="$(mktemp -d)"
trap 'rm -rf "$python_env"' EXIT
python3 -m venv "$python_env"
"$python_env/bin/pip" install --quiet "./python[ray]" pytest opencv-python-headless
"$python_env/bin/python" -m pytest python/tests -q -p no:cacheprovider
