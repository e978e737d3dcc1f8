# syntax=docker/dockerfile:1.7
#
# sdgate, GPU image: the release binary on a CUDA 13 + cuDNN 9 runtime, with ONNX Runtime's CUDA and
# TensorRT execution providers taken from the onnxruntime-gpu wheel (only the .so files).
#
#   docker build -t sdgate:cuda .                                  # CUDA execution provider
#   docker build --build-arg TENSORRT=1 -t sdgate:cuda-trt .       # + TensorRT 10 libraries
#   docker build --target exporter -t sdgate-exporter .            # checkpoint → ONNX model folder
#
# Versions: ORT_VERSION must equal scripts/setup-ort's (what CI tests with); OPEN_CLIP_VERSION equals
# onnx/build_tokenizer.py's; the Rust image equals Cargo.toml's rust-version. scripts/check-deploy
# checks all three. Docs: docs/deployment.md.

ARG RUST_IMAGE=rust:1.95-bookworm
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG CUDA_IMAGE=nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04
ARG ORT_VERSION=1.31.1
ARG TRT_VERSION=10.16.1.11
ARG OPEN_CLIP_VERSION=3.3.0

# ---------------------------------------------------------------------------------------------
# 1. The release binary.
FROM ${RUST_IMAGE} AS build
WORKDIR /src
# The whole (.dockerignore-filtered) tree: Cargo needs every target the manifest names.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin sdgate \
    && install -D -m 0755 target/release/sdgate /out/sdgate

# ---------------------------------------------------------------------------------------------
# 2. ONNX Runtime (CUDA 13 / cuDNN 9 build) from the PyPI wheel: the C library and the provider
#    libraries only. The wheel's Python parts are not copied.
FROM ${PYTHON_IMAGE} AS ort-gpu
ARG ORT_VERSION
WORKDIR /tmp/ort
RUN python -m pip download --no-cache-dir --no-deps --only-binary=:all: -d /tmp/ort "onnxruntime-gpu==${ORT_VERSION}" \
    && python -m zipfile -e /tmp/ort/onnxruntime_gpu-*.whl /tmp/ort/x \
    && install -d /out/lib \
    && cp /tmp/ort/x/onnxruntime/capi/libonnxruntime.so.${ORT_VERSION} \
          /tmp/ort/x/onnxruntime/capi/libonnxruntime_providers_shared.so \
          /tmp/ort/x/onnxruntime/capi/libonnxruntime_providers_cuda.so \
          /tmp/ort/x/onnxruntime/capi/libonnxruntime_providers_tensorrt.so /out/lib/ \
    && ln -s libonnxruntime.so.${ORT_VERSION} /out/lib/libonnxruntime.so \
    && rm -rf /tmp/ort

# ---------------------------------------------------------------------------------------------
# 3. TensorRT 10 (libnvinfer.so.10, libnvonnxparser.so.10: what libonnxruntime_providers_tensorrt.so
#    1.31.1 links against) — only with --build-arg TENSORRT=1. PyPI has no wheel of
#    tensorrt-cu13-libs, only a source package that fetches NVIDIA's wheel at install time, so this
#    stage needs that network access. Without it the folder stays empty and the TensorRT provider
#    fails to register (sdgate reports it; use --provider cuda).
FROM ${PYTHON_IMAGE} AS tensorrt
ARG TENSORRT=0
ARG TRT_VERSION
RUN install -d /out/lib \
    && if [ "${TENSORRT}" = "1" ]; then \
         python -m venv /tmp/trt \
         && /tmp/trt/bin/pip install --no-cache-dir "tensorrt-cu13-libs==${TRT_VERSION}" \
         && cp -P /tmp/trt/lib/python3*/site-packages/tensorrt_libs/lib*.so* /out/lib/ \
         && rm -rf /tmp/trt; \
       fi

# ---------------------------------------------------------------------------------------------
# 4. The exporter: a WebUI checkpoint (.safetensors) → an sdgate model folder (model.json + ONNX
#    graphs), see onnx/README.md. Runs as a Kubernetes Job (k8s/jobs/export-model).
FROM ${PYTHON_IMAGE} AS exporter
ARG OPEN_CLIP_VERSION
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY onnx/ /app/onnx/
# onnx/requirements.txt is the file CI installs too: one list of pins for both.
# The open_clip wheel carries the CLIP BPE vocabulary (onnx/build_tokenizer.py); keeping it in the
# image lets the export run in a cluster with no route to a package index (PIP_NO_INDEX below).
RUN python -m pip install --no-cache-dir -r /app/onnx/requirements.txt \
    && python -m pip download --no-cache-dir --no-deps -d /opt/wheels "open_clip_torch==${OPEN_CLIP_VERSION}" \
    && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent sdgate
ENV PIP_NO_INDEX=1 \
    PIP_FIND_LINKS=/opt/wheels
USER 10001:10001
ENTRYPOINT ["python", "/app/onnx/export.py"]
CMD ["--help"]

# ---------------------------------------------------------------------------------------------
# 5. The GPU runtime (default target).
FROM ${CUDA_IMAGE} AS gpu
ARG ORT_VERSION
LABEL org.opencontainers.image.title="sdgate" \
      org.opencontainers.image.description="Stable Diffusion on ONNX Runtime (CUDA 13, cuDNN 9), WebUI-compatible API" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent sdgate \
    && install -d -o 10001 -g 10001 /var/lib/sdgate /var/cache/sdgate/trt
COPY --from=build /out/sdgate /usr/local/bin/sdgate
COPY --from=ort-gpu /out/lib/ /opt/onnxruntime/lib/
COPY --from=tensorrt /out/lib/ /opt/tensorrt/lib/
# The CUDA image's own LD_LIBRARY_PATH (/usr/local/nvidia/lib{,64}: the driver libraries the NVIDIA
# container toolkit mounts) is kept; ONNX Runtime finds its provider libraries beside itself.
ENV LD_LIBRARY_PATH=/opt/tensorrt/lib:${LD_LIBRARY_PATH}
ENV ORT_DYLIB_PATH=/opt/onnxruntime/lib/libonnxruntime.so.${ORT_VERSION} \
    SDGATE_PROVIDER=cuda \
    SDGATE_PORT=7860 \
    SDGATE_DATA_DIR=/var/lib/sdgate \
    SDGATE_TRT_CACHE_DIR=/var/cache/sdgate/trt
WORKDIR /var/lib/sdgate
USER 10001:10001
EXPOSE 7860
# Docker only (Kubernetes uses the probes in k8s/base): bash's /dev/tcp, so no curl in the image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["sdgate", "probe", "--path", "/health"]
ENTRYPOINT ["sdgate", "serve", "--listen"]
