"""The original LDM/CompVis single-file key layout (what the WebUI loads) <-> diffusers/transformers modules.

Reading: the architecture is inferred from tensor shapes and matched against the known ones
(architectures.py); keys are converted with diffusers' own conversion functions
(diffusers.loaders.single_file_utils), and every tensor must find its place (strict loading).
Writing (diffusers -> LDM) exists to build test checkpoints; `roundtrip_check` proves the two agree.
"""
from __future__ import annotations

import re

import torch

from . import ExportError
from .architectures import SD1_SCHEDULER, SD1_VAE_SCALING_FACTOR, Architecture, match_text, match_unet

UNET = "model.diffusion_model."
VAE = "first_stage_model."
CLIP = "cond_stage_model.transformer."


# ---------------------------------------------------------------------------------------------- reading


def classify(sd: dict[str, torch.Tensor], path: str) -> None:
    """Refuse, with a reason, anything that is not an SD 1.x single-file checkpoint."""
    keys = list(sd)
    has = lambda prefix: any(k.startswith(prefix) for k in keys)  # noqa: E731
    if not keys:
        raise ExportError(f"{path}: the file holds no tensors")
    if has("conditioner.embedders."):
        raise ExportError(f"{path}: this is an SDXL checkpoint (conditioner.embedders.*); only SD 1.x is supported yet")
    if not has(UNET):
        if has("lora_unet_") or has("lora_te_") or any(".lora_" in k or "lora_down" in k for k in keys):
            what = "a LoRA"
        elif has("encoder.") and has("decoder."):
            what = "a standalone VAE"
        elif has("string_to_param") or has("emb_params"):
            what = "a textual-inversion embedding"
        else:
            what = "not a Stable Diffusion checkpoint"
        raise ExportError(f"{path}: {what}: it has no UNet tensors ({UNET}*)")
    if has("cond_stage_model.model."):
        raise ExportError(f"{path}: this is an SD 2.x checkpoint (OpenCLIP text encoder, cond_stage_model.model.*); "
                          "only SD 1.x is supported yet")
    if not has(CLIP):
        raise ExportError(f"{path}: no CLIP text encoder ({CLIP}*) in the checkpoint")
    if not has(VAE):
        raise ExportError(f"{path}: no VAE ({VAE}*) in the checkpoint")


