#!/usr/bin/env bash
# Stage ONNX Runtime's CUDA build for *Python* (baseline_ort_python.py) next to what ../shared/gpu/prepare
# stages for Rust. Run from the project root, here (not on the GPU machine):
#
#   benches/gpu/stage_ort_python.sh            # writes .gpu/ortpy/ort-python-gpu.tar.gz (about 13 MB)
#
# It takes the onnxruntime-gpu 1.31.1 cp312 wheel (from prepare's cache, else pip download), keeps the
# Python package without libonnxruntime_providers_cuda.so (280 MB: the GPU machine already has it in
# /tmp/ort-gpu from prepare's parts) and without libonnxruntime.so (the Python binding has the core built
# in). On the GPU machine, run_all.sh unpacks it into /tmp/ortpy-site and links the CUDA provider library
# from /tmp/ort-gpu. Carry ".gpu/ortpy" with any run.
set -euo pipefail
ORT_VERSION=${ORT_VERSION:-1.31.1}
root=$(git rev-parse --show-toplevel)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/ort-gpu-$ORT_VERSION
wheel=$(ls "$cache"/whl/onnxruntime_gpu-"$ORT_VERSION"-cp312-*.whl 2>/dev/null | head -1 || true)
if [[ -z $wheel ]]; then
  echo "downloading onnxruntime-gpu==$ORT_VERSION for Python 3.12 (about 256 MB) ..."
  mkdir -p "$cache/whl"
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d "$cache/whl" "onnxruntime-gpu==$ORT_VERSION"
  wheel=$(ls "$cache"/whl/onnxruntime_gpu-"$ORT_VERSION"-cp312-*.whl | head -1)
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && unzip -q "$wheel" -x 'onnxruntime/capi/libonnxruntime_providers_cuda.so' 'onnxruntime/capi/libonnxruntime.so*')
mkdir -p "$root/.gpu/ortpy"
tar -C "$tmp" -czf "$root/.gpu/ortpy/ort-python-gpu.tar.gz" .
echo "$ORT_VERSION" > "$root/.gpu/ortpy/version"
echo "staged $(du -h "$root/.gpu/ortpy/ort-python-gpu.tar.gz" | cut -f1) in .gpu/ortpy (carry \".gpu/ortpy\"; it needs /tmp/ort-gpu from prepare's parts)"
