"""Goldens for ImageRng (src/rng/image_rng.rs) and slerp: the WebUI's ImageRNG (transcribed in
rng_webui.py) run with the CPU source (torch's CPU generator; AVX2 kernel on this machine) and the NV
source (NumPy Philox port). The GPU source needs CUDA: scripts/gpu/rng_cuda_goldens.py.

Run: .venv/bin/python scripts/goldens/rng_image.py  (needs torch, numpy; an AVX2 CPU)
"""

import os
import sys

os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import rng_webui  # noqa: E402
from rng_common import encode, write  # noqa: E402


def slerp_cases():
    """slerp on fixed CPU noise, including strengths outside [0, 1]."""
    out = []
    for seed, subseed, shape, val in [(1, 2, (4, 8, 8), 0.3), (3, 4, (4, 16, 8), 0.75), (5, 6, (2, 3, 5), -0.2),
                                      (7, 8, (4, 8, 8), 1.5), (9, 9, (4, 8, 8), 0.5)]:
        low = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
        high = torch.randn(shape, generator=torch.Generator().manual_seed(subseed))
        res = rng_webui.slerp(val, low, high)
        out.append({"seed": seed, "subseed": subseed, "shape": list(shape), "val": val, "out": encode(res.numpy())})
    return out


def main():
    if torch.backends.cpu.get_cpu_capability() != "AVX2":
        raise SystemExit("run on an AVX2 machine with ATEN_CPU_CAPABILITY=avx2")
    result = {"source": f"torch {torch.__version__} CPU (AVX2 kernel) and the NumPy NV port", "sources": {}}
    for source in ("CPU", "NV"):
        opts = rng_webui.Settings(randn_source=source, device="cpu")
        cases = []
        for case in rng_webui.IMAGE_CASES:
            meta, outs = rng_webui.run_case(opts, case)
            meta["next"] = [encode(o) for o in outs]
            cases.append(meta)
        result["sources"][source] = cases
    result["slerp"] = slerp_cases()
    write("image_rng.json", result)


if __name__ == "__main__":
    main()
