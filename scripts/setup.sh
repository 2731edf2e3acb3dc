#!/usr/bin/env bash
# Sets up siamtrack on a fresh Debian 12 machine (run as root; idempotent): system packages, the ONNX Runtime
# library (taken out of the PyPI onnxruntime wheel into .ort/, no Python install), the release build; then tracks
# the shipped sample headless into out/. `--no-run` stops after the build.
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_VERSION=1.31.1
# libfontconfig-dev and fonts-dejavu-core: the text of the eval plots (plotters' ttf feature finds fonts through
# fontconfig).
PACKAGES=(build-essential pkg-config clang libclang-dev libopencv-dev libfontconfig-dev fonts-dejavu-core
          gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-tools python3 python3-pip python3-venv
          xvfb xauth openbox wmctrl xdotool)  # the last line: window tests (a window manager to close windows)

missing=()
for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

lib=".ort/libonnxruntime.so.$ORT_VERSION"
if [ ! -f "$lib" ]; then
    echo "fetching ONNX Runtime $ORT_VERSION from PyPI"
    mkdir -p .ort/wheel
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
        --platform "manylinux_2_28_$(uname -m)" -d .ort/wheel "onnxruntime==$ORT_VERSION"
    python3 - "$lib" .ort/wheel/onnxruntime-*.whl <<'PY'
import sys, zipfile
target, wheel = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith("/capi/" + target.rsplit("/", 1)[1]))
    with open(target, "wb") as out:
        out.write(z.read(name))
PY
    rm -rf .ort/wheel
fi

if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null; then
    # Debian 12's own cargo is too old for the dependencies: install the current stable toolchain.
    echo "installing Rust with rustup"
    command -v curl >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal ||
        { echo "cannot install Rust: install it from https://rustup.rs and run this again" >&2; exit 1; }
    export PATH="$HOME/.cargo/bin:$PATH"
fi
cargo build --release
# `siamtrack` on the PATH (a link: the binary finds the models and ONNX Runtime from where it is built).
if [ -w /usr/local/bin ]; then
    ln -sf "$PWD/target/release/siamtrack" /usr/local/bin/siamtrack
else
    echo "note: /usr/local/bin is not writable: run target/release/siamtrack, or put it on the PATH"
fi

if [ "${1:-}" != "--no-run" ]; then
    ./target/release/siamtrack track
fi
