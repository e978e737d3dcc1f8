"""Goldens for latent resizing (torch.nn.functional.interpolate on CPU, float32) with the WebUI's
latent upscale modes, and for the WebUI's tensor -> uint8 conversion.

Run: /work/main/.venv/bin/python scripts/goldens/images_latent.py   (torch 2.11 CPU was used)
Writes tests/fixtures/images/latent/{manifest.json, *.f32} (little-endian float32, C order).
"""
import os

import numpy as np
import torch

from images_common import fixture_dir, write_json

OUT = fixture_dir("latent")

# The WebUI's shared.latent_upscale_modes: name -> (mode, antialias)
MODES = {
    "Latent": ("bilinear", False),
    "Latent (antialiased)": ("bilinear", True),
    "Latent (bicubic)": ("bicubic", False),
    "Latent (bicubic antialiased)": ("bicubic", True),
    "Latent (nearest)": ("nearest", False),
    "Latent (nearest-exact)": ("nearest-exact", False),
}


def dump(arr, name):
    np.ascontiguousarray(arr, dtype="<f4").tofile(os.path.join(OUT, name))
    return name


def main():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 2, 9, 13, generator=g, dtype=torch.float32)
    cases = []
    dump(x.numpy(), "input.f32")
    n = 0
    for name, (mode, aa) in MODES.items():
        for size in [(18, 26), (5, 7), (14, 20), (9, 13), (12, 6)]:
            kw = {"antialias": aa} if mode in ("bilinear", "bicubic") else {}
            y = torch.nn.functional.interpolate(x, size=size, mode=mode, **kw)
            n += 1
            cases.append({"mode": name, "size": list(size), "output": dump(y.numpy(), f"out_{n:02}.f32")})
    # VAE output -> uint8 exactly as processing.py: clamp((x + 1) / 2, 0, 1); 255. * x; astype(uint8)
    v = torch.linspace(-1.2, 1.2, 3 * 4 * 25).reshape(1, 3, 4, 25).float()
    v[0, 0, 0, :5] = torch.tensor([-1.0, 1.0, 0.0, 0.99607843, -0.00392157])
    dump(v.numpy(), "vae_out.f32")
    u = torch.clamp((v + 1.0) / 2.0, min=0.0, max=1.0)
    u8 = (255.0 * np.moveaxis(u[0].numpy(), 0, 2)).astype(np.uint8)
    u8.tofile(os.path.join(OUT, "vae_out_u8.bin"))
    write_json(os.path.join(OUT, "manifest.json"), {
        "torch": torch.__version__, "input_shape": list(x.shape), "cases": cases,
        "vae_shape": list(v.shape), "vae_u8": "vae_out_u8.bin (HWC)"})
    print(len(cases), "cases")


if __name__ == "__main__":
    main()
