"""The four graphs of a model folder: torch wrappers with the contract's inputs/outputs, exported with the
legacy TorchScript exporter (dynamo=False, opset 17), which is deterministic and gives the graph patterns
ONNX Runtime's Stable Diffusion fusions recognise."""
from __future__ import annotations

import os
import tempfile
import warnings

import onnx
import torch

OPSET = 17


class TextEncoderGraph(torch.nn.Module):
    """inputs_embeds [B, S, H] (token embeddings, no positions; S = 77, any S <= 77 works), layer_from_end int64
    [1] -> hidden_states [B, S, H] = final_layer_norm(hidden_states[-layer_from_end]).

    Exactly the WebUI's CLIP skip: for 1 this is transformers' last_hidden_state; for n > 1 the output of
    layer L-n+1 passed through the final layer norm. Causal mask only, no padding mask (SD 1.x).
    The causal mask is built from the input's length as transformers 4.x did (Less -> Where -> Expand):
    the subgraph ONNX Runtime's CLIP attention fusion recognises (it then fuses a causal Attention)."""

    def __init__(self, clip):
        super().__init__()
        self.clip = clip

    def forward(self, inputs_embeds: torch.Tensor, layer_from_end: torch.Tensor) -> torch.Tensor:
        c = self.clip
        batch, seq = inputs_embeds.shape[0], inputs_embeds.shape[1]
        h = inputs_embeds + c.embeddings.position_embedding.weight[:seq].to(inputs_embeds.dtype)[None]
        cond = torch.arange(seq)
        mask = torch.full((seq, seq), torch.finfo(inputs_embeds.dtype).min, dtype=inputs_embeds.dtype)
        mask = mask.masked_fill(cond < (cond + 1).view(seq, 1), 0.0)[None, None].expand(batch, 1, seq, seq)
        states = []
        for layer in c.encoder.layers:
            h = layer(h, mask)
            states.append(h)
        n = len(states)
        # hidden_states[-k] of transformers (whose [0] is the embeddings) is the output of layer n-k+1,
        # i.e. states[n-k]. k is clamped to 1..n so that no input can index outside the stack.
        k = torch.clamp(layer_from_end, 1, n)
        chosen = torch.index_select(torch.stack(states, 0), 0, n - k).squeeze(0)
        return c.final_layer_norm(chosen)


class UNetGraph(torch.nn.Module):
    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, encoder_hidden_states):
        return self.unet(sample, timestep, encoder_hidden_states, return_dict=False)[0]


class VaeEncoderGraph(torch.nn.Module):
    """sample [B,3,H,W] in [-1,1] -> latent_parameters [B, 2C, H/f, W/f]: mean then logvar, unscaled and
    unclamped (diffusers' DiagonalGaussianDistribution clamps logvar to [-30, 20] afterwards)."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, sample):
        h = self.vae.encoder(sample)
        return self.vae.quant_conv(h) if self.vae.quant_conv is not None else h


class VaeDecoderGraph(torch.nn.Module):
    """latent_sample [B, C, h, w] (latents / scaling_factor) -> sample [B, 3, h*f, w*f] in about [-1, 1]."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, latent_sample):
        z = self.vae.post_quant_conv(latent_sample) if self.vae.post_quant_conv is not None else latent_sample
        return self.vae.decoder(z)


def dummy_inputs(kind: str, *, hidden: int, latent: int, unet_in: int, factor: int, unet_levels: int):
    """Example inputs for tracing. The UNet is traced at a latent size that is NOT a multiple of
    2**(levels-1), so that diffusers takes its `upsample_size` path: every upsampling then resizes to the
    skip connection's size, and the graph accepts any latent size (images that are multiples of 8 but not
    of 64), as the WebUI does."""
    g = torch.Generator().manual_seed(0)
    if kind == "text_encoder":
        return (torch.randn(2, 77, hidden, generator=g), torch.tensor([1], dtype=torch.int64))
    if kind == "unet":
        odd = 2 ** max(unet_levels - 1, 1) + 1
        return (torch.randn(2, unet_in, odd, odd + 2, generator=g), torch.tensor([999.0, 1.5]),
                torch.randn(2, 77, hidden, generator=g))
    if kind == "vae_encoder":
        return (torch.randn(1, 3, 2 * factor, 3 * factor, generator=g),)
    if kind == "vae_decoder":
        return (torch.randn(1, latent, 2, 3, generator=g),)
    raise KeyError(kind)


IO = {
    "text_encoder": (["inputs_embeds", "layer_from_end"], ["hidden_states"],
                     {"inputs_embeds": {0: "batch", 1: "sequence"}, "hidden_states": {0: "batch", 1: "sequence"}}),
    "unet": (["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
             {"sample": {0: "batch", 2: "height", 3: "width"}, "timestep": {0: "batch"},
              "encoder_hidden_states": {0: "batch", 1: "sequence"},
              "out_sample": {0: "batch", 2: "height", 3: "width"}}),
    "vae_encoder": (["sample"], ["latent_parameters"],
                    {"sample": {0: "batch", 2: "height", 3: "width"},
                     "latent_parameters": {0: "batch", 2: "latent_height", 3: "latent_width"}}),
    "vae_decoder": (["latent_sample"], ["sample"],
                    {"latent_sample": {0: "batch", 2: "latent_height", 3: "latent_width"},
                     "sample": {0: "batch", 2: "height", 3: "width"}}),
}


def wrap(kind: str, module):
    return {"text_encoder": TextEncoderGraph, "unet": UNetGraph, "vae_encoder": VaeEncoderGraph,
            "vae_decoder": VaeDecoderGraph}[kind](module).eval()


def export(kind: str, module, args, tmp_dir: str) -> str:
    """Export one graph in float32 to tmp_dir/<kind>/model.onnx (torch writes external data if > 2 GB)."""
    inputs, outputs, axes = IO[kind]
    out_dir = os.path.join(tmp_dir, kind)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.onnx")
    graph = wrap(kind, module)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings about python branches taken on the example shapes
        torch.onnx.export(graph, args, path, dynamo=False, opset_version=OPSET, input_names=inputs,
                          output_names=outputs, dynamic_axes=axes, do_constant_folding=True)
    return path


def initializer_bytes(model: onnx.ModelProto) -> int:
    total = 0
    for t in model.graph.initializer:
        n = 1
        for d in t.dims:
            n *= d
        total += n * onnx.helper.tensor_dtype_to_np_dtype(t.data_type).itemsize
    return total


EXTERNAL_THRESHOLD = 1 << 31  # protobuf's 2 GB limit on one message


def save(model: onnx.ModelProto, path: str) -> list[str]:
    """Save deterministically; with all weights in one `model.onnx.data` beside it when over 2 GB.
    Returns the file names written."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    name = os.path.basename(path)
    if initializer_bytes(model) >= EXTERNAL_THRESHOLD - (64 << 20):
        data = name + ".data"
        if os.path.exists(os.path.join(os.path.dirname(path), data)):
            os.remove(os.path.join(os.path.dirname(path), data))
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location=data,
                        size_threshold=1024, convert_attribute=False)
        return [name, data]
    onnx.save_model(model, path)
    return [name]


def load(path: str) -> onnx.ModelProto:
    return onnx.load_model(path, load_external_data=True)


def make_tmp() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="sdexport-")