def _sub(sd: dict, prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def _shape(d: dict, key: str, what: str) -> tuple[int, ...]:
    if key not in d:
        raise ExportError(f"{what}: tensor {key} is missing: not a supported architecture")
    return tuple(d[key].shape)


def _indices(d: dict, pattern: str) -> list[int]:
    rx = re.compile(pattern)
    return sorted({int(m.group(1)) for k in d if (m := rx.match(k))})


def infer_unet(sd: dict) -> dict:
    """The diffusers UNet fields that the LDM tensors' shapes determine."""
    u = _sub(sd, UNET)
    what = "UNet"
    mc, in_ch = _shape(u, "input_blocks.0.0.weight", what)[:2]
    n_in = max(_indices(u, r"input_blocks\.(\d+)\.")) + 1
    n_ops = len([i for i in range(n_in) if f"input_blocks.{i}.0.op.weight" in u])
    levels = n_ops + 1
    if (n_in - 1 - n_ops) % levels:
        raise ExportError(f"{what}: {n_in} input blocks do not make equal levels: not a supported architecture")
    lpb = (n_in - 1 - n_ops) // levels
    block_out, attn = [], []
    for lvl in range(levels):
        first = 1 + lvl * (lpb + 1)
        block_out.append(_shape(u, f"input_blocks.{first}.0.out_layers.3.weight", what)[0])
        attn.append(f"input_blocks.{first}.1.proj_in.weight" in u)
    ctx = [v.shape[1] for k, v in u.items() if k.endswith("attn2.to_k.weight")]
    proj_in = [v.ndim for k, v in u.items() if k.endswith(".proj_in.weight")]
    n_out = max(_indices(u, r"output_blocks\.(\d+)\.")) + 1
    if n_out != levels * (lpb + 1):
        raise ExportError(f"{what}: {n_out} output blocks for {levels} levels of {lpb}: not a supported architecture")
    return {
        "in_channels": in_ch,
        "model_channels": mc,
        "out_channels": _shape(u, "out.2.weight", what)[0],
        "down_block_types": ["CrossAttnDownBlock2D" if a else "DownBlock2D" for a in attn],
        "up_block_types": ["CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attn)],
        "block_out_channels": block_out,
        "layers_per_block": lpb,
        "cross_attention_dim": ctx[0] if ctx else None,
        "use_linear_projection": bool(proj_in) and proj_in[0] == 2,
    }


def infer_vae(sd: dict) -> dict:
    v = _sub(sd, VAE)
    what = "VAE"
    levels = len(_indices(v, r"encoder\.down\.(\d+)\."))
    lpb = len(_indices(v, r"encoder\.down\.0\.block\.(\d+)\."))
    if levels == 0 or lpb == 0:
        raise ExportError(f"{what}: no encoder.down.* blocks: not a supported architecture")
    return {
        "in_channels": _shape(v, "encoder.conv_in.weight", what)[1],
        "out_channels": _shape(v, "decoder.conv_out.weight", what)[0],
        "down_block_types": ["DownEncoderBlock2D"] * levels,
        "up_block_types": ["UpDecoderBlock2D"] * levels,
        "block_out_channels": [_shape(v, f"encoder.down.{i}.block.0.conv2.weight", what)[0] for i in range(levels)],
        "layers_per_block": lpb,
        "latent_channels": _shape(v, "decoder.conv_in.weight", what)[1],
        "norm_num_groups": 32,
    }


def clip_state_dict(sd: dict) -> dict[str, torch.Tensor]:
    """CLIP text-model tensors with transformers 5 CLIPTextModel keys (no `text_model.` prefix)."""
    from diffusers.loaders.single_file_utils import convert_ldm_clip_checkpoint

    out = {}
    for k, v in convert_ldm_clip_checkpoint(sd).items():
        k = k[len("text_model."):] if k.startswith("text_model.") else k
        if k == "embeddings.position_ids":  # a buffer, rebuilt as arange(77); see README (broken position ids)
            continue
        out[k] = v
    return out


def infer_text(t: dict) -> dict:
    what = "CLIP text encoder"
    vocab, hidden = _shape(t, "embeddings.token_embedding.weight", what)
    return {
        "vocab_size": vocab,
        "hidden_size": hidden,
        "max_position_embeddings": _shape(t, "embeddings.position_embedding.weight", what)[0],
        "num_hidden_layers": len(_indices(t, r"encoder\.layers\.(\d+)\.")),
        "intermediate_size": _shape(t, "encoder.layers.0.mlp.fc1.weight", what)[0],
    }


def _describe(d: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in d.items())


def _load_strict(module: torch.nn.Module, state: dict, what: str) -> None:
    state = {k: v.to(torch.float32) if v.is_floating_point() else v for k, v in state.items()}
    try:
        missing, unexpected = module.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shape mismatches
        raise ExportError(f"{what}: tensors do not fit the architecture: {str(e).splitlines()[-1].strip()}") from e
    if missing or unexpected:
        raise ExportError(f"{what}: tensors do not fit the architecture: missing {sorted(missing)[:5]} "
                          f"({len(missing)}), unexpected {sorted(unexpected)[:5]} ({len(unexpected)})")


def from_ldm(sd: dict, path: str, prediction_type: str):
    """(architecture, unet, vae, text_encoder) from an LDM single-file state dict; float32 modules."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint, convert_ldm_vae_checkpoint
    from transformers import CLIPTextConfig, CLIPTextModel

    classify(sd, path)
    inferred = infer_unet(sd)
    if inferred["in_channels"] not in (4, 9):
        raise ExportError(f"{path}: UNet with {inferred['in_channels']} input channels: neither a txt2img (4) nor an "
                          "inpainting (9) model; not supported")
    arch = match_unet(inferred)
    if arch is None:
        raise ExportError(f"{path}: unsupported UNet architecture ({_describe(inferred)}); "
                          "known: SD 1.x (sd15) and the tiny test model")
    arch.prediction_type = prediction_type
    _check_schedule(sd, path)

    unet_src = _sub(sd, UNET)
    unet_sd = convert_ldm_unet_checkpoint(sd, dict(arch.unet))
    if len(unet_sd) != len(unet_src):
        raise ExportError(f"{path}: {len(unet_src) - len(unet_sd)} UNet tensors do not fit the architecture")
    unet = UNet2DConditionModel(**arch.unet)
    _load_strict(unet, unet_sd, f"{path}: UNet")

    vae_cfg = infer_vae(sd)
    if vae_cfg["latent_channels"] != arch.unet["out_channels"]:
        raise ExportError(f"{path}: the VAE's {vae_cfg['latent_channels']} latent channels do not match the UNet's "
                          f"{arch.unet['out_channels']}")
    vae_cfg["scaling_factor"] = SD1_VAE_SCALING_FACTOR
    vae_cfg["sample_size"] = arch.unet["sample_size"] * 2 ** (len(vae_cfg["block_out_channels"]) - 1)
    arch.vae = vae_cfg
    vae_src = _sub(sd, VAE)
    vae_sd = convert_ldm_vae_checkpoint(sd, vae_cfg)
    if len(vae_sd) != len(vae_src):
        raise ExportError(f"{path}: {len(vae_src) - len(vae_sd)} VAE tensors do not fit the architecture")
    vae = AutoencoderKL(**vae_cfg)
    _load_strict(vae, vae_sd, f"{path}: VAE")

    text_sd = clip_state_dict(sd)
    text_shapes = infer_text(text_sd)
    text_cfg = match_text(text_shapes)
    if text_cfg is None:
        raise ExportError(f"{path}: unsupported CLIP text encoder ({_describe(text_shapes)}); known: CLIP ViT-L/14 "
                          "(SD 1.x) and the tiny test model")
    if text_cfg["hidden_size"] != arch.unet["cross_attention_dim"]:
        raise ExportError(f"{path}: text hidden size {text_cfg['hidden_size']} != UNet cross-attention "
                          f"{arch.unet['cross_attention_dim']}")
    arch.text = text_cfg
    text = CLIPTextModel(CLIPTextConfig(**text_cfg))
    _load_strict(text, text_sd, f"{path}: CLIP text encoder")
    return arch, unet.eval(), vae.eval(), text.eval()


def _check_schedule(sd: dict, path: str) -> None:
    """LDM checkpoints often carry their noise schedule (`betas`); refuse one that is not SD 1.x's."""
    betas = sd.get("betas")
    if betas is None:
        return
    s = SD1_SCHEDULER
    want = torch.linspace(s["beta_start"] ** 0.5, s["beta_end"] ** 0.5, s["num_train_timesteps"],
                          dtype=torch.float64) ** 2
    got = betas.to(torch.float64).flatten()
    if got.shape != want.shape or not torch.allclose(got, want, rtol=1e-3, atol=1e-7):
        raise ExportError(f"{path}: the checkpoint's noise schedule (betas, {tuple(betas.shape)}) is not SD 1.x's "
                          "scaled_linear 0.00085..0.012 over 1000 steps; not supported")


# ---------------------------------------------------------------------------------------------- writing


def _unet_to_ldm(sd: dict, cfg: dict) -> dict:
    lpb = cfg["layers_per_block"]
    levels = len(cfg["block_out_channels"])
    attn_up = [t.startswith("CrossAttn") for t in cfg["up_block_types"]]
    res = [("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("time_emb_proj", "emb_layers.1"),
           ("norm2", "out_layers.0"), ("conv2", "out_layers.3"), ("conv_shortcut", "skip_connection")]
    prefix_map = {
        "time_embedding.linear_1.": "time_embed.0.",
        "time_embedding.linear_2.": "time_embed.2.",
        "conv_in.": "input_blocks.0.0.",
        "conv_norm_out.": "out.0.",
        "conv_out.": "out.2.",
        "mid_block.resnets.0.": "middle_block.0.",
        "mid_block.attentions.0.": "middle_block.1.",
        "mid_block.resnets.1.": "middle_block.2.",
    }
    for i in range(levels):
        for j in range(lpb):
            prefix_map[f"down_blocks.{i}.resnets.{j}."] = f"input_blocks.{1 + i * (lpb + 1) + j}.0."
            prefix_map[f"down_blocks.{i}.attentions.{j}."] = f"input_blocks.{1 + i * (lpb + 1) + j}.1."
        prefix_map[f"down_blocks.{i}.downsamplers.0.conv."] = f"input_blocks.{(i + 1) * (lpb + 1)}.0.op."
        for j in range(lpb + 1):
            prefix_map[f"up_blocks.{i}.resnets.{j}."] = f"output_blocks.{i * (lpb + 1) + j}.0."
            prefix_map[f"up_blocks.{i}.attentions.{j}."] = f"output_blocks.{i * (lpb + 1) + j}.1."
        last = i * (lpb + 1) + lpb
        prefix_map[f"up_blocks.{i}.upsamplers.0.conv."] = f"output_blocks.{last}.{2 if attn_up[i] else 1}.conv."
    out = {}
    for k, v in sd.items():
        pre = max((p for p in prefix_map if k.startswith(p)), key=len, default=None)
        if pre is None:
            raise ValueError(f"no LDM name for UNet tensor {k}")
        rest = k[len(pre):]
        if ".resnets." in pre or pre.startswith("mid_block.resnets"):
            for d, l_ in res:
                if rest.startswith(d + "."):
                    rest = l_ + rest[len(d):]
                    break
        out[UNET + prefix_map[pre] + rest] = v
    return out


def _vae_to_ldm(sd: dict, cfg: dict) -> dict:
    n = len(cfg["block_out_channels"])
    attn = {"group_norm.": "norm.", "to_q.": "q.", "to_k.": "k.", "to_v.": "v.", "to_out.0.": "proj_out."}
    out = {}
    for k, v in sd.items():
        new = k
        new = new.replace("conv_norm_out.", "norm_out.").replace("conv_shortcut.", "nin_shortcut.")
        new = re.sub(r"encoder\.down_blocks\.(\d+)\.resnets\.", r"encoder.down.\1.block.", new)
        new = re.sub(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.", r"encoder.down.\1.downsample.", new)
        new = re.sub(r"decoder\.up_blocks\.(\d+)\.resnets\.",
                     lambda m: f"decoder.up.{n - 1 - int(m.group(1))}.block.", new)
        new = re.sub(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.",
                     lambda m: f"decoder.up.{n - 1 - int(m.group(1))}.upsample.", new)
        new = new.replace("mid_block.resnets.0.", "mid.block_1.").replace("mid_block.resnets.1.", "mid.block_2.")
        if "mid_block.attentions.0." in new:
            new = new.replace("mid_block.attentions.0.", "mid.attn_1.")
            for d, l_ in attn.items():
                new = new.replace("attn_1." + d, "attn_1." + l_)
            if v.ndim == 2:
                v = v[:, :, None, None]  # LDM uses 1x1 convolutions
        out[VAE + new] = v
    return out


def to_ldm(unet, vae, text) -> dict[str, torch.Tensor]:
    """An LDM single-file state dict (as v1-5-pruned-emaonly.safetensors is laid out) from the three modules."""
    out = {}
    out.update(_unet_to_ldm(unet.state_dict(), dict(unet.config)))
    out.update(_vae_to_ldm(vae.state_dict(), dict(vae.config)))
    for k, v in text.state_dict().items():
        out[CLIP + "text_model." + k] = v
    n = text.config.max_position_embeddings
    out[CLIP + "text_model.embeddings.position_ids"] = torch.arange(n, dtype=torch.int64)[None]
    return {k: v.detach().contiguous() for k, v in sorted(out.items())}


def roundtrip_check(ldm: dict, unet, vae, text, path: str = "<roundtrip>") -> None:
    """Raise unless reading `ldm` back gives exactly the weights of (unet, vae, text) in float32."""
    _, u2, v2, t2 = from_ldm(ldm, path, "epsilon")
    for name, a, b in (("unet", unet, u2), ("vae", vae, v2), ("text", text, t2)):
        sa, sb = a.state_dict(), b.state_dict()
        if set(sa) != set(sb):
            raise AssertionError(f"{name}: keys differ: {sorted(set(sa) ^ set(sb))[:5]}")
        for k in sa:
            if not torch.equal(sa[k].to(torch.float32), sb[k].to(torch.float32)):
                raise AssertionError(f"{name}: {k} differs after the round trip")
