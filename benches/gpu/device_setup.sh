#!/usr/bin/env bash
# On the GPU machine, from the repository root: collect ONNX Runtime's CUDA parts as they arrive
# (one per call), and once .gpu/extra is there, install diffusers, the onnxruntime-gpu Python
# package and the binaries under /tmp. Prints what is ready. Safe to run on every call.
set -u
bash .gpu/p1/unpack 2>/dev/null || bash /tmp/gpu-stage/unpack
zstd=/tmp/gpu-stage/zstd
if [[ -d .gpu/extra ]] && [[ ! -f /tmp/sdgate-extra.done ]] && [[ -f /tmp/ort-gpu/env ]]; then
  python3 -m pip install -q --no-index --no-deps --target /tmp/site .gpu/extra/diffusers-*.whl
  mkdir -p /tmp/ortpy /tmp/sdgate-bin
  "$zstd" -d -q -c .gpu/extra/ortpy.tar.zst | tar -x -C /tmp/ortpy
  ln -sf /tmp/ort-gpu/libonnxruntime_providers_cuda.so /tmp/ortpy/onnxruntime/capi/
  ln -sf /tmp/ort-gpu/libonnxruntime_providers_tensorrt.so /tmp/ortpy/onnxruntime/capi/
  "$zstd" -d -q -c .gpu/extra/bin.tar.zst | tar -x -C /tmp/sdgate-bin
  touch /tmp/sdgate-extra.done
fi
cat > /tmp/sdgate-env <<ENV
source /tmp/ort-gpu/env
export PYTHONPATH=/tmp/ortpy:/tmp/site\${PYTHONPATH:+:\$PYTHONPATH}
export PATH=/tmp/sdgate-bin:\$PATH
export SDGATE_REPO=$PWD
ENV
[[ -f /tmp/sdgate-extra.done ]] && echo "sdgate extras: ready (source /tmp/sdgate-env)"
true
