"""Precision conversion and ONNX Runtime's CUDA fusions (its Stable Diffusion recipe, see
onnxruntime/transformers/models/stable_diffusion/optimize_pipeline.py and
/work/shared/reference/performance.md)."""
from __future__ import annotations

import logging
import time

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


# Graph inputs that stay float32 in float16 graphs (the contract, onnx/README.md section 3.2): the UNet's
# `timestep`, which carries fractional k-diffusion timesteps; float16 would round them to 0.5 near 1000.
FP32_INPUTS = ("timestep",)


def fp32_nodes(model: onnx.ModelProto) -> list[str]:
    """Nodes kept in float32 in float16 graphs: the UNet's sinusoidal timestep embedding (diffusers'
    `time_proj`), computed in float32 by diffusers and the WebUI alike, and every node on the way from the
    float32 `timestep` input to it (the Expand to the batch size). In float16, t*freq near t=1000 is
    rounded to 0.5 and the sin/cos of the fast frequencies are off by up to 0.25 rad; keeping these few
    nodes in float32 cuts the fp16 UNet's error 2-3x on the tiny model, at no measurable cost."""
    time_proj = [n for n in model.graph.node if "/time_proj/" in n.name]
    inputs = [i.name for i in model.graph.input if i.name in FP32_INPUTS]
    # nodes downstream of the float32 inputs that are upstream of (or in) time_proj
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for n in model.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    below: set[str] = set()
    todo = list(inputs)
    while todo:
        for n in consumers.get(todo.pop(), []):
            if n.name not in below:
                below.add(n.name)
                todo.extend(n.output)
    producer = {o: n for n in model.graph.node for o in n.output}
    above: set[str] = set()
    todo = [i for n in time_proj for i in n.input]
    while todo:
        n = producer.get(todo.pop())
        if n is not None and n.name not in above:
            above.add(n.name)
            todo.extend(n.input)
    keep = {n.name for n in time_proj} | (below & above)
    return [n.name for n in model.graph.node if n.name in keep]


def restore_fp32_inputs(model: onnx.ModelProto) -> list[str]:
    """After convert_float_to_float16(keep_io_types=False), give the FP32_INPUTS back their float32 type.

    The converter made them float16 and put a Cast(float16 -> float32) before each float32 (blocked) node
    that reads them. Those casts are removed and the nodes read the float32 input directly, so the value
    reaches them unrounded. Refuses (ValueError) if a float16 node reads such an input: it must be blocked."""
    restored = []
    for inp in model.graph.input:
        if inp.name not in FP32_INPUTS or inp.type.tensor_type.elem_type != onnx.TensorProto.FLOAT16:
            continue
        readers = [n for n in model.graph.node if inp.name in n.input]
        casts = [n for n in readers if n.op_type == "Cast" and n.attribute[0].i == onnx.TensorProto.FLOAT]
        if not readers or len(casts) != len(readers):
            raise ValueError(f"{inp.name}: read by float16 nodes {[n.name for n in readers if n not in casts]}")
        renamed = {c.output[0]: inp.name for c in casts}
        for c in casts:
            model.graph.node.remove(c)
        for n in model.graph.node:
            for k, name in enumerate(n.input):
                if name in renamed:
                    n.input[k] = renamed[name]
        for v in [v for v in model.graph.value_info if v.name in renamed]:
            model.graph.value_info.remove(v)
        inp.type.tensor_type.elem_type = onnx.TensorProto.FLOAT
        restored.append(inp.name)
    return restored


def remove_fp16_round_trips(model: onnx.ModelProto, fp32_node_names: list[str]) -> int:
    """Remove Cast(float16) -> Cast(float32) pairs that take a float32 value out of the float32 region (the
    FP32_INPUTS and the blocked nodes) and back in: the converter leaves some between adjacent blocked nodes
    (e.g. /unet/time_proj/Unsqueeze -> Mul), which would round the timestep to float16 after all.
    The second Cast's readers read the float32 value itself; returns how many pairs were removed."""
    fp32_region = set(fp32_node_names)
    producer = {o: n for n in model.graph.node for o in n.output}
    outputs = {o.name for o in model.graph.output}

    def to(node):
        return next((a.i for a in node.attribute if a.name == "to"), None)

    renamed: dict[str, str] = {}
    dropped = []
    for n in model.graph.node:
        if n.op_type != "Cast" or to(n) != onnx.TensorProto.FLOAT or n.output[0] in outputs:
            continue
        p = producer.get(n.input[0])
        if p is None or p.op_type != "Cast" or to(p) != onnx.TensorProto.FLOAT16:
            continue
        source = p.input[0]
        origin = producer.get(source)
        if source in FP32_INPUTS or (origin is not None and origin.name in fp32_region):
            renamed[n.output[0]] = source
            dropped.append(n)
    for n in dropped:
        model.graph.node.remove(n)
    for n in model.graph.node:
        for k, name in enumerate(n.input):
            if name in renamed:
                n.input[k] = renamed[name]
    # the float16 casts that nothing reads any more
    read = {i for n in model.graph.node for i in n.input} | outputs
    for n in [n for n in model.graph.node if n.op_type == "Cast" and n.output[0] not in read]:
        model.graph.node.remove(n)
    gone = set(renamed)
    for v in [v for v in model.graph.value_info if v.name in gone]:
        model.graph.value_info.remove(v)
    return len(dropped)


def _finish_fp16(m, blocked: list[str]) -> None:
    """After OnnxModel.convert_float_to_float16: float32 timestep input, no float16 round trips inside the
    float32 region, nodes in topological order (the converter appends its Cast nodes at the end)."""
    remove_fp16_round_trips(m.model, blocked)
    restore_fp32_inputs(m.model)
    m.topological_sort()


def to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """Plain (unfused) float16 conversion: every float input (but `timestep`), output and weight becomes
    float16. Resize keeps float32 (its `scales` must stay float32; the op converter wraps it with casts)."""
    _, _, OnnxModel = _import_transformers_tools()
    m = OnnxModel(model)
    blocked = fp32_nodes(model)
    m.convert_float_to_float16(keep_io_types=False, op_block_list=["Resize"], node_block_list=blocked)
    _finish_fp16(m, blocked)
    return m.model


def optimize_cuda(path: str, kind: str, fp16: bool, num_heads: int = 0, hidden_size: int = 0,
                  timings: dict[str, float] | None = None) -> tuple[onnx.ModelProto, dict[str, int]]:
    """ORT's fusions for the CUDA execution provider (fused ops only the CUDA EP implements), then optionally
    float16 (keep_io_types=False). Runs on any machine: opt_level=0 uses no session.

    num_heads / hidden_size: needed for the CLIP text encoder, whose attention reshapes (transformers 5) use
    -1 for the head count, so the fusion cannot read it from the graph.
    timings: if given, filled with the seconds of each step ("fuse", "fp16")."""
    timings = {} if timings is None else timings
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
        t = time.monotonic()
        m = optimizer.optimize_model(path, model_type=model_type, num_heads=num_heads, hidden_size=hidden_size, opt_level=0,
                                     optimization_options=options, use_gpu=True)
        timings["fuse"] = time.monotonic() - t
        if fp16:
            t = time.monotonic()
            blocked = fp32_nodes(m.model)
            m.convert_float_to_float16(keep_io_types=False, node_block_list=blocked)
            _finish_fp16(m, blocked)
            timings["fp16"] = time.monotonic() - t
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
