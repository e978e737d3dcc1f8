"""Precision conversion and ONNX Runtime's CUDA fusions (its Stable Diffusion recipe, see
onnxruntime/transformers/models/stable_diffusion/optimize_pipeline.py and
/work/shared/reference/performance.md)."""
from __future__ import annotations

import logging

import numpy as np
import onnx

MODEL_TYPE = {"text_encoder": "clip", "unet": "unet", "vae_encoder": "vae", "vae_decoder": "vae"}


def _import_transformers_tools():
    try:
        from onnxruntime.transformers import optimizer  # noqa: F401  (puts its folder on sys.path)
        from onnxruntime.transformers.fusion_options import FusionOptions
        from onnxruntime.transformers.onnx_model import OnnxModel
    except ImportError as e:  # pragma: no cover - depends on the installed onnxruntime
        from . import ExportError

        raise ExportError(f"onnxruntime.transformers is not available ({e}); install onnxruntime") from e
    return optimizer, FusionOptions, OnnxModel


def _get_num_heads(self, reshape_q, is_torch2: bool = False) -> int:
    """FusionAttentionUnet.get_num_heads, reading one-element arrays with .reshape(-1)[0]: NumPy >= 2.4 refuses
    int() of a 1-element array of rank 1, which made the original miss every attention (no fusion)."""
    num_heads = 0
    if is_torch2:
        parent = self.model.get_parent(reshape_q, 1)
        if parent and parent.op_type == "Concat" and len(parent.input) == 4:
            value = self.model.get_constant_value(parent.input[2])
            if isinstance(value, np.ndarray) and value.size == 1:
                num_heads = int(value.reshape(-1)[0])
    else:
        value = self.model.get_constant_value(reshape_q.input[1])
        if isinstance(value, np.ndarray) and list(value.shape) == [4]:
            num_heads = int(value.reshape(-1)[2])
    return num_heads if num_heads > 0 else 0


def patch_numpy_2_4() -> int:
    """Patch FusionAttentionUnet under both module names it is imported by. Returns how many classes."""
    import importlib
    import sys

    _import_transformers_tools()
    patched = 0
    for name in ("onnxruntime.transformers.fusion_attention_unet", "fusion_attention_unet"):
        try:
            module = sys.modules.get(name) or importlib.import_module(name)
        except ImportError:
            continue
        cls = getattr(module, "FusionAttentionUnet", None)
        if cls is not None and cls.get_num_heads is not _get_num_heads:
            cls.get_num_heads = _get_num_heads
            patched += 1
    return patched


def fp32_nodes(model: onnx.ModelProto) -> list[str]:
    """Nodes kept in float32 in float16 graphs: the UNet's sinusoidal timestep embedding (diffusers'
    `time_proj`), computed in float32 by diffusers and the WebUI alike. In float16, t*freq near t=1000 is
    rounded to 0.5 and the sin/cos of the fast frequencies are off by up to 0.25 rad; keeping these few
    nodes in float32 cuts the fp16 UNet's error 2-3x on the tiny model, at no measurable cost."""
    return [n.name for n in model.graph.node if "/time_proj/" in n.name]


def to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """Plain (unfused) float16 conversion: every float input, output and weight becomes float16.
    Resize keeps float32 (its `scales` must stay float32; the op converter wraps it with casts)."""
    _, _, OnnxModel = _import_transformers_tools()
    m = OnnxModel(model)
    m.convert_float_to_float16(keep_io_types=False, op_block_list=["Resize"], node_block_list=fp32_nodes(model))
    return m.model


def optimize_cuda(path: str, kind: str, fp16: bool, num_heads: int = 0,
                  hidden_size: int = 0) -> tuple[onnx.ModelProto, dict[str, int]]:
    """ORT's fusions for the CUDA execution provider (fused ops only the CUDA EP implements), then optionally
    float16 (keep_io_types=False). Runs on any machine: opt_level=0 uses no session.

    num_heads / hidden_size: needed for the CLIP text encoder, whose attention reshapes (transformers 5) use
    -1 for the head count, so the fusion cannot read it from the graph."""
    optimizer, FusionOptions, _ = _import_transformers_tools()
    patch_numpy_2_4()
    model_type = MODEL_TYPE[kind]
    options = FusionOptions(model_type)
    if model_type == "unet":
        # As ORT's optimize_pipeline: packed QKV / KV are only used by the float16 kernels.
        options.enable_packed_kv = fp16 and options.enable_packed_kv
        options.enable_packed_qkv = fp16 and options.enable_packed_qkv
    level = logging.getLogger("onnxruntime.transformers").level
    logging.getLogger("onnxruntime.transformers").setLevel(logging.WARNING)
    try:
        m = optimizer.optimize_model(path, model_type=model_type, num_heads=num_heads, hidden_size=hidden_size, opt_level=0,
                                     optimization_options=options, use_gpu=True)
        if fp16:
            m.convert_float_to_float16(keep_io_types=False, node_block_list=fp32_nodes(m.model))
        counts = fused_op_counts(m.model)
    finally:
        logging.getLogger("onnxruntime.transformers").setLevel(level)
    return m.model, counts


def fused_op_counts(model: onnx.ModelProto) -> dict[str, int]:
    """Node counts of ONNX Runtime's contrib ops (domain com.microsoft): the fused ops."""
    counts: dict[str, int] = {}
    for node in model.graph.node:
        if node.domain == "com.microsoft":
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items()))


def float_io_types(model: onnx.ModelProto) -> dict[str, str]:
    """Element types of the float inputs and outputs, by name (for checks)."""
    out = {}
    for v in list(model.graph.input) + list(model.graph.output):
        t = v.type.tensor_type.elem_type
        out[v.name] = onnx.TensorProto.DataType.Name(t)
    return out
