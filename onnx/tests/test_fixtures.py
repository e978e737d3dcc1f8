"""The committed tiny fixtures: reproducible, and the ONNX graphs reproduce torch to 1e-5."""
import json
import os

import numpy as np
import onnx
import pytest
import torch

from conftest import INPAINT, TINY, TINY_CKPT, TINY_MODEL
from helpers import assemble_inpaint, differing_files, max_abs, reference, run

TOL = 1e-5


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """`python onnx/export.py --checkpoint <committed tiny checkpoint>` into a fresh folder (in-process)."""
    import export

    out = str(tmp_path_factory.mktemp("export") / "model")
    assert export.main(["--checkpoint", TINY_CKPT, "--out", out, "--name", "tiny-sd1", "--quiet"]) == 0
    return out


def test_export_of_committed_checkpoint_is_byte_identical(exported):
    assert differing_files(exported, TINY_MODEL) == []


def test_rerun_into_same_folder_is_byte_identical(exported, tmp_path):
    import export

    assert export.main(["--checkpoint", TINY_CKPT, "--out", exported, "--name", "tiny-sd1", "--quiet"]) == 0
    assert differing_files(exported, TINY_MODEL) == []


def test_manifest(exported):
    from sdexport.checkpoint import sha256_file

    with open(os.path.join(TINY_MODEL, "model.json"), encoding="utf-8") as f:
        m = json.load(f)
    sha = sha256_file(TINY_CKPT)
    assert m["source"] == {"file_name": "tiny-sd1.safetensors", "sha256": sha, "short_hash": sha[:10]}
    assert (m["family"], m["prediction_type"], m["latent_channels"], m["unet_in_channels"]) == ("sd1", "epsilon", 4, 4)
    assert (m["vae_scale_factor"], m["vae_scaling_factor"], m["default_image_size"]) == (2, 0.18215, 64)
    t = m["text"]
    assert (t["hidden_size"], t["max_length"], t["num_hidden_layers"], t["vocab_size"]) == (32, 77, 5, 49408)
    assert (t["bos_token_id"], t["eos_token_id"], t["pad_token_id"]) == (49406, 49407, 49407)
    assert m["scheduler"] == {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
                              "beta_schedule": "scaled_linear"}
    for kind, g in m["graphs"].items():
        assert g == {"file": f"{kind}/model.onnx", "precision": "fp32", "provider": "any"}
    from safetensors import safe_open

    with safe_open(os.path.join(TINY_MODEL, t["token_embeddings"]), "pt") as f:
        assert list(f.keys()) == ["token_embedding"]
        table = f.get_tensor("token_embedding")
    # fp16 although the graphs are fp32: the checkpoint is fp16, so every value is exact in fp16
    assert table.dtype == torch.float16 and list(table.shape) == [49408, 32]


def _io(model):
    def desc(v):
        tt = v.type.tensor_type
        dims = [d.dim_param if d.dim_param else d.dim_value for d in tt.shape.dim]
        return v.name, onnx.TensorProto.DataType.Name(tt.elem_type), dims

    return [desc(v) for v in model.graph.input], [desc(v) for v in model.graph.output]


def test_graph_signatures():
    want = {
        "text_encoder": ([("inputs_embeds", "FLOAT", ["batch", "sequence", 32]), ("layer_from_end", "INT64", [1])],
                         [("hidden_states", "FLOAT", ["batch", "sequence", 32])]),
        "unet": ([("sample", "FLOAT", ["batch", 4, "height", "width"]), ("timestep", "FLOAT", ["batch"]),
                  ("encoder_hidden_states", "FLOAT", ["batch", "sequence", 32])],
                 [("out_sample", "FLOAT", ["batch", 4, "height", "width"])]),
        "vae_encoder": ([("sample", "FLOAT", ["batch", 3, "height", "width"])],
                        [("latent_parameters", "FLOAT", ["batch", 8, "latent_height", "latent_width"])]),
        "vae_decoder": ([("latent_sample", "FLOAT", ["batch", 4, "latent_height", "latent_width"])],
                        [("sample", "FLOAT", ["batch", 3, "height", "width"])]),
    }
    for kind, io in want.items():
        model = onnx.load(os.path.join(TINY_MODEL, kind, "model.onnx"))
        assert _io(model) == io, kind
        assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]
        onnx.checker.check_model(model)


