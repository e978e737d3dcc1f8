"""--fp16 and --optimize cuda on the tiny model. Fusing runs anywhere; running fused graphs needs CUDA
(NhwcConv, GroupNorm, ... exist only in the CUDA provider), so here only what CPU can run is executed."""
import json
import os

import numpy as np
import onnx
import pytest

from conftest import TINY, TINY_CKPT
from helpers import max_abs, reference, run, session


def io_types(path):
    m = onnx.load(path, load_external_data=False)
    return {v.name: onnx.TensorProto.DataType.Name(v.type.tensor_type.elem_type)
            for v in list(m.graph.input) + list(m.graph.output)}


def time_embedding_is_fp32(path):
    """The float32 `timestep` input reaches the sinusoidal embedding (diffusers' time_proj) in float32: no
    Cast to float16 on any path from it to Sin/Cos, and the Mul feeding Sin multiplies by float32 frequencies."""
    m = onnx.load(path)
    assert {i.name: i.type.tensor_type.elem_type for i in m.graph.input}["timestep"] == onnx.TensorProto.FLOAT
    producer = {o: n for n in m.graph.node for o in n.output}
    inits = {i.name: i.data_type for i in m.graph.initializer}
    (sin,) = [n for n in m.graph.node if n.op_type == "Sin"]
    mul = producer[sin.input[0]]
    assert mul.op_type == "Mul"
    types = set()
    for name in mul.input:
        if name in inits:
            types.add(inits[name])
        elif name in producer and producer[name].op_type == "Constant":
            types.add(producer[name].attribute[0].t.data_type)
        elif name in producer and producer[name].op_type == "Cast":
            types.add(producer[name].attribute[0].i)
    # every node between the input and Sin: none converts to float16
    path, todo = [], [sin]
    while todo:
        n = todo.pop()
        path.append(n)
        todo += [producer[i] for i in n.input if i in producer and producer[i].op_type != "Constant"]
    assert any("timestep" in n.input for n in path)
    casts = [n for n in path if n.op_type == "Cast" and n.attribute[0].i != onnx.TensorProto.FLOAT]
    return types <= {onnx.TensorProto.FLOAT} and onnx.TensorProto.FLOAT in types and not casts


def is_sorted(path):
    m = onnx.load(path)
    known = {i.name for i in m.graph.input} | {i.name for i in m.graph.initializer} | {""}
    for n in m.graph.node:
        if any(i not in known for i in n.input):
            return False
        known.update(n.output)
    return True


@pytest.fixture(scope="module")
def fused(tmp_path_factory):
    import export

    out = str(tmp_path_factory.mktemp("fused") / "model")
    assert export.main(["--checkpoint", TINY_CKPT, "--out", out, "--fp16", "--optimize", "cuda", "--quiet"]) == 0
    return out


def test_optimize_cuda_fuses_and_converts_to_fp16(fused):
    from sdexport.optimize import fused_op_counts

    with open(os.path.join(fused, "model.json"), encoding="utf-8") as f:
        graphs = json.load(f)["graphs"]
    assert graphs["unet"] == {"file": "unet/model.onnx", "precision": "fp16", "provider": "cuda"}
    assert graphs["text_encoder"]["precision"] == "fp16" and graphs["text_encoder"]["provider"] == "cuda"
    assert graphs["vae_decoder"] == {"file": "vae_decoder/model.onnx", "precision": "fp32", "provider": "cuda"}
    counts = {k: fused_op_counts(onnx.load(os.path.join(fused, k, "model.onnx"))) for k in graphs}
    print("fused ops:", counts)
    u = counts["unet"]
    # tiny UNet: 4 transformer blocks (1 down, 1 mid, 2 up), each a self- and a cross-attention
    assert u["MultiHeadAttention"] == 8 and u["BiasSplitGelu"] == 4
    assert u["GroupNorm"] + u["SkipGroupNorm"] > 15 and u["NhwcConv"] > 25
    assert counts["text_encoder"]["Attention"] == 5  # one causal Attention per CLIP layer
    assert counts["vae_decoder"]["NhwcConv"] > 10
    unet_io = io_types(os.path.join(fused, "unet", "model.onnx"))
    assert unet_io == {"sample": "FLOAT16", "timestep": "FLOAT", "encoder_hidden_states": "FLOAT16",
                       "out_sample": "FLOAT16"}
    assert time_embedding_is_fp32(os.path.join(fused, "unet", "model.onnx"))
    assert all(is_sorted(os.path.join(fused, k, "model.onnx")) for k in graphs)
    te = io_types(os.path.join(fused, "text_encoder", "model.onnx"))
    assert te == {"inputs_embeds": "FLOAT16", "layer_from_end": "INT64", "hidden_states": "FLOAT16"}
    assert set(io_types(os.path.join(fused, "vae_decoder", "model.onnx")).values()) == {"FLOAT"}
    from safetensors.numpy import load_file

    table = load_file(os.path.join(fused, "text_encoder", "token_embedding.safetensors"))["token_embedding"]
    assert table.dtype == np.float16


