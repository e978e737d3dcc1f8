"""The architectures the exporter knows, as diffusers / transformers configurations.

Everything a model folder needs that a single-file checkpoint does not carry (attention head counts, the
noise schedule, the VAE scaling factor) is written here, so that nothing is ever fetched from the hub.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

# SD 1.x noise schedule (the LDM v1 configs: linear_start 0.00085, linear_end 0.012, 1000 steps, scaled_linear).
SD1_SCHEDULER = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
}
SD1_VAE_SCALING_FACTOR = 0.18215
CLIP_VOCAB_SIZE = 49408
CLIP_MAX_LENGTH = 77
CLIP_BOS, CLIP_EOS = 49406, 49407

_SD15_UNET = {
    "sample_size": 64,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    "block_out_channels": [320, 640, 1280, 1280],
    "layers_per_block": 2,
    "cross_attention_dim": 768,
    "attention_head_dim": 8,  # diffusers' name for SD 1.x's num_heads = 8
    "norm_num_groups": 32,
    "use_linear_projection": False,
}
_SD15_VAE = {
    "sample_size": 512,
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "block_out_channels": [128, 256, 512, 512],
    "layers_per_block": 2,
    "latent_channels": 4,
    "norm_num_groups": 32,
    "scaling_factor": SD1_VAE_SCALING_FACTOR,
}
_CLIP_L14_TEXT = {
    "vocab_size": CLIP_VOCAB_SIZE,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "max_position_embeddings": CLIP_MAX_LENGTH,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-5,
    "bos_token_id": CLIP_BOS,
    "eos_token_id": CLIP_EOS,
    "pad_token_id": CLIP_EOS,
    "projection_dim": 768,
}

_TINY_UNET = {
    "sample_size": 32,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
    "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
    "block_out_channels": [32, 64],
    "layers_per_block": 1,
    "cross_attention_dim": 32,
    "attention_head_dim": 8,  # 8 heads of 8 channels in the 64-channel transformer blocks
    "norm_num_groups": 32,
    "use_linear_projection": False,
}
_TINY_VAE = {
    "sample_size": 64,
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D"] * 2,
    "up_block_types": ["UpDecoderBlock2D"] * 2,
    "block_out_channels": [32, 64],
    "layers_per_block": 1,
    "latent_channels": 4,
    "norm_num_groups": 32,
    "scaling_factor": SD1_VAE_SCALING_FACTOR,
}
_TINY_TEXT = {
    "vocab_size": CLIP_VOCAB_SIZE,
    "hidden_size": 32,
    "intermediate_size": 37,
    "num_hidden_layers": 5,
    "num_attention_heads": 4,
    "max_position_embeddings": CLIP_MAX_LENGTH,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-5,
    "bos_token_id": CLIP_BOS,
    "eos_token_id": CLIP_EOS,
    "pad_token_id": CLIP_EOS,
    "projection_dim": 32,
}


@dataclass
class Architecture:
    """One known model: the configs of its three networks plus what the manifest needs."""

    name: str
    family: str  # "sd1" (sd2 / sdxl: see onnx/README.md)
    unet: dict
    vae: dict
    text: dict
    scheduler: dict = field(default_factory=lambda: dict(SD1_SCHEDULER))
    prediction_type: str = "epsilon"

    def with_unet_in_channels(self, in_channels: int) -> "Architecture":
        a = copy.deepcopy(self)
        a.unet["in_channels"] = in_channels
        return a


def _arch(name: str, unet: dict, vae: dict, text: dict) -> Architecture:
    return Architecture(name=name, family="sd1", unet=copy.deepcopy(unet), vae=copy.deepcopy(vae),
                        text=copy.deepcopy(text))


def known(name: str) -> Architecture:
    """`sd15`, `sd15-inpaint`, `tiny`, `tiny-inpaint`."""
    table = {
        "sd15": lambda: _arch("sd15", _SD15_UNET, _SD15_VAE, _CLIP_L14_TEXT),
        "sd15-inpaint": lambda: _arch("sd15", _SD15_UNET, _SD15_VAE, _CLIP_L14_TEXT).with_unet_in_channels(9),
        "tiny": lambda: _arch("tiny", _TINY_UNET, _TINY_VAE, _TINY_TEXT),
        "tiny-inpaint": lambda: _arch("tiny", _TINY_UNET, _TINY_VAE, _TINY_TEXT).with_unet_in_channels(9),
    }
    if name not in table:
        raise KeyError(name)
    return table[name]()


RANDOM_CHOICES = ("tiny", "tiny-inpaint", "sd15")

# The fields of a UNet that a checkpoint's tensor shapes determine; used to recognise a known UNet.
UNET_SHAPE_FIELDS = ("out_channels", "down_block_types", "up_block_types", "block_out_channels", "layers_per_block",
                     "cross_attention_dim", "use_linear_projection")
TEXT_SHAPE_FIELDS = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "max_position_embeddings")


def match_unet(inferred: dict) -> Architecture | None:
    """The known architecture whose UNet has these shapes (any in_channels 4 or 9), or None."""
    for name in ("sd15", "tiny"):
        a = known(name)
        if all(list_or(a.unet[k]) == list_or(inferred[k]) for k in UNET_SHAPE_FIELDS):
            return a.with_unet_in_channels(inferred["in_channels"])
    return None


def match_text(inferred: dict) -> dict | None:
    """The known CLIP text config with these shapes (its head count is not in the shapes), or None."""
    for text in (_CLIP_L14_TEXT, _TINY_TEXT):
        if all(text[k] == inferred[k] for k in TEXT_SHAPE_FIELDS):
            return copy.deepcopy(text)
    return None


def list_or(v):
    return list(v) if isinstance(v, (list, tuple)) else v


def vae_scale_factor(vae_config: dict) -> int:
    """Pixels per latent cell: each level of the VAE but the last halves the size."""
    return 2 ** (len(vae_config["block_out_channels"]) - 1)
