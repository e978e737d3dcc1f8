#!/usr/bin/env bash
# Here (no GPU): stage everything the GPU machine needs besides ONNX Runtime's CUDA build for Rust
# (../shared/gpu/prepare stages that in .gpu/p1..pN). All of it is git-ignored:
#   .whl/diffusers-*.whl                    the machine has no diffusers (exporter, torch baseline)
#   .gpu/ortpy/ort-python-gpu.tar.gz        ONNX Runtime's CUDA build for Python (stage_ort_python.sh)
#   .gpu/bin/bin.tar.zst                    the stripped release binary and the release test binaries
#                                           that check the CUDA path against the goldens
# Carry ".whl", ".gpu/ortpy" and ".gpu/bin" with the first call (about 35 MB together).
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
rm -rf .whl .gpu/bin && mkdir -p .whl .gpu/bin
python3 -m pip download -q --no-deps --only-binary=:all: -d .whl diffusers==0.42.1
bash benches/gpu/stage_ort_python.sh
cargo build --release --locked
tests=$(cargo test --release --locked --no-run --test runtime_reference --test pipeline_goldens --test model_folder 2>&1 \
  | grep -o 'target/release/deps/[a-z_]*-[0-9a-f]*')
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
cp target/release/sdgate "$tmp/"
for t in $tests; do cp "$t" "$tmp/$(basename "$t" | sed 's/-[0-9a-f]*$//')"; done
strip "$tmp"/*
tar -C "$tmp" -cf - . | zstd -q -19 -T0 -o .gpu/bin/bin.tar.zst
ls -la .whl .gpu/ortpy .gpu/bin