def test_numpy_patch_is_installed():
    import importlib

    from sdexport import optimize

    assert optimize.patch_numpy_2_4() >= 0
    for name in ("onnxruntime.transformers.fusion_attention_unet", "fusion_attention_unet"):
        cls = importlib.import_module(name).FusionAttentionUnet
        assert cls.get_num_heads is optimize._get_num_heads


def test_fused_text_encoder_is_causal_and_exact_on_cpu(tmp_path):
    """Attention/QuickGelu/SkipLayerNormalization have CPU kernels: the fp32 fused CLIP must still match torch."""
    from sdexport import graphs, sources
    from sdexport.optimize import optimize_cuda

    src = sources.from_checkpoint(TINY_CKPT, "epsilon")
    src.text.set_attn_implementation("eager")
    path = graphs.export("text_encoder", src.text, graphs.dummy_inputs("text_encoder", hidden=32, latent=4,
                                                                         unet_in=4, factor=2, unet_levels=2),
                         str(tmp_path))
    model, counts = optimize_cuda(path, "text_encoder", fp16=False, num_heads=4, hidden_size=32)
    assert counts.get("Attention") == 5
    fused_path = str(tmp_path / "fused.onnx")
    onnx.save(model, fused_path)
    ref = reference(os.path.join(TINY, "reference.safetensors"))
    for k in (1, 2):
        got = run(fused_path, {"inputs_embeds": ref["text_encoder.inputs_embeds"],
                               "layer_from_end": np.array([k], dtype=np.int64)})
        assert max_abs(got, ref[f"text_encoder.hidden_states.{k}"]) <= 1e-5


def test_plain_fp16_export_runs_and_is_close(tmp_path):
    """--fp16 without --optimize: provider any, float16 everywhere (with --fp16-vae), runnable on CPU."""
    import export

    out = str(tmp_path / "model")
    assert export.main(["--checkpoint", TINY_CKPT, "--out", out, "--fp16", "--fp16-vae", "--quiet"]) == 0
    with open(os.path.join(out, "model.json"), encoding="utf-8") as f:
        graphs = json.load(f)["graphs"]
    assert all(g["precision"] == "fp16" and g["provider"] == "any" for g in graphs.values())
    ref = reference(os.path.join(TINY, "reference.safetensors"))
    p = "unet.s154."
    feeds = {"sample": ref[p + "sample"].astype(np.float16), "timestep": ref[p + "timestep"],
             "encoder_hidden_states": ref[p + "encoder_hidden_states"].astype(np.float16)}
    assert session(os.path.join(out, "unet", "model.onnx")).get_inputs()[1].type == "tensor(float)"
    assert time_embedding_is_fp32(os.path.join(out, "unet", "model.onnx"))
    assert all(is_sorted(os.path.join(out, k, "model.onnx")) for k in graphs)
    for k in graphs:
        onnx.checker.check_model(onnx.load(os.path.join(out, k, "model.onnx")))
    got = run(os.path.join(out, "unet", "model.onnx"), feeds)
    assert got.dtype == np.float16
    # fractional timesteps reach the graph unrounded: float16 would make 999.25 into 999
    at = {t: run(os.path.join(out, "unet", "model.onnx"), {**feeds, "timestep": np.full(2, t, np.float32)})
          for t in (999.0, 999.25)}
    assert not np.array_equal(at[999.0], at[999.25])
    assert max_abs(got, ref[p + "out_sample"]) < 0.02 * np.abs(ref[p + "out_sample"]).max()
    got = run(os.path.join(out, "vae_decoder", "model.onnx"),
              {"latent_sample": ref["vae_decoder.latent_sample"].astype(np.float16)})
    assert max_abs(got, ref["vae_decoder.sample"]) < 0.02 * np.abs(ref["vae_decoder.sample"]).max()


def test_fused_export_is_deterministic(fused, tmp_path):
    import export

    from helpers import differing_files

    out = str(tmp_path / "again")
    assert export.main(["--checkpoint", TINY_CKPT, "--out", out, "--fp16", "--optimize", "cuda", "--quiet"]) == 0
    assert differing_files(out, fused) == []
