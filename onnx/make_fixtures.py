#!/usr/bin/env python3
"""Regenerate the committed tiny-model fixtures (byte-identically, with the pinned onnx/requirements.txt):

  tests/fixtures/tiny-sd1/checkpoint/tiny-sd1.safetensors   tiny SD 1.x model, LDM single-file keys, fp16
  tests/fixtures/tiny-sd1/model/                            `export.py --checkpoint` of it (fp32, provider any;
                                                            tokenizer.json copied from onnx/tokenizer/)
  tests/fixtures/tiny-sd1/reference.safetensors             torch inputs/outputs per graph (names: onnx/README.md)
  tests/fixtures/tiny-sd1-inpaint/{model.json,unet/model.onnx,reference.safetensors}
                                                            a 9-channel UNet with the same text encoder and VAE

    python onnx/make_fixtures.py            # write them
    python onnx/make_fixtures.py --check    # build into a temporary folder and compare with the committed files
"""
from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from sdexport import architectures, folder, ldm, sources  # noqa: E402

REPO = os.path.dirname(HERE)
FIXTURES = os.path.join(REPO, "tests", "fixtures")
SEED = 0
INPAINT_SEED = 1
LEGACY_TEXT_VAE_UNET_LAYERS = 2  # see tiny_modules
PROMPTS = ["a photo of a cat", "(masterpiece:1.2), best quality, 1girl, 東京 &amp; ✨"]


def tiny_modules():
    """The tiny model's weights (seed 0), rounded to fp16 as they are stored in the checkpoint.

    The UNet is `random_modules(tiny, 0)`'s. The text encoder and VAE are those the fixture had when the tiny
    UNet had layers_per_block 2: `random_modules` of that architecture (whose UNet is dropped), because
    their random streams follow the UNet's. Goldens made from them elsewhere (tests/fixtures/prompt/
    conditioning.*) stay valid; the text encoder and VAE graphs are byte-identical to those of before."""
    legacy = architectures.known("tiny")
    legacy.unet["layers_per_block"] = LEGACY_TEXT_VAE_UNET_LAYERS
    _, vae, text = sources.random_modules(legacy, SEED)
    unet, _, _ = sources.random_modules(architectures.known("tiny"), SEED)
    inpaint_unet, _, _ = sources.random_modules(architectures.known("tiny-inpaint"), INPAINT_SEED)
    with torch.no_grad():
        for m in (unet, vae, text, inpaint_unet):
            for p in m.parameters():
                p.copy_(p.half().float())
    return unet, vae, text, inpaint_unet


