"""Textual-inversion fixtures: the same kind of random vectors saved in every format the WebUI loads,
plus files that must be refused.

    /work/main/.venv/bin/python scripts/goldens/prompt_ti.py --webui /path/to/stable-diffusion-webui

Writes tests/fixtures/prompt/ti/:
- embeddings/: zip_f32.pt (the WebUI's Embedding.save layout), legacy_f32.pt (torch's pre-1.6
  stream format), zip_f16.pt, zip_bf16.pt, strided.pt (a non-contiguous view), paramdict.pt
  (string_to_param as an nn.ParameterDict), concept.bin and concept.safetensors (diffusers layout),
  sdxl.safetensors (clip_l + clip_g), wide.safetensors (1024 wide: skipped for SD 1.x),
  image_chunk.png (the WebUI's insert_image_data_embed picture plus the sd-ti-embedding text chunk),
  image_pixels.webp (lossless WebP, data in the pixels only), a preview picture, an empty file and a
  text file (both ignored);
- bad/: evil_system.pt (a pickle whose REDUCE calls os.system), evil_eval.pt (builtins.eval),
  truncated.safetensors, truncated.pt;
- expected.json (what loading each file must give; sha256 of each file) and expected.safetensors
  (each loaded embedding's vectors as torch reads them, float32).
The image helpers come from the WebUI checkout's modules/textual_inversion/image_embedding.py.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prompt_webui import load_definitions, webui_dir  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "prompt" / "ti"


class Evil:
    """Pickles as a call to `func(arg)`; never unpickled here."""

    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return (self.func, (self.arg,))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--webui", help="WebUI checkout (or SD_WEBUI_DIR)")
    args = ap.parse_args()
    webui = webui_dir(args.webui)

    import numpy as np
    import safetensors.torch
    import torch
    from PIL import Image, ImageDraw, PngImagePlugin

    img_ns = load_definitions(
        webui / "modules" / "textual_inversion" / "image_embedding.py",
        ["EmbeddingEncoder", "embedding_to_b64", "lcg", "xor_block", "style_block", "insert_image_data_embed"],
        {"json": json, "zlib": zlib, "np": np, "Image": Image, "ImageDraw": ImageDraw, "torch": torch,
         "base64": __import__("base64")},
    )

    gen = torch.Generator().manual_seed(1234)

    def rnd(*shape):
        return torch.randn(*shape, generator=gen)

    emb_dir, bad_dir = OUT / "embeddings", OUT / "bad"
    for d in (emb_dir, bad_dir):
        d.mkdir(parents=True, exist_ok=True)
        for f in d.iterdir():
            f.unlink()
    expected: dict[str, dict] = {}
    vectors: dict[str, torch.Tensor] = {}

    def webui_layout(vec, name, step=None):
        return {"string_to_token": {"*": 265}, "string_to_param": {"*": vec}, "name": name, "step": step,
                "sd_checkpoint": "a1b2c3d4", "sd_checkpoint_name": "v1-5-pruned-emaonly"}

    def record(fname, trigger, vec, shape, n, step=None, ckpt=None, ckpt_name=None):
        expected[fname] = {"outcome": "loaded", "name": trigger, "shape": shape, "vectors": n, "step": step,
                           "sd_checkpoint": ckpt, "sd_checkpoint_name": ckpt_name}
        if isinstance(vec, dict):
            for k, v in vec.items():
                vectors[f"{fname}/{k}"] = v.detach().to(torch.float32).contiguous()
        else:
            vectors[fname] = vec.detach().to(torch.float32).reshape(-1, vec.shape[-1]).contiguous()

    v = rnd(2, 768)
    torch.save(webui_layout(v, "internal-name", 500), emb_dir / "zip_f32.pt")
    record("zip_f32.pt", "zip_f32", v, 768, 2, 500, "a1b2c3d4", "v1-5-pruned-emaonly")

    v = rnd(3, 768)
    torch.save(webui_layout(v, "legacy", 7), emb_dir / "legacy_f32.pt", _use_new_zipfile_serialization=False)
    record("legacy_f32.pt", "legacy_f32", v, 768, 3, 7, "a1b2c3d4", "v1-5-pruned-emaonly")

    v = rnd(1, 768).half()
    torch.save(webui_layout(v, "half"), emb_dir / "zip_f16.pt")
    record("zip_f16.pt", "zip_f16", v, 768, 1, None, "a1b2c3d4", "v1-5-pruned-emaonly")

    v = rnd(2, 768).to(torch.bfloat16)
    torch.save(webui_layout(v, "bf16"), emb_dir / "zip_bf16.pt")
    record("zip_bf16.pt", "zip_bf16", v, 768, 2, None, "a1b2c3d4", "v1-5-pruned-emaonly")

    base = rnd(768, 4)
    v = base[:, 1:3].t()  # [2, 768], strides (1, 4), offset 1
    assert not v.is_contiguous()
    torch.save(webui_layout(v, "strided"), emb_dir / "strided.pt")
    record("strided.pt", "strided", v, 768, 2, None, "a1b2c3d4", "v1-5-pruned-emaonly")

    v = rnd(2, 768)
    pd = torch.nn.ParameterDict({"*": torch.nn.Parameter(v.clone())})
    torch.save({"string_to_token": {"*": 265}, "string_to_param": pd, "name": "pd", "step": 3}, emb_dir / "paramdict.pt")
    record("paramdict.pt", "paramdict", v, 768, 2, 3)

    v = rnd(768)
    torch.save({"<cat-toy>": v}, emb_dir / "concept.bin")
    record("concept.bin", "concept", v, 768, 1)

    v = rnd(3, 768)
    safetensors.torch.save_file({"emb_params": v}, str(emb_dir / "concept.safetensors"))
    record("concept.safetensors", "concept", v, 768, 3)
    # Two files with the trigger word "concept": the second in path order is reported as a duplicate.
    expected["concept.safetensors"] = {"outcome": "duplicate"}
    del vectors["concept.safetensors"]

    l, g = rnd(2, 768), rnd(2, 1280)
    safetensors.torch.save_file({"clip_l": l, "clip_g": g}, str(emb_dir / "sdxl.safetensors"))
    record("sdxl.safetensors", "sdxl", {"clip_l": l, "clip_g": g}, 2048, 2)

    v = rnd(1, 1024)
    safetensors.torch.save_file({"emb": v}, str(emb_dir / "wide.safetensors"))
    record("wide.safetensors", "wide", v, 1024, 1)

    # Pictures: the WebUI's insert_image_data_embed on a plain 64x64 image, with the text chunk too.
    v = rnd(2, 768)
    data = webui_layout(v, "pictured", 1000)
    picture = Image.new("RGB", (64, 64), (200, 180, 90))
    embedded = img_ns["insert_image_data_embed"](picture, data)
    info = PngImagePlugin.PngInfo()
    info.add_text("sd-ti-embedding", img_ns["embedding_to_b64"](data).decode())
    embedded.save(emb_dir / "image_chunk.png", "PNG", pnginfo=info)
    record("image_chunk.png", "pictured", v, 768, 2, 1000, "a1b2c3d4", "v1-5-pruned-emaonly")

    v = rnd(1, 768)
    data = webui_layout(v, "in-the-pixels", 42)
    embedded = img_ns["insert_image_data_embed"](picture, data)
    embedded.save(emb_dir / "image_pixels.webp", "WEBP", lossless=True)
    record("image_pixels.webp", "in-the-pixels", v, 768, 1, 42, "a1b2c3d4", "v1-5-pruned-emaonly")

    Image.new("RGB", (8, 8), (1, 2, 3)).save(emb_dir / "zip_f32.preview.png")
    expected["zip_f32.preview.png"] = {"outcome": "ignored"}
    (emb_dir / "empty.pt").write_bytes(b"")
    expected["empty.pt"] = {"outcome": "ignored"}
    (emb_dir / "notes.txt").write_text("not an embedding\n")
    expected["notes.txt"] = {"outcome": "ignored"}

    # Files that must be refused. Pickling runs nothing; only unpickling would.
    torch.save({"string_to_param": {"*": Evil(os.system, "echo pwned > /tmp/sdgate-pwned")}}, bad_dir / "evil_system.pt")
    expected["bad/evil_system.pt"] = {"outcome": "forbidden"}
    import builtins
    torch.save({"string_to_param": {"*": Evil(builtins.eval, "__import__('os').system('true')")}}, bad_dir / "evil_eval.pt")
    expected["bad/evil_eval.pt"] = {"outcome": "forbidden"}
    whole = (emb_dir / "concept.safetensors").read_bytes()
    (bad_dir / "truncated.safetensors").write_bytes(whole[: len(whole) // 2])
    expected["bad/truncated.safetensors"] = {"outcome": "error"}
    whole = (emb_dir / "zip_f32.pt").read_bytes()
    (bad_dir / "truncated.pt").write_bytes(whole[: len(whole) - 300])
    expected["bad/truncated.pt"] = {"outcome": "error"}

    for name, e in expected.items():
        path = OUT / name if name.startswith("bad/") else emb_dir / name
        e["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    safetensors.torch.save_file(vectors, str(OUT / "expected.safetensors"))
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"wrote {OUT}: {len(expected)} files, {total} bytes")


if __name__ == "__main__":
    main()
