#!/usr/bin/env bash
# On the GPU machine, from the repository root, at the start of every call: collect ONNX Runtime's
# CUDA parts as they arrive (one per call; ../shared/gpu/prepare), unpack the binaries staged by
# stage_local.sh once, and write /tmp/sdgate-env (source it: ORT for Rust, binaries on PATH).
set -u
bash .gpu/p1/unpack 2>/dev/null || bash /tmp/gpu-stage/unpack 2>/dev/null || true
if [[ -f .gpu/bin/bin.tar.zst && ! -f /tmp/sdgate-bin/sdgate ]]; then
  mkdir -p /tmp/sdgate-bin
  zstd=$(command -v zstd || echo /tmp/gpu-stage/zstd)
  "$zstd" -d -q -c .gpu/bin/bin.tar.zst | tar -x -C /tmp/sdgate-bin && echo "sdgate binaries: /tmp/sdgate-bin"
fi
if [[ -f .whl/diffusers-0.42.1-py3-none-any.whl && ! -d /tmp/site/diffusers ]]; then
  python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/diffusers-*.whl && echo "diffusers: /tmp/site"
fi
if [[ -f .gpu/ortpy/ort-python-gpu.tar.gz && ! -d /tmp/ortpy-site/onnxruntime ]]; then
  mkdir -p /tmp/ortpy-site && tar -xzf .gpu/ortpy/ort-python-gpu.tar.gz -C /tmp/ortpy-site && echo "ort python: /tmp/ortpy-site"
fi
cat > /tmp/sdgate-env <<'ENV'
[[ -f /tmp/ort-gpu/env ]] && source /tmp/ort-gpu/env
export PATH=/tmp/sdgate-bin:$PATH
export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
export SDGATE_REPO=$PWD
ENV
true