def write_checkpoint(unet, vae, text, path: str) -> None:
    state = ldm.to_ldm(unet, vae, text)
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}
    ldm.roundtrip_check({k: v for k, v in state.items()}, unet, vae, text, path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    save_file(state, path)


def token_rows(tokenizer_json: str) -> torch.Tensor:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(tokenizer_json)
    rows = []
    for p in PROMPTS:
        ids = tok.encode(p, add_special_tokens=False).ids[:75]
        rows.append([architectures.CLIP_BOS] + ids + [architectures.CLIP_EOS] * (77 - 1 - len(ids)))
    g = torch.Generator().manual_seed(7)
    rand = torch.randint(0, architectures.CLIP_BOS, (77,), generator=g).tolist()
    rows.append([architectures.CLIP_BOS] + rand[1:60] + [architectures.CLIP_EOS] * 17)
    return torch.tensor(rows, dtype=torch.int64)


def unet_cases(unet, in_channels: int, hidden: int, seed: int) -> dict[str, torch.Tensor]:
    """Batch 2, two timesteps per batch; S=77 at an even latent size, S=154 at an odd one (9x13: the
    upsampling resizes to the skip connection's size, as for images that are multiples of 8 but not 64)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for s, (h, w), t in ((77, (8, 12), [999.0, 21.5]), (154, (9, 13), [500.25, 1.0])):
        x = torch.randn(2, in_channels, h, w, generator=g)
        c = torch.randn(2, s, hidden, generator=g)
        ts = torch.tensor(t, dtype=torch.float32)
        out[f"unet.s{s}.sample"], out[f"unet.s{s}.timestep"], out[f"unet.s{s}.encoder_hidden_states"] = x, ts, c
        out[f"unet.s{s}.out_sample"] = unet(x, ts, c, return_dict=False)[0]
    return out


def references(src: sources.Loaded, tokenizer_json: str) -> dict[str, torch.Tensor]:
    """Torch outputs of transformers' CLIPTextModel and diffusers' UNet2DConditionModel / AutoencoderKL."""
    text, unet, vae = src.text, src.unet, src.vae
    ids = token_rows(tokenizer_json)
    out = {"text_encoder.input_ids": ids, "text_encoder.inputs_embeds": text.embeddings.token_embedding(ids)}
    o = text(input_ids=ids, output_hidden_states=True)
    out["text_encoder.hidden_states.1"] = o.last_hidden_state
    out["text_encoder.hidden_states.2"] = text.final_layer_norm(o.hidden_states[-2])
    out.update(unet_cases(unet, 4, text.config.hidden_size, 11))
    g = torch.Generator().manual_seed(12)
    x = torch.rand(2, 3, 16, 24, generator=g) * 2 - 1
    out["vae_encoder.sample"] = x
    out["vae_encoder.latent_parameters"] = vae.encode(x).latent_dist.parameters
    z = torch.randn(2, 4, 8, 12, generator=g)
    out["vae_decoder.latent_sample"] = z
    out["vae_decoder.sample"] = vae.decode(z).sample
    return {k: v.detach().contiguous() for k, v in sorted(out.items())}


def build(root: str, log=print) -> None:
    """Write every fixture under root (laid out as tests/fixtures)."""
    torch.set_num_threads(1)  # references reproducible to the bit on one machine
    torch.set_grad_enabled(False)
    unet, vae, text, inpaint_unet = tiny_modules()
    tiny = os.path.join(root, "tiny-sd1")
    ckpt = os.path.join(tiny, "checkpoint", "tiny-sd1.safetensors")
    write_checkpoint(unet, vae, text, ckpt)
    log(f"wrote {ckpt} (round trip LDM -> diffusers checked)")

    model_dir = os.path.join(tiny, "model")
    if os.path.isdir(model_dir):
        shutil.rmtree(model_dir)
    folder.export_folder(sources.from_checkpoint(ckpt, "epsilon"), model_dir, name="tiny-sd1", quiet=True)
    log(f"wrote {model_dir}")
    tokenizer_json = os.path.join(model_dir, folder.TOKENIZER)
    save_file(references(sources.from_checkpoint(ckpt, "epsilon"), tokenizer_json),
              os.path.join(tiny, "reference.safetensors"))
    log(f"wrote {os.path.join(tiny, 'reference.safetensors')}")

    inpaint = os.path.join(root, "tiny-sd1-inpaint")
    os.makedirs(os.path.join(inpaint, "unet"), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt9 = os.path.join(tmp, "tiny-sd1-inpaint.safetensors")
        write_checkpoint(inpaint_unet, vae, text, ckpt9)
        src9 = sources.from_checkpoint(ckpt9, "epsilon")
        out9 = os.path.join(tmp, "model")
        folder.export_folder(src9, out9, name="tiny-sd1-inpaint", tokenizer=tokenizer_json, quiet=True)
        for f in ("model.json", "unet/model.onnx"):
            shutil.copyfile(os.path.join(out9, f), os.path.join(inpaint, f))
        for f in ("text_encoder/model.onnx", "text_encoder/token_embedding.safetensors", "vae_encoder/model.onnx",
                  "vae_decoder/model.onnx"):
            if not filecmp.cmp(os.path.join(out9, f), os.path.join(model_dir, f), shallow=False):
                raise AssertionError(f"inpaint export: {f} differs from tiny-sd1's: the overlay would be inconsistent")
        save_file({k: v.contiguous() for k, v in sorted(unet_cases(src9.unet, 9, 32, 13).items())},
                  os.path.join(inpaint, "reference.safetensors"))
    log(f"wrote {inpaint}")


def committed_files(root: str) -> list[str]:
    files = []
    for sub in ("tiny-sd1", "tiny-sd1-inpaint"):
        for dirpath, _, names in os.walk(os.path.join(root, sub)):
            files += [os.path.relpath(os.path.join(dirpath, n), root) for n in names]
    return sorted(files)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compare a fresh build with the committed fixtures")
    args = ap.parse_args()
    if not args.check:
        build(FIXTURES)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        build(tmp, log=lambda *_: None)
        want, got = committed_files(FIXTURES), committed_files(tmp)
        bad = sorted(set(want) ^ set(got))
        bad += [f for f in want if f in got and not filecmp.cmp(os.path.join(FIXTURES, f), os.path.join(tmp, f),
                                                                 shallow=False)]
    for f in bad:
        print(f"differs: {f}")
    print("fixtures reproduce byte-identically" if not bad else f"{len(bad)} files differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
