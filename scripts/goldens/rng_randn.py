"""Goldens for the low-level normal generators (src/rng/{cpu,nv}.rs).

CPU: torch.randn(shape, generator=torch.Generator().manual_seed(seed)) on the CPU, once with torch's
AVX2 kernel (ATEN_CPU_CAPABILITY=avx2: avx_mathfun log/sincos) and once with its generic kernel
(ATEN_CPU_CAPABILITY=default: libm logf/sinf/cosf; what AVX-512 and ARM machines run). Each capability
runs in its own subprocess because torch reads the variable at import.
NV: the WebUI's NumPy Philox port (rng_philox_np.py).

Each case is one generator and a list of draws taken from it in order, so the state carried between
calls (torch's cached second Box-Muller value for tensors under 16 elements, the NV offset) is covered.

Run: .venv/bin/python scripts/goldens/rng_randn.py  (needs torch, numpy)
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from rng_common import SEEDS, SHAPES, encode, write  # noqa: E402

EXTRA_SEEDS = [2**40 + 7, 2**63 + 5]
SEQUENCE = [(1,), (3,), (15,), (16,), (17,), (5,), (1, 4, 8, 8), (2,), (7,)]


def plan():
    """(seed, [shapes]) for every case."""
    cases = []
    for seed in SEEDS:
        for shape in SHAPES:
            cases.append((seed, [shape]))
        cases.append((seed, SEQUENCE))
    for seed in EXTRA_SEEDS:
        cases.append((seed, [(1, 4, 8, 8), (3,)]))
    return cases


def run_cpu(kernel):
    import torch

    cap = torch.backends.cpu.get_cpu_capability()
    want = {"avx2": "AVX2", "default": "DEFAULT"}[kernel]
    if cap != want:
        raise SystemExit(f"torch runs the {cap} kernels, expected {want}")
    cases = []
    for seed, shapes in plan():
        g = torch.Generator().manual_seed(seed)
        cases.append({"seed": seed, "draws": [encode(torch.randn(s, generator=g).numpy()) for s in shapes]})
    write(f"randn_cpu_{kernel}.json", {"source": f"torch {torch.__version__} CPU, {cap} kernel", "cases": cases})


def run_nv():
    import rng_philox_np

    cases = []
    for seed, shapes in plan():
        g = rng_philox_np.Generator(seed)
        cases.append({"seed": seed, "draws": [encode(g.randn(s)) for s in shapes]})
    write("randn_nv.json", {"source": "WebUI rng_philox (NumPy port)", "cases": cases})


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--cpu":
        run_cpu(sys.argv[2])
    else:
        for kernel in ("avx2", "default"):
            env = dict(os.environ, ATEN_CPU_CAPABILITY=kernel)
            subprocess.run([sys.executable, os.path.abspath(__file__), "--cpu", kernel], env=env, check=True)
        run_nv()
