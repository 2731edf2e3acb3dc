#!/usr/bin/env bash
# GPU check: on a machine with one NVIDIA GPU (driver installed, internet access), installs what the CUDA and
# TensorRT execution providers need without any system CUDA: the GPU build of ONNX Runtime (PyPI
# onnxruntime-gpu==1.31.1) with the CUDA, cuDNN, cuBLAS and TensorRT libraries from NVIDIA's PyPI wheels, in a venv
# under .gpu/. Then times `siamtrack bench` on one sequence on the CPU, CUDA and TensorRT, with the int8 default
# model and its float twin, and prints a table of update times and fps.
#
#     scripts/benchmarks/gpu_check.sh [SEQUENCE_DIR=../shared/data/dev/Crossing] [OUT_DIR=out/gpu_check]
#
# SEQUENCE_DIR is an OTB-layout sequence (img/ + groundtruth_rect.txt) or a video with a .txt box file beside it
# (the default falls back to samples/orbit.mp4 when the dev data is absent). Runs scripts/setup.sh --no-run first
# when the release build is missing. A device whose provider cannot load is reported as such (siamtrack falls back
# to the CPU and says why; this script checks for that warning rather than timing the CPU twice).
set -euo pipefail
cd "$(dirname "$0")/../.."
ORT_VERSION=1.31.1
sequence=${1:-../shared/data/dev/Crossing}
out=${2:-out/gpu_check}
[ -e "$sequence" ] || sequence=samples/orbit.mp4
command -v nvidia-smi >/dev/null || { echo "gpu_check: no nvidia-smi: this needs an NVIDIA GPU and its driver" >&2; exit 2; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
[ -x target/release/siamtrack ] || bash scripts/setup.sh --no-run
mkdir -p "$out"

venv=.gpu/venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" 2>/dev/null || { apt-get install -y -qq python3-venv && python3 -m venv "$venv"; }
fi
pip() { "$venv/bin/python" -m pip --quiet --disable-pip-version-check "$@"; }
pip install "onnxruntime-gpu[cuda,cudnn]==$ORT_VERSION"
site=$("$venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
capi="$site/onnxruntime/capi"
# The CUDA major version the providers were built against decides the NVIDIA wheels (cu12 or cu13).
cuda_major=$(ldd "$capi/libonnxruntime_providers_cuda.so" | sed -n 's/.*libcudart\.so\.\([0-9]*\).*/\1/p' | head -1)
cuda_major=${cuda_major:-12}
# The extras above pull most of these; naming them all also covers a release whose extras differ.
pip install "nvidia-cuda-runtime-cu$cuda_major" "nvidia-cublas-cu$cuda_major" "nvidia-cudnn-cu$cuda_major" \
    "nvidia-cufft-cu$cuda_major" "nvidia-curand-cu$cuda_major" "nvidia-cuda-nvrtc-cu$cuda_major" ||
    echo "gpu_check: could not install the CUDA $cuda_major libraries; CUDA will be reported unavailable"
pip install "tensorrt-cu$cuda_major-libs>=10,<11" ||
    echo "gpu_check: could not install TensorRT for CUDA $cuda_major; TensorRT will be reported unavailable"
export ORT_DYLIB_PATH="$capi/libonnxruntime.so.$ORT_VERSION"
libs=$(find "$site/nvidia" "$site/tensorrt_libs" -maxdepth 2 -name lib -type d 2>/dev/null | tr '\n' ':')
export LD_LIBRARY_PATH="${libs}$site/tensorrt_libs:$capi:${LD_LIBRARY_PATH:-}"
for provider in cuda tensorrt; do
    missing=$(ldd "$capi/libonnxruntime_providers_$provider.so" 2>/dev/null | grep "not found" || true)
    [ -z "$missing" ] || echo "gpu_check: $provider provider still lacks: $missing"
done

if [ -d "$sequence" ]; then
    source_args=("$sequence/img" --init-gt "$sequence/groundtruth_rect.txt")
else
    source_args=("$sequence" --init-gt "${sequence%.*}.txt")
fi
echo "| device | model | update ms (mean) | encoder ms | tracker fps | end-to-end fps |" > "$out/table.md"
echo "|---|---|---|---|---|---|" >> "$out/table.md"
for device in cpu cuda tensorrt; do
    for model in effnet_lite0_s8_int8 effnet_lite0_s8; do
        log="$out/$device-$model.txt"
        # TensorRT builds an engine for each new input size (template, full and confident crops) on first use; the
        # warm-up updates keep that out of the times.
        if ! target/release/siamtrack bench "${source_args[@]}" --device "$device" --warmup 10 \
                --model "models/$model.json" > "$log" 2>&1; then
            echo "| $device | $model | failed: $(tail -1 "$log") | | | |" >> "$out/table.md"
            continue
        fi
        if grep -q "is not available" "$log"; then
            echo "| $device | $model | not available (the reason is in $log) | | | |" >> "$out/table.md"
            continue
        fi
        update=$(awk '$1 == "tracker" {print $2}' "$log")
        encoder=$(awk '$1 == "encoder" {print $2}' "$log")
        fps=$(sed -n 's/^\([0-9.]*\) fps end to end, tracker \([0-9.]*\) fps.*/\2 | \1/p' "$log")
        echo "| $device | $model | $update | $encoder | $fps |" >> "$out/table.md"
    done
done
cat "$out/table.md"
echo "gpu_check: logs in $out/"
