"""Files the exporter must refuse, with a clear message and exit status 2, without running anything."""
import os
import pickle
import zipfile

import pytest
import torch
from safetensors.torch import load_file, save_file

from conftest import TINY_CKPT


def export_cli(args, capsys):
    import export

    code = export.main(args)
    err = capsys.readouterr().err
    return code, err


class Evil:
    """A pickle that calls os.system(touch MARKER) when unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_pickle_calling_os_system_is_refused_unrun(tmp_path, capsys, layout):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    payload = {"state_dict": {"model.diffusion_model.x": torch.zeros(1)}, "hook": Evil(str(marker))}
    if layout == "zip":
        torch.save(payload, path)  # torch's zip layout, data.pkl inside
        assert zipfile.is_zipfile(path)
    else:
        with open(path, "wb") as f:
            pickle.dump(payload, f, protocol=2)
    # the file really is dangerous: an unrestricted unpickler would run it
    with zipfile.ZipFile(path) if layout == "zip" else open(path, "rb") as f:
        raw = f.read(next(n for n in f.namelist() if n.endswith("data.pkl"))) if layout == "zip" else f.read()
    assert b"system" in raw
    code, err = export_cli(["--checkpoint", str(path), "--out", str(tmp_path / "out")], capsys)
    assert code == 2
    assert "refused" in err and "system" in err and "was not run" in err, err
    assert not marker.exists()
    assert not (tmp_path / "out").exists()


def test_truncated_safetensors_is_refused(tmp_path, capsys):
    data = open(TINY_CKPT, "rb").read()
    path = tmp_path / "truncated.safetensors"
    path.write_bytes(data[: len(data) // 2])
    code, err = export_cli(["--checkpoint", str(path), "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and "not a valid safetensors file" in err, err


def test_garbage_safetensors_is_refused(tmp_path, capsys):
    path = tmp_path / "garbage.safetensors"
    path.write_bytes(b"\xff" * 64)
    code, err = export_cli(["--checkpoint", str(path), "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and "not a valid safetensors file" in err, err


def test_unknown_extension_is_refused(tmp_path, capsys):
    path = tmp_path / "model.bin"
    path.write_bytes(b"x")
    code, err = export_cli(["--checkpoint", str(path), "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and "unknown file type" in err, err


def _variant(tmp_path, name, edit):
    sd = load_file(TINY_CKPT)
    edit(sd)
    path = tmp_path / name
    save_file(sd, str(path))
    return str(path)


def _drop(prefix):
    return lambda sd: [sd.pop(k) for k in [k for k in sd if k.startswith(prefix)]]


WRONG = [
    ("sdxl", lambda sd: sd.update({"conditioner.embedders.1.model.ln_final.weight": torch.zeros(4)}), "SDXL"),
    ("sd2", lambda sd: sd.update({"cond_stage_model.model.ln_final.weight": torch.zeros(4)}), "SD 2.x"),
    ("vae-only", lambda sd: [sd.pop(k) for k in [k for k in sd if not k.startswith("first_stage_model.")]] and
     sd.update({k[len("first_stage_model."):]: sd.pop(k) for k in list(sd)}), "standalone VAE"),
    ("lora", lambda sd: sd.clear() or sd.update({"lora_unet_down_blocks_0.lora_down.weight": torch.zeros(4, 4)}),
     "LoRA"),
    ("no-vae", _drop("first_stage_model."), "no VAE"),
    ("no-clip", _drop("cond_stage_model."), "no CLIP text encoder"),
    ("pix2pix-8ch", lambda sd: sd.update({"model.diffusion_model.input_blocks.0.0.weight":
                                          torch.zeros(32, 8, 3, 3, dtype=torch.float16)}), "8 input channels"),
    ("wide-unet", lambda sd: sd.update({k: torch.zeros(48, *v.shape[1:], dtype=v.dtype) for k, v in sd.items()
                                        if k.startswith("model.diffusion_model.input_blocks.1.0.out_layers.3.")}),
     "unsupported UNet architecture"),
    ("missing-tensor", _drop("model.diffusion_model.middle_block.1.transformer_blocks.0.attn2.to_k"),
     "tensors do not fit"),
    ("extra-tensor", lambda sd: sd.update({"model.diffusion_model.middle_block.1.extra.weight": torch.zeros(2)}),
     "do not fit"),
    ("clip-h", lambda sd: sd.update({"cond_stage_model.transformer.text_model.encoder.layers.0.mlp.fc1.weight":
                                     torch.zeros(64, 32, dtype=torch.float16)}), "unsupported CLIP text encoder"),
    ("schedule", lambda sd: sd.update({"betas": torch.linspace(1e-4, 0.02, 1000)}), "noise schedule"),
]


@pytest.mark.parametrize("name,edit,needle", WRONG, ids=[w[0] for w in WRONG])
def test_wrong_architecture_is_refused(tmp_path, capsys, name, edit, needle):
    path = _variant(tmp_path, f"{name}.safetensors", edit)
    code, err = export_cli(["--checkpoint", path, "--out", str(tmp_path / "out")], capsys)
    assert code == 2, err
    assert err.startswith("error: ") and needle in err, err
    assert "Traceback" not in err


def test_sd1_schedule_buffers_are_accepted(tmp_path):
    """LDM checkpoints often carry `betas`; SD 1.x's (float32) must pass the schedule check."""
    from sdexport.ldm import _check_schedule

    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    _check_schedule({"betas": betas.float()}, "x")


def test_safe_ckpt_loads(tmp_path):
    """A plain-tensor .ckpt (state_dict wrapper, as CompVis files) goes through weights_only loading."""
    from sdexport.checkpoint import load_state_dict

    sd = load_file(TINY_CKPT)
    path = tmp_path / "tiny.ckpt"
    torch.save({"state_dict": sd, "global_step": 1}, path)
    got = load_state_dict(str(path))
    assert set(got) == set(sd) and all(torch.equal(got[k], sd[k]) for k in sd)