def test_onnx_reproduces_torch_reference():
    ref = reference(os.path.join(TINY, "reference.safetensors"))
    errors = {}
    te = os.path.join(TINY_MODEL, "text_encoder", "model.onnx")
    for k in (1, 2):
        got = run(te, {"inputs_embeds": ref["text_encoder.inputs_embeds"],
                       "layer_from_end": np.array([k], dtype=np.int64)})
        errors[f"text_encoder/{k}"] = max_abs(got, ref[f"text_encoder.hidden_states.{k}"])
    # the runtime looks the embeddings up in token_embedding.safetensors: same values as the reference's
    from safetensors.numpy import load_file

    table = load_file(os.path.join(TINY_MODEL, "text_encoder", "token_embedding.safetensors"))["token_embedding"]
    assert np.array_equal(table[ref["text_encoder.input_ids"]], ref["text_encoder.inputs_embeds"])
    unet = os.path.join(TINY_MODEL, "unet", "model.onnx")
    for s in (77, 154):
        p = f"unet.s{s}."
        got = run(unet, {"sample": ref[p + "sample"], "timestep": ref[p + "timestep"],
                         "encoder_hidden_states": ref[p + "encoder_hidden_states"]})
        errors[f"unet/s{s}"] = max_abs(got, ref[p + "out_sample"])
    got = run(os.path.join(TINY_MODEL, "vae_encoder", "model.onnx"), {"sample": ref["vae_encoder.sample"]})
    errors["vae_encoder"] = max_abs(got, ref["vae_encoder.latent_parameters"])
    got = run(os.path.join(TINY_MODEL, "vae_decoder", "model.onnx"), {"latent_sample": ref["vae_decoder.latent_sample"]})
    errors["vae_decoder"] = max_abs(got, ref["vae_decoder.sample"])
    print("max abs error per graph:", errors)
    assert all(e <= TOL for e in errors.values()), errors


def test_layer_from_end_is_clamped():
    ref = reference(os.path.join(TINY, "reference.safetensors"))
    te = os.path.join(TINY_MODEL, "text_encoder", "model.onnx")
    x = ref["text_encoder.inputs_embeds"]
    last = run(te, {"inputs_embeds": x, "layer_from_end": np.array([1], dtype=np.int64)})
    first = run(te, {"inputs_embeds": x, "layer_from_end": np.array([5], dtype=np.int64)})
    assert np.array_equal(run(te, {"inputs_embeds": x, "layer_from_end": np.array([0], dtype=np.int64)}), last)
    assert np.array_equal(run(te, {"inputs_embeds": x, "layer_from_end": np.array([99], dtype=np.int64)}), first)


def test_inpaint_overlay(tmp_path):
    folder = assemble_inpaint(TINY_MODEL, INPAINT, str(tmp_path / "inpaint"))
    with open(os.path.join(folder, "model.json"), encoding="utf-8") as f:
        m = json.load(f)
    assert m["unet_in_channels"] == 9 and m["name"] == "tiny-sd1-inpaint"
    for name in ("text", "scheduler", "vae_scale_factor", "latent_channels"):
        with open(os.path.join(TINY_MODEL, "model.json"), encoding="utf-8") as f:
            assert json.load(f)[name] == m[name]
    ref = reference(os.path.join(INPAINT, "reference.safetensors"))
    for s in (77, 154):
        p = f"unet.s{s}."
        assert ref[p + "sample"].shape[1] == 9
        got = run(os.path.join(folder, "unet", "model.onnx"),
                  {"sample": ref[p + "sample"], "timestep": ref[p + "timestep"],
                   "encoder_hidden_states": ref[p + "encoder_hidden_states"]})
        assert max_abs(got, ref[p + "out_sample"]) <= TOL


def test_fixtures_regenerate_byte_identically(tmp_path):
    """make_fixtures.build into a scratch copy gives every committed file back, bit for bit."""
    import make_fixtures

    root = tmp_path / "fixtures"
    make_fixtures.build(str(root), log=lambda *_: None)
    assert differing_files(str(root / "tiny-sd1"), TINY) == []
    assert differing_files(str(root / "tiny-sd1-inpaint"), INPAINT) == []
