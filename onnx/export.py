#!/usr/bin/env python3
"""Export a Stable Diffusion 1.x model to an sdgate model folder (contract: onnx/README.md).

    python onnx/export.py --checkpoint v1-5-pruned-emaonly.safetensors --out models/sd15
    python onnx/export.py --diffusers path/to/pipeline --out models/x --fp16 --optimize cuda
    python onnx/export.py --random tiny --seed 0 --out /tmp/tiny

Offline: nothing is fetched from the hub. `.ckpt`/`.pt` files are read only through
torch.load(weights_only=True); a pickle that asks for code is refused, never run.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")  # the optimizer's per-fusion progress bars

from sdexport import ExportError  # noqa: E402
from sdexport.architectures import RANDOM_CHOICES  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", metavar="FILE", help="single-file SD 1.x checkpoint (LDM keys): .safetensors, "
                     "or .ckpt/.pt read with torch.load(weights_only=True)")
    src.add_argument("--diffusers", metavar="DIR", help="diffusers pipeline folder")
    src.add_argument("--random", choices=RANDOM_CHOICES, help="a known architecture with seeded random weights")
    ap.add_argument("--seed", type=int, default=0, help="seed for --random (default 0)")
    ap.add_argument("--out", required=True, metavar="DIR", help="output model folder")
    ap.add_argument("--name", help="model name in model.json (default: the checkpoint's file name without extension)")
    ap.add_argument("--prediction-type", choices=("epsilon", "v"), default=None,
                    help="what the UNet predicts (default: epsilon; a diffusers folder's scheduler config)")
    ap.add_argument("--fp16", action="store_true", help="float16 graphs (text encoder and UNet; see --fp16-vae)")
    ap.add_argument("--fp16-vae", action="store_true", help="with --fp16, also the VAE graphs (default: they stay "
                    "float32, which never overflows)")
    ap.add_argument("--optimize", choices=("cuda",), default=None,
                    help="ONNX Runtime's transformer fusions for the CUDA provider (graphs then need CUDA)")
    ap.add_argument("--tokenizer", metavar="FILE", help="tokenizer.json to copy (default: onnx/tokenizer/"
                    "tokenizer.json, OpenAI CLIP's BPE, built by onnx/build_tokenizer.py)")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.fp16_vae and not args.fp16:
        print("error: --fp16-vae needs --fp16", file=sys.stderr)
        return 2
    try:
        import torch

        torch.set_grad_enabled(False)
        from sdexport import folder, sources

        progress = folder.Progress(folder.STAGES + 1, args.quiet)
        folder.tokenizer_source(args.tokenizer)  # before the long part: a missing tokenizer fails now
        if args.checkpoint:
            src = sources.from_checkpoint(args.checkpoint, args.prediction_type or "epsilon")
            what = f"checkpoint {args.checkpoint} (sha256 {src.sha256[:10]}...)"
        elif args.diffusers:
            src = sources.from_diffusers(args.diffusers, args.prediction_type)
            what = f"diffusers folder {args.diffusers}"
        else:
            src = sources.from_random(args.random, args.seed, args.prediction_type or "epsilon")
            what = f"random {args.random} weights, seed {args.seed}"
        progress(f"read {what}: {src.arch.name}, UNet in_channels {src.arch.unet['in_channels']}")
        folder.export_folder(src, args.out, name=args.name, fp16=args.fp16, fp16_vae=args.fp16_vae,
                             optimize=args.optimize, tokenizer=args.tokenizer, progress=progress,
                             free_torch=True)
    except ExportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
