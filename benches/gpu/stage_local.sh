#!/usr/bin/env bash
# Here (no GPU): stage what the GPU machine needs besides ONNX Runtime's CUDA build (which
# ../shared/gpu/prepare stages in .gpu/p1..pN). Writes .gpu/extra (git-ignored):
#   diffusers wheel (the machine has none), the Python package of onnxruntime-gpu 1.31.1 without its
#   big shared libraries (they come from the staged parts), the stripped release binary, and the
#   release test binaries that check the CUDA path against the goldens.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.gpu/extra
rm -rf "$out" && mkdir -p "$out"
python3 -m pip download -q --no-deps --only-binary=:all: -d "$out" diffusers==0.42.1
whl=$(ls "${XDG_CACHE_HOME:-$HOME/.cache}"/ort-gpu-1.31.1/whl/onnxruntime_gpu-*.whl)
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && unzip -q "$whl" -x 'onnxruntime/capi/libonnxruntime_providers_cuda.so' \
   'onnxruntime/capi/libonnxruntime.so.1.31.1' 'onnxruntime/capi/libonnxruntime_providers_tensorrt.so' '*.dist-info/*')
tar -C "$tmp" -cf - onnxruntime | zstd -q -19 -T0 -o "$out/ortpy.tar.zst"
cargo build --release --locked
cargo test --release --locked --no-run --test runtime_reference --test pipeline_goldens 2>&1 | grep -o 'target/release/deps/[a-z_]*-[0-9a-f]*' > "$tmp/tests"
mkdir -p "$tmp/bin"
cp target/release/sdgate "$tmp/bin/"
while read -r t; do cp "$t" "$tmp/bin/$(basename "$t" | sed 's/-[0-9a-f]*$//')"; done < "$tmp/tests"
strip "$tmp"/bin/*
tar -C "$tmp/bin" -cf - . | zstd -q -19 -T0 -o "$out/bin.tar.zst"
ls -la "$out"
