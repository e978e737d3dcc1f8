"""Where the weights come from: a single-file checkpoint, a diffusers folder, or seeded random weights."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

import torch

from . import ExportError
from .architectures import RANDOM_CHOICES, SD1_SCHEDULER, Architecture, known


@dataclass
class Loaded:
    arch: Architecture
    unet: torch.nn.Module
    vae: torch.nn.Module
    text: torch.nn.Module
    file_name: str
    sha256: str | None
    default_name: str


def from_checkpoint(path: str, prediction_type: str) -> Loaded:
    from .checkpoint import load_state_dict, sha256_file
    from .ldm import from_ldm

    sd = load_state_dict(path)
    arch, unet, vae, text = from_ldm(sd, path, prediction_type)
    base = os.path.basename(path)
    return Loaded(arch, unet, vae, text, base, sha256_file(path), os.path.splitext(base)[0])


def from_diffusers(folder: str, prediction_type: str | None) -> Loaded:
    """A diffusers pipeline folder (unet/, vae/, text_encoder/, scheduler/), read offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel

    if not os.path.isdir(folder):
        raise ExportError(f"diffusers folder {folder} does not exist")
    for sub in ("unet", "vae", "text_encoder"):
        if not os.path.isdir(os.path.join(folder, sub)):
            raise ExportError(f"diffusers folder {folder}: no {sub}/ (text_encoder_2/ would mean SDXL: not supported yet)")
    if os.path.isdir(os.path.join(folder, "text_encoder_2")):
        raise ExportError(f"diffusers folder {folder}: SDXL (text_encoder_2/) is not supported yet")
    try:
        unet = UNet2DConditionModel.from_pretrained(folder, subfolder="unet", local_files_only=True,
                                                    torch_dtype=torch.float32)
        vae = AutoencoderKL.from_pretrained(folder, subfolder="vae", local_files_only=True, torch_dtype=torch.float32)
        text = CLIPTextModel.from_pretrained(os.path.join(folder, "text_encoder"), local_files_only=True,
                                             dtype=torch.float32)
    except (OSError, ValueError, RuntimeError) as e:
        raise ExportError(f"diffusers folder {folder}: cannot load: {e}") from e
    ucfg, vcfg, tcfg = dict(unet.config), dict(vae.config), text.config.to_dict()
    if ucfg.get("addition_embed_type") or ucfg["cross_attention_dim"] != tcfg["hidden_size"]:
        raise ExportError(f"diffusers folder {folder}: not an SD 1.x-style pipeline")
    if tcfg["hidden_size"] == 1024:
        raise ExportError(f"diffusers folder {folder}: SD 2.x (OpenCLIP ViT-H text encoder) is not supported yet")
    if ucfg["in_channels"] not in (4, 9) or ucfg["out_channels"] != vcfg["latent_channels"]:
        raise ExportError(f"diffusers folder {folder}: UNet in/out channels {ucfg['in_channels']}/"
                          f"{ucfg['out_channels']} are not a txt2img (4) or inpainting (9) SD model")
    scheduler = dict(SD1_SCHEDULER)
    sched_path = os.path.join(folder, "scheduler", "scheduler_config.json")
    pred = "epsilon"
    if os.path.isfile(sched_path):
        with open(sched_path, encoding="utf-8") as f:
            sc = json.load(f)
        for k in scheduler:
            if k in sc:
                scheduler[k] = sc[k]
        pred = {"epsilon": "epsilon", "v_prediction": "v"}.get(sc.get("prediction_type", "epsilon"))
        if pred is None:
            raise ExportError(f"diffusers folder {folder}: prediction_type {sc.get('prediction_type')!r} not supported")
    text_cfg = {k: tcfg[k] for k in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                                     "num_attention_heads", "max_position_embeddings", "hidden_act", "layer_norm_eps")}
    arch = Architecture(name=os.path.basename(os.path.normpath(folder)), family="sd1", unet=ucfg, vae=vcfg,
                        text=text_cfg, scheduler=scheduler, prediction_type=prediction_type or pred)
    base = os.path.basename(os.path.normpath(folder))
    return Loaded(arch, unet.eval(), vae.eval(), text.eval(), base, None, base)


def random_modules(arch: Architecture, seed: int):
    """Seeded random weights: the libraries' own initialisation, then every 1-D parameter (norm scales and
    shifts, biases) moved by N(0, 0.1) so that no two of them are equal and a misplaced tensor shows."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**arch.unet)
    vae = AutoencoderKL(**arch.vae)
    text = CLIPTextModel(CLIPTextConfig(**arch.text))
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for module in (unet, vae, text):
            for _, p in sorted(module.named_parameters()):
                if p.ndim == 1:
                    p.add_(0.1 * torch.randn(p.shape, generator=g))
    return unet.eval(), vae.eval(), text.eval()


def from_random(name: str, seed: int, prediction_type: str) -> Loaded:
    if name not in RANDOM_CHOICES:
        raise ExportError(f"--random {name}: known architectures are {', '.join(RANDOM_CHOICES)}")
    arch = known(name)
    arch.prediction_type = prediction_type
    unet, vae, text = random_modules(arch, seed)
    return Loaded(arch, unet, vae, text, f"random-{name}-seed{seed}", None, f"random-{name}")
