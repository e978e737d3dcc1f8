"""The other sources (diffusers folder, random weights), the LDM mapping, and the tokenizer files."""
import importlib.util
import json
import os

import pytest
import torch

from conftest import FIXTURES, ONNX_DIR, TINY_CKPT, TINY_MODEL
from helpers import differing_files

HAS_OPEN_CLIP = importlib.util.find_spec("open_clip") is not None


def test_ldm_round_trip_of_the_committed_checkpoint():
    """LDM -> diffusers (diffusers' converters) -> LDM (ours) gives the committed tensors back exactly."""
    from safetensors.torch import load_file

    from sdexport import ldm, sources

    src = sources.from_checkpoint(TINY_CKPT, "epsilon")
    again = ldm.to_ldm(src.unet, src.vae, src.text)
    stored = load_file(TINY_CKPT)
    assert set(again) == set(stored)
    for k, v in stored.items():
        assert torch.equal(again[k].to(v.dtype), v), k
    # the layout is the WebUI's: a few keys as they appear in v1-5-pruned-emaonly.safetensors
    for k in ("model.diffusion_model.input_blocks.0.0.weight", "model.diffusion_model.middle_block.1.proj_in.weight",
              "model.diffusion_model.output_blocks.1.2.conv.weight", "model.diffusion_model.out.2.weight",
              "first_stage_model.encoder.mid.attn_1.q.weight", "first_stage_model.decoder.up.0.block.0.nin_shortcut.weight",
              "cond_stage_model.transformer.text_model.final_layer_norm.weight",
              "cond_stage_model.transformer.text_model.embeddings.position_ids"):
        assert k in stored, k


def test_diffusers_folder_gives_the_same_graphs(tmp_path):
    import export
    from sdexport import sources

    src = sources.from_checkpoint(TINY_CKPT, "epsilon")
    pipe = tmp_path / "tiny-diffusers"
    src.unet.save_pretrained(pipe / "unet")
    src.vae.save_pretrained(pipe / "vae")
    src.text.save_pretrained(pipe / "text_encoder")
    (pipe / "scheduler").mkdir()
    (pipe / "scheduler" / "scheduler_config.json").write_text(json.dumps({
        "_class_name": "PNDMScheduler", "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
        "num_train_timesteps": 1000, "prediction_type": "epsilon"}))
    out = tmp_path / "model"
    assert export.main(["--diffusers", str(pipe), "--out", str(out), "--quiet"]) == 0
    assert differing_files(str(out), TINY_MODEL) == ["model.json"]
    with open(out / "model.json", encoding="utf-8") as f:
        m = json.load(f)
    with open(os.path.join(TINY_MODEL, "model.json"), encoding="utf-8") as f:
        want = json.load(f)
    assert m["source"] == {"file_name": "tiny-diffusers", "sha256": None, "short_hash": None}
    assert m["name"] == "tiny-diffusers"
    for k in want:
        if k not in ("source", "name"):
            assert m[k] == want[k], k


def test_random_inpaint_architecture(tmp_path):
    import export

    out = tmp_path / "model"
    assert export.main(["--random", "tiny-inpaint", "--seed", "3", "--out", str(out), "--quiet",
                        "--prediction-type", "v"]) == 0
    with open(out / "model.json", encoding="utf-8") as f:
        m = json.load(f)
    assert m["unet_in_channels"] == 9 and m["prediction_type"] == "v"
    assert m["source"] == {"file_name": "random-tiny-inpaint-seed3", "sha256": None, "short_hash": None}


def test_random_sd15_architecture_matches_known_shapes():
    """The sd15 configs are those of the real model: the parameter counts of SD 1.5."""
    from sdexport.architectures import known

    a = known("sd15")
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    with torch.device("meta"):
        unet = UNet2DConditionModel(**a.unet)
        vae = AutoencoderKL(**a.vae)
        text = CLIPTextModel(CLIPTextConfig(**a.text))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(unet) == 859_520_964
    assert count(vae) == 83_653_863
    assert count(text) == 123_060_480


@pytest.mark.skipif(not HAS_OPEN_CLIP, reason="open_clip_torch not installed")
def test_tokenizer_json_rebuilds_byte_identically(tmp_path):
    import build_tokenizer

    path = build_tokenizer.write_tokenizer_json(build_tokenizer.read_bpe_installed(), str(tmp_path))
    with open(path, "rb") as a, open(os.path.join(ONNX_DIR, "tokenizer", "tokenizer.json"), "rb") as b:
        assert a.read() == b.read()


def test_shipped_tokenizer_is_the_fixtures():
    """onnx/tokenizer/tokenizer.json (what the exporter copies; the exporter image has only onnx/) is the file
    the tiny fixture folder carries (and the Rust tests read)."""
    with open(os.path.join(ONNX_DIR, "tokenizer", "tokenizer.json"), "rb") as a, \
            open(os.path.join(TINY_MODEL, "tokenizer", "tokenizer.json"), "rb") as b:
        assert a.read() == b.read()


def test_missing_tokenizer_fails_before_the_export(tmp_path, capsys):
    import export

    out = tmp_path / "out"
    code = export.main(["--random", "tiny", "--out", str(out), "--tokenizer", str(tmp_path / "nope.json")])
    err = capsys.readouterr().err
    assert code == 2 and "nope.json does not exist" in err, err
    assert not out.exists()


@pytest.mark.skipif(not HAS_OPEN_CLIP, reason="open_clip_torch not installed")
def test_tokenizer_goldens_reproduce():
    import tokenizer_goldens

    with open(os.path.join(FIXTURES, "tokenizer", "goldens.json"), encoding="utf-8") as f:
        assert f.read() == tokenizer_goldens.render(tokenizer_goldens.goldens())


def test_tokenizer_goldens_match_tokenizer_json():
    """Without open_clip: our tokenizer.json still gives the recorded `tokenizers` ids."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(TINY_MODEL, "tokenizer", "tokenizer.json"))
    with open(os.path.join(FIXTURES, "tokenizer", "goldens.json"), encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    assert len(cases) >= 40
    for c in cases:
        assert tok.encode(c["prompt"], add_special_tokens=False).ids == c["tokenizers"], c["prompt"]
